"""Population-loss claims of the GD family, stated once here and checked by
the kinds of ``theorems.population_kinds`` (exact Gaussian/Wishart moments,
never Monte Carlo).

The prediction whose loss is taken is the construction's own: the readout of
its recursion (the same recursion the network is proved to compute, for every
size, by the theorem's induction claim), written with the symbols of the
expectation engine.
"""
from __future__ import annotations

import sympy as sp

from symbolic import gaussian as g
from symbolic import population as pop
from theorems import population_kinds as pk
from theorems.base import Claim

n_e, d_e = g.NSAMP, g.DIM          # the engine's size symbols
sigma2 = sp.Symbol("sigma2", nonnegative=True)
Sig = g.matrix("Sigma", symmetric=True)
Sig_inv = g.matrix("Sigma_inv", symmetric=True)


def _prediction(theorem_module, variant: str, steps: int = 1, transpose_letters=None):
    """The readout of a variant's recursion after ``steps`` steps from its start, as an ncalg
    polynomial in z, S, b and the weights' letters, with the engine's n."""
    from symbolic.templates import Algebra, Evaluator
    thm = theorem_module.THEOREM
    v = thm.variant(variant)
    alg = Algebra()
    con = v.build()
    rec = next((c for c in v.claims(con, alg) if c.kind == "induction"), None)
    if rec is None:
        raise ValueError(f"variant {variant} of {thm.id} has no induction claim to read its recursion from")
    rec = rec.spec.recursion
    Evaluator(con, alg)
    P = rec.operands()
    state = rec.start()
    for _ in range(steps):
        state = rec.step(state, P)
    pred = rec.readout(state)
    n_ours = next(s for s in con.params if s.name == "n")
    return pred.subs(coeffs={n_ours: n_e})


# ---------------------------------------------------------------- Ahn et al.
def ahn_claims() -> list[Claim]:
    from theorems import preconditioned_gd as mod
    pred = _prediction(mod, "corrected")                        # x_q' A' h, h = X'y / n
    G = g.matrix("G", symmetric=True)                           # G = Gamma^{-1}
    rel = g.InverseRelation(G, Sig, (n_e + 1) / n_e, g.trace(Sig) / n_e, commutes=True)
    return [
        Claim("Theorem 1: the one-layer loss is minimised by A = Gamma^-1", "Theorem 1, eqs. (6)-(7)",
              r"$x \sim N(0, \Sigma)$, $w^\star \sim N(0, I)$: $P_0 = \mathrm{diag}(0, 1)$, "
              r"$Q_0 = -\mathrm{diag}(\Gamma^{-1}, 0)$ with $\Gamma = \frac{n+1}{n}\Sigma + \frac{\mathrm{tr}\Sigma}{n} I$ "
              r"is a global minimiser of the in-context loss (on the sparse family; up to $P \to cP, Q \to Q/c$); the "
              r"minimal loss $\mathrm{tr}\Sigma - \mathrm{tr}(\Sigma^2\Gamma^{-1})$ is our derivation, not stated in the text",
              pk.MatrixMinimiser(pred, "A", G, pop.Prior("Sigma"), (rel,),
                                 value=g.trace(Sig) - g.trace(Sig * Sig * G))),
        Claim("Theorem 3: A_l = a_l Sigma^-1 are critical points (L = 2)", "Theorem 3",
              r"$x \sim N(0, \Sigma)$, $w^\star \sim N(0, \Sigma^{-1})$: "
              r"$\inf_{A \in S} \sum_\ell \|\nabla_{A_\ell} f(A)\|_F^2 = 0$ on $S = \{A_\ell = a_\ell \Sigma^{-1}\}$",
              pk.ReducedCriticalPoints(steps=2, sizes=((5, 20),),
                                       reference=((5, 20, ("0.515", "1.250"), "0.3612"),),
                                       reference_source="from the notes (derived numerically), not the paper's")),
        Claim("Theorem 3: A_l = a_l Sigma^-1 are critical points (L = 3)", "Theorem 3; Section 4.3 (Fig. 2)",
              r"the same for three layers, the setting of the paper's experiment ($d = 5$, $n = 20$)",
              pk.ReducedCriticalPoints(steps=3, sizes=((5, 20),),
                                       reference=((5, 20, ("0.42", "0.69", "1.7"), None),),
                                       reference_source="the paper's Fig. 2: trained values of "
                                                        "Sigma^(1/2) A_l Sigma^(1/2) (printed -0.69, -0.42, -1.71 "
                                                        "for A_0, A_1, A_2), magnitudes, compared as a set")),
    ]


