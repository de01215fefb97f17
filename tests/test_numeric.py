"""Evaluators agree with each other; certified, convergence and moment checks
can both pass and fail."""
import random
from fractions import Fraction

import pytest
import sympy as sp

from numeric import checks
from numeric.backends import ArbBackend, ExactBackend, MPBackend, NumpyBackend, TorchBackend
from numeric.data import gaussian, small_integers
from numeric.forward import Data, Network
from numeric.recursions import newton
from symbolic import lemmas
from symbolic.templates import Algebra
from theorems import newton_k_plus_8 as fu
from theorems import newton_schulz as ns

ALPHA = fu.alpha


def run_on(be, con, data, k, a):
    net = Network(con, data.d, data.n, be, {ALPHA: a})
    pred, _ = net.run(data, k, keep=False)
    return pred


@pytest.mark.parametrize("variant", ["exact", "corrected"])
def test_all_backends_agree_with_exact(variant):
    con = fu.THEOREM.variant(variant).build()
    data = small_integers(3, 5, random.Random(3))
    a = sp.Rational(1, 50)
    exact = run_on(ExactBackend(), con, data, 3, a)
    exact_q = Fraction(int(exact.p), int(exact.q))
    S = sp.Matrix(data.X).T * sp.Matrix(data.X)
    M = S * a
    for _ in range(3):
        M = 2 * M - M * S * M
    want = (sp.Matrix(data.x_test).T * M * sp.Matrix(data.X).T * sp.Matrix(data.y))[0, 0]
    assert sp.Rational(exact_q.numerator, exact_q.denominator) == want
    arb_be = ArbBackend(128)
    with arb_be.precision(128):
        ball = run_on(arb_be, con, data, 3, a)
        assert ball.contains(arb_be.num(want))
        assert float(ball.rad()) < 1e-25
    mp_be = MPBackend(128)
    with mp_be.precision(128):
        assert abs(float(run_on(mp_be, con, data, 3, a)) - float(want)) < 1e-12
    assert abs(run_on(NumpyBackend(), con, data, 3, a) - float(want)) < 1e-9
    assert abs(float(run_on(TorchBackend("cpu"), con, data, 3, a)) - float(want)) < 1e-9


def test_precision_is_scoped():
    import mpmath
    from flint import ctx
    before_mp, before_arb = mpmath.mp.prec, ctx.prec
    with MPBackend(300).precision(300):
        assert mpmath.mp.prec == 300
    with ArbBackend(300).precision(300):
        assert ctx.prec == 300
    assert mpmath.mp.prec == before_mp and ctx.prec == before_arb


def test_softmax_rows_respect_the_mask():
    import numpy as np
    A = [[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]]
    M = [[1, 1, 0], [0, 0, 0]]
    for be in (NumpyBackend(), TorchBackend("cpu")):
        P = be.softmax_rows(be.matrix(A), M)
        P = np.array([[float(P[i, j]) for j in range(3)] for i in range(2)])
        assert abs(P[0].sum() - 1) < 1e-12 and P[0, 2] == 0 and (P[1] == 0).all()


def SPECTRAL(S):
    return {ALPHA: fu.THEOREM.parameter("alpha").batch("spectral", S, 0)}


def _claim(variant, kind):
    v = fu.THEOREM.variant(variant)
    alg = Algebra()
    con = v.build()
    return con, alg, next(c for c in v.claims(con, alg) if c.kind == kind)


def test_certified_bound_verified_for_working_and_refuted_for_printed():
    data = gaussian(4, 9, seed=2)
    a = sp.Rational(1, 1000)
    con, alg, c = _claim("exact", "certified")
    ok, table = checks.certified(con, c.spec.recursion, data, 5, {ALPHA: a}, 128)
    assert ok.verdict == "verified" and len(table) == 6
    assert all(r["pred_contains_zero"] and r["pred_bound"] < 1e-20 for r in table)
    con, alg, c = _claim("printed", "certified")
    bad, _ = checks.certified(con, c.spec.recursion, data, 2, {ALPHA: a}, 128)
    assert bad.verdict == "refuted" and "certified nonzero" in bad.detail


def test_boundary_alpha_stalls_exactly():
    ex = ExactBackend()
    Ms = newton(ex.matrix([[1]]), ex.num(2), 4, ex)
    assert [M[0, 0] for M in Ms] == [2, 0, 0, 0, 0]
    data = gaussian(5, 12, seed=1)
    from theorems.newton_schulz import value
    o = ns.convergence(data, value("double-spectral", data, 128), 128, policy="double-spectral")
    assert o.verdict == "refuted" and "f(2) = 0 = f(0)" in o.detail
    assert o.data["small"] == ["2", "0", "0", "0", "0", "0"]


