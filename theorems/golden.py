"""Golden certificates: proof regression for the whole catalogue.

A golden record is what a theorem's check establishes at a small preset, kept
under ``tests/golden/<theorem>.json``: per variant and per check its verdict,
method and every exact result (derived polynomials, lemma statements,
coefficients, minimisers, counterexamples), the errata, and a few numbers
(compared at a stated relative tolerance).  Time, versions, devices and paths
are not recorded.  ``tests/test_golden.py`` compares a fresh run with the
record and fails with a diff a person can read.

    python -m theorems.golden              # compare every theorem with its record
    python -m theorems.golden --update     # refresh the records (the git diff is the review)
    python -m theorems.golden --update newton_k_plus_8
    python -m theorems.golden --update --dir tests/golden mypkg.mytheorem    # a theorem of your own
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "golden")
RTOL = 1e-9            # numbers compare at this relative tolerance (plus the same absolute floor)
EXACT_KEYS = ("derived", "printed", "term", "terms", "counterexample", "sizes", "layers", "bound", "width",
              "exact", "minimiser", "polynomial", "coefficients")


def preset(thm) -> dict:
    """The small preset a record is taken at: the theorem's own ``golden`` options, else k=3, d=3, n=5."""
    return dict(getattr(thm, "golden", None) or {"k": 3, "d": 3, "n": 5, "seed": 0})


def _norm_method(m: str) -> str:
    return re.sub(r"\b(cpu|cuda(:\d+)?)\b", "<device>", str(m))


def _exact(e) -> dict:
    out = {}
    for key in EXACT_KEYS:
        if key in e.data:
            out[key] = e.data[key]
    if "lemmas" in e.data:
        out["lemmas"] = [{"lemma": l.get("lemma"), "status": l.get("status"), "latex": l.get("latex", ""),
                          "detail": l.get("detail", "")} for l in e.data["lemmas"]]
    where = {k: v for k, v in (e.data.get("where") or {}).items() if k in ("layer", "kind", "block", "term", "stage")}
    if where:
        out["where"] = where
    return json.loads(json.dumps(out, default=str))


DETERMINISTIC = ("symbolic", "count", "exact (all", "exact for")   # methods whose detail text is exact


def _check(e) -> dict:
    out = {"verdict": e.verdict, "method": _norm_method(e.method), "statement": e.statement,
           "text": e.data.get("text", ""), "assumptions": list(e.assumptions), "exact": _exact(e)}
    if str(e.method).startswith(DETERMINISTIC):
        out["detail"] = e.detail          # symbolic findings are exact text; numeric ones carry bounds
    return out


def record(result) -> dict:
    """The golden record of one Result."""
    nums = result.numbers or {}
    per_layer = [{"iteration": r.get("iteration"), "network": r.get("network"), "recursion": r.get("recursion")}
                 for r in nums.get("per_layer", [])]
    return {
        "theorem": result.theorem,
        "verdict": result.verdict,
        "verdict_basis": result.verdict_basis,
        "variants": {v.name: {"role": v.role, "verdict": v.verdict, "construction": v.construction,
                              "checks": {e.claim: _check(e) for e in v.checks}}
                     for v in result.variants},
        "parameters": {k: {"policy": p.get("policy"), "formula": p.get("formula")}
                       for k, p in (result.parameters or {}).items()},
        "notes": list(result.notes),
        "claims": {e.claim: _check(e) for e in result.claims},
        "errata": [{"where": x.get("where"), "claim": x.get("claim"), "printed": x.get("printed"),
                    "finding": x.get("finding")} for x in result.errata],
        "numbers": {"rtol": RTOL, "per_layer": per_layer},
    }


def run(theorem_id) -> dict:
    from .check import verify
    from .registry import get
    thm = get(theorem_id)
    opts = preset(thm)
    rec = record(verify(thm, **opts))
    rec["preset"] = opts
    return rec


