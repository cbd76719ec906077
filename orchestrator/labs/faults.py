"""What the virtual robots do wrong on purpose (`lab.faults`), how their runs are watched, and their own log.

Each robot run draws at most one fault from the campaign's seed, the deck and the run (and the attempt,
for a run tried again), so a campaign injects the same faults wherever it runs:

- transient: the robot refuses the run before anything moves (a dropped connection): `LabTransient`;
- hard: the robot breaks down after the first transfer of one experiment;
- hang: the robot stops answering there; the run's deadline (`faults.deadline` times its planned
  duration, at least `MIN_DEADLINE` s) passes, the lab stops it and collects what it did.

The log (`faults.log`) is the robots' own record, written around every run and kept on disk (fsync):
a ``start`` line per experiment before anything moves, then what became of it. A soak test checks the
store against it.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from typing import Optional

from retort.instruments.plan import Plan, RunReport
from retort.orchestrator.campaign import VirtualFaults
from retort.simulators import ColourBench

MIN_DEADLINE = 2.0  # s of wall-clock time


def draw(faults: VirtualFaults, seed: int, deck: str, run_id: int, attempt: int) -> tuple[Optional[str], int]:
    """The fault of one try of a run (None, 'transient', 'hard' or 'hang') and the index of the experiment it strikes."""
    rng = random.Random(f"{seed}:{deck}:{run_id}:{attempt}")
    u, index = rng.random(), rng.randrange(1 << 16)
    for kind, p in (("transient", faults.transient), ("hard", faults.hard), ("hang", faults.hang)):
        if u < p:
            return kind, index
        u -= p
    return None, index


def watched_run(bench: ColourBench, plan: Plan, factor: float) -> tuple[RunReport, Optional[float]]:
    """Run `plan` on the bench under a deadline; returns its report and, if the deadline passed and the
    bench was stopped, the deadline (s)."""
    scale = getattr(bench.clock, "scale", 0.0)
    deadline = max(MIN_DEADLINE, factor * bench.estimate(plan) * scale)
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["report"] = bench.run(plan)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    bench.halt.clear()
    worker = threading.Thread(target=work, name="virtual-robot", daemon=True)
    worker.start()
    worker.join(deadline)
    stopped = None
    if worker.is_alive():
        bench.halt.set()  # the operator's stop
        worker.join()
        stopped = deadline
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["report"], stopped  # type: ignore[return-value]


def log_lines(path: str, lines: list[dict]) -> None:
    """Append records to the robots' log and make sure they are on disk before going on."""
    with open(path, "a", encoding="utf-8") as f:
        for line in lines:
            f.write(json.dumps(line | {"time": time.time()}) + "\n")
        f.flush()
        os.fsync(f.fileno())
