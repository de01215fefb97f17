"""Figures of a report, as SVG text (matplotlib, Agg backend, no files).

Every series comes from ``result.numbers``; nothing is hard-coded.  Series
from this run are labelled "this run"; a series taken from a paper would be
labelled as the paper's (no report of this engine plots one yet).
"""
from __future__ import annotations

import io
import itertools
import math
import re

FLOOR = 1e-300          # zeros cannot be drawn on a log axis; they are clipped to this
_counter = itertools.count()


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def error_series(numbers: dict) -> list[dict]:
    """The curves of the error figure: each {label, x, y, style, clipped}."""
    numbers = numbers or {}
    rows = numbers.get("per_layer") or []
    ref = numbers.get("reference") or {}
    series = []

    def add(label, xs, ys, style):
        pts = [(x, _num(y)) for x, y in zip(xs, ys)]
        pts = [(x, abs(y)) for x, y in pts if y is not None and x is not None]
        if not pts:
            return
        clipped = sum(1 for _, y in pts if y < FLOOR)
        series.append({"label": label, "x": [p[0] for p in pts], "y": [max(p[1], FLOOR) for p in pts],
                       "style": style, "clipped": clipped})

    net = [(r.get("iteration"), r.get("net_vs_ols")) for r in rows if "net_vs_ols" in r]
    if net:
        backend = numbers.get("float64_backend") or "float64"
        has_f64 = any("float64" in r for r in rows)
        what = f"network, {backend}" if has_f64 else "network"
        add(f"{what} (this run)", [p[0] for p in net], [p[1] for p in net], "net")
    if ref.get("recursion"):
        name = numbers.get("recursion_name") or "recursion"
        add(f"{name} (this run)", list(range(len(ref["recursion"]))), ref["recursion"], "recursion")
    if ref.get("gd"):
        eta = _num(ref.get("gd_eta"))
        lab = "gradient descent" + (f", step η = {eta:.3g}" if eta is not None else "") + " (this run)"
        add(lab, list(range(len(ref["gd"]))), ref["gd"], "gd")
    return series


def error_figure_svg(numbers: dict, title: str | None = None, width_in: float = 6.4,
                     height_in: float = 3.3) -> str | None:
    """SVG (no XML prolog) of |prediction - OLS prediction| per step on a
    log axis, or None if the numbers hold no such series."""
    series = error_series(numbers)
    if not series:
        return None
    import matplotlib
    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    styles = {"net": dict(marker="o", linestyle="none", markersize=6, color="#1f5fa8", zorder=3),
              "recursion": dict(marker="", linestyle="-", linewidth=1.6, color="#d9822b", zorder=2),
              "gd": dict(marker="s", linestyle="--", linewidth=1.2, markersize=3.5, color="#5a8f3c", zorder=1)}
    with matplotlib.rc_context({"svg.fonttype": "none", "font.family": "DejaVu Sans", "font.size": 9,
                                "svg.hashsalt": f"icl-fig-{next(_counter)}"}):
        fig = Figure(figsize=(width_in, height_in))
        ax = fig.add_subplot(1, 1, 1)
        for s in series:
            ax.plot(s["x"], s["y"], label=s["label"], **styles.get(s["style"], {}))
        ax.set_yscale("log")
        ax.set_xlabel(f"{numbers.get('step_name') or 'iteration'} k")
        ax.set_ylabel("|prediction − OLS prediction|")
        xs = sorted({x for s in series for x in s["x"]})
        if xs and len(xs) <= 25:
            ax.set_xticks(xs)
        if any(s["clipped"] for s in series):
            ax.axhline(FLOOR, color="#999", linewidth=0.6, linestyle=":")
        ax.grid(True, which="major", color="#e3e3e3", linewidth=0.6)
        ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
        if title:
            ax.set_title(title, fontsize=9)
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]                       # drop <?xml ...?> and DOCTYPE
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    return svg


