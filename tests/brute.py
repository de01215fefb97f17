"""Brute-force references the tests compare the engines with (independent of them)."""
import sympy as sp


def std_normal_expectation(expr, zs):
    """E[expr] for zs iid N(0,1): expand into monomials and use
    E z^k = (k-1)!! (k even), 0 (k odd).  Independent of the engine."""
    P = sp.Poly(sp.expand(expr), *zs)
    total = sp.Integer(0)
    for mon, c in P.terms():
        m = sp.Integer(1)
        for k in mon:
            if k % 2:
                m = 0
                break
            m *= sp.factorial2(k - 1)
        total += c * m
    return total
