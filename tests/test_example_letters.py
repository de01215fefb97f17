"""Per-example letters a construction declares (symbolic.layers.ExampleLetter): a scalar q_j and a d-vector u_j
beside x_j, with the moments the engine derives (b_q = sum_j q_j x_j, S_ux = sum_j u_j x_j'), and one-column
matrix letters as token inputs.  The construction refuses what it cannot mean; random layers over such tokens
agree with the exact forward pass whenever the engine derives a template (the sum rules alone are tested in
test_ncalg.py)."""
import random

import pytest
import sympy as sp

from symbolic.layers import Attention, Construction, ExampleLetter, Layer, MatrixLetter, TokenFormat, TokenKind
from symbolic.layout import Layout, d
from symbolic.templates import Algebra, Evaluator, LemmaFailure, input_template

Q, U, W = ExampleLetter("q", "1"), ExampleLetter("u", "d"), MatrixLetter("w", "d", "1")
LAY = Layout.of(("a", d), ("q", 1), ("u", d), ("e", d), ("w", d), ("one", 1), ("P", d), ("R", d), ("s", 1))
TOK = TokenFormat((TokenKind("ex", (("a", "x"), ("q", "q"), ("u", "u"))),
                   TokenKind("mat", (("e", "e"),), per_example=False, basis=True),
                   TokenKind("state", (("w", "w"), ("one", "one")), per_example=False)))


def _con(layers, tokens=TOK, letters=(W,), ex=(Q, U), layout=LAY):
    return Construction("c", layout, tokens, tuple(layers), (), (), ("state", "P"), (), letters, example_letters=ex)


def test_the_construction_refuses_what_a_per_example_letter_cannot_mean():
    _con(())                                                       # the well-formed one
    tail = TokenFormat((TokenKind("ex", (("a", "x"),)), TokenKind("state", (("u", "u"),), per_example=False)))
    with pytest.raises(ValueError, match="not an example token"):
        _con((), tail)
    wrong_size = TokenFormat((TokenKind("ex", (("a", "x"), ("q", "u"))),))
    with pytest.raises(ValueError, match="block q"):
        _con((), wrong_size)
    undeclared = TokenFormat((TokenKind("ex", (("a", "x"), ("q", "p"))),))
    with pytest.raises(ValueError, match="neither"):
        _con((), undeclared)
    with pytest.raises(ValueError, match="declared twice|matrix letter takes"):
        _con((), letters=(W, MatrixLetter("S_ux")))                # the moment's name
    with pytest.raises(ValueError, match="declared twice|matrix letter takes"):
        _con((), letters=(W, MatrixLetter("u_t", "d", "1")))        # a role's name
    with pytest.raises(ValueError, match="declared twice|matrix letter takes"):
        _con((), ex=(Q, U, ExampleLetter("q", "d")))
    for bad in ("x", "y", "e", "i", "q_1", "2q", "b"):
        with pytest.raises(ValueError):
            ExampleLetter(bad, "1")
    with pytest.raises(ValueError, match="rows"):
        ExampleLetter("v", "m")
    two_cols = TokenFormat((TokenKind("ex", (("a", "x"),)), TokenKind("state", (("w", "A"),), per_example=False)))
    with pytest.raises(ValueError, match="neither"):
        _con((), two_cols, letters=(W, MatrixLetter("A")))          # a d x d letter is no column


def test_the_input_template_holds_the_letters_in_the_query_role():
    con, alg = _con(()), Algebra()
    tpl = input_template(con, alg)
    assert tpl.kinds["ex"]["q"] == alg.const(sp.Symbol("q_t")) and tpl.kinds["ex"]["u"] == alg.example("u")
    assert tpl.kinds["state"]["w"] == alg.params["w"]
    # the key's role renames them, the query's stay
    p = alg.example("u").scale(sp.Symbol("q_t"))
    assert alg.rename(p, "t", "j") == alg.example("u", "j").scale(sp.Symbol("q_j"))
    with pytest.raises(ValueError, match="already declared"):
        alg.example_letter("u", "1")


def test_a_leftover_key_letter_is_refused_by_the_layer():
    """A head that sums q_j u_j (value u_j, score q_j against the state's constant) is refused, not proved."""
    h = Attention.linear_heads(({("one", "q"): 1}, {("P", "u"): 1}))
    con = _con((Layer("L", (h,)),))
    alg = Algebra()
    with pytest.raises(LemmaFailure, match="does not reduce"):
        Evaluator(con, alg).apply_layer(con.init[0], input_template(con, alg))


def _params(con, data):
    from theorems.gd_support import example_parameter, matrix_parameter
    out = {}
    for E in con.example_letters:
        out[E.symbol] = example_parameter(E, "").exact(data)
    for L in con.letters:
        out[L.symbol] = matrix_parameter(L.symbol, L.shape, "").exact(data)
    return out


