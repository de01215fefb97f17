"""Newton-Schulz support shared by the Newton theorems of the catalogue: the
step-size policies for M_0 = alpha S (as exact rationals) and the convergence
theory of Iterative Newton.  It lives beside the theorems that need it; the
engines (symbolic/, numeric/) know no step size by name.

Every backend reads an exact rational exactly, so network and recursion use
the very same alpha.  Irrational policies (spectral norms) are rounded at the
run's precision, downwards where that keeps alpha inside the convergence range.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import sympy as sp

from numeric.backends import ArbBackend, ExactBackend, MPBackend
from numeric.checks import _up, spectrum
from numeric.data import exact_moments
from numeric.forward import Data
from numeric.recursions import moments, newton, newton_step
from symbolic.lemmas import Outcome
from symbolic.mathtext import math_text, value_text
from theorems.kinds import kind

POLICIES = {
    "spectral": ("1/||SS'||_2", "1/lambda_max(S)^2, rounded down: every eigenvalue of M_0 S lies in (0, 1]"),
    "double-spectral": ("2/||SS'||_2", "2/lambda_max(S)^2: the top eigenvalue of M_0 S is 2, the boundary of "
                                       "Newton-Schulz's convergence range (0, 2)"),
    "frobenius": ("1/||SS'||_F", "1/sqrt(tr S^4) <= 1/lambda_max(S)^2"),
    "trace": ("1/tr(S^2)", "exact and rational, <= 1/lambda_max(S)^2"),
}


def newton_schulz_layer(name: str, X: str, M: str, I: str, cite: str, note: str):
    """One Newton-Schulz step X <- 2X - X M' X on matrix tokens (token j holding X e_j, M e_j, e_j in blocks X, M,
    I), one linear-attention layer of two heads: + sum_j X e_j e_j' e_t = X e_t, and
    - sum_j X e_j (M e_j)' X e_t = -X M' X e_t (= -X M X for a symmetric M)."""
    from symbolic.layers import Attention, Layer
    return Layer(name, (Attention.linear_heads(({(I, I): 1}, {(X, X): 1}), ({(X, M): 1}, {(X, X): -1})),), cite, note)


class AlphaError(ValueError):
    pass


def gram(data: Data) -> sp.Matrix:
    return exact_moments(data)[0]


def value(policy: str, data: Data, bits: int) -> sp.Rational:
    """alpha for ``policy`` (a name in POLICIES) on ``data``; a number given instead of a policy is
    read by the theorem's Parameter."""
    import mpmath
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
            top = MPBackend(bits + 16).eigvalsh(S.tolist())[-1]
            v = (2 if policy == "double-spectral" else 1) / top**2
            if policy == "spectral":
                v *= 1 - mpmath.mpf(2) ** (8 - bits)
        man, exp = mpmath.mpf(v).man_exp
    return sp.Rational(man) * sp.Rational(2) ** exp


def batch_value(policy: str, S):
    """alpha for every problem of a batch: S is a (B, d, d) float64 tensor."""
    import torch
    S2 = S @ S
    if policy == "trace":
        return 1 / S2.diagonal(dim1=-2, dim2=-1).sum(-1)
    if policy == "frobenius":
        return 1 / torch.linalg.matrix_norm(S2)
    top = torch.linalg.eigvalsh(S)[..., -1]
    if policy == "spectral":
        return (1.0 - 2.0**-40) / top**2     # rounded down, as in value()
    return 2.0 / top**2


# ---------------------------------------------------------------- convergence
def _residuals(S, alpha, kmax, d, be):
    """Certified enclosures [lower, upper] of ||I - M_k S||_F for k = 0..kmax,
    with M_k from the one Newton-Schulz implementation."""
    I = be.identity(d)
    out = []
    for M in newton(S, alpha, kmax, be):
        R = be.sub(I, be.mm(M, S))
        fro = sum((R[i, j] * R[i, j] for i in range(d) for j in range(d)), be.num(0))
        lo = float(fro.lower())
        out.append((math.sqrt(max(math.nextafter(lo, -math.inf), 0.0)), math.sqrt(_up(fro))))
    return out


