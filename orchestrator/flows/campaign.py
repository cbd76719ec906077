"""Prefect flows: a campaign flow that drives the batch schedule (one sub-flow per iteration) or the
asynchronous one, each step a task.

Flows are thin: every task calls one plain function of `retort.orchestrator.loop`, and takes ids (a `RunRef` and
experiment numbers), never live objects. Every task uses ``NO_CACHE`` (a cached measurement would
silently skip the instrument; the store changes underneath the others). An instrument's run is retried
only when the instrument refused it before anything moved (`LabTransient`): a failed dispense is never
repeated blindly. Each instrument's run holds that instrument's global concurrency limit (`limits.py`).

Runs in Prefect's ephemeral mode by default; set ``PREFECT_API_URL`` to run against a server.
"""

from __future__ import annotations

from types import SimpleNamespace
import os
from typing import Literal, Optional

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import SecretStr

from retort.orchestrator import loop
from retort.orchestrator.campaign import Campaign, load_campaign, with_changes
from retort.orchestrator.campaign.results import CampaignSummary, summarise
from retort.orchestrator.errors import InstrumentDown, LabError, LabNotReady, LabTransient
from retort.orchestrator.flows.computations import run_jobs
from retort.orchestrator.flows.limits import artifact_key, ensure_instrument_limits, instrument_slot, limit_name
from retort.orchestrator.labs.computation import use_fanout
from retort.orchestrator.loop import CampaignRun, RecordOutcome, RunRef
from retort.orchestrator.loop.steps import TRANSIENT_DELAYS
from retort.orchestrator.loop.stopping import stop_requested
from retort.orchestrator.store import redact_url
from retort.orchestrator.store.leases import hold

use_fanout(run_jobs)  # computational labs fan out as Prefect tasks wherever these flows run

Instruments = Literal["local", "deployments"]


@task(name="plan", task_run_name="plan iteration {iteration}", cache_policy=NO_CACHE)
def plan_task(ref: RunRef, iteration: int, n: int) -> list[int]:
    return loop.plan(ref, iteration, n)


@task(name="approve", cache_policy=NO_CACHE)
def approve_task(ref: RunRef, seqs: list[int]) -> list[int]:
    return loop.approve_seqs(ref, seqs)


def _transient(task, task_run, state) -> bool:
    """Retry only a run the instrument refused before anything moved; never a blind re-dispense."""
    try:
        state.result()
    except LabTransient:
        return True
    except BaseException:
        return False
    return False


@task(name="run on instrument", task_run_name="{instrument}: experiments {seqs}", cache_policy=NO_CACHE,
      retries=len(TRANSIENT_DELAYS), retry_delay_seconds=list(TRANSIENT_DELAYS), retry_condition_fn=_transient)
def run_on_task(ref: RunRef, instrument: str, seqs: list[int]) -> RecordOutcome:
    """Execute, measure and record on one instrument, holding its global concurrency limit (strict: no limit, no run).
    An instrument that breaks down leaves a note for the operator (a Prefect artifact) as well as its stored deck event."""
    with instrument_slot(instrument, limits(loop.attach(ref))[instrument]):
        try:
            return loop.run_on(ref, instrument, seqs)
        except InstrumentDown as exc:
            create_markdown_artifact(key=artifact_key(instrument), description=f"{instrument} is out of service",
                                     markdown=f"# {instrument} is out of service\n\n{exc}\n")
            raise


def limits(run: CampaignRun) -> dict[str, str]:
    """Each instrument's concurrency limit: a robot's by what it is, a virtual one's by its deck and store (`limit_name`)."""
    return {name: limit_name(name, lab.identity(), run.store.scope) for name, lab in run.labs.items()}


TASKS = SimpleNamespace(plan=plan_task, approve=approve_task, run_on=run_on_task)


@flow(name="retort-instrument", flow_run_name="{instrument}: experiments {seqs}")
def instrument_flow(ref: RunRef, instrument: str, seqs: list[int]) -> RecordOutcome:
    """The instrument-side work as a flow of its own, deployed beside each robot (``prefect.yaml``): `run_on_task`."""
    return run_on_task(ref, instrument, seqs)