def test_convergence_verified_inside_the_range_and_refuted_outside():
    from theorems.newton_schulz import value
    data = gaussian(5, 12, seed=1)
    for policy in ("spectral", "trace", "frobenius"):
        o = ns.convergence(data, value(policy, data, 128), 128, policy=policy, eps_list=(1e-3, 1e-9))
        assert o.verdict == "verified", (policy, o.detail)
        assert all(r["measured"] <= r["bound"] for r in o.data["rows"])
    too_big = 3 * value("spectral", data, 128)   # mu_0 = 3 on the top eigenvector: diverges
    o = ns.convergence(data, too_big, 128, eps_list=(1e-3,))
    assert o.verdict == "refuted" and "outside the convergence range" in o.detail


def test_closed_form_checker_accepts_the_true_formula_and_names_every_wrong_coefficient():
    a, s = ALPHA, sp.Symbol("S")
    from numeric.recursions import newton_step as step
    assert lemmas.closed_form(1, 2 * a * s - a**2 * s**3, a * s, step, s, (a,)).verdict == "verified"
    bad = lemmas.closed_form(1, 2 * a * s - 4 * a**2 * s**3, a * s, step, s, (a,))
    # written as a reader writes it (issue: findings in mathematical notation, not sympy syntax)
    assert bad.verdict == "refuted" and "α²S³: printed −4, derived −1" in bad.detail and "**" not in bad.detail.split(".")[0]
    # two slips in M_2 (alpha^3 -> alpha^6, and a wrong sign): both are named
    m2 = 4 * a * s - 6 * a**2 * s**3 + 4 * a**6 * s**5 + a**4 * s**7
    bad2 = lemmas.closed_form(2, m2, a * s, step, s, (a,))
    named = {t["term"] for t in bad2.data["terms"]}
    assert bad2.verdict == "refuted" and {"S**5*alpha**6", "S**5*alpha**3", "S**7*alpha**4"} <= named
    assert lemmas.closed_form_degree(5, a * s, step, lambda k: (1, 2 ** (k + 1) - 1), s).verdict == "verified"
    assert lemmas.closed_form_degree(5, a * s, step, lambda k: (1, 2 ** k), s).verdict == "refuted"


def test_printed_formula_is_written_once():
    """The LaTeX shown for eqs. (38)-(39) is printed from the very sympy expression that is checked."""
    for c in fu.theorem_claims()[:2]:
        assert c.text == f"$M_{c.spec.k} = {sp.latex(c.spec.printed, order='rev-lex')}$"


def test_alpha_policies_are_ordered_as_their_formulas():
    from theorems.check import make_context
    vals = {p: make_context(fu.THEOREM, alpha=p, d=4, n=9).param_info["alpha"]["value"]
            for p in ("spectral", "trace", "paper", "code")}
    assert vals["trace"] <= vals["code"] <= vals["spectral"]          # tr(S^2) >= ||S^2||_F >= lambda_max^2
    assert abs(vals["paper"] - 2 * vals["spectral"]) < 1e-12 * vals["paper"]


def test_batch_backend_matches_one_prompt_at_a_time():
    import torch
    from numeric.backends import TorchBatchBackend
    con = fu.THEOREM.variant("corrected").build()      # has mov and mul: exercises entry access
    B, d, n, k = 3, 2, 4, 2
    g = torch.Generator().manual_seed(0)
    X, y, z = (torch.randn(B, n, d, generator=g, dtype=torch.float64), torch.randn(B, n, generator=g, dtype=torch.float64),
               torch.randn(B, d, generator=g, dtype=torch.float64))
    batch = Data([[X[:, j, r] for r in range(d)] for j in range(n)], [y[:, j] for j in range(n)],
                 [z[:, r] for r in range(d)])
    a = torch.tensor([0.01, 0.02, 0.03], dtype=torch.float64)
    got = run_on(TorchBatchBackend(B), con, batch, k, a)
    for i in range(B):
        one = Data(X[i].tolist(), y[i].tolist(), z[i].tolist())
        assert abs(float(got[i]) - run_on(NumpyBackend(), con, one, k, float(a[i]))) < 1e-12


