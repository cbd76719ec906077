"""Virtual labs that stand in for real instruments: seeded, with an injectable clock and faults.

`simulators` depends only on `retort.instruments` (and, for the dataset emulator, BoTorch and the
composition parser of `retort.surrogates`): the virtual liquid handler and plate reader implement
the same backend Protocols a real robot's driver does (`robot.VirtualRobot`: the bench as a liquid-handler
backend with a robot's lifecycle and injected faults).
"""

from retort.simulators.analytic import ANALYTIC_FUNCTIONS, AnalyticLab
from retort.simulators.clock import DURATIONS, ScaledClock, VirtualClock
from retort.simulators.colour import DYES, ColourBench, Dye
from retort.simulators.robot import Faults, VirtualRobot

__all__ = ["ANALYTIC_FUNCTIONS", "DURATIONS", "DYES", "AnalyticLab", "ColourBench", "Dye", "Faults", "ScaledClock", "VirtualClock",
           "VirtualRobot"]
