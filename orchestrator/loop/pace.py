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

Which instruments are expected to free up is read from when each began its run, not from an average rate:
instruments that started together finish together (the initial design's batches, handed out at once), so
when the first of them frees up the others are due as well, and the plan started then is for all of them.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable


class Pace:
    """Measured plan and instrument-run durations of one run, and what they ask of the planner.

    `ahead(began, now)`: how many experiments to hold queued and being planned while instruments run that
    began at the (monotonic) times `began`, in whole instrument batches of `size`: a batch for each busy
    instrument whose run is expected to end within two plans from `now` (it began, plus the median run, is at
    most `now` + 2 x the longest recent plan: the plan started now, and the next, whose experiments land only
    when it is computed), at least one batch, at most one per busy instrument. Before a plan and a run have
    been timed it is one batch.

    The longest recent plan, not the latest: a plan for several batches takes longer than one for one batch
    (measured on the colour match: 2.9 s for 4 experiments, 6.1 s for 12), and the latest may have been a small
    one when the instruments coming due next need a large one.
    """

    def __init__(self, size: int, window: int = 8) -> None:
        self.size = size
        self.plan_seconds: deque[float] = deque(maxlen=window)
        self.run_seconds: deque[float] = deque(maxlen=window)

    def planned(self, seconds: float) -> None:
        self.plan_seconds.append(seconds)

    def ran(self, seconds: float) -> None:
        self.run_seconds.append(seconds)

    def ahead(self, began: Iterable[float], now: float) -> int:
        began = list(began)
        if not began:
            return 0
        if not self.plan_seconds or not self.run_seconds:
            return self.size
        plan, run = max(self.plan_seconds), statistics.median(self.run_seconds)  # window: planning slows as data grows
        ending = sum(start + run <= now + 2 * plan for start in began)
        return self.size * max(1, ending)
