"""LaTeX -> MathML (HTML reports) or SVG (PDF reports, via ziamath).

The report template is written once and calls a :class:`MathRenderer`; the
renderer decides whether math becomes ``<math>`` (browsers render MathML) or an
``<img src="data:image/svg+xml...">`` (WeasyPrint does not render MathML).

Three kinds of input are handled:

* ``math(tex)``: a LaTeX formula (lemma formulas, weight matrices);
* ``text(s)``: prose with ``$...$`` inline math (theorem statements);
* ``mixed(s)``: a claim as the paper words it, e.g. ``every column receives
  \\hat w = T X^\\top y``, where prose and math are not delimited.  Runs of
  plain English words outside braces are kept as text, the rest is math.
  Strings without any LaTeX marker (``\\``, ``_``, ``^``, ``$``) stay text.

Anything a converter cannot parse falls back to the LaTeX source in ``<code>``,
so a report never fails because of one formula.
"""
from __future__ import annotations

import base64
import functools
import html
import re

from markupsafe import Markup

__all__ = ["MathRenderer", "split_dollars", "split_mixed", "normalise"]

# ------------------------------------------------------------------ parsing
_PROSE_WORD = re.compile(r"^[A-Za-z][a-z]+(?:'s)?[,.;:]?$|^(?:a|I)$")
_MULTI_SUB = re.compile(r"(?<![\\A-Za-z])([A-Za-z])_([A-Za-z]{2,})\b")
_ACCENT_SUB = re.compile(r"(\\(?:hat|tilde|bar|vec|dot)\{[^{}]*\})(?=[_^])")


def normalise(tex: str) -> str:
    """Small repairs that keep the meaning: ``x_test`` -> ``x_{\\mathrm{test}}``
    (LaTeX would subscript only the ``t``)."""
    tex = tex.strip()
    tex = _MULTI_SUB.sub(lambda m: f"{m.group(1)}_{{\\mathrm{{{m.group(2)}}}}}", tex)
    # an accent followed by a script: group it, so renderers put the accent on the base only (\hat{w}_k)
    tex = _ACCENT_SUB.sub(lambda m: "{" + m.group(1) + "}", tex)
    return tex


def split_dollars(s: str) -> list[tuple[str, str]]:
    """``"a $x$ b"`` -> ``[("text", "a "), ("math", "x"), ("text", " b")]``.
    ``\\$`` is a literal dollar; an unmatched ``$`` is kept as text."""
    out: list[tuple[str, str]] = []
    parts = re.split(r"(?<!\\)\$", s)
    if len(parts) % 2 == 0:          # unbalanced: last "$" is literal
        parts = parts[:-2] + [parts[-2] + "$" + parts[-1]]
    for i, p in enumerate(parts):
        p = p.replace(r"\$", "$") if i % 2 == 0 else p
        if p:
            out.append(("math" if i % 2 else "text", p))
    return out


def _is_latexish(s: str) -> bool:
    return any(c in s for c in "\\_^")


def split_mixed(s: str) -> list[tuple[str, str]]:
    """Split undelimited prose + LaTeX into text and math runs (see module doc)."""
    if "$" in s:
        return split_dollars(s)
    if not _is_latexish(s):
        return [("text", s)] if s else []
    tokens = s.split(" ")
    kinds = []
    depth = 0
    for t in tokens:
        prose = depth == 0 and bool(_PROSE_WORD.match(t))
        kinds.append("text" if prose else "math")
        depth += t.count("{") - t.count("}")
        depth = max(depth, 0)
    # a one-letter "word" is prose only between two prose words
    for i, t in enumerate(tokens):
        if kinds[i] == "text" and len(t.rstrip(",.;:")) == 1:
            left = i > 0 and kinds[i - 1] == "text"
            right = i + 1 < len(tokens) and kinds[i + 1] == "text"
            if not (left and right):
                kinds[i] = "math"
    out: list[tuple[str, str]] = []
    for t, k in zip(tokens, kinds):
        if out and out[-1][0] == k:
            out[-1] = (k, out[-1][1] + " " + t)
        else:
            if out:  # the separating space belongs to the text side
                if k == "text":
                    t = " " + t
                else:
                    out[-1] = (out[-1][0], out[-1][1] + " ")
            out.append((k, t))
    # trailing punctuation of a math run reads better as text
    fixed: list[tuple[str, str]] = []
    for k, t in out:
        if k == "math":
            m = re.match(r"^(.*?)([,.;:]?)(\s*)$", t, re.S)
            body, punct, sp = m.group(1), m.group(2), m.group(3)
            if body.strip():
                fixed.append(("math", body))
            if punct or sp:
                fixed.append(("text", punct + sp))
        else:
            fixed.append((k, t))
    return [(k, t) for k, t in fixed if t]


