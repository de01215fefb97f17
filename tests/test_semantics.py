"""Layer semantics are defined once (symbolic/layers.py): the symbolic evaluator
and the numeric forward pass must agree on them, and the numeric pass must
match a direct transcription of the definition."""

import numpy as np
import pytest
import sympy as sp

from numeric.backends import NumpyBackend, TorchBackend
from numeric.checks import counterexample_layers
from numeric.data import gaussian
from numeric.forward import Network
from symbolic.layers import (MLP, Attention, BlockMap, Construction, Head, Layer, TokenFormat, TokenKind)
from symbolic.layout import Layout, d
from symbolic.templates import Algebra, Evaluator, LemmaFailure, input_template

c = sp.Symbol("c")
n = sp.Symbol("n", positive=True, integer=True)
LAY = Layout.of(("x", d), ("y", 1), ("w", d), ("p", 1))
TOK = TokenFormat((TokenKind("ex", (("x", "x"), ("y", "y"))), TokenKind("test", (("x", "x_test"),), False)))


def con_of(*ops, keys=("ex",)):
    return Construction("t", LAY, TOK, (Layer("L", tuple(ops)),), (), (), ("test", "p"), (c, n))


GD_STEP = Head(BlockMap.of({("x", "x"): c}), BlockMap.of({("p", "y"): 1}))   # p_t = c sum_j (x_t'x_j) y_j
CASES = {
    "linear, no normaliser": con_of(Attention((GD_STEP,), "linear", "none", keys=("ex",))),
    "linear, 1/n": con_of(Attention((GD_STEP,), "linear", "n", keys=("ex",))),
    "relu pair, 1/n": con_of(Attention((GD_STEP, Head(GD_STEP.W_KQ.scaled(-1), GD_STEP.W_PV.scaled(-1))), "relu", "n",
                                       keys=("ex",))),
    "linear, queries only test": con_of(Attention((Head(BlockMap.of({("x", "x"): 1}), BlockMap.of({("w", "x"): c})),),
                                                  "linear", "none", keys=("ex",), queries=("test",))),
    "linear MLP": con_of(MLP.linear(BlockMap.of({("w", "x"): c, ("p", "y"): 2}), LAY)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_symbolic_and_exact_evaluators_agree(name):
    con = CASES[name]
    alg = Algebra()
    tin = input_template(con, alg)
    tout = Evaluator(con, alg).apply_layer(con.init[0], tin)
    # the exact forward pass reproduces the symbolic output on random instances (None: no mismatch)
    assert counterexample_layers(con, alg, ["L"], tin, tout, {c: sp.Rational(3, 2)}, trials=6) is None


def test_relu_without_a_pair_is_not_assumed():
    con = con_of(Attention((GD_STEP,), "relu", "n", keys=("ex",)))
    alg = Algebra()
    with pytest.raises(LemmaFailure, match="sign is not determined"):
        Evaluator(con, alg).apply_layer(con.init[0], input_template(con, alg))


def _direct(H, W_KQ, W_PV, act, norm, keys, queries, causal):
    """Definition of symbolic/layers.py, transcribed literally (numpy, token loops)."""
    D, N = H.shape
    out = H.copy()
    for t in range(N):
        if not queries[t]:
            continue
        ks = [j for j in range(N) if keys[j] and (not causal or j <= t)]
        s = np.array([H[:, t] @ W_KQ @ H[:, j] for j in ks])
        if act == "softmax":
            wts = np.exp(s - s.max()) / np.exp(s - s.max()).sum() if ks else s
        else:
            wts = (np.maximum(s, 0) if act == "relu" else s) * norm
        for wj, j in zip(wts, ks):
            out[:, t] += wj * (W_PV @ H[:, j])
    return out


@pytest.mark.parametrize("act", ["relu", "linear", "softmax"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_numeric_attention_matches_the_definition(act, causal, backend):
    head = Head(BlockMap.of({("x", "x"): sp.Rational(1, 3), ("w", "x"): -1}), BlockMap.of({("w", "x"): 2, ("p", "y"): 1}))
    con = con_of(Attention((head,), act, "n", keys=("ex",), causal=causal))
    data = gaussian(3, 5, seed=4)
    be = NumpyBackend() if backend == "numpy" else TorchBackend("cpu")
    net = Network(con, 3, 5, be, {c: 1})
    H0 = net.embed(data)
    H1 = net.apply_layer(con.init[0], H0)
    full = lambda H: np.vstack([np.asarray(H[b].cpu() if hasattr(H[b], "cpu") else H[b]) for b in LAY.names])
    dense = lambda W: _dense(W, net)
    want = _direct(full(H0), dense(head.W_KQ), dense(head.W_PV), act, 1 / 5,
                   net.token_mask(("ex",)), net.token_mask(None), causal)
    assert np.allclose(full(H1), want, atol=1e-12)


def _dense(W, net):
    M = np.zeros((net.D, net.D))
    for o, i, v in W:
        so, si = net.offsets[o], net.offsets[i]
        for r in range(so.stop - so.start):
            M[so.start + r, si.start + r] = float(v)
    return M


POS_LAY = Layout.of(("x", d), ("y", 1), ("one", 1), ("pos", 1), ("pos2", 1), ("w", d), ("p", 1))
POS_TOK = TokenFormat((TokenKind("x", (("x", "x"), ("one", "one"), ("pos", "pos"), ("pos2", "pos2"))),
                       TokenKind("y", (("y", "y"), ("one", "one"), ("pos", "pos"), ("pos2", "pos2"))),
                       TokenKind("test", (("x", "x_test"), ("one", "one"), ("pos", "pos"), ("pos2", "pos2")), False)))


def prev_head(shift=1, src="x", dst="w"):
    """score 1 - (p_t - p_j - shift)^2: selects the token `shift` places back."""
    s = shift
    return Head(BlockMap.of({("pos2", "one"): -1, ("one", "pos2"): -1, ("pos", "pos"): 2, ("pos", "one"): 2 * s,
                             ("one", "pos"): -2 * s, ("one", "one"): 1 - s * s}), BlockMap.of({(dst, src): n}))


@pytest.mark.parametrize("queries, keys, shift", [(("y",), ("x",), 1), (("test",), ("y",), 1), (("y",), None, 1),
                                                  (("test",), ("x",), 2)])
def test_positional_selection_agrees_with_the_exact_evaluator(queries, keys, shift):
    con = Construction("p", POS_LAY, POS_TOK, (Layer("L", (Attention((prev_head(shift),), keys=keys, queries=queries),)),),
                       (), (), ("test", "p"), (c, n))
    alg = Algebra()
    tin = input_template(con, alg)
    tout = Evaluator(con, alg).apply_layer(con.init[0], tin)
    assert counterexample_layers(con, alg, ["L"], tin, tout, {c: 1}, trials=4) is None
    # the test token copies x_n from y_n's predecessor chain only when shift 2 lands on x_n
    if queries == ("test",) and shift == 2:
        assert tout.get("test", "w", alg) == alg.x["n"]


def test_positional_shift_across_examples_is_not_assumed():
    # y-token t selecting the x-token of example t-1 (3 places back) has no uniform template rule
    con = Construction("p", POS_LAY, POS_TOK, (Layer("L", (Attention((prev_head(3),), keys=("x",), queries=("y",)),)),),
                       (), (), ("test", "p"), (c, n))
    alg = Algebra()
    with pytest.raises(LemmaFailure):
        Evaluator(con, alg).apply_layer(con.init[0], input_template(con, alg))
