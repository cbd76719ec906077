"""Prefect flows: a campaign flow with one sub-flow per iteration, each step a task.

Flows are thin: every task calls one plain function from `loop.py`. Instrument and measurement
tasks use ``NO_CACHE`` (a cached measurement would silently skip the instrument); so do the
others, whose inputs (store, lab) change underneath them. Nothing is retried: a failed dispense is
never repeated blindly.

Runs in Prefect's ephemeral mode by default; set ``PREFECT_API_URL`` to run against a server.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Optional

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from pydantic import SecretStr

from retort.orchestrator import loop
from retort.orchestrator.campaign import Campaign
from retort.orchestrator.errors import LabError
from retort.orchestrator.labs import LabResult
from retort.orchestrator.lease import hold
from retort.orchestrator.loop import CampaignRun, CampaignSummary, RecordOutcome
from retort.orchestrator.records import ExperimentRecord
from retort.orchestrator.stopping import stop_requested
from retort.surrogates import FittedModel


@task(name="fit", cache_policy=NO_CACHE)
def fit_task(run: CampaignRun, iteration: int) -> Optional[FittedModel]:
    return loop.fit(run, iteration)


@task(name="propose", cache_policy=NO_CACHE)
def propose_task(run: CampaignRun, iteration: int, model: Optional[FittedModel], n: int) -> list[ExperimentRecord]:
    return loop.propose(run, iteration, model, n)


@task(name="approve", cache_policy=NO_CACHE)
def approve_task(run: CampaignRun, batch: list[ExperimentRecord]) -> list[ExperimentRecord]:
    return loop.approve(run, batch)


@task(name="execute", cache_policy=NO_CACHE)
def execute_task(run: CampaignRun, batch: list[ExperimentRecord]) -> None:
    loop.execute(run, batch)


@task(name="measure", cache_policy=NO_CACHE)
def measure_task(run: CampaignRun, batch: list[ExperimentRecord]) -> list[LabResult]:
    return loop.measure(run, batch)


@task(name="record", cache_policy=NO_CACHE)
def record_task(run: CampaignRun, batch: list[ExperimentRecord], results: list[LabResult]) -> RecordOutcome:
    return loop.record(run, batch, results)


TASKS = SimpleNamespace(fit=fit_task, propose=propose_task, approve=approve_task, execute=execute_task,
                        measure=measure_task, record=record_task)


@flow(name="retort-iteration", flow_run_name="iteration-{iteration}", validate_parameters=False)
def iteration_flow(run: CampaignRun, iteration: int) -> RecordOutcome:
    """One iteration (`loop.run_iteration`) with each step a Prefect task."""
    return loop.run_iteration(run, iteration, TASKS)


@flow(name="retort-campaign", flow_run_name="{campaign.name}")
def campaign_flow(campaign: Campaign, planner: Optional[str] = None, store_url: Optional[SecretStr] = None,
                  max_iterations: Optional[int] = None) -> CampaignSummary:
    """Run `campaign` until its budget is spent (or for `max_iterations`), continuing whatever is already stored.

    Prefect records a flow's parameters on its server. A store URL holding a password goes in
    `store_url`, which Prefect records as ``**********`` (then ``campaign.store`` may be masked).

    Raises:
        LabError: an experiment failed (NaN reading, lab error); it is stored as failed and the
            campaign stops so that a person can look. Running the flow again continues.
    """
    if store_url:
        campaign = campaign.model_copy(update={"store": store_url.get_secret_value()})
    run = loop.open_run(campaign, planner)
    with hold(run.store, run.record.id, campaign.name):  # one driver per campaign (re-entrant: `retort run` holds it already)
        loop.recover_interrupted(run)
        iterations = 0
        while loop.remaining(run) > 0 and (max_iterations is None or iterations < max_iterations) and not stop_requested():
            iterations += 1
            outcome = iteration_flow(run, loop.next_iteration(run))
            if outcome.failed:
                raise LabError("; ".join(outcome.failed.values()) + ". Check the instrument, then run the campaign again to continue.")
        return loop.summarise(campaign, run.store, run.record)
