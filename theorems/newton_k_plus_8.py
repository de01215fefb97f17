r"""Fu, Chen, Jia & Sharan, Theorem 5.1: k Newton iterations in k+8 layers.

Deqing Fu, Tian-Qi Chen, Robin Jia, Vatsal Sharan.  *Transformers Learn to
Achieve Second-Order Convergence Rates for In-Context Linear Regression.*
NeurIPS 2024, arXiv 2310.17086.  Equation numbers refer to the camera-ready
appendix B (Definition B.1, Lemma B.3, eqs. (18)-(40)).

Every weight below is written once, as named-block data, and read by every
evaluator.  The variants are:

* ``printed``   : the construction exactly as printed.
* ``corrected`` : the printed construction with the one fix that eqs. (21) and
  (28) need (second head's value negated), borrowed primitives kept.
* ``exact-paper-format`` : the paper's token format, every borrowed primitive
  replaced by an exact layer (mov by a positional ReLU head): k+3 layers.
* ``exact``     : y_j in the x-token, no borrowed primitive: k+2 layers.
* ``keys-include-test`` : an ablation settling open question 2 (x_test as an
  attention key during the Newton phase).
"""
from __future__ import annotations

import sympy as sp

from symbolic.layers import (MLP, Attention, BlockMap, Construction, Head, Layer, Mov, Mul,
                             TokenFormat, TokenKind)
from symbolic.layout import Layout, d
from numeric.checks import Recursion
from numeric.recursions import newton_step   # eq. (32): M <- 2M - M S M, written once
from theorems.base import Claim, Theorem, Variant
from theorems.kinds import (Certified, ClosedForm, ClosedFormDegree, Composition, Float64Batch, Induction,
                            LayerCount, LayerMaps, SideBySide, Width)
from theorems.newton_schulz import NewtonConvergence, alpha_parameter

alpha = sp.Symbol("alpha", positive=True)
MOV_SOURCE = "Akyurek et al. (2023), mov; Fu et al. Prop. B.4"
MUL_SOURCE = "Akyurek et al. (2023), mul (GeLU approximation, their Lemma 4); Fu et al. Prop. B.4"
n = sp.Symbol("n", positive=True, integer=True)
half = sp.Rational(1, 2)

# ---------------------------------------------------------------- residual stream
PRINTED_LAYOUT = Layout.of(
    ("Tx", d, "T x_t: the Newton carrier (first block of eqs. (20)-(32))"),
    ("x", d, "x_t (second block)"),
    ("y", 1, "y_j, own coordinate (the y-columns of eq. (33))"),
    ("one", 1, "constant 1, the pad of Lemma B.3"),
    ("Tyx", d, "T y_j x_j, written by mul in eq. (33)"),
    ("w", d, "the sum of Lemma B.3 / eq. (34): T X'y"),
    ("w2", d, "the copy of w into the test column, eq. (35)"),
    ("pred", 1, "<w, x_test>, eq. (35)"),
)
PRINTED_TOKENS = TokenFormat((
    TokenKind("x", (("x", "x"), ("one", "one"))),
    TokenKind("y", (("y", "y"), ("one", "one"))),
    TokenKind("test", (("x", "x_test"), ("one", "one")), per_example=False),
), "x_1, y_1, ..., x_n, y_n, x_test; y in its own coordinate (App. B.2, eq. (33))")

EXACT_LAYOUT = Layout.of(("Tx", d, "T x_t"), ("x", d, "x_t"), ("y", 1, "y_t"), ("pred", 1, "prediction"))
EXACT_TOKENS = TokenFormat((
    TokenKind("xy", (("x", "x"), ("y", "y"))),
    TokenKind("test", (("x", "x_test"),), per_example=False),
), "one token per example holding [x_j; y_j], then x_test")

PAPER_EXACT_LAYOUT = Layout.of(
    ("Tx", d, "T x_t"), ("x", d, "x_t"), ("y", 1, "y_j (y-tokens)"), ("one", 1, "constant 1"),
    ("pos", 1, "position p of the token (1-based)"), ("pos2", 1, "p^2"), ("pred", 1, "prediction"))
