"""von Oswald et al., Proposition 1 (gd_one_layer): each claim positive and
negative, every single-block perturbation refuted, and the engine pieces it
needs (matrix letters in weights, factor products, vector labels) alone."""
import pytest
import sympy as sp

from numeric import checks
from symbolic import lemmas
from symbolic.layers import Bilinear, Linear, letter, split_entry
from symbolic.perturb import perturb, sites
from symbolic.templates import Algebra
from theorems import gd_one_layer as vo
from theorems.check import make_context, run_claim
from theorems.kinds import Run

THM = vo.THEOREM


def claims_of(name, con=None):
    v = THM.variant(name)
    alg = Algebra()
    con = con or v.build()
    return con, alg, {c.name: c for c in v.claims(con, alg)}


@pytest.fixture(scope="module")
def ctx():
    return make_context(THM, k=2, d=2, n=4, seed=0)


EXACT = lambda data: Run(THM, None).exact_params(data)


# ------------------------------------------------------------------ engine pieces
def test_weights_are_the_papers_factors_multiplied_once():
    eta, n = vo.eta, vo.n
    W_V = Linear.of({("y", "x"): letter("W_0"), ("y", "y"): -1})
    P = Linear.of({("x", "x"): eta / n, ("y", "y"): eta / n})
    assert set(P.compose(W_V).entries) == {("y", "x", eta / n * letter("W_0")), ("y", "y", -eta / n)}
    W_K = Linear.of({("x", "x"): 1})
    assert Bilinear.from_maps(W_K, W_K).entries == (("x", "x", 1),)
    assert split_entry(2 * eta * letter("A")) == (2 * eta, "A")
    with pytest.raises(ValueError, match="at most one matrix letter"):
        split_entry(letter("A") * letter("B"))


def test_a_letter_of_the_wrong_shape_is_refused():
    from symbolic.layers import Construction, MatrixLetter
    bad = (vo.MatrixLetter("W_0", "d", "d"),)          # W_0 must be N_y x N_x
    with pytest.raises(ValueError, match="W_0 is d x d"):
        Construction("bad", vo.LAYOUT, vo.TOKENS, (vo.QUERY_INIT,), (vo.prop1_layer(vo.W0),), (vo.READOUT,),
                     ("test", "pred"), (vo.eta, vo.n), bad)


def test_vector_labels_sum_to_their_moments():
    from symbolic.ncalg import sum_over_examples
    alg = Algebra()
    yj, xj, xt = alg.yvec("j"), alg.x["j"], alg.x["t"]
    mom = {"S": "S", "b": "b", "yy": alg.yy, "C": "C", "Yy": "Yy"}
    got = sum_over_examples(yj * (xj.T * xt), "x_j", alg.y["j"], mom, alg.n, labels="y_j")
    from symbolic.ncalg import Poly
    assert got == Poly.letter("C", alg.ab) * xt
    got2 = sum_over_examples(yj * yj.T, "x_j", alg.y["j"], mom, alg.n, labels="y_j")
    assert got2 == Poly.letter("Yy", alg.ab)
    from symbolic.ncalg import SumError
    with pytest.raises(SumError):        # y_j alone is no moment
        sum_over_examples(yj, "x_j", alg.y["j"], mom, alg.n, labels="y_j")


def test_left_factor_reads_a_state_from_either_side():
    alg = Algebra()
    w = alg.matrix("w", shape=("d", "1"))
    p = (alg.z.T * w).scale(-3)
    assert p.left_factor("z") == w.scale(-3)
    assert (alg.z.T * alg.S * w).left_factor("z") == alg.S * w
    assert (alg.z.T * alg.S * alg.z).left_factor("z") is None       # z twice: not linear in z


# ------------------------------------------------------------------ the claims
@pytest.mark.parametrize("name", ["printed", "zero-init"])
def test_prop1_and_all_K_induction_proved(name, ctx):
    con, alg, cl = claims_of(name)
    for c in ("Proposition 1: the layer is one GD step on every token", "K layers = K steps of GD from W_0, for all K",
              "exact composition at small sizes", "certified at realistic size"):
        ev = run_claim(cl[c], Run(THM, ctx, con, alg))
        assert ev.verdict == "verified", (c, ev.detail)
    ind = run_claim(cl["K layers = K steps of GD from W_0, for all K"], Run(THM, ctx, con, alg))
    assert "W_l - eta/n" in ind.data["lemmas"][1]["detail"] or "eta" in ind.data["lemmas"][1]["latex"]


