"""Giannou et al. (newton_schulz_two_layer, newton_linear_regression): each claim positive and negative, the
ablations refuted with the layer and block named, and the claim kinds they added (exact width, layer type,
side by side, a hidden-state claim without a read-out, the eps interval) failing when they should."""
import dataclasses

import pytest
import sympy as sp

from symbolic.layout import d
from symbolic.templates import Algebra
from theorems import newton_k_plus_8 as fu
from theorems import newton_linear_regression as nlr
from theorems import newton_schulz_two_layer as ns
from theorems.check import make_context, run_claim
from theorems.kinds import Architecture, Run, SideBySide, Width
from theorems.newton_schulz import NewtonConvergence


def claims(thm, name):
    v = thm.variant(name)
    con, alg = v.build(), Algebra()
    return con, alg, {c.name: c for c in v.claims(con, alg)}


def check(thm, ctx, name, claim):
    con, alg, cl = claims(thm, name)
    return run_claim(cl[claim], Run(thm, ctx, con, alg))


@pytest.fixture(scope="module")
def lr_ctx():
    return make_context(nlr.THEOREM, k=2, d=3, n=5, seed=0)


@pytest.fixture(scope="module")
def ns_ctx():
    return make_context(ns.THEOREM, k=2, d=3, n=3, seed=0)


# ------------------------------------------------------------------ Theorem 4.2
@pytest.mark.parametrize("variant", ["reconstruction", "ridge"])
def test_theorem_4_2_holds_for_all_T_and_numerically(lr_ctx, variant):
    for c in ("induction: y_hat = a_test' X_T A'y for all T", "exact composition at small sizes",
              "certified at realistic size", "number of layers", "hidden width", "layer type and heads"):
        assert check(nlr.THEOREM, lr_ctx, variant, c).verdict == "verified", c


def test_a_test_token_stored_like_an_example_is_summed_into_AtA(lr_ctx):
    ev = check(nlr.THEOREM, lr_ctx, "test-as-example", "induction: y_hat = a_test' X_T A'y for all T")
    assert ev.verdict == "refuted"
    assert "base lemma" in ev.detail and "(e_t' z) z" in ev.detail and "layer G" in ev.detail
    comp = check(nlr.THEOREM, lr_ctx, "test-as-example", "exact composition at small sizes")
    assert comp.verdict == "refuted" and "after layer G" in comp.detail and "block R" in comp.detail


def test_stated_width_and_layer_type_can_fail(lr_ctx):
    con, alg, _ = claims(nlr.THEOREM, "reconstruction")
    from theorems.base import Claim
    too_narrow = Claim("w", "", "", Width(d, 4 * d))
    ev = run_claim(too_narrow, Run(nlr.THEOREM, lr_ctx, con, alg))
    assert ev.verdict == "refuted" and "exceeds the stated 4d" in ev.detail
    one_head = run_claim(Claim("a", "", "", Architecture(max_heads=1)), Run(nlr.THEOREM, lr_ctx, con, alg))
    assert one_head.verdict == "refuted" and "layer G" not in one_head.detail and "layer N has 2 heads" in one_head.detail
    fcon = fu.THEOREM.variant("printed").build()
    relu = run_claim(Claim("a", "", "", Architecture(max_heads=2)), Run(fu.THEOREM, lr_ctx, fcon, Algebra()))
    assert relu.verdict == "refuted" and any("relu attention" in x for x in relu.data["problems"])


def test_side_by_side_reads_each_theorems_own_counts(lr_ctx, monkeypatch):
    from theorems.base import Claim
    c = Claim("s", "", "", SideBySide(("newton_linear_regression", "newton_k_plus_8")))
    ev = run_claim(c, Run(nlr.THEOREM, lr_ctx))
    assert ev.verdict == "verified"
    rows = {(r["theorem"], r["variant"]): r for r in ev.data["constructions"]}
    assert rows[("newton_linear_regression", "reconstruction")]["layers at k=2"] == 5
    assert rows[("newton_k_plus_8", "printed")]["layers at k=2"] == 10
    assert rows[("newton_linear_regression", "reconstruction")]["width at d=3"] == 15
    # a construction with one layer more than its theorem states is named
    real = nlr.THEOREM.variant("reconstruction")
    longer = dataclasses.replace(real, build=lambda: dataclasses.replace(real.build(), readout=(nlr.OUT_1, nlr.OUT_1,
                                                                                                 nlr.OUT_2)))
    thm = dataclasses.replace(nlr.THEOREM, variants=(longer, *nlr.THEOREM.variants[1:]))
    import theorems.registry as reg
    orig = reg.get
    monkeypatch.setattr(reg, "get", lambda tid: thm if tid == "newton_linear_regression" else orig(tid))
    ev2 = run_claim(c, Run(nlr.THEOREM, lr_ctx))
    assert ev2.verdict == "refuted" and "newton_linear_regression/reconstruction" in ev2.detail