PAPER_EXACT_TOKENS = TokenFormat((
    TokenKind("x", (("x", "x"), ("one", "one"), ("pos", "pos"), ("pos2", "pos2"))),
    TokenKind("y", (("y", "y"), ("one", "one"), ("pos", "pos"), ("pos2", "pos2"))),
    TokenKind("test", (("x", "x_test"), ("one", "one"), ("pos", "pos"), ("pos2", "pos2")), per_example=False),
), "x_1, y_1, ..., x_n, y_n, x_test as in App. B.2, each token also holding 1, p and p^2 (its position)")

# ---------------------------------------------------------------- weights, once
def two_heads(score: dict, value: dict, value_sign_2: int) -> tuple[Head, Head]:
    """Heads with scores +s and -s.  With value_sign_2 = -1 they add
    ReLU(s) V - ReLU(-s) V = s V; with +1 (as printed) they add |s| V."""
    kq = BlockMap.of(score)
    pv = BlockMap.of(value)
    return (Head(kq, pv), Head(kq.scaled(-1), pv.scaled(value_sign_2)))


def gram_attention(read: str, value_sign_2: int, keys) -> Attention:
    """Eqs. (21)-(22): Q1'K1 = -Q2'K2 = [[I,O],[O,O]], V_m = n alpha [[I,O],[O,O]]."""
    return Attention(two_heads({(read, read): 1}, {("Tx", read): n * alpha}, value_sign_2), keys=keys)


def newton_layer(value_sign_2: int, keys, layout: Layout) -> Layer:
    """Eqs. (27)-(30): Q_m = Q~_m G, K_m = K~_m J, Q~1'K~1 = I, Q~2'K~2 = -I,
    G = [[O, -n/2 I],[O, O]], V_m = J = [[I,O],[O,O]]; then the MLP h + J h."""
    # W_KQ^m = G' (Q~_m' K~_m) J: query block x, key block Tx, coefficient -n/2 (head 1)
    attn = Attention(two_heads({("x", "Tx"): -n * half}, {("Tx", "Tx"): 1}, value_sign_2), keys=keys)
    mlp = MLP.linear(BlockMap.of({("Tx", "Tx"): 1}), layout)
    return Layer("N", (attn, mlp), "eqs. (27)-(30)",
                 "one Newton iteration: attention (28)-(29), MLP h + Jh (30)")


def printed_like(value_sign_2: int, name: str, newton_keys=("x",)) -> Construction:
    lay = PRINTED_LAYOUT
    init = (
        Layer("I-1", (MLP.linear(BlockMap.of({("Tx", "x"): 1}), lay),), "eq. (20)",
              "mov within each column, x -> [x; x] (a per-token linear map)"),
        Layer("I-2", (gram_attention("Tx", value_sign_2, newton_keys),), "eqs. (21)-(22)",
              "two ReLU heads gather alpha S x_t"),
        Layer("I-3", (MLP.linear(BlockMap.of({("Tx", "x"): -1}), lay),), "eq. (23)",
              "aff: subtract x_t"),
    )
    sum_heads = (Head(BlockMap.of({("one", "one"): 1}), BlockMap.of({("w", "Tyx"): n})),
                 Head(BlockMap.of({("one", "one"): -1}), BlockMap.of({("w", "Tyx"): n})))
    readout = (
        Layer("R-1", (Mov("Tx", "Tx", ("y",), source=MOV_SOURCE),), "eq. (33)", "mov T x_j into the following y-column"),
        Layer("R-2", (Mul("y", "Tx", "Tyx", ("y",), source=MUL_SOURCE),), "eq. (33)", "mul: T y_j x_j in each y-column"),
        Layer("R-3", (Attention(sum_heads, keys=("y",)),), "Lemma B.3, eqs. (19), (34)",
              "sum over the y-columns: Q1 = K1 = Q2 = E, K2 = -K1, V1 = V2 = nI"),
        Layer("R-4", (Mov("w", "w2", ("test",), source=MOV_SOURCE),), "eq. (35)", "mov w into the x_test column"),
        Layer("R-5", (Mul("w2", "x", "pred", ("test",), source=MUL_SOURCE),), "eq. (35)", "mul: <w, x_test>"),
    )
    step = (newton_layer(value_sign_2, newton_keys, lay),)
    return Construction(name, lay, PRINTED_TOKENS, init, step, readout, ("test", "pred"), (alpha, n))


