r"""Giannou, Yang, Wang, Papailiopoulos & Lee, Lemma 4.1: one step of Newton's
iteration for matrix inversion, X_1 = X_0(2I - A X_0), in 2 linear-attention
layers of 2 heads and width 4d, for any A in R^{d x d}; 1 layer for symmetric A.

Angeliki Giannou, Liu Yang, Tianhao Wang, Dimitris Papailiopoulos, Jason D. Lee.
*How Well Can Transformers Emulate In-context Newton's Method?*  AISTATS 2025
(PMLR 258), arXiv 2403.03183.  The stored v1 text (stored copy 65805342513)
gives Lemma 4.1 verbatim and its proof (App. A.1) in prose, with every display
(input, weights, output) lost.  The construction is **ours**, a reconstruction
to the stated counts: d tokens, token j holding column j of A, of X_t, of I
and of a scratch block (width 4d), linear attention with no softmax,
normaliser or mask.

* ``lemma-4.1``  : the lemma's two layers, weight-shared (looped): layer 1
  writes A' into the scratch block (its second head clears what was there, so
  the pair can be repeated), layer 2 adds X - X A X.  T steps: 2T layers.
* ``stacked``    : A' is written once, then one layer per step: 1 + T layers.
* ``symmetric``  : A = A': the step reads A itself, 1 layer per step.
* ``symmetric-step-on-general-A`` (ablation): the 1-layer step for a general
  A computes X A' X: refuted, located.
* ``looped-without-clearing`` (ablation): layer 1 without its clearing head;
  repeated, the scratch holds 2A', 3A', ...: refuted at the second step.

In the looped variants the first step's two layers are the construction's
``init`` and each further step repeats the same two layers: the network for k
repeats runs T = k + 1 steps, with the same weights everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import sympy as sp

from numeric.checks import Recursion
from numeric.recursions import newton_step   # X <- 2X - X A X, written once
from symbolic.layers import Attention, Construction, Layer, MatrixLetter, TokenFormat, TokenKind
from symbolic.layout import Layout, d
from symbolic.lemmas import Outcome
from theorems.base import Claim, Theorem, Variant
from theorems.gd_support import matrix_parameter
from theorems.kinds import Architecture, Induction, LayerCount, Width, kind, network_claims
from theorems.newton_schulz import newton_schulz_layer

A_ = sp.Symbol("A", commutative=False)
X0_ = sp.Symbol("X_0", commutative=False)

LAYOUT = Layout.of(("A", d, "A e_j: column j of A"), ("X", d, "X_t e_j: column j of the iterate"),
                   ("I", d, "e_j: column j of the identity"), ("T", d, "scratch: A' e_j once written"))
TOKENS = TokenFormat((TokenKind("col", (("A", "A*e"), ("X", "X_0*e"), ("I", "e")), per_example=False, basis=True),),
                     "d tokens, token j = [A e_j; X_0 e_j; e_j; 0] (the columns of A, X_0, I, 0; our reconstruction)")
GENERAL = (MatrixLetter("A", doc="the matrix to invert (any d x d)"), MatrixLetter("X_0", doc="the initial iterate"))
SYMMETRIC = (MatrixLetter("A", symmetric=True, doc="the matrix to invert (symmetric)"),
             MatrixLetter("X_0", doc="the initial iterate"))


WRITE_AT = ({("I", "A"): 1}, {("T", "I"): 1})      # sum_j e_j (A e_j)' e_t = A' e_t into T
CLEAR_T = ({("I", "I"): 1}, {("T", "T"): -1})      # - sum_j T_j e_j' e_t = - (the scratch) of token t
TRANSPOSE = Layer("L1", (Attention.linear_heads(WRITE_AT, CLEAR_T),), "Lemma 4.1, App. A.1 first layer (our weights)",
                  "the scratch block becomes A' e_t, whatever it held")
TRANSPOSE_ONCE = Layer("L1", (Attention.linear_heads(WRITE_AT),),
                       "Lemma 4.1, App. A.1 first layer (our weights, one head)",
                       "adds A' e_t to the scratch block")
NEWTON = newton_schulz_layer("L2", "X", "T", "I", "Lemma 4.1, App. A.1 second layer (our weights)",
                             "X <- X + X - X A X = X(2I - A X)")      # the scratch block T holds A' e_j
NEWTON_SYM = newton_schulz_layer("N", "X", "A", "I",
                                 "Lemma 4.1, 'if restricted to only symmetric A, then 1 layer suffices' (our weights)",
                                 "X <- 2X - X A' X, = X(2I - A X) when A = A'")


def _con(name, init, step, letters=GENERAL):
    return Construction(name, LAYOUT, TOKENS, init, step, (), ("col", "X"), (), letters)


BUILDS = {
    "lemma-4.1": lambda: _con("lemma-4.1", (TRANSPOSE, NEWTON), (TRANSPOSE, NEWTON)),
    "stacked": lambda: _con("stacked", (TRANSPOSE_ONCE, NEWTON), (NEWTON,)),
    "symmetric": lambda: _con("symmetric", (NEWTON_SYM,), (NEWTON_SYM,), SYMMETRIC),
    "symmetric-step-on-general-A": lambda: _con("symmetric-step-on-general-A", (NEWTON_SYM,), (NEWTON_SYM,)),
    "looped-without-clearing": lambda: _con("looped-without-clearing", (TRANSPOSE_ONCE, NEWTON),
                                            (TRANSPOSE_ONCE, NEWTON)),
}


# ---------------------------------------------------------------- claims
def recursion(alg, scratch: bool, symmetric_A: bool = False) -> Recursion:
    """X_1 = X_0(2I - A X_0) (the construction's init is the first step), X_{t+1} = X_t(2I - A X_t); the hidden
    state after step t: token j holds [A e_j; X_t e_j; e_j; A' e_j] (no scratch for the symmetric step)."""
    A = alg.param("A", ("d", "d"), symmetric_A)        # the construction's letters, declared as it declares them
    X0 = alg.param("X_0", ("d", "d"))

    def invariant(M):
        e = alg.e["t"]
        blocks = {"A": A * e, "X": M * e, "I": e}
        if scratch:
            blocks["T"] = A.T * e
        return {"col": blocks}

    return Recursion(alg, start=lambda: newton_step(X0, A),
                     step=lambda M, P: newton_step(M, P["A"]), readout=None, invariant=invariant,
                     carrier=("col", "X", "e_t"), symmetric=False, state=("X", ("d", "d")))


def variant_claims(name: str, con: Construction, alg) -> list[Claim]:
    sym = name.startswith("symmetric")
    rec = recursion(alg, scratch=not sym, symmetric_A=name == "symmetric")
    k = sp.Symbol("k")
    layers = {"lemma-4.1": 2 * (k + 1), "stacked": k + 2, "looped-without-clearing": 2 * (k + 1)}.get(name, k + 1)
    per = {"lemma-4.1": "2 per step", "stacked": "1 + T", "looped-without-clearing": "2 per step"}.get(name, "1 per step")
    return [
        Claim("induction: the tokens hold X_T = T Newton steps from X_0, for all T", "Lemma 4.1; eq. (3.3)",
              r"$X_{t+1} = X_t(2I - AX_t)$" + (" for symmetric $A$" if name == "symmetric" else " for any $A$, $X_0$"),
              Induction(rec)),
        *network_claims(rec, "Lemma 4.1", "Newton's iteration"),
        Claim("number of layers", "Lemma 4.1" + ("" if name != "stacked" else " (stacked: A' written once)"),
              f"T = k + 1 steps in {per} layers", LayerCount(layers, equal=True)),
        Claim("hidden width", "Lemma 4.1", "width $4d$ (exactly: the reconstruction is built to it)", Width(d, 4 * d, equal=True)),
        Claim("layer type and heads", "Lemma 4.1", "linear attention, no MLP, at most 2 heads per layer",
              Architecture(max_heads=2)),
    ]


@dataclass(frozen=True)
class ResidualSquares:
    """I - A X_{t+1} = (I - A X_t)^2, so I - A X_t = (I - A X_0)^(2^t): an identity of noncommutative
    polynomials in A and X (for every d, every A and X), from the one Newton step of the recursion."""
    kind: ClassVar[str] = "residual_squares"


@kind(ResidualSquares, "residual_squares", scope="theorem")
def _check_residual_squares(spec: ResidualSquares, run):
    from symbolic.ncalg import Alphabet
    ab = Alphabet()
    I = ab.identity("I", "d")
    A, X = ab.matrix("A"), ab.matrix("X")
    R = I - A * X
    lhs = I - A * newton_step(X, A)
    diff = lhs.first_difference(R * R)
    if diff:
        return Outcome("refuted", "symbolic (all d, A, X)", f"I - A f(X) = {lhs} but (I - A X)^2 = {R * R}: first "
                                                            f"differing term {diff[0]}", {})
    return Outcome("verified", "symbolic (all d, A, X)",
                   f"I - A(2X - XAX) = {lhs} = (I - AX)^2 as noncommutative polynomials; by induction "
                   "I - A X_t = (I - A X_0)^(2^t) for every t", {"identity": str(lhs)})


@dataclass(frozen=True)
class Initialisation:
    """From X_0 = eps A' with eps = c / sigma_max(A)^2: certified residuals ||I - A X_t||_F along the iteration
    (ball arithmetic on the run's A).  ``expect``: "converge" (c inside (0, 2)) or "stall" (c = 2, the end of
    the interval: the top singular direction keeps residual 1 for every t)."""
    c: sp.Rational
    expect: str = "converge"
    steps: int = 12
    kind: ClassVar[str] = "newton_initialisation"


@kind(Initialisation, "newton_initialisation", scope="theorem")
def _check_initialisation(spec: Initialisation, run):
    import math

    import mpmath

    from numeric.backends import ArbBackend, MPBackend
    from numeric.checks import _up
    A_val = run.ctx.params.get(A_)
    if A_val is None:
        return Outcome("inconclusive", "certified residuals", "the run has no value for A", {})
    d = len(A_val)
    bits = run.ctx.bits
    G = sp.Matrix(A_val) * sp.Matrix(A_val).T
    with mpmath.mp.workprec(bits + 16):
        ev = MPBackend(bits + 16).eigvalsh(G.tolist())
        low, top = ev[0], ev[-1]
        eps = mpmath.mpf(int(spec.c.p)) / int(spec.c.q) / top
        man, ex = eps.man_exp
    eps_q = sp.Rational(man) * sp.Rational(2) ** ex
    be = ArbBackend(bits)
    rows = []
    with be.precision(bits):
        Am = be.matrix(A_val)
        I = be.identity(d)
        X = be.scale(be.num(eps_q), be.T(Am))
        for t in range(spec.steps + 1):
            R = be.sub(I, be.mm(Am, X))
            fro = sum((R[i, j] * R[i, j] for i in range(d) for j in range(d)), be.num(0))
            lo = float(fro.lower())
            rows.append((t, math.sqrt(max(lo, 0.0)), math.sqrt(_up(fro))))
            X = be.sub(be.scale(be.num(2), X), be.mm(be.mm(X, Am), X))
    if not low > 2.0 ** (-(bits // 2)) * float(top):
        return Outcome("inconclusive", f"certified residuals (arb, {bits} bits), the run's A",
                       f"A is singular to the run's precision (sigma_min(A)^2 = {float(low):.3g}): I - A X_t keeps "
                       "the null direction whatever eps is, so neither convergence nor the end's stall is tested",
                       {"sigma_min2": float(low)})
    e0 = max(abs(1 - float(eps) * float(low)), abs(1 - float(eps) * float(top)))
    txt = (f"X_0 = eps A', eps = {spec.c}/sigma_max(A)^2 = {float(eps):.6g} (sigma_max^2 = {float(top):.6g}, "
           f"sigma_min^2 = {float(low):.6g}): e_0 = max|1 - eps sigma^2| = {e0:.6g}; certified ||I - A X_t||_F at "
           + ", ".join(f"t={t}: [{lo:.3g}, {hi:.3g}]" for t, lo, hi in rows[::3]))
    data = {"eps": float(eps), "residual_lower": [r[1] for r in rows], "residual_upper": [r[2] for r in rows]}
    method = f"certified residuals (arb, {bits} bits), the run's A"
    if spec.expect == "stall":
        # the top direction's residual is (1 - eps sigma_max^2)^(2^t) with eps sigma_max^2 = 2 up to eps's rounding
        # at the run's precision: certified >= 1 - 2^t 2^(16 - bits), i.e. 1 to far below any tolerance used here
        # and it does not grow: the other directions' residuals |1 - eps sigma^2| < 1 still shrink
        ok = all(lo >= 1 - 1e-9 for _, lo, _ in rows[1:])
        bounded = all(hi <= rows[0][2] * (1 + 1e-9) + 1e-9 for _, _, hi in rows)
        why = "" if ok and bounded else ("it falls below 1; " if not ok else "it grows past its start; ")
        return Outcome("verified" if ok and bounded else "refuted", method,
                       ("at the interval's end the residual stalls: it stays >= 1 and never exceeds its start: "
                        if ok and bounded else f"claimed to stall, but {why}") + txt, data)
    bound = math.sqrt(d) * e0 ** (2 ** spec.steps) if e0 < 1 else math.inf
    last_hi = rows[-1][2]
    if e0 < 1 and last_hi <= max(bound, 2.0 ** (-bits // 2)) * (1 + 1e-6) + 2.0 ** (-bits // 2):
        return Outcome("verified", method, txt + f"; at t = {spec.steps} within sqrt(d) e_0^(2^t) = {bound:.3g}", data)
    if rows[-1][1] > bound:
        return Outcome("refuted", method, txt + f"; above the bound sqrt(d) e_0^(2^t) = {bound:.3g}", data)
    return Outcome("inconclusive", method, txt, data)


def theorem_claims() -> list[Claim]:
    return [
        Claim("residual squares: I - A X_t = (I - A X_0)^(2^t)", "Section 3.2.1 (Newton's iteration), eq. (3.3)",
              r"$I - AX_{t+1} = (I - AX_t)^2$", ResidualSquares()),
        Claim("convergence from X_0 = eps A', eps inside the interval", "App. A.1 (X_0 = eps A', "
              "eps in (0, 2/lambda_1(AA')))", r"$\epsilon = 1/\sigma_{\max}(A)^2$: $\|I - AX_t\| \to 0$ "
              r"at the rate $e_0^{2^t}$", Initialisation(sp.Integer(1)), statement=False),
        Claim("no convergence at the interval's end", "App. A.1 (the open interval for eps)",
              r"$\epsilon = 2/\sigma_{\max}(A)^2$: $1 \le \|I - AX_t\|_F \le \|I - AX_0\|_F$ for every $t$ (it stalls: "
              r"neither converges nor grows)",
              Initialisation(sp.Integer(2), "stall"), statement=False),
    ]


STATEMENT = (r"For any $d$ there is a linear Transformer of 2 linear-attention layers, each with 2 heads and width "
             r"$4d$, that maps an input holding $A \in \mathbb{R}^{d\times d}$ and any $X_0$ to one holding "
             r"$X_1 = X_0(2I_d - AX_0)$, one step of Newton's iteration (3.3); for symmetric $A$, 1 layer suffices "
             r"(Lemma 4.1).")
RECON = ("Our reconstruction: the stored text gives Lemma 4.1 and its proof in prose without the display equations; "
         "the input format and weights are ours, to the stated counts.")

THEOREM = Theorem(
    id="newton_schulz_two_layer",
    title="Two linear-attention layers run one Newton step for matrix inversion (Giannou et al., Lemma 4.1)",
    statement=STATEMENT,
    citation=("A. Giannou, L. Yang, T. Wang, D. Papailiopoulos, J. D. Lee. How Well Can Transformers Emulate "
              "In-context Newton's Method? AISTATS 2025, PMLR 258 (arXiv 2403.03183), Lemma 4.1, App. A.1. The "
              "construction checked is our reconstruction (the stored text has no display equations)."),
    source="Giannou et al., AISTATS 2025, Lemma 4.1 (reconstruction)",
    variants=(
        Variant("lemma-4.1", "exact", "The lemma's 2 layers x 2 heads, weight-shared: T steps in 2T layers.",
                RECON + " Layer 1 writes A' into the scratch block and clears what it held (so it can repeat); "
                "layer 2 adds X - XAX using the identity block.", BUILDS["lemma-4.1"],
                lambda con, alg: variant_claims("lemma-4.1", con, alg)),
        Variant("stacked", "exact", "A' written once, then one layer per step: T steps in 1 + T layers.",
                RECON + " Unshared layers need the transpose only once.", BUILDS["stacked"],
                lambda con, alg: variant_claims("stacked", con, alg)),
        Variant("symmetric", "exact", "Symmetric A: one layer per step.",
                RECON + " For A = A' the score can read A itself; no transpose is needed.", BUILDS["symmetric"],
                lambda con, alg: variant_claims("symmetric", con, alg)),
        Variant("symmetric-step-on-general-A", "ablation", "The one-layer step applied to a general A.",
                "Shows why a general A needs the transpose layer: the one-layer step computes X A' X.",
                BUILDS["symmetric-step-on-general-A"],
                lambda con, alg: variant_claims("symmetric-step-on-general-A", con, alg)),
        Variant("looped-without-clearing", "ablation", "Layer 1 without its clearing head, looped.",
                "Shows why the looped layer 1 needs its second head: repeated, it adds A' again each step.",
                BUILDS["looped-without-clearing"], lambda con, alg: variant_claims("looped-without-clearing", con, alg)),
    ),
    claims=theorem_claims,
    defaults={"k": 7, "d": 20, "n": 20, "precision": 256, "seed": 0},
    basis=("lemma-4.1", "stacked", "symmetric"),
    parameters=(matrix_parameter(A_, ("d", "d"), "the matrix A to invert (any d x d)"),
                matrix_parameter(X0_, ("d", "d"), "the initial iterate X_0 (any d x d; the lemma holds for all)")),
    step_name="Newton step",
    recursion_name="Newton's iteration for A^-1",
    golden={"k": 2, "d": 3, "n": 3, "seed": 0},
    provenance="reconstruction",
    notes=(
        "Reconstruction: Lemma 4.1 is quoted in the stored v1 text (stored copy 65805342513), its proof (App. A.1) "
        "in prose; the displays with the input, the weights and the output are empty. The weights here are ours.",
        "No data prompt enters: the tokens hold A and X_0 (the run's parameters A and X_0, seeded generic "
        "matrices; --A/--X_0 choose identity or zero). The run's n is unused.",
        "The looped variants count the first step as the construction's init: the network for k repeats runs "
        "T = k + 1 steps with one set of weights, in 2T layers.",
        "The interval for eps is garbled in the stored copy of App. A.1 ('(0, 2/lambda_1(AA'))'); X_0 = eps A' "
        "gives I - A X_0 = I - eps AA', whose eigenvalues lie in (-1, 1) exactly when 0 < eps < 2/sigma_max(A)^2 "
        "(and A is invertible). The claims check eps = 1/sigma_max^2 and the end eps = 2/sigma_max^2 on the run's A; "
        "at the other end, eps -> 0, I - A X_0 -> I and the iteration does not move.",
        "The final PMLR and AISTATS abstracts drop the sentence announcing this lemma; whether the camera-ready "
        "keeps it cannot be checked here (no readable copy of the final PDF).",
    ),
)
