"""icl-theorems: check published "a transformer implements this algorithm in
context" theorems, for every size.

>>> import theorems
>>> result = theorems.verify("newton_k_plus_8", k=5)
>>> result.verdict
'verified'
"""
from __future__ import annotations


def verify(theorem_id: str, **options):
    from .check import verify as _verify
    return _verify(theorem_id, **options)


def catalogue():
    from .registry import all_theorems
    return all_theorems()


__all__ = ["verify", "catalogue"]
