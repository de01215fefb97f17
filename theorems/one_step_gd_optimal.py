r"""Mahankali, Hashimoto & Ma: one step of gradient descent is the optimal
in-context learner with one layer of linear self-attention.

Arvind Mahankali, Tatsunori B. Hashimoto, Tengyu Ma.  *One Step of Gradient
Descent is Provably the Optimal In-Context Learner with One Layer of Linear
Self-Attention.*  ICLR 2024, arXiv 2307.03576.

No full text of this paper is stored.  The claims below are OUR
RECONSTRUCTION (from reviews of the paper and the GD-family notes): the
one-layer LSA f(E) = E + W^PV E (E' W^KQ E)/n over all n + 1 columns, read out
as +[f(E)]_{d+1,n+1}, with the GD weights W^KQ = eta [[I, 0], [0, 0]],
W^PV = [[0, 0], [0, 1]], computes one GD step from 0; the risk-minimising step
is eta* = n/(n + d + 1 + sigma^2) for w ~ N(0, I), and eta* Sigma^{-1} for
x ~ N(0, Sigma), w ~ N(0, Sigma^{-1}).  Each claim says it is ours.
"""
from __future__ import annotations

import sympy as sp

from numeric.checks import Recursion
from symbolic.layers import (Attention, Bilinear, Construction, Head, Layer, Linear, TokenFormat, TokenKind)
from symbolic.layout import Layout, d
from theorems.base import Claim, Theorem, Variant
from theorems.gd_support import step_size
from theorems.kinds import Induction, LayerCount, Width, network_claims

eta = sp.Symbol("eta", positive=True)
n = sp.Symbol("n", positive=True, integer=True)
RECON = "reconstruction (no full text stored)"

LAYOUT = Layout.of(("x", d, "x_i (rows 1..d of E)"), ("y", 1, "y_i (row d+1 of E); the read-out"))
TOKENS = TokenFormat((TokenKind("ctx", (("x", "x"), ("y", "y"))),
                      TokenKind("test", (("x", "x_test"),), per_example=False)),
                     "E = [[x_1 .. x_n x_q], [y_1 .. y_n 0]]")


def build(keys=None, name="one-step-gd"):
    """f(E) = E + W^PV E (E'W^KQ E)/n: the score of key j and query t is e_j' W^KQ e_t."""
    W_KQ = Linear.of({("x", "x"): eta})
    W_PV = Linear.of({("y", "y"): 1})
    layer = Layer("LSA", (Attention((Head(Bilinear.key_query(W_KQ), W_PV),), activation="linear", normalizer="n",
                                    keys=keys),), RECON, "one GD step from 0 with step eta, read out as +y_q")
    return Construction(name, LAYOUT, TOKENS, (layer,), (), (), ("test", "y"), (eta, n))


def variant_claims(name, con, alg):
    xt, z, yt = alg.x["t"], alg.z, alg.const(alg.y["t"])
    w1 = lambda: alg.b.scale(eta / n)

    def invariant(w):
        return {"ctx": {"x": xt, "y": yt + xt.T * w}, "test": {"x": z, "y": z.T * w}}

    rec = Recursion(alg, start=w1, step=lambda w, P: w, readout=lambda w: z.T * w, invariant=invariant,
                    carrier=("test", "y", "z", "left", 1), symmetric=False, state=("w", ("d", "1")))
    return [
        Claim("the layer is one GD step from 0", f"{RECON}; CF1 of the GD family",
              r"$\hat y = \langle x_q, w_1\rangle$, $w_1 = \frac{\eta}{n} X^\top y$ (one GD step from 0 on "
              r"$\frac{1}{2n}\|Xw - y\|^2$)", Induction(rec)),
        *network_claims(rec, RECON, "one GD step"),
        Claim("one layer", RECON, "one layer of linear self-attention", LayerCount(sp.Integer(1), equal=True)),
        Claim("hidden width", RECON, r"$d + 1$", Width(d)),
    ]


def theorem_claims():
    from theorems import population_claims
    return population_claims.mahankali_claims()


