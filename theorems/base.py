"""The catalogue's nouns: Theorem, Variant, Claim, Evidence, Result.

A theorem module *declares* (statement, citation, constructions, claims); the
engines in ``symbolic/`` and ``numeric/`` run the checks (see ``check.py``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

Verdict = Literal["verified", "refuted", "inconclusive"]
Role = Literal["printed", "corrected", "exact", "ablation"]


@dataclass(frozen=True)
class Claim:
    """One statement the paper makes.  ``kind`` selects the checker; ``spec``
    holds what that checker needs; ``cite`` says where the paper says it.
    ``statement`` marks claims that are part of the theorem itself (they decide
    the verdict); other claims are the paper's further formulas (their failures
    are errata)."""
    name: str
    kind: str
    cite: str
    text: str
    spec: dict = field(default_factory=dict, hash=False, compare=False)
    statement: bool = True
    erratum: bool = True      # False for claims about this run (its alpha, its data), not the printed text


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
    alpha_aliases: dict = field(default_factory=dict, hash=False, compare=False)  # name -> (policy, cite)
    step_name: str = "iteration"          # what one step layer computes, for tables and figures
    recursion_name: str = "recursion"     # the algorithm the network is compared with

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
    alpha: dict
    numbers: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"theorem": self.theorem, "title": self.title, "citation": self.citation, "statement": self.statement,
                "verdict": self.verdict, "verdict_basis": self.verdict_basis,
                "variants": [v.to_json() for v in self.variants],
                "claims": [e.to_json() for e in self.claims],
                "errata": _jsonable(self.errata), "alpha": _jsonable(self.alpha),
                "settings": _jsonable(self.settings), "environment": self.environment,
                "notes": self.notes, "numbers": _jsonable(self.numbers)}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    def _repr_html_(self) -> str:
        from reports.render import render_html
        return render_html(self, standalone=False)

    def __repr__(self) -> str:
        return f"<Result {self.theorem}: {self.verdict} ({len(self.variants)} variants, {len(self.errata)} errata)>"


def combine(verdicts) -> Verdict:
    verdicts = list(verdicts)
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
