"""The closed loop without Prefect: a campaign run (`run.py`), its steps (`steps.py`), what is left of its budget,
people's controls and decisions as it waits for them, the batch and asynchronous schedules, and the campaign loop
that drives them (`drive.py`). The Prefect flows (`retort.orchestrator.flows`) wrap the steps in tasks; the
benchmarks and tests call them directly."""

from retort.orchestrator.loop.asynchronous import AsyncSchedule, run_async
from retort.orchestrator.loop.batch import in_service, run_iteration
from retort.orchestrator.loop.budget import next_iteration, open_experiments, plannable, remaining, unallocated
from retort.orchestrator.loop.waits import awaiting, control, wait_for_decisions, wait_while_paused
from retort.orchestrator.loop.campaign import drive
from retort.orchestrator.loop.run import STORE_ENV, CampaignRun, RunRef, attach, check_run, make_planner, open_run, run_for
from retort.orchestrator.loop.steps import (INTERRUPTED, PLAIN, RecordOutcome, Steps, approve, approve_seqs, execute, fit, measure,
                                            observations, plan, propose, record, recover_interrupted, run_on, run_on_retrying)

__all__ = ["INTERRUPTED", "PLAIN", "STORE_ENV", "AsyncSchedule", "CampaignRun", "RecordOutcome", "RunRef", "Steps", "approve",
           "approve_seqs", "attach", "awaiting", "check_run", "control", "drive", "execute", "fit", "in_service", "make_planner",
           "measure", "next_iteration", "observations", "open_experiments", "open_run", "plan", "plannable", "propose", "record",
           "recover_interrupted", "remaining", "run_async", "run_for", "run_iteration", "run_on", "run_on_retrying", "unallocated",
           "wait_for_decisions", "wait_while_paused"]
