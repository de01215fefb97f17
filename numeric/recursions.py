"""Iterative Newton (Newton-Schulz), GD and preconditioned GD, each written
once.  The step formulas use only ``+``, ``-``, scalar ``*`` and matrix ``*``,
so the same function runs on noncommutative polynomials (the symbolic
lemmas), sympy matrices (exact checks) and backend matrices wrapped in
:class:`~numeric.backends.Mat` (balls, mpmath, float64)."""
from __future__ import annotations

from .backends import Backend, Mat


def newton_step(M, S):
    """One Iterative Newton step: M <- 2M - M S M."""
    return 2 * M - M * S * M


def hyperpower_step(M, S, order: int = 2):
    """One step of the order-p hyperpower method for S^-1: M <- M sum_{m=0}^{p-1} (-1)^m C(p, m+1) (S M)^m,
    so that I - S M_new = (I - S M)^p; order 2 is Newton-Schulz (:func:`newton_step`)."""
    from math import comb
    if order == 2:
        return newton_step(M, S)
    acc, term = order * M, M
    for m in range(1, order):
        term = term * S * M
        acc = acc + ((-1) ** m * comb(order, m + 1)) * term
    return acc


def gd_step(w, S, b, eta, P=None):
    """One GD step on 1/2 |y - Xw|^2 (gradient S w - b), preconditioned by P."""
    g = S * w - b
    return w - eta * (P * g if P is not None else g)


def gd_rows_step(W, S, C, eta):
    """One GD step on L(W) = 1/2 sum_i |W x_i - y_i|^2 for a matrix of rows W
    (outputs x inputs): the gradient is W S - C with S = X'X, C = Y'X."""
    return W - eta * (W * S - C)


def moments(X, y, be: Backend):
    """S = X'X and b = X'y as backend matrices."""
    Xm = be.matrix(X)
    ym = be.matrix([[v] for v in y])
    return be.mm(be.T(Xm), Xm), be.mm(be.T(Xm), ym)


def newton(S, alpha, k: int, be: Backend) -> list:
    """M_0 = alpha S, then k Newton steps; returns [M_0, ..., M_k]."""
    Sw = Mat(be, S)
    M = alpha * Sw
    out = [M.v]
    for _ in range(k):
        M = newton_step(M, Sw)
        out.append(M.v)
    return out


def gd(S, b, eta, k: int, be: Backend, P=None) -> list:
    """w_0 = 0, then k (preconditioned) GD steps; returns [w_0, ..., w_k]."""
    Sw, bw = Mat(be, S), Mat(be, b)
    Pw = Mat(be, P) if P is not None else None
    w = Mat(be, be.zeros(be.shape(S)[0], 1))
    out = [w.v]
    for _ in range(k):
        w = gd_step(w, Sw, bw, eta, Pw)
        out.append(w.v)
    return out


def predict(x_test, w, be: Backend):
    z = be.matrix([list(x_test)])
    return be.get(be.mm(z, w), 0, 0)
