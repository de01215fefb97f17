"""Linear self-attention (LSA) models trained on in-context regression, one model per depth, compared with
the hyperpower (higher-order Newton) family at each step count.

The model: tokens [x_i; y_i] (i = 1..n) and the query [x_q; 0]; a linear read-in to the width; L blocks of
multi-head linear attention (affine q, k, v and output maps, scores q k' / sqrt(head dim), no softmax, no
mask, no normaliser), each added to the residual and clipped to [-clip, clip] when ``clip`` is set; a linear
read-out of the query token.  No MLP, no LayerNorm.  Training uses the one training loop
(:func:`numeric.training.train.train`) and its cache; evaluation draws seeded batches.  The module knows no
paper: a theorem module gives the settings and the labels.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field, replace

from .algorithms import Algorithm
from .data import Distribution, prompts, seeded
from .train import Preset, pick_device, train


@dataclass(frozen=True)
class LSASpec:
    layers: int
    width: int = 64
    heads: int = 4
    d: int = 10
    points: int = 51                 # n examples + the query
    clip: float | None = None        # activation clip after every block (the code's act_clip)
    out: int = 1                     # 1: the query's label (its label zeroed); d: a weight vector from the last
    # token, every label seen (the logistic experiment's "output_type: w")
    block_init: float | None = None  # std of every block's output map at initialisation (its bias zero); None:
    # PyTorch's default.  Each block is cubic in its input, so at the default scale the residual stream grows
    # by orders of magnitude per block and, past three blocks, most activations sit at the clip (no gradient)

    def describe(self) -> str:
        c = f", activations clipped to +-{self.clip:g}" if self.clip else ""
        if self.block_init is not None:
            c += (", block output maps initialised to zero" if self.block_init == 0 else
                  f", block output maps initialised N(0, {self.block_init:g}^2)")
        return (f"linear self-attention, {self.layers} layer{'s' if self.layers != 1 else ''}, {self.heads} heads, "
                f"width {self.width}, d = {self.d}, {self.points - 1} examples + query{c}")


def _classes():
    import torch
    from torch import nn

    class LSABlock(nn.Module):
        def __init__(self, width, heads):
            super().__init__()
            self.heads, self.dh = heads, width // heads
            self.qkv = nn.Linear(width, 3 * width)
            self.out = nn.Linear(width, width)

        def forward(self, h):
            B, N, W = h.shape
            q, k, v = self.qkv(h).split(W, -1)
            q, k, v = (t.view(B, N, self.heads, self.dh).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-1, -2)) / math.sqrt(self.dh)          # no softmax, no mask
            return self.out((att @ v).transpose(1, 2).reshape(B, N, W))

    class InContextLSA(nn.Module):
        def __init__(self, spec: LSASpec):
            super().__init__()
            self.spec, self.d = spec, spec.d
            self.read_in = nn.Linear(spec.d + 1, spec.width)
            self.blocks = nn.ModuleList(LSABlock(spec.width, spec.heads) for _ in range(spec.layers))
            self.read_out = nn.Linear(spec.width, spec.out)

        def forward(self, xs, ys):
            """out = 1: the prediction for the last point (its label zeroed in the input), (B,); out = d: a
            weight vector read from the last token, every label seen, (B, d)."""
            y_in = ys if self.spec.out > 1 else torch.cat([ys[:, :-1], torch.zeros_like(ys[:, -1:])], 1)
            h = self.read_in(torch.cat([xs, y_in[..., None]], -1))
            for blk in self.blocks:
                h = h + blk(h)
                if self.spec.clip:
                    h = h.clamp(-self.spec.clip, self.spec.clip)
            o = self.read_out(h[:, -1])
            return o if self.spec.out > 1 else o[:, 0]

    return InContextLSA


def build(spec: LSASpec, seed: int):
    import torch
    cls = _classes()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int.from_bytes(hashlib.sha256(f"lsa-init-{seed}".encode()).digest()[:4], "little"))
        model = cls(spec)
        if spec.block_init is not None:
            with torch.no_grad():
                for blk in model.blocks:
                    blk.out.weight.normal_(0.0, spec.block_init)
                    blk.out.bias.zero_()
        return model


@dataclass(frozen=True)
class DepthStudy:
    """One trained LSA per depth; each compared, on the same seeded prompts, with the hyperpower method of
    every order at every step count."""
    id: str
    title: str
    dist: Distribution
    depths: dict                    # preset -> tuple of depths
    specs: dict                     # preset -> LSASpec (its layers replaced by each depth)
    presets: dict                   # preset -> Preset
    orders: tuple = (2, 3, 4)
    steps: tuple = (0, 1, 2, 3, 4, 5, 6)
    alpha: str = "1/(max+min)"
    eval_prompts: int = 2000
    eval_batches: int = 5
    paper: tuple = ()               # ((label, values, source), ...): labelled as the source says
    notes: tuple = ()
    kind: str = field(default="lsa-depths", init=False)

    @property
    def algorithms(self) -> tuple:
        return tuple(Algorithm(f"newton-{p}", f"Newton order {p}", "newton", self.steps,
                               (("alpha", self.alpha), ("order", p))) for p in self.orders)


def _code_version() -> str:
    from .experiment import files_hash
    return files_hash(("lsa.py", "data.py", "train.py"))


def train_depth(study: DepthStudy, spec: LSASpec, preset: Preset, seed: int, device: str, resume=True,
                progress=True, label=""):
    """(model, curve, seconds, cached?) from the cache when the same code trained the same model before."""
    import torch

    from .experiment import cache_dir
    key = hashlib.sha256(json.dumps({"spec": repr(spec), "train": preset.to_json(), "dist": repr(study.dist),
                                     "seed": seed, "device": device.split(":")[0], "code": _code_version()},
                                    sort_keys=True).encode()).hexdigest()[:20]
    folder = os.path.join(cache_dir(), "lsa-" + key)
    done = os.path.join(folder, "result.pt")
    model = build(spec, seed)
    if resume and os.path.exists(done):
        blob = torch.load(done, map_location="cpu", weights_only=False)
        model.load_state_dict(blob["state"])
        return model, blob["curve"], blob["seconds"], True

    def draw(g, step):
        return prompts(study.dist, preset.batch, spec.d, spec.points, g, device)

    def loss_fn(m, xs, ys):
        return ((m(xs, ys) - ys[:, -1]) ** 2).mean()

    ck = os.path.join(folder, "checkpoint.pt")
    run = train(model, study.dist, preset, seed, device, checkpoint=ck, progress=progress, label=label,
                loss_fn=loss_fn, draw=draw)
    os.makedirs(folder, exist_ok=True)
    torch.save({"state": run.state, "curve": run.curve, "seconds": run.seconds}, done)
    if os.path.exists(ck):
        os.remove(ck)
    return model.cpu(), run.curve, run.seconds, False


def _t95(k: int) -> float:
    table = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}
    return table.get(k, 1.96)


def _mean_ci(vals):
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    if not vals:
        return None, None
    m = sum(vals) / len(vals)
    if len(vals) < 2:
        return m, None
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))
    return m, _t95(len(vals) - 1) * sd / math.sqrt(len(vals))


def run_depth_study(theorem: str, study: DepthStudy, preset_name: str, seeds=None, device=None, resume=True,
                    progress=True, command="") -> dict:
    """Train (or load) one model per depth and seed; evaluate on seeded batches; the record the report shows."""
    import torch
    t0 = time.perf_counter()
    device = pick_device(device)
    pre = study.presets[preset_name]
    seeds = tuple(seeds) if seeds else pre.seeds
    base = study.specs[preset_name]
    depths = study.depths[preset_name]
    d = base.d
    # the evaluation prompts and every algorithm on them: the same for every depth and seed
    batches = []
    for b in range(study.eval_batches):
        g = seeded(b, f"{study.id}-eval")
        xs, ys = prompts(study.dist, study.eval_prompts, d, base.points, g, "cpu", dtype=torch.float64)
        alg = {a.key: (a.run(xs, ys)[:, :, -1] - ys[:, -1]).pow(2).mean(1) / d for a in study.algorithms}
        batches.append((xs, ys, alg))
    algo = {a.key: [sum(float(bt[2][a.key][i]) for bt in batches) / len(batches) for i in range(len(a.grid))]
            for a in study.algorithms}
    per_depth, curves, cached, secs = {}, {}, [], []
    for L in depths:
        spec = replace(base, layers=L)
        vals = {}
        for s in seeds:
            model, curve, sec, hit = train_depth(study, spec, pre, s, device, resume, progress,
                                                 f"{study.id} [{preset_name}, {L} layers, seed {s}]")
            cached.append(hit)
            secs.append(sec)
            curves[f"depth {L}, seed {s}"] = [[int(a), float(c)] for a, c in curve]
            model = model.eval().double()
            with torch.no_grad():
                errs = [float(((model(xs, ys) - ys[:, -1]) ** 2).mean()) / d for xs, ys, _ in batches]
            vals[s] = sum(errs) / len(errs)
        per_depth[L] = vals
    figures, targets, headlines = [], [], []
    grid = list(study.steps)
    for L in depths:
        m, ci = _mean_ci(list(per_depth[L].values()))
        row = {"key": f"lsa-{L}", "label": f"LSA, {L} layer{'s' if L != 1 else ''}: query MSE / d", "mean": m,
               "ci95": ci, "per_seed": {str(s): v for s, v in per_depth[L].items()}}
        figures.append(row)
        if L in grid:
            for p in study.orders:
                figures.append({"key": f"newton-{p}-{L}", "label": f"Newton order {p}, {L} steps (same prompts)",
                                "mean": algo[f"newton-{p}"][grid.index(L)], "per_seed": {}})
            lo = algo[f"newton-{max(2, min(study.orders))}"][grid.index(L)]
            if 3 in study.orders:
                hi3 = algo["newton-3"][grid.index(L)]
                ok = all(hi3 <= v <= lo for v in per_depth[L].values())
                targets.append({"text": f"{L} layers: between Newton orders 3 and 2 at {L} steps (every seed), the "
                                        "paper's reading of its Fig. 4", "met": ok, "mean": m,
                                "worst_seed": max(per_depth[L].values())})
        # the closest (order, steps) by log MSE
        best = min(((p, t) for p in study.orders for t in grid),
                   key=lambda pt: abs(math.log(max(algo[f"newton-{pt[0]}"][grid.index(pt[1])], 1e-300))
                                      - math.log(max(m, 1e-300))))
        headlines.append(f"{L} layers: query MSE/d {m:.3g}; the closest hyperpower iterate is order {best[0]} at "
                         f"{best[1]} steps ({algo[f'newton-{best[0]}'][grid.index(best[1])]:.3g})")
    record = {"id": study.id, "title": study.title, "kind": study.kind, "theorem": theorem, "preset": preset_name,
              "preset_settings": pre.to_json(), "seeds": list(seeds), "device": device,
              "model": {"construction": base.describe().replace(f"{base.layers} layer", "L layer") +
                        f"; L in {', '.join(map(str, depths))}", "d": d, "n": base.points - 1,
                        "layers": ", ".join(map(str, depths)), "looped": False, "support": "full"},
              "data": {"label": study.dist.label}, "eval_tasks": study.eval_prompts * study.eval_batches,
              "loss": "squared error of the query's prediction", "figures": figures, "targets": targets,
              "headlines": headlines, "curves": curves, "cached": cached, "train_seconds": secs,
              "algorithms": {k: {"grid": grid, "mse_over_d": v} for k, v in algo.items()},
              "notes": list(study.notes), "paper": [{"label": a, "values": list(b), "source": c}
                                                    for a, b, c in study.paper],
              "code_version": _code_version(), "command": command, "empirical": True,
              "seconds": time.perf_counter() - t0}
    from .probe import json_safe
    return json_safe(record)


# ---------------------------------------------------------------- in-context logistic regression
@dataclass(frozen=True)
class LogisticDepthStudy:
    """One weight-output LSA per depth (``LSASpec.out = d``) trained to output the damped-Newton solution of the
    l2-regularised logistic loss of its prompt (x ~ N(0, I), y = sign(x'w*), w* ~ N(0, I)); compared with the
    damped-Newton iterates at every step count by the loss f and by the distance to the solution."""
    id: str
    title: str
    mu: float
    depths: dict
    specs: dict
    presets: dict
    target_steps: int = 30           # the damped-Newton solution the model is trained to output
    steps: tuple = tuple(range(21))
    eval_prompts: int = 2000
    eval_batches: int = 3
    notes: tuple = ()
    paper: tuple = ()
    kind: str = field(default="lsa-logistic", init=False)

    def draw(self, batch, d, n, g, device="cpu", dtype=None):
        import torch

        from .algorithms import damped_newton_logistic
        X = torch.randn(batch, n, d, generator=g, dtype=torch.float64)
        w = torch.randn(batch, d, generator=g, dtype=torch.float64)
        y = torch.sign((X * w[:, None, :]).sum(-1))
        y = torch.where(y == 0, torch.ones_like(y), y)
        target = damped_newton_logistic(X, y, self.mu, self.target_steps)[-1]
        dt = dtype or torch.float32
        return X.to(device=device, dtype=dt), y.to(device=device, dtype=dt), target.to(device=device, dtype=dt)


def run_logistic_depth_study(theorem: str, study: LogisticDepthStudy, preset_name: str, seeds=None, device=None,
                             resume=True, progress=True, command="") -> dict:
    import torch

    from .algorithms import damped_newton_logistic, logistic_loss
    from .experiment import cache_dir
    t0 = time.perf_counter()
    device = pick_device(device)
    pre = study.presets[preset_name]
    seeds = tuple(seeds) if seeds else pre.seeds
    base = study.specs[preset_name]
    d, n = base.d, base.points
    batches = []
    for b in range(study.eval_batches):
        X, y, target = study.draw(study.eval_prompts, d, n, seeded(b, f"{study.id}-eval"), dtype=torch.float64)
        its = damped_newton_logistic(X, y, study.mu, max(study.steps))
        batches.append((X, y, target, its))
    newton_f = [sum(float(logistic_loss(X, y, its[t], study.mu).mean()) for X, y, _, its in batches) / len(batches)
                for t in study.steps]
    newton_dist = [sum(float(((its[t] - tg) ** 2).mean()) for _, _, tg, its in batches) / len(batches)
                   for t in study.steps]
    f_star = sum(float(logistic_loss(X, y, tg, study.mu).mean()) for X, y, tg, _ in batches) / len(batches)
    figures, headlines, curves, cached, secs = [], [], {}, [], []
    for L in study.depths[preset_name]:
        spec = replace(base, layers=L, out=d)
        fs, ds = {}, {}
        for s in seeds:
            key = hashlib.sha256(json.dumps({"spec": repr(spec), "train": pre.to_json(), "mu": study.mu,
                                             "target": study.target_steps, "seed": s, "device": device.split(":")[0],
                                             "code": _code_version()}, sort_keys=True).encode()).hexdigest()[:20]
            folder = os.path.join(cache_dir(), "lsa-logistic-" + key)
            done = os.path.join(folder, "result.pt")
            model = build(spec, s)
            if resume and os.path.exists(done):
                blob = torch.load(done, map_location="cpu", weights_only=False)
                model.load_state_dict(blob["state"])
                curve, sec, hit = blob["curve"], blob["seconds"], True
            else:
                def draw(g, step, spec=spec):
                    return study.draw(pre.batch, d, n, g, device)

                def loss_fn(m, X, y, target):
                    return ((m(X, y) - target) ** 2).mean()
                run = train(model, None, pre, s, device, checkpoint=os.path.join(folder, "checkpoint.pt"),
                            progress=progress, label=f"{study.id} [{preset_name}, {L} layers, seed {s}]",
                            loss_fn=loss_fn, draw=draw)
                os.makedirs(folder, exist_ok=True)
                torch.save({"state": run.state, "curve": run.curve, "seconds": run.seconds}, done)
                curve, sec, hit = run.curve, run.seconds, False
                model = model.cpu()
            cached.append(hit)
            secs.append(sec)
            curves[f"depth {L}, seed {s}"] = [[int(a), float(c)] for a, c in curve]
            model = model.eval().double()
            with torch.no_grad():
                wh = [(model(X, y), X, y, tg) for X, y, tg, _ in batches]
            fs[s] = sum(float(logistic_loss(X, y, w, study.mu).mean()) for w, X, y, _ in wh) / len(wh)
            ds[s] = sum(float(((w - tg) ** 2).mean()) for w, _, _, tg in wh) / len(wh)
        mf, cf = _mean_ci(list(fs.values()))
        md, cd = _mean_ci(list(ds.values()))
        figures.append({"key": f"f-{L}", "label": f"LSA, {L} layer{'s' if L != 1 else ''}: loss f(w_hat)", "mean": mf,
                        "ci95": cf, "per_seed": {str(k): v for k, v in fs.items()}, "theory": f_star})
        figures.append({"key": f"dist-{L}", "label": f"LSA, {L} layer{'s' if L != 1 else ''}: mean (w_hat - w_Newton)^2",
                        "mean": md, "ci95": cd, "per_seed": {str(k): v for k, v in ds.items()}})
        t_match = min(study.steps, key=lambda t: abs(newton_f[study.steps.index(t)] - mf))
        headlines.append(f"{L} layers: f(w_hat) = {mf:.4g} (the solution's {f_star:.4g}); damped Newton reaches that "
                         f"loss after about {t_match} steps (f = {newton_f[study.steps.index(t_match)]:.4g})")
    for t in (0, 1, 2, 4, 8, 12, 20):
        if t in study.steps:
            i = study.steps.index(t)
            figures.append({"key": f"newton-{t}", "label": f"damped Newton, {t} steps: loss f (same prompts)",
                            "mean": newton_f[i], "per_seed": {}, "theory": f_star})
    record = {"id": study.id, "title": study.title, "kind": study.kind, "theorem": theorem, "preset": preset_name,
              "preset_settings": pre.to_json(), "seeds": list(seeds), "device": device,
              "model": {"construction": replace(base, out=d).describe().replace(f"{base.layers} layer", "L layer")
                        + f"; L in {', '.join(map(str, study.depths[preset_name]))}; outputs w (d values)",
                        "d": d, "n": n, "layers": ", ".join(map(str, study.depths[preset_name])), "looped": False,
                        "support": "full"},
              "data": {"label": f"x ~ N(0, I_d), y = sign(x'w*), w* ~ N(0, I_d); mu = {study.mu}; target: "
                                f"{study.target_steps} damped-Newton steps from 0"},
              "eval_tasks": study.eval_prompts * study.eval_batches,
              "loss": "mean squared difference to the damped-Newton solution", "figures": figures, "targets": [],
              "headlines": headlines, "curves": curves, "cached": cached, "train_seconds": secs,
              "newton": {"steps": list(study.steps), "loss": newton_f, "distance": newton_dist, "f_star": f_star},
              "notes": list(study.notes), "paper": [{"label": a, "values": list(b), "source": c}
                                                    for a, b, c in study.paper],
              "code_version": _code_version(), "command": command, "empirical": True,
              "seconds": time.perf_counter() - t0}
    from .probe import json_safe
    return json_safe(record)
