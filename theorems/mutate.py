"""``python -m theorems.mutate THEOREM``: a soundness score by mutation.

Every construction of the theorem is perturbed, one change at a time:

* every weight entry: zeroed, sign flipped, scaled, transposed, swapped with
  another entry of the same shape, each numeric constant of its coefficient
  changed, each parameter in it doubled;
* every other parameter of a construction: an op's activation, normaliser,
  causal mask, key and query kinds; an op or a layer dropped, duplicated or
  swapped with its neighbour;
* every transcribed formula the claims compare with: the recursion's start,
  step and read-out, the printed layer outputs, and every numeric constant and
  symbol of the stated expressions (layer counts, widths, closed forms, losses);
  not mutated: reference values a claim holds as text or a plain Python number,
  and a bare size symbol (``d``), which names a size.

Each mutant runs, at the theorem's small (golden) preset, the claims of what it
mutates that decide something: the statement claims (the verdict rests on
them) and, among the theorem's own claims, those whose failure is an erratum.
Supporting claims (the float64 batch, claims about this run's data) decide
nothing and are not read; claims are paired by name, and one that appears or
disappears with the mutant is not a catch.  A mutant is *caught* when the
verdict of one of those claims changes to another decided verdict (verified to
refuted, or back), for a formula mutant among the claims that read the formula;
a construction mutant is also caught when a claim refuted before and after
reports another finding (another layer, another counterexample).  Under a
verified verdict a different exact result is not a catch: the proof accepted
the mutant.  A survivor is classified: an *equivalent* mutant, with the argument
(proved symbolically: the mutated stage maps the proof's hypothesis to the same
state, for all sizes, from a verified induction; the mutated formula is the
same polynomial; declared by the theorem, with its reason, and then only where
the exact network agrees on the sampled prompts, else a gap), a *sampled*
survivor (the exact network agrees on every stage boundary on sampled prompts,
the preset's size among them: not proved), *undecided* (no claim refutes it
and one turned inconclusive: the check would not pass it, but did not find it
wrong either), or a *gap* in the checks.  A formula only supporting claims
read is *supporting*, and one that every claim reading it already refutes is
*masked* (the erratum stays an erratum); one that only loosens an "at most"
claim (a layer count or width bound raised for every size) is *implied* by the
stated claim, which no sound check can refute.  Sampled, undecided, implied,
supporting and masked mutants count neither way and are listed; so are crashes
and mutants the construction rejects as ill-formed.

The score is caught / (caught + gaps) over the mutants of the variants the
verdict rests on (the theorem's basis) and of the theorem's own claims.  It is
only given when each of those verifies unmutated: a mutant of a refuted
baseline shows nothing.  The other variants (as printed, ablations) are
mutated too and reported apart, with their own counts; only there can a
construction mutant be *masked* by a failure the unmutated variant already
reports.

Exit codes: 0 the score meets ``--target`` (default 0.95), 1 it does not,
2 usage error, 3 no score (a basis variant or theorem claim does not verify
unmutated), 4 internal error (a mutant crashed a check, or the tool itself).

A record (``--record``) carries a digest of the basis, the claims and the
mutants it was taken over; the index shows a record whose digest is not the
theorem's present one as stale.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass

import sympy as sp

TARGET = 0.95
RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mutation")


@dataclass(frozen=True)
class Mutant:
    target: str        # a variant's name, or "" for the theorem's own claims
    family: str        # weight | structure | formula
    where: str
    mode: str
    layer: str = ""    # the layer a weight or structure mutant changes (for locating it behind a failure)

    @property
    def label(self) -> str:
        return f"{self.target or 'theorem'}: {self.where}: {self.mode}"


@dataclass
class Outcome:
    mutant: Mutant
    status: str                  # one of STATUSES
    reason: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"target": self.mutant.target or "theorem", "family": self.mutant.family, "where": self.mutant.where,
                "mode": self.mutant.mode, "status": self.status, "reason": self.reason,
                "seconds": round(self.seconds, 3)}


# ---------------------------------------------------------------- running the claims
def context(thm):
    from .check import make_context
    from .golden import preset
    p = preset(thm)
    return make_context(thm, k=p.get("k"), d=p.get("d"), n=p.get("n"), seed=p.get("seed", 0))


def run_claims(thm, ctx, claims, con=None, alg=None) -> list:
    from .check import run_claim
    from .kinds import Run
    run = Run(thm, ctx, con, alg)
    return [run_claim(c, run) for c in claims]


def decides(e, theorem_level: bool = False) -> bool:
    """Whether a claim's result is part of what the run reports as found: a statement claim (the verdict rests
    on it) or, among the theorem's own claims, one whose failure is an erratum.  Supporting claims (the float64
    batch, claims about this run's data) decide nothing."""
    return bool(e.statement or (theorem_level and e.erratum))


def fingerprint(evidence, theorem_level: bool = False) -> list:
    """What a mutant must leave unchanged to survive: per deciding claim its verdict, method and exact results;
    None for a claim that decides nothing."""
    from .golden import _check
    return [(e.claim, json.dumps(_check(e), sort_keys=True, default=str) if decides(e, theorem_level) else None)
            for e in evidence]


