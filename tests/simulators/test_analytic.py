import math

import pytest

from retort.simulators import AnalyticLab, VirtualClock
from retort.simulators.analytic import hartmann6


def test_branin_minimum_and_seeded_noise():
    clock = VirtualClock()
    exact = AnalyticLab("branin", 0.0, seed=0, clock=clock)
    assert exact.evaluate({"x1": math.pi, "x2": 2.275}) == pytest.approx(0.397887, abs=1e-5)
    a = [AnalyticLab("branin", 1.0, seed=5, clock=VirtualClock()).evaluate({"x1": 0, "x2": 0}) for _ in range(2)]
    assert a[0] == a[1]
    assert clock.now() > 0


def test_hartmann6_minimum():
    x = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]
    assert hartmann6({f"x{i + 1}": v for i, v in enumerate(x)}) == pytest.approx(-3.32237, abs=1e-4)


def test_unknown_function_and_missing_parameter():
    with pytest.raises(ValueError, match="unknown analytic function 'nope'"):
        AnalyticLab("nope", 0.0, seed=0, clock=VirtualClock())
    with pytest.raises(ValueError, match=r"missing \['x2'\]"):
        AnalyticLab("branin", 0.0, seed=0, clock=VirtualClock()).evaluate({"x1": 1})
