"""Numeric evidence: exact composition, counterexample search, certified
balls, convergence.  Generic: the caller passes the construction, the
invariant template and the recursion; nothing here knows a paper."""
from __future__ import annotations

import math
import random
from fractions import Fraction
from typing import Callable

import sympy as sp

from symbolic.layers import Construction
from symbolic.layout import d as D_SYM
from symbolic.lemmas import Outcome, select_layers
from symbolic.mathtext import symbol_text, value_text
from symbolic.ncalg import Poly
from symbolic.templates import Algebra, Template

from dataclasses import dataclass

from .backends import (ArbBackend, ExactBackend, MPBackend, TorchBackend, NumpyBackend, Backend, Mat, ball_decided,
                       eval_coeff, symmetric_part)
from .data import exact_moments, small_integers
from .forward import Data, Network
from .recursions import gd, moments, predict


# ---------------------------------------------------------------- the claim's recursion
@dataclass
class Recursion:
    """What a network is claimed to compute, as the claim states it:
    a named state (``state``: its letter, shape and symmetry, e.g. a matrix T,
    a vector w, an m x d matrix W), ``T_0 = start()`` (a polynomial in S, b and
    the parameters), ``T_{l+1} = step(T_l, P)`` with ``P`` the operands
    ``S = X'X``, ``b = X'y`` (and ``C = Y'X`` for vector labels) and the
    construction's matrix letters (at iteration l+1 for untied letters), the
    prediction ``readout(T)`` (a polynomial in T, z = x_test, b, the letters),
    and the hidden state ``invariant(T)``.  ``carrier`` = (token kind, block,
    letter, side, scale) says where the state is read in the hidden state:
    the block is ``scale * F letter`` (side "right") or ``scale * letter' F``
    (side "left"), with F the state.  Evaluated here on sympy matrices (exact)
    or on backend matrices (balls, float64) through the same formulas."""
    alg: Algebra
    start: Callable
    step: Callable
    readout: Callable
    invariant: Callable
    carrier: tuple
    symmetric: bool = True        # the state is symmetric (a hypothesis the step lemma uses and re-proves)
    state: tuple = ("T", ("d", "d"))

    def __post_init__(self):
        self.carrier = tuple(self.carrier) + ("right", 1)[len(self.carrier) - 3:]

    @property
    def letter(self) -> Poly:
        return self.alg.matrix(self.state[0], self.symmetric, tuple(self.state[1]))

    def operands(self) -> dict:
        """P for the symbolic step: the data moments and the weights' letters (and
        their transposes), as polynomials."""
        a = self.alg
        P = {"S": a.S, "b": a.b, "b'": a.b.T, **a.params, **{k + "'": v.T for k, v in a.params.items()}}
        if "C" in a.ab.shape:
            P["C"] = Poly.letter("C", a.ab)
        return P

    def read(self, tpl: Template) -> Poly | None:
        """The state read off the carrier block of a template (None if not of the carrier's form)."""
        kind, block, letter, side, scale = self.carrier
        p = tpl.get(kind, block, self.alg)
        F = p.right_factor(letter) if side == "right" else p.left_factor(letter)
        return None if F is None else F.scale(sp.Integer(1) / scale)

    def _wrap_env(self, env: dict, be, conv=None):
        if be is None:
            return env
        return {k: (v if isinstance(v, Mat) else Mat(be, v, conv)) for k, v in env.items()}

    def _zero_state(self, moments: dict, be):
        """The zero state of the recursion's shape (a start written as 0)."""
        S = moments["S"]
        d = S.shape[0] if be is None else be.shape(S)[0]
        C = moments.get("C")
        mm = (C.shape[0] if be is None else be.shape(C)[0]) if C is not None else 1
        r, c = ({"d": d, "m": mm, "1": 1}[x] for x in self.state[1])
        return sp.zeros(r, c) if be is None else be.zeros(r, c)

    def _base_env(self, moments: dict, letters: dict, be) -> dict:
        tr = (lambda v: v.T) if be is None else be.T
        env = {}
        for k, v in {**moments, **letters}.items():
            env[k] = v
            env.setdefault(k + "'", tr(v))
        if "S" in moments:           # the identity letter, for a state such as eps (S + mu I)
            S = moments["S"]
            d = S.shape[0] if be is None else be.shape(S)[0]
            env["I"] = sp.eye(d) if be is None else be.identity(d)
        return env

    def iterates(self, moments, k: int, coeffs: dict, be: Backend | None = None, letters_for=None) -> list:
        """[T_0, ..., T_k] as sympy matrices (be None) or backend matrices.
        ``moments``: {"S": S, "b": b, ...}; ``letters_for(l)``: the letters' values
        at iteration l (1-based) as a dict name -> matrix."""
        if not isinstance(moments, dict):
            moments = {"S": moments}
        lf = letters_for or (lambda it: {})
        conv = None if be is None else (lambda c: eval_coeff(c, coeffs, be))
        env0 = self._wrap_env(self._base_env(moments, lf(1), be), be, conv)
        one = None if be is None else Mat(be, be.matrix([[1]]), conv)
        start = self.start()
        if not start.terms:
            M = self._zero_state(moments, be)
            M = M if be is None else Mat(be, M, conv)
        else:
            M = start.evaluate(env0, coeffs, conv=conv, one=one)
        out = [M if be is None else M.v]
        for it in range(1, k + 1):
            P = self._wrap_env(self._base_env(moments, lf(it), be), be, conv)
            M = self.step(M, P)
            if be is None:
                M = M.subs(coeffs)       # the step's symbolic coefficients (eta/n, ...) at their values
            out.append(M if be is None else M.v)
        return out

    def _env(self, T, z, moments, letters, be):
        tr = (lambda v: v.T) if be is None else be.T
        env = self._base_env({**moments, "z": z}, letters, be)
        name = self.state[0]
        env[name], env[name + "'"] = T, tr(T)
        return self._wrap_env(env, be)

    def prediction(self, T, z, b, coeffs: dict, be: Backend | None = None, letters: dict | None = None,
                   moments: dict | None = None):
        """readout(T) on a concrete T (sympy, or a backend matrix)."""
        p = self.readout(self.letter)
        mom = {"b": b, **(moments or {})}
        if be is None:
            v = p.evaluate(self._env(T, z, mom, letters or {}, None), coeffs)
            return v[0, 0] if v.shape == (1, 1) else [v[i, 0] for i in range(v.shape[0])]
        out = p.evaluate(self._env(T, z, mom, letters or {}, be),
                         conv=lambda c: eval_coeff(c, coeffs, be), one=Mat(be, be.matrix([[1]])))
        return be.get(out.v, 0, 0)

    def carrier_values(self, T, data: Data, cols: list, coeffs: dict, be: Backend, moments: dict,
                       letters: dict | None = None) -> list:
        """The claimed carrier block of every token of the carrier kind (``cols``: their
        example indices, None for a tail token), evaluated from the invariant at state T."""
        kind, block = self.carrier[:2]
        p = Template(self.invariant(self.letter)).get(kind, block, self.alg)
        a = self.alg
        out = []
        zc = be.matrix([[v] for v in data.x_test])
        for j in cols:
            env = self._env(T, zc, moments, letters or {}, be)
            cf = dict(coeffs)
            if j is not None and self.carrier[2] == "e_t":     # a basis token: token j holds e_j
                e = be.matrix([[1 if r == j else 0] for r in range(data.d)])
                env["e_t"], env["e_t'"] = Mat(be, e), Mat(be, be.T(e))
            elif j is not None:
                x = be.matrix([[v] for v in data.X[j]])
                env["x_t"], env["x_t'"] = Mat(be, x), Mat(be, be.T(x))
                yj = data.y[j]
                if isinstance(yj, (list, tuple)):
                    yv = be.matrix([[v] for v in yj])
                    env["y_t"], env["y_t'"] = Mat(be, yv), Mat(be, be.T(yv))
                else:
                    cf[a.y["t"]] = yj
                cf[a.i["t"]] = j + 1
            val = p.evaluate(env, conv=lambda c: eval_coeff(c, cf, be), one=Mat(be, be.matrix([[1]])))
            out.append(val.v)
        return out


