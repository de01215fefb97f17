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
