"""The trained-network layer: the export reads the one definition, training is
seeded and resumable, the metrics mean what they say, and the ci preset trains
for real inside the suite (into a fresh cache, see conftest)."""
import io
import json
import os

import pytest
import sympy as sp

torch = pytest.importorskip("torch")

from numeric.backends import TorchBackend  # noqa: E402
from numeric.forward import Data, Network  # noqa: E402
from numeric.training import compare  # noqa: E402
from numeric.training.data import Distribution, sample, seeded  # noqa: E402
from numeric.training.experiment import Experiment, Target, run_experiment, train_seed  # noqa: E402
from numeric.training.model import ExportError, export, letter_estimate  # noqa: E402
from numeric.training.train import Preset, Progress, train  # noqa: E402
from theorems.registry import get  # noqa: E402

GD = [("gd_one_layer", "zero-init"), ("gd_one_layer", "printed"), ("gd_one_layer", "gd-plus-plus"),
      ("preconditioned_gd", "corrected"), ("preconditioned_gd", "printed"),
      ("looped_multistep_pgd", "looped"), ("one_step_gd_optimal", "one-step-gd")]


def _values(con, d, k, gen, untied_count=3):
    vals = {s: 0.37 + 0.1 * i for i, s in enumerate(con.params) if s.name != "n"}
    for L in con.letters:
        rows = 1 if L.rows == "m" else d
        cols = 1 if L.cols == "m" else d
        mk = lambda: torch.randn(rows, cols, dtype=torch.float64, generator=gen).tolist()
        vals[L.symbol] = [mk() for _ in range(untied_count)] if L.untied else mk()
    return vals


def _prompt(d, n, gen, B=1):
    X = torch.randn(B, n, d, dtype=torch.float64, generator=gen)
    y = torch.randn(B, n, dtype=torch.float64, generator=gen)
    xq = torch.randn(B, d, dtype=torch.float64, generator=gen)
    return X, y, xq


@pytest.mark.parametrize("tid,var", GD)
def test_export_matches_the_evaluator(tid, var):
    """The exported module computes what the engine's evaluator computes, from the same definition."""
    con = get(tid).variant(var).build()
    d, n, k = 3, 5, 3
    g = seeded(0, tid + var)
    vals = _values(con, d, k, g)
    looped = not any(L.untied for L in con.letters)
    mod = export(con, d, n, k, vals, support="sparse", looped=looped)
    X, y, xq = _prompt(d, n, g)
    net = Network(con, d, n, TorchBackend("cpu"),
                  {s: (sp.nsimplify(v) if s.is_commutative else v) for s, v in vals.items()})
    ref, _ = net.run(Data(X[0].tolist(), y[0].tolist(), xq[0].tolist()), k, keep=False)
    out = mod(X, y, xq)
    assert float(out.detach()) == pytest.approx(float(ref), rel=1e-12, abs=1e-12)
    full, _ = mod(X, y, xq, return_hidden=True)                  # the output-token shortcut is exact
    assert float(full.detach()) == pytest.approx(float(out.detach()), rel=1e-12, abs=1e-13)


def test_export_negative_a_changed_weight_changes_the_output():
    con = get("preconditioned_gd").variant("corrected").build()
    g = seeded(1, "neg")
    vals = _values(con, 3, 2, g)
    X, y, xq = _prompt(3, 5, g)
    a = export(con, 3, 5, 2, vals, support="sparse")(X, y, xq)
    A = vals[con.letters[0].symbol]
    A[1] = (torch.tensor(A[1]) * 1.01).tolist()
    b = export(con, 3, 5, 2, vals, support="sparse")(X, y, xq)
    assert abs(float(a.detach()) - float(b.detach())) > 1e-6


def test_export_refuses_what_it_cannot_train():
    with pytest.raises(ExportError):
        export(get("newton_k_plus_8").variant("printed").build(), 3, 5, 1, init_std=0.1)
    with pytest.raises(ExportError):
        export(get("gd_one_layer").variant("zero-init").build(), 3, 5, 1, init_std=0.1, support="dense")


