"""Constructions built to fool the checker.  Each exploits a fault an
adversarial review found; each must now be caught, at the mechanism."""
import pytest
import sympy as sp

from numeric import checks
from symbolic import lemmas
from symbolic.layers import MLP, Attention, BlockMap, Construction, Head, Layer, TokenFormat, TokenKind
from symbolic.layout import Layout, d
from symbolic.templates import Algebra, Template, input_template

n = sp.Symbol("n", positive=True, integer=True)

# ---------------------------------------------------------------- 1. index-dependent sums
LAY = Layout.of(("x", d), ("one", 1), ("pos", 1), ("acc", 1), ("pred", 1))
TOK = TokenFormat((TokenKind("x", (("x", "x"), ("one", "one"), ("pos", "pos"))),
                   TokenKind("test", (("x", "x_test"), ("one", "one"), ("pos", "pos")), per_example=False)))


def positional_trap() -> Construction:
    """L1: every x-token gets acc = (1/n) sum_j p_j = (n+1)/2.  L2: the test token gets
    (1/n) sum_j p_j (acc_j - p_j) = (1 - n^2)/12.  L3 clears acc.  Summing p_j as a constant
    leaves i_j free in acc, which L2 then reads as its own key's index: acc_j - p_j = 0, and the
    three layers 'provably' change nothing.  In numbers the test token's pred is -1/4 at n = 2."""
    score = BlockMap.of({("one", "pos"): 1})
    L1 = Layer("L1", (Attention((Head(score, BlockMap.of({("acc", "one"): 1})),), activation="linear",
                                keys=("x",), queries=("x",)),))
    L2 = Layer("L2", (Attention((Head(score, BlockMap.of({("pred", "acc"): 1, ("pred", "pos"): -1})),),
                                activation="linear", keys=("x",), queries=("test",)),))
    L3 = Layer("L3", (MLP.linear(BlockMap.of({("acc", "acc"): -1}), LAY),))
    return Construction("trap", LAY, TOK, (L1, L2, L3), (), (), ("test", "pred"), (n,))


def test_positional_sum_cannot_prove_a_false_lemma():
    con, alg = positional_trap(), Algebra()
    tin = input_template(con, alg)
    o = lemmas.layer_maps(con, alg, ["L1", "L2", "L3"], tin, tin)
    assert o.verdict != "verified", o.detail
    assert "pred" in o.detail            # the derived pred is (1 - n^2)/12, not 0
    cx = checks.counterexample_layers(con, alg, ["L1", "L2", "L3"], tin, tin, {})
    assert cx and cx["n"] == 2 and cx["block"] == "pred" and cx["got"] == ["-1/4"]


def test_positional_sum_is_summed_exactly():
    con, alg = positional_trap(), Algebra()
    tin = input_template(con, alg)
    from symbolic.templates import Evaluator
    ev = Evaluator(con, alg)
    out = ev.apply_layer(con.init[1], ev.apply_layer(con.init[0], tin))
    assert out.get("x", "acc", alg) == alg.const((n + 1) / 2)
    assert out.get("test", "pred", alg) == alg.const((1 - n**2) / 12)
    # no template holds the key's index
    for kind in out.kinds.values():
        for p in kind.values():
            assert alg.i["j"] not in p.coeff_symbols()


def test_index_times_data_is_refused():
    """sum_j i_j x_j is not a data moment: the engine must refuse, not sum it as i_j * b or n i_j x."""
    LAY2 = Layout.of(("x", d), ("one", 1), ("pos", 1), ("out", d))
    con = Construction("trap2", LAY2, TokenFormat((TokenKind("x", (("x", "x"), ("one", "one"), ("pos", "pos"))),)),
                       (Layer("L", (Attention((Head(BlockMap.of({("one", "pos"): 1}), BlockMap.of({("out", "x"): 1})),),
                                              activation="linear", keys=("x",)),)),), (), (), ("x", "out"), (n,))
    alg = Algebra()
    tin = input_template(con, alg)
    o = lemmas.layer_maps(con, alg, ["L"], tin, tin)
    assert o.verdict == "inconclusive" and "index" in o.detail


