"""The asynchronous schedule: whenever instruments are free each gets up to `batch_size` approved open
experiments at once, and planning runs on a thread of its own so that handing out what is planned never waits
for a plan (`AsyncSchedule`)."""

from __future__ import annotations

import contextvars
import logging
import math
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Optional

from retort.orchestrator.campaign.lifecycle import OPEN
from retort.orchestrator.decisions.approvals import settle_overdue
from retort.orchestrator.errors import InstrumentDown, LabError, RetortError
import retort.orchestrator.loop.waits as waits
from retort.orchestrator.loop.batch import chunks, in_service, merge
from retort.orchestrator.loop.budget import next_iteration, open_experiments, plannable, unallocated
from retort.orchestrator.loop.waits import awaiting, control, wait_for_decisions, wait_while_paused
from retort.orchestrator.loop.learning import run_learned
from retort.orchestrator.loop.pace import Pace
from retort.orchestrator.loop.run import CampaignRun
from retort.orchestrator.loop.steps import PLAIN, RecordOutcome, Steps

log = logging.getLogger(__name__)


class AsyncSchedule:
    """Runs a campaign on the asynchronous schedule (`run`).

    Whenever no plan is being computed, the next is started for the free instruments and for those expected to
    free up while it is computed, measured in the run (`Pace`), in one proposal (every open and running
    experiment passed as pending); its experiments are stored, approved, for the first instruments to free up.
    So no instrument waits for another's batch, and none for the planner while the planner keeps up. Gives out
    nothing new while an operator has the campaign paused. Stops giving out work at the budget, at the first
    failure, when an operator stops the campaign or when `should_stop()`; always waits for the plan and the
    instruments still running, then raises the first error (or a `LabError` naming the failed experiments).

    Args:
        run: the campaign run.
        steps: the loop's steps (plain functions, Prefect tasks, or wrapped by a benchmark).
        should_stop: asked between passes; true ends the run once what is running is done.
        last_iteration: plan no proposal numbered above it (what is planned still runs).
    """

    def __init__(self, run: CampaignRun, steps: Steps = PLAIN, should_stop: Callable[[], bool] = lambda: False,
                 last_iteration: Optional[int] = None) -> None:
        self.run, self.steps, self.should_stop, self.last_iteration = run, steps, should_stop, last_iteration
        self.ref, self.size = run.ref, run.campaign.batch_size
        self.free = in_service(run)  # instruments with nothing to do
        self.busy: dict[Future, tuple[str, list[int]]] = {}  # each instrument run under way: its instrument and experiments
        self.began: dict[Future, float] = {}  # when each began (monotonic)
        self.given: set[int] = set()  # numbers handed to an instrument that has not finished
        self.pace = Pace(self.size)  # how far ahead to plan (`pace.py`)
        self.planning: Optional[Future] = None  # the plan being computed, if one is
        self.outcomes: list[RecordOutcome] = []
        self.error: Optional[BaseException] = None
        self._instruments: Optional[ThreadPoolExecutor] = None
        self._planner: Optional[ThreadPoolExecutor] = None

    # -- what the state says --------------------------------------------------------------
    def queued(self, n: int) -> list[int]:
        """Open experiments not handed out: approved ones (and, with `approval: auto` while no plan is computed,
        proposed ones left by a run that stopped before approving them)."""
        ready = ("approved",) if self.run.approval_required or self.planning is not None else OPEN
        return [e.seq for e in open_experiments(self.run) if e.seq not in self.given and e.status in ready][:n]

    def stopping(self) -> bool:
        return self.should_stop() or control(self.run) == "stopped"

    def giving(self) -> bool:
        """New work is handed out: not stopping, not paused by an operator."""
        return not self.stopping() and control(self.run) == "run"

    def may_plan(self) -> bool:
        if run_learned(self.run):  # a learn campaign is over
            return False
        return self.last_iteration is None or next_iteration(self.run) <= self.last_iteration

    # -- what it does ---------------------------------------------------------------------
    def run_schedule(self) -> RecordOutcome:
        """Run until the work ends (see the class); returns what was measured and failed."""
        self._instruments = ThreadPoolExecutor(max_workers=len(self.run.labs), thread_name_prefix="retort-instrument")
        self._planner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retort-planner")
        try:
            while self._step():
                pass
        finally:
            self._planner.shutdown(wait=True, cancel_futures=True)
            self._instruments.shutdown(wait=True, cancel_futures=True)
        if self.error is not None:
            raise self.error
        return merge(self.outcomes)

    def _step(self) -> bool:
        """One pass: take a finished plan, hand out work, start a plan, then wait for something to finish. False: done."""
        if self.planning is not None and self.planning.done():
            finished, self.planning = self.planning, None
            finished.result()  # a planning error ends the run (once the instruments' runs end)
        self._hand_out()
        undecided = awaiting(self.run)
        if self.planning is None and self.error is None and self.giving() and not undecided:
            self.planning = self._start_plan()
        if not self.busy and self.planning is None:
            return self._idle(undecided)
        waited = set(self.busy) | ({self.planning} if self.planning is not None else set())
        timeout = waits.DECISION_POLL if undecided or not self.giving() else None
        finished, _ = wait(waited, timeout=timeout, return_when=FIRST_COMPLETED)
        for future in finished:
            if future is not self.planning:  # a plan is taken at the top of the next pass
                self._collect(future)
        return True

    def _hand_out(self) -> None:
        """Each free instrument a share of what is queued."""
        while self.free and self.error is None and self.giving():
            if self.run.approval_required:
                settle_overdue(self.run.campaign, self.run.store, self.run.record.id)
            seqs = self.queued(self.size * len(self.free))
            seqs = self.steps.approve(self.ref, seqs) if seqs else []
            if not seqs:
                return
            for instrument, part in chunks(seqs, list(self.free), self.size):
                self.free.remove(instrument)
                self.given |= set(part)
                future = self._instruments.submit(contextvars.copy_context().run, self.steps.run_on, self.ref, instrument, part)
                self.busy[future], self.began[future] = (instrument, part), time.monotonic()

    def _start_plan(self) -> Optional[Future]:
        """A plan for the free instruments and those expected to free up while it is computed, less what is
        queued, in whole batches; None when nothing is to be planned."""
        want = self.size * len(self.free) + self.pace.ahead(self.began.values(), time.monotonic())
        short = want - len(self.queued(want))
        n = min(self.size * math.ceil(short / self.size), plannable(self.run)) if short > 0 and self.may_plan() else 0
        return self._planner.submit(contextvars.copy_context().run, self._timed_plan, next_iteration(self.run), n) if n else None

    def _timed_plan(self, iteration: int, n: int) -> list[int]:
        started = time.monotonic()
        seqs = self.steps.approve(self.ref, self.steps.plan(self.ref, iteration, n))
        self.pace.planned(time.monotonic() - started)
        return seqs

    def _idle(self, undecided: list[int]) -> bool:
        """Nothing running and nothing being planned: wait for what can still come (an operator's resume or decision,
        budget left to plan), or end. False: the run is over."""
        run = self.run
        if self.error is None and not self.stopping() and (self.queued(1) or undecided or (unallocated(run) and self.may_plan())):
            if wait_while_paused(run, self.should_stop) != "run":
                return True  # stopped meanwhile: the next pass ends the run
            if undecided and not self.queued(1):  # every instrument idle: wait for a person to decide one (or add one)
                wait_for_decisions(run, undecided, every=False, should_stop=self.should_stop, or_when=lambda: bool(self.queued(1)))
            self.free = in_service(run)  # raises when none is left; a robot put back in service meanwhile is taken
            return True
        return False

    def _collect(self, future: Future) -> None:
        """An instrument's run ended: its instrument is free again (unless it broke down), its outcome kept."""
        instrument, seqs = self.busy.pop(future)
        self.given -= set(seqs)
        self.pace.ran(time.monotonic() - self.began.pop(future))
        try:
            outcome = future.result()
        except InstrumentDown as exc:  # its experiments are settled (`execute`); the others carry on
            log.warning("%s", exc)
            return
        except RetortError as exc:
            self.free.append(instrument)
            self.error = self.error or exc
            return
        self.free.append(instrument)
        self.outcomes.append(outcome)
        if outcome.failed and self.error is None:
            self.error = LabError("; ".join(outcome.failed.values()))


def run_async(run: CampaignRun, steps: Steps = PLAIN, should_stop: Callable[[], bool] = lambda: False,
              last_iteration: Optional[int] = None) -> RecordOutcome:
    """The asynchronous schedule (`AsyncSchedule`) from start to end."""
    return AsyncSchedule(run, steps, should_stop, last_iteration).run_schedule()
