"""GPT-2 probing (issue: Fu et al.'s experiments): the algorithms against references, the Garg loader,
the metrics and statistics, and the ci preset trained and probed for real."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
scipy_optimize = pytest.importorskip("scipy.optimize")
from scipy.sparse.linalg import cg as scipy_cg  # noqa: E402

from numeric import recursions  # noqa: E402
from numeric.backends import NumpyBackend  # noqa: E402
from numeric.training import algorithms as A  # noqa: E402
from numeric.training import probe  # noqa: E402
from numeric.training.data import Distribution, prompts, seeded  # noqa: E402
from numeric.training.gpt2 import Curriculum, Spec, build, combine, load_garg_state_dict  # noqa: E402


def _data(B=3, P=9, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(B, P, d, generator=g, dtype=torch.float64)
    w = torch.randn(B, d, generator=g, dtype=torch.float64)
    return X, (X @ w[:, :, None])[..., 0]


def _prefix(X, y, b, t):
    return X[b, :t].numpy(), y[b, :t].numpy(), X[b, t].numpy()


@pytest.mark.parametrize("t", [2, 4, 7])
def test_ols_matches_numpy_lstsq(t):
    X, y = _data()
    Xn, yn, xq = _prefix(X, y, 1, t)
    ref = xq @ np.linalg.lstsq(Xn, yn, rcond=None)[0]
    assert abs(A.ols(X, y)[0, 1, t].item() - ref) < 1e-10
    assert A.ols(X, y)[0, 0, 0].item() == 0.0                       # no context: predicts 0


def test_cg_matches_scipy_iterates_and_bfgs_coincides_with_cg():
    X, y = _data(d=5, P=12)
    b, t = 2, 8
    Xn, yn, xq = _prefix(X, y, b, t)
    S, rhs = Xn.T @ Xn, Xn.T @ yn
    its = []
    scipy_cg(S, rhs, x0=np.zeros(5), rtol=1e-15, atol=0, maxiter=4, callback=lambda v: its.append(v.copy()))
    ours = A.cg(X, y, (1, 2, 3, 4))[:, b, t].numpy()
    assert np.allclose(ours, [xq @ v for v in its], rtol=1e-9, atol=1e-12)
    bf = A.bfgs(X, y, (1, 2, 3, 4))[:, b, t].numpy()
    assert np.allclose(bf, ours, rtol=1e-8, atol=1e-10)             # Nazareth: BFGS(H0 = I, exact) = CG


def test_bfgs_and_lbfgs_reach_scipy_minimisers():
    X, y = _data(d=4, P=10)
    b, t = 0, 8
    Xn, yn, xq = _prefix(X, y, b, t)
    S, rhs = Xn.T @ Xn, Xn.T @ yn
    f = (lambda v: 0.5 * v @ S @ v - rhs @ v)
    jac = (lambda v: S @ v - rhs)
    for method, ours in (("BFGS", A.bfgs(X, y, (30,))), ("L-BFGS-B", A.lbfgs(X, y, (30,), memory=3))):
        r = scipy_optimize.minimize(f, np.zeros(4), jac=jac, method=method, options={"gtol": 1e-12})
        assert abs(ours[0, b, t].item() - xq @ r.x) < 1e-6, method
        r2 = A.bfgs(X, y, (60,), line_search="armijo") if method == "BFGS" else \
            A.lbfgs(X, y, (60,), memory=3, line_search="armijo")
        assert abs(r2[0, b, t].item() - xq @ r.x) < 1e-6, method + " armijo"
    # with exact line searches L-BFGS (scaled or not) and BFGS give CG's iterates ...
    c = A.cg(X, y, (1, 2, 3))
    for other in (A.lbfgs(X, y, (1, 2, 3), memory=10, scale=False), A.lbfgs(X, y, (1, 2, 3), memory=2),
                  A.bfgs(X, y, (1, 2, 3))):
        assert torch.allclose(other, c, rtol=1e-8, atol=1e-10)
    # ... and with Armijo backtracking they do not (the comparison can fail)
    assert not torch.allclose(A.bfgs(X, y, (2, 3), line_search="armijo"), c[1:], rtol=1e-4, atol=1e-6)
    assert not torch.allclose(A.lbfgs(X, y, (2, 3), line_search="armijo"), c[1:], rtol=1e-4, atol=1e-6)


def test_newton_and_gd_are_the_projects_recursions():
    X, y = _data(d=3, P=8)
    b, t = 1, 6
    Xn, yn, xq = _prefix(X, y, b, t)
    be = NumpyBackend()
    S, rhs = recursions.moments(Xn.tolist(), yn.tolist(), be)
    SS = np.asarray(Xn.T @ Xn)
    for rule, alpha in (("2/spectral", 2 / np.linalg.norm(SS @ SS.T, 2)), ("1/frobenius", 1 / np.linalg.norm(SS @ SS.T)),
                        ("2/frobenius", 2 / np.linalg.norm(SS @ SS.T))):
        Ms = recursions.newton(S, alpha, 4, be)
        ref = [recursions.predict(xq, be.mm(M, rhs), be) for M in Ms]
        ours = A.newton(X, y, (0, 1, 2, 3, 4), rule)[:, b, t].tolist()
        assert np.allclose(ours, ref, rtol=1e-9, atol=1e-12), rule
    ws = recursions.gd(S, rhs, 0.01, 5, be)
    ref = [recursions.predict(xq, w, be) for w in ws[1:]]
    assert np.allclose(A.gd(X, y, (1, 2, 3, 4, 5), lr=0.01)[:, b, t].tolist(), ref, rtol=1e-10)
    # the paper's alpha and the code's give different iterates
    assert not torch.allclose(A.newton(X, y, (1,), "2/spectral"), A.newton(X, y, (1,), "1/frobenius"))


def test_ogd_is_the_papers_online_rule():
    X, y = _data(d=3, P=6)
    b = 2
    w = np.zeros(3)
    ref = []
    for t in range(6):
        x = X[b, t].numpy()
        ref.append(x @ w)
        w = w + (y[b, t].item() - x @ w) * x / (x @ x)
    assert np.allclose(A.ogd(X, y)[0, b].numpy(), ref, rtol=1e-12)


def test_ridge_moves_the_solution():
    X, y = _data()
    assert not torch.allclose(A.ols(X, y, ridge=0.5), A.ols(X, y))


def test_garg_state_dict_loads_and_predicts_the_same():
    spec = Spec("gpt2", 2, 2, 16, 3, 5)
    src = build(spec, seed=3).eval()
    sd = {k: v.clone() for k, v in src.state_dict().items()}
    # Garg et al.'s layout: their 50257-row token table and old transformers' attention-mask buffers
    sd["_backbone.wte.weight"] = torch.randn(50257, 16)
    for i in range(2):
        sd[f"_backbone.h.{i}.attn.bias"] = torch.tril(torch.ones(10, 10)).view(1, 1, 10, 10)
        sd[f"_backbone.h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    blob = {"model_state_dict": sd, "optimizer_state_dict": {}, "train_step": 7}
    m = load_garg_state_dict(blob, heads=2).eval()
    assert m.spec == spec
    xs, ys = prompts(Distribution("g"), 4, 3, 5, seeded(0, "t"))
    with torch.no_grad():
        assert torch.allclose(m(xs, ys), src(xs, ys), atol=1e-6)
    with pytest.raises(ValueError, match="layout"):
        load_garg_state_dict({"weights": torch.zeros(1)})
    bad = dict(sd)
    bad["_backbone.h.0.extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="unexpected"):
        load_garg_state_dict(bad, heads=2)


def test_tokens_and_hidden_states():
    xs = torch.arange(12.0).reshape(1, 2, 6)[..., :3].reshape(1, 2, 3)
    ys = torch.tensor([[10.0, 20.0]])
    z = combine(xs, ys)
    assert z.shape == (1, 4, 3)
    assert z[0, 1].tolist() == [10.0, 0.0, 0.0] and z[0, 0].tolist() == xs[0, 0].tolist()
    m = build(Spec("gpt2", 2, 2, 16, 3, 5), seed=0).eval()
    xs, ys = prompts(Distribution("g"), 3, 3, 5, seeded(1, "t"))
    with torch.no_grad():
        H = m.hidden(xs, ys)
        assert len(H) == 2
        # the last hidden state is after the final LayerNorm: the model's read-out of it is its prediction
        assert torch.allclose(m._read_out(H[-1])[..., 0], m(xs, ys), atol=1e-6)
    # causal: changing a later token leaves earlier predictions alone
    ys2 = ys.clone()
    ys2[:, -1] += 5
    with torch.no_grad():
        assert torch.allclose(m(xs, ys2)[:, :-1], m(xs, ys)[:, :-1], atol=1e-6)


def test_curriculum_and_seeded_build():
    c = Curriculum((5, 20, 1, 2000), (11, 41, 2, 2000))
    assert c.at(0) == (5, 11) and c.at(3999) == (6, 13) and c.at(10 ** 6) == (20, 41)
    a, b = build(Spec("gpt2", 1, 1, 8, 2, 3), seed=1), build(Spec("gpt2", 1, 1, 8, 2, 3), seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    xs, ys = prompts(Distribution("g"), 4, 5, 3, seeded(0, "c"), d_active=2)
    assert bool((xs[..., 2:] == 0).all()) and bool((xs[..., :2] != 0).all())


def test_random_basis_spectra():
    d = 4
    spec = (100.0, 100.0, 1.0, 1.0)
    g = seeded(0, "k")
    X, _, _, _ = __import__("numeric.training.data", fromlist=["sample"]).sample(
        Distribution("k", spectrum=spec, basis="batch"), 4000, d, 3, g)
    C = torch.einsum("bpi,bpj->ij", X, X) / (X.shape[0] * X.shape[1])
    lam = torch.linalg.eigvalsh(C)
    assert abs(lam[-1].item() / 100 - 1) < 0.1 and abs(lam[0].item() - 1) < 0.1     # one basis: the spectrum
    X2, _, _, _ = __import__("numeric.training.data", fromlist=["sample"]).sample(
        Distribution("k", spectrum=spec, basis="sequence"), 4000, d, 3, g)
    C2 = torch.einsum("bpi,bpj->ij", X2, X2) / (X2.shape[0] * X2.shape[1])
    assert torch.allclose(C2, torch.eye(d, dtype=C2.dtype) * 50.5, rtol=0.1, atol=3)  # a basis per prompt: mean I
    with pytest.raises(ValueError):
        Distribution("k", spectrum=spec, basis="per-token")


def test_diverged_cells_never_win():
    sim = torch.tensor([[0.5, float("nan"), 0.7], [float("nan"), 0.2, 0.1]], dtype=torch.float64)
    assert probe.best_steps(sim, [1, 2, 3]) == [3, 2]
    t = probe.ties_within_noise([sim, sim + 0.01, sim - 0.01], [1, 2, 3])
    assert t[0]["best"] == 3 and 2 not in t[0]["tied"] and t[1]["best"] == 2


def test_sime_fits_and_ties():
    y = torch.randn(5, 7, dtype=torch.float64)
    a = (y + torch.randn(5, 7, dtype=torch.float64))[None]
    assert torch.allclose(probe.sim_e(a, a, y), torch.ones(1, 1, dtype=torch.float64))
    assert torch.allclose(probe.sim_e(a, 2 * y - a, y), -torch.ones(1, 1, dtype=torch.float64))
    assert probe.fit_line([1, 2, 3, 4], [1, 4, 7, 10]) == (3.0, -2.0)
    assert probe.fit_line([1, 2, 3], [5, 5, 5])[0] == 0.0
    grid = [1, 2, 3]
    sims = [torch.tensor([[0.5, 0.9, 0.9 + e]], dtype=torch.float64) for e in (0.01, -0.01, 0.005, -0.004)]
    t = probe.ties_within_noise(sims, grid)[0]
    assert set(t["tied"]) == {2, 3}                                   # 2 and 3 indistinguishable, 1 not
    sims = [torch.tensor([[0.5, 0.9, 0.95 + e]], dtype=torch.float64) for e in (0.001, -0.001, 0.0005, 0.0)]
    assert probe.ties_within_noise(sims, grid)[0]["tied"] == [3]


def test_ci_preset_trains_and_probes(tmp_path, monkeypatch):
    """The ci preset trains for real and probes: every layer gets a heatmap row for every algorithm, the fits
    carry intervals, and the report shows the section."""
    monkeypatch.setenv("ICL_THEOREMS_CACHE", str(tmp_path))
    from theorems.fu_trained import studies
    st = {s.id: s for s in studies()}
    r = probe.run_study("newton_k_plus_8", st["fu-probe"], "ci", progress=False)
    ev = r["evals"][0]
    L = r["model"]["layers"]
    newton = next(a for a in ev["algorithms"] if a["key"] == "newton-code")
    assert len(newton["heatmap"]) == L and len(newton["heatmap"][0]) == len(newton["grid"])
    assert all(-1 <= v <= 1 for row in newton["heatmap"] for v in row)
    fits = {f["algorithm"]: f for f in ev["fits"]}
    assert fits["newton-code"]["replicates"] == len(r["seeds"]) * r["evaluation"]["eval_batches"]
    assert math.isfinite(fits["gd-log"]["growth"])
    assert r["cached"] == [False, False]
    again = probe.run_study("newton_k_plus_8", st["fu-probe"], "ci", progress=False)
    assert again["cached"] == [True, True] and again["evals"][0]["fits"] == ev["fits"]
    # the probes learned something: the trained model's last layer beats predicting 0 (the label variance, d)
    assert ev["mse_layer"][-1] < r["model"]["d"]
    from reports.render import _study_view
    view = _study_view(r, pdf=False)
    assert view["evals"][0]["maps"] and view["evals"][0]["fits"]


def test_induced_weights_recover_an_algorithms_weights():
    """SimW's fit: answering queries placed at position t, a linear algorithm's induced weight is its own w_t
    (here OLS's, computed directly), and SimW of an algorithm with itself is 1 and with a different one less."""
    X, y = _data(B=4, P=6, d=3, seed=2)
    C, P, d = X.shape
    T = 2 * d
    queries = torch.randn(C, P, T, d, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    Xr = probe.with_queries(X, queries)
    assert torch.equal(Xr[1, 3, 2, 3], queries[1, 3, 2]) and torch.equal(Xr[1, 3, 2, 2], X[1, 2])
    Xr = Xr.reshape(C * P * T, P, d)
    yr = y[:, None, None].expand(C, P, T, P).reshape(C * P * T, P)
    t_of = torch.arange(P)[None, :, None].expand(C, P, T).reshape(-1)

    def pick(pred):
        return pred[..., torch.arange(C * P * T), t_of].reshape(*pred.shape[:-2], C, P, T)

    w = probe.induced_weights(pick(A.ols(Xr, yr)), queries)                     # (1, C, P, d)
    S, b = A.prefix_moments(X, y)
    direct = (A._pinv_psd(S) @ b[..., None])[..., 0]
    assert torch.allclose(w[0], direct, atol=1e-8)
    gdw = probe.induced_weights(pick(A.gd(Xr, yr, (1,))), queries)
    assert torch.allclose(probe.sim_w(w, w), torch.ones(1, 1, dtype=torch.float64))
    assert probe.sim_w(w, gdw).item() < 0.999


def test_cli_probes_a_checkpoint_in_gargs_layout(tmp_path, monkeypatch):
    import json
    import subprocess
    import sys
    monkeypatch.setenv("ICL_THEOREMS_CACHE", str(tmp_path / "cache"))
    spec = Spec("gpt2", 2, 8, 16, 3, 7)
    sd = dict(build(spec, seed=4).state_dict())
    sd["_backbone.wte.weight"] = torch.randn(50257, 16)
    path = tmp_path / "state.pt"
    torch.save({"model_state_dict": sd, "train_step": 1}, path)
    out = tmp_path / "t.json"
    base = [sys.executable, "-m", "theorems.check", "newton_k_plus_8", "--report", "none", "--quiet"]
    r = subprocess.run(base + ["--train", "ci", "--experiment", "fu-probe", "--garg-checkpoint", str(path),
                               "--trained-json", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    rec = json.loads(out.read_text())["experiments"][0]
    assert rec["given_model"].startswith("Garg et al.'s layout") and rec["model"]["layers"] == 2
    assert len(rec["evals"][0]["algorithms"][0]["heatmap"]) == 2
    for bad in (["--garg-checkpoint", str(tmp_path / "missing.pt"), "--train", "ci"],
                ["--garg-checkpoint", str(path)]):
        r = subprocess.run(base + bad, capture_output=True, text=True, timeout=600)
        assert r.returncode == 2 and "Traceback" not in r.stderr and "garg-checkpoint" in r.stderr
    junk = tmp_path / "junk.pt"
    torch.save({"weights": torch.zeros(2)}, junk)
    r = subprocess.run(base + ["--garg-checkpoint", str(junk), "--train", "ci"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 2 and "layout" in r.stderr


def test_study_targets_can_fail():
    """The empirical targets are computed, not asserted: a record whose fits are flat and whose Newton and GD
    last-layer similarities are equal meets none of them; a steep one meets the slope target."""
    from theorems.fu_trained import studies
    st = {s.id: s for s in studies()}["fu-probe"]
    algs = [{"key": k, "max_sime": [0.5, 0.9], "last_layer_max_by_replicate": [0.9, 0.91, 0.89]}
            for k in ("newton-code", "gd-log")]
    flat = {"seeds": [0], "evals": [{"fits": [
        {"algorithm": "newton-code", "slope": 0.0, "ci95": 0.5, "slope_by_seed": [0.1, -0.1], "ci95_seeds": 1.3},
        {"algorithm": "gd-log", "slope": 0.2, "ci95": 0.5, "slope_by_seed": [0.2], "ci95_seeds": float("nan")}],
        "algorithms": algs}]}
    assert [t["met"] for t in probe.study_targets(st, flat)] == [False, False, False]
    steep = {"seeds": [0], "evals": [{"fits": [
        {"algorithm": "newton-code", "slope": 2.9, "ci95": 0.3, "slope_by_seed": [2.7, 3.1], "ci95_seeds": 2.5},
        {"algorithm": "gd-log", "slope": 1.5, "ci95": 0.2, "slope_by_seed": [1.4], "ci95_seeds": float("nan")}],
        "algorithms": [dict(algs[0], last_layer_max_by_replicate=[0.99, 0.995, 0.993]), algs[1]]}]}
    assert [t["met"] for t in probe.study_targets(st, steep)] == [True, True, True]
    # two seeds that disagree in sign: the interval over seeds decides, not the batches
    split = {"seeds": [0, 1], "evals": [{"fits": steep["evals"][0]["fits"], "algorithms": [
        dict(algs[0], last_layer_max_by_replicate=[0.99, 0.995, 0.993, 0.85, 0.86, 0.84]),
        dict(algs[1], last_layer_max_by_replicate=[0.9] * 6)]}]}
    assert probe.study_targets(st, split)[2]["met"] is False


def test_switch_options_are_usage_errors():
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "theorems.check", "newton_k_plus_8", "--bf16", "maybe"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--bf16" in r.stderr and "Traceback" not in r.stderr


def test_shipped_cpu_result_shows_what_the_issue_asks():
    """The shipped newton_k_plus_8 result (no retraining): Newton and GD heatmaps, the fitted Newton iterations
    and GD growth per layer with intervals over seeds, BFGS / L-BFGS / CG rows, the paper's values beside them;
    every experiment of the theorem is in it, and it renders."""
    from reports.render import _study_view
    from theorems import trained as tr
    from theorems.registry import get
    thm = get("newton_k_plus_8")
    blob = tr.load_shipped(thm)
    assert blob is not None and blob["source"] == "shipped" and "--train cpu" in blob["source_text"]
    assert {e["id"] for e in blob["experiments"]} == {e.id for e in tr.experiments_of(thm)}
    main = next(e for e in blob["experiments"] if e["id"] == "fu-probe")
    assert main["preset"] == "cpu" and len(main["seeds"]) >= 3
    ev = main["evals"][0]
    algs = {a["key"]: a for a in ev["algorithms"]}
    for key in ("newton-code", "gd-log", "bfgs", "lbfgs", "cg"):
        assert len(algs[key]["heatmap"]) == main["model"]["layers"]
    fits = {f["algorithm"]: f for f in ev["fits"]}
    assert fits["newton-code"]["ci95_seeds"] is not None and fits["gd-log"]["growth_ci95_seeds"] is not None
    view = _study_view(main, pdf=False)
    v = view["evals"][0]
    assert any(f["paper"] for f in v["fits"]) and any(b["paper"] for b in v["best"])
    assert len(v["maps"]) == 5 and v["lines"] is not None


def test_our_checkpoints_carry_their_shape_and_load():
    spec = Spec("gpt2", 1, 4, 16, 3, 5)
    src = build(spec, seed=2).eval()
    from dataclasses import asdict
    m = load_garg_state_dict({"model_state_dict": src.state_dict(), "spec": asdict(spec)}).eval()
    assert m.spec == spec                                             # 4 heads from the file, not the default 8
    xs, ys = prompts(Distribution("g"), 2, 3, 5, seeded(0, "s"))
    with torch.no_grad():
        assert torch.allclose(m(xs, ys), src(xs, ys), atol=1e-6)


def test_feed_redraws_in_order_when_asked_for_another_step():
    from numeric.training.train import Feed

    def draw(g, step):
        return torch.randn(3, generator=g)

    a = Feed(draw, seeded(0, "f"), prefetch=True)
    first = a.take(5, following=7)                                    # 7 starts drawing ...
    second = a.take(6)                                                # ... but 6 is asked for: rewound, drawn
    a.close()
    b = Feed(draw, seeded(0, "f"), prefetch=False)
    assert torch.equal(first, b.take(5)) and torch.equal(second, b.take(6))
