"""Findings are written in mathematical notation (``−α²S³ + 2αS``, ``[[−1]]``), never in sympy syntax
(``-S**3*alpha**2``) or as Python reprs (``[['-1']]``): the printer, the value helper, and every finding text
of the catalogue (its committed golden records, fresh small runs, and the refuted branches of the checkers)."""
import glob
import json
import os
import re
from dataclasses import replace
from fractions import Fraction

import pytest
import sympy as sp

from numeric.checks import params_text
from symbolic import gaussian as g
from symbolic import lemmas
from symbolic.layout import d
from symbolic.mathtext import math_text, symbol_text, value_text
from theorems import population_kinds as pk
from theorems.golden import GOLDEN_DIR, preset
from theorems.kinds import ClosedForm, ClosedFormAllK
from theorems.registry import get

# sympy's products and powers, Python's quoted lists and dicts
SYNTAX = re.compile(r"\*\*|\w\*\w|\w\*\(|\)\*\w|\['|\{'|\[\"")

CHEAP = ("newton_k_plus_8", "gd_one_layer", "one_step_gd_optimal", "looped_multistep_pgd",
         "newton_linear_regression", "newton_schulz_two_layer")     # a few seconds together at the small preset


def assert_plain(text, where=""):
    m = SYNTAX.search(text or "")
    assert m is None, f"{where}: sympy or Python syntax {m.group()!r} in: {text}"


def finding_texts(checks):
    """(where, text) for each check's detail, claim text, assumptions and lemma details."""
    for name, e in checks:
        yield name, e["detail"]
        yield name + " (claim)", e.get("text", "")
        for a in e.get("assumptions", []):
            yield name + " (assumption)", a
        for lem in (e.get("exact") or e.get("data") or {}).get("lemmas") or []:
            yield f"{name} (lemma {lem.get('lemma')})", lem.get("detail", "")


# ------------------------------------------------------------------ the printer
@pytest.mark.parametrize("expr, text", [
    ("5*d + 3", "5d + 3"),
    ("2*k + 2", "2k + 2"),
    ("d + 2*m", "d + 2m"),
    ("-mu**2 + 2*mu", "−μ² + 2μ"),
    (-sp.Symbol("S")**3 * sp.Symbol("alpha")**2 + 2 * sp.Symbol("S") * sp.Symbol("alpha"), "−α²S³ + 2αS"),
    ("n/(d + n + sigma2 + 1)", "n/(d + n + σ² + 1)"),
    ("1/(2*n)", "1/(2n)"),
    ("d**(-2)", "1/d²"),
    ("(x + 1)**(-2)", "1/(x + 1)²"),
    ("c*(n**K - (n - eta*s)**K)/(n**K*s)", "c·(n^K − (−ηs + n)^K)/(n^K·s)"),
    ("n**(K + 1)", "n^(K + 1)"),
    ("sqrt(2)", "√2"),
    ("sigma2**2 + sigma2", "σ⁴ + σ²"),
    (sp.Float("0.25"), "0.25"),
])
def test_math_text(expr, text):
    assert math_text(sp.sympify(expr)) == text


def test_symbol_names():
    assert [symbol_text(s) for s in ("alpha", "W_0", "Sigma", "Sigma_inv", "sigma2", "x_test")] == \
        ["α", "W_0", "Σ", "Σ⁻¹", "σ²", "x_test"]


# ------------------------------------------------------------------ values
@pytest.mark.parametrize("value, text", [
    ([["-1"]], "[[−1]]"),
    (["-1", 2], "[−1, 2]"),
    ("[[3, -2], [-1, 2]]", "[[3, −2], [−1, 2]]"),        # a matrix as the JSON data keeps it
    (sp.Matrix([[1, -2]]), "[[1, −2]]"),
    ("-9/10", "−9/10"),
    (sp.Rational(-3, 4), "−3/4"),
    (Fraction(1, 10), "1/10"),
    (-0.5, "−0.5"),
    (["0.515370682835992416344884068643", "1.2"], "[0.515370682835992416344884068643, 1.2]"),   # digits as given
    ("0.5153706828...", "0.5153706828..."),
    ((1, "sqrt(2)"), "[1, √2]"),
    (7, "7"),
])
def test_value_text(value, text):
    assert value_text(value) == text


