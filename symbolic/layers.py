"""Layers and constructions as immutable data.

Semantics (defined once; every evaluator implements exactly this):

* ``Attention``: for every query token t whose kind is in ``queries``
  ``h_t <- h_t + c * sum_m sum_{j in keys} act(h_t^T W_KQ^m h_j) W_PV^m h_j``
  where ``c`` is ``1/n`` (``normalizer="n"``, n = number of examples, the
  paper's Definition B.1), ``1`` (``"none"``), and ``act`` is ReLU, identity or
  softmax over the keys (then ``c`` is 1).  Keys are the tokens whose kind is in
  ``keys`` (``causal=True`` additionally keeps j <= t).
* ``MLP``: ``h <- h + W2 act(W1 h)`` token-wise, act linear or ReLU.
* ``Mov`` / ``Mul``: borrowed primitives (a theorem module names their source)
  with their *ideal* semantics.  They are assumptions, listed in every
  verdict that rests on them.

A weight is a :class:`BlockMap`: entries ``(out_block, in_block) -> c``.  An
entry is ``c * I`` between two blocks of equal size, or ``c * L`` with ``L`` a
matrix letter the construction declares (:class:`MatrixLetter`: a
preconditioner A_l, an initial weight W_0), written as a noncommutative sympy
symbol of that name in the coefficient.  Coefficients are exact sympy
expressions in the construction parameters (alpha, eta, n, ...).  A value map
``W_PV`` or an MLP matrix is a :class:`Linear` (``out += c L h[in]``); a score
``W_KQ`` is a :class:`Bilinear` (``score += c h_t[q]' L h_j[k]``): the same
entries, two types, so neither is read as the other.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Iterable, Literal, Mapping

import sympy as sp

from .layout import Layout

Activation = Literal["relu", "linear", "softmax"]


# names the symbolic engine gives the data (moments, roles); a weight letter may not take one
RESERVED_LETTERS = frozenset({"I", "S", "b", "z", "C", "Yy", "x_t", "x_j", "x_n", "y_t", "y_j", "y_n", "e_t", "e_j"})


@dataclass(frozen=True)
class MatrixLetter:
    """A matrix a construction's weights carry as a letter (sizes are dimension
    names: "d", "m", "1").  ``untied``: in the unrolled network each repetition
    of the step has its own value (A_0, A_1, ...); otherwise one value is shared."""
    name: str
    rows: str = "d"
    cols: str = "d"
    symmetric: bool = False
    untied: bool = False
    doc: str = ""

    @property
    def shape(self) -> tuple[str, str]:
        return (self.rows, self.cols)

    @property
    def symbol(self) -> sp.Symbol:
        return sp.Symbol(self.name, commutative=False)


# token inputs the engine defines; a declared letter may not take one of these names
BUILTIN_INPUTS = frozenset({"x", "y", "one", "x_test", "e", "pos", "pos2"})


@dataclass(frozen=True)
class ExampleLetter:
    """A per-example quantity a construction declares beside x_j and y_j: example token j holds ``name_j``,
    a scalar (``rows="1"``) or a d-vector (``rows="d"``), whose value the construction does not compute
    (the output of a layer checked elsewhere, e.g. an approximate ReLU net).  A per-example token kind
    reads it with the input ``name``.  The symbolic engine derives its one moment
    (:func:`symbolic.ncalg.example_moment_name`): sum_j q_j x_j = b_q for a scalar, sum_j u_j x_j' = S_ux
    (with its transpose) for a vector; the exact evaluators take its values, one per example, from the
    parameter whose symbol is :attr:`symbol` (an n x rows list of rows)."""
    name: str
    rows: str = "d"
    doc: str = ""

    def __post_init__(self):
        if self.rows not in ("1", "d"):
            raise ValueError(f"per-example letter {self.name}: rows must be '1' (a scalar) or 'd', got {self.rows!r}")
        if not (self.name.isascii() and self.name.isalnum() and self.name[0].isalpha()):
            raise ValueError(f"per-example letter name {self.name!r}: letters and digits only, starting with a letter")
        if self.name in BUILTIN_INPUTS | {"i", "b", "z", "n", "d", "m", "S", "I", "C"}:
            raise ValueError(f"per-example letter name {self.name!r} is taken by the engine (the data, its "
                             "moments, the index or a size)")

    @property
    def symbol(self) -> sp.Symbol:
        """The key of its values among the run's parameters (a noncommutative symbol, like a matrix letter's)."""
        return sp.Symbol(self.name, commutative=False)

    def role_names(self) -> set[str]:
        """The names it takes in the engine: name_t, name_j, name_n (and their transposes) and its moment."""
        from .ncalg import example_moment_name
        m = example_moment_name(self.name, self.rows)
        return {f"{self.name}_{r}" for r in ("t", "j", "n")} | {f"{self.name}_{r}'" for r in ("t", "j", "n")} \
            | {m, m + "'"}


def letter(name: str) -> sp.Symbol:
    """The noncommutative symbol that stands for matrix letter ``name`` in an entry."""
    return sp.Symbol(name, commutative=False)


@functools.lru_cache(maxsize=4096)
def _split_cached(c) -> tuple[sp.Expr, str | None]:
    return _split(c)


def split_entry(c) -> tuple[sp.Expr, str | None]:
    """An entry's scalar coefficient and its matrix letter (None for c * I)."""
    try:
        return _split_cached(c)
    except TypeError:          # unhashable: not a sympy expression
        return _split(c)


