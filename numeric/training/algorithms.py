"""In-context regression algorithms, batched in torch, at every prefix length.

Each algorithm sees, for prompt b and prefix length t = 0 .. P-1, the first t
examples (x_j, y_j), j < t, and predicts y_t at x_t: the same positions a
causal in-context model predicts.  Inputs are X (B, P, d) and y (B, P); every
algorithm returns predictions of shape (steps, B, P), one row per step count of
its grid (or (1, B, P) for OGD and OLS, which have no step count).

With S_t = sum_{j<t} x_j x_j' and b_t = sum_{j<t} y_j x_j the objective is the
quadratic f(w) = 1/2 w' S_t w - b_t' w (the least-squares loss without its 1/n).

* Newton (Newton-Schulz): M_0 = alpha S, M <- 2M - M S M, w_k = M_k b; the
  step is :func:`numeric.recursions.newton_step`, the one the proofs check.
  ``alpha`` is a rule of S: ``"2/spectral"`` (2 / ||S S'||_2),
  ``"1/frobenius"`` and ``"2/frobenius"`` (the Frobenius norm of S S'), or a
  number times 1/||S S'||_2.
* GD: w <- w - lr (S w - b) from w = 0 (:func:`numeric.recursions.gd_step`).
* OGD: one pass over the examples in order, w <- w + (y_j - x_j'w) x_j / |x_j|^2
  from w = 0; the prediction at t uses the first t updates.
* CG: conjugate gradient on S w = b from w = 0.
* BFGS: H_0 = I, and L-BFGS (memory m, H_0 = gamma I with gamma = s'y / y'y,
  the usual scaling), each with the exact line search of a quadratic
  (step = -g'p / p'Sp) or Armijo backtracking from the unit step (the usual
  quasi-Newton practice).  With exact line searches both produce the iterates
  of CG on a quadratic (Nazareth 1979 for BFGS; L-BFGS's directions stay
  conjugate in the same Krylov space), so the three coincide up to rounding
  (tested); the Armijo variants differ.
* OLS: the minimum-norm least-squares solution (pseudo-inverse of S_t).

A step whose denominator vanishes (the prefix is empty, or the iteration has
converged) is skipped: the iterate stays where it is.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..recursions import gd_step, hyperpower_step, newton_step


def _torch():
    import torch
    return torch


def prefix_moments(X, y, ridge: float = 0.0):
    """S (B, P, d, d) and b (B, P, d): the sums over the examples before each position (S + ridge I)."""
    torch = _torch()
    outer = X[..., :, None] * X[..., None, :]                     # (B, P, d, d)
    S = torch.cumsum(outer, 1) - outer
    if ridge:
        S = S + ridge * torch.eye(X.shape[-1], dtype=X.dtype, device=X.device)
    xy = X * y[..., None]
    b = torch.cumsum(xy, 1) - xy
    return S, b


def _predict(X, w):
    """x_t . w_t for each position: X (B, P, d), w (B, P, d) -> (B, P)."""
    return (X * w).sum(-1)


def _safe_div(a, b):
    torch = _torch()
    ok = b.abs() > 1e-300
    return torch.where(ok, a / torch.where(ok, b, torch.ones_like(b)), torch.zeros_like(a))


def _mv(S, v):
    return (S @ v[..., None])[..., 0]


def _dot(a, b):
    return (a * b).sum(-1)


def newton_alpha(S, rule):
    """alpha for each prefix: the rules of the paper's eq. (5) and of its code."""
    torch = _torch()
    SS = S @ S.transpose(-1, -2)
    if rule == "2/spectral" or isinstance(rule, (int, float)):
        top = torch.linalg.eigvalsh(SS)[..., -1]
        c = 2.0 if rule == "2/spectral" else float(rule)
        return _safe_div(torch.full_like(top, c), top)
    if rule == "1/(max+min)":          # Giannou et al.'s code: 1 / (lambda_max(SS') + lambda_min(SS'))
        ev = torch.linalg.eigvalsh(SS)
        return _safe_div(torch.ones_like(ev[..., 0]), ev[..., -1] + ev[..., 0])
    fro = torch.linalg.matrix_norm(SS, ord="fro")
    if rule == "1/frobenius":
        return _safe_div(torch.ones_like(fro), fro)
    if rule == "2/frobenius":
        return _safe_div(torch.full_like(fro, 2.0), fro)
    raise ValueError(f"unknown Newton alpha rule {rule!r}")


