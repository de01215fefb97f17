"""Claim kinds: one typed spec, one checker and (where there is one) one
counterexample search per kind, in a table (after sympy's rule tables).

A claim carries a spec, a frozen dataclass; its class names the kind.  The
runner (``check.py``) looks the kind up here; it holds no chain of cases.
Adding a kind is one ``@kind`` definition, here or in a theorem module that
needs a kind of its own (``theorems/newton_schulz.py`` adds the Newton-Schulz
convergence kind).

A checker receives the spec and a :class:`Run` (the construction, the algebra,
the run's sizes, data and parameter values) and returns a
:class:`symbolic.lemmas.Outcome`.  A counterexample search is asked only when
the checker did not verify; it may turn the outcome into a refutation, with
the counterexample attached.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import sympy as sp


@dataclass
class Run:
    """What a checker may read: the theorem, the run's context and, for a
    variant's claim, its construction and algebra."""
    theorem: Any
    ctx: Any
    con: Any = None
    alg: Any = None

    @property
    def params(self) -> dict:
        """The run's parameter values, by symbol (exact rationals)."""
        return dict(self.ctx.params)

    def exact_params(self, data) -> dict:
        """Rational parameter values for an exact small instance."""
        return {p.symbol: p.exact(data) for p in self.theorem.parameters}

    def batch_params(self, S) -> dict:
        return {p.symbol: p.batch(self.ctx.policies[p.name], S, self.ctx.n) for p in self.theorem.parameters}

    def note(self, msg: str) -> None:
        """Progress inside a long check (shown on the terminal, at most every few seconds; not under --quiet)."""
        say = getattr(self.ctx, "progress", None)
        if say is not None:
            say(msg)


@dataclass(frozen=True)
class Kind:
    name: str
    spec: type
    check: Callable
    counterexample: Callable | None = None
    scope: str = "variant"          # variant: needs a construction; theorem: about the recursion alone


KINDS: dict[type, Kind] = {}


def kind(spec_cls: type, name: str, scope: str = "variant", counterexample: Callable | None = None):
    """Register ``check`` as the checker of claims whose spec is ``spec_cls``."""
    def deco(check):
        KINDS[spec_cls] = Kind(name, spec_cls, check, counterexample, scope)
        spec_cls.kind = name
        return check
    return deco


def lookup(spec) -> Kind:
    try:
        return KINDS[type(spec)]
    except KeyError:
        raise TypeError(f"no claim kind is registered for spec type {type(spec).__name__}") from None


# ====================================================================== specs
@dataclass(frozen=True)
class LayerMaps:
    """Layers map the input template to the output template (for all sizes)."""
    layers: tuple
    input: Any
    output: Any
    symmetric: bool = False
    kind: ClassVar[str] = "layer_maps"


@dataclass(frozen=True)
class Induction:
    """Base, step and readout lemmas: the network computes the recursion for every k."""
    recursion: Any                      # numeric.checks.Recursion
    kind: ClassVar[str] = "induction"


@dataclass(frozen=True)
class Composition:
    """The composed network equals the recursion exactly at small sizes: every n
    from 1 to ``n_max`` at d = 1..``d_max`` plus ``drawn`` sizes drawn from the seed."""
    recursion: Any
    n_max: int = 8
    d_max: int = 2
    k_max: int = 2
    drawn: int = 2
    label_sizes: tuple = ()      # vector-label sizes m > 1 also checked (at d = 2, n = 1..4)
    kind: ClassVar[str] = "composition"


@dataclass(frozen=True)
class Certified:
    """Ball arithmetic encloses |network - recursion| at the run's sizes."""
    recursion: Any
    kind: ClassVar[str] = "certified"


@dataclass(frozen=True)
class Float64Batch:
    """The network on a batch of prompts in float64: supporting evidence only."""
    recursion: Any
    batch: int = 64
    kind: ClassVar[str] = "float64_batch"


@dataclass(frozen=True)
class LayerCount:
    """The construction has at most ``bound`` layers for every k; with ``equal``, exactly that many (for a
    construction built to a stated count: a different count is then a finding about it)."""
    bound: sp.Expr
    equal: bool = False
    kind: ClassVar[str] = "layer_count"


