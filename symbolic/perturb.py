"""Single-block perturbations of a construction, for negative tests: every
verdict must be able to fail."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator


from .layers import Construction, _transpose_entry


@dataclass(frozen=True)
class Site:
    stage: str
    layer: str
    op: int
    head: int | None
    matrix: str       # W_KQ, W_PV, W1, W2
    entry: int

    def __str__(self):
        h = f" head {self.head + 1}" if self.head is not None else ""
        return f"layer {self.layer}{h} {self.matrix} entry {self.entry}"


def sites(con: Construction) -> Iterator[tuple[Site, tuple]]:
    """Every weight entry, once: a layer object that recurs (weights shared between stages, a looped
    construction) is one set of sites."""
    seen: list = []
    for stage, layers in (("init", con.init), ("step", con.step), ("readout", con.readout)):
        for L in layers:
            if any(L is x for x in seen):
                continue
            seen.append(L)
            for oi, op in enumerate(L.ops):
                for hi, mname, bm in op.weights():
                    for ei, e in enumerate(bm.entries):
                        yield Site(stage, L.name, oi, hi, mname, ei), e


def perturb(con: Construction, site: Site, mode: str) -> Construction | None:
    """``mode``: scale (x2), sign (x-1), transpose (swap the entry's blocks).
    Returns None when the perturbation is not defined (transpose of a diagonal
    entry, or of an MLP entry whose blocks are not both in the residual)."""
    groups = {"init": con.init, "step": con.step, "readout": con.readout}
    layer = next(L for L in groups[site.stage] if L.name == site.layer)
    op = layer.ops[site.op]
    bm = next(b for h, name, b in op.weights() if h == site.head and name == site.matrix)
    o, i, c = bm.entries[site.entry]
    if mode == "scale":
        new = (o, i, 2 * c)
    elif mode == "sign":
        new = (o, i, -c)
    elif mode == "transpose":
        if o == i or site.head is None:
            return None
        new = (i, o, _transpose_entry(c))   # a matrix letter L becomes L' between the swapped blocks
    else:
        raise ValueError(mode)
    entries = list(bm.entries)
    entries[site.entry] = new
    op2 = op.with_weight(site.head, site.matrix, type(bm)(tuple(entries)))
    ops = list(layer.ops)
    ops[site.op] = op2
    new_layer = replace(layer, ops=tuple(ops))
    # shared weights stay shared: every occurrence of the same layer object changes together
    return replace(con, **{st: tuple(new_layer if L is layer else L for L in groups[st]) for st in groups})
