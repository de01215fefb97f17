"""Noncommutative polynomials over block symbols: the bridge between a layer's
weights and matrix identities that hold for every dimension d.

A polynomial is a sum of terms ``coeff * s_1 * ... * s_r * w`` where ``w`` is a
word of letters (a matrix product, e.g. ``T x_t``), the ``s_i`` are 1x1 words
(scalars such as ``x_t' T x_j``, which commute with everything), and ``coeff`` is
an exact, commutative sympy expression (alpha, n, y_j, ...).  Canonical form: a
scalar word is stored as the smaller of itself and its transpose, and a 1x1
main word is moved among the scalars.  Letters carry shapes (``d`` or ``1``)
and transposes, so products are shape-checked and never expand matrix powers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import sympy as sp

Word = tuple[str, ...]
Key = tuple[tuple[Word, ...], Word]


class Alphabet:
    """Letters with shapes; ``X'`` is the transpose of ``X``."""

    def __init__(self):
        self.shape: dict[str, tuple[str, str]] = {}
        self.tr: dict[str, str] = {}
        self.identities: set[str] = set()

    def identity(self, name: str = "I", dim: str = "d") -> "Poly":
        """The identity matrix of size ``dim``: dropped from every product it is part of."""
        self._add(name, (dim, dim), name)
        self.identities.add(name)
        return Poly.letter(name, self)

    def matrix(self, name: str, symmetric: bool = False) -> "Poly":
        self._add(name, ("d", "d"), name if symmetric else name + "'")
        return Poly.letter(name, self)

    def vector(self, name: str, rows: str = "d") -> "Poly":
        self._add(name, (rows, "1"), name + "'")
        return Poly.letter(name, self)

    def letter(self, name: str, shape: tuple[str, str], symmetric: bool = False) -> "Poly":
        """A letter of any shape (dimension names such as "d", "m", "1")."""
        if name in self.shape and self.shape[name] != tuple(shape):
            raise ValueError(f"letter {name} already has shape {self.shape[name]}, not {shape}")
        if name in self.tr and (self.tr[name] == name) != bool(symmetric):
            raise ValueError(f"letter {name} is already declared {'symmetric' if self.tr[name] == name else 'general'};"
                             f" it cannot also be {'symmetric' if symmetric else 'general'}")
        if symmetric and shape[0] != shape[1]:
            raise ValueError(f"a symmetric letter must be square, {name} is {shape}")
        self._add(name, tuple(shape), name if symmetric else name + "'")
        return Poly.letter(name, self)

    def _add(self, name, shape, tname):
        self.shape[name] = shape
        self.tr[name] = tname
        if tname != name:
            self.shape[tname] = (shape[1], shape[0])
            self.tr[tname] = name

    def word_shape(self, w: Word) -> tuple[str, str]:
        if not w:
            return ("1", "1")
        for a, b in zip(w, w[1:]):
            if self.shape[a][1] != self.shape[b][0]:
                raise ValueError(f"shape mismatch in product {' '.join(w)}: {a} then {b}")
        return (self.shape[w[0]][0], self.shape[w[-1]][1])

    def transpose_word(self, w: Word) -> Word:
        return tuple(self.tr[a] for a in reversed(w))

    def canon_scalar(self, w: Word) -> Word:
        return min(w, self.transpose_word(w))


