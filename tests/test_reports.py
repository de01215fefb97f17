"""The report renderer: text table, HTML (MathML, inline SVG, offline), PDF, files."""
import html as htmllib
import json
import os
import re

import pytest

import theorems
from reports.mathrender import MathRenderer, split_dollars, split_mixed
from reports.render import render_html, render_pdf, text_table, write_reports

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)
CSS_EXTERNAL = re.compile(r"""(?:url\(\s*["']?\s*(?:https?:)?//|@import)""", re.I)


@pytest.fixture(scope="module")
def result():
    return theorems.verify("newton_k_plus_8", k=3, d=3, n=6)


@pytest.fixture(scope="module")
def page(result):
    return render_html(result)


def _text(h):
    """Visible text of the HTML, entities decoded, tags dropped."""
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", h))


def _all_checks(result):
    return [e for v in result.variants for e in v.checks] + list(result.claims)


def test_text_table(result):
    t = text_table(result)
    assert max(len(line) for line in t.splitlines()) <= 100
    assert result.verdict.upper() in t
    for e in _all_checks(result):
        assert e.claim[:40] in t
    for v in result.variants:
        assert f"variant {v.name}" in t
    for er in result.errata:
        assert er["where"] in " ".join(t.split())


def test_html_content(result, page):
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "<math" in page
    assert "<svg" in page
    text = _text(page)
    assert result.verdict in text
    assert result.verdict_basis in text
    assert result.title in text
    for e in _all_checks(result):
        assert htmllib.unescape(htmllib.escape(e.claim)) in text, e.claim
    for er in result.errata:
        assert er["where"] in text, er["where"]
    for note in result.notes:
        assert note[:60] in " ".join(text.split())
    # every variant's verdict appears next to its name
    for v in result.variants:
        assert re.search(rf"Variant {re.escape(v.name)}\s.*?{v.verdict}", text, re.S)


def test_html_numbers_come_from_result(result, page):
    rows = result.numbers["per_layer"]
    assert rows, "the result should carry per-layer numbers"
    text = _text(page)
    for row in rows:
        assert f"{row['network']:.16g}" in text
        assert f"{row['pred_bound']:.2e}" in text
    assert f"{result.settings['precision_bits']} bits" in text
    assert "this run" in text


def test_html_is_offline(page):
    assert EXTERNAL.search('<img src="https://example.org/a.png">')      # the guard itself works
    assert not EXTERNAL.search(page), EXTERNAL.search(page).group(0)
    assert not CSS_EXTERNAL.search(page)
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()


def test_fragment(result):
    frag = render_html(result, standalone=False)
    assert "<html" not in frag.lower() and "<body" not in frag.lower() and "<!doctype" not in frag.lower()
    assert "<math" in frag and result.verdict in frag
    assert "<math" in result._repr_html_() and "<html" not in result._repr_html_().lower()


def test_pdf(result, tmp_path):
    path = tmp_path / "r.pdf"
    render_pdf(result, str(path))
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(data) > 20_000
    # math went in as SVG images, not as raw LaTeX or MathML text
    assert b"<math" not in data


def test_write_reports(result, tmp_path):
    out = tmp_path / "out" / "nested"
    paths = write_reports(result, str(out), ["html"])
    assert paths and all(os.path.isfile(p) and os.path.getsize(p) > 0 for p in paths)
    names = {os.path.basename(p) for p in paths}
    assert names == {f"{result.theorem}.html", f"{result.theorem}.json"}
    with open(out / f"{result.theorem}.json") as f:
        assert json.load(f)["verdict"] == result.verdict
    with pytest.raises(ValueError):
        write_reports(result, str(out), ["docx"])


def test_math_splitting():
    assert split_dollars("a $x$ b") == [("text", "a "), ("math", "x"), ("text", " b")]
    assert split_mixed("hidden dimension O(d)") == [("text", "hidden dimension O(d)")]
    runs = split_mixed(r"every column receives \hat w = T X^\top y")
    assert runs == [("text", "every column receives "), ("math", r"\hat w = T X^\top y")]
    assert all(k == "math" for k, _ in split_mixed(r"x_t \mapsto [x_t; x_t]"))


