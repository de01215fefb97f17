"""Text, JSON, HTML and PDF renderings of a Result (placeholder text table)."""
from __future__ import annotations

import os


def text_table(result) -> str:
    lines = [f"{result.title}", f"  {result.citation}", ""]
    for v in result.variants:
        lines.append(f"variant {v.name} [{v.role}]: {v.verdict.upper()}")
        for e in v.checks:
            lines.append(f"  {e.verdict:12s} {e.claim:48s} {e.method}")
    if result.claims:
        lines.append("further formulas of the paper:")
        for e in result.claims:
            lines.append(f"  {e.verdict:12s} {e.claim:48s} {e.method}")
    if result.errata:
        lines.append(f"errata found: {len(result.errata)}")
        for er in result.errata:
            lines.append(f"  - {er['where']}: {er['finding'][:160]}")
    return "\n".join(lines)


def write_reports(result, out_dir, kinds):
    return []
