"""Population losses (symbolic.population) and the claim kinds built on them
(theorems.population_kinds).

Each bridge rule is tested alone, each with a negative test; the end-to-end
loss is compared with a brute-force Gaussian expectation at a concrete small
instance; each kind is shown on the catalogue's concrete claims (Mahankali,
Ahn Theorems 1 and 3, Gatmiry) together with a wrong claim that it refutes or
declines."""
import json

import mpmath
import pytest
import sympy as sp

from symbolic import gaussian as g
from symbolic import population as pop
from symbolic.gaussian import DIM as d, NSAMP as n, trace
from symbolic.ncalg import Poly
from theorems import kinds as K
from theorems import population_kinds as pk
from brute import std_normal_expectation

eta, s2, a = sp.symbols("eta sigma2 a")
Sig = g.matrix("Sigma", symmetric=True)
Si = g.matrix("Sigma_inv", symmetric=True)
SH = (pop.SAMPLE_LETTER, g.SAMPLE)


@pytest.fixture(scope="module")
def letters():
    ab, L = pop.data_alphabet("A", "B", "Gamma", "Sigma_inv", symmetric=["Sigma_inv"])
    return ab, L


# ------------------------------------------------------------- helpers ---

def word_value(word, mats, Shat):
    dd = Shat.rows
    M = sp.eye(dd)
    for name, kd in word:
        X = Shat if kd == g.SAMPLE else mats[name]
        M = M * (X.T if kd == g.GENT else X)
    return M


def noise_terms_value(terms, vecs, mats, Shat):
    total = sp.Integer(0)
    for c, chains, traces in terms:
        v = c
        for ch in chains:
            v *= (vecs[ch.u].T * word_value(ch.word, mats, Shat) * vecs[ch.v])[0, 0]
        for w in traces:
            v *= word_value(w, mats, Shat).trace()
        total += v
    return sp.expand(total)


# -------------------------------------------------------- B1: chains ------

def test_chains_cut_scalar_words(letters):
    ab, L = letters
    z, S, b, A = L["z"], L["S"], L["b"], L["A"]
    ch = pop.prediction_chains((z.T * A.T * b).scale(eta / n))
    assert len(ch) == 1 and ch[0][0] == eta / n
    (u, w, v), = ch[0][1]
    assert {u, v} == {"z", "b"} and len(w) == 1
    # one 1x1 word holding two scalars: z'A b b'S z = (z'A b)(b'S z)
    two = pop.prediction_chains(z.T * A * b * b.T * S * z)
    assert len(two[0][1]) == 2
    # negatives: a foreign vector letter, and a non-scalar prediction, are refused
    ab.vector("q")
    q = Poly.letter("q", ab)
    with pytest.raises(ValueError, match="only z"):
        pop.prediction_chains(z.T * q)
    with pytest.raises(ValueError, match="1x1"):
        pop.prediction_chains(A * b)


# ---------------------------------------------------------- B2: data ------

def test_data_substitution(letters):
    ab, L = letters
    z, S, b = L["z"], L["S"], L["b"]
    got = pop.substitute_data((z.T * b).scale(1 / n), pop.Prior(noise=s2))
    want = pop.ChainPoly.chain("x_q", (SH,), "w") + pop.ChainPoly.chain("x_q", (), "e", 1 / n)
    assert got.terms == want.terms
    # S = n S_hat: z'S b / n^2 -> x_q' S_hat S_hat w (no leftover factor n)
    got2 = pop.substitute_data((z.T * S * b).scale(1 / n ** 2), pop.Prior())
    assert got2.terms == pop.ChainPoly.chain("x_q", (SH, SH), "w").terms
    # negatives: noiseless data has no e-chain; a wrong scaling is not what the rule gives
    assert all("e" not in ch.ends() for k in pop.substitute_data((z.T * b).scale(1 / n), pop.Prior()).terms
               for ch in k)
    assert got.terms != (pop.ChainPoly.chain("x_q", (SH,), "w") + pop.ChainPoly.chain("x_q", (), "e")).terms