def build_printed() -> Construction:
    return printed_like(+1, "printed")


def build_corrected() -> Construction:
    return printed_like(-1, "corrected")


def build_keys_include_test() -> Construction:
    return printed_like(-1, "keys-include-test", newton_keys=None)


def build_exact() -> Construction:
    lay, keys = EXACT_LAYOUT, ("xy",)
    init = (Layer("E-1", (gram_attention("x", -1, keys),), "eqs. (21)-(22), corrected",
                  "alpha S x_t gathered straight into the empty Tx block (replaces mov, I-2, aff)"),)
    step = (newton_layer(-1, keys, lay),)
    read_heads = two_heads({("x", "Tx"): 1}, {("pred", "y"): n}, -1)
    readout = (Layer("E-R", (Attention(read_heads, keys=keys),), "replaces eqs. (33)-(35)",
                     "pred_t = (1/n) sum_j (x_t' T x_j) n y_j = x_t' T X'y"),)
    return Construction("exact", lay, EXACT_TOKENS, init, step, readout, ("test", "pred"), (alpha, n))


def previous_token_head(src: str, dst: str) -> Head:
    """An exact mov: the score 1 - (p_t - p_j - 1)^2 = -p_t^2 - p_j^2 + 2 p_t p_j + 2 p_t - 2 p_j is 1 for the
    previous token and <= 0 for every other (positions are integers), so ReLU selects exactly that token;
    the value n * (block src) cancels the 1/n normaliser."""
    return Head(BlockMap.of({("pos2", "one"): -1, ("one", "pos2"): -1, ("pos", "pos"): 2, ("pos", "one"): 2,
                             ("one", "pos"): -2}), BlockMap.of({(dst, src): n}))


def build_exact_paper_format() -> Construction:
    lay, keys = PAPER_EXACT_LAYOUT, ("x",)
    init = (Layer("E-1", (gram_attention("x", -1, keys),), "eqs. (21)-(22), corrected",
                  "alpha S x_t gathered straight into the empty Tx block (replaces mov, I-2, aff)"),)
    step = (newton_layer(-1, keys, lay),)
    readout = (
        Layer("P-1", (Attention((previous_token_head("Tx", "Tx"),), keys=("x",), queries=("y",)),),
              "eq. (33) mov, realised exactly", "each y-token receives T x_j from its x-token (positional ReLU head)"),
        Layer("P-2", (Attention(two_heads({("x", "Tx"): 1}, {("pred", "y"): n}, -1), keys=("y",), queries=("test",)),),
              "replaces eqs. (33)-(35): mul, Lemma B.3, mov, mul",
              "pred = (1/n) sum_j (x_test' T x_j) n y_j over the y-tokens = x_test' T X'y"),
    )
    return Construction("exact-paper-format", lay, PAPER_EXACT_TOKENS, init, step, readout, ("test", "pred"),
                        (alpha, n))


# ---------------------------------------------------------------- templates
def invariant(alg, T, lay_kind: str, con: Construction | None = None):
    """Hidden state after the initialisation and after every Newton layer:
    every x-token holds [T x_t; x_t] (eq. (26)); the test token [T x_test; x_test]."""
    xt, z, y = alg.x["t"], alg.z, alg.const(alg.y["t"])
    if lay_kind == "paper-exact":   # the inputs (x, y, 1, positions) stay; Tx is added
        from symbolic.templates import input_template
        base = {k: dict(v) for k, v in input_template(con, alg).kinds.items()}
        base["x"]["Tx"], base["test"]["Tx"] = T * xt, T * z
        return base
    if lay_kind == "printed":
        return {"x": {"Tx": T * xt, "x": xt, "one": alg.const(1)},
                "y": {"y": y, "one": alg.const(1)},
                "test": {"Tx": T * z, "x": z, "one": alg.const(1)}}
    return {"xy": {"Tx": T * xt, "x": xt, "y": y}, "test": {"Tx": T * z, "x": z}}


