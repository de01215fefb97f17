"""Step-size policies for Newton-Schulz's M_0 = alpha S, as exact rationals.

Every backend reads an exact rational exactly, so network and recursion use
the very same alpha.  Irrational policies (spectral norms) are rounded at the
run's precision, downwards where that keeps alpha inside the convergence range.
"""
from __future__ import annotations

from fractions import Fraction

import sympy as sp

from .data import exact_moments
from .forward import Data

POLICIES = {
    "spectral": ("1/||SS'||_2", "1/lambda_max(S)^2, rounded down: every eigenvalue of M_0 S lies in (0, 1]"),
    "double-spectral": ("2/||SS'||_2", "2/lambda_max(S)^2: the top eigenvalue of M_0 S is 2, the boundary of "
                                       "Newton-Schulz's convergence range (0, 2)"),
    "frobenius": ("1/||SS'||_F", "1/sqrt(tr S^4) <= 1/lambda_max(S)^2"),
    "trace": ("1/tr(S^2)", "exact and rational, <= 1/lambda_max(S)^2"),
}


class AlphaError(ValueError):
    pass


def gram(data: Data) -> sp.Matrix:
    return exact_moments(data)[0]


def value(policy: str, data: Data, bits: int) -> sp.Rational:
    """alpha for ``policy`` (a name in POLICIES or a positive number) on ``data``."""
    import mpmath
    if policy not in POLICIES:
        q = Fraction(policy)
        return sp.Rational(q.numerator, q.denominator)
    S = gram(data)
    S2 = S * S
    if S2.trace() == 0:
        raise AlphaError("the data has X = 0, so S = X'X = 0 and alpha (which scales S) is undefined")
    if policy == "trace":
        return 1 / S2.trace()
    with mpmath.mp.workprec(bits + 16):
        if policy == "frobenius":
            t = S2 * S2
            tr = t.trace()
            v = 1 / mpmath.sqrt(mpmath.mpf(int(tr.p)) / int(tr.q))
        else:
            Sm = mpmath.matrix([[mpmath.mpf(int(e.p)) / int(e.q) for e in row] for row in S.tolist()])
            top = max(mpmath.eigsy(Sm, eigvals_only=True))
            v = (2 if policy == "double-spectral" else 1) / top**2
            if policy == "spectral":
                v *= 1 - mpmath.mpf(2) ** (8 - bits)
        man, exp = mpmath.mpf(v).man_exp
    return sp.Rational(man) * sp.Rational(2) ** exp


def batch_value(policy: str, S):
    """alpha for every problem of a batch: S is a (B, d, d) float64 tensor."""
    import torch
    if policy not in POLICIES:
        return torch.full(S.shape[:1], float(Fraction(policy)), dtype=S.dtype, device=S.device)
    S2 = S @ S
    if policy == "trace":
        return 1 / S2.diagonal(dim1=-2, dim2=-1).sum(-1)
    if policy == "frobenius":
        return 1 / torch.linalg.matrix_norm(S2)
    top = torch.linalg.eigvalsh(S)[..., -1]
    if policy == "spectral":
        return (1.0 - 2.0**-40) / top**2     # rounded down, as in value()
    return 2.0 / top**2
