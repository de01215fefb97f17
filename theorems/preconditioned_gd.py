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
              LayerCount(sp.Symbol("k") + 1)),
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

