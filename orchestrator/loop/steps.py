"""The closed loop's steps, as plain functions: fit, propose, approve, execute, measure, record (and recovery
after a stop), and the three the schedules call on ids: `plan`, `approve_seqs`, `run_on`.

The Prefect flow (`retort.orchestrator.flows`) wraps the three in tasks; the schedules (`batch.py`,
`asynchronous.py`) call them through `Steps`. Every step reads its inputs from the store and writes its outputs
there first, so a run that stops anywhere can be continued without losing or repeating an experiment.
"""

from __future__ import annotations

import logging
import math
import time
from types import SimpleNamespace
from typing import Optional, Protocol

from pydantic import BaseModel, ConfigDict

from retort.agents.proposal import Observation, Proposal, Provenance, Value
from retort.orchestrator.campaign import Campaign
from retort.orchestrator.campaign.lifecycle import OPEN
from retort.orchestrator.campaign.observations import observations
from retort.orchestrator.decisions import notify
from retort.orchestrator.decisions.approvals import settle_overdue
from retort.orchestrator.errors import InstrumentDown, LabError, LabRunFailed, LabTransient
from retort.orchestrator.labs.base import LabRequest, LabResult, LabRun
from retort.orchestrator.loop.budget import next_iteration, unallocated
from retort.orchestrator.loop.learning import run_learned
from retort.orchestrator.loop.run import CampaignRun, RunRef, attach
from retort.orchestrator.store.decisions import DecisionStore
from retort.orchestrator.store.records import ExperimentRecord
from retort.surrogates import FittedModel

log = logging.getLogger(__name__)
TRANSIENT_DELAYS = (1.0, 4.0, 16.0)  # s between tries of an instrument run refused before anything moved (`LabTransient`)

NO_VALUE = "no value: "  # starts the reason of an experiment its instrument answered without a value (`LabResult.failure`)


def without_value(e: ExperimentRecord) -> bool:
    """The instrument answered this experiment without a value (a failed computation): asking again gives the same answer,
    so it is never proposed again, and it does not stop the campaign."""
    return e.status == "failed" and (e.failure_reason or "").startswith(NO_VALUE)


INTERRUPTED = (
    "interrupted: the run stopped while this experiment was on the instruments, so what was dispensed is unknown; "
    "it is not repeated and its well is not reused"
)


def recover_interrupted(run: CampaignRun) -> list[int]:
    """Experiments left `running` by a stopped run: each instrument collects what it can (a robot run that
    went on without us, a stored report), and those are measured and recorded; those nothing reached go
    back to `approved`; the rest become `failed` (never re-dispensed), and with ``on_interrupted: rerun`` are
    stored again as new, approved experiments (within the budget). Returns the numbers of those failed."""
    stuck = run.experiments(statuses=("running",))
    if not stuck:
        return []
    measurable: set[int] = set()
    requeued: set[int] = set()
    for lab in run.labs.values():
        recovery = lab.recover([e.seq for e in stuck if e.seq not in measurable | requeued])
        requeued |= set(recovery.not_started)
        if recovery.not_started:
            run.store.set_status([e.id for e in stuck if e.seq in recovery.not_started], "approved")
        measurable |= set(recovery.measurable)
        for collected in recovery.collected:
            batch = [e for e in stuck if e.seq in collected.seqs]
            try:
                record(run, batch, lab.measure(collected))
            except LabError as exc:
                run.store.set_status([e.id for e in batch], "failed", reason=f"measurement error after a restart: {exc}")
    lost = [e for e in stuck if e.seq not in measurable and e.seq not in requeued]
    if lost:
        run.store.set_status([e.id for e in lost], "failed", reason=INTERRUPTED)
    if lost and run.campaign.on_interrupted == "rerun":
        again = lost[: unallocated(run)]  # within the budget
        reruns = run.store.add_proposals(run.record.id, next_iteration(run), [
            Proposal(params=e.params, fidelity=e.fidelity, provenance=Provenance(planner="rerun", note=f"re-run of experiment {e.seq}, interrupted"))
            for e in again])
        if not run.approval_required:  # else a person decides on the re-runs like any proposal
            run.store.set_status([e.id for e in reruns], "approved")
        else:
            notify.proposals_waiting(run.campaign, reruns)
    return [e.seq for e in lost]


def fit(run: CampaignRun, iteration: int) -> Optional[FittedModel]:
    """Refit the planner's surrogate on every measured experiment and store the model version."""
    model = run.planner.fit(run.space, observations(run.campaign, run.experiments()))
    if model is not None:
        model.version = run.store.add_model_version(run.record.id, iteration, model.summary)
    return model


