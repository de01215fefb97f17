"""The noncommutative bridge: each rewrite rule alone, positive and negative."""
import pytest
import sympy as sp

from symbolic.ncalg import Alphabet, Poly, SumError, sum_over_examples


@pytest.fixture
def ab():
    ab = Alphabet()
    ab.matrix("T")
    ab.matrix("S", symmetric=True)
    for v in ("x_t", "x_j", "b", "z"):
        ab.vector(v)
    return ab


def L(ab, name):
    return Poly.letter(name, ab)


MOM = {"S": "S", "b": "b", "yy": sp.Symbol("yy")}
n, yj = sp.Symbol("n"), sp.Symbol("y_j")


def test_products_do_not_commute(ab):
    T, S = L(ab, "T"), L(ab, "S")
    assert not (T * S - S * T).is_zero()
    assert (T * S * T - T * S * T).is_zero()


def test_shape_mismatch_is_an_error(ab):
    with pytest.raises(ValueError, match="shape mismatch"):
        L(ab, "x_t") * L(ab, "T")


def test_scalar_words_are_canonical_up_to_transpose(ab):
    xt, xj, T = L(ab, "x_t"), L(ab, "x_j"), L(ab, "T")
    a = xt.T * T * xj
    b = xj.T * T.T * xt
    assert a == b
    assert not (a == xt.T * T.T * xj)


def test_transpose_reverses_and_transposes(ab):
    T, S, xt = L(ab, "T"), L(ab, "S"), L(ab, "x_t")
    assert (T * S * xt).T == xt.T * S * T.T


def test_sum_rule_gram(ab):
    xt, xj, T = L(ab, "x_t"), L(ab, "x_j"), L(ab, "T")
    s = sum_over_examples((xt.T * T * xj) * (T * xj), "x_j", yj, MOM, n)
    assert s == T * L(ab, "S") * T.T * xt


def test_sum_rule_moment_b_and_count(ab):
    xt, xj, T = L(ab, "x_t"), L(ab, "x_j"), L(ab, "T")
    assert sum_over_examples((xt.T * T * xj).scale(yj), "x_j", yj, MOM, n) == xt.T * T * L(ab, "b")
    assert sum_over_examples(xt * 1, "x_j", yj, MOM, n) == xt.scale(n)


def test_sum_rule_refuses_what_is_not_a_moment(ab):
    xt, xj, T = L(ab, "x_t"), L(ab, "x_j"), L(ab, "T")
    with pytest.raises(SumError, match="does not reduce"):
        sum_over_examples((xj.T * T * xj) * xt, "x_j", yj, MOM, n)


def test_first_difference_names_the_term(ab):
    T, S = L(ab, "T"), L(ab, "S")
    term, got, want = (2 * T - T * S * T).first_difference(2 * T - (T * S * T).scale(sp.Rational(1, 2)))
    assert term == "T S T" and got == -1 and want == sp.Rational(-1, 2)


def test_symmetric_assumption_substitutes_one_way(ab):
    T, S = L(ab, "T"), L(ab, "S")
    p = (T * S * T.T).subs({"T'": T}, follow_transpose=False)
    assert p == T * S * T


def test_sum_rule_splits_mixed_powers_of_y(ab):
    xt, xj = L(ab, "x_t"), L(ab, "x_j")
    # sum_j (1 + y_j) y_j x_t = (sum y_j + sum y_j^2) x_t: sum y_j is not a moment
    with pytest.raises(SumError, match="does not reduce"):
        sum_over_examples(xt.scale((1 + yj) * yj), "x_j", yj, MOM, n)
    # sum_j (y_j^2 + 1) x_t = (y'y + n) x_t
    got = sum_over_examples(xt.scale(yj**2 + 1), "x_j", yj, MOM, n)
    assert got == xt.scale(sp.Symbol("yy") + n)
    # sum_j (y_j + 2) (x_t' x_j) has a y-free part sum_j x_t' x_j, not a moment
    with pytest.raises(SumError):
        sum_over_examples((xt.T * xj).scale(yj + 2), "x_j", yj, MOM, n)
    with pytest.raises(SumError, match="not polynomial"):
        sum_over_examples(xt.scale(1 / yj), "x_j", yj, MOM, n)


