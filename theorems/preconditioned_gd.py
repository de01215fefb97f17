r"""Ahn, Cheng, Daneshmand & Sra: linear transformers implement preconditioned
gradient descent (Lemma 1), and the in-context loss is minimised by it
(Theorems 1 and 3).

Kwangjun Ahn, Xiang Cheng, Hadi Daneshmand, Suvrit Sra.  *Transformers learn
to implement preconditioned gradient descent for in-context learning.*
NeurIPS 2023, arXiv 2306.00297.  The stored full text (prose, theorem
statements, Table 1) has lost its display equations; the displayed formulas
(the attention (3), the network (4), the sparse family (8), Lemma 1's
recursion (9), Theorem 1's minimiser (6)) are taken from a secondary
restatement transcribed from the paper's own typeset formulas, and agree with
a second one.  Each claim says which equation it checks.

The variants are:

* ``printed``   : the sparse family (8) with untied A_l, against Lemma 1's
  recursion (9) as printed, w_{l+1} = w_l - A_l grad R(w_l).
* ``corrected`` : the same network against w_{l+1} = w_l - A_l' grad R(w_l):
  the score z_j'Q z_t reads A_l transposed.
* ``symmetric`` : Lemma 1 as printed, for symmetric A_l (the setting of
  Theorems 2 and 3).
"""
from __future__ import annotations

import sympy as sp

from symbolic.layers import MatrixLetter
from symbolic.layout import d
from theorems.base import Claim, Theorem, Variant
from theorems.gd_support import matrix_parameter, n_over_trace, pgd_recursion, sparse_construction
from theorems.kinds import Induction, LayerCount, Width, network_claims

n = sp.Symbol("n", positive=True, integer=True)
A = sp.Symbol("A", commutative=False)

CITE_LAYER = "eqs. (3), (4), (8)"
CITE_READ = "Section 2, TF_L(Z_0) = -[Z_L]_{d+1,n+1}"


def build(name: str, symmetric: bool = False):
    return sparse_construction(name, MatrixLetter("A", symmetric=symmetric, untied=True,
                                                  doc="the preconditioner A_l of layer l (untied)"),
                               CITE_LAYER, CITE_READ)


def variant_claims(name: str, con, alg) -> list[Claim]:
    transpose = name == "corrected"
    rec = pgd_recursion(alg, "A", transpose)
    B = r"A_\ell^\top" if transpose else r"A_\ell"
    lemma = Claim("Lemma 1: L layers = L steps of preconditioned GD, for all L", "Lemma 1, eq. (9)",
                  rf"$[Z_\ell]_{{d+1,n+1}} = -\langle x^{{(n+1)}}, w_\ell^{{gd}}\rangle$, $w_0^{{gd}} = 0$, "
                  rf"$w_{{\ell+1}}^{{gd}} = w_\ell^{{gd}} - {B}\,\nabla R_{{w^\star}}(w_\ell^{{gd}})$"
                  + (" (A_l symmetric)" if name == "symmetric" else ""),
                  Induction(rec), root=name == "printed")
    return [
        lemma,
        *network_claims(rec, "Lemma 1"),
        Claim("number of layers", "Section 2, eq. (4)", r"$L$ layers (one per step) and the read-out",
              LayerCount(sp.Symbol("k") + 1, equal=True)),
        Claim("hidden width", "eq. (3)", r"$d + 1$ (plus the read-out)", Width(d)),
    ]


def theorem_claims() -> list[Claim]:
    from theorems import population_claims
    return population_claims.ahn_claims()


