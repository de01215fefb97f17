"""Target (iii): the default `python -m theorems.check newton_k_plus_8` (with
HTML and PDF reports) finishes in under 60 s from a cold start.  Baseline: a
cold `python -c "import sympy, numpy"`."""
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(args):
    t = time.perf_counter()
    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - t, p.returncode


if __name__ == "__main__":
    base, _ = timed([sys.executable, "-c", "import sympy, numpy"])
    with tempfile.TemporaryDirectory() as out:
        full, code = timed([sys.executable, "-m", "theorems.check", "newton_k_plus_8", "--out", out, "--quiet"])
    print(f"baseline: python -c 'import sympy, numpy': {base:.2f} s")
    print(f"default check with reports: {full:.2f} s (exit {code}); ratio = {full / base:.1f}x baseline; "
          f"target < 60 s: {'OK' if full < 60 else 'MISSED'}")