def printed_layer_claims(alg) -> list[Claim]:
    """Each printed layer's claimed output, as the paper writes it."""
    from symbolic.templates import Template
    S, b, z, xt = alg.S, alg.b, alg.z, alg.x["t"]
    one, y = alg.const(1), alg.const(alg.y["t"])
    T = alg.matrix("T")
    a = alg.const(alpha)

    def st(x_blocks, test_blocks, y_blocks=None):
        return Template({"x": {**x_blocks, "one": one}, "y": {"y": y, "one": one, **(y_blocks or {})},
                         "test": {**test_blocks, "one": one}})

    inp = st({"x": xt}, {"x": z})
    movd = st({"Tx": xt, "x": xt}, {"Tx": z, "x": z})
    gath = st({"Tx": xt + a * S * xt, "x": xt}, {"Tx": z + a * S * z, "x": z})
    h0 = st({"Tx": a * S * xt, "x": xt}, {"Tx": a * S * z, "x": z})
    hT = st({"Tx": T * xt, "x": xt}, {"Tx": T * z, "x": z})
    attn_out = st({"Tx": T * xt - (T * S * T.T * xt).scale(half), "x": xt},
                  {"Tx": T * z - (T * S * T.T * z).scale(half), "x": z})
    nxt = st({"Tx": (2 * T - T * S * T.T) * xt, "x": xt}, {"Tx": (2 * T - T * S * T.T) * z, "x": z})
    r3 = st({"Tx": T * xt, "x": xt, "w": T * b}, {"Tx": T * z, "x": z, "w": T * b},
            {"Tx": T * xt, "Tyx": (T * xt).scale(alg.y["t"]), "w": T * b})
    r5 = st({"Tx": T * xt, "x": xt, "w": T * b},
            {"Tx": T * z, "x": z, "w": T * b, "w2": T * b, "pred": z.T * T * b},
            {"Tx": T * xt, "Tyx": (T * xt).scale(alg.y["t"]), "w": T * b})

    def c(name, layers, tin, tout, cite, text, sym=False):
        return Claim(name, cite, text, LayerMaps(tuple(layers), tin, tout, sym), statement=True)

    return [
        c("layer I-1 (mov)", ["I-1"], inp, movd, "eq. (20)", r"$x_t \mapsto [x_t; x_t]$"),
        c("layer I-2 (attention)", ["I-2"], movd, gath, "eqs. (21)-(22)",
          r"$[x_t; x_t] \mapsto [x_t + \alpha S x_t; x_t]$"),
        c("layer I-3 (aff)", ["I-3"], gath, h0, "eqs. (23)-(24)", r"$[x_t + \alpha S x_t; x_t] \mapsto [\alpha S x_t; x_t] = H^{(0)}$"),
        c("Newton layer, attention", [("N", 0)], hT, attn_out, "eqs. (27)-(29)",
          r"$[T x_t; x_t] \mapsto [(T - \tfrac12 T S T^\top) x_t; x_t]$"),
        c("Newton layer, attention + MLP", ["N"], hT, nxt, "eqs. (27)-(30)",
          r"$[T x_t; x_t] \mapsto [(2T - T S T^\top) x_t; x_t]$"),
        c("readout R-1..R-3 (mov, mul, Lemma B.3)", ["R-1", "R-2", "R-3"], hT, r3, "eqs. (33)-(34), Lemma B.3",
          r"every column receives $\hat{w} = T X^\top y$"),
        c("readout R-4..R-5 (mov, mul)", ["R-4", "R-5"], r3, r5, "eq. (35)",
          r"the $x_{\mathrm{test}}$ column holds $\langle \hat{w}, x_{\mathrm{test}}\rangle$"),
    ]


