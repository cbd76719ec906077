"""How far ahead the asynchronous schedule plans.

The asynchronous schedule plans on a thread of its own and hands out what is planned whenever an instrument
frees up. A plan started now lands only when it is computed; until then the instruments that free up take
what was queued before it, and once it lands the queue must last through the next plan. Planning one
instrument's batch ahead keeps the instruments busy only while the planner is quicker than the instruments
free up; when it is not (a slow model, many instruments, short runs), instruments wait for the planner, and
planning one batch at a time spends a model fit on every batch. `Pace` measures both in the run and asks for
enough queued and planned to cover the instruments expected to free up during two plans: one proposal for
several batches (one fit, the batch chosen jointly, every running experiment pending), and no more than the
busy instruments will take.
"""

from __future__ import annotations

import math
import statistics
from collections import deque


class Pace:
    """Measured plan and instrument-run durations of one run, and what they ask of the planner.

    `ahead(busy)`: how many experiments to hold queued and being planned while `busy` instruments run, in
    whole instrument batches of `size`: `size` times the instrument runs expected to end during two plans
    (2 x busy x plan seconds / run seconds, rounded up: the plan started now, and the next, whose
    experiments land only when it is computed), at least one batch, at most one per busy instrument.
    Before a plan and a run have been timed it is one batch.
    """

    def __init__(self, size: int, window: int = 8) -> None:
        self.size = size
        self.plan_seconds: deque[float] = deque(maxlen=window)
        self.run_seconds: deque[float] = deque(maxlen=window)

    def planned(self, seconds: float) -> None:
        self.plan_seconds.append(seconds)

    def ran(self, seconds: float) -> None:
        self.run_seconds.append(seconds)

    def ahead(self, busy: int) -> int:
        if busy <= 0:
            return 0
        if not self.plan_seconds or not self.run_seconds:
            return self.size
        plan, run = self.plan_seconds[-1], statistics.median(self.run_seconds)  # planning slows as data grows: the latest
        ending = 2 * busy * plan / run if run > 0 else busy
        return self.size * min(busy, max(1, math.ceil(ending)))
