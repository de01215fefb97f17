"""Target (ii): the certified full-network check (ball arithmetic, every layer,
d=20, n=40, k=12, 256 bits) is no slower than a plain mpmath Newton recursion
at the same precision."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sympy as sp

from numeric import checks
from numeric.backends import MPBackend
from numeric.data import gaussian
from numeric.recursions import moments, newton
from symbolic.templates import Algebra
from theorems.newton_k_plus_8 import THEOREM, alpha

D, N, K, BITS = 20, 40, 12, 256


def main():
    data = gaussian(D, N, seed=0)
    a = sp.Rational(1, 10**6)
    be = MPBackend(BITS)
    t = time.perf_counter()
    with be.precision(BITS):
        S, _ = moments(data.X, data.y, be)
        newton(S, be.num(a), K, be)
    base = time.perf_counter() - t
    print(f"baseline: mpmath Newton recursion alone, d={D}, k={K}, {BITS} bits: {base:.3f} s")
    for name in ("exact", "exact-paper-format", "corrected"):
        v = THEOREM.variant(name)
        alg = Algebra()
        con = v.build()
        c = next(c for c in v.claims(con, alg) if c.kind == "certified")
        for each in (False, True):
            t = time.perf_counter()
            o, _ = checks.certified(con, c.spec.recursion, data, K, {alpha: a}, BITS, readout_each=each)
            dt = time.perf_counter() - t
            what = "plus a readout after every layer (report table)" if each else "every layer's carrier, final prediction"
            print(f"certified full network ({name}, {what}; {o.verdict}): {dt:.3f} s; "
                  f"ratio certified/baseline = {dt / base:.3f}" + ("" if each else
                  f" ({'OK' if dt <= base else 'MISSED'}: target <= 1)"))


if __name__ == "__main__":
    main()