def _split(c) -> tuple[sp.Expr, str | None]:
    c = sp.sympify(c)
    comm, nc = c.args_cnc()
    if not nc:
        return c, None
    if len(nc) != 1 or not isinstance(nc[0], sp.Symbol):
        raise ValueError(f"an entry is a scalar times at most one matrix letter, got {c}")
    return sp.Mul(*comm), nc[0].name


@dataclass(frozen=True)
class BlockMap:
    entries: tuple[tuple[str, str, sp.Expr], ...]

    @classmethod
    def of(cls, mapping: Mapping[tuple[str, str], object]):
        return cls(tuple((o, i, sp.sympify(c)) for (o, i), c in mapping.items() if sp.sympify(c) != 0))

    def __iter__(self):
        return iter(self.entries)

    def scaled(self, c):
        return type(self)(tuple((o, i, sp.sympify(c) * v) for o, i, v in self.entries))

    def transposed(self):
        return type(self)(tuple((i, o, _transpose_entry(v)) for o, i, v in self.entries))

    def blocks(self) -> set[str]:
        return {o for o, _, _ in self.entries} | {i for _, i, _ in self.entries}

    def letters(self) -> set[str]:
        return {split_entry(c)[1] for _, _, c in self.entries} - {None}

    def check(self, out_layout: Layout, in_layout: Layout, where: str, letters: Mapping[str, "MatrixLetter"] = None,
              sizes: Mapping[str, sp.Expr] = None) -> None:
        for o, i, c in self.entries:
            if o not in out_layout:
                raise ValueError(f"{where}: output block {o!r} is not in the layout")
            if i not in in_layout:
                raise ValueError(f"{where}: input block {i!r} is not in the layout")
            _, L = split_entry(c)
            if L is None:
                if sp.simplify(out_layout.size(o) - in_layout.size(i)) != 0:
                    raise ValueError(f"{where}: entry ({o}, {i}) joins blocks of sizes "
                                     f"{out_layout.size(o)} and {in_layout.size(i)}")
                continue
            if not letters or L not in letters:
                raise ValueError(f"{where}: entry ({o}, {i}) uses the undeclared matrix letter {L}")
            rows, cols = (sp.sympify((sizes or {}).get(s, s)) for s in letters[L].shape)
            if sp.simplify(out_layout.size(o) - rows) != 0 or sp.simplify(in_layout.size(i) - cols) != 0:
                raise ValueError(f"{where}: entry ({o}, {i}) = {c}: blocks of sizes {out_layout.size(o)} x "
                                 f"{in_layout.size(i)} but {L} is {rows} x {cols}")

    def latex(self, rows: Iterable[str], cols: Iterable[str]) -> str:
        rows, cols = list(rows), list(cols)
        cell = {(o, i): v for o, i, v in self.entries}
        body = r" \\ ".join(" & ".join(_entry_tex(cell.get((r, c), 0)) for c in cols) for r in rows)
        return r"\begin{bmatrix}" + body + r"\end{bmatrix}"


