"""One-hidden-layer ReLU approximations of scalar maps, with rigorous error bounds.

A ReLU net with m + 1 neurons represents the piecewise-linear interpolant of g on
knots x_0 < ... < x_m:  L(x) = v_0 + sum_k c_k ReLU(x - x_k)  (c_k the changes of
slope).  Its knots and values are exact rationals (the values rounded from g at
the knots), so the net is exact data; the error sup |g - L| over the whole
range is then *certified* by ball arithmetic (python-flint arb): on each piece,
e = g - L is enclosed by a mean-value form e(c) + e'(X)[X - c] on subintervals,
split until the enclosure decides, as Arb recommends, never sampled.  A
certified lower bound (the largest |e| at evaluated points) comes with it, so
the report can say how tight the bound is.

The module knows no paper: a map is given by two arb functions (value and
derivative) and a range.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable


@dataclass(frozen=True)
class ReluNet:
    """L(x) = v_0 + sum_k c_k ReLU(x - x_k), k = 0..m-1, on [x_0, x_m]; constant beyond x_m is not claimed
    (the range is part of the claim).  ``knots`` and ``values`` are Fractions."""
    knots: tuple
    values: tuple

    @property
    def neurons(self) -> int:
        return len(self.knots)          # m pieces: m ReLUs and the bias (counted as one more unit)

    def slopes(self) -> list:
        return [(self.values[i + 1] - self.values[i]) / (self.knots[i + 1] - self.knots[i])
                for i in range(len(self.knots) - 1)]

    def relu_weights(self) -> list[tuple]:
        """(bias x_k, outgoing weight c_k) per ReLU, and v_0: the net's weights."""
        s = self.slopes()
        return [(self.knots[k], s[k] - (s[k - 1] if k else 0)) for k in range(len(s))]

    def __call__(self, x, one=None):
        """The net on x (a Fraction, a float or an arb ball), as a ReLU net: v_0 + sum c_k ReLU(x - x_k)."""
        if hasattr(x, "mid"):                     # a ball
            return self._ball(x)
        else:
            conv = lambda q: q
        acc = conv(self.values[0])
        for xk, ck in self.relu_weights():
            acc = acc + conv(ck) * _relu(x - conv(xk))
        return acc

    def _ball(self, x):
        """The same function on a ball, piece by piece: L is linear on each [x_k, x_{k+1}], constant v_0 below
        x_0 and the last piece's line above x_m (exactly what the ReLU sum computes).  Each piece the ball may
        meet contributes its line's image over the ball clipped to the piece (the hull of the two end images,
        the line being monotone); the union encloses L(x).  Pieces are located with floats and one piece of
        margin each side, and kept or dropped by exact ball comparisons, so a float misplacement by an ulp
        cannot lose a piece.  O(log m) per call instead of O(m)."""
        import bisect

        from flint import arb
        conv = lambda q: arb(q.numerator) / q.denominator
        kn = self.knots
        fk = self._float_knots()
        xl, xu = arb(x.lower()), arb(x.upper())
        last = len(kn) - 2
        i0 = min(last, max(0, bisect.bisect_right(fk, float(x.lower())) - 2))
        i1 = min(last, max(0, bisect.bisect_right(fk, float(x.upper()))))
        out = None
        A0 = conv(kn[0])
        if not (xl >= A0):                         # the ball may reach below x_0: the constant v_0
            out = conv(self.values[0])
            if xu < A0:
                return out
        for i in range(i0, i1 + 1):
            a, b, v, sl = self.piece(i)
            A, B = conv(a), conv(b)
            if xu < A or (xl > B and i < last):
                continue                           # certainly disjoint
            lo = A if xl < A else xl
            hi = xu if (i == last or not (xu > B)) else B
            V, S = conv(v), conv(sl)
            seg = (V + S * (lo - A)).union(V + S * (hi - A))
            out = seg if out is None else out.union(seg)
        return out

    def _float_knots(self):
        fk = getattr(self, "_fk", None)
        if fk is None:
            fk = [float(k) for k in self.knots]
            object.__setattr__(self, "_fk", fk)
        return fk

    def piece(self, i):
        """(x_i, x_{i+1}, v_i, slope) of piece i."""
        s = (self.values[i + 1] - self.values[i]) / (self.knots[i + 1] - self.knots[i])
        return self.knots[i], self.knots[i + 1], self.values[i], s


def _relu(t):
    if hasattr(t, "upper"):                    # an arb ball: ReLU is monotone, enclose it from its ends
        from flint import arb
        lo, hi = t.lower(), t.upper()
        if lo >= 0:
            return t
        if hi <= 0:
            return arb(0)
        return arb(0).union(t)
    return t if t > 0 else 0 * t


def rational(x, bits: int) -> Fraction:
    """A rational within 2^-bits (relative) of the arb or float x, from its midpoint."""
    m = x.mid() if hasattr(x, "mid") else x
    f = Fraction(float(m)) if not hasattr(m, "man_exp") else None
    if f is None:
        man, exp = m.man_exp()
        man, exp = int(man), int(exp)
        f = Fraction(man << exp) if exp >= 0 else Fraction(man, 1 << -exp)
    return f.limit_denominator(2 ** bits) if f.denominator > 2 ** (2 * bits) else f