def test_the_interval_end_is_checked_and_a_wrong_expectation_fails(lr_ctx):
    from theorems.base import Claim
    run = Run(nlr.THEOREM, lr_ctx)
    end = run_claim(Claim("e", "", "", NewtonConvergence("epsilon", "double-spectral", expect="diverge")), run)
    assert end.verdict == "verified" and "does not converge" in end.detail
    inside = run_claim(Claim("i", "", "", NewtonConvergence("epsilon", "spectral", expect="diverge")), run)
    assert inside.verdict == "refuted"


# ------------------------------------------------------------------ Lemma 4.1
@pytest.mark.parametrize("variant", ["lemma-4.1", "stacked", "symmetric"])
def test_lemma_4_1_holds_for_every_number_of_steps(ns_ctx, variant):
    for c in ("induction: the tokens hold X_T = T Newton steps from X_0, for all T",
              "exact composition at small sizes", "certified at realistic size", "number of layers", "hidden width",
              "layer type and heads"):
        assert check(ns.THEOREM, ns_ctx, variant, c).verdict == "verified", (variant, c)


def test_lemma_4_1_counts_are_the_statements():
    k = sp.Symbol("k")
    assert ns.BUILDS["lemma-4.1"]().n_layers(k) == 2 * k + 2        # T = k + 1 steps, 2 layers each
    assert ns.BUILDS["symmetric"]().n_layers(k) == k + 1
    assert ns.BUILDS["lemma-4.1"]().layout.width == 4 * d


def test_the_one_layer_step_on_a_general_A_computes_X_At_X(ns_ctx):
    ev = check(ns.THEOREM, ns_ctx, "symmetric-step-on-general-A",
               "induction: the tokens hold X_T = T Newton steps from X_0, for all T")
    assert ev.verdict == "refuted" and "X_0 A' X_0" in ev.detail and "layer N" in ev.detail


def test_the_looped_transpose_layer_needs_its_clearing_head(ns_ctx):
    ev = check(ns.THEOREM, ns_ctx, "looped-without-clearing",
               "induction: the tokens hold X_T = T Newton steps from X_0, for all T")
    assert ev.verdict == "refuted" and "block 'T'" in ev.detail and "coefficient 2 derived, 1 claimed" in ev.detail
    comp = check(ns.THEOREM, ns_ctx, "looped-without-clearing", "exact composition at small sizes")
    assert comp.verdict == "refuted" and "iteration 1" in comp.detail


def test_residual_squares_and_the_eps_interval(ns_ctx):
    from theorems.base import Claim
    run = Run(ns.THEOREM, ns_ctx)
    tc = {c.name: c for c in ns.THEOREM.claims()}
    assert run_claim(tc["residual squares: I - A X_t = (I - A X_0)^(2^t)"], run).verdict == "verified"
    inside = run_claim(tc["convergence from X_0 = eps A', eps inside the interval"], run)
    end = run_claim(tc["no convergence at the interval's end"], run)
    assert inside.verdict == "verified" and end.verdict == "verified"
    assert min(end.data["residual_lower"][1:]) >= 1 - 1e-9
    # the wrong expectations fail
    assert run_claim(Claim("x", "", "", ns.Initialisation(sp.Integer(1), "stall")), run).verdict == "refuted"
    assert run_claim(Claim("y", "", "", ns.Initialisation(sp.Integer(2))), run).verdict != "verified"


# ------------------------------------------------------------------ the hyperpower family and the trained study
def test_hyperpower_residual_is_the_pth_power():
    """I - S M' = (I - S M)^p for the hyperpower step of order p, as noncommutative polynomials; order 2 is the
    Newton-Schulz step the proofs check."""
    from numeric.recursions import hyperpower_step, newton_step
    from symbolic.ncalg import Alphabet
    ab = Alphabet()
    I = ab.identity("I", "d")
    S, M = ab.matrix("S"), ab.matrix("M")
    R = I - S * M
    for p in (2, 3, 4, 5):
        want = I
        for _ in range(p):
            want = want * R
        assert (I - S * hyperpower_step(M, S, p)).first_difference(want) is None, p
    assert hyperpower_step(M, S, 2) == newton_step(M, S)


def test_batched_higher_order_newton_matches_the_exact_recursion():
    import math

    import torch

    from numeric.training.algorithms import newton
    g = torch.Generator().manual_seed(0)
    X = torch.randn(3, 7, 4, generator=g, dtype=torch.float64)
    y = torch.randn(3, 7, generator=g, dtype=torch.float64)
    pred = newton(X, y, (0, 1, 3), alpha="1/(max+min)", order=3)
    S, b = X[0, :6].T @ X[0, :6], X[0, :6].T @ y[0, :6]        # the query at position 6 sees 6 examples
    ev = torch.linalg.eigvalsh(S @ S.T)
    M = S / (ev[-1] + ev[0])
    for _ in range(3):                                           # written out: M sum_m (-1)^m C(3, m+1) (S M)^m
        M = sum((-1) ** m * math.comb(3, m + 1) * M @ torch.linalg.matrix_power(S @ M, m) for m in range(3))
    assert abs(float(pred[2, 0, 6]) - float(X[0, 6] @ M @ b)) < 1e-9


