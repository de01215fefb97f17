"""Damped Newton on l2-regularised logistic regression, exact and as a network computes it, in ball
arithmetic (python-flint arb).

    f(w) = (1/n) sum_i log(1 + exp(-y_i a_i'w)) + (mu/2)|w|^2,     y_i in {-1, +1}
    g = -(1/n) sum_i y_i p_i a_i + mu w,   p_i = sigma(-y_i a_i'w)
    H = (1/n) sum_i s_i a_i a_i' + mu I,   s_i = sigma'(a_i'w) = sigma(a_i'w)(1 - sigma(a_i'w))
    lambda^2 = g'H^-1 g,   w <- w - eta H^-1 g,   eta = 2 sqrt(mu) / (2 sqrt(mu) + lambda)

These displays are the *algorithm* (the exact step, the reference the network is compared against).  The
approximate step is the network's: its logits a_i'w, its gradient and its Hessian are read out of a weight-level
construction (``Assembly``, passed in by the caller) evaluated in ball arithmetic by the one forward pass
(numeric.forward.Network on the arb backend), fed per example the outputs of ReLU nets (numeric.approx.ReluNet)
of the logits: q_i = y_i p_hat_i and u_i, the product s_hat_i a_i, per coordinate by a ReLU net for the square
(polarisation, ``Polarised``).  eta is a ReLU net too, and H^-1 is k steps of an inner loop from c I
(Newton-Schulz), the layers of a second construction (``InnerLoop``, passed in) evaluated the same way on tokens
holding H's columns.  Every quantity is a ball that provably contains the exact value, so a difference between
the two steps is certified.  The module knows no paper and no construction: the caller names the constructions'
letters and blocks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping

from .approx import ReluNet, sqrt_nonneg


def _arb(q):
    from flint import arb
    q = Fraction(q)
    return arb(q.numerator) / q.denominator


def sigma(t):
    return 1 / (1 + (-t).exp())


def dsigma(t):
    s = sigma(t)
    return s * (1 - s)


@dataclass(frozen=True)
class Polarised:
    """The product of a scalar s with each coordinate a_k of a vector, by polarisation through a net ``sq``
    for x -> x^2:  prod(s, a_k) = (sq(s + a_k) - sq(s - a_k)) / 4.  Exact when sq is; when
    |sq(x) - x^2| <= e on [-R, R] and |s| + |a_k| <= R, |prod(s, a_k) - s a_k| <= (e + e)/4.  The same net
    serves every coordinate (2 evaluations per coordinate)."""
    sq: ReluNet

    def arguments(self, s, a):
        """The net's inputs: s + a_k and s - a_k for each coordinate (a: a list of balls)."""
        return [x for ak in a for x in (s + ak, s - ak)]

    def __call__(self, s, a, args=None):
        """[prod(s, a_k) for each k]; ``args`` (from ``arguments``) saves recomputing the inputs."""
        args = self.arguments(s, a) if args is None else args
        sq = self.sq._ball
        return [(sq(args[2 * i]) - sq(args[2 * i + 1])) / 4 for i in range(len(a))]


@dataclass(frozen=True)
class Assembly:
    """The weight-level construction that forms one step's logits, gradient and Hessian from tokens, and where
    its values sit (the caller names them; this module knows no construction).  ``con`` (a
    symbolic.layers.Construction) reads the rows a_i as the data x_i, the iterate w from the d x 1 matrix letter
    ``iterate`` and the MLPs' outputs from two per-example letters (symbolic.layers.ExampleLetter): ``weights``, a
    scalar, q_i = y_i p_hat_i, and ``product``, a d-vector, u_i ~ s_hat_i a_i.  ``params`` holds the values of its
    scalar parameters other than n (the prompt's).  ``logits`` = (layer, kind, block): after that layer block
    ``block`` of per-example token i holds a_i'w (the layers up to it read neither letter: checked);
    ``gradient`` = (kind, block) holds g on that kind's one token, ``hessian`` = (kind, block) column j of H on
    basis token j."""
    con: object
    params: Mapping
    iterate: object
    weights: object
    product: object
    logits: tuple[str, str, str]
    gradient: tuple[str, str]
    hessian: tuple[str, str]