# ---------------------------------------------------------------- Mahankali et al.
def mahankali_claims() -> list[Claim]:
    from theorems import one_step_gd_optimal as mod
    eta = mod.eta
    pred = _prediction(mod, "one-step-gd", steps=0)             # (eta/n) x_q' X'y
    estar = n_e / (n_e + d_e + 1 + sigma2)
    Gam = sp.Symbol("Gamma", commutative=False)
    ab, L = pop.data_alphabet("Gamma")
    pred_pre = (L["z"].T * L["Gamma"].T * L["b"]).scale(1 / n_e)  # the same layer with W^KQ = diag(Gamma, 0)
    recon = "reconstruction (no full text stored)"
    return [
        Claim("the optimal step: eta* = n / (n + d + 1 + sigma^2)", f"{recon}; the GD-family notes, 3c",
              r"$x \sim N(0, I)$, $w \sim N(0, I)$, noise $\sigma^2$: the risk of one GD step is minimised at "
              r"$\eta^\star = n / (n + d + 1 + \sigma^2)$",
              pk.ScalarMinimiser(pred, eta, estar, pop.Prior(noise=sigma2, query_noise=True),
                                 value=sigma2 + d_e * (d_e + 1 + sigma2) / (n_e + d_e + 1 + sigma2),
                                 nonneg=(sigma2,))),
        Claim("the optimal step under w ~ N(0, I/d)", f"{recon}; the GD-family notes, 3c",
              r"$w \sim N(0, I/d)$: $\eta^\star = n / (n + d + 1 + d\sigma^2)$",
              pk.ScalarMinimiser(pred, eta, n_e / (n_e + d_e + 1 + d_e * sigma2),
                                 pop.Prior(noise=sigma2, w_scale=1 / d_e), nonneg=(sigma2,))),
        Claim("non-isotropic: the optimal preconditioner is eta* Sigma^-1", f"{recon}; reviews of the paper",
              r"$x \sim N(0, \Sigma)$, $w \sim N(0, \Sigma^{-1})$: the one-layer risk over $W^{KQ} = "
              r"\mathrm{diag}(\Gamma, 0)$ is minimised at $\Gamma = \eta^\star \Sigma^{-1}$",
              pk.MatrixMinimiser(pred_pre, "Gamma", estar * Sig_inv, pop.Prior("Sigma", "Sigma_inv", noise=sigma2),
                                 nonneg=(sigma2,))),
    ]


# ---------------------------------------------------------------- Gatmiry et al.
NOTES_L1 = ("0.6250", "0.7692", "0.8929", "0.9709", "0.9970")
NOTES_L2 = ("0.5891", "0.7425", "0.8786", "0.9667", "0.9966")


def gatmiry_claims() -> list[Claim]:
    recon = "reconstruction (no full text stored)"
    return [
        Claim("the isotropic loss F_L(a) and its minimiser, L = 1, 2, 3", f"{recon}; the GD-family notes, 4.2",
              r"$A = aI$, $x, w^\star \sim N(0, I)$: $F_L(a) = \mathbb{E}\,\|(I - a\hat S)^L w^\star\|^2$-type loss of "
              r"$L$ tied steps; $a^\star_{L=1} = n/(n + d + 1)$; $a^\star \to 1$ ($A^\star \to \Sigma^{-1}$) as $n$ grows",
              pk.LoopedLossTable(reference=((1, NOTES_L1), (2, NOTES_L2)))),
    ]
