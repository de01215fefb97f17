"""The command line: exit codes and one-line errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, cwd=None):
    p = subprocess.run([sys.executable, "-m", "theorems.check", *args], capture_output=True, text=True,
                       cwd=cwd or ROOT, timeout=600)
    return p.returncode, p.stdout, p.stderr


def one_line_error(err):
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    return lines[0]


def test_list():
    code, out, _ = run("--list")
    assert code == 0
    assert "newton_k_plus_8" in out and "Fu et al." in out


@pytest.mark.parametrize("args, needle", [
    (["no_such_theorem"], "unknown theorem 'no_such_theorem'"),
    (["newton_k_plus_8", "--k", "-1"], "k must be between 0 and 64"),
    (["newton_k_plus_8", "--d", "0"], "d must be between"),
    (["newton_k_plus_8", "--n", "0"], "n must be between"),
    (["newton_k_plus_8", "--k", "three"], "k must be an integer"),
    (["newton_k_plus_8", "--precision", "x"], "precision must be an integer"),
    (["newton_k_plus_8", "--alpha", "-1"], "alpha must be positive"),
    (["newton_k_plus_8", "--alpha", "nan"], "alpha must be one of"),
    (["newton_k_plus_8", "--variant", "nope"], "unknown variant"),
    (["newton_k_plus_8", "--report", "docx"], "--report"),
    (["newton_k_plus_8", "--bogus"], "unrecognized"),
])
def test_bad_options_exit_2(args, needle):
    code, _, err = run(*args)
    assert code == 2
    assert needle in one_line_error(err)


def _npz(tmp_path, name="d.npz", **arrays):
    p = tmp_path / name
    np.savez(p, **arrays)
    return str(p)


@pytest.mark.parametrize("arrays, needle", [
    ({"X": np.ones((4, 2)), "y": np.ones(4)}, "lacks array(s) x_test"),
    ({"X": np.ones((4, 2)), "y": np.ones(3), "x_test": np.ones(2)}, "y has shape"),
    ({"X": np.ones((4, 2)), "y": np.ones(4), "x_test": np.ones(3)}, "x_test has shape"),
    ({"X": np.ones(4), "y": np.ones(4), "x_test": np.ones(2)}, "X must be 2-D"),
    ({"X": np.array([[1.0, np.nan], [0, 1]]), "y": np.ones(2), "x_test": np.ones(2)}, "NaN"),
    ({"X": np.array([["a", "b"]]), "y": np.ones(1), "x_test": np.ones(2)}, "not numeric"),
])
def test_bad_data_exit_2(tmp_path, arrays, needle):
    code, _, err = run("newton_k_plus_8", "--data", _npz(tmp_path, **arrays), "--report", "none")
    assert code == 2
    assert needle in one_line_error(err)


def test_malformed_and_missing_files_exit_2(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip at all")
    code, _, err = run("newton_k_plus_8", "--data", str(bad), "--report", "none")
    assert code == 2 and "not a readable .npz" in one_line_error(err)
    code, _, err = run("newton_k_plus_8", "--data", str(tmp_path / "missing.npz"), "--report", "none")
    assert code == 2 and "not found" in one_line_error(err)


def test_data_shape_disagrees_with_options(tmp_path):
    f = _npz(tmp_path, X=np.eye(3), y=np.ones(3), x_test=np.ones(3))
    code, _, err = run("newton_k_plus_8", "--data", f, "--d", "4", "--report", "none")
    assert code == 2 and "does not match" in one_line_error(err)


def test_verified_run_exits_0_and_writes_json(tmp_path):
    out = tmp_path / "r.json"
    code, stdout, _ = run("newton_k_plus_8", "--k", "3", "--d", "4", "--n", "8", "--report", "none",
                          "--json", str(out), "--quiet")
    assert code == 0, stdout
    assert "VERIFIED" in stdout
    r = json.loads(out.read_text())
    assert r["theorem"] == "newton_k_plus_8" and r["verdict"] == "verified"
    names = {v["name"]: v for v in r["variants"]}
    assert names["printed"]["verdict"] == "refuted"
    assert names["corrected"]["verdict"] == "verified" and names["exact"]["verdict"] == "verified"
    for v in r["variants"]:
        for c in v["checks"]:
            assert {"name", "verdict", "method", "detail"} <= set(c)
    assert any("(21)" in e["where"] for e in r["errata"])
    assert all({"where", "printed", "finding"} <= set(e) for e in r["errata"])
    assert r["parameters"]["alpha"]["policy"] == "spectral"
    assert r["exit_code"] == 0


def test_printed_variant_alone_exits_1():
    code, stdout, _ = run("newton_k_plus_8", "--variant", "printed", "--k", "2", "--d", "3", "--n", "4",
                          "--report", "none", "--quiet")
    assert code == 1 and "REFUTED" in stdout


def test_user_data_gives_per_layer_predictions(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((7, 3))
    f = _npz(tmp_path, X=X, y=X @ np.array([1.0, -2.0, 0.5]), x_test=np.array([0.3, 0.1, -1.0]))
    out = tmp_path / "r.json"
    code, _, err = run("newton_k_plus_8", "--data", f, "--k", "14", "--report", "none", "--json", str(out), "--quiet")
    assert code == 0, err
    r = json.loads(out.read_text())
    preds = r["numbers"]["data_predictions"]
    assert [p["iteration"] for p in preds] == list(range(15))
    for p in preds:
        assert abs(p["network"] - p["recursion"]) < 1e-12
    batch = [c for v in r["variants"] if v["name"] == "exact" for c in v["checks"] if c["name"].startswith("float64")]
    assert batch and batch[0]["detail"].startswith("your prompt and")
    # Newton converges to the OLS prediction on this well-posed data
    ols = float(np.array([0.3, 0.1, -1.0]) @ np.linalg.lstsq(X, X @ np.array([1.0, -2.0, 0.5]), rcond=None)[0])
    assert abs(preds[-1]["recursion"] - ols) < 1e-9 < abs(preds[0]["recursion"] - ols)


@pytest.mark.parametrize("d, n", [(1, 1), (5, 2)])
def test_edge_sizes_run(d, n, tmp_path):
    """n < d (singular S) and the smallest sizes still give verdicts and numbers."""
    out = tmp_path / "r.json"
    code, stdout, err = run("newton_k_plus_8", "--d", str(d), "--n", str(n), "--k", "3", "--report", "none",
                            "--json", str(out), "--quiet")
    assert code == 0, err
    r = json.loads(out.read_text())
    assert r["numbers"]["reference"]["rank"] == min(d, n)


@pytest.mark.parametrize("args, needle", [
    (["--out", "/etc/passwd"], "not a directory"),
    (["--json", "/nonexistent-dir/r.json"], "cannot write --json"),
    (["--report", ""], "--report"),
    (["--seed", str(2**64)], "seed must be between"),
])
def test_unusable_outputs_fail_before_the_run(args, needle):
    code, _, err = run("newton_k_plus_8", "--k", "1", "--d", "2", "--n", "3", *args)
    assert code == 2 and needle in one_line_error(err)


@pytest.mark.parametrize("alpha", ["paper", "1000"])
def test_errata_are_about_the_paper_not_the_run(alpha, tmp_path):
    out = tmp_path / "r.json"
    code, _, err = run("newton_k_plus_8", "--k", "2", "--d", "3", "--n", "6", "--alpha", alpha, "--report", "none",
                       "--json", str(out), "--quiet")
    assert code == 0, err          # the theorem holds for any alpha > 0
    r = json.loads(out.read_text())
    where = [e["where"] for e in r["errata"]]
    assert len(where) == len(set(where))
    assert sum("(5)" in w for w in where) == 1                # the printed alpha, once
    assert not any(e["claim"] == "convergence with the run's alpha" for e in r["errata"])
    # one root cause (V_1 = V_2 in the Newton layer) is one erratum, citing both equations it breaks
    newton = [w for w in where if "(27)" in w]
    assert len(newton) == 1 and "also eqs. (27)-(30)" in newton[0]


def test_many_iterations_stay_certified(tmp_path):
    """Balls widen with every layer: the default precision grows with k, so a deep run is still certified."""
    out = tmp_path / "r.json"
    code, _, err = run("newton_k_plus_8", "--variant", "exact", "--k", "48", "--d", "4", "--n", "8",
                       "--report", "none", "--json", str(out), "--quiet")
    assert code == 0, err
    r = json.loads(out.read_text())
    assert r["settings"]["precision_bits"] == 96 + 8 * 48
    cert = next(c for c in r["variants"][0]["checks"] if c["name"].startswith("certified"))
    assert cert["verdict"] == "verified"


@pytest.mark.parametrize("X, y, x_test", [
    (np.array([[1., 2.], [2., 4.], [3., 6.]]), np.array([1., 2., 3.]), np.array([1., 0.])),   # rank 1, n > d
    (np.array([[1, 2], [3, 4], [5, 7]]), np.array([1, 2, 3]), np.array([1, 1])),             # integer arrays
])
def test_unusual_but_valid_data(tmp_path, X, y, x_test):
    out = tmp_path / "r.json"
    code, _, err = run("newton_k_plus_8", "--data", _npz(tmp_path, X=X, y=y, x_test=x_test), "--k", "3",
                       "--report", "none", "--json", str(out), "--quiet")
    assert code == 0, err
    claims = {c["name"]: c for c in json.loads(out.read_text())["claims"]}
    assert claims["convergence with the paper's alpha"]["verdict"] == "refuted"   # holds for every S


# ---------------------------------------------------------------- exit codes a script can use
def test_exit_codes_are_distinct_and_documented():
    from theorems.base import EXIT_CODES
    assert EXIT_CODES == {"verified": 0, "refuted": 1, "inconclusive": 3, "error": 4}


def test_inconclusive_exits_3(tmp_path):
    """Too few bits to separate network and recursion: undecided, not refuted."""
    code, out, _ = run("newton_k_plus_8", "--variant", "exact", "--k", "20", "--d", "8", "--n", "20",
                       "--precision", "53", "--precision-cap", "64", "--report", "none")
    assert code == 3 and "INCONCLUSIVE" in out
    assert "undecided:" in out and "--precision-cap" in out       # the reason and the remedy, on the terminal


def test_an_undecided_ball_is_recomputed_at_doubled_precision(tmp_path):
    """Arb's advice: a ball too wide to decide is recomputed at higher precision, never reported as a value."""
    from theorems import check
    r = check.verify("newton_k_plus_8", variant="exact", k=20, d=8, n=20, precision=53)
    cert = next(e for e in r.variants[0].checks if e.data["kind"] == "certified")
    assert r.verdict == "verified" and cert.verdict == "verified"
    assert cert.data["precision_tried"][0] == 53 and len(cert.data["precision_tried"]) > 1
    assert r.settings["precision_decided"] == cert.data["precision_bits"] > 53
    rows = r.numbers["data_predictions"]
    assert all("recursion_radius" in row and "network_radius" in row for row in rows)


