"""Lemmas over templates and the induction that assembles them.

``layer_maps``  : layers L map template A to template B (for all d, n).
``induction``   : base (input -> invariant(T0)), step (invariant(T) ->
                  invariant(f(T)) with f = the recursion), readout
                  (invariant(T) -> prediction): together, for all k.
Failures carry where (layer, token kind, block) and the first differing term;
the caller asks the exact evaluator for a concrete counterexample.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import sympy as sp

from .layers import Construction, Layer
from .mathtext import math_text, value_text
from .ncalg import Poly
from .templates import Algebra, Evaluator, LemmaFailure, Template, input_template


@dataclass
class Outcome:
    verdict: str            # verified | refuted | inconclusive
    method: str
    detail: str
    data: dict = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    where: dict = field(default_factory=dict)   # layer, kind, block, term: for localised messages


@dataclass
class Mismatch:
    kind: str
    block: str
    term: str
    got: object
    want: object

    def text(self) -> str:
        return (f"token kind '{self.kind}', block '{self.block}': first differing term {self.term}: "
                f"coefficient {math_text(self.got)} derived, {math_text(self.want)} claimed")


def select_layers(con: Construction, specs) -> list[Layer]:
    byname = {L.name: L for L in (*con.init, *con.step, *con.readout)}
    out = []
    for s in specs:
        if isinstance(s, tuple):
            name, i = s
            L = byname[name]
            out.append(replace(L, name=f"{name} (sub-op {i + 1}: {L.ops[i].kind})", ops=(L.ops[i],)))
        else:
            out.append(byname[s])
    return out


def compare(got: Template, want: Template, alg: Algebra, symmetric: bool) -> Mismatch | None:
    kinds = sorted(set(got.kinds) | set(want.kinds))
    for k in kinds:
        blocks = list(dict.fromkeys([*want.kinds.get(k, {}), *got.kinds.get(k, {})]))
        for b in blocks:
            g, w = got.get(k, b, alg), want.get(k, b, alg)
            if symmetric:
                g, w = alg.assume_symmetric(g), alg.assume_symmetric(w)
            diff = g.first_difference(w)
            if diff:
                return Mismatch(k, b, *diff)
    return None


def borrowed_assumptions(layers) -> list[str]:
    out = []
    for L in layers:
        for p in L.primitives():
            txt = (f"layer {L.name}: {p.kind} evaluated with its ideal semantics ({p.source}"
                   + ("" if p.exact_in_source else "; approximate in the source") + ")")
            out.append(txt)
    return out


def apply_all(ev: Evaluator, layers, tpl: Template) -> Template:
    for L in layers:
        tpl = ev.apply_layer(L, tpl)
    return tpl


def layer_maps(con: Construction, alg: Algebra, layer_specs, tin: Template, tout: Template,
               symmetric: bool = False) -> Outcome:
    order = [L.name for L in (*con.init, *con.step, *con.readout)]
    named_as = [s[0] if isinstance(s, tuple) else s for s in layer_specs]     # (name, op) or a name
    missing = [s for s in named_as if s not in order]
    if missing:
        return Outcome("refuted", "symbolic (all d, n)",
                       f"the claim is about layer {', '.join(missing)}, which the construction does not have",
                       where={"layer": ", ".join(missing), "reason": "layer missing"})
    layers = select_layers(con, layer_specs)
    names = ", ".join(L.name for L in layers)
    pos = [(order.index(name), sp_[1] if isinstance(sp_, tuple) else -1) for name, sp_ in zip(named_as, layer_specs)]
    named = list(dict.fromkeys(p[0] for p in pos))
    if pos != sorted(pos) or named != list(range(named[0], named[0] + len(named))):
        lo, hi = min(named), max(named)
        got = order[lo:hi + 1]
        return Outcome("refuted", "symbolic (all d, n)",
                       f"the claim applies layers {names} one after another, but the construction applies "
                       f"{', '.join(got)} there", where={"layer": names, "reason": "layer order"})
    ev = Evaluator(con, alg, symmetric=symmetric)
    assumptions = borrowed_assumptions(layers) + (["T symmetric (T' = T)"] if symmetric else [])
    try:
        from .templates import check_template_shapes
        check_template_shapes(con, alg, tin, "the input template")
        check_template_shapes(con, alg, tout, "the claimed output template")
        got = apply_all(ev, layers, tin)
    except LemmaFailure as e:
        return Outcome("inconclusive", "symbolic (all d, n)", f"{e.where}: {e}", assumptions=assumptions,
                       where={"layer": names, "reason": str(e), "same_values": e.info.get("same_values")})
    mm = compare(got, tout, alg, symmetric)
    if mm is None:
        return Outcome("verified", "symbolic (all d, n)",
                       f"layers {names} map the stated template to the stated output, for all d and n",
                       assumptions=assumptions)
    return Outcome("inconclusive", "symbolic (all d, n)", f"layers {names}: {mm.text()}", assumptions=assumptions,
                   where={"layer": names, "kind": mm.kind, "block": mm.block, "term": mm.term})


def induction(con: Construction, alg: Algebra, rec) -> Outcome:
    """Base, step and readout lemmas for the recursion ``rec`` (see
    numeric.checks.Recursion: start, step, readout, invariant, carrier, state);
    verified means: for every k >= 0 and all sizes the network's prediction
    equals readout(T_k) with T_0 = start(), T_{j+1} = step(T_j, P)."""
    lemmas: list[dict] = []
    inv = lambda T: Template(rec.invariant(T))
    symmetric = rec.symmetric
    assumptions = borrowed_assumptions((*con.init, *con.step, *con.readout))
    untied = [L.name for L in con.letters if L.untied]
    if untied:
        assumptions.append(f"the step lemma holds for an arbitrary value of {', '.join(untied)}, so each "
                           "iteration may carry its own (untied weights)")

    def fail(stage, e_or_mm, layers):
        if isinstance(e_or_mm, LemmaFailure):
            where = {"stage": stage, "layer": e_or_mm.where, "reason": str(e_or_mm)}
            msg = f"{stage} lemma: {e_or_mm.where}: {e_or_mm}"
        elif isinstance(e_or_mm, Mismatch):
            where = {"stage": stage, "layer": layers, "kind": e_or_mm.kind, "block": e_or_mm.block,
                     "term": e_or_mm.term}
            msg = f"{stage} lemma, after layers {layers}: {e_or_mm.text()}"
        else:
            where, msg = {"stage": stage, "layer": layers}, f"{stage} lemma: {e_or_mm}"
        lemmas.append({"lemma": stage, "status": "failed", "detail": msg})
        return Outcome("inconclusive", "symbolic induction (all d, n, k)", msg,
                       data={"lemmas": lemmas}, assumptions=assumptions, where=where)

    names = lambda Ls: ", ".join(L.name for L in Ls) or "(none)"
    kind, block, letter, side = rec.carrier[:4]
    form = f"F {letter}" if side == "right" else f"{letter}' F"

    def derive(stage, layers, tpl, sym):
        """Apply layers, read the state off the carrier block, check the whole
        template is invariant(state).  Returns (state, None) or (None, failure)."""
        try:
            R = apply_all(Evaluator(con, alg, symmetric=sym), layers, tpl)
        except LemmaFailure as e:
            return None, fail(stage, e, names(layers))
        if sym:
            R = Template({k: {b: alg.assume_symmetric(p) for b, p in v.items()} for k, v in R.kinds.items()})
        F = rec.read(R)
        if F is None:
            return None, fail(stage, f"block {block} of kind {kind} is not of the form {form}: "
                                     f"{R.get(kind, block, alg)}", names(layers))
        mm = compare(R, inv(F), alg, sym)
        return (None, fail(stage, mm, names(layers))) if mm else (F, None)

    sname = rec.state[0]
    Evaluator(con, alg)            # registers the construction's matrix letters in the algebra
    try:
        T = rec.letter
    except ValueError as e:
        return fail("setup", str(e), "(none)")
    P = rec.operands()
    # an untied letter may appear in the step only: step l + 1 reads what step l wrote, which holds the value
    # of iteration l, so a letter in the invariant (or the start, or the readout) would be read at the wrong one
    untied_names = {L.name for L in con.letters if L.untied} | {L.name + "'" for L in con.letters if L.untied}
    outside = {"invariant": set().union(*(p.letters() for v in rec.invariant(T).values() for p in v.values())),
               "start": rec.start().letters(),
               "readout": rec.readout(T).letters() if rec.readout is not None else set()}
    for part, lets in outside.items():
        bad = sorted(lets & untied_names)
        if bad:
            return fail("setup", f"the untied letter(s) {', '.join(bad)} appear in the recursion's {part}; a "
                                 "step lemma for one arbitrary value does not make the induction hold when "
                                 "each iteration has its own", "(none)")
    from .templates import check_template_shapes
    try:
        check_template_shapes(con, alg, inv(T), "the invariant")
    except LemmaFailure as e:
        return fail("setup", e, "(none)")
    # base
    F0, bad = derive("base", con.init, input_template(con, alg), False)
    if bad:
        return bad
    want0 = rec.start()
    d0 = F0.first_difference(want0)
    if d0:
        return fail("base", f"{sname}_0 = {F0} but the recursion starts at {want0}: first differing term {d0[0]}",
                    names(con.init))
    if symmetric and not (F0.T - F0).is_zero():
        return fail("base", f"{sname}_0 = {F0} is not symmetric", names(con.init))
    lemmas.append({"lemma": "base", "status": "proved",
                   "detail": f"layers {names(con.init)}: input -> invariant with {sname}_0 = {F0}",
                   "latex": f"{sname}_0 = {F0.latex()}"})
    # step
    F, bad = derive("step", con.step, inv(T), symmetric)
    if bad:
        return bad
    target = rec.step(T, P)
    ds = F.first_difference(target)
    if ds:
        return fail("step", f"f({sname}) = {F} but the recursion is {target}: first differing term {ds[0]} "
                            f"(coefficient {math_text(ds[1])} vs {math_text(ds[2])})", names(con.step))
    if symmetric and not alg.assume_symmetric(F.T - F).is_zero():
        return fail("step", f"f({sname}) = {F} is not symmetric when {sname} is", names(con.step))
    lemmas.append({"lemma": "step", "status": "proved",
                   "detail": f"layers {names(con.step)}: invariant({sname}) -> invariant(f({sname})), f({sname}) = {F}"
                             + (f" ({sname} symmetric; f({sname}) symmetric again)" if symmetric else ""),
                   "latex": f"f({sname}) = {F.latex()}"})
    def proved(conclusion: str, lemmas_done: str, sizes: str) -> Outcome:
        lemmas.append({"lemma": "induction", "status": "proved",
                       "detail": f"{sname}_0 is the recursion's start and {sname}_(j+1) = f({sname}_j) with f = the "
                                 f"recursion's step, so {conclusion}"})
        return Outcome("verified", f"symbolic induction (all {sizes})",
                       f"{lemmas_done} proved as identities over noncommutative matrix symbols; the induction gives "
                       f"the {'claimed hidden state after' if rec.readout is None else 'prediction for'} every k",
                       data={"lemmas": lemmas}, assumptions=assumptions)

    if rec.readout is None:          # the claim is the hidden state itself (a matrix the tokens hold)
        return proved(f"after k steps the hidden state is invariant({sname}_k) for every k.", "base and step lemmas",
                      "d, k")
    # readout
    try:
        RR = apply_all(Evaluator(con, alg, symmetric=symmetric), con.readout, inv(T))
    except LemmaFailure as e:
        return fail("readout", e, names(con.readout))
    pred = RR.get(con.output[0], con.output[1], alg)
    want = rec.readout(T)
    if symmetric:
        pred, want = alg.assume_symmetric(pred), alg.assume_symmetric(want)
    dr = pred.first_difference(want)
    if dr:
        return fail("readout", f"prediction {pred} but the claim is {want}: first differing term {dr[0]}",
                    names(con.readout))
    lemmas.append({"lemma": "readout", "status": "proved",
                   "detail": f"layers {names(con.readout)}: invariant({sname}) -> prediction {pred}",
                   "latex": f"\\hat y = {pred.latex()}"})
    return proved(f"{sname}_k is the k-th iterate for every k; the readout then gives the claimed prediction.",
                  "base, step and readout lemmas", "d, n, k")


def layer_count(con: Construction, bound: sp.Expr, equal: bool = False) -> Outcome:
    """The construction's layer count against the stated ``bound``: at most it (fewer layers pad with identity
    layers), or with ``equal`` exactly it (a construction built to the stated count)."""
    k = sp.Symbol("k")
    count = con.n_layers(k)
    gap = sp.expand(bound - count)
    data = {"layers": str(count), "bound": str(bound), "equal": equal,
            "init": len(con.init), "per_iteration": len(con.step), "readout": len(con.readout)}
    layers = lambda c: f"{math_text(c)} layer{'' if c == 1 else 's'}"
    if gap == 0:
        parts = [(str(len(con.init)) if con.init else ""), math_text(len(con.step) * k),
                 (str(len(con.readout)) if con.readout else "")]
        split, total = " + ".join(p for p in parts if p and p != "0") or "0", math_text(count)
        return Outcome("verified", "count (all k)", f"{split} = {total}" if split != total else layers(count), data)
    if equal:
        return Outcome("refuted", "count (all k)", f"the construction has {layers(count)}, not exactly the "
                                                   f"stated {math_text(bound)}", data)
    if gap.is_number and gap > 0 and sp.degree(count, k) <= 1 and count.coeff(k) == bound.coeff(k):
        return Outcome("verified", "count (all k)",
                       f"{layers(count)}, {math_text(gap)} fewer than {math_text(bound)} (identity layers "
                       f"pad to {math_text(bound)})", data)
    return Outcome("refuted", "count (all k)", f"the construction has {layers(count)}, not {math_text(bound)}", data)


def width(con: Construction, dsym, exact=None, equal: bool = False) -> Outcome:
    """The hidden width is linear in ``dsym``; with ``exact``, at most that expression for every size
    (compared coefficient by coefficient: both are linear in the size), or with ``equal`` exactly it."""
    w = con.layout.width
    blocks = ", ".join(f"{b.name}: {math_text(b.size)}" for b in con.layout.blocks)
    wt, st = math_text(w), (math_text(exact) if exact is not None else "")
    data = {"width": str(w), "blocks": {b.name: str(b.size) for b in con.layout.blocks}}
    if exact is None:
        ok = sp.Poly(w, dsym).degree() <= 1
        return Outcome("verified" if ok else "refuted", "exact (all d)", f"width = {wt} ({blocks})", data)
    gap = sp.expand(sp.sympify(exact) - w)
    data["stated"] = str(exact)
    if gap == 0:
        return Outcome("verified", "exact (all d)", f"width = {wt}, as stated ({blocks})", data)
    if equal:
        return Outcome("refuted", "exact (all d)", f"width = {wt}, not exactly the stated {st} ({blocks})", data)
    p = sp.Poly(gap, dsym)
    if p.degree() <= 1:
        a, b = (p.all_coeffs() + [0])[:2] if p.degree() == 1 else (0, p.all_coeffs()[0])
        if a >= 0 and a + b >= 0:          # gap(d) = a d + b >= 0 for every d >= 1
            return Outcome("verified", "exact (all d)", f"width = {wt} <= the stated {st} for every d >= 1 "
                                                        f"({blocks})", data)
    else:
        lead = p.LC()
        roots = [r for r in sp.real_roots(p) if r >= 1] if lead > 0 else None
        if lead > 0 and not roots and gap.subs(dsym, 1) >= 0:
            return Outcome("verified", "exact (all d)", f"width = {wt} <= the stated {st} for every d >= 1 "
                                                        f"({blocks})", data)
    d1 = next((v for v in range(1, 10_000) if gap.subs(dsym, v) < 0), None)
    if d1 is None:
        return Outcome("inconclusive", "exact (all d)", f"width = {wt} against the stated {st}: no d below "
                                                        f"10000 exceeds it, but no proof for all d ({blocks})", data)
    return Outcome("refuted", "exact (all d)", f"width = {wt} exceeds the stated {st} (first at d = {d1}: "
                   f"{math_text(w.subs(dsym, d1))} > {math_text(sp.sympify(exact).subs(dsym, d1))}) ({blocks})", data)


def architecture(con: Construction, max_heads: int, activation: str, normalizer: str, mlp: bool,
                 max_ops: int) -> Outcome:
    """Every layer of the construction is of the stated form; a failure names the first layer that is not."""
    from .layers import Attention, MLP
    heads, problems = [], []
    for stage, layers in (("init", con.init), ("step", con.step), ("readout", con.readout)):
        for L in layers:
            if len(L.ops) > max_ops:
                problems.append(f"layer {L.name} has {len(L.ops)} sub-operations (at most {max_ops} stated)")
            for op in L.ops:
                if isinstance(op, Attention):
                    heads.append(len(op.heads))
                    if len(op.heads) > max_heads:
                        problems.append(f"layer {L.name} has {len(op.heads)} heads (at most {max_heads} stated)")
                    if op.keys is not None or op.queries is not None:
                        problems.append(f"layer {L.name} restricts its keys or queries to token kinds "
                                        f"(keys {op.keys}, queries {op.queries}): a mask, none stated")
                    if op.activation != activation or op.normalizer != normalizer or op.causal:
                        problems.append(f"layer {L.name}: {op.activation} attention, normaliser {op.normalizer}"
                                        f"{', causal' if op.causal else ''} (stated: {activation}, {normalizer})")
                elif isinstance(op, MLP):
                    if not mlp:
                        problems.append(f"layer {L.name} has an MLP (none stated)")
                else:
                    problems.append(f"layer {L.name} uses {op.kind}, not a stated layer type")
    data = {"heads_per_layer": heads, "max_heads": max_heads}
    text = (f"{len(heads)} attention layers with {', '.join(map(str, heads))} heads; {activation} attention, "
            f"normaliser {normalizer}" + (", MLPs allowed" if mlp else ", no MLP"))
    if problems:
        return Outcome("refuted", "structural (all sizes)", f"{problems[0]}" + (f"; {len(problems) - 1} more"
                       if len(problems) > 1 else ""), {**data, "problems": problems})
    return Outcome("verified", "structural (all sizes)", text, data)


def _unroll(start: sp.Expr, step, k: int, var: sp.Symbol) -> sp.Expr:
    M = start
    for _ in range(k):
        M = sp.expand(step(M, var))
    return M


def closed_form(k: int, printed: sp.Expr, start: sp.Expr, step, var: sp.Symbol, params=()) -> Outcome:
    """Compare a printed closed form of the k-th iterate (a polynomial in the
    commuting symbol ``var`` and the parameters) with the recursion
    M_0 = start, M_{j+1} = step(M_j, var), unrolled exactly.  A refutation names
    every coefficient that differs, and the smallest instance (var a square,
    parameters small integers) where the two values differ."""
    M = _unroll(start, step, k, var)
    diff = sp.expand(printed - M)
    gens = (var, *params)
    if diff == 0:
        return Outcome("verified", f"symbolic (all {var})", f"iterate {k} = {math_text(M)}", {"derived": str(M)})
    P, Q = sp.Poly(printed, *gens), sp.Poly(M, *gens)
    monos = sorted(set(P.monoms()) | set(Q.monoms()))
    bad = [m for m in monos if P.coeff_monomial(m) != Q.coeff_monomial(m)]
    mono = lambda m: sp.Mul(*[g**e for g, e in zip(gens, m)])
    terms = [{"term": str(mono(m)), "printed": str(P.coeff_monomial(m)), "derived": str(Q.coeff_monomial(m))}
             for m in bad]
    at = None
    for v in (1, 4, 9, 16):
        for pv in ((1,), (2,), (3,)):
            sub = {var: v, **{p: pv[0] for p in params}}
            if printed.subs(sub) != M.subs(sub):
                at = sub
                break
        if at:
            break
    cx = ""
    if at:
        pvals = ", ".join(f"{math_text(p)} = {math_text(at[p])}" for p in params)
        cx = (f" Counterexample: d = n = 1, X = {value_text([[sp.sqrt(at[var])]])} ({math_text(var)} = "
              f"{math_text(at[var])})" + (f", {pvals}" if pvals else "")
              + f": printed {math_text(printed.subs(at))}, recursion {math_text(M.subs(at))}")
    listing = "; ".join(f"{math_text(mono(m))}: printed {math_text(P.coeff_monomial(m))}, derived "
                        f"{math_text(Q.coeff_monomial(m))}" for m in bad)
    return Outcome("refuted", f"symbolic (all {var})",
                   f"iterate {k} = {math_text(M)} by the recursion; {len(terms)} coefficient(s) differ from the printed "
                   f"formula ({listing}).{cx}",
                   {"derived": str(M), "printed": str(printed), "term": terms[0]["term"], "terms": terms},
                   where={"term": terms[0]["term"]})


def closed_form_degree(kmax: int, start: sp.Expr, step, degree, var: sp.Symbol) -> Outcome:
    """The k-th iterate is a polynomial in ``var`` whose powers run from
    degree(k)[0] to degree(k)[1]: checked exactly for k <= kmax."""
    rows = []
    for k in range(kmax + 1):
        degs = [m[0] for m in sp.Poly(_unroll(start, step, k, var), var).monoms()]
        lo, hi = degree(k)
        rows.append({"k": k, "lowest": min(degs), "degree": max(degs), "claimed": [lo, hi],
                     "odd_only": all(x % 2 for x in degs)})
        if max(degs) != hi or min(degs) < lo:
            return Outcome("refuted", f"exact for k <= {kmax}",
                           f"iterate {k} has powers {var}^{min(degs)} .. {var}^{max(degs)}, claimed {var}^{lo} .. "
                           f"{var}^{hi}", {"rows": rows})
    return Outcome("verified", f"exact for k <= {kmax}",
                   f"for k <= {kmax} the powers of {var} in the iterates run from {var}^{rows[0]['claimed'][0]} up to "
                   f"exactly the claimed degree ({', '.join(str(r['degree']) for r in rows)})", {"rows": rows})


def closed_form_all_k(closed, start, step, var: sp.Symbol, K: sp.Symbol) -> Outcome:
    """The closed form holds for every K >= 0, by induction: closed(0) = start
    and closed(K+1) - step(closed(K)) = 0 as an identity in K (powers q^(K+1)
    are expanded to q q^K).  Exact for iterates that are polynomials in one
    matrix, which ``var`` stands for."""
    base = sp.simplify(sp.sympify(closed(sp.Integer(0))) - sp.sympify(start))
    gap = sp.simplify(sp.expand(sp.powsimp(sp.expand_power_exp(sp.expand(closed(K + 1) - step(closed(K), var))))))
    data = {"derived": str(sp.simplify(closed(K))), "exact": {"base": str(base), "step_gap": str(gap)}}
    if base != 0:
        return Outcome("refuted", "symbolic induction (all K)",
                       f"closed(0) − start = {math_text(base)}, not 0", data)
    if gap != 0:
        # a concrete K where the step fails, for the message
        cx = next((kk for kk in range(0, 6)
                   if sp.simplify((closed(kk + 1) - step(closed(kk), var)).subs(var, 2)) != 0), None)
        return Outcome("refuted" if cx is not None else "inconclusive", "symbolic induction (all K)",
                       f"closed(K+1) − step(closed(K)) = {math_text(gap)}, not 0"
                       + (f"; it fails already at K = {cx} ({math_text(var)} = 2)" if cx is not None else ""), data)
    return Outcome("verified", "symbolic induction (all K)",
                   f"closed(0) = start and closed(K+1) = step(closed(K)) for symbolic K: the closed form "
                   f"{math_text(sp.simplify(closed(K)))} holds for every K", data)
