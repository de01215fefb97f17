"""Text, JSON, HTML and PDF renderings of a :class:`theorems.base.Result`.

The engine knows nothing about any particular paper: everything shown comes
from the Result.  One Jinja template (``templates/report.html.j2``) is written
once and rendered with a math renderer switched between MathML (HTML, Jupyter)
and ziamath SVG (PDF via WeasyPrint, which does not render MathML).

    from reports.render import text_table, render_html, render_pdf, write_reports
    print(text_table(result))
    html = render_html(result)                 # standalone, offline page
    frag = render_html(result, standalone=False)   # Jupyter fragment
    render_pdf(result, "out.pdf")
    write_reports(result, "reports-out", ["html", "pdf"])   # + <theorem>.json
"""
from __future__ import annotations

import base64
import math
import os
import re
import sys
import textwrap

import jinja2
from markupsafe import Markup

from .figures import FLOOR, error_figure_svg, error_series
from .mathrender import MathRenderer

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
WIDTH = 100

# ====================================================================== text
def _clip(s: str, n: int) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _first_sentence(s: str) -> str:
    """A finding up to its counterexample, whole (the terminal wraps; it does not cut)."""
    s = " ".join(str(s).split())
    return re.split(r"(?<=[a-z0-9)\]'])\.\s+(?=[A-Z])", s, maxsplit=1)[0]


