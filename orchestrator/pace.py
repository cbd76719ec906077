"""How far ahead the asynchronous schedule plans.

While every instrument is busy, the schedule plans the next experiments ahead, for the first instrument to
free up. Planning one instrument's batch ahead keeps the instruments busy only while the planner is quicker
than the instruments free up; when it is not (a slow model, many instruments, short runs), instruments wait
for the planner, and planning one batch at a time spends a model fit on every batch. `Pace` measures both in
the run and asks for enough ahead to cover the instruments expected to free up while the next plan is
computed: one proposal for several batches (one fit, the batch chosen jointly, every running experiment
pending), and no more than the busy instruments will take.
"""

from __future__ import annotations

import math
import statistics
from collections import deque


class Pace:
    """Measured plan and instrument-run durations of one run, and what they ask of the planner.

    `ahead(busy)`: how many experiments to hold planned (queued) while `busy` instruments run, in whole
    instrument batches of `size`: `size` times the instrument runs expected to end during one plan
    (busy x plan seconds / run seconds, rounded up), at least one batch, at most one per busy instrument.
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
        ending = busy * plan / run if run > 0 else busy
        return self.size * min(busy, max(1, math.ceil(ending)))