# --------------------------------------------------------- B3: noise ------

def _concrete():
    X = sp.Matrix([[1, 2], [0, -1], [3, 1]])                    # n = 3, d = 2
    u, v = sp.Matrix([1, -2]), sp.Matrix([2, 1])
    p, q = sp.Matrix([0, 1]), sp.Matrix([-1, 3])
    A2, B2 = sp.Matrix([[1, 2], [0, -1]]), sp.Matrix([[2, -1], [3, 1]])
    return X, u, v, p, q, A2, B2


def test_noise_rule_pair_alone():
    X, u, v, p, q, A2, B2 = _concrete()
    nn = X.rows
    zs = sp.symbols("z0:3")
    sig = sp.Symbol("s", positive=True)
    eps = sig * sp.Matrix(zs)
    e = X.T * eps                                               # X' eps
    direct = std_normal_expectation((u.T * A2 * e)[0] * (e.T * B2 * v)[0], zs)
    A, B = ("A", g.GEN), ("B", g.GEN)
    cp = pop.ChainPoly.chain("x_q", (A,), "e") * pop.ChainPoly.chain("e", (B,), "w")
    terms = pop.expect_noise(cp, sig ** 2, nn)
    assert len(terms) == 1 and terms[0][1] == [pop.Chain.make("x_q", (A, SH, B), "w")]
    Shat = X.T * X / nn
    val = noise_terms_value(terms, {"x_q": u, "w": v}, {"A": A2, "B": B2}, Shat)
    assert sp.expand(val - direct) == 0
    # negative: the rule without the factor n (sigma^2 u' S_hat v) is wrong
    assert sp.expand(val / nn - direct) != 0
    # odd powers of eps vanish, by the rule and by brute force
    assert pop.expect_noise(pop.ChainPoly.chain("x_q", (A,), "e"), sig ** 2, nn) == []
    assert std_normal_expectation((u.T * A2 * e)[0], zs) == 0


def test_noise_rule_four_and_cycle():
    X, u, v, p, q, A2, B2 = _concrete()
    nn = X.rows
    zs = sp.symbols("z0:3")
    sig = sp.Symbol("s", positive=True)
    e = X.T * (sig * sp.Matrix(zs))
    A = ("A", g.GEN)
    # four e's: (u'A e)(e'v)(p'e)(e'q)  -> three pairings
    cp = (pop.ChainPoly.chain("x_q", (A,), "e") * pop.ChainPoly.chain("e", (), "w")
          * pop.ChainPoly.chain("x_q", (), "e") * pop.ChainPoly.chain("e", (), "w"))
    # use x_q -> u (first and third), w -> v (second and fourth) for a concrete check
    direct = std_normal_expectation((u.T * A2 * e)[0] * (e.T * v)[0] * (u.T * e)[0] * (e.T * v)[0], zs)
    terms = pop.expect_noise(cp, sig ** 2, nn)
    assert len(terms) == 3
    Shat = X.T * X / nn
    assert sp.expand(noise_terms_value(terms, {"x_q": u, "w": v}, {"A": A2}, Shat) - direct) == 0
    # a chain e' A e closed on itself: sigma^2 n tr(A S_hat)
    cyc = pop.expect_noise(pop.ChainPoly.chain("e", (A,), "e"), sig ** 2, nn)
    assert cyc[0][1] == [] and len(cyc[0][2]) == 1
    direct = std_normal_expectation((e.T * A2 * e)[0], zs)
    assert sp.expand(noise_terms_value(cyc, {}, {"A": A2}, Shat) - direct) == 0
    # negative: dropping one of the three pairings breaks the identity
    assert sp.expand(noise_terms_value(terms[:2], {"x_q": u, "w": v}, {"A": A2}, Shat) - direct) != 0


# ------------------------------------------------------ B5: Sigma^{-1} ----

