r"""Exact population expectations over Gaussian data, for symbolic dimension d
and symbolic sample count n.

The engine computes expectations such as

    E (x_q' A' S w - x_q' w)^2,    x_i ~ N(0, Sigma) iid (i = 1..n),
                                   S = (1/n) sum_i x_i x_i',
                                   w ~ N(0, C), x_q ~ N(0, Sigma),

as exact polynomials in traces of words over d x d matrix letters, with
coefficients rational in n.  Nothing here is Monte Carlo and nothing depends
on a concrete d or n.  The pieces, and why each is sound:

1. Letters and words.  A matrix letter has a name and is either symmetric
   (its own transpose) or general (``A`` and its transpose ``A'`` are distinct
   atoms).  A *word* is a tuple of atoms, i.e. a matrix product; the identity
   is the empty word, so identity letters disappear from products.  A
   sample-covariance letter ``S`` is a further, random, symmetric kind of atom.

2. Trace polynomials (:class:`TracePoly`).  A sum of ``coeff * tr(W1) ...
   tr(Wk)`` with sympy coefficients.  Canonical form: each trace word is
   replaced by the lexicographically least word among all cyclic rotations of
   ``W`` and of ``W'`` (reverse the word and transpose each atom).  Sound
   because tr(UV) = tr(VU) and tr(W) = tr(W') for every real square matrix;
   symmetric atoms are their own transposes.  tr(empty word) = tr(I) = d.
   Two trace polynomials with the same canonical form are equal for every d
   and every value of the letters; the converse (different canonical forms
   mean different functions) is *not* claimed and never used to prove
   anything -- equality tests only ever say "identical" when the canonical
   forms agree, which is the sound direction.  Matrix polynomials
   (:class:`MatPoly`) are sums of ``coeff * (product of traces) * word``;
   their transpose reverses and transposes words and keeps the (scalar)
   traces.

3. Random quantities (:class:`RandPoly`).  Products of scalar chains
   ``u' M v`` (``u``, ``v`` Gaussian vector letters, possibly equal) and of
   traces of matrix polynomials that may contain ``S``.  Each Gaussian vector
   has a covariance letter (symmetric) or the identity; distinct vectors and
   the sample set are mutually independent, and the n samples are iid.

4. Expectation = Wick/Isserlis.  Every ``S`` is expanded into
   ``(1/n) sum_i x_i x_i'``.  This cuts each chain or trace into *segments*
   ``a' W b`` between vector occurrences ``a``, ``b`` (``W`` deterministic).
   The whole collection of occurrences is jointly Gaussian with mean zero;
   occurrences of different vectors, or of samples with different indices,
   are uncorrelated, and ``E[a b'] = K`` (the covariance letter) when they are
   occurrences of the same vector / same sample.  Isserlis' theorem gives
   E[product of linear forms] = sum over perfect pairings of products of pair
   covariances.  Each occurrence ends exactly one segment and lies in exactly
   one pair, so a pairing glues the segments into closed cycles; following a
   cycle ``a1' W1 b1 ~ a2' W2 b2 ~ ...`` gives ``tr(W1 K W2 K ...)``, with
   ``W'`` for a segment walked from its ``b`` end (a' W b = b' W' a).
   Sample indices: two methods, which agree and are both tested.
     * ``method="partitions"``: sum over set partitions P of the r
       S-occurrences (which occurrences share an index), with multiplicity
       n(n-1)...(n-|P|+1) (distinct indices per block) times 1/n^r, and
       pair only occurrences within a block (distinct blocks are independent
       samples).
     * ``method="pairings"`` (default, faster): sum over pairings of *all*
       sample occurrences; a pairing only forces paired occurrences to share
       an index, so the number of index assignments it survives is n^c, c the
       number of connected components of the graph on S-occurrences given by
       the pairs.  This equals the partition sum because
       n^c = sum over partitions coarser than the components of
       n(n-1)...(n-|P|+1).
   The pairings are enumerated by walking cycles (pick the lowest unvisited
   occurrence, walk its segment, choose its partner, ...), so every pairing is
   produced exactly once and its cycles are read off on the way.

5. :func:`wishart_trace_moment` gives E tr((X'X)^k), X n x d with iid N(0,1)
   entries, by direct pairing counting over matrix entries (independent of the
   cycle walker) or through the engine with Sigma = I.

6. Matrix calculus.  :func:`gradient` returns G with
   d/dt f(A + tH)|_{t=0} = tr(G' H) for all H: an occurrence ``U A V`` inside
   tr contributes tr(U H V) = tr((VU) H), i.e. G += (VU)'; an occurrence
   ``U A' V`` contributes tr(U H' V) = tr((VU)' H), i.e. G += VU (product
   rule over all occurrences).  :func:`taylor_coefficient` substitutes
   A -> A + tH and extracts the t^k coefficient.

7. Relations (:class:`InverseRelation`, :class:`Normaliser`).  Declaring
   G (a Sigma + b I) = I (a a nonzero scalar, b a scalar trace polynomial free
   of G) gives the rewrite ``G Sigma -> (1/a)(I - b G)``; its transpose
   (Sigma symmetric, a, b real scalars) gives ``Sigma G' -> (1/a)(I - b G')``.
   Declaring ``commutes=True`` adds ``Sigma G -> (1/a)(I - b G)`` and
   ``G' Sigma -> (1/a)(I - b G')``.  In traces the rules are applied at
   cyclically adjacent positions too (tr is cyclic).  Every rewrite replaces a
   quantity by an equal one, so if the normal form is 0 the input is 0; each
   rewrite shortens a word containing G and introduces only G-free traces, so
   rewriting terminates.  A nonzero normal form proves nothing, and
   :meth:`Normaliser.is_zero` then answers ``None`` ("undecided"), never
   ``False``.  Only :meth:`Normaliser.refute` can answer "false": it builds a
   concrete exact rational instance satisfying every declared relation
   (G := (a Sigma + b I)^{-1}, which satisfies both the relation and the
   commutation) and shows the expression is nonzero there.
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Mapping

import sympy as sp

__all__ = [
    "DIM", "NSAMP", "matrix", "identity", "I", "trace", "MatPoly", "TracePoly",
    "GaussianSpace", "GaussianVector", "RandPoly", "wishart_trace_moment",
    "gradient", "taylor_coefficient", "InverseRelation", "Normaliser",
    "canonical_trace_word", "transpose_word",
]

DIM = sp.Symbol("d")      # the common size of every matrix letter
NSAMP = sp.Symbol("n")    # default number of samples behind S

SYM, GEN, GENT, SAMPLE = "sym", "gen", "genT", "sample"
_TKIND = {SYM: SYM, GEN: GENT, GENT: GEN, SAMPLE: SAMPLE}

Atom = tuple  # (name, kind)
Word = tuple  # tuple of atoms
Mono = tuple  # sorted tuple of canonical, non-empty trace words


# ---------------------------------------------------------------- words ---

def _t_atom(a: Atom) -> Atom:
    return (a[0], _TKIND[a[1]])


@lru_cache(maxsize=None)
def transpose_word(w: Word) -> Word:
    """(a1 ... ak)' = ak' ... a1'."""
    return tuple((a[0], _TKIND[a[1]]) for a in reversed(w))