# ---------------------------------------------------------------- formula mutants
def _is_recursion(x) -> bool:
    from numeric.checks import Recursion
    return isinstance(x, Recursion)


def _walk(x, path, out, seen):
    """Collect the formulas inside claim specs: recursions, templates, sympy expressions."""
    from symbolic.templates import Template
    if id(x) in seen:
        return
    if _is_recursion(x) or isinstance(x, Template):
        seen.add(id(x))
        out.append((path, x))
        return
    if isinstance(x, sp.Basic):
        if not isinstance(x, sp.Symbol) and (x.atoms(sp.Number) or x.free_symbols):   # a bare symbol names a size
            seen.add(id(x))
            out.append((path, x))
        return
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        seen.add(id(x))
        for f in dataclasses.fields(x):
            _walk(getattr(x, f.name), f"{path}.{f.name}", out, seen)
    elif isinstance(x, (tuple, list)):
        for i, v in enumerate(x):
            _walk(v, f"{path}[{i}]", out, seen)
    elif isinstance(x, dict):
        for k, v in x.items():
            _walk(v, f"{path}[{k!r}]", out, seen)


def _rebuild(x, old, new):
    """x with the object ``old`` (by identity) replaced by ``new`` wherever it occurs."""
    if x is old:
        return new
    if isinstance(x, sp.Basic) or _is_recursion(x):
        return x
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        changes = {}
        for f in dataclasses.fields(x):
            if not f.init:
                continue
            v = getattr(x, f.name)
            nv = _rebuild(v, old, new)
            if nv is not v:
                changes[f.name] = nv
        return dataclasses.replace(x, **changes) if changes else x
    if isinstance(x, tuple):
        vals = tuple(_rebuild(v, old, new) for v in x)
        return vals if any(a is not b for a, b in zip(vals, x)) else x
    if isinstance(x, list):
        vals = [_rebuild(v, old, new) for v in x]
        return vals if any(a is not b for a, b in zip(vals, x)) else x
    if isinstance(x, dict):
        vals = {k: _rebuild(v, old, new) for k, v in x.items()}
        return vals if any(vals[k] is not x[k] for k in x) else x
    return x


def formula_mutations(claims):
    """(where, mode, new object, old object, same) for every formula in the claims' specs; ``same`` tells
    whether the mutated formula is provably the original one (then the mutant is equivalent)."""
    from symbolic.templates import Template
    found, seen = [], set()
    for c in claims:
        _walk(c.spec, f"claim '{c.name}'", found, seen)
    for path, x in found:
        if _is_recursion(x):
            yield from _recursion_mutations(path, x)
        elif isinstance(x, Template):
            for kind, blocks in x.kinds.items():
                for b, p in blocks.items():
                    if p.is_zero():
                        continue
                    kinds = {k: dict(v) for k, v in x.kinds.items()}
                    kinds[kind][b] = p.scale(2)
                    yield path, f"printed block {b} of kind {kind} doubled", Template(kinds), x, False
        else:
            for a in sorted(x.atoms(sp.Number), key=lambda v: (float(v), str(v))):
                new = x.xreplace({a: a + 1})
                yield path, f"constant {a} -> {a + 1} in {x}", new, x, sp.simplify(new - x) == 0
            for s in sorted(x.free_symbols, key=str):
                new = x.xreplace({s: 2 * s})
                yield path, f"symbol {s} -> 2{s} in {x}", new, x, sp.simplify(new - x) == 0


def _recursion_mutations(path, rec):
    r = dataclasses.replace
    start0 = rec.start()
    yield path, "the recursion's start doubled", r(rec, start=lambda f=rec.start: 2 * f()), rec, start0.is_zero()
    yield path, "the recursion's step doubled", r(rec, step=lambda T, P, f=rec.step: 2 * f(T, P)), rec, False
    yield path, "the recursion's step plus its state", r(rec, step=lambda T, P, f=rec.step: f(T, P) + T), rec, False
    if rec.readout is not None:
        yield path, "the recursion's read-out doubled", r(rec, readout=lambda T, f=rec.readout: 2 * f(T)), rec, False


