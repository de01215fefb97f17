"""Progress inside a long check: the certified run reports its steps (and the logistic scaling claim its
eps) through Run.note, rate-limited by check._Ticker; nothing is shown without a progress callback."""
import time

from theorems import check


class _Eager(check._Ticker):
    def __init__(self, say, prefix, after=0.0, every=0.0):
        super().__init__(say, prefix, after=0.0, every=0.0)


def test_a_long_certified_check_reports_its_steps(monkeypatch):
    monkeypatch.setattr(check, "_Ticker", _Eager)
    seen = []
    r = check.verify("gd_one_layer", k=3, d=3, n=5, progress=seen.append)
    assert r.verdict == "verified"
    steps = [m for m in seen if "certified at realistic size: step" in m]
    assert any("step 3 of 3" in m and "bit balls" in m for m in steps), seen


def test_the_ticker_waits_and_rate_limits():
    out = []
    t = check._Ticker(out.append, "v: c", after=0.05, every=10.0)
    t("early")
    time.sleep(0.06)
    t("late")
    t("too soon")
    assert out == ["v: c: late"]