def test_counterexample_parameters():
    pj = {"alpha": "1", "W_0": "[[1]]", "mu": "1/10", "q": "[[-2]]",
          "A": "64 matrices (one per iteration), the first [['2', '-2'], ['1', '5']]"}
    assert params_text(pj) == ("α = 1, W_0 = [[1]], μ = 1/10, q = [[−2]], A = 64 matrices (one per iteration), the "
                               "first [[2, −2], [1, 5]]")
    assert params_text({"eta": "1"}, sep="=") == "η=1"


def test_trace_and_matrix_polynomials_have_a_text_and_keep_their_str():
    S, A = g.matrix("Sigma", symmetric=True), g.matrix("A")
    n = sp.Symbol("n")
    f = g.trace(S) - 2 * g.trace(A * S * S) + g.trace(A * S * A.T * S * S) * ((n + 1) / n)
    assert f.text() == "tr(Σ) − 2 tr(A Σ²) + ((n + 1)/n) tr(A Σ A' Σ²)"
    assert str(f) == "tr(Sigma) - 2*tr(A Sigma^2) + ((n + 1)/n)*tr(A Sigma A' Sigma^2)"     # the JSON data's form
    M = g.matrix("Sigma_inv", symmetric=True) * (n / (n + 3)) - S * 2
    assert M.text() == "−2 Σ + (n/(n + 3)) Σ⁻¹"


# ------------------------------------------------------------------ the catalogue's findings
@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(GOLDEN_DIR, "*.json"))),
                         ids=lambda p: os.path.basename(p)[:-5])
def test_golden_records_hold_no_sympy_syntax(path):
    """The committed records are every theorem's exact findings at its small preset (test_golden keeps them equal
    to a fresh run): details, claim texts, assumptions, lemma details, errata."""
    rec = json.load(open(path))
    checks = [(f"{v}/{c}", e) for v, var in rec["variants"].items() for c, e in var["checks"].items()]
    checks += [(f"claims/{c}", e) for c, e in rec["claims"].items()]
    for where, text in finding_texts([(w, e) for w, e in checks if "detail" in e]):
        assert_plain(text, where)
    for x in rec["errata"]:
        assert_plain(x["finding"], f"erratum {x['claim']}")


@pytest.fixture(scope="module")
def small_runs():
    import theorems
    return {tid: theorems.verify(get(tid), **preset(get(tid))) for tid in CHEAP}


@pytest.mark.parametrize("tid", CHEAP)
def test_fresh_findings_hold_no_sympy_syntax(small_runs, tid):
    """Every check, numeric ones included (exact composition counterexamples, certified and float64 texts)."""
    res = small_runs[tid]
    checks = [(f"{v.name}/{e.claim}", e) for v in res.variants for e in v.checks]
    checks += [(f"claims/{e.claim}", e) for e in res.claims]
    rows = [(w, {"detail": e.detail, "text": e.data.get("text", ""), "assumptions": e.assumptions, "data": e.data})
            for w, e in checks]
    for where, text in finding_texts(rows):
        assert_plain(text, f"{tid} {where}")


def test_the_examples_of_the_issue(small_runs):
    fu = {v.name: {e.claim: e.detail for e in v.checks} for v in small_runs["newton_k_plus_8"].variants}
    assert fu["printed"]["hidden width"].startswith("width = 5d + 3 (Tx: d,")
    assert fu["printed"]["number of layers"] == "3 + k + 5 = k + 8"
    assert "X=[[−1]], y=[−1], x_test=[1]" in fu["printed"]["layer I-2 (attention)"]
    assert "network [2] but the recursion gives [−2]" in fu["printed"]["exact composition at small sizes"]
    ns = {v.name: {e.claim: e.detail for e in v.checks} for v in small_runs["newton_schulz_two_layer"].variants}
    assert ns["lemma-4.1"]["number of layers"] == "2 + 2k = 2k + 2"
    conv = {e.claim: e.detail for e in small_runs["newton_k_plus_8"].claims}["convergence with the paper's alpha"]
    assert "f(μ) = −μ² + 2μ" in conv
    gd = {e.claim: e.detail for e in small_runs["gd_one_layer"].claims}["closed form of K GD steps from 0, for all K"]
    assert "the closed form c·(n^K − (−ηs + n)^K)/(n^K·s) holds" in gd


