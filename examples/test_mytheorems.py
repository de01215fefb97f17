"""What a researcher puts in their own CI: their construction, checked with the pytest helper.

    cd examples && python -m pytest test_mytheorems.py
"""
import pytest

from theorems.testing import assert_theorem_refuted, assert_theorem_verified


def test_gd_with_weight_decay_is_verified():
    assert_theorem_verified("mytheorems.gd_weight_decay", k=3, d=4, n=6)


def test_the_wrong_variant_is_refuted_at_the_step_layer():
    assert_theorem_refuted("mytheorems.gd_weight_decay", variant="decay-after-update", k=2, d=3, n=4,
                           where={"layer": "GD-wd"})


def test_a_failing_check_shows_the_located_message():
    with pytest.raises(AssertionError) as err:
        assert_theorem_verified("mytheorems.gd_weight_decay", variant="decay-after-update", k=2, d=3, n=4)
    msg = str(err.value)
    assert "REFUTED" in msg and "at stage step, layer GD-wd" in msg and "first differing term" in msg, msg


def test_the_golden_record_holds():
    assert_theorem_verified("mytheorems.gd_weight_decay", golden="mytheorems/golden/gd_weight_decay.json",
                            k=3, d=3, n=5, seed=0)