# ------------------------------------------------------------------ converters
@functools.lru_cache(maxsize=4096)
def _mathml(tex: str, display: bool) -> str | None:
    try:
        from latex2mathml.converter import convert
        return convert(tex, display="block" if display else "inline")
    except Exception:
        return None


# ------------------------------------------------------------------ simple formulas as text (PDF)
_GREEK = {n: c for n, c in zip(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta kappa lambda mu nu xi pi rho sigma tau phi varphi chi "
    "psi omega Gamma Delta Theta Lambda Xi Pi Sigma Phi Psi Omega".split(),
    "αβγδϵεζηθκλμνξπρστϕφχψωΓΔΘΛΞΠΣΦΨΩ")}
_SYMBOL = {"top": "⊤", "dagger": "†", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "to": "→", "mapsto": "↦",
           "cdot": "·", "times": "×", "infty": "∞", "|": "‖", "langle": "⟨", "rangle": "⟩", "{": "{", "}": "}",
           "approx": "≈", "ne": "≠", "neq": "≠", "in": "∈", "sum": "∑", "prime": "′", "ldots": "…", "dots": "…",
           "lVert": "‖", "rVert": "‖", "mid": "|", "pm": "±"}
_OPERATOR = {"log", "exp", "min", "max", "tr", "det", "ln", "sup", "inf", "lim"}
_SPACE = {",": "\u2009", ";": " ", " ": " ", "quad": "\u2003", ":": " ", "!": ""}
_ACCENT = {"hat": "\u0302", "tilde": "\u0303", "bar": "\u0304", "vec": "\u20d7", "dot": "\u0307"}
_BINARY = set("+=<>−") | {"≤", "≥", "→", "↦", "≈", "≠", "∈", "×", "±"}
_TOKEN = re.compile(r"\\([A-Za-z]+|.)|([A-Za-z])|([0-9.]+)|(\s+)|(.)", re.S)


class _NotSimple(Exception):
    pass


def _group(tokens, i):
    """The argument at tokens[i]: a {...} group or one token; returns (its tokens, next index)."""
    while i < len(tokens) and tokens[i][0] == "space":
        i += 1
    if i >= len(tokens):
        raise _NotSimple("a script without its argument")
    if tokens[i] == ("p", "{"):
        depth, j = 1, i + 1
        while j < len(tokens) and depth:
            depth += {("p", "{"): 1, ("p", "}"): -1}.get(tokens[j], 0)
            j += 1
        if depth:
            raise _NotSimple("unbalanced braces")
        return tokens[i + 1:j - 1], j
    return [tokens[i]], i + 1


def _html_of(tokens, upright=False) -> str:
    out, i = [], 0
    while i < len(tokens):
        kind, v = tokens[i]
        if kind == "cmd":
            if v in ("mathrm", "text", "operatorname", "mathbf"):
                arg, i = _group(tokens, i + 1)
                body = _html_of(arg, upright=True)
                out.append(f"<b>{body}</b>" if v == "mathbf" else body)
                continue
            if v in _ACCENT:
                arg, i = _group(tokens, i + 1)
                body = _html_of(arg, upright)
                if len(re.sub("<[^>]+>", "", body)) != 1:
                    raise _NotSimple("an accent over more than one symbol")
                out.append(re.sub(r"(<i>)?([^<])(</i>)?$", lambda m: f"{m.group(1) or ''}{m.group(2)}"
                                  f"{_ACCENT[v]}{m.group(3) or ''}", body))
                continue
            if v in ("left", "right", "big", "Big", "bigl", "bigr"):
                i += 1
                continue
            if v in _GREEK:
                out.append(_GREEK[v] if upright else f"<i>{_GREEK[v]}</i>")
            elif v in _SYMBOL:
                sym = _SYMBOL[v]
                out.append(f" {sym} " if sym in _BINARY else sym)
            elif v in _OPERATOR:
                nxt = next((t for t in tokens[i + 1:] if t[0] != "space"), None)
                out.append(v if nxt in (None, ("op", "(")) else v + "\u2009")
            elif v in _SPACE:
                out.append(_SPACE[v])
            else:
                raise _NotSimple(f"\\{v}")
            i += 1
        elif kind in ("sub", "sup"):
            arg, i = _group(tokens, i + 1)
            tag = "sub" if kind == "sub" else "sup"
            out.append(f"<{tag}>{_html_of(arg, upright)}</{tag}>")
        elif kind == "var":
            out.append(v if upright else f"<i>{v}</i>")
            i += 1
        elif kind == "num":
            out.append(v)
            i += 1
        elif kind == "space":
            out.append(" " if upright else "")
            i += 1
        else:       # punctuation and operators
            if v in "{}":
                arg, i = _group(tokens, i)        # a bare group
                out.append(_html_of(arg, upright))
                continue
            c = "−" if v == "-" else v
            if c in "&\\#%~":
                raise _NotSimple(c)
            out.append(f" {c} " if c in _BINARY else html.escape(c) + (" " if c in ",;" else ""))
            i += 1
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def html_math(tex: str) -> str | None:
    """A formula of the simple kind (letters, numbers, operators, Greek, scripts, accents on one symbol,
    \\mathrm) as HTML text: italic letters, <sub>/<sup>, Unicode symbols.  None for anything else (fractions,
    matrices, sums with limits, roots), which keeps its drawn form."""
    tokens = []
    for m in _TOKEN.finditer(tex):
        cmd, var, num, space, other = m.groups()
        if cmd is not None:
            tokens.append(("cmd", cmd))
        elif var is not None:
            tokens.append(("var", var))
        elif num is not None:
            tokens.append(("num", num))
        elif space is not None:
            tokens.append(("space", space))
        elif other == "_":
            tokens.append(("sub", "_"))
        elif other == "^":
            tokens.append(("sup", "^"))
        elif other in "{}":
            tokens.append(("p", other))
        else:
            tokens.append(("op", other))
    if any(t == ("cmd", "sum") for t in tokens):
        return None
    try:
        out = _html_of(tokens)
    except _NotSimple:
        return None
    out = re.sub(r" {2,}", " ", out).strip()
    return out or None