# ---- each summation rule alone
IJ = sp.Symbol("i_j", positive=True, integer=True)


def test_sum_rule_index_powers_is_faulhaber(ab):
    xt = L(ab, "x_t")
    got = sum_over_examples(xt.scale(IJ**2 + 3 * IJ), "x_j", yj, MOM, n, index=IJ)
    assert got == xt.scale(n * (n + 1) * (2 * n + 1) / 6 + 3 * n * (n + 1) / 2)


def test_sum_rule_index_is_never_a_constant(ab):
    """Without the index rule a coefficient i_j would be summed as n i_j, leaving i_j free."""
    xt, xj = L(ab, "x_t"), L(ab, "x_j")
    from symbolic.ncalg import SUM_RULES, SumPiece, _rule_free
    piece = SumPiece((), ("x_t",), 0, 0, 0, IJ, "x_j", "x_j'", IJ, MOM, n, ab)
    assert _rule_free(piece) is None                     # the constant rule refuses an indexed coefficient
    with pytest.raises(SumError, match="index"):
        sum_over_examples((xt.T * xj).scale(IJ), "x_j", yj, MOM, n, index=IJ)   # i_j x_j: not a moment
    with pytest.raises(SumError, match="index"):
        sum_over_examples((xt.T * xj).scale(IJ * yj), "x_j", yj, MOM, n, index=IJ)
    assert [name for name, _ in SUM_RULES][0] == "free of the example"


def test_sum_rule_label_square_and_gram_alone(ab):
    from symbolic.ncalg import SumPiece, _rule_gram, _rule_label_square
    p = SumPiece((), ("T", "S"), 1, 0, 0, sp.Integer(1), "x_j", "x_j'", IJ, MOM, n, ab)
    assert _rule_gram(p) == L(ab, "T") * L(ab, "S")
    assert _rule_label_square(p) is None
    q = SumPiece((), (), 0, 0, 2, sp.Integer(3), "x_j", "x_j'", IJ, MOM, n, ab)
    assert _rule_label_square(q) == Poly.const(3 * sp.Symbol("yy"), ab)
    assert _rule_gram(q) is None


def test_sum_rule_pairs_two_scalars(ab):
    """sum_j (w' x_j)(x_j' A x_t) = w' S A x_t: two scalars joined at the example (issue: two scalars paired)."""
    ab.vector("w")
    w, A, xt, xj = L(ab, "w"), L(ab, "T"), L(ab, "x_t"), L(ab, "x_j")
    got = sum_over_examples((w.T * xj) * (xj.T * A * xt), "x_j", yj, MOM, n)
    assert got == w.T * L(ab, "S") * A * xt
    # a scalar holding x_j twice is not a pair of scalars
    with pytest.raises(SumError):
        sum_over_examples((xj.T * A * xj) * (w.T * xt), "x_j", yj, MOM, n)


def test_identity_is_a_real_block(ab):
    I = ab.identity("I", "d")
    T, S, xt = L(ab, "T"), L(ab, "S"), L(ab, "x_t")
    g = sp.Symbol("gamma")
    assert (I - S.scale(g)) * xt == xt - (S * xt).scale(g)
    assert I * T == T and T * I == T and I * I == I
    assert (xt.T * I * xt) == xt.T * xt
    assert not (I == T)                      # negative: the identity is not an arbitrary matrix


# ---------------------------------------------------------------- the sum over basis tokens (e_1..e_d)
@pytest.fixture
def abe():
    ab = Alphabet()
    ab.identity("I", "d")
    ab.matrix("T")
    ab.matrix("S", symmetric=True)
    for v in ("e_t", "e_j", "z"):
        ab.vector(v)
    return ab


