"""Support shared by the gradient-descent theorems of the catalogue: step-size
policies and matrix-letter parameters (W_0, preconditioners A_l), as exact
values the evaluators read.  It lives beside the theorems that need it; the
engines know no step size or preconditioner by name.

A step size multiplies the Gram matrix S = X'X through ``eta / n`` (the
paper's P = eta/N I, or the 1/n normaliser), so gradient descent on
(1/2n)|Xw - y|^2 is stable for eta < 2n / lambda_max(S).
"""
from __future__ import annotations

import random

import sympy as sp

from numeric.data import exact, exact_moments
from theorems.base import Parameter, ParameterError, Policy


def n_over_trace(data, strict: bool = False) -> sp.Rational:
    """n / tr(X'X): the scale of a stable GD step.  When X = 0 it is undefined: an error with
    ``strict`` (a step size), else 1 (the scale of a preconditioner, any value will do)."""
    S, _ = exact_moments(data)
    t = S.trace()
    if t == 0:
        if strict:
            raise ParameterError("the data has X = 0, so tr(X'X) = 0 and the step size n / tr(X'X) is undefined")
        return sp.Integer(1)
    return sp.Integer(data.n) / t


def _eta_trace(data, bits):
    return n_over_trace(data, strict=True)


def _eta_spectral(data, bits):
    import mpmath
    from numeric.backends import MPBackend
    S, _ = exact_moments(data)
    if S.trace() == 0:
        raise ParameterError("the data has X = 0, so lambda_max(X'X) = 0 and the step size is undefined")
    with mpmath.mp.workprec(max(bits, 53) + 16):
        top = MPBackend(max(bits, 53) + 16).eigvalsh(S.tolist())[-1]
        v = data.n / top * (1 - mpmath.mpf(2) ** (8 - max(bits, 53)))
        man, e = mpmath.mpf(v).man_exp
    return sp.Rational(man) * sp.Rational(2) ** e


def _eta_trace_batch(S, n):
    return n / S.diagonal(dim1=-2, dim2=-1).sum(-1)


def _eta_spectral_batch(S, n):
    import torch
    return n * (1.0 - 2.0 ** -40) / torch.linalg.eigvalsh(S)[..., -1]


def step_size(symbol, help_text: str = "the step size eta (the layer multiplies S = X'X by eta/n)") -> Parameter:
    """eta with the policies trace (n / tr S, rational, <= n / lambda_max) and spectral (n / lambda_max(S))."""
    return Parameter(symbol, help_text, {
        "trace": Policy("n/tr(X'X)", "rational and at most n / lambda_max(X'X): one GD step of size at most "
                        "1/lambda_max on (1/2)|Xw - y|^2", _eta_trace, _eta_trace_batch),
        "spectral": Policy("n/lambda_max(X'X)", "a step of size 1/lambda_max on (1/2)|Xw - y|^2, which still "
                           "contracts every direction (rounded down)", _eta_spectral, _eta_spectral_batch),
    }, "trace", "trace")


def _rng(data, tag: str, bits: int):
    """A generator fixed by the data itself (so a run is reproducible from its prompt)."""
    key = repr((tag, [[float(v) for v in r] for r in data.X][:4], len(data.X), len(data.x_test), bits > 0))
    return random.Random(key)