class _T:
    """A torch tensor with ``*`` as matrix product (scalars scale): the operator protocol of
    :mod:`numeric.recursions`, so the recursions' one step formula runs on batches."""
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __mul__(self, o):
        return _T(self.v @ o.v) if isinstance(o, _T) else _T(self.v * o)

    def __rmul__(self, c):
        return _T(c * self.v)

    def __add__(self, o):
        return _T(self.v + o.v)

    def __sub__(self, o):
        return _T(self.v - o.v)


def newton(X, y, steps, alpha="2/spectral", ridge=0.0, order=2):
    """Newton predictions for each k in ``steps`` (k = 0 is M_0 = alpha S); ``order`` > 2: the hyperpower
    method of that order (:func:`numeric.recursions.hyperpower_step`)."""
    torch = _torch()
    S, b = prefix_moments(X, y, ridge)
    a = newton_alpha(S, alpha)
    M, St = _T(a[..., None, None] * S), _T(S)
    out, k = [], 0
    want = sorted(set(steps))
    for target in want:
        while k < target:
            M = newton_step(M, St) if order == 2 else hyperpower_step(M, St, order)
            k += 1
        out.append(_predict(X, _mv(M.v, b)))
    order = [want.index(s) for s in steps]
    return torch.stack([out[i] for i in order])


def gd(X, y, steps, lr=0.01, ridge=0.0):
    torch = _torch()
    S, b = prefix_moments(X, y, ridge)
    w = torch.zeros_like(b)
    St, bt = _T(S), _T(b[..., None])
    wt = _T(w[..., None])
    out, k = {}, 0
    for target in sorted(set(steps)):
        while k < target:
            wt = gd_step(wt, St, bt, lr)
            k += 1
        out[target] = _predict(X, wt.v[..., 0])
    return torch.stack([out[s] for s in steps])


def ogd(X, y):
    """Online GD with step 1/|x_j|^2 (the paper's definition), one pass; (1, B, P)."""
    torch = _torch()
    B, P, d = X.shape
    w = X.new_zeros(B, d)
    preds = []
    for t in range(P):
        x = X[:, t]
        preds.append(_dot(x, w))
        eta = _safe_div(torch.ones_like(x[:, 0]), _dot(x, x))
        w = w + (eta * (y[:, t] - _dot(x, w)))[:, None] * x
    return torch.stack(preds, 1)[None]


def ols(X, y, ridge=0.0):
    S, b = prefix_moments(X, y, ridge)
    w = _mv(_pinv_psd(S), b)
    return _predict(X, w)[None]


def _pinv_psd(S):
    """The pseudo-inverse of symmetric PSD matrices, with a relative rank cut."""
    torch = _torch()
    lam, U = torch.linalg.eigh(S)
    cut = lam[..., -1:].abs() * S.shape[-1] * torch.finfo(S.dtype).eps * 10
    inv = torch.where(lam > cut, 1.0 / torch.where(lam > cut, lam, torch.ones_like(lam)), torch.zeros_like(lam))
    return (U * inv[..., None, :]) @ U.transpose(-1, -2)


def cg(X, y, steps, ridge=0.0):
    torch = _torch()
    S, b = prefix_moments(X, y, ridge)
    w = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = _dot(r, r)
    r0 = rr.clone()
    out, k = {}, 0
    for target in sorted(set(steps)):
        while k < target:
            Sp = _mv(S, p)
            a = _safe_div(rr, _dot(p, Sp)) * _active(r, r0)
            w = w + a[..., None] * p
            r = r - a[..., None] * Sp
            rr_new = _dot(r, r)
            beta = _safe_div(rr_new, rr)
            p = r + beta[..., None] * p
            rr = rr_new
            k += 1
        out[target] = _predict(X, w)
    return torch.stack([out[s] for s in steps])


