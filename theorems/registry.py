"""The catalogue: theorem id -> Theorem.

A theorem is named by

* its catalogue id (``newton_k_plus_8``): a module of this package;
* a module path (``mypkg.mytheorem``), whose module defines ``THEOREM``, or
  ``mypkg.mytheorem:NAME`` for another attribute: a theorem of your own,
  checked without touching this package;
* the name of an entry point in the group ``icl_theorems.theorems`` that an
  installed distribution declares (``mytheorem = "mypkg.mytheorem:THEOREM"``).
"""
from __future__ import annotations

import importlib

MODULES = ("newton_k_plus_8", "gd_one_layer", "preconditioned_gd", "one_step_gd_optimal", "looped_multistep_pgd",
           "newton_linear_regression", "newton_schulz_two_layer",
           "logistic_newton")

ENTRY_POINT_GROUP = "icl_theorems.theorems"


class UnknownTheorem(LookupError):
    pass


class TheoremImportError(LookupError):
    """A theorem of one's own could not be loaded (its module failed to import, or holds no Theorem)."""


def entry_points() -> dict:
    """name -> entry point, for the theorems installed distributions declare."""
    import importlib.metadata as md
    try:
        eps = md.entry_points(group=ENTRY_POINT_GROUP)
    except TypeError:                      # Python < 3.10 style
        eps = md.entry_points().get(ENTRY_POINT_GROUP, ())
    return {ep.name: ep for ep in eps}


def all_theorems(external: bool = False):
    """The catalogue's theorems; with ``external``, also those installed through entry points."""
    out = [importlib.import_module(f"theorems.{m}").THEOREM for m in MODULES]
    if external:
        out += [get(name) for name in entry_points() if name not in MODULES]
    return out


def _check_theorem(obj, ref: str):
    from .base import Theorem
    if not isinstance(obj, Theorem):
        raise TheoremImportError(f"{ref} is a {type(obj).__name__}, not a theorems.base.Theorem")
    problems = validate(obj)
    if problems:
        raise TheoremImportError(f"{ref} does not declare what a check needs: " + "; ".join(problems))
    return obj


def is_catalogue(thm) -> bool:
    """Whether ``thm`` is the catalogue's own theorem of its id (not one of one's own that shares the id)."""
    return thm.id in MODULES and importlib.import_module(f"theorems.{thm.id}").THEOREM is thm


def _not_a_catalogue_id(obj, ref: str):
    """A theorem of one's own may not take a catalogue theorem's id: its records (golden, mutation scores) and
    index rows would be read as the catalogue's."""
    if obj.id in MODULES and not is_catalogue(obj):
        raise TheoremImportError(f"{ref} declares the id {obj.id!r}, which is a catalogue theorem's: give it an id "
                                 "of its own")
    return obj


def validate(thm) -> list[str]:
    """What a theorem must declare for the checks to run (empty when it is complete)."""
    out = []
    names = [v.name for v in thm.variants]
    if not thm.variants:
        out.append("no variants")
    if len(set(names)) != len(names):
        out.append("two variants share a name")
    if not thm.basis:
        out.append("no basis (the variants its verdict rests on)")
    out += [f"basis names the unknown variant {b!r}" for b in thm.basis if b not in names]
    if not {"k", "d", "n"} <= set(thm.limits) <= {"k", "d", "n", "work"}:
        out.append("limits must give k, d and n (and may give work, a bound on theorems.base.work(d, n, k))")
    for key in ("k", "d", "n", "precision", "seed"):
        if key not in thm.defaults:
            out.append(f"defaults lack {key!r}")
    for p in thm.parameters:
        if p.default not in p.policies or p.exact_policy not in p.policies:
            out.append(f"parameter {p.name}: its default and exact policies must be among its policies")
    return out


def _load(ref: str):
    """A module path (``a.b`` or ``a.b:ATTR``) -> its Theorem."""
    import importlib.util
    mod_name, _, attr = ref.partition(":")
    try:
        spec = importlib.util.find_spec(mod_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return None
    try:
        mod = importlib.import_module(mod_name)
    except Exception as e:
        from .check import save_traceback
        path = save_traceback(f"import-{mod_name}")
        raise TheoremImportError(f"importing {mod_name} failed: {type(e).__name__}: {e} (traceback in {path})") \
            from None
    attr = attr or "THEOREM"
    if not hasattr(mod, attr):
        raise TheoremImportError(f"module {mod_name} defines no {attr} (a theorems.base.Theorem)")
    return _not_a_catalogue_id(_check_theorem(getattr(mod, attr), ref), ref)


def get(theorem_id):
    """The Theorem named by a catalogue id, a module path or an entry point (a Theorem is returned as is)."""
    from .base import Theorem
    if isinstance(theorem_id, Theorem):
        return _check_theorem(theorem_id, f"theorem {theorem_id.id}")
    if theorem_id in MODULES:
        return importlib.import_module(f"theorems.{theorem_id}").THEOREM
    eps = entry_points()
    if theorem_id in eps:
        try:
            obj = eps[theorem_id].load()
        except Exception as e:
            from .check import save_traceback
            path = save_traceback(f"entry-point-{theorem_id}")
            raise TheoremImportError(f"loading the entry point {theorem_id} ({eps[theorem_id].value}) failed: "
                                     f"{type(e).__name__}: {e} (traceback in {path})") from None
        return _not_a_catalogue_id(_check_theorem(obj, f"entry point {theorem_id}"), f"entry point {theorem_id}")
    if isinstance(theorem_id, str) and theorem_id:
        thm = _load(theorem_id)          # a module of one's own (mygd, mypkg.mytheorem, mypkg.mytheorem:NAME)
        if thm is not None:
            return thm
        if "." in theorem_id or ":" in theorem_id:
            raise UnknownTheorem(f"no module {theorem_id.partition(':')[0]} to import (is its folder on the Python "
                                 "path? run from the folder above the package, or pip install it)")
    known = ", ".join(MODULES) + (f"; installed: {', '.join(eps)}" if eps else "")
    raise UnknownTheorem(f"unknown theorem '{theorem_id}' (known: {known}; or a module path such as "
                         "mypkg.mytheorem; see --list)")


def first_problem(refs) -> str | None:
    """The message of the first theorem reference that cannot be loaded (None when all load): for CLIs that
    check their arguments before running anything."""
    for ref in refs:
        try:
            get(ref)
        except (UnknownTheorem, TheoremImportError) as e:
            return str(e)
    return None