# ---------------------------------------------------------------- helpers
def _q(x) -> sp.Rational:
    if isinstance(x, Fraction):
        return sp.Rational(x.numerator, x.denominator)
    if isinstance(x, float):
        f = Fraction(x)
        return sp.Rational(f.numerator, f.denominator)
    if hasattr(x, "p") and hasattr(x, "q"):   # fmpq
        return sp.Rational(int(x.p), int(x.q))
    return sp.Rational(x)


def to_sympy(A, be: Backend) -> sp.Matrix:
    r, c = be.shape(A)
    return sp.Matrix(r, c, lambda i, j: _q(A[i, j]))


def hidden_to_sympy(net: Network, H) -> sp.Matrix:
    """The full D x N hidden state, exact (for comparisons and messages)."""
    out = sp.zeros(net.D, net.N)
    for b, sl in net.offsets.items():
        blk = to_sympy(H[b], net.be)
        out[sl.start:sl.stop, :] = blk
    return out


def letter_values(con: Construction, params: dict, it: int = 1, be: Backend | None = None) -> dict:
    """The construction's matrix letters at iteration ``it`` (untied letters have
    one value per iteration), as sympy matrices (be None) or backend matrices."""
    out = {}
    for L in con.letters:
        v = params.get(L.symbol)
        if v is None:
            continue
        if L.untied:
            v = v[min(max(it, 1), len(v)) - 1]
        if be is None:
            v = v if isinstance(v, sp.MatrixBase) else sp.Matrix([[_q(x) for x in r] for r in v])
        else:
            v = be.matrix(v) if isinstance(v, list) else v
        out[L.name] = symmetric_part(v, be) if L.symmetric else v
    return out


def size_coeffs(alg, data: Data, n: int) -> dict:
    """The size symbols a template or a recursion may hold, at the data's values: n, d and y'y (the sum
    over basis tokens of a term free of e_j is d times it; the label square sums to y'y)."""
    out = {alg.n: n, D_SYM: data.d}
    if data.y and not isinstance(data.y[0], (list, tuple)):
        out[alg.yy] = sum(_q(v) ** 2 for v in data.y)
    return out


def scalar_params(params: dict) -> dict:
    return {s: v for s, v in params.items() if getattr(s, "is_commutative", True)}


def label_moments(data: Data) -> dict:
    """C = Y'X and Yy = Y'Y (sympy, exact); for scalar labels C = b' = y'X and Yy = [y'y]."""
    X = sp.Matrix([[_q(v) for v in r] for r in data.X])
    rows = [list(r) if isinstance(r, (list, tuple)) else [r] for r in data.y]
    Y = sp.Matrix([[_q(v) for v in r] for r in rows])
    return {"C": Y.T * X, "Yy": Y.T * Y}