_CONVERGED = 1e-26          # |g|^2 <= this * |g_0|^2: converged, further steps are rounding noise


def _active(g, g0sq):
    """1 where the iteration has not converged (a step would act on more than rounding), else 0."""
    return (_dot(g, g) > _CONVERGED * g0sq).to(g.dtype)


def _exact_step(S, g, p):
    """The exact line-search step along p for the quadratic: -g'p / p'Sp."""
    return _safe_div(-_dot(g, p), _dot(p, _mv(S, p)))


def _armijo_step(S, g, p, c: float = 1e-4, halvings: int = 60):
    """Backtracking from the unit step: the largest 2^-j with f(w + a p) <= f(w) + c a g'p (Armijo), read
    off the quadratic's closed form f(w + a p) - f(w) = a g'p + a^2 p'Sp / 2 for every j at once."""
    torch = _torch()
    gp, pSp = _dot(g, p), _dot(p, _mv(S, p))
    a = 0.5 ** torch.arange(halvings + 1, dtype=g.dtype, device=g.device)               # (J,)
    ok = a * gp[..., None] + 0.5 * a * a * pSp[..., None] <= c * a * gp[..., None]
    first = torch.where(ok.any(-1), ok.float().argmax(-1), torch.full_like(gp, halvings, dtype=torch.long))
    step = a[first]
    return torch.where(gp < 0, step, torch.zeros_like(step))


def _step(S, g, p, line_search):
    if line_search == "exact":
        return _exact_step(S, g, p)
    if line_search == "armijo":
        return _armijo_step(S, g, p)
    raise ValueError(f"unknown line search {line_search!r}")


def _move(S, b, w, g, g0, p, line_search):
    """One quasi-Newton move along p: the line-searched step (none once converged), the new iterate and
    gradient, and the curvature pair (s, y, rho = 1/y's; rho 0 for a null step)."""
    torch = _torch()
    a = _step(S, g, p, line_search) * _active(g, g0)
    s = a[..., None] * p
    w = w + s
    g_new = _mv(S, w) - b
    yv = g_new - g
    rho = _safe_div(torch.ones_like(a), _dot(yv, s)) * (a != 0)
    return w, g_new, s, yv, rho


def bfgs(X, y, steps, ridge=0.0, line_search="exact"):
    """BFGS with H_0 = I; exact line searches, or Armijo backtracking from the unit step."""
    torch = _torch()
    S, b = prefix_moments(X, y, ridge)
    d = X.shape[-1]
    w = torch.zeros_like(b)
    g = -b
    g0 = _dot(g, g)
    H = torch.eye(d, dtype=X.dtype, device=X.device).expand(*b.shape[:-1], d, d).clone()
    I = torch.eye(d, dtype=X.dtype, device=X.device)
    out, k = {}, 0
    for target in sorted(set(steps)):
        while k < target:
            w, g_new, s, yv, rho = _move(S, b, w, g, g0, -_mv(H, g), line_search)
            A = I - rho[..., None, None] * (s[..., :, None] * yv[..., None, :])
            H = A @ H @ A.transpose(-1, -2) + rho[..., None, None] * (s[..., :, None] * s[..., None, :])
            g = g_new
            k += 1
        out[target] = _predict(X, w)
    return torch.stack([out[s_] for s_ in steps])


