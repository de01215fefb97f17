"""Expressions as a reader writes them: ``−α²S³ + 2αS``, not ``-S**3*alpha**2 + 2*S*alpha``.

A small sympy printer for the text of findings (terminal, JSON, report): Greek
letters for Greek names, superscript integer powers, juxtaposition for
products, a true minus sign.  ``value_text`` writes exact values (a number, a
list or a matrix of them) the same way: ``[[−1]]``, not ``[['-1']]``.  LaTeX
goes through sympy's own printer.
"""
from __future__ import annotations

import ast
import re
from fractions import Fraction

import sympy as sp
from sympy.printing.str import StrPrinter

_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹⁻"
_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eta": "η", "theta": "θ",
          "kappa": "κ", "lambda": "λ", "mu": "μ", "sigma": "σ", "tau": "τ", "phi": "φ", "Sigma": "Σ",
          "Gamma": "Γ"}


def _sup(x: int) -> str:
    return str(int(x)).translate(_SUP)


def symbol_text(name: str) -> str:
    """A letter's name as a reader writes it: ``alpha`` α, ``W_0`` W_0, ``Sigma_inv`` Σ⁻¹, ``sigma2`` σ²."""
    if name == "sigma2":
        return "σ²"
    base, _, sub = name.partition("_")
    g = _GREEK.get(base, base)
    if sub == "inv":
        return g + "⁻¹"
    return g + ("_" + sub if sub else "")


class _MathText(StrPrinter):
    def _print_Symbol(self, e):
        return symbol_text(e.name)

    def _base(self, b) -> str:
        s = self._print(b)
        plain = (b.is_Symbol and s[-1] not in _SUPERSCRIPTS) or (b.is_Integer and b >= 0)
        return s if plain else f"({s})"

    def _print_Pow(self, e):
        b, x = e.as_base_exp()
        if b.is_Symbol and b.name == "sigma2" and x.is_Integer and x > 0:      # (σ²)ᵏ = σ^(2k)
            return "σ" + _sup(2 * x)
        if x.is_Integer and x > 0:
            return self._base(b) + _sup(x)
        if x.is_Integer and x < 0:
            return "1/" + (self._print(b) if x == -1 and (b.is_Atom or b.is_Function) else self._base(b)
                           + ("" if x == -1 else _sup(-x)))
        if x == sp.S.Half:
            return "√" + self._base(b)
        xs = self._print(x)
        return self._base(b) + "^" + (xs if x.is_Atom and not x.could_extract_minus_sign() else f"({xs})")

    def _print_Mul(self, e):
        if e.could_extract_minus_sign():
            return "-" + self._print(-e)
        num, den = sp.fraction(e)
        if den != 1:
            top = self._print(num) if (num.is_Atom or num.is_Pow or num.is_Mul) else f"({self._print(num)})"
            bottom = self._print(den) if (den.is_Atom or den.is_Pow or den.is_Function) else f"({self._print(den)})"
            return f"{top}/{bottom}"
        c, rest = e.as_coeff_Mul()
        greek = lambda f: (f.as_base_exp()[0].is_Symbol and f.as_base_exp()[0].name.split("_")[0] in _GREEK)
        factors = sorted(sp.Mul.make_args(rest), key=lambda f: (0 if greek(f) else 1, str(f)))
        parts = [f"({self._print(f)})" if f.is_Add else self._print(f) for f in factors]
        out = "" if c == 1 else self._print(c)
        for p in parts:
            out += ("·" if out and (len(p) > 2 or len(out.split("·")[-1]) > 2) and not out[-1].isdigit() else "") + p
        return out


_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*(?!\s*\()")     # a name not called as a function


def parse_text(s: str) -> sp.Expr:
    """A formula as sympy's ``str`` wrote it, read back with every name a plain symbol: ``S``, ``I``, ``E``, ``N``
    and ``beta`` are the construction's letters, not sympy's singletons, imaginary unit or functions.  A name
    called as a function (``sqrt(2)``) keeps its sympy meaning."""
    return sp.sympify(s, locals={m: sp.Symbol(m) for m in _NAME.findall(s)})


def math_text(e) -> str:
    """The expression as a reader writes it (powers descending, Greek letters, no ``*``); a string is read
    with :func:`parse_text`."""
    e = parse_text(e) if isinstance(e, str) else sp.sympify(e)
    return _MathText({"full_prec": False}).doprint(e).replace("-", "−")


_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?(/\d+)?(\.\.\.)?")


def value_text(v) -> str:
    """An exact value as a reader writes it, consistent with :func:`math_text`: a number, a numeric string
    (``"-9/10"`` −9/10; decimal digits kept as given), or a nested list, tuple or sympy matrix of them, without
    quotes: ``[[−1]]``, ``[−1, 2]``.  A string holding such a list's repr (``"[[3, -2]]"``, as the JSON data
    keeps a matrix) is read back first."""
    if isinstance(v, sp.MatrixBase):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value_text(x) for x in v) + "]"
    if isinstance(v, str):
        s = v.strip()
        if s[:1] in "[(":
            try:
                lit = ast.literal_eval(s)
            except (ValueError, SyntaxError):
                lit = None
            if isinstance(lit, (list, tuple)):
                return value_text(lit)
        if _NUMBER.fullmatch(s):
            return s.lstrip("+").replace("-", "−")
        try:
            return math_text(parse_text(s))
        except (sp.SympifyError, TypeError, SyntaxError):
            return s
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return repr(v).replace("-", "−")
    if isinstance(v, Fraction):
        return math_text(sp.Rational(v.numerator, v.denominator))
    if type(v).__module__.startswith("mpmath"):
        return str(v).replace("-", "−")
    try:
        return math_text(v)
    except (sp.SympifyError, TypeError):
        return str(v)
