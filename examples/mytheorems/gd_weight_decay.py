r"""A theorem of one's own, checked from outside the package: k linear-attention
layers run k steps of gradient descent with weight decay.

    python -m theorems.check mytheorems.gd_weight_decay          # run from examples/
    python -m theorems.check mytheorems.gd_weight_decay --variant decay-after-update   # refuted, located

Claim.  For ridge-regularised least squares
:math:`R(w) = \frac1{2n}|Xw - y|^2 + \frac\lambda2|w|^2` and
:math:`w_0 = 0`, :math:`w_{t+1} = w_t - \eta(\frac1n(X^\top X w_t - X^\top y) + \lambda w_t)`,
the network below predicts :math:`\langle x_{\mathrm{test}}, w_k\rangle` after k
step layers.  Each token carries ``x``, ``y`` and ``p = <x, w_t>``, the implicit
model's prediction on it; one step layer is

1. an MLP that copies ``p`` into a scratch block ``c``,
2. one linear-attention head over the examples, score :math:`x_t^\top x_j`, value
   :math:`\frac\eta n (y_j - p_j)` into ``p``: one GD step on the data term,
3. an MLP that subtracts :math:`\eta\lambda c` from ``p`` (the decay, read from the
   copy of the *old* prediction) and clears ``c``.

The variant ``decay-after-update`` forgets the copy and decays the updated ``p``,
which is :math:`(1 - \eta\lambda)(w_t - \eta\nabla)`: a different algorithm, which
the checker refutes at the step layer, block ``p``.

This is not in the catalogue: it is a worked example of the declaration API
(``theorems.api``).
"""
from __future__ import annotations

from theorems.api import (MLP, Attention, Bilinear, Claim, Construction, Head, Induction, Layer, LayerCount, Layout,
                          Linear, Recursion, Theorem, TokenFormat, TokenKind, Variant, Width, constant, d, k, n,
                          network_claims, sp, step_size)

eta = sp.Symbol("eta", positive=True)
lam = sp.Symbol("lambda", positive=True)

LAYOUT = Layout.of(("x", d, "x_j"), ("y", 1, "y_j"), ("p", 1, "<x_j, w_t>: the implicit model's prediction"),
                   ("c", 1, "scratch: the previous p"), ("pred", 1, "the read-out"))
TOKENS = TokenFormat((TokenKind("ctx", (("x", "x"), ("y", "y"))),
                      TokenKind("test", (("x", "x_test"),), per_example=False)),
                     "(x_j, y_j, 0, 0, 0) for the n examples, then (x_test, 0, 0, 0, 0)")
CITE = "our construction (examples/mytheorems)"


def gd_head() -> Attention:
    """p_t += (eta/n) sum_j (x_t' x_j) (y_j - p_j) over the examples: one GD step on the data term."""
    W = Linear.of({("x", "x"): 1})
    return Attention((Head(Bilinear.from_maps(W, W), Linear.of({("p", "y"): eta / n, ("p", "p"): -eta / n})),),
                     activation="linear", normalizer="none", keys=("ctx",))


def step_layer(copy: bool = True) -> Layer:
    ops = [gd_head(), MLP.linear(Linear.of({("p", "c" if copy else "p"): -eta * lam, **({("c", "c"): -1} if copy else {})}),
                                 LAYOUT)]
    if copy:
        ops.insert(0, MLP.linear(Linear.of({("c", "p"): 1}), LAYOUT))
    return Layer("GD-wd", tuple(ops), CITE,
                 "copy p, one GD step on the data term, then the decay read from the copy" if copy else
                 "one GD step on the data term, then the decay of the updated p")


READOUT = Layer("R", (MLP.linear(Linear.of({("pred", "p"): 1}), LAYOUT, queries=("test",)),), CITE,
                "y_hat = the query's p")


def build(name="weight-decay", copy=True) -> Construction:
    return Construction(name, LAYOUT, TOKENS, (), (step_layer(copy),), (READOUT,), ("test", "pred"), (eta, lam, n))


def recursion(alg) -> Recursion:
    """w_0 = 0, w_{t+1} = w_t - eta((1/n)(S w_t - b) + lambda w_t); every token holds p = <x, w_t>."""
    xt, z, yt = alg.x["t"], alg.z, alg.const(alg.y["t"])

    def invariant(w):
        return {"ctx": {"x": xt, "y": yt, "p": xt.T * w}, "test": {"x": z, "p": z.T * w}}

    return Recursion(alg, start=alg.zero,
                     step=lambda w, P: w - (eta / n) * (P["S"] * w - P["b"]) - (eta * lam) * w,
                     readout=lambda w: z.T * w, invariant=invariant, carrier=("test", "p", "z", "left", 1),
                     symmetric=False, state=("w", ("d", "1")))


def claims(con, alg) -> list:
    rec = recursion(alg)
    return [
        Claim("k layers = k steps of GD with weight decay, for all k", CITE,
              r"$\hat y = \langle x_{\mathrm{test}}, w_k\rangle$, "
              r"$w_{t+1} = w_t - \eta(\frac1n X^\top(Xw_t - y) + \lambda w_t)$, $w_0 = 0$", Induction(rec)),
        *network_claims(rec, CITE, "GD with weight decay"),
        Claim("k layers and a read-out", CITE, r"$k + 1$ layers", LayerCount(k + 1, equal=True)),
        Claim("hidden width", CITE, r"$d + 4$", Width(d, exact=d + 4, equal=True)),
    ]


THEOREM = Theorem(
    id="gd_weight_decay",
    title="k linear-attention layers run k steps of GD with weight decay (a worked example)",
    statement=(r"$k$ layers of one linear-attention head and two linear MLPs predict "
               r"$\langle x_{\mathrm{test}}, w_k\rangle$, $w_{t+1} = w_t - \eta(\frac1n X^\top(Xw_t - y) + "
               r"\lambda w_t)$, $w_0 = 0$, for every $d$, $n$ and $k$."),
    citation="A worked example of icl-theorems (examples/mytheorems/gd_weight_decay.py): our construction.",
    source="examples/ (our construction)",
    variants=(
        Variant("weight-decay", "exact", "Copy p, one GD step on the data term, decay read from the copy.",
                "The decay must read the prediction of w_t, not the updated one: the scratch block c holds it.",
                build, claims),
        Variant("decay-after-update", "ablation", "Deliberately wrong: the decay reads the updated p.",
                "Without the copy the decay multiplies the new prediction: (1 - eta lambda)(w_t - eta grad), "
                "not GD with weight decay.", lambda: build("decay-after-update", copy=False), claims),
    ),
    claims=lambda: [],
    defaults={"k": 8, "d": 10, "n": 20, "precision": 256, "seed": 0},
    basis=("weight-decay",),
    parameters=(step_size(eta), constant(lam, "1/10", "the weight decay lambda")),
    step_name="GD step with weight decay",
    recursion_name="GD with weight decay",
    golden={"k": 3, "d": 3, "n": 5, "seed": 0},
    provenance="ours",
)