@dataclass(frozen=True)
class InnerLoop:
    """The weight-level construction of the inner loop that inverts H, and where its values sit (the caller names
    them; this module knows no construction).  ``con`` (a symbolic.layers.Construction: its init forms X_0, its
    step layers one step of the loop) reads H from the d x d matrix letter ``matrix``, whose column j basis token j
    of kind ``hessian[0]`` holds in block ``hessian[1]`` (checked); ``start`` is its scalar parameter c of
    X_0 = c I (valued Approximation.c) and ``params`` holds the values of any other; after the init and k steps,
    block ``output[1]`` of basis token j of kind ``output[0]`` holds column j of X_k."""
    con: object
    matrix: object
    start: object
    params: Mapping
    hessian: tuple[str, str]
    output: tuple[str, str]


@dataclass
class Approximation:
    """What the network computes in place of the exact maps: ReLU nets for p(t) = sigma(-t) (t = y a'w),
    for s(t) = sigma'(t) (t = a'w) and for eta(q) = 2 sqrt(mu)/(2 sqrt(mu) + sqrt(q)) (q = lambda^2), the
    product s a by ``prod`` (a ``Polarised``; None: the exact product s_i a_i), the construction that assembles
    the logits, the gradient and the Hessian from their outputs (``assembly``, required), and k Newton-Schulz
    steps from c I for H^-1 (k = None: the exact inverse), the layers of the construction ``inner`` (required
    when k is set)."""
    p: ReluNet | None = None
    s: ReluNet | None = None
    eta: ReluNet | None = None
    k: int | None = None
    c: Fraction | None = None
    prod: Polarised | None = None
    assembly: Assembly | None = None
    inner: InnerLoop | None = None


@dataclass
class StepLog:
    errors: list = field(default_factory=list)        # per outer step: |approx step - exact step| (balls)
    out_of_range: list = field(default_factory=list)  # (step, map, value range) where a net's range is left
    residuals: list = field(default_factory=list)     # |I - X_k H|_F per step (balls), inner loop


def _in_range(net: ReluNet, x) -> bool:
    return float(x.lower()) >= float(net.knots[0]) and float(x.upper()) <= float(net.knots[-1])