@dataclass(frozen=True)
class Width:
    """The hidden width is O(size) in the given size symbol; with ``exact``, it is at most that
    expression for every size (a stated width such as 4d + 3); with ``equal`` as well, exactly it."""
    size: sp.Symbol
    exact: Any = None
    equal: bool = False
    kind: ClassVar[str] = "width"


@dataclass(frozen=True)
class Architecture:
    """Every layer is of the stated form: at most ``max_heads`` heads per attention, attention with the
    ``activation`` and ``normalizer`` given (and no causal mask), at most ``max_ops`` sub-operations per
    layer, and MLPs only when ``mlp``."""
    max_heads: int
    activation: str = "linear"
    normalizer: str = "none"
    mlp: bool = False
    max_ops: int = 1
    kind: ClassVar[str] = "architecture"


@dataclass(frozen=True)
class ClosedForm:
    """A printed closed form of the k-th iterate, a polynomial in commuting
    symbols, against the recursion unrolled exactly; every differing
    coefficient is named."""
    k: int
    printed: Any                       # sympy expression, the single source (its LaTeX is printed from it)
    start: Any
    step: Callable
    var: sp.Symbol
    params: tuple = ()
    kind: ClassVar[str] = "closed_form"


@dataclass(frozen=True)
class ClosedFormAllK:
    """A closed form of the K-th iterate for every K: ``closed(0) = start`` and
    ``closed(K+1) = step(closed(K))`` for a symbolic K.  The iterates must be
    polynomials in one matrix (they then commute, and ``var`` stands for it)."""
    closed: Callable
    start: Any
    step: Callable
    var: sp.Symbol
    K: sp.Symbol
    kind: ClassVar[str] = "closed_form_all_k"


@dataclass(frozen=True)
class ClosedFormDegree:
    """The k-th iterate's powers of ``var`` run over the stated range, k <= kmax."""
    kmax: int
    start: Any
    step: Callable
    degree: Callable
    var: sp.Symbol
    kind: ClassVar[str] = "closed_form_degree"


# ====================================================================== checkers
def _prompt_text(cx: dict) -> str:
    """The parts of a counterexample's prompt its tokens read (none for a construction over basis tokens)."""
    from symbolic.mathtext import value_text
    return "".join(f", {k}={value_text(cx[k])}" for k in ("X", "y", "x_test") if k in cx)



def _layer_counterexample(spec: LayerMaps, run: Run, o):
    from numeric import checks
    from symbolic.mathtext import value_text
    if (o.where or {}).get("reason") == "layer missing":      # no layer to run on a prompt
        return o
    cx = checks.counterexample_layers(run.con, run.alg, spec.layers, spec.input, spec.output,
                                      seed=run.ctx.seed, params_for=run.exact_params)
    if cx:
        o.verdict = "refuted"
        pv = checks.params_text(cx.get("params", {}))
        o.detail += (f". Counterexample{f' ({pv})' if pv else ''}: d={cx['d']}, n={cx['n']}{_prompt_text(cx)}"
                     + (f", T={value_text(cx['T'])}" if cx.get("T") else "")
                     + f": token {cx['token']}, block {cx['block']}: layer output {value_text(cx['got'])}, claimed "
                       f"{value_text(cx['want'])}")
        o.data["counterexample"] = cx
        o.where.update({"token": cx["token"], "block": o.where.get("block", cx["block"])})
    else:
        o.detail += "; no counterexample found at d, n <= 3"
    return o


@kind(LayerMaps, "layer_maps", counterexample=_layer_counterexample)
def _check_layer_maps(spec: LayerMaps, run: Run):
    from symbolic import lemmas
    return lemmas.layer_maps(run.con, run.alg, spec.layers, spec.input, spec.output, spec.symmetric)


def _induction_counterexample(spec: Induction, run: Run, o):
    from numeric import checks
    from symbolic.mathtext import value_text
    # a fault may need two repetitions of the step to show (the first may act on zeros): each prompt is tried
    # with one step, then two
    cx = checks.search_composition_counterexample(run.con, spec.recursion, run.exact_params, seed=run.ctx.seed,
                                                  k=(1, 2))
    if cx:
        o.verdict = "refuted"
        pv = checks.params_text(cx.get("params", {}), sep="=")
        o.detail += (f". Counterexample: d={cx['d']}, n={cx['n']}, k={cx['k']}{_prompt_text(cx)}"
                     f"{', ' + pv if pv else ''}: after layer {cx['layer']}, token "
                     f"{cx['token']}, block {cx['block']}: network {value_text(cx['got'])}, recursion "
                     f"{value_text(cx['want'])}")
        o.data["counterexample"] = cx
    return o