# ---------------------------------------------------------------- equivalence arguments
def symbolic_equivalence(con, mutant, claims, alg, evidence=None) -> str | None:
    """When the variant's induction holds unmutated (``evidence``: the baseline's, one per claim), the mutant
    is equivalent if each stage it changes maps the proof's hypothesis (the input, the invariant, the
    invariant before the read-out) to the same template, for all sizes.  Returns the argument, or None: an
    unproved invariant is no hypothesis to argue from."""
    from symbolic.lemmas import apply_all, compare
    from symbolic.templates import Evaluator, LemmaFailure, Template, input_template
    at = next((i for i, c in enumerate(claims) if c.kind == "induction"), None)
    if at is None:
        return None
    if evidence is None or evidence[at].verdict != "verified":
        return None
    rec = claims[at].spec.recursion
    T = rec.letter
    sym = rec.symmetric
    inv = Template(rec.invariant(T))
    stages = [("init", input_template(con, alg), False), ("step", inv, sym)]
    if rec.readout is not None:
        stages.append(("readout", inv, sym))
    try:
        for stage, tin, s in stages:
            a = apply_all(Evaluator(con, alg, symmetric=s), getattr(con, stage), tin)
            b = apply_all(Evaluator(mutant, alg, symmetric=s), getattr(mutant, stage), tin)
            if stage == "readout":
                a = Template({con.output[0]: {con.output[1]: a.get(*con.output, alg)}})
                b = Template({mutant.output[0]: {mutant.output[1]: b.get(*mutant.output, alg)}})
            if compare(a, b, alg, s) is not None:
                return None
    except (LemmaFailure, ValueError, KeyError):
        return None
    return ("proved symbolically: every stage maps the proof's hypothesis (input, invariant) to the same "
            "state and the read-out gives the same prediction, for all sizes")


SAMPLED_SIZES = ((1, 1, 1), (2, 3, 2), (3, 4, 2), (2, 2, 0), (3, 5, 1), (1, 3, 2))


def sampled_equivalence(thm, con, mutant, ctx=None, trials: int = len(SAMPLED_SIZES)) -> str | None:
    """The exact networks hold the same state at every stage boundary (after the init layers, after each
    step, and in the prediction) on sampled prompts, the preset's size (``ctx``: d, n, k) among them: what
    the next stage, and the claims, read.  Evidence, not a proof."""
    import random
    from numeric.backends import ExactBackend
    from numeric.data import small_integers
    from numeric.forward import Network
    from .kinds import Run
    be, rng = ExactBackend(), random.Random(0)
    run = Run(thm, None)
    sizes = list(SAMPLED_SIZES[:trials])
    if ctx is not None and all(getattr(ctx, x, None) is not None for x in ("d", "n", "k")):
        sizes.append((ctx.d, ctx.n, ctx.k))

    def boundaries(c, net, H, k):
        out, layers = [], c.layers(k)
        for idx, (stage, it, L) in enumerate(layers):
            H = net.apply_layer(L, H, it if stage == "step" else 0)
            nxt = layers[idx + 1] if idx + 1 < len(layers) else None
            if stage != "readout" and (nxt is None or nxt[0] != stage or (stage == "step" and nxt[1] != it)):
                out.append({b: H[b] for b in H})
        return out, net.read(H)

    try:
        for d, n, k in sizes:
            data = small_integers(d, n, rng)
            params = run.exact_params(data)
            A, B = Network(con, d, n, be, params), Network(mutant, d, n, be, params)
            (sa, pa), (sb, pb) = boundaries(con, A, A.embed(data), k), boundaries(mutant, B, B.embed(data), k)
            if len(sa) != len(sb) or pa != pb or any(set(x) != set(y) or any(x[b] != y[b] for b in x)
                                                      for x, y in zip(sa, sb)):
                return None
    except Exception:
        return None
    shown = ", ".join(f"(d, n, k) = {s}" for s in sizes)
    return (f"agrees exactly on {len(sizes)} sampled prompts ({shown}) at every stage boundary and in the "
            "prediction; not proved (the symbolic argument did not apply), so it counts neither way")


def declared(thm) -> dict:
    return (thm.equivalent_mutants or dict)()


# ---------------------------------------------------------------- the mutants of one theorem
def mutants(thm, base: dict, variant: str | None = None):
    """(Mutant, make) pairs; ``make()`` returns ("con", construction) or ("claims", (old, new, same)): the
    formula ``old`` of the baseline's claims replaced by ``new``."""
    from symbolic.perturb import entry_mutations, sites, structure_mutations, with_entries
    for v in thm.variants:
        if variant and v.name != variant:
            continue
        con = v.build()
        for site, _ in sites(con):
            for mode, entries in entry_mutations(con, site):
                yield Mutant(v.name, "weight", str(site), mode, site.layer), \
                    (lambda con=con, site=site, entries=entries: ("con", with_entries(con, site, entries)))
        for where, mode, make, layer in structure_mutations(con):
            yield Mutant(v.name, "structure", where, mode, layer), (lambda make=make: ("con", make()))
        for where, mode, new, old, same in formula_mutations(base[v.name]["claims"]):
            yield Mutant(v.name, "formula", where, mode), \
                (lambda old=old, new=new, same=same: ("claims", (old, new, same)))
    if variant is None:
        for where, mode, new, old, same in formula_mutations(base[""]["claims"]):
            yield Mutant("", "formula", where, mode), (lambda old=old, new=new, same=same: ("claims", (old, new, same)))


# cheap checks first: a mutant is caught at the first claim whose result differs
COST = {"layer_count": 0, "width": 0, "architecture": 0, "induction": 1, "layer_maps": 1, "composition": 3,
        "certified": 4, "float64_batch": 5}


def _ordered(claims):
    return sorted(range(len(claims)), key=lambda i: (COST.get(claims[i].kind, 2), i))