def test_cancel_inverse_rule():
    A = g.matrix("A")
    assert pop.cancel_inverse(trace(Sig * Si * A)) == trace(A)
    assert pop.cancel_inverse(trace(Si * A * Sig)) == trace(A)          # cyclically adjacent
    assert pop.cancel_inverse(trace(Sig * Si)) == d
    assert pop.cancel_inverse(Sig * Si * A * Si * Sig) == A
    # negatives: non-adjacent letters are not cancelled
    assert pop.cancel_inverse(trace(Sig * A * Si * A)) == trace(Sig * A * Si * A)
    assert pop.cancel_inverse(Sig * A * Si) == Sig * A * Si


# -------------------------------------------- B4: the loss, end to end ----

def test_population_loss_brute_force():
    """d = 2, n = 2, Sigma = L L', w* ~ N(0, Sigma^{-1}), label noise sigma^2,
    query noise: the engine's loss at concrete A equals the direct Gaussian expectation."""
    nn, dd = 2, 2
    Lm = sp.Matrix([[1, 0], [1, 2]])
    SigM = Lm * Lm.T
    A2 = sp.Matrix([[1, 2], [0, -1]])
    sig = sp.Symbol("s", positive=True)
    zx = [sp.symbols(f"x{i}_0:{dd}") for i in range(nn)]
    zq, zw, ze = sp.symbols(f"q0:{dd}"), sp.symbols(f"w0:{dd}"), sp.symbols(f"e0:{nn + 1}")
    xs = [Lm * sp.Matrix(z) for z in zx]
    xq = Lm * sp.Matrix(zq)
    w = Lm.T.inv() * sp.Matrix(zw)                               # Cov = (L L')^{-1}
    X = sp.Matrix.vstack(*[x.T for x in xs])
    y = X * w + sig * sp.Matrix(ze[:nn])
    pred = (xq.T * A2.T * X.T * y)[0] / nn
    target = (xq.T * w)[0] + sig * ze[nn]
    allz = [v for z in zx for v in z] + list(zq) + list(zw) + list(ze)
    direct = std_normal_expectation((pred - target) ** 2, allz)

    ab, L = pop.data_alphabet("A")
    P = (L["z"].T * L["A"].T * L["b"]).scale(1 / n)
    prior = pop.Prior("Sigma", "Sigma_inv", noise=sig ** 2, query_noise=True)
    f = pop.population_loss(P, prior)
    val = f.evaluate({"Sigma": SigM, "A": A2}, {n: nn})
    assert sp.expand(val - direct) == 0
    # negatives: the wrong prior on w*, and the wrong n, do not match
    f_I = pop.population_loss(P, pop.Prior("Sigma", "I", noise=sig ** 2, query_noise=True))
    assert sp.expand(f_I.evaluate({"Sigma": SigM, "A": A2}, {n: nn}) - direct) != 0
    assert sp.expand(f.evaluate({"Sigma": SigM, "A": A2}, {n: 3}) - direct) != 0


def test_population_loss_two_steps_brute_force():
    """Two preconditioned GD steps (S appears): d = 2, n = 1, noiseless, w* ~ N(0, I)."""
    dd = 2
    Lm = sp.Matrix([[1, 0], [1, 1]])
    A2, B2 = sp.Matrix([[1, 1], [0, 2]]), sp.Matrix([[0, 1], [1, 1]])
    zx, zq, zw = sp.symbols("x0:2"), sp.symbols("q0:2"), sp.symbols("w0:2")
    x = Lm * sp.Matrix(zx)
    xq, w = Lm * sp.Matrix(zq), sp.Matrix(zw)
    Shat, h = x * x.T, x * (x.T * w)[0]                           # n = 1
    w1 = A2.T * h
    w2 = w1 - B2.T * (Shat * w1 - h)
    direct = std_normal_expectation(((xq.T * w2)[0] - (xq.T * w)[0]) ** 2, list(zx) + list(zq) + list(zw))
    ab, L = pop.data_alphabet("A", "B")
    P = pop.preconditioned_gd_prediction(ab, [L["A"], L["B"]])
    f = pop.population_loss(P, pop.Prior("Sigma"))
    mats = {"Sigma": Lm * Lm.T, "A": A2, "B": B2}
    assert sp.expand(f.evaluate(mats, {n: 1}) - direct) == 0
    # negative: swapping the two preconditioners changes the loss
    assert sp.expand(f.evaluate({**mats, "A": B2, "B": A2}, {n: 1}) - direct) != 0