def convergence(data: Data, alpha_value, bits: int, policy: str | None = None,
                eps_list=(1e-3, 1e-6, 1e-12, 1e-24, 1e-48), kmax: int = 400) -> Outcome:
    """Does Newton-Schulz from M_0 = alpha S reach ||I - M_k S||_F <= eps within
    the rate bound?  On each eigenvector of S it maps mu = alpha lambda^2 by
    mu -> newton_step(mu, 1) = 2mu - mu^2, so 1 - mu_k = (1 - mu_0)^(2^k).  For
    0 < mu <= ... < 2 (e_0 = max |1 - mu_0| < 1) the residual is at most
    sqrt(d) e_0^(2^k), so k <= ceil(log2(ln(sqrt(d)/eps) / -ln e_0)) =
    O(log kappa + log log 1/eps).  A rate is refuted only by a certified lower
    bound above eps at the bound; a residual the precision cannot resolve is
    inconclusive.  With mu_0 = 2 on the top eigenvector (alpha at the boundary)
    the map sends 2 to the fixed point 0: no convergence for any S."""
    import mpmath
    method = f"certified residuals (arb, {bits} bits)"
    lo, hi = spectrum(data, bits)
    singular = data.n < data.d or lo <= hi * 2.0 ** (-(bits // 2))
    floor = 2.0 ** (-(bits // 2))
    eps_list = [e for e in eps_list if e >= floor]
    with mpmath.mp.workprec(bits):
        a = mpmath.mpf(int(sp.Rational(alpha_value).p)) / int(sp.Rational(alpha_value).q)
        mu_top, mu_low = a * hi**2, a * lo**2
        e0 = max(abs(1 - mu_low), abs(1 - mu_top))
        kappa = hi / lo if not singular else mpmath.inf
        at_boundary = bool(abs(mu_top - 2) <= mpmath.mpf(2) ** (-(bits // 2)))
        interior = bool(0 < mu_low and mu_top < 2 and e0 < 1) and not at_boundary and not singular
        bounds = {e: 0 if e0 == 0 else        # M_0 S = I: nothing to iterate
                  max(0, int(mpmath.ceil(mpmath.log(mpmath.log(mpmath.sqrt(data.d) / e) / -mpmath.log(e0), 2))))
                  for e in eps_list} if interior else {}
    if singular and not at_boundary:
        return Outcome("inconclusive", method, "S is singular (n < d or rank-deficient X, to the run's precision); "
                                               "the rate is stated for full rank", {})
    reach = [b for b in bounds.values() if b <= kmax]
    kk = min(kmax, max(reach, default=60) + 2)
    be = ArbBackend(bits)
    with be.precision(bits):
        S, _ = moments(data.X, data.y, be)
        res = _residuals(S, be.num(alpha_value), kk, data.d, be)
    upper = [u for _, u in res]
    data_out = {"residual": upper, "residual_lower": [l for l, _ in res], "kappa": float(kappa), "e0": float(e0),
                "alpha": float(alpha_value), "mu_top": float(mu_top)}
    e0_txt = f"{float(e0):.6g}" if abs(1 - float(e0)) > 1e-5 else f"1 - {float(1 - e0):.3g}" if e0 < 1 else \
        f"1 + {float(e0 - 1):.3g}" if e0 > 1 else "1"
    head = (f"alpha = {float(alpha_value):.6g}, kappa(S) = {float(kappa):.4g}, alpha lambda_max^2 = {float(mu_top):.6g}, "
            f"e_0 = max|1 - alpha lambda^2| = {e0_txt}")
    if interior:
        rows, verdicts = [], []
        for e in eps_list:
            b = bounds[e]
            measured = next((k for k, u in enumerate(upper) if u <= e), None)
            if b > kmax:
                v = "inconclusive"          # the bound lies beyond the iterations run
            elif measured is not None and measured <= b:
                v = "verified"
            elif res[min(b, kk)][0] > e:
                v = "refuted"               # certified: still above eps at the bound
            else:
                v = "inconclusive"          # the precision cannot resolve eps there
            verdicts.append(v)
            rows.append({"eps": e, "measured": measured, "bound": b, "verdict": v})
        data_out["rows"] = rows
        txt = "; ".join(f"eps={r['eps']:.0e}: {r['measured']} <= {r['bound']}" + ("" if r["verdict"] == "verified"
                        else f" ({r['verdict']})") for r in rows)
        overall = "refuted" if "refuted" in verdicts else "inconclusive" if "inconclusive" in verdicts else "verified"
        return Outcome(overall, method,
                       f"{head} < 1. Iterations to ||I - M_k S||_F <= eps, measured (certified upper bound) vs the "
                       f"bound ceil(log2(ln(sqrt(d)/eps)/-ln e_0)) = O(log kappa + log log 1/eps): {txt}", data_out)
    small = ""
    if policy is not None:
        a1 = value(policy, Data([[1]], [1], [1]), bits)
        ex = ExactBackend()
        vals = [str(M[0, 0]) for M in newton(ex.matrix([[1]]), ex.num(a1), 5, ex)]
        small = (f" Smallest instance under the same policy, d = n = 1, X = [[1]] (S = 1, S^+ = 1): alpha = "
                 f"{value_text(a1)}, M_0..M_5 = {', '.join(map(value_text, vals))}.")
        data_out["small"] = vals
    mu = sp.Symbol("mu")
    f = sp.expand(newton_step(mu, 1))     # the step on one eigenvector, in mu = alpha lambda^2
    if at_boundary and f.subs(mu, 2) == 0 and f.subs(mu, 0) == 0:
        k30 = min(30, kk)
        return Outcome("refuted", "symbolic (all S) + exact smallest instance + " + method,
                       f"{head}: the top eigenvalue of M_0 S is 2, and on each eigenvector the step is "
                       f"f({math_text(mu)}) = {math_text(f)}, "
                       "with f(2) = 0 = f(0): the component of every M_k (k >= 1) along the top eigenvector of S is 0 "
                       "and ||I - M_k S||_2 >= 1 for all k: no convergence, for every S." + small
                       + f" At d={data.d}, n={data.n} ({bits}-bit alpha), certified enclosure of ||I - M_k S||_F at "
                       f"k = {k30}: [{res[k30][0]:.3g}, {res[k30][1]:.3g}].", data_out)
    if mu_top > 2:
        grown = res[-1][0] > res[0][1]
        return Outcome("refuted" if grown else "inconclusive", method,
                       f"{head}: alpha lambda_max^2 > 2 is outside the convergence range (0, 2); certified "
                       f"||I - M_k S||_F >= {res[-1][0]:.3g} at k = {kk} (was <= {res[0][1]:.3g} at k = 0)." + small,
                       data_out)
    return Outcome("inconclusive", method, f"{head}: the rate bound cannot be evaluated", data_out)




# ---------------------------------------------------------------- the alpha parameter and the convergence kind
def _alpha_value(policy):
    def f(data, bits):
        try:
            return value(policy, data, bits)
        except AlphaError as e:
            from theorems.base import ParameterError
            raise ParameterError(str(e)) from None
    return f


def alpha_parameter(symbol, aliases=None):
    """The step size of M_0 = alpha S with the policies above."""
    from theorems.base import Parameter, Policy
    pols = {name: Policy(formula, why, _alpha_value(name), (lambda S, n, name=name: batch_value(name, S)))
            for name, (formula, why) in POLICIES.items()}
    return Parameter(symbol, "how to choose alpha in M_0 = alpha S", pols, "spectral", "trace", aliases or {})



@dataclass(frozen=True)
class NewtonConvergence:
    """Newton-Schulz from M_0 = alpha S reaches ||I - M_k S|| <= eps within the
    O(log kappa + log log 1/eps) bound.  ``alpha`` is a policy (or alias) of the
    theorem's parameter ``parameter``, or "run" for the run's own value."""
    parameter: str = "alpha"
    alpha: str = "run"
    expect: str = "converge"      # "diverge": the claim is that Newton-Schulz does NOT converge at this alpha
    kind: ClassVar[str] = "newton_convergence"


@kind(NewtonConvergence, "newton_convergence", scope="theorem")
def _check_newton_convergence(spec: NewtonConvergence, run):
    prm = run.theorem.parameter(spec.parameter)
    ctx = run.ctx
    if spec.alpha == "run":
        policy, a = ctx.policies[prm.name], ctx.params[prm.symbol]
    else:
        policy = prm.resolve(spec.alpha)
        a = prm.value(policy, ctx.data, ctx.bits)
    o = convergence(ctx.data, a, ctx.bits, policy=policy if policy in POLICIES else None)
    if spec.expect == "diverge":        # the claim is the failure: a convergence refutes it
        # only a refutation that is a non-convergence (the boundary alpha lambda_max^2 = 2, or certified growth
        # beyond it) verifies the claim; a violated rate bound inside the range is not a divergence
        diverges = o.verdict == "refuted" and float(o.data.get("mu_top", 0.0)) >= 2 - 2.0 ** (-(ctx.bits // 2))
        verdict = "refuted" if o.verdict == "verified" else "verified" if diverges else "inconclusive"
        return Outcome(verdict, o.method,
                       ("as claimed, it does not converge: " if verdict == "verified" else
                        "claimed not to converge, but " if verdict == "refuted" else
                        "claimed not to converge; undecided: ") + o.detail, o.data,
                       assumptions=list(o.assumptions or []))
    return o