def test_a_wide_ball_is_never_plotted():
    from reports.figures import error_series
    numbers = {"reference": {"recursion": [1e-3, None, 1e-5], "ols": 0.0}, "per_layer": []}
    s = next(x for x in error_series(numbers) if x["style"] == "recursion")
    assert s["x"] == [0, 2]                    # the undecided point (None) is left out, not drawn


def test_a_crashing_checker_is_an_error_not_a_refutation(monkeypatch, capsys):
    """A checker that raises gives the outcome 'error' and exit 4, with one line naming the traceback file."""
    from theorems import check, kinds
    spec_cls = kinds.Width
    real = kinds.KINDS[spec_cls]

    def boom(spec, run):
        raise RuntimeError("checker exploded")

    monkeypatch.setitem(kinds.KINDS, spec_cls, kinds.Kind(real.name, spec_cls, boom))
    r = check.verify("newton_k_plus_8", k=2, d=2, n=3, variant="exact")
    ev = next(e for v in r.variants for e in v.checks if e.data["kind"] == "width")
    assert ev.verdict == "error" and r.verdict == "error"
    assert r.errors and os.path.exists(r.errors[0]) and "checker exploded" in open(r.errors[0]).read()
    code = check.main(["newton_k_plus_8", "--k", "2", "--d", "2", "--n", "3", "--variant", "exact",
                       "--report", "none", "--quiet"])
    err = capsys.readouterr().err
    assert code == 4
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1 and "traceback is in" in lines[0] and "Traceback" not in err