# -------------------------------------------------------- helpers ---------

def test_calculus_helpers(letters):
    ab, L = letters
    f = pop.population_loss((L["z"].T * L["A"].T * L["b"]).scale(eta / n), pop.Prior("Sigma"))
    G = pop.matrix_gradient(f, "A")
    H = g.matrix("H")
    assert pop.first_order_form(f, "A", H) == trace(G.T * H)
    assert pop.first_order_form(f, "A", H) != trace(G * H)              # negative: transpose matters
    assert pop.degree_in_letter(f, "A") == 2
    assert pop.scalar_derivative(f, eta, 3).is_zero()
    assert not pop.scalar_derivative(f, eta, 2).is_zero()
    assert pop.scalar_derivative(f, eta, 2) == pop.scalar_derivative(pop.scalar_derivative(f, eta), eta)
    q = pop.second_order_form(f, "A", H)
    assert q == eta ** 2 * ((n + 1) / n * trace(H * Sig * H.T * Sig * Sig) + trace(Sig) / n * trace(H * Sig * H.T * Sig))
    assert q != eta ** 2 * trace(H * Sig * H.T * Sig * Sig)                  # negative: the n = infinity form


def test_certify_nonneg():
    assert pop.certify_nonneg((n + d + 1) / n) == "positive"
    assert pop.certify_nonneg((n + d + 1 + s2) / n, nonneg=[s2]) == "positive"
    assert pop.certify_nonneg((n - 1) / n) == "nonneg"                  # 0 at n = 1
    # negatives: a sign change, an unknown symbol, an unbounded symbol
    assert pop.certify_nonneg(n - d) is None
    assert pop.certify_nonneg(eta * n) is None
    assert pop.certify_nonneg((n + s2) / n) is None                     # s2 not declared >= 0


def test_psd_rule():
    H = g.matrix("H")
    q = (n + 1) / n * trace(H * Sig * H.T * Sig * Sig) + trace(Sig) / n * trace(H * Sig * H.T * Sig)
    r = pop.psd_form(q)
    assert r.status == "positive definite"
    # soundness spot check: the form is > 0 at a concrete H
    vals = {"H": sp.Matrix([[1, -2], [0, 3]]), "Sigma": sp.Matrix([[2, 1], [1, 1]])}
    assert q.evaluate(vals, {n: 2}) > 0
    assert pop.psd_form(trace(H * Sig) ** 2).status == "psd"
    # negatives: H H (no transpose) is indefinite; a negative coefficient; a cross product of traces;
    # a factor that is not a power of Sigma
    assert pop.psd_form(trace(H * Sig * H * Sig)).status == "undecided"
    assert pop.psd_form(-trace(H * H.T)).status == "undecided"
    assert pop.psd_form(trace(H * Sig) * trace(H * Sig * Sig)).status == "undecided"
    assert pop.psd_form(trace(g.matrix("B")) * trace(H * H.T)).status == "undecided"
    assert pop.psd_form(g.TracePoly()).status == "undecided"
    Hs = g.matrix("H", symmetric=True)
    assert pop.psd_form(trace(Hs * Sig * Hs)).status == "positive definite"


# ================================================== kinds: registration ===

def test_kinds_registered_with_theorem_scope():
    for spec in (pk.MatrixMinimiser, pk.ScalarMinimiser, pk.ReducedCriticalPoints, pk.LoopedLossTable):
        k = K.KINDS[spec]
        assert k.scope == "theorem" and k.name == spec.kind and spec.__doc__


# ============================================== Mahankali (reconstruction) =

def _one_step(letters):
    ab, L = letters
    return (L["z"].T * L["b"]).scale(eta / n)