def backend_label_moments(data: Data, be: Backend, b) -> dict:
    """C = Y'X for the backend: b' for scalar labels."""
    if not isinstance(data.y[0], (list, tuple)):
        return {"C": be.T(b)}
    Xm = be.matrix(data.X)
    return {"C": be.mm(be.T(be.matrix(data.y)), Xm)}


def env_for(alg: Algebra, data_cols: dict, T: sp.Matrix | None, S: sp.Matrix, b: sp.Matrix,
            letters: dict | None = None, state: str | None = None, moments: dict | None = None) -> dict:
    env = {"S": S, "b": b, "b'": b.T}
    for k, v in {**(moments or {}), **(letters or {})}.items():
        env[k] = v
        env.setdefault(k + "'", v.T)
    if T is not None:
        for name in ([state] if state else alg.mats):
            env[name], env[name + "'"] = T, T.T
    env.update(data_cols)
    return env


def token_env(alg, data: Data, kind_per_example: bool, j, T, S, b, letters=None, state=None, labels=None,
              basis: bool = False):
    cols = {"z": sp.Matrix([_q(v) for v in data.x_test])}
    cols["z'"] = cols["z"].T
    if basis:                                  # basis token j holds e_j
        e = sp.Matrix([1 if r == j else 0 for r in range(data.d)])
        cols.update({"e_t": e, "e_t'": e.T})
    coeffs = {}
    vec = isinstance(data.y[0], (list, tuple))
    if kind_per_example:
        x = sp.Matrix([_q(v) for v in data.X[j]])
        cols.update({"x_t": x, "x_t'": x.T})
        yv = sp.Matrix([_q(v) for v in data.y[j]]) if vec else sp.Matrix([[_q(data.y[j])]])
        cols.update({"y_t": yv, "y_t'": yv.T})        # the label as a letter (m x 1)
        if not vec:
            coeffs[alg.y["t"]] = _q(data.y[j])        # and as a commuting scalar
        coeffs[alg.i["t"]] = j + 1          # the example's index (positions are affine in it)
    nrow = len(data.X) - 1
    xn = sp.Matrix([_q(v) for v in data.X[nrow]])
    cols.update({"x_n": xn, "x_n'": xn.T})
    if not vec:
        coeffs[alg.y["n"]] = _q(data.y[nrow])
    return env_for(alg, cols, T, S, b, letters, state, labels if labels is not None else label_moments(data)), coeffs


def example_letter_values(con: Construction, params: dict, data: Data) -> tuple[dict, list]:
    """The construction's per-example letters (symbolic.layers.ExampleLetter) on concrete data, exact: their
    moments {b_q: sum_j q_j x_j (d x 1), S_ux: sum_j u_j x_j' (d x d)} and, per example j, the value of each
    (a d x 1 matrix for a vector, a rational for a scalar), as {name: value}."""
    from symbolic.ncalg import example_moment_name

    from .forward import example_rows
    X = [sp.Matrix([_q(v) for v in r]) for r in data.X]
    moments, per = {}, [dict() for _ in X]
    for E in con.example_letters:
        rows = [[_q(x) for x in r] for r in example_rows(E, params, data.n, data.d)]
        vals = [r[0] if E.rows == "1" else sp.Matrix(r) for r in rows]
        for j, val in enumerate(vals):
            per[j][E.name] = val
        m = example_moment_name(E.name, E.rows)
        moments[m] = sum((val * x if E.rows == "1" else val * x.T for val, x in zip(vals, X)),
                         sp.zeros(data.d, 1 if E.rows == "1" else data.d))
    return moments, per


def _example_env(alg: Algebra, per: list, j, env: dict, coeffs: dict) -> None:
    """The declared per-example letters of example j in the query role t and of the last example in role n."""
    for role, jj in (("t", j), ("n", len(per) - 1)):
        if jj is None or not per:
            continue
        for name, val in per[jj].items():
            if isinstance(val, sp.MatrixBase):
                env[f"{name}_{role}"], env[f"{name}_{role}'"] = val, val.T
            else:
                coeffs[alg.example(name, role)] = val


def template_matrix(net: Network, alg: Algebra, tpl: Template, data: Data, T, params: dict,
                    state: str | None = None, it: int = 1) -> sp.Matrix:
    """The hidden state a template denotes on concrete data (exact)."""
    S, b = exact_moments(data)
    H = sp.zeros(net.D, len(net.seq))
    lets = letter_values(net.con, params, it)
    labels = label_moments(data)
    ex_moments, ex_per = example_letter_values(net.con, params, data) if net.con.example_letters else ({}, [])
    for E in net.con.example_letters:
        alg.example_letter(E.name, E.rows)
    for t, (kind, j) in enumerate(net.seq):
        tk = net.con.tokens.kind(kind)
        env, coeffs = token_env(alg, data, tk.per_example, j, T, S, b, lets, state, labels, basis=tk.basis)
        if ex_per:
            for m, v in ex_moments.items():
                env[m], env[m + "'"] = v, v.T
            _example_env(alg, ex_per, j if tk.per_example else None, env, coeffs)
        coeffs.update(scalar_params(params))
        coeffs.update(size_coeffs(alg, data, net.n))
        for block, p in tpl.kinds.get(kind, {}).items():
            val = p.evaluate(env, coeffs)
            if val is None:                 # the zero polynomial: the block holds 0
                continue
            sl = net.offsets[block]
            for r in range(sl.stop - sl.start):
                H[sl.start + r, t] = sp.nsimplify(val[r, 0]) if not isinstance(val[r, 0], sp.Rational) else val[r, 0]
    return H


