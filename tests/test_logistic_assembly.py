"""logistic_newton's assembly of the gradient and the Hessian by attention (App. C steps 2-3, 6-7; our weights):
each claim verified, the ablation without the Hessian's second head refuted and located, and each kind of claim
failing when the construction or the statement is wrong."""
import dataclasses

import pytest
import sympy as sp

from symbolic.layout import d
from symbolic.templates import Algebra, Template
from theorems import logistic_newton as lg
from theorems.base import Claim
from theorems.check import make_context, run_claim
from theorems.kinds import Architecture, LayerCount, LayerMaps, Run, Width

CLAIMS = ("logit layer: example token i receives t_i = a_i'w",
          "Hessian layer: matrix token j receives H e_j, H symmetrised",
          "gradient layer: the state token receives g = mu w - (1/n) sum_i q_i a_i",
          "the assembly: the three layers in order, from the tokens to the gradient and the Hessian",
          "assembly layers", "assembly width", "assembly layer type and heads")


@pytest.fixture(scope="module")
def ctx():
    return make_context(lg.THEOREM, k=2, d=3, n=6, seed=0)


def _run(ctx, con, claims, alg, name):
    c = next(c for c in claims if c.name == name)
    return run_claim(c, Run(lg.THEOREM, ctx, con, alg))


def _variant(name):
    v = lg.THEOREM.variant(name)
    con, alg = v.build(), Algebra()
    return con, alg, v.claims(con, alg)


def test_the_assembly_holds_for_all_d_and_n(ctx):
    con, alg, claims = _variant("gradient-hessian-assembly")
    assert [c.name for c in claims] == list(CLAIMS)
    for name in CLAIMS:
        e = _run(ctx, con, claims, alg, name)
        assert e.verdict == "verified", (name, e.detail)
    assert "gradient-hessian-assembly" in lg.THEOREM.basis and lg.THEOREM.basis[0] == "inner-newton-schulz"
    assert con.layout.width == 6 * d + 3 and con.n_layers(sp.Symbol("k")) == 3


def test_the_hessian_with_one_head_is_not_symmetric_and_is_located(ctx):
    con, alg, claims = _variant("hessian-one-head")
    e = _run(ctx, con, claims, alg, CLAIMS[1])
    assert e.verdict == "refuted"
    w = e.data["where"]
    assert w["layer"] == "Hs" and w["kind"] == "mat" and w["block"] == "H" and w["term"] == "S_ux' e_t"
    assert "first differing term S_ux' e_t: coefficient 0 derived, 1/(2n) claimed" in e.detail
    cx = e.data["counterexample"]
    assert cx["token"].startswith("mat") and cx["block"] == "H" and {"q", "u", "w"} <= set(cx["params"])
    assert "y" not in cx                     # the example tokens hold no label: the prompt's y is not shown
    # the other layers are untouched by the ablation
    for name in (CLAIMS[0], CLAIMS[2]):
        assert _run(ctx, con, claims, alg, name).verdict == "verified"
    assert _run(ctx, con, claims, alg, CLAIMS[3]).verdict == "refuted"
    assert lg.THEOREM.variant("hessian-one-head").role == "ablation" and "hessian-one-head" not in lg.THEOREM.basis


def _with_layer(con, layer):
    return dataclasses.replace(con, init=tuple(layer if L.name == layer.name else L for L in con.init))


