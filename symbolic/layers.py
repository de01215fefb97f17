"""Layers and constructions as immutable data.

Semantics (defined once; every evaluator implements exactly this):

* ``Attention``: for every query token t whose kind is in ``queries``
  ``h_t <- h_t + c * sum_m sum_{j in keys} act(h_t^T W_KQ^m h_j) W_PV^m h_j``
  where ``c`` is ``1/n`` (``normalizer="n"``, n = number of examples, the
  paper's Definition B.1), ``1`` (``"none"``), and ``act`` is ReLU, identity or
  softmax over the keys (then ``c`` is 1).  Keys are the tokens whose kind is in
  ``keys`` (``causal=True`` additionally keeps j <= t).
* ``MLP``: ``h <- h + W2 act(W1 h)`` token-wise, act linear or ReLU.
* ``Mov`` / ``Mul``: borrowed primitives (Akyurek et al. 2023, Prop. B.4 in Fu
  et al.) with their *ideal* semantics.  They are assumptions, listed in every
  verdict that rests on them.

A weight is a :class:`BlockMap`: entries ``(out_block, in_block) -> c``, meaning
``c * I`` between two blocks of equal size.  Coefficients are exact sympy
expressions in the construction parameters (alpha, n, ...).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Literal, Mapping

import sympy as sp

from .layout import Layout

Activation = Literal["relu", "linear", "softmax"]


@dataclass(frozen=True)
class BlockMap:
    entries: tuple[tuple[str, str, sp.Expr], ...]

    @classmethod
    def of(cls, mapping: Mapping[tuple[str, str], object]) -> "BlockMap":
        return cls(tuple((o, i, sp.sympify(c)) for (o, i), c in mapping.items() if sp.sympify(c) != 0))

    def __iter__(self):
        return iter(self.entries)

    def scaled(self, c) -> "BlockMap":
        return BlockMap(tuple((o, i, sp.sympify(c) * v) for o, i, v in self.entries))

    def transposed(self) -> "BlockMap":
        return BlockMap(tuple((i, o, v) for o, i, v in self.entries))

    def blocks(self) -> set[str]:
        return {o for o, _, _ in self.entries} | {i for _, i, _ in self.entries}

    def check(self, out_layout: Layout, in_layout: Layout, where: str) -> None:
        for o, i, _ in self.entries:
            if o not in out_layout:
                raise ValueError(f"{where}: output block {o!r} is not in the layout")
            if i not in in_layout:
                raise ValueError(f"{where}: input block {i!r} is not in the layout")
            if sp.simplify(out_layout.size(o) - in_layout.size(i)) != 0:
                raise ValueError(f"{where}: entry ({o}, {i}) joins blocks of sizes "
                                 f"{out_layout.size(o)} and {in_layout.size(i)}")

    def latex(self, rows: Iterable[str], cols: Iterable[str]) -> str:
        rows, cols = list(rows), list(cols)
        cell = {(o, i): v for o, i, v in self.entries}
        body = r" \\ ".join(" & ".join(_entry_tex(cell.get((r, c), 0)) for c in cols) for r in rows)
        return r"\begin{bmatrix}" + body + r"\end{bmatrix}"


def _entry_tex(v) -> str:
    v = sp.sympify(v)
    if v == 0:
        return "0"
    if v == 1:
        return "I"
    if v == -1:
        return "-I"
    return sp.latex(v) + "I"


@dataclass(frozen=True)
class Head:
    W_KQ: BlockMap  # entries (query_block, key_block): score += c * h_t[q]^T h_j[k]
    W_PV: BlockMap  # entries (out_block, in_block)


@dataclass(frozen=True)
class Attention:
    heads: tuple[Head, ...]
    activation: Activation = "relu"
    normalizer: Literal["n", "none"] = "n"
    keys: tuple[str, ...] | None = None     # token kinds used as keys (None: all)
    queries: tuple[str, ...] | None = None  # token kinds updated (None: all)
    causal: bool = False
    kind: str = field(default="attention", init=False)


@dataclass(frozen=True)
class MLP:
    hidden: Layout
    W1: BlockMap  # (hidden_block, in_block)
    W2: BlockMap  # (out_block, hidden_block)
    activation: Literal["linear", "relu"] = "linear"
    queries: tuple[str, ...] | None = None
    kind: str = field(default="mlp", init=False)

    @classmethod
    def linear(cls, W: BlockMap, layout: Layout, queries=None) -> "MLP":
        """``h <- h + W h``: hidden units are copies of the blocks W reads."""
        reads = sorted({i for _, i, _ in W}, key=layout.names.index)
        hidden = Layout(tuple(layout.block(r) for r in reads))
        W1 = BlockMap(tuple((r, r, sp.Integer(1)) for r in reads))
        return cls(hidden, W1, W, "linear", queries)


@dataclass(frozen=True)
class Mov:
    """Copy block ``src`` of the previous token into block ``dst`` (added)."""
    src: str
    dst: str
    queries: tuple[str, ...]
    exact_in_source: bool = False
    source: str = "Akyurek et al. (2023), mov; Fu et al. Prop. B.4"
    kind: str = field(default="mov", init=False)


@dataclass(frozen=True)
class Mul:
    """Within each query token: ``out += a * b`` (scalar times vector, or the
    inner product when a and b have equal size and out is a scalar)."""
    a: str
    b: str
    out: str
    queries: tuple[str, ...]
    exact_in_source: bool = False
    source: str = "Akyurek et al. (2023), mul (GeLU approximation, their Lemma 4); Fu et al. Prop. B.4"
    kind: str = field(default="mul", init=False)


Op = Attention | MLP | Mov | Mul


@dataclass(frozen=True)
class Layer:
    """One layer as the paper counts layers: a sequence of sub-operations."""
    name: str
    ops: tuple[Op, ...]
    cite: str = ""
    note: str = ""

    def primitives(self) -> list[Mov | Mul]:
        return [o for o in self.ops if isinstance(o, (Mov, Mul))]


@dataclass(frozen=True)
class TokenKind:
    name: str
    inputs: tuple[tuple[str, str], ...]  # (block, input) with input in {x, y, one, x_test}
    per_example: bool = True


@dataclass(frozen=True)
class TokenFormat:
    kinds: tuple[TokenKind, ...]
    description: str = ""

    def kind(self, name: str) -> TokenKind:
        for k in self.kinds:
            if k.name == name:
                return k
        raise KeyError(name)

    @property
    def example_kinds(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.kinds if k.per_example)

    @property
    def tail_kinds(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.kinds if not k.per_example)

    def sequence(self, n: int) -> list[tuple[str, int | None]]:
        """Token order: for each example the per-example kinds, then the tail."""
        seq: list[tuple[str, int | None]] = [(k, j) for j in range(n) for k in self.example_kinds]
        return seq + [(k, None) for k in self.tail_kinds]


@dataclass(frozen=True)
class Construction:
    """A layout, a token format and layers: ``init``, then ``step`` repeated k
    times, then ``readout``.  The prediction is block ``output[1]`` of the
    token of kind ``output[0]``."""
    name: str
    layout: Layout
    tokens: TokenFormat
    init: tuple[Layer, ...]
    step: tuple[Layer, ...]
    readout: tuple[Layer, ...]
    output: tuple[str, str]
    params: tuple[sp.Symbol, ...] = ()

    def __post_init__(self):
        for stage, layer, op in self.all_ops():
            where = f"{self.name}: layer {layer.name}"
            if isinstance(op, Attention):
                for m, h in enumerate(op.heads):
                    h.W_KQ.check(self.layout, self.layout, f"{where} head {m + 1} W_KQ")
                    h.W_PV.check(self.layout, self.layout, f"{where} head {m + 1} W_PV")
            elif isinstance(op, MLP):
                op.W1.check(op.hidden, self.layout, f"{where} MLP W1")
                op.W2.check(self.layout, op.hidden, f"{where} MLP W2")
            elif isinstance(op, Mov):
                self.layout.check_same_size(op.src, op.dst, f"{where} mov")
            elif isinstance(op, Mul):
                for b in (op.a, op.b, op.out):
                    self.layout.block(b)
        for k in self.tokens.kinds:
            for b, _ in k.inputs:
                self.layout.block(b)
        self.layout.block(self.output[1])

    def all_ops(self):
        for stage, layers in (("init", self.init), ("step", self.step), ("readout", self.readout)):
            for layer in layers:
                for op in layer.ops:
                    yield stage, layer, op

    def layers(self, k: int) -> list[tuple[str, int, Layer]]:
        """The unrolled network: (stage, iteration, layer)."""
        out = [("init", 0, L) for L in self.init]
        for it in range(1, k + 1):
            out += [("step", it, L) for L in self.step]
        return out + [("readout", 0, L) for L in self.readout]

    def n_layers(self, k: sp.Expr) -> sp.Expr:
        return sp.expand(len(self.init) + len(self.step) * k + len(self.readout))

    def with_layer(self, stage: str, name: str, layer: Layer) -> "Construction":
        groups = {"init": self.init, "step": self.step, "readout": self.readout}
        new = tuple(layer if L.name == name else L for L in groups[stage])
        return replace(self, **{stage: new})