def propose(run: CampaignRun, iteration: int, model: Optional[FittedModel], n: int) -> list[ExperimentRecord]:
    """Propose `n` experiments, every open or running one passed as pending and every rejected one as rejected
    (never proposed again in a finite space; kept away from in a continuous one)."""
    from retort.agents.fidelity import CostAwarePlanner  # torch: loaded where a planner runs, not where a page is drawn

    experiments = run.experiments()
    seen = observations(run.campaign, experiments)
    if isinstance(run.planner, CostAwarePlanner):  # a dry-wet campaign: (candidate, fidelity) pairs
        truth = run.campaign.truth
        proposals: list[Proposal] = run.planner.propose(
            run.space, seen, [(e.params, e.fidelity or truth) for e in experiments if e.status in (*OPEN, "running")], n, model,
            rejected=[e.params for e in experiments if e.status == "rejected" or (without_value(e) and e.fidelity is None)],
            failed_pairs=[(e.params, e.fidelity) for e in experiments if without_value(e) and e.fidelity is not None])
        proposals = [p.model_copy(update={"fidelity": None}) if p.fidelity == truth else p for p in proposals]  # the truth: stored as NULL
    else:
        pending: list[dict[str, Value]] = [e.params for e in experiments if e.status in (*OPEN, "running")]
        rejected = [e.params for e in experiments if e.status == "rejected" or without_value(e)]
        if run.space.open:  # generating: what people have forbidden since, read afresh each round
            run.planner.forbidden = DecisionStore(run.store).forbidden(run.record.id)
        proposals = run.planner.propose(run.space, seen, pending, n, model, rejected=rejected)
    stored = run.store.add_proposals(run.record.id, iteration, proposals)
    computations = [e for e in stored if e.fidelity is not None]
    if computations:  # a computation spends no reagents: nobody approves it
        run.store.set_status([e.id for e in computations], "approved")
        stored = [e.model_copy(update={"status": "approved"}) if e.fidelity is not None else e for e in stored]
    if run.approval_required and len(computations) < len(stored):
        notify.proposals_waiting(run.campaign, [e for e in stored if e.fidelity is None])
    return stored


def approve(run: CampaignRun, batch: list[ExperimentRecord]) -> list[ExperimentRecord]:
    """With `approval: auto`, approve the batch's proposed experiments; with `required` a person decides
    (`approvals.decide`, stored), and proposals undecided for too long are settled by the campaign's policy.
    Returns the batch's approved experiments (including earlier approvals)."""
    if run.approval_required:
        settle_overdue(run.campaign, run.store, run.record.id)
    else:
        proposed = [e.id for e in batch if e.status == "proposed"]
        if proposed:
            run.store.set_status(proposed, "approved")
    return run.experiments(seqs=[e.seq for e in batch], statuses=("approved",))


def execute(run: CampaignRun, batch: list[ExperimentRecord], instrument: Optional[str] = None) -> Optional[LabRun]:
    """Let the instrument (default: the first) plan and reserve the batch (nothing stored changes if it
    cannot), mark it running with its locations, then run it there; returns the lab run, for `measure`."""
    if not batch:
        return None
    lab = run.instrument(instrument)
    try:
        prepared = lab.prepare([LabRequest(seq=e.seq, params=e.params) for e in batch])
    except LabError as exc:
        run.store.set_status([e.id for e in batch], "failed", reason=f"lab error: {exc}")
        raise
    run.store.set_status([e.id for e in batch], "running", location={e.id: prepared.locations[e.seq] for e in batch})
    try:
        lab.execute(prepared)
    except LabRunFailed as exc:  # part-way: measure what completed, fail what was touched, requeue what was not
        by_seq = {e.seq: e for e in batch}
        for seq, reason in exc.failed.items():
            run.store.set_status([by_seq[seq].id], "failed", reason=f"lab error: {reason}")
        if exc.not_started:
            run.store.set_status([by_seq[s].id for s in exc.not_started], "approved")
        if exc.done:
            record(run, [by_seq[s] for s in exc.done], lab.measure(prepared.only(exc.done)))
        raise
    except LabTransient:  # refused before anything moved: back in the queue, the reservation kept for the next try
        run.store.set_status([e.id for e in batch], "approved")
        raise
    except LabError as exc:
        run.store.set_status([e.id for e in batch], "failed", reason=f"lab error: {exc}")
        raise
    return prepared


def measure(run: CampaignRun, batch: list[ExperimentRecord], prepared: Optional[LabRun], instrument: Optional[str] = None) -> list[LabResult]:
    """Read the executed lab run `prepared` of `batch` on its instrument; a reading that fails fails the batch."""
    if not batch or prepared is None:
        return []
    try:
        return run.instrument(instrument).measure(prepared)
    except LabError as exc:
        run.store.set_status([e.id for e in batch], "failed", reason=f"measurement error: {exc}")
        raise


class RecordOutcome(BaseModel):
    """What a batch gave: experiments measured; failed (an instrument fault or a NaN: the campaign stops for a person to
    look); answered without a value (a failed computation, `LabResult.failure`: stored as failed, the campaign goes on)."""

    model_config = ConfigDict(frozen=True)

    measured: list[int]
    failed: dict[int, str]
    without_value: dict[int, str] = {}

    @classmethod
    def of(cls, experiments: list[ExperimentRecord]) -> "RecordOutcome":
        """The outcome as the store holds it."""
        return cls(measured=[e.seq for e in experiments if e.status == "measured"],
                   failed={e.seq: e.failure_reason or "failed" for e in experiments if e.status == "failed" and not without_value(e)},
                   without_value={e.seq: e.failure_reason or "" for e in experiments if without_value(e)})


