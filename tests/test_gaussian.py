"""Tests for symbolic.gaussian: exact Gaussian expectations for every d and n.

Every identity is checked so that it can fail, and each rule has a negative
test (a wrong covariance, a wrong multiplicity, a wrong formula, an undeclared
relation) showing the comparison does fail."""
import time

import pytest
import sympy as sp

from brute import std_normal_expectation
from symbolic.gaussian import (
    DIM, NSAMP, I, GaussianSpace, InverseRelation, Normaliser, TracePoly,
    gradient, matrix, taylor_coefficient, trace, wishart_trace_moment,
)

n, d = NSAMP, DIM
Sig = matrix("Sigma", symmetric=True)
C = matrix("C", symmetric=True)
B = matrix("B", symmetric=True)
A = matrix("A")
M = matrix("M")
H = matrix("H")


# ----------------------------------------------------------- helpers -----

def gaussian_vec(name, L):
    """x = L z with z ~ N(0, I): a concrete N(0, L L') vector and its z's."""
    dd = L.rows
    z = sp.symbols(f"{name}_0:{dd}")
    return L * sp.Matrix(z), list(z)


L_SIG = sp.Matrix([[1, 0], [1, 2]])      # Sigma = L L'
L_C = sp.Matrix([[2, 0], [-1, 1]])       # C = K K'
SIG2 = L_SIG * L_SIG.T
C2 = L_C * L_C.T
A2 = sp.Matrix([[1, 2], [0, -1]])
M2 = sp.Matrix([[2, -1], [3, 1]])
B2 = sp.Matrix([[1, 2], [2, -3]])


def concrete_samples(nn, L):
    xs, zs = [], []
    for i in range(nn):
        x, z = gaussian_vec(f"s{i}", L)
        xs.append(x)
        zs += z
    S = sp.zeros(L.rows, L.rows)
    for x in xs:
        S += x * x.T
    return S / nn, zs


# --------------------------------------------------- canonical traces ---

def test_trace_canonical_form():
    Bg, Cg = matrix("B"), matrix("C")
    assert trace(A * Bg * Cg) == trace(Bg * Cg * A) == trace(Cg * A * Bg)
    assert trace(A * Bg * Cg) == trace(Cg.T * Bg.T * A.T)       # tr(W) = tr(W')
    assert trace(A) == trace(A.T)
    assert trace(A * Sig) == trace(Sig * A.T)                    # Sigma' = Sigma
    assert trace(I) == d and trace(A * I * Bg) == trace(A * Bg)
    assert trace(3 * I) == 3 * d
    # negatives: these are different functions, and the canonical form keeps them apart
    assert trace(A * Bg * Cg) != trace(A * Cg * Bg)
    assert trace(A * Bg) != trace(A * Bg.T)
    assert trace(A * Sig) != trace(A * C)
    vals = {"A": A2, "B": M2, "C": sp.Matrix([[0, 1], [5, 2]])}
    assert trace(A * Bg * Cg).evaluate(vals) == trace(Cg.T * Bg.T * A.T).evaluate(vals)
    assert trace(A * Bg * Cg).evaluate(vals) != trace(A * Cg * Bg).evaluate(vals)
    assert trace(A * Bg).evaluate(vals) != trace(A * Bg.T).evaluate(vals)


def test_subs_collect_and_symmetric_guard():
    t = sp.Symbol("t")
    A0 = matrix("A0")
    f = trace(A * A)
    g = f.subs({A: A0 + t * H})
    parts = g.collect(t)
    assert parts[0] == trace(A0 * A0)
    assert parts[1] == 2 * trace(A0 * H)
    assert parts[2] == trace(H * H)
    assert parts[1] != trace(A0 * H)                       # negative
    assert trace(A * A.T).subs({A: A0 + H}) == \
        trace(A0 * A0.T) + 2 * trace(A0 * H.T) + trace(H * H.T)
    # Sigma -> I, scalar substitution
    assert (trace(Sig * Sig) * n).subs({Sig: I, n: 3}) == 3 * d
    with pytest.raises(ValueError):
        trace(Sig * A).subs({Sig: A})                      # symmetric letter, non-symmetric value