def test_the_lsa_depth_study_trains_and_compares_in_the_suite(tmp_path, monkeypatch):
    monkeypatch.setenv("ICL_THEOREMS_CACHE", str(tmp_path))
    from numeric.training.lsa import run_depth_study
    study = nlr.THEOREM.experiments()[0]
    rec = run_depth_study("newton_linear_regression", study, "ci", progress=False)
    rows = {f["key"]: f for f in rec["figures"]}
    assert {"lsa-1", "lsa-2", "newton-2-1", "newton-3-2"} <= set(rows)
    # order 4 for one step is order 2 for two steps: the same iterate on the same prompts
    assert abs(rows["newton-4-1"]["mean"] - rows["newton-2-2"]["mean"]) < 1e-9
    assert len(rec["targets"]) == 2 and all(isinstance(t["met"], bool) for t in rec["targets"])
    assert rec["empirical"] and rec["cached"] == [False, False]
    again = run_depth_study("newton_linear_regression", study, "ci", progress=False)
    assert again["cached"] == [True, True] and again["figures"] == rec["figures"]


def test_stated_width_at_most_and_masks():
    """Review R4, R5: 'at most 4d' holds for 2d + 1 (d >= 1); a non-linear stated width is compared too; a
    layer that restricts its keys or queries is a mask, which the linear-attention claim excludes."""
    from symbolic.layers import Attention, Bilinear, Construction, Head, Layer, Linear, TokenFormat, TokenKind
    from symbolic.layout import Layout
    from symbolic.lemmas import architecture, width
    tok = TokenFormat((TokenKind("ex", (("a", "x"),)),))
    c1 = Construction("w", Layout.of(("a", d), ("b", d), ("c", 1)), tok, (), (), (), ("ex", "a"))
    assert width(c1, d, 4 * d).verdict == "verified"
    assert width(c1, d, 2 * d).verdict == "refuted"
    c2 = Construction("w", Layout.of(("a", d),), tok, (), (), (), ("ex", "a"))
    assert width(c2, d, 4 * d ** 2).verdict == "verified"
    lay = Layout.of(("a", d), ("b", d))
    tok2 = TokenFormat((TokenKind("ex", (("a", "x"),)), TokenKind("test", (("a", "x_test"),), per_example=False)))
    masked = Attention((Head(Bilinear(Linear.of({("a", "a"): 1}).entries), Linear.of({("b", "a"): 1})),),
                       activation="linear", normalizer="none", keys=("ex",), queries=("test",))
    con = Construction("m", lay, tok2, (Layer("L", (masked,)),), (), (), ("test", "b"))
    o = architecture(con, 2, "linear", "none", False, 1)
    assert o.verdict == "refuted" and "mask" in o.detail


def test_the_stall_at_the_interval_end_needs_an_invertible_A():
    """Review R6: with a singular A the residual stays >= 1 for every eps; the check must not call that a stall."""
    from types import SimpleNamespace
    run = SimpleNamespace(ctx=SimpleNamespace(params={ns.A_: [[1, 0], [0, 0]]}, bits=128))
    for c, exp in ((sp.Integer(1), "stall"), (sp.Integer(2), "stall"), (sp.Integer(1), "converge")):
        assert ns._check_initialisation(ns.Initialisation(c, exp), run).verdict == "inconclusive"


def test_lsa_block_init_zero_starts_every_block_as_the_identity():
    """The cpu preset's deep models start with every block's output map at zero: the residual stream leaves
    the blocks as it entered them (at PyTorch's default scale each cubic block multiplies it, and past three
    blocks most activations sit at the clip, where the gradient is zero: the old 4-layer failure)."""
    import torch

    from numeric.training.lsa import LSASpec, build
    spec = LSASpec(5, width=16, heads=2, d=3, points=9, clip=10.0, block_init=0.0)
    m = build(spec, 0)
    assert all(not b.out.weight.detach().any() and not b.out.bias.detach().any() for b in m.blocks)
    g = torch.Generator().manual_seed(0)
    xs, ys = torch.randn(4, 9, 3, generator=g), torch.randn(4, 9, generator=g)
    with torch.no_grad():
        y_in = torch.cat([ys[:, :-1], torch.zeros_like(ys[:, -1:])], 1)
        h = m.read_in(torch.cat([xs, y_in[..., None]], -1)).clamp(-10, 10)
        assert torch.allclose(m(xs, ys), m.read_out(h[:, -1])[:, 0])
        # the default initialisation: the same seed draws the same read-in; the blocks are not zero
        d = build(LSASpec(5, width=16, heads=2, d=3, points=9, clip=10.0), 0)
        assert torch.equal(d.read_in.weight, m.read_in.weight) and bool(d.blocks[0].out.weight.any())
    assert "initialised to zero" in spec.describe()
