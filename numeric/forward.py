"""The forward pass of a construction, written once for every backend.

Implements exactly the semantics documented in :mod:`symbolic.layers`.  The
hidden state is held per named block (block -> size x N matrix, one column per
token), so a weight entry ``(out, in) -> c`` is applied as ``c * H[in]`` and no
dense D x D matrix is ever formed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import sympy as sp

from symbolic.layers import BUILTIN_INPUTS, BlockMap, Construction, Layer, letter, split_entry
from symbolic.layout import d as d_sym, m as m_sym

from .backends import Backend, eval_coeff, symmetric_part


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

    @property
    def m(self) -> int:
        """Label dimension: 1 for scalar labels, else the length of each y_j."""
        return len(self.y[0]) if self.y and isinstance(self.y[0], (list, tuple)) else 1


Hidden = dict  # block name -> backend matrix (size x N)


def example_rows(E, params: dict, n: int, d: int) -> list[list]:
    """The n rows (each of E.rows = 1 or d entries) the run's parameters hold under the per-example letter
    ``E.symbol`` (symbolic.layers.ExampleLetter); a missing or misshapen table is a ValueError naming it."""
    v = params.get(E.symbol)
    if v is None:
        raise ValueError(f"no value for the per-example letter {E.name}")
    rows = [list(r) for r in (v.tolist() if hasattr(v, "tolist") else v)]
    size = d if E.rows == "d" else 1
    if len(rows) != n or any(len(r) != size for r in rows):
        raise ValueError(f"per-example letter {E.name}: {len(rows)} rows of sizes {sorted({len(r) for r in rows})}"
                         f" given, {n} rows of size {size} needed")
    return rows


@dataclass
class Network:
    """A construction made concrete at sizes d, n (and label size m) on one
    backend.  ``params`` maps each scalar parameter's symbol to its value and
    each matrix letter's symbol to its value (a list of rows or a backend
    matrix; for an untied letter, a list of such values, one per iteration)."""
    con: Construction
    d: int
    n: int
    be: Backend
    params: Mapping[sp.Symbol, object]
    m: int = 1
    offsets: dict = field(init=False)
    seq: list = field(init=False)

    def __post_init__(self):
        self.sizes = {d_sym: self.d, m_sym: self.m}
        self.offsets = self.con.layout.offsets(self.sizes)
        self.bsize = {b: s.stop - s.start for b, s in self.offsets.items()}
        self.D = self.con.layout.concrete_width(self.sizes)
        self.seq = self.con.tokens.sequence(self.n, self.d)
        self.N = len(self.seq)
        self.values = dict(self.params)
        for s in self.con.params:
            if s.name == "n":
                self.values[s] = self.n
        self.values.setdefault(d_sym, self.d)       # a weight may carry the size d (a sum over d basis tokens)
        self._coef: dict = {}
        self._masks: dict = {}
        self._letters: dict = {}
        self.iteration = 0             # the step being applied (1..k), for untied letters

    def coef(self, c):
        key = sp.srepr(c)
        if key not in self._coef:
            self._coef[key] = eval_coeff(c, self.values, self.be)
        return self._coef[key]

    def letter_value(self, name: str):
        """The backend matrix of a matrix letter (``A'`` is the transpose of ``A``)."""
        base, tr = (name[:-1], True) if name.endswith("'") else (name, False)
        decl = next((L for L in self.con.letters if L.name == base), None)
        if decl is None:
            raise ValueError(f"matrix letter {base} is not declared by the construction")
        it = self.iteration if decl.untied else 0
        key = (base, it)
        if key not in self._letters:
            v = self.params.get(letter(base))
            if v is None:
                raise ValueError(f"no value for matrix letter {base}")
            if decl.untied:
                if not 1 <= it <= len(v):
                    raise ValueError(f"untied letter {base} has {len(v)} values, iteration {it} asked")
                v = v[it - 1]
            v = v if not isinstance(v, list) else self.be.matrix(v)
            if decl.symmetric:          # a symmetric letter's value is symmetric by construction
                v = symmetric_part(v, self.be)
            self._letters[key] = v
        v = self._letters[key]
        return self.be.T(v) if tr and not decl.symmetric else v

    def example_value(self, E, j: int) -> list:
        """The value of the per-example letter ``E`` on example j (row j of :func:`example_rows`)."""
        return example_rows(E, self.params, self.n, self.d)[j]

    def apply_entry(self, c, X):
        """An entry applied to a block: c X, or c L X for a matrix letter L."""
        s, L = split_entry(c)
        if L is not None:
            X = self.be.mm(self.letter_value(L), X)
        return self.be.scale(self.coef(s), X)

    # -- tokens -----------------------------------------------------------------
    def embed(self, data: Data) -> Hidden:
        be = self.be
        if data.d != self.d or data.n != self.n or any(len(r) != self.d for r in data.X) or len(data.y) != self.n \
                or data.m != self.m:
            raise ValueError(f"data shapes do not match d={self.d}, n={self.n}, m={self.m}")
        rows = {b: [[0] * self.N for _ in range(k)] for b, k in self.bsize.items()}
        exl = {E.name: E for E in self.con.example_letters}
        columns = {L.name for L in self.con.letters if L.cols == "1"} - BUILTIN_INPUTS   # the engine's inputs first
        for t, (kind, j) in enumerate(self.seq):
            for block, inp in self.con.tokens.kind(kind).inputs:
                if inp.endswith("*e"):              # column j of a matrix letter, on basis token j
                    M = self.letter_value(inp[:-2])
                    for r in range(self.bsize[block]):
                        rows[block][r][t] = be.get(M, r, j)
                    continue
                if inp in exl:                      # a per-example letter: row j of its values (n x rows)
                    for r, v in enumerate(self.example_value(exl[inp], j)):
                        rows[block][r][t] = v
                    continue
                if inp in columns:
                    M = self.letter_value(inp)      # a one-column matrix letter, the same on every such token
                    for r in range(self.bsize[block]):
                        rows[block][r][t] = be.get(M, r, 0)
                    continue
                vals = {"x": lambda: data.X[j], "y": lambda: list(data.y[j]) if data.m > 1 or isinstance(
                            data.y[j], (list, tuple)) else [data.y[j]], "one": lambda: [1],
                        "x_test": lambda: data.x_test,
                        "e": lambda: [1 if r == j else 0 for r in range(self.d)], "pos": lambda: [t + 1], "pos2": lambda: [(t + 1) ** 2]}[inp]()
                if len(vals) != self.bsize[block]:
                    raise ValueError(f"input {inp} does not fit block {block}")
                for r, v in enumerate(vals):
                    rows[block][r][t] = v
        return {b: be.matrix(r) for b, r in rows.items()}

    def from_rows(self, full_rows) -> Hidden:
        """A hidden state from a full D x N table (rows in layout order)."""
        return {b: self.be.matrix([list(full_rows[i]) for i in range(s.start, s.stop)])
                for b, s in self.offsets.items()}

    def token_mask(self, kinds) -> list[int]:
        return [1 if kinds is None or k in kinds else 0 for k, _ in self.seq]

    def attn_mask(self, op):
        key = (op.queries, op.keys, op.causal)
        if key not in self._masks:
            q, k = self.token_mask(op.queries), self.token_mask(op.keys)
            self._masks[key] = [[q[t] * k[j] * (1 if (not op.causal or j <= t) else 0) for j in range(self.N)]
                                for t in range(self.N)]
        return self._masks[key]

    # -- layers -----------------------------------------------------------------
    def apply_layer(self, layer: Layer, H: Hidden, iteration: int | None = None) -> Hidden:
        if iteration is not None:
            self.iteration = iteration
        for op in layer.ops:
            H = self.apply_op(op, H)
        return H

    def linear(self, W: BlockMap, H: Hidden) -> Hidden:
        be, out = self.be, {}
        for o, i, c in W:
            if i not in H:          # a hidden unit no entry of W1 writes is zero
                continue
            term = self.apply_entry(c, H[i])
            out[o] = term if o not in out else be.add(out[o], term)
        return out

    def add_update(self, H: Hidden, upd: Hidden, qmask=None) -> Hidden:
        be, H2 = self.be, dict(H)
        for b, u in upd.items():
            if qmask is not None and not all(qmask):
                u = be.mask(u, [qmask] * self.bsize[b])
            H2[b] = be.add(H2[b], u)
        return H2

    def apply_op(self, op, H: Hidden) -> Hidden:
        return op.forward(self, H)

    def run(self, data: Data, k: int, keep: bool = True):
        """Returns (prediction, trace); trace lists (stage, iteration, layer, H)."""
        H = self.embed(data)
        trace = []
        for stage, it, layer in self.con.layers(k):
            H = self.apply_layer(layer, H, it if stage == "step" else 0)
            if keep:
                trace.append((stage, it, layer.name, H))
        return self.read(H), trace

    def output_token(self, kind: str) -> int:
        return max(t for t, (kk, _) in enumerate(self.seq) if kk == kind)

    def read(self, H: Hidden, kind: str | None = None, block: str | None = None, token: int | None = None):
        kind = kind or self.con.output[0]
        block = block or self.con.output[1]
        col = token if token is not None else self.output_token(kind)
        B, get = H[block], self.be.get
        vals = [get(B, r, col) for r in range(self.bsize[block])]
        return vals if len(vals) > 1 else vals[0]

    def block_of(self, H: Hidden, kind: str, block: str) -> list[tuple[int | None, list]]:
        B, get = H[block], self.be.get
        return [(j, [get(B, r, t) for r in range(self.bsize[block])])
                for t, (kk, j) in enumerate(self.seq) if kk == kind]