def _claims_with(claims, old, new):
    return [dataclasses.replace(c, spec=_rebuild(c.spec, old, new)) for c in claims]


def _variant_claims(v, con):
    """A variant's claims for a construction, with the fresh algebra they are built on (formula mutants reuse
    the baseline's claims and algebra instead)."""
    from symbolic.templates import Algebra
    alg = Algebra()
    return v.claims(con, alg), alg


def scored_targets(thm) -> tuple:
    """The targets the score is taken over: the variants the verdict rests on and the theorem's own claims
    (""); the other variants are reported apart."""
    return (*thm.basis, "")


def evaluate(thm, ctx, mutant: Mutant, make, base: dict, full: bool = False) -> Outcome:
    t0 = time.perf_counter()
    out = _evaluate(thm, ctx, mutant, make, base, full)
    out.seconds = time.perf_counter() - t0
    return out


def _evaluate(thm, ctx, mutant: Mutant, make, base: dict, full: bool = False) -> Outcome:
    from .check import run_claim, save_traceback
    from .kinds import Run
    v = thm.variant(mutant.target) if mutant.target else None
    b = base[mutant.target]
    try:
        what, obj = make()
    except (ValueError, KeyError) as e:           # the layout refuses it (a TypeError would be ours: a crash)
        return Outcome(mutant, "invalid", f"the construction rejects it: {e}")
    except Exception as e:
        path = save_traceback(f"mutate-{thm.id}")
        return Outcome(mutant, "crash", f"building it: {type(e).__name__}: {e} (traceback in {path})")
    try:
        if what == "con":
            claims, alg = _variant_claims(v, obj)
            run = Run(thm, ctx, obj, alg)
        else:
            old, new, same = obj
            claims = _claims_with(b["claims"], old, new)
            run = Run(thm, ctx, b["con"], b["alg"]) if v is not None else Run(thm, ctx)
    except Exception as e:
        path = save_traceback(f"mutate-{thm.id}")
        return Outcome(mutant, "crash", f"{type(e).__name__}: {e} (traceback in {path})")
    # claims are paired by name: only the deciding claims both runs hold are compared (a claim that appears or
    # disappears with the construction says nothing about it)
    at0 = {c.name: j for j, c in enumerate(b["claims"])}
    read = [(i, at0[c.name]) for i, c in ((i, claims[i]) for i in _ordered(claims))
            if c.name in at0 and b["fingerprint"][at0[c.name]][1] is not None
            and (c.kind, c.statement) == (b["claims"][at0[c.name]].kind, b["claims"][at0[c.name]].statement)]
    if what == "claims":
        read = [(i, j) for i, j in read if _reads(b["claims"][j], obj[0])]     # ... and read this formula
        if not read:
            return Outcome(mutant, "supporting", "only supporting claims read this formula: they decide no verdict "
                                                 "and no erratum")
    caught, undecided = [], []
    for i, j in read:
        e, e0 = run_claim(claims[i], run), b["evidence"][j]
        if e.verdict == "error" and e0.verdict != "error":
            return Outcome(mutant, "crash", f"{e.claim}: {e.detail}")
        if e.verdict == e0.verdict:
            # a claim refuted before and after: a construction mutant that moves its failure (another layer,
            # another counterexample) is seen; under a verified verdict a different result was still accepted
            if what == "con" and e0.verdict == "refuted" and _location(e) != _location(e0):
                caught.append(f"{e.claim} (refuted elsewhere: {_location(e0) or '-'} -> {_location(e) or '-'})")
        elif e.verdict == "inconclusive":
            undecided.append(f"{e.claim} ({e0.verdict} -> inconclusive: {_first_line(e.detail)})")
        else:
            caught.append(f"{e.claim} ({e0.verdict} -> {e.verdict})")
        if caught and not full:
            break
    if caught:
        return Outcome(mutant, "caught", "changed: " + "; ".join(caught))
    # a survivor: equivalent (with the argument), sampled, undecided, masked, or a gap
    dec = declared(thm).get((mutant.target, mutant.where, mutant.mode))
    if what == "claims" and obj[2]:
        return Outcome(mutant, "equivalent", "the mutated formula is provably the same (it simplifies to the "
                                             "original)")
    if what == "con":
        why = symbolic_equivalence(b["con"], obj, b["claims"], b["alg"], b["evidence"])
        if why:
            return Outcome(mutant, "equivalent", why)
        why = sampled_equivalence(thm, b["con"], obj, ctx)
        if dec:                                   # a declaration stands only where the exact network agrees
            if why:
                return Outcome(mutant, "equivalent", f"declared by the theorem: {dec}; and the exact network {why}")
            return Outcome(mutant, "gap", f"declared equivalent by the theorem ({dec}), but the exact network does "
                                          "not agree with the unmutated one on the sampled prompts")
        if why:
            return Outcome(mutant, "sampled", why)
    if what == "claims":
        why = _implied(b, read, obj)
        if why:
            return Outcome(mutant, "implied", why)
    if what == "claims" and dec:                  # nothing can check a formula declaration: it stands as a gap
        return Outcome(mutant, "gap", f"declared equivalent by the theorem ({dec}), but a declaration about a "
                                      "formula cannot be checked, so it is not taken")
    if undecided:
        return Outcome(mutant, "undecided", "no deciding check refutes it, and one no longer decides: "
                                            + "; ".join(undecided))
    if what == "claims":
        masked = _masked_at(mutant, b, obj)       # a formula that a claim already refutes: its verdict cannot show
    elif mutant.target not in scored_targets(thm):
        masked = _masking_failure(b["evidence"]) or _masked_at(mutant, b, None)
    else:
        masked = None                             # a scored target verifies unmutated: nothing to hide behind
    if masked:
        return Outcome(mutant, "masked", f"the unmutated run already fails ({masked}); every check stops at its "
                                         "first failure, so a change past it cannot show")
    return Outcome(mutant, "gap", "no check reads this formula's change" if what == "claims" else
                   "the network changes but no check notices")


