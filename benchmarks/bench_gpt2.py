"""GPT-2 training throughput: our trainer (numeric.training.probe.train_model: the one training loop, its
data feed and curriculum, checkpoints off; timed by the loop's own clock, as the plain loop's timer starts
after its model is built) against a plain PyTorch loop of the same GPT-2 model, batch and
data, written by hand, in the same run.  Prints steps/s of both, the ratio ours / plain (target: at least
1.0), and the estimated wall time of the paper preset (500k steps of 12 layers x 256 wide at d = 20) on this
machine, from a measured short run of that model; with CUDA present, the same measured there (bf16 autocast
and torch.compile on, as the studies use them on CUDA).

    python benchmarks/bench_gpt2.py [--steps 60] [--repeats 2] [--preset cpu] [--device cpu]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def plain(spec, steps, batch, device):
    """A hand-written loop: Garg et al.'s model, fresh Gaussian prompts each step, Adam."""
    import torch

    from numeric.training.gpt2 import build, combine
    g = torch.Generator().manual_seed(0)
    m = build(spec, seed=0).to(device)
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    t0 = time.perf_counter()
    for _ in range(steps):
        xs = torch.randn(batch, spec.points, spec.d, generator=g)
        w = torch.randn(batch, spec.d, 1, generator=g)
        ys = (xs @ w)[..., 0]
        xs, ys = xs.to(device), ys.to(device)
        h = m._backbone(inputs_embeds=m._read_in(combine(xs, ys))).last_hidden_state
        loss = ((m._read_out(h)[:, ::2, 0] - ys) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0)


def ours(spec, steps, batch, device, accel=None):
    import torch

    from numeric.training.data import Distribution
    from numeric.training.gpt2 import Curriculum
    from numeric.training.probe import Setting, train_model
    from numeric.training.train import Preset
    setting = Setting(spec, Preset("bench", steps=steps, batch=batch, lr=1e-4, schedule="constant"),
                      Curriculum.fixed(spec.d, spec.points))
    # the training loop's own clock (train.train: first step to last, as the plain loop's timer), not the
    # model's build or the cached result's write
    _, _, seconds, _, _ = train_model(spec, setting, Distribution("bench"), 0, device, resume=False, progress=False,
                                      accel=accel)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps / seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--preset", default="cpu", help="the model compared: that preset's (ci, cpu or paper)")
    ap.add_argument("--device", default=None)
    ap.add_argument("--paper-steps", type=int, default=5, help="steps of the paper model timed for the estimate")
    a = ap.parse_args()
    import tempfile

    import torch
    os.environ["ICL_THEOREMS_CACHE"] = tempfile.mkdtemp(prefix="icl-bench-")
    from theorems.fu_trained import _sizes
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    spec, _, pre, _ = _sizes(a.preset)
    from dataclasses import replace
    spec = replace(spec)
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; {spec.describe()}, "
          f"batch {pre.batch}, {a.steps} steps, float32; best of {a.repeats}")
    ours(spec, 5, pre.batch, device)
    plain(spec, 5, pre.batch, device)                       # warm-up both
    o = max(ours(spec, a.steps, pre.batch, device) for _ in range(a.repeats))
    p = max(plain(spec, a.steps, pre.batch, device) for _ in range(a.repeats))
    print(f"ours  {o:8.2f} steps/s")
    print(f"plain {p:8.2f} steps/s")
    print(f"ratio ours / plain = {o / p:.2f} (target >= 1.0)")
    pspec, _, ppre, _ = _sizes("paper")
    r = ours(pspec, a.paper_steps, ppre.batch, device)
    print(f"paper preset ({pspec.describe()}, batch {ppre.batch}) on {device}: {r:.3f} steps/s measured over "
          f"{a.paper_steps} steps; {ppre.steps} steps would take about {ppre.steps / r / 3600:.1f} h")
    if device.startswith("cuda"):
        r2 = ours(pspec, max(a.paper_steps, 50), ppre.batch, device, accel={"bf16": True, "compile": True})
        print(f"  with bf16 autocast and torch.compile: {r2:.2f} steps/s, about {ppre.steps / r2 / 3600:.1f} h")


if __name__ == "__main__":
    main()
