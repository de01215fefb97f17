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


def _log_scale(ax, axis: str = "y", base: int = 10) -> None:
    """A log axis with plain tick labels (1e-3, or the integers of a base-2 axis): matplotlib's own labels are
    mathtext, whose parsing was a third of the time of a report's figures."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    getattr(ax, f"set_{axis}scale")("log", base=base)
    a = ax.yaxis if axis == "y" else ax.xaxis
    a.set_major_locator(LogLocator(base=base))

    def label(v, _pos):
        if v <= 0:
            return ""
        if base == 2:
            return f"{v:g}"
        e = math.log10(v)
        return f"1e{round(e)}" if abs(e - round(e)) < 1e-9 else ""

    a.set_major_formatter(FuncFormatter(label))
    a.set_minor_formatter(NullFormatter())


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
        _log_scale(ax, "y")
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




# ---------------------------------------------------------------- trained networks
def _svg_of(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    return re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)


def _rc():
    import matplotlib
    matplotlib.use("Agg", force=False)
    return matplotlib.rc_context({"svg.fonttype": "none", "font.family": "DejaVu Sans", "font.size": 8,
                                  "svg.hashsalt": f"icl-fig-{next(_counter)}"})


def training_curve_svg(exp: dict, width_in: float = 6.4, height_in: float = 2.8) -> str | None:
    """The training loss of every seed against the exact optimum (a horizontal line), log axis."""
    curves = exp.get("curves") or {}
    if not curves:
        return None
    from matplotlib.figure import Figure
    with _rc():
        fig = Figure(figsize=(width_in, height_in))
        ax = fig.add_subplot(1, 1, 1)
        for seed, pts in curves.items():
            pts = [(a, _num(b)) for a, b in pts if _num(b) is not None and _num(b) > 0]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], linewidth=1.1, label=f"seed {seed} (this run)")
        opt = _num(exp.get("optimum"))
        if opt is not None and opt > 0:
            ax.axhline(opt, color="#000", linestyle="--", linewidth=1.0,
                       label=exp.get("optimum_label") or "exact optimum")
        _log_scale(ax, "y")
        ax.set_xlabel("training step")
        ax.set_ylabel("training loss (batch mean)")
        ax.grid(True, which="major", color="#e3e3e3", linewidth=0.6)
        ax.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2)
        fig.tight_layout()
        return _svg_of(fig)


def matrix_pair_svg(exp: dict, width_in: float = 6.4, height_in: float = 2.6) -> str | None:
    """Heatmaps of a learned matrix and the theory's, on one colour scale."""
    mats = exp.get("matrices")
    if not mats:
        return None
    from matplotlib.figure import Figure
    L, T = mats["learned"], mats["theory"]
    vmax = max(max(abs(float(v)) for r in M for v in r) for M in (L, T)) or 1.0
    with _rc():
        fig = Figure(figsize=(width_in, height_in))
        axes = fig.subplots(1, 2)
        im = None
        for ax, M, title in ((axes[0], L, f"learned (seed {mats.get('seed')}, this run)"), (axes[1], T, "theory")):
            im = ax.imshow(M, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            ax.set_title(title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.colorbar(im, ax=list(axes), shrink=0.8)
        return _svg_of(fig)


def probe_heatmap_svg(alg: dict, title: str, width_in: float = 6.4, height_in: float = 2.4) -> str | None:
    """SimE of every layer (rows) with every step count (columns); the best cell of each row boxed, the
    cells tied with it within noise dotted."""
    H = alg.get("heatmap")
    if not H:
        return None
    H = [[float("nan") if v is None else v for v in row] for row in H]          # diverged cells: blank
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle
    grid = alg.get("grid") or []
    with _rc():
        fig = Figure(figsize=(width_in, height_in))
        ax = fig.add_subplot(1, 1, 1)
        im = ax.imshow(H, aspect="auto", cmap="viridis", origin="lower")
        for i, row in enumerate(H):
            j = max(range(len(row)), key=lambda c: row[c] if row[c] == row[c] else -float("inf"))
            ties = (alg.get("ties") or [{}] * len(H))[i].get("tied", [])
            for c, g in enumerate(grid):
                if g in ties and c != j:
                    ax.add_patch(Rectangle((c - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#fff", linewidth=0.6,
                                           linestyle=":"))
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="#d62728", linewidth=1.2))
        step = max(1, len(grid) // 12)
        ax.set_xticks(range(0, len(grid), step))
        ax.set_xticklabels([str(g) for g in grid[::step]], fontsize=6)
        ax.set_yticks(range(len(H)))
        ax.set_yticklabels([str(i + 1) for i in range(len(H))], fontsize=6)
        ax.set_xlabel(f"{alg.get('key')} steps")
        ax.set_ylabel("layer")
        ax.set_title(title, fontsize=8)
        fig.colorbar(im, ax=ax, shrink=0.9, label="SimE")
        return _svg_of(fig)


def best_steps_svg(ev: dict, paper_rows: list, keys: tuple, width_in: float = 6.4, height_in: float = 2.6):
    """Best-matching step count against layer: ours (solid, with the tie range as a band) and the paper's
    (dashed, labelled as the paper's; its model has its own number of layers)."""
    algs = {a["key"]: a for a in ev.get("algorithms", [])}
    if not any(k in algs for k in keys):
        return None
    from matplotlib.figure import Figure
    with _rc():
        fig = Figure(figsize=(width_in, height_in))
        axes = fig.subplots(1, len(keys))
        axes = list(axes) if len(keys) > 1 else [axes]
        for ax, key in zip(axes, keys):
            a = algs.get(key)
            if a is None:
                continue
            layers = list(range(1, len(a["best"]) + 1))
            lo = [min(t["tied"]) for t in a["ties"]]
            hi = [max(t["tied"]) for t in a["ties"]]
            ax.fill_between(layers, lo, hi, color="#1f77b4", alpha=0.2, linewidth=0, label="ours: tied within noise")
            ax.plot(layers, a["best"], "o-", color="#1f77b4", markersize=3, linewidth=1.1, label="ours (this model)")
            for p in paper_rows:
                if p["of"] == key:
                    ax.plot(range(1, len(p["values"]) + 1), p["values"], "s--", markersize=2.5, linewidth=0.9,
                            color="#777", label="paper's (its 12-layer model)")
                    break
            if a.get("log_grid"):
                _log_scale(ax, "y", 2)
            ax.set_xlabel("layer")
            ax.set_ylabel(f"best {key} steps")
            ax.grid(True, color="#e3e3e3", linewidth=0.6)
            ax.legend(frameon=False, fontsize=6)
        fig.tight_layout()
        return _svg_of(fig)


def claim_plot_svg(ev) -> str | None:
    """A check's own plot: ``data["plot"] = {"table": key of its rows, "x": column, "ys": [columns],
    "xlog", "ylog", "xlabel", "ylabel", "title"}``, one line per y column (with its label)."""
    d = ev.data or {}
    spec = d.get("plot") or {}
    rows = d.get(spec.get("table", ""), [])
    if not rows:
        return None
    from matplotlib.figure import Figure
    with _rc():
        fig = Figure(figsize=(6.4, 2.8))
        ax = fig.add_subplot(1, 1, 1)
        for y in spec.get("ys", []):
            pts = [(_num(r.get(spec["x"])), _num(r.get(y))) for r in rows]
            pts = [(a, b) for a, b in pts if a is not None and b is not None and b > 0]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=3, linewidth=1.1, label=y)
        if spec.get("xlog"):
            _log_scale(ax, "x")
        if spec.get("ylog"):
            _log_scale(ax, "y")
        ax.set_xlabel(spec.get("xlabel", spec["x"]))
        ax.set_ylabel(spec.get("ylabel", ""))
        ax.grid(True, which="major", color="#e3e3e3", linewidth=0.6)
        ax.legend(frameon=False, fontsize=7)
        fig.tight_layout()
        return _svg_of(fig)
