"""Giannou et al.'s logistic theorems (logistic_newton): the certified ReLU error bounds and the damped-Newton
emulation alone, against independent float references, and every claim failing when its construction is
broken."""
import dataclasses
import math
import random
from fractions import Fraction as F

import numpy as np
import pytest

from numeric import logistic as L
from numeric.approx import ReluNet, interpolant, sup_error, uniform_knots
from theorems import logistic_newton as lg
from theorems.base import Claim
from theorems.check import make_context, run_claim
from theorems.kinds import Run


def _sig(t):
    return 1 / (1 + math.exp(-t))


def test_the_certified_sup_error_encloses_the_sampled_one():
    net = interpolant(L.dsigma, uniform_knots(F(-6), F(6), 40))
    eb = sup_error(L.dsigma, lambda t: L.dsigma(t) * (1 - 2 * L.sigma(t)), net)
    xs = np.linspace(-6, 6, 20001)
    sampled = max(abs(_sig(x) * (1 - _sig(x)) - float(net(F(x)))) for x in xs)
    assert eb.lower <= sampled * (1 + 1e-9) + 1e-15 and sampled <= eb.upper
    assert eb.upper <= 1.3 * eb.lower                    # decided, not just bounded


def test_a_wrong_net_value_is_caught():
    net = interpolant(L.dsigma, uniform_knots(F(-6), F(6), 40))
    vals = list(net.values)
    vals[17] += F(1, 1000)
    bad = ReluNet(net.knots, tuple(vals))
    eb = sup_error(L.dsigma, lambda t: L.dsigma(t) * (1 - 2 * L.sigma(t)), bad)
    assert eb.lower >= 9e-4


def test_a_ball_through_the_net_encloses_the_relu_sum():
    from flint import arb
    net = interpolant(L.dsigma, uniform_knots(F(-12), F(12), 100))
    rng = random.Random(3)
    for _ in range(200):
        c, r = rng.uniform(-15, 15), rng.choice([0.0, 1e-6, 0.3, 3.0])
        ball = net(arb(c, r))
        for x in (c - r, c, c + r):
            xf = F(x)
            v = net.values[0] + sum(ck * (xf - xk) for xk, ck in net.relu_weights() if xf > xk)
            assert float(ball.lower()) - 1e-12 <= float(v) <= float(ball.upper()) + 1e-12