def test_mahankali_isotropic_risk_and_step(letters):
    pred = _one_step(letters)
    f = pop.population_loss(pred, pop.Prior(noise=s2))
    assert f.is_constant()
    assert sp.cancel(f.constant() - (d - 2 * eta * d + eta ** 2 * d * (n + d + 1 + s2) / n)) == 0
    fq = pop.population_loss(pred, pop.Prior(noise=s2, query_noise=True))
    assert sp.cancel(fq.constant() - f.constant() - s2) == 0
    estar = n / (n + d + 1 + s2)
    o = pk.check_scalar_minimiser(pk.ScalarMinimiser(pred, eta, estar, pop.Prior(noise=s2, query_noise=True),
                                                     value=s2 + d * (d + 1 + s2) / (n + d + 1 + s2)))
    assert o.verdict == "verified", o.detail
    json.dumps(o.data)
    # negative: the noiseless step claimed for noisy data is refuted with a concrete size and the true minimiser
    bad = pk.check_scalar_minimiser(pk.ScalarMinimiser(pred, eta, n / (n + d + 1), pop.Prior(noise=s2)))
    assert bad.verdict == "refuted" and "true minimiser" in bad.data["counterexample"]
    assert sp.sympify(bad.data["exact"]["derived minimiser"]) == sp.factor(estar)
    # negative: a wrong minimal risk is refuted
    badv = pk.check_scalar_minimiser(pk.ScalarMinimiser(pred, eta, estar, pop.Prior(noise=s2, query_noise=True),
                                                        value=d * (d + 1 + s2) / (n + d + 1 + s2)))
    assert badv.verdict == "refuted" and badv.where["stage"] == "value"


def test_mahankali_scaled_prior(letters):
    pred = _one_step(letters)
    o = pk.check_scalar_minimiser(pk.ScalarMinimiser(pred, eta, n / (n + d + 1 + d * s2),
                                                     pop.Prior(noise=s2, w_scale=1 / d)))
    assert o.verdict == "verified", o.detail
    bad = pk.check_scalar_minimiser(pk.ScalarMinimiser(pred, eta, n / (n + d + 1 + s2),
                                                       pop.Prior(noise=s2, w_scale=1 / d)))
    assert bad.verdict == "refuted"


def test_mahankali_non_isotropic_preconditioner(letters):
    ab, L = letters
    pred = (L["z"].T * L["Gamma"].T * L["b"]).scale(1 / n)
    prior = pop.Prior("Sigma", "Sigma_inv", noise=s2)
    estar = n / (n + d + 1 + s2)
    o = pk.check_matrix_minimiser(pk.MatrixMinimiser(pred, "Gamma", estar * Si, prior))
    assert o.verdict == "verified", o.detail
    assert o.data["exact"]["psd"] == "positive definite"
    for key in ("polynomial", "minimiser", "exact", "gradient"):
        assert key in o.data
    json.dumps(o.data)
    # negative: the noiseless step size is refuted with an exact instance
    bad = pk.check_matrix_minimiser(pk.MatrixMinimiser(pred, "Gamma", n / (n + d + 1) * Si, prior))
    assert bad.verdict == "refuted" and "counterexample" in bad.data


# =================================================== Ahn et al. Theorem 1 ==

def _gamma_rel(a_coef=(n + 1) / n):
    G = g.matrix("G", symmetric=True)
    return G, g.InverseRelation(G, Sig, a_coef, trace(Sig) / n, commutes=True)