def first_mismatch(net: Network, got: sp.Matrix, want: sp.Matrix):
    for t, (kind, j) in enumerate(net.seq):
        for block, sl in net.offsets.items():
            g = got[sl, t]
            w = want[sl, t]
            if g != w:
                return {"token": f"{kind}" + (f"_{j + 1}" if j is not None else ""), "kind": kind, "block": block,
                        "got": [str(v) for v in g], "want": [str(v) for v in w]}
    return None


def data_json(data: Data, con: Construction | None = None) -> dict:
    """The prompt of a counterexample; with ``con``, only the parts its tokens read (a construction over
    basis tokens alone, e.g. matrix inversion, reads no example and no x_test)."""
    f = lambda v: [f(u) for u in v] if isinstance(v, (list, tuple)) else str(_q(v)) if not isinstance(v, float) else v
    out = {"X": [[f(v) for v in r] for r in data.X], "y": [f(v) for v in data.y], "x_test": [f(v) for v in data.x_test]}
    if con is not None:
        inputs = {i for k in con.tokens.kinds for _, i in k.inputs}
        if not con.tokens.example_kinds:
            out.pop("X"), out.pop("y")
        elif "y" not in inputs:                  # example tokens that hold no label: y is not read
            out.pop("y")
        if "x_test" not in inputs:
            out.pop("x_test")
    return out


# ---------------------------------------------------------------- layer lemma counterexamples
def counterexample_layers(con: Construction, alg: Algebra, layer_specs, tin: Template, tout: Template,
                          params: dict | None = None, max_d: int = 3, max_n: int = 3, trials: int = 25,
                          seed: int = 0, params_for: Callable | None = None):
    """Smallest (d, then n, then trial order) exact instance where the layers
    do not map the input template to the output template.  Parameter values
    are ``params``, or ``params_for(data)`` (rationals for that instance)."""
    layers = select_layers(con, layer_specs)
    be = ExactBackend()
    rng = random.Random(seed)
    used = set().union(*(p.letters() for tpl in (tin, tout) for blocks in tpl.kinds.values() for p in blocks.values()))
    needs_T = any(m in used or m + "'" in used for m in alg.mats)
    for d in range(1, max_d + 1):
        for n in range(1, max_n + 1):
            for trial in range(trials):
                data = small_integers(d, n, rng, *_entry_range(trial, trials))
                T = None
                if needs_T:
                    lo, hi = _entry_range(trial, trials)
                    A = sp.Matrix(d, d, lambda i, j: rng.randint(lo, hi))
                    T = A + A.T
                pv = dict(params or {}) if params_for is None else params_for(data)
                net = Network(con, d, n, be, pv, m=data.m)
                H0 = template_matrix(net, alg, tin, data, T, pv)
                H = net.from_rows(H0.tolist())
                try:
                    for L in layers:
                        H = net.apply_layer(L, H, 1)
                except NotImplementedError:          # softmax: no exact instance to show
                    return None
                got = hidden_to_sympy(net, H)
                want = template_matrix(net, alg, tout, data, T, pv)
                mm = first_mismatch(net, got, want)
                if mm:
                    return {"d": d, "n": n, **data_json(data, con), "T": str(T.tolist()) if T is not None else None,
                            "params": _params_json(pv, con), **mm}
    return None


# ---------------------------------------------------------------- exact composition
def composition(con: Construction, rec: Recursion, sizes, params_for: Callable, seed: int = 0,
                trials: int = 1) -> Outcome:
    """Run the composed network in exact rationals and compare every stage
    boundary with the invariant at M_l, and the prediction with the recursion.
    A size (d, n, k, m) with m > 1 uses vector labels of size m."""
    be = ExactBackend()
    rng = random.Random(seed)
    checked = []
    for size in sizes:
        d, n, k = size[:3]
        m = size[3] if len(size) > 3 else 1
        for _ in range(trials):
            data = small_integers(d, n, rng, m=m)
            try:
                mm = _compose_one(con, rec, data, k, params_for, be)
            except NotImplementedError as e:       # softmax: no exact (rational) evaluation
                return Outcome("inconclusive", "exact composition (rationals)",
                               f"the network has no exact evaluation ({e}): exp is not rational")
            if mm:
                return Outcome("refuted", "exact composition (rationals)",
                               f"d={d}, n={n}, k={k}: after layer {mm['layer']} (end of the {mm['stage']} layers "
                               f"{', '.join(mm.get('layers', [mm['layer']]))}; iteration {mm['iteration']}), token {mm['token']}, "
                               f"block {mm['block']}: network {value_text(mm['got'])} but the recursion gives "
                               f"{value_text(mm['want'])}",
                               {"counterexample": mm, "sizes": checked}, where=mm)
            checked.append(list(size))
    return Outcome("verified", "exact composition (rationals)",
                   "network = recursion exactly at every stage boundary and in the prediction, at (d, n, k"
                   + (", m" if any(len(c) > 3 for c in checked) else "") + ") = "
                   + ", ".join("(" + ", ".join(map(str, c)) + ")" for c in checked), {"sizes": checked})


