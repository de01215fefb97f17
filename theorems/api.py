"""Everything a theorem of your own declares, in one import.

    from theorems.api import *

A theorem module defines ``THEOREM = Theorem(...)``: a layout of named
residual-stream blocks, a token format, layers (attention heads and MLPs whose
weights are block maps with exact coefficients), variants (each a construction
and its claims) and the theorem-level claims.  ``python -m theorems.check
mypkg.mytheorem`` then runs the symbolic, exact, certified and float64 checks
and writes the report, the JSON and (with ``python -m theorems.golden``) the
golden record; ``python -m theorems.mutate mypkg.mytheorem`` scores the checks
by mutation; ``theorems.testing.assert_theorem_verified`` puts it in your CI.
``examples/mytheorems/gd_weight_decay.py`` is a complete example.
"""
from __future__ import annotations

import sympy as sp

from numeric.checks import Recursion
from numeric.recursions import gd_step, newton_step
from symbolic.layers import (MLP, Attention, Bilinear, BlockMap, Construction, ExampleLetter, Head, Layer, Linear,
                             MatrixLetter, TokenFormat, TokenKind, letter)
from symbolic.layout import Layout, d, m
from symbolic.templates import Template
from theorems.base import Claim, Parameter, ParameterError, Policy, Theorem, Variant
from theorems.gd_support import example_parameter, matrix_parameter, step_size
from theorems.kinds import (Architecture, Certified, ClosedForm, ClosedFormAllK, Composition, Float64Batch, Induction,
                            LayerCount, LayerMaps, Width, network_claims)

n = sp.Symbol("n", positive=True, integer=True)     # the number of examples, as the engines name it
k = sp.Symbol("k")                                  # the number of step layers, in layer-count claims

__all__ = ["MLP", "Attention", "Bilinear", "BlockMap", "Construction", "ExampleLetter", "Head", "Layer", "Linear",
           "MatrixLetter", "example_parameter",
           "TokenFormat", "TokenKind", "letter", "Layout", "d", "m", "n", "k", "Template", "Recursion", "gd_step",
           "newton_step", "Claim", "Parameter", "ParameterError", "Policy", "Theorem", "Variant", "matrix_parameter",
           "step_size", "Architecture", "Certified", "ClosedForm", "ClosedFormAllK", "Composition", "Float64Batch",
           "Induction", "LayerCount", "LayerMaps", "Width", "network_claims", "constant", "sp"]


def constant(symbol, value, why: str) -> Parameter:
    """A parameter fixed to one exact positive value (a weight decay, a momentum): ``value`` a number or
    a string such as "1/10"; a positive number on the command line replaces it."""
    q = sp.Rational(str(value))
    if not q > 0:
        raise ValueError(f"{symbol}: a constant parameter must be positive, got {value}")

    def batch(S, n_):
        return S.new_full(S.shape[:1], float(q))

    return Parameter(symbol, why, {"fixed": Policy(str(q), why, lambda data, bits: q, batch)}, "fixed", "fixed")