def test_ahn_theorem1(letters):
    ab, L = letters
    pred = (L["z"].T * L["A"].T * L["b"]).scale(1 / n)
    prior = pop.Prior("Sigma")
    f = pop.population_loss(pred, prior)
    A = g.matrix("A")
    # the notes' printed f(A) (gd_family.md 2.3) is the loss of x_q' A h; ours reads x_q' A' h (A <-> A')
    notes = ((n + 1) / n * trace(A.T * Sig * A * Sig * Sig) + trace(Sig) / n * trace(A.T * Sig * A * Sig)
             - 2 * trace(Sig * A * Sig) + trace(Sig))
    assert f == notes.subs({"A": A.T})
    assert pop.population_loss((L["z"].T * L["A"] * L["b"]).scale(1 / n), prior) == notes
    assert f != notes                                                   # negative: the two differ for general A
    G, rel = _gamma_rel()
    o = pk.check_matrix_minimiser(pk.MatrixMinimiser(pred, "A", G, prior, (rel,),
                                                     value=trace(Sig) - trace(Sig * Sig * G)))
    assert o.verdict == "verified", o.detail
    # negatives: the n = infinity preconditioner, and a wrong minimal loss
    G2, rel2 = _gamma_rel(1)
    bad = pk.check_matrix_minimiser(pk.MatrixMinimiser(pred, "A", G2, prior, (rel2,)))
    assert bad.verdict == "refuted" and bad.where["stage"] == "stationarity"
    badv = pk.check_matrix_minimiser(pk.MatrixMinimiser(pred, "A", G, prior, (rel,), value=trace(Sig)))
    assert badv.verdict == "refuted" and badv.where["stage"] == "value"


def test_matrix_minimiser_declines_what_it_cannot_show(letters):
    ab, L = letters
    z, b, A = L["z"], L["b"], L["A"]
    G, rel = _gamma_rel()
    prior = pop.Prior("Sigma")
    # only the symmetric part of A enters: stationary at G, but the form has tr(H Sigma H Sigma^2) terms
    pred = (z.T * (A + A.T) * b).scale(1 / (2 * n))
    o = pk.check_matrix_minimiser(pk.MatrixMinimiser(pred, "A", G, prior, (rel,)))
    assert o.verdict == "inconclusive" and o.where["stage"] == "minimality"
    # quartic in A: stationarity does not give minimality
    pred4 = (z.T * A.T * A.T * b).scale(1 / n)
    o4 = pk.check_matrix_minimiser(pk.MatrixMinimiser(pred4, "A", g.MatPoly(), prior))
    assert o4.verdict == "inconclusive" and o4.where["stage"] == "minimality" and "degree 4" in o4.detail


# =================================================== Ahn et al. Theorem 3 ==

def test_reduced_gradient_matches_full_gradient():
    """L = 2: the directional-derivative route equals the gradient of the full loss."""
    phi, grads, av = pk.reduced_gradients(2, pop.Prior("Sigma", "Sigma_inv"))
    ab, L = pop.data_alphabet("A_0", "A_1")
    pred = pop.preconditioned_gd_prediction(ab, [L["A_0"], L["A_1"]])
    prior = pop.Prior("Sigma", "Sigma_inv")
    f = pop.population_loss(pred, prior)
    point = {"A_0": av[0] * Si, "A_1": av[1] * Si}
    assert pop.at_point(f, point, prior) == phi
    for l in range(2):
        assert pop.at_point(pop.matrix_gradient(f, f"A_{l}"), point, prior) == grads[l]
        assert grads[l] == sp.diff(phi.constant(), av[l]) / d * Sig
        assert grads[l] != sp.diff(phi.constant(), av[l]) * Sig               # negative


def test_ahn_theorem3_two_layers():
    spec = pk.ReducedCriticalPoints(steps=2, sizes=((5, 20),),
                                    reference=((5, 20, ("0.515", "1.250"), "0.3612"),),
                                    reference_source="from the notes, derived, not the paper's")
    o = pk.check_reduced_critical_points(spec)
    assert o.verdict == "verified", o.detail
    assert o.data["exact"]["fixed matrix"] == "(1/d)*Sigma"
    row = o.data["table"][0]
    assert row["reference"]["agrees"]
    mins = [mpmath.mpf(x) for x in row["global minimiser (as a set)"]]
    assert abs(mins[0] - mpmath.mpf("0.515370682835992416344884068643")) < 1e-25
    # the complete list: the global minimiser (both orders) and the tied saddle at Gatmiry's looped a*
    types = sorted(p["type"] for p in row["all stationary points"])
    assert types == ["minimum", "minimum", "saddle"]
    saddle = next(p for p in row["all stationary points"] if p["type"] == "saddle")
    F2 = pk.looped_loss(2, a)
    (r, x, val), _ = pk.global_minimiser_1d(sp.expand(F2.subs({d: 5, n: 20})), a)
    assert abs(mpmath.mpf(saddle["point"][0]) - x) < 1e-15 and saddle["point"][0] == saddle["point"][1]
    json.dumps(o.data)
    # negative: a wrong reference value is refuted, naming the size
    bad = pk.check_reduced_critical_points(pk.ReducedCriticalPoints(
        steps=2, sizes=((5, 20),), reference=((5, 20, ("0.600", "1.250"), None),)))
    assert bad.verdict == "refuted" and "d = 5, n = 20" in bad.detail