class Problem:
    def __init__(self, A, y, mu, bits: int = 256):
        from flint import arb_mat, ctx
        self.bits = bits
        self._old = ctx.prec
        ctx.prec = bits
        self.n, self.d = len(A), len(A[0])
        self.rows = [arb_mat([[_arb(v)] for v in r]) for r in A]
        self.coords = [[a[k, 0] for k in range(self.d)] for a in self.rows]
        self.y = [int(v) for v in y]
        self.mu = _arb(mu)
        self.I = arb_mat([[1 if i == j else 0 for j in range(self.d)] for i in range(self.d)])

    def close(self):
        from flint import ctx
        ctx.prec = self._old

    # -- the pieces of one step, exact or approximate
    def _grad_hess(self, w, approx: Approximation | None, log: StepLog | None, step: int):
        """The gradient and the Hessian, exact (the algorithm's closed form) or as the network computes them
        (``_network_grad_hess``)."""
        if approx is not None:
            return self._network_grad_hess(w, approx, log, step)
        # the exact damped-Newton step's gradient and Hessian: the algorithm the network is compared against
        # (the displays of the module's docstring), not the network, which is read out of its construction
        g = w * self.mu
        H = self.I * self.mu
        for a, yi in zip(self.rows, self.y):
            z = (a.transpose() * w)[0, 0]
            g = g - a * (sigma(-z * yi) * yi / self.n)
            H = H + (a * a.transpose()) * (dsigma(z) / self.n)
        return g, H

    def _network(self, asm: Assembly, w, q=None, u=None):
        """The assembly construction at this prompt's sizes on the arb backend, its tokens holding a_i, w and
        the letters' values q_i, u_i (zeros when not given)."""
        from symbolic.layers import letter

        from .backends import ArbBackend
        from .forward import Data, Network
        zero = _arb(0)
        params = {**asm.params, letter(asm.iterate.name): w,
                  asm.weights.symbol: [[v] for v in q] if q is not None else [[zero]] * self.n,
                  asm.product.symbol: u if u is not None else [[zero] * self.d] * self.n}
        net = Network(asm.con, self.d, self.n, ArbBackend(self.bits), params)
        return net, Data(self.coords, [0] * self.n, [0] * self.d)

    def _network_grad_hess(self, w, approx: Approximation, log: StepLog | None, step: int):
        """The network's gradient and Hessian: the assembly construction's layers evaluated in ball arithmetic
        (numeric.forward.Network, arb backend).  Its logit layers give t_i = a_i'w; the ReLU nets give
        p_hat_i = p(y_i t_i) and s_hat_i = s(t_i), so q_i = y_i p_hat_i (exact: y_i = +-1) and u_i =
        prod(s_hat_i, a_i); the construction, fed these per example, gives g and the columns of H on its tokens."""
        from flint import arb_mat
        asm = approx.assembly
        if asm is None:
            raise ValueError("the approximate step reads its gradient and Hessian from a construction: "
                             "Approximation.assembly is not set")
        layer, kind, block = asm.logits
        layers = asm.con.layers(0)
        upto = 1 + next(i for i, (_, _, L) in enumerate(layers) if L.name == layer)
        net, data = self._network(asm, w)
        Hd = net.embed(data)
        for stage, it, L in layers[:upto]:
            Hd = net.apply_layer(L, Hd, it if stage == "step" else 0)
        logits = dict((j, v[0]) for j, v in net.block_of(Hd, kind, block))
        prod = approx.prod
        q, U = [], []
        for i, (ak, yi) in enumerate(zip(self.coords, self.y)):
            ts = logits[i]
            tp = ts * yi
            if approx.p is not None:
                if log is not None and not _in_range(approx.p, tp):
                    log.out_of_range.append((step, "p", float(tp.lower()), float(tp.upper())))
                p = approx.p(tp, one=_arb(1))
            else:
                p = sigma(-tp)
            if approx.s is not None:
                if log is not None and not _in_range(approx.s, ts):
                    log.out_of_range.append((step, "s", float(ts.lower()), float(ts.upper())))
                s = approx.s(ts, one=_arb(1))
            else:
                s = dsigma(ts)
            q.append(p * yi)
            if prod is None:
                U.append([s * x for x in ak])
                continue
            args = prod.arguments(s, ak)
            if log is not None:
                for x in args:
                    if not _in_range(prod.sq, x):
                        log.out_of_range.append((step, "sq", float(x.lower()), float(x.upper())))
            U.append(prod(s, ak, args))
        net, data = self._network(asm, w, q, U)
        _, trace = net.run(data, 0)
        Hd = trace[-1][3]
        again = dict((j, v[0]) for j, v in net.block_of(next(h for _, _, name, h in trace if name == layer),
                                                        kind, block))
        if any(again[i].mid() != logits[i].mid() or again[i].rad() != logits[i].rad() for i in logits):
            raise ValueError(f"the logits of block {block} after layer {layer} depend on the per-example letters "
                             f"{asm.weights.name}, {asm.product.name}: a layer up to {layer} reads them")
        (_, gv), = net.block_of(Hd, *asm.gradient)
        cols = dict(net.block_of(Hd, *asm.hessian))
        g = arb_mat([[v] for v in gv])
        H = arb_mat([[cols[j][r] for j in range(self.d)] for r in range(self.d)])
        return g, H

    def _network_inverse(self, H, approx: Approximation):
        """X_k, the network's approximate inverse of H: the inner-loop construction's init and k step layers
        evaluated in ball arithmetic (numeric.forward.Network, arb backend) on its basis tokens, token j holding
        column j of H as the assembly formed it (the tokens hold H's columns, so a one-layer step forms X H' X,
        = X H X for the symmetric true H), read from the tokens' output block."""
        from flint import arb_mat
        from symbolic.layers import letter

        from .backends import ArbBackend
        from .forward import Data, Network
        inner = approx.inner
        if inner is None:
            raise ValueError("the approximate step reads H^-1 from the inner loop's construction: "
                             "Approximation.inner is not set")
        kind, block = inner.hessian
        if (block, inner.matrix.name + "*e") not in inner.con.tokens.kind(kind).inputs:
            raise ValueError(f"the tokens of kind {kind} do not hold the columns of {inner.matrix.name} in block "
                             f"{block}")
        params = {**inner.params, inner.start: approx.c, letter(inner.matrix.name): H}
        net = Network(inner.con, self.d, 0, ArbBackend(self.bits), params)
        Hd = net.embed(Data([], [], [0] * self.d))
        # the embedding gives a symmetric letter's value as (H + H')/2; the tokens hold H's columns as assembled
        B = Hd[block]
        Hd[block] = arb_mat([[H[r, j] if kk == kind else B[r, t] for t, (kk, j) in enumerate(net.seq)]
                             for r in range(net.bsize[block])])
        for stage, it, L in inner.con.layers(approx.k):
            Hd = net.apply_layer(L, Hd, it if stage == "step" else 0)
        cols = dict(net.block_of(Hd, *inner.output))
        return arb_mat([[cols[j][r] for j in range(self.d)] for r in range(self.d)])

    def _inverse_times(self, H, g, approx, log, step):
        if approx is None or approx.k is None:
            return H.solve(g)        # the exact step's H^-1 g: the algorithm the network is compared against
        X = self._network_inverse(H, approx)
        if log is not None:
            R = self.I - X * H
            fro = sum((R[i, j] * R[i, j] for i in range(self.d) for j in range(self.d)), _arb(0))
            log.residuals.append(sqrt_nonneg(fro))      # a measurement of the result, not the network
        # X_k g: no layer of the inner-loop construction forms the product with g (it inverts H only), so this
        # product stays arithmetic here
        return X * g

    def _eta(self, q, approx, log, step):
        if approx is not None and approx.eta is not None:
            if log is not None and not _in_range(approx.eta, q):
                log.out_of_range.append((step, "eta", float(q.lower()), float(q.upper())))
            return approx.eta(q, one=_arb(1))
        rt = self.mu.sqrt() * 2
        return rt / (rt + sqrt_nonneg(q))

    def step(self, w, approx: Approximation | None = None, log: StepLog | None = None, t: int = 0):
        g, H = self._grad_hess(w, approx, log, t)
        v = self._inverse_times(H, g, approx, log, t)
        q = (g.transpose() * v)[0, 0]
        return w - v * self._eta(q, approx, log, t), q

    def loss(self, w):
        tot = _arb(0)
        for a, yi in zip(self.rows, self.y):
            z = (a.transpose() * w)[0, 0] * yi
            tot = tot + (1 + (-z).exp()).log()
        return tot / self.n + (w.transpose() * w)[0, 0] * self.mu / 2

    def zero(self):
        from flint import arb_mat
        return arb_mat([[0]] * self.d)


