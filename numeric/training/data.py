"""In-context linear regression prompts as torch batches.

A :class:`Distribution` is frozen data: the law of the inputs (Gaussian with a
covariance, or uniform on [-alpha, alpha]^d), the prior of the task vector
w* (N(0, I) or N(0, Sigma^{-1}), times a scale), and the label noise.  The
catalogue names each setting and says which paper (or paper's code) it comes
from; this module knows none of them.

    x_i, x_q ~ the input law,   y_i = <w*, x_i> + eps_i,   y_q = <w*, x_q> (+ eps_q)
"""
from __future__ import annotations

import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class Distribution:
    label: str                              # what the report calls it
    inputs: str = "gaussian"                # "gaussian" or "uniform"
    alpha: float = 1.0                      # uniform inputs on [-alpha, alpha]
    cov: tuple | None = None                # Gaussian covariance Sigma (rows), None for I
    prior: str = "identity"                 # w* ~ N(0, w_scale I) or N(0, w_scale Sigma^{-1}) ("inverse")
    w_scale: float = 1.0
    noise: float = 0.0                      # label noise standard deviation sigma
    query_noise: bool = False               # the query's label also noisy
    spectrum: tuple | None = None           # Sigma's eigenvalues, in a random orthonormal eigenbasis U
    basis: str = "sequence"                 # with a spectrum: a fresh U per prompt ("sequence") or per batch

    def __post_init__(self):
        if self.inputs not in ("gaussian", "uniform"):
            raise ValueError(f"inputs must be 'gaussian' or 'uniform', not {self.inputs!r}")
        if self.prior not in ("identity", "inverse"):
            raise ValueError(f"prior must be 'identity' or 'inverse', not {self.prior!r}")
        if self.inputs == "uniform" and (self.cov is not None or self.prior != "identity"):
            raise ValueError("uniform inputs take no covariance and the identity prior")
        if self.spectrum is not None and (self.cov is not None or self.prior != "identity"
                                          or self.inputs != "gaussian"):
            raise ValueError("a random-basis spectrum takes Gaussian inputs, no covariance, the identity prior")
        if self.basis not in ("sequence", "batch"):
            raise ValueError(f"basis must be 'sequence' or 'batch', not {self.basis!r}")

    def sigma(self, d: int):
        """Sigma as a float64 tensor (I when none is given)."""
        import torch
        if self.cov is None:
            return torch.eye(d, dtype=torch.float64)
        S = torch.tensor(self.cov, dtype=torch.float64)
        if S.shape != (d, d):
            raise ValueError(f"{self.label}: the covariance is {tuple(S.shape)}, the model's d is {d}")
        return S

    def input_second_moment(self, d: int):
        """E[x x'] (Sigma, or alpha^2/3 I for uniform inputs; mean(spectrum) I for a random basis)."""
        import torch
        if self.spectrum is not None:
            return torch.eye(d, dtype=torch.float64) * (sum(self.spectrum) / len(self.spectrum))
        if self.inputs == "uniform":
            return torch.eye(d, dtype=torch.float64) * self.alpha ** 2 / 3
        return self.sigma(d)

    def describe(self) -> str:
        return self.label


@functools.lru_cache(maxsize=64)
def _root_of(cov: tuple | None, d: int):
    """(L, L^{-T}) with L L' = Sigma, through the eigendecomposition (Sigma symmetric positive definite);
    computed once per covariance."""
    import torch
    S = torch.eye(d, dtype=torch.float64) if cov is None else torch.tensor(cov, dtype=torch.float64)
    lam, U = torch.linalg.eigh(S)
    if bool((lam <= 0).any()):
        raise ValueError("the covariance is not positive definite")
    return U * lam.sqrt(), U / lam.sqrt()


def sample(dist: Distribution, batch: int, d: int, n: int, generator, device="cpu", dtype=None):
    """(X (B, n, d), y (B, n), xq (B, d), yq (B)) on ``device``; every draw comes from ``generator``."""
    import torch
    dtype = dtype or torch.float64
    g = generator
    shape = (batch, n + 1, d)
    if dist.inputs == "uniform":
        Z = (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * dist.alpha
        W = torch.randn(batch, d, generator=g, dtype=torch.float64) * dist.w_scale ** 0.5
    else:
        dist.sigma(d)                                        # checks the covariance's shape
        Z = torch.randn(shape, generator=g, dtype=torch.float64)
        G = torch.randn(batch, d, generator=g, dtype=torch.float64) * dist.w_scale ** 0.5
        W = G
        if dist.spectrum is not None:                        # x = U diag(sqrt(lambda)) z, U Haar-random
            if len(dist.spectrum) != d:
                raise ValueError(f"{dist.label}: the spectrum has {len(dist.spectrum)} values, d is {d}")
            m = batch if dist.basis == "sequence" else 1
            U = haar_orthogonal(m, d, g)
            root = torch.tensor(dist.spectrum, dtype=torch.float64).sqrt()
            Z = (Z * root) @ U.transpose(-1, -2)
        if dist.cov is not None:                             # x = L z, w* = L^{-T} g for the inverse prior
            L, Linv_t = _root_of(dist.cov, d)
            Z = Z @ L.T
            if dist.prior == "inverse":
                W = G @ Linv_t.T
    Y = (Z @ W[:, :, None])[..., 0]
    if dist.noise:
        eps = torch.randn(batch, n + 1, generator=g, dtype=torch.float64) * dist.noise
        if not dist.query_noise:
            eps[:, n] = 0
        Y = Y + eps
    Z, Y = Z.to(device=device, dtype=dtype), Y.to(device=device, dtype=dtype)
    return Z[:, :n], Y[:, :n], Z[:, n], Y[:, n]


def haar_orthogonal(m: int, d: int, generator):
    """m orthogonal d x d matrices, Haar-distributed (QR of a Gaussian matrix, signs fixed by R's diagonal)."""
    import torch
    G = torch.randn(m, d, d, generator=generator, dtype=torch.float64)
    Q, R = torch.linalg.qr(G)
    return Q * torch.sign(torch.diagonal(R, dim1=-2, dim2=-1))[:, None, :]


def prompts(dist: Distribution, batch: int, d: int, points: int, generator, device="cpu", d_active: int | None = None,
            dtype=None):
    """Garg et al.'s training prompts: xs (B, points, d) and ys (B, points), every point labelled; with
    ``d_active`` < d only the first d_active coordinates are drawn (the rest 0: their curriculum)."""
    import torch
    da = d if d_active is None else d_active
    X, y, xq, yq = sample(dist, batch, da, points - 1, generator, "cpu")
    xs = torch.cat([X, xq[:, None]], 1)
    ys = torch.cat([y, yq[:, None]], 1)
    if da < d:
        xs = torch.cat([xs, xs.new_zeros(batch, points, d - da)], -1)
    dtype = dtype or torch.float32
    return xs.to(device=device, dtype=dtype), ys.to(device=device, dtype=dtype)


def seeded(seed: int, stream: str):
    """A CPU generator for one named stream of one seed (init, train, eval never share draws)."""
    import hashlib

    import torch
    h = int.from_bytes(hashlib.sha256(f"{stream}:{seed}".encode()).digest()[:8], "little") & ((1 << 63) - 1)
    return torch.Generator().manual_seed(h)