def test_basis_sum_outer_pair_is_the_identity(abe):
    """sum_j (T e_j)(e_j' S e_t) = T S e_t: the one moment sum_j e_j e_j' = I."""
    from symbolic.ncalg import sum_over_basis
    et, ej, T, S = L(abe, "e_t"), L(abe, "e_j"), L(abe, "T"), L(abe, "S")
    assert sum_over_basis((et.T * S * ej) * (T * ej)) == T * S * et
    # two scalars paired by e_j: (z' e_j)(e_j' T e_t) = z' T e_t
    assert sum_over_basis((L(abe, "z").T * ej) * (ej.T * T * et)) == L(abe, "z").T * T * et


def test_basis_sum_counts_d_for_a_free_term(abe):
    from symbolic.layout import d
    from symbolic.ncalg import sum_over_basis
    et, T = L(abe, "e_t"), L(abe, "T")
    assert sum_over_basis(T * et) == (T * et).scale(d)


@pytest.mark.parametrize("build", [
    lambda et, ej, T: (ej.T * T * ej) * et,          # e_j' T e_j: a trace, no moment
    lambda et, ej, T: T * ej,                        # sum_j T e_j = T 1: not a moment
    lambda et, ej, T: (et.T * ej) * (et.T * ej) * (T * ej),   # e_j three times
])
def test_basis_sum_refuses_what_is_not_the_identity(abe, build):
    """Each of these has a true value (tr T e_t, T 1, ...) that is not I-shaped; the rule must refuse, never
    guess (the exact forward pass would disagree with any guess)."""
    from symbolic.ncalg import sum_over_basis
    et, ej, T = L(abe, "e_t"), L(abe, "e_j"), L(abe, "T")
    with pytest.raises(SumError):
        sum_over_basis(build(et, ej, T))


def test_basis_sum_needs_the_identity_letter(ab):
    from symbolic.ncalg import sum_over_basis
    ab.vector("e_j")
    with pytest.raises(SumError, match="identity"):
        sum_over_basis(L(ab, "e_j") * 1)


# ---------------------------------------------------------------- per-example letters a construction declares
# A scalar q_j (a commuting symbol, like y_j) and a d-vector u_j beside x_j; the engine derives their one moment
# each: b_q = sum_j q_j x_j and S_ux = sum_j u_j x_j' (not symmetric; S_ux' = sum_j x_j u_j').  Each rule alone,
# then sums built to fool them, every result compared with the brute-force sum on concrete values.
QJ, QT = sp.Symbol("q_j"), sp.Symbol("q_t")


@pytest.fixture
def abl():
    ab = Alphabet()
    ab.identity("I", "d")
    ab.matrix("T")
    ab.matrix("S", symmetric=True)
    ab.letter("S_ux", ("d", "d"))
    for v in ("x_t", "x_j", "u_t", "u_j", "b", "b_q", "z", "e_t"):
        ab.vector(v)
    return ab


def _letters():
    from symbolic.ncalg import ExampleLetters
    return ExampleLetters(vectors=(("u_j", "S_ux"),), scalars=((QJ, "b_q"),))


def _sum(p, index=None):
    return sum_over_examples(p, "x_j", yj, MOM, n, index=index, letters=_letters())