@lru_cache(maxsize=None)
def canonical_trace_word(w: Word) -> Word:
    """Least word among the rotations of w and of w' (tr is invariant under both)."""
    if not w:
        return w
    best = None
    for v in (w, transpose_word(w)):
        for i in range(len(v)):
            c = v[i:] + v[:i]
            if best is None or c < best:
                best = c
    return best


def _mono_mul(m1: Mono, m2: Mono) -> Mono:
    if not m1:
        return m2
    if not m2:
        return m1
    return tuple(sorted(m1 + m2))


def _trace_of_word(w: Word):
    """(mono, scalar factor) for tr(w); tr(I) = d."""
    if not w:
        return (), DIM
    return (canonical_trace_word(w),), sp.Integer(1)


def _has_sample(w: Word) -> bool:
    return any(a[1] == SAMPLE for a in w)


def _atom_str(a: Atom, latex: bool = False) -> str:
    name = sp.latex(sp.Symbol(a[0])) if latex else a[0]
    if a[1] == GENT:
        return name + ("^{\\top}" if latex else "'")
    return name


def _word_str(w: Word, latex: bool = False) -> str:
    if not w:
        return "I"
    parts = []
    for a, grp in itertools.groupby(w):
        k = len(list(grp))
        s = _atom_str(a, latex)
        if k > 1:
            if latex:
                s = (("{" + s + "}") if a[1] == GENT else s) + "^{%d}" % k
            else:
                s = (("(" + s + ")") if a[1] == GENT else s) + "^%d" % k
        parts.append(s)
    return (" " if latex else " ").join(parts)


def _mono_str(m: Mono, latex: bool = False) -> str:
    parts = []
    for w, grp in itertools.groupby(m):
        k = len(list(grp))
        if latex:
            s = "\\operatorname{tr}(%s)" % _word_str(w, True)
            parts.append(s + ("^{%d}" % k if k > 1 else ""))
        else:
            s = "tr(%s)" % _word_str(w)
            parts.append(s + ("^%d" % k if k > 1 else ""))
    return (" " if latex else "*").join(parts)


def _word_text(w: Word) -> str:
    """A word as a reader writes it: ``A Σ A' Σ²``."""
    from .mathtext import symbol_text, _sup
    if not w:
        return "I"
    parts = []
    for a, grp in itertools.groupby(w):
        k = len(list(grp))
        s = symbol_text(a[0]) + ("'" if a[1] == GENT else "")
        if k > 1:
            s = (("(" + s + ")") if a[1] == GENT else s) + _sup(k)
        parts.append(s)
    return " ".join(parts)


def _mono_text(m: Mono) -> str:
    from .mathtext import _sup
    parts = []
    for w, grp in itertools.groupby(m):
        k = len(list(grp))
        parts.append("tr(%s)" % _word_text(w) + (_sup(k) if k > 1 else ""))
    return " ".join(parts)


def _join_text(items) -> str:
    """items: (coefficient, body or ''); the text of :func:`symbolic.mathtext.math_text` (``((n + 1)/n) tr(Σ²)``)."""
    from .mathtext import math_text
    out = []
    for c, body in items:
        neg = c.could_extract_minus_sign()
        cc = -c if neg else c
        cs = math_text(sp.factor(cc))
        if body:
            if cc == 1:
                cs = body
            else:
                if isinstance(cc, sp.Add) or ("/" in cs and not cc.is_Number):
                    cs = "(%s)" % cs
                cs = cs + " " + body
        out.append((neg, cs))
    return _signed_sum(out, "−")


def _sort_key(mono, word=()):
    return (len(mono) + (1 if word else 0), sum(map(len, mono)) + len(word), mono, word)


def _join_terms(items, latex):
    """items: list of (coeff, body-string or '')."""
    out = []
    for c, body in items:
        neg = c.could_extract_minus_sign()
        cc = -c if neg else c
        if body:
            if cc == 1:
                s = body
            else:
                cs = sp.latex(sp.factor(cc)) if latex else str(sp.factor(cc))
                if isinstance(cc, sp.Add) or (not latex and "/" in cs and not cc.is_Number):
                    cs = ("\\left(%s\\right)" % cs) if latex else "(%s)" % cs
                s = (cs + " " + body) if latex else (cs + "*" + body)
        else:
            s = sp.latex(sp.factor(cc)) if latex else str(sp.factor(cc))
        out.append((neg, s))
    return _signed_sum(out, "-")


def _signed_sum(terms, minus: str) -> str:
    """(negative?, text) terms joined into a sum with the given minus sign; "0" for none."""
    if not terms:
        return "0"
    text = (minus if terms[0][0] else "") + terms[0][1]
    for neg, t in terms[1:]:
        text += f" {minus} " if neg else " + "
        text += t
    return text


# ------------------------------------------------------- accumulation -----

class _Acc:
    """Collects addends per key; cancels each coefficient once at the end."""
    __slots__ = ("d",)

    def __init__(self):
        self.d = {}

    def add(self, key, c):
        self.d.setdefault(key, []).append(c)

    def result(self) -> dict:
        out = {}
        for k, cs in self.d.items():
            c = sp.cancel(sp.Add(*cs))
            if c != 0:
                out[k] = c
        return out


def _scalar(c):
    c = sp.sympify(c)
    if not isinstance(c, sp.Expr):
        raise TypeError(f"not a scalar: {c!r}")
    return c


# ------------------------------------------------------------ TracePoly ---