def test_an_internal_error_outside_the_checkers_exits_4(monkeypatch, capsys):
    from theorems import check

    def boom(*a, **k):
        raise ZeroDivisionError("deep inside")

    monkeypatch.setattr(check, "verify", boom)
    code = check.main(["newton_k_plus_8", "--report", "none", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4 and len(err) == 1 and err[0].startswith("internal error") and "traceback is in" in err[0]


def test_data_of_huge_magnitude_runs_or_says_why(tmp_path):
    """X * 1e200: X'X overflows float64; the float64 check says so, the exact and certified checks decide."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 2)) * 1e200
    path = _npz(tmp_path, X=X, y=X @ rng.standard_normal(2), x_test=rng.standard_normal(2))
    code, out, err = run("newton_k_plus_8", "--variant", "exact", "--data", path, "--k", "3", "--report", "none",
                         "--json", str(tmp_path / "r.json"))
    assert code == 0, err
    r = json.load(open(tmp_path / "r.json"))
    f64 = next(c for c in r["variants"][0]["checks"] if c["name"].startswith("float64"))
    assert f64["verdict"] == "inconclusive" and "overflows float64" in f64["detail"]


def test_data_beyond_the_limits_is_refused(tmp_path):
    path = _npz(tmp_path, X=np.ones((3, 201)), y=np.ones(3), x_test=np.ones(201))
    code, _, err = run("newton_k_plus_8", "--data", path, "--report", "none")
    assert code == 2 and "d up to 200" in one_line_error(err)


def test_the_python_api_takes_arrays_names_parameters_and_saves(tmp_path):
    import inspect
    import theorems
    from theorems.check import UsageError
    sig = inspect.signature(theorems.verify)
    assert {"k", "d", "n", "precision", "seed", "variant", "data"} <= set(sig.parameters)
    assert "data" in theorems.verify.__doc__
    rng = np.random.default_rng(3)
    X = rng.standard_normal((5, 2))
    r = theorems.verify("newton_k_plus_8", variant="exact", k=2, data=(X, X @ np.ones(2), rng.standard_normal(2)))
    assert r.verdict == "verified" and r.settings["d"] == 2 and r.environment["data_sha256"]
    import torch
    r2 = theorems.verify("newton_k_plus_8", variant="exact", k=2,
                         data={"X": torch.tensor(X), "y": torch.tensor(X @ np.ones(2)), "x_test": torch.ones(2)})
    assert r2.verdict == "verified"
    with pytest.raises(UsageError, match="^alpha must be"):
        theorems.verify("newton_k_plus_8", alpha=-1)
    with pytest.raises(UsageError, match="no parameter eta"):
        theorems.verify("newton_k_plus_8", eta=1)
    paths = r.save(str(tmp_path), formats=("html",))
    assert [os.path.basename(p) for p in paths] == ["newton_k_plus_8.json", "newton_k_plus_8.html"]
    again = r.save(str(tmp_path), formats=("html",))
    assert os.path.basename(again[0]) == "newton_k_plus_8-2.json"      # no silent overwrite
    assert "theorems.verify('newton_k_plus_8'" in r.environment["command"]


def test_sizes_together_are_limited_by_the_work_they_cost(tmp_path):
    """d, n and k are limited together by a run's cost, (k+1)(d*d*n + 61*n*n): the products over the prompt and
    attention's n x n scores (measured: d = 100, n = 200, k = 30 is the largest run allowed at the defaults), for a
    data file too; each axis alone is within its limit.  A prompt of many examples is limited by its n^2."""
    from theorems.base import LIMITS, work
    from theorems.check import UsageError, make_context
    from theorems.registry import get
    thm = get("newton_k_plus_8")
    assert work(100, 200, 30) <= LIMITS["work"] < work(100, 200, 31)
    assert work(10, 400, 8) < LIMITS["work"] < work(10, 1000, 16)        # 219 s measured; hours
    assert work(200, 1000, 0) <= LIMITS["work"] < work(200, 1000, 1)     # about 6 minutes measured
    with pytest.raises(UsageError, match=r"d = 100, n = 200, k = 31 is too large a run for newton_k_plus_8"):
        make_context(thm, d=100, n=200, k=31)
    with pytest.raises(UsageError, match=r"d = 10, n = 1000, k = 16 is too large a run"):
        make_context(thm, d=10, n=1000, k=16)
    code, _, err = run("newton_k_plus_8", "--d", "200", "--n", "1000", "--k", "1", "--report", "none")
    assert code == 2 and "(k+1)(d*d*n + 61*n*n) = 2.02e+08 is above its limit 1.38e+08" in one_line_error(err)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 150))
    code, _, err = run("newton_k_plus_8", "--data", _npz(tmp_path, X=X, y=X @ rng.standard_normal(150),
                                                         x_test=rng.standard_normal(150)), "--k", "20",
                       "--report", "none")
    assert code == 2 and "d = 150, n = 400, k = 20 is too large a run" in one_line_error(err)
    # a theorem without a work limit has only its per-axis ones
    assert "work" not in get("logistic_newton").limits
