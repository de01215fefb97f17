"""The notebook under examples/ runs: every code cell, in order, in one namespace (as a kernel would)."""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quickstart_notebook_runs():
    nb = json.load(open(os.path.join(ROOT, "examples", "quickstart.ipynb")))
    ns: dict = {}
    last = None
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        *body, tail = src.rstrip().split("\n")
        exec("\n".join(body), ns)
        last = eval(tail, ns) if not tail.startswith(("import", "from")) and "=" not in tail.split("(")[0] \
            else exec(tail, ns)
        if tail.strip() == "r":
            html = last._repr_html_()
            assert "<style" in html and "verified" in html      # renders, with its styles, in the notebook
    assert ns["r"].verdict == "verified" and ns["r2"].verdict == "verified"
    assert all(os.path.exists(p) for p in ns["paths"])