def test_a_wrong_weight_in_each_layer_is_refuted_at_its_block(ctx):
    from symbolic.layers import Attention, Layer
    con, alg, claims = _variant("gradient-hessian-assembly")
    n = lg.n_
    wrong = {
        # the gradient's data head with +1/n: the sign of the logistic gradient
        CLAIMS[2]: (Layer("G", (Attention.linear_heads(({("one", "q"): 1}, {("g", "a"): 1 / n}),
                                                       ({("one", "one"): 1}, {("g", "w"): lg.mu})),)), "state", "g"),
        # the Hessian's value u_i replaced by a_i: (1/n) A'A, not (1/2n) sum (u a' + a u')
        CLAIMS[1]: (Layer("Hs", (Attention.linear_heads(({("e", "a"): 1}, {("H", "a"): 1 / (2 * n)}),
                                                        ({("e", "u"): 1}, {("H", "a"): 1 / (2 * n)}),
                                                        ({("e", "e"): 1}, {("H", "e"): lg.mu})),)), "mat", "H"),
        # the logit read from the wrong block of the state token
        CLAIMS[0]: (Layer("T", (Attention.linear_heads(({("a", "w"): 1}, {("t", "one"): 2})),)), "ex", "t"),
    }
    for name, (layer, kind, block) in wrong.items():
        bad = _with_layer(con, layer)
        alg2 = Algebra()
        e = _run(ctx, bad, lg.assembly_claims(bad, alg2), alg2, name)
        assert e.verdict == "refuted", (name, e.detail)
        assert e.data["where"]["kind"] == kind and e.data["where"]["block"] == block, e.data["where"]
        assert "counterexample" in e.data


def test_a_wrong_statement_is_refuted(ctx):
    con, alg, claims = _variant("gradient-hessian-assembly")
    spec = next(c for c in claims if c.name == CLAIMS[2]).spec
    kinds = {k: dict(v) for k, v in spec.output.kinds.items()}
    kinds["state"]["g"] = alg.params["w"].scale(lg.mu) + alg.example_moment("q").scale(1 / alg.n)   # + sign
    e = run_claim(Claim("g+", "", "", LayerMaps(("G",), spec.input, Template(kinds))), Run(lg.THEOREM, ctx, con, alg))
    assert e.verdict == "refuted" and e.data["where"]["term"] == "b_q"
    # the transposed moment alone is not the Hessian either
    spec = next(c for c in claims if c.name == CLAIMS[1]).spec
    kinds = {k: dict(v) for k, v in spec.output.kinds.items()}
    kinds["mat"]["H"] = alg.e["t"].scale(lg.mu) + (alg.example_moment("u") * alg.e["t"]).scale(1 / alg.n)
    e = run_claim(Claim("H1", "", "", LayerMaps(("Hs",), spec.input, Template(kinds))), Run(lg.THEOREM, ctx, con, alg))
    assert e.verdict == "refuted" and e.data["where"]["block"] == "H"
    run = Run(lg.THEOREM, ctx, con, alg)
    assert run_claim(Claim("w", "", "", Width(d, 6 * d + 2, equal=True)), run).verdict == "refuted"
    assert run_claim(Claim("l", "", "", LayerCount(sp.Integer(2), equal=True)), run).verdict == "refuted"
    assert run_claim(Claim("a", "", "", Architecture(max_heads=2)), run).verdict == "refuted"


# ---------------------------------------------------------------- the emulation reads this construction
def _hessian_layer_over_n(symmetrised=True):
    """The Hessian layer with 1/n in place of 1/2n in both data heads: H = mu I + (1/n) sum_i (u_i a_i' + a_i u_i')."""
    from symbolic.layers import Attention, Layer
    n = lg.n_
    return Layer("Hs", (Attention.linear_heads(({("e", "a"): 1}, {("H", "u"): 1 / n}),
                                               ({("e", "u"): 1}, {("H", "a"): 1 / n}),
                                               ({("e", "e"): 1}, {("H", "e"): lg.mu})),))


def _emulated(A, y, muq, asm, w_steps=2):
    """The emulation's gradient and Hessian with exact nets and the exact product (so that only the assembly
    stands between them and the exact step's), and the exact step's, at a point with non-trivial s_i."""
    from numeric import logistic as L
    P = L.Problem(A, y, muq, 128)
    try:
        w = P.zero()
        for _ in range(w_steps):
            w, _ = P.step(w)
        g0, H0 = P._grad_hess(w, None, None, 0)
        g1, H1 = P._grad_hess(w, L.Approximation(assembly=asm), None, 0)
        return g0, H0, g1, H1
    finally:
        P.close()


