r"""Gatmiry, Saunshi, Reddi, Jegelka & Kumar: a looped linear transformer (one
layer, shared weights, applied L times) runs L steps of preconditioned GD, and
its population loss is minimised near A = Sigma^{-1}.

Khashayar Gatmiry, Nikunj Saunshi, Sashank J. Reddi, Stefanie Jegelka, Sanjiv
Kumar.  *Can Looped Transformers Learn to Implement Multi-step Gradient Descent
for In-context Learning?*  ICML 2024 (PMLR 235), arXiv 2410.08292.

No full text of this paper is stored.  Everything below is OUR RECONSTRUCTION
from the abstract and a secondary summary: the looped layer is the sparse
linear-attention family (as in Ahn et al.), P = diag(0, 1), Q = -diag(A, 0),
one A shared by every loop; the isotropic population loss F_L(a) of A = aI is
derived by the engine (not transcribed).  Each claim says so.
"""
from __future__ import annotations

import sympy as sp

from symbolic.layers import MatrixLetter
from symbolic.layout import d
from theorems.base import Claim, Theorem, Variant
from theorems.gd_support import matrix_parameter, n_over_trace, pgd_recursion, sparse_construction
from theorems.kinds import Induction, LayerCount, Width, network_claims

A = sp.Symbol("A", commutative=False)
RECON = "reconstruction (no full text stored)"


def build(name="looped", symmetric=False):
    return sparse_construction(name, MatrixLetter("A", symmetric=symmetric, untied=False,
                                                  doc="the preconditioner A, shared by every loop"),
                               f"{RECON}: Prop. 3.1 as summarised; the layer of Ahn et al. (8)",
                               f"{RECON}: read-out -[Z_L]_{{d+1,n+1}}")


def variant_claims(name, con, alg):
    rec = pgd_recursion(alg, "A", transpose=True)
    return [
        Claim("L loops = L steps of preconditioned GD with one shared A, for all L",
              f"{RECON}: Proposition 3.1",
              r"$\hat y_L = \langle x_q, w_L\rangle$, $w_{t+1} = w_t - A^\top \frac1n X^\top (X w_t - y)$, $w_0 = 0$",
              Induction(rec)),
        *network_claims(rec, RECON),
        Claim("one layer, looped", RECON, r"$L$ applications of one layer, then the read-out",
              LayerCount(sp.Symbol("k") + 1, equal=True)),
        Claim("hidden width", RECON, r"$d + 1$ (plus the read-out)", Width(d)),
    ]


def theorem_claims():
    from theorems import population_claims
    return population_claims.gatmiry_claims()


THEOREM = Theorem(
    id="looped_multistep_pgd",
    title="A looped linear transformer runs multi-step preconditioned GD; its loss is minimised near Sigma^-1",
    statement=(r"(Our reconstruction.) One linear self-attention layer with $P = \mathrm{diag}(0, 1)$, "
               r"$Q = -\mathrm{diag}(A, 0)$, applied $L$ times with the same $A$, predicts "
               r"$\langle x_q, w_L\rangle$ with $w_{t+1} = w_t - A^\top \nabla R(w_t)$; for $x \sim N(0, I)$, "
               r"$w^\star \sim N(0, I)$ the loss of $A = aI$ is a polynomial $F_L(a)$ whose minimiser tends to 1 "
               r"($A^\star \to \Sigma^{-1}$) as $n$ grows."),
    citation=("K. Gatmiry, N. Saunshi, S. J. Reddi, S. Jegelka, S. Kumar. Can Looped Transformers Learn to "
              "Implement Multi-step Gradient Descent for In-context Learning? ICML 2024 (arXiv 2410.08292). "
              "No full text stored: the checked statements are our reconstruction."),
    source="Gatmiry et al., ICML 2024 (reconstruction)",
    variants=(
        Variant("looped", "exact", "Our reconstruction: the sparse layer of Ahn et al. with one shared A, looped.",
                "No full text is stored; the parametrisation (only A in Q and the last row of P trainable, u = 0 at "
                "the optimum) follows the secondary summary; the recursion uses A' (the score reads A transposed).",
                build, lambda con, alg: variant_claims("looped", con, alg)),
        Variant("looped-symmetric", "exact", "The same with a symmetric A.",
                "A symmetric preconditioner (as at the optimum A* ~ Sigma^-1).",
                lambda: build("looped-symmetric", symmetric=True),
                lambda con, alg: variant_claims("looped-symmetric", con, alg)),
    ),
    claims=theorem_claims,
    defaults={"k": 6, "d": 10, "n": 20, "precision": 256, "seed": 0},
    basis=("looped", "looped-symmetric"),
    parameters=(matrix_parameter(A, ("d", "d"), "the shared preconditioner A",
                                 scale=n_over_trace, zero_ok=False),),
    step_name="loop (preconditioned GD step)",
    recursion_name="preconditioned gradient descent",
    golden={"k": 3, "d": 3, "n": 5, "seed": 0},
    provenance="reconstruction",
    experiments=lambda: experiments(),
    notes=(
        "Provenance: no full text of the paper is stored. The statement, the construction and every claim are "
        "our reconstruction from the abstract and a secondary summary; the numbers the notes give for d = 5 "
        "(the minimisers a* of F_L) are derived values from the notes, shown beside ours, not the paper's.",
        "Reported elsewhere (Chen et al., arXiv 2410.11268): the paper's guarantee needs n = exp(Omega(L)) "
        "examples; not checked here.",
    ),
)