class TracePoly:
    """sum of coeff * tr(W1)*...*tr(Wk); keys are canonical monomials."""
    __slots__ = ("terms",)
    __hash__ = None

    def __init__(self, terms: Mapping | None = None):
        self.terms = dict(terms or {})

    # constructors / coercion
    @staticmethod
    def const(c) -> "TracePoly":
        c = sp.cancel(_scalar(c))
        return TracePoly({(): c} if c != 0 else {})

    @staticmethod
    def _coerce(x) -> "TracePoly":
        if isinstance(x, TracePoly):
            return x
        if isinstance(x, (MatPoly, RandPoly)):
            raise TypeError("cannot mix a TracePoly with a matrix or random polynomial here")
        return TracePoly.const(x)

    def is_constant(self) -> bool:
        return all(m == () for m in self.terms)

    def constant(self):
        """The scalar part (coefficient of the empty monomial)."""
        return self.terms.get((), sp.Integer(0))

    # arithmetic
    def __add__(self, other):
        if isinstance(other, (MatPoly, RandPoly)):
            return NotImplemented
        other = TracePoly._coerce(other)
        acc = _Acc()
        for m, c in self.terms.items():
            acc.add(m, c)
        for m, c in other.terms.items():
            acc.add(m, c)
        return TracePoly(acc.result())

    __radd__ = __add__

    def __neg__(self):
        return TracePoly({m: -c for m, c in self.terms.items()})

    def __sub__(self, other):
        if isinstance(other, (MatPoly, RandPoly)):
            return NotImplemented
        return self + (-TracePoly._coerce(other))

    def __rsub__(self, other):
        return TracePoly._coerce(other) - self

    def __mul__(self, other):
        if isinstance(other, (MatPoly, RandPoly)):
            return NotImplemented
        other = TracePoly._coerce(other)
        acc = _Acc()
        for m1, c1 in self.terms.items():
            for m2, c2 in other.terms.items():
                acc.add(_mono_mul(m1, m2), c1 * c2)
        return TracePoly(acc.result())

    __rmul__ = __mul__

    def __truediv__(self, other):
        return self * (1 / _scalar(other))

    def __pow__(self, k: int):
        if not isinstance(k, int) or k < 0:
            raise ValueError("only non-negative integer powers")
        r = TracePoly.const(1)
        for _ in range(k):
            r = r * self
        return r

    def is_zero(self) -> bool:
        return not self.terms

    def __eq__(self, other):
        if isinstance(other, (MatPoly, RandPoly)):
            return False
        return (self - TracePoly._coerce(other)).is_zero()

    def __ne__(self, other):
        return not self == other

    # substitution
    def subs(self, mapping: Mapping) -> "TracePoly":
        """Replace letters by matrix polynomials and/or scalar symbols by values.

        Keys: a letter (MatPoly from :func:`matrix`) or its name -> MatPoly; or
        a sympy Symbol -> scalar.  ``A -> P`` also sends ``A' -> P'``; a
        symmetric letter may only be replaced by a symmetric P."""
        mtab, stab = _split_mapping(mapping)
        acc = _Acc()
        for m, c in self.terms.items():
            c2 = c.subs(stab) if stab else c
            if mtab and any(a[0] in mtab for w in m for a in w):
                t = TracePoly.const(c2)
                for w in m:
                    t = t * trace(_subst_word(w, mtab))
                for m3, c3 in t.terms.items():
                    acc.add(m3, c3)
            else:
                acc.add(m, c2)
        return TracePoly(acc.result())

    # scalar expansion
    def coeff(self, sym, k: int) -> "TracePoly":
        """Coefficient of sym**k (coefficients must be polynomial in sym)."""
        return self.collect(sym).get(k, TracePoly())

    def collect(self, sym) -> dict:
        """{k: TracePoly} with self = sum_k sym**k * result[k]."""
        out: dict[int, _Acc] = {}
        for m, c in self.terms.items():
            for k, ck in _poly_coeffs(c, sym).items():
                out.setdefault(k, _Acc()).add(m, ck)
        return {k: TracePoly(a.result()) for k, a in sorted(out.items())}

    # freezing traces into scalar symbols
    def freeze(self, mapping: Mapping) -> "TracePoly":
        """Replace single traces tr(W) (given as TracePoly values) by scalar symbols
        (mapping symbol -> trace).  Sound: it is a ring homomorphism in reverse;
        an identity of the frozen forms, with the symbols free, implies the
        identity with the symbols set back to the traces."""
        tab = _freeze_table(mapping)
        acc = _Acc()
        for m, c in self.terms.items():
            keep = []
            for w in m:
                if w in tab:
                    c = c * tab[w]
                else:
                    keep.append(w)
            acc.add(tuple(keep), c)
        return TracePoly(acc.result())

    def thaw(self, mapping: Mapping) -> "TracePoly":
        """Inverse of :meth:`freeze` (coefficients must be polynomial in the symbols)."""
        r = self
        for s, tp in mapping.items():
            parts = r.collect(s)
            tp = TracePoly._coerce(tp)
            r = TracePoly()
            for k, p in parts.items():
                r = r + p * tp ** k
        return r

    # evaluation
    def letters(self) -> set:
        """{(name, 'sym'|'gen')} for every letter that occurs."""
        return {(a[0], SYM if a[1] == SYM else GEN) for m in self.terms for w in m for a in w}

    def symbols(self) -> set:
        s = set()
        for c in self.terms.values():
            s |= c.free_symbols
        return s

    def evaluate(self, mats: Mapping, scalars: Mapping | None = None):
        """Exact value at concrete sympy matrices (keys: letter or name); d is
        their size (or taken from scalars[DIM] when no letter occurs)."""
        mats, size = _concrete(mats)
        sc = dict(scalars or {})
        if size is not None:
            sc[DIM] = size
        cache: dict = {}
        total = sp.Integer(0)
        for m, c in self.terms.items():
            v = c.subs(sc)
            for w in m:
                v = v * _eval_word(w, mats, cache).trace()
            total += v
        return sp.expand(total)

    # display
    def _items(self, latex):
        return [(c, _mono_str(m, latex)) for m, c in sorted(self.terms.items(), key=lambda t: _sort_key(t[0]))]

    def __str__(self):
        return _join_terms(self._items(False), False)

    def __repr__(self):
        return "TracePoly(%s)" % self

    def text(self) -> str:
        """As a reader writes it (the text of findings): ``tr(Σ) − 2 tr(A Σ²)``; ``str`` stays the sympy-like
        form the JSON data keeps."""
        return _join_text([(c, _mono_text(m)) for m, c in sorted(self.terms.items(), key=lambda t: _sort_key(t[0]))])

    def latex(self) -> str:
        return _join_terms(self._items(True), True)


def _poly_coeffs(c, sym) -> dict:
    c = sp.cancel(c)
    num, den = sp.fraction(c)
    if sym in den.free_symbols:
        raise ValueError(f"coefficient {c} is not polynomial in {sym}")
    p = sp.Poly(num, sym)
    return {mon[0]: sp.cancel(co / den) for mon, co in p.terms()}


def _freeze_table(mapping):
    tab = {}
    for s, tp in mapping.items():
        tp = TracePoly._coerce(tp)
        if len(tp.terms) != 1:
            raise ValueError("freeze: each value must be a single trace tr(W)")
        (m, c), = tp.terms.items()
        if c != 1 or len(m) != 1:
            raise ValueError("freeze: each value must be a single trace tr(W)")
        tab[m[0]] = s
    return tab


# -------------------------------------------------------------- MatPoly ---