def _brute(p, got, d=3, nn=4, seed=0):
    """sum_j p(x_j, u_j, q_j, y_j) on random rationals against the engine's result ``got`` evaluated with the
    moments S, b, y'y, b_q, S_ux of the same values: equal, or the rule is unsound."""
    import random
    rng = random.Random(seed)
    r = lambda: sp.Rational(rng.randint(-3, 3), rng.randint(1, 2))
    vec = lambda: sp.Matrix([r() for _ in range(d)])
    X, U = [vec() for _ in range(nn)], [vec() for _ in range(nn)]
    Q, Y = [r() for _ in range(nn)], [r() for _ in range(nn)]
    fixed = {"x_t": vec(), "u_t": vec(), "z": vec(), "e_t": vec(), "T": sp.Matrix(d, d, lambda i, j: r()),
             "I": sp.eye(d)}
    env0 = {**fixed, **{k + "'": v.T for k, v in fixed.items()}}
    cf0 = {QT: r(), n: nn}
    total = None
    for j in range(nn):
        env = {**env0, "x_j": X[j], "x_j'": X[j].T, "u_j": U[j], "u_j'": U[j].T}
        v = p.evaluate(env, {**cf0, QJ: Q[j], yj: Y[j]})
        total = v if total is None else total + v
    mom = {"S": sum((x * x.T for x in X), sp.zeros(d, d)), "b": sum((y * x for y, x in zip(Y, X)), sp.zeros(d, 1)),
           "b_q": sum((q * x for q, x in zip(Q, X)), sp.zeros(d, 1)),
           "S_ux": sum((u * x.T for u, x in zip(U, X)), sp.zeros(d, d))}
    env = {**env0, **mom, **{k + "'": v.T for k, v in mom.items()}}
    want = got.evaluate(env, {**cf0, sp.Symbol("yy"): sum(y * y for y in Y)})
    return total, want


def test_letter_pair_rule_alone(abl):
    """sum_j u_j x_j' = S_ux: one contracted pair and nothing else of example j; every other count refuses."""
    from symbolic.ncalg import SumPiece, _rule_letter_pair
    base = dict(scal=(), word=("S_ux", "e_t"), pairs=0, singles=0, deg_y=0, coeff=sp.Integer(1), j="x_j",
                jt="x_j'", index=IJ, moments=MOM, n=n, ab=abl, letter_pairs=1, letters=_letters())
    assert _rule_letter_pair(SumPiece(**base)) == L(abl, "S_ux") * L(abl, "e_t")
    for bad in ({"pairs": 1}, {"singles": 1}, {"letter_singles": 1}, {"deg_y": 1}, {"letter_powers": ((QJ, 1),)},
                {"letter_pairs": 2}, {"letter_pairs": 0}, {"coeff": IJ}):
        assert _rule_letter_pair(SumPiece(**{**base, **bad})) is None, bad


def test_letter_label_rule_alone(abl):
    """sum_j q_j x_j = b_q: one x_j, q_j to the first power, nothing else of example j."""
    from symbolic.ncalg import SumPiece, _rule_letter_label
    base = dict(scal=(("e_t'", "x_j"),), word=(), pairs=0, singles=1, deg_y=0, coeff=sp.Integer(3), j="x_j",
                jt="x_j'", index=IJ, moments=MOM, n=n, ab=abl, letter_powers=((QJ, 1),), letters=_letters())
    assert _rule_letter_label(SumPiece(**base)) == (L(abl, "e_t").T * L(abl, "b_q")).scale(3)
    for bad in ({"letter_powers": ((QJ, 2),)}, {"letter_powers": ()}, {"deg_y": 1}, {"singles": 2}, {"singles": 0},
                {"pairs": 1}, {"letter_pairs": 1}, {"letter_singles": 1}, {"coeff": IJ}):
        assert _rule_letter_label(SumPiece(**{**base, **bad})) is None, bad


def test_the_old_rules_refuse_a_term_with_a_declared_letter(abl):
    """Without the guard sum_j q_j x_t would be n q_j x_t (q_j left free), sum_j q_j x_j x_j' would be q_j S."""
    from symbolic.ncalg import (SumPiece, _rule_free, _rule_gram, _rule_index_powers, _rule_label,
                                _rule_label_square)
    mk = lambda **kw: SumPiece(**{**dict(scal=(), word=("x_t",), pairs=0, singles=0, deg_y=0, coeff=sp.Integer(1),
                                         j="x_j", jt="x_j'", index=IJ, moments=MOM, n=n, ab=abl,
                                         letters=_letters()), **kw})
    assert _rule_free(mk(letter_powers=((QJ, 1),))) is None
    assert _rule_free(mk(letter_singles=1)) is None
    assert _rule_index_powers(mk(coeff=IJ, letter_powers=((QJ, 1),))) is None
    assert _rule_gram(mk(pairs=1, letter_powers=((QJ, 1),))) is None
    assert _rule_gram(mk(pairs=1, letter_singles=1)) is None
    assert _rule_label(mk(word=("x_j",), singles=1, deg_y=1, letter_powers=((QJ, 1),))) is None
    assert _rule_label_square(mk(deg_y=2, letter_pairs=1)) is None