class Linear(BlockMap):
    """A linear map: entries (out_block, in_block), ``out += c L h[in]``."""

    def compose(self, other: "BlockMap") -> "Linear":
        """The product self * other (apply other, then self), entry by entry: a
        paper's factors (P and W_V) are written once and multiplied here."""
        acc: dict = {}
        for o, i, c1 in self.entries:
            for i2, k, c2 in other.entries:
                if i == i2:
                    acc[(o, k)] = acc.get((o, k), 0) + sp.sympify(c1) * sp.sympify(c2)
        return Linear(tuple((o, k, sp.expand(c)) for (o, k), c in acc.items() if sp.expand(c) != 0))


class Bilinear(BlockMap):
    """A bilinear score: entries (query_block, key_block), ``score += c h_t[q]' L h_j[k]``."""

    @classmethod
    def key_query(cls, Q: BlockMap) -> "Bilinear":
        """The score k' Q q of a matrix Q written as the key-query form (Z'QZ: key row, query column)."""
        return cls(Q.transposed().entries)

    @classmethod
    def from_maps(cls, W_Q: BlockMap, W_K: BlockMap) -> "Bilinear":
        """The score (W_Q h_t)' (W_K h_j) = h_t' W_Q' W_K h_j of query and key maps."""
        return cls(Linear(tuple(W_Q.transposed().entries)).compose(W_K).entries)


def _transpose_entry(c):
    s, L = split_entry(c)
    if L is None:
        return c
    return s * letter(L[:-1] if L.endswith("'") else L + "'")


def _entry_tex(v) -> str:
    s, L = split_entry(v)
    s = sp.sympify(s)
    if s == 0:
        return "0"
    base = "I" if L is None else _letter_tex(L)
    if s == 1:
        return base
    if s == -1:
        return "-" + base
    return (r"\left(" + sp.latex(s) + r"\right)" if isinstance(s, sp.Add) else sp.latex(s)) + " " + base


def _letter_tex(L: str) -> str:
    tr = L.endswith("'")
    b = L[:-1] if tr else L
    if "_" in b:
        h, sub = b.split("_", 1)
        b = f"{h}_{{{sub}}}"
    return b + ("^{\\top}" if tr else "")


@dataclass(frozen=True)
class Head:
    W_KQ: Bilinear  # entries (query_block, key_block): score += c * h_t[q]^T L h_j[k]
    W_PV: Linear    # entries (out_block, in_block)

    def __post_init__(self):
        # a score and a value map are different types: read each as what it is
        if not isinstance(self.W_KQ, Bilinear):
            object.__setattr__(self, "W_KQ", Bilinear(tuple(self.W_KQ.entries)))
        if not isinstance(self.W_PV, Linear):
            object.__setattr__(self, "W_PV", Linear(tuple(self.W_PV.entries)))


class Op:
    """The op protocol: every op owns its semantics for every evaluator.

    * ``validate(con, letters, sizes, where)``: its weights fit the layout;
    * ``symbolic(ev, tpl, q, ht, where)``: its update of query kind ``q`` on a
      template, built from the symbolic engine's rules (``ev``: a
      :class:`symbolic.templates.Evaluator`);
    * ``forward(net, H)``: its update of a concrete hidden state on any backend
      (``net``: a :class:`numeric.forward.Network`);
    * ``describe(blocks)``: what the report shows;
    * ``weights()`` / ``with_weight(...)``: its named weight matrices, for
      perturbation and, later, for the export to trainable modules.
    """
    borrowed = False
    queries = None

    def weights(self) -> tuple:
        return ()

    def with_weight(self, head, name, bm):
        raise KeyError(name)