def test_printing():
    f = (n + 1) / n * trace(A * Sig * A.T * Sig * Sig) - 2 * trace(Sig) ** 2
    s = str(f)
    assert "tr(A Sigma A' Sigma^2)" in s and "tr(Sigma)^2" in s and "(n + 1)/n" in s
    tex = f.latex()
    assert r"\operatorname{tr}(A \Sigma A^{\top} \Sigma^{2})" in tex and r"\frac{n + 1}{n}" in tex
    assert str(TracePoly()) == "0"


# ------------------------------------------------------- Wick / Isserlis --

def test_quadratic_forms():
    G = GaussianSpace()
    x = G.vector("x", Sig)
    assert G.expect(G.quad(x, M, x)) == trace(M * Sig)
    second = G.expect(G.quad(x, M, x) ** 2)
    assert second == trace(M * Sig) ** 2 + trace(M * Sig * M * Sig) + trace(M * Sig * M.T * Sig)
    # negative: the symmetric-M formula is wrong for a general M
    assert second != trace(M * Sig) ** 2 + 2 * trace(M * Sig * M * Sig)
    assert G.expect(G.quad(x, M, x) ** 3) == G.expect(G.quad(x, M, x) ** 3, method="partitions")
    assert G.expect(G.quad(x, M, x) ** 3) != 0


def test_independent_vectors_pair_only_with_themselves():
    G = GaussianSpace()
    x = G.vector("x", Sig)
    w = G.vector("w", C)
    assert G.expect(G.quad(x, M, w)) == 0
    v = G.expect(G.quad(x, M, w) ** 2)
    assert v == trace(M * C * M.T * Sig)
    assert v != trace(M * Sig * M.T * Sig)                 # wrong covariance
    assert G.expect(G.quad(x, M, x) * G.quad(w, M, w)) == trace(M * Sig) * trace(M * C)


def test_expected_SBS():
    G = GaussianSpace()
    S = G.sample_covariance("S", Sig)
    want = (n + 1) / n * trace(M * Sig * B * Sig) + trace(B * Sig) * trace(M * Sig) / n
    for method in ("pairings", "partitions"):
        assert G.expect(G.trace(M * S * B * S), method=method) == want
    assert G.expect(G.trace(S)) == trace(Sig)
    # negative: a wrong multiplicity (n^k instead of n(n-1)...(n-k+1)) breaks it
    wrong = G.expect(G.trace(M * S * B * S), method="partitions", multiplicity=lambda m, k: m ** k)
    assert wrong != want


def test_wishart_moments():
    W = {1: n * d,
         2: n * d * (n + d + 1),
         3: n * d * (n**2 + d**2 + 3*n*d + 3*n + 3*d + 4),
         4: n * d * (n**3 + d**3 + 6*n**2*d + 6*n*d**2 + 6*n**2 + 6*d**2 + 17*n*d + 21*n + 21*d + 20)}
    for k, want in W.items():
        for method in ("entries", "engine"):
            assert sp.expand(wishart_trace_moment(k, method=method) - want) == 0
    assert wishart_trace_moment(4, 2, 2) == 1328
    assert wishart_trace_moment(4, 3, 2) == 3120
    for k in (5, 6):
        assert sp.expand(wishart_trace_moment(k, method="entries") - wishart_trace_moment(k, method="engine")) == 0
    # d = 1: chi-square moments n(n+2)...(n+2k-2)
    for k in range(1, 6):
        assert sp.expand(wishart_trace_moment(k, d=1) - sp.prod([n + 2 * j for j in range(k)])) == 0
    # negative: a wrong constant is detected
    assert sp.expand(wishart_trace_moment(4) - (W[4] - n * d)) != 0


def test_sixth_moment_general_sigma_is_fast_and_consistent():
    G = GaussianSpace()
    S = G.sample_covariance("S", Sig)
    t0 = time.perf_counter()
    e6 = G.expect(G.trace(S ** 6))
    elapsed = time.perf_counter() - t0
    assert elapsed < 5.0, elapsed
    assert len(e6.terms) == 11                              # partitions of 6
    iso = e6.subs({Sig: I})
    assert iso.is_constant()
    assert sp.expand(sp.cancel(iso.constant() * n ** 6) - wishart_trace_moment(6)) == 0
    e4 = G.trace(S ** 4)
    assert G.expect(e4) == G.expect(e4, method="partitions")


