r"""von Oswald et al., Proposition 1: one linear self-attention layer is one
step of gradient descent, on every token; K stacked layers are K steps.

Johannes von Oswald, Eyvind Niklasson, Ettore Randazzo, Joao Sacramento,
Alexander Mordvintsev, Andrey Zhmoginov, Max Vladymyrov.  *Transformers Learn
In-Context by Gradient Descent.*  ICML 2023 (PMLR 202), arXiv 2212.07677.
Transcribed from the stored full text (Section 2, Proposition 1; Appendix A.1,
eqs. (6)-(8); Section 3, "Multiple steps of gradient descent"; Appendix A.10,
eqs. (22)-(23)).

Every weight below is written once, as the paper's factors (W_K, W_Q, W_V, P),
and the products W_K'W_Q and P W_V the layer uses are formed from them.  The
variants are:

* ``printed``   : Prop. 1 with a general W_0 (N_y x N_x), the query initialised
  to (x_test, -W_0 x_test), stacked K times, read out by negation.
* ``zero-init`` : the experiments' setting: W_0 = 0 and the query (x_test, 0).
* ``gd-plus-plus`` : the curvature-corrected layer of App. A.10 (GD++).
* ``keys-include-query`` : ablation: the query token is also a key and value
  (full self-attention), with a general W_0.
* ``keys-include-query-zero-init`` : the same with W_0 = 0, the paper's
  condition for dropping the restriction.
"""
from __future__ import annotations

import sympy as sp

from numeric.checks import Recursion
from numeric.recursions import gd_rows_step
from symbolic.layers import (MLP, Attention, Bilinear, BlockMap, Construction, Head, Layer, Linear, MatrixLetter,
                             TokenFormat, TokenKind, letter)
from symbolic.layout import Layout, d, m
from theorems.base import Claim, Theorem, Variant
from theorems.gd_support import matrix_parameter, step_size
from theorems.kinds import ClosedFormAllK, Induction, LayerCount, LayerMaps, Width, network_claims

eta = sp.Symbol("eta", positive=True)
gamma = sp.Symbol("gamma", positive=True)
n = sp.Symbol("n", positive=True, integer=True)     # the paper's N, the number of context tokens
W0 = letter("W_0")                                  # the initial weights of the implicit linear model (N_y x N_x)
W = letter("W")                                     # GD++'s linear model (N_y x N_x), App. A.10

LAYOUT = Layout.of(("x", d, "x_j (N_x = d)"), ("y", m, "y_j (N_y = m)"),
                   ("pred", m, "the read-out: minus the query's y-entry"))
TOKENS = TokenFormat((TokenKind("ctx", (("x", "x"), ("y", "y"))),
                      TokenKind("test", (("x", "x_test"),), per_example=False)),
                     "e_j = (x_j, y_j) for j = 1..N, then e_{N+1} = (x_test, y_{N+1}) (Section 2)")
LETTERS = (MatrixLetter("W_0", "m", "d", doc="initial weights W_0 of the linear model"),)


# ---------------------------------------------------------------- weights, once
def lsa(W_V: Linear, P: Linear, keys=("ctx",)) -> Attention:
    """Eq. (6): e_j <- e_j + P W_V sum_i e_i (x) e_i W_K' W_Q e_j, one head, no normaliser, no softmax,
    with W_K = W_Q = [[I_x, 0], [0, 0]] (App. A.1).  Keys and values: the N context tokens (Section 2,
    "Full self-attention"); every token, the query included, is updated."""
    W_K = W_Q = Linear.of({("x", "x"): 1})
    return Attention((Head(Bilinear.from_maps(W_Q, W_K), P.compose(W_V)),), activation="linear",
                     normalizer="none", keys=keys)


def prop1_layer(w0, keys=("ctx",)) -> Layer:
    """App. A.1: W_V = [[0, 0], [W_0, -I_y]], P = (eta/N) I."""
    W_V = Linear.of({("y", "x"): w0, ("y", "y"): -1})
    P = Linear.of({("x", "x"): eta / n, ("y", "y"): eta / n})
    return Layer("LSA", (lsa(W_V, P, keys),), "Prop. 1; App. A.1, eqs. (6), (8)",
                 "one step of GD on L(W) = 1/(2N) sum |W x_i - y_i|^2 from W_0, on every token")


