"""The forward pass of a construction, written once for every backend.

Implements exactly the semantics documented in :mod:`symbolic.layers`.  The
hidden state is a D x N matrix (one column per token).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import sympy as sp

from symbolic.layers import MLP, Attention, BlockMap, Construction, Layer, Mov, Mul
from symbolic.layout import Layout, d as d_sym

from .backends import Backend, eval_coeff


@dataclass
class Data:
    """One in-context regression prompt: X (n x d), y (n), x_test (d), as
    exact rationals or floats (python lists)."""
    X: list[list]
    y: list
    x_test: list

    @property
    def n(self) -> int:
        return len(self.X)

    @property
    def d(self) -> int:
        return len(self.x_test)


@dataclass
class Network:
    """A construction made concrete at sizes d, n on one backend."""
    con: Construction
    d: int
    n: int
    be: Backend
    params: Mapping[sp.Symbol, object]
    offsets: dict = field(init=False)
    seq: list = field(init=False)

    def __post_init__(self):
        self.sizes = {d_sym: self.d}
        self.offsets = self.con.layout.offsets(self.sizes)
        self.D = self.con.layout.concrete_width(self.sizes)
        self.seq = self.con.tokens.sequence(self.n)
        self._cache: dict = {}
        self.values = dict(self.params)
        for s in self.con.params:
            if s.name == "n":
                self.values[s] = self.n

    # -- weights --------------------------------------------------------------
    def dense(self, W: BlockMap, out: Layout, inp: Layout):
        key = (id(W), id(out), id(inp))
        if key in self._cache:
            return self._cache[key][0]
        be = self.be
        oo, io = out.offsets(self.sizes), inp.offsets(self.sizes)
        R, C = out.concrete_width(self.sizes), inp.concrete_width(self.sizes)
        rows = [[be.num(0)] * C for _ in range(R)]
        for o, i, c in W:
            v = eval_coeff(c, self.values, be)
            so, si = oo[o], io[i]
            for r in range(so.stop - so.start):
                rows[so.start + r][si.start + r] = v
        M = be.matrix(rows)
        self._cache[key] = (M, W)  # keep W alive so id() stays unique
        return M

    # -- tokens -----------------------------------------------------------------
    def embed(self, data: Data):
        be = self.be
        if data.d != self.d or data.n != self.n or any(len(r) != self.d for r in data.X) or len(data.y) != self.n:
            raise ValueError(f"data shapes do not match d={self.d}, n={self.n}")
        cols = []
        for kind, j in self.seq:
            col = [be.num(0)] * self.D
            for block, inp in self.con.tokens.kind(kind).inputs:
                sl = self.offsets[block]
                vals = {"x": lambda: data.X[j], "y": lambda: [data.y[j]], "one": lambda: [1],
                        "x_test": lambda: data.x_test}[inp]()
                if len(vals) != sl.stop - sl.start:
                    raise ValueError(f"input {inp} does not fit block {block}")
                for r, v in enumerate(vals):
                    col[sl.start + r] = be.num(v)
            cols.append(col)
        return be.matrix([[cols[t][i] for t in range(len(cols))] for i in range(self.D)])

    def token_mask(self, kinds) -> list[int]:
        return [1 if kinds is None or k in kinds else 0 for k, _ in self.seq]

    # -- layers -----------------------------------------------------------------
    def apply_layer(self, layer: Layer, H):
        for op in layer.ops:
            H = self.apply_op(op, H)
        return H

    def apply_op(self, op, H):
        be, lay = self.be, self.con.layout
        N = len(self.seq)
        qmask = self.token_mask(op.queries)
        if isinstance(op, Attention):
            kmask = self.token_mask(op.keys)
            M = [[qmask[t] * kmask[j] * (1 if (not op.causal or j <= t) else 0) for j in range(N)] for t in range(N)]
            total = None
            for h in op.heads:
                K = self.dense(h.W_KQ, lay, lay)
                V = self.dense(h.W_PV, lay, lay)
                S = be.mm(be.T(H), be.mm(K, H))  # S[t, j] = h_t' W h_j
                if op.activation == "relu":
                    A = be.mask(be.relu(S), M)
                elif op.activation == "linear":
                    A = be.mask(S, M)
                else:
                    A = be.softmax_rows(S, M)
                if op.normalizer == "n" and op.activation != "softmax":
                    A = be.scale(be.num(sp.Rational(1, self.n)), A)
                upd = be.mm(be.mm(V, H), be.T(A))
                total = upd if total is None else be.add(total, upd)
            return be.add(H, total)
        if isinstance(op, MLP):
            W1 = self.dense(op.W1, op.hidden, lay)
            W2 = self.dense(op.W2, lay, op.hidden)
            Z = be.mm(W1, H)
            if op.activation == "relu":
                Z = be.relu(Z)
            upd = be.mm(W2, Z)
            return be.add(H, be.mask(upd, [qmask] * self.D))
        if isinstance(op, Mov):
            H2 = be.copy(H)
            s, t_ = self.offsets[op.src], self.offsets[op.dst]
            for t in range(1, N):
                if qmask[t]:
                    for r in range(s.stop - s.start):
                        H2[t_.start + r, t] = H2[t_.start + r, t] + H[s.start + r, t - 1]
            return H2
        if isinstance(op, Mul):
            H2 = be.copy(H)
            a, b, o = self.offsets[op.a], self.offsets[op.b], self.offsets[op.out]
            for t in range(N):
                if not qmask[t]:
                    continue
                if a.stop - a.start == 1:
                    for r in range(b.stop - b.start):
                        H2[o.start + r, t] = H2[o.start + r, t] + H[a.start, t] * H[b.start + r, t]
                else:
                    acc = be.num(0)
                    for r in range(a.stop - a.start):
                        acc = acc + H[a.start + r, t] * H[b.start + r, t]
                    H2[o.start, t] = H2[o.start, t] + acc
            return H2
        raise TypeError(op)

    def run(self, data: Data, k: int, keep: bool = True):
        """Returns (prediction, trace); trace lists (stage, iteration, layer, H)."""
        H = self.embed(data)
        trace = []
        for stage, it, layer in self.con.layers(k):
            H = self.apply_layer(layer, H)
            if keep:
                trace.append((stage, it, layer.name, H))
        return self.read(H), trace

    def read(self, H, kind: str | None = None, block: str | None = None, token: int | None = None):
        kind = kind or self.con.output[0]
        block = block or self.con.output[1]
        col = token if token is not None else max(t for t, (kk, _) in enumerate(self.seq) if kk == kind)
        sl = self.offsets[block]
        return [H[r, col] for r in range(sl.start, sl.stop)] if sl.stop - sl.start > 1 else H[sl.start, col]

    def block_of(self, H, kind: str, block: str) -> list[tuple[int | None, list]]:
        sl = self.offsets[block]
        return [(j, [H[r, t] for r in range(sl.start, sl.stop)])
                for t, (kk, j) in enumerate(self.seq) if kk == kind]
