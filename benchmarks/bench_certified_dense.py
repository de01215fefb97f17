"""Issue target: the certified network check within 3x of a dense python-flint ``arb_mat`` forward pass of
the same construction on the token matrix (same precision, same sizes).

The baseline builds each layer's weights as dense D x D ``arb_mat`` matrices (from the one construction, at
the run's sizes) and runs H <- H + sum_heads W_PV H act(H' W_KQ H * mask)' and H <- H + W2 W1 H on the full
D x N token matrix: no block structure.  Ours is the block-wise network (numeric/forward.py) alone, and the
whole certified check (network, recursion and the comparison of every layer).  Prints both ratios.

    python benchmarks/bench_certified_dense.py [d n k bits]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sympy as sp

from numeric import checks
from numeric.backends import ArbBackend
from numeric.data import gaussian
from numeric.forward import Network
from symbolic.layers import split_entry
from symbolic.templates import Algebra
from theorems.newton_k_plus_8 import THEOREM, alpha


def dense(net, bm, rows_layout=None, cols_layout=None):
    """A block map as one dense matrix over the residual stream (or an MLP's hidden layout)."""
    be = net.be
    ro = net.offsets if rows_layout is None else rows_layout
    co = net.offsets if cols_layout is None else cols_layout
    R = max(s.stop for s in ro.values())
    C = max(s.stop for s in co.values())
    W = be._M(R, C)
    for o, i, c in bm:
        s, L = split_entry(c)
        v = net.coef(s)
        if L is None:
            for r in range(ro[o].stop - ro[o].start):
                W[ro[o].start + r, co[i].start + r] += v
        else:
            M = net.letter_value(L)
            for r in range(M.nrows()):
                for q in range(M.ncols()):
                    W[ro[o].start + r, co[i].start + q] += v * M[r, q]
    return W


def dense_forward(con, net, H0, k):
    be = net.be
    H = H0
    ops = []
    for stage, it, L in con.layers(k):
        for op in L.ops:
            if op.kind == "attention":
                heads = [(dense(net, h.W_KQ), dense(net, h.W_PV)) for h in op.heads]
                ops.append(("attn", op, heads, net.attn_mask(op)))
            elif op.kind == "mlp":
                hid = op.hidden.offsets(net.sizes)
                ops.append(("mlp", op, dense(net, op.W1, hid, None), dense(net, op.W2, None, hid)))
            else:
                raise SystemExit(f"the dense baseline has no {op.kind} op")
    t = time.perf_counter()
    for kind, op, *w in ops:
        if kind == "attn":
            heads, M = w
            upd = None
            for B, V in heads:
                S = H.transpose() * B * H
                c = be.num(sp.Rational(1, net.n)) if op.normalizer == "n" else be.num(1)
                A = be.act_mask(S, M, op.activation, c)
                u = V * H * A.transpose()
                upd = u if upd is None else upd + u
            if op.queries is not None:
                mask = net.token_mask(op.queries)
                for r in range(upd.nrows()):
                    for q in range(upd.ncols()):
                        if not mask[q]:
                            upd[r, q] = 0
            H = H + upd
        else:
            W1, W2 = w
            H = H + W2 * (W1 * H)
    return time.perf_counter() - t, H


def main():
    d, n, k, bits = (int(x) for x in (sys.argv[1:5] if len(sys.argv) >= 5 else (20, 40, 12, 256)))
    data = gaussian(d, n, seed=0)
    a = sp.Rational(1, 10**6)
    v = THEOREM.variant("exact")
    con = v.build()
    alg = Algebra()
    rec = next(c for c in v.claims(con, alg) if c.kind == "certified").spec.recursion
    be = ArbBackend(bits)
    print(f"newton_k_plus_8 variant exact, d={d}, n={n}, k={k}, {bits} bits")
    with be.precision(bits):
        net = Network(con, d, n, be, {alpha: a})
        H = net.embed(data)
        rows = net.from_rows
        # the dense token matrix
        D, N = net.D, net.N
        H0 = be._M(D, N)
        for b, s in net.offsets.items():
            for r in range(s.stop - s.start):
                for q in range(N):
                    H0[s.start + r, q] = H[b][r, q]
        runs = [dense_forward(con, net, H0, k) for _ in range(2)]
        best_dense, Hd = min(r[0] for r in runs), runs[0][1]
        t = time.perf_counter()
        for _ in range(2):
            HH = net.embed(data)
            for stage, it, L in con.layers(k):
                HH = net.apply_layer(L, HH, it if stage == "step" else 0)
        ours = (time.perf_counter() - t) / 2
        same = all((Hd[sl.start + r, q] - HH[b][r, q]).contains(0) for b, sl in net.offsets.items()
                   for r in range(sl.stop - sl.start) for q in range(N))
        if not same:
            raise SystemExit("the dense baseline does not compute the same network: no comparison")
    t = time.perf_counter()
    o, _ = checks.certified(con, rec, data, k, {alpha: a}, bits, readout_each=False)
    full = time.perf_counter() - t
    print(f"baseline: dense arb_mat forward pass (D={D} x N={N}; its balls overlap ours in every entry): "
          f"{best_dense:.3f} s")
    print(f"ours, the block-wise network alone: {ours:.3f} s; ratio {ours / best_dense:.2f}")
    print(f"ours, the whole certified check ({o.verdict}: network, recursion, every layer compared): {full:.3f} s; "
          f"ratio {full / best_dense:.2f} ({'met' if full <= 3 * best_dense else 'NOT met'}: target <= 3)")


if __name__ == "__main__":
    main()