def variant_claims(var_name: str, con: Construction, alg) -> list[Claim]:
    lay_kind = {id(EXACT_LAYOUT): "exact", id(PAPER_EXACT_LAYOUT): "paper-exact"}.get(id(con.layout), "printed")
    inv = lambda T: invariant(alg, T, lay_kind, con)
    # what the network is claimed to compute, stated once for every check that compares with it
    rec = Recursion(alg, start=lambda: alg.const(alpha) * alg.S, step=lambda M, P: newton_step(M, P["S"]),
                    readout=lambda T: alg.z.T * T * alg.b, invariant=inv,
                    carrier=(con.tokens.kinds[0].name, "Tx", "x_t"), symmetric=True, state=("M", ("d", "d")))
    claims = []
    if var_name == "printed":
        claims += printed_layer_claims(alg)
    claims += [
        Claim("induction: prediction = x_test' M_k X'y for all k", "Theorem 5.1; eqs. (24)-(35)",
              r"$\hat y = x_{\mathrm{test}}^\top M_k X^\top y,\ M_0 = \alpha S,\ M_{j+1} = 2M_j - M_j S M_j$",
              Induction(rec)),
        Claim("exact composition at small sizes", "Theorem 5.1",
              "the composed network equals the recursion exactly, every Newton layer and the prediction",
              Composition(rec)),
        Claim("certified at realistic size", "Theorem 5.1",
              "ball arithmetic encloses |network - recursion| at the run's d, n, k", Certified(rec)),
        Claim("float64 on a batch of prompts", "Theorem 5.1",
              "the same network on many sampled prompts at once, in float64 (torch, CUDA when present)",
              Float64Batch(rec, 64), statement=False),
        Claim("number of layers", "Theorem 5.1; Remark B.5",
              r"$k + 8$ layers: 3 initial, 1 per iteration, 5 readout", LayerCount(sp.Symbol("k") + 8)),
        Claim("hidden width", "Theorem 5.1", r"hidden dimension $O(d)$", Width(d)),
    ]
    return claims


S_ = sp.Symbol("S")
# eqs. (38)-(39) as printed: each formula is written once, here; its LaTeX is printed from it
PRINTED_M1 = 2 * alpha * S_ - 4 * alpha**2 * S_**3
PRINTED_M2 = 4 * alpha * S_ - 12 * alpha**2 * S_**3 + 16 * alpha**3 * S_**5 - 16 * alpha**4 * S_**7


def _tex(e) -> str:
    return sp.latex(e, order="rev-lex")


def theorem_claims() -> list[Claim]:
    start = alpha * S_
    return [
        Claim("sum of moments: M_1", "eq. (38)", f"$M_1 = {_tex(PRINTED_M1)}$",
              ClosedForm(1, PRINTED_M1, start, newton_step, S_, (alpha,)), statement=False),
        Claim("sum of moments: M_2", "eq. (39)", f"$M_2 = {_tex(PRINTED_M2)}$",
              ClosedForm(2, PRINTED_M2, start, newton_step, S_, (alpha,)), statement=False),
        Claim("sum of moments: degree", "eq. (40)", r"$M_k = \sum_{s=1}^{2^{k+1}-1} \beta_s S^s$",
              ClosedFormDegree(6, start, newton_step, lambda k: (1, 2 ** (k + 1) - 1), S_), statement=False),
        Claim("convergence with the paper's alpha", "eq. (5), eq. (37), Section 3.1",
              r"with $\alpha = 2/\|SS^\top\|_2$, $M_k \to S^\dagger$ in $O(\log\kappa + \log\log(1/\epsilon))$ steps",
              NewtonConvergence("alpha", "paper"), statement=False),
        Claim("convergence with the run's alpha", "Section 3.1 (rate), with alpha of this run",
              r"$\|I - M_k S\|_2 \le \epsilon$ after $O(\log\kappa + \log\log(1/\epsilon))$ steps",
              NewtonConvergence("alpha", "run"), statement=False, erratum=False),
        Claim("side by side with Giannou et al.'s Theorem 4.2", "Giannou et al., Remark 4.5 (comparison)",
              "layers and width of each construction for the same number of Newton steps k",
              SideBySide(("newton_k_plus_8", "newton_linear_regression")), statement=False, erratum=False),
    ]


