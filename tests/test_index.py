"""One index of every theorem (python -m theorems.check --all), and checks run beyond one process: a sweep
and the mutation score on a two-worker local Dask cluster, each equal to the same run here."""
import json
import os
import subprocess
import sys

import pytest

from theorems.index import run_all, summary_code

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
dask = pytest.importorskip("dask.distributed", reason="the distributed extra is not installed")


def test_the_exit_code_summarises_every_theorem():
    assert summary_code(["verified", "verified"]) == 0
    assert summary_code(["verified", "inconclusive"]) == 3
    assert summary_code(["inconclusive", "refuted", "verified"]) == 1
    assert summary_code(["refuted", "error"]) == 4
    assert summary_code([]) == 3


def test_all_writes_the_index_of_the_whole_catalogue(tmp_path):
    """--all at the smallest preset, on two local workers: every theorem verified, each row linking to its
    report, with its source, methods, errata, score and time."""
    from theorems.registry import MODULES
    p = subprocess.run([sys.executable, "-m", "theorems.check", "--all", "--preset", "small", "--report", "html",
                        "--out", str(tmp_path), "--dask", "local:2"], capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stdout + p.stderr
    idx = json.loads((tmp_path / "index.json").read_text())
    assert [r["theorem"] for r in idx["rows"]] == list(MODULES)
    html = (tmp_path / "index.html").read_text()
    for r in idx["rows"]:
        assert r["verdict"] == "verified" and r["methods"] and r["seconds"] > 0
        assert (tmp_path / r["reports"]["html"]).exists() and f'href="{r["reports"]["html"]}"' in html
        assert r["score"]["value"] is not None and r["score"]["value"] >= 0.95, r["score"]
    assert "errata" in html.lower() and idx["rows"][0]["errata"]          # newton_k_plus_8's printed errata
    assert "[8/8]" in p.stderr                                             # progress, per theorem


def test_one_failure_never_stops_the_others(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(EXAMPLES)
    broken = tmp_path / "brokenthm.py"
    broken.write_text("raise RuntimeError('a broken theorem module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    rows, paths = run_all(ids=["brokenthm", "mytheorems.gd_weight_decay", "nosuch.module"], preset="small",
                          out=str(tmp_path / "out"), kinds=("html", "pdf"))
    by = {r["ref"]: r for r in rows}
    assert by["mytheorems.gd_weight_decay"]["verdict"] == "verified"
    assert by["brokenthm"]["verdict"] == "error" and by["nosuch.module"]["verdict"] == "error"
    assert "importing brokenthm failed: RuntimeError" in by["brokenthm"]["errors"][0] and "no module nosuch" in by["nosuch.module"]["errors"][0]
    assert summary_code(r["verdict"] for r in rows) == 4
    assert any(p.endswith("index.pdf") for p in paths) and os.path.getsize(tmp_path / "out" / "index.pdf") > 1000
    assert (tmp_path / "out" / "gd_weight_decay.pdf").exists()


def test_a_sweep_on_two_local_workers_equals_the_sweep_here():
    from theorems.sweep import sweep
    args = (["gd_one_layer", "newton_schulz_two_layer"], [1, 2], [2, 3], [4], [0, 1])
    info = {}
    far = sweep(*args, cluster="local:2", info=info)
    near = sweep(*args)
    assert info["workers"] == 2
    assert len(far) == 16 and all(r["verdict"] == "verified" for r in far)
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("worker", "seconds")} for r in rows]
    assert strip(far) == strip(near)


def test_the_mutation_score_on_two_local_workers_equals_the_score_here(monkeypatch):
    monkeypatch.syspath_prepend(EXAMPLES)
    from theorems import mutate as M
    far = M.mutate("mytheorems.gd_weight_decay", families=("structure",), distribute="local:2")
    near = M.mutate("mytheorems.gd_weight_decay", families=("structure",))
    assert [(o["where"], o["mode"], o["status"]) for o in far["outcomes"]] == \
        [(o["where"], o["mode"], o["status"]) for o in near["outcomes"]]
    assert far["score"] == near["score"]