def test_gd_plus_plus_layer_proved_and_a_wrong_gamma_refuted(ctx):
    con, alg, cl = claims_of("gd-plus-plus")
    c = cl["GD++: inputs transformed by I - gamma X X', targets by one GD step"]
    assert run_claim(c, Run(THM, ctx, con, alg)).verdict == "verified"
    # the printed P has -gamma I_x; with +gamma the x-update has the wrong sign
    bad = perturb(con, next(s for s, (o, i, v) in sites(con) if s.matrix == "W_PV" and o == i == "x"), "sign")
    ev = run_claim(c, Run(THM, ctx, bad, alg))
    assert ev.verdict == "refuted" and ev.data["counterexample"]["block"] == "x"


def test_query_as_key_refuted_and_located(ctx):
    con, alg, cl = claims_of("keys-include-query")
    ev = run_claim(cl["Proposition 1: the layer is one GD step on every token"], Run(THM, ctx, con, alg))
    assert ev.verdict == "refuted" and "W_0 z" in ev.detail
    con, alg, cl = claims_of("keys-include-query-zero-init")
    r = Run(THM, ctx, con, alg)
    assert run_claim(cl["Proposition 1: the layer is one GD step on every token"], r).verdict == "verified"
    ev = run_claim(cl["K layers = K steps of GD from W_0, for all K"], r)
    assert ev.verdict == "refuted" and ev.data["counterexample"]["k"] == 2      # one layer is fine, two are not


def test_closed_form_for_all_K_and_a_wrong_one_refuted():
    from numeric.recursions import gd_rows_step
    s, c, K = vo.s_, vo.c_, vo.K
    step = lambda Wv, sv: gd_rows_step(Wv, sv, c, vo.eta / vo.n)
    assert lemmas.closed_form_all_k(vo.closed_form_K, 0, step, s, K).verdict == "verified"
    wrong = lambda Kv: c * (1 - (1 - vo.eta * s / vo.n) ** (Kv + 1)) / s      # one step too many
    assert lemmas.closed_form_all_k(wrong, 0, step, s, K).verdict == "refuted"


# ------------------------------------------------------------------ perturbations
def _perturbations(name):
    con = THM.variant(name).build()
    for site, _ in sites(con):
        for mode in ("scale", "sign", "transpose"):
            if perturb(con, site, mode) is not None:
                yield pytest.param(name, site, mode, id=f"{name}-{site}-{mode}".replace(" ", "_"))


@pytest.mark.parametrize("name, site, mode", [*_perturbations("printed"), *_perturbations("zero-init")])
def test_every_single_block_perturbation_is_caught(name, site, mode):
    v = THM.variant(name)
    alg = Algebra()
    con = perturb(v.build(), site, mode)
    c = next(c for c in v.claims(con, alg) if c.kind == "induction")
    o = lemmas.induction(con, alg, c.spec.recursion)
    comp = checks.composition(con, c.spec.recursion, [(1, 2, 2), (2, 3, 2), (2, 4, 1)], EXACT)
    assert o.verdict != "verified", f"{site} {mode} not caught"
    assert comp.verdict == "refuted", f"{site} {mode}: exact composition missed it"
    assert site.layer in o.detail or site.layer in str(o.where), o.detail


def test_exact_composition_with_vector_labels():
    """N_y = 2: the exact composition runs with 2-vector labels and a 2 x d matrix W_0, and can fail there."""
    con, alg, cl = claims_of("printed")
    rec = cl["K layers = K steps of GD from W_0, for all K"].spec.recursion
    sizes = [(2, 3, 2, 2), (2, 4, 1, 2)]
    ok = checks.composition(con, rec, sizes, EXACT)
    assert ok.verdict == "verified" and ok.data["sizes"] == [list(s) for s in sizes]
    site = next(s for s, (o, i, v) in sites(con) if s.matrix == "W_PV" and o == i == "y")
    bad = checks.composition(perturb(con, site, "scale"), rec, sizes, EXACT)
    assert bad.verdict == "refuted" and len(bad.data["counterexample"]["y"][0]) == 2