# ---------------------------------------------------------------- 2. fixed sizes can be gamed
def test_an_error_term_that_vanishes_at_the_old_sizes_is_caught():
    """A Newton layer off by (n-2)(n-3)(n-5)(n-40): zero at every size the old exact
    composition used (n = 2, 3, 5) and at the certified run's n = 40, wrong at n = 1, 4."""
    from dataclasses import replace
    from theorems import newton_k_plus_8 as fu
    from theorems.kinds import Composition, composition_sizes
    v = fu.THEOREM.variant("exact")
    con = v.build()
    trap = (n - 2) * (n - 3) * (n - 5) * (n - 40) / 1000
    attn = con.step[0].ops[0]
    h0 = attn.heads[0]
    W = BlockMap(tuple((o, i, c + trap) for o, i, c in h0.W_KQ.entries))
    bad = con.with_layer("step", "N", replace(con.step[0], ops=(replace(attn, heads=(replace(h0, W_KQ=W),
                                                                                     *attn.heads[1:])),
                                                               *con.step[0].ops[1:])))
    alg = Algebra()
    rec = next(c for c in v.claims(bad, alg) if c.kind == "composition").spec.recursion
    exact = lambda data: {fu.alpha: fu.THEOREM.parameter("alpha").exact(data)}
    old = checks.composition(bad, rec, [(1, 2, 3), (2, 3, 3), (3, 5, 2)], exact)
    assert old.verdict == "verified"           # the trap is real: the old fixed sizes miss it
    sizes = composition_sizes(Composition(rec), k=3, seed=0)
    assert {nn for dd, nn, _ in sizes if dd == 1} >= set(range(1, 9))
    new = checks.composition(bad, rec, sizes, exact)
    assert new.verdict == "refuted" and new.data["counterexample"]["n"] in (1, 4)
    o = lemmas.induction(bad, alg, rec)
    assert o.verdict != "verified"             # and the symbolic proof, the primary evidence, fails too


# ---------------------------------------------------------------- 3. found by the adversarial review
from symbolic.layers import Bilinear, Linear, MatrixLetter, Mul, letter  # noqa: E402
from numeric.checks import Recursion  # noqa: E402


def _untied_trap():
    """The step reads u = A w, written by the previous iteration with ITS A: an untied letter in the
    invariant.  The step lemma holds for one arbitrary A, but the network is not the recursion."""
    A = letter("A")
    lay = Layout.of(("x", d), ("y", 1), ("one", 1), ("g", d), ("u", d), ("pred", 1))
    tok = TokenFormat((TokenKind("ctx", (("x", "x"), ("y", "y"))),
                       TokenKind("test", (("x", "x_test"), ("one", "one")), per_example=False)))
    init = Layer("I", (Attention((Head(Bilinear.of({("one", "y"): 1}), Linear.of({("g", "x"): 1})),),
                                 activation="linear", normalizer="none", keys=("ctx",), queries=("test",)),))
    selfatt = Attention((Head(Bilinear.of({("x", "u"): 1, ("x", "g"): 1}), Linear.of({("pred", "one"): 1})),),
                        activation="linear", normalizer="none", keys=("test",), queries=("test",))
    step = Layer("S", (selfatt, MLP.linear(Linear.of({("u", "u"): A, ("u", "g"): A}), lay, queries=("test",))))
    con = Construction("untied-trap", lay, tok, (init,), (step,), (), ("test", "pred"), (n,),
                       (MatrixLetter("A", untied=True),))
    alg = Algebra()
    z = alg.z
    Ap = alg.param("A", ("d", "d"))
    inv = lambda w: {"ctx": {"x": alg.x["t"], "y": alg.const(alg.y["t"])},
                     "test": {"x": z, "one": alg.const(1), "g": alg.b, "u": Ap * w, "pred": z.T * w}}
    rec = Recursion(alg, start=alg.zero, step=lambda w, P: w + P["A"] * w + P["b"], readout=lambda w: z.T * w,
                    invariant=inv, carrier=("test", "pred", "z", "left", 1), symmetric=False, state=("w", ("d", "1")))
    return con, alg, rec, A