def _short_finding(s: str, n: int = 140) -> str:
    """The first sentence of a finding (up to a counterexample), clipped at a word."""
    s = " ".join(str(s).split())
    cut = re.split(r"(?<=[a-z0-9)\]'])\.\s+(?=[A-Z])", s, maxsplit=1)[0]
    if len(cut) <= n:
        return cut
    cut = cut[: n - 1]
    return (cut[: cut.rfind(" ")] if " " in cut[n // 2:] else cut).rstrip(",;: ") + " …"


def _check_line(e, star: bool) -> list[str]:
    """One check: verdict, claim and method in columns; long names and methods wrap, never cut."""
    verdict = f"{e.verdict:<12s}"
    names = textwrap.wrap(e.claim + (" *" if star and not e.statement else ""), 50) or [""]
    lead = f"  {verdict} "
    room = WIDTH - len(lead) - 51
    method = textwrap.wrap(str(e.method), room) or [""]
    lines = []
    for i in range(max(len(names), len(method))):
        left = (lead if i == 0 else " " * len(lead)) + f"{names[i] if i < len(names) else '':<50s} "
        lines.append((left + (method[i] if i < len(method) else "")).rstrip())
    return lines


def text_table(result) -> str:
    """The terminal verdict table (fits in 100 columns)."""
    r = result
    out: list[str] = []
    out.append(_clip(r.title, WIDTH))
    out += textwrap.wrap(r.citation, WIDTH, initial_indent="  ", subsequent_indent="  ")
    s = r.settings or {}
    run = ", ".join(f"{k}={s[k]}" for k in ("k", "d", "n") if k in s)
    extra = []
    for name, a in (r.parameters or {}).items():
        if a.get("formula"):
            extra.append(f"{name}={a['formula']}")
    if "precision_bits" in s:
        dec = s.get("precision_decided", s["precision_bits"])
        extra.append(f"{s['precision_bits']} bits" + (f" (certified checks decided at up to {dec})"
                                                      if dec != s["precision_bits"] else ""))
    if "seed" in s:
        extra.append(f"seed {s['seed']}")
    if run or extra:
        out += textwrap.wrap("run: " + ", ".join([run] + extra if run else extra), WIDTH,
                             initial_indent="  ", subsequent_indent="       ")
    out.append("")
    out.append(f"  {'verdict':<12s} {'claim':<50s} method")
    any_star = False
    for v in r.variants:
        out += textwrap.wrap(f"variant {v.name} [{v.role}]: {v.verdict.upper()}"
                             + (f" - {v.summary}" if v.summary else ""), WIDTH, subsequent_indent="    ")
        for e in v.checks:
            any_star |= not e.statement
            out += _check_line(e, True)
    stated = [e for e in r.claims if e.statement]
    further = [e for e in r.claims if not e.statement]
    if stated:
        out.append("claims of the statement about the algorithm (no construction; they decide the verdict):")
        for e in stated:
            out += _check_line(e, False)
    if further:
        out.append("further formulas of the paper (not part of the statement):")
        for e in further:
            out += _check_line(e, False)
    if any_star:
        out.append("  * not part of the theorem's statement (does not decide the verdict)")
    if r.errata:
        out.append("")
        out.append(f"errata found: {len(r.errata)}")
        for i, er in enumerate(r.errata, 1):
            lead = f"  {i:>2d}. "
            where = str(er.get("where", "?"))
            txt = f"{where}: {_first_sentence(er.get('finding', ''))} (in full in the report and the JSON)"
            out += textwrap.wrap(txt, WIDTH, initial_indent=lead, subsequent_indent=" " * len(lead))
    t = getattr(r, "trained", None) or {}
    if t:
        out.append("")
        out += textwrap.wrap("trained networks (empirical; not part of the verdict): " + str(t.get("source_text", "")),
                             WIDTH, subsequent_indent="  ")
        if t.get("error"):
            out.append("  " + t["error"])
        for e in t.get("experiments", []):
            out += textwrap.wrap(f"{e['id']}: {e['title']} [{e['preset']}, seeds {', '.join(map(str, e['seeds']))}]",
                                 WIDTH, initial_indent="  ", subsequent_indent="    ")
            for h in e.get("headlines", []):
                out += textwrap.wrap(h, WIDTH, initial_indent="    ", subsequent_indent="      ")
            for tg in e.get("targets", []):
                out += textwrap.wrap(f"{'met' if tg['met'] else 'NOT met'}: {tg['text']} (mean {fmt(tg['mean'])}, "
                                     f"worst seed {fmt(tg['worst_seed'])})", WIDTH, initial_indent="    ",
                                     subsequent_indent="      ")
    out.append("")
    out += textwrap.wrap(f"VERDICT: {str(r.verdict).upper()} (rests on {r.verdict_basis})", WIDTH,
                         subsequent_indent="  ")
    if r.verdict == "inconclusive":
        for why in (r.settings or {}).get("inconclusive_because", []):
            out += textwrap.wrap(f"undecided: {why}", WIDTH, initial_indent="  ", subsequent_indent="    ")
    return "\n".join(out)


# ====================================================================== helpers
def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def fmt(v, kind: str = "g") -> str:
    """Numbers for tables: 'val' full float64 digits, 'err' 3 significant digits."""
    if v is None or v == "":
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return v
    if not _is_num(v):
        return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if kind == "val":
        return f"{v:.16g}"
    if kind == "err":
        return "0" if v == 0 else f"{v:.2e}"
    if isinstance(v, int):
        return str(v)
    return f"{v:.6g}"


_FORMULA = re.compile(r"[\w\s*+\-/().^',]+")
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def readable(s: str) -> str:
    """A formula the data keeps in sympy's syntax (``-S**3*alpha**2 + 2*S*alpha``) as a reader writes it
    (``−α²S³ + 2αS``), by ``symbolic.mathtext``; one it cannot read back (``tr(A Sigma^2)``) gets its powers
    raised and its products dotted.  Any other string is left as it is."""
    if "*" not in s or not _FORMULA.fullmatch(s):
        return s
    from symbolic.mathtext import math_text, parse_text
    try:
        return math_text(parse_text(s))
    except Exception:              # not sympy's syntax after all: only the cosmetics
        s = re.sub(r"\*\*(\d+)", lambda m: m.group(1).translate(_SUPERSCRIPT), s)
        return re.sub(r"(?<=[\w)])\*(?=[\w(])", "·", s)


def compact(v) -> str:
    """A short, quote-free rendering of nested data: [[1], [-2]]; formulas as a reader writes them."""
    if isinstance(v, str):
        return readable(v)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {compact(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(compact(x) for x in v) + "]"
    if isinstance(v, float):
        return fmt(v)
    return str(v)


_SKIP_DATA = {"text", "kind", "where", "lemmas", "counterexample", "plot", "root"}   # root: an internal flag
_SNAKE = re.compile(r"[a-z][a-z0-9]+(?:_[a-z0-9]{2,})+")
_UNNAMED = {"table", "rows"}     # a check's one table, named by the check itself


def words(key: str) -> str:
    """A data key as a table header or a label: ``carrier_bound`` -> ``carrier bound``.  A key that reads as
    a symbol with a subscript (``x_test``, ``F_L(a*)``, ``e0``) stays as it is; the JSON keeps every key."""
    key = str(key)
    return key.replace("_", " ") if _SNAKE.fullmatch(key) else key


def _data_view(data: dict) -> dict:
    """Split a check's extra data into short key = value items and small tables."""
    items, tables = [], []
    for k, v in (data or {}).items():
        if k in _SKIP_DATA:
            continue
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            if len(v) <= 60:
                cols = []
                for row in v:
                    for c in row:
                        if c not in cols:
                            cols.append(c)
                tables.append({"name": "" if k in _UNNAMED else words(k), "cols": [words(c) for c in cols],
                               "rows": [[readable(fmt(row.get(c))) if not isinstance(row.get(c), (list, dict))
                                         else compact(row.get(c)) for c in cols] for row in v]})
            continue
        if isinstance(v, list) and len(v) > 8 and all(_is_num(x) or isinstance(x, str) for x in v):
            items.append((words(k), f"{len(v)} values: {compact(v[:3])[:-1]}, …, {compact(v[-2:])[1:]}"))
            continue
        c = compact(v)
        if v == [] or v == {} or v is None:
            continue
        items.append((words(k), c if len(c) <= 240 else c[:239] + "…"))
    return {"kv": items, "tables": tables}


def _where(w) -> str:
    if not isinstance(w, dict):
        return ""
    parts = [f"{k} {compact(v)}" for k, v in w.items()
             if k not in ("reason",) and v not in (None, "", [], {}) and not isinstance(v, bool)]
    return "; ".join(parts)


def _size_tex(s) -> str:
    """'5*d + 3' -> '5 d + 3' (sympy's str as LaTeX)."""
    return str(s).replace("**", "^").replace("*", " ")


def _check_view(e, pdf: bool = False) -> dict:
    d = e.data or {}
    cx = d.get("counterexample")
    fig = None
    if isinstance(d.get("plot"), dict):           # a check may ask for a plot of its own table
        from .figures import claim_plot_svg
        fig = _svg_markup(_once(claim_plot_svg, e), pdf, d["plot"].get("title", e.claim))
    return {"e": e, "name": e.claim, "verdict": e.verdict, "method": e.method, "detail": e.detail,
            "cite": e.cite, "statement": e.statement, "assumptions": list(e.assumptions or []),
            "text": d.get("text", ""), "lemmas": d.get("lemmas") or [],
            # a counterexample the finding already states is not listed again (the JSON holds its fields)
            "counterexample": [] if "Counterexample" in (e.detail or "") else
            list(cx.items()) if isinstance(cx, dict) else ([("value", cx)] if cx else []),
            "where": _where(d.get("where")) if e.verdict != "verified" else "",
            "extra": _pdf_view(_data_view(d)) if pdf else _data_view(d), "seconds": e.seconds, "figure": fig}


PDF_TABLE_ROWS = 12     # a longer table of a check is abbreviated in the PDF: its first and last rows


def _pdf_view(extra: dict) -> dict:
    """What the PDF keeps of a check's extra data: its tables, a long one abbreviated to its first and last
    rows with a row saying how many are left out; the key = value figures are the HTML's and the JSON's (the
    finding states the ones that decide).  Half the PDF's time is laying out its text."""
    tables = []
    for t in extra["tables"]:
        rows = t["rows"]
        if len(rows) > PDF_TABLE_ROWS:
            head, tail = PDF_TABLE_ROWS - 4, 3
            gap = len(rows) - head - tail
            rows = rows[:head] + [[f"… {gap} rows (HTML, JSON)"] + [""] * (len(t["cols"]) - 1)] + rows[-tail:]
        tables.append({**t, "rows": rows})
    return {"kv": [], "tables": tables, "kv_left_out": len(extra["kv"])}


def _per_layer_view(numbers: dict) -> list[dict]:
    rows = []
    for r in (numbers or {}).get("per_layer") or []:
        rows.append({"iteration": r.get("iteration", ""),
                     "network": fmt(r.get("network"), "val"),
                     "recursion": fmt(r.get("recursion"), "val"),
                     "pred_bound": fmt(r.get("pred_bound"), "err"),
                     "carrier_bound": fmt(r.get("carrier_bound"), "err"),
                     "float64": fmt(r.get("float64"), "val") if "float64" in r else "–",
                     "float64_err": fmt(r.get("float64_err"), "err") if "float64_err" in r else "–",
                     "net_vs_ols": fmt(r.get("net_vs_ols"), "err") if "net_vs_ols" in r else "–"})
    return rows


def _env_rows(result) -> list[tuple[str, str]]:
    env = result.environment or {}
    s = result.settings or {}
    rows = []
    for key, label in (("tool", "Tool"), ("command", "Command"), ("data_sha256", "Data SHA-256")):
        if env.get(key):
            rows.append((label, str(env[key])))
    if "python" in env:
        rows.append(("Python", env["python"]))
    if "platform" in env:
        rows.append(("Platform", env["platform"]))
    pk = env.get("packages") or {}
    if pk:
        rows.append(("Packages", ", ".join(f"{k} {v}" for k, v in pk.items())))
    if "torch_device" in env:
        rows.append(("Torch device", env["torch_device"]))
    if (result.numbers or {}).get("float64_backend"):
        rows.append(("float64 backend", result.numbers["float64_backend"]))
    if "precision_bits" in s:
        rows.append(("Precision", f"{s['precision_bits']} bits (ball and multiprecision arithmetic)"))
    if "seed" in s:
        rows.append(("Seed", str(s["seed"])))
    if "data" in s:
        rows.append(("Data", str(s["data"])))
    sizes = ", ".join(f"{k} = {s[k]}" for k in ("k", "d", "n") if k in s)
    if sizes:
        rows.append(("Sizes", sizes))
    if s.get("variant") not in (None, "all"):
        rows.append(("Variant", str(s["variant"])))
    for name, a in (result.parameters or {}).items():
        pol = f"{a.get('policy', '?')}: {name} = {a.get('formula', '?')}"
        if "value" in a:
            pol += f" = {fmt(a['value'])}"
        rows.append((f"Parameter {name}", pol + (f" ({a['why']})" if a.get("why") else "")))
        if a.get("value_exact"):
            rows.append((f"Parameter {name}, exact", str(a["value_exact"])))
    if "seconds" in env:
        rows.append(("Run time", f"{env['seconds']} s"))
    if "date" in env:
        rows.append(("Date", env["date"]))
    known = {"python", "platform", "packages", "torch_device", "seconds", "date", "tool", "command", "data_sha256",
             "seed"}
    for k, v in env.items():
        if k not in known:
            rows.append((k, compact(v)))
    return rows


def _figure(result, pdf: bool):
    svg = _once(error_figure_svg, result.numbers or {})
    if svg is None:
        return None
    series = error_series(result.numbers or {})
    clipped = [s["label"] for s in series if s["clipped"]]
    if pdf:
        uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")
        markup = Markup('<img class="figure" alt="error per iteration" src="{}">').format(uri)
    else:
        markup = Markup(svg)
    return {"markup": markup, "clipped": clipped, "floor": f"{FLOOR:.0e}",
            "gd_eta": fmt((result.numbers.get("reference") or {}).get("gd_eta"))}


def _svg_markup(svg, pdf: bool, alt: str):
    if svg is None:
        return None
    if pdf:
        uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")
        return Markup('<img class="figure" alt="{}" src="{}">').format(alt, uri)
    return Markup(svg)


_SVG_MEMO: dict = {}


def _once(fn, obj, *args):
    """An SVG drawn once per (figure, record) in a process: the HTML and the PDF share it."""
    key = (fn.__name__, id(obj), repr(args))
    hit = _SVG_MEMO.get(key)
    if hit is None or hit[0] is not obj:
        hit = (obj, fn(obj, *args))
        _SVG_MEMO[key] = hit
    return hit[1]


def _range(tied) -> str:
    lo, hi = min(tied), max(tied)
    return fmt(lo) if lo == hi else f"{fmt(lo)}-{fmt(hi)}"


def _study_view(e: dict, pdf: bool, legend: dict | None = None) -> dict:
    """A probing study: per evaluation setting, the fits (ours with intervals, the paper's beside), the best
    steps per layer (ours with the ties within noise, the paper's rows), the heatmaps and the errors.
    ``legend`` (the PDF's): an algorithm key -> its label; an algorithm in it is named by its key in the
    tables, and the label stands once, in the section's legend."""
    from .figures import best_steps_svg, probe_heatmap_svg, training_curve_svg
    paper = e.get("paper") or []
    evs = []
    for ev in e.get("evals", []):
        algs = {a["key"]: dict(a, label=a["key"]) if a["key"] in (legend or {}) else a
                for a in ev.get("algorithms", [])}
        fits = []
        for f in ev.get("fits", []):
            pap = next((p for p in paper if p["of"] == f"fit:{f['algorithm']}"), None)
            if f["scale"] == "log2":
                ci = f.get("growth_ci95")
                cis = f.get("growth_ci95_seeds")
                fits.append({"what": f"growth factor of {f['algorithm']} steps per layer", "ours": fmt(f["growth"]),
                             "ci": f"{fmt(ci[0])} to {fmt(ci[1])}" if ci else "",
                             "ci_seeds": f"{fmt(cis[0])} to {fmt(cis[1])}" if cis else "",
                             "layers": f"{f['layers'][0]}-{f['layers'][-1]}", "reps": f["replicates"],
                             "paper": fmt(pap["values"][0]) if pap else "", "paper_source": pap["source"] if pap else ""})
            else:
                cs = f.get("ci95_seeds")
                ci = f.get("ci95")
                fits.append({"what": f"{f['algorithm']} iterations per layer (slope)", "ours": fmt(f["slope"]),
                             "ci": ("± " + fmt(ci)) if ci is not None and ci == ci else "",
                             "ci_seeds": ("± " + fmt(cs)) if cs is not None and cs == cs else "",
                             "layers": f"{f['layers'][0]}-{f['layers'][-1]}", "reps": f["replicates"],
                             "paper": fmt(pap["values"][0]) if pap else "", "paper_source": pap["source"] if pap else ""})
        best = []
        for key in e.get("heatmap_keys") or list(algs):
            a = algs.get(key)
            if a is None or len(a["grid"]) < 2:
                continue
            best.append({"label": f"ours: {a['label']}", "values": [_range(t["tied"]) for t in a["ties"]],
                         "max": [fmt(t["max"]) for t in a["ties"]], "paper": False})
            for p in paper:
                if p["of"] == key:
                    best.append({"label": p["label"], "values": [fmt(v) if v is not None else "" for v in p["values"]],
                                 "paper": True, "source": p["source"]})
            sw = a.get("simw")
            if sw:
                best.append({"label": f"ours, by SimW ({sw['contexts']} prompts per batch, {sw['queries']} queries "
                                      f"per prefix): {a['label']}", "values": [_range(t["tied"]) for t in sw["ties"]],
                             "paper": False})
                for p in paper:
                    if p["of"] == f"simw:{key}":
                        best.append({"label": p["label"], "paper": True, "source": p["source"],
                                     "values": [fmt(v) if v is not None else "" for v in p["values"]]})
        maps, maps_elsewhere = [], 0
        for key in e.get("heatmap_keys") or []:
            if key in algs and pdf:         # the PDF keeps the best steps they give; the heatmaps are the HTML's
                maps_elsewhere += 1
            elif key in algs:
                maps.append(_svg_markup(_once(probe_heatmap_svg, algs[key],
                                              f"SimE of each layer with {algs[key]['label']}"),
                                        pdf, f"SimE heatmap, {key}"))
        keys = tuple(k for k in ("newton-code", "gd-log") if k in algs and k in (e.get("heatmap_keys") or []))
        widths = [{"width": w["width"], "last": fmt(w["mse_layer"][-1]), "ols": fmt(w.get("ols_mse")),
                   "ratio": fmt(w["mse_layer"][-1] / w["ols_mse"]) if w.get("ols_mse") and w["mse_layer"][-1] is not None
                   else ""}
                  for w in ev.get("widths", [])]
        final = [{"label": a["label"], "sime": fmt(a["max_sime"][-1]), "best": fmt(a["best"][-1]),
                  "sd": fmt(a["sd_one_batch"]) if a.get("sd_one_batch") is not None else ""}
                 for a in algs.values() if a.get("max_sime")]
        ncols = max([len(ev.get("layers") or [])] + [len(b["values"]) for b in best])
        for b in best:
            b["values"] = list(b["values"]) + [""] * (ncols - len(b["values"]))
        evs.append({"ev": ev, "fits": fits, "best": best, "final": final, "columns": list(range(1, ncols + 1)),
                    "maps": [m for m in maps if m], "maps_elsewhere": maps_elsewhere,
                    "lines": _svg_markup(_once(best_steps_svg, ev, paper, keys), pdf, "best steps per layer")
                    if keys and not pdf else None, "lines_elsewhere": int(bool(keys) and pdf),
                    "mse": [fmt(v) for v in ev.get("mse_layer") or []], "widths": widths})
    return {"e": e, "study": True, "evals": evs,
            "paper_other": [p for p in paper if p["of"] in ("widths", "table1", "table1-tf")],
            "curve": None if pdf else _svg_markup(_once(training_curve_svg, e), pdf, "training loss")}


def _trained_view(result, pdf: bool) -> dict | None:
    """The trained-network section: each experiment's figures (ours with 95% intervals over seeds, the
    theory's, the papers' labelled), targets, the loss curve and the matrix picture."""
    from .figures import matrix_pair_svg, training_curve_svg
    t = result.trained or {}
    if not t:
        return None
    exps = []
    legend = _algorithm_legend(t) if pdf else {}
    for e in t.get("experiments", []):
        if e.get("kind") in ("probe", "widths", "layers"):
            exps.append(_study_view(e, pdf, legend))
            continue
        rows = []
        for f in e.get("figures", []):
            ci = f.get("ci95")
            rows.append({"label": f.get("label") or f.get("key"), "mean": fmt(f.get("mean")),
                         "ci": fmt(ci) if ci is not None and _is_num(ci) and ci == ci else "",
                         "per_seed": ", ".join(fmt(v) for v in (f.get("per_seed") or {}).values()),
                         "mc_se": fmt(f.get("mc_se")) if f.get("mc_se") is not None else "",
                         "theory": fmt(f.get("theory")) if f.get("theory") is not None else "",
                         "paper": fmt(f.get("paper")) if f.get("paper") is not None else "",
                         "paper_source": f.get("paper_source") or ""})
        theory_extra = [(k, fmt(v)) for k, v in (e.get("theory") or {}).items() if k not in ("optimum_label",)]
        exps.append({"e": e, "rows": rows, "theory_extra": theory_extra,
                     "curve": None if pdf else _svg_markup(_once(training_curve_svg, e), pdf, "training loss"),
                     "matrix": None if pdf else _svg_markup(_once(matrix_pair_svg, e), pdf,
                                                            "learned and theoretical matrices")})
    from theorems.trained import targets_summary
    # the PDF keeps the trained section's numbers, and leaves its figures (each drawn from numbers the tables
    # give) to the HTML: they were a fifth of the PDF's time
    elsewhere = sum(bool(x["e"].get("curves")) + bool(x["e"].get("matrices")) +
                    sum(ev.get("lines_elsewhere", 0) + ev.get("maps_elsewhere", 0) for ev in x.get("evals", []))
                    for x in exps) if pdf else 0
    return {"t": t, "experiments": exps, "summary": targets_summary(t), "figures_elsewhere": elsewhere,
            "legend": list(legend.items())}


def _algorithm_legend(t: dict) -> dict:
    """The algorithms the studies compare, key -> label, for the PDF: the same long labels stood in every
    study's tables (a quarter of the section's words).  A key given two labels is left out (named in full)."""
    seen: dict = {}
    for e in t.get("experiments", []):
        for ev in e.get("evals", []):
            for a in ev.get("algorithms", []):
                seen.setdefault(a["key"], set()).add(a["label"])
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}


def _env():
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                              autoescape=jinja2.select_autoescape(["html", "j2"]),
                              trim_blocks=True, lstrip_blocks=True, undefined=jinja2.ChainableUndefined)


class _Once:
    """The PDF states a repeated explanation (the same assumptions of another check, a study's notes under
    each setting) once, and after that points to where it stood: ``once(key, where)`` is "" the first time a
    key is met (and remembers ``where``), and that ``where`` after."""

    def __init__(self):
        self._seen: dict = {}

    def __call__(self, key, where: str) -> str:
        key = tuple(key) if isinstance(key, list) else key
        if key in self._seen:
            return self._seen[key]
        self._seen[key] = where
        return ""


def _op_view(op: dict, shown: dict, where: str) -> dict:
    """A layer's operation as the report shows it: a head (or an MLP) whose weights, on the same blocks, were
    shown before is named by where they stand ("as head 1 of layer N of variant corrected") and not drawn
    again; the operation's own line (its kind, keys and blocks) is always shown, so what differs is seen."""
    import json as _json
    blocks = _json.dumps(op.get("blocks"), default=str)
    heads = []
    for i, h in enumerate(op.get("heads") or [], 1):
        key = ("head", blocks, _json.dumps(h, sort_keys=True, default=str))
        heads.append(dict(h, same_as=shown[key]) if key in shown else h)
        shown.setdefault(key, f"head {i} of {where}")
    view = dict(op, heads=heads) if op.get("heads") else dict(op)
    if op.get("W"):
        key = ("W", blocks, _json.dumps(op["W"], default=str))
        if key in shown:
            view["W_same_as"] = shown[key]
        shown.setdefault(key, f"the MLP of {where}")
    return view


def _context(result, math_renderer: MathRenderer, pdf: bool, standalone: bool) -> dict:
    import json as _json
    r = result
    variants = []
    shown_layers: dict = {}     # a layer's description -> the variant that shows it: each is rendered once
    shown_layouts: dict = {}
    shown_weights: dict = {}    # a head's or an MLP's weights (and blocks) -> where they were first shown
    for v in r.variants:
        con = v.construction or {}
        layers = []
        for L in con.get("layers", []):
            key = _json.dumps(L, sort_keys=True, default=str)
            if key in shown_layers:
                layers.append({"name": L.get("name"), "stage": L.get("stage"), "same_as": shown_layers[key]})
            else:
                shown_layers[key] = v.name
                layers.append(dict(L, ops=[_op_view(op, shown_weights, f"layer {L.get('name')} of variant "
                                                    f"{v.name}") for op in L.get("ops", [])]))
        lkey = _json.dumps(con.get("layout", []), sort_keys=True, default=str)
        layout_same = shown_layouts.get(lkey)
        shown_layouts.setdefault(lkey, v.name)
        variants.append({"v": v, "name": v.name, "role": v.role, "verdict": v.verdict,
                         "summary": v.summary, "justification": v.justification,
                         "checks": [dict(_check_view(e, pdf), variant=v.name) for e in v.checks],
                         "layout": [] if layout_same else
                         [dict(b, size_tex=_size_tex(b.get("size", ""))) for b in con.get("layout", [])],
                         "layout_same_as": layout_same,
                         "layers": layers,
                         "width_tex": _size_tex(con["width"]) if con.get("width") else "",
                         "n_layers_tex": _size_tex(con["n_layers"]) if con.get("n_layers") else "",
                         "tokens": con.get("tokens", "")})
    numbers = r.numbers or {}
    summary = []
    for v in r.variants:
        summary.append({"group": f"variant {v.name}", "role": v.role, "verdict": v.verdict,
                        "rows": [_check_view(e) for e in v.checks]})
    stated = [e for e in r.claims if e.statement]
    further = [e for e in r.claims if not e.statement]
    if stated:
        summary.append({"group": "statement, about the algorithm", "role": "", "verdict": "",
                        "rows": [_check_view(e) for e in stated]})
    if further:
        summary.append({"group": "further formulas", "role": "", "verdict": "",
                        "rows": [_check_view(e) for e in further]})
    for g in summary:
        g["counts"] = ", ".join(f"{sum(1 for c in g['rows'] if c['verdict'] == k)} {k}"
                                for k in ("verified", "refuted", "inconclusive", "error")
                                if any(c["verdict"] == k for c in g["rows"]))
    n_checks = sum(len(v.checks) for v in r.variants) + len(r.claims)
    counts = {k: sum(1 for v in r.variants for e in v.checks if e.verdict == k)
              + sum(1 for e in r.claims if e.verdict == k) for k in ("verified", "refuted", "inconclusive", "error")}
    return {"r": r, "m": math_renderer, "pdf": pdf, "standalone": standalone, "pdf_table_rows": PDF_TABLE_ROWS,
            "once": _Once() if pdf else (lambda key, where: ""),
            "variants": variants, "summary": summary, "n_checks": n_checks, "counts": counts,
            "claims": [_check_view(e, pdf) for e in further],
            "stated_claims": [_check_view(e, pdf) for e in stated],
            "errata": r.errata or [], "notes": r.notes or [],
            "settings": r.settings or {}, "numbers": numbers,
            "per_layer": _per_layer_view(numbers), "figure": _figure(r, pdf), "trained": _trained_view(r, pdf),
            "env_rows": _env_rows(r), "fmt": fmt, "compact": compact}


def _render(result, pdf: bool, standalone: bool) -> str:
    m = MathRenderer("svg", size=12.5) if pdf else MathRenderer("mathml")
    tpl = _env().get_template("report.html.j2")
    return tpl.render(**_context(result, m, pdf, standalone))


# ====================================================================== API
def render_html(result, standalone: bool = True) -> str:
    """Self-contained HTML (inline CSS and SVG, MathML math, no external
    resources).  ``standalone=False`` gives a fragment for Jupyter."""
    return _render(result, pdf=False, standalone=standalone)


def render_pdf(result, path: str) -> None:
    """A4 PDF via WeasyPrint; math drawn as SVG by ziamath."""
    _write_pdf(_pdf_html(result), path)


# the PDF's tables have a fixed layout: the automatic one measures every cell's text twice, and it was a third
# of the PDF's time; break-word, not anywhere: WeasyPrint tries a line break at every character of an
# 'anywhere' text (2 s of newton_k_plus_8's PDF); in fixed tables both wrap alike
_PDF_STYLE = ("<style>.icl-report table { table-layout: fixed; }"
              ".icl-report table.lemmas th:nth-child(1) { width: 10%; }"
              ".icl-report table.lemmas th:nth-child(2) { width: 11%; }"
              ".icl-report table.lemmas th:nth-child(3) { width: 39%; }"
              ".icl-report table.layout th:nth-child(1) { width: 14%; }"
              ".icl-report table.layout th:nth-child(2) { width: 12%; }"
              ".icl-report .wrap, .icl-report td.wrap, .icl-report .detail, .icl-report .cx "
              "{ overflow-wrap: break-word; }"
              # a table of width auto is laid out automatically whatever its table-layout (the data tables)
              # (a check's tables; the trained section's, of ranges like 1024-2048, keep their automatic widths)
              ".icl-report table.data:not(.trained) { width: 100%; }"
              ".icl-report table.data:not(.trained) th.num { white-space: normal; }</style>")


def _pdf_html(result) -> str:
    """The PDF's page as HTML: its figures and its formulas (SVG) drawn, ready for WeasyPrint."""
    import warnings
    with warnings.catch_warnings():      # ziamath deprecation notices are not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        html = _render(result, pdf=True, standalone=True)
    return html.replace("</head>", _PDF_STYLE + "</head>", 1)


def _write_pdf(html: str, path: str) -> None:
    import logging
    import warnings
    with warnings.catch_warnings():      # WeasyPrint's optional-library notices are not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        from weasyprint import HTML
    loggers = [logging.getLogger(n) for n in ("weasyprint", "fontTools")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:               # font-subsetting chatter
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            HTML(string=html, base_url=None).write_pdf(path)
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def write_reports(result, out_dir: str, kinds, overwrite: bool = False) -> list[str]:
    """Write ``<theorem>.json`` and, per kind in ``kinds`` ("html", "pdf"),
    ``<theorem>.html`` / ``<theorem>.pdf`` into ``out_dir``; return the paths.
    Two runs into one folder do not overwrite each other unless ``overwrite``:
    the second run's files are ``<theorem>-2.*``, then ``-3`` and so on."""
    kinds = [k for k in (kinds or []) if k != "none"]
    bad = [k for k in kinds if k not in ("html", "pdf")]
    if bad:
        raise ValueError(f"unknown report kind(s): {', '.join(bad)} (use html, pdf)")
    os.makedirs(out_dir, exist_ok=True)
    exts = [".json"] + ["." + k for k in ("html", "pdf") if k in kinds]
    base = os.path.join(out_dir, result.theorem)
    i = 1
    while not overwrite and any(os.path.exists(base + (f"-{i}" if i > 1 else "") + e) for e in exts):
        i += 1
    base += f"-{i}" if i > 1 else ""
    paths = []
    # the PDF's page is drawn here (its figures are then the HTML's too); WeasyPrint's layout of it, single-
    # threaded and most of the PDF's time, runs on a second core while this one writes the JSON and the HTML.
    # Any failure of the child is redone here, where it raises.
    pdf_html = _pdf_html(result) if "pdf" in kinds else None
    child = _pdf_in_child(pdf_html, base + ".pdf") if "pdf" in kinds and "html" in kinds else None
    with open(base + ".json", "w", encoding="utf-8") as f:
        f.write(result.dumps())
    paths.append(base + ".json")
    if "html" in kinds:
        with open(base + ".html", "w", encoding="utf-8") as f:
            f.write(render_html(result))
        paths.append(base + ".html")
    if "pdf" in kinds:
        if child is not None:
            child.join()
        if child is None or child.exitcode != 0 or not os.path.exists(base + ".pdf"):
            _write_pdf(pdf_html, base + ".pdf")
        paths.append(base + ".pdf")
    return paths


def _parallel_pdf() -> bool:
    return os.environ.get("ICL_THEOREMS_SERIAL_REPORTS", "") in ("", "0")


def _pdf_in_child(html: str, path: str):
    """A forked process laying out the PDF, or None where that cannot help or is not safe: one core, no fork
    (Windows; macOS, where forking a process that has loaded system frameworks is unsafe), or turned off by
    ICL_THEOREMS_SERIAL_REPORTS=1.  The child only runs WeasyPrint on a finished page; it writes to a
    temporary name and renames, so a half-written PDF never has the report's name."""
    import multiprocessing as mp
    if not _parallel_pdf() or (os.cpu_count() or 1) < 2 or sys.platform == "darwin" \
            or "fork" not in mp.get_all_start_methods() or mp.current_process().daemon:
        return None                      # (a daemonic process, a pool or Dask worker, may not have children)
    try:
        proc = mp.get_context("fork").Process(target=_pdf_child, args=(html, path), daemon=True)
        proc.start()
    except (OSError, AssertionError, ValueError):      # no process to be had: serially, in this one
        return None
    return proc


def _pdf_child(html: str, path: str) -> None:
    tmp = f"{path}.part-{os.getpid()}"
    try:
        _write_pdf(html, tmp)
        os.replace(tmp, path)
    except BaseException:          # the parent lays it out again and raises there; nothing is printed here
        if os.path.exists(tmp):
            os.remove(tmp)
        os._exit(1)


# ====================================================================== the index of many theorems
def render_index(rows, meta) -> str:
    """The index page (rows: what ``theorems.index.check_one`` returns; meta: the run's settings)."""
    with open(os.path.join(TEMPLATES, "report.css"), encoding="utf-8") as f:
        css = f.read()
    counts = [f"{sum(r['verdict'] == v for r in rows)} {v}" for v in ("verified", "refuted", "inconclusive", "error")
              if any(r["verdict"] == v for r in rows)]
    return _env().get_template("index.html.j2").render(rows=rows, meta=meta, css=Markup(css), counts=counts)


def write_index(rows, meta, out_dir: str, kinds, overwrite: bool = False) -> list[str]:
    """``index.html`` and/or ``index.pdf`` (and ``index.json``) in ``out_dir``; an earlier index is kept
    (``index-2.*``) unless ``overwrite``."""
    import json
    os.makedirs(out_dir, exist_ok=True)
    exts = [".json"] + ["." + k for k in ("html", "pdf") if k in kinds]
    base, i = os.path.join(out_dir, "index"), 1
    while not overwrite and any(os.path.exists(base + (f"-{i}" if i > 1 else "") + e) for e in exts):
        i += 1
    base += f"-{i}" if i > 1 else ""
    with open(base + ".json", "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1, default=str)
    paths = [base + ".json"]
    html = render_index(rows, meta)
    if "html" in kinds:
        with open(base + ".html", "w", encoding="utf-8") as f:
            f.write(html)
        paths.append(base + ".html")
    if "pdf" in kinds:
        import logging
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from weasyprint import HTML
        lg = logging.getLogger("weasyprint")
        lv = lg.level
        lg.setLevel(logging.ERROR)
        try:
            HTML(string=html, base_url=os.path.abspath(out_dir) + os.sep).write_pdf(base + ".pdf")
        finally:
            lg.setLevel(lv)
        paths.append(base + ".pdf")
    return paths