@dataclass(frozen=True)
class Poly:
    terms: tuple[tuple[Key, sp.Expr], ...]
    ab: Alphabet

    # -- construction -------------------------------------------------
    @staticmethod
    def from_dict(dct: Mapping[Key, sp.Expr], ab: Alphabet) -> "Poly":
        items = []
        for key, c in dct.items():
            c = sp.expand(c)
            if c != 0:
                items.append((key, c))
        items.sort(key=lambda kc: (len(kc[0][1]) + sum(map(len, kc[0][0])), kc[0]))
        return Poly(tuple(items), ab)

    @staticmethod
    def letter(name: str, ab: Alphabet) -> "Poly":
        return Poly._term((), (name,), sp.Integer(1), ab)

    @staticmethod
    def const(c, ab: Alphabet) -> "Poly":
        return Poly.from_dict({((), ()): sp.sympify(c)}, ab)

    @staticmethod
    def zero(ab: Alphabet) -> "Poly":
        return Poly((), ab)

    @staticmethod
    def _term(scalars: Iterable[Word], word: Word, c, ab: Alphabet) -> "Poly":
        if ab.identities:
            word = _drop_identity(word, ab)
            scalars = [_drop_identity(s, ab) for s in scalars]
        scal = [ab.canon_scalar(s) for s in scalars if s]
        if word and ab.word_shape(word) == ("1", "1"):
            scal.append(ab.canon_scalar(word))
            word = ()
        return Poly.from_dict({(tuple(sorted(scal)), word): sp.sympify(c)}, ab)

    # -- algebra --------------------------------------------------------
    def as_dict(self) -> dict[Key, sp.Expr]:
        return dict(self.terms)

    def __add__(self, other: "Poly") -> "Poly":
        other = _lift(other, self.ab)
        dct = self.as_dict()
        for k, c in other.terms:
            dct[k] = dct.get(k, 0) + c
        return Poly.from_dict(dct, self.ab)

    __radd__ = __add__

    def __neg__(self) -> "Poly":
        return self.scale(-1)

    def __sub__(self, other) -> "Poly":
        return self + (-_lift(other, self.ab))

    def __rsub__(self, other) -> "Poly":
        return _lift(other, self.ab) - self

    def scale(self, c) -> "Poly":
        c = sp.sympify(c)
        return Poly.from_dict({k: v * c for k, v in self.terms}, self.ab)

    def __mul__(self, other) -> "Poly":
        if not isinstance(other, Poly):
            return self.scale(other)
        out = Poly.zero(self.ab)
        for (s1, w1), c1 in self.terms:
            for (s2, w2), c2 in other.terms:
                if w1 and w2:
                    word = w1 + w2
                    self.ab.word_shape(word)
                    out = out + Poly._term(s1 + s2, word, c1 * c2, self.ab)
                else:
                    out = out + Poly._term(s1 + s2, w1 + w2, c1 * c2, self.ab)
        return out

    def __rmul__(self, c) -> "Poly":
        return self.scale(c)

    @property
    def T(self) -> "Poly":
        return Poly.from_dict({(s, self.ab.transpose_word(w)): c for (s, w), c in self.terms}, self.ab)

    def map_coeffs(self, f) -> "Poly":
        return Poly.from_dict({k: f(c) for k, c in self.terms}, self.ab)

    def subs(self, letters: Mapping[str, "Poly"] | None = None, coeffs: Mapping | None = None,
             follow_transpose: bool = True) -> "Poly":
        """Replace letters by polynomials and commutative symbols in the
        coefficients.  With ``follow_transpose`` a letter's transpose is
        replaced by the transposed polynomial too (a change of variable); without
        it only the named letters change (an assumption such as T' = T)."""
        letters = dict(letters or {})
        for name, p in list(letters.items()) if follow_transpose else ():
            t = self.ab.tr[name]
            if t != name and t not in letters:
                letters[t] = p.T
        out = Poly.zero(self.ab)
        for (scal, word), c in self.terms:
            if coeffs:
                c = sp.sympify(c).subs(coeffs)
            acc = Poly.const(c, self.ab)
            for s in scal:
                acc = acc * _word_poly(s, letters, self.ab)
            acc = acc * _word_poly(word, letters, self.ab)
            out = out + acc
        return out

    def simplify(self) -> "Poly":
        return self.map_coeffs(lambda c: sp.factor(sp.cancel(c)) if c.free_symbols else c)

    def is_zero(self) -> bool:
        return all(sp.simplify(c) == 0 for _, c in self.terms)

    def letters(self) -> set[str]:
        out = set()
        for (scal, w), c in self.terms:
            for x in (*scal, w):
                out.update(x)
        return out

    def coeff_symbols(self) -> set[sp.Symbol]:
        return set().union(*(sp.sympify(c).free_symbols for _, c in self.terms)) if self.terms else set()

    # -- reading --------------------------------------------------------
    def right_factor(self, letter: str) -> "Poly | None":
        """F with self == F * letter, or None when some term does not end so."""
        dct = {}
        rows = self.ab.shape.get(letter, ("", ""))[0]
        ident = next(((i,) for i in sorted(self.ab.identities) if self.ab.shape[i][0] == rows), ())
        for (scal, w), c in self.terms:
            if scal or not w or w[-1] != letter:
                return None
            key = ((), w[:-1] or ident)          # c * letter alone is (c I) letter
            dct[key] = dct.get(key, 0) + c
        return Poly.from_dict(dct, self.ab)

    def left_factor(self, letter: str) -> "Poly | None":
        """F with self == letter' F for a 1x1 polynomial linear in ``letter`` (a
        vector): every term holds ``letter`` exactly once, at an end of one scalar
        word.  None otherwise.  (The caller verifies the whole template with F.)"""
        lt = self.ab.tr[letter]
        dct: dict = {}
        for (scal, w), c in self.terms:
            if w:
                return None
            hits = [i for i, s in enumerate(scal) if letter in s or lt in s]
            if len(hits) != 1:
                return None
            s = scal[hits[0]]
            if sum(x in (letter, lt) for x in s) != 1:
                return None
            if s[0] != lt:
                s = self.ab.transpose_word(s)
            if s[0] != lt:
                return None
            rest = [x for i, x in enumerate(scal) if i != hits[0]]
            p = Poly._term(rest, s[1:], c, self.ab) if s[1:] else None
            if p is None or len(p.terms) != 1 or p.terms[0][0][1] != s[1:]:
                # the remaining factor must stay a column (not collapse into a scalar)
                return None
            for k, v in p.terms:
                dct[k] = dct.get(k, 0) + v
        return Poly.from_dict(dct, self.ab)

    def first_difference(self, other: "Poly") -> tuple[str, sp.Expr, sp.Expr] | None:
        a, b = self.as_dict(), other.as_dict()
        for key in sorted(set(a) | set(b), key=lambda k: (len(k[1]) + sum(map(len, k[0])), k)):
            ca, cb = sp.sympify(a.get(key, 0)), sp.sympify(b.get(key, 0))
            if sp.simplify(ca - cb) != 0:
                return term_str(key), ca, cb
        return None

    def __eq__(self, other) -> bool:  # exact polynomial identity
        if not isinstance(other, Poly):
            other = Poly.const(other, self.ab)
        return (self - other).is_zero()

    def __hash__(self):
        return hash(self.terms)

    def __str__(self) -> str:
        if not self.terms:
            return "0"
        from .mathtext import math_text
        parts = []
        for key, c in self.terms:
            t = term_str(key)
            cs = math_text(c)
            cs = f"({cs})" if isinstance(c, sp.Add) else cs
            parts.append(cs if not t else (t if c == 1 else f"−{t}" if c == -1 else f"{cs} {t}"))
        return " + ".join(parts).replace("+ −", "− ")

    __repr__ = __str__

    def latex(self) -> str:
        if not self.terms:
            return "0"
        out = []
        for key, c in self.terms:
            t = term_tex(key)
            if not t:
                s = sp.latex(c)
            elif c == 1:
                s = t
            elif c == -1:
                s = "-" + t
            else:
                cs = sp.latex(c)
                s = (f"\\left({cs}\\right)" if isinstance(c, sp.Add) else cs) + " " + t
            out.append(s)
        return " + ".join(out).replace("+ -", "- ")

    def evaluate(self, env: Mapping[str, object], coeffs: Mapping | None = None, conv=None, one=None):
        """The value for concrete matrices: sympy matrices by default, or any
        matrices whose ``*`` is the matrix product (``numeric.backends.Mat``),
        with ``conv`` turning a coefficient into their scalar type and ``one``
        the 1x1 matrix holding 1 (for scalar-valued polynomials)."""
        conv = conv or (lambda c: sp.sympify(c).subs(coeffs or {}))
        total = None
        for (scal, w), c in self.terms:
            val = conv(c)
            for s in scal:
                val = val * _eval_word(s, env)[0, 0]
            if w:
                m = _eval_word(w, env) * val
            else:
                m = sp.Matrix([[val]]) if one is None else one * val
            total = m if total is None else total + m
        return total