def _data(n=12, d=3, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X = X / (np.linalg.norm(X, axis=1).max() * 1.01)
    w = rng.standard_normal(d)
    return [[F(v) for v in r] for r in X], [1 if v >= 0 else -1 for v in X @ w]


def test_the_exact_damped_newton_step_matches_a_float_reference():
    A, y = _data()
    mu = F(1, 10)
    P = L.Problem(A, y, mu, 128)
    try:
        w, wf = P.zero(), np.zeros(3)
        An, yn = np.array([[float(v) for v in r] for r in A]), np.array(y, float)
        for _ in range(4):
            w, _ = P.step(w)
            z = An @ wf
            p = 1 / (1 + np.exp(yn * z))                      # sigma(-y z)
            s = 1 / (1 + np.exp(-z)) * (1 - 1 / (1 + np.exp(-z)))
            g = -(An.T @ (yn * p)) / len(yn) + 0.1 * wf
            H = (An.T * s) @ An / len(yn) + 0.1 * np.eye(3)
            v = np.linalg.solve(H, g)
            wf = wf - 2 * math.sqrt(0.1) / (2 * math.sqrt(0.1) + math.sqrt(g @ v)) * v
            assert max(abs(float(w[i, 0].mid()) - wf[i]) for i in range(3)) < 1e-12
    finally:
        P.close()


@pytest.fixture(scope="module")
def ctx():
    return make_context(lg.THEOREM, k=4, d=3, n=10, seed=0, epsilon="1/100")


def test_the_claims_hold_at_a_loose_target(ctx):
    run = Run(lg.THEOREM, ctx)
    assert run_claim(Claim("r", "", "", lg.ReluApprox()), run).verdict == "verified"
    e2e = run_claim(Claim("e", "", "", lg.EndToEnd()), run)
    assert e2e.verdict == "verified" and max(e2e.data["per_iteration_error"]) <= 1e-2
    off = run_claim(Claim("o", "", "", lg.OffAssumption()), run)
    assert off.verdict == "verified" and off.data["scales"][0]["meets eps"]


def test_too_few_inner_steps_or_too_narrow_nets_are_refuted(ctx, monkeypatch):
    run = Run(lg.THEOREM, ctx)
    real = lg.maps_for

    def fewer_steps(muq, delta, bits=128):
        return dataclasses.replace(real(muq, delta, bits), k=0)
    monkeypatch.setattr(lg, "maps_for", fewer_steps)
    e2e = run_claim(Claim("e", "", "", lg.EndToEnd()), run)
    assert e2e.verdict == "refuted" and "certified above the target" in e2e.detail

    def narrow(muq, delta, bits=128):
        m = real(muq, delta, bits)
        return dataclasses.replace(m, s=interpolant(L.dsigma, uniform_knots(F(-1), F(1), 4)))
    monkeypatch.setattr(lg, "maps_for", narrow)
    e2e = run_claim(Claim("e", "", "", lg.EndToEnd()), run)
    assert e2e.verdict == "refuted" and "left a net's range" in e2e.detail


def test_an_off_assumption_claim_fails_when_nothing_breaks(ctx):
    run = Run(lg.THEOREM, ctx)
    o = run_claim(Claim("o", "", "", lg.OffAssumption(scales=(F(1, 2),))), run)
    assert o.verdict == "refuted" and "still meets eps" in o.detail


def test_batched_damped_newton_matches_the_ball_arithmetic_step():
    import torch

    from numeric.training.algorithms import damped_newton_logistic, logistic_loss
    A, y = _data()
    X = torch.tensor([[[float(v) for v in r] for r in A]], dtype=torch.float64)
    yt = torch.tensor([y], dtype=torch.float64)
    its = damped_newton_logistic(X, yt, 0.1, 4)
    P = L.Problem(A, y, F(1, 10), 128)
    try:
        w = P.zero()
        for t in range(1, 5):
            w, _ = P.step(w)
            assert max(abs(float(w[i, 0].mid()) - float(its[t, 0, i])) for i in range(3)) < 1e-12
        f = float(P.loss(w).mid())
    finally:
        P.close()
    assert abs(float(logistic_loss(X, yt, its[4], 0.1)[0]) - f) < 1e-12
    # the loss decreases along damped Newton
    fs = [float(logistic_loss(X, yt, its[t], 0.1)[0]) for t in range(5)]
    assert all(a >= b for a, b in zip(fs, fs[1:]))


def test_the_logistic_depth_study_trains_and_compares_in_the_suite(tmp_path, monkeypatch):
    monkeypatch.setenv("ICL_THEOREMS_CACHE", str(tmp_path))
    from numeric.training.lsa import run_logistic_depth_study
    study = lg.THEOREM.experiments()[0]
    rec = run_logistic_depth_study("logistic_newton", study, "ci", progress=False)
    rows = {f["key"]: f for f in rec["figures"]}
    assert {"f-1", "f-2", "dist-1", "newton-0", "newton-20"} <= set(rows)
    assert abs(rows["newton-0"]["mean"] - math.log(2)) < 1e-12          # f(0) = log 2
    assert rows["newton-20"]["mean"] <= rows["f-1"]["mean"]             # the solution is the optimum of f
    assert rec["empirical"] and len(rec["headlines"]) == 2


# ---------------------------------------------------------------- the Hessian's product s_hat_i a_i (by squares)
MU = F(1, 10)
DELTA = 1e-4 / lg.BUDGET            # the default eps's share


def _square(x):
    return x * x


def _coarse_square(R, m=8):
    net = interpolant(_square, uniform_knots(-R, R, m))
    return net, sup_error(_square, lambda x: 2 * x, net)


def test_the_square_net_is_certified_within_its_target_and_encloses_h2_over_4():
    maps = lg.maps_for(MU, DELTA)
    lo, hi = maps.errors["sq"]
    R = maps.sq.knots[-1]
    assert maps.sq.knots[0] == -R and R == lg.square_range(maps.s) and R - 1 > max(abs(v) for v in maps.s.values)
    assert hi <= 2 * DELTA and maps.prod_bound == (hi + hi) / 4 <= DELTA
    # independent reference: the interpolation error of x^2 with spacing h is exactly h^2/4 (mid-piece)
    h = float(maps.sq.knots[1] - maps.sq.knots[0])
    assert lo <= h * h / 4 * (1 + 1e-9) and h * h / 4 <= hi
    xs = np.linspace(-float(R), float(R), 4001)
    assert max(abs(x * x - float(maps.sq(F(x)))) for x in xs) <= hi


def test_a_coarse_square_net_is_refuted(ctx, monkeypatch):
    run = Run(lg.THEOREM, ctx)
    real = lg.maps_for

    def coarse(muq, delta, bits=128):
        m = real(muq, delta, bits)
        net, eb = _coarse_square(m.sq.knots[-1])
        return dataclasses.replace(m, sq=net, errors={**m.errors, "sq": (eb.lower, eb.upper)})
    monkeypatch.setattr(lg, "maps_for", coarse)
    r = run_claim(Claim("r", "", "", lg.ReluApprox()), run)
    assert r.verdict == "refuted" and "sq(x) = x^2" in r.detail and "prod(s, a)" in r.detail.split(":")[0]
    rows = {row["map"].split(" ")[0]: row for row in r.data["nets"]}
    assert rows["sq(x)"]["certified sup error (upper)"] > rows["sq(x)"]["target"]


def _hessians(sq_net, w_steps=1):
    A, y = _data()
    maps = lg.maps_for(MU, DELTA)
    P = L.Problem(A, y, MU, 128)
    w = P.zero()
    for _ in range(w_steps):                                 # a point with non-trivial s_i
        w, _ = P.step(w)
    asm = lg.emulation_assembly(MU)
    exact_prod = L.Approximation(s=maps.s, assembly=asm)
    polarised = L.Approximation(s=maps.s, prod=L.Polarised(sq_net), assembly=asm)
    _, H0 = P._grad_hess(w, exact_prod, None, 0)
    log = L.StepLog()
    _, H1 = P._grad_hess(w, polarised, log, 0)
    P.close()
    return H0, H1, log, len(A[0])


def test_the_emulated_hessian_is_symmetric_and_within_the_product_bound():
    maps = lg.maps_for(MU, DELTA)
    coarse, eb = _coarse_square(maps.sq.knots[-1])
    for net, bound in ((maps.sq, maps.prod_bound), (coarse, (eb.upper + eb.upper) / 4)):
        H0, H1, log, d = _hessians(net)
        assert not log.out_of_range
        diff = 0.0
        for j in range(d):
            for k in range(d):
                # symmetric: the construction's two heads give H[j, k] and H[k, j] as the same sum rounded in
                # another order, so the balls overlap (the symbolic proof has the true H symmetric), and are tight
                assert H1[j, k].overlaps(H1[k, j]) and float(H1[j, k].rad()) < 1e-30
                # |Delta H_jk| <= (1/2n) sum_i (|du_ij||a_ik| + |a_ij||du_ik|) <= bound, |a| <= 1
                assert float(abs(H1[j, k] - H0[j, k]).upper()) <= bound
                diff = max(diff, float(abs(H1[j, k] - H0[j, k]).lower()))
        if net is coarse:
            assert diff > bound / 100 and diff > 1e-4       # the coarse square is visible, and still in bound


def test_an_argument_outside_the_square_range_is_logged():
    maps = lg.maps_for(MU, DELTA)
    small = interpolant(_square, uniform_knots(F(-1, 2), F(1, 2), 16))
    _, _, log, _ = _hessians(small)
    assert log.out_of_range and {e[1] for e in log.out_of_range} == {"sq"}


def test_the_end_to_end_claim_verifies_at_the_golden_preset_with_the_product():
    ctx = make_context(lg.THEOREM, **lg.THEOREM.golden)
    run = Run(lg.THEOREM, ctx)
    e2e = run_claim(Claim("e", "", "", lg.EndToEnd()), run)
    assert e2e.verdict == "verified" and max(e2e.data["per_iteration_error"]) <= 1e-4 and e2e.data["range left"] == 0
    # the product is on the path: the exact-product emulation gives other errors
    maps = lg.maps_for(MU, DELTA)
    A, y = lg.logistic_data(ctx.data)
    errs = lambda m: [float(e.upper()) for e in lg.emulate(A, y, MU, m, ctx.k, 192)["log"].errors]
    assert errs(maps) != errs(dataclasses.replace(maps, sq=None))


class _NoQuarter(L.Polarised):
    """A wrong product: the polarisation without its /4."""
    def __call__(self, s, a, args=None):
        args = self.arguments(s, a) if args is None else args
        return [self.sq._ball(args[2 * i]) - self.sq._ball(args[2 * i + 1]) for i in range(len(a))]


def test_a_wrong_product_is_refuted_end_to_end(ctx, monkeypatch):
    run = Run(lg.THEOREM, ctx)
    assert run_claim(Claim("e", "", "", lg.EndToEnd()), run).verdict == "verified"
    monkeypatch.setattr(L, "Polarised", _NoQuarter)
    e2e = run_claim(Claim("e", "", "", lg.EndToEnd()), run)
    assert e2e.verdict == "refuted" and e2e.data["per-iteration error (max)"] > 1e-2
