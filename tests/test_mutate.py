"""The soundness score by mutation: every operator, the caught / equivalent / gap classification, and a
theorem whose checks are too weak scoring below the target."""
import dataclasses
import json
import os
import subprocess
import sys

import pytest
import sympy as sp

from symbolic.perturb import entry_mutations, sites, structure_mutations, with_entries
from theorems import mutate as M

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    sys.path.insert(0, EXAMPLES)
    from theorems.registry import get
    yield get("mytheorems.gd_weight_decay")
    sys.path.remove(EXAMPLES)


def test_every_weight_operator_is_generated(example):
    con = example.variant("weight-decay").build()
    site = next(s for s, (o, i, c) in sites(con) if s.matrix == "W_PV")
    modes = [m for m, _ in entry_mutations(con, site)]
    assert {"zero", "sign", "scale", "transpose"} <= set(modes)
    assert any(m.startswith("swap with entry") for m in modes)
    assert any(m.startswith("constant") for m in modes) or any(m.startswith("parameter") for m in modes)
    for mode, entries in entry_mutations(con, site):
        if mode == "zero":
            assert len(entries) == len([e for s, e in sites(con) if s.op == site.op and s.matrix == "W_PV"]) - 1
    structural = {m for _, m, _, _ in structure_mutations(con)}
    assert {"layer dropped", "layer duplicated", "op dropped", "causal False -> True"} <= structural


def test_a_mutated_entry_changes_only_its_matrix(example):
    con = example.variant("weight-decay").build()
    site = next(s for s, _ in sites(con) if s.matrix == "W_KQ")
    mode, entries = next((m, e) for m, e in entry_mutations(con, site) if m == "sign")
    mut = with_entries(con, site, entries)
    assert mut.step[0].ops[site.op].heads[0].W_KQ.entries[0][2] == -con.step[0].ops[site.op].heads[0].W_KQ.entries[0][2]
    assert mut.step[0].ops[0] == con.step[0].ops[0] and mut.readout == con.readout


def test_formula_mutants_replace_the_recursion_the_claims_read(example):
    from symbolic.templates import Algebra
    v = example.variant("weight-decay")
    claims = v.claims(v.build(), Algebra())
    muts = list(M.formula_mutations(claims))
    rec = claims[0].spec.recursion
    step2 = next(new for where, mode, new, old, same in muts if mode == "the recursion's step doubled")
    new_claims = M._claims_with(claims, rec, step2)
    assert all(c.spec.recursion is step2 for c in new_claims if hasattr(c.spec, "recursion"))
    # a bare size symbol (Width's d) is a name, not a formula; the stated width d + 4 is one
    assert not any(m.startswith("symbol d -> 2d in d:") for _, m, *_ in muts)
    assert any("in d + 4" in m for _, m, *_ in muts)


def test_the_example_scores_at_least_the_target_and_classifies_its_survivors(example):
    r = M.mutate(example)
    assert r["score"] >= M.TARGET, M.summary_line(r)
    assert r["gap"] <= 1 and r["crash"] == 0
    by = {(o["target"], o["where"], o["mode"]): o for o in r["outcomes"]}
    # the read-out writes only the query: toggling the context tokens in its queries changes no prediction, proved
    eq = by[("weight-decay", "layer R op 1 (mlp)", "queries: ctx toggled")]
    assert eq["status"] == "equivalent" and "proved symbolically" in eq["reason"]
    # the step's attention is the GD step: flipping its sign is caught by the induction first
    caught = next(o for o in r["outcomes"] if o["target"] == "weight-decay" and o["where"].startswith("layer GD-wd op 2")
                  and o["mode"] == "sign")
    assert caught["status"] == "caught" and "k layers = k steps" in caught["reason"]
    assert r["invalid"] >= 1           # a transposed MLP entry between blocks of different sizes: ill-formed


def _with_claims(example, claims, name="weak"):
    """The example with its basis variant's claims replaced (the deliberately wrong variant kept, apart)."""
    weak_v = dataclasses.replace(example.variant("weight-decay"), claims=claims)
    return dataclasses.replace(example, id=name, variants=(weak_v, example.variant("decay-after-update")),
                               basis=(weak_v.name,))