def _drop_identity(w: Word, ab: Alphabet) -> Word:
    """I u = u I = u: identity letters vanish from a product, unless the product is the identity alone."""
    if not any(x in ab.identities for x in w):
        return w
    rest = tuple(x for x in w if x not in ab.identities)
    return rest if rest else (next(x for x in w if x in ab.identities),)


def _lift(p, ab) -> Poly:
    return p if isinstance(p, Poly) else Poly.const(p, ab)


def _word_poly(w: Word, letters: Mapping[str, Poly], ab: Alphabet) -> Poly:
    acc = Poly.const(1, ab)
    for a in w:
        acc = acc * letters.get(a, Poly.letter(a, ab))
    return acc


def _eval_word(w: Word, env):
    m = env[w[0]]
    for a in w[1:]:
        m = m * env[a]
    return m


def term_str(key: Key) -> str:
    scal, w = key
    return " ".join(["(" + " ".join(s) + ")" for s in scal] + list(w))


def _letter_tex(a: str) -> str:
    base, tr = (a[:-1], True) if a.endswith("'") else (a, False)
    if "_" in base:
        h, sub = base.split("_", 1)
        base = f"{h}_{{\\mathrm{{{sub}}}}}" if len(sub) > 1 else f"{h}_{{{sub}}}"
    return base + ("^{\\top}" if tr else "")


