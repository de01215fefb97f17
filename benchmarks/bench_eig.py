"""The spectrum of S = X'X at a certified check's precision: python-flint's QR iteration (numeric.backends.
eigvalsh, what the checks use) against mpmath's Jacobi method (numeric.backends.eigh, the baseline, which the
checks used before), in the same run, on the same exact matrix; the two spectra must agree to the precision.

    python benchmarks/bench_eig.py [d] [n] [bits]      # default 60 120 176
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if __name__ == "__main__":
    import mpmath

    from numeric.backends import eigh, eigvalsh
    from numeric.data import exact_moments, gaussian
    d, n, bits = (int(a) for a in (sys.argv[1:] + ["60", "120", "176"][len(sys.argv[1:]):]))
    S, _ = exact_moments(gaussian(d, n, 0))
    rows = S.tolist()
    t = time.perf_counter()
    fast = eigvalsh(rows, bits)
    t_fast = time.perf_counter() - t
    t = time.perf_counter()
    slow = eigh(rows, bits)[0]
    t_slow = time.perf_counter() - t
    with mpmath.mp.workprec(bits):
        gap = max(abs(a - b) for a, b in zip(fast, slow)) / max(abs(v) for v in slow)
    print(f"d = {d}, n = {n}, {bits} bits: flint {t_fast:.2f} s, mpmath (baseline) {t_slow:.2f} s, ratio "
          f"{t_fast / t_slow:.3f}; largest difference / lambda_max = {float(gap):.2e} (2^-bits/2 = {2.0 ** (-bits / 2):.1e})")