def test_an_untied_letter_in_the_invariant_is_refused():
    import random
    con, alg, rec, A = _untied_trap()
    o = lemmas.induction(con, alg, rec)
    assert o.verdict != "verified" and "untied" in o.detail
    rng = random.Random(1)
    vals = lambda data: {A: [[[sp.Integer(rng.randint(-2, 2)) for _ in range(data.d)] for _ in range(data.d)]
                             for _ in range(4)]}
    assert checks.composition(con, rec, [(1, 2, 2)], vals).verdict == "refuted"     # the trap is real


def test_a_letter_cannot_change_its_symmetry_silently():
    alg = Algebra()
    alg.param("A", ("d", "d"), symmetric=True)
    with pytest.raises(ValueError, match="already declared symmetric"):
        alg.param("A", ("d", "d"), symmetric=False)
    with pytest.raises(ValueError, match="state letter|weight letter"):
        alg.matrix("A")


def test_a_weight_letter_may_not_take_a_data_name():
    with pytest.raises(ValueError, match="reserved"):
        Construction("clash", LAY, TOK, (), (), (), ("test", "pred"), (n,), (MatrixLetter("S"),))


def test_a_block_cannot_hold_a_quantity_of_another_size():
    lay = Layout.of(("x", d), ("o", d))
    tok = TokenFormat((TokenKind("ctx", (("x", "x"),)), TokenKind("test", (("x", "x_test"),), per_example=False)))
    con = Construction("mulshape", lay, tok, (), (), (Layer("M", (Mul("x", "x", "o", ("test",)),)),), ("test", "o"),
                       (n,))
    alg = Algebra()
    tin = input_template(con, alg)
    tout = Template({"ctx": {"x": alg.x["t"]}, "test": {"x": alg.z, "o": alg.z.T * alg.z}})
    o = lemmas.layer_maps(con, alg, ["M"], tin, tout)
    assert o.verdict != "verified" and "has size d" in o.detail


def test_the_sign_certifier_does_not_rewrite_numeric_sizes():
    from symbolic.population import certify_nonneg
    dd = sp.Symbol("d")
    assert certify_nonneg(5 * dd - 6, sizes=(5, dd)) is None          # -1 at d = 1
    assert certify_nonneg(5 * dd - 4, sizes=(5, dd)) == "positive"


def test_golden_records_see_assumptions_texts_and_constructions():
    from theorems import golden
    rec = golden.load("newton_k_plus_8")
    import copy
    new = copy.deepcopy(rec)
    chk = new["variants"]["corrected"]["checks"]["induction: prediction = x_test' M_k X'y for all k"]
    chk["assumptions"] = chk["assumptions"] + ["a new assumption"]
    new["variants"]["corrected"]["construction"]["layers"][0]["cite"] = "changed"
    lines = golden.diff(rec, new)
    assert any("assumptions" in l for l in lines) and any("construction" in l for l in lines)


# ---------------------------------------------------------------- basis tokens (matrix tokens e_1..e_d)
def _basis_con(heads_per_layer):
    lay = Layout.of(("a", d), ("e", d), ("P", d), ("Q", d), ("y", 1), ("s", 1))
    tok = TokenFormat((TokenKind("ex", (("a", "x"), ("y", "y"))),
                       TokenKind("mat", (("e", "e"),), per_example=False, basis=True),
                       TokenKind("test", (("P", "x_test"),), per_example=False)))
    layers = tuple(Layer(f"L{i}", (Attention(tuple(Head(Bilinear(Linear.of(kq).entries), Linear.of(pv))
                                                   for kq, pv in hs), activation="linear", normalizer="none"),))
                   for i, hs in enumerate(heads_per_layer))
    return Construction("basis-trap", lay, tok, layers, (), (), ("test", "s"), ())


def test_a_basis_token_cannot_hold_an_example_input():
    with pytest.raises(ValueError, match="basis"):
        TokenKind("mat", (("a", "x"),), per_example=False, basis=True)
    with pytest.raises(ValueError, match="basis"):
        TokenKind("ex", (("e", "e"),))


