"""Metrics that compare a trained model with a construction (or an algorithm).

All take torch tensors and return floats (or float tensors per task).  The
metric definitions are von Oswald et al.'s and Ahn et al.'s where they have
one (the catalogue cites them); each is a plain formula here.
"""
from __future__ import annotations

import math


def mc_mean(values) -> tuple[float, float]:
    """(mean, standard error of the mean) of per-task values: the Monte Carlo error of an evaluation."""
    v = values.detach().double().flatten().cpu()
    n = v.numel()
    return float(v.mean()), float(v.std(unbiased=True) / math.sqrt(n)) if n > 1 else float("nan")


def sensitivity(fn, X, y, xq):
    """d y_hat / d x_q per task (B, d): the implied linear model at the query."""
    import torch
    xq = xq.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = fn(X, y, xq)
        (g,) = torch.autograd.grad(out.sum(), xq)
    return g


def cosine(a, b, eps: float = 1e-8):
    """Per-task cosine of two (B, d) batches, with ``eps`` added to the norms (von Oswald et al.'s)."""
    return (a * b).sum(-1) / ((a.norm(dim=-1) + eps) * (b.norm(dim=-1) + eps))


def rel_distance(A, B) -> float:
    """||A - B||_F / ||B||_F."""
    return float((A - B).norm() / B.norm())


def rel_distance_mod_scale(A, B) -> tuple[float, float]:
    """(min_c ||c A - B||_F / ||B||_F, the best c): the distance modulo a scale."""
    c = float((A * B).sum() / (A * A).sum())
    return float((c * A - B).norm() / B.norm()), c


def product_distance(heads, ref_heads) -> float:
    """The relative distance of the products W_KQ (x) W_PV of one-head layers, summed over heads:
    invariant under the rescaling (c W_KQ, W_PV / c), which leaves a layer unchanged.
    ||A (x) B - C (x) D||^2 = |A|^2 |B|^2 + |C|^2 |D|^2 - 2 <A, C><B, D>."""
    import torch
    num = den = 0.0
    for (K, P), (K0, P0) in zip(heads, ref_heads):
        K, P, K0, P0 = (t.detach() for t in (K, P, K0, P0))
        if K.numel() * P.numel() <= 4_000_000:       # the Kronecker products themselves: no cancellation
            num += float((torch.kron(K, P) - torch.kron(K0, P0)).pow(2).sum())
        else:
            a = float((K * K).sum() * (P * P).sum())
            b = float((K0 * K0).sum() * (P0 * P0).sum())
            num += max(a + b - 2 * float((K * K0).sum() * (P * P0).sum()), 0.0)
        den += float((K0 * K0).sum() * (P0 * P0).sum())
    return math.sqrt(num / den)


def normalised_products(K, P, diag_rows: slice):
    """von Oswald et al.'s normalisation: divide W_KQ by m, the mean of its diagonal over the x rows,
    and multiply W_PV by m."""
    K, P = K.detach(), P.detach()
    m = float(K[diag_rows, diag_rows].diagonal().mean())
    return K / m, P * m, m


def distance_to_identity(M) -> float:
    """Ahn et al.'s ||M - (tr M / d) I||_F / ||M||_F (0 exactly when M is a multiple of I)."""
    import torch
    dd = M.shape[0]
    return float((M - torch.trace(M) / dd * torch.eye(dd, dtype=M.dtype)).norm() / M.norm())


def least_squares_scale(pred, base) -> float:
    """The c minimising mean (pred - c base)^2: a line search solved exactly."""
    return float((pred * base).sum() / (base * base).sum())


def t_interval(values, level: float = 0.95) -> tuple[float, float]:
    """(mean, half-width) of Student's t confidence interval over seeds (half-width nan for one seed)."""
    vals = [float(v) for v in values]
    k = len(vals)
    mean = sum(vals) / k
    if k < 2:
        return mean, float("nan")
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (k - 1))
    q = t_quantile(0.5 + level / 2, k - 1)
    return mean, q * sd / math.sqrt(k)


def t_quantile(p: float, dof: int) -> float:
    """The p-quantile of Student's t with ``dof`` degrees of freedom (mpmath root of the CDF)."""
    import mpmath

    def cdf(t):
        x = dof / (dof + t * t)
        tail = mpmath.betainc(dof / 2, 0.5, 0, x, regularized=True) / 2
        return 1 - tail if t > 0 else tail

    return float(mpmath.findroot(lambda t: cdf(t) - p, 2.0, tol=1e-20))
