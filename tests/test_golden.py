"""Golden certificates: a fresh run of every theorem at its small preset
matches the committed record (tests/golden/<id>.json).  Refresh with
``python -m theorems.golden --update`` and review the diff."""
import copy

import pytest

from theorems import golden
from theorems.registry import MODULES


@pytest.mark.parametrize("theorem_id", MODULES)
def test_fresh_run_matches_golden_record(theorem_id):
    d = golden.compare(theorem_id)
    assert not d, f"{theorem_id} differs from tests/golden/{theorem_id}.json " \
                  "(if intended: python -m theorems.golden --update " + theorem_id + "):\n" + "\n".join(d)


def test_a_changed_verdict_fails_with_a_readable_diff():
    rec = golden.load(MODULES[0])
    assert rec is not None
    new = copy.deepcopy(rec)
    vname = next(iter(new["variants"]))
    cname = next(iter(new["variants"][vname]["checks"]))
    old_v = new["variants"][vname]["checks"][cname]["verdict"]
    new["variants"][vname]["checks"][cname]["verdict"] = "verified" if old_v != "verified" else "refuted"
    new["errata"] = new["errata"][1:]
    lines = golden.diff(rec, new)
    assert any(f"variants / {vname} / checks / {cname} / verdict: \"{old_v}\"" in l for l in lines), lines
    assert any(l.startswith("errata:") for l in lines), lines


def test_numbers_compare_at_the_stated_tolerance():
    a = {"numbers": {"per_layer": [{"network": 1.0}]}}
    near = {"numbers": {"per_layer": [{"network": 1.0 + 1e-12}]}}
    far = {"numbers": {"per_layer": [{"network": 1.0 + 1e-6}]}}
    assert golden.diff(a, near) == []
    assert golden.diff(a, far) and "network" in golden.diff(a, far)[0]


def test_the_printed_variant_is_pinned(monkeypatch):
    """Issue: turning the printed variant's sign into the corrected one made its refuted checks verified and
    removed two errata with exit 0 unchanged.  The golden record catches exactly that."""
    from dataclasses import replace
    from theorems import newton_k_plus_8 as fu
    forged = replace(fu.THEOREM.variant("printed"), build=lambda: fu.printed_like(-1, "printed"))
    thm = replace(fu.THEOREM, variants=tuple(forged if v.name == "printed" else v for v in fu.THEOREM.variants))
    monkeypatch.setattr(fu, "THEOREM", thm)
    lines = golden.compare("newton_k_plus_8")
    assert any(l.startswith("variants / printed / verdict") for l in lines), lines
    assert any(l.startswith("errata") for l in lines), lines