def interpolant(g_arb: Callable, knots, bits: int = 64) -> ReluNet:
    """The ReLU net interpolating g at the knots (values rounded to rationals of ``bits`` bits)."""
    from flint import arb, ctx
    old = ctx.prec
    ctx.prec = max(old, bits + 32)
    try:
        vals = tuple(rational(g_arb(arb(k.numerator) / k.denominator), bits) for k in knots)
    finally:
        ctx.prec = old
    return ReluNet(tuple(knots), vals)


def uniform_knots(lo: Fraction, hi: Fraction, m: int) -> tuple:
    """x_k = lo + (hi - lo) k/m, k = 0..m (exact: one integer numerator over the common denominator)."""
    return graded_knots(lo, hi, m, 1)


def graded_knots(lo: Fraction, hi: Fraction, m: int, power: int = 2) -> tuple:
    """Knots dense near lo: x_k = lo + (hi - lo)(k/m)^power (for maps with a square-root singularity at lo).
    Written over the common denominator q s m^power (lo = p/q, hi = r/s), exactly."""
    lo, hi = Fraction(lo), Fraction(hi)
    p, q, r, s = lo.numerator, lo.denominator, hi.numerator, hi.denominator
    den, base, span = q * s * m ** power, p * s * m ** power, r * q - p * s
    return tuple(Fraction(base + span * k ** power, den) for k in range(m + 1))


@dataclass
class ErrorBound:
    upper: float          # certified: sup |g - L| <= upper on the whole range
    lower: float          # certified: sup |g - L| >= lower (the largest |e| at evaluated points)
    where: float          # the point of the largest evaluated |e|
    boxes: int            # subintervals evaluated

    @property
    def decided(self) -> bool:
        return self.upper <= 1.25 * self.lower + 1e-300


def sup_error(g: Callable, dg: Callable, net: ReluNet, bits: int = 128, rel: float = 0.25,
              max_boxes: int | None = None) -> ErrorBound:
    """Certified enclosure of sup_{x in [x_0, x_m]} |g(x) - net(x)|.  On each piece the net is linear, and
    e = g - L is enclosed on a subinterval [a, b] (centre c, radius r) by |e(c)| + |g'([a, b]) - s| r.  A
    subinterval whose enclosure exceeds (1 + rel) times the best certified lower bound so far is split in
    two; the search stops when every enclosure decides or ``max_boxes`` is spent (the bound is then still
    certified, only looser)."""
    from flint import arb, ctx
    old = ctx.prec
    ctx.prec = bits
    max_boxes = max_boxes or 64 * len(net.knots)
    try:
        # a box is (A, B, piece constants) with A, B balls: the piece's ends converted once, then the split
        # points (A + B)/2 as balls.  The hull of a box's end balls is its X, so the leaves cover every piece
        # (children share their split ball); and since (A + B)/2 holds (A.lo + B.hi)/2 and (B - A)/2 holds
        # (B.hi - A.lo)/2, the mean-value form below bounds |e| on all of X
        conv = lambda q: arb(q.numerator) / q.denominator
        K = [conv(k) for k in net.knots]
        lower, where, upper, boxes = 0.0, float(net.knots[0]), 0.0, 0
        grow, tiny = 1 + rel, 2.0 ** (-bits // 2)
        Vs = [conv(v) for v in net.values]
        stack = []
        for i in range(len(net.knots) - 1):
            # the piece's line v_i + s_i (x - x_i), its slope enclosed from the converted ends
            stack.append((K[i], K[i + 1], (Vs[i], (Vs[i + 1] - Vs[i]) / (K[i + 1] - K[i]), K[i])))
        pending = []
        while stack:
            A, B, const = stack.pop()
            V, sv, X0 = const
            boxes += 1
            c, r = (A + B) / 2, (B - A) / 2
            X = A.union(B)                       # [a, b], rounded outwards
            ec = g(c) - (V + sv * (c - X0))
            lo_c = float(abs(ec).lower())
            if math.isfinite(lo_c) and lo_c > lower:
                lower, where = lo_c, float(c.mid())
            # two enclosures of |e| on [a, b]: the mean-value form, and the direct one (which survives a
            # singular derivative at an end, e.g. a square root at 0); the smaller upper bound is kept
            his = []
            for enc in (abs(ec) + abs(dg(X) - sv) * r, abs(g(X) - (V + sv * (X - X0)))):
                try:
                    h = float(enc.upper())
                except (ValueError, ArithmeticError):
                    h = math.inf
                his.append(h if math.isfinite(h) else math.inf)     # NaN or inf: undecided, never dropped
            hi = min(his)
            if hi <= lower * grow or boxes >= max_boxes or float(r.upper()) < tiny:
                pending.append(hi)
                continue
            stack.append((A, c, const))
            stack.append((c, B, const))
        upper = max(pending, default=0.0)
    finally:
        ctx.prec = old
    return ErrorBound(math.nextafter(upper, math.inf), lower, where, boxes)


def pieces_for(sup_dd: float, length: float, eps: float) -> int:
    """Pieces of a uniform interpolant with error h^2 sup|g''| / 8 <= eps: the classical bound."""
    return max(1, math.ceil(length * math.sqrt(sup_dd / (8 * eps))))


def sqrt_nonneg(x):
    """sqrt of a ball known to lie in [0, inf) (rounding may put its lower end a little below 0): a ball
    enclosing sqrt([max(lo, 0), hi])."""
    if x.lower() >= 0:
        return x.sqrt()
    from flint import arb
    hi = arb(x.upper())
    return arb(0).union(hi.sqrt())