QUERY_INIT = Layer("Q", (MLP.linear(Linear.of({("y", "x"): -W0}), LAYOUT, queries=("test",)),),
                   "Section 2, 'Reading out predictions'",
                   "the query's y-entry starts at -W_0 x_test")
READOUT = Layer("R", (MLP.linear(Linear.of({("pred", "y"): -1}), LAYOUT, queries=("test",)),),
                "Section 2, 'Reading out predictions'; Section 3",
                "y_hat = -(the query's y-entry), a final projection")


def build_printed(keys=("ctx",), name="printed") -> Construction:
    return Construction(name, LAYOUT, TOKENS, (QUERY_INIT,), (prop1_layer(W0, keys),), (READOUT,), ("test", "pred"),
                        (eta, n), LETTERS)


def build_zero_init(keys=("ctx",), name="zero-init") -> Construction:
    return Construction(name, LAYOUT, TOKENS, (), (prop1_layer(0, keys),), (READOUT,), ("test", "pred"), (eta, n))


def build_gd_plus_plus() -> Construction:
    """App. A.10: W_V = [[I_x, 0], [W, -I_y]], P = [[-gamma I_x, 0], [0, eta/N]]; query (x_test, 0)."""
    W_V = Linear.of({("x", "x"): 1, ("y", "x"): W, ("y", "y"): -1})
    P = Linear.of({("x", "x"): -gamma, ("y", "y"): eta / n})
    layer = Layer("GD++", (lsa(W_V, P),), "App. A.10, eqs. (22)-(23)",
                  "x_j <- (I - gamma X X') x_j and y_j <- y_j - Delta W x_j, on every token")
    return Construction("gd-plus-plus", LAYOUT, TOKENS, (), (layer,), (), ("test", "y"), (eta, gamma, n),
                        (MatrixLetter("W", "m", "d", doc="the linear model's weights W"),))


# ---------------------------------------------------------------- claims
def delta_W(alg, Wl):
    """Eq. (7): Delta W = -eta grad L(W) = -(eta/N) sum_i (W x_i - y_i) x_i', from the one GD step."""
    C = alg.ab.letter("C", ("m", "d"))
    return gd_rows_step(Wl, alg.S, C, alg.const(eta / n)) - Wl


def prop1_claim(alg, w0_poly) -> Claim:
    from symbolic.templates import Template
    xt, z, yt = alg.x["t"], alg.z, alg.yvec("t")
    dW = delta_W(alg, w0_poly)
    q0 = -(w0_poly * z)
    tin = Template({"ctx": {"x": xt, "y": yt}, "test": {"x": z, "y": q0}})
    tout = Template({"ctx": {"x": xt, "y": yt - dW * xt}, "test": {"x": z, "y": q0 - dW * z}})
    return Claim("Proposition 1: the layer is one GD step on every token", "Prop. 1; App. A.1, eq. (8)",
                 r"$e_j \leftarrow (x_j, y_j) + (0, -\Delta W x_j)$ for $j = 1..N$ and for the query "
                 r"$(x_{\mathrm{test}}, -W_0 x_{\mathrm{test}})$, $\Delta W = -\frac{\eta}{N}\sum_i (W_0 x_i - y_i)x_i^\top$",
                 LayerMaps(("LSA",), tin, tout))


def stacked_recursion(alg, con, w0_poly, w0_name) -> Recursion:
    """K layers: the context tokens hold the residuals y_j - (W_l - W_0) x_j, the query -W_l x_test."""
    xt, z, yt = alg.x["t"], alg.z, alg.yvec("t")

    def invariant(Wl):
        return {"ctx": {"x": xt, "y": yt - (Wl - w0_poly) * xt}, "test": {"x": z, "y": -(Wl * z)}}

    return Recursion(alg, start=lambda: w0_poly, step=lambda Wl, P: gd_rows_step(Wl, P["S"], P["C"], eta / n),
                     readout=lambda Wl: Wl * z, invariant=invariant, carrier=("test", "y", "z", "right", -1),
                     symmetric=False, state=("W_l", ("m", "d")))