def norm(v):
    from flint import arb
    tot = arb(0)
    for i in range(v.nrows()):
        for j in range(v.ncols()):
            tot = tot + v[i, j] * v[i, j]
    return sqrt_nonneg(tot)


def run(problem: Problem, T: int, approx: Approximation, w0=None) -> dict:
    """T outer steps of the approximate method from w0 (default 0).  Per step: the certified distance
    between the approximate step and the exact damped-Newton step *from the same point* (the per-iteration
    error of Theorem 5.2's form), and the distance of the approximate iterate to the exact iterate of the
    same step count.  Returns balls."""
    from flint import arb
    log = StepLog()
    w_apx = w_ex = problem.zero() if w0 is None else w0
    dist, lam2, broke = [], [], None
    for t in range(T):
        try:
            nxt, q = problem.step(w_apx, approx, log, t)
            ref, _ = problem.step(w_apx)           # exact step from the same point
        except ZeroDivisionError:                  # a Hessian ball too wide to invert: the iterate has run off
            broke = t
            log.errors.append(arb("inf"))
            break
        log.errors.append(norm(nxt - ref))
        w_ex, q_ex = problem.step(w_ex)
        lam2.append(q_ex)
        w_apx = nxt
        dist.append(norm(w_apx - w_ex))
    return {"log": log, "w": w_apx, "w_exact": w_ex, "distance": dist, "lambda2": lam2, "broke_at": broke}
