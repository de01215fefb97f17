"""An experiment: train a model exported from a construction on a distribution,
over seeds, and compare it with the theory; results cached.

The catalogue declares each experiment (its construction, data, presets,
the theory it is compared with, its targets and the papers' published
numbers); this module runs any of them the same way:

1. for each seed of the preset, the model is built from the construction
   (weights drawn from the seed's ``init`` stream) and trained (batches from
   its ``train`` stream), or loaded from the cache, keyed by (theorem,
   experiment, preset, seed, device type, code version);
2. every seed is evaluated on one fixed evaluation set (the ``eval`` stream
   of seed 0), giving per-seed figures with their Monte Carlo errors;
3. the figures are summarised over seeds (mean and a 95% t interval).

A target (the value a figure should reach) is recorded as met or not: it is
empirical evidence, never a theorem's verdict.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Callable

from . import compare
from .data import Distribution, sample, seeded
from .train import Preset, pick_device, train


@dataclass(frozen=True)
class Target:
    figure: str                 # the figure's key
    op: str                     # ">=" or "<="
    value: float
    text: str                   # what it says, e.g. "sensitivity cosine >= 0.99 (issue's target)"

    def met(self, x: float) -> bool:
        return x >= self.value if self.op == ">=" else x <= self.value


@dataclass(frozen=True)
class Experiment:
    """``build()`` gives the construction; ``evaluate(model, batch, theory)`` returns per-seed figures
    {key: (value, mc_se or None)}; ``theory(d, n)`` gives the exact comparison values (a dict, with
    ``optimum`` the loss floor if there is one); ``matrices(model, theory)`` gives (learned, theoretical,
    caption) for the picture."""
    id: str
    title: str
    build: Callable
    d: int
    n: int
    k: int
    dist: Distribution
    presets: dict
    evaluate: Callable
    theory: Callable
    figures: tuple = ()               # ((key, label, paper value or None, paper source), ...)
    support: str = "full"
    looped: bool = False
    targets: tuple = ()
    matrices: Callable | None = None
    loss_name: str = "mean (y_hat - y)^2"
    notes: tuple = ()

    def preset(self, name: str) -> Preset:
        if name not in self.presets:
            raise ValueError(f"experiment {self.id}: no preset {name!r} (have {', '.join(self.presets)})")
        return self.presets[name]


TRAINING_FILES = ("model.py", "data.py", "train.py")


def files_hash(names) -> str:
    """A hash of files of this package, in order: the code version a cache key carries."""
    here = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for f in names:
        with open(os.path.join(here, f), "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:16]


def code_version() -> str:
    """A hash of the code that determines trained weights (the export, the data, the training loop):
    a cached model is reused only by the code that trained it.  The evaluation is always rerun."""
    return files_hash(TRAINING_FILES)


def cache_dir() -> str:
    return os.environ.get("ICL_THEOREMS_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "icl-theorems",
                                                                "trained")


def _key(theorem: str, exp: Experiment, preset: Preset, seed: int, device: str) -> str:
    blob = json.dumps({"theorem": theorem, "experiment": exp.id, "preset": preset.to_json(), "seed": seed,
                       "device": device.split(":")[0], "d": exp.d, "n": exp.n, "k": exp.k,
                       "dist": repr(exp.dist), "support": exp.support, "looped": exp.looped,
                       "construction": repr(exp.build()), "code": code_version()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def model_for(exp: Experiment, seed: int | None = None, init_std: float = 0.01, values=None):
    """The experiment's model: trainable (drawn from the seed's init stream) or, with ``values``, the
    construction's own weights."""
    from .model import export
    gen = seeded(seed, "init") if seed is not None else None
    return export(exp.build(), exp.d, exp.n, exp.k, values=values, looped=exp.looped, support=exp.support,
                  init_std=init_std, generator=gen)


