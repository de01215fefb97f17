"""Target (i): the all-k symbolic proof in under 10 s.  Baseline: sympy
expanding k Newton steps explicitly on a MatrixSymbol (what induction avoids)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sympy as sp

from symbolic import lemmas
from symbolic.templates import Algebra
from theorems.registry import all_theorems


def proof_time():
    """Every variant's all-k induction, for every theorem of the catalogue."""
    t = time.perf_counter()
    count = 0
    for thm in all_theorems():
        for v in thm.variants:
            alg = Algebra()
            con = v.build()
            c = next((c for c in v.claims(con, alg) if c.kind == "induction"), None)
            if c is not None:
                lemmas.induction(con, alg, c.spec.recursion)
                count += 1
    return time.perf_counter() - t, count


def expansion_time(k):
    S = sp.MatrixSymbol("S", 3, 3)
    a = sp.Symbol("alpha")
    M = a * S.as_explicit()
    Se = S.as_explicit()
    t = time.perf_counter()
    for _ in range(k):
        M = (2 * M - M * Se * M).expand()
    return time.perf_counter() - t


def _expand_in_child(k, conn):
    conn.send(expansion_time(k))


if __name__ == "__main__":
    import multiprocessing as mp
    p, count = proof_time()
    print(f"all-k induction, {count} variants of the whole catalogue: {p:.3f} s "
          f"(target < 10 s: {'OK' if p < 10 else 'MISSED'})")
    for k in (1, 2, 3):
        parent, child = mp.Pipe()
        proc = mp.Process(target=_expand_in_child, args=(k, child))
        proc.start()
        proc.join(30)
        if proc.is_alive():
            proc.terminate()
            print(f"baseline: explicit expansion of k={k} steps at d=3: > 30 s (stopped); ratio proof/expansion < {p / 30:.3g}")
            break
        e = parent.recv()
        print(f"baseline: explicit expansion of k={k} steps at d=3: {e:.3f} s; ratio proof/expansion = {p / e:.3g}")