def _rows(ctx):
    from fractions import Fraction
    A, y = lg.logistic_data(ctx.data)
    return A, y, Fraction(1, 10)


def test_the_emulation_reads_its_gradient_and_hessian_out_of_the_construction(ctx, monkeypatch):
    from numeric import logistic as L
    A, y, muq = _rows(ctx)
    d_ = len(A[0])
    # the construction as built: with exact nets it gives the exact step's g and H, within the balls' radii
    g0, H0, g1, H1 = _emulated(A, y, muq, lg.emulation_assembly(muq))
    for r in range(d_):
        assert (g1[r, 0] - g0[r, 0]).contains(0) and float(abs(g1[r, 0] - g0[r, 0]).upper()) < 1e-30
        for c in range(d_):
            assert (H1[r, c] - H0[r, c]).contains(0) and float(abs(H1[r, c] - H0[r, c]).upper()) < 1e-30
    # a wrong weight in the construction moves the emulated Hessian: 1/n for 1/2n doubles its data part
    monkeypatch.setattr(lg, "hessian_layer", _hessian_layer_over_n)
    _, _, g2, H2 = _emulated(A, y, muq, lg.emulation_assembly(muq))
    mu_ = L._arb(muq)
    for r in range(d_):
        assert (g2[r, 0] - g0[r, 0]).contains(0)                 # the gradient layer is untouched
        for c in range(d_):
            data = H0[r, c] - (mu_ if r == c else 0)
            assert (H2[r, c] - H0[r, c] - data).contains(0)      # H2 = mu I + 2 (H0 - mu I)
    assert any(not (H2[r, c] - H0[r, c]).contains(0) for r in range(d_) for c in range(d_))
    # the gradient layer with +1/n: the emulated gradient follows it
    from symbolic.layers import Attention, Layer
    G = Layer("G", (Attention.linear_heads(({("one", "q"): 1}, {("g", "a"): 1 / lg.n_}),
                                           ({("one", "one"): 1}, {("g", "w"): lg.mu})),))
    monkeypatch.undo()
    bad = _with_layer(lg.build_assembly(), G)
    _, _, g3, _ = _emulated(A, y, muq, lg.emulation_assembly(muq, bad))
    assert any(not (g3[r, 0] - g0[r, 0]).contains(0) for r in range(d_))


def test_a_wrong_assembly_weight_refutes_the_per_iteration_error(ctx, monkeypatch):
    run = Run(lg.THEOREM, ctx)
    ok = run_claim(Claim("e", "", "", lg.EndToEnd()), run)
    assert ok.verdict == "verified" and max(ok.data["per_iteration_error"]) <= 1e-4
    monkeypatch.setattr(lg, "hessian_layer", _hessian_layer_over_n)
    _assert_end_to_end_refuted(run)


def _assert_end_to_end_refuted(run):
    """The end-to-end per-iteration error claim, run on a construction with a wrong weight, is refuted."""
    e = run_claim(Claim("e", "", "", lg.EndToEnd()), run)
    assert e.verdict == "refuted" and "certified above the target" in e.detail, e.detail
    assert e.data["per-iteration error (max)"] > 1e-2


def test_the_emulation_needs_the_construction_and_logits_that_read_no_letter(ctx):
    from numeric import logistic as L
    from symbolic.layers import Attention, Layer
    A, y, muq = _rows(ctx)
    P = L.Problem(A, y, muq, 128)
    try:
        with pytest.raises(ValueError, match="Approximation.assembly"):
            P._grad_hess(P.zero(), L.Approximation(), None, 0)
        # a logit layer that also adds q_i: the logits the nets were fed are not the network's
        T = Layer("T", (Attention.linear_heads(({("a", "w"): 1}, {("t", "one"): 1}),
                                               ({("q", "one"): 1}, {("t", "one"): 1})),))
        bad = lg.emulation_assembly(muq, _with_layer(lg.build_assembly(), T))
        with pytest.raises(ValueError, match="depend on the per-example letters q, u"):
            P._grad_hess(P.zero(), L.Approximation(assembly=bad), None, 0)
    finally:
        P.close()