def term_tex(key: Key) -> str:
    scal, w = key
    parts = ["\\left(" + " ".join(map(_letter_tex, s)) + "\\right)" for s in scal]
    return " ".join(parts + [_letter_tex(a) for a in w])


class SumError(ValueError):
    pass


def _powers_of(c, y: sp.Symbol, what: str) -> list[tuple[int, sp.Expr]]:
    """c = sum_p c_p y^p, as [(p, c_p)]; c must be polynomial in y."""
    c = sp.expand(sp.sympify(c))
    if not c.has(y):
        return [(0, c)]
    try:
        return [(m[0], coef) for m, coef in sp.Poly(c, y).terms()]
    except sp.PolynomialError:
        raise SumError(f"the coefficient {sp.sstr(c)} of {what} is not polynomial in {y}") from None


def _monomials_of(c, gens: list, what: str) -> list[tuple[tuple[int, ...], sp.Expr]]:
    """c = sum_m c_m g_1^m_1 ... g_r^m_r, as [(m, c_m)]; c must be polynomial in every gens symbol it holds
    (the scalar label y_j and the declared per-example scalars q_j).  With one symbol it is _powers_of."""
    c = sp.expand(sp.sympify(c))
    present = [g for g in gens if c.has(g)]
    if not present:
        return [(tuple(0 for _ in gens), c)]
    try:
        terms = sp.Poly(c, *present).terms()
    except sp.PolynomialError:
        raise SumError(f"the coefficient {sp.sstr(c)} of {what} is not polynomial in "
                       f"{', '.join(map(str, present))}") from None
    out = []
    for m, coef in terms:
        e = dict(zip(present, m))
        out.append((tuple(e.get(g, 0) for g in gens), coef))
    return out


def example_moment_name(name: str, rows: str) -> str:
    """The name of the data moment a declared per-example letter generates: a scalar q_j gives the d-vector
    b_q = sum_j q_j x_j (as y_j gives b); a d-vector u_j gives the d x d matrix S_ux = sum_j u_j x_j' (not
    symmetric; its transpose S_ux' is sum_j x_j u_j'), as x_j gives S."""
    return f"b_{name}" if rows == "1" else f"S_{name}x"