def variant_claims(name: str, con: Construction, alg) -> list[Claim]:
    if name == "gd-plus-plus":
        from symbolic.templates import Template
        xt, z, yt = alg.x["t"], alg.z, alg.yvec("t")
        Wp = alg.param("W", ("m", "d"))
        dW = delta_W(alg, Wp)
        tin = Template({"ctx": {"x": xt, "y": yt}, "test": {"x": z}})
        g = alg.const(gamma)
        tout = Template({"ctx": {"x": xt - g * alg.S * xt, "y": yt - dW * xt},
                         "test": {"x": z - g * alg.S * z, "y": -(dW * z)}})
        return [Claim("GD++: inputs transformed by I - gamma X X', targets by one GD step", "App. A.10, eq. (23)",
                      r"$x_j \leftarrow x_j - \gamma X X^\top x_j,\ y_j \leftarrow y_j - \Delta W x_j$ on every token, "
                      r"the query $(x_{\mathrm{test}}, 0)$ included", LayerMaps(("GD++",), tin, tout)),
                Claim("one layer per GD++ step", "App. A.10", r"$K$ steps in $K$ layers", LayerCount(sp.Symbol("k"), equal=True)),
                Claim("hidden width", "our layout (the paper states no width)", r"$N_x + 2N_y$", Width(d))]
    general = name in ("printed", "keys-include-query")
    w0 = alg.param("W_0", ("m", "d")) if general else alg.zero()
    rec = stacked_recursion(alg, con, w0, "W_0")
    claims = [prop1_claim(alg, w0)]
    claims += [
        Claim("K layers = K steps of GD from W_0, for all K", "Section 3, 'Multiple steps'; Prop. 1",
              r"$\hat y = W_K x_{\mathrm{test}}$, $W_{l+1} = W_l - \frac{\eta}{N}\sum_i (W_l x_i - y_i) x_i^\top$, "
              r"$W_0$ " + ("general" if general else "$= 0$"), Induction(rec)),
        *network_claims(rec, "Prop. 1; Section 3", "K GD steps", label_sizes=(2,)),
        Claim("hidden width", "our layout (the paper's tokens are in R^{N_x+N_y}; it states no width)",
              r"$N_x + 2N_y$ (tokens $(x_j, y_j)$ and the read-out)", Width(d)),
    ]
    return claims


def gamma_parameter():
    """GD++'s input step: any gamma > 0 (the lemma holds for every gamma); the default is rational."""
    from theorems.base import Parameter, Policy
    from theorems.gd_support import n_over_trace

    def value(data, bits):
        return n_over_trace(data) / data.n

    return Parameter(gamma, "GD++'s input step gamma (x <- x - gamma X X' x)",
                     {"trace": Policy("1/tr(X'X)", "arbitrary and rational: the GD++ lemma holds for every gamma",
                                      value, lambda S, n: 1 / S.diagonal(dim1=-2, dim2=-1).sum(-1))},
                     "trace", "trace")


K = sp.Symbol("K", nonnegative=True, integer=True)
s_, c_ = sp.Symbol("s", positive=True), sp.Symbol("c")


def closed_form_K(Kv):
    """(CF2): K GD steps from 0, W_K = C (eta/N) sum_{j<K} (I - (eta/N) S)^j, a polynomial in S
    applied to C = Y'X; summed in closed form on each eigenvalue s of S."""
    q = 1 - eta * s_ / n
    return c_ * (1 - q**Kv) / s_


def theorem_claims() -> list[Claim]:
    return [Claim("closed form of K GD steps from 0, for all K",
                  "our derivation ((CF2) of the GD-family notes); Section 3 states no closed form",
                  r"$W_K = \frac{\eta}{N} C \sum_{j=0}^{K-1} (I - \frac{\eta}{N} S)^j,\ C = Y^\top X,\ S = X^\top X$",
                  ClosedFormAllK(closed_form_K, sp.Integer(0), lambda Wv, s: gd_rows_step(Wv, s, c_, eta / n),
                                 s_, K), statement=False)]


STATEMENT = (r"Given a one-head linear self-attention layer and tokens $e_j = (x_j, y_j)$, $j = 1..N$, there are "
             r"$W_K, W_Q, W_V, P$ such that the layer maps every token, the query included, to "
             r"$(x_j, y_j - \Delta W x_j)$ with $\Delta W = -\eta \nabla L(W_0)$, one step of gradient descent on "
             r"$L(W) = \frac{1}{2N}\sum_i \|W x_i - y_i\|^2$; stacked $K$ times, the read-out is $K$ steps of GD.")