def test_math_renderers_fall_back():
    svg = MathRenderer("svg").math(r"\frac{1}{2} x^\top")
    assert svg.startswith("<img") and "data:image/svg+xml;base64," in svg
    bad = MathRenderer("mathml").math(r"\frac{")          # unparsable: shown as source, no exception
    assert "<math" in bad or "<code" in bad
    assert "&lt;" in MathRenderer("mathml").text("a < b")


def test_sparse_result_renders(result):
    """The engine renders any Result: no numbers, no errata, no claims, no construction."""
    import dataclasses
    bare = dataclasses.replace(result, numbers={}, errata=[], claims=[], notes=[], environment={}, trained={},
                               variants=[dataclasses.replace(result.variants[0], construction={})])
    page = render_html(bare)
    assert result.variants[0].checks[0].claim in _text(page)
    assert "Errata</h2>" not in page and "<svg" not in page
    assert text_table(bare).endswith(f"rests on {bare.verdict_basis})")


def test_accent_with_script_is_grouped():
    from reports.mathrender import normalise
    assert normalise(r"\hat{w}_k = M_k") == r"{\hat{w}}_k = M_k"
    assert normalise(r"\hat{w} + x_test") == r"\hat{w} + x_{\mathrm{test}}"


def test_simple_formulas_are_set_as_text_in_the_pdf_and_the_rest_drawn():
    """reports.mathrender.html_math: letters italic, scripts as <sub>/<sup>, symbols in Unicode; anything it
    does not know (matrices, fractions, sums with limits, an unknown command) is refused, and then drawn."""
    from reports.mathrender import MathRenderer, html_math
    assert html_math(r"M_0 = \alpha S") == "<i>M</i><sub>0</sub> = <i>α</i><i>S</i>"
    assert html_math(r"S = X^\top X") == "<i>S</i> = <i>X</i><sup>⊤</sup><i>X</i>"
    assert html_math(r"x_{\mathrm{test}}") == "<i>x</i><sub>test</sub>"
    assert html_math(r"\hat y") == "<i>y\u0302</i>" and html_math("k - 1") == "<i>k</i> − 1"   # a combining hat
    for tex in (r"W = \begin{bmatrix}I\end{bmatrix}", r"\frac{1}{2}", r"\tfrac12 T", r"\sum_{s=1}^k S^s",
                r"\sqrt{x}", r"\unknowncommand x", r"x_", r"\hat{ab}"):
        assert html_math(tex) is None, tex
    m = MathRenderer("svg")
    assert 'class="mtext"' in m.math("k + 8") and "<img" not in m.math("k + 8")
    assert "<img" in m.math(r"W = \begin{bmatrix}I & 0\end{bmatrix}")
    assert "<img" in m.math("k + 8", display=True)         # display math keeps its drawn form


def test_pdf_abbreviates_long_tables_and_leaves_raw_figures_to_the_html(result):
    from reports import render
    # a long table of a check (the certified check's per-iteration rows at k = 20)
    long = next(e for e in _all_checks(theorems.verify("newton_k_plus_8", k=20, d=2, n=3, variant="exact"))
                if e.claim.startswith("certified"))
    html_view = render._check_view(long, pdf=False)["extra"]
    pdf_view = render._check_view(long, pdf=True)["extra"]
    t_html, t_pdf = html_view["tables"][0], pdf_view["tables"][0]
    assert len(t_html["rows"]) == 21 > render.PDF_TABLE_ROWS
    assert len(t_pdf["rows"]) == render.PDF_TABLE_ROWS
    gap = len(t_html["rows"]) - (render.PDF_TABLE_ROWS - 1)
    assert t_pdf["rows"][render.PDF_TABLE_ROWS - 4][0] == f"… {gap} rows (HTML, JSON)"
    assert t_pdf["rows"][:8] == t_html["rows"][:8] and t_pdf["rows"][-3:] == t_html["rows"][-3:]
    assert html_view["kv"] and not pdf_view["kv"] and pdf_view["kv_left_out"] == len(html_view["kv"])
    # a short table is whole in both
    short = render._pdf_view({"kv": [], "tables": [{"name": "t", "cols": ["a"], "rows": [["1"], ["2"]]}]})
    assert short["tables"][0]["rows"] == [["1"], ["2"]]
    # and the PDF's page says so
    assert "the HTML report and the JSON hold them all" in _text(render._pdf_html(result))
    assert "the HTML report and the JSON hold them all" not in _text(render_html(result))


