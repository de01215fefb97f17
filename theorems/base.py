"""The catalogue's nouns: Theorem, Variant, Claim, Evidence, Result.

A theorem module *declares* (statement, citation, constructions, claims); the
engines in ``symbolic/`` and ``numeric/`` run the checks (see ``check.py``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

Verdict = Literal["verified", "refuted", "inconclusive", "error"]

# the default limits of a theorem's iterations and sizes; "work" bounds the cost of a run, (k + 1)(d^2 n + 61 n^2):
# per layer, the products over the d x n prompt and attention's n x n scores (measured on a 2-core machine: at
# n = 200 a step costs the same from d = 10 to 40 and 1.8 times as much at d = 100; doubling n costs 3.6 times).
# The limit is the cost of d = 100, n = 200, k = 30, the largest run measured to finish in minutes there (README,
# "Limits").
WORK_N2 = 61
WORK_FORMULA = f"(k+1)(d*d*n + {WORK_N2}*n*n)"


def work(d: int, n: int, k: int) -> int:
    """The cost of a run that the "work" limit bounds: WORK_FORMULA, (k + 1)(d·d·n + 61·n·n)."""
    return (k + 1) * (d * d * n + WORK_N2 * n * n)


LIMITS = {"k": 64, "d": 200, "n": 1000, "work": work(100, 200, 30)}

# what a script sees: python -m theorems.check exits with these codes
EXIT_CODES = {"verified": 0, "refuted": 1, "inconclusive": 3, "error": 4}
Role = Literal["printed", "corrected", "exact", "ablation"]


@dataclass(frozen=True)
class Claim:
    """One statement the paper makes.  ``spec`` is a typed spec (a frozen
    dataclass registered in :mod:`theorems.kinds`); its class selects the
    checker.  ``cite`` says where the paper says it.  ``statement`` marks claims
    that are part of the theorem itself (they decide the verdict); other claims
    are the paper's further formulas (their failures are errata)."""
    name: str
    cite: str
    text: str
    spec: Any = field(hash=False, compare=False)
    statement: bool = True
    erratum: bool = True      # False for claims about this run (its parameters, its data), not the printed text
    root: bool = False        # a printed statement in its own right: its failure is an erratum, not a consequence

    @property
    def kind(self) -> str:
        return type(self.spec).kind


@dataclass(frozen=True)
class Policy:
    """One way to choose a parameter's value from the data: ``value(data, bits)``
    gives an exact rational (every backend reads it exactly), ``batch(S)`` the
    values for a (B, d, d) float64 tensor of Gram matrices."""
    formula: str
    why: str
    value: Callable[..., Any]
    batch: Callable[..., Any] | None = None


class ParameterError(ValueError):
    """A parameter's value cannot be formed on this data (reported as a usage error)."""


@dataclass(frozen=True)
class Parameter:
    """A constant the construction carries and the theorem leaves free (a step
    size alpha, eta, gamma, ...), declared by the theorem with its policies.
    The engines see only its symbol and its value."""
    symbol: Any                         # sympy Symbol used in the weights
    help: str
    policies: Mapping[str, Policy]
    default: str
    exact_policy: str                   # rational on every rational instance: used by the exact checks
    aliases: Mapping[str, tuple[str, str]] = field(default_factory=dict, hash=False, compare=False)
    shape: tuple | None = None          # None: a scalar; (rows, cols) dimension names for a matrix letter

    @property
    def name(self) -> str:
        return self.symbol.name

    def resolve(self, given) -> str:
        """A policy name, or a positive number as a string; raises ParameterError."""
        from fractions import Fraction
        a = str(self.default if given is None else given)
        a = self.aliases.get(a, (a,))[0]
        if a in self.policies:
            return a
        if self.shape is not None:
            raise ParameterError(f"{self.name} is a matrix: it takes one of {', '.join(self.policies)}, got {a!r}")
        try:
            q = Fraction(a)
        except (ValueError, ZeroDivisionError):
            names = ", ".join([*self.policies, *self.aliases])
            raise ParameterError(f"{self.name} must be one of {names} or a positive number, got {a!r}") from None
        if not q > 0:
            raise ParameterError(f"{self.name} must be positive, got {a}")
        return a

    def value(self, policy: str, data, bits: int):
        import sympy as sp
        from fractions import Fraction
        if policy in self.policies:
            return self.policies[policy].value(data, bits)
        q = Fraction(policy)
        return sp.Rational(q.numerator, q.denominator)

    def exact(self, data):
        """A rational value for an exact small instance (any positive value will do
        where the policy is undefined on it, e.g. X = 0)."""
        import sympy as sp
        try:
            return self.policies[self.exact_policy].value(data, 0)
        except ParameterError:
            return sp.Integer(1)

    def batch(self, policy: str, S, n: int):
        """Values for a (B, d, d) tensor of Gram matrices of n examples each."""
        import torch
        from fractions import Fraction
        if policy in self.policies:
            b = self.policies[policy].batch
            if b is None:
                raise ParameterError(f"parameter {self.name}: policy {policy} has no batched form")
            return b(S, n)
        return torch.full(S.shape[:1], float(Fraction(policy)), dtype=S.dtype, device=S.device)

    def info(self, policy: str, value) -> dict:
        pol = self.policies.get(policy)
        alias = [f"{name} ({cite})" for name, (target, cite) in self.aliases.items() if target == policy]
        why = (pol.why if pol else "given on the command line") + ("; " + "; ".join(alias) if alias else "")
        out = {"symbol": self.name, "policy": policy if pol else "given", "formula": pol.formula if pol else policy,
               "why": why}
        if isinstance(value, list):     # a matrix letter (or one matrix per iteration)
            out["value_exact"] = f"{len(value)} matrices" if value and isinstance(value[0][0], list) else \
                f"{len(value)} x {len(value[0]) if value else 0} matrix"
        else:
            out.update({"value": float(value), "value_exact": str(value)})
        return out