class MatPoly:
    """sum of coeff * tr(..)...tr(..) * word  (a d x d matrix polynomial whose
    coefficients may contain traces).  Keys: (mono, word).  Hashable (terms are
    canonical and never mutated) so that letters can be mapping keys."""
    __slots__ = ("terms",)

    def __hash__(self):
        return hash(frozenset(self.terms.items()))

    def __init__(self, terms: Mapping | None = None):
        self.terms = dict(terms or {})

    @staticmethod
    def _coerce(x) -> "MatPoly":
        if isinstance(x, MatPoly):
            return x
        if isinstance(x, TracePoly):
            return MatPoly({(m, ()): c for m, c in x.terms.items()})
        if isinstance(x, RandPoly):
            raise TypeError("cannot mix MatPoly and RandPoly")
        c = sp.cancel(_scalar(x))
        return MatPoly({((), ()): c} if c != 0 else {})

    def __add__(self, other):
        if isinstance(other, RandPoly):
            return NotImplemented
        other = MatPoly._coerce(other)
        acc = _Acc()
        for k, c in self.terms.items():
            acc.add(k, c)
        for k, c in other.terms.items():
            acc.add(k, c)
        return MatPoly(acc.result())

    __radd__ = __add__

    def __neg__(self):
        return MatPoly({k: -c for k, c in self.terms.items()})

    def __sub__(self, other):
        if isinstance(other, RandPoly):
            return NotImplemented
        return self + (-MatPoly._coerce(other))

    def __rsub__(self, other):
        return MatPoly._coerce(other) - self

    def __mul__(self, other):
        if isinstance(other, RandPoly):
            return NotImplemented
        other = MatPoly._coerce(other)  # scalars and traces become multiples of I
        acc = _Acc()
        for (m1, w1), c1 in self.terms.items():
            for (m2, w2), c2 in other.terms.items():
                acc.add((_mono_mul(m1, m2), w1 + w2), c1 * c2)
        return MatPoly(acc.result())

    def __rmul__(self, other):
        return MatPoly._coerce(other) * self

    __matmul__ = __mul__

    def __truediv__(self, other):
        return self * (1 / _scalar(other))

    def __pow__(self, k: int):
        if not isinstance(k, int) or k < 0:
            raise ValueError("only non-negative integer powers")
        r = identity()
        for _ in range(k):
            r = r * self
        return r

    @property
    def T(self) -> "MatPoly":
        return MatPoly({(m, transpose_word(w)): c for (m, w), c in self.terms.items()})

    def is_zero(self) -> bool:
        return not self.terms

    def __eq__(self, other):
        if isinstance(other, RandPoly):
            return False
        return (self - MatPoly._coerce(other)).is_zero()

    def __ne__(self, other):
        return not self == other

    def subs(self, mapping: Mapping) -> "MatPoly":
        """As :meth:`TracePoly.subs`, for the main words and the trace coefficients."""
        mtab, stab = _split_mapping(mapping)
        acc = _Acc()
        for (m, w), c in self.terms.items():
            c2 = c.subs(stab) if stab else c
            if mtab and (any(a[0] in mtab for a in w) or any(a[0] in mtab for v in m for a in v)):
                t = MatPoly({((), ()): c2})
                for v in m:
                    t = t * trace(_subst_word(v, mtab))
                t = t * _subst_word(w, mtab)
                for k3, c3 in t.terms.items():
                    acc.add(k3, c3)
            else:
                acc.add((m, w), c2)
        return MatPoly(acc.result())

    def freeze(self, mapping: Mapping) -> "MatPoly":
        tab = _freeze_table(mapping)
        acc = _Acc()
        for (m, w), c in self.terms.items():
            keep = []
            for v in m:
                if v in tab:
                    c = c * tab[v]
                else:
                    keep.append(v)
            acc.add((tuple(keep), w), c)
        return MatPoly(acc.result())

    def letters(self) -> set:
        out = set()
        for (m, w) in self.terms:
            for v in m + (w,):
                out |= {(a[0], SYM if a[1] == SYM else GEN) for a in v}
        return out

    def symbols(self) -> set:
        s = set()
        for c in self.terms.values():
            s |= c.free_symbols
        return s

    def has_sample(self) -> bool:
        return any(_has_sample(w) for (m, w) in self.terms)

    def evaluate(self, mats: Mapping, scalars: Mapping | None = None):
        mats, size = _concrete(mats)
        sc = dict(scalars or {})
        if size is None:
            size = int(sc[DIM])
        sc[DIM] = size
        cache: dict = {}
        total = sp.zeros(size, size)
        for (m, w), c in self.terms.items():
            v = c.subs(sc)
            for u in m:
                v = v * _eval_word(u, mats, cache).trace()
            total += v * (_eval_word(w, mats, cache) if w else sp.eye(size))
        return total.applyfunc(sp.expand)

    def _items(self, latex):
        items = []
        for (m, w), c in sorted(self.terms.items(), key=lambda t: _sort_key(*t[0])):
            ms = _mono_str(m, latex)
            ws = _word_str(w, latex)
            body = (ms + (" " if latex else "*") + ws) if ms else ws
            items.append((c, body))
        return items

    def __str__(self):
        return _join_terms(self._items(False), False)

    def __repr__(self):
        return "MatPoly(%s)" % self

    def text(self) -> str:
        """As a reader writes it (the text of findings): ``(n/(d + n + σ² + 1)) Σ⁻¹``; ``str`` stays the
        sympy-like form the JSON data keeps."""
        items = []
        for (m, w), c in sorted(self.terms.items(), key=lambda t: _sort_key(*t[0])):
            ms, ws = _mono_text(m), _word_text(w)
            items.append((c, (ms + " " + ws) if ms else ws))
        return _join_text(items)

    def latex(self) -> str:
        return _join_terms(self._items(True), True)


def matrix(name: str, symmetric: bool = False) -> MatPoly:
    """A d x d matrix letter (``symmetric=True``: its own transpose)."""
    if not name or "'" in name:
        raise ValueError("bad letter name")
    return MatPoly({((), ((name, SYM if symmetric else GEN),)): sp.Integer(1)})


def identity() -> MatPoly:
    """The d x d identity (the empty word)."""
    return MatPoly({((), ()): sp.Integer(1)})


I = identity()


def trace(M) -> TracePoly:
    """tr of a deterministic matrix polynomial (use GaussianSpace.trace if it contains S)."""
    M = MatPoly._coerce(M)
    acc = _Acc()
    for (m, w), c in M.terms.items():
        if _has_sample(w):
            raise ValueError("trace of a random matrix: use GaussianSpace.trace")
        tm, f = _trace_of_word(w)
        acc.add(_mono_mul(m, tm), c * f)
    return TracePoly(acc.result())


