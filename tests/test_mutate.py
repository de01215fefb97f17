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
    structural = {m for _, m, _ in structure_mutations(con)}
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


def test_weak_checks_leave_gaps_and_miss_the_target(example):
    """A theorem whose only claim is its width cannot see a wrong weight: the score says so."""
    from theorems.kinds import Width
    from theorems.api import Claim, d
    weak_v = dataclasses.replace(example.variant("weight-decay"),
                                 claims=lambda con, alg: [Claim("hidden width", "-", "d + 4", Width(d, exact=d + 4))])
    weak = dataclasses.replace(example, id="weak", variants=(weak_v,), basis=(weak_v.name,))
    r = M.mutate(weak, families=("weight",))
    assert r["gap"] > 0 and r["score"] < M.TARGET
    assert all(o["status"] in ("gap", "equivalent", "invalid") for o in r["outcomes"])


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
    assert rec["score"] >= M.TARGET and rec["caught"] + rec["gap"] > 0
