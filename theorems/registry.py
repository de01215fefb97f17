"""The catalogue: theorem id -> Theorem."""
from __future__ import annotations

import importlib

MODULES = ("newton_k_plus_8", "gd_one_layer", "preconditioned_gd", "one_step_gd_optimal", "looped_multistep_pgd",
           "newton_linear_regression", "newton_schulz_two_layer",
           "logistic_newton")


class UnknownTheorem(LookupError):
    pass


def all_theorems():
    return [importlib.import_module(f"theorems.{m}").THEOREM for m in MODULES]


def get(theorem_id: str):
    for m in MODULES:
        if m == theorem_id:
            return importlib.import_module(f"theorems.{m}").THEOREM
    raise UnknownTheorem(f"unknown theorem '{theorem_id}' (known: {', '.join(MODULES)}; see --list)")