def test_the_pair_and_its_transpose_are_different_moments(abl):
    """sum_j u_j x_j' e = S_ux e and sum_j x_j u_j' e = S_ux' e: two different moments (S_ux is not symmetric)."""
    et, xj, uj = L(abl, "e_t"), L(abl, "x_j"), L(abl, "u_j")
    a = (et.T * xj) * uj            # score e' x_j, value u_j
    b = (et.T * uj) * xj            # score e' u_j, value x_j
    ga, gb = _sum(a), _sum(b)
    assert ga == L(abl, "S_ux") * et and gb == L(abl, "S_ux").T * et
    assert not ga == gb
    for p, g in ((a, ga), (b, gb)):
        got, want = _brute(p, g)
        assert got == want
    # and the brute-force sums themselves differ: the values are generic, so a transposed moment is caught
    assert _brute(a, ga)[0] != _brute(b, gb)[0]


def test_the_scalar_moment_is_not_a_product_of_sums(abl):
    """sum_j q_j x_j = b_q, a moment of its own: not (sum_j q_j)(sum_j x_j), which no rule forms."""
    xj, et = L(abl, "x_j"), L(abl, "e_t")
    p = xj.scale(QJ * sp.Rational(-1, 2))
    g = _sum(p)
    assert g == L(abl, "b_q").scale(sp.Rational(-1, 2))
    got, want = _brute(p, g)
    assert got == want
    import random
    rng = random.Random(1)
    X = [sp.Matrix([rng.randint(-2, 2) for _ in range(3)]) for _ in range(4)]
    Q = [rng.randint(-2, 2) for _ in range(4)]
    assert sum((q * x for q, x in zip(Q, X)), sp.zeros(3, 1)) != sum(Q) * sum(X, sp.zeros(3, 1))
    assert _sum((et.T * xj).scale(QJ)) == et.T * L(abl, "b_q")          # x_j inside a scalar, too
    for lone in (xj * 1, L(abl, "x_t").scale(QJ) * 1):                  # sum x_j, sum q_j: no moments
        with pytest.raises(SumError, match="does not reduce"):
            _sum(lone)


@pytest.mark.parametrize("build", [
    lambda xt, xj, uj, et: uj.scale(QJ),                       # sum q_j u_j: a product of two per-example letters
    lambda xt, xj, uj, et: xt.scale(QJ**2),                    # sum q_j^2
    lambda xt, xj, uj, et: xj.scale(QJ**2),                    # sum q_j^2 x_j
    lambda xt, xj, uj, et: (et.T * xj) * uj.scale(QJ),         # sum q_j u_j x_j' e
    lambda xt, xj, uj, et: xj.scale(QJ * yj),                  # sum y_j q_j x_j
    lambda xt, xj, uj, et: (xt.T * xj) * xj.scale(QJ),         # sum q_j x_j x_j' x_t: q_j times the Gram pair
    lambda xt, xj, uj, et: (et.T * uj) * uj,                   # sum u_j u_j' e: no moment declared
    lambda xt, xj, uj, et: uj * 1,                             # sum u_j
    lambda xt, xj, uj, et: (et.T * uj) * xt.scale(yj),         # sum y_j u_j
    lambda xt, xj, uj, et: (xj.T * uj) * xt,                   # sum (x_j' u_j) x_t: an inner product, a trace
    lambda xt, xj, uj, et: (et.T * xj) * (xj.T * xj) * uj,     # x_j three times
    lambda xt, xj, uj, et: (et.T * xj) * (xj.T * et) * uj,     # u_j x_j' and x_j x_j' at once
    lambda xt, xj, uj, et: (et.T * xj) * uj.scale(IJ),         # the index with a letter pair
    lambda xt, xj, uj, et: xj.scale(QJ * IJ),                  # the index with the scalar moment
    lambda xt, xj, uj, et: xt.scale(1 / QJ),                   # not polynomial in q_j
])
def test_products_of_per_example_letters_are_refused(abl, build):
    """Each has a true value that is not a product of the declared moments; the engine must refuse, never
    factor it (sum_j q_j u_j is not (sum_j q_j)(sum_j u_j), sum_j q_j^2 is not (sum_j q_j)^2)."""
    xt, xj, uj, et = L(abl, "x_t"), L(abl, "x_j"), L(abl, "u_j"), L(abl, "e_t")
    with pytest.raises(SumError):
        _sum(build(xt, xj, uj, et), index=IJ)


