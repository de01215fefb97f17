"""The residual stream as named blocks (after tracr's ``craft`` spaces).

A :class:`Layout` is an ordered list of named blocks whose sizes are exact
expressions in the construction's size symbols (``d``).  Weights address blocks
by name; integer offsets exist only inside :meth:`Layout.offsets`, which is the
single place where a concrete size turns names into index ranges.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import sympy as sp

d = sp.Symbol("d", positive=True, integer=True)   # input dimension (N_x)
m = sp.Symbol("m", positive=True, integer=True)   # output dimension (N_y), for vector labels


@dataclass(frozen=True)
class Block:
    name: str
    size: sp.Expr  # d or 1
    doc: str = ""

    def __post_init__(self):
        object.__setattr__(self, "size", sp.sympify(self.size))
        if not self.name.isidentifier():
            raise ValueError(f"block name {self.name!r} is not an identifier")


@dataclass(frozen=True)
class Layout:
    blocks: tuple[Block, ...]

    def __post_init__(self):
        names = [b.name for b in self.blocks]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate block names in layout: {sorted(dup)}")

    @classmethod
    def of(cls, *specs: tuple[str, object] | Block) -> "Layout":
        return cls(tuple(s if isinstance(s, Block) else Block(*s) for s in specs))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.blocks)

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def block(self, name: str) -> Block:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(f"no block {name!r} in layout {list(self.names)}")

    def size(self, name: str) -> sp.Expr:
        return self.block(name).size

    @property
    def width(self) -> sp.Expr:
        """Total width as an exact expression in d."""
        return sp.expand(sum((b.size for b in self.blocks), sp.Integer(0)))

    def offsets(self, sizes: Mapping[sp.Symbol, int]) -> dict[str, slice]:
        """Concrete index range of every block (the only index arithmetic)."""
        out, pos = {}, 0
        for b in self.blocks:
            k = int(b.size.subs(sizes))
            if k < 0:
                raise ValueError(f"block {b.name} has negative size {k}")
            out[b.name] = slice(pos, pos + k)
            pos += k
        return out

    def concrete_width(self, sizes: Mapping[sp.Symbol, int]) -> int:
        return int(self.width.subs(sizes))

    def check_same_size(self, a: str, b: str, where: str) -> None:
        if sp.simplify(self.size(a) - self.size(b)) != 0:
            raise ValueError(
                f"{where}: blocks {a} ({self.size(a)}) and {b} ({self.size(b)}) "
                "have different sizes; a scalar-times-identity entry needs equal sizes")


