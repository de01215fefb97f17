"""Layer-wise probing of trained in-context models against optimisation algorithms.

A study trains a model (:mod:`numeric.training.gpt2`, through the one training
loop of :mod:`numeric.training.train`: same seeds, devices, progress,
checkpoints and cache) and then, for each evaluation setting:

1. fits one linear read-out per layer on the frozen backbone, by least squares
   over every x-token position of a separate set of probe prompts (the
   minimiser of the mean squared error the paper's probes are trained on by
   Adam; closed form, so deterministic);
2. predicts every prefix of every evaluation prompt from every layer;
3. runs each algorithm (:mod:`numeric.training.algorithms`) on the same
   prompts over its grid of step counts;
4. computes the similarity of errors SimE (the mean over prompts of the cosine
   of the two residual vectors, over the paper's positions 2 .. P: the code's
   variant, which also counts position 1 where every algorithm predicts 0, is
   recorded beside it);
5. for each replicate (a training seed and one of several seeded evaluation
   batches) takes the best-matching step count of each layer, and fits steps
   against layer over the study's middle layers: linear for Newton, log-linear
   for GD (a growth factor per layer), each with a 95% t interval over the
   replicates and over the training seeds;
6. marks, per layer, the step counts whose SimE is within noise of the best
   (the paired difference is under two standard errors over replicates).

Nothing here knows a paper: the catalogue gives the settings, grids and the
papers' published values.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Callable

from . import compare
from .algorithms import Algorithm
from .data import Distribution, prompts, seeded
from .gpt2 import Curriculum, Spec, build, training_fns
from .train import Preset, pick_device, train


@dataclass(frozen=True)
class Setting:
    """One preset of a study: the model, its training, and how much evaluation."""
    spec: Spec
    train: Preset
    curriculum: Curriculum
    probe_prompts: int = 2000
    eval_prompts: int = 320                  # per evaluation batch (the paper's one batch: 64 x 5)
    eval_batches: int = 5
    fit_layers: tuple = (3, 9)               # the middle layers the fits use (inclusive)
    simw_contexts: int = 16                  # prompts per evaluation batch whose induced weights are fitted
    simw_queries: int = 0                    # queries per (prompt, prefix) for the fit; 0: 2 d
    widths: tuple = ()                       # a hidden-size sweep: one model per width (heads 1)
    note: str = ""


@dataclass(frozen=True)
class EvalSet:
    key: str
    label: str
    dist: Distribution
    newton_ridge: float = 0.0                # Newton, CG, BFGS on S + lambda I (noisy data)


@dataclass(frozen=True)
class Study:
    """``kind``: "probe" (heatmaps, fits), "widths" (final error against width), "layers" (per-layer error and
    SimE with a few algorithms, e.g. an LSTM)."""
    id: str
    title: str
    kind: str
    train_dist: Distribution
    evals: Callable                          # d -> (EvalSet, ...)
    algorithms: Callable                     # d -> (Algorithm, ...)
    settings: dict                           # preset name -> Setting
    fits: tuple = ()                         # ((algorithm key, "linear" | "log2"), ...)
    heatmaps: tuple = ()                     # algorithm keys drawn as heatmaps
    simw: tuple = ()                         # algorithm keys compared by induced weights (SimW)
    targets: tuple = ()                      # ((kind, args, text), ...): see :func:`study_targets`
    paper: tuple = ()                        # ((row label, algorithm key or figure, values, source), ...)
    notes: tuple = ()

    def setting(self, name: str) -> Setting:
        if name not in self.settings:
            raise ValueError(f"study {self.id}: no preset {name!r} (have {', '.join(self.settings)})")
        return self.settings[name]

    def preset(self, name: str) -> Preset:
        return self.setting(name).train


MODEL_FILES = ("gpt2.py", "data.py", "train.py")


def code_version() -> str:
    """The hash of the code that determines a GPT-2 study's trained weights."""
    from .experiment import files_hash
    return files_hash(MODEL_FILES)