THEOREM = Theorem(
    id="one_step_gd_optimal",
    title="One step of GD is the optimal one-layer linear self-attention learner (our reconstruction)",
    statement=(r"(Our reconstruction.) One layer of linear self-attention with $W^{KQ} = \eta\,\mathrm{diag}(I, 0)$, "
               r"$W^{PV} = \mathrm{diag}(0, 1)$ predicts one GD step from 0, $\hat y = \frac{\eta}{n} x_q^\top X^\top y$; "
               r"for $x \sim N(0, I)$, $w \sim N(0, I)$ and label noise $\sigma^2$ the risk is minimised at "
               r"$\eta^\star = n/(n + d + 1 + \sigma^2)$, and for $x \sim N(0, \Sigma)$, $w \sim N(0, \Sigma^{-1})$ by "
               r"the preconditioned step $\eta^\star \Sigma^{-1}$."),
    citation=("A. Mahankali, T. B. Hashimoto, T. Ma. One Step of Gradient Descent is Provably the Optimal In-Context "
              "Learner with One Layer of Linear Self-Attention. ICLR 2024 (arXiv 2307.03576). No full text stored: "
              "the checked statements are our reconstruction."),
    source="Mahankali et al., ICLR 2024 (reconstruction)",
    variants=(
        Variant("one-step-gd", "exact", "Our reconstruction: one LSA layer over all n + 1 columns, read out as +y_q.",
                "The query's label is 0, so including it among the keys adds nothing for these weights.",
                build, lambda con, alg: variant_claims("one-step-gd", con, alg)),
        Variant("keys-exclude-query", "ablation", "The same with the query masked out of the keys.",
                "Checks that the mask does not matter for the GD weights.",
                lambda: build(keys=("ctx",), name="keys-exclude-query"),
                lambda con, alg: variant_claims("keys-exclude-query", con, alg)),
    ),
    claims=theorem_claims,
    defaults={"k": 0, "d": 10, "n": 20, "precision": 256, "seed": 0},
    limits={"k": 0, "d": 200, "n": 1000},
    basis=("one-step-gd",),
    parameters=(step_size(eta),),
    step_name="layer",
    recursion_name="one GD step",
    golden={"k": 0, "d": 3, "n": 5, "seed": 0},
    provenance="reconstruction",
    experiments=lambda: experiments(),
    notes=(
        "Provenance: no full text of the paper is stored. The construction and every claim are our "
        "reconstruction (from the paper's reviews and the GD-family notes); the closed forms of eta* are derived "
        "by the engine, not transcribed.",
        "One layer, no iterations: --k is fixed at 0 (the construction has no repeated step).",
    ),
)


# ---------------------------------------------------------------- trained networks (empirical)
def experiments():
    """Mahankali et al.'s setting (a reconstruction: no full text stored): one full LSA layer (every token a
    key, the read-out +y_q) trained on noisy isotropic regression; its implied step against the engine's eta*."""
    import sys

    from numeric.training.data import Distribution
    from theorems import trained_support as ts
    mod = sys.modules[__name__]
    noise_var = 0.5
    dist = Distribution(f"Gaussian: x ~ N(0, I), w ~ N(0, I), label noise sigma^2 = {noise_var} (query included)",
                        noise=noise_var ** 0.5, query_noise=True)
    pre = ts.presets(ci=dict(steps=150, batch=512, lr=3e-3), cpu=dict(steps=2000, batch=2048, lr=2e-3,
                                                                       eval_batch=50000),
                     paper=dict(steps=50000, batch=2048, lr=1e-3),
                     paper_source="no settings are stored for Mahankali et al.; von Oswald et al.'s batch and "
                                  "step count are used")
    return (
        ts.one_step_experiment(mod, "one-step-gd", "implied-step", "one layer: the implied step vs eta*",
                               dist, 4, 10, pre,
                               notes=("eta* = n/(n + d + 1 + sigma^2) is not typed here: it is the engine's "
                                      "minimiser of the population loss of the construction's prediction.",)),
    )
