"""Symbolic evaluation of layers on templates.

A template gives, for every token kind, each block as a noncommutative
polynomial in the *query role* (letters ``x_t``, ``z``; scalars ``y_t``).  Keys
are the same template renamed to the role ``j`` and summed over the examples
with :func:`~symbolic.ncalg.sum_over_examples`.  The layer semantics are the ones
documented in :mod:`symbolic.layers`; nothing about any paper lives here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import sympy as sp

from .layers import BUILTIN_INPUTS, Construction, Layer, TokenFormat, split_entry
from .layout import Layout
from .ncalg import Alphabet, ExampleLetters, Poly, SumError, example_moment_name, sum_over_basis, sum_over_examples


class LemmaFailure(Exception):
    """A symbolic step that cannot be carried out, with where and why."""

    def __init__(self, message: str, where: str = "", **info):
        super().__init__(message)
        self.where = where
        self.info = info


class Algebra:
    """The letters and symbols every template uses."""

    def __init__(self):
        ab = self.ab = Alphabet()
        self.I = ab.identity("I", "d")            # the d x d identity
        self.S = ab.matrix("S", symmetric=True)   # X'X
        self.b = ab.vector("b")                    # X'y
        self.z = ab.vector("z")                    # x_test
        self.x = {r: ab.vector(f"x_{r}") for r in ("t", "j", "n")}
        self.e = {r: ab.vector(f"e_{r}") for r in ("t", "j")}   # basis tokens: token j holds e_j
        self.y = {r: sp.Symbol(f"y_{r}") for r in ("t", "j", "n")}
        self.yy = sp.Symbol("yy")                  # y'y
        self.n = sp.Symbol("n", positive=True, integer=True)
        # example indices of the roles (the last example's index is n)
        self.i = {"t": sp.Symbol("i_t", positive=True, integer=True),
                  "j": sp.Symbol("i_j", positive=True, integer=True), "n": self.n}
        self.mats: dict[str, Poly] = {}      # state letters (the recursion's T, w, W, ...)
        self.params: dict[str, Poly] = {}    # matrix letters the weights carry (W_0, A, ...)
        self._yv: dict[str, Poly] = {}
        self.examples: dict[str, str] = {}   # per-example letters a construction declares: name -> rows ("1", "d")
        self._ex: dict[str, dict] = {}       # name -> role -> Poly (a vector u_t) or Symbol (a scalar q_t)

    def matrix(self, name: str, symmetric: bool = False, shape: tuple[str, str] = ("d", "d")) -> Poly:
        """A state letter (the recursion's iterate); asking again with another symmetry or shape is an
        error, never a silent reuse."""
        if name in self.params:
            raise ValueError(f"{name} is a weight letter of the construction; a state cannot share its name")
        self.mats[name] = self.ab.letter(name, shape, symmetric)
        return self.mats[name]

    def param(self, name: str, shape: tuple[str, str], symmetric: bool = False) -> Poly:
        """A matrix letter carried by the weights (a preconditioner, W_0, ...)."""
        if name in self.mats:
            raise ValueError(f"{name} is the recursion's state letter; a weight cannot share its name")
        self.params[name] = self.ab.letter(name, shape, symmetric)
        return self.params[name]

    def yvec(self, role: str) -> Poly:
        """The vector label of the example in ``role`` (N_y = m > 1 outputs); the
        label moments are C = Y'X (m x d) and Yy = Y'Y (m x m)."""
        if role not in self._yv:
            self._yv[role] = self.ab.letter(f"y_{role}", ("m", "1"))
            self.ab.letter("C", ("m", "d"))
            self.ab.letter("Yy", ("m", "m"), symmetric=True)
        return self._yv[role]

    @property
    def vector_labels(self) -> bool:
        return bool(self._yv)

    def example_letter(self, name: str, rows: str) -> dict:
        """A per-example quantity the construction declares (symbolic.layers.ExampleLetter), in every role:
        a d-vector is the letter ``u_t`` (``u_j``, ``u_n``), a scalar the commuting symbol ``q_t`` (as y_t).
        Its one moment (``example_moment(name)``) is registered with it.  Asking again with another size is
        an error."""
        if name in self.examples:
            if self.examples[name] != rows:
                raise ValueError(f"per-example letter {name} is already declared with {self.examples[name]} rows")
            return self._ex[name]
        if rows not in ("1", "d"):
            raise ValueError(f"per-example letter {name}: rows must be '1' (a scalar) or 'd', got {rows!r}")
        roles = ("t", "j", "n")
        if rows == "1":
            self._ex[name] = {r: sp.Symbol(f"{name}_{r}") for r in roles}
            self.ab.vector(example_moment_name(name, rows))
        else:
            self._ex[name] = {r: self.ab.vector(f"{name}_{r}") for r in roles}
            self.ab.letter(example_moment_name(name, rows), ("d", "d"))
        self.examples[name] = rows
        return self._ex[name]

    def example(self, name: str, role: str = "t"):
        """The declared per-example letter ``name`` of the example in ``role``: a Poly (vector) or a Symbol."""
        return self._ex[name][role]

    def example_moment(self, name: str) -> Poly:
        """Its moment: sum_j q_j x_j = b_q (a d-vector) or sum_j u_j x_j' = S_ux (d x d, not symmetric)."""
        return Poly.letter(example_moment_name(name, self.examples[name]), self.ab)

    def example_letters(self, role: str = "j") -> ExampleLetters:
        """The declared letters in ``role`` with their moments, for the sum over examples."""
        vec = tuple((f"{k}_{role}", example_moment_name(k, r)) for k, r in self.examples.items() if r != "1")
        sca = tuple((self._ex[k][role], example_moment_name(k, r)) for k, r in self.examples.items() if r == "1")
        return ExampleLetters(vec, sca)

    def role_symbols(self, role: str) -> tuple[set, set]:
        """(letters, commuting symbols) that belong to the example in ``role``: x, y, the index and the
        declared per-example letters."""
        lets = {f"x_{role}", f"x_{role}'"} | {x for k, r in self.examples.items() if r != "1"
                                               for x in (f"{k}_{role}", f"{k}_{role}'")}
        if role in self._yv:
            lets |= {f"y_{role}", f"y_{role}'"}
        syms = {self.y[role], self.i[role]} | {self._ex[k][role] for k, r in self.examples.items() if r == "1"}
        return lets, syms

    def assume_symmetric(self, p: Poly) -> Poly:
        """Apply the hypothesis T' = T to every template matrix."""
        subs = {m + "'": P for m, P in self.mats.items() if self.ab.tr[m] != m}
        return p.subs(subs, follow_transpose=False) if subs else p

    def const(self, c) -> Poly:
        return Poly.const(c, self.ab)

    def zero(self) -> Poly:
        return Poly.zero(self.ab)

    def rename_basis(self, p: Poly, src: str, dst: str) -> Poly:
        """A basis token's template in another role: e_src -> e_dst (nothing else of a basis token has a role)."""
        return p if src == dst else p.subs({f"e_{src}": self.e[dst]})

    def rename(self, p: Poly, src: str, dst: str) -> Poly:
        if src == dst:
            return p
        letters = {f"x_{src}": self.x[dst]}
        if src in self._yv:
            letters[f"y_{src}"] = self.yvec(dst)
        coeffs = {self.y[src]: self.y[dst], self.i[src]: self.i[dst]}
        for k, r in self.examples.items():          # the declared per-example letters follow their example
            if r == "1":
                coeffs[self._ex[k][src]] = self._ex[k][dst]
            else:
                letters[f"{k}_{src}"] = self._ex[k][dst]
        return p.subs(letters, coeffs)

    def input_poly(self, name: str, role: str, position: sp.Expr, size=1) -> Poly:
        if name == "x":
            return self.x[role]
        if name == "y":
            return self.const(self.y[role]) if size == 1 else self.yvec(role)
        if name == "one":
            return self.const(1)
        if name == "x_test":
            return self.z
        if name == "e":
            return self.e[role]
        if name in self.examples:                 # a declared per-example letter (on example tokens only)
            v = self._ex[name][role]
            return self.const(v) if self.examples[name] == "1" else v
        if name in ("pos", "pos2") and position is None:
            raise KeyError(f"token input {name!r} on a token without a template position")
        if name == "pos":
            return self.const(position)
        if name == "pos2":
            return self.const(sp.expand(position**2))
        raise KeyError(f"unknown token input {name!r}")


@dataclass(frozen=True)
class Template:
    """Blocks of each token kind, in the query role t (absent block = 0)."""
    kinds: Mapping[str, Mapping[str, Poly]]

    def get(self, kind: str, block: str, alg: Algebra) -> Poly:
        return self.kinds.get(kind, {}).get(block, alg.zero())

    def latex(self, layout: Layout, kind: str, alg: Algebra) -> str:
        rows = [self.get(kind, b.name, alg).latex() for b in layout.blocks]
        return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


def _dim_name(size) -> str | None:
    size = sp.sympify(size)
    if size == 1:
        return "1"
    return size.name if isinstance(size, sp.Symbol) else None


def check_block_shape(con: Construction, alg: Algebra, block: str, p: Poly, where: str) -> None:
    """A block's polynomial must be a column of the block's size (a scalar for a size-1 block)."""
    want = _dim_name(con.layout.size(block))
    if want is None:
        return
    for (scal, w), _ in p.terms:
        rows, cols = alg.ab.word_shape(w) if w else ("1", "1")
        if (rows, cols) != (want, "1"):
            raise LemmaFailure(f"block {block} has size {con.layout.size(block)} but would hold a {rows} x {cols} "
                               f"quantity ({p})", where)


def check_template_shapes(con: Construction, alg: Algebra, tpl: "Template", what: str) -> None:
    for kind, blocks in tpl.kinds.items():
        for b, p in blocks.items():
            check_block_shape(con, alg, b, p, f"{what}, token kind '{kind}'")


def position(tokens: TokenFormat, kind: str, role: str, alg: Algebra) -> sp.Expr:
    """1-based position in the sequence of the token of ``kind`` in ``role``:
    example i occupies positions P(i-1)+1 .. Pi (P kinds per example); the tail
    follows the n examples."""
    ex, tail = tokens.example_kinds, tokens.tail_kinds
    if kind in ex:
        return len(ex) * (alg.i[role] - 1) + ex.index(kind) + 1
    if kind in tokens.basis_kinds:
        return None            # basis tokens carry no positional input (TokenKind refuses one)
    from .layout import d
    return len(ex) * alg.n + len(tokens.basis_kinds) * d + tail.index(kind) + 1


def input_template(con: Construction, alg: Algebra) -> Template:
    for L in con.letters:                  # an input "L*e" reads a matrix letter of the construction
        alg.param(L.name, L.shape, L.symmetric)
    for E in con.example_letters:          # an input naming a per-example letter reads it
        alg.example_letter(E.name, E.rows)
    columns = {L.name for L in con.letters if L.cols == "1"} - BUILTIN_INPUTS     # the engine's inputs come first

    def poly(i, kind, size):
        if i.endswith("*e"):
            name = i[:-2]
            if name not in alg.params:
                raise KeyError(f"token input {i!r}: {name} is not a matrix letter of the construction")
            return alg.params[name] * alg.e["t"]
        if i in columns:                   # a one-column matrix letter L: the same column on every such token
            return alg.params[i]
        return alg.input_poly(i, "t", position(con.tokens, kind, "t", alg), size)

    return Template({k.name: {b: poly(i, k.name, con.layout.size(b)) for b, i in k.inputs}
                     for k in con.tokens.kinds})


class Evaluator:
    """Applies layers of one construction to templates."""

    def __init__(self, con: Construction, alg: Algebra, params: Mapping[sp.Symbol, object] | None = None,
                 symmetric: bool = False):
        """``symmetric``: the template's matrices are symmetric (T' = T), a
        hypothesis of the lemma being proved; scores and values are reduced
        with it before heads are paired."""
        self.con, self.alg = con, alg
        self.symmetric = symmetric
        self.params = dict(params or {})
        self.moments = {"S": "S", "b": "b", "yy": alg.yy, "C": "C", "Yy": "Yy"}
        for L in con.letters:                       # the weights' matrix letters, with their shapes
            alg.param(L.name, L.shape, L.symmetric)   # raises if the algebra knows the name otherwise
        for E in con.example_letters:               # per-example letters and their moments
            alg.example_letter(E.name, E.rows)

    # -- helpers ------------------------------------------------------------
    def _coef(self, c):
        return sp.sympify(c).subs(self.params)

    def role(self, kind: str, role: str, tpl: Template) -> dict[str, Poly]:
        blocks = tpl.kinds.get(kind, {})
        if self.con.tokens.kind(kind).basis:
            return {b: self.alg.rename_basis(p, "t", role) for b, p in blocks.items()}
        if not self.con.tokens.kind(kind).per_example:
            return dict(blocks)
        return {b: self.alg.rename(p, "t", role) for b, p in blocks.items()}

    def entry(self, c, h: Poly) -> Poly:
        """An entry c (a scalar, or a scalar times a matrix letter L) applied to h: c h or c L h."""
        scal, letter = split_entry(c)
        p = h.scale(self._coef(scal))
        if not letter:
            return p
        base = letter[:-1] if letter.endswith("'") else letter
        L = self.alg.params[base]
        return (L.T if letter != base else L) * p

    def apply_map(self, W, h: Mapping[str, Poly]) -> dict[str, Poly]:
        out: dict[str, Poly] = {}
        for o, i, c in W:
            if i in h:
                out[o] = out.get(o, self.alg.zero()) + self.entry(c, h[i])
        return out

    def _no_key_role(self, p: Poly, where: str) -> None:
        """No template may hold a free symbol of the key's role (x_j, y_j, i_j):
        the next layer would confuse it with its own key."""
        a = self.alg
        lets, syms = a.role_symbols("j")
        leaked = sorted({x for x in p.letters() if x in lets | {"y_j", "y_j'", "e_j", "e_j'"}}
                        | {str(s) for s in p.coeff_symbols() & syms})
        if leaked:
            raise LemmaFailure(f"the update still holds the key's role ({', '.join(leaked)}) after the sum over "
                               "the keys; no rule sums it", where)

    def sum_keys(self, kind: str, p: Poly, where: str) -> Poly:
        if self.con.tokens.kind(kind).basis:
            try:
                return sum_over_basis(p)
            except SumError as e:
                raise LemmaFailure(str(e), where) from None
        if not self.con.tokens.kind(kind).per_example:
            return p
        try:
            return sum_over_examples(p, "x_j", self.alg.y["j"], self.moments, self.alg.n, index=self.alg.i["j"],
                                     labels="y_j" if self.alg.vector_labels else None,
                                     letters=self.alg.example_letters("j"))
        except SumError as e:
            raise LemmaFailure(str(e), where) from None

    # -- ops ------------------------------------------------------------------
    def apply_layer(self, layer: Layer, tpl: Template) -> Template:
        for i, op in enumerate(layer.ops):
            tpl = self.apply_op(op, tpl, f"layer {layer.name}" + (f", sub-op {i + 1} ({op.kind})" if len(layer.ops) > 1 else ""))
        return tpl

    def apply_op(self, op, tpl: Template, where: str) -> Template:
        kinds = [k.name for k in self.con.tokens.kinds]
        queries = [k for k in kinds if op.queries is None or k in op.queries]
        new = {k: dict(tpl.kinds.get(k, {})) for k in kinds}
        for q in queries:
            upd = self._update(op, tpl, q, f"{where}, query token kind '{q}'")
            for b, p in upd.items():
                self._no_key_role(p, f"{where}, query token kind '{q}', block {b}")
                check_block_shape(self.con, self.alg, b, p, f"{where}, query token kind '{q}'")
                new[q][b] = new[q].get(b, self.alg.zero()) + p
        return Template({k: {b: p for b, p in v.items() if p.terms} for k, v in new.items()})

    def _update(self, op, tpl: Template, q: str, where: str) -> dict[str, Poly]:
        return op.symbolic(self, tpl, q, self.role(q, "t", tpl), where)

    def predecessor(self, q: str, where: str) -> tuple[str, str]:
        """The token kind and role just before query kind ``q`` (a mov's source)."""
        ex = self.con.tokens.example_kinds
        tail = self.con.tokens.tail_kinds
        basis = self.con.tokens.basis_kinds
        if q in ex and ex.index(q) > 0:
            return ex[ex.index(q) - 1], "t"
        if basis and (q in basis or (q in tail and tail.index(q) == 0)):
            # the token before it is a basis token (or the last example, for the first basis token): its
            # index differs from the query's, and no template role names it
            raise LemmaFailure(f"mov into token kind {q}: its predecessor is a basis token (or the last example), "
                               "which no template role names", where)
        if q in tail and tail.index(q) == 0 and ex:
            return ex[-1], "n"
        raise LemmaFailure(f"mov into token kind {q}: its predecessor is not a fixed kind", where)

    def _relu_scalar(self, c: sp.Expr):
        """ReLU of a score that is a number or a positional expression in the
        example indices: ('const', value), ('delta', role) when the score is
        1 - k f^2 with f an integer-valued linear form vanishing exactly at
        i_j = i_role (k >= 1, so it is 1 there and <= 0 elsewhere), or None."""
        c = sp.expand(sp.sympify(c).subs(self.params))
        if c.is_number:
            return "const", sp.Max(c, 0)
        idx = {self.alg.i["t"], self.alg.i["j"], self.alg.n}
        if not c.free_symbols <= idx:
            return None
        k, factors = sp.factor_list(sp.expand(1 - c))
        if len(factors) != 1 or factors[0][1] != 2 or not k.is_number or k < 1:
            return None
        f = factors[0][0]
        if sp.Poly(f, *sorted(idx, key=str)).total_degree() != 1 or \
                not all(sp.sympify(co).is_integer for co in sp.Poly(f, *sorted(idx, key=str)).coeffs()):
            return None
        f = sp.expand(f)

        def root(var):          # f is linear: f = 0 at var = root
            a = f.coeff(var)
            return sp.expand(-(f - a * var) / a)

        def never(sol):         # no index in 1..n (or no integer) solves f = 0
            return any(g.is_number and (not g.is_integer or bad)
                       for g, bad in ((sol - self.alg.n, sol - self.alg.n > 0 if (sol - self.alg.n).is_number else False),
                                      (sol - 1, sol - 1 < 0 if (sol - 1).is_number else False)))

        ij, it = self.alg.i["j"], self.alg.i["t"]
        if not f.has(ij):
            # the score does not depend on the key; it vanishes only where f = 0 has no index solution
            return ("const", sp.Integer(0)) if f.has(it) and never(root(it)) else None
        sol = root(ij)
        for role in ("t", "n"):
            gap = sp.expand(sol - self.alg.i[role])
            if gap == 0:
                return "delta", role
            if gap.is_number and not gap.is_integer:
                return "const", sp.Integer(0)
        return ("const", sp.Integer(0)) if never(sol) else None

    def combine(self, act: str, heads, where: str) -> tuple[dict[str, Poly], list[tuple[str, dict]]]:
        """(contributions to sum over the keys, [(role, values)] of heads whose
        ReLU selects exactly the key of that role)."""
        out: dict[str, Poly] = {}

        def add(vals: Mapping[str, Poly], factor: Poly):
            for o, v in vals.items():
                out[o] = out.get(o, self.alg.zero()) + factor * v

        selected: list[tuple[str, dict]] = []
        if act == "linear":
            for s, v in heads:
                add(v, s)
            return out, selected
        groups: list[list] = []   # [score s, heads with score +s, heads with score -s]
        for m, (s, v) in enumerate(heads):
            for g in groups:
                if s == g[0]:
                    g[1].append((m, v)); break
                if s == -g[0]:
                    g[2].append((m, v)); break
            else:
                groups.append([s, [(m, v)], []])
        for s, plus, minus in groups:
            U = _sum_maps([v for _, v in plus], self.alg)
            W = _sum_maps([v for _, v in minus], self.alg)
            has_u = any(v.terms for v in U.values())
            has_w = any(v.terms for v in W.values())
            if not has_u and not has_w:
                continue                      # the heads write nothing
            if not s.letters():
                c = sp.sympify(s.as_dict().get(((), ()), 0))
                r_plus = self._relu_scalar(c) if has_u else ("const", 0)
                r_minus = self._relu_scalar(-c) if has_w else ("const", 0)
                if r_plus and r_minus and r_plus[0] == r_minus[0] == "const":
                    add(U, self.alg.const(r_plus[1]))
                    add(W, self.alg.const(r_minus[1]))
                    continue
                if r_plus and r_plus[0] == "delta" and not has_w:
                    selected.append((r_plus[1], U))
                    continue
                if r_minus and r_minus[0] == "delta" and not has_u:
                    selected.append((r_minus[1], W))
                    continue
            blocks = set(U) | set(W)
            if all((U.get(o, self.alg.zero()) + W.get(o, self.alg.zero())).is_zero() for o in blocks):
                add(U, s)   # ReLU(s) U - ReLU(-s) U = s U
                continue
            same = blocks and all((U.get(o, self.alg.zero()) - W.get(o, self.alg.zero())).is_zero() for o in blocks)
            heads_txt = ", ".join(str(m + 1) for m, _ in plus + minus)
            first = next(o for o in self.con.layout.names if o in blocks and U.get(o, self.alg.zero()).terms) \
                if same and minus else None
            why = (f"the heads' values are equal, so ReLU(s) + ReLU(-s) = |s| multiplies the value, not s. "
                   f"First differing term, block {first}: the layer adds |s| ({U[first]}) per key where s ({U[first]}) "
                   f"is needed; they differ by 2 ReLU(-s) ({U[first]}), nonzero whenever a score is negative"
                   if same and minus else "its sign is not determined by the template")
            raise LemmaFailure(
                f"ReLU of the score s = {s} (heads {heads_txt}): {why}", where,
                score=s, same_values=bool(same and minus))
        return out, selected


def _sum_maps(maps, alg) -> dict[str, Poly]:
    out: dict[str, Poly] = {}
    for m in maps:
        for o, v in m.items():
            out[o] = out.get(o, alg.zero()) + v
    return out