STATEMENT = (r"With $P_\ell = \mathrm{diag}(0_{d\times d}, 1)$ and $Q_\ell = -\mathrm{diag}(A_\ell, 0)$ (eq. (8)), "
             r"the $L$-layer linear transformer $Z_{\ell+1} = Z_\ell + \frac1n P_\ell Z_\ell M (Z_\ell^\top Q_\ell Z_\ell)$ "
             r"predicts $\langle x^{(n+1)}, w_L^{gd}\rangle$ where $w^{gd}$ runs preconditioned gradient descent on "
             r"$R_{w^\star}(w) = \frac{1}{2n}\sum_i (w^\top x^{(i)} - y^{(i)})^2$ from 0 (Lemma 1). For "
             r"$x \sim N(0, \Sigma)$, $w^\star \sim N(0, I)$ the one-layer in-context loss is minimised by "
             r"$A = \Gamma^{-1}$, $\Gamma = \frac{n+1}{n}\Sigma + \frac{\mathrm{tr}\Sigma}{n} I$ (Theorem 1); for "
             r"$w^\star \sim N(0, \Sigma^{-1})$ the set $A_\ell = a_\ell \Sigma^{-1}$ essentially contains critical points: "
             r"the infimum of the gradient norm over it is 0, which need not be attained (Theorem 3, footnote 2).")

THEOREM = Theorem(
    id="preconditioned_gd",
    title="Linear transformers implement preconditioned gradient descent, and the loss is minimised by it",
    statement=STATEMENT,
    citation=("K. Ahn, X. Cheng, H. Daneshmand, S. Sra. Transformers learn to implement preconditioned gradient "
              "descent for in-context learning. NeurIPS 2023 (arXiv 2306.00297), Lemma 1, Theorems 1 and 3."),
    source="Ahn et al., NeurIPS 2023, Lemma 1 / Thms 1, 3",
    variants=(
        Variant("printed", "printed", "The sparse family (8), untied A_l, against Lemma 1's recursion as printed.",
                "Transcribed from eqs. (3), (4), (8) and Lemma 1 (9) (displays from the secondary restatement).",
                lambda: build("printed"), lambda con, alg: variant_claims("printed", con, alg)),
        Variant("corrected", "corrected", "The same network against w_{l+1} = w_l - A_l' grad R(w_l).",
                "The score of key j and query t is z_j' Q z_t = -x_j' A x_t = -x_t' A' x_j, so the query's y-entry "
                "moves by -(1/n) x_t' A' X'(y - Xw): the step is preconditioned by A_l', which equals A_l only when "
                "A_l is symmetric. Nothing else changes.",
                lambda: build("corrected"), lambda con, alg: variant_claims("corrected", con, alg)),
        Variant("symmetric", "corrected", "Lemma 1 as printed, for symmetric A_l.",
                "Theorems 2 and 3 use symmetric preconditioners (A_l symmetric, or a_l Sigma^-1); there A_l' = A_l "
                "and the printed recursion holds.",
                lambda: build("symmetric", symmetric=True), lambda con, alg: variant_claims("symmetric", con, alg)),
    ),
    claims=theorem_claims,
    defaults={"k": 6, "d": 10, "n": 20, "precision": 256, "seed": 0},
    basis=("corrected", "symmetric"),
    parameters=(matrix_parameter(A, ("d", "d"), "the preconditioners A_l (one per layer)", untied=True,
                                 scale=n_over_trace, zero_ok=False),),
    step_name="layer (preconditioned GD step)",
    recursion_name="preconditioned gradient descent",
    golden={"k": 3, "d": 3, "n": 5, "seed": 0},
    experiments=lambda: experiments(),
    notes=(
        "Provenance: the stored full text lost its display equations; eqs. (3), (4), (6), (8), (9) are read from a "
        "secondary restatement transcribed from the paper's typeset formulas (stored copy 67589365647), which a "
        "second restatement (66369852203) agrees with. The prose (Lemma 1, Theorems 1 and 3, Table 1) is the paper's.",
        "Keys and values are the n examples (the mask M = diag(I_n, 0)); every column, the query included, is "
        "updated; the query's label starts at 0 (eq. (1)).",
        "Lemma 1 indexes its recursion 'for l = 1, ..., L - 1' with w_0 = 0: read as l = 0, ..., L - 1 (the "
        "L layers take L steps), which is what the network computes.",
        "The numeric checks use generic, non-symmetric A_l (seeded, close to (n / tr X'X) I) so that a transposed "
        "preconditioner is caught; the symmetric variant symmetrises them.",
    ),
)