def _compose_one(con, rec: Recursion, data: Data, k, params_for, be):
    d, n = data.d, data.n
    alg = rec.alg
    S, b = exact_moments(data)
    params = params_for(data)
    pj = _params_json(params, con)
    net = Network(con, d, n, be, params, m=data.m)
    H = net.embed(data)
    coeffs = {**scalar_params(params), **size_coeffs(alg, data, n)}
    moments = {"S": S, "b": b, **label_moments(data)}
    Ms = rec.iterates(moments, k, coeffs, letters_for=lambda it: letter_values(con, params, it))
    stage_of = con.layers(k)
    last_init = len(con.init) - 1
    for idx, (stage, it, L) in enumerate(stage_of):
        H = net.apply_layer(L, H, it if stage == "step" else 0)
        boundary = (stage == "init" and idx == last_init) or (stage == "step" and L is con.step[-1])
        if boundary:
            ell = 0 if stage == "init" else it
            want = template_matrix(net, alg, Template(rec.invariant(rec.letter)), data, Ms[ell], params,
                                   rec.state[0], max(ell, 1))
            mm = first_mismatch(net, hidden_to_sympy(net, H), want)
            if mm:
                group = [x.name for x in (con.init if stage == "init" else con.step)]
                return {"layer": L.name, "layers": group, "stage": stage, "iteration": it, "d": d, "n": n, "k": k,
                        **data_json(data, con), "params": pj, **mm}
    if rec.readout is None:        # the claim is the hidden state: checked at every step boundary above
        return None
    got = net.read(H)
    pred = [_q(v) for v in got] if isinstance(got, list) else _q(got)
    z = sp.Matrix([_q(v) for v in data.x_test])
    want = rec.prediction(Ms[k], z, b, coeffs, letters=letter_values(con, params, max(k, 1)), moments=moments)
    if pred != want:
        return {"layer": con.readout[-1].name if con.readout else "-", "stage": "readout", "iteration": k,
                "d": d, "n": n, "k": k, **data_json(data, con), "params": pj, "token": con.output[0],
                "kind": con.output[0], "block": con.output[1], "got": [str(pred)], "want": [str(want)]}
    return None


_FIRST = ", the first "      # a letter with one matrix per iteration: "<N> matrices (one per iteration), the first <M>"


def params_text(pj: dict, sep: str = " = ") -> str:
    """The parameters of a counterexample (the strings of ``_params_json``) as a reader writes them:
    ``α = 1, W_0 = [[1]]``."""
    def value(v: str) -> str:
        head, sep, first = str(v).partition(_FIRST)
        return head + sep + value_text(first) if sep else value_text(v)
    return ", ".join(f"{symbol_text(name)}{sep}{value(v)}" for name, v in pj.items())


def _params_json(params: dict, con: Construction | None = None) -> dict:
    out = {}
    used = None if con is None else {str(p) for p in con.params} | {L.name for L in con.letters} | \
        {E.name for E in con.example_letters}
    for s, v in params.items():
        if used is not None and str(s) not in used:
            continue
        if isinstance(v, list) and v and isinstance(v[0], list) and v[0] and isinstance(v[0][0], list):
            out[str(s)] = f"{len(v)} matrices (one per iteration){_FIRST}{str([[str(x) for x in r] for r in v[0]])}"
            continue
        out[str(s)] = (str(v.tolist()) if isinstance(v, sp.MatrixBase) else str(v))
    return out


def _entry_range(trial: int, trials: int) -> tuple[int, int]:
    """Entries in {-1, 0, 1} for the first half of the trials, then {-2, ..., 2}:
    counterexamples are searched smallest first (d, then n, then entry size)."""
    return (-1, 1) if trial < trials // 2 else (-2, 2)