def record(run: CampaignRun, batch: list[ExperimentRecord], results: list[LabResult]) -> RecordOutcome:
    """Store readings and derived objectives; an experiment with a non-finite value is failed, with the reason."""
    by_seq = {r.seq: r for r in results}
    measured, failed, answered = [], {}, {}
    for e in batch:
        result = by_seq[e.seq]
        if result.failure is not None:  # the instrument's own answer: no value here
            answered[e.seq] = f"{NO_VALUE}{result.failure}"
            run.store.record_result(e.id, result.readings, {}, dict(result.units), result.instrument, result.lab_seconds,
                                    answered[e.seq], computation=result.computation)
            continue
        bad = [k for k, v in result.readings.items() if not math.isfinite(v)]
        if e.fidelity is not None:  # a computation at a cheaper fidelity: its readings only (the objective is the truth's)
            objectives = {}
        else:
            objectives = {o.name: o.derive(result.readings) for o in run.campaign.objectives} if not bad else {}
        bad += [k for k, v in objectives.items() if not math.isfinite(v)]
        failure = None
        if bad:
            failure = (
                f"experiment {e.seq} at {result.location}: {result.instrument} returned non-finite values for "
                f"{', '.join(bad)}; the experiment is stored as failed and left out of the model"
            )
            failed[e.seq] = failure
        else:
            measured.append(e.seq)
        units = dict(result.units) | {o.name: o.unit or (result.units.get(o.readings[0], "") if o.is_reading else "")
                                      for o in run.campaign.objectives if o.name in objectives}  # a reading's unit, unless the objective names one
        run.store.record_result(e.id, result.readings, objectives, units, result.instrument, result.lab_seconds, failure,
                                computation=result.computation)
    return RecordOutcome(measured=measured, failed=failed, without_value=answered)


def plan(ref: RunRef, iteration: int, n: int) -> list[int]:
    """Fit the model on everything measured, store its version, propose `n` experiments (everything open or
    running passed as pending) and store them; returns their numbers."""
    run = attach(ref)
    model = fit(run, iteration)
    if run_learned(run):  # a learn campaign's last fit says it is over
        return []
    return [e.seq for e in propose(run, iteration, model, n)]


def approve_seqs(ref: RunRef, seqs: list[int]) -> list[int]:
    """`approve` by experiment numbers: the numbers approved."""
    run = attach(ref)
    return [e.seq for e in approve(run, run.experiments(seqs=seqs))]


def run_on(ref: RunRef, instrument: str, seqs: list[int]) -> RecordOutcome:
    """The instrument-side work: run approved experiments `seqs` on `instrument`, measure them and store the results."""
    run = attach(ref)
    why = run.labs[instrument].out_of_service()
    if why:  # taken out of service (by another campaign, host or an operator) since it was handed this batch
        raise InstrumentDown(f"{instrument} is out of service: {why}; experiments {seqs} wait, approved", instrument, [], {}, [])
    batch = [e for e in run.experiments(seqs=seqs) if not (e.status == "measured" and e.location == "by hand")]  # a person ran it
    if not batch:
        return RecordOutcome(measured=[], failed={})
    gone = {e.seq: e.status for e in batch if e.status != "approved"}
    if gone:  # e.g. a flow run scheduled before its campaign flow restarted and handed the batch out again
        raise LabError(f"experiments {gone} are no longer approved: they were handed to another instrument run; "
                       f"nothing was run on {instrument}")
    prepared = execute(run, batch, instrument)  # `measure` and `record` need only the lab run and the ids read above
    return record(run, batch, measure(run, batch, prepared, instrument))


class Steps(Protocol):
    """The loop's steps as the drivers call them, on ids: the plain functions here (`PLAIN`), the same
    wrapped as Prefect tasks (`flows.TASKS`), or wrapped to time them (benchmarks)."""

    def plan(self, ref: RunRef, iteration: int, n: int) -> list[int]: ...
    def approve(self, ref: RunRef, seqs: list[int]) -> list[int]: ...
    def run_on(self, ref: RunRef, instrument: str, seqs: list[int]) -> RecordOutcome: ...


def run_on_retrying(ref: RunRef, instrument: str, seqs: list[int]) -> RecordOutcome:
    """`run_on`, tried again after `TRANSIENT_DELAYS` when the instrument refuses the run before anything moved
    (the Prefect task does the same with a retry condition)."""
    for delay in (*TRANSIENT_DELAYS, None):
        try:
            return run_on(ref, instrument, seqs)
        except LabTransient as exc:
            if delay is None:
                raise
            log.warning("%s; trying again in %g s", exc, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


PLAIN: Steps = SimpleNamespace(plan=plan, approve=approve_seqs, run_on=run_on_retrying)  # type: ignore[assignment]
