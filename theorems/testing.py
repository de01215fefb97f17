"""Helpers for your own test suite (pytest or plain asserts).

    from theorems.testing import assert_theorem_verified

    def test_my_construction():
        assert_theorem_verified("mypkg.mytheorem", k=3)

A failure raises ``AssertionError`` whose message names every claim that did
not verify: the variant, the claim and where the paper (or you) states it, the
verdict, and the located finding (layer, block, first differing term, the
smallest counterexample found).
"""
from __future__ import annotations

import textwrap


def failure_message(result, only_statement: bool = True) -> str:
    """The located findings of a Result, one paragraph per claim that is not verified."""
    lines = [f"{result.theorem}: {result.verdict.upper()} ({result.verdict_basis})"]
    basis = result.verdict_basis
    for v in result.variants:
        if v.name not in basis:
            continue
        for e in v.checks:
            if e.verdict == "verified" or (only_statement and not e.statement):
                continue
            lines.append(_claim_lines(f"variant {v.name}", e))
    for e in result.claims:
        if e.verdict != "verified" and (e.statement or not only_statement):
            lines.append(_claim_lines("theorem", e))
    for err in result.errors:
        lines.append(f"  internal error: traceback in {err}")
    return "\n".join(lines)


def _claim_lines(scope: str, e) -> str:
    where = e.data.get("where") or {}
    loc = ", ".join(f"{k} {where[k]}" for k in ("stage", "layer", "kind", "block", "term") if where.get(k))
    body = textwrap.fill(e.detail, width=110, initial_indent="    ", subsequent_indent="    ")
    return (f"  {scope}: {e.claim} [{e.cite}]: {e.verdict.upper()} by {e.method}"
            + (f"\n    at {loc}" if loc else "") + f"\n{body}")


def assert_theorem_verified(theorem, golden: str | None = None, **options):
    """Check ``theorem`` (a catalogue id, a module path such as ``"mypkg.mytheorem"``, an entry point's name
    or a Theorem) with ``theorems.verify(theorem, **options)`` and raise ``AssertionError`` with the located
    findings unless it is verified.  ``golden``: a golden record's path (written by ``python -m theorems.golden
    THEOREM --update --dir DIR``); when given, the run must also match it.  Returns the Result."""
    from .check import verify
    result = verify(theorem, shipped=False, **options)
    if result.verdict != "verified":
        raise AssertionError(failure_message(result))
    if golden is not None:
        from . import golden as g
        diffs = g.compare_with(golden, result, options)
        if diffs:
            raise AssertionError(f"{result.theorem}: verified, but {len(diffs)} difference(s) from the golden record "
                                 f"{golden}:\n  " + "\n  ".join(diffs))
    return result


def assert_theorem_refuted(theorem, where: dict | None = None, **options):
    """The opposite, for a deliberately wrong variant: the run must be refuted; with ``where`` (e.g.
    ``{"layer": "GD-wd"}``) some refuted statement claim must be located there.  Returns the Result."""
    from .check import verify
    result = verify(theorem, shipped=False, **options)
    if result.verdict != "refuted":
        raise AssertionError(f"expected a refutation, got {result.verdict}\n" + failure_message(result))
    if where:
        found = [e for v in result.variants for e in v.checks if e.verdict == "refuted" and e.statement
                 and all(str((e.data.get("where") or {}).get(k)) == str(val) for k, val in where.items())]
        if not found:
            raise AssertionError(f"refuted, but no finding is located at {where}\n" + failure_message(result))
    return result
