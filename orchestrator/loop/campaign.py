"""The campaign loop, written once: recover what a stopped run left on the instruments, then run the campaign's
schedule until its budget is spent, a learn campaign has learned, an operator stops it, or a stop is requested. The Prefect flow drives a
campaign with it (each batch iteration a sub-flow), and so do the benchmarks (plain steps): benchmarks run what
users run."""

from __future__ import annotations

from typing import Callable, Optional

from retort.orchestrator.errors import LabError
from retort.orchestrator.loop.asynchronous import run_async
from retort.orchestrator.loop.batch import run_iteration
from retort.orchestrator.loop.budget import next_iteration, remaining
from retort.orchestrator.loop.learning import run_learned
from retort.orchestrator.loop.waits import control
from retort.orchestrator.loop.run import CampaignRun, RunRef
from retort.orchestrator.loop.steps import PLAIN, RecordOutcome, Steps, recover_interrupted

Iterate = Callable[[RunRef, int], RecordOutcome]  # one iteration of the batch schedule, by ref and number


def drive(run: CampaignRun, steps: Steps = PLAIN, max_iterations: Optional[int] = None, should_stop: Callable[[], bool] = lambda: False,
          iterate: Optional[Iterate] = None) -> None:
    """Run `run`'s campaign until its budget is spent (or for `max_iterations`: iterations of the batch schedule,
    proposals of the asynchronous one), continuing whatever is already stored.

    Args:
        steps: the loop's steps (`PLAIN`, Prefect tasks, or wrapped by a benchmark to time them).
        should_stop: asked between iterations; true ends the run.
        iterate: how one batch iteration runs (the flow runs each as a sub-flow); default `run_iteration` with `steps`.

    Raises:
        LabError: an experiment failed (NaN reading, lab error): it is stored as failed, and the campaign stops so
            that a person can look; running again continues. An experiment its instrument answered without a value (a
            failed computation) is stored as failed and the campaign goes on.
    """
    iterate = iterate or (lambda ref, iteration: run_iteration(run, iteration, steps))
    recover_interrupted(run)
    if run.campaign.schedule == "async":
        last = next_iteration(run) - 1 + max_iterations if max_iterations is not None else None
        run_async(run, steps, should_stop=should_stop, last_iteration=last)
        return
    iterations = 0
    while (remaining(run) > 0 and (max_iterations is None or iterations < max_iterations) and not should_stop() and control(run) != "stopped"
           and not run_learned(run)):
        iterations += 1
        outcome = iterate(run.ref, next_iteration(run))
        if outcome.failed:
            raise LabError("; ".join(outcome.failed.values()))
