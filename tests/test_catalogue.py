"""Catalogue-wide behaviour: every theorem runs through the CLI contract, and
every single-block perturbation of every construction its verdict rests on is
refuted, by the symbolic proof and by the exact composition, with the layer
named.  (newton_k_plus_8 has its own, with its listed symmetries.)"""
import pytest

from numeric import checks
from symbolic import lemmas
from symbolic.perturb import perturb, sites
from symbolic.templates import Algebra
from theorems.kinds import Run
from theorems.registry import MODULES, get

GD_FAMILY = [m for m in MODULES if m != "newton_k_plus_8"]


def _cases():
    for tid in GD_FAMILY:
        thm = get(tid)
        for vname in thm.basis:
            v = thm.variant(vname)
            con = v.build()
            alg = Algebra()
            if not any(c.kind == "induction" for c in v.claims(con, alg)):
                continue
            for site, _ in sites(con):
                for mode in ("scale", "sign", "transpose"):
                    if perturb(con, site, mode) is not None:
                        yield pytest.param(tid, vname, site, mode, id=f"{tid}-{vname}-{site}-{mode}".replace(" ", "_"))


@pytest.mark.parametrize("tid, vname, site, mode", list(_cases()))
def test_every_single_block_perturbation_is_refuted(tid, vname, site, mode):
    thm = get(tid)
    v = thm.variant(vname)
    alg = Algebra()
    con = perturb(v.build(), site, mode)
    rec = next(c for c in v.claims(con, alg) if c.kind == "induction").spec.recursion
    o = lemmas.induction(con, alg, rec)
    k = 0 if thm.limits["k"] == 0 else 2
    comp = checks.composition(con, rec, [(1, 2, k), (2, 3, k), (2, 4, min(k, 1))], Run(thm, None).exact_params)
    equivalent = (thm.equivalent_mutants or dict)()
    if (vname, str(site), mode) in equivalent:
        # declared equivalent on every reachable state, with its reason: the exact network must agree
        assert equivalent[(vname, str(site), mode)] and comp.verdict == "verified", comp.detail
        return
    assert o.verdict != "verified", f"{site} {mode} not caught by the proof"
    assert comp.verdict == "refuted", f"{site} {mode} not caught by the exact composition"
    assert site.layer in o.detail or site.layer in str(o.where), o.detail


@pytest.mark.parametrize("tid", MODULES)
def test_every_theorem_declares_what_the_cli_needs(tid):
    thm = get(tid)
    assert thm.basis and all(thm.variant(b) for b in thm.basis)
    assert thm.golden and {"k", "d", "n"} <= set(thm.limits) <= {"k", "d", "n", "work"}
    for p in thm.parameters:
        assert p.default in p.policies and p.exact_policy in p.policies
    if thm.provenance == "reconstruction":
        assert "reconstruction" in thm.citation.lower() or "reconstruction" in thm.statement.lower()