def matrix_parameter(symbol, shape: tuple[str, str], help_text: str, untied: bool = False, count: int = 64,
                     scale=None, symmetric: bool = False, zero_ok: bool = True) -> Parameter:
    """A matrix letter's values.  Policies:

    * ``random``: for exact instances small integers in {-2..2}; otherwise
      ``scale(data) * (I + R / (4 sqrt(cols)))`` for square letters (R seeded
      Gaussian) or ``R / sqrt(cols)`` for rectangular ones: generic, not
      symmetric unless asked, so a transposed letter is caught;
    * ``identity`` (square letters): ``scale(data) * I``;
    * ``zero``: all zeros (the experiments' W_0 = 0).

    Untied letters get ``count`` independent values, one per iteration."""
    rows_of = lambda data: {"d": data.d, "m": data.m, "1": 1}[shape[0]]
    cols_of = lambda data: {"d": data.d, "m": data.m, "1": 1}[shape[1]]

    def one(data, bits, rng, kind):
        r, c = rows_of(data), cols_of(data)
        if kind == "zero":
            return [[sp.Integer(0)] * c for _ in range(r)]
        s = scale(data) if scale else sp.Integer(1)
        if kind == "identity":
            return [[s if i == j else sp.Integer(0) for j in range(c)] for i in range(r)]
        if bits == 0:                                   # exact instance: small integers
            M = [[sp.Integer(rng.randint(-2, 2)) for _ in range(c)] for _ in range(r)]
            if r == c:
                M = [[M[i][j] + (3 if i == j else 0) for j in range(c)] for i in range(r)]
        else:
            M = [[exact(rng.gauss(0.0, 1.0) / (4 * c ** 0.5) if r == c else rng.gauss(0.0, 1.0) / c ** 0.5)
                  for _ in range(c)] for _ in range(r)]
            if r == c:
                M = [[s * (M[i][j] + (1 if i == j else 0)) for j in range(c)] for i in range(r)]
        if symmetric:
            M = [[(M[i][j] + M[j][i]) / 2 for j in range(c)] for i in range(r)]
        return M

    def policy(kind):
        def value(data, bits):
            rng = _rng(data, f"{symbol}-{kind}", bits)
            if untied:
                return [one(data, bits, rng, kind) for _ in range(count)]
            return one(data, bits, rng, kind)
        return value

    def batch(kind):
        def f(S, n):
            vals = policy(kind)(_BatchData(S.shape[-1], n), 64)
            return [[[float(x) for x in r] for r in M] for M in vals] if untied else [[float(x) for x in r] for r in vals]
        return f

    pols = {"random": Policy("seeded generic matrix", "generic (not symmetric), seeded by the data: a transposed "
                                                      "or misplaced letter changes the result", policy("random"),
                             batch("random"))}
    if shape[0] == shape[1]:
        pols["identity"] = Policy("scaled identity", "the isotropic choice", policy("identity"), batch("identity"))
    if zero_ok:
        pols["zero"] = Policy("0", "all zeros (the experiments' choice)", policy("zero"), batch("zero"))
    return Parameter(symbol, help_text, pols, "random", "random", shape=tuple(shape))


def example_parameter(E, help_text: str) -> Parameter:
    """The values of a per-example letter (symbolic.layers.ExampleLetter ``E``): one row per example, of size 1
    (a scalar) or d (a vector).  One policy, ``random``: small integers in {-2..2} for an exact instance,
    seeded Gaussians otherwise; generic, so that u_j x_j' and x_j u_j' differ and sum_j q_j x_j is not
    (sum_j q_j)(sum_j x_j)."""
    def value(data, bits):
        rng = _rng(data, f"{E.name}-example", bits)
        size = data.d if E.rows == "d" else 1
        if bits == 0:
            return [[sp.Integer(rng.randint(-2, 2)) for _ in range(size)] for _ in range(data.n)]
        return [[exact(rng.gauss(0.0, 1.0)) for _ in range(size)] for _ in range(data.n)]

    def batch(S, n):
        return [[float(x) for x in r] for r in value(_BatchData(S.shape[-1], n), 64)]

    return Parameter(E.symbol, help_text, {"random": Policy(
        "seeded generic values", "one value per example, generic and seeded by the data: a transposed moment or a "
        "product of moments changes the result", value, batch)}, "random", "random",
        shape=("n", E.rows))


class _BatchData:
    """Stands in for a prompt when a batched run asks a matrix policy for values
    (the values depend only on the sizes there)."""

    def __init__(self, d, n):
        self.d, self.m, self.n = d, 1, n
        self.X = [[0.0] * d]
        self.x_test = [0.0] * d
        self.y = [0.0]