def _letter_atom(x) -> Atom:
    if isinstance(x, MatPoly) and len(x.terms) == 1:
        (m, w), c = next(iter(x.terms.items()))
        if m == () and len(w) == 1 and c == 1 and w[0][1] in (SYM, GEN):
            return w[0]
    raise ValueError(f"not a matrix letter: {x!r}")


def _letter_name(x) -> str:
    return x if isinstance(x, str) else _letter_atom(x)[0]


def _split_mapping(mapping):
    mtab, stab = {}, {}
    for k, v in mapping.items():
        if isinstance(k, sp.Basic):
            stab[k] = v
        else:
            P = MatPoly._coerce(v)
            if P.has_sample():
                raise ValueError("cannot substitute a random matrix into a deterministic one")
            mtab[_letter_name(k)] = (P, P.T)
    return mtab, stab


def _subst_word(w: Word, mtab) -> MatPoly:
    r = identity()
    for a in w:
        if a[0] in mtab:
            P, PT = mtab[a[0]]
            if a[1] == SYM:
                if P != PT:
                    raise ValueError(f"symmetric letter {a[0]} replaced by a non-symmetric matrix")
                r = r * P
            elif a[1] == GEN:
                r = r * P
            elif a[1] == GENT:
                r = r * PT
            else:
                raise ValueError("cannot substitute a sample-covariance letter")
        else:
            r = MatPoly({(m, ww + (a,)): c for (m, ww), c in r.terms.items()})
    return r


def _concrete(mats):
    out, size = {}, None
    for k, M in mats.items():
        M = sp.Matrix(M)
        if M.rows != M.cols or (size is not None and M.rows != size):
            raise ValueError("all letters must be square of the same size")
        size = M.rows
        out[_letter_name(k)] = M
    return out, size


def _eval_word(w, mats, cache):
    if w in cache:
        return cache[w]
    if not w:
        raise ValueError("empty word")
    r = None
    for a in w:
        if a[1] == SAMPLE:
            raise ValueError("cannot evaluate a random letter")
        if a[0] not in mats:
            raise KeyError(f"no value for letter {a[0]}")
        M = mats[a[0]]
        if a[1] == GENT:
            M = M.T
        r = M if r is None else r * M
    cache[w] = r
    return r


# ------------------------------------------------------ random quantities --

@dataclass(frozen=True)
class GaussianVector:
    """A centred Gaussian vector letter with covariance ``cov`` (an atom or None = I)."""
    name: str
    cov: tuple | None

    def __repr__(self):
        return f"GaussianVector({self.name}, cov={'I' if self.cov is None else self.cov[0]})"


@dataclass(frozen=True)
class _Sample:
    name: str
    cov: tuple | None
    n: sp.Expr


class RandPoly:
    """sum of coeff * product of factors; a factor is ('q', u, W, v) = u' W v or
    ('t', W) = tr(W) (W may contain sample letters)."""
    __slots__ = ("terms",)
    __hash__ = None

    def __init__(self, terms: Mapping | None = None):
        self.terms = dict(terms or {})

    @staticmethod
    def _coerce(x) -> "RandPoly":
        if isinstance(x, RandPoly):
            return x
        if isinstance(x, MatPoly):
            raise TypeError("a matrix is not a scalar random quantity")
        x = TracePoly._coerce(x)
        return RandPoly({tuple(("t", w) for w in m): c for m, c in x.terms.items()})

    def __add__(self, other):
        other = RandPoly._coerce(other)
        acc = _Acc()
        for k, c in self.terms.items():
            acc.add(k, c)
        for k, c in other.terms.items():
            acc.add(k, c)
        return RandPoly(acc.result())

    __radd__ = __add__

    def __neg__(self):
        return RandPoly({k: -c for k, c in self.terms.items()})

    def __sub__(self, other):
        return self + (-RandPoly._coerce(other))

    def __rsub__(self, other):
        return RandPoly._coerce(other) - self

    def __mul__(self, other):
        other = RandPoly._coerce(other)
        acc = _Acc()
        for k1, c1 in self.terms.items():
            for k2, c2 in other.terms.items():
                acc.add(tuple(sorted(k1 + k2)), c1 * c2)
        return RandPoly(acc.result())

    __rmul__ = __mul__

    def __pow__(self, k: int):
        if not isinstance(k, int) or k < 0:
            raise ValueError("only non-negative integer powers")
        r = RandPoly._coerce(1)
        for _ in range(k):
            r = r * self
        return r

    def __str__(self):
        def f(x):
            if x[0] == "q":
                return "%s'(%s)%s" % (x[1], _word_str(x[2]), x[3])
            return "tr(%s)" % _word_str(x[1])
        return _join_terms([(c, "*".join(map(f, k))) for k, c in sorted(self.terms.items())], False)

    __repr__ = __str__


def _split_at_samples(w: Word):
    """w = P0 S1 P1 ... Sk Pk -> ([P0..Pk], [S1..Sk] names)."""
    pieces, samples, cur = [], [], []
    for a in w:
        if a[1] == SAMPLE:
            pieces.append(tuple(cur))
            samples.append(a[0])
            cur = []
        else:
            cur.append(a)
    pieces.append(tuple(cur))
    return pieces, samples


def _set_partitions(r: int):
    """Restricted growth strings: block label of each of r items."""
    cur = []

    def rec(i, nb):
        if i == r:
            yield tuple(cur), nb
            return
        for b in range(nb + 1):
            cur.append(b)
            yield from rec(i + 1, max(nb, b + 1))
            cur.pop()
    yield from rec(0, 0)


def _walk_pairings(node_cls, other, word_from, cov_word, emit):
    """Enumerate every perfect pairing of the nodes that pairs only nodes of the
    same class; call emit(cycles, pairs) once per pairing, where cycles are the
    words read off the closed cycles (segments glued by covariance words)."""
    N = len(node_cls)
    cls_mask: dict = {}
    for i, c in enumerate(node_cls):
        cls_mask[c] = cls_mask.get(c, 0) | (1 << i)
    if any(bin(m).count("1") % 2 for m in cls_mask.values()):
        return
    cycles: list = []
    pairs: list = []

    def begin(mask):
        if not mask:
            emit(cycles, pairs)
            return
        s = (mask & -mask).bit_length() - 1
        e = other[s]
        walk(mask & ~((1 << s) | (1 << e)), s, e, word_from[s])

    def walk(mask, s, pend, word):
        c = node_cls[pend]
        cw = cov_word[c]
        if node_cls[s] == c:               # close the cycle at its start
            cycles.append(word + cw)
            pairs.append((pend, s))
            begin(mask)
            cycles.pop()
            pairs.pop()
        m = mask & cls_mask[c]
        while m:
            low = m & -m
            m ^= low
            p = low.bit_length() - 1
            q = other[p]
            pairs.append((pend, p))
            walk(mask & ~(low | (1 << q)), s, q, word + cw + word_from[p])
            pairs.pop()

    begin((1 << N) - 1)


