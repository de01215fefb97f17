"""``python -m theorems.check --all``: every theorem, one index.

Each theorem is checked (at its defaults, or with ``--preset small`` at the
small preset its golden record is taken at), its reports are written into the
output folder, and an index (HTML and PDF) lists theorem, source, verdict,
methods, errata, soundness score (the last recorded ``python -m
theorems.mutate --record`` run, labelled with its commit and date), time, and a
link to each report.  A failure in one theorem never stops the others.  The
exit code summarises them all: 4 if any internal error, else 1 if any is
refuted, else 3 if any is inconclusive, else 0.
"""
from __future__ import annotations

import os
import time

from .base import EXIT_CODES


def summary_code(verdicts) -> int:
    vs = set(verdicts)
    for v in ("error", "refuted", "inconclusive"):
        if v in vs:
            return EXIT_CODES[v]
    return EXIT_CODES["verified"] if vs else EXIT_CODES["inconclusive"]


def _methods(result) -> list[str]:
    seen = []
    for v in result.variants:
        for e in v.checks:
            m = e.method.split(" (")[0]
            if m not in seen:
                seen.append(m)
    for e in result.claims:
        m = e.method.split(" (")[0]
        if m not in seen:
            seen.append(m)
    return seen


def score_of(theorem_id: str) -> dict:
    from .mutate import load_record
    r = load_record(theorem_id)
    if not r:
        return {"text": "not recorded", "value": None,
                "how": f"python -m theorems.mutate {theorem_id} --record"}
    from .mutate import digest
    from .registry import get
    try:
        now = digest(get(theorem_id))
    except Exception as e:                  # the theorem no longer loads: its row says so elsewhere
        now = f"unavailable ({type(e).__name__})"
    if r.get("digest") != now:
        return {"text": "stale", "value": None,
                "detail": "recorded for another version of the theorem (its claims or mutants changed since)",
                "how": f"python -m theorems.mutate {theorem_id} --record"}
    sc = r.get("score")
    sampled = f", {r['sampled']} agreeing on sampled prompts only" if r.get("sampled") else ""
    apart = r.get("apart") or {}
    detail = (f"{r['caught']} of {r['caught'] + r['gap']} non-equivalent mutants caught"
              + (f" over {', '.join(r['scored'])}" if r.get("scored") else "")
              + f" ({r['equivalent']} equivalent{sampled}, {r['crash']} crashes)")
    if apart:
        detail += "; reported apart: " + ", ".join(apart)
    return {"value": sc, "text": "n/a" if sc is None else f"{100 * sc:.1f}%",
            "detail": detail if sc is not None else f"no score: {r.get('no_score_reason') or 'no mutant judged'}",
            "how": f"recorded by `{r.get('command', 'python -m theorems.mutate')}` at {r.get('tool', '?')} on "
                   f"{r.get('date', '?')}"}


def check_one(task) -> dict:
    """One theorem: verify, write its reports, return its index row (never raises)."""
    ref, preset, out, kinds, overwrite = task
    from .check import UsageError, save_traceback, verify
    from .distribute import worker_id
    from .golden import preset as small
    from .registry import get
    t0 = time.perf_counter()
    row = {"ref": ref, "theorem": ref, "title": "", "source": "", "verdict": "error", "methods": [], "errata": [],
           "reports": {}, "worker": worker_id()}
    try:
        thm = get(ref)
        row.update(theorem=thm.id, title=thm.title, source=thm.source)
        opts = small(thm) if preset == "small" else {}
        result = verify(thm, **opts, command=f"python -m theorems.check --all --preset {preset}")
        paths = []
        if kinds:
            from reports.render import write_reports
            paths = write_reports(result, out, kinds, overwrite=overwrite)
        row.update(verdict=result.verdict, basis=result.verdict_basis, methods=_methods(result),
                   errata=[f"{e['where']}: {e['claim']}" for e in result.errata],
                   reports={os.path.splitext(p)[1][1:]: os.path.basename(p) for p in paths},
                   inconclusive_because=result.settings.get("inconclusive_because", []),
                   errors=list(result.errors), settings={k: result.settings.get(k) for k in ("k", "d", "n", "seed")})
    except UsageError as e:
        row.update(verdict="error", errors=[f"usage: {e}"])
    except Exception as e:
        path = save_traceback(f"all-{ref}")
        row.update(verdict="error", errors=[f"internal error: {type(e).__name__}: {e} (traceback in {path})"])
    row["seconds"] = round(time.perf_counter() - t0, 1)
    row["score"] = score_of(row["theorem"])
    return row


def run_all(ids=None, preset: str = "default", out: str = "reports-out", kinds=("html", "pdf"),
            overwrite: bool = False, progress=None, cluster: str | None = None) -> tuple[list[dict], list[str]]:
    """Check every theorem (the catalogue and installed entry points, or ``ids``); write each report and the
    index; return (rows, index paths)."""
    from reports.render import write_index
    from .distribute import map_tasks
    from .registry import MODULES, entry_points
    if preset not in ("default", "small"):
        raise ValueError(f"--preset takes default or small, got {preset!r}")
    ids = list(ids or [*MODULES, *[e for e in entry_points() if e not in MODULES]])
    kinds = [k for k in kinds if k != "none"]
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    tasks = [(ref, preset, out, kinds, overwrite) for ref in ids]
    if progress:
        progress(f"checking {len(tasks)} theorems ({preset} preset)" + (f" on {cluster}" if cluster else ""))

    def label(task):
        return task[0]

    rows = map_tasks(check_one, tasks, cluster,
                     progress=(lambda msg: progress(msg)) if progress else None, label=label)
    meta = {"preset": preset, "seconds": round(time.perf_counter() - t0, 1), "cluster": cluster or "this machine",
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "exit_code": summary_code(r["verdict"] for r in rows)}
    from .check import _tool_version
    tool = _tool_version()
    meta["tool"] = f"icl-theorems {tool.get('version')}" + (f", commit {tool['commit']}" if tool.get("commit") else "")
    paths = write_index(rows, meta, out, kinds or ["html"], overwrite=overwrite)
    return rows, paths