def _implied(b: dict, read, formula) -> str | None:
    """A formula mutant that only loosens an 'at most' claim (a layer count or a width bound raised, for every
    size) states something the original implies: no sound check can refute it.  The argument, or None."""
    from .kinds import LayerCount, Width
    old, new, _ = formula
    for _, j in read:
        spec = b["claims"][j].spec
        if isinstance(spec, LayerCount) and not spec.equal and spec.bound is old:
            size = "k >= 0"
        elif isinstance(spec, Width) and not spec.equal and spec.exact is old:
            size = "d >= 1"
        else:
            return None
        gap = sp.expand(new - old)
        syms = sorted(gap.free_symbols, key=str)
        coeffs = sp.Poly(gap, *syms).coeffs() if syms else [gap]
        if gap == 0 or not all(c.is_number and c >= 0 for c in coeffs):
            return None
    return (f"implied by the stated claim: the mutated bound is looser for every size ({size}), so the check "
            "verifies it as it must; counted neither way")


def _location(e) -> str:
    """Where a refutation is located (stage, layer, token kind, block, iteration): what a moved failure changes;
    its wording and printed coefficients may change without it (an echo of the mutated weight)."""
    w = (e.data or {}).get("where") or {}
    return ", ".join(f"{k} {w[k]}" for k in ("stage", "layer", "kind", "block", "iteration") if w.get(k) is not None)


def _first_line(text) -> str:
    t = str(text or "").strip().split("\n")[0]
    return t if len(t) <= 160 else t[:157] + "..."


def _reads(claim, formula) -> bool:
    """Whether the claim's spec holds this formula object."""
    found: list = []
    _walk(claim.spec, "", found, set())
    return any(x is formula for _, x in found)


def _masked_at(mutant: Mutant, b: dict, formula) -> str | None:
    """A change behind a failure the unmutated run already reports: a formula that every deciding claim reading
    it already refutes (an erratum stays an erratum), or a layer whose own statement claim is already refuted
    (the located failure stays the first)."""
    import re
    ev, claims = b["evidence"], b["claims"]
    if formula is not None:
        readers = [(c, e) for i, (c, e) in enumerate(zip(claims, ev))
                   if b["fingerprint"][i][1] is not None and _reads(c, formula[0])]
        if readers and all(e.verdict == "refuted" for _, e in readers):
            return "; ".join(f"claim '{c.name}' is refuted before this formula is changed" for c, e in readers)
        return None
    name = mutant.layer
    if not name:
        return None
    for e in ev:
        w = str((e.data.get("where") or {}).get("layer", ""))
        if e.statement and e.verdict in ("refuted", "inconclusive") and \
                re.search(rf"(^|[ ,]){re.escape(name)}($|[ ,(;])", w):
            return f"claim '{e.claim}' is {e.verdict} at layer {name}"
    return None


NETWORK_KINDS = ("induction", "composition", "certified", "layer_maps")


def _masking_failure(evidence) -> str | None:
    """Where the unmutated run already fails, when it has statement claims that read the network and every one
    of them fails (no such claims: nothing is masked)."""
    net = [e for e in evidence if e.statement and e.data.get("kind") in NETWORK_KINDS]
    if net and all(e.verdict in ("refuted", "inconclusive") for e in net):
        w = next((e.data.get("where") for e in net if e.data.get("where")), {}) or {}
        return "at " + ", ".join(f"{k} {w[k]}" for k in ("stage", "layer", "block") if w.get(k)) if w else "refuted"
    return None


def _distinct_names(claims, what: str) -> None:
    seen = set()
    for c in claims:
        if c.name in seen:
            from .check import UsageError
            raise UsageError(f"{what} has two claims named {c.name!r}: a mutant's claims are paired with the "
                             "unmutated ones by name, so names must be distinct")
        seen.add(c.name)