def lbfgs(X, y, steps, memory=5, scale=True, ridge=0.0, line_search="exact"):
    """L-BFGS (two-loop recursion) with ``memory`` pairs, H_0 = gamma I (gamma = s'y/y'y of the newest
    pair; 1 before the first, or always 1 with ``scale=False``); exact or Armijo line searches."""
    torch = _torch()
    S, b = prefix_moments(X, y, ridge)
    w = torch.zeros_like(b)
    g = -b
    g0 = _dot(g, g)
    mem: list = []
    out, k = {}, 0
    for target in sorted(set(steps)):
        while k < target:
            q = g.clone()
            alphas = []
            for s, yv, rho in reversed(mem):
                a_i = rho * _dot(s, q)
                q = q - a_i[..., None] * yv
                alphas.append(a_i)
            if mem and scale:
                s, yv, _ = mem[-1]
                gamma = _safe_div(_dot(s, yv), _dot(yv, yv))
            else:
                gamma = torch.ones_like(g[..., 0])
            r = gamma[..., None] * q
            for (s, yv, rho), a_i in zip(mem, reversed(alphas)):
                beta = rho * _dot(yv, r)
                r = r + (a_i - beta)[..., None] * s
            w, g_new, s, yv, rho = _move(S, b, w, g, g0, -r, line_search)
            mem.append((s, yv, rho))
            if len(mem) > memory:
                mem.pop(0)
            g = g_new
            k += 1
        out[target] = _predict(X, w)
    return torch.stack([out[s_] for s_ in steps])


@dataclass(frozen=True)
class Algorithm:
    """One algorithm with its settings and step grid, as the report names it."""
    key: str                       # e.g. "newton-code"
    label: str                     # e.g. "Iterative Newton, alpha = 1/||SS'||_F (the paper's code)"
    kind: str                      # newton | gd | ogd | cg | bfgs | lbfgs | ols
    grid: tuple = (1,)
    options: tuple = ()            # ((name, value), ...)
    log_grid: bool = False         # the steps are read on a log scale (fits use log2)

    def run(self, X, y, ridge: float = 0.0):
        """Predictions (len(grid), B, P); ``ridge`` adds lambda I to S (all but GD and OGD)."""
        opts = dict(self.options)
        if self.kind == "newton":
            return newton(X, y, self.grid, opts.get("alpha", "2/spectral"), ridge, opts.get("order", 2))
        if self.kind == "gd":
            return gd(X, y, self.grid, opts.get("lr", 0.01))
        if self.kind == "cg":
            return cg(X, y, self.grid, ridge)
        if self.kind == "bfgs":
            return bfgs(X, y, self.grid, ridge, opts.get("line_search", "exact"))
        if self.kind == "lbfgs":
            return lbfgs(X, y, self.grid, opts.get("memory", 5), ridge=ridge,
                         line_search=opts.get("line_search", "exact"))
        if self.kind == "ogd":
            return ogd(X, y)
        if self.kind == "ols":
            return ols(X, y, ridge)
        raise ValueError(f"unknown algorithm kind {self.kind!r}")


def damped_newton_logistic(X, y, mu: float, steps: int, w0=None):
    """Damped Newton on f(w) = (1/n) sum log(1 + exp(-y_i x_i'w)) + mu/2 |w|^2, batched: X (B, n, d),
    y (B, n) in {-1, +1}; returns the iterates (steps + 1, B, d) from w0 (default 0), each step
    w <- w - eta H^-1 g with eta = 2 sqrt(mu) / (2 sqrt(mu) + lambda), lambda^2 = g'H^-1 g."""
    torch = _torch()
    B, n, d = X.shape
    w = X.new_zeros(B, d) if w0 is None else w0
    out = [w]
    eye = torch.eye(d, dtype=X.dtype, device=X.device)
    for _ in range(steps):
        z = (X * w[:, None, :]).sum(-1)
        p = torch.sigmoid(-y * z)                                   # sigma(-y z)
        s = torch.sigmoid(z) * torch.sigmoid(-z)                    # sigma'(z)
        g = -(X * (y * p)[..., None]).sum(1) / n + mu * w
        H = torch.einsum("bni,bnj,bn->bij", X, X, s) / n + mu * eye
        v = torch.linalg.solve(H, g[..., None])[..., 0]
        lam = (g * v).sum(-1).clamp_min(0).sqrt()
        w = w - (2 * mu ** 0.5 / (2 * mu ** 0.5 + lam))[:, None] * v
        out.append(w)
    return torch.stack(out)


def logistic_loss(X, y, w, mu: float):
    """f(w) per prompt: X (B, n, d), y (B, n), w (B, d)."""
    torch = _torch()
    z = (X * w[:, None, :]).sum(-1)
    return torch.nn.functional.softplus(-y * z).mean(-1) + 0.5 * mu * (w * w).sum(-1)