@dataclass(frozen=True)
class Attention(Op):
    heads: tuple[Head, ...]
    activation: Activation = "relu"
    normalizer: Literal["n", "none"] = "n"
    keys: tuple[str, ...] | None = None     # token kinds used as keys (None: all)
    queries: tuple[str, ...] | None = None  # token kinds updated (None: all)
    causal: bool = False
    kind: str = field(default="attention", init=False)

    @classmethod
    def linear_heads(cls, *heads, keys=None, queries=None) -> "Attention":
        """Linear attention without normaliser over ``keys`` (None: every token, no mask), each head given as
        (score entries (query_block, key_block) -> c, value entries (out_block, in_block) -> c)."""
        return cls(tuple(Head(Bilinear(BlockMap.of(kq).entries), Linear(BlockMap.of(pv).entries)) for kq, pv in heads),
                   activation="linear", normalizer="none", keys=keys, queries=queries)

    def validate(self, con, lets, sz, where):
        for m, h in enumerate(self.heads):
            # score c h_t[q]' L h_j[k]: L is q-size x k-size, the shape a map k -> q would have
            h.W_KQ.check(con.layout, con.layout, f"{where} head {m + 1} W_KQ", lets, sz)
            h.W_PV.check(con.layout, con.layout, f"{where} head {m + 1} W_PV", lets, sz)

    def weights(self):
        return tuple((m, name, getattr(h, name)) for m, h in enumerate(self.heads) for name in ("W_KQ", "W_PV"))

    def with_weight(self, head, name, bm):
        heads = list(self.heads)
        heads[head] = replace(heads[head], **{name: bm})
        return replace(self, heads=tuple(heads))

    def symbolic(self, ev, tpl, q, ht, where):
        """sum over the keys of act(score) * value, with the engine's rules: the sum over
        examples (``ev.sum_keys``) and the pairing of ReLU heads (``ev.combine``)."""
        from .templates import LemmaFailure
        alg = ev.alg
        if self.activation == "softmax":
            raise LemmaFailure("softmax attention: no exact symbolic rule", where)
        if self.causal:
            raise LemmaFailure("causal attention: each query sees a different key set; no uniform template rule", where)
        kinds = [k.name for k in ev.con.tokens.kinds]
        keys = [k for k in kinds if self.keys is None or k in self.keys]
        norm = 1 / alg.n if self.normalizer == "n" else sp.Integer(1)
        total: dict = {}
        for kk in keys:
            hj = ev.role(kk, "j", tpl)
            heads = []
            for h in self.heads:
                score = alg.zero()
                for a, b, c in h.W_KQ:
                    if a in ht and b in hj:
                        score = score + ht[a].T * ev.entry(c, hj[b])
                vals = ev.apply_map(h.W_PV, hj)
                if ev.symmetric:
                    score = alg.assume_symmetric(score)
                    vals = {o: alg.assume_symmetric(v) for o, v in vals.items()}
                heads.append((score, vals))
            contrib, selected = ev.combine(self.activation, heads, f"{where}, keys of kind '{kk}'")
            for o, p in contrib.items():
                s = ev.sum_keys(kk, p.scale(norm), f"{where}, keys of kind '{kk}'")
                total[o] = total.get(o, alg.zero()) + s
            for role, vals in selected:   # ReLU picked exactly one key: the one of example `role`
                for o, p in vals.items():
                    total[o] = total.get(o, alg.zero()) + alg.rename(p, "j", role).scale(norm)
        return total

    def forward(self, net, H):
        be = net.be
        M = net.attn_mask(self)
        upd: dict = {}
        for h in self.heads:
            S = None
            for a, b, c in h.W_KQ:  # S[t, j] = sum c * h_t[a]' L h_j[b]
                term = be.mm(be.T(H[a]), net.apply_entry(c, H[b]))
                S = term if S is None else be.add(S, term)
            if S is None:
                continue
            if self.activation == "softmax":
                A = be.softmax_rows(S, M)
            else:
                c = be.num(sp.Rational(1, net.n)) if self.normalizer == "n" else be.num(1)
                A = be.act_mask(S, M, self.activation, c)
            At = be.T(A)
            for o, i, c in h.W_PV:
                term = be.mm(net.apply_entry(c, H[i]), At)
                upd[o] = term if o not in upd else be.add(upd[o], term)
        return net.add_update(H, upd)

    def describe(self, blocks):
        used = sorted({x for h in self.heads for x in (*h.W_KQ.blocks(), *h.W_PV.blocks())}, key=blocks.index)
        return {"kind": f"attention ({self.activation}, {'1/n' if self.normalizer == 'n' else 'no'} normaliser, "
                        f"keys: {', '.join(self.keys) if self.keys else 'all tokens'})",
                "heads": [{"W_KQ": h.W_KQ.latex(used, used), "W_PV": h.W_PV.latex(used, used)} for h in self.heads],
                "blocks": used}