# ---------------------------------------------------------------- trained networks (empirical)
def experiments():
    """Ahn et al.'s experiments (Section 4; their code, chengxiang/LinearTransformer): the sparse family
    trained on Gaussian data with their non-isotropic Sigma; the learned A_l read back through the
    construction's entries and compared with Theorem 1's Gamma^{-1} and Theorem 3's a_l Sigma^{-1}."""
    import sys

    import torch

    from numeric.training.experiment import Target
    from theorems import trained_support as ts
    mod = sys.modules[__name__]
    rot = ("Ahn et al.'s rotation demonstration-Adam.ipynb (GD-family notes 2.5): AdamW lr 0.1, betas (0.99, 0.9), "
           "lr halved every 4000 steps, batch 20000 regenerated every 100 steps, 100k steps, init std 1e-4")

    def thm1(d, n, Sigma):
        G, spec = ts.gamma_inverse(d, n, Sigma)
        return {"A": [G], "optimum": ts.population_loss_at(spec, d, n, Sigma, G),
                "optimum_label": "the engine's loss at Gamma^-1 (Theorem 1's minimum)", "A_label": "Gamma^-1"}

    def thm3(L):
        def theory(d, n, Sigma):
            res = ts.critical_scalars(L, d, n)
            Si = torch.linalg.inv(torch.as_tensor(Sigma, dtype=torch.float64))
            if res is None:
                return {"A": [Si], "A_label": "Sigma^-1 (scale free)"}
            a, val = res
            # the engine returns the scalars as a set (phi is symmetric in them); the layers' order is not fixed
            return {"A": [x * Si for x in a], "optimum": val, "as_set": True,
                    "A_label": "a_l Sigma^-1 (a_l the engine's optimal scalars, matched to the layers by rank)",
                    "optimum_label": "the engine's phi(a*) (Theorem 3's critical point)",
                    **{f"figure:sorted_scale_{i + 1}": x for i, x in enumerate(a)}}
        return theory

    big = dict(steps=4000, batch=8192, lr=0.1, refresh=4, eval_batch=50000)
    pre1 = ts.presets(ci=dict(steps=100, batch=1024, lr=0.05), cpu=big,
                      paper=dict(steps=100000, batch=20000, lr=0.1, betas=(0.99, 0.9), schedule="halve:4000",
                                 refresh=100, init_std=1e-4), paper_source=rot)
    pre3 = ts.presets(ci=dict(steps=60, batch=1024, lr=0.05), cpu=dict(steps=800, batch=4096, lr=0.05, refresh=4),
                      paper=dict(steps=100000, batch=20000, lr=0.1, betas=(0.99, 0.9), schedule="halve:4000",
                                 refresh=100, init_std=1e-4), paper_source=rot)
    fig2 = "the paper's Fig. 2 (trained, magnitudes of Sigma^1/2 A_l Sigma^1/2, as the notes give them)"
    return (
        ts.preconditioner_experiment(mod, "corrected", "theorem1", "Theorem 1: the learned preconditioner vs "
                                     "Gamma^-1 (one layer, Ahn et al.'s Sigma, w* ~ N(0, I))",
                                     ts.ahn_distribution("identity"), 5, 20, pre1, thm1,
                                     targets=(Target("dist_mod_scale", "<=", 0.05, "learned A within 5% of "
                                                     "Gamma^-1 (relative Frobenius, modulo scale; every seed)"),)),
        ts.preconditioner_experiment(mod, "corrected", "theorem3-L2", "Theorem 3: A_l vs a_l Sigma^-1, two layers "
                                     "(w* ~ N(0, Sigma^-1))", ts.ahn_distribution("inverse"), 5, 20, pre3, thm3(2),
                                     layers=2, as_set=True),
        ts.preconditioner_experiment(mod, "corrected", "theorem3-L3", "Theorem 3: A_l vs a_l Sigma^-1, three layers "
                                     "(w* ~ N(0, Sigma^-1))", ts.ahn_distribution("inverse"), 5, 20, pre3, thm3(3),
                                     layers=3, as_set=True, paper=(("sorted_scale_1", 0.42, fig2), ("sorted_scale_2", 0.69, fig2),
                                                      ("sorted_scale_3", 1.71, fig2))),
    )