@pytest.mark.parametrize("mode", ["parallel", "serial", "child fails", "daemon", "no fork"])
def test_write_reports_pdf_beside_the_html(result, tmp_path, monkeypatch, mode):
    """Both reports: the PDF is laid out in a forked child beside the HTML where it can be; serial when turned
    off; a child that fails is redone in the parent, and no partial file is left."""
    from reports import render
    calls = []
    real = render._pdf_in_child
    if mode == "serial":
        monkeypatch.setenv("ICL_THEOREMS_SERIAL_REPORTS", "1")
    if mode == "child fails":
        monkeypatch.setattr(render, "_pdf_child", lambda html, path: os._exit(1))
    if mode == "daemon":                 # a pool or Dask worker: no children, the PDF is laid out here
        import multiprocessing as mp
        monkeypatch.setattr(mp.current_process(), "_config", {**mp.current_process()._config, "daemon": True})
    if mode == "no fork":
        import multiprocessing as mp

        def refuse(*a, **k):
            raise OSError("no process")
        monkeypatch.setattr(mp.get_context("fork").Process, "start", refuse)
    monkeypatch.setattr(render, "_pdf_in_child", lambda html, path: calls.append(real(html, path)) or calls[-1])
    paths = write_reports(result, str(tmp_path), ["html", "pdf"])
    pdf = tmp_path / f"{result.theorem}.pdf"
    assert str(pdf) in paths and pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000
    assert sorted(os.listdir(tmp_path)) == sorted(f"{result.theorem}.{x}" for x in ("html", "json", "pdf"))
    child = calls[0]
    if mode in ("serial", "daemon", "no fork") or (os.cpu_count() or 1) < 2:
        assert child is None
    else:
        assert child is not None and child.exitcode == (1 if mode == "child fails" else 0)


def test_the_pdf_states_a_repeated_explanation_once_and_leaves_trained_figures_to_the_html():
    from reports import render
    once = render._Once()
    assert once(["a", "b"], "first") == "" and once(["a", "b"], "second") == "first" and once(("c",), "x") == ""
    r = theorems.verify("newton_k_plus_8", k=2, d=2, n=3)
    raw_pdf = render._pdf_html(r)
    pdf, html = _text(raw_pdf), _text(render_html(r))
    n_html = html.count("evaluated with its ideal semantics")
    assert n_html > pdf.count("evaluated with its ideal semantics") > 0       # the borrowed layers' assumptions
    assert "as at “" in pdf and "as at “" not in html
    assert re.search(r"as at “[^”]+” \(variant [\w-]+\) above", pdf)      # names the variant it stood in
    if r.trained:                                                            # shipped trained results attach
        m = re.search(r"its (\d+) figures? \(training curves", pdf)
        assert m and int(m.group(1)) > 0 and "training curves, matrices" not in html
        assert not any(f'alt="{a}"' in raw_pdf for a in ("training loss", "best steps per layer",
                                                            "learned and theoretical matrices"))
    assert 'alt="error per iteration"' in raw_pdf                             # the main figure stays


def test_a_construction_is_drawn_once_and_later_variants_name_what_they_share():
    """A head (or an MLP) whose weights on the same blocks were shown before is named, not drawn again; the
    operation's own line (its kind: keys, normaliser) is shown, so what differs stays visible.  The same
    weights on other blocks are other weights, and are drawn."""
    from reports import render
    shown: dict = {}
    op = {"kind": "attention (relu, keys: x)", "blocks": ["T", "x"],
          "heads": [{"W_KQ": "A", "W_PV": "B"}, {"W_KQ": "C", "W_PV": "B"}], "W": "I"}
    first = render._op_view(op, shown, "layer N of variant a")
    assert not any("same_as" in h for h in first["heads"]) and "W_same_as" not in first
    again = render._op_view(dict(op, kind="attention (relu, keys: xy)", heads=[op["heads"][1], {"W_KQ": "D"}]),
                            shown, "layer N of variant b")
    assert again["kind"] == "attention (relu, keys: xy)"
    assert again["heads"][0]["same_as"] == "head 2 of layer N of variant a" and "same_as" not in again["heads"][1]
    assert again["W_same_as"] == "the MLP of layer N of variant a"
    other = render._op_view(dict(op, blocks=["T", "y"]), shown, "layer M of variant c")
    assert not any("same_as" in h for h in other["heads"]) and "W_same_as" not in other
    # in a report: the full run's variants share the Newton layer's heads; each distinct weight is drawn once
    r = theorems.verify("newton_k_plus_8", k=2, d=2, n=3)
    page = render._pdf_html(r)
    assert "weights as in head 1 of layer N of variant printed" in page
    drawn = re.findall(r'<img class="math" alt="(W_\{(?:KQ|PV)\} = [^"]*)"', page)
    heads = [(json.dumps(op.get("blocks")), json.dumps(h, sort_keys=True)) for v in r.variants
             for L in (v.construction or {}).get("layers", []) for op in L.get("ops", []) for h in op.get("heads") or []]
    assert len(set(heads)) < len(heads)                   # heads are shared across variants ...
    assert len(drawn) <= 2 * len(set(heads))              # ... and each distinct one is drawn at most once