def search_composition_counterexample(con, rec: Recursion, params_for, max_d=3, max_n=8, k=1, trials=20, seed=0):
    """Smallest exact instance (d, then n up to ``max_n``, then entry size, then the number of steps
    ``k``: an int or a tuple tried in order on each prompt) where the composed network leaves the
    recursion; fewer trials at the larger n."""
    rng = random.Random(seed)
    be = ExactBackend()
    ks = (k,) if isinstance(k, int) else tuple(k)
    for d in range(1, max_d + 1):
        for n in range(1, max_n + 1):
            for trial in range(trials if n <= 3 else max(2, trials // 5)):
                data = small_integers(d, n, rng, *_entry_range(trial, trials))
                for kk in ks:
                    try:
                        mm = _compose_one(con, rec, data, kk, params_for, be)
                    except NotImplementedError:           # softmax: no exact instance to show
                        return None
                    if mm:
                        return mm
    return None


# ---------------------------------------------------------------- certified balls
def per_layer(con: Construction, rec: Recursion, data: Data, k: int, params: dict,
              be: Backend, readout_each: bool = True, recursion: bool = True, progress=None) -> dict:
    """Network vs recursion after the initialisation and after every step:
    the carrier block against the invariant's (every entry) and, with
    ``readout_each``, the prediction read out from H_l by the readout layers.
    ``progress(step)`` is called after each step."""
    d, n = data.d, data.n
    net = Network(con, d, n, be, params, m=data.m)
    coeffs = {**scalar_params(params), rec.alg.n: n, D_SYM: d}
    S, b = moments(data.X, data.y, be)
    mom = {"S": S, "b": b, **backend_label_moments(data, be, b)}
    lets = lambda it: letter_values(con, params, it, be)
    Ms = rec.iterates(mom, k, coeffs, be, letters_for=lets) if recursion else None
    kind, block = rec.carrier[:2]
    H = net.embed(data)
    cols = [j for j, _ in net.block_of(H, kind, block)]
    # fast path: a carrier block F(T) x_t is F(T) times the carrier tokens' x's, one product
    F = Template(rec.invariant(rec.letter)).get(kind, block, rec.alg).right_factor("x_t") \
        if all(j is not None for j in cols) else None
    Xk = be.matrix([[data.X[j][r] for j in cols] for r in range(d)]) if F is not None else None
    z = be.matrix([[v] for v in data.x_test])
    for L in con.init:
        H = net.apply_layer(L, H, 0)
    rows = []
    for ell in range(0, k + 1):
        if ell > 0:
            for L in con.step:
                H = net.apply_layer(L, H, ell)
            if progress is not None:
                progress(ell)
        row = {"iteration": ell}
        if (readout_each or ell == k) and rec.readout is not None:
            Hr = H
            for L in con.readout:
                Hr = net.apply_layer(L, Hr, 0)
            row["pred_net"] = net.read(Hr)
            if recursion:
                row["pred_rec"] = rec.prediction(Ms[ell], z, b, coeffs, be, letters=lets(max(ell, 1)))
                row["pred_diff"] = row["pred_net"] - row["pred_rec"]
        if recursion:
            got = [v for _, vec in net.block_of(H, kind, block) for v in vec]
            if F is not None:
                env = rec._env(Ms[ell], z, mom, lets(max(ell, 1)), be)
                val = F.evaluate(env, conv=lambda c: eval_coeff(c, coeffs, be),
                                 one=Mat(be, be.identity(d)))
                W = be.mm(val.v, Xk)
                want = [be.get(W, r, c) for c in range(len(cols)) for r in range(be.shape(W)[0])]
            else:
                vals = rec.carrier_values(Ms[ell], data, cols, coeffs, be, mom, lets(max(ell, 1)))
                want = [be.get(v, r, 0) for v in vals for r in range(be.shape(v)[0])]
            row["carrier_diffs"] = [g - w for g, w in zip(got, want)]
        rows.append(row)
    return {"rows": rows, "S": S, "b": b, "Ms": Ms}


def _up(x) -> float:
    """A float >= |x| for a ball x (certified upper bound)."""
    return math.nextafter(float(abs(x).upper()), math.inf)


def certified(con: Construction, rec: Recursion, data: Data, k: int, params: dict,
              bits: int, readout_each: bool = True, progress=None) -> tuple[Outcome, list[dict]]:
    """Run the network and the recursion in ball arithmetic.  A difference ball
    that excludes 0 is a certified refutation; otherwise its radius bounds
    |network - recursion|."""
    be = ArbBackend(bits)
    with be.precision(bits):
        res = per_layer(con, rec, data, k, params, be, readout_each, progress=progress)
        table, excluded = [], []
        for r in res["rows"]:
            cd = r["carrier_diffs"]
            row = {"iteration": r["iteration"], "carrier_bound": max((_up(x) for x in cd), default=0.0),
                   "carrier_contains_zero": all(x.contains(0) for x in cd)}
            if "pred_diff" in r:
                row.update({"network": be.to_float(r["pred_net"]), "recursion": be.to_float(r["pred_rec"]),
                            "network_radius": _up(r["pred_net"].rad()), "recursion_radius": _up(r["pred_rec"].rad()),
                            "pred_bound": _up(r["pred_diff"]), "pred_contains_zero": bool(r["pred_diff"].contains(0))})
            table.append(row)
            if not (row["carrier_contains_zero"] and row.get("pred_contains_zero", True)):
                excluded.append(row)
    method = f"certified ball arithmetic (arb, {bits} bits)"
    if excluded:
        e = excluded[0]
        what = "the initialisation" if e["iteration"] == 0 else f"step layer {e['iteration']}"
        pred = (f" (prediction read out there: {e['network']:.6g}, recursion {e['recursion']:.6g})"
                if "network" in e else "")
        return Outcome("refuted", method,
                       f"d={data.d}, n={data.n}: after {what} the network differs from the recursion by a certified "
                       f"nonzero amount{pred}", {"table": table}, where={"iteration": e["iteration"]}), table
    worst = max(max(r.get("pred_bound", 0.0), r["carrier_bound"]) for r in table)
    scale = 1.0 + max((abs(r.get("recursion", 0.0)) for r in table), default=0.0)
    tol = be.tolerance(scale)
    if not worst <= tol:
        return Outcome("inconclusive", method,
                       f"d={data.d}, n={data.n}, k={k}: every difference ball contains 0, but the certified bound "
                       f"{worst:.3g} exceeds the {bits}-bit tolerance {tol:.3g} (relative to 1 + |prediction|): the "
                       "precision is too low "
                       "to separate network and recursion", {"table": table, "max_bound": worst}), table
    return Outcome("verified", method,
                   f"d={data.d}, n={data.n}, k={k}: |network - recursion| <= {worst:.3g} (certified) for every "
                   "carrier entry after every step layer" + (" and for the prediction read out there" if readout_each
                                                               else " and for the final prediction"),
                   {"table": table, "max_bound": worst}), table


def float64_batch(con: Construction, rec: Recursion, d: int, n: int, k: int, batch: int, seed: int,
                  params_for: Callable, policy_text: str = "", tol: float | None = None,
                  first: Data | None = None) -> Outcome:
    """The construction and the recursion on a batch of prompts at once, in
    float64 (torch; CUDA when present): ``first`` (the user's prompt, if any)
    and sampled Gaussian ones.  Supporting evidence with a stated tolerance on
    the relative error, never a proof."""
    from .backends import TorchBatchBackend
    try:
        be = TorchBatchBackend(batch)
    except ImportError:
        return Outcome("inconclusive", "float64 batch (torch)", "torch is not installed (pip install torch==2.13.0, "
                       "then the project's [torch] extra); the batch check was skipped", {"batch": batch})
    torch = be.torch
    tol = be.tolerance() if tol is None else tol
    method = f"float64 batch (torch, {be.device}), {batch} prompts"
    if first is not None:
        big = max(abs(float(v)) for r in first.X for v in r) if first.X else 0.0
        if big * big * max(first.n, 1) > 1e300:
            return Outcome("inconclusive", method,
                           f"your prompt's entries reach {big:.3g}, so X'X (about {big * big * first.n:.3g}) overflows "
                           "float64 (largest 1.8e308): float64 cannot run this prompt; the exact and certified checks "
                           "do", {"batch": batch, "overflow": True})
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(batch, n, d, generator=g, dtype=torch.float64)
    y = (X @ torch.randn(batch, d, 1, generator=g, dtype=torch.float64))[..., 0]
    z = torch.randn(batch, d, generator=g, dtype=torch.float64)
    if first is not None:
        X[0] = torch.tensor([[float(v) for v in r] for r in first.X], dtype=torch.float64)
        y[0] = torch.tensor([float(v) for v in first.y], dtype=torch.float64)
        z[0] = torch.tensor([float(v) for v in first.x_test], dtype=torch.float64)
    X, y, z = X.to(be.device), y.to(be.device), z.to(be.device)
    data = Data([[X[:, j, r] for r in range(d)] for j in range(n)], [y[:, j] for j in range(n)],
                [z[:, r] for r in range(d)])
    S, b = moments(data.X, data.y, be)
    params = params_for(S)
    coeffs = {**scalar_params(params), rec.alg.n: n, D_SYM: d}
    if rec.readout is None:
        return _float64_state(con, rec, data, k, params, be, tol, method, batch, seed, policy_text)
    net = Network(con, d, n, be, params)
    with be.threads(1):
        pred_net, _ = net.run(data, k, keep=False)
    lets = lambda it: letter_values(con, params, it, be)
    Ms = rec.iterates({"S": S, "b": b, **backend_label_moments(data, be, b)}, k, coeffs, be, letters_for=lets)
    zt = be.matrix([[v] for v in data.x_test])
    pred_rec = rec.prediction(Ms[k], zt, b, coeffs, be, letters=lets(max(k, 1)))
    # error relative to the scale of the prediction, per prompt: |x_test| |T_k X'y| for a matrix state,
    # |x_test| |w_k| for a vector state
    Tb = Ms[k] @ b if be.shape(Ms[k])[-1] == be.shape(b)[-2] else Ms[k]
    scale = torch.linalg.vector_norm(zt[..., 0], dim=-1) * torch.linalg.vector_norm(Tb[..., 0], dim=-1)
    err = (pred_net - pred_rec).abs()
    rel = torch.where(torch.isfinite(err), err / scale.clamp_min(1e-300), torch.full_like(err, float("inf")))
    worst = int(torch.argmax(rel))
    stats = {"batch": batch, "device": be.device, "max_abs": float(err.max()), "max_rel": float(rel.max()),
             "median_rel": float(rel.median()), "tolerance": tol, "nonfinite": int((~torch.isfinite(pred_net)).sum())}
    verdict = "verified" if float(rel.max()) <= tol else "inconclusive"   # floats alone never refute
    over = f"; the network overflows on {stats['nonfinite']} prompts" if stats["nonfinite"] else ""
    return Outcome(verdict, method,
                   (f"your prompt and {batch - 1} Gaussian ones" if first is not None else f"{batch} Gaussian prompts")
                   + f" (seed {seed}), d={d}, n={n}, k={k}{', ' + policy_text if policy_text else ''}: "
                   f"max |network - recursion| / (|x_test| |state . X'y|) = "
                   f"{stats['max_rel']:.3g} (median {stats['median_rel']:.3g}; tolerance {tol:g}){over}"
                   + ("" if verdict == "verified" else f"; worst prompt #{worst}: network {float(pred_net[worst]):.6g}, "
                                                       f"recursion {float(pred_rec[worst]):.6g}"), stats)


def _float64_state(con, rec: Recursion, data: Data, k, params, be, tol, method, batch, seed, policy_text):
    """The float64 batch check of a claim about the hidden state (no read-out): every carrier entry after
    every step, relative to 1 + the largest entry of the recursion's, per prompt."""
    torch = be.torch
    with be.threads(1):
        res = per_layer(con, rec, data, k, params, be, readout_each=False)
    worst = torch.zeros(batch, dtype=torch.float64, device=be.device)
    for r in res["rows"]:
        for x in r["carrier_diffs"]:
            worst = torch.maximum(worst, torch.nan_to_num(x.abs(), nan=float("inf")))
    # per prompt: relative to that prompt's own largest state (one large prompt must not hide another's error)
    scale = 1.0 + torch.stack([torch.linalg.matrix_norm(M) for M in res["Ms"]]).amax(0)
    rel = worst / scale
    verdict = "verified" if float(rel.max()) <= tol else "inconclusive"   # floats alone never refute
    stats = {"batch": batch, "device": be.device, "max_rel": float(rel.max()), "median_rel": float(rel.median()),
             "tolerance": tol}
    return Outcome(verdict, method, f"{batch} Gaussian prompts (seed {seed}), d={data.d}, k={k}"
                   + (f", {policy_text}" if policy_text else "") + ": max |network - recursion| over every carrier "
                   f"entry after every step / (1 + max ||state||_F) = {stats['max_rel']:.3g} (median "
                   f"{stats['median_rel']:.3g}; tolerance {tol:g})", stats)


def float64_predictions(con, rec: Recursion, data: Data, k, params: dict) -> tuple[list[float], str]:
    """The network's prediction after each step, in float64 (torch, CUDA if present)."""
    try:
        be = TorchBackend()
    except ImportError:
        be = NumpyBackend()
    res = per_layer(con, rec, data, k, {s: float(v) for s, v in params.items()}, be, recursion=False)
    return [float(r["pred_net"]) for r in res["rows"]], be.name


# ---------------------------------------------------------------- OLS and the GD baseline
def spectrum(data: Data, bits: int) -> tuple:
    """(lambda_min, lambda_max) of S = X'X at ``bits``, from the backend's eigenvalues."""
    S, _ = exact_moments(data)
    ev = MPBackend(bits).eigvalsh(S.tolist())
    return ev[0], ev[-1]


def ols_min_norm(data: Data, bits: int):
    """x_test' S^+ X'y (the minimum-norm least-squares prediction) at ``bits``, and the rank of S: eigenvalues
    below lambda_max * 2^(-bits/2) count as zero.  At full rank it is x_test' S^-1 b, and at full row rank
    (rank n < d) x_test' X'(XX')^-1 y, both by ball arithmetic (arb) on the exact data; only a rank below
    both takes S's eigenvectors (mpmath, slow at large d)."""
    import mpmath
    S, b = exact_moments(data)
    ev = MPBackend(bits).eigvalsh(S.tolist())
    with mpmath.mp.workprec(bits):
        top = max(abs(e) for e in ev)
        tol = top * mpmath.mpf(2) ** (-bits // 2)
        rank = int(sum(1 for e in ev if e > tol))
    if rank in (data.d, data.n) and rank > 0:
        try:
            return _ols_solve(data, bits, rank == data.d), rank
        except ZeroDivisionError:          # a ball matrix not provably invertible: the eigenvectors decide
            pass
    from .backends import eigh
    ev, V = eigh(S.tolist(), bits)
    with mpmath.mp.workprec(bits):
        bm = mpmath.matrix([[mpmath.mpf(int(v.p)) / int(v.q)] for v in b])
        w = mpmath.matrix(data.d, 1)
        for e, v in zip(ev, V):
            if e > tol:
                w += v * ((v.T * bm)[0, 0] / e)
        z = mpmath.matrix([[mpmath.mpf(x) if isinstance(x, float) else mpmath.mpf(int(sp.Rational(x).p)) /
                            int(sp.Rational(x).q) for x in data.x_test]])
        return (z * w)[0, 0], rank


def _ols_solve(data: Data, bits: int, full_column_rank: bool):
    """x_test' S^-1 X'y (full column rank) or x_test' X'(XX')^-1 y (full row rank) in arb at bits + 32, as an
    mpmath number at ``bits``: the ball's midpoint, when its radius is below the 2^(-bits/2) the callers
    resolve (else ZeroDivisionError, and the caller takes the eigenvectors)."""
    import mpmath
    from flint import arb, arb_mat, ctx

    from .backends import _arb_exact
    old = ctx.prec
    try:
        ctx.prec = bits + 32
        X = arb_mat([[_arb_exact(v, arb) for v in r] for r in data.X])
        y = arb_mat([[_arb_exact(v, arb)] for v in data.y])
        z = arb_mat([[_arb_exact(v, arb) for v in data.x_test]])
        Xt = X.transpose()
        if full_column_rank:
            val = (z * (Xt * X).solve(Xt * y))[0, 0]
        else:
            val = (z * (Xt * (X * Xt).solve(y)))[0, 0]
        if not val.rad() <= abs(val.mid()) * arb(2) ** (-(bits // 2)) + arb(2) ** (-bits):
            raise ZeroDivisionError("the solve's ball is too wide to give the value")   # the caller falls back
        m, x = val.mid().man_exp()
        with mpmath.mp.workprec(bits):
            return mpmath.mpf((int(m), int(x)))
    finally:
        ctx.prec = old


def reference_curves(rec: Recursion, data: Data, params: dict, kmax: int, bits: int, con=None) -> dict:
    """|prediction - OLS prediction| per step for the claim's recursion and
    for GD (eta = 1/lambda_max(S)); OLS is the minimum-norm solution S^+ X'y."""
    be = ArbBackend(bits)
    lo, hi = spectrum(data, bits)
    ols_mp, rank = ols_min_norm(data, bits)
    with be.precision(bits):
        S, b = moments(data.X, data.y, be)
        ols = be.num(float(ols_mp))
        coeffs = {**scalar_params(params), rec.alg.n: data.n, D_SYM: data.d}
        z = be.matrix([[v] for v in data.x_test])
        lets = (lambda it: letter_values(con, params, it, be)) if con is not None else None
        rec_err = []
        for i, M in enumerate(rec.iterates({"S": S, "b": b, **backend_label_moments(data, be, b)}, kmax, coeffs,
                                           be, letters_for=lets)):
            e = abs(rec.prediction(M, z, b, coeffs, be, letters=lets(max(i, 1)) if lets else None) - ols)
            # a ball too wide to locate the value is not a value: it is left out (None), never plotted
            rec_err.append(float(e.mid()) if ball_decided(float(e.mid()), float(e.rad())) else None)
        out = {"ols": float(ols_mp), "rank": rank, "recursion": rec_err,
               "lambda_min": float(lo), "lambda_max": float(hi)}
        if hi > 0:
            eta = be.num(float(1 / hi))
            ws = gd(S, b, eta, kmax, be)
            gd_err = [abs(predict(data.x_test, w, be) - ols) for w in ws]
            out.update({"gd": [float(e.mid()) if ball_decided(float(e.mid()), float(e.rad())) else None
                               for e in gd_err], "gd_eta": float(1 / hi)})
        return out
