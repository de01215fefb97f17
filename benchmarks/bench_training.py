"""Training throughput: our trainer (a model exported from a construction, the
generic training loop with its schedule, checkpoints off, progress off)
against a plain PyTorch loop of the same model and batch, written by hand
(one linear self-attention layer in von Oswald et al.'s token format, Adam,
fresh Gaussian batches), in the same run.  Prints steps/s of both and the
ratio ours / plain (target: at least 1.0).

    python benchmarks/bench_training.py [--steps 300] [--batch 2048] [--d 10] [--n 10] [--device cpu]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def plain(steps, batch, d, n, device, dtype):
    """A hand-written one-layer LSA and loop: the baseline."""
    import torch
    g = torch.Generator().manual_seed(0)
    D = d + 1
    K = (torch.randn(D, D, generator=g, dtype=dtype) * 0.01).to(device).requires_grad_()
    P = (torch.randn(D, D, generator=g, dtype=dtype) * 0.01).to(device).requires_grad_()
    opt = torch.optim.Adam([K, P], lr=1e-3)
    t0 = time.perf_counter()
    for _ in range(steps):
        X = torch.randn(batch, n + 1, d, generator=g, dtype=dtype)
        w = torch.randn(batch, d, generator=g, dtype=dtype)
        Y = (X @ w[:, :, None])[..., 0]
        X, Y = X.to(device), Y.to(device)
        E = torch.cat([X, Y[..., None]], -1)                    # (B, n + 1, D) tokens as rows
        E[:, n, d] = 0                                            # the query (x_q, 0)
        ctx = E[:, :n]
        q = E[:, n]
        s = (ctx @ (q @ K)[:, :, None])[..., 0]                  # s_k = e_k' K' q ... the query's scores
        upd = (s[:, None, :] @ ctx)[:, 0] @ P.T                   # sum_k s_k P e_k
        pred = -(q + upd)[:, d]
        loss = ((pred - Y[:, n]) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0)


def ours(steps, batch, d, n, device):
    import torch

    from numeric.training.data import Distribution, seeded
    from numeric.training.model import export
    from numeric.training.train import Preset, train
    from theorems.registry import get
    con = get("gd_one_layer").variant("zero-init").build()
    m = export(con, d, n, 1, init_std=0.01, generator=seeded(0, "init"))
    pre = Preset("bench", steps=steps, batch=batch, lr=1e-3, schedule="constant")
    t0 = time.perf_counter()
    train(m, Distribution("Gaussian"), pre, 0, device=device, progress=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--d", type=int, default=10)
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--device", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    import torch
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; one LSA layer, "
          f"d = {a.d}, n = {a.n}, batch {a.batch}, {a.steps} steps, float64; best of {a.repeats}")
    ours(20, a.batch, a.d, a.n, device)
    plain(20, a.batch, a.d, a.n, device, torch.float64)           # warm-up both
    o = max(ours(a.steps, a.batch, a.d, a.n, device) for _ in range(a.repeats))
    p = max(plain(a.steps, a.batch, a.d, a.n, device, torch.float64) for _ in range(a.repeats))
    print(f"ours  {o:8.1f} steps/s")
    print(f"plain {p:8.1f} steps/s")
    print(f"ratio ours / plain = {o / p:.2f} (target >= 1.0)")


if __name__ == "__main__":
    main()