class GaussianSpace:
    """Declares independent Gaussian vectors and sample covariances, and takes
    exact expectations of :class:`RandPoly` quantities."""

    def __init__(self, n=NSAMP):
        self.n = sp.sympify(n)
        self._vectors: dict[str, GaussianVector] = {}
        self._samples: dict[str, _Sample] = {}
        self._cache: dict = {}

    @staticmethod
    def _cov_atom(cov):
        if cov is None:
            return None
        if isinstance(cov, MatPoly) and cov == identity():
            return None
        a = _letter_atom(cov)
        if a[1] != SYM:
            raise ValueError("a covariance letter must be symmetric")
        return a

    def _fresh(self, name):
        if name in self._vectors or name in self._samples:
            raise ValueError(f"name {name} already declared")

    def vector(self, name: str, cov=None) -> GaussianVector:
        """A new vector letter ~ N(0, cov), independent of everything else."""
        self._fresh(name)
        v = GaussianVector(name, self._cov_atom(cov))
        self._vectors[name] = v
        return v

    def sample_covariance(self, name: str = "S", cov=None, n=None) -> MatPoly:
        """S = (1/n) sum_i x_i x_i' with x_i iid N(0, cov), independent of the rest."""
        self._fresh(name)
        self._samples[name] = _Sample(name, self._cov_atom(cov), self.n if n is None else sp.sympify(n))
        return MatPoly({((), ((name, SAMPLE),)): sp.Integer(1)})

    def quad(self, u: GaussianVector, M, v: GaussianVector) -> RandPoly:
        """The scalar u' M v (M a matrix polynomial, may contain S)."""
        for x in (u, v):
            if self._vectors.get(x.name) is not x:
                raise ValueError(f"vector {x} not declared in this space")
        M = MatPoly._coerce(M)
        self._check_samples(M)
        acc = _Acc()
        for (m, w), c in M.terms.items():
            f1 = ("q", u.name, w, v.name)
            f2 = ("q", v.name, transpose_word(w), u.name)
            acc.add(tuple(sorted(tuple(("t", x) for x in m) + (min(f1, f2),))), c)
        return RandPoly(acc.result())

    def trace(self, M) -> RandPoly:
        """The scalar tr(M) (M may contain S)."""
        M = MatPoly._coerce(M)
        self._check_samples(M)
        acc = _Acc()
        for (m, w), c in M.terms.items():
            tm, f = _trace_of_word(w)
            acc.add(tuple(("t", x) for x in _mono_mul(m, tm)), c * f)
        return RandPoly(acc.result())

    def _check_samples(self, M):
        for (m, w) in M.terms:
            for a in w:
                if a[1] == SAMPLE and a[0] not in self._samples:
                    raise ValueError(f"sample letter {a[0]} not declared in this space")

    def expect(self, R, method: str = "pairings",
               multiplicity: Callable | None = None) -> TracePoly:
        """Exact E[R] as a TracePoly.  method: 'pairings' (default) or
        'partitions'; multiplicity(n, k) (partitions only, default the falling
        factorial n(n-1)...(n-k+1)) exists so tests can show a wrong one fails."""
        if method not in ("pairings", "partitions"):
            raise ValueError("method must be 'pairings' or 'partitions'")
        if multiplicity is not None and method != "partitions":
            raise ValueError("multiplicity applies to method='partitions'")
        R = RandPoly._coerce(R)
        acc = _Acc()
        for key, c in R.terms.items():
            ck = (key, method, multiplicity)
            if ck not in self._cache:
                self._cache[ck] = self._expect_term(key, method, multiplicity)
            for m, c2 in self._cache[ck].items():
                acc.add(m, c * c2)
        return TracePoly(acc.result())

    def _expect_term(self, factors, method, multiplicity) -> dict:
        det: list = []
        node_cls: list = []
        node_occ: list = []
        occ_letter: list = []
        segs: list = []

        def node(cls, occ=-1):
            node_cls.append(cls)
            node_occ.append(occ)
            return len(node_cls) - 1

        def sample_pair(sname):
            occ_letter.append(sname)
            o = len(occ_letter) - 1
            return node(("s", sname), o), node(("s", sname), o)   # (x_i, x_i')

        for f in factors:
            if f[0] == "q":
                _, u, w, v = f
                pieces, samples = _split_at_samples(w)
                a = node(("v", u))
                for j, sname in enumerate(samples):
                    L, Rn = sample_pair(sname)
                    segs.append((a, pieces[j], L))
                    a = Rn
                segs.append((a, pieces[-1], node(("v", v))))
            else:
                w = f[1]
                if not _has_sample(w):
                    det.append(w)
                    continue
                i = next(k for k, a in enumerate(w) if a[1] == SAMPLE)
                pieces, samples = _split_at_samples(w[i:] + w[:i])
                # w = S1 P1 S2 P2 ... Sk Pk; pieces[0] is empty
                nodes = [sample_pair(s) for s in samples]
                k = len(samples)
                for j in range(k):
                    segs.append((nodes[j][1], pieces[j + 1], nodes[(j + 1) % k][0]))

        N = len(node_cls)
        other = [0] * N
        word_from = [()] * N
        for a, w, b in segs:
            other[a], other[b] = b, a
            word_from[a], word_from[b] = w, transpose_word(w)
        det_mono = tuple(sorted(canonical_trace_word(w) for w in det))
        letters = sorted(set(occ_letter))
        r_of = {s: occ_letter.count(s) for s in letters}

        def cov_of(cls):
            if cls[0] == "v":
                return self._vectors[cls[1]].cov
            return self._samples[cls[1]].cov

        def read(cycles):
            mono, dp = [], 0
            for cw in cycles:
                cw = canonical_trace_word(cw)
                if cw:
                    mono.append(cw)
                else:
                    dp += 1
            return tuple(sorted(mono)), dp

        acc = _Acc()
        if method == "pairings":
            classes = set(node_cls)
            cov_word = {c: (() if cov_of(c) is None else (cov_of(c),)) for c in classes}
            counts: dict = {}
            nocc = len(occ_letter)

            def emit(cycles, pairs):
                parent = list(range(nocc))

                def find(x):
                    while parent[x] != x:
                        parent[x] = parent[parent[x]]
                        x = parent[x]
                    return x
                for p, q in pairs:
                    op, oq = node_occ[p], node_occ[q]
                    if op >= 0:
                        ra, rb = find(op), find(oq)
                        if ra != rb:
                            parent[ra] = rb
                comps = {}
                for o in range(nocc):
                    if find(o) == o:
                        comps[occ_letter[o]] = comps.get(occ_letter[o], 0) + 1
                mono, dp = read(cycles)
                key = (mono, dp, tuple(comps.get(s, 0) for s in letters))
                counts[key] = counts.get(key, 0) + 1

            _walk_pairings(node_cls, other, word_from, cov_word, emit)
            for (mono, dp, comps), cnt in counts.items():
                c = sp.Integer(cnt) * DIM ** dp
                for s, cs in zip(letters, comps):
                    c *= self._samples[s].n ** (cs - r_of[s])
                acc.add(_mono_mul(det_mono, mono), c)
        else:
            mult = multiplicity or (lambda n, k: sp.ff(n, k))
            occ_of_letter = {s: [o for o, t in enumerate(occ_letter) if t == s] for s in letters}
            per_letter = [list(_set_partitions(r_of[s])) for s in letters]
            for choice in itertools.product(*per_letter):
                block = {}
                weight = sp.Integer(1)
                for s, (labels, nb) in zip(letters, choice):
                    for o, lab in zip(occ_of_letter[s], labels):
                        block[o] = lab
                    n_s = self._samples[s].n
                    weight *= mult(n_s, nb) / n_s ** r_of[s]
                cls2 = [c if c[0] == "v" else c + (block[node_occ[i]],) for i, c in enumerate(node_cls)]
                cov_word = {c: (() if cov_of(c) is None else (cov_of(c),)) for c in set(cls2)}
                counts = {}

                def emit(cycles, pairs):
                    key = read(cycles)
                    counts[key] = counts.get(key, 0) + 1

                _walk_pairings(cls2, other, word_from, cov_word, emit)
                for (mono, dp), cnt in counts.items():
                    acc.add(_mono_mul(det_mono, mono), weight * cnt * DIM ** dp)
        return acc.result()