@dataclass(frozen=True)
class Variant:
    name: str
    role: Role
    summary: str
    justification: str
    build: Callable[..., Any] = field(hash=False, compare=False)
    claims: Callable[..., list[Claim]] = field(hash=False, compare=False)


@dataclass(frozen=True)
class Theorem:
    id: str
    title: str
    statement: str            # LaTeX-capable text
    citation: str
    source: str               # short source line for --list
    variants: tuple[Variant, ...]
    claims: Callable[[], list[Claim]]    # claims about the recursion (no construction)
    defaults: dict
    basis: tuple[str, ...]    # variants the theorem's verdict rests on
    notes: tuple[str, ...] = ()  # settled open questions, stated assumptions
    parameters: tuple[Parameter, ...] = ()   # the constants the construction leaves free, with their policies
    step_name: str = "iteration"          # what one step layer computes, for tables and figures
    recursion_name: str = "recursion"     # the algorithm the network is compared with
    golden: dict = field(default_factory=lambda: {"k": 3, "d": 3, "n": 5, "seed": 0}, hash=False, compare=False)
    limits: dict = field(default_factory=lambda: dict(LIMITS), hash=False, compare=False)
    provenance: str = "transcribed"       # transcribed (from a stored full text) or reconstruction
    experiments: Callable[[], tuple] | None = field(default=None, hash=False, compare=False)
    # perturbations that change no reachable hidden state, each with its reason: {(variant, site, mode): why}
    equivalent_mutants: Callable[[], dict] | None = field(default=None, hash=False, compare=False)
    # trained-network experiments (numeric.training.experiment.Experiment): empirical, never a verdict

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)


@dataclass
class Evidence:
    claim: str
    verdict: Verdict
    method: str
    detail: str
    cite: str = ""
    statement: bool = True
    data: dict = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    seconds: float = 0.0
    erratum: bool = True

    def to_json(self) -> dict:
        return {"name": self.claim, "verdict": self.verdict, "method": self.method,
                "detail": self.detail, "cite": self.cite, "statement": self.statement,
                "assumptions": self.assumptions, "data": _jsonable(self.data),
                "seconds": round(self.seconds, 3)}


@dataclass
class VariantResult:
    name: str
    role: str
    summary: str
    justification: str
    checks: list[Evidence]
    construction: dict = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        return combine([e.verdict for e in self.checks if e.statement])

    def to_json(self) -> dict:
        return {"name": self.name, "role": self.role, "verdict": self.verdict,
                "summary": self.summary, "justification": self.justification,
                "checks": [e.to_json() for e in self.checks],
                "construction": _jsonable(self.construction)}


@dataclass
class Result:
    theorem: str
    title: str
    citation: str
    statement: str
    verdict: Verdict
    verdict_basis: str
    variants: list[VariantResult]
    claims: list[Evidence]
    errata: list[dict]
    settings: dict
    environment: dict
    notes: list[str]
    parameters: dict
    numbers: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)     # files holding the tracebacks of internal errors
    trained: dict = field(default_factory=dict)         # trained-network evidence (empirical; not in the verdict)

    def to_json(self) -> dict:
        return {"theorem": self.theorem, "title": self.title, "citation": self.citation, "statement": self.statement,
                "verdict": self.verdict, "verdict_basis": self.verdict_basis,
                "variants": [v.to_json() for v in self.variants],
                "claims": [e.to_json() for e in self.claims],
                "errata": _jsonable(self.errata), "parameters": _jsonable(self.parameters),
                "exit_code": EXIT_CODES[self.verdict], "errors": self.errors,
                "settings": _jsonable(self.settings), "environment": self.environment,
                "notes": self.notes, "numbers": _jsonable(self.numbers), "trained": _jsonable(self.trained)}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    def save(self, out_dir: str = "reports-out", formats=("html", "pdf"), overwrite: bool = False) -> list[str]:
        """Write the JSON and the reports (``formats``: "html", "pdf") into ``out_dir``; return the paths."""
        from reports.render import write_reports
        return write_reports(self, out_dir, list(formats), overwrite=overwrite)

    def _repr_html_(self) -> str:
        from reports.render import render_html
        return render_html(self, standalone=False)

    def __repr__(self) -> str:
        return f"<Result {self.theorem}: {self.verdict} ({len(self.variants)} variants, {len(self.errata)} errata)>"


def combine(verdicts) -> Verdict:
    """One verdict from many: an internal error taints everything (it is never
    counted as refuted or as verified); else any refutation refutes; else any
    undecided claim (or none at all) leaves it inconclusive."""
    verdicts = list(verdicts)
    if any(v == "error" for v in verdicts):
        return "error"
    if any(v == "refuted" for v in verdicts):
        return "refuted"
    if not verdicts or any(v == "inconclusive" for v in verdicts):
        return "inconclusive"
    return "verified"


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (str, int, bool)) or x is None:
        return x
    if isinstance(x, float):
        return x if x == x and abs(x) != float("inf") else str(x)
    try:
        return float(x) if not hasattr(x, "free_symbols") else str(x)
    except Exception:
        return str(x)
