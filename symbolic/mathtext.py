"""Expressions as a reader writes them: ``−α²S³ + 2αS``, not ``-S**3*alpha**2 + 2*S*alpha``.

A small sympy printer for the text of findings (terminal, JSON, report): Greek
letters for Greek names, superscript integer powers, juxtaposition for
products, a true minus sign.  LaTeX goes through sympy's own printer.
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.str import StrPrinter

_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_GREEK = {"alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eta": "η", "theta": "θ",
          "kappa": "κ", "lambda": "λ", "mu": "μ", "sigma": "σ", "tau": "τ", "phi": "φ", "Sigma": "Σ",
          "Gamma": "Γ"}


class _MathText(StrPrinter):
    def _print_Symbol(self, e):
        name = e.name
        base, _, sub = name.partition("_")
        g = _GREEK.get(base, base)
        if base == "sigma2" or name == "sigma2":
            return "σ²"
        return g + ("_" + sub if sub else "")

    def _print_Pow(self, e):
        b, x = e.as_base_exp()
        if x.is_Integer and x > 0:
            s = self._print(b)
            if not (b.is_Symbol or (b.is_Integer and b >= 0)):
                s = f"({s})"
            return s + str(int(x)).translate(_SUP)
        if x == -1:
            return f"1/{self.parenthesize(b, 100)}"
        return super()._print_Pow(e)

    def _print_Mul(self, e):
        if e.could_extract_minus_sign():
            return "-" + self._print(-e)
        num, den = sp.fraction(e)
        if den != 1:
            wrap = lambda x: self._print(x) if (x.is_Atom or x.is_Pow or (x.is_Mul and sp.fraction(x)[1] == 1
                                                                         and not x.could_extract_minus_sign())) \
                else f"({self._print(x)})"
            return f"{wrap(num)}/{wrap(den)}"
        c, rest = e.as_coeff_Mul()
        sign = ""
        greek = lambda f: (f.as_base_exp()[0].is_Symbol and f.as_base_exp()[0].name.split("_")[0] in _GREEK)
        factors = sorted(sp.Mul.make_args(rest), key=lambda f: (0 if greek(f) else 1, str(f)))
        parts = [f"({self._print(f)})" if f.is_Add else self._print(f) for f in factors]
        out = "" if c == 1 else self._print(c)
        for p in parts:
            out += ("·" if out and (len(p) > 2 or len(out.split("·")[-1]) > 2) and not out[-1].isdigit() else "") + p
        return sign + out

    def _print_Add(self, e, order=None):
        return super()._print_Add(e, order="rev-lex")


def math_text(e) -> str:
    """The expression as a reader writes it (powers descending, Greek letters, no ``*``)."""
    e = sp.sympify(e)
    return _MathText({"order": "rev-lex"}).doprint(e).replace("-", "−")