def test_weak_checks_leave_gaps_and_miss_the_target(example):
    """A theorem whose only claim is its width cannot see a wrong weight: the score says so."""
    from theorems.kinds import Width
    from theorems.api import Claim, d
    weak = _with_claims(example, lambda con, alg: [Claim("hidden width", "-", "d + 4", Width(d, exact=d + 4))])
    r = M.mutate(weak, variant="weight-decay", families=("weight",))
    assert r["gap"] > 0 and r["score"] < M.TARGET
    assert all(o["status"] in ("gap", "equivalent", "sampled", "invalid") for o in r["outcomes"])


def test_a_supporting_claim_catches_nothing(example):
    """The float64 batch decides no verdict: a wrong weight only it notices is a gap, not a catch."""
    from theorems.kinds import Float64Batch, Width
    from theorems.api import Claim, d
    from mytheorems.gd_weight_decay import recursion
    weak = _with_claims(example, lambda con, alg: [
        Claim("hidden width", "-", "d + 4", Width(d, exact=d + 4)),
        Claim("float64 on a batch of prompts", "-", "float64", Float64Batch(recursion(alg), 8),
              statement=False)])
    r = M.mutate(weak, variant="weight-decay", families=("weight",))
    assert r["caught"] == 0 and r["gap"] > 0 and r["score"] == 0.0, M.summary_line(r)


def test_a_strong_ablation_does_not_lift_a_weak_basis(example):
    """The wrong variant keeps its strong claims, the basis only a width claim: the score is the basis's, and the
    ablation's catches are reported apart."""
    from theorems.kinds import Width
    from theorems.api import Claim, d
    weak = _with_claims(example, lambda con, alg: [Claim("hidden width", "-", "d + 4", Width(d, exact=d + 4))])
    r = M.mutate(weak, families=("weight",))
    assert r["score"] < 0.5, M.summary_line(r)
    assert r["scored"] == ["weight-decay", "theorem"]
    assert r["apart"]["decay-after-update"]["caught"] > 0
    assert r["caught"] + r["gap"] + r["equivalent"] + r["sampled"] + r["invalid"] + r["masked"] + r["crash"] \
        == r["scored_total"] < r["total"]


