r"""Exact population losses of in-context predictions, for every d and n.

The bridge from a network's prediction to its population loss.  A
prediction is an :mod:`symbolic.ncalg` polynomial (1x1) over the data letters

    z  (d x 1)   the query x_q,
    S  (d x d, symmetric)   X'X, *unnormalised* (n examples),
    b  (d x 1)   X'y,

and any d x d parameter letters (``A`` with transpose ``A'``, or symmetric
ones), with commutative sympy coefficients (n, eta, a, ...).  The loss is

    E (pred - y_q)^2    (+ sigma_q^2 with query noise),

under the prior of :class:`Prior`: x_i, x_q iid N(0, Sigma) (Sigma a
symmetric letter or I); w* ~ N(0, c C) with C in {I, Sigma, Sigma^{-1}}
(Sigma^{-1} the letter ``Sigma_inv`` with the relation Sigma Sigma^{-1} = I,
see :func:`sigma_inverse_relation`); y = X w* + eps, eps ~ N(0, sigma^2 I_n);
y_q = x_q' w* (+ eps_q).  The result is a :class:`symbolic.gaussian.TracePoly`
in traces of words over Sigma, Sigma_inv and the parameter letters, with
coefficients rational in n (and polynomial in the prediction's scalars).

The rules, each small and tested alone (``tests/test_population.py``):

B1 (chains).  A 1x1 word of the prediction is cut into *chains* u' W v at
   every place where its prefix is 1x1; u, v are vector letters (z or b) and
   W is a word of d x d letters.  Sound: a product of 1x1 matrices is the
   product of the scalars.  A vector letter other than z, b is refused.
B2 (data).  z -> x_q, S -> n S_hat, b -> n S_hat w* + e with e := X'eps and
   S_hat := (1/n) X'X, the engine's sample covariance.  Sound: X'y =
   X'X w* + X'eps.  A chain with a b end splits into two (linearity).
B3 (noise).  E over eps first (eps is independent of X, w*, x_q): given X,
   e = X'eps ~ N(0, sigma^2 X'X) = N(0, sigma^2 n S_hat).  Isserlis'
   theorem in eps: a product with an odd number of e's has mean 0; with an
   even number it is the sum over pairings of the e-occurrences, each pair
   (alpha' e)(e' beta) contributing sigma^2 alpha' X'X beta =
   sigma^2 n alpha' S_hat beta.  Gluing two chains at a pair gives the chain
   u' W1 S_hat W2' v; a chain e' W e closed on itself gives
   sigma^2 n tr(W S_hat).  (For predictions linear in b, the only case is
   (u' W1 e)(e' W2 v) -> sigma^2 n u' W1 S_hat W2 v.)
B4 (Wick).  The rest is a polynomial in chains over x_q, w* and traces, with
   S_hat inside: :meth:`symbolic.gaussian.GaussianSpace.expect` takes its
   exact expectation over x_i, x_q, w*.
B5 (Sigma^{-1}).  Every adjacent Sigma Sigma_inv or Sigma_inv Sigma (cyclically
   inside a trace) is deleted (:func:`cancel_inverse`: the relation
   Sigma Sigma^{-1} = Sigma^{-1} Sigma = I, tr(I) = d); further declared
   relations (a minimiser G with G(a Sigma + b I) = I) go through the
   engine's :class:`~symbolic.gaussian.Normaliser`.  Each rewrite replaces a
   quantity by an equal one, so a zero normal form proves zero; a nonzero one
   proves nothing (the kinds then look for an exact counterexample).

Helpers: :func:`matrix_gradient`, :func:`first_order_form`,
:func:`second_order_form` (matrix letters), :func:`scalar_derivative`
(scalar symbols), :func:`certify_nonneg` (a rational function >= 0 for all
sizes >= 1), and :func:`psd_form` (the sound PSD rule for second-order
forms: it says "undecided" for anything it does not recognise).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import sympy as sp

from . import gaussian as g
from .gaussian import DIM, NSAMP, GEN, GENT, SAMPLE, SYM, MatPoly, TracePoly
from .mathtext import math_text, symbol_text
from .ncalg import Alphabet, Poly

__all__ = [
    "SIGMA", "SIGMA_INV", "SAMPLE_LETTER", "Prior", "Chain", "ChainPoly",
    "prediction_chains", "substitute_data", "target", "chain_square", "expect_noise", "expect_terms",
    "population_loss",
    "sigma_inverse_relation", "normaliser", "cancel_inverse", "normal_form", "at_point", "truncate",
    "matrix_gradient", "first_order_form", "second_order_form", "scalar_derivative",
    "degree_in_letter", "certify_nonneg", "PSDResult", "psd_form",
    "data_alphabet", "preconditioned_gd_prediction",
]

SIGMA = "Sigma"             # default name of the covariance letter of x
SIGMA_INV = "Sigma_inv"     # the letter Sigma^{-1} (relation Sigma Sigma_inv = I)
SAMPLE_LETTER = "S_hat"     # the engine's sample covariance (1/n) X'X
XQ, W, E = "x_q", "w", "e"  # vector names after the data substitution (e = X'eps)
DATA = ("z", "S", "b")      # the prediction's data letters
RESERVED = {SAMPLE_LETTER, XQ, W, E}


# ---------------------------------------------------------------- prior ---

@dataclass(frozen=True)
class Prior:
    """The data distribution.

    ``x_cov``: the name of the symmetric covariance letter of x_i and x_q
    (``"Sigma"``), or None for the identity.  ``w_cov``: ``"I"``, ``"Sigma"``
    (= x_cov) or ``"Sigma_inv"`` (its inverse).  ``w_scale``: a positive
    scalar c with w* ~ N(0, c C) (e.g. 1/d).  ``noise``: sigma^2 (a sympy
    symbol or number, 0 for noiseless labels).  ``query_noise``: the target
    is x_q' w* + eps_q (adds sigma^2 to the loss).  ``n``: the number of
    examples (the symbol of the prediction's coefficients)."""
    x_cov: str | None = None
    w_cov: str = "I"
    w_scale: object = 1
    noise: object = 0
    query_noise: bool = False
    n: object = NSAMP

    def __post_init__(self):
        if self.w_cov not in ("I", "Sigma", "Sigma_inv"):
            raise ValueError("w_cov must be 'I', 'Sigma' or 'Sigma_inv'")
        if self.x_cov is not None and (self.x_cov in RESERVED or self.x_cov in DATA or self.x_cov == SIGMA_INV):
            raise ValueError(f"bad covariance letter name {self.x_cov!r}")

    @property
    def sigma2(self) -> sp.Expr:
        return sp.sympify(self.noise)

    def x_letter(self):
        return None if self.x_cov is None else g.matrix(self.x_cov, symmetric=True)

    def w_letter(self):
        if self.x_cov is None or self.w_cov == "I":
            return None
        return g.matrix(self.x_cov if self.w_cov == "Sigma" else SIGMA_INV, symmetric=True)

    def describe(self) -> str:
        sx = "I" if self.x_cov is None else symbol_text(self.x_cov)
        wc = {"I": "I", "Sigma": sx, "Sigma_inv": "I" if self.x_cov is None else sx + "⁻¹"}[self.w_cov]
        sc = "" if sp.sympify(self.w_scale) == 1 else f"({math_text(self.w_scale)}) "
        s2 = self.sigma2
        return (f"x_i, x_q iid N(0, {sx}); w* ~ N(0, {sc}{wc}); y = X w* + eps, eps ~ N(0, "
                f"{math_text(s2)} I); target x_q' w*" + (" + eps_q" if self.query_noise else ""))


def sigma_inverse_relation(x_cov: str = SIGMA) -> g.InverseRelation:
    """Sigma_inv Sigma = I, with Sigma_inv commuting with Sigma (B5)."""
    return g.InverseRelation(g.matrix(SIGMA_INV, symmetric=True), g.matrix(x_cov, symmetric=True), 1, 0,
                             commutes=True)


def normaliser(prior: Prior | None = None, relations: Iterable = (), frozen: Mapping | None = None) -> g.Normaliser:
    """A Normaliser with the declared relations plus Sigma_inv Sigma = I when the
    prior has a covariance letter (the relation is true whether or not Sigma_inv
    occurs)."""
    rels = list(relations)
    x_cov = prior.x_cov if prior is not None else SIGMA
    if x_cov is not None and not any(r.G[0] == SIGMA_INV for r in rels):
        rels.append(sigma_inverse_relation(x_cov))
    return g.Normaliser(rels, frozen)


# ----------------------------------------------------------- B1: chains ---

@dataclass(frozen=True, order=True)
class Chain:
    """u' W v: u, v vector names, W a word (tuple) of gaussian atoms.  Stored in
    the orientation that is the smaller of the chain and its transpose."""
    u: str
    word: tuple
    v: str

    @staticmethod
    def make(u, word, v) -> "Chain":
        word = tuple(word)
        a, b = (u, word, v), (v, g.transpose_word(word), u)
        return Chain(*min(a, b))

    def ends(self):
        return (self.u, self.v)


class ChainPoly:
    """sum of coeff * product of chains (keys: sorted tuples of chains)."""
    __slots__ = ("terms",)

    def __init__(self, terms: Mapping | None = None):
        self.terms = {k: c for k, c in (terms or {}).items() if c != 0}

    @staticmethod
    def const(c) -> "ChainPoly":
        return ChainPoly({(): sp.sympify(c)})

    @staticmethod
    def chain(u, word, v, c=1) -> "ChainPoly":
        return ChainPoly({(Chain.make(u, word, v),): sp.sympify(c)})

    def __add__(self, other: "ChainPoly") -> "ChainPoly":
        out = dict(self.terms)
        for k, c in other.terms.items():
            out[k] = sp.expand(out.get(k, 0) + c)
        return ChainPoly(out)

    def __neg__(self):
        return ChainPoly({k: -c for k, c in self.terms.items()})

    def __sub__(self, other):
        return self + (-other)

    def __mul__(self, other: "ChainPoly") -> "ChainPoly":
        out: dict = {}
        for k1, c1 in self.terms.items():
            for k2, c2 in other.terms.items():
                k = tuple(sorted(k1 + k2))
                out[k] = out.get(k, 0) + c1 * c2
        return ChainPoly({k: sp.expand(c) for k, c in out.items()})

    def scale(self, c):
        return ChainPoly({k: sp.expand(v * c) for k, v in self.terms.items()})

    def __str__(self):
        def f(ch):
            return f"{ch.u}'({g._word_str(ch.word)}){ch.v}"
        return " + ".join(f"({sp.sstr(c)})*" + "*".join(map(f, k)) for k, c in self.terms.items()) or "0"

    __repr__ = __str__


def _ncalg_atom(letter: str, ab: Alphabet):
    """The gaussian atom of a d x d ncalg letter (S handled by the caller)."""
    t = ab.tr[letter]
    if letter.endswith("'"):
        if t == letter:
            raise ValueError(f"letter {letter!r}: a name ending in ' must be a transpose")
        return (t, GENT)
    if "'" in letter:
        raise ValueError(f"bad letter name {letter!r}")
    if letter in RESERVED:
        raise ValueError(f"the letter name {letter!r} is reserved by the population engine")
    return (letter, SYM if t == letter else GEN)


def prediction_chains(pred: Poly) -> list[tuple[sp.Expr, list[tuple[str, tuple, str]]]]:
    """B1: each term of the 1x1 prediction as (coeff, [(u, W, v)]) with u, v in
    {"z", "b"} and W a tuple of ncalg d x d letter names."""
    ab = pred.ab
    out = []
    for (scal, word), c in pred.terms:
        if word:
            raise ValueError("the prediction must be 1x1 (a scalar polynomial)")
        chains = []
        for s in scal:
            cur = None
            for a in s:
                shp = ab.shape[a]
                if shp == ("1", "d"):                       # a row vector: a chain starts
                    if cur is not None:
                        raise ValueError(f"malformed scalar word {' '.join(s)}")
                    cur = [ab.tr[a], []]
                elif shp == ("d", "1"):                     # a column vector: the chain ends
                    if cur is None:
                        raise ValueError(f"malformed scalar word {' '.join(s)}")
                    chains.append((cur[0], tuple(cur[1]), a))
                    cur = None
                elif shp == ("d", "d"):
                    if cur is None:
                        raise ValueError(f"malformed scalar word {' '.join(s)}")
                    cur[1].append(a)
                else:
                    raise ValueError(f"letter {a!r} of shape {shp} is not supported")
            if cur is not None:
                raise ValueError(f"malformed scalar word {' '.join(s)}")
        for u, _, v in chains:
            for x in (u, v):
                if x not in ("z", "b"):
                    raise ValueError(f"vector letter {x!r}: a prediction may hold only z (x_q) and b (X'y)")
        out.append((sp.sympify(c), chains))
    return out


# ------------------------------------------------------------- B2: data ---

def substitute_data(pred: Poly, prior: Prior = Prior()) -> ChainPoly:
    """B2: z -> x_q, S -> n S_hat, b -> n S_hat w + e (e = X'eps; dropped when
    sigma^2 = 0).  A w end carries sqrt(c) for w* ~ N(0, c C)."""
    ab = pred.ab
    n = sp.sympify(prior.n)
    sh = (SAMPLE_LETTER, SAMPLE)
    root = sp.sqrt(sp.sympify(prior.w_scale))
    noisy = prior.sigma2 != 0
    total = ChainPoly()
    for c, chains in prediction_chains(pred):
        acc = ChainPoly.const(c)
        for u, word, v in chains:
            gw, f = [], sp.Integer(1)
            for a in word:
                if a == "S":
                    if ab.tr["S"] != "S":
                        raise ValueError("the data letter S must be symmetric")
                    gw.append(sh)
                    f *= n
                else:
                    gw.append(_ncalg_atom(a, ab))
            gw = tuple(gw)
            # left end
            lefts = [(XQ, (), 1)] if u == "z" else [(W, (sh,), n * root)] + ([(E, (), 1)] if noisy else [])
            rights = [(XQ, (), 1)] if v == "z" else [(W, (sh,), n * root)] + ([(E, (), 1)] if noisy else [])
            piece = ChainPoly()
            for (lu, lw, lf), (rv, rw, rf) in itertools.product(lefts, rights):
                piece = piece + ChainPoly.chain(lu, lw + gw + rw, rv, f * lf * rf)
            acc = acc * piece
        total = total + acc
    return total


def target(prior: Prior = Prior()) -> ChainPoly:
    """y_q = x_q' w* (the eps_q part is added to the loss as sigma^2)."""
    return ChainPoly.chain(XQ, (), W, sp.sqrt(sp.sympify(prior.w_scale)))


def chain_square(p: ChainPoly) -> ChainPoly:
    return p * p


# ------------------------------------------------------------ B3: noise ---

def _matchings(items):
    if not items:
        yield []
        return
    a = items[0]
    for j in range(1, len(items)):
        for m in _matchings(items[1:j] + items[j + 1:]):
            yield [(a, items[j])] + m


def expect_noise(p: ChainPoly, sigma2, n=NSAMP) -> list[tuple[sp.Expr, list[Chain], list[tuple]]]:
    """B3: E over eps.  Returns [(coeff, chains over x_q/w, trace words)] with
    S_hat inserted at every glued pair, each pair weighted sigma^2 n; terms with
    an odd number of e's are dropped (mean zero)."""
    sigma2, n = sp.sympify(sigma2), sp.sympify(n)
    sh = (SAMPLE_LETTER, SAMPLE)
    out = []
    for key, c in p.terms.items():
        chains = list(key)
        enodes = [(k, s) for k, ch in enumerate(chains) for s, lab in enumerate(ch.ends()) if lab == E]
        if not enodes:
            out.append((c, chains, []))
            continue
        if len(enodes) % 2:
            continue                                     # odd power of eps: mean zero
        weight = c * (sigma2 * n) ** (len(enodes) // 2)
        if weight == 0:
            continue
        for m in _matchings(enodes):
            partner = {}
            for x, y in m:
                partner[x], partner[y] = y, x
            seen: set = set()
            res_chains, res_traces = [], []
            # paths: from a non-e end, through glued pairs, to the next non-e end
            for k0, ch0 in enumerate(chains):
                for s0, lab0 in enumerate(ch0.ends()):
                    if lab0 == E or k0 in seen:
                        continue
                    k, s, word = k0, s0, ()
                    while True:
                        seen.add(k)
                        ch = chains[k]
                        word += ch.word if s == 0 else g.transpose_word(ch.word)
                        lab = ch.ends()[1 - s]
                        if lab != E:
                            break
                        word += (sh,)
                        k, s = partner[(k, 1 - s)]
                    res_chains.append(Chain.make(lab0, word, lab))
            # cycles: chains whose ends are all e's, glued into traces
            for k0 in range(len(chains)):
                if k0 in seen:
                    continue
                k, s, word = k0, 0, ()
                while True:
                    seen.add(k)
                    ch = chains[k]
                    word += (ch.word if s == 0 else g.transpose_word(ch.word)) + (sh,)
                    k, s = partner[(k, 1 - s)]
                    if (k, s) == (k0, 0):
                        break
                res_traces.append(word)
            out.append((weight, res_chains, res_traces))
    return out


# ------------------------------------------------------ B4/B5: the loss ---

def _space(prior: Prior):
    G = g.GaussianSpace(prior.n)
    S = G.sample_covariance(SAMPLE_LETTER, prior.x_letter())
    vx = G.vector(XQ, prior.x_letter())
    vw = G.vector(W, prior.w_letter())
    return G, {XQ: vx, W: vw}


def _monomial(G, vecs, chains, traces) -> g.RandPoly:
    """The product of the chains and traces, coefficient 1 (a single key)."""
    r = g.RandPoly._coerce(1)
    for ch in chains:
        r = r * G.quad(vecs[ch.u], MatPoly({((), ch.word): sp.Integer(1)}), vecs[ch.v])
    for w in traces:
        r = r * G.trace(MatPoly({((), w): sp.Integer(1)}))
    return r


def expect_terms(G, vecs, terms, method: str = "pairings", post=None) -> TracePoly:
    """B4: E of sum c * (chains) * (traces), by the engine, one monomial at a time
    (each monomial's expectation, a TracePoly with coefficients in n and d, is
    taken once, optionally passed through ``post`` (an equality-preserving
    rewrite), then weighted by the scalar coefficients; one cancellation per
    output monomial at the end)."""
    cache: dict = {}
    acc: dict = {}
    for c, chains, traces in terms:
        r = _monomial(G, vecs, chains, traces)
        (key, c1), = r.terms.items()
        if key not in cache:
            e = G.expect(g.RandPoly({key: sp.Integer(1)}), method=method)
            cache[key] = post(e) if post is not None else e
        for m, cm in cache[key].terms.items():
            acc.setdefault(m, []).append(c * c1 * cm)
    return TracePoly({m: v for m, v in ((m, sp.cancel(sp.Add(*cs))) for m, cs in acc.items()) if v != 0})


def truncate(p: ChainPoly, syms: Sequence, degree: int) -> ChainPoly:
    """Drop every part of total degree > ``degree`` in the scalar symbols ``syms``
    (sound for a Taylor coefficient of order <= degree: expectation is linear)."""
    syms = list(syms)
    out = {}
    for k, c in p.terms.items():
        P = sp.Poly(c, *syms)
        kept = sum((coef * sp.prod([s ** e for s, e in zip(syms, mon)]) for mon, coef in P.terms()
                    if sum(mon) <= degree), sp.Integer(0))
        if kept != 0:
            out[k] = sp.expand(kept)
    return ChainPoly(out)


def _free_reduce(w, pairs) -> tuple:
    out = []
    for a in w:
        if out and (out[-1], a) in pairs:
            out.pop()
        else:
            out.append(a)
    return tuple(out)


def _cyclic_reduce(w, pairs) -> tuple:
    w = _free_reduce(w, pairs)
    while len(w) >= 2 and (w[-1], w[0]) in pairs:
        w = w[1:-1]
    return w


def cancel_inverse(expr, x_cov: str = SIGMA):
    """B5 in one pass: delete every adjacent Sigma Sigma_inv and Sigma_inv Sigma
    (cyclically inside traces), then re-canonicalise.  Each deletion is the
    relation Sigma Sigma^{-1} = Sigma^{-1} Sigma = I; tr(I) = d."""
    s, si = (x_cov, SYM), (SIGMA_INV, SYM)
    pairs = {(s, si), (si, s)}
    if isinstance(expr, TracePoly):
        acc: dict = {}
        for mono, c in expr.terms.items():
            keep, f = [], sp.Integer(1)
            for w in mono:
                r = _cyclic_reduce(w, pairs)
                if r:
                    keep.append(g.canonical_trace_word(r))
                else:
                    f *= DIM
            acc.setdefault(tuple(sorted(keep)), []).append(c * f)
        return TracePoly({k: v for k, v in ((k, sp.cancel(sp.Add(*cs))) for k, cs in acc.items()) if v != 0})
    if isinstance(expr, MatPoly):
        acc = {}
        for (mono, w), c in expr.terms.items():
            keep, f = [], sp.Integer(1)
            for v in mono:
                r = _cyclic_reduce(v, pairs)
                if r:
                    keep.append(g.canonical_trace_word(r))
                else:
                    f *= DIM
            acc.setdefault((tuple(sorted(keep)), _free_reduce(w, pairs)), []).append(c * f)
        return MatPoly({k: v for k, v in ((k, sp.cancel(sp.Add(*cs))) for k, cs in acc.items()) if v != 0})
    raise TypeError("cancel_inverse takes a TracePoly or a MatPoly")


def normal_form(expr, prior: Prior | None = None, relations: Iterable = ()):
    """B5 (cancel_inverse) and then the declared relations (a Normaliser, with
    Sigma_inv Sigma = I among them); returns an equal expression."""
    x_cov = prior.x_cov if prior is not None else SIGMA
    if x_cov is not None:
        expr = cancel_inverse(expr, x_cov)
    rels = list(relations)
    if rels:
        expr = normaliser(prior, rels).normal_form(expr)
        if x_cov is not None:
            expr = cancel_inverse(expr, x_cov)
    return expr


def population_loss(pred: Poly, prior: Prior = Prior(), method: str = "pairings",
                    relations: Iterable = (), series: tuple | None = None) -> TracePoly:
    """E (pred - y_q)^2 (+ sigma^2 with query noise) as an exact TracePoly
    (rules B1-B5 of the module docstring).  ``series=(syms, k)`` keeps only the
    part of total degree <= k in the scalar symbols ``syms`` (for Taylor
    coefficients in a direction: put A -> A0 + t H in the prediction)."""
    r = substitute_data(pred, prior) - target(prior)
    sq = chain_square(r)
    if series is not None:
        sq = truncate(sq, *series)
    terms = expect_noise(sq, prior.sigma2, prior.n)
    G, vecs = _space(prior)
    post = (lambda e: cancel_inverse(e, prior.x_cov)) if prior.x_cov is not None else None
    loss = expect_terms(G, vecs, terms, method, post)
    if prior.query_noise:
        loss = loss + prior.sigma2
    return normal_form(loss, prior, relations)


def at_point(f, point: Mapping, prior: Prior | None = None, relations: Iterable = ()):
    """f with letters/symbols replaced (``{"A": MatPoly, eta: expr}``), in normal form."""
    return normal_form(f.subs(point), prior, relations)


# --------------------------------------------------------- calculus -------

def matrix_gradient(f: TracePoly, letter: str) -> MatPoly:
    """G with d/dt f(A + tH)|_0 = tr(G'H) for every H (A a general letter)."""
    return g.gradient(f, letter)


def _direction(f: TracePoly, letter: str, name: str = "H"):
    kinds = {kd for nm, kd in f.letters() if nm == letter}
    return g.matrix(name, symmetric=(kinds == {SYM}))


def first_order_form(f: TracePoly, letter: str, H=None) -> TracePoly:
    """d/dt f(A + tH)|_0 (H symmetric when A is a symmetric letter)."""
    H = H if H is not None else _direction(f, letter)
    return g.taylor_coefficient(f, letter, H, 1)


def second_order_form(f: TracePoly, letter: str, H=None) -> TracePoly:
    """The t^2 coefficient of f(A + tH) (half the second derivative)."""
    H = H if H is not None else _direction(f, letter)
    return g.taylor_coefficient(f, letter, H, 2)


def degree_in_letter(f, letter: str) -> int:
    """The largest number of occurrences of ``letter`` (or its transpose) in a term."""
    best = 0
    for key in f.terms:
        words = key if isinstance(f, TracePoly) else key[0] + (key[1],)
        best = max(best, sum(1 for w in words for a in w if a[0] == letter))
    return best


def scalar_derivative(f, sym, k: int = 1):
    """d^k f / d sym^k, coefficientwise (TracePoly, MatPoly or sympy)."""
    if isinstance(f, TracePoly):
        acc = {}
        for m, c in f.terms.items():
            dc = sp.cancel(sp.diff(c, sym, k))
            if dc != 0:
                acc[m] = dc
        return TracePoly(acc)
    if isinstance(f, MatPoly):
        return MatPoly({key: sp.cancel(sp.diff(c, sym, k)) for key, c in f.terms.items()
                        if sp.cancel(sp.diff(c, sym, k)) != 0})
    return sp.diff(f, sym, k)


# ------------------------------------------------------ sign certificates --

def certify_nonneg(expr, sizes: Sequence = (NSAMP, DIM), nonneg: Sequence = ()) -> str | None:
    """"positive", "nonneg" or None (undecided) for a rational function of the
    size symbols (each >= 1) and the nonnegative symbols (each >= 0).

    Rule: write s = 1 + s' for each size; if the numerator and denominator are
    polynomials in (s', nonneg symbols) whose coefficients all have one sign
    (the same for both, or opposite for a negative), the expression is >= 0 on
    the domain, provided the denominator has a nonzero constant term (so it
    never vanishes there); it is > 0 when the numerator has one too.  Any other symbol, or mixed signs: None (never a claim)."""
    expr = sp.cancel(sp.together(sp.sympify(expr)))
    if expr == 0:
        return "nonneg"
    # a size given as a number is not a variable: substituting s -> s + 1 would rewrite every literal equal
    # to it; keep only the symbolic sizes (numbers are already in the expression)
    sizes = [s for s in sizes if isinstance(sp.sympify(s), sp.Symbol)]
    nonneg = [s for s in nonneg if isinstance(sp.sympify(s), sp.Symbol)]
    free = expr.free_symbols - set(sizes) - set(nonneg)
    if free:
        return None
    shift = {s: s + 1 for s in sizes}
    num, den = sp.fraction(expr)
    gens = sizes + nonneg
    P = sp.Poly(sp.expand(num.subs(shift, simultaneous=True)), *gens) if gens else sp.Poly(num, sp.Dummy())
    Q = sp.Poly(sp.expand(den.subs(shift, simultaneous=True)), *gens) if gens else sp.Poly(den, sp.Dummy())

    def sign(poly):
        cs = poly.coeffs()
        if all(c >= 0 for c in cs):
            return 1
        if all(c <= 0 for c in cs):
            return -1
        return 0
    sp_, sq = sign(P), sign(Q)
    if sp_ == 0 or sq == 0 or sp_ != sq:
        return None
    const = P.as_expr().subs({x: 0 for x in gens})
    if Q.as_expr().subs({x: 0 for x in gens}) == 0:
        return None                       # the denominator may vanish on the domain
    return "positive" if const != 0 else "nonneg"


@dataclass
class PSDResult:
    status: str                 # "positive definite" | "psd" | "undecided"
    reason: str
    terms: list = field(default_factory=list)     # readable description of each recognised term


def _pd_word(w, pd_letters) -> bool:
    return all(a[1] == SYM and a[0] in pd_letters for a in w)


def psd_form(q: TracePoly, H: str = "H", pd_letters: Iterable[str] = (SIGMA, SIGMA_INV),
             sizes: Sequence = (NSAMP, DIM), nonneg: Sequence = ()) -> PSDResult:
    """The sound PSD rule for a second-order form q(H).

    Every term must be  c * (traces of words in the PD letters) * T(H)  with
      T(H) = tr(H P H' Q)  (or tr(H P H Q) for a symmetric H), P, Q words in
             the PD letters (so P = Sigma^p, Q = Sigma^q, p, q integers, as the
             PD letters are Sigma and Sigma^{-1}, which commute), or
      T(H) = tr(H P)^2,
    and c >= 0 for all sizes >= 1 (:func:`certify_nonneg`).  Then each term is
    >= 0: tr(H P H' Q) = ||Q^{1/2} H P^{1/2}||_F^2, tr(W) > 0 for W a power of
    Sigma (Sigma > 0).  If some tr(H P H' Q) term has c > 0 the form is
    positive definite (that term is > 0 for H != 0).  Anything else:
    "undecided" -- the rule never claims what it has not shown."""
    pd = set(pd_letters)
    strict = False
    described = []
    if q.is_zero():
        return PSDResult("undecided", "the second-order form is 0")
    for mono, c in q.terms.items():
        hw = [w for w in mono if any(a[0] == H for a in w)]
        rest = [w for w in mono if not any(a[0] == H for a in w)]
        if not all(_pd_word(w, pd) for w in rest):
            return PSDResult("undecided", f"a factor of the term {_mono_text(mono)} is not a trace of a power of "
                                          f"Σ", described)
        shape = None
        if len(hw) == 1:
            w = hw[0]
            pos = [i for i, a in enumerate(w) if a[0] == H]
            others = [a for a in w if a[0] != H]
            if len(pos) == 2 and all(a[1] == SYM and a[0] in pd for a in others):
                kinds = sorted(w[i][1] for i in pos)
                if kinds == sorted([GEN, GENT]) or kinds == [SYM, SYM]:
                    shape = "tr(H P H' Q)"
        elif len(hw) == 2 and hw[0] == hw[1]:
            w = hw[0]
            pos = [i for i, a in enumerate(w) if a[0] == H]
            if len(pos) == 1 and all(a[1] == SYM and a[0] in pd for i, a in enumerate(w) if i not in pos):
                shape = "tr(H P)^2"
        if shape is None:
            return PSDResult("undecided", f"the term {_mono_text(mono)} is not of the form tr(H P H' Q) or "
                                          f"tr(H P)² with P, Q powers of Σ", described)
        s = certify_nonneg(c, sizes, nonneg)
        if s is None:
            return PSDResult("undecided", f"the coefficient {math_text(sp.factor(c))} of {_mono_text(mono)} is not "
                                          f"shown >= 0 for all sizes >= 1", described)
        if s == "positive" and shape == "tr(H P H' Q)":
            strict = True
        described.append(f"{math_text(sp.factor(c))} {_mono_text(mono)}  [{shape}, coefficient {s}]")
    if strict:
        return PSDResult("positive definite", "every term is c tr(H P H' Q) (or a square) with P, Q powers of "
                         "Σ and c >= 0, and some c > 0", described)
    return PSDResult("psd", "every term is >= 0, but none is shown > 0 for every H != 0", described)


def _mono_text(mono) -> str:
    return g._mono_text(mono) if mono else "1"


# ------------------------------------------------------ predictions -------

def data_alphabet(*matrices: str, symmetric: Iterable[str] = ()) -> tuple[Alphabet, dict]:
    """An ncalg alphabet with the data letters z, S (symmetric), b and the
    given parameter letters (general unless named in ``symmetric``); returns
    (alphabet, {name: Poly})."""
    ab = Alphabet()
    out = {"z": ab.vector("z"), "S": ab.matrix("S", symmetric=True), "b": ab.vector("b")}
    sym = set(symmetric)
    for m in matrices:
        out[m] = ab.matrix(m, symmetric=m in sym)
    return ab, out


def preconditioned_gd_prediction(ab: Alphabet, preconditioners: Sequence, n=NSAMP) -> Poly:
    """x_q' w_L for w_0 = 0, w_{l+1} = w_l - P_l'(S_hat w_l - h), S_hat = S/n,
    h = b/n (P_l an ncalg matrix polynomial, or a scalar constant Poly for a
    step size times I).  One step: x_q' P_0' b / n."""
    z, S, b = (Poly.letter(x, ab) for x in DATA)
    n = sp.sympify(n)
    w = Poly.zero(ab)
    for P in preconditioners:
        P = P if isinstance(P, Poly) else Poly.const(P, ab)
        w = w - P.T * ((S * w).scale(1 / n) - b.scale(1 / n))
    return z.T * w