THEOREM = Theorem(
    id="gd_one_layer",
    title="One linear self-attention layer is one step of gradient descent (K layers: K steps)",
    statement=STATEMENT,
    citation=("J. von Oswald, E. Niklasson, E. Randazzo, J. Sacramento, A. Mordvintsev, A. Zhmoginov, "
              "M. Vladymyrov. Transformers Learn In-Context by Gradient Descent. ICML 2023 (arXiv 2212.07677), "
              "Proposition 1, App. A.1 and A.10."),
    source="von Oswald et al., ICML 2023, Prop. 1 / App. A.1, A.10",
    variants=(
        Variant("printed", "printed", "Prop. 1 as printed: general W_0, query (x_test, -W_0 x_test), stacked K times.",
                "Transcribed from App. A.1 (W_K = W_Q = [[I_x,0],[0,0]], W_V = [[0,0],[W_0,-I_y]], P = eta/N I) and "
                "Section 2's read-out (negate the query's y-entry).",
                build_printed, lambda con, alg: variant_claims("printed", con, alg)),
        Variant("zero-init", "printed", "The experiments' setting: W_0 = 0, query (x_test, 0).",
                "Section 3: 'our query token by concatenating the test input and a zero vector'; App. A.12: "
                "'initial W_0 = 0'.", build_zero_init, lambda con, alg: variant_claims("zero-init", con, alg)),
        Variant("gd-plus-plus", "printed", "GD++ (App. A.10): the layer also transforms the inputs by I - gamma XX'.",
                "Transcribed from App. A.10: W_V = [[I_x,0],[W,-I_y]], P = [[-gamma I_x,0],[0,eta/N]].",
                build_gd_plus_plus, lambda con, alg: variant_claims("gd-plus-plus", con, alg)),
        Variant("keys-include-query", "ablation",
                "Full self-attention: the query is also a key and value, W_0 general.",
                "Section 2, 'Full self-attention': the construction excludes the query from keys and values; "
                "this ablation includes it.",
                lambda: build_printed(keys=None, name="keys-include-query"),
                lambda con, alg: variant_claims("keys-include-query", con, alg)),
        Variant("keys-include-query-zero-init", "ablation",
                "Full self-attention with W_0 = 0: the paper's condition for dropping the restriction.",
                "Section 2: 'this modification can be dropped, which corresponds to assuming ... W_0 \u2248 0'.",
                lambda: build_zero_init(keys=None, name="keys-include-query-zero-init"),
                lambda con, alg: variant_claims("zero-init", con, alg)),
    ),
    claims=theorem_claims,
    defaults={"k": 8, "d": 10, "n": 20, "precision": 256, "seed": 0},
    basis=("printed", "zero-init", "gd-plus-plus"),
    parameters=(step_size(eta),
                matrix_parameter(W0, ("m", "d"), "the initial weights W_0 (N_y x N_x)"),
                matrix_parameter(W, ("m", "d"), "GD++'s linear model W (N_y x N_x)"),
                gamma_parameter()),
    step_name="GD step (layer)",
    recursion_name="gradient descent",
    golden={"k": 3, "d": 3, "n": 5, "seed": 0},
    experiments=lambda: experiments(),
    notes=(
        "Sizes: the symbolic lemmas hold for general N_x = d and N_y = m (labels are m-vectors, W_0 is m x d); "
        "the exact composition also runs at N_y = 2; the certified and float64 checks run at N_y = 1, the "
        "experiments' n_O = 1.",
        "Keys and values are the N context tokens; every token, the query included, is updated (Section 2, "
        "'Full self-attention'). With the query as a key and a general W_0 (ablation keys-include-query) even one "
        "layer fails. With W_0 = 0 (ablation keys-include-query-zero-init) one layer is exact, as Section 2 says "
        "('this modification can be dropped, which corresponds to assuming ... W_0 \u2248 0'), but stacked layers are "
        "not: after the first layer the query's y-entry is -W_1 x_test, no longer 0, and as a key it adds to every "
        "token; the checks refute K >= 2 with a counterexample. The paper states the remark for Prop. 1 only.",
        "The read-out negates the query's y-entry (Section 2, 'Reading out predictions'); the construction "
        "carries it as a final projection into a block pred, and the query's initial y-entry -W_0 x_test as a "
        "first, token-wise layer.",
        "Stacking: with the same W_0 in every layer the context tokens hold the residuals y_j - (W_l - W_0) x_j, "
        "so layer l + 1 takes the gradient at W_l: K layers are K GD steps from W_0.",
        "Only the products W_K'W_Q and P W_V matter (the 'Uniqueness' bullet); the weights are written as the "
        "paper's factors and multiplied once.",
        "Typos in the text, not checked: the restated Prop. 1 in App. A.1 writes (x_i, y_i) + PVK'q_j for "
        "(x_j, y_j) + PVK'q_j; eq. (22) omits the factor W_Q e_j that eq. (23) uses; and Section 2 says the query "
        "is 'transformed from its initial value W_0 x_test' where 'Reading out predictions' and eq. (8) use "
        "-W_0 x_test (the construction follows the latter).",
        "GD++ (App. A.10) gives no read-out; its variant checks the layer lemma of eq. (23) only, and its output "
        "block is the query's y-entry (-Delta W x_test), not a prediction.",
        "gamma's default (n / tr(X'X), the step-size policy) is arbitrary: the GD++ lemma holds for every gamma.",
    ),
)


