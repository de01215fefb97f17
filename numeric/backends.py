"""One arithmetic interface, several number systems.

Algorithms (the forward pass, Newton-Schulz, GD) are written once against
:class:`Backend`.  Precision is scoped: ``with backend.precision(bits):``
never changes a global setting beyond the block.
"""
from __future__ import annotations

import contextlib
from fractions import Fraction
from typing import Sequence

import sympy as sp


class Backend:
    name = "abstract"
    exact = False
    certified = False

    @contextlib.contextmanager
    def precision(self, bits: int | None):
        yield

    # scalars
    def num(self, q):  # exact rational (Fraction/int/sympy Rational) or float -> backend scalar
        raise NotImplementedError

    def relu_scalar(self, x):
        raise NotImplementedError

    def to_float(self, x) -> float:
        return float(x)

    # matrices
    def matrix(self, rows: Sequence[Sequence]):
        raise NotImplementedError

    def zeros(self, r: int, c: int):
        return self.matrix([[self.num(0)] * c for _ in range(r)])

    def shape(self, A) -> tuple[int, int]:
        return (A.nrows(), A.ncols())

    def mm(self, A, B):
        return A * B

    def add(self, A, B):
        return A + B

    def sub(self, A, B):
        return A - B

    def scale(self, c, A):
        return A * c

    def T(self, A):
        return A.transpose()

    def copy(self, A):
        return type(A)(A)

    def get(self, A, i: int, j: int):
        return A[i, j]

    def set(self, A, i: int, j: int, v) -> None:
        A[i, j] = v

    def map(self, A, f):
        r, c = self.shape(A)
        return self.matrix([[f(A[i, j]) for j in range(c)] for i in range(r)])

    def relu(self, A):
        return self.map(A, self.relu_scalar)

    def mask(self, A, M: list[list[int]]):
        r, c = self.shape(A)
        z = self.num(0)
        return self.matrix([[A[i, j] if M[i][j] else z for j in range(c)] for i in range(r)])

    def softmax_rows(self, A, M: list[list[int]]):
        raise NotImplementedError(f"softmax on backend {self.name}")

    def act_mask(self, A, M: list[list[int]], activation: str, c):
        """``c * act(A)`` where M is 1, and 0 elsewhere (one pass)."""
        r, k = self.shape(A)
        z = self.num(0)
        f = self.relu_scalar if activation == "relu" else (lambda v: v)
        return self.matrix([[c * f(A[i, j]) if M[i][j] else z for j in range(k)] for i in range(r)])

    # precision-aware decisions: a check asks its backend, it never types a tolerance
    bits = 53

    def tolerance(self, scale: float = 1.0) -> float:
        """The largest difference this backend cannot tell from 0 at ``scale``: 0 when exact,
        2^(-bits/4) * scale for multiprecision balls and floats (a quarter of the bits: the
        balls and rounding widen over a long network), sqrt(eps) * scale for float64."""
        if self.exact:
            return 0.0
        if self.bits <= 53:
            return 2.0 ** -26 * scale
        return 2.0 ** (-(self.bits // 4)) * scale

    def eigvalsh(self, rows) -> list:
        """Eigenvalues (ascending) of a symmetric matrix given as rows of exact or float
        numbers, at this backend's precision."""
        return eigvalsh(rows, max(self.bits, 53))

    def solve(self, rows, rhs) -> list:
        """The solution of A x = rhs (rows of numbers) at this backend's precision."""
        import mpmath
        with mpmath.mp.workprec(max(self.bits, 53) + 16):
            x = mpmath.lu_solve(_mpmat(rows), mpmath.matrix([[_mpf(v)] for v in rhs]))
            return [x[i] for i in range(len(rhs))]

    def identity(self, n: int):
        return self.matrix([[self.num(1 if i == j else 0) for j in range(n)] for i in range(n)])

def symmetric_part(A, be: "Backend | None" = None):
    """(A + A')/2: the value of a letter declared symmetric (sympy matrices when ``be`` is None)."""
    if be is None:
        return (A + A.T) / 2
    return be.scale(be.num(sp.Rational(1, 2)), be.add(A, be.T(A)))


def ball_decided(mid: float, rad: float) -> bool:
    """A ball locates its value when its radius is at most half its midpoint's size; a wider ball is not a
    value (it is never plotted, and is exported as undecided)."""
    return rad <= 0.5 * abs(mid) + 1e-300


def _mpf(v):
    import mpmath
    if isinstance(v, (int, float)) or isinstance(v, mpmath.mpf):
        return mpmath.mpf(v)
    q = sp.Rational(v)
    return mpmath.mpf(int(q.p)) / int(q.q)


def _mpmat(rows):
    import mpmath
    return mpmath.matrix([[_mpf(v) for v in r] for r in rows])


def eigh(rows, bits: int):
    """(eigenvalues ascending, eigenvectors as columns) of a symmetric matrix at ``bits`` (mpmath's Jacobi
    method: slow, O(d^3) operations on mpf numbers in Python; ``eigvalsh`` is the fast way to the values)."""
    import mpmath
    with mpmath.mp.workprec(bits):
        ev, V = mpmath.eigsy(_mpmat(rows))
        order = sorted(range(len(ev)), key=lambda i: ev[i])
        return [ev[i] for i in order], [V[:, i] for i in order]


def eigvalsh(rows, bits: int) -> list:
    """Eigenvalues (ascending, mpmath numbers at ``bits``) of a symmetric matrix given as rows of exact or float
    numbers: python-flint's QR iteration on the exact matrix at bits + 32 (acb_mat.eig, approximate as mpmath's
    Jacobi method is, and some 30 times faster at d = 60: benchmarks/bench_eig.py); mpmath where flint cannot."""
    import mpmath
    from flint import acb_mat, arb, arb_mat, ctx
    old = ctx.prec
    try:
        ctx.prec = bits + 32
        A = arb_mat([[_arb_exact(v, arb) for v in r] for r in rows])
        ev = acb_mat(A).eig(algorithm="approx")
        out = []
        with mpmath.mp.workprec(bits):
            for e in ev:
                m, x = e.real.mid().man_exp()
                out.append(mpmath.mpf((int(m), int(x))))
        return sorted(out)
    except (ValueError, ArithmeticError):
        return eigh(rows, bits)[0]
    finally:
        ctx.prec = old


def _arb_exact(v, arb):
    """v as an arb ball at the context's precision (exact for the dyadic rationals of float data)."""
    from .data import fraction
    f = fraction(v)
    return arb(f.numerator) / f.denominator if f.denominator != 1 else arb(f.numerator)


class ExactBackend(Backend):
    """Rationals (python-flint fmpq_mat): exact equality, no tolerance."""
    name, exact = "exact (fmpq)", True

    def __init__(self):
        from flint import fmpq, fmpq_mat
        self._q, self._M = fmpq, fmpq_mat

    def num(self, q):
        if isinstance(q, self._q):
            return q
        if isinstance(q, float):
            q = Fraction(q)
        q = Fraction(sp.Rational(q).p, sp.Rational(q).q) if isinstance(q, sp.Basic) else Fraction(q)
        return self._q(q.numerator, q.denominator)

    def relu_scalar(self, x):
        return x if x > 0 else self._q(0)

    def matrix(self, rows):
        r = len(rows)
        c = len(rows[0]) if r else 0
        return self._M(r, c, [self.num(v) for row in rows for v in row])

class ArbBackend(Backend):
    """Rigorous ball arithmetic (python-flint arb_mat): every number is an
    interval that provably contains the exact value."""
    name, certified = "ball (arb)", True

    def __init__(self, bits: int = 256):
        from flint import arb, arb_mat, ctx, fmpq
        self._a, self._M, self._ctx, self._fq = arb, arb_mat, ctx, fmpq
        self.bits = bits

    @contextlib.contextmanager
    def precision(self, bits=None):
        old = self._ctx.prec
        self._ctx.prec = bits or self.bits
        try:
            yield
        finally:
            self._ctx.prec = old

    def num(self, q):
        if isinstance(q, self._a):
            return q
        if isinstance(q, float):
            return self._a(q)  # a double is a dyadic rational: exact
        q = sp.Rational(q)
        return self._a(self._fq(int(q.p), int(q.q)))

    def relu_scalar(self, x):
        if x > 0:          # certainly positive
            return x
        if x <= 0:         # certainly non-positive
            return self._zero
        return (x + abs(x)) / 2   # the ball straddles 0: a rigorous enclosure

    @property
    def _zero(self):
        return self._a(0)

    def matrix(self, rows):
        a = self._a
        return self._M([[v if type(v) is a else self.num(v) for v in row] for row in rows])

    def to_float(self, x) -> float:
        return float(x.mid())

class MPBackend(Backend):
    """mpmath multiprecision floats at a scoped working precision."""
    name = "mpmath"

    def __init__(self, bits: int = 256):
        import mpmath
        self.mp, self.bits = mpmath.mp, bits
        self._mpf, self._Mat = mpmath.mpf, mpmath.matrix

    @contextlib.contextmanager
    def precision(self, bits=None):
        with self.mp.workprec(bits or self.bits):
            yield

    def num(self, q):
        if isinstance(q, self._mpf):
            return q
        if isinstance(q, (float, int)):
            return self._mpf(q)
        q = sp.Rational(q)
        return self._mpf(int(q.p)) / int(q.q)

    def relu_scalar(self, x):
        return x if x > 0 else self._mpf(0)

    def matrix(self, rows):
        return self._Mat([[self.num(v) for v in row] for row in rows]) if rows and rows[0] else self._Mat(len(rows), 0)

    def shape(self, A):
        return (A.rows, A.cols)

    def T(self, A):
        return A.T

    def copy(self, A):
        return A.copy()


class NumpyBackend(Backend):
    name = "float64 (numpy)"

    def __init__(self):
        import numpy as np
        self.np = np

    def num(self, q):
        return float(sp.Rational(q)) if isinstance(q, sp.Basic) else float(q)

    def relu_scalar(self, x):
        return max(x, 0.0)

    def matrix(self, rows):
        return self.np.array([[self.num(v) for v in row] for row in rows], dtype=float).reshape(len(rows), -1)

    def shape(self, A):
        return A.shape

    def mm(self, A, B):
        return A @ B

    def T(self, A):
        return A.T.copy()

    def copy(self, A):
        return A.copy()

    def relu(self, A):
        return self.np.maximum(A, 0.0)

    def mask(self, A, M):
        return A * self.np.array(M, dtype=float)

    def act_mask(self, A, M, activation, c):
        B = self.np.maximum(A, 0.0) if activation == "relu" else A
        return c * B * self.np.array(M, dtype=float)

    def softmax_rows(self, A, M):
        np = self.np
        m = np.array(M, dtype=bool)
        Z = np.where(m, A, -np.inf)
        Z = Z - np.max(np.where(m.any(1, keepdims=True), Z, 0), axis=1, keepdims=True)
        E = np.where(m, np.exp(Z), 0.0)
        s = E.sum(1, keepdims=True)
        return np.divide(E, s, out=np.zeros_like(E), where=s > 0)


class TorchBackend(Backend):
    """float64 tensors on CUDA when present, else the CPU."""

    def __init__(self, device: str | None = None):
        import torch
        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.name = f"float64 (torch, {self.device})"

    @contextlib.contextmanager
    def threads(self, count: int = 1):
        """Scoped CPU thread count: the matrices here are small, and more threads only contend
        (on a loaded 2-core machine the default made the batch about 2.5x slower)."""
        old = self.torch.get_num_threads()
        self.torch.set_num_threads(count)
        try:
            yield
        finally:
            self.torch.set_num_threads(old)

    def num(self, q):
        return float(sp.Rational(q)) if isinstance(q, sp.Basic) else float(q)

    def relu_scalar(self, x):
        return max(float(x), 0.0)

    def matrix(self, rows):
        t = self.torch.tensor([[self.num(v) for v in row] for row in rows], dtype=self.torch.float64)
        return t.reshape(len(rows), -1).to(self.device)

    def shape(self, A):
        return tuple(A.shape)

    def mm(self, A, B):
        return A @ B

    def T(self, A):
        return A.T.clone()

    def copy(self, A):
        return A.clone()

    def relu(self, A):
        return self.torch.clamp(A, min=0.0)

    def mask(self, A, M):
        return A * self.torch.tensor(M, dtype=A.dtype, device=A.device)

    def act_mask(self, A, M, activation, c):
        B = self.torch.clamp(A, min=0.0) if activation == "relu" else A
        return c * B * self.torch.tensor(M, dtype=A.dtype, device=A.device)

    def softmax_rows(self, A, M):
        m = self.torch.tensor(M, dtype=self.torch.bool, device=A.device)
        Z = A.masked_fill(~m, float("-inf"))
        P = self.torch.softmax(Z, dim=1)
        return self.torch.nan_to_num(P, nan=0.0)

    def to_float(self, x) -> float:
        return float(x)


class Mat:
    """A backend matrix with operators: ``*`` is the matrix product (or a
    scalar multiple), so a formula such as ``2*M - M*S*M`` is written once and
    runs on every backend, on sympy matrices and on symbolic polynomials."""
    __slots__ = ("be", "v", "conv")

    def __init__(self, be: Backend, v, conv=None):
        # conv: how a symbolic coefficient (eta/n, ...) becomes a backend scalar
        self.be, self.v, self.conv = be, v, conv

    def _lift(self, o):
        return o.v if isinstance(o, Mat) else o

    def _new(self, v, o=None):
        return Mat(self.be, v, self.conv or (o.conv if isinstance(o, Mat) else None))

    def _scalar(self, c):
        if isinstance(c, (int, Fraction)) or (isinstance(c, sp.Basic) and c.is_Rational):
            return self.be.num(c)
        if isinstance(c, sp.Basic):
            if self.conv is None:
                raise ValueError(f"no values to evaluate the coefficient {c}")
            return self.conv(c)
        return c

    def __add__(self, o):
        return self._new(self.be.add(self.v, self._lift(o)), o)

    __radd__ = __add__

    def __sub__(self, o):
        return self._new(self.be.sub(self.v, self._lift(o)), o)

    def __neg__(self):
        return self._new(self.be.scale(self.be.num(-1), self.v))

    def __mul__(self, o):
        if isinstance(o, Mat):
            return self._new(self.be.mm(self.v, o.v), o)
        return self._new(self.be.scale(self._scalar(o), self.v))

    def __rmul__(self, c):
        return self._new(self.be.scale(self._scalar(c), self.v))

    @property
    def T(self):
        return self._new(self.be.T(self.v))

    def __getitem__(self, ij):
        return self.be.get(self.v, *ij)


class TorchBatchBackend(TorchBackend):
    """B problems at once in float64: a matrix is a (B, r, c) tensor and a
    scalar is a float or a (B,) tensor, so one forward pass evaluates the same
    construction on a whole batch of prompts (on CUDA when present)."""

    def __init__(self, batch: int, device: str | None = None):
        super().__init__(device)
        self.B = batch
        self.name = f"float64 batch of {batch} (torch, {self.device})"

    def _vec(self, v):
        t = self.torch
        if isinstance(v, t.Tensor):
            return v.to(dtype=t.float64, device=self.device).reshape(self.B) if v.dim() else v.expand(self.B)
        return t.full((self.B,), float(sp.Rational(v)) if isinstance(v, sp.Basic) else float(v),
                      dtype=t.float64, device=self.device)

    def matrix(self, rows):
        r = len(rows)
        c = len(rows[0]) if r else 0
        if r * c == 0:
            return self.torch.zeros((self.B, r, c), dtype=self.torch.float64, device=self.device)
        flat = self.torch.stack([self._vec(v) for row in rows for v in row], dim=1)
        return flat.reshape(self.B, r, c)

    def zeros(self, r, c):
        return self.torch.zeros((self.B, r, c), dtype=self.torch.float64, device=self.device)

    def identity(self, n):
        return self.torch.eye(n, dtype=self.torch.float64, device=self.device).expand(self.B, n, n).clone()

    def shape(self, A):
        return tuple(A.shape[-2:])

    def T(self, A):
        return A.transpose(-1, -2).clone()

    def scale(self, c, A):
        if isinstance(c, self.torch.Tensor) and c.dim() == 1:
            return A * c[:, None, None]
        return A * c

    def get(self, A, i, j):
        return A[..., i, j]

    def set(self, A, i, j, v):
        A[..., i, j] = v

    def to_float(self, x):
        return float(x.max()) if isinstance(x, self.torch.Tensor) and x.dim() else float(x)


def eval_coeff(expr, values: dict, be: Backend):
    """Evaluate an exact sympy expression with backend arithmetic: rationals stay
    exact on exact backends, and become balls/floats elsewhere."""
    expr = sp.sympify(expr)
    if expr.is_Rational:
        return be.num(expr)
    if expr.is_Symbol:
        if expr not in values:
            raise ValueError(f"no value for parameter {expr}")
        v = values[expr]
        return v if not isinstance(v, (sp.Basic, int, Fraction)) else be.num(sp.Rational(v))
    if expr.is_Add:
        acc = be.num(0)
        for a in expr.args:
            acc = acc + eval_coeff(a, values, be)
        return acc
    if expr.is_Mul:
        acc = be.num(1)
        for a in expr.args:
            acc = acc * eval_coeff(a, values, be)
        return acc
    if expr.is_Pow and expr.exp.is_Integer:
        base = eval_coeff(expr.base, values, be)
        e = int(expr.exp)
        acc = be.num(1)
        for _ in range(abs(e)):
            acc = acc * base
        return acc if e >= 0 else be.num(1) / acc
    raise ValueError(f"cannot evaluate {expr} exactly on {be.name}")