# ---------------------------------------------------------------- the emulation reads the inner loop's construction
def _ns_three():
    """The Newton-Schulz step with 3 for its 2: head 1's value 2 X (plus the residual X), X <- 3X - X H' X."""
    from symbolic.layers import Attention, Layer
    return Layer("NS", (Attention.linear_heads(({("I", "I"): 1}, {("X", "X"): 2}),
                                               ({("X", "H"): 1}, {("X", "X"): -1})),))


def _inverses(A, y, muq, inner, k=6, w_steps=2):
    """The emulated X_k (the inner construction's layers on the exact step's Hessian, c = 1/(mu + 1/4)) and the
    exact H^-1 g, X_k g, at a point with non-trivial s_i."""
    from fractions import Fraction

    from numeric import logistic as L
    P = L.Problem(A, y, muq, 128)
    try:
        w = P.zero()
        for _ in range(w_steps):
            w, _ = P.step(w)
        g, H = P._grad_hess(w, None, None, 0)
        ap = L.Approximation(k=k, c=1 / (muq + Fraction(1, 4)), inner=inner)
        log = L.StepLog()
        X = P._network_inverse(H, ap)
        return X, H, H.solve(g), P._inverse_times(H, g, ap, log, 0), log
    finally:
        P.close()


def test_the_emulation_reads_its_inverse_out_of_the_inner_construction(ctx, monkeypatch):
    A, y, muq = _rows(ctx)
    d_ = len(A[0])
    # the construction as built: X_6 is H^-1 to the inner loop's residual, and X_6 g is H^-1 g to it
    X, H, v0, v1, log = _inverses(A, y, muq, lg.emulation_inner())
    res = float(log.residuals[0].upper())
    assert res < 1e-8
    for r in range(d_):
        assert float(abs(v1[r, 0] - v0[r, 0]).upper()) < 1e-8
        for c in range(d_):
            assert float(X[r, c].rad()) < 1e-30
    # the step's 2 changed to 3 (X <- 3X - X H' X): the emulated inverse and H^-1 g move, the residual is large
    monkeypatch.setattr(lg, "NS", _ns_three())
    X2, _, _, v2, log2 = _inverses(A, y, muq, lg.emulation_inner())
    assert float(log2.residuals[0].lower()) > 0.5
    assert any(not (v2[r, 0] - v0[r, 0]).contains(0) and float(abs(v2[r, 0] - v0[r, 0]).lower()) > 1e-2
               for r in range(d_))


def test_a_wrong_inner_weight_refutes_the_per_iteration_error(ctx, monkeypatch):
    run = Run(lg.THEOREM, ctx)
    monkeypatch.setattr(lg, "NS", _ns_three())
    _assert_end_to_end_refuted(run)


def test_the_emulation_needs_the_inner_construction_and_its_hessian_block(ctx):
    import dataclasses as dc

    from numeric import logistic as L
    A, y, muq = _rows(ctx)
    P = L.Problem(A, y, muq, 128)
    try:
        _, H = P._grad_hess(P.zero(), None, None, 0)
        with pytest.raises(ValueError, match="Approximation.inner"):
            P._inverse_times(H, P.zero(), L.Approximation(k=2, c=muq), None, 0)
        wrong = dc.replace(lg.emulation_inner(), hessian=("col", "X"))
        with pytest.raises(ValueError, match="do not hold the columns of H in block X"):
            P._network_inverse(H, L.Approximation(k=2, c=muq, inner=wrong))
    finally:
        P.close()