# -------------------------------------------------------------- Wishart ---

def _perfect_matchings(items):
    if not items:
        yield []
        return
    a = items[0]
    for j in range(1, len(items)):
        rest = items[1:j] + items[j + 1:]
        for m in _perfect_matchings(rest):
            yield [(a, items[j])] + m


def wishart_trace_moment(k: int, n=NSAMP, d=DIM, method: str = "entries"):
    """E tr((X'X)^k) for X (n x d) with iid N(0,1) entries, a polynomial in n, d.

    method='entries': Isserlis over the 2k entries X[i_j, a_j], X[i_j, a_{j+1}]
    of tr((X'X)^k) = sum X[i1,a1] X[i1,a2] X[i2,a2] ... X[ik,a1]; a pairing
    forces equal row and column indices, giving n^(#row classes) d^(#column
    classes).  method='engine': n^k E tr(S^k) from GaussianSpace with cov I."""
    if k < 0:
        raise ValueError("k >= 0")
    if k == 0:
        return sp.sympify(d)
    if method == "entries":
        ent = [(j, j, j) for j in range(k)] + [(j, j, (j + 1) % k) for j in range(k)]
        idx = list(range(2 * k))
        counts: dict = {}
        for m in _perfect_matchings(idx):
            pr, pc = list(range(k)), list(range(k))

            def find(p, x):
                while p[x] != x:
                    x = p[x]
                return x
            for x, y in m:
                _, rx, cx = ent[x]
                _, ry, cy = ent[y]
                a, b = find(pr, rx), find(pr, ry)
                if a != b:
                    pr[a] = b
                a, b = find(pc, cx), find(pc, cy)
                if a != b:
                    pc[a] = b
            key = (sum(find(pr, i) == i for i in range(k)), sum(find(pc, i) == i for i in range(k)))
            counts[key] = counts.get(key, 0) + 1
        return sp.expand(sum(c * sp.sympify(n) ** a * sp.sympify(d) ** b for (a, b), c in counts.items()))
    if method == "engine":
        sp_ = GaussianSpace()
        S = sp_.sample_covariance("S", None)
        e = sp_.expect(sp_.trace(S ** k))
        if not e.is_constant():
            raise AssertionError("unexpected letters")
        return sp.expand(sp.cancel(e.constant() * NSAMP ** k).subs({NSAMP: n, DIM: d}, simultaneous=True))
    raise ValueError("method must be 'entries' or 'engine'")


# ------------------------------------------------------ matrix calculus ---

def gradient(f: TracePoly, A) -> MatPoly:
    """G with d/dt f(A + tH)|_{t=0} = tr(G' H) for every H (A a general letter)."""
    f = TracePoly._coerce(f)
    name = _letter_name(A)
    acc = _Acc()
    for mono, c in f.terms.items():
        for k, w in enumerate(mono):
            rest = mono[:k] + mono[k + 1:]
            for p, a in enumerate(w):
                if a[0] != name:
                    continue
                if a[1] in (SYM, SAMPLE):
                    raise ValueError("gradient is defined here for general (non-symmetric) letters only")
                g = w[p + 1:] + w[:p]                      # V U
                if a[1] == GEN:
                    g = transpose_word(g)                  # (VU)'
                acc.add((rest, g), c)
    return MatPoly(acc.result())


def taylor_coefficient(f: TracePoly, A, H, k: int) -> TracePoly:
    """Coefficient of t^k in f(A + t H) (k = 2: the second-order form)."""
    f = TracePoly._coerce(f)
    if isinstance(A, MatPoly):
        kind = _letter_atom(A)[1]
        name = _letter_atom(A)[0]
    else:
        name = A
        kind = SYM if {kd for nm, kd in f.letters() if nm == A} == {SYM} else GEN
    t = sp.Dummy("t")
    return f.subs({name: matrix(name, kind == SYM) + t * MatPoly._coerce(H)}).coeff(t, k)


# ------------------------------------------------------------ relations ---

class InverseRelation:
    """G (a Sigma + b I) = I, and (commutes=True) G Sigma = Sigma G.

    Sigma: a symmetric letter; G: a letter; a: nonzero scalar (sympy, may
    contain frozen-trace symbols); b: scalar or TracePoly, free of G."""

    def __init__(self, G, Sigma, a, b, commutes: bool = False):
        self.G = _letter_atom(G)
        self.Sigma = _letter_atom(Sigma)
        if self.Sigma[1] != SYM:
            raise ValueError("Sigma must be a symmetric letter")
        if self.G[0] == self.Sigma[0]:
            raise ValueError("G and Sigma must differ")
        if isinstance(a, TracePoly):
            if not a.is_constant():
                raise ValueError("a must be a scalar; freeze traces into symbols first")
            a = a.constant()
        self.a = sp.cancel(_scalar(a))
        if self.a == 0:
            raise ValueError("a must be nonzero")
        self.b = TracePoly._coerce(b)
        if any(nm == self.G[0] for nm, _ in self.b.letters()):
            raise ValueError("b must not contain G")
        self.commutes = bool(commutes)
        Gm = MatPoly({((), (self.G,)): sp.Integer(1)})
        rhs = (identity() - Gm * self.b) * (1 / self.a)          # (1/a)(I - b G)
        rhsT = rhs.T                                             # (1/a)(I - b G')
        g, gT, s = self.G, _t_atom(self.G), self.Sigma
        rules = {(g, s): rhs}          # G Sigma = (1/a)(I - bG)       [given]
        rules.setdefault((s, gT), rhsT)  # Sigma G' = (1/a)(I - bG')     [transpose]
        if self.commutes:
            rules.setdefault((s, g), rhs)     # Sigma G = G Sigma
            rules.setdefault((gT, s), rhsT)   # G' Sigma = Sigma G'
        self.rules = rules