# ---------------------------------------------------------------- the sparse linear-attention family
# Z in R^{(d+1) x (n+1)}: columns (x_i, y_i), the query (x_{n+1}, 0); Attn_{P,Q}(Z) = P Z M (Z'QZ) with the mask
# M = diag(I_n, 0) (keys and values: the n examples), Z <- Z + Attn(Z)/n, read-out -[Z_L]_{d+1, n+1}.
def _sparse():
    from symbolic.layers import MLP, Attention, Bilinear, Head, Layer, Linear, TokenFormat, TokenKind
    from symbolic.layout import Layout, d
    layout = Layout.of(("x", d, "x^(i) (rows 1..d of Z)"), ("y", 1, "y^(i) (row d+1 of Z)"),
                       ("pred", 1, "the read-out -[Z_L]_{d+1,n+1}"))
    tokens = TokenFormat((TokenKind("ctx", (("x", "x"), ("y", "y"))),
                          TokenKind("test", (("x", "x_test"),), per_example=False)),
                         "Z_0 = [[x^(1) .. x^(n) x^(n+1)], [y^(1) .. y^(n) 0]]")
    return layout, tokens


def sparse_layer(A_name: str, cite: str, name: str = "L") -> "Layer":
    """One layer of the sparse family: P = [[0, 0], [0, 1]], Q = -[[A, 0], [0, 0]]; the score of key j and
    query t is z_j' Q z_t, the value P z_j, normalised by 1/n over the n examples."""
    from symbolic.layers import Attention, Bilinear, Head, Layer, Linear, letter
    P = Linear.of({("y", "y"): 1})
    Q = Linear.of({("x", "x"): -letter(A_name)})
    return Layer(name, (Attention((Head(Bilinear.key_query(Q), P),), activation="linear", normalizer="n",
                                  keys=("ctx",)),), cite,
                 "Z <- Z + (1/n) P Z M (Z'QZ): the y-row moves by one preconditioned GD step")


def sparse_readout(cite: str) -> "Layer":
    from symbolic.layers import MLP, Layer, Linear
    layout, _ = _sparse()
    return Layer("R", (MLP.linear(Linear.of({("pred", "y"): -1}), layout, queries=("test",)),), cite,
                 "TF_L(Z_0) = -[Z_L]_{d+1,n+1}")


def sparse_construction(name: str, A, layer_cite: str, readout_cite: str, layers_in_step: int = 1):
    """The sparse family with the matrix letter A (a MatrixLetter: tied for a looped model, untied for
    L layers with their own A_l)."""
    from symbolic.layers import Construction
    layout, tokens = _sparse()
    n = sp.Symbol("n", positive=True, integer=True)
    return Construction(name, layout, tokens, (), (sparse_layer(A.name, layer_cite),), (sparse_readout(readout_cite),),
                        ("test", "pred"), (n,), (A,))


def pgd_recursion(alg, A_name: str, transpose: bool):
    """w_0 = 0, w_{l+1} = w_l - B_l grad R(w_l), grad R(w) = (1/n)(X'X w - X'y), with B_l = A_l' (transpose)
    or A_l; the context tokens hold the residuals y_j - x_j'w_l, the query -x_test'w_l."""
    from numeric.checks import Recursion
    from numeric.recursions import gd_step
    n = sp.Symbol("n", positive=True, integer=True)
    xt, z, yt = alg.x["t"], alg.z, alg.const(alg.y["t"])
    key = A_name + "'" if transpose else A_name

    def invariant(w):
        return {"ctx": {"x": xt, "y": yt - xt.T * w}, "test": {"x": z, "y": -(z.T * w)}}

    return Recursion(alg, start=alg.zero, step=lambda w, P: gd_step(w, P["S"], P["b"], 1 / n, P[key]),
                     readout=lambda w: z.T * w, invariant=invariant, carrier=("test", "y", "z", "left", -1),
                     symmetric=False, state=("w", ("d", "1")))