def accelerations(device: str, bf16=None, compile=None) -> dict:
    """bf16 autocast and torch.compile: ``None`` ("auto") is on for CUDA and off elsewhere."""
    cuda = device.startswith("cuda")
    return {"bf16": cuda if bf16 is None else bool(bf16), "compile": cuda if compile is None else bool(compile)}


def model_key(spec: Spec, setting: Setting, dist: Distribution, seed: int, device: str, accel=None) -> str:
    """The cache key of one trained model: what determines its weights, and nothing else."""
    fields = {"spec": repr(spec), "train": setting.train.to_json(), "curriculum": repr(setting.curriculum),
              "dist": repr(dist), "seed": seed, "device": device.split(":")[0], "code": code_version()}
    for k, v in (accel or {}).items():
        if v:
            fields[k] = True                     # plain float32 eager keys stay as they were
    blob = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def train_model(spec: Spec, setting: Setting, dist: Distribution, seed: int, device: str, resume=True,
                progress=True, label="", accel=None):
    """(model, curve, seconds, cached?, key) for one seed; the cache is used when the same code trained the
    same model before.  ``accel`` (:func:`accelerations`) turns on
    bf16 autocast and torch.compile for the training steps."""
    import torch
    from .experiment import cache_dir
    accel = accel or accelerations(device, False, False)
    key = model_key(spec, setting, dist, seed, device, accel)
    model = build(spec, seed)
    folder = os.path.join(cache_dir(), key)
    done = os.path.join(folder, "result.pt")
    if resume and os.path.exists(done):
        blob = torch.load(done, map_location="cpu", weights_only=False)
        model.load_state_dict({k: v.float() for k, v in blob["state"].items()})
        return model, blob["curve"], blob["seconds"], True, key
    ck = os.path.join(folder, "checkpoint.pt")
    if not resume and os.path.exists(ck):
        os.remove(ck)
    pre = setting.train
    draw, loss_fn = training_fns(spec, pre.batch, setting.curriculum, dist, device, accel)
    run = train(model, dist, pre, seed, device, checkpoint=ck, progress=progress, label=label, loss_fn=loss_fn,
                draw=draw)
    os.makedirs(folder, exist_ok=True)
    torch.save({"state": run.state, "curve": run.curve, "seconds": run.seconds, "device": run.device},
               os.path.join(folder, "result.pt"))
    if os.path.exists(ck):
        os.remove(ck)
    return model.cpu(), run.curve, run.seconds, False, key


# ---------------------------------------------------------------- probing
def hidden_states(model, xs, ys, chunk: int = 512):
    """[H_1 .. H_L] at the x tokens, float64 (B, P, width) each."""
    import torch
    outs = None
    with torch.no_grad():
        for i in range(0, xs.shape[0], chunk):
            hs = [h.double() for h in model.hidden(xs[i:i + chunk].float(), ys[i:i + chunk].float())]
            outs = [[h] for h in hs] if outs is None else [o + [h] for o, h in zip(outs, hs)]
    return [torch.cat(o, 0) for o in outs]


def fit_probes(H, ys, ridge: float = 1e-8):
    """Per layer, (w, c) minimising the mean of (h'w + c - y)^2 over every prompt and position."""
    import torch
    out = []
    for h in H:
        F = torch.cat([h.reshape(-1, h.shape[-1]), h.new_ones(h.shape[0] * h.shape[1], 1)], 1)
        t = ys.reshape(-1).double()
        G = F.T @ F
        lam = ridge * float(torch.diagonal(G).mean())
        sol = torch.linalg.solve(G + lam * torch.eye(G.shape[0], dtype=G.dtype), F.T @ t)
        out.append(sol)
    return out


def probe_predictions(H, probes):
    import torch
    return torch.stack([h @ p[:-1] + p[-1] for h, p in zip(H, probes)])        # (L, B, P)