# ------------------------------------------------------------------ refuted branches
def _claim(tid, cls, pick=lambda c: True):
    return next(c.spec for c in get(tid).claims() if isinstance(c.spec, cls) and pick(c))


def test_refuted_counts_and_widths():
    con = get("newton_k_plus_8").variant("printed").build()
    k = sp.Symbol("k")
    outs = [lemmas.width(con, d, d), lemmas.width(con, d, d, equal=True), lemmas.width(con, d, d**2 - 50 * d + 600),
            lemmas.layer_count(con, k + 9, equal=True), lemmas.layer_count(con, 2 * k + 16),
            lemmas.layer_count(con, k + 10)]
    assert [o.verdict for o in outs] == ["refuted"] * 5 + ["verified"]
    assert outs[0].detail.startswith("width = 5d + 3 exceeds the stated d (first at d = 1: 8 > 1)")
    assert "the stated d² − 50d + 600" in outs[2].detail
    assert outs[4].detail == "the construction has k + 8 layers, not 2k + 16"
    for o in outs:
        assert_plain(o.detail)


def test_refuted_population_claims():
    outs = []
    for tid in ("one_step_gd_optimal", "preconditioned_gd"):
        spec = _claim(tid, pk.MatrixMinimiser)
        outs.append(pk.check_matrix_minimiser(replace(spec, minimiser=spec.minimiser * 2)))
        outs.append(pk.check_matrix_minimiser(replace(spec, value=g.trace(g.matrix("Sigma", symmetric=True)))))
    for pick in (lambda c: "sigma^2" in c.name, lambda c: "I/d" in c.name):
        spec = _claim("one_step_gd_optimal", pk.ScalarMinimiser, pick)
        outs.append(pk.check_scalar_minimiser(replace(spec, minimiser=spec.minimiser * 2)))
    spec = _claim("one_step_gd_optimal", pk.ScalarMinimiser, lambda c: "sigma^2" in c.name)
    outs.append(pk.check_scalar_minimiser(replace(spec, value=spec.value + 1)))
    spec = _claim("preconditioned_gd", pk.ReducedCriticalPoints, lambda c: "L = 2" in c.name)
    outs.append(pk.check_reduced_critical_points(replace(spec, reference=((5, 20, ("0.4", "1.3"), "0.5"),))))
    spec = _claim("looped_multistep_pgd", pk.LoopedLossTable)
    outs.append(pk.check_looped_loss_table(replace(spec, closed_forms=((1, pk.n / 3),),
                                                   reference=((1, ("0.6", "0.7", "0.8", "0.9", "0.99")),))))
    assert {o.verdict for o in outs} == {"refuted"}
    assert "at n = 1, d = 1, σ² = 0" in outs[4].detail
    assert "reference {0.4, 1.3}, loss 0.5 vs derived [0.515371, 1.24957]" in outs[7].detail
    for o in outs:
        assert_plain(o.detail, o.detail[:60])
        for a in o.assumptions:
            assert_plain(a)


def test_refuted_closed_forms():
    fu = _claim("newton_k_plus_8", ClosedForm)
    o = lemmas.closed_form(fu.k, fu.printed + 3 * fu.var**2 - 1, fu.start, fu.step, fu.var, fu.params)
    assert o.verdict == "refuted" and "S²: printed 3, derived 0" in o.detail
    gd = _claim("gd_one_layer", ClosedFormAllK)
    o2 = lemmas.closed_form_all_k(lambda K: gd.closed(K) + K * gd.var, gd.start, gd.step, gd.var, gd.K)
    o3 = lemmas.closed_form_all_k(lambda K: gd.closed(K) + 1, gd.start, gd.step, gd.var, gd.K)
    assert o2.verdict == o3.verdict == "refuted"
    assert o3.detail == "closed(0) − start = 1, not 0"
    for x in (o, o2, o3):
        assert_plain(x.detail)
