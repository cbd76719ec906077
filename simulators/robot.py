"""The virtual robot: the virtual bench as a liquid-handler backend with the same lifecycle as a real robot
(`retort.instruments.protocols.LiquidHandlerBackend`), and the faults it injects on purpose (`Faults`).

`submit` arms a run (nothing moves), `start` may refuse it before anything moves, `collect` dispenses it on the
bench (taking the bench clock's time) and reports it; a run that dies with the process driving it cannot be
accounted for afterwards (`recover` reports its experiments failed, or not started if it never started).

Each run's fault is drawn from the seed, the deck, the run's label and the attempt, so a campaign injects the
same faults wherever it runs:

- transient: the robot refuses the run before anything moves (a dropped connection): `RunRefused`;
- hard: the robot breaks down after the first transfer of one experiment;
- hang: the robot stops answering there; the run's deadline (`deadline` times its planned duration, at least
  `MIN_DEADLINE` s) passes, and it is stopped and collected.

Both leave the report's `out_of_service` saying why. The log (`log`) is the robots' own record, written around
every run and kept on disk (fsync): a ``start`` line per experiment before anything moves, then what became of
it. A soak test checks the store against it.

Example:
    >>> from retort.simulators import ColourBench, VirtualClock
    >>> robot = VirtualRobot(ColourBench(seed=0, clock=VirtualClock()))
    >>> robot.name
    'virtual'
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

from retort.instruments.deck import DeckConfig
from retort.instruments.errors import RunLost, RunRefused
from retort.instruments.plan import ExperimentReport, Plan, RunReport, Touched
from retort.instruments.protocols import Submission
from retort.simulators.colour import ColourBench

MIN_DEADLINE = 2.0  # s of wall-clock time


@dataclass(frozen=True)
class Faults:
    """What the virtual robot does wrong on purpose: probabilities per run (transient, hard, hang), the hang deadline
    (times the run's planned duration) and the robots' own log file."""

    transient: float = 0.0
    hard: float = 0.0
    hang: float = 0.0
    deadline: float = 3.0
    log: Optional[str] = None
    seed: int = 0

    def draw(self, deck: str, label: str, attempt: int) -> tuple[Optional[str], int]:
        """The fault of one try of a run (None, 'transient', 'hard' or 'hang') and the index of the experiment it strikes."""
        rng = random.Random(f"{self.seed}:{deck}:{label}:{attempt}")
        u, index = rng.random(), rng.randrange(1 << 16)
        for kind, p in (("transient", self.transient), ("hard", self.hard), ("hang", self.hang)):
            if u < p:
                return kind, index
            u -= p
        return None, index


@dataclass
class _Run:
    plan: Plan
    fault: Optional[str] = None
    struck: Optional[int] = None
    state: str = "armed"  # armed -> started -> dispensing -> collected
    stopped: bool = False
    report: Optional[RunReport] = None
    attempts: int = field(default=0)


class VirtualRobot:
    """The virtual bench's liquid handler, run by the backend lifecycle; `deck` names it in the log and in fault draws."""

    def __init__(self, bench: ColourBench, deck: str = "virtual", faults: Faults = Faults()) -> None:
        self.bench, self.deck, self.faults = bench, deck, faults
        self.name = "virtual"
        self.identity = None  # exists only in this process: its deck, in its store, names it
        self._runs: dict[str, _Run] = {}  # by label: runs this process submitted
        self._attempts: dict[str, int] = {}  # by label: starts tried so far
        self._lock = threading.Lock()

    def setup(self, deck: DeckConfig) -> None:
        pass  # the bench is always there

    def teardown(self) -> None:
        pass

    def submit(self, plan: Plan, label: str) -> Submission:
        label = label or f"run-{len(self._runs) + 1}"
        with self._lock:
            self._runs[label] = _Run(plan=plan)
        return Submission(run_id=label, title=f"virtual {self.deck} plate {plan.plate} experiments {[e.seq for e in plan.experiments]}",
                          durable=False)

    def held(self, submission: Submission) -> bool:
        return submission.run_id in self._runs

    def start(self, submission: Submission) -> None:
        run = self._run(submission)
        attempt = self._attempts[submission.run_id] = self._attempts.get(submission.run_id, -1) + 1
        run.fault, index = self.faults.draw(self.deck, submission.run_id, attempt)
        if run.fault == "transient":
            self._log(run.plan, submission, [{"event": "refused", "seq": e.seq, "attempt": attempt} for e in run.plan.experiments])
            raise RunRefused(f"virtual robot {self.deck}: the connection dropped before lab run {submission.run_id} started "
                             "(fault injection); nothing moved")
        run.struck = run.plan.experiments[index % len(run.plan.experiments)].seq
        run.state = "started"

    def collect(self, plan: Plan, submission: Submission, timeout: Optional[float] = None) -> RunReport:
        """Dispense the started run on the bench (under its hang deadline) and report it; a run interrupted while
        dispensing cannot be collected again (`RunLost`)."""
        run = self._run(submission)
        if run.report is not None:
            return run.report
        if run.state != "started":
            raise RunLost(f"virtual robot {self.deck}: run {submission.run_id} was {run.state} when its process was interrupted; "
                          "what it dispensed is unknown")
        if run.stopped:  # stopped before it dispensed anything
            run.state, run.report = "collected", RunReport(
                backend="virtual", run_id=submission.run_id, status="stopped", error="stopped by the operator before it started",
                experiments=tuple(ExperimentReport(seq=e.seq, status="not_started") for e in plan.experiments), touched=Touched())
            return run.report
        run.state = "dispensing"
        if run.fault == "hard":
            self.bench.failing.add(run.struck)
        elif run.fault == "hang":
            self.bench.hang_at = run.struck
        self._log(plan, submission, [{"event": "start", "seq": e.seq} for e in plan.experiments])
        try:
            report, stopped = self._watched(plan)
        finally:
            if run.fault == "hard":
                self.bench.failing.discard(run.struck)
        self._log(plan, submission, [{"event": e.status, "seq": e.seq, "dispensed": {d.liquid: d.volume for d in e.dispensed}}
                                     for e in report.experiments])
        if stopped is not None:
            report = report.model_copy(update={"out_of_service": f"it stopped answering during lab run {submission.run_id}; its "
                                                                  f"{stopped:.0f} s deadline passed and it was stopped (fault injection)"})
        elif run.fault == "hard":
            report = report.model_copy(update={"out_of_service": f"it broke down during lab run {submission.run_id} (fault injection)"})
        run.state, run.report = "collected", report.model_copy(update={"run_id": submission.run_id})
        return run.report

    def stop(self, submission: Submission) -> None:
        """A run not yet dispensing never will; one dispensing stops after the experiment it is on."""
        run = self._runs.get(submission.run_id)
        if run is not None and run.state in ("armed", "started"):
            run.stopped = True
        elif run is not None and run.state == "dispensing":
            self.bench.halt.set()

    def recover(self, plan: Plan, submission: Submission, started: bool) -> RunReport:
        """The bench's wells die with the process that drove it: a run recorded as started is reported failed (what it
        dispensed is unknown), one never started as not started."""
        status, why = ("failed", "the virtual robot's run ended with the process that drove it; what it dispensed is unknown") if started \
            else ("not_started", None)
        return RunReport(backend="virtual", run_id=submission.run_id, status="failed" if started else "stopped", error=why,
                         experiments=tuple(ExperimentReport(seq=e.seq, status=status, error=why) for e in plan.experiments),
                         touched=None if started else Touched())

    # -- helpers ----------------------------------------------------------------------------
    def _run(self, submission: Submission) -> _Run:
        run = self._runs.get(submission.run_id)
        if run is None:
            raise RunLost(f"virtual robot {self.deck}: no run {submission.run_id!r} was submitted in this process")
        return run

    def _watched(self, plan: Plan) -> tuple[RunReport, Optional[float]]:
        """Run `plan` on the bench under a deadline; returns its report and, if the deadline passed and the bench was
        stopped, the deadline (s)."""
        scale = getattr(self.bench.clock, "scale", 0.0)
        deadline = max(MIN_DEADLINE, self.faults.deadline * self.bench.estimate(plan) * scale)
        outcome: dict[str, object] = {}

        def work() -> None:
            try:
                outcome["report"] = self.bench.run(plan)
            except BaseException as exc:  # handed to the caller's thread
                outcome["error"] = exc

        self.bench.halt.clear()
        worker = threading.Thread(target=work, name="virtual-robot", daemon=True)
        worker.start()
        worker.join(deadline)
        stopped = None
        if worker.is_alive():
            self.bench.halt.set()  # the operator's stop
            worker.join()
            stopped = deadline
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["report"], stopped  # type: ignore[return-value]

    def _log(self, plan: Plan, submission: Submission, lines: list[dict]) -> None:
        """Append records to the robots' log (with where each experiment runs) and make sure they are on disk."""
        if not self.faults.log:
            return
        wells = {e.seq: e.well.well for e in plan.experiments}
        with open(self.faults.log, "a", encoding="utf-8") as f:
            for line in lines:
                where = {"deck": self.deck, "plate": plan.plate, "well": wells[line["seq"]], "lab_run": submission.run_id}
                f.write(json.dumps(line | where | {"time": time.time()}) + "\n")
            f.flush()
            os.fsync(f.fileno())
