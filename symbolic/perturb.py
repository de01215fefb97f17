"""Single-block perturbations of a construction, for negative tests: every
verdict must be able to fail."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
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
    ops: int = field(default=1, compare=False)     # ops in the layer: the op is named when there are several

    def __str__(self):
        h = f" head {self.head + 1}" if self.head is not None else ""
        o = f" op {self.op + 1}" if self.ops > 1 else ""
        return f"layer {self.layer}{o}{h} {self.matrix} entry {self.entry}"


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
                        yield Site(stage, L.name, oi, hi, mname, ei, len(L.ops)), e


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


# ---------------------------------------------------------------- the mutation operators (python -m theorems.mutate)
def _layer_of(con: Construction, site: Site):
    groups = {"init": con.init, "step": con.step, "readout": con.readout}
    return next(L for L in groups[site.stage] if L.name == site.layer)


def _matrix_of(con: Construction, site: Site):
    op = _layer_of(con, site).ops[site.op]
    return next(b for h, name, b in op.weights() if h == site.head and name == site.matrix)


def with_entries(con: Construction, site: Site, entries: tuple) -> Construction:
    """The construction with the weight matrix at ``site`` holding ``entries`` (shared layers stay shared);
    raises ValueError when the result does not fit the layout."""
    groups = {"init": con.init, "step": con.step, "readout": con.readout}
    layer = _layer_of(con, site)
    op = layer.ops[site.op]
    bm = _matrix_of(con, site)
    ops = list(layer.ops)
    ops[site.op] = op.with_weight(site.head, site.matrix, type(bm)(tuple(entries)))
    new_layer = replace(layer, ops=tuple(ops))
    return replace(con, **{st: tuple(new_layer if L is layer else L for L in groups[st]) for st in groups})


def entry_mutations(con: Construction, site: Site) -> Iterator[tuple[str, tuple]]:
    """Every mutation of one weight entry, as (mode, the matrix's new entries): zeroed, sign flipped, scaled,
    transposed (its blocks swapped), swapped with a later entry of the same matrix whose blocks have the same
    sizes, each numeric constant of its coefficient changed (c -> c + 1), each parameter in it doubled.
    Mutations that leave the matrix as it was are skipped."""
    import sympy as sp
    from .layers import split_entry
    bm = _matrix_of(con, site)
    entries = list(bm.entries)
    o, i, c = entries[site.entry]
    op = _layer_of(con, site).ops[site.op]
    hidden = getattr(op, "hidden", None)
    out_l, in_l = {"W1": (hidden, con.layout), "W2": (con.layout, hidden)}.get(site.matrix, (con.layout, con.layout))
    seen = {c}

    def put(new):
        out = list(entries)
        if new is None:
            del out[site.entry]
        else:
            out[site.entry] = new
        return tuple(out)

    yield "zero", put(None)
    yield "sign", put((o, i, -c))
    yield "scale", put((o, i, 2 * c))
    seen |= {-c, 2 * c}
    if o != i:
        try:
            yield "transpose", put((i, o, _transpose_entry(c)))
        except Exception:
            pass
    for j in range(site.entry + 1, len(entries)):
        o2, i2, c2 = entries[j]
        if c2 == c or (o2, i2) == (o, i):
            continue
        if sp.simplify(out_l.size(o) - out_l.size(o2)) == 0 and sp.simplify(in_l.size(i) - in_l.size(i2)) == 0:
            out = list(entries)
            out[site.entry], out[j] = (o, i, c2), (o2, i2, c)
            yield f"swap with entry {j}", tuple(out)
    s, L = split_entry(c)
    for a in sorted(s.atoms(sp.Number), key=lambda x: (float(x), str(x))):
        new = c.xreplace({a: a + 1})
        if new not in seen:
            seen.add(new)
            yield f"constant {a} -> {a + 1}", put((o, i, new))
    for p in sorted(s.free_symbols, key=str):
        new = c.xreplace({p: 2 * p})
        if new not in seen:
            seen.add(new)
            yield f"parameter {p} -> 2{p}", put((o, i, new))


def _kinds_toggled(current, kinds):
    cur = set(kinds if current is None else current)
    for k in kinds:
        new = cur ^ {k}
        if new and new != cur:
            yield k, tuple(x for x in kinds if x in new)


def structure_mutations(con: Construction) -> Iterator[tuple[str, str, object, str]]:
    """Mutations of a construction's parameters other than weight entries, as (where, mode, thunk, layer): each
    op's activation, normaliser, causal mask, key and query kinds; an op dropped or two ops swapped; a layer
    dropped, duplicated or swapped with its neighbour.  The thunk builds the mutant (it may raise
    ValueError when the mutant does not fit the layout); ``layer`` names the layer it changes."""
    groups = {"init": con.init, "step": con.step, "readout": con.readout}
    kinds = tuple(k.name for k in con.tokens.kinds)
    seen: list = []

    def put_layer(layer, new_layer):
        return lambda: replace(con, **{st: tuple(new_layer if L is layer else L for L in groups[st])
                                       for st in groups})

    for stage, layers in groups.items():
        for li, L in enumerate(layers):
            if any(L is x for x in seen):
                continue
            seen.append(L)
            for oi, op in enumerate(L.ops):
                at = f"layer {L.name} op {oi + 1} ({op.kind})"

                def put_op(new_op, L=L, oi=oi):
                    ops = list(L.ops)
                    ops[oi] = new_op
                    return put_layer(L, replace(L, ops=tuple(ops)))

                acts = ("linear", "relu", "softmax") if op.kind == "attention" else ("linear", "relu")
                if op.kind in ("attention", "mlp"):
                    for a in acts:
                        if a != op.activation:
                            yield at, f"activation {op.activation} -> {a}", put_op(replace(op, activation=a)), L.name
                    for k, q in _kinds_toggled(op.queries, kinds):
                        yield at, f"queries: {k} toggled", put_op(replace(op, queries=q)), L.name
                if op.kind == "attention":
                    yield at, f"normaliser {op.normalizer} -> {'none' if op.normalizer == 'n' else 'n'}", \
                        put_op(replace(op, normalizer="none" if op.normalizer == "n" else "n")), L.name
                    yield at, f"causal {op.causal} -> {not op.causal}", put_op(replace(op, causal=not op.causal)), L.name
                    for k, q in _kinds_toggled(op.keys, kinds):
                        yield at, f"keys: {k} toggled", put_op(replace(op, keys=q)), L.name
                if len(L.ops) > 1:
                    yield at, "op dropped", put_layer(L, replace(L, ops=L.ops[:oi] + L.ops[oi + 1:])), L.name
                if oi + 1 < len(L.ops):
                    sw = list(L.ops)
                    sw[oi], sw[oi + 1] = sw[oi + 1], sw[oi]
                    yield at, f"swapped with op {oi + 2}", put_layer(L, replace(L, ops=tuple(sw))), L.name
            at = f"{stage} layer {L.name}"
            rest = layers[:li] + layers[li + 1:]
            if stage != "step" or rest:
                yield at, "layer dropped", (lambda stage=stage, rest=rest: replace(con, **{stage: rest})), L.name
            yield at, "layer duplicated", (lambda stage=stage, li=li, layers=layers:
                                          replace(con, **{stage: layers[:li + 1] + layers[li:]})), L.name
            if li + 1 < len(layers):
                sw = list(layers)
                sw[li], sw[li + 1] = sw[li + 1], sw[li]
                yield at, "swapped with the next layer", \
                    (lambda stage=stage, sw=tuple(sw): replace(con, **{stage: sw})), L.name