def test_ahn_theorem3_three_layers():
    o = pk.check_reduced_critical_points(pk.ReducedCriticalPoints(steps=3, sizes=((5, 20),)))
    assert o.verdict == "verified", o.detail
    vals = [float(x) for x in o.data["table"][0]["global minimiser (as a set)"]]
    # the trained values of the paper's Fig. 2 (about 0.42, 0.69, 1.69-1.72) are close to the exact ones
    assert [round(v, 2) for v in vals] == [0.42, 0.69, 1.71]


# ========================================================== Gatmiry et al. ==

NOTES_L2 = ("0.5891", "0.7425", "0.8786", "0.9667", "0.9966")
NOTES_L1 = ("0.6250", "0.7692", "0.8929", "0.9709", "0.9970")


def test_looped_F2_matches_factored_derivative():
    F2 = pk.looped_loss(2, a)
    c3 = n**3 + d**3 + 6*n**2*d + 6*n*d**2 + 6*n**2 + 6*d**2 + 17*n*d + 21*n + 21*d + 20
    c2 = 3*n**3 + 9*d*n**2 + 3*d**2*n + 9*n**2 + 9*d*n + 12*n
    c1 = 3*n**3 + 3*d*n**2 + 3*n**2
    assert sp.cancel(sp.diff(F2, a) - 4 * d / n**3 * (c3 * a**3 - c2 * a**2 + c1 * a - n**3)) == 0
    # negative: the n = infinity coefficients are not it
    assert sp.cancel(sp.diff(F2, a) - 4 * d / n**3 * (n**3 * a**3 - 3 * n**3 * a**2 + 3 * n**3 * a - n**3)) != 0
    # F_1 and the Wishart form E tr (I - a S)^2
    F1 = pk.looped_loss(1, a)
    assert sp.cancel(F1 - (d - 2 * a * d + a**2 * d * (n + d + 1) / n)) == 0


def test_gatmiry_looped_table():
    spec = pk.LoopedLossTable(reference=((2, NOTES_L2), (1, NOTES_L1)))
    o = pk.check_looped_loss_table(spec)
    assert o.verdict == "verified", o.detail
    rows = o.data["table"]
    assert len(rows) == 15 and all(r["agrees"] for r in rows if "reference" in r)
    assert o.data["minimiser"]["L=1"] == str(n / (n + d + 1))
    assert all(t["increasing in n"] and t["lim F_L(1)"] == "0" for t in o.data["exact"]["trend"].values())
    assert "from the notes, derived, not the paper's" in o.assumptions[-1]
    json.dumps(o.data)
    # negative: one wrong reference value refutes, naming the row
    wrong = NOTES_L2[:2] + ("0.8800",) + NOTES_L2[3:]
    bad = pk.check_looped_loss_table(pk.LoopedLossTable(steps=(2,), reference=((2, wrong),), closed_forms=()))
    assert bad.verdict == "refuted" and "row L = 2, n = 50" in bad.detail
    # negative: a wrong closed form for L = 1 is refuted
    badc = pk.check_looped_loss_table(pk.LoopedLossTable(steps=(1,), closed_forms=((1, n / (n + d)),)))
    assert badc.verdict == "refuted" and "closed form" in badc.detail