@dataclass(frozen=True)
class MLP(Op):
    hidden: Layout
    W1: Linear  # (hidden_block, in_block)
    W2: Linear  # (out_block, hidden_block)
    activation: Literal["linear", "relu"] = "linear"
    queries: tuple[str, ...] | None = None
    kind: str = field(default="mlp", init=False)

    def validate(self, con, lets, sz, where):
        self.W1.check(self.hidden, con.layout, f"{where} MLP W1", lets, sz)
        self.W2.check(con.layout, self.hidden, f"{where} MLP W2", lets, sz)

    def weights(self):
        return ((None, "W1", self.W1), (None, "W2", self.W2))

    def with_weight(self, head, name, bm):
        return replace(self, **{name: bm})

    def symbolic(self, ev, tpl, q, ht, where):
        from .templates import LemmaFailure
        if self.activation != "linear":
            raise LemmaFailure("ReLU MLP: no symbolic rule (argument sign unknown)", where)
        return ev.apply_map(self.W2, ev.apply_map(self.W1, ht))

    def forward(self, net, H):
        Z = net.linear(self.W1, H)
        if self.activation == "relu":
            Z = {b: net.be.relu(z) for b, z in Z.items()}
        return net.add_update(H, net.linear(self.W2, Z), net.token_mask(self.queries))

    def describe(self, blocks):
        used = sorted({o for o, _, _ in self.W2} | {i for _, i, _ in self.W1}, key=blocks.index)
        return {"kind": f"MLP ({self.activation}), h + W h", "W": self.W2.latex(used, used), "blocks": used}

    @classmethod
    def linear(cls, W: BlockMap, layout: Layout, queries=None) -> "MLP":
        """``h <- h + W h``: hidden units are copies of the blocks W reads."""
        reads = sorted({i for _, i, _ in W}, key=layout.names.index)
        hidden = Layout(tuple(layout.block(r) for r in reads))
        W1 = Linear(tuple((r, r, sp.Integer(1)) for r in reads))
        return cls(hidden, W1, Linear(tuple(W.entries)), "linear", queries)


@dataclass(frozen=True)
class Mov(Op):
    """Copy block ``src`` of the previous token into block ``dst`` (added)."""
    src: str
    dst: str
    queries: tuple[str, ...]
    exact_in_source: bool = False
    source: str = "a borrowed primitive"      # where it comes from: the theorem module says
    kind: str = field(default="mov", init=False)
    borrowed = True

    def validate(self, con, lets, sz, where):
        con.layout.check_same_size(self.src, self.dst, f"{where} mov")

    def symbolic(self, ev, tpl, q, ht, where):
        pk, role = ev.predecessor(q, where)
        src = ev.role(pk, role, tpl).get(self.src)
        return {self.dst: src} if src is not None else {}

    def forward(self, net, H):
        be, qmask = net.be, net.token_mask(self.queries)
        src, dst = H[self.src], be.copy(H[self.dst])
        for t in range(1, net.N):
            if qmask[t]:
                for r in range(net.bsize[self.dst]):
                    be.set(dst, r, t, be.get(dst, r, t) + be.get(src, r, t - 1))
        return {**H, self.dst: dst}

    def describe(self, blocks):
        return {"kind": f"mov (borrowed): block {self.src} of the previous token into block {self.dst} of "
                        f"{', '.join(self.queries)}"}


