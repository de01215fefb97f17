"""A theorem of one's own, from outside the package: by module path, by entry point, with the pytest
helper, and with its deliberately wrong variant refuted and located."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
REF = "mytheorems.gd_weight_decay"


def cli(*args, cwd=EXAMPLES, env=None, module="theorems.check"):
    e = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True, env=e,
                          timeout=600)


def test_a_module_path_is_checked_from_outside_the_package(tmp_path):
    out = tmp_path / "r.json"
    p = cli(REF, "--k", "3", "--d", "4", "--n", "6", "--report", "none", "--quiet", "--json", str(out))
    assert p.returncode == 0, p.stderr
    r = json.loads(out.read_text())
    assert r["theorem"] == "gd_weight_decay" and r["verdict"] == "verified"
    kinds = {c["method"].split(" (")[0] for v in r["variants"] for c in v["checks"]}
    assert {"symbolic induction", "exact composition", "certified ball arithmetic"} <= kinds, kinds


def test_the_wrong_variant_is_refuted_with_a_located_message(tmp_path):
    out = tmp_path / "r.json"
    p = cli(REF, "--variant", "decay-after-update", "--k", "2", "--report", "none", "--quiet", "--json", str(out))
    assert p.returncode == 1, p.stderr
    ind = next(c for c in json.loads(out.read_text())["variants"][0]["checks"] if c["method"].startswith("symbolic"))
    assert ind["verdict"] == "refuted" and ind["data"]["where"]["layer"] == "GD-wd"
    assert "first differing term" in ind["detail"] and "Counterexample: d=1, n=1" in ind["detail"]


def test_the_report_is_written_for_an_outside_theorem(tmp_path):
    p = cli(REF, "--k", "2", "--d", "3", "--n", "4", "--report", "html", "--out", str(tmp_path), "--quiet")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "gd_weight_decay.html").exists()


def test_the_users_own_ci_with_the_pytest_helper():
    """examples/test_mytheorems.py, as a user runs it in their repository: the helper verifies, refutes with
    the location, shows the located message on failure, and compares with the golden record."""
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mytheorems.py"],
                       cwd=EXAMPLES, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"),
                       timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "4 passed" in p.stdout


def test_the_helper_fails_with_the_located_findings(monkeypatch):
    monkeypatch.syspath_prepend(EXAMPLES)
    from theorems.testing import assert_theorem_verified
    with pytest.raises(AssertionError) as err:
        assert_theorem_verified(REF, variant="decay-after-update", k=2, d=3, n=4)
    msg = " ".join(str(err.value).split())
    assert "variant decay-after-update" in msg and "at stage step, layer GD-wd" in msg
    assert "network [−9/10], recursion [−1]" in msg


def test_a_golden_record_that_differs_fails(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(EXAMPLES)
    from theorems.testing import assert_theorem_verified
    rec = json.loads(open(os.path.join(EXAMPLES, "mytheorems", "golden", "gd_weight_decay.json")).read())
    rec["variants"]["weight-decay"]["checks"]["hidden width"]["exact"]["width"] = "d + 5"
    bad = tmp_path / "g.json"
    bad.write_text(json.dumps(rec))
    with pytest.raises(AssertionError, match="difference"):
        assert_theorem_verified(REF, golden=str(bad), k=3, d=3, n=5, seed=0)


def test_an_entry_point_names_an_installed_theorem(tmp_path):
    """A distribution that declares [icl_theorems.theorems] wd = mytheorems.gd_weight_decay:THEOREM."""
    dist = tmp_path / "mytheorems_dist-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mytheorems-dist\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[icl_theorems.theorems]\nwd = mytheorems.gd_weight_decay:THEOREM\n")
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), EXAMPLES])}
    p = cli("wd", "--k", "2", "--d", "3", "--n", "4", "--report", "none", "--quiet", cwd=str(tmp_path), env=env)
    assert p.returncode == 0, p.stderr
    listing = cli("--list", cwd=str(tmp_path), env=env)
    assert "gd_weight_decay" in listing.stdout


@pytest.mark.parametrize("ref, message", [
    ("nosuchpkg.theorem", "no module nosuchpkg"),
    ("mytheorems:THEOREM", "defines no THEOREM"),
    ("mytheorems.gd_weight_decay:LAYOUT", "not a theorems.base.Theorem"),
    ("brokenpkg.broken", "importing brokenpkg.broken failed: ZeroDivisionError"),
])
def test_a_bad_module_path_is_a_one_line_usage_error(ref, message, tmp_path):
    pkg = tmp_path / "brokenpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "broken.py").write_text("x = 1 / 0\n")
    p = cli(ref, "--report", "none", cwd=str(tmp_path), env={"PYTHONPATH": EXAMPLES})
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert message in p.stderr and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_the_readme_example_is_complete_and_verifies(tmp_path):
    """The README's smallest complete example, saved as mygd.py, checks from its own folder."""
    text = open(os.path.join(ROOT, "README.md")).read()
    block = text.split("<!-- example:begin -->", 1)[1].split("<!-- example:end -->", 1)[0]
    code = block.split("```python", 1)[1].split("```", 1)[0]
    (tmp_path / "mygd.py").write_text(code)
    out = tmp_path / "r.json"
    p = cli("mygd", "--k", "3", "--d", "3", "--n", "5", "--report", "none", "--quiet", "--json", str(out),
            cwd=str(tmp_path))
    assert p.returncode == 0, p.stderr
    r = json.loads(out.read_text())
    assert r["verdict"] == "verified" and len(r["variants"][0]["checks"]) == 5
