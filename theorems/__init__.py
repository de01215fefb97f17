"""icl-theorems: check published "a transformer implements this algorithm in
context" theorems, for every size.

>>> import theorems
>>> result = theorems.verify("newton_k_plus_8", k=5)
>>> result.verdict
'verified'
"""
from __future__ import annotations


def verify(theorem_id, k=None, d=None, n=None, precision=None, seed=None, variant=None, data=None,
           progress=None, precision_cap=None, **parameters):
    """Check every claim of a theorem and return a ``Result``.

    theorem_id     an id of the catalogue (``theorems.catalogue()`` lists them), a module path of your own
                   (``"mypkg.mytheorem"``, whose module defines ``THEOREM``; or ``"mypkg.mytheorem:NAME"``), an
                   entry point of the group ``icl_theorems.theorems``, or a ``theorems.api.Theorem`` itself
    k              iterations (layers) of the construction, within the theorem's limits
    d, n           dimension and number of examples of the numeric checks
    precision      bits of the certified ball arithmetic (default max(256, 96 + 8k))
    precision_cap  an undecided certified check is repeated at doubled precision up to this (default 8192)
    seed           seed of the sampled data
    variant        check one construction variant alone
    data           your prompt: an .npz path, arrays (X, y, x_test) (numpy or torch), or a dict with those keys
    progress       a callable receiving one line per check as it starts
    parameters     the theorem's parameters by name, e.g. alpha="paper" for newton_k_plus_8 or eta=0.5 for
                   gd_one_layer: a policy name or a positive number

    A bad option raises ``theorems.check.UsageError`` naming the parameter.  ``Result.verdict`` is
    "verified", "refuted", "inconclusive" or "error"; ``Result.save(dir)`` writes the JSON and reports."""
    from .check import verify as _verify
    return _verify(theorem_id, k=k, d=d, n=n, precision=precision, seed=seed, variant=variant, data=data,
                   progress=progress, precision_cap=precision_cap, **parameters)


def catalogue():
    from .registry import all_theorems
    return all_theorems()


__all__ = ["verify", "catalogue"]