@dataclass(frozen=True)
class Mul(Op):
    """Within each query token: ``out += a * b`` (scalar times vector, or the
    inner product when a and b have equal size and out is a scalar)."""
    a: str
    b: str
    out: str
    queries: tuple[str, ...]
    exact_in_source: bool = False
    source: str = "a borrowed primitive"      # where it comes from: the theorem module says
    kind: str = field(default="mul", init=False)
    borrowed = True

    def validate(self, con, lets, sz, where):
        for b in (self.a, self.b, self.out):
            con.layout.block(b)

    def symbolic(self, ev, tpl, q, ht, where):
        a, b = ht.get(self.a, ev.alg.zero()), ht.get(self.b, ev.alg.zero())
        return {self.out: a * b} if ev.con.layout.size(self.a) == 1 else {self.out: a.T * b}

    def forward(self, net, H):
        be, qmask = net.be, net.token_mask(self.queries)
        A, B, out = H[self.a], H[self.b], be.copy(H[self.out])
        for t in range(net.N):
            if not qmask[t]:
                continue
            if net.bsize[self.a] == 1:
                for r in range(net.bsize[self.b]):
                    be.set(out, r, t, be.get(out, r, t) + be.get(A, 0, t) * be.get(B, r, t))
            else:
                acc = be.num(0)
                for r in range(net.bsize[self.a]):
                    acc = acc + be.get(A, r, t) * be.get(B, r, t)
                be.set(out, 0, t, be.get(out, 0, t) + acc)
        return {**H, self.out: out}

    def describe(self, blocks):
        return {"kind": f"mul (borrowed): {self.a} * {self.b} into {self.out} in {', '.join(self.queries)}"}


Op = Attention | MLP | Mov | Mul


@dataclass(frozen=True)
class Layer:
    """One layer as the paper counts layers: a sequence of sub-operations."""
    name: str
    ops: tuple[Op, ...]
    cite: str = ""
    note: str = ""

    def primitives(self) -> list[Mov | Mul]:
        return [o for o in self.ops if o.borrowed]