@dataclass(frozen=True)
class ExampleLetters:
    """Per-example quantities a construction declares beside x_j and y_j, in the key's role j, each with the
    one moment the engine derives for it (:func:`example_moment_name`): ``vectors`` are (letter u_j, moment
    S_ux = sum_j u_j x_j'), ``scalars`` are (commutative symbol q_j, moment b_q = sum_j q_j x_j).  Nothing
    else of them is a moment: a product of two of them (q_j u_j, q_j^2), u_j u_j', sum_j u_j, sum_j q_j,
    y_j q_j x_j are refused."""
    vectors: tuple[tuple[str, str], ...] = ()
    scalars: tuple[tuple[sp.Symbol, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.vectors or self.scalars)


@dataclass(frozen=True)
class SumPiece:
    """One term of a sum over the examples j = 1..n, split into what the rules
    look at: the scalar words and main word (with adjacent ``x_j x_j'`` already
    contracted to the Gram letter), how many Gram pairs were contracted, how many
    single occurrences of ``x_j`` remain, the power of the scalar label ``y_j``,
    and the coefficient (which may hold the key's index ``i_j``)."""
    scal: tuple[Word, ...]
    word: Word
    pairs: int
    singles: int
    deg_y: int
    coeff: sp.Expr
    j: str
    jt: str
    index: sp.Symbol | None
    moments: Mapping[str, object]
    n: sp.Expr
    ab: "Alphabet"
    letter_pairs: int = 0                 # contracted pairs u_j x_j' or x_j u_j' of a declared per-example vector
    letter_singles: int = 0               # occurrences of a declared per-example vector u_j not so contracted
    letter_powers: tuple = ()             # ((q_j, power), ...) of the declared per-example scalars, powers > 0
    letters: ExampleLetters | None = None

    @property
    def indexed(self) -> bool:
        return self.index is not None and sp.sympify(self.coeff).has(self.index)

    @property
    def plain(self) -> bool:
        """The term holds no declared per-example letter (only x_j, y_j and i_j of example j)."""
        return not (self.letter_pairs or self.letter_singles or self.letter_powers)


def _rule_free(p: SumPiece):
    """sum_j c = n c for a term free of the example (data, label and index)."""
    if p.pairs == p.singles == p.deg_y == 0 and not p.indexed and p.plain:
        return Poly._term(p.scal, p.word, p.coeff * p.n, p.ab)


def _rule_index_powers(p: SumPiece):
    """sum_{i=1}^n q(i) for a coefficient polynomial in the key's index i_j
    (positions are affine in it): Faulhaber's sums, exactly, as a polynomial in n."""
    if p.pairs == p.singles == p.deg_y == 0 and p.indexed and p.plain:
        try:
            sp.Poly(p.coeff, p.index)
        except sp.PolynomialError:
            return None
        total = sp.expand(sp.summation(sp.expand(p.coeff), (p.index, 1, p.n)))
        return Poly._term(p.scal, p.word, total, p.ab)


def _rule_gram(p: SumPiece):
    """sum_j x_j x_j' = S (one Gram pair, nothing else of example j)."""
    if p.pairs == 1 and p.singles == 0 and p.deg_y == 0 and not p.indexed and p.plain:
        return Poly._term(p.scal, p.word, p.coeff, p.ab)


def _rule_label(p: SumPiece):
    """sum_j y_j x_j = b = X'y (one x_j, in the word or in a scalar, times the scalar label y_j)."""
    if p.pairs == 0 and p.singles == 1 and p.deg_y == 1 and not p.indexed and p.plain and \
            any(x in (p.j, p.jt) for x in (*p.word, *(a for s in p.scal for a in s))):
        b = p.moments["b"]
        bt = b + "'"
        sub = lambda w: tuple(b if x == p.j else bt if x == p.jt else x for x in w)
        return Poly._term([sub(s) for s in p.scal], sub(p.word), p.coeff, p.ab)


def _rule_label_square(p: SumPiece):
    """sum_j y_j^2 = y'y."""
    if p.pairs == p.singles == 0 and p.deg_y == 2 and not p.indexed and p.plain:
        return Poly._term(p.scal, p.word, p.coeff * p.moments["yy"], p.ab)


def _rule_letter_pair(p: SumPiece):
    """sum_j u_j x_j' = S_ux (and sum_j x_j u_j' = S_ux') for a declared per-example vector u_j: exactly one
    such pair, already contracted to its moment, and nothing else of example j (no x_j, u_j, y_j, q_j, i_j)."""
    if p.letter_pairs == 1 and p.pairs == p.singles == p.letter_singles == p.deg_y == 0 and not p.letter_powers \
            and not p.indexed:
        return Poly._term(p.scal, p.word, p.coeff, p.ab)


def _rule_letter_label(p: SumPiece):
    """sum_j q_j x_j = b_q for a declared per-example scalar q_j: one x_j (in the word or in a scalar), q_j to
    the first power, and nothing else of example j (no second x_j, no u_j, y_j, other q, i_j)."""
    if p.pairs == p.letter_pairs == p.letter_singles == p.deg_y == 0 and p.singles == 1 and not p.indexed \
            and len(p.letter_powers) == 1 and p.letter_powers[0][1] == 1 and p.letters is not None \
            and any(x in (p.j, p.jt) for x in (*p.word, *(a for s in p.scal for a in s))):
        m = dict(p.letters.scalars)[p.letter_powers[0][0]]
        mt = p.ab.tr[m]
        sub = lambda w: tuple(m if x == p.j else mt if x == p.jt else x for x in w)
        return Poly._term([sub(s) for s in p.scal], sub(p.word), p.coeff, p.ab)


# The summation rules, tried in order; each is sound on its own (tests/test_ncalg.py tests each alone).
# A term no rule takes is refused, never summed as if it were constant.
SUM_RULES = (("free of the example", _rule_free), ("powers of the key's index", _rule_index_powers),
             ("Gram pair", _rule_gram), ("label moment", _rule_label), ("label square", _rule_label_square),
             ("per-example vector pair", _rule_letter_pair), ("per-example scalar moment", _rule_letter_label))


def _pair_scalars(scal: list, ex: set, pair_moment: Mapping, ab: "Alphabet") -> list:
    """Join two scalar words that each hold one example letter at an end into one
    scalar word with the pair adjacent: (u' x_j)(x_j' v) = u' x_j x_j' v.  Scalars
    commute and each equals its transpose, so the join is an identity."""
    scal = list(scal)
    for a in range(len(scal)):
        for b in range(len(scal)):
            if a == b:
                continue
            for s1 in (scal[a], ab.transpose_word(scal[a])):
                for s2 in (scal[b], ab.transpose_word(scal[b])):
                    if s1 and s2 and s1[-1] in ex and (s1[-1], s2[0]) in pair_moment \
                            and sum(x in ex for x in s1) == 1 and sum(x in ex for x in s2) == 1:
                        rest = [x for i, x in enumerate(scal) if i not in (a, b)]
                        return rest + [s1 + s2]
    return scal


def sum_over_examples(p: Poly, j: str, y_j: sp.Symbol, moments: Mapping[str, object], n: sp.Expr,
                      index: sp.Symbol | None = None, labels: str | None = None,
                      letters: ExampleLetters | None = None) -> Poly:
    """``sum_{j=1}^n p(x_j, y_j, i_j)`` by the rules of :data:`SUM_RULES`.

    ``moments`` names the data moments: ``S`` (sum x_j x_j'), ``b`` (sum y_j x_j),
    ``yy`` (sum y_j^2, a commutative symbol).  ``index`` is the key's example
    index (positions are affine in it): a coefficient that depends on it is
    summed by Faulhaber's formulas when the term holds nothing else of example j,
    and refused otherwise.  Every term no rule takes raises :class:`SumError`
    naming it.  The result never holds ``x_j``, ``y_j`` or ``i_j``.

    ``labels`` names a vector label letter (``y_j``, m x 1) when labels are
    vectors: the pairs ``y_j x_j'``, ``x_j y_j'`` and ``y_j y_j'`` then sum to the
    moments ``C = Y'X``, ``C'`` and ``Yy = Y'Y`` (names in ``moments``).

    ``letters`` are the per-example quantities a construction declares (:class:`ExampleLetters`): a vector
    u_j in the pairs ``u_j x_j'`` / ``x_j u_j'`` sums to its moment S_ux / S_ux', a scalar q_j times one
    x_j to b_q; nothing else holding them is summed, and the result never holds them.
    """
    ab = p.ab
    letters = letters or ExampleLetters()
    jt = ab.tr[j]
    S = moments["S"]
    data = {j, jt}                     # the example's data letters (x_j and, for vector labels, y_j)
    pair_moment = {(j, jt): S}
    if labels is not None:
        lt = ab.tr[labels]
        data |= {labels, lt}
        C = moments["C"]
        pair_moment.update({(labels, jt): C, (j, lt): ab.tr[C], (labels, lt): moments["Yy"]})
    declared: set = set()              # the declared per-example vectors u_j, u_j'
    letter_moments: set = set()
    for u, M in letters.vectors:
        ut = ab.tr[u]
        declared |= {u, ut}
        pair_moment.update({(u, jt): M, (j, ut): ab.tr[M]})
        letter_moments |= {M, ab.tr[M]}
    ex = data | declared
    qs = [q for q, _ in letters.scalars]
    starts = {b for (_, b) in pair_moment}
    out = Poly.zero(ab)
    for (scal, w), c in p.terms:
        scal = list(scal)
        # two scalars paired by the example: (u' x_j)(x_j' v) -> (u' x_j x_j' v), one scalar word
        if not (w and w[-1] in ex):
            scal = _pair_scalars(scal, ex, pair_moment, ab)
        # orient a scalar that carries the example so that it can follow a word ending in it
        if w and w[-1] in ex:
            for i, s in enumerate(scal):
                cand = next((c_ for c_ in (s, ab.transpose_word(s))
                             if c_ and c_[0] in starts and (w[-1], c_[0]) in pair_moment), None)
                if cand:
                    w = w + cand
                    scal.pop(i)
                    break
        # u_j v_j'  ->  the moment of the pair (x_j x_j' -> S, ...), in the word and in every scalar
        used: list = []

        def contract(word):
            out_, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) in pair_moment:
                    out_.append(pair_moment[(word[i], word[i + 1])])
                    used.append(out_[-1])
                    i += 2
                else:
                    out_.append(word[i])
                    i += 1
            return tuple(out_)
        new = contract(w)
        scal = [contract(s_) for s_ in scal]
        letter_pairs = sum(1 for m in used if m in letter_moments)
        pairs = len(used) - letter_pairs
        occurs = [x for x in (*new, *(a for s_ in scal for a in s_))]
        singles = sum(1 for x in occurs if x in data)
        letter_singles = sum(1 for x in occurs if x in declared)
        what = term_str((tuple(scal), w))
        for degs, cy in _monomials_of(c, [y_j, *qs], what):
            deg_y, powers = degs[0], tuple((q, e) for q, e in zip(qs, degs[1:]) if e)
            piece = SumPiece(tuple(scal), tuple(new), pairs, singles, deg_y, cy, j, jt, index, moments, n, ab,
                             letter_pairs, letter_singles, powers, letters)
            got = next((r for r in (rule(piece) for _, rule in SUM_RULES) if r is not None), None)
            if got is None:
                dep = (f" (its coefficient depends on the key's index {index}, which only a term free of the "
                       "example's data can carry)") if piece.indexed else ""
                mono = cy * y_j**deg_y * sp.Mul(*[q**e for q, e in powers])
                extra = "".join(f", {example_moment_text(m)}" for _, m in (*letters.vectors, *letters.scalars))
                raise SumError(f"the sum over examples of the term {sp.sstr(mono)} * {what} does not "
                               "reduce to the data moments S = X'X, b = X'y, y'y" + extra + " (or n, or sums of "
                               f"powers of the index, for a term free of the example){dep}")
            out = out + got
    leaked = {x for x in out.letters() if x in ex} | ({y_j, index, *qs} & out.coeff_symbols())
    if leaked:   # a rule that left the key's role in the result would be unsound: refuse loudly
        raise SumError(f"internal: the sum over examples left {sorted(map(str, leaked))} free")
    return out


def example_moment_text(m: str) -> str:
    """What a derived moment name means, for messages: b_q = sum_j q_j x_j, S_ux = sum_j u_j x_j'."""
    head, name = m.split("_", 1)
    return f"{m} = sum_j {name}_j x_j" if head == "b" else f"{m} = sum_j {name[:-1]}_j x_j'"


def sum_over_basis(p: Poly) -> Poly:
    """``sum_{j=1}^d p(e_j)`` over the d basis tokens, token j holding the standard basis vector e_j:
    the same rules as :func:`sum_over_examples` with the one moment sum_j e_j e_j' = I (the identity
    letter, dropped from every product) and sum_j c = d c for a term free of e_j.  A term holding e_j
    otherwise (once, e_j' M e_j, three times, a label, an index) is refused.  Sound because the d basis
    tokens carry exactly e_1, ..., e_d (the token format's input ``e``), whatever the other blocks hold."""
    from .layout import d
    if "I" not in p.ab.identities:
        raise SumError("the sum over basis tokens needs the identity letter I in the alphabet")
    return sum_over_examples(p, "e_j", sp.Symbol("_no_label_on_basis_tokens"),
                             {"S": "I", "b": None, "yy": None}, d)