def baseline(thm, ctx, variant=None) -> dict:
    out = {}
    for v in thm.variants:
        if variant and v.name != variant:
            continue
        con = v.build()
        claims, alg = _variant_claims(v, con)
        _distinct_names(claims, f"variant {v.name}")
        ev = run_claims(thm, ctx, claims, con, alg)
        out[v.name] = {"con": con, "claims": claims, "alg": alg, "evidence": ev, "fingerprint": fingerprint(ev)}
    if variant is None:
        claims = thm.claims()
        _distinct_names(claims, f"theorem {thm.id}")
        ev = run_claims(thm, ctx, claims)
        out[""] = {"claims": claims, "alg": None, "evidence": ev, "fingerprint": fingerprint(ev, theorem_level=True)}
    return out


def _canon(x, seen=None):
    """A deterministic description of a construction or a claim's spec, for the digest: dataclasses field by
    field, sympy expressions as text, a function by its name, its source text (a changed formula in a lambda
    changes it) and what it closes over, other objects by their type."""
    import inspect
    import types
    seen = set() if seen is None else seen
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    if isinstance(x, sp.Basic):
        return str(x)
    if isinstance(x, (types.FunctionType, types.MethodType)):
        f = getattr(x, "__func__", x)
        if id(f) in seen:
            return ["fn", f.__qualname__]
        seen.add(id(f))
        try:
            src = inspect.getsource(f)          # its source text: the same on every Python version
        except (OSError, TypeError):
            src = ""
        cells = [_canon(c.cell_contents, seen) for c in (f.__closure__ or ()) if _cell_ok(c)]
        defaults = [_canon(v, seen) for v in (f.__defaults__ or ())]
        return ["fn", f.__qualname__, src, defaults, cells]
    if id(x) in seen:
        return "<seen>"
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        seen.add(id(x))
        return [type(x).__name__, {f.name: _canon(getattr(x, f.name), seen) for f in dataclasses.fields(x)
                                   if not _unset_late_field(x, f)}]
    if isinstance(x, (tuple, list)):
        return [_canon(v, seen) for v in x]
    if isinstance(x, dict):
        return sorted(([str(k), _canon(v, seen)] for k, v in x.items()), key=lambda kv: kv[0])
    if isinstance(x, (set, frozenset)):
        return sorted(str(_canon(v, seen)) for v in x)
    return type(x).__name__                 # an algebra, a backend: state, not declaration


def _unset_late_field(x, f) -> bool:
    """A field added after records were taken (declared with metadata {"digest": "when-set"}) enters the
    digest only when it holds something other than its default: its addition leaves the digest of every
    declaration that does not use it as it was, and one that uses it gets a new digest."""
    if f.metadata.get("digest") != "when-set":
        return False
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        return False
    return getattr(x, f.name) == default