def test_table_headers_are_words():
    from reports.render import _data_view, words
    assert words("carrier_contains_zero") == "carrier contains zero" and words("max_abs") == "max abs"
    for key in ("x_test", "F_L(a*)", "e0", "a*", "M_k", "max |a_i|", "iteration"):
        assert words(key) == key
    view = _data_view({"table": [{"iteration": 0, "pred_bound": 1e-9}], "precision_bits": 256,
                       "scales": [{"eps": 0.1}]})
    assert view["tables"][0] == {"name": "", "cols": ["iteration", "pred bound"], "rows": [["0", "1e-09"]]}
    assert view["tables"][1]["name"] == "scales" and view["kv"] == [("precision bits", "256")]


def test_the_pdf_names_the_compared_algorithms_once():
    """The trained section of the PDF lists the compared algorithms once, in a legend, and its tables name them
    by key; the HTML keeps each label in its tables.  A key given two labels is not abbreviated."""
    from reports import render
    t = {"experiments": [{"evals": [{"algorithms": [{"key": "a", "label": "long A"}, {"key": "b", "label": "B1"}]}]},
                         {"evals": [{"algorithms": [{"key": "a", "label": "long A"}, {"key": "b", "label": "B2"}]}]}]}
    assert render._algorithm_legend(t) == {"a": "long A"}
    r = theorems.verify("newton_k_plus_8", k=2, d=2, n=3)
    if not r.trained:
        pytest.skip("no shipped trained result")
    pdf, html = render._pdf_html(r), render_html(r)
    label = next(a["label"] for e in r.trained["experiments"] for ev in e.get("evals", [])
                 for a in ev.get("algorithms", []) if a["key"] == "newton-code")
    pdf, html = _text(pdf), _text(html)
    assert "algorithm (as named in the tables below)" in pdf and "algorithm (as named" not in html
    assert pdf.count(label) == 1 < html.count(label)
    assert "Model, probes and evaluation as in" in pdf and "Model, probes and evaluation as in" not in html


def test_the_reports_write_the_datas_formulas_as_a_reader_does():
    """The JSON keeps sympy's syntax (machine-readable); the reports write it in mathematical notation, and read
    S, I, E, N as letters, not as sympy's singletons or imaginary unit.  Other strings are left alone."""
    from reports.render import _data_view, compact, readable
    assert readable("-S**3*alpha**2 + 2*S*alpha") == "−α²S³ + 2αS"
    assert readable("2*I + x") == "2I + x" and readable("5*d + 3") == "5d + 3"
    assert readable("tr(Sigma) - 2*tr(A Sigma**2)") == "tr(Sigma) - 2·tr(A Sigma²)"      # not sympy's: cosmetics
    for s in ("a*", "F_L(a*)", "newton_k_plus_8", "theorems/trained/x.json", "k + 8"):
        assert readable(s) == s
    assert compact({"loss": "d**2*eta**2/n", "k": 3}) == "{loss: η²d²/n, k: 3}"
    view = _data_view({"derived": "-S**3*alpha**2 + 2*S*alpha", "terms": [{"term": "S**3*alpha**2"}]})
    assert view["kv"] == [("derived", "−α²S³ + 2αS")] and view["tables"][0]["rows"] == [["α²S³"]]
    r = theorems.verify("newton_k_plus_8", k=2, d=2, n=3)
    text = _text(render_html(r))
    assert "**" not in text and not re.search(r"\d\*[a-z]", text)
