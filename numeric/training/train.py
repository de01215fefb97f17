"""Seeded, resumable training of an exported model on a prompt distribution.

* Deterministic: the initial weights, every training batch and the evaluation
  set come from generators seeded by (seed, stream name); the same seed gives
  the same weights on the same device.
* Adam by default (the papers' betas, learning rates, clipping and schedules
  are preset fields); CUDA when present, the CPU otherwise.
* A progress bar on stderr for any run that lasts more than a few seconds.
* Checkpoints every ``checkpoint_every`` steps (model, optimiser, step, the
  data generator's state before the batch in use, the loss curve); a run
  resumes from the last one and draws the same batches as an unbroken run.
* The next batch is drawn on a worker thread while the current step runs
  (:class:`Feed`); the draws stay in order, from one generator, so prefetching
  changes no number.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace

from .data import Distribution, sample, seeded


@dataclass(frozen=True)
class Preset:
    """How long and how hard to train.  ``name`` is ci, cpu or paper."""
    name: str
    steps: int
    batch: int
    lr: float = 1e-3
    betas: tuple = (0.9, 0.999)
    weight_decay: float = 0.0
    schedule: str = "cosine"                 # "constant", "cosine" (to lr/100), or "halve:<every>"
    clip: float | None = None                # global gradient-norm clip
    init_std: float = 0.01
    seeds: tuple = (0, 1, 2)
    eval_batch: int = 20000
    eval_chunk: int = 20000
    refresh: int = 1                         # a fresh batch every `refresh` steps
    loss_scale: float = 1.0                  # the training loss is loss_scale * mean (y_hat - y)^2
    checkpoint_every: int = 0                # 0: only at the end
    curve_points: int = 60
    source: str = ""                         # where the settings come from

    def with_(self, **kw) -> "Preset":
        return replace(self, **kw)

    def to_json(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def pick_device(device: str | None = None) -> str:
    """``device`` if given, else CUDA when present, else the CPU."""
    import torch
    if device:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available on this machine")
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


class Progress:
    """A one-line progress bar on stderr, drawn only once a run has lasted ``after`` seconds."""

    def __init__(self, total: int, label: str, enabled: bool = True, after: float = 2.0, stream=None):
        self.total, self.label, self.enabled, self.after = total, label, enabled, after
        self.t0 = time.perf_counter()
        self.last = 0.0
        self.drawn = False
        self.stream = stream or sys.stderr

    def update(self, step: int, loss: float | None = None):
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.t0 < self.after or (now - self.last < 0.5 and step < self.total):
            return
        self.last = now
        frac = step / max(self.total, 1)
        bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
        rate = step / max(now - self.t0, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else float("inf")
        tail = f" loss {loss:.4g}" if loss is not None else ""
        self.stream.write(f"\r{self.label} [{bar}] {step}/{self.total} {rate:.0f} steps/s, {eta:.0f}s left{tail}")
        self.stream.flush()
        self.drawn = True

    def close(self):
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _lr_at(preset: Preset, step: int) -> float:
    if preset.schedule == "constant":
        return preset.lr
    if preset.schedule == "cosine":
        t = step / max(preset.steps, 1)
        return preset.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))
    if preset.schedule.startswith("halve:"):
        every = int(preset.schedule.split(":", 1)[1])
        return preset.lr * 0.5 ** (step // every)
    raise ValueError(f"unknown schedule {preset.schedule!r}")


class Feed:
    """The training batches in order, each drawn while the step before it runs.

    One generator, used by one worker at a time, in the order of the steps: the
    batches are those of drawing each one when it is needed.  ``state`` is the
    generator's state before the batch in use was drawn (what a checkpoint keeps:
    restoring it and taking one batch gives that batch again)."""

    def __init__(self, draw, gen, prefetch: bool = True):
        from concurrent.futures import ThreadPoolExecutor
        self.draw, self.gen = draw, gen
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="icl-feed") if prefetch else None
        self.state = None
        self._next = None

    def _submit(self, step):
        st = self.gen.get_state()
        self._next = (step, st, self.pool.submit(self.draw, self.gen, step) if self.pool else None)

    def take(self, step: int, following: int | None = None):
        """The batch of ``step``; with ``following`` the batch of that step starts drawing now."""
        if self._next is not None and self._next[0] != step:
            # another step's batch is being drawn: let it finish, then rewind the generator to before it
            _, st, fut = self._next
            if fut is not None:
                fut.result()
            self.gen.set_state(st)
            self._next = None
        if self._next is None:
            self._submit(step)
        _, st, fut = self._next
        batch = fut.result() if fut is not None else self.draw(self.gen, step)
        self.state, self._next = st, None
        if following is not None and self.pool:
            self._submit(following)
        return batch

    def close(self):
        if self.pool:
            self.pool.shutdown(wait=True)


@dataclass
class TrainedRun:
    state: dict                        # the model's parameters (CPU tensors)
    curve: list = field(default_factory=list)    # [(step, training loss)]
    steps: int = 0
    seconds: float = 0.0
    device: str = "cpu"
    resumed_from: int = 0


def mse_loss(model, X, y, xq, yq):
    return ((model(X, y, xq) - yq) ** 2).mean()


def train(model, dist: Distribution, preset: Preset, seed: int, device: str = "cpu", checkpoint: str | None = None,
          progress: bool = True, label: str = "train", loss_fn=mse_loss, prefetch: bool = True, draw=None) -> TrainedRun:
    """Train ``model`` (its parameters already initialised from ``seed``) and return the final weights.
    ``draw(generator, step)`` gives the batch of a step (default: ``sample`` of ``dist`` at the model's
    d and n); ``loss_fn(model, *batch)`` its loss."""
    import torch
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=preset.lr, betas=tuple(preset.betas),
                           weight_decay=preset.weight_decay)
    gen = seeded(seed, "train")
    start, curve = 0, []
    resumed = None
    if checkpoint and os.path.exists(checkpoint):
        ck = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"].cpu())            # map_location moved it to the device; the generator is the CPU's
        start, curve = ck["step"], ck["curve"]
        resumed = start
    every = max(1, preset.steps // preset.curve_points)
    bar = Progress(preset.steps, label, enabled=progress)
    t0 = time.perf_counter()
    if draw is None:
        def draw(g, step):
            return sample(dist, preset.batch, model.d, model.n, g, device)
    feed = Feed(draw, gen, prefetch)
    batch = None
    if resumed is not None and 0 < start < preset.steps:
        last = (start - 1) // preset.refresh * preset.refresh
        batch = feed.take(last)                 # the batch in use at the checkpoint, drawn again
    acc, cnt = None, 0            # the loss summed on the device: no host sync per step
    try:
        for step in range(start, preset.steps):
            if batch is None or step % preset.refresh == 0:
                nxt = (step // preset.refresh + 1) * preset.refresh
                batch = feed.take(step, nxt if nxt < preset.steps else None)
            for grp in opt.param_groups:
                grp["lr"] = _lr_at(preset, step)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model, *batch)
            (preset.loss_scale * loss).backward()
            if preset.clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), preset.clip)
            opt.step()
            acc = loss.detach() if acc is None else acc + loss.detach()
            cnt += 1
            if (step + 1) % every == 0 or step + 1 == preset.steps:
                curve.append((step + 1, float(acc) / cnt))
                acc, cnt = None, 0
                bar.update(step + 1, curve[-1][1])
            if checkpoint and preset.checkpoint_every and (step + 1) % preset.checkpoint_every == 0:
                save_checkpoint(checkpoint, model, opt, feed.state, step + 1, curve)
    finally:
        feed.close()
    bar.close()
    if checkpoint:
        save_checkpoint(checkpoint, model, opt, feed.state if feed.state is not None else gen.get_state(),
                        preset.steps, curve)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return TrainedRun(state, curve, preset.steps, time.perf_counter() - t0, device, start)


def save_checkpoint(path, model, opt, gen_state, step, curve):
    import torch
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen_state, "step": step,
                "curve": curve}, tmp)
    os.replace(tmp, path)