@kind(Induction, "induction", counterexample=_induction_counterexample)
def _check_induction(spec: Induction, run: Run):
    from symbolic import lemmas
    return lemmas.induction(run.con, run.alg, spec.recursion)


def composition_sizes(spec: Composition, k: int, seed: int) -> list[tuple[int, int, int]]:
    """Every n in 1..n_max at every d in 1..d_max, then ``drawn`` sizes drawn from
    the seed (d up to 4, n up to 16): a fixed list of sizes cannot be dodged by an
    error term that vanishes on it, and the report lists the sizes checked."""
    import random
    kk = min(k, spec.k_max)
    sizes = [(d, n, kk) for d in range(1, spec.d_max + 1) for n in range(1, spec.n_max + 1)]
    rng = random.Random(f"sizes-{seed}")
    for _ in range(spec.drawn):
        sizes.append((rng.randint(1, 4), rng.randint(spec.n_max + 1, 16), kk))
    for m in spec.label_sizes:
        sizes += [(2, n, kk, m) for n in range(1, 5)]
    return sizes


@kind(Composition, "composition")
def _check_composition(spec: Composition, run: Run):
    from numeric import checks
    sizes = composition_sizes(spec, run.ctx.k, run.ctx.seed)
    return checks.composition(run.con, spec.recursion, sizes, run.exact_params, seed=run.ctx.seed)


@kind(Certified, "certified")
def _check_certified(spec: Certified, run: Run):
    """Ball arithmetic at the run's precision; a ball too wide to decide is recomputed at doubled
    precision (as Arb recommends) up to the run's cap, and the precision that decided is reported.
    Inconclusive then means: undecided at the cap."""
    from numeric import checks
    bits, cap, tried = run.ctx.bits, getattr(run.ctx, "precision_cap", run.ctx.bits), []
    while True:
        o, _ = checks.certified(run.con, spec.recursion, run.ctx.data, run.ctx.k, run.params, bits,
                                progress=lambda it, bits=bits: run.note(f"step {it} of {run.ctx.k}, {bits}-bit balls"))
        tried.append(bits)
        if o.verdict != "inconclusive" or bits >= cap:
            break
        bits = min(2 * bits, cap)
    o.data["precision_bits"] = bits
    o.data["precision_tried"] = tried
    if len(tried) > 1 and o.verdict != "inconclusive":
        o.detail += f" (decided at {bits} bits; undecided at {', '.join(map(str, tried[:-1]))})"
    if o.verdict == "inconclusive":
        o.detail += (f"; undecided at every precision tried ({', '.join(map(str, tried))} bits, the cap): raise "
                     f"--precision-cap")
        o.where["reason"] = f"certified balls too wide at the precision cap ({cap} bits)"
    return o


@kind(Float64Batch, "float64_batch")
def _check_float64(spec: Float64Batch, run: Run):
    from numeric import checks
    c = run.ctx
    return checks.float64_batch(run.con, spec.recursion, c.d, c.n, c.k, spec.batch, c.seed, run.batch_params,
                                policy_text=", ".join(f"{p} {v}" for p, v in c.policies.items()),
                                first=c.data if c.user_data else None)


@kind(LayerCount, "layer_count")
def _check_layer_count(spec: LayerCount, run: Run):
    from symbolic import lemmas
    return lemmas.layer_count(run.con, spec.bound, spec.equal)


@kind(Width, "width")
def _check_width(spec: Width, run: Run):
    from symbolic import lemmas
    return lemmas.width(run.con, spec.size, spec.exact, spec.equal)


@kind(Architecture, "architecture")
def _check_architecture(spec: Architecture, run: Run):
    from symbolic import lemmas
    return lemmas.architecture(run.con, spec.max_heads, spec.activation, spec.normalizer, spec.mlp, spec.max_ops)


@kind(ClosedForm, "closed_form", scope="theorem")
def _check_closed_form(spec: ClosedForm, run: Run):
    from symbolic import lemmas
    return lemmas.closed_form(spec.k, spec.printed, spec.start, spec.step, spec.var, spec.params)