def test_basis_sums_agree_with_the_exact_forward_pass():
    """Random linear-attention layers over example, basis and test tokens: whenever the engine derives a
    template, it must equal the exact forward pass token by token at d = 1..3 (the refusals of what is not
    the identity moment are tested alone in test_ncalg.py)."""
    import random

    from numeric.backends import ExactBackend
    from numeric.checks import hidden_to_sympy, template_matrix
    from numeric.forward import Data, Network
    from symbolic.templates import Evaluator, LemmaFailure
    rng = random.Random(5)
    blocks = ["a", "e", "P", "Q"]
    derived = 0
    for trial in range(40):
        hs_all = []
        for _ in range(2):
            hs = []
            for _ in range(rng.randint(1, 2)):
                kq = {(rng.choice(blocks), rng.choice(blocks)): rng.choice([1, -1, 2])}
                out = rng.choice(["P", "Q"])
                pv = {(out, rng.choice(blocks)): rng.choice([1, -1])}
                if rng.random() < 0.3:
                    pv = {("s", "y"): 1}
                hs.append((kq, pv))
            hs_all.append(hs)
        con = _basis_con(hs_all)
        alg = Algebra()
        ev = Evaluator(con, alg)
        try:
            tpl = input_template(con, alg)
            for L in con.init:
                tpl = ev.apply_layer(L, tpl)
        except LemmaFailure:
            continue
        derived += 1
        for dd, nn in ((1, 1), (2, 3), (3, 2)):
            data = Data([[sp.Integer(rng.randint(-2, 2)) for _ in range(dd)] for _ in range(nn)],
                        [sp.Integer(rng.randint(-2, 2)) for _ in range(nn)],
                        [sp.Integer(rng.randint(-2, 2)) for _ in range(dd)])
            net = Network(con, dd, nn, ExactBackend(), {})
            H = net.embed(data)
            for L in con.init:
                H = net.apply_layer(L, H, 1)
            got = hidden_to_sympy(net, H)
            want = template_matrix(net, alg, tpl, data, None, {})
            assert got == want, (trial, hs_all, dd, nn)
    assert derived >= 30, derived


def test_a_mov_after_basis_tokens_is_refused_not_proved():
    """The token before the first tail token is basis token d when basis tokens exist (not the last example):
    the induction once proved 'prediction = x_n' for a network that reads 0 (review R1)."""
    from symbolic.layers import Mov
    from symbolic.lemmas import induction
    lay = Layout.of(("a", d), ("e", d), ("X", d), ("P", d))
    tok = TokenFormat((TokenKind("ex", (("a", "x"),)),
                       TokenKind("mat", (("e", "e"), ("X", "e")), per_example=False, basis=True),
                       TokenKind("test", (), per_example=False)))
    con = Construction("mov-trap", lay, tok, (), (), (Layer("R", (Mov("a", "P", ("test",)),)),), ("test", "P"))
    alg = Algebra()
    rec = Recursion(alg, start=lambda: alg.I, step=lambda M, P: M, readout=lambda M: alg.x["n"],
                    invariant=lambda M: {"ex": {"a": alg.x["t"]}, "mat": {"e": alg.e["t"], "X": M * alg.e["t"]}},
                    carrier=("mat", "X", "e_t"), symmetric=False, state=("X", ("d", "d")))
    o = induction(con, alg, rec)
    assert o.verdict != "verified" and "basis token" in o.detail