def _cell_ok(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def digest(thm) -> str:
    """What a score is taken over, in 16 hex digits: the basis, the preset, the declared equivalents, every
    target's constructions and claims (name, kind, whether it decides, and the spec itself) and every mutant
    (target, family, site, mode).  A record whose digest is not the theorem's present one is stale: the
    theorem changed since it was recorded."""
    import hashlib
    from symbolic.templates import Algebra
    from .golden import preset
    base = {}
    rows: list = [list(thm.basis), _canon(preset(thm)), _canon(declared(thm))]
    for v in thm.variants:
        con = v.build()
        claims = v.claims(con, Algebra())
        base[v.name] = {"claims": claims}
        rows.append([v.name, _canon(con), [(c.name, c.kind, c.statement, c.erratum, _canon(c.spec)) for c in claims]])
    base[""] = {"claims": thm.claims()}
    rows.append(["", [(c.name, c.kind, c.statement, c.erratum, _canon(c.spec)) for c in base[""]["claims"]]])
    rows.append([(m.target, m.family, m.where, m.mode) for m, _ in mutants(thm, base)])
    return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()[:16]


def no_score_reason(thm, base: dict) -> str | None:
    """Why no score can be given: a scored target that does not verify unmutated (its mutants would be
    compared with a failure; among the theorem's own claims, an erratum claim that does not decide), or no
    scored target in the run at all."""
    targets = [t for t in scored_targets(thm) if t in base]
    if not targets:
        return "no variant of the basis is in this run (its mutants are reported apart)"
    for t in targets:
        bad = [e for e in base[t]["evidence"] if (e.statement and e.verdict != "verified")
               or (decides(e, t == "") and e.verdict in ("inconclusive", "error"))]
        if bad:
            what = f"basis variant {t}" if t else "the theorem's own claims"
            return (f"{what} does not verify unmutated at the preset: "
                    + "; ".join(f"claim '{e.claim}' is {e.verdict}" for e in bad))
    return None


STATUSES = ("caught", "equivalent", "implied", "sampled", "undecided", "gap", "masked", "supporting", "crash",
            "invalid")


def score(outcomes, scored=None, reason: str | None = None) -> dict:
    """Counts over the scored targets (all, when ``scored`` is None), the others' counts apart, and the score
    caught / (caught + gaps): None, with ``no_score_reason``, when ``reason`` says the baseline cannot carry
    one or when no mutant was judged."""
    inside = [o for o in outcomes if scored is None or o.mutant.target in scored]
    count = {s: sum(o.status == s for o in inside) for s in STATUSES}
    apart: dict = {}
    for o in outcomes:
        if scored is not None and o.mutant.target not in scored:
            row = apart.setdefault(o.mutant.target or "theorem", {s: 0 for s in STATUSES})
            row[o.status] += 1
    judged = count["caught"] + count["gap"]
    if reason is None and count["crash"]:
        reason = f"{count['crash']} mutants crashed a check (a fault of the tool: see the CRASH lines)"
    if reason is None and not judged:
        reason = "no non-equivalent mutant among the scored ones"
    return {**count, "total": len(outcomes), "scored_total": len(inside),
            "scored": [t or "theorem" for t in scored] if scored is not None else None,
            "score": None if reason else count["caught"] / judged, "no_score_reason": reason, "apart": apart}


def mutate(theorem, variant: str | None = None, families=None, progress=None, limit: int | None = None,
           distribute: str | None = None, tool: dict | None = None) -> dict:
    """Run every mutant of a theorem; returns the summary (score, counts, survivors, crashes).  ``tool``: the
    version and commit to record (default: read now)."""
    from .registry import get
    thm = get(theorem)
    ctx = context(thm)
    t0 = time.perf_counter()
    base = baseline(thm, ctx, variant)
    todo = [(m, mk) for m, mk in mutants(thm, base, variant) if not families or m.family in families]
    if limit is not None:
        todo = todo[:limit]
    outcomes = []
    if distribute:
        from .distribute import map_tasks
        if not isinstance(theorem, str):
            raise ValueError("a distributed run names its theorem (an id or a module path), so workers can import it")
        fam = tuple(families) if families else None
        keys = [(theorem, variant, fam, i) for i in range(len(todo))]
        results = map_tasks(_remote_mutant, keys, distribute, progress=progress)
        outcomes = [Outcome(m, **r) for (m, _), r in zip(todo, results)]
    else:
        for i, (m, mk) in enumerate(todo):
            if progress:
                progress(f"mutant {i + 1}/{len(todo)}: {m.label}")
            outcomes.append(evaluate(thm, ctx, m, mk, base))
    s = score(outcomes, tuple(t for t in scored_targets(thm) if t in base), no_score_reason(thm, base))
    from .check import _tool_version
    tool = tool or _tool_version()
    return {"theorem": thm.id, "variant": variant or "all", "preset": {k: getattr(ctx, k) for k in ("k", "d", "n", "seed")},
            "digest": digest(thm),
            **s, "target": TARGET, "seconds": round(time.perf_counter() - t0, 1),
            "tool": f"icl-theorems {tool.get('version')}" + (f", commit {tool['commit']}" if tool.get("commit") else ""),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "outcomes": [o.to_json() for o in outcomes]}


_REMOTE: dict = {}


def _remote_mutant(key) -> dict:
    """One mutant on a worker (Dask): the theorem is re-imported there and its baseline computed once."""
    ref, variant, families, i = key
    from .registry import get
    if (ref, variant, families) not in _REMOTE:
        thm = get(ref)
        ctx = context(thm)
        base = baseline(thm, ctx, variant)
        todo = [(m, mk) for m, mk in mutants(thm, base, variant) if not families or m.family in families]
        _REMOTE[(ref, variant, families)] = (thm, ctx, base, todo)
    thm, ctx, base, todo = _REMOTE[(ref, variant, families)]
    m, mk = todo[i]
    o = evaluate(thm, ctx, m, mk, base)
    return {"status": o.status, "reason": o.reason, "seconds": o.seconds}


# ---------------------------------------------------------------- recorded scores (shown in the index)
def record_path(theorem_id: str, directory: str | None = None) -> str:
    return os.path.join(directory or RESULTS_DIR, f"{theorem_id}.json")


def load_record(theorem_id: str, directory: str | None = None) -> dict | None:
    p = record_path(theorem_id, directory)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def _counts(c: dict) -> str:
    parts = [f"{c[s]} {s}" for s in ("caught", "gap", "masked", "equivalent", "implied", "sampled", "undecided",
                                                 "supporting", "crash", "invalid") if c[s]]
    return ", ".join(parts) or "none"


def summary_line(s: dict) -> str:
    sampled = s.get("sampled", 0)
    if s["score"] is None:
        head = f"{s['theorem']}: soundness score n/a ({s.get('no_score_reason') or 'no mutant judged'})"
    else:
        head = (f"{s['theorem']}: soundness score {100 * s['score']:.1f}% ({s['caught']} caught of "
                f"{s['caught'] + s['gap']} non-equivalent mutants")
        if s.get("scored"):
            head += " of " + ", ".join(s["scored"])
        head += ")"
    line = (f"{head}; {s['equivalent']} equivalent, {sampled} agreeing on sampled prompts only (counted neither way), "
            + (f"{s['undecided']} undecided (a check turned inconclusive, none refuted), " if s.get("undecided") else "")
            + (f"{s['implied']} implied (a looser 'at most' bound), " if s.get("implied") else "")
            + (f"{s['masked']} formulas an erratum already refutes, " if s.get("masked") else "")
            + (f"{s['supporting']} formulas only supporting claims read, " if s.get("supporting") else "")
            + f"{s['crash']} crashes, {s['invalid']} ill-formed")
    apart = s.get("apart") or {}
    if apart:
        line += "; apart (not in the basis): " + "; ".join(f"{t}: {_counts(c)}" for t, c in apart.items())
    return line + f"; {s['total']} mutants in {s['seconds']} s"


def main(argv=None) -> int:
    from .check import UsageError, save_traceback
    from .registry import MODULES, first_problem, get, is_catalogue
    p = argparse.ArgumentParser(prog="python -m theorems.mutate", description=__doc__.split("\n\n")[0])
    p.add_argument("theorems", nargs="*", help="theorem ids or module paths")
    p.add_argument("--all", action="store_true", help="every theorem of the catalogue")
    p.add_argument("--variant", help="mutate one variant alone")
    p.add_argument("--family", action="append", choices=("weight", "structure", "formula"),
                   help="only this family of mutants (repeatable)")
    p.add_argument("--limit", type=int, help="only the first N mutants (a quick look)")
    p.add_argument("--target", type=float, default=TARGET, help=f"the score to meet (default {TARGET})")
    p.add_argument("--json", help="write the full result (every mutant) to this file")
    p.add_argument("--record", action="store_true",
                   help=f"store the full result of a complete run under {os.path.relpath(RESULTS_DIR)}/ (the index "
                        "shows it; catalogue theorems only) or under --dir")
    p.add_argument("--dir", help="with --record: the folder to store the results in (needed for a theorem of your own)")
    p.add_argument("--dask", metavar="ADDRESS", help="run the mutants on a Dask cluster: a scheduler address, or "
                                                     "local:N for a local cluster of N workers")
    p.add_argument("--quiet", action="store_true", help="print only the score lines")
    try:
        a = p.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    ids = list(MODULES) if a.all else a.theorems
    if not ids:
        print("error: name a theorem (or --all)", file=sys.stderr)
        return 2
    problem = first_problem(ids)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if a.limit is not None and a.limit < 1:
        print(f"error: --limit takes a positive number of mutants, got {a.limit}", file=sys.stderr)
        return 2
    if not 0 < a.target <= 1:
        print(f"error: --target is a fraction in (0, 1], got {a.target}", file=sys.stderr)
        return 2
    if a.record and (a.variant or a.family or a.limit is not None):
        print("error: --record stores complete runs only: drop --variant, --family and --limit", file=sys.stderr)
        return 2
    if a.dir and not a.record:
        print("error: --dir is where --record stores results: give --record too", file=sys.stderr)
        return 2
    if a.record and not a.dir:
        own = [t for t in ids if not is_catalogue(get(t))]
        if own:
            print(f"error: {own[0]} is not a catalogue theorem: its record goes under --dir DIR, not into the "
                  "package's theorems/mutation/", file=sys.stderr)
            return 2
    codes, results = [], []
    from .check import _tool_version
    tool = _tool_version()          # before --record rewrites the shipped records (the tree would read as changed)
    try:
        for t in ids:
            progress = None if a.quiet else (lambda msg: print(f"  {msg}", file=sys.stderr, flush=True))
            from .distribute import ClusterError
            try:
                r = mutate(t, a.variant, a.family, progress, a.limit, a.dask, tool=tool)
            except (UsageError, ClusterError) as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
            results.append(r)
            if not a.quiet:
                for o in r["outcomes"]:
                    if o["status"] in ("gap", "crash"):
                        print(f"  {o['status'].upper()}: {o['target']}: {o['where']}: {o['mode']}: {o['reason']}")
                    elif o["status"] in ("equivalent", "sampled"):
                        print(f"  {o['status']}: {o['target']}: {o['where']}: {o['mode']}: {o['reason']}")
            print(summary_line(r))
            crashes = r["crash"] + sum(c["crash"] for c in (r.get("apart") or {}).values())
            if a.record and crashes:
                print(f"not recorded: {crashes} mutants of {r['theorem']} crashed a check", file=sys.stderr)
            elif a.record:
                d = a.dir or RESULTS_DIR
                os.makedirs(d, exist_ok=True)
                rr = dict(r, command="python -m theorems.mutate " + " ".join(argv if argv is not None else sys.argv[1:]))
                with open(record_path(r["theorem"], d), "w") as f:
                    json.dump(rr, f, indent=1)
            if crashes:
                print(f"internal error: {crashes} mutants of {r['theorem']} crashed a check (the CRASH lines, and "
                      "the traceback files they name)", file=sys.stderr)
            codes.append(4 if crashes else 3 if r["score"] is None else 0 if r["score"] >= a.target else 1)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(results if len(results) > 1 else results[0], f, indent=1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        path = save_traceback("mutate")
        print(f"internal error: {type(e).__name__}: {e}; the traceback is in {path}", file=sys.stderr)
        return 4
    return next((c for c in (4, 1, 3) if c in codes), 0)


if __name__ == "__main__":
    sys.exit(main())