def test_a_refuted_basis_gives_no_score_and_exit_3(example, tmp_path):
    """Mutants of a baseline that already fails show nothing: no score, the reason named, exit code 3."""
    wrong = dataclasses.replace(example, id="wrong_basis", basis=("decay-after-update",))
    r = M.mutate(wrong, families=("structure",), limit=3)
    assert r["score"] is None
    assert "basis variant decay-after-update does not verify" in r["no_score_reason"]
    assert "soundness score n/a (basis variant decay-after-update" in M.summary_line(r)
    mod = tmp_path / "wrongbasis.py"
    mod.write_text("import dataclasses\nfrom mytheorems.gd_weight_decay import THEOREM as T\n"
                   "THEOREM = dataclasses.replace(T, id='wrong_basis', basis=('decay-after-update',))\n")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([EXAMPLES, str(tmp_path)]))
    p = subprocess.run([sys.executable, "-m", "theorems.mutate", "wrongbasis", "--quiet", "--family", "structure",
                        "--limit", "2"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 3, p.stdout + p.stderr
    assert "n/a" in p.stdout


def test_formula_mutants_are_caught_by_a_verdict_not_by_their_echo(example):
    """A stated width the construction stays under, mutated upwards, still verifies: a gap (its result only
    echoes the new formula).  Stated as exact, the same mutant is caught."""
    from theorems.kinds import Width
    from theorems.api import Claim, d

    def rows(equal):
        thm = _with_claims(example, lambda con, alg: [Claim("hidden width", "-", "d + 4",
                                                            Width(d, exact=d + 4, equal=equal))])
        r = M.mutate(thm, variant="weight-decay", families=("formula",))
        return {o["mode"]: o["status"] for o in r["outcomes"]}

    loose, exact = rows(False), rows(True)
    # 'at most d + 5' is implied by 'at most d + 4': no sound check refutes it, and it is not counted as caught
    assert loose["constant 4 -> 5 in d + 4"] == "implied"
    assert exact["constant 4 -> 5 in d + 4"] == "caught"


def test_only_a_looser_at_most_bound_is_implied():
    import sympy as sp
    from theorems.api import LayerCount, Width, d, k
    wide = type("C", (), {"spec": Width(d, exact=d + 4)})()
    count = type("C", (), {"spec": LayerCount(k + 1)})()
    exact = type("C", (), {"spec": LayerCount(k + 1, equal=True)})()
    for c, new, ok in ((wide, d + 5, True), (wide, 2 * d + 4, True), (wide, d + 3, False), (count, k + 2, True),
                       (count, sp.Integer(1), False), (exact, k + 2, False)):
        old = c.spec.exact if isinstance(c.spec, Width) else c.spec.bound
        b = {"claims": [c]}
        assert bool(M._implied(b, [(0, 0)], (old, new, False))) is ok, (c.spec, new)


def test_exact_counts_refute_a_different_count(example):
    import sympy as sp
    from symbolic import lemmas
    con = example.variant("weight-decay").build()
    k, dd = sp.Symbol("k"), sp.Symbol("d")
    w = con.layout.width
    assert lemmas.layer_count(con, k + 2).verdict == "verified"             # one fewer than stated: padding
    assert lemmas.layer_count(con, k + 2, equal=True).verdict == "refuted"
    assert lemmas.layer_count(con, k + 1, equal=True).verdict == "verified"
    assert lemmas.width(con, dd, w + 1).verdict == "verified"
    assert lemmas.width(con, dd, w + 1, equal=True).verdict == "refuted"
    assert lemmas.width(con, dd, w, equal=True).verdict == "verified"


def test_nothing_is_masked_by_a_vacuous_or_supporting_failure():
    from theorems.base import Evidence
    sup = Evidence("float64", "refuted", "float64", "x", statement=False, data={"kind": "certified"})
    width = Evidence("width", "verified", "exact", "x", data={"kind": "width"})
    assert M._masking_failure([width]) is None           # no network claim: nothing to be masked by
    assert M._masking_failure([width, sup]) is None      # a supporting failure masks nothing
    ind = Evidence("induction", "refuted", "symbolic", "x", data={"kind": "induction", "where": {"layer": "L2"}})
    assert M._masking_failure([width, ind]) == "at layer L2"


def test_masking_at_a_layer_reads_the_mutants_layer_not_its_label():
    from theorems.base import Evidence
    ev = [Evidence("layer maps", "refuted", "symbolic", "x", data={"kind": "layer_maps", "where": {"layer": "R"}})]
    b = {"evidence": ev, "claims": [], "fingerprint": [("layer maps", "{}")]}
    at_r = M.Mutant("v", "structure", "readout layer R", "layer dropped", layer="R")
    named_r = M.Mutant("v", "weight", "layer S op 1 W1 entry 0 (reads R)", "zero", layer="S")
    assert M._masked_at(at_r, b, None)
    assert M._masked_at(named_r, b, None) is None


def test_no_equivalence_is_argued_from_an_unproved_invariant(example):
    """The symbolic argument starts from the induction's invariant: only when the unmutated induction holds."""
    from theorems.base import Evidence
    from symbolic.perturb import structure_mutations
    v = example.variant("weight-decay")
    con = v.build()
    claims, alg = M._variant_claims(v, con)
    mut = next(make() for where, mode, make, layer in structure_mutations(con)
               if where == "layer R op 1 (mlp)" and mode == "queries: ctx toggled")
    ok = [Evidence(c.name, "verified", "m", "") for c in claims]
    bad = [Evidence(c.name, "refuted" if c.kind == "induction" else "verified", "m", "") for c in claims]
    assert M.symbolic_equivalence(con, mut, claims, alg, ok)
    assert M.symbolic_equivalence(con, mut, claims, alg, bad) is None
    assert M.symbolic_equivalence(con, mut, claims, alg, None) is None


def test_sampled_agreement_includes_the_preset_and_counts_neither_way(example):
    from symbolic.perturb import structure_mutations
    con = example.variant("weight-decay").build()
    mut = next(make() for where, mode, make, layer in structure_mutations(con)
               if where == "layer R op 1 (mlp)" and mode == "queries: ctx toggled")
    ctx = M.context(example)
    why = M.sampled_equivalence(example, con, mut, ctx)
    assert why and f"(d, n, k) = ({ctx.d}, {ctx.n}, {ctx.k})" in why and "not proved" in why
    o = [M.Outcome(M.Mutant("weight-decay", "weight", "w", "m"), s) for s in ("caught", "sampled", "gap")]
    s = M.score(o, ("weight-decay", ""))
    assert s["score"] == 0.5 and s["sampled"] == 1


def test_an_external_theorem_cannot_take_a_catalogue_id(tmp_path):
    from theorems.registry import TheoremImportError, get
    (tmp_path / "impostor.py").write_text("import dataclasses\nfrom theorems.one_step_gd_optimal import THEOREM as T"
                                          "\nTHEOREM = dataclasses.replace(T, title='not the catalogue one')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(TheoremImportError, match="catalogue theorem"):
            get("impostor")
        assert get("theorems.one_step_gd_optimal") is get("one_step_gd_optimal")   # the catalogue's own, by path
    finally:
        sys.path.remove(str(tmp_path))


def test_record_takes_complete_runs_and_keeps_own_theorems_out_of_the_package(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "theorems.mutate", *args], cwd=EXAMPLES, capture_output=True,
                              text=True, env=env, timeout=600)

    for extra in (["--family", "weight"], ["--limit", "3"], ["--variant", "weight-decay"]):
        p = run("mytheorems.gd_weight_decay", "--record", "--dir", str(tmp_path), *extra)
        assert p.returncode == 2 and "complete runs only" in p.stderr and p.stderr.count("\n") == 1
    p = run("mytheorems.gd_weight_decay", "--record")
    assert p.returncode == 2 and "--dir" in p.stderr
    assert not os.path.exists(M.record_path("gd_weight_decay"))
    p = run("mytheorems.gd_weight_decay", "--dir", str(tmp_path))
    assert p.returncode == 2 and "--record" in p.stderr


def test_a_declared_equivalent_mutant_needs_its_reason(example):
    mutant = ("weight-decay", "layer GD-wd op 2 head 1 W_PV entry 0", "sign")
    thm = dataclasses.replace(example, equivalent_mutants=lambda: {mutant: "declared for this test"})
    r = M.mutate(thm, variant="weight-decay", families=("weight",))
    o = next(o for o in r["outcomes"] if (o["target"], o["where"], o["mode"]) == mutant)
    assert o["status"] == "caught"      # a declaration never hides a mutant the checks catch


def test_the_cli_reports_the_score_and_exits_by_the_target(tmp_path):
    out = tmp_path / "m.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-m", "theorems.mutate", "mytheorems.gd_weight_decay", "--quiet",
                        "--family", "structure", "--json", str(out)], cwd=EXAMPLES, capture_output=True, text=True,
                       env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "soundness score" in p.stdout
    r = json.loads(out.read_text())
    assert all(o["family"] == "structure" for o in r["outcomes"])
    p = subprocess.run([sys.executable, "-m", "theorems.mutate", "nosuch.theorem"], cwd=EXAMPLES,
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2 and "error:" in p.stderr


@pytest.mark.parametrize("tid", __import__("theorems.registry", fromlist=["MODULES"]).MODULES)
def test_every_theorem_has_a_recorded_score_at_the_target(tid):
    """The shipped record of a theorem's score (shown in the index) meets the target."""
    rec = M.load_record(tid)
    assert rec is not None, f"no recorded score: python -m theorems.mutate {tid} --record"
    assert rec["score"] is not None, rec.get("no_score_reason")
    assert rec["score"] >= M.TARGET and rec["caught"] + rec["gap"] > 0
    thm = __import__("theorems.registry", fromlist=["get"]).get(tid)
    assert rec["scored"] == [*thm.basis, "theorem"]
    assert rec["digest"] == M.digest(thm), f"stale record: python -m theorems.mutate {tid} --record"


CRASHY = '''
import dataclasses
from dataclasses import dataclass
from typing import ClassVar
from theorems.api import Claim, LayerCount, k
from theorems.kinds import kind
from symbolic.lemmas import Outcome
from mytheorems.gd_weight_decay import THEOREM as EX

@dataclass(frozen=True)
class Brittle:
    kind: ClassVar[str] = "brittle_test"

_REF = EX.variant("weight-decay").build()

@kind(Brittle, "brittle_test")
def _check(spec, run):
    if run.con != _REF:
        raise KeyError("unexpected construction")
    return Outcome("verified", "brittle (all k)", "the reference construction", {})

V = dataclasses.replace(EX.variant("weight-decay"), claims=lambda con, alg: [
    Claim("k + 1 layers", "-", "k + 1", LayerCount(k + 1, equal=True)), Claim("brittle", "-", "x", Brittle())])
THEOREM = dataclasses.replace(EX, id="crashy", variants=(V,), basis=(V.name,))
'''


# ---------------------------------------------------------------- the second review's findings
def _structure_outcomes(thm, **kw):
    r = M.mutate(thm, variant="weight-decay", families=("structure",), **kw)
    return r, {(o["where"], o["mode"]): o for o in r["outcomes"]}


def test_a_check_that_no_longer_decides_is_not_a_catch(example):
    """Softmax in place of linear attention: no exact rule evaluates it, every claim turns inconclusive and
    none refutes: 'undecided', counted neither way, not caught."""
    r, by = _structure_outcomes(example)
    o = by[("layer GD-wd op 2 (attention)", "activation linear -> softmax")]
    assert o["status"] == "undecided" and "inconclusive" in o["reason"], o
    assert r["undecided"] >= 1
    judged = r["caught"] + r["gap"]
    assert r["score"] == (r["caught"] / judged if judged else None)     # undecided counted in neither


def test_a_construction_mutant_needs_a_verdict_change_not_an_echo(example):
    """An 'at most k + 5 layers' claim reports the new count of a construction without its read-out, but still
    verifies: the proof accepted the mutant, so it is a gap, not a catch."""
    from theorems.api import Claim, LayerCount, k
    loose = _with_claims(example, lambda con, alg: [Claim("at most k + 5 layers", "-", "k + 5", LayerCount(k + 5))])
    r, by = _structure_outcomes(loose)
    assert by[("readout layer R", "layer dropped")]["status"] == "gap"
    # what is caught is caught by a refutation (a duplicated step layer: 2k + 1 layers exceed k + 5)
    assert all("verified -> refuted" in o["reason"] for o in r["outcomes"] if o["status"] == "caught")


def test_claims_that_come_and_go_with_the_layers_are_not_a_catch(example):
    from theorems.api import Claim, Width, d
    per_layer = _with_claims(example, lambda con, alg: [Claim(f"layer {L.name} is narrow", "-", "O(d)", Width(d))
                                                        for L in (*con.init, *con.step, *con.readout)])
    r, by = _structure_outcomes(per_layer)
    assert by[("readout layer R", "layer dropped")]["status"] != "caught"
    assert not any("list of claims" in o["reason"] for o in r["outcomes"])


def test_a_declaration_the_exact_network_contradicts_is_a_gap(example):
    from theorems.api import Claim, Width, d
    site = ("weight-decay", "layer GD-wd op 2 head 1 W_PV entry 0", "sign")
    weak = _with_claims(example, lambda con, alg: [Claim("hidden width", "-", "d + 4", Width(d, exact=d + 4))])
    weak = dataclasses.replace(weak, equivalent_mutants=lambda: {site: "trust me"})
    r = M.mutate(weak, variant="weight-decay", families=("weight",))
    o = next(o for o in r["outcomes"] if (o["target"], o["where"], o["mode"]) == site)
    assert o["status"] == "gap" and "trust me" in o["reason"] and "does not agree" in o["reason"]


def test_a_mutant_that_crashes_a_check_makes_the_run_an_internal_error(tmp_path):
    (tmp_path / "crashy.py").write_text(CRASHY)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([EXAMPLES, str(tmp_path)]))
    p = subprocess.run([sys.executable, "-m", "theorems.mutate", "crashy", "--quiet", "--family", "structure"],
                       cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 4, p.stdout + p.stderr
    assert "crashed a check" in p.stderr


def test_bad_limits_and_targets_are_usage_errors():
    for args in (["--limit", "-3"], ["--limit", "0"], ["--target", "0"], ["--target", "1.5"]):
        assert M.main(["one_step_gd_optimal", "--quiet", *args]) == 2


def test_a_stale_record_is_shown_as_stale(monkeypatch):
    """The index shows a record only while the theorem's claims and mutants are those it was taken over."""
    from theorems import index
    rec = dict(M.load_record("one_step_gd_optimal"))
    assert index.score_of("one_step_gd_optimal")["text"].endswith("%")
    monkeypatch.setattr(M, "load_record", lambda tid, directory=None: dict(rec, digest="0" * 16))
    s = index.score_of("one_step_gd_optimal")
    assert s["text"] == "stale" and s["value"] is None


# ---------------------------------------------------------------- the third review's findings
def test_claims_of_one_name_are_refused(example):
    """A mutant's claims are paired with the unmutated ones by name: two claims of one name are a usage error
    (a supporting claim once stood in for a statement claim of its name)."""
    from theorems.check import UsageError
    from theorems.api import Claim, Width, d
    twice = _with_claims(example, lambda con, alg: [Claim("w", "-", "d + 4", Width(d, exact=d + 4)),
                                                    Claim("w", "-", "O(d)", Width(d), statement=False)])
    with pytest.raises(UsageError, match="two claims named 'w'"):
        M.mutate(twice, variant="weight-decay", families=("structure",), limit=1)


def test_the_digest_sees_specs_presets_and_weights(example):
    from theorems.api import Claim, Width, d
    base = M.digest(example)
    assert M.digest(example) == base
    exact = _with_claims(example, lambda con, alg: [Claim("hidden width", "-", "d + 4", Width(d, exact=d + 4))])
    loose = _with_claims(example, lambda con, alg: [Claim("hidden width", "-", "d + 4", Width(d))])
    assert M.digest(exact) != M.digest(loose)                          # same name and kind, another spec
    assert M.digest(dataclasses.replace(example, golden={"k": 2, "d": 3, "n": 5, "seed": 0})) != base
    v = example.variant("weight-decay")
    other = dataclasses.replace(example, variants=(dataclasses.replace(v, build=lambda: v.build("weight-decay",
                                                                                                 copy=False)),
                                                   example.variant("decay-after-update")))
    assert M.digest(other) != base                                     # the weights changed


def test_a_declared_formula_equivalent_is_not_taken(example, monkeypatch):
    from theorems.api import Claim, Width, d
    monkeypatch.setattr(M, "_implied", lambda *a: None)     # the survivor as a gap, to be declared away
    loose = _with_claims(example, lambda con, alg: [Claim("hidden width", "-", "d + 4", Width(d, exact=d + 4))])
    key = ("weight-decay", "claim 'hidden width'.exact", "constant 4 -> 5 in d + 4")
    r = M.mutate(dataclasses.replace(loose, equivalent_mutants=lambda: {key: "trust me"}), variant="weight-decay",
                 families=("formula",))
    o = next(o for o in r["outcomes"] if (o["target"], o["where"], o["mode"]) == key)
    assert o["status"] == "gap" and "cannot be checked" in o["reason"]


def test_a_run_with_crashes_has_no_score_and_no_record(tmp_path):
    crashy = tmp_path / "crashy2.py"
    crashy.write_text(CRASHY)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([EXAMPLES, str(tmp_path)]))
    out = tmp_path / "records"
    p = subprocess.run([sys.executable, "-m", "theorems.mutate", "crashy2", "--quiet", "--record", "--dir", str(out)],
                       cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 4 and "n/a" in p.stdout and "crashed" in p.stdout, p.stdout + p.stderr
    assert "not recorded" in p.stderr and not (out / "crashy.json").exists()


def test_an_undecided_erratum_claim_gives_no_score_and_masks_nothing():
    from theorems.base import Evidence
    thm = __import__("theorems.registry", fromlist=["get"]).get("one_step_gd_optimal")
    undecided = Evidence("an erratum claim", "inconclusive", "m", "x", statement=False, erratum=True)
    base = {"": {"evidence": [undecided]}, **{v: {"evidence": []} for v in thm.basis}}
    assert "does not verify" in M.no_score_reason(thm, base)
    claims = [type("C", (), {"name": "an erratum claim", "spec": sp.Integer(3)})()]
    b = {"evidence": [undecided], "claims": claims, "fingerprint": [("an erratum claim", "{}")]}
    assert M._masked_at(M.Mutant("", "formula", "w", "m"), b, (claims[0].spec, None, False)) is None


def test_a_refutation_that_only_reprints_the_mutated_weight_is_not_a_new_finding():
    from theorems.base import Evidence
    a = Evidence("c", "refuted", "m", "coefficient 9/10", data={"where": {"layer": "GD-wd", "block": "p"}})
    b = Evidence("c", "refuted", "m", "coefficient 9/5", data={"where": {"layer": "GD-wd", "block": "p"}})
    c = Evidence("c", "refuted", "m", "coefficient 9/5", data={"where": {"layer": "R", "block": "pred"}})
    assert M._location(a) == M._location(b) != M._location(c)