# ---------------------------------------------------------------- trained networks (empirical)
def experiments():
    """von Oswald et al.'s single-layer experiment: one LSA layer trained on in-context regression, compared
    with one GD step (the construction at eta*) by the paper's metrics (Section 3, App. A.12)."""
    import sys

    from theorems import trained_support as ts
    from numeric.training.experiment import Target
    mod = sys.modules[__name__]
    pre = ts.presets(ci=dict(steps=150, batch=512, lr=3e-3),
                     cpu=dict(steps=2000, batch=2048, lr=1e-3, eval_batch=50000),
                     paper=dict(steps=50000, batch=2048, lr=1e-3, betas=(0.9, 0.98), schedule="constant",
                                init_std=0.002, loss_scale=0.5, eval_batch=10000),
                     paper_source="von Oswald et al.'s constructed_token_setup.ipynb (GD-family notes 1.8): Adam "
                                  "(0.9, 0.98), lr 1e-3, batch 2048, 50k steps, init 0.002, loss 1/2 MSE; their "
                                  "gradient clipping is not reproduced")
    cos = Target("cosine", ">=", 0.99, "sensitivity cosine with one GD step at eta* >= 0.99 (every seed)")
    gap = Target("gap", "<=", 0.02, "trained loss within 2% of the exact one-layer optimum (every seed)")
    notes_src = "the GD-family notes 1.8 (their Monte Carlo, 200k tasks; not the paper's, which prints no value)"
    return (
        ts.one_step_experiment(mod, "zero-init", "gaussian", "one layer vs one GD step, Gaussian data",
                               ts.GAUSS, 10, 10, pre, targets=(cos, gap),
                               notes=("eta* and the optimum are the engine's: the population loss of the "
                                      "one-step prediction, minimised over eta; by Ahn et al.'s Theorem 1 at "
                                      "Sigma = I it is also the optimum over all one-layer weights.",)),
        *(ts.one_step_experiment(mod, "zero-init", eid, f"one layer vs one GD step, {rng} inputs", dist, 10, 10, pre,
                                 exact=False, targets=(cos,),
                                 paper=(("eta_line", eta, notes_src),
                                        ("loss_gd", 2 * half, f"{notes_src}, 1/2 MSE {half} doubled")),
                                 notes=notes)
          for eid, rng, dist, eta, half, notes in (
              ("uniform-code", "U(-0.5, 0.5)", ts.UNIFORM_CODE, 6.06, 0.206,
               ("eta* is the line search over the evaluation tasks, solved exactly (the one-step prediction is "
                "linear in eta); the Gaussian engine has no uniform-input optimum.",)),
              ("uniform-text", "U(-1, 1)", ts.UNIFORM_TEXT, 1.515, 0.825, ()))),
    )