def test_sparse_support_holds_only_the_constructions_blocks():
    con = get("preconditioned_gd").variant("corrected").build()
    m = export(con, 4, 6, 1, init_std=1.0, generator=seeded(0, "s"), support="sparse")
    (K, P), = m.head_weights(m.attention_sites()[0])
    x, y = m.offsets["x"], m.offsets["y"]
    assert torch.count_nonzero(K).item() == 16 and torch.count_nonzero(K[x, x]).item() == 16
    assert torch.count_nonzero(P).item() == 1 and P[y, y].item() != 0
    f = export(con, 4, 6, 1, init_std=1.0, generator=seeded(0, "s"), support="full")
    (Kf, Pf), = f.head_weights(f.attention_sites()[0])
    assert torch.count_nonzero(Kf).item() == 25          # x and y blocks; never the read-out block
    assert Kf[m.offsets["pred"], :].abs().sum() == 0


def test_letter_estimate_reads_the_letter_back_not_its_transpose():
    con = get("preconditioned_gd").variant("corrected").build()
    g = seeded(2, "letter")
    A = torch.randn(3, 3, dtype=torch.float64, generator=g)
    m = export(con, 3, 5, 1, {con.letters[0].symbol: [A.tolist()]}, support="sparse")
    est = letter_estimate(m, m.attention_sites()[0], "A").detach()
    assert torch.allclose(est, A, atol=1e-12)
    assert not torch.allclose(est, A.T, atol=1e-3)          # negative: a transposed read would fail here
    # the rescaling symmetry: (c W_KQ, W_PV / c) reads back the same letter
    key = [k for k in m.weights if k.endswith("KQ")][0]
    with torch.no_grad():
        m.weights[key].mul_(3.0)
        m.weights[key.replace("KQ", "PV")].div_(3.0)
    assert torch.allclose(letter_estimate(m, m.attention_sites()[0], "A").detach(), A, atol=1e-12)


