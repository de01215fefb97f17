"""``python -m theorems.check THEOREM``: run every claim of a theorem through
the engines and print (and render) the verdicts.

Exit codes: 0 verified, 1 refuted, 2 usage or input error, 3 inconclusive,
4 internal error (one line naming the file that holds the traceback).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass

import sympy as sp

from .base import EXIT_CODES, LIMITS, WORK_FORMULA, Evidence, ParameterError, Result, VariantResult, combine, work
from .registry import TheoremImportError, UnknownTheorem, all_theorems, get


class UsageError(ValueError):
    """Bad options or input: reported in one line, exit code 2."""


@dataclass
class Context:
    k: int
    d: int
    n: int
    bits: int
    seed: int
    data: object
    data_source: str
    user_data: bool = False
    params: dict = None          # symbol -> exact value
    policies: dict = None        # parameter name -> policy (or number)
    param_info: dict = None      # parameter name -> what the report shows
    precision_cap: int = 8192    # an undecided certified check doubles its precision up to here
    command: str = ""            # the exact command (CLI) or call (Python) that made this run
    data_hash: str = ""          # SHA-256 of the data
    progress: object = None      # progress inside a long check: msg -> None (Run.note)


class _Ticker:
    """Progress inside one check: the first note after ``after`` seconds, then at most one per ``every``."""

    def __init__(self, say, prefix: str, after: float = 2.0, every: float = 2.0):
        self.say, self.prefix, self.every = say, prefix, every
        self.next = time.perf_counter() + after

    def __call__(self, msg: str) -> None:
        now = time.perf_counter()
        if now >= self.next:
            self.next = now + self.every
            self.say(f"{self.prefix}: {msg}")


# ---------------------------------------------------------------- options
def _int_opt(name, v, lo, hi=None):
    if isinstance(v, bool) or not isinstance(v, int):
        try:
            v = int(str(v))
        except ValueError:
            raise UsageError(f"{name} must be an integer, got {v!r}") from None
    if v < lo or (hi is not None and v > hi):
        raise UsageError(f"{name} must be {'>= ' + str(lo) if hi is None else f'between {lo} and {hi}'}, got {v}")
    return v


def make_context(thm, k=None, d=None, n=None, precision=None, seed=None, data=None, precision_cap=None,
                 **params) -> Context:
    from numeric.data import DataError, gaussian, is_finite, load_npz
    from numeric.forward import Data
    from .base import ParameterError
    df, lim = thm.defaults, thm.limits
    unknown = sorted(set(params) - {p.name for p in thm.parameters})
    if unknown:
        known = ", ".join(p.name for p in thm.parameters) or "none"
        raise UsageError(f"{thm.id} has no parameter {', '.join(unknown)} (its parameters: {known})")
    k = _int_opt("k", df["k"] if k is None else k, 0, lim["k"])
    if precision is None:
        # balls widen by a few bits per layer (about 5 here): keep a margin that grows with k
        bits = max(int(df["precision"]), 96 + 8 * k)
    else:
        bits = _int_opt("precision", precision, 53, 4096)
    cap = _int_opt("precision_cap", 8192 if precision_cap is None else precision_cap, 53, 65536)
    if cap < bits:
        raise UsageError(f"precision_cap ({cap}) is below the starting precision ({bits} bits)")
    seed = _int_opt("seed", df["seed"] if seed is None else seed, 0, 2**63 - 1)
    try:
        policies = {p.name: p.resolve(params.get(p.name)) for p in thm.parameters}
    except ParameterError as e:
        raise UsageError(str(e)) from None
    if data is not None:
        if isinstance(data, (str, os.PathLike)):
            try:
                data_obj = load_npz(str(data))
            except DataError as e:
                raise UsageError(str(e)) from None
            source = str(data)
        elif isinstance(data, Data):
            data_obj, source = data, "Data object"
        elif isinstance(data, dict) or (isinstance(data, (tuple, list)) and len(data) == 3):
            from numeric.data import from_arrays
            X, y, xt = (data["X"], data["y"], data["x_test"]) if isinstance(data, dict) else data
            try:
                data_obj = from_arrays(X, y, xt)
            except (DataError, KeyError) as e:
                raise UsageError(str(e)) from None
            source = "arrays given to verify()"
        else:
            raise UsageError("data must be a path to an .npz file, arrays (X, y, x_test) or a dict with those keys, "
                             "or a numeric.forward.Data")
        if not is_finite(data_obj):
            raise UsageError("data contains NaN or infinite values")
        for name, given, actual in (("d", d, data_obj.d), ("n", n, data_obj.n)):
            if given is not None and _int_opt(name, given, 1) != actual:
                raise UsageError(f"{name} = {given} does not match the data file ({name} = {actual})")
        d, n = data_obj.d, data_obj.n
        for name, v in (("d", d), ("n", n)):       # the limits the CLI can meet hold for a data file too
            if v > lim[name]:
                raise UsageError(f"the data has {name} = {v}; {thm.id} checks {name} up to {lim[name]}")
    else:
        d = _int_opt("d", df["d"] if d is None else d, 1, lim["d"])
        n = _int_opt("n", df["n"] if n is None else n, 1, lim["n"])
        data_obj, source = gaussian(d, n, seed), f"Gaussian sample, seed {seed}: x ~ N(0, I), w ~ N(0, I), y = Xw"
    if "work" in lim and work(d, n, k) > lim["work"]:   # the sizes together, for a data file too
        raise UsageError(f"d = {d}, n = {n}, k = {k} is too large a run for {thm.id}: its cost {WORK_FORMULA} = "
                         f"{work(d, n, k):.3g} is above its limit {lim['work']:.3g} (the README, "
                         f"'Limits'); reduce d, n or k")
    ctx = Context(k, d, n, bits, seed, data_obj, source, user_data=data is not None, precision_cap=cap)
    ctx.policies = policies
    ctx.params, ctx.param_info = {}, {}
    for p in thm.parameters:
        try:
            v = p.value(policies[p.name], data_obj, bits)
        except ParameterError as e:
            raise UsageError(str(e)) from None
        ctx.params[p.symbol] = v
        ctx.param_info[p.name] = p.info(policies[p.name], v)
    return ctx


# ---------------------------------------------------------------- claims
TRACEBACK_DIR = os.path.join(tempfile.gettempdir(), "icl-theorems")


def save_traceback(label: str) -> str:
    """Write the current exception's traceback to a file; return its path."""
    import traceback
    os.makedirs(TRACEBACK_DIR, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in label)[:60]
    path = os.path.join(TRACEBACK_DIR, f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{safe}.txt")
    with open(path, "w") as f:
        f.write(traceback.format_exc())
    return path


def run_claim(claim, run) -> Evidence:
    """One claim through its kind's checker (and counterexample search).  A
    crash inside a checker is the outcome ``error``, with the traceback saved:
    never a refutation, never a verification."""
    from symbolic.lemmas import Outcome
    from .kinds import lookup
    t0 = time.perf_counter()
    kind = lookup(claim.spec)
    try:
        o = kind.check(claim.spec, run)
        if o.verdict != "verified" and kind.counterexample is not None:
            o = kind.counterexample(claim.spec, run, o)
    except UsageError:
        raise
    except NotImplementedError as e:       # an evaluator without this op (softmax in exact rationals): undecided
        o = Outcome("inconclusive", f"{kind.name} checker", f"this check cannot evaluate the construction: {e}")
    except Exception as e:
        path = save_traceback(f"{getattr(run.theorem, 'id', 'claim')}-{claim.name}")
        o = Outcome("error", f"internal error in the {kind.name} checker",
                    f"{type(e).__name__}: {e} (traceback in {path})", {"traceback": path})
    return Evidence(claim.name, o.verdict, o.method, o.detail, claim.cite, claim.statement,
                    {**o.data, "where": o.where, "text": claim.text, "kind": kind.name, "root": claim.root},
                    o.assumptions,
                    time.perf_counter() - t0, erratum=claim.erratum)


# ---------------------------------------------------------------- verify
def verify(theorem_id, k=None, d=None, n=None, precision=None, seed=None,
           variant: str | None = None, data=None, progress=None, precision_cap=None, command: str | None = None,
           train: str | None = None, seeds=None, device: str | None = None, resume: bool = True,
           experiment: str | None = None, shipped: bool = True, bf16: str | None = None, compile: str | None = None,
           garg_checkpoint: str | None = None, **params) -> Result:
    """Check every claim of a theorem; returns a :class:`theorems.base.Result`.

    ``k`` (iterations), ``d``, ``n`` (sizes of the numeric checks), ``precision``
    (bits; an undecided certified check doubles it up to ``precision_cap``), ``seed``,
    ``variant`` (one construction alone), ``data`` (an .npz path, arrays
    ``(X, y, x_test)`` as numpy arrays or torch tensors, a dict with those keys, or a
    :class:`numeric.forward.Data`), and the theorem's parameters by name
    (``alpha=...`` for newton_k_plus_8: a policy name or a positive number).

    Trained networks (empirical, never in the verdict): ``train`` (a preset: ci, cpu or paper)
    trains the theorem's experiments now (cached models reused unless ``resume=False``), over
    ``seeds`` (a list or "0,1,2"), on ``device`` (default CUDA when present, else the CPU),
    ``experiment`` alone if named; without ``train`` the result shipped with the catalogue is
    attached when there is one (``shipped=False``: none)."""
    from symbolic.templates import Algebra
    from .kinds import Run, lookup
    try:
        thm = get(theorem_id)
    except (UnknownTheorem, TheoremImportError) as e:
        raise UsageError(str(e)) from None
    theorem_id = thm.id if not isinstance(theorem_id, str) else theorem_id
    names = [v.name for v in thm.variants]
    if variant is not None and variant not in names:
        raise UsageError(f"unknown variant '{variant}' for {theorem_id} (variants: {', '.join(names)})")
    from . import trained as tr
    try:
        seeds = tr.parse_seeds(",".join(map(str, seeds)) if isinstance(seeds, (list, tuple)) else seeds)
        tr.check_request(thm, train, experiment, device)
        tr.parse_switch("--bf16", bf16)
        tr.parse_switch("--compile", compile)
        if garg_checkpoint is not None:
            if train is None:
                raise ParameterError("--garg-checkpoint needs --train PRESET (whose evaluation settings the probe uses)")
            if not any(getattr(e, "kind", None) == "probe" for e in tr.experiments_of(thm)):
                raise ParameterError(f"{thm.id} has no probing study for --garg-checkpoint")
            tr.load_garg(garg_checkpoint)
    except ParameterError as e:
        raise UsageError(str(e)) from None
    ctx = make_context(thm, k, d, n, precision, seed, data, precision_cap, **params)
    ctx.command = command or "theorems.verify(" + ", ".join(
        [repr(theorem_id)] + [f"{name}={val!r}" for name, val in (("k", k), ("d", d), ("n", n), ("precision", precision),
                                                                  ("seed", seed), ("variant", variant),
                                                                  ("precision_cap", precision_cap), *params.items())
                              if val is not None] + (["data=<given>"] if data is not None else [])) + ")"
    ctx.data_hash = data_sha256(ctx.data, ctx.data_source if ctx.user_data else None) or ""
    say = progress or (lambda msg: None)
    t_start = time.perf_counter()
    results: list[VariantResult] = []
    cons, recs = {}, {}
    for v in thm.variants:
        if variant and v.name != variant:
            continue
        alg = Algebra()
        con = v.build()
        cons[v.name] = (con, alg)
        claims = v.claims(con, alg)
        run = Run(thm, ctx, con, alg)
        checks_ = []
        for c in claims:
            say(f"{v.name}: {c.name}")
            ctx.progress = _Ticker(say, f"{v.name}: {c.name}") if progress else None
            checks_.append(run_claim(c, run))
        ctx.progress = None
        results.append(VariantResult(v.name, v.role, v.summary, v.justification, checks_, describe(con, alg)))
        rec_claim = next((c for c in claims if lookup(c.spec).name == "certified"), None)
        if rec_claim is not None:
            recs[v.name] = rec_claim.spec.recursion
    thm_claims = []
    if variant is None:
        run = Run(thm, ctx)
        for c in thm.claims():
            say(f"theorem: {c.name}")
            ctx.progress = _Ticker(say, f"theorem: {c.name}") if progress else None
            thm_claims.append(run_claim(c, run))
        ctx.progress = None

    errors = [e.data["traceback"] for r in results for e in r.checks if e.verdict == "error"] + \
             [e.data["traceback"] for e in thm_claims if e.verdict == "error"]
    if variant:
        verdict = results[0].verdict
        basis = f"variant {variant} alone"
    else:
        stated = [e for e in thm_claims if e.statement]
        verdict = combine([r.verdict for r in results if r.name in thm.basis] + [e.verdict for e in stated])
        basis = "variant " + thm.basis[0] if len(thm.basis) == 1 else \
            "variants " + ", ".join(thm.basis[:-1]) + " and " + thm.basis[-1]
        if stated:
            basis += f", and {len(stated)} claim{'s' if len(stated) > 1 else ''} about the algorithm"
    if errors:
        verdict = "error"
    try:
        numbers = layer_numbers(thm, results, cons, recs, ctx, variant)
    except Exception:
        path = save_traceback(f"{thm.id}-numbers")
        numbers, verdict = {"error": f"internal error (traceback in {path})"}, "error"
        errors.append(path)
    errata = collect_errata(results, thm_claims)
    env = environment(ctx, time.perf_counter() - t_start)
    decided = [e.data["precision_bits"] for r in results for e in r.checks if "precision_bits" in e.data]
    undecided = [f"{r.name}: {e.claim}: {e.detail}" for r in results if r.name in thm.basis or variant
                 for e in r.checks if e.statement and e.verdict == "inconclusive"] + \
                [f"{e.claim}: {e.detail}" for e in thm_claims if e.statement and e.verdict == "inconclusive"]
    settings = {"k": ctx.k, "d": ctx.d, "n": ctx.n, "precision_bits": ctx.bits, "seed": ctx.seed,
                "precision_cap": ctx.precision_cap, "precision_decided": max(decided) if decided else ctx.bits,
                "inconclusive_because": undecided,
                **{name: info["formula"] for name, info in ctx.param_info.items()},
                "data": ctx.data_source, "variant": variant or "all"}
    trained = None
    if train is not None:
        say(f"trained networks ({train} preset)")
        try:
            trained = tr.run(thm, train, seeds, device, resume, experiment, progress is not None, ctx.command,
                             env.get("tool", ""), env.get("date", ""), bf16=tr.parse_switch("--bf16", bf16),
                             compile=tr.parse_switch("--compile", compile), garg_checkpoint=garg_checkpoint)
        except Exception:
            path = save_traceback(f"{thm.id}-trained")
            trained = {"source": "this run", "error": f"internal error in the trained-network experiments "
                                                      f"(traceback in {path})", "experiments": []}
            errors.append(path)
            verdict = "error"
    elif shipped and variant is None:
        trained = tr.load_shipped(thm)
    return Result(thm.id, thm.title, thm.citation, thm.statement, verdict, basis, results, thm_claims, errata,
                  settings, env, list(thm.notes), dict(ctx.param_info), numbers, errors, trained or {})


def describe(con, alg) -> dict:
    """The construction as block matrices (LaTeX), layer by layer."""
    blocks = [b.name for b in con.layout.blocks]
    layers = []
    for stage, group in (("init", con.init), ("step (x k)", con.step), ("readout", con.readout)):
        for L in group:
            ops = [op.describe(blocks) for op in L.ops]
            layers.append({"stage": stage, "name": L.name, "cite": L.cite, "note": L.note, "ops": ops})
    return {"layout": [{"name": b.name, "size": str(b.size), "doc": b.doc} for b in con.layout.blocks],
            "width": str(con.layout.width), "layers": layers, "n_layers": str(con.n_layers(sp.Symbol("k"))),
            "tokens": con.tokens.description}


def layer_numbers(thm, results, cons, recs, ctx: Context, variant) -> dict:
    """Per-Newton-layer table (certified, float64) and the reference curves."""
    from numeric import checks
    roles = {v.name: v.role for v in thm.variants}
    pick = variant or next((name for name in thm.basis if roles.get(name) == "exact" and name in cons),
                           thm.basis[0])
    if pick not in cons or pick not in recs or recs[pick].readout is None:
        return {}
    con, alg = cons[pick]
    vr = next(r for r in results if r.name == pick)
    cert = next((e for e in vr.checks if e.method.startswith("certified")), None)
    table = [dict(r) for r in ((cert.data.get("table") if cert else None) or [])]
    out = {"variant": pick, "per_layer": table, "step_name": thm.step_name, "recursion_name": thm.recursion_name}
    try:
        f64, dev = checks.float64_predictions(con, recs[pick], ctx.data, ctx.k, ctx.params)
        for row, v in zip(table, f64):
            row["float64"] = v
            row["float64_err"] = abs(v - row["recursion"])
        out["float64_backend"] = dev
        out["float64_growth"] = float64_growth(table)
    except Exception as e:  # float64 column is informative only
        out["float64_error"] = f"{type(e).__name__}: {e}"
    ref = checks.reference_curves(recs[pick], ctx.data, ctx.params, ctx.k, ctx.bits, con)
    out["reference"] = ref
    for row in table:
        row["net_vs_ols"] = abs(row.get("float64", row["network"]) - ref["ols"])
    from numeric.backends import ball_decided
    # ball numbers travel with their radius; a ball wider than half its value is not a value
    out["data_predictions"] = [{"iteration": r["iteration"], "network": r["network"],
                                "network_radius": r.get("network_radius"), "recursion": r["recursion"],
                                "recursion_radius": r.get("recursion_radius"),
                                "decided": ball_decided(r["recursion"], r.get("recursion_radius", 0.0))}
                               for r in table]
    return out


def float64_growth(table) -> dict:
    """How the float64 network's gap to the certified recursion grows per step layer: the geometric
    rate fitted (least squares on log2) over the layers where the gap is above rounding, and what
    that rate leaves of a p-bit mantissa: the number of layers until the relative error reaches 1e-6."""
    import math
    pts = [(r["iteration"], math.log2(r["float64_err"] / max(abs(r["recursion"]), 1e-300)))
           for r in table if r.get("float64_err") and r["float64_err"] > 0 and math.isfinite(r["float64_err"])]
    if len(pts) < 3:
        return {}
    n = len(pts)
    mx, my = sum(x for x, _ in pts) / n, sum(y for _, y in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    if sxx == 0:
        return {}
    slope = sum((x - mx) * (y - my) for x, y in pts) / sxx
    out = {"rate_per_layer": 2.0 ** slope, "log2_per_layer": slope, "layers_fitted": [pts[0][0], pts[-1][0]]}
    if slope > 0.05:
        # relative error about 2^(k * slope - p) (p: mantissa bits); layers until it reaches 1e-6
        out["layers_to_1e-6"] = {name: max(0, int((p - math.log2(1e6)) / slope))
                                 for name, p in (("float64", 53), ("float32", 24), ("bfloat16", 8))}
    return out


ROOT_CAUSE_KINDS = ("layer_maps",)


def collect_errata(results, thm_claims) -> list[dict]:
    """Errata are the printed statements found false where they are made: a
    layer's claimed output, a printed formula.  The failures they cause
    downstream (induction, composition) are evidence, not further errata, and
    claims about this run (its alpha, its data) are never errata.  Two claims
    refuted for the same reason are one erratum."""
    out, by_reason = [], {}
    candidates = [e for r in results if r.role == "printed" for e in r.checks
                  if e.verdict == "refuted" and (e.data.get("kind") in ROOT_CAUSE_KINDS or e.data.get("root"))]
    candidates += [e for e in thm_claims if e.verdict == "refuted" and e.erratum]
    for e in candidates:
        w = e.data.get("where", {})
        reason = w.get("reason")
        if reason and reason in by_reason:
            by_reason[reason]["where"] += f"; also {e.cite}"
            continue
        loc = "; ".join(f"{k} {w[k]}" for k in ("layer", "block") if w.get(k))
        entry = {"where": f"{e.cite}" + (f" ({loc})" if loc else ""), "printed": e.data.get("text", e.claim),
                 "finding": e.detail, "claim": e.claim}
        out.append(entry)
        if reason:
            by_reason[reason] = entry
    return out


def _tool_version() -> dict:
    """The tool's version and, in a git checkout, its commit (with a mark when the tree has changes)."""
    import importlib.metadata as md
    import subprocess
    out = {}
    try:
        out["version"] = md.version("icl-theorems")
    except md.PackageNotFoundError:
        out["version"] = "unknown (not installed)"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        if commit.returncode == 0:
            dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                                   capture_output=True, text=True, timeout=5)
            out["commit"] = commit.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def data_sha256(data, source) -> str | None:
    """SHA-256 of the data file given with --data, or of the prompt's float64 values."""
    import hashlib
    if isinstance(source, str) and os.path.isfile(source):
        with open(source, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    if data is None:
        return None
    import numpy as np
    h = hashlib.sha256()
    for a in (data.X, data.y, data.x_test):
        h.update(np.asarray(a, dtype=float).tobytes())
    return h.hexdigest()


def environment(ctx: Context, seconds: float) -> dict:
    import importlib.metadata as md
    vers = {}
    for pkg in ("sympy", "mpmath", "python-flint", "numpy", "torch", "jinja2", "weasyprint"):
        try:
            vers[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            vers[pkg] = "not installed"
    try:
        import torch
        dev = "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        dev = "none (torch not installed)"
    tool = _tool_version()
    return {"tool": f"icl-theorems {tool.get('version')}" + (f", commit {tool['commit']}" if tool.get("commit") else ""),
            "command": ctx.command or "", "data_sha256": ctx.data_hash or "", "seed": ctx.seed,
            "python": platform.python_version(), "platform": platform.platform(), "packages": vers,
            "torch_device": dev, "seconds": round(seconds, 2),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


# ---------------------------------------------------------------- CLI
class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


EXIT_HELP = "Exit 0: verified; 1: refuted; 2: usage or input error; 3: inconclusive; 4: internal error."


def parser(thm=None, add_help=True) -> argparse.ArgumentParser:
    p = _Parser(prog="python -m theorems.check", add_help=add_help,
                description="Check a theorem of the form 'a transformer with these weights implements this "
                            "algorithm in context'. " + EXIT_HELP)
    p.add_argument("theorem", nargs="?", help="theorem id (see --list)")
    p.add_argument("--list", action="store_true", help="list the catalogue")
    p.add_argument("--all", action="store_true",
                   help="check every theorem (the catalogue and installed entry points) and write an index report "
                        "(index.html, index.pdf) beside theirs; exit 4 if any internal error, else 1 if any is "
                        "refuted, else 3 if any is inconclusive, else 0")
    p.add_argument("--preset", default="default", choices=("default", "small"),
                   help="with --all: each theorem's defaults, or the small preset of its golden record")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="with --all: run the theorems on a Dask cluster (a scheduler address, or local:N for N "
                        "local workers; needs the distributed extra)")
    lim = thm.limits if thm else LIMITS
    df = thm.defaults if thm else {}
    p.add_argument("--k", help=f"number of iterations / layers, 0..{lim['k']} (default {df.get('k', 'per theorem')})")
    p.add_argument("--d", help=f"dimension for the numeric checks, 1..{lim['d']} (default {df.get('d', 20)})")
    p.add_argument("--n", help=f"number of examples for the numeric checks, 1..{lim['n']} (default {df.get('n', 40)})")
    for prm in (thm.parameters if thm else ()):
        pols = ", ".join(f"{name} ({pol.formula})" for name, pol in prm.policies.items())
        al = ", ".join(f"{a} = {t}" for a, (t, _) in prm.aliases.items())
        p.add_argument(f"--{prm.name}", help=f"{prm.help}: {pols}" + (f", aliases {al}" if al else "")
                       + ("" if prm.shape else ", or a positive number") + f" (default {prm.default})")
    p.add_argument("--precision", help="bits for ball / multiprecision arithmetic, 53..4096 "
                                       "(default max(256, 96 + 8k))")
    p.add_argument("--precision-cap", dest="precision_cap",
                   help="an undecided certified check is repeated at doubled precision up to this many bits "
                        "(53..65536, default 8192)")
    p.add_argument("--seed", help="seed of the sampled data, 0..2^63-1 (default 0)")
    p.add_argument("--variant", help="check one construction variant alone")
    p.add_argument("--data", help=".npz with X (n x d), y (n), x_test (d)")
    p.add_argument("--json", help="write the result as JSON to this file")
    p.add_argument("--report", default="html,pdf", help="html,pdf (default), html, pdf or none")
    p.add_argument("--out", default="reports-out", help="directory for reports (default reports-out)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace earlier reports of the theorem in --out (default: write <theorem>-2.* beside them)")
    p.add_argument("--quiet", action="store_true", help="print only the verdict line")
    g = p.add_argument_group("trained networks (empirical evidence, never part of the verdict)")
    exps = ", ".join(e.id for e in (thm.experiments() if thm and thm.experiments else ())) or "per theorem"
    g.add_argument("--train", metavar="PRESET",
                   help="train the theorem's experiments now: ci (seconds), cpu (minutes on a 2-core CPU) or "
                        "paper (the papers' batch sizes and step counts, for a GPU); models are cached by "
                        "(theorem, experiment, preset, seed, device, code version) and interrupted runs resume "
                        "from their checkpoint. Without --train the result shipped with the catalogue is shown")
    g.add_argument("--seeds", help="comma-separated training seeds (default: the preset's)")
    g.add_argument("--device", help="cpu, cuda or cuda:N (default: CUDA when present, else the CPU)")
    g.add_argument("--experiment", help=f"train one experiment alone ({exps})")
    g.add_argument("--restart", action="store_true", help="retrain even when a cached model or checkpoint exists")
    g.add_argument("--bf16", default=None, metavar="auto|on|off",
                   help="bf16 autocast for the GPT-2 studies' training (auto: on with CUDA, off on the CPU)")
    g.add_argument("--garg-checkpoint", dest="garg_checkpoint", metavar="FILE",
                   help="probe this model (a state dict in Garg et al.'s layout, e.g. their released state.pt) "
                        "instead of training one; with --train PRESET for the evaluation settings")
    g.add_argument("--compile", default=None, metavar="auto|on|off",
                   help="torch.compile the GPT-2 studies' training step (auto: on with CUDA, off on the CPU)")
    g.add_argument("--trained-json", dest="trained_json",
                   help="write the trained-network summary (figures, seeds, intervals, the command) to this file")
    return p


def _check_writable(args, kinds) -> None:
    """Fail before the run, not after it, when an output cannot be written."""
    for opt, path in (("--json", args.json), ("--trained-json", getattr(args, "trained_json", None))):
        if path:
            parent = os.path.dirname(os.path.abspath(path))
            if os.path.isdir(path) or not os.path.isdir(parent) or not os.access(parent, os.W_OK):
                raise UsageError(f"cannot write {opt} {path}")
    if kinds and "none" not in kinds:
        out = os.path.abspath(args.out)
        probe = out
        while not os.path.exists(probe):
            probe = os.path.dirname(probe)
        if os.path.exists(out) and not os.path.isdir(out):
            raise UsageError(f"--out {args.out} exists and is not a directory")
        if not os.access(probe, os.W_OK):
            raise UsageError(f"cannot write reports into --out {args.out}")


def main(argv=None) -> int:
    try:
        return _main(argv)
    except SystemExit:
        raise
    except BaseException as e:      # the last line of defence: exit 4, never a traceback on the terminal
        if isinstance(e, KeyboardInterrupt):
            print("interrupted", file=sys.stderr)
            return 130
        path = save_traceback("cli")
        print(f"internal error: {type(e).__name__}: {e}; the traceback is in {path}", file=sys.stderr)
        return EXIT_CODES["error"]


def _run_all(args) -> int:
    from .distribute import ClusterError
    from .index import run_all
    kinds = [r.strip() for r in args.report.split(",") if r.strip()]
    bad = [r for r in kinds if r not in ("html", "pdf", "none")] or ([] if kinds else ["(nothing)"])
    if bad:
        raise UsageError(f"--report takes html, pdf or none, got {', '.join(bad)}")
    _check_writable(args, ["html"])
    say = None if args.quiet else (lambda m: print(f"  {m}", file=sys.stderr, flush=True))
    try:
        rows, paths = run_all(preset=args.preset, out=args.out, kinds=[k for k in kinds if k != "none"],
                              overwrite=args.overwrite, progress=say, cluster=args.dask)
    except ClusterError as e:
        raise UsageError(str(e)) from None
    from .index import summary_code
    for r in rows:
        sc = r["score"]["text"]
        print(f"{r['theorem']:26s} {r['verdict'].upper():12s} {r['seconds']:7.1f} s  soundness {sc}"
              + (f"  ({'; '.join(r['errors'])})" if r.get("errors") else ""))
    code = summary_code(r["verdict"] for r in rows)
    print(f"{len(rows)} theorems: exit {code}; wrote {', '.join(paths)}")
    return code


def _main(argv) -> int:
    try:
        first, _ = parser(add_help=False).parse_known_args(argv)
        thm = None
        if first.theorem and not first.list:
            try:
                thm = get(first.theorem)
            except (UnknownTheorem, TheoremImportError) as e:
                raise UsageError(str(e)) from None
        args = parser(thm).parse_args(argv)
        if args.list:
            for t in all_theorems(external=True):
                variants = ", ".join(v.name for v in t.variants)
                print(f"{t.id:20s} {t.title}\n{'':20s} source: {t.source}; variants: {variants}")
            return 0
        if args.all:
            if args.theorem:
                raise UsageError("give a theorem or --all, not both")
            return _run_all(args)
        if args.dask or args.preset != "default":
            raise UsageError("--dask and --preset go with --all")
        if not args.theorem:
            raise UsageError("name a theorem to check (see --list)")
        kinds = [r.strip() for r in args.report.split(",") if r.strip()]
        bad = [r for r in kinds if r not in ("html", "pdf", "none")] or ([] if kinds else ["(nothing)"])
        if bad:
            raise UsageError(f"--report takes html, pdf or none, got {', '.join(bad)}")
        _check_writable(args, kinds)
        progress = None if args.quiet else (lambda m: print(f"  checking {m}", file=sys.stderr, flush=True))
        params = {p.name: getattr(args, p.name) for p in thm.parameters if getattr(args, p.name) is not None}
        result = verify(args.theorem, k=args.k, d=args.d, n=args.n, precision=args.precision,
                        seed=args.seed, variant=args.variant, data=args.data, progress=progress,
                        precision_cap=args.precision_cap, command=" ".join(["python -m theorems.check", *(
                            argv if argv is not None else sys.argv[1:])]), train=args.train, seeds=args.seeds,
                        device=args.device, resume=not args.restart, experiment=args.experiment,
                        bf16=args.bf16, compile=args.compile, garg_checkpoint=args.garg_checkpoint, **params)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from reports.render import text_table, write_reports
    if not args.quiet:
        print(text_table(result))
    paths = []
    try:
        if args.json:
            with open(args.json, "w") as f:
                f.write(result.dumps())
            paths.append(args.json)
        if args.trained_json:
            import json as _json
            with open(args.trained_json, "w") as f:
                _json.dump(result.to_json()["trained"], f, indent=1)
            paths.append(args.trained_json)
        if "none" not in kinds and kinds:
            paths += write_reports(result, args.out, kinds, overwrite=args.overwrite)
    except OSError as e:
        print(f"error: cannot write output: {e}", file=sys.stderr)
        return 2
    print(f"{result.theorem}: {result.verdict.upper()} ({result.verdict_basis})"
          + (f"; wrote {', '.join(paths)}" if paths else ""))
    if result.errors:
        more = f" (and {len(result.errors) - 1} more in {TRACEBACK_DIR})" if len(result.errors) > 1 else ""
        print(f"internal error: a checker crashed; the traceback is in {result.errors[0]}{more}", file=sys.stderr)
    return EXIT_CODES[result.verdict]


if __name__ == "__main__":
    sys.exit(main())
