"""Real prompts (scikit-learn's bundled data sets, standardised, as in-context examples): the certified check
decides where the default precision cannot, by recomputing at doubled precision, and says at which."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import theorems

datasets = pytest.importorskip("sklearn.datasets")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _standardised(loader, rows):
    X, y = loader(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    y = (y - y.mean()) / y.std()
    a, b = rows
    return X[a:b], y[a:b], X[b]


def _certified(result):
    return next(e for v in result.variants for e in v.checks if (e.data or {}).get("kind") == "certified")


def test_adaptive_precision_decides_the_standardised_diabetes_prompt_at_k64_without_flags(tmp_path):
    """Diabetes rows 41-80 at k = 64: the default 96 + 8k = 608 bits leave the ball undecided, 1216 decide.
    The CLI, given the prompt as a file and no precision flag, verifies and says at which precision."""
    X, y, x_test = _standardised(datasets.load_diabetes, (41, 81))
    path, out = tmp_path / "diabetes.npz", tmp_path / "r.json"
    np.savez(path, X=X, y=y, x_test=x_test)
    p = subprocess.run([sys.executable, "-m", "theorems.check", "newton_k_plus_8", "--data", str(path), "--k", "64",
                        "--variant", "exact", "--report", "none", "--json", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "608 bits (certified checks decided at up to 1216)" in " ".join(p.stdout.split())
    r = json.loads(out.read_text())
    cert = next(c for v in r["variants"] for c in v["checks"] if c["data"].get("kind") == "certified")
    assert cert["verdict"] == "verified" and cert["data"]["precision_tried"] == [608, 1216]
    assert r["settings"]["precision_bits"] == 608 and r["settings"]["precision_decided"] == 1216


def test_at_its_first_precision_the_same_prompt_is_undecided_and_says_why():
    """The negative: with the cap at the default precision, no doubling is allowed; the check is inconclusive
    (never refuted, never a value), and the finding names the remedy."""
    X, y, x_test = _standardised(datasets.load_diabetes, (41, 81))
    r = theorems.verify("newton_k_plus_8", variant="exact", k=64, data=(X, y, x_test), precision_cap=608)
    cert = _certified(r)
    assert r.verdict == "inconclusive" and cert.verdict == "inconclusive"
    assert cert.data["precision_tried"] == [608] and "precision" in cert.detail


def test_breast_cancer_prompt_at_k40_decided_at_doubled_precision_from_numpy_arrays():
    X, y, x_test = _standardised(datasets.load_breast_cancer, (0, 40))
    r = theorems.verify("newton_k_plus_8", variant="exact", k=40, data=(X, y, x_test))
    assert r.verdict == "verified" and _certified(r).data["precision_tried"] == [416, 832]
    assert r.settings["d"] == 30 and r.settings["n"] == 40