def sim_e(pred_a, pred_b, y, first: int = 1):
    """SimE: the mean over prompts of cos(residuals of a, residuals of b) over positions first .. P-1;
    pred_a (La, B, P), pred_b (Lb, B, P) -> (La, Lb)."""
    import torch
    ra = (pred_a - y)[..., first:]
    rb = (pred_b - y)[..., first:]
    na = ra.norm(dim=-1).clamp_min(1e-300)
    nb = rb.norm(dim=-1).clamp_min(1e-300)
    ua, ub = ra / na[..., None], rb / nb[..., None]
    return torch.einsum("ibp,jbp->ijb", ua, ub).mean(-1)


def with_queries(X, queries):
    """Prompts X (C, P, d) and queries (C, P, T, d) -> (C, P, T, P, d): copy (c, t, k) of prompt c has its
    t-th input replaced by query k, so its prediction at t answers that query from the first t examples."""
    C, P, T, d = queries.shape
    Xr = X[:, None, None].expand(C, P, T, P, d).clone()
    import torch
    idx = torch.arange(P)
    Xr[:, idx, :, idx, :] = queries.permute(1, 0, 2, 3)                        # position t of copy (., t, .)
    return Xr


def induced_weights(preds, queries):
    """Least-squares weights of the answers: preds (..., C, P, T) to queries (C, P, T, d) -> (..., C, P, d)."""
    import torch
    Q = queries
    G = Q.transpose(-1, -2) @ Q                                                # (C, P, d, d)
    rhs = Q.transpose(-1, -2) @ preds[..., None]                               # (..., C, P, d, 1)
    return torch.linalg.solve(G, rhs)[..., 0]


def sim_w(wa, wb):
    """SimW: the mean over prompts and prefixes t >= 1 of cos(w_a, w_b); wa (La, C, P, d), wb (Lb, C, P, d)."""
    import torch
    ua = wa[..., 1:, :] / wa[..., 1:, :].norm(dim=-1, keepdim=True).clamp_min(1e-300)
    ub = wb[..., 1:, :] / wb[..., 1:, :].norm(dim=-1, keepdim=True).clamp_min(1e-300)
    return torch.einsum("icpd,jcpd->ijcp", ua, ub).mean((-1, -2))


def _finite(sim):
    """NaN (a diverged algorithm: its residuals overflowed) as -inf, so it never wins a maximum."""
    import torch
    return torch.nan_to_num(sim, nan=-math.inf)


def best_steps(sim, grid):
    """The best-matching step count of each layer: (L, G) -> [grid value] * L; a diverged cell (NaN)
    never wins."""
    return [grid[int(j)] for j in _finite(sim).argmax(1)]