_VIEWBOX = re.compile(r'viewBox="([-\d.eE]+) ([-\d.eE]+) ([-\d.eE]+) ([-\d.eE]+)"')


@functools.lru_cache(maxsize=4096)
def _svg(tex: str, size: float, display: bool) -> tuple[str, float, float, float] | None:
    """(svg text, width, height, depth below the baseline), all in px."""
    try:
        import warnings
        import ziamath
        ziamath.config.svg2 = False      # plain SVG 1.1 (no <symbol>/<use> tricks) for WeasyPrint
        with warnings.catch_warnings():  # ziamath's own pkg_resources deprecation notice
            warnings.simplefilter("ignore", DeprecationWarning)
            svg = ziamath.Latex(tex, size=size, inline=not display).svg()
    except Exception:
        return None
    m = _VIEWBOX.search(svg)
    if not m:
        return None
    _x, y, w, h = (float(v) for v in m.groups())
    return svg, w, h, y + h


def _code(tex: str) -> Markup:
    return Markup('<code class="tex">{}</code>').format(tex)


class MathRenderer:
    """Turns LaTeX into markup for one output format.

    ``mode="mathml"``: ``<math>`` elements (for browsers, Jupyter).
    ``mode="svg"``: ``<img>`` with an SVG data URI drawn by ziamath (for
    WeasyPrint); ``size`` is the font size of math in CSS px."""

    def __init__(self, mode: str = "mathml", size: float = 13.0):
        if mode not in ("mathml", "svg"):
            raise ValueError(f"unknown math mode {mode!r}")
        self.mode = mode
        self.size = size

    # -- formulas
    def math(self, tex, display: bool = False, scale: float = 1.0) -> Markup:
        if tex is None or str(tex).strip() == "":
            return Markup("")
        tex = normalise(str(tex))
        if self.mode == "mathml":
            out = _mathml(tex, display)
            if out is None:
                return _code(tex)
            return Markup(out)
        simple = None if display else html_math(tex)
        if simple is not None:         # text in the PDF's own fonts: drawn as text, not as an image
            return Markup('<span class="mtext">{}</span>').format(Markup(simple))
        got = _svg(tex, round(self.size * scale, 2), display)
        if got is None:
            return _code(tex)
        svg, w, h, depth = got
        uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")
        cls = "math display" if display else "math"
        style = f"width:{w:.2f}px;height:{h:.2f}px;vertical-align:{-depth:.2f}px"
        return Markup('<img class="{}" alt="{}" style="{}" src="{}">').format(cls, tex, style, uri)

    # -- prose with math
    def _runs(self, runs) -> Markup:
        out = []
        for kind, s in runs:
            out.append(self.math(s) if kind == "math" else Markup.escape(s))
        return Markup("").join(out)

    def text(self, s) -> Markup:
        """Prose with ``$...$`` inline math."""
        if s is None:
            return Markup("")
        return self._runs(split_dollars(str(s)))

    def mixed(self, s) -> Markup:
        """Prose and LaTeX without delimiters (claim texts, printed formulas)."""
        if s is None:
            return Markup("")
        return self._runs(split_mixed(str(s)))


def escape(s) -> str:
    return html.escape(str(s))
