"""Iterative Newton (Newton-Schulz), GD and preconditioned GD, written once
against the backend interface."""
from __future__ import annotations

from .backends import Backend


def moments(X, y, be: Backend):
    """S = X'X and b = X'y as backend matrices."""
    Xm = be.matrix(X)
    ym = be.matrix([[v] for v in y])
    return be.mm(be.T(Xm), Xm), be.mm(be.T(Xm), ym)


def newton(S, alpha, k: int, be: Backend) -> list:
    """M_0 = alpha S, M_{j+1} = 2 M_j - M_j S M_j; returns [M_0, ..., M_k]."""
    M = be.scale(alpha, S)
    out = [M]
    two = be.num(2)
    for _ in range(k):
        M = be.sub(be.scale(two, M), be.mm(M, be.mm(S, M)))
        out.append(M)
    return out


def gd(S, b, eta, k: int, be: Backend, P=None) -> list:
    """w_0 = 0, w_{j+1} = w_j - eta P (S w_j - b) (P = I: plain GD on the
    unnormalised loss 1/2 |y - Xw|^2); returns [w_0, ..., w_k]."""
    w = be.zeros(be.shape(S)[0], 1)
    out = [w]
    for _ in range(k):
        g = be.sub(be.mm(S, w), b)
        if P is not None:
            g = be.mm(P, g)
        w = be.sub(w, be.scale(eta, g))
        out.append(w)
    return out


def predict(x_test, w, be: Backend):
    z = be.matrix([list(x_test)])
    return be.mm(z, w)[0, 0]
