"""Target (iii): the default `python -m theorems.check ID` of every theorem (with
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
    sys.path.insert(0, ROOT)
    from theorems.registry import MODULES
    base, _ = timed([sys.executable, "-c", "import sympy, numpy"])
    print(f"baseline: python -c 'import sympy, numpy': {base:.2f} s")
    for tid in (sys.argv[1:] or MODULES):
        with tempfile.TemporaryDirectory() as out:
            full, code = timed([sys.executable, "-m", "theorems.check", tid, "--out", out, "--quiet"])
        print(f"{tid}: default check with reports: {full:.2f} s (exit {code}); ratio = {full / base:.1f}x baseline; "
              f"target < 60 s: {'OK' if full < 60 else 'MISSED'}")