@pytest.mark.parametrize("variant, verdict", [("exact", "verified"), ("keys-include-test", "inconclusive")])
def test_float64_batch_check(variant, verdict):
    con, alg, c = _claim(variant, "float64_batch")
    o = checks.float64_batch(con, c.spec.recursion, 4, 9, 4, 16, 0, SPECTRAL)
    assert o.verdict == verdict and o.data["batch"] == 16


def test_preconditioned_gd_with_the_inverse_is_one_step_ols():
    from numeric.recursions import gd, moments
    be = ExactBackend()
    data = small_integers(2, 4, random.Random(1))
    S, b = moments(data.X, data.y, be)
    if S.det() == 0:
        pytest.skip("singular sample")
    w = gd(S, b, be.num(1), 1, be, P=S.inv())[-1]
    assert w == S.solve(b)
    w_plain = gd(S, b, be.num(sp.Rational(1, 100)), 1, be)[-1]
    assert w_plain == b * be.num(sp.Rational(1, 100))


def test_width_check_can_fail():
    from symbolic.layers import Construction, TokenFormat, TokenKind
    from symbolic.layout import Layout, d
    lay = Layout.of(("x", d), ("big", d**2), ("p", 1))
    con = Construction("w", lay, TokenFormat((TokenKind("ex", (("x", "x"),)),)), (), (), (), ("ex", "p"))
    o = lemmas.width(con, d)
    assert o.verdict == "refuted" and "d²" in o.detail


def test_without_torch_the_batch_check_is_skipped_not_crashed(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_torch(name, *a, **k):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("no torch")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    con, alg, c = _claim("exact", "float64_batch")
    o = checks.float64_batch(con, c.spec.recursion, 3, 5, 2, 4, 0, SPECTRAL)
    assert o.verdict == "inconclusive" and "torch is not installed" in o.detail


def test_convergence_when_the_first_iterate_is_already_exact():
    from numeric.forward import Data as D
    o = ns.convergence(D([[2]], [1], [1]), sp.Rational(1, 16), 128)   # S = 4, alpha lambda^2 = 1: M_0 S = 1
    assert o.verdict == "verified" and all(r["measured"] == 0 for r in o.data["rows"])


def test_fast_spectrum_and_min_norm_solution_agree_with_the_eigenvector_path():
    """eigvalsh (python-flint) against mpmath's Jacobi method, and ols_min_norm's solves (full column rank,
    full row rank) against the eigenvector formula, on full-rank, wide, rank-deficient and repeated-eigenvalue
    data; a wrong solve (the transpose's system) would differ."""
    import mpmath

    from numeric.backends import eigh, eigvalsh
    from numeric.checks import ols_min_norm
    from numeric.data import Data, exact_moments, gaussian

    def by_eigenvectors(data, bits):
        S, b = exact_moments(data)
        ev, V = eigh(S.tolist(), bits)
        with mpmath.mp.workprec(bits):
            tol = max(abs(e) for e in ev) * mpmath.mpf(2) ** (-bits // 2)
            w = mpmath.matrix(data.d, 1)
            for e, v in zip(ev, V):
                if e > tol:
                    w += v * ((v.T * mpmath.matrix([[mpmath.mpf(int(x.p)) / int(x.q)] for x in b]))[0, 0] / e)
            return (mpmath.matrix([[mpmath.mpf(x) for x in data.x_test]]) * w)[0, 0]

    cases = [gaussian(4, 9, 1), gaussian(6, 3, 2), gaussian(1, 1, 3),
             Data([[1.0, 2.0, 0.5], [2.0, 4.0, 1.0], [1.0, 2.0, 0.5], [3.0, 6.0, 1.5]], [1.0, 2.0, 1.0, 3.0],
                  [0.3, 0.1, 0.2]),                                   # rank 1 < d, n: the eigenvector path
             Data([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], [1.0, -2.0, 1.5, 0.5], [0.7, 0.2])]  # S = 2I
    bits = 128
    for data in cases:
        S, _ = exact_moments(data)
        fast, slow = eigvalsh(S.tolist(), bits), eigh(S.tolist(), bits)[0]
        with mpmath.mp.workprec(bits):
            top = max(abs(v) for v in slow)
            assert len(fast) == len(slow) and all(abs(a - b) <= top * mpmath.mpf(2) ** (8 - bits)
                                                  for a, b in zip(fast, slow))
            got, rank = ols_min_norm(data, bits)
            want = by_eigenvectors(data, bits)
            assert abs(got - want) <= (abs(want) + 1) * mpmath.mpf(2) ** (16 - bits), (data, got, want)
    assert ols_min_norm(cases[3], bits)[1] == 1 and ols_min_norm(cases[1], bits)[1] == 3