def test_a_sum_over_basis_tokens_counts_d_in_every_evaluator():
    """sum_j 1 over the d basis tokens is d: the exact composition must give the symbol its value (review R2)."""
    from symbolic.lemmas import induction
    lay = Layout.of(("e", d), ("X", d), ("s", 1), ("out", 1))
    tok = TokenFormat((TokenKind("mat", (("e", "e"), ("X", "e"), ("s", "one")), per_example=False, basis=True),
                       TokenKind("test", (("s", "one"),), per_example=False)))
    att = Attention((Head(Bilinear(Linear.of({("s", "s"): 1}).entries), Linear.of({("out", "s"): 1})),),
                    activation="linear", normalizer="none", keys=("mat",), queries=("test",))
    con = Construction("count-d", lay, tok, (Layer("A", (att,)),), (), (), ("test", "out"))
    alg = Algebra()
    rec = Recursion(alg, start=lambda: alg.I, step=lambda M, P: M, readout=None,
                    invariant=lambda M: {"mat": {"e": alg.e["t"], "X": M * alg.e["t"], "s": alg.const(1)},
                                         "test": {"s": alg.const(1), "out": alg.const(d)}},
                    carrier=("mat", "X", "e_t"), symmetric=False, state=("X", ("d", "d")))
    assert induction(con, alg, rec).verdict == "verified"
    o = checks.composition(con, rec, [(2, 1, 1), (3, 2, 1)], lambda data: {})
    assert o.verdict == "verified", o.detail
    wrong = Recursion(alg, start=lambda: alg.I, step=lambda M, P: M, readout=None,
                      invariant=lambda M: {"mat": {"e": alg.e["t"], "X": M * alg.e["t"], "s": alg.const(1)},
                                           "test": {"s": alg.const(1), "out": alg.const(d + 1)}},
                      carrier=("mat", "X", "e_t"), symmetric=False, state=("X", ("d", "d")))
    assert checks.composition(con, wrong, [(2, 1, 1)], lambda data: {}).verdict == "refuted"


def test_a_column_input_must_fit_its_block():
    from symbolic.layers import MatrixLetter
    lay = Layout.of(("s", 1), ("I", d))
    tok = TokenFormat((TokenKind("col", (("s", "L*e"), ("I", "e")), per_example=False, basis=True),))
    with pytest.raises(ValueError, match="L e_j"):
        Construction("v", lay, tok, (), (), (), ("col", "s"), (), (MatrixLetter("L"),))


def test_a_ball_just_below_a_knot_is_enclosed():
    """Float knots once sent a ball an ulp below a knot to the piece above it (review R3)."""
    from fractions import Fraction

    from flint import arb, ctx

    from numeric.approx import ReluNet, _relu
    old = ctx.prec
    ctx.prec = 256
    try:
        net = ReluNet((Fraction(0), Fraction(1, 3), Fraction(1)), (Fraction(0), Fraction(0), Fraction(1)))
        x = arb(1) / 3 - arb(10) ** -20
        x = arb(x.mid(), arb(10) ** -40)
        assert net(x).contains(0)
        y = arb(0) - arb(10) ** -30           # just below x_0: the constant v_0 must be in the enclosure
        assert net(y).contains(0)
    finally:
        ctx.prec = old


# ---------------------------------------------------------------- found by the mutation score (python -m theorems.mutate)
def _two_layer_trap(order):
    """A: acc += acc (doubles it); B: acc += 1.  From acc = 0, A then B gives 1 and B then A gives 2: a claim
    about 'A, B' must read the construction's order."""
    A = Layer("A", (MLP.linear(BlockMap.of({("acc", "acc"): 1}), LAY),))
    B = Layer("B", (MLP.linear(BlockMap.of({("acc", "one"): 1}), LAY),))
    layers = {"AB": (A, B), "BA": (B, A)}[order]
    return Construction("order", LAY, TOK, layers, (), (), ("test", "acc"), (n,))


def test_a_layer_claim_reads_the_construction_s_layer_order():
    alg = Algebra()
    con = _two_layer_trap("BA")
    tin = input_template(con, alg)
    # 'A then B' maps acc = 0 to 1; the construction applies B then A (acc = 2): the order itself is refuted
    tout = Template({k: {**v, "acc": alg.const(1)} for k, v in tin.kinds.items()})
    o = lemmas.layer_maps(con, alg, ("A", "B"), tin, tout)
    assert o.verdict == "refuted" and "the construction applies B, A there" in o.detail
    assert lemmas.layer_maps(_two_layer_trap("AB"), alg, ("A", "B"), tin, tout).verdict == "verified"