STATEMENT = (r"For any $k$ there are transformer weights such that, on any in-context examples "
             r"$\{(x_i, y_i)\}_{i=1}^n$ and test point $x_{\mathrm{test}}$, the transformer predicts "
             r"$x_{\mathrm{test}}^\top \hat{w}_k$ with $\hat{w}_k = M_k X^\top y$, $M_0 = \alpha S$ for some "
             r"$\alpha > 0$, $M_{j} = 2M_{j-1} - M_{j-1} S M_{j-1}$, $S = X^\top X$. The hidden width is "
             r"$O(d)$ and the number of layers is $k+8$.")

JUSTIFY_CORRECTED = (
    "Eqs. (21) and (28) use ReLU(a) + ReLU(-a) = a, but ReLU(a) + ReLU(-a) = |a|. With equal value "
    "matrices V_1 = V_2 the two heads add |a| V h_j. Negating the second head's value (V_2 = -V_1) "
    "gives ReLU(a) V - ReLU(-a) V = a V, which is what eqs. (22) and (29) need. Nothing else changes.")

THEOREM = Theorem(
    id="newton_k_plus_8",
    title="Transformers implement k steps of Iterative Newton with k+8 layers",
    statement=STATEMENT,
    citation=("D. Fu, T.-Q. Chen, R. Jia, V. Sharan. Transformers Learn to Achieve Second-Order "
              "Convergence Rates for In-Context Linear Regression. NeurIPS 2024 (arXiv 2310.17086), "
              "Theorem 5.1, proof in Appendix B."),
    source="Fu et al., NeurIPS 2024, Thm 5.1 / App. B",
    variants=(
        Variant("printed", "printed", "The construction exactly as printed in Appendix B.2.",
                "Transcribed from eqs. (18)-(35); mov/mul are Akyurek et al.'s primitives (Prop. B.4).",
                build_printed, lambda con, alg: variant_claims("printed", con, alg)),
        Variant("corrected", "corrected", "As printed, with V_2 = -V_1 in layer I-2 and in the Newton layer.",
                JUSTIFY_CORRECTED, build_corrected, lambda con, alg: variant_claims("corrected", con, alg)),
        Variant("exact", "exact",
                "Our realisation without borrowed primitives: 1 init layer, 1 layer per iteration, 1 readout layer.",
                "Tokens hold [x_j; y_j]. The Gram layer writes alpha S x_t into an empty block (no mov/aff); "
                "one two-head ReLU layer with scores x_t' T x_j and values n y_j reads out x_t' T X'y. "
                "All layers are exact, so no approximation enters.",
                build_exact, lambda con, alg: variant_claims("exact", con, alg)),
        Variant("exact-paper-format", "exact",
                "Exact layers in the paper's token format (separate x- and y-tokens): 1 init layer, 1 per "
                "iteration, 2 readout layers.",
                "Keeps App. B.2's sequence x_1, y_1, ..., x_n, y_n, x_test and realises the borrowed steps exactly: "
                "the mov of eq. (33) by a ReLU head whose score 1 - (p_t - p_j - 1)^2 selects the previous token "
                "(positions p and p^2 in the embedding, as Akyurek et al.'s mov also uses positions); mul, "
                "Lemma B.3's sum, the second mov and the final mul become one two-head layer over the y-tokens.",
                build_exact_paper_format, lambda con, alg: variant_claims("exact-paper-format", con, alg)),
        Variant("keys-include-test", "ablation",
                "Corrected, but every attention layer of the init and Newton phase uses all tokens as keys.",
                "Settles open question 2: if x_test is a key (full attention over the whole sequence, "
                "Remark B.2), S becomes X'X + x_test x_test'. Definition B.1 sums over j = 1..n only; "
                "the other variants read it as keys = the n example tokens.",
                build_keys_include_test, lambda con, alg: variant_claims("keys-include-test", con, alg)),
    ),
    claims=theorem_claims,
    defaults={"k": 16, "d": 20, "n": 40, "precision": 256, "seed": 0},
    step_name="Newton iteration",
    recursion_name="Newton recursion",
    parameters=(alpha_parameter(alpha, {"paper": ("double-spectral", "as printed in eq. (5) and eq. (37)"),
                                        "code": ("frobenius", "the official repository's Newton baseline at HEAD")}),),
    basis=("corrected", "exact", "exact-paper-format"),
    notes=(
        "Keys: Definition B.1 sums over j = 1..n, the n examples; we read the key set as the example "
        "tokens, so x_test and the y-tokens are queries but not keys in the init and Newton layers "
        "(variant keys-include-test shows what happens otherwise).",
        "Weights depend on n: V = n alpha J (I-2), G = -n/2 (Newton) and V = nI (Lemma B.3) cancel the "
        "normaliser 1/n. A network is built for one n; the checks use the same n in weights and normaliser.",
        "alpha: the theorem needs some alpha > 0 and the weights carry alpha as a constant; nothing in the "
        "network computes it (reviewers' point 6). The network equals the recursion for every alpha, so the "
        "construction checks hold for any alpha; convergence needs 0 < alpha < 2/lambda_max(S)^2. The run's "
        "alpha is 1/||SS'||_2 by default (half the printed value); --alpha paper uses 2/||SS'||_2 as in eq. (5), "
        "--alpha code the official repository's 1/||SS'||_F, --alpha trace the rational 1/tr(S^2). The exact "
        "small-size compositions always use 1/tr(S^2), which is rational.",
        "Borrowed primitives (mov, mul; Akyurek et al. 2023) are evaluated with their ideal semantics in the "
        "printed and corrected variants. Akyurek's mul is a GeLU approximation and mov a softmax approximation, "
        "so the printed k+8 count rests on them. Without them: variant exact-paper-format keeps the paper's "
        "token format and needs k+3 exact layers (its mov is a ReLU head on positions p, p^2); variant exact "
        "puts y_j in the x-token and needs k+2.",
        "Attention is full (non-causal) ReLU attention normalised by 1/n (Definition B.1). Remark B.6 "
        "(causal attention) is a sketch with a different T per token and is not checked.",
        "Token format: the printed variant uses the theory's format of App. B.2 (x-tokens, then y-tokens with y in "
        "its own coordinate, then x_test), not the experiments' format (y in coordinate 0 of an x-sized token). "
        "The y-tokens are inert in the init and Newton layers because their x-blocks are zero, as the paper says.",
        "Lemma B.3's second head has the constant score -1, so ReLU silences it whatever its value matrix "
        "(eq. (19) computes ReLU(-1) = 0 itself): it is redundant, not wrong. The perturbation tests confirm that "
        "changing it changes nothing.",
        "Eq. (35)'s read-out vector u = [0_{3d}; 1] is not checked against a width: the paper shows only the "
        "non-zero rows and never states the width of its hidden state, so any comparison would rest on our own "
        "layout (an earlier version of this tool reported it as an erratum; it is withdrawn).",
        "Why the float64 network drifts from the recursion, doubling its error every Newton layer (a property of "
        "the construction, not of the float64 code): the Newton layer computes f(T) = 2T - T S T' (its score reads "
        "the carrier T x_j transposed; the step lemma without the symmetry hypothesis derives exactly this). At the "
        "fixed point T* = S^-1 a perturbation E maps to f(T* + E) - T* = E - E' + O(E^2): its symmetric part is "
        "removed, as in Newton-Schulz (whose step 2M - MSM has derivative 0 there), but its antisymmetric part "
        "doubles. Rounding puts an antisymmetric part of size 2^-53 into T each layer, so after k layers the "
        "relative error is about 2^(k - 53): float64 keeps 1e-6 for about 33 layers, float32 for about 4, bfloat16 "
        "for none (the report measures the rate on the run's data). Exact and ball arithmetic are unaffected; a "
        "construction that symmetrised T each layer would not drift.",
        "The empirical claims (trained GPT-2 layers track Newton, not GD) are not part of this check: they are "
        "the Trained networks section (theorems/fu_trained.py), empirical evidence beside the verdict.",
    ),
    experiments=lambda: _studies(),
)


def _studies():
    from theorems.fu_trained import studies
    return studies()
