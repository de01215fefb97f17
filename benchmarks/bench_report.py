"""Target: the PDF of a theorem renders in under 5 s, and the default run with both reports in under 15 s.

For each theorem (default: the catalogue) at its defaults: `verify()`, then the HTML and the PDF report timed
apart, the PDF twice (the first in a process also draws the PDF's formulas; the second finds them drawn).
WeasyPrint's own import (about 0.7 s, once per process) is timed apart, before them.
Baseline, in the same run: WeasyPrint laying out the same report's words as plain paragraphs (no tables, no
images, no formulas), the cost of the text alone; the ratio says what the report's structure adds to it.

    python benchmarks/bench_report.py [ids]
"""
import logging
import os
import re
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def plain_text_pdf(html: str, path: str) -> float:
    from weasyprint import HTML
    body = html[html.find("<body"):]
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.S)
    words = re.sub(r"<[^>]+>", " ", body)
    words = re.sub(r"data:image/[^\s\"']+", " ", words)
    paras = [p.strip() for p in re.split(r"\s{2,}", words) if p.strip()]
    doc = "<html><body>" + "".join(f"<p>{p}</p>" for p in paras) + "</body></html>"
    t = time.perf_counter()
    HTML(string=doc).write_pdf(path)
    return time.perf_counter() - t


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    logging.disable(logging.WARNING)
    from reports import render
    from theorems.check import verify
    from theorems.registry import MODULES
    t0 = time.perf_counter()
    import weasyprint  # noqa: F401  (its import, once per process, is timed apart from the PDFs)
    print(f"importing WeasyPrint: {time.perf_counter() - t0:.2f} s (once per process; not in the PDF times below)")
    import fontTools
    from weasyprint.text.ffi import harfbuzz_subset
    print(f"WeasyPrint {weasyprint.__version__}; fonts subset by "
          f"{'libharfbuzz-subset' if harfbuzz_subset else f'fontTools {fontTools.version}'}")
    for tid in (sys.argv[1:] or MODULES):
        t0 = time.perf_counter()
        r = verify(tid)
        t_verify = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            html = render.render_html(r)
            t_html = time.perf_counter() - t0
            t0 = time.perf_counter()
            render.render_pdf(r, os.path.join(out, "a.pdf"))
            t_pdf = time.perf_counter() - t0
            t0 = time.perf_counter()
            render.render_pdf(r, os.path.join(out, "b.pdf"))
            t_pdf2 = time.perf_counter() - t0
            base = plain_text_pdf(html, os.path.join(out, "c.pdf"))
            # both reports as the CLI writes them (figures already drawn above, so a little warm): serially,
            # and with the PDF laid out in a forked child beside the HTML (where there are two cores)
            both = {}
            for mode, env in (("serial", "1"), ("beside the HTML", "0")):
                os.environ["ICL_THEOREMS_SERIAL_REPORTS"] = env
                t0 = time.perf_counter()
                render.write_reports(r, os.path.join(out, mode.replace(" ", "-")), ["html", "pdf"])
                both[mode] = time.perf_counter() - t0
            os.environ.pop("ICL_THEOREMS_SERIAL_REPORTS")
        total = t_verify + t_html + t_pdf
        print(f"{tid}: verify {t_verify:.2f} s, HTML {t_html:.2f} s, PDF {t_pdf:.2f} s (again {t_pdf2:.2f} s); "
              f"baseline (its words as plain paragraphs) {base:.2f} s, PDF ratio {t_pdf / base:.1f}x; "
              f"PDF < 5 s: {'OK' if t_pdf < 5 else 'MISSED'}; verify + both reports {total:.1f} s < 15 s: "
              f"{'OK' if total < 15 else 'MISSED'}; both reports again: serial {both['serial']:.2f} s, PDF beside "
              f"the HTML {both['beside the HTML']:.2f} s (ratio {both['beside the HTML'] / both['serial']:.2f})")