def test_distributions():
    S = torch.tensor([[2.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    dist = Distribution("t", cov=tuple(map(tuple, S.tolist())), prior="inverse")
    X, y, xq, yq = sample(dist, 40000, 2, 3, seeded(0, "d"))
    emp = torch.einsum("bni,bnj->ij", X, X) / (X.shape[0] * X.shape[1])
    assert torch.allclose(emp, S, atol=0.05)
    U = sample(Distribution("u", inputs="uniform", alpha=0.5), 2000, 3, 4, seeded(0, "u"))[0]
    assert U.abs().max() <= 0.5 and U.abs().max() > 0.45
    Xn, yn, xqn, yqn = sample(Distribution("z", noise=0.3), 20000, 2, 3, seeded(0, "n"))
    Xc, yc, xqc, yqc = sample(Distribution("z"), 20000, 2, 3, seeded(0, "n"))
    assert torch.equal(Xn, Xc) and not torch.equal(yn, yc) and torch.equal(yqn, yqc)   # query label noiseless
    assert (yn - yc).std().item() == pytest.approx(0.3, rel=0.05)
    with pytest.raises(ValueError):
        Distribution("bad", inputs="uniform", prior="inverse")


def _tiny():
    con = get("preconditioned_gd").variant("corrected").build()
    return con, Distribution("g"), Preset("ci", steps=20, batch=64, lr=0.05, checkpoint_every=10)


def test_training_is_deterministic_and_resumes(tmp_path):
    con, dist, pre = _tiny()

    def fresh(seed):
        return export(con, 3, 6, 1, init_std=0.01, generator=seeded(seed, "init"), support="sparse")

    a = train(fresh(0), dist, pre, 0, progress=False)
    b = train(fresh(0), dist, pre, 0, progress=False)
    c = train(fresh(1), dist, pre, 1, progress=False)
    assert all(torch.equal(a.state[k], b.state[k]) for k in a.state)
    assert not all(torch.equal(a.state[k], c.state[k]) for k in a.state)
    # interrupt the run at step 11 (after the checkpoint of step 10), then resume: the same weights as one run
    ck = str(tmp_path / "ck.pt")
    calls = []

    def interrupted(model, *batch):
        calls.append(1)
        if len(calls) > 10:
            raise KeyboardInterrupt
        return ((model(*batch[:3]) - batch[3]) ** 2).mean()

    with pytest.raises(KeyboardInterrupt):
        train(fresh(0), dist, pre, 0, checkpoint=ck, progress=False, loss_fn=interrupted)
    assert os.path.exists(ck)
    rest = train(fresh(0), dist, pre, 0, checkpoint=ck, progress=False)
    assert rest.resumed_from == 10
    assert all(torch.allclose(rest.state[k], a.state[k], atol=0, rtol=0) for k in a.state)
    # drawing the next batch on the worker changes no number
    e = train(fresh(0), dist, pre, 0, progress=False, prefetch=False)
    assert all(torch.equal(a.state[k], e.state[k]) for k in a.state)


@pytest.mark.parametrize("refresh,cut", [(3, 10), (5, 10), (4, 10)])
def test_resume_with_reused_batches(tmp_path, refresh, cut):
    """A batch reused across steps (refresh > 1) is the same batch after a resume, whether the
    checkpoint falls inside its run of steps or at a fresh draw."""
    con, dist, pre = _tiny()
    pre = pre.with_(refresh=refresh, checkpoint_every=cut)

    def fresh():
        return export(con, 3, 6, 1, init_std=0.01, generator=seeded(0, "init"), support="sparse")

    whole = train(fresh(), dist, pre, 0, progress=False)
    ck, calls = str(tmp_path / "ck.pt"), []

    def interrupted(model, *batch):
        calls.append(1)
        if len(calls) > cut:
            raise KeyboardInterrupt
        return ((model(*batch[:3]) - batch[3]) ** 2).mean()

    with pytest.raises(KeyboardInterrupt):
        train(fresh(), dist, pre, 0, checkpoint=ck, progress=False, loss_fn=interrupted)
    rest = train(fresh(), dist, pre, 0, checkpoint=ck, progress=False)
    assert rest.resumed_from == cut
    assert all(torch.equal(rest.state[k], whole.state[k]) for k in whole.state)


def test_progress_bar_draws_only_for_long_runs():
    s = io.StringIO()
    p = Progress(10, "x", after=3600, stream=s)
    p.update(5, 1.0)
    p.close()
    assert s.getvalue() == ""
    s = io.StringIO()
    p = Progress(10, "x", after=0, stream=s)
    p.update(10, 1.0)
    p.close()
    assert "10/10" in s.getvalue()


def test_metrics():
    g = seeded(0, "m")
    K, P = torch.randn(4, 4, generator=g, dtype=torch.float64), torch.randn(4, 4, generator=g, dtype=torch.float64)
    assert compare.product_distance([(3 * K, P / 3)], [(K, P)]) < 1e-12      # the rescaling symmetry
    assert compare.product_distance([(K, -P)], [(K, P)]) == pytest.approx(2.0)
    assert compare.rel_distance_mod_scale(5 * K, K)[0] < 1e-12
    assert compare.rel_distance(5 * K, K) == pytest.approx(4.0)
    assert compare.distance_to_identity(2.5 * torch.eye(3, dtype=torch.float64)) < 1e-15
    assert compare.distance_to_identity(torch.diag(torch.tensor([1.0, 2.0], dtype=torch.float64))) > 0.1
    assert compare.t_quantile(0.975, 2) == pytest.approx(4.302652729911275, rel=1e-9)
    m, h = compare.t_interval([1.0, 2.0, 3.0])
    assert m == 2.0 and h == pytest.approx(4.302652729911275 / 3 ** 0.5, rel=1e-9)
    a = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    assert float(compare.cosine(a, -a)[0]) == pytest.approx(-1.0, abs=1e-7)
    base = torch.randn(50, generator=g, dtype=torch.float64)
    assert compare.least_squares_scale(0.7 * base, base) == pytest.approx(0.7)


def test_a_target_can_fail():
    """An experiment's target is reported met or not from the figures (an impossible one is not met)."""
    con, dist, pre = _tiny()

    def evaluate(model, batch, th):
        X, y, xq, yq = batch
        with torch.no_grad():
            return {"loss": compare.mc_mean((model(X, y, xq) - yq) ** 2)}

    exp = Experiment("tiny", "tiny", lambda: con, 3, 6, 1, dist, {"ci": pre.with_(eval_batch=500, seeds=(0, 1))},
                     evaluate, lambda d, n: {"optimum": 1.0}, support="sparse",
                     targets=(Target("loss", "<=", 1e-9, "impossible"), Target("loss", "<=", 1e9, "trivial")))
    r = run_experiment("t", exp, "ci", progress=False)
    assert [t["met"] for t in r["targets"]] == [False, True]
    again = run_experiment("t", exp, "ci", progress=False)
    assert again["cached"] == [True, True] and again["figures"] == r["figures"]
    m, run, hit = train_seed("t", exp, exp.preset("ci"), 0, "cpu", resume=False, progress=False)
    assert not hit


@pytest.mark.parametrize("tid", ["gd_one_layer", "preconditioned_gd", "looped_multistep_pgd", "one_step_gd_optimal"])
def test_ci_preset_trains_every_experiment(tid):
    """The ci preset trains for real (a fresh cache) and yields every declared figure, finite."""
    from theorems import trained as tr
    thm = get(tid)
    out = tr.run(thm, "ci", progress=False)
    assert len(out["experiments"]) == len(thm.experiments())
    for e in out["experiments"]:
        assert e["cached"] == [False, False] and e["seeds"] == [0, 1]
        for f in e["figures"]:
            assert f["mean"] == f["mean"], f                      # finite, not nan
            assert set(f["per_seed"]) == {"0", "1"}
        assert e["curves"]["0"] and e["matrices"]["learned"]
        if e["optimum"] is not None:
            assert e["optimum"] > 0


def test_cli_trains_and_never_changes_the_verdict(tmp_path, capsys):
    from theorems.check import main
    j1, j2, tj = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "t.json"
    args = ["one_step_gd_optimal", "--report", "none", "--quiet"]
    assert main(args + ["--json", str(j1)]) == 0
    assert main(args + ["--json", str(j2), "--train", "ci", "--trained-json", str(tj)]) == 0
    a, b = json.loads(j1.read_text()), json.loads(j2.read_text())
    assert a["verdict"] == b["verdict"] == "verified"
    assert b["trained"]["source"] == "this run" and b["trained"]["experiments"][0]["id"] == "implied-step"
    assert json.loads(tj.read_text())["experiments"][0]["figures"] == b["trained"]["experiments"][0]["figures"]


@pytest.mark.parametrize("extra,msg", [(["--train", "bogus"], "--train takes"),
                                       (["--seeds", "1,x"], "--seeds"),
                                       (["--train", "ci", "--experiment", "nope"], "unknown experiment"),
                                       (["--device", "tpu"], "--device"),
                                       (["--trained-json", "/nonexistent/dir/t.json"], "cannot write")])
def test_cli_training_usage_errors(extra, msg, capsys):
    from theorems.check import main
    assert main(["gd_one_layer", "--report", "none", "--quiet"] + extra) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_training_a_theorem_without_experiments_is_refused():
    import dataclasses

    from theorems import trained as tr
    from theorems.base import ParameterError
    bare = dataclasses.replace(get("newton_k_plus_8"), experiments=None)
    with pytest.raises(ParameterError, match="no trained-network experiments"):
        tr.check_request(bare, "ci", None, None)
    tr.check_request(get("newton_k_plus_8"), "ci", "fu-probe", None)     # it has them now: accepted


def test_shipped_results_are_labelled(monkeypatch, tmp_path):
    from theorems import trained as tr
    thm = get("looped_multistep_pgd")
    path = tmp_path / "looped_multistep_pgd.json"
    path.write_text(json.dumps({"command": "python -m theorems.check looped_multistep_pgd --train cpu",
                                "tool": "icl-theorems 0.1.0", "date": "today", "experiments": []}))
    monkeypatch.setattr(tr, "shipped_path", lambda tid: str(path))
    blob = tr.load_shipped(thm)
    assert blob["source"] == "shipped" and "--train cpu" in blob["source_text"]
    monkeypatch.setattr(tr, "shipped_path", lambda tid: str(tmp_path / "none.json"))
    assert tr.load_shipped(thm) is None