# ----------------------------------------------------- brute force -------

def test_brute_force_sample_products():
    nn = 3
    Sc, zs = concrete_samples(nn, L_SIG)
    direct = std_normal_expectation((M2 * Sc * B2 * Sc * Sc).trace(), zs)
    G = GaussianSpace()
    S = G.sample_covariance("S", Sig)
    mats = {"Sigma": SIG2, "M": M2, "B": B2}
    eng = G.expect(G.trace(M * S * B * S * S))
    assert eng.evaluate(mats, {n: nn}) == direct
    part = G.expect(G.trace(M * S * B * S * S), method="partitions")
    assert part.evaluate(mats, {n: nn}) == direct
    # negatives: wrong multiplicity, wrong covariance
    wrong = G.expect(G.trace(M * S * B * S * S), method="partitions", multiplicity=lambda m, k: m ** k)
    assert wrong.evaluate(mats, {n: nn}) != direct
    assert eng.evaluate({"Sigma": C2, "M": M2, "B": B2}, {n: nn}) != direct


def test_brute_force_population_loss():
    nn = 2
    Sc, zs = concrete_samples(nn, L_SIG)
    wv, zw = gaussian_vec("w", L_C)
    xq, zq = gaussian_vec("q", L_SIG)
    qc = (xq.T * A2.T * Sc * wv)[0] - (xq.T * wv)[0]
    direct = std_normal_expectation(qc ** 2, zs + zw + zq)

    G = GaussianSpace()
    S = G.sample_covariance("S", Sig)
    x_q = G.vector("x_q", Sig)
    w = G.vector("w", C)
    f = G.expect((G.quad(x_q, A.T * S, w) - G.quad(x_q, I, w)) ** 2)
    mats = {"Sigma": SIG2, "C": C2, "A": A2}
    assert f.evaluate(mats, {n: nn}) == direct
    # negative: a deliberately wrong covariance for w (Sigma instead of C)
    G2 = GaussianSpace()
    S2 = G2.sample_covariance("S", Sig)
    x2 = G2.vector("x_q", Sig)
    w2 = G2.vector("w", Sig)
    f2 = G2.expect((G2.quad(x2, A.T * S2, w2) - G2.quad(x2, I, w2)) ** 2)
    assert f2.evaluate(mats, {n: nn}) != direct
    # negative: the engine's answer at the wrong sample count does not match
    assert f.evaluate(mats, {n: 1}) != direct


# ---------------------------------------------- loss, gradient, relation --

def _loss():
    G = GaussianSpace()
    S = G.sample_covariance("S", Sig)
    x_q = G.vector("x_q", Sig)
    w = G.vector("w", I)
    return G.expect((G.quad(x_q, A.T * S, w) - G.quad(x_q, I, w)) ** 2)


def test_population_loss_closed_form():
    f = _loss()
    natural = ((n + 1) / n * trace(A * Sig * A.T * Sig * Sig)
               + trace(Sig) * trace(A * Sig * A.T * Sig) / n
               - 2 * trace(A * Sig * Sig) + trace(Sig))
    assert f == natural
    SigGamma = (n + 1) / n * Sig * Sig + (trace(Sig) / n) * Sig      # Sigma Gamma
    assert f == trace(A * Sig * A.T * SigGamma) - 2 * trace(A * Sig ** 2) + trace(Sig)
    assert f != trace(A * Sig * A.T * Sig * Sig) - 2 * trace(A * Sig ** 2) + trace(Sig)   # n = inf form


def test_gradient_definition():
    Bg = matrix("B")
    assert gradient(trace(A * Bg), A) == Bg.T
    assert gradient(trace(A.T * A), A) == 2 * A
    assert gradient(trace(A) ** 2, A) == 2 * trace(A) * I
    f = _loss() + trace(A * A * Bg) * trace(A.T * Sig)
    g = gradient(f, A)
    d1 = taylor_coefficient(f, A, H, 1)
    assert d1 == trace(g.T * H)
    assert d1 != trace(g * H)                                  # negative: transpose matters
    with pytest.raises(ValueError):
        gradient(trace(Sig * A), Sig)