@kind(ClosedFormDegree, "closed_form_degree", scope="theorem")
def _check_closed_form_degree(spec: ClosedFormDegree, run: Run):
    from symbolic import lemmas
    return lemmas.closed_form_degree(spec.kmax, spec.start, spec.step, spec.degree, spec.var)


@kind(ClosedFormAllK, "closed_form_all_k", scope="theorem")
def _check_closed_form_all_k(spec: ClosedFormAllK, run: Run):
    from symbolic import lemmas
    return lemmas.closed_form_all_k(spec.closed, spec.start, spec.step, spec.var, spec.K)


def network_claims(rec, cite: str, what: str = "the recursion", label_sizes: tuple = ()) -> list:
    """The numeric cross-checks every construction with a recursion gets: the exact composition at small
    sizes, certified balls at the run's sizes, and (supporting only) a float64 batch."""
    from .base import Claim
    return [
        Claim("exact composition at small sizes", cite,
              f"the composed network equals {what} exactly, every step and the prediction",
              Composition(rec, label_sizes=label_sizes)),
        Claim("certified at realistic size", cite,
              f"ball arithmetic encloses |network - {what}| at the run's sizes", Certified(rec)),
        Claim("float64 on a batch of prompts", cite,
              "the same network on many sampled prompts at once, in float64", Float64Batch(rec, 64),
              statement=False),
    ]


# ---------------------------------------------------------------- constructions side by side
@dataclass(frozen=True)
class SideBySide:
    """The constructions of several theorems for the same number of steps k: layers (as a formula in k and at
    the run's k), hidden width (formula and at the run's d) and heads per layer, each beside the count its own
    theorem states (read from that variant's layer-count and width claims, never retyped).  Verified when
    every construction meets its own stated counts; refuted, naming the row, otherwise."""
    theorems: tuple
    kind: ClassVar[str] = "side_by_side"


@kind(SideBySide, "side_by_side", scope="theorem")
def _check_side_by_side(spec: SideBySide, run: Run):
    from symbolic.layers import Attention
    from symbolic.layout import d as dsym
    from symbolic.lemmas import Outcome, layer_count, width
    from symbolic.templates import Algebra
    from .registry import get
    k = sp.Symbol("k")
    kv, dv = run.ctx.k, run.ctx.d
    rows, bad = [], []
    for tid in spec.theorems:
        thm = get(tid)
        for v in thm.variants:
            if v.role == "ablation":
                continue
            con = v.build()
            claims = v.claims(con, Algebra())
            lc = next((c.spec for c in claims if isinstance(c.spec, LayerCount)), None)
            wc = next((c.spec for c in claims if isinstance(c.spec, Width)), None)
            heads = [len(op.heads) for _, _, op in con.all_ops() if isinstance(op, Attention)]
            n_layers = con.n_layers(k)
            w = con.layout.width
            ok_l = layer_count(con, lc.bound).verdict == "verified" if lc else None
            ok_w = width(con, wc.size, wc.exact).verdict == "verified" if wc else None
            row = {"theorem": tid, "variant": v.name, "role": v.role, "layers": str(n_layers),
                   f"layers at k={kv}": int(n_layers.subs(k, kv)), "stated layers": str(lc.bound) if lc else "-",
                   "width": str(w), f"width at d={dv}": int(sp.sympify(w).subs(dsym, dv)),
                   "stated width": str(wc.exact) if wc and wc.exact is not None else ("O(d)" if wc else "-"),
                   "max heads": max(heads, default=0),
                   "meets its stated counts": "yes" if ok_l is not False and ok_w is not False else "no"}
            rows.append(row)
            if ok_l is False or ok_w is False:
                bad.append(f"{tid}/{v.name}")
    best = min(rows, key=lambda r: r[f"layers at k={kv}"])
    text = (f"at k = {kv}, d = {dv}: " + "; ".join(f"{r['theorem']}/{r['variant']} {r[f'layers at k={kv}']} layers, "
                                                 f"width {r[f'width at d={dv}']}" for r in rows)
            + f". Fewest layers: {best['theorem']}/{best['variant']}.")
    if bad:
        return Outcome("refuted", "structural (all k, d)", f"{', '.join(bad)} exceed their stated counts; {text}",
                       {"constructions": rows})
    return Outcome("verified", "structural (all k, d)", text, {"constructions": rows})