def test_random_layers_over_per_example_letters_agree_with_the_exact_forward_pass():
    """Random linear-attention layers over example tokens [a; q; u], basis tokens [e] and a state token [w; 1]:
    whenever the engine derives a template, it equals the exact forward pass token by token (the declared
    letters with generic values, so a transposed moment, a product of sums or a confused role would show)."""
    from numeric.backends import ExactBackend
    from numeric.checks import hidden_to_sympy, template_matrix
    from numeric.data import small_integers
    from numeric.forward import Network
    rng = random.Random(11)
    vec, sca = ["a", "u", "e", "w", "P", "R"], ["q", "one", "s"]
    derived, moments = 0, set()
    for trial in range(160):
        layers = []
        for li in range(rng.randint(1, 2)):
            heads = []
            for _ in range(rng.randint(1, 3)):
                pool = vec if rng.random() < 0.7 else sca
                kq = {(rng.choice(pool), rng.choice(pool)): rng.choice([1, -1, 2])}
                pool = vec if rng.random() < 0.8 else sca
                out = rng.choice(["P", "R"] if pool is vec else ["s"])
                heads.append((kq, {(out, rng.choice(pool)): rng.choice([1, -1, sp.Rational(1, 2)])}))
            layers.append(Layer(f"L{li}", (Attention.linear_heads(*heads),)))
        con = _con(layers)
        alg = Algebra()
        ev = Evaluator(con, alg)
        try:
            tpl = input_template(con, alg)
            for L in con.init:
                tpl = ev.apply_layer(L, tpl)
        except LemmaFailure:
            continue
        derived += 1
        moments |= {x for blocks in tpl.kinds.values() for p in blocks.values() for x in p.letters()} & \
            {"S_ux", "S_ux'", "b_q", "b_q'", "S"}
        for dd, nn in ((1, 1), (2, 3), (3, 2)):
            data = small_integers(dd, nn, rng)
            pv = _params(con, data)
            net = Network(con, dd, nn, ExactBackend(), pv)
            H = net.embed(data)
            for L in con.init:
                H = net.apply_layer(L, H, 1)
            assert hidden_to_sympy(net, H) == template_matrix(net, alg, tpl, data, None, pv), (trial, dd, nn)
    assert derived >= 60, derived
    assert {"S_ux", "b_q"} <= {m.rstrip("'") for m in moments}, moments


def test_a_claim_with_a_transposed_moment_gets_a_counterexample():
    """The exact evaluator reads the per-example values: a layer claim that says S_ux where the layer forms
    S_ux' is refused symbolically and refuted by a concrete prompt with its q and u values."""
    from numeric.checks import counterexample_layers
    from symbolic.lemmas import layer_maps
    from symbolic.templates import Template
    h = Attention.linear_heads(({("e", "u"): 1}, {("P", "a"): 1}))        # sum_j (e_t'u_j) a_j = S_ux' e_t
    con = _con((Layer("L", (h,)),))
    alg = Algebra()
    tin = input_template(con, alg)
    wrong = {k: dict(v) for k, v in tin.kinds.items()}
    wrong["mat"]["P"] = alg.example_moment("u") * alg.e["t"]
    right = {k: dict(v) for k, v in tin.kinds.items()}
    right["mat"]["P"] = alg.example_moment("u").T * alg.e["t"]
    assert layer_maps(con, alg, ("L",), tin, Template(right)).verdict == "verified"
    o = layer_maps(con, alg, ("L",), tin, Template(wrong))
    assert o.verdict == "inconclusive" and o.where["block"] == "P" and "S_ux" in o.where["term"]
    cx = counterexample_layers(con, alg, ("L",), tin, Template(wrong), params_for=lambda data: _params(con, data))
    assert cx is not None and cx["block"] == "P" and cx["token"].startswith("mat") and cx["d"] == 2
    assert {"q", "u", "w"} <= set(cx["params"])


def test_the_digest_reads_the_letters_only_when_a_construction_declares_them():
    """Construction.example_letters came after the mutation records: unset, it leaves a construction's canonical
    form (and so every older record's digest) as it was; set, it is part of it, and changing it changes it."""
    from theorems.mutate import _canon
    plain = _con((), ex=(), tokens=TokenFormat((TokenKind("ex", (("a", "x"),)),)))
    assert "example_letters" not in _canon(plain)[1]
    with_letters = _con(())
    assert _canon(with_letters)[1]["example_letters"] == [["ExampleLetter", {"name": "q", "rows": "1", "doc": ""}],
                                                         ["ExampleLetter", {"name": "u", "rows": "d", "doc": ""}]]
    assert _canon(_con((), ex=(Q,), tokens=TokenFormat((TokenKind("ex", (("a", "x"), ("q", "q"))),))))[1] != \
        _canon(with_letters)[1]


@pytest.mark.parametrize("pname, letters", [("q_j", True), ("y_j", False), ("i_t", False), ("yy", False)])
def test_a_weight_parameter_named_like_an_engine_symbol_is_refused(pname, letters):
    """A weight named q_j (or y_j, i_t, yy) would be read by the sum over examples as the key's letter (the
    label, the index, y'y), and by the exact evaluator as its own value: the symbolic check then verified
    P = b_q while the exact network gave 3 sum_j x_j (found by an adversarial review).  Refused up front."""
    c = sp.Symbol(pname)
    lay = Layout.of(("a", d), ("q", 1), ("y", 1), ("one", 1), ("P", d))
    tok = TokenFormat((TokenKind("ex", (("a", "x"), ("q", "q"), ("y", "y"), ("one", "one"))) if letters else
                       TokenKind("ex", (("a", "x"), ("y", "y"), ("one", "one"))),
                       TokenKind("state", (("one", "one"),), per_example=False)))
    h = Attention.linear_heads(({("one", "one"): 1}, {("P", "a"): c}), keys=("ex",), queries=("state",))
    with pytest.raises(ValueError, match="are the engine's own symbols"):
        Construction("c", lay, tok, (Layer("L", (h,)),), (), (), ("state", "P"), (c,), (),
                     example_letters=(ExampleLetter("q", "1"),) if letters else ())
    ok = sp.Symbol("eta")                                    # an ordinary name is taken
    h = Attention.linear_heads(({("one", "one"): 1}, {("P", "a"): ok}), keys=("ex",), queries=("state",))
    Construction("c", lay, tok, (Layer("L", (h,)),), (), (), ("state", "P"), (ok,), (),
                 example_letters=(ExampleLetter("q", "1"),) if letters else ())