def test_a_layer_claim_about_a_layer_the_construction_lacks_is_refuted():
    """A claim that names a layer the construction does not have is refuted there (it crashed once)."""
    alg = Algebra()
    con = _two_layer_trap("AB")
    tin = input_template(con, alg)
    o = lemmas.layer_maps(con, alg, ("A", "C"), tin, tin)
    assert o.verdict == "refuted" and "does not have" in o.detail and o.where["layer"] == "C"


def test_a_hidden_unit_no_weight_writes_is_zero_in_every_evaluator():
    """An MLP whose W1 lost an entry still has the hidden block: it reads as 0, not a crash."""
    from numeric.backends import ExactBackend
    from numeric.data import small_integers
    from numeric.forward import Network
    import random
    from symbolic.layers import Linear
    con = _two_layer_trap("AB")
    mlp = con.init[0].ops[0]
    empty = MLP(mlp.hidden, Linear(()), mlp.W2, "linear")
    bad = Construction("empty", LAY, TOK, (Layer("A", (empty,)),), (), (), ("test", "acc"), (n,))
    net = Network(bad, 2, 2, ExactBackend(), {})
    H = net.apply_layer(bad.init[0], net.embed(small_integers(2, 2, random.Random(0))))
    M = checks.hidden_to_sympy(net, H)
    row = net.offsets["acc"].start
    assert all(M[row, t] == 0 for t in range(M.cols))


def test_an_evaluator_without_an_op_leaves_the_check_undecided_not_crashed():
    """softmax has no exact (rational) value: the exact composition is inconclusive, never an internal error."""
    from theorems.check import run_claim
    from theorems.kinds import Run
    import dataclasses
    import sys, os
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
    try:
        from theorems.registry import get
        from theorems import mutate as M
        thm = get("mytheorems.gd_weight_decay")
        v = thm.variant("weight-decay")
        con = v.build()
        soft = dataclasses.replace(con.step[0], ops=tuple(dataclasses.replace(op, activation="softmax")
                                                          if op.kind == "attention" else op for op in con.step[0].ops))
        con2 = dataclasses.replace(con, step=(soft,))
        alg = Algebra()
        claims = v.claims(con2, alg)
        comp = next(c for c in claims if c.kind == "composition")
        e = run_claim(comp, Run(thm, M.context(thm), con2, alg))
        assert e.verdict == "inconclusive" and "exact" in e.detail
    finally:
        sys.path.pop(0)


def test_a_layer_claim_about_a_run_of_layers_must_name_consecutive_layers():
    """A claim about 'A, B' where the construction applies A, C, B: C would be skipped unseen."""
    alg = Algebra()
    A = Layer("A", (MLP.linear(BlockMap.of({("acc", "acc"): 1}), LAY),))
    B = Layer("B", (MLP.linear(BlockMap.of({("acc", "one"): 1}), LAY),))
    C = Layer("C", (MLP.linear(BlockMap.of({("acc", "one"): 5}), LAY),))
    con = Construction("gap", LAY, TOK, (A, C, B), (), (), ("test", "acc"), (n,))
    tin = input_template(con, alg)
    tout = Template({k: {**v, "acc": alg.const(1)} for k, v in tin.kinds.items()})
    o = lemmas.layer_maps(con, alg, ("A", "B"), tin, tout)
    assert o.verdict == "refuted" and "applies A, C, B there" in o.detail


def test_a_layer_claim_on_a_construction_without_its_layer_is_refuted_not_an_error():
    """Run through the checker (with its counterexample search), as the mutation score does."""
    import dataclasses
    from theorems import mutate as M
    from theorems.registry import get
    thm = get("newton_k_plus_8")
    v = thm.variant("printed")
    con = v.build()
    dropped = dataclasses.replace(con, init=con.init[1:])
    claims, alg = M._variant_claims(v, dropped)
    first = next(c for c in claims if c.kind == "layer_maps")
    (e,) = M.run_claims(thm, M.context(thm), [first], dropped, alg)
    assert e.verdict == "refuted" and "does not have" in e.detail, (e.verdict, e.detail)