# ---------------------------------------------------------------- trained networks (empirical)
def experiments():
    """Gatmiry et al.'s looped model (a reconstruction: no full text stored): one sparse layer applied L = 2
    times, trained on isotropic Gaussian data; its shared A against the exact isotropic minimiser a* I of the
    engine's F_2(a), with extra loops at test time."""
    import sys

    import torch

    from numeric.training.experiment import Target
    from theorems import trained_support as ts
    mod = sys.modules[__name__]
    L = 2

    def theory(d, n, Sigma):
        t = ts.looped_minimiser(d, n, L)
        a, F = t["symbol"], t["F"]
        out = {"A": [t["a_star"] * torch.eye(d, dtype=torch.float64)], "optimum": t["optimum"], "a_star": t["a_star"],
               "A_label": f"a* I, a* = {t['a_star']:.4f} (the engine's F_{L} minimiser)",
               "optimum_label": f"F_{L}(a*), the engine's exact loss", "figure:scale": t["a_star"]}
        # the same a* looped once more: the engine's F_(L+1)(a*) (F_(L+2) takes the engine ~15 s: not computed)
        t3 = ts.looped_minimiser(d, n, L + 1)
        out[f"figure:loss_loops_{L + 1}"] = float(t3["F"].subs(t3["symbol"], t["a_star"]))
        for nn in (10, 20, 50, 200):          # A* Sigma -> I as n grows (Sigma = I: a* -> 1)
            out[f"a_star_n{nn}"] = ts.looped_minimiser(d, nn, L)["a_star"]
        return out

    pre = ts.presets(ci=dict(steps=100, batch=1024, lr=0.03), cpu=dict(steps=2500, batch=4096, lr=0.05, refresh=4,
                                                                        eval_batch=50000),
                     paper=dict(steps=100000, batch=20000, lr=0.1, betas=(0.99, 0.9), schedule="halve:4000",
                                refresh=100, init_std=1e-4),
                     paper_source="no code or settings are stored for Gatmiry et al.; Ahn et al.'s rotation "
                                  "demonstration settings are used for the paper-scale run")
    return (
        ts.preconditioner_experiment(mod, "looped", "looped-L2", "looped, L = 2: the shared A vs the exact isotropic "
                                     "minimiser", ts.GAUSS, 5, 20, pre, theory, layers=L, looped=True,
                                     extra_loops=(L + 1, L + 2),
                                     targets=(Target("dist", "<=", 0.05, "learned A within 5% of a* I (relative "
                                                     "Frobenius; every seed)"),),
                                     notes=("Extra loops at test time reuse the trained A; the theory column is "
                                            "the engine's F_(L+1)(a*) for that same a* (not the (L+1)-loop "
                                            "optimum); for L + 2 loops no theory value is computed.",)),
    )