def fit_line(xs, ys):
    """Least-squares slope and intercept of ys on xs."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else float("nan")
    return slope, my - slope * mx


def ties_within_noise(sims, grid):
    """Per layer, the grid values whose SimE is not distinguishable from the best: the mean paired difference
    to the best is under q standard errors over replicates (q the two-sided 95% t quantile).  A diverged
    cell (NaN) is never tied.  sims: [ (L, G) per replicate ]."""
    import torch
    S = torch.stack(sims)                                                     # (R, L, G)
    mean = S.mean(0)
    R = S.shape[0]
    q = compare.t_quantile(0.975, R - 1) if R > 1 else 0.0
    out = []
    for layer in range(S.shape[1]):
        j = int(_finite(mean[layer][None])[0].argmax())
        diff = S[:, layer, j:j + 1] - S[:, layer, :]                          # (R, G), >= 0 on average
        m = diff.mean(0)
        se = diff.std(0, unbiased=True) / math.sqrt(R) if R > 1 else torch.zeros_like(m)
        tied = [grid[g] for g in range(S.shape[2]) if g == j or float(m[g]) <= q * float(se[g])]
        out.append({"best": grid[j], "tied": tied, "max": float(mean[layer, j])})
    return out


# ---------------------------------------------------------------- a study
def evaluate_model(model, study: Study, setting: Setting, ev: EvalSet, seed_index: int) -> dict:
    """One trained model on one evaluation setting: per replicate batch, the SimE matrices of every
    algorithm and the per-layer errors."""
    import torch
    spec = setting.spec
    P = spec.points
    px, py = prompts(ev.dist, setting.probe_prompts, spec.d, P, seeded(0, f"probe:{study.id}:{ev.key}"),
                     dtype=torch.float64)
    probes = fit_probes(hidden_states(model, px, py), py)
    reps = []
    for r in range(setting.eval_batches):
        X, y = prompts(ev.dist, setting.eval_prompts, spec.d, P, seeded(r, f"eval:{study.id}:{ev.key}"),
                       dtype=torch.float64)
        tf = probe_predictions(hidden_states(model, X, y), probes)            # (L, B, P)
        rec = {"mse_layer": ((tf - y) ** 2).mean((1, 2)).tolist(),
               "mse_layer_pos": ((tf - y) ** 2).mean(1).tolist(), "sime": {}, "sime_code": {}, "mse_alg": {}}
        for alg in study.algorithms(spec.d):
            ap = alg.run(X, y, ev.newton_ridge)
            rec["sime"][alg.key] = sim_e(tf, ap, y, first=1)
            rec["sime_code"][alg.key] = sim_e(tf, ap, y, first=0)
            rec["mse_alg"][alg.key] = ((ap - y) ** 2).mean((1, 2)).tolist()
        if study.simw:
            rec["simw"] = _simw(model, probes, study, spec, ev, X, y, setting, r)
        reps.append(rec)
    return {"reps": reps, "probes_fitted_on": setting.probe_prompts}


def _simw(model, probes, study, spec, ev, X, y, setting, r):
    """SimW of every layer with each algorithm of ``study.simw``: the induced weights of the first
    ``simw_contexts`` prompts at every prefix, fitted from ``simw_queries`` queries (default 2 d)."""
    import torch
    C = min(setting.simw_contexts, X.shape[0])
    T = setting.simw_queries or 2 * spec.d
    P = spec.points
    Xc, yc = X[:C], y[:C]
    qx, _ = prompts(ev.dist, C * P, spec.d, T, seeded(r, f"simw:{study.id}:{ev.key}"), dtype=torch.float64)
    queries = qx.reshape(C, P, T, spec.d)
    Xr = with_queries(Xc, queries).reshape(C * P * T, P, spec.d)
    yr = yc[:, None, None].expand(C, P, T, P).reshape(C * P * T, P)
    t_of = torch.arange(P)[None, :, None].expand(C, P, T).reshape(-1)
    pick = lambda pred: pred[..., torch.arange(C * P * T), t_of].reshape(*pred.shape[:-2], C, P, T)
    tf = pick(probe_predictions(hidden_states(model, Xr, yr), probes))              # (L, C, P, T)
    w_tf = induced_weights(tf, queries)
    out = {}
    for alg in study.algorithms(spec.d):
        if alg.key in study.simw:
            w_alg = induced_weights(pick(alg.run(Xr, yr, ev.newton_ridge)), queries)
            out[alg.key] = sim_w(w_tf, w_alg)
    return out


def _batch_sd(per_seed: dict, key: str, mean) -> float | None:
    """The spread of one evaluation batch: the standard deviation over a seed's batches of the SimE of each
    layer's best cell (of the mean heatmap), pooled over seeds, the median over layers.  Two step counts whose
    SimE differ by less than about twice this in one batch are not told apart by that batch."""
    import statistics
    best = mean.argmax(1)
    sds = []
    for layer in range(mean.shape[0]):
        var, dof = 0.0, 0
        for s, res in per_seed.items():
            vals = [float(r["sime"][key][layer, best[layer]]) for r in res["reps"]]
            if len(vals) > 1:
                m = sum(vals) / len(vals)
                var += sum((v - m) ** 2 for v in vals)
                dof += len(vals) - 1
        if dof:
            sds.append((var / dof) ** 0.5)
    return statistics.median(sds) if sds else None


def summarise(study: Study, setting: Setting, per_seed: dict) -> dict:
    """Heatmaps (mean over replicates), best steps, fits with intervals, ties; from {seed: evaluate_model}."""
    import torch
    L = setting.spec.layers
    seeds = list(per_seed)
    reps = [(s, r) for s in seeds for r in per_seed[s]["reps"]]
    out = {"algorithms": [], "fits": [], "layers": list(range(1, L + 1))}
    algs = study.algorithms(setting.spec.d)
    for alg in algs:
        sims = [r["sime"][alg.key] for _, r in reps]
        sims_code = [r["sime_code"][alg.key] for _, r in reps]
        mean = torch.stack(sims).mean(0)
        entry = {"key": alg.key, "label": alg.label, "grid": list(alg.grid), "log_grid": alg.log_grid,
                 "heatmap": mean.tolist(), "heatmap_code_positions": torch.stack(sims_code).mean(0).tolist(),
                 "best": best_steps(mean, alg.grid), "max_sime": _finite(mean).max(1).values.tolist(),
                 "ties": ties_within_noise(sims, list(alg.grid)),
                 "last_layer_max_by_replicate": [float(_finite(x[-1:]).max()) for x in sims],
                 "sd_one_batch": _batch_sd(per_seed, alg.key, mean),
                 "diverged_fraction": [float(torch.stack([torch.isnan(x[:, g]).float().mean() for x in sims]).mean())
                                       for g in range(len(alg.grid))],
                 "mse": [sum(r["mse_alg"][alg.key][g] for _, r in reps) / len(reps) for g in range(len(alg.grid))]}
        if alg.key in study.simw and "simw" in reps[0][1]:
            sw = [r["simw"][alg.key] for _, r in reps]
            mw = torch.stack(sw).mean(0)
            entry["simw"] = {"heatmap": mw.tolist(), "best": best_steps(mw, alg.grid),
                             "max": _finite(mw).max(1).values.tolist(), "ties": ties_within_noise(sw, list(alg.grid)),
                             "contexts": setting.simw_contexts, "queries": setting.simw_queries or 2 * setting.spec.d}
        out["algorithms"].append(entry)
    a, b = setting.fit_layers
    layers = [ell for ell in range(a, b + 1) if ell <= L]
    for key, scale in study.fits:
        alg = next(x for x in algs if x.key == key)
        slopes, by_seed = [], {s: [] for s in seeds}
        for s, r in reps:
            best = best_steps(r["sime"][key], alg.grid)
            ys = [best[ell - 1] if scale == "linear" else math.log2(best[ell - 1]) for ell in layers]
            sl, _ = fit_line(layers, ys)
            slopes.append(sl)
            by_seed[s].append(sl)
        m, half = compare.t_interval(slopes)
        seed_means = [sum(v) / len(v) for v in by_seed.values()]
        ms, halfs = compare.t_interval(seed_means) if len(seed_means) > 1 else (seed_means[0], float("nan"))
        # the seeds share the evaluation batches: the replicate interval measures the batches' noise only (it
        # treats seed x batch as independent); the interval over training seeds is the one to read
        entry = {"algorithm": key, "scale": scale, "layers": layers, "slope": m, "ci95": half,
                 "replicates": len(slopes), "slope_by_seed": seed_means, "ci95_seeds": halfs,
                 "diverged": any(b != b for b in slopes)}
        if scale == "log2":
            entry["growth"] = 2 ** m
            entry["growth_ci95"] = [2 ** (m - half), 2 ** (m + half)] if half == half else None
            entry["growth_ci95_seeds"] = [2 ** (ms - halfs), 2 ** (ms + halfs)] if halfs == halfs else None
        out["fits"].append(entry)
    out["mse_layer"] = [sum(r["mse_layer"][ell] for _, r in reps) / len(reps) for ell in range(L)]
    ols = next((x for x in out["algorithms"] if x["key"] == "ols"), None)
    out["ols_mse"] = ols["mse"][0] if ols else None
    out["replicates"] = len(reps)
    return out


def run_study(theorem: str, study: Study, preset_name: str, seeds=None, device: str | None = None,
              resume: bool = True, progress: bool = True, command: str = "", bf16=None,
              compile=None, given=None) -> dict:
    """Train (or load) every seed, probe, summarise: the study's JSON record.  ``given`` = (label, model)
    probes that model instead of training (e.g. Garg et al.'s released checkpoint, with the preset's
    evaluation settings and the model's own shape)."""
    from dataclasses import replace
    setting = study.setting(preset_name)
    if given is not None:
        gspec = replace(given[1].spec, points=min(given[1].spec.points, setting.spec.points))
        setting = replace(setting, spec=gspec, widths=(),
                          fit_layers=tuple(min(v, given[1].spec.layers) for v in setting.fit_layers))
        seeds = (0,)
    seeds = tuple(seeds) if seeds is not None else tuple(setting.train.seeds)
    device = pick_device(device)
    accel = accelerations(device, bf16, compile)
    t0 = time.perf_counter()
    record = {"id": study.id, "title": study.title, "kind": study.kind, "theorem": theorem, "preset": preset_name,
              "preset_settings": setting.train.to_json(), "seeds": list(seeds), "device": device,
              "accelerations": accel, "given_model": given[0] if given is not None else None,
              "model": {"spec": setting.spec.describe(), "layers": setting.spec.layers,
                        "width": setting.spec.width, "heads": setting.spec.heads, "d": setting.spec.d,
                        "points": setting.spec.points, "kind": setting.spec.kind},
              "curriculum": {"dims": list(setting.curriculum.dims), "points": list(setting.curriculum.points)},
              "train_data": study.train_dist.label, "evaluation": {
                  "probe_prompts": setting.probe_prompts, "eval_prompts": setting.eval_prompts,
                  "eval_batches": setting.eval_batches, "fit_layers": list(setting.fit_layers),
                  "hidden": "layers 1 .. L-1: the residual stream after the block, before the final LayerNorm; "
                            "layer L: after it (Hugging Face hidden_states)" if setting.spec.kind == "gpt2"
                            else "each LSTM layer's output sequence"},
              "code_version": code_version(), "command": command, "notes": list(study.notes), "empirical": True,
              "paper": [{"label": p[0], "of": p[1], "values": list(p[2]), "source": p[3]} for p in study.paper],
              "heatmap_keys": list(study.heatmaps),
              "algorithms": [{"key": a.key, "label": a.label, "grid": list(a.grid)}
                             for a in study.algorithms(setting.spec.d)],
              "figures": [], "targets": [], "curves": {}, "cached": [], "train_seconds": []}
    specs = [setting.spec] if not setting.widths else [Spec(setting.spec.kind, setting.spec.layers, 1, w,
                                                            setting.spec.d, setting.spec.points)
                                                       for w in setting.widths]
    results = {}
    for spec in specs:
        sub = replace(setting, spec=spec, widths=())
        evs = study.evals(spec.d)
        per_eval = {ev.key: {} for ev in evs}
        for s in seeds:
            label = f"{study.id} [{preset_name}, {spec.describe()}, seed {s}]"
            if given is not None:
                model, curve, secs, hit, key = given[1], [], 0.0, True, given[0]
            else:
                model, curve, secs, hit, key = train_model(spec, sub, study.train_dist, s, device, resume,
                                                           progress, label, accel)
            model = model.cpu().eval()
            tag = str(s) if not setting.widths else f"width {spec.width}, seed {s}"
            record["curves"][tag] = [[int(a), float(b)] for a, b in curve]
            record["cached"].append(hit)
            record["train_seconds"].append(secs)
            record.setdefault("model_keys", {})[tag] = key
            for ev in evs:
                per_eval[ev.key][s] = evaluate_model(model, study, sub, ev, s)
        results[spec.width] = {ev.key: summarise(study, sub, per_eval[ev.key]) for ev in evs}
    record["evals"] = []
    for ev in study.evals(setting.spec.d):
        e = {"key": ev.key, "label": ev.label, "noise": ev.dist.noise, "newton_ridge": ev.newton_ridge}
        if setting.widths:
            e["widths"] = [{"width": w, **results[w][ev.key]} for w in setting.widths]
        else:
            e.update(results[setting.spec.width][ev.key])
        record["evals"].append(e)
    record["targets"] = study_targets(study, record)
    record["headlines"] = headlines(record)
    record["seconds"] = time.perf_counter() - t0
    return json_safe(record)


def json_safe(x):
    """NaN and infinities as None (strict JSON): a diverged cell, an interval of one seed."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


def study_targets(study: Study, record: dict) -> list[dict]:
    """Empirical targets, each met or not (never a verdict), on the first evaluation setting:

    * ("slope_above", (algorithm, value)): every training seed's fitted steps-per-layer slope lies above
      ``value``, and so does the 95% interval over seeds (with one seed: the interval over batches);
    * ("sime_above", (a, b)): at the last layer, the best SimE with ``a`` exceeds the best with ``b`` on every
      training seed (seed means over batches), and the 95% interval over seeds of the difference lies above 0
      (with one seed: over batches)."""
    out = []
    ev = record["evals"][0] if record.get("evals") else None
    if ev is None or "fits" not in ev:
        return out
    for kind, args, text in study.targets:
        if kind == "slope_above":
            key, value = args
            f = next((x for x in ev["fits"] if x["algorithm"] == key), None)
            if f is None:
                continue
            half = f["ci95_seeds"] if f["ci95_seeds"] == f["ci95_seeds"] else f["ci95"]
            centre = (sum(f["slope_by_seed"]) / len(f["slope_by_seed"]))
            low = centre - half if half == half else centre
            worst = min(f["slope_by_seed"])
            out.append({"text": text, "figure": f"fit:{key}", "op": ">", "value": value, "mean": f["slope"],
                        "worst_seed": worst, "met": bool(low > value and worst > value)})
        elif kind == "sime_above":
            a, b = args
            A = next(x for x in ev["algorithms"] if x["key"] == a)
            B = next(x for x in ev["algorithms"] if x["key"] == b)
            diffs = [x - y for x, y in zip(A["last_layer_max_by_replicate"], B["last_layer_max_by_replicate"])]
            seeds = record.get("seeds") or [0]
            per = len(diffs) // len(seeds) if len(diffs) % len(seeds) == 0 else len(diffs)
            groups = [diffs[i:i + per] for i in range(0, len(diffs), per)]
            units = [sum(g) / len(g) for g in groups] if len(groups) > 1 else diffs
            m, half = compare.t_interval(units)
            low = m - half if half == half else m
            out.append({"text": text, "figure": f"sime:{a}-{b}", "op": ">", "value": 0.0, "mean": m,
                        "worst_seed": min(units), "met": bool(low > 0 and min(units) > 0)})
    return out


def _fmt(x, nd=3):
    return "nan" if x != x else f"{x:.{nd}g}"


def headlines(record: dict) -> list[str]:
    """One line per fit (and per width of a sweep): what the text output and the report lead with."""
    out = []
    for e in record.get("evals", []):
        for f in e.get("fits", []):
            lay = f"layers {f['layers'][0]}-{f['layers'][-1]}"
            if f["scale"] == "log2":
                ci = f.get("growth_ci95_seeds") or f.get("growth_ci95")
                over = "training seeds" if f.get("growth_ci95_seeds") else "batches"
                out.append(f"{e['key']}: {f['algorithm']} steps grow x{_fmt(f['growth'])} per layer ({lay}; 95% CI "
                           + (f"{_fmt(ci[0])}-{_fmt(ci[1])}" if ci else "n/a") + f" over {over})")
            else:
                out.append(f"{e['key']}: {_fmt(f['slope'])} {f['algorithm']} iterations per layer ({lay}; 95% CI "
                           f"+-{_fmt(f['ci95_seeds'])} over {len(f['slope_by_seed'])} training seeds, "
                           f"+-{_fmt(f['ci95'])} over {f['replicates']} seed x batch replicates)")
        for w in e.get("widths", []):
            out.append(f"{e['key']}: width {w['width']}: last-layer error {_fmt(w['mse_layer'][-1])} "
                       f"(OLS {_fmt(w['ols_mse'])}, ratio {_fmt(w['mse_layer'][-1] / w['ols_mse'])})")
        if record.get("kind") == "layers" and e.get("mse_layer"):
            m = e["mse_layer"]
            out.append(f"{e['key']}: probe error by layer {', '.join(_fmt(v) for v in m)}")
    return out