def test_gradient_vanishes_at_inverse_and_second_order_form():
    f = _loss()
    Gm = matrix("G", symmetric=True)
    rel = InverseRelation(Gm, Sig, (n + 1) / n, trace(Sig) / n, commutes=True)
    N = Normaliser([rel])
    grad_at_G = gradient(f, A).subs({A: Gm})
    assert not grad_at_G.is_zero()                              # not trivially zero
    assert N.is_zero(grad_at_G) is True
    assert N.is_zero(taylor_coefficient(f, A, H, 1).subs({A: Gm})) is True
    q = taylor_coefficient(f, A, H, 2).subs({A: Gm})
    assert q == trace(H * Sig * H.T * ((n + 1) / n * Sig * Sig + (trace(Sig) / n) * Sig))
    assert q != trace(H * Sig * H.T * Sig * Sig)
    # negatives: a wrong b, and a wrong point, are not certified and are refuted
    bad = Normaliser([InverseRelation(Gm, Sig, (n + 1) / n, trace(Sig) / (n + 1), commutes=True)])
    assert bad.is_zero(grad_at_G) is None
    assert bad.decide(grad_at_G) is False
    assert N.is_zero(gradient(f, A).subs({A: Sig})) is None
    assert N.decide(gradient(f, A).subs({A: Sig})) is False


def test_normaliser_refuses_what_it_has_not_shown():
    Gg = matrix("G")                                            # general letter
    plain = Normaliser([InverseRelation(Gg, Sig, 2, 1, commutes=False)])
    comm = Gg * Sig - Sig * Gg
    assert plain.is_zero(comm) is None                          # not declared commuting
    assert plain.decide(comm) is None                           # (and it is in fact true: no refutation)
    assert plain.is_zero(Gg * (2 * Sig + I) - I) is True
    assert plain.is_zero((2 * Sig + I) * Gg.T - I) is True     # transposed relation
    assert plain.is_zero((2 * Sig + I) * Gg - I) is None       # would need commutation
    declared = Normaliser([InverseRelation(Gg, Sig, 2, 1, commutes=True)])
    assert declared.is_zero(comm) is True
    assert declared.is_zero(trace(Gg * Sig) * 2 + trace(Gg) - d) is True
    # a false identity is never claimed, and is refuted with a witness
    assert declared.is_zero(Gg - Sig) is None
    wit = declared.refute(Gg - Sig)
    assert wit is not None and wit["value"] != sp.zeros(3, 3)
    # without any relation nothing is rewritten
    assert Normaliser([]).is_zero(A * Sig - Sig * A) is None
    assert Normaliser([]).decide(A * Sig - Sig * A) is False


def test_frozen_traces_in_relation():
    tau = sp.Symbol("tau")
    Gm = matrix("G", symmetric=True)
    with pytest.raises(ValueError):
        InverseRelation(Gm, Sig, trace(Sig), 1)                  # division by a trace refused
    N = Normaliser([InverseRelation(Gm, Sig, tau, 1, commutes=True)], frozen={tau: trace(Sig)})
    e = trace(Sig) * trace(Gm * Sig) + trace(Gm) - d           # from G (tr(Sigma) Sigma + I) = I
    assert N.is_zero(e) is True
    assert N.is_zero(e + trace(Gm)) is None
    assert N.decide(e + trace(Gm)) is False
    assert e.freeze({tau: trace(Sig)}).thaw({tau: trace(Sig)}) == e


def test_isotropic_one_step():
    eta = sp.Symbol("eta")
    G = GaussianSpace()
    S = G.sample_covariance("S", I)
    x_q = G.vector("x_q", I)
    w = G.vector("w", I)
    v = G.expect((eta * G.quad(x_q, S, w) - G.quad(x_q, I, w)) ** 2)
    assert v.is_constant()
    assert sp.cancel(v.constant() - (d - 2 * eta * d + eta ** 2 * d * (n + d + 1) / n)) == 0
    assert sp.cancel(v.constant() - (d - 2 * eta * d + eta ** 2 * d * (n + d) / n)) != 0