def test_the_query_tokens_letters_are_not_the_summed_examples(abl):
    """u_t and q_t belong to the query (not summed): sum_j q_t x_j is still sum_j x_j (refused), sum_j q_t q_j x_j
    = q_t b_q, sum_j (u_t' x_j) x_j = S u_t, sum_j (u_t' u_j) x_j = S_ux' u_t, sum_j q_t u_t = n q_t u_t."""
    xt, xj, ut, uj = L(abl, "x_t"), L(abl, "x_j"), L(abl, "u_t"), L(abl, "u_j")
    with pytest.raises(SumError):
        _sum(xj.scale(QT))
    cases = [(xj.scale(QT * QJ), L(abl, "b_q").scale(QT)),
             ((ut.T * xj) * xj, L(abl, "S") * ut),
             ((ut.T * uj) * xj, L(abl, "S_ux").T * ut),
             ((xt.T * uj) * xj, L(abl, "S_ux").T * xt),
             (ut.scale(QT), ut.scale(QT * n))]
    for p, want in cases:
        g = _sum(p)
        assert g == want, (p, g)
        got, val = _brute(p, g)
        assert got == val, p
    with pytest.raises(SumError):
        _sum((ut.T * uj) * ut)                     # sum_j u_j alone, behind a query scalar


def test_random_sums_with_declared_letters_are_exact_or_refused(abl):
    """Products of up to three factors (scalars and a main vector over x_j, u_j, q_j, y_j, the query's x_t,
    u_t, q_t and e_t): every sum the engine returns equals the brute-force sum on concrete values; the rest
    are refused.  Built to fool the rules: transposed pairs, letters of the query, repeated example letters."""
    import itertools
    import random
    rng = random.Random(7)
    vecs = {k: L(abl, k) for k in ("x_t", "x_j", "u_t", "u_j", "e_t")}
    scal = [vecs[a].T * vecs[b] for a, b in itertools.combinations_with_replacement(sorted(vecs), 2)]
    coeffs = [sp.Integer(1), QJ, QT, yj, QJ * QT, QJ**2, 2 * QJ + 1, QJ * yj]
    summed = refused = 0
    moments: set = set()
    for trial in range(300):
        p = vecs[rng.choice(sorted(vecs))]
        for _ in range(rng.randint(0, 2)):
            p = rng.choice(scal) * p
        p = p.scale(rng.choice(coeffs))
        try:
            g = _sum(p)
        except SumError:
            refused += 1
            continue
        summed += 1
        moments |= g.letters() & {"S", "S_ux", "S_ux'", "b_q", "b_q'"}
        got, want = _brute(p, g, seed=trial)
        assert got == want, (p, g)
    assert summed >= 40 and refused >= 40, (summed, refused)
    assert moments >= {"S", "b_q"} and moments & {"S_ux", "S_ux'"}, moments     # every rule was exercised