class Normaliser:
    """Rewrites with declared relations; decides "= 0" only when the normal form is 0."""

    def __init__(self, relations: Iterable[InverseRelation], frozen: Mapping | None = None,
                 max_rounds: int = 10000):
        self.relations = list(relations)
        self.frozen = dict(frozen or {})
        self.max_rounds = max_rounds
        gs = [r.G[0] for r in self.relations]
        if len(set(gs)) != len(gs):
            raise ValueError("each G may appear in one relation only")
        for r in self.relations:
            for nm, _ in r.b.letters():
                if nm in gs:
                    raise ValueError("b must be free of every related G")
            if r.Sigma[0] in gs:
                raise ValueError("a related G cannot be another relation's Sigma")
        self.rules: dict = {}
        for r in self.relations:
            for k, v in r.rules.items():
                self.rules.setdefault(k, v)

    # one rewrite of a word, linear or cyclic
    def _rw_linear(self, w: Word):
        for p in range(len(w) - 1):
            rhs = self.rules.get((w[p], w[p + 1]))
            if rhs is not None:
                return MatPoly({(m, w[:p] + rw + w[p + 2:]): c for (m, rw), c in rhs.terms.items()})
        return None

    def _rw_cyclic(self, w: Word):
        L = len(w)
        if L < 2:
            return None
        for p in range(L):
            rhs = self.rules.get((w[p], w[(p + 1) % L]))
            if rhs is not None:
                rot = w[p:] + w[:p]
                rest = rot[2:]
                out = TracePoly()
                for (m, rw), c in rhs.terms.items():
                    out = out + TracePoly({m: c}) * trace(MatPoly({((), rw + rest): sp.Integer(1)}))
                return out
        return None

    def _mono_step(self, mono):
        for k, w in enumerate(mono):
            r = self._rw_cyclic(w)
            if r is not None:
                return TracePoly({mono[:k] + mono[k + 1:]: sp.Integer(1)}) * r
        return None

    def normal_form(self, expr):
        """Rewrite until no rule applies (after freezing the declared traces)."""
        if isinstance(expr, MatPoly):
            cur = expr.freeze(self.frozen) if self.frozen else expr
            for _ in range(self.max_rounds):
                acc, changed = _Acc(), False
                for (m, w), c in cur.terms.items():
                    r = self._rw_linear(w)
                    if r is not None:
                        changed = True
                        for (m2, w2), c2 in r.terms.items():
                            acc.add((_mono_mul(m, m2), w2), c * c2)
                        continue
                    t = self._mono_step(m)
                    if t is not None:
                        changed = True
                        for m2, c2 in t.terms.items():
                            acc.add((m2, w), c * c2)
                        continue
                    acc.add((m, w), c)
                cur = MatPoly(acc.result())
                if not changed:
                    return cur
            raise RuntimeError("normaliser did not terminate")
        cur = TracePoly._coerce(expr)
        if self.frozen:
            cur = cur.freeze(self.frozen)
        for _ in range(self.max_rounds):
            acc, changed = _Acc(), False
            for m, c in cur.terms.items():
                t = self._mono_step(m)
                if t is not None:
                    changed = True
                    for m2, c2 in t.terms.items():
                        acc.add(m2, c * c2)
                else:
                    acc.add(m, c)
            cur = TracePoly(acc.result())
            if not changed:
                return cur
        raise RuntimeError("normaliser did not terminate")

    def is_zero(self, expr):
        """True if proved zero (normal form 0); None if undecided.  Never False."""
        return True if self.normal_form(expr).is_zero() else None

    def equal(self, x, y):
        """True if x = y is proved; None if undecided."""
        if isinstance(x, MatPoly) or isinstance(y, MatPoly):
            return self.is_zero(MatPoly._coerce(x) - MatPoly._coerce(y))
        return self.is_zero(TracePoly._coerce(x) - TracePoly._coerce(y))

    def refute(self, expr, d: int = 3, scalars: Mapping | None = None, seed: int = 0, tries: int = 4):
        """A concrete exact instance of every declared relation at which expr is
        nonzero (a dict with 'matrices', 'scalars', 'value'), or None."""
        rng = random.Random(seed)
        letters = set(expr.letters())
        for r in self.relations:
            letters |= {(r.Sigma[0], SYM)} | r.b.letters()
        for tp in self.frozen.values():
            letters |= TracePoly._coerce(tp).letters()
        gnames = {r.G[0] for r in self.relations}
        sigmas = {r.Sigma[0] for r in self.relations}
        syms = set(expr.symbols())
        for r in self.relations:
            syms |= r.a.free_symbols | r.b.symbols()
        syms -= {DIM} | set(self.frozen)
        for _ in range(tries):
            mats = {}
            for nm, kind in sorted(letters):
                if nm in gnames:
                    continue
                B = sp.Matrix(d, d, lambda i, j: rng.randint(-3, 3))
                if nm in sigmas:
                    mats[nm] = B * B.T + sp.eye(d)
                elif kind == SYM:
                    mats[nm] = B + B.T
                else:
                    mats[nm] = B
            sc = {s: rng.randint(2, 9) for s in sorted(syms, key=str)}
            sc.update(scalars or {})
            sc[DIM] = d
            for s, tp in self.frozen.items():
                sc[s] = TracePoly._coerce(tp).evaluate(mats, sc)
            ok = True
            for r in self.relations:
                av = r.a.subs(sc)
                bv = r.b.evaluate(mats, sc) if r.b.letters() else r.b.constant().subs(sc)
                K = av * mats[r.Sigma[0]] + bv * sp.eye(d)
                if K.det() == 0:
                    ok = False
                    break
                mats[r.G[0]] = K.inv()
            if not ok:
                continue
            val = expr.evaluate(mats, sc)
            if isinstance(val, sp.MatrixBase):
                nz = any(sp.simplify(x) != 0 for x in val)
            else:
                nz = sp.simplify(val) != 0
            if nz:
                return {"d": d, "matrices": mats, "scalars": sc, "value": val}
        return None

    def decide(self, expr, **kw):
        """True (proved), False (concrete counterexample), or None (undecided)."""
        if self.is_zero(expr):
            return True
        return False if self.refute(expr, **kw) is not None else None
