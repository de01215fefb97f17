"""Issue target: the float64 batch check costs at most 2x one batched torch matmul chain of the same shapes,
on a quiet machine and on a loaded one.

Baseline: the same construction's layers as dense (D x D) float64 weights applied to a (B, D, N) batch of
token matrices with torch.bmm: per attention head S = H'BH, A = act(S) * mask / n, H += V H A'; per MLP
H += W2 W1 H.  Ours: numeric.checks.float64_batch (B sampled prompts, network and recursion, the comparison).
``--load`` runs a busy process beside both timings (the loaded case).

    python benchmarks/bench_float64.py [--load]
"""
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _busy():
    while True:
        sum(i * i for i in range(10000))


def main():
    import torch
    from numeric import checks
    from symbolic.templates import Algebra
    from theorems.newton_k_plus_8 import THEOREM
    from theorems.kinds import Run
    from theorems.check import make_context
    load = "--load" in sys.argv
    d, n, k, B = 20, 40, 16, 64
    v = THEOREM.variant("exact")
    con = v.build()
    alg = Algebra()
    rec = next(c for c in v.claims(con, alg) if c.kind == "certified").spec.recursion
    ctx = make_context(THEOREM, k=k, d=d, n=n)
    run = Run(THEOREM, ctx, con, alg)
    busy = [mp.Process(target=_busy, daemon=True) for _ in range(2)] if load else []
    for p in busy:
        p.start()
    try:
        ours = []
        for rep in range(3):
            t = time.perf_counter()
            o = checks.float64_batch(con, rec, d, n, k, B, 0, run.batch_params)
            ours.append(time.perf_counter() - t)
        # the dense chain: D x D weights, (B, D, N) tokens
        D = con.layout.concrete_width({__import__("symbolic.layout", fromlist=["d"]).d: d})
        N = n + 1
        g = torch.Generator().manual_seed(0)
        ops = []
        for stage, it, L in con.layers(k):
            for op in L.ops:
                if op.kind == "attention":
                    ops.append(("a", [(torch.randn(D, D, generator=g, dtype=torch.float64) / D,
                                       torch.randn(D, D, generator=g, dtype=torch.float64) / D) for _ in op.heads]))
                else:
                    ops.append(("m", torch.randn(D, D, generator=g, dtype=torch.float64) / D))
        mask = torch.ones(N, N, dtype=torch.float64)
        mask[:, -1] = 0
        base = []
        for rep in range(3):
            H = torch.randn(B, D, N, generator=g, dtype=torch.float64)
            t = time.perf_counter()
            for kind, w in ops:
                if kind == "a":
                    upd = 0
                    for Bm, V in w:
                        S = H.transpose(1, 2) @ (Bm @ H)
                        A = torch.relu(S) * mask / n
                        upd = upd + V @ H @ A.transpose(1, 2)
                    H = H + upd
                else:
                    H = H + w @ H
            base.append(time.perf_counter() - t)
    finally:
        for p in busy:
            p.terminate()
    b, ob = min(base), min(ours)
    print(f"newton_k_plus_8 exact, d={d}, n={n}, k={k}, batch {B}, torch threads {torch.get_num_threads()}"
          f"{', with 2 busy processes beside it' if load else ''}")
    print(f"baseline: dense batched matmul chain ({len(ops)} ops, D={D}, N={N}): {b:.3f} s")
    print(f"ours: float64_batch ({o.verdict}; network, recursion and comparison): {ob:.3f} s; ratio {ob / b:.2f} "
          f"({'met' if ob <= 2 * b else 'NOT met'}: target <= 2)")


if __name__ == "__main__":
    main()