@dataclass(frozen=True)
class TokenKind:
    """A kind of token.  ``per_example``: one token per example (n of them, example j holding x_j, y_j);
    ``basis``: one token per coordinate (d of them, token j holding the basis vector e_j in an input
    ``e``: the "matrix tokens" whose blocks hold the columns M e_j of d x d matrices); neither: one token."""
    name: str
    inputs: tuple[tuple[str, str], ...]  # (block, input): x, y, one, x_test, pos, pos2, e, or "L*e" (a declared
    # matrix letter L times e_j: column j of L, on a basis token), or "L" (a declared one-column matrix letter:
    # the same column on every token of the kind), or a declared per-example letter's name (on example tokens)
    per_example: bool = True
    basis: bool = False

    def __post_init__(self):
        if self.basis and self.per_example:
            raise ValueError(f"token kind {self.name}: a basis kind (d tokens) is not per example (n tokens); "
                             "give per_example=False")
        if not self.basis and any(i == "e" or i.endswith("*e") for _, i in self.inputs):
            raise ValueError(f"token kind {self.name}: input e (the basis vector e_j) exists on basis kinds only")
        if self.basis and any(i in ("x", "y", "pos", "pos2") for _, i in self.inputs):
            raise ValueError(f"token kind {self.name}: a basis token holds no example and no position input")


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
    def basis_kinds(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.kinds if k.basis)

    @property
    def tail_kinds(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.kinds if not k.per_example and not k.basis)

    def sequence(self, n: int, d: int | None = None) -> list[tuple[str, int | None]]:
        """Token order: for each example the per-example kinds, then for each coordinate j = 1..d the basis
        kinds, then the tail."""
        seq: list[tuple[str, int | None]] = [(k, j) for j in range(n) for k in self.example_kinds]
        if self.basis_kinds:
            if d is None:
                raise ValueError("a token format with basis tokens needs d for its sequence")
            seq += [(k, j) for j in range(d) for k in self.basis_kinds]
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
    letters: tuple[MatrixLetter, ...] = ()      # matrix letters the weights carry
    sizes: tuple[tuple[str, sp.Expr], ...] = (("d", sp.Symbol("d", positive=True, integer=True)),
                                              ("m", sp.Symbol("m", positive=True, integer=True)),
                                              ("1", sp.Integer(1)))
    # per-example quantities the tokens hold beside x_j, y_j; a field added after the mutation records were
    # taken, so it enters their digest only when set (theorems.mutate._canon)
    example_letters: tuple[ExampleLetter, ...] = field(default=(), metadata={"digest": "when-set"})

    def __post_init__(self):
        clash = [L.name for L in self.letters if L.name in RESERVED_LETTERS or L.name.endswith("'")]
        if clash:
            raise ValueError(f"{self.name}: matrix letter name(s) {clash} are reserved for the data "
                             f"({', '.join(sorted(RESERVED_LETTERS))}) or are a transpose")
        exn = [E.name for E in self.example_letters]
        taken = set().union(*(E.role_names() for E in self.example_letters)) if exn else set()
        bad = sorted({n for n in exn if exn.count(n) > 1} | {L.name for L in self.letters if L.name in taken or
                                                              L.name in exn})
        if bad:
            raise ValueError(f"{self.name}: the name(s) {bad} are declared twice, or a matrix letter takes a name of "
                             "a per-example letter (its roles name_t, name_j, name_n or its moment)")
        # a weight parameter named like a symbol the engine gives the data (the label y_j, the index i_j, y'y)
        # or a per-example letter (q_j) would be read as that symbol by the symbolic rules and as its own
        # value by the exact evaluator: a proof of something false
        engine = {f"{s}_{r}" for s in ("y", "i") for r in ("t", "j", "n")} | {"yy", "d", "m"} | taken
        named = sorted(str(p) for p in self.params if str(p) in engine)
        if named:
            raise ValueError(f"{self.name}: the parameter name(s) {named} are the engine's own symbols (the label "
                             "y, the index i, y'y, the sizes d and m, or a per-example letter's roles)")
        lets = {L.name: L for L in self.letters}
        lets.update({L.name + "'": MatrixLetter(L.name + "'", L.cols, L.rows, L.symmetric, L.untied)
                     for L in self.letters})      # L' (= L for a symmetric letter)
        sz = dict(self.sizes)
        for stage, layer, op in self.all_ops():
            op.validate(self, lets, sz, f"{self.name}: layer {layer.name}")
        exl = {E.name: E for E in self.example_letters}
        for k in self.tokens.kinds:
            for b, i in k.inputs:
                self.layout.block(b)
                if i not in BUILTIN_INPUTS and not i.endswith("*e"):
                    if i in exl:
                        if not k.per_example:
                            raise ValueError(f"{self.name}: token kind {k.name} reads the per-example letter {i}, "
                                             "but it is not an example token")
                        rows = sp.sympify(sz[exl[i].rows])
                    elif i in lets and lets[i].cols == "1":
                        rows = sp.sympify(sz.get(lets[i].rows, lets[i].rows))
                    else:
                        raise ValueError(f"{self.name}: token kind {k.name}: input {i!r} is neither an input of the "
                                         "engine, a per-example letter, nor a one-column matrix letter of the "
                                         "construction")
                    if sp.simplify(self.layout.size(b) - rows) != 0:
                        raise ValueError(f"{self.name}: token kind {k.name} puts {i} ({rows} x 1) in block {b} of "
                                         f"size {self.layout.size(b)}")
                    continue
                if i == "e" and sp.simplify(self.layout.size(b) - sz["d"]) != 0:
                    raise ValueError(f"{self.name}: token kind {k.name} puts e_j (size d) in block {b} of size "
                                     f"{self.layout.size(b)}")
                if i.endswith("*e"):
                    L = lets.get(i[:-2])
                    if L is None:
                        raise ValueError(f"{self.name}: token input {i!r} names no matrix letter of the construction")
                    if sp.simplify(self.layout.size(b) - sp.sympify(sz.get(L.rows, L.rows))) != 0 or L.cols != "d":
                        raise ValueError(f"{self.name}: token kind {k.name} puts {L.name} e_j ({L.rows} x 1) in block "
                                         f"{b} of size {self.layout.size(b)}")
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