def train_seed(theorem: str, exp: Experiment, preset: Preset, seed: int, device: str, resume: bool = True,
               progress: bool = True, log=None):
    """(model, TrainedRun, cached?) for one seed, from the cache when the same code trained it before."""
    import torch
    key = _key(theorem, exp, preset, seed, device)
    folder = os.path.join(cache_dir(), key)
    done = os.path.join(folder, "result.pt")
    model = model_for(exp, seed, preset.init_std)
    if resume and os.path.exists(done):
        blob = torch.load(done, map_location="cpu", weights_only=False)
        model.load_state_dict(blob["state"])
        from .train import TrainedRun
        return model, TrainedRun(blob["state"], blob["curve"], blob["steps"], blob["seconds"], blob["device"]), True
    ck = os.path.join(folder, "checkpoint.pt")
    if not resume and os.path.exists(ck):
        os.remove(ck)
    run = train(model, exp.dist, preset, seed, device, checkpoint=ck, progress=progress,
                label=f"{exp.id} [{preset.name}, seed {seed}]")
    os.makedirs(folder, exist_ok=True)
    torch.save({"state": run.state, "curve": run.curve, "steps": run.steps, "seconds": run.seconds,
                "device": run.device}, done)
    if os.path.exists(ck):
        os.remove(ck)
    return model.cpu(), run, False


def run_experiment(theorem: str, exp: Experiment, preset_name: str, seeds=None, device: str | None = None,
                   resume: bool = True, progress: bool = True, command: str = "") -> dict:
    """Train (or load) every seed, evaluate, summarise: the experiment's JSON record."""
    preset = exp.preset(preset_name)
    seeds = tuple(seeds) if seeds is not None else tuple(preset.seeds)
    device = pick_device(device)
    t0 = time.perf_counter()
    theory = exp.theory(exp.d, exp.n)
    batch = sample(exp.dist, preset.eval_batch, exp.d, exp.n, seeded(0, f"eval:{exp.id}"))
    per_seed, curves, cached, train_s, models = {}, {}, [], [], {}
    for s in seeds:
        model, run, hit = train_seed(theorem, exp, preset, s, device, resume, progress)
        model = model.cpu().eval()
        models[s] = model
        figs = exp.evaluate(model, batch, theory)
        per_seed[s] = figs
        curves[str(s)] = [[int(a), float(b)] for a, b in run.curve]
        cached.append(hit)
        train_s.append(run.seconds)
    figures = []
    keys = [f[0] for f in exp.figures] or list(next(iter(per_seed.values())).keys())
    labels = {f[0]: f for f in exp.figures}
    for key in keys:
        vals = [per_seed[s][key][0] for s in seeds]
        ses = [per_seed[s][key][1] for s in seeds]
        mean, half = compare.t_interval(vals)
        lab = labels.get(key, (key, key, None, None))
        figures.append({"key": key, "label": lab[1], "mean": mean, "ci95": half,
                        "per_seed": {str(s): v for s, v in zip(seeds, vals)},
                        "mc_se": max((e for e in ses if e is not None), default=None),
                        "paper": lab[2], "paper_source": lab[3] if lab[2] is not None else None,
                        "theory": theory.get(f"figure:{key}", theory.get("optimum") if key == "loss" else None)})
    targets = []
    for t in exp.targets:
        fig = next(f for f in figures if f["key"] == t.figure)
        targets.append({"text": t.text, "figure": t.figure, "op": t.op, "value": t.value,
                        "mean": fig["mean"], "worst_seed": (min if t.op == ">=" else max)(fig["per_seed"].values()),
                        "met": all(t.met(v) for v in fig["per_seed"].values())})
    pics = None
    if exp.matrices is not None:
        learned, theo, caption = exp.matrices(models[seeds[0]], theory)
        pics = {"learned": learned.tolist(), "theory": theo.tolist(), "caption": caption, "seed": seeds[0]}
    return {"id": exp.id, "title": exp.title, "theorem": theorem, "preset": preset_name,
            "preset_settings": preset.to_json(), "seeds": list(seeds), "device": device,
            "model": {"construction": exp.build().name, "d": exp.d, "n": exp.n, "layers": exp.k,
                      "support": exp.support, "looped": exp.looped},
            "data": {"label": exp.dist.label, "inputs": exp.dist.inputs, "alpha": exp.dist.alpha,
                     "cov": exp.dist.cov, "prior": exp.dist.prior, "noise": exp.dist.noise},
            "eval_tasks": preset.eval_batch, "loss": exp.loss_name,
            "figures": figures, "targets": targets, "curves": curves, "optimum": theory.get("optimum"),
            "optimum_label": theory.get("optimum_label"), "theory": {k: v for k, v in theory.items()
                                                                     if not k.startswith("figure:")
                                                                     and isinstance(v, (int, float, str))},
            "matrices": pics, "cached": cached, "train_seconds": train_s,
            "seconds": time.perf_counter() - t0, "code_version": code_version(),
            "command": command, "notes": list(exp.notes), "empirical": True}