def compare_with(path: str, result, options: dict | None = None) -> list[str]:
    """Differences between the record at ``path`` and an already computed Result (which must have been run at
    the record's preset: a different preset is itself reported)."""
    if not os.path.exists(path):
        return [f"no golden record at {path} (create it with: python -m theorems.golden --update "
                f"--dir {os.path.dirname(path) or '.'} {result.theorem})"]
    with open(path) as f:
        old = json.load(f)
    new = record(result)
    out = []
    if options is not None and old.get("preset") is not None:
        given = {k: options.get(k) for k in old["preset"]}
        if any(v is not None and v != old["preset"][k] for k, v in given.items()):
            out.append(f"the run's options {given} differ from the record's preset {old['preset']}")
    new["preset"] = old.get("preset")
    return out + diff(old, new)


def _close(a, b, rtol) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= rtol * max(1.0, abs(a), abs(b))
    return a == b


def diff(old: dict, new: dict, path: str = "", rtol: float = RTOL) -> list[str]:
    """Readable differences between two records: one line per changed leaf."""
    out: list[str] = []
    if isinstance(old, dict) and isinstance(new, dict):
        for k in list(old) + [k for k in new if k not in old]:
            p = f"{path} / {k}" if path else str(k)
            if k not in new:
                out.append(f"{p}: removed (was {_show(old[k])})")
            elif k not in old:
                out.append(f"{p}: added ({_show(new[k])})")
            else:
                out += diff(old[k], new[k], p, rtol)
        return out
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            out.append(f"{path}: {len(old)} entries -> {len(new)} entries")
        for i, (a, b) in enumerate(zip(old, new)):
            out += diff(a, b, f"{path} [{i}]", rtol)
        if len(old) > len(new):
            out += [f"{path} [{i}]: removed (was {_show(a)})" for i, a in enumerate(old) if i >= len(new)]
        elif len(new) > len(old):
            out += [f"{path} [{i}]: added ({_show(b)})" for i, b in enumerate(new) if i >= len(old)]
        return out
    if not _close(old, new, rtol):
        out.append(f"{path}: {_show(old)} -> {_show(new)}")
    return out


def _show(v) -> str:
    s = json.dumps(v, default=str)
    return s if len(s) <= 160 else s[:157] + "..."


def path_for(theorem_id: str, directory: str | None = None) -> str:
    return os.path.join(directory or GOLDEN_DIR, f"{theorem_id}.json")


def load(theorem_id: str, directory: str | None = None) -> dict | None:
    p = path_for(theorem_id, directory)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def save(theorem_id: str, rec: dict, directory: str | None = None) -> str:
    os.makedirs(directory or GOLDEN_DIR, exist_ok=True)
    p = path_for(theorem_id, directory)
    with open(p, "w") as f:
        json.dump(rec, f, indent=1, sort_keys=False, default=str)
        f.write("\n")
    return p


def compare(theorem_id, directory: str | None = None) -> list[str]:
    """Differences between the stored record and a fresh run ([] when equal)."""
    from .registry import get
    tid = get(theorem_id).id
    old = load(tid, directory)
    if old is None:
        return [f"{tid}: no golden record at {path_for(tid, directory)} "
                f"(create it with: python -m theorems.golden --update {theorem_id})"]
    return diff(old, run(theorem_id))


def main(argv=None) -> int:
    from .registry import MODULES, first_problem, get
    p = argparse.ArgumentParser(prog="python -m theorems.golden", description=__doc__.split("\n\n")[0])
    p.add_argument("theorems", nargs="*", help="theorem ids or module paths (default: the whole catalogue)")
    p.add_argument("--update", action="store_true", help="rewrite the records from a fresh run")
    p.add_argument("--dir", help=f"folder of the records (default {os.path.relpath(GOLDEN_DIR)})")
    a = p.parse_args(argv)
    ids = a.theorems or list(MODULES)
    problem = first_problem(ids)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    bad = 0
    for t in ids:
        if a.update:
            print(f"{t}: wrote {save(get(t).id, run(t), a.dir)}")
            continue
        d = compare(t, a.dir)
        if d:
            bad += 1
            print(f"{t}: {len(d)} difference(s) from the golden record:\n  " + "\n  ".join(d))
        else:
            print(f"{t}: matches its golden record")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
