"""``python -m theorems.sweep THEOREM ... --k 2,4 --d 5,10 --seeds 0,1``: the
certified checks of a theorem's basis variants over every combination of
theorem x k x d x n x seed, here (the default) or on a Dask cluster
(``--dask local:2`` or a scheduler's address).  Each combination is one task:
a fresh prompt (the seed's Gaussian sample), the certified ball-arithmetic
claims, their verdicts and the precision that decided them.

Exit codes as ``theorems.check --all``: 4 if any internal error, else 1 if any
combination is refuted, else 3 if any is inconclusive, else 0; 2 usage error.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

CERTIFIED_KINDS = ("certified",)


def sweep_one(task) -> dict:
    """One combination: the certified claims of the variants, at these sizes and this seed (never raises)."""
    ref, variant, k, d, n, seed = task
    from .check import UsageError, make_context, run_claim, save_traceback
    from .distribute import worker_id
    from .kinds import Run
    from .registry import get
    from symbolic.templates import Algebra
    t0 = time.perf_counter()
    row = {"theorem": ref, "variant": variant, "k": k, "d": d, "n": n, "seed": seed, "worker": worker_id()}
    try:
        thm = get(ref)
        row["theorem"] = thm.id
        ctx = make_context(thm, k=k, d=d, n=n, seed=seed)
        checks = []
        for vname in ([variant] if variant else thm.basis):
            v = thm.variant(vname)
            con = v.build()
            alg = Algebra()
            run = Run(thm, ctx, con, alg)
            for c in v.claims(con, alg):
                if c.kind in CERTIFIED_KINDS:
                    e = run_claim(c, run)
                    checks.append({"variant": vname, "claim": e.claim, "verdict": e.verdict,
                                   "precision_bits": e.data.get("precision_bits", ctx.bits), "detail": e.detail})
        from .base import combine
        row.update(verdict=combine([c["verdict"] for c in checks]) if checks else "inconclusive", checks=checks)
        if not checks:
            row["detail"] = "no certified claim in these variants"
    except UsageError as e:
        row.update(verdict="error", detail=f"usage: {e}")
    except Exception as e:
        path = save_traceback(f"sweep-{ref}")
        row.update(verdict="error", detail=f"internal error: {type(e).__name__}: {e} (traceback in {path})")
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


def sweep(theorems, ks, ds, ns, seeds, variant=None, cluster=None, progress=None, info=None) -> list[dict]:
    from .distribute import map_tasks
    tasks = list(itertools.product(theorems, [variant], ks, ds, ns, seeds))
    return map_tasks(sweep_one, tasks, cluster, progress=progress, info=info,
                     label=lambda t: f"{t[0]} k={t[2]} d={t[3]} n={t[4]} seed={t[5]}")


def _ints(name, text):
    try:
        vals = [int(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"error: --{name} takes comma-separated integers, got {text!r}") from None
    if not vals:
        raise SystemExit(f"error: --{name} is empty")
    return vals


def main(argv=None) -> int:
    from .distribute import ClusterError
    from .index import summary_code
    from .registry import TheoremImportError, UnknownTheorem, get
    p = argparse.ArgumentParser(prog="python -m theorems.sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("theorems", nargs="+", help="theorem ids or module paths")
    p.add_argument("--k", default=None, help="comma-separated k values (default: each theorem's)")
    p.add_argument("--d", default=None, help="comma-separated d values")
    p.add_argument("--n", default=None, help="comma-separated n values")
    p.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    p.add_argument("--variant", help="one variant (default: each theorem's basis)")
    p.add_argument("--dask", metavar="ADDRESS", help="a Dask scheduler address, or local:N")
    p.add_argument("--json", help="write every row to this file")
    p.add_argument("--quiet", action="store_true")
    try:
        a = p.parse_args(argv)
        for t in a.theorems:
            get(t)
        opt = lambda name: [None] if getattr(a, name) is None else _ints(name, getattr(a, name))
        ks, ds, ns, seeds = opt("k"), opt("d"), opt("n"), _ints("seeds", a.seeds)
    except SystemExit as e:
        if e.code not in (0, None) and isinstance(e.code, str):
            print(e.code, file=sys.stderr)
        return 0 if e.code in (0, None) else 2
    except (UnknownTheorem, TheoremImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    say = None if a.quiet else (lambda m: print(f"  {m}", file=sys.stderr, flush=True))
    try:
        rows = sweep(a.theorems, ks, ds, ns, seeds, a.variant, a.dask, say)
    except ClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for r in rows:
        print(f"{r['theorem']:26s} k={r['k']} d={r['d']} n={r['n']} seed={r['seed']}: {r['verdict'].upper()}"
              + (f" ({r.get('detail')})" if r.get("detail") else ""))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return summary_code(r["verdict"] for r in rows)


if __name__ == "__main__":
    sys.exit(main())