def run_on_deployment(ref: RunRef, instrument: str, seqs: list[int]) -> RecordOutcome:
    """`run_on` on the instrument's own host: runs deployment ``retort-instrument/INSTRUMENT`` (its work pool's worker
    picks it up) and waits for it. The store URL is not passed (deployment parameters are recorded in the clear):
    the instrument host reads it from ``RETORT_STORE_URL``. The outcome is read back from the store."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound

    name = f"retort-instrument/{instrument}"
    remote = ref.model_copy(update={"store_url": SecretStr(""), "opened": ""})
    try:
        flow_run = run_deployment(name, parameters={"ref": remote.model_dump(mode="json"), "instrument": instrument, "seqs": seqs},
                                  timeout=None, as_subflow=True)
    except ObjectNotFound:
        raise LabNotReady(f"there is no Prefect deployment {name!r} for instrument {instrument!r}: deploy it on the instrument's host "
                          "(docs/deployment.md); nothing was run") from None
    run = loop.attach(ref)
    if not flow_run.state.is_completed():
        why = flow_run.state.message or flow_run.state.name
        lab = run.labs[instrument]
        if lab.out_of_service():
            raise InstrumentDown(f"{instrument} (flow run {flow_run.name}): {why}", instrument, [], {}, [])
        raise LabError(f"instrument flow run {flow_run.name} of {name} ended {flow_run.state.name}: {why}")
    return loop.RecordOutcome.of(run.experiments(seqs=seqs))


DEPLOYED = SimpleNamespace(plan=plan_task, approve=approve_task, run_on=run_on_deployment)


@flow(name="retort-iteration", flow_run_name="iteration-{iteration}")
def iteration_flow(ref: RunRef, iteration: int, instruments: Instruments = "local") -> RecordOutcome:
    """One iteration of the batch schedule (`loop.run_iteration`) with each step a Prefect task."""
    return loop.run_iteration(loop.attach(ref), iteration, STEPS[instruments])


@flow(name="retort-campaign", flow_run_name="{campaign.name}")
def campaign_flow(campaign: Campaign, planner: Optional[str] = None, store_url: Optional[SecretStr] = None,
                  max_iterations: Optional[int] = None, instruments: Instruments = "local") -> CampaignSummary:
    """Run `campaign` until its budget is spent (or for `max_iterations`: iterations of the batch schedule,
    proposals of the asynchronous one), continuing whatever is already stored.

    Prefect records a flow's parameters on its server. A store URL holding a password goes in
    `store_url`, which Prefect records as ``**********`` (then ``campaign.store`` may be masked).
    `instruments`: ``local`` runs instrument work in this process; ``deployments`` runs it on each
    instrument's host, through its deployment ``retort-instrument/INSTRUMENT`` (docs/deployment.md).

    Raises:
        LabError: an experiment failed (NaN reading, lab error); it is stored as failed and the
            campaign stops so that a person can look. Running the flow again continues.
    """
    if store_url:
        campaign = campaign.model_copy(update={"store": store_url.get_secret_value()})
    run = loop.run_for(campaign, planner)  # `retort run` opened it already: not opened twice
    with hold(run.store, run.record.id, campaign.name):  # one driver per campaign (re-entrant: `retort run` holds it already)
        ensure_instrument_limits(limits(run))
        if instruments == "deployments" and run.experiments(statuses=("running",)):
            for name, limit in limits(run).items():  # a batch may still be running on an instrument's host: wait until its slot is free
                with instrument_slot(name, limit):
                    pass
        try:
            loop.drive(run, STEPS[instruments], max_iterations, should_stop=stop_requested,
                       iterate=lambda ref, iteration: iteration_flow(ref, iteration, instruments))
        except LabError as exc:
            raise LabError(f"{exc}. Check the instrument, then run the campaign again to continue.") from exc
        return summarise(campaign, run.experiments(), run.store.model_versions(run.record.id))


STEPS = {"local": TASKS, "deployments": DEPLOYED}


@flow(name="retort-campaign-file", flow_run_name="{campaign_file}")
def campaign_file_flow(campaign_file: str, planner: Optional[str] = None, max_iterations: Optional[int] = None,
                       instruments: Instruments = "deployments") -> CampaignSummary:
    """The planning host's entry point (deployment ``retort-campaign-file/...``): the campaign file, read on this
    host (relative to the working directory), its store from ``RETORT_STORE_URL`` when set; instrument work on
    each instrument's host."""
    campaign = load_campaign(campaign_file)
    url = os.environ.get(loop.STORE_ENV)
    if url:
        campaign = with_changes(campaign, loop.STORE_ENV, store=url)
    masked = campaign.model_copy(update={"store": redact_url(campaign.store)})  # Prefect records a sub-flow's parameters
    return campaign_flow(masked, planner, SecretStr(campaign.store), max_iterations, instruments)
