"""A fast analytic lab: textbook test functions plus Gaussian measurement noise.

Example:
    >>> from retort.simulators import AnalyticLab, VirtualClock
    >>> lab = AnalyticLab("branin", noise_sd=0.0, seed=0, clock=VirtualClock())
    >>> round(lab.evaluate({"x1": math.pi, "x2": 2.275}), 4)
    0.3979
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from retort.simulators.clock import DURATIONS, VirtualClock
from retort.simulators.errors import SimulationInputError
from retort.simulators.molecules import OBJECTIVES as MOLECULAR


def branin(x: dict[str, float]) -> float:
    """Branin on x1 in [-5, 10], x2 in [0, 15]; global minimum 0.397887."""
    x1, x2 = x["x1"], x["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array(
    [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991], [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(x: dict[str, float]) -> float:
    """Hartmann-6 on x1..x6 in [0, 1]; global minimum -3.32237."""
    v = np.array([x[f"x{i}"] for i in range(1, 7)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (v - _H6_P) ** 2, axis=1))))


ANALYTIC_FUNCTIONS: dict[str, tuple[Callable[[dict], float], dict[str, Optional[tuple[float, float]]]]] = {
    "branin": (branin, {"x1": (-5.0, 10.0), "x2": (0.0, 15.0)}),
    "hartmann6": (hartmann6, {f"x{i}": (0.0, 1.0) for i in range(1, 7)}),
}
# GuacaMol's objectives, of one molecule given as {"smiles": ...} (`retort.simulators.molecules`)
ANALYTIC_FUNCTIONS |= {name: (lambda x, f=f: f(x["smiles"]), {"smiles": None}) for name, f in MOLECULAR.items()}


class AnalyticLab:
    """Evaluates a named test function with seeded Gaussian noise; each call takes simulated time.

    Args:
        function: a key of `ANALYTIC_FUNCTIONS`.
        noise_sd: standard deviation of the additive measurement noise.
        nan_calls: zero-based call numbers that return NaN (fault injection).
    """

    def __init__(self, function: str, noise_sd: float, seed: int, clock: VirtualClock, nan_calls: set[int] | None = None) -> None:
        if function not in ANALYTIC_FUNCTIONS:
            raise SimulationInputError(f"unknown analytic function {function!r}; choose from {sorted(ANALYTIC_FUNCTIONS)}")
        self.function, self.domain = ANALYTIC_FUNCTIONS[function]
        self.noise_sd = noise_sd
        self.rng = np.random.default_rng(seed)
        self.clock = clock
        self.nan_calls = set(nan_calls or ())
        self.calls = 0

    def evaluate(self, x: dict[str, float]) -> float:
        missing = sorted(set(self.domain) - set(x))
        if missing:
            raise SimulationInputError(f"analytic lab needs parameters {sorted(self.domain)}; missing {missing}")
        self.clock.sleep(DURATIONS["evaluate"])
        call, self.calls = self.calls, self.calls + 1
        if call in self.nan_calls:
            return float("nan")
        return self.function(x) + self.noise_sd * float(self.rng.standard_normal())
