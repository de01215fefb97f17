"""Prompts: sampled, small exact, or loaded from a user's .npz file."""
from __future__ import annotations

import math
import random
from fractions import Fraction

from .forward import Data


class DataError(ValueError):
    """Bad user data: the CLI turns it into a one-line message and exit 2."""


def gaussian(d: int, n: int, seed: int) -> Data:
    """x_i ~ N(0, I_d), w ~ N(0, I_d), y = Xw (noiseless), x_test ~ N(0, I_d); float64
    values, which every backend reads exactly."""
    import numpy as np
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d)
    return Data(X.tolist(), (X @ w).tolist(), rng.standard_normal(d).tolist())


def small_integers(d: int, n: int, rng: random.Random, lo: int = -2, hi: int = 2, m: int = 1) -> Data:
    """Small integer data; ``m > 1`` gives vector labels y_j of size m."""
    r = lambda: Fraction(rng.randint(lo, hi))
    X = [[r() for _ in range(d)] for _ in range(n)]
    y = [r() for _ in range(n)] if m == 1 else [[r() for _ in range(m)] for _ in range(n)]
    return Data(X, y, [r() for _ in range(d)])


def load_npz(path: str) -> Data:
    import numpy as np
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise DataError(f"data file not found: {path}") from None
    except Exception as e:  # zip errors, pickles, truncated files
        raise DataError(f"data file {path} is not a readable .npz file ({type(e).__name__})") from None
    missing = [k for k in ("X", "y", "x_test") if k not in arrays]
    if missing:
        raise DataError(f"data file {path} lacks array(s) {', '.join(missing)} (needs X (n x d), y (n), x_test (d))")
    return from_arrays(arrays["X"], arrays["y"], arrays["x_test"], f"data file {path}")


def from_arrays(X, y, x_test, where: str = "data") -> Data:
    """A prompt from arrays (numpy, torch tensors, nested lists): X (n x d), y (n), x_test (d), checked."""
    import numpy as np

    def arr(a, name):
        if hasattr(a, "detach"):            # a torch tensor
            a = a.detach().cpu().numpy()
        try:
            return np.asarray(a)
        except Exception:
            raise DataError(f"{where}: {name} is not an array") from None

    X, y, xt = arr(X, "X"), arr(y, "y"), arr(x_test, "x_test")
    for name, a in (("X", X), ("y", y), ("x_test", xt)):
        if a.dtype.kind not in "iuf":
            raise DataError(f"{where}: array {name} is not numeric (dtype {a.dtype})")
    if X.ndim != 2:
        raise DataError(f"{where}: X must be 2-D (n x d), got shape {X.shape}")
    n, d = X.shape
    if n < 1 or d < 1:
        raise DataError(f"{where}: X has shape {X.shape}; need n >= 1 and d >= 1")
    if y.shape != (n,):
        raise DataError(f"{where}: y has shape {y.shape}, expected ({n},) to match X {X.shape}")
    if xt.shape != (d,):
        raise DataError(f"{where}: x_test has shape {xt.shape}, expected ({d},) to match X {X.shape}")
    for name, a in (("X", X), ("y", y), ("x_test", xt)):
        bad = ~np.isfinite(a.astype(float))
        if bad.any():
            raise DataError(f"{where}: array {name} contains NaN or infinite values")
    return Data(X.astype(float).tolist(), y.astype(float).tolist(), xt.astype(float).tolist())


def exact(v):
    """A number read exactly as a sympy Rational (a float is a dyadic rational)."""
    import sympy as sp
    if isinstance(v, float):
        v = Fraction(v)
    if isinstance(v, Fraction):
        return sp.Rational(v.numerator, v.denominator)
    return sp.Rational(v)


def fraction(v) -> Fraction:
    """A number read exactly as a Fraction (a float is a dyadic rational; sympy and flint rationals too)."""
    if isinstance(v, (float, int, Fraction)):
        return Fraction(v)
    if hasattr(v, "p") and hasattr(v, "q"):       # sympy Rational, flint fmpq
        return Fraction(int(v.p), int(v.q))
    return Fraction(str(exact(v)))


def exact_moments(data: Data):
    """S = X'X and b = X'y as exact sympy matrices (multiplied exactly by python-flint's fmpq_mat, which is
    some 50 times faster than sympy's own product at d = 100, n = 200)."""
    import sympy as sp
    from flint import fmpq, fmpq_mat

    def q(v):
        f = fraction(v)
        return fmpq(f.numerator, f.denominator)

    def back(M):
        return sp.Matrix([[sp.Rational(int(M[i, j].p), int(M[i, j].q)) for j in range(M.ncols())]
                          for i in range(M.nrows())])
    X = fmpq_mat([[q(v) for v in r] for r in data.X])
    vec = bool(data.y) and isinstance(data.y[0], (list, tuple))   # vector labels: b = X'Y (d x m)
    Y = fmpq_mat([[q(v) for v in r] for r in data.y] if vec else [[q(v)] for v in data.y])
    Xt = X.transpose()
    return back(Xt * X), back(Xt * Y)


def is_finite(data: Data) -> bool:
    vals = [v for r in data.X for v in r] + list(data.y) + list(data.x_test)
    return all(math.isfinite(float(v)) for v in vals)
