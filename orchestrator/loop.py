"""The closed loop's steps as plain functions: fit, propose, approve, execute, measure, record.

The Prefect flow (`flows.py`) wraps each in a task; the benchmark and tests call them directly.
Every step reads its inputs from the store and writes its outputs there first, so a run that
stops anywhere can be continued without losing or repeating an experiment.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Optional, Protocol

from pydantic import BaseModel, ConfigDict

from retort.agents.approval import ApprovalGate, AutoApprove
from retort.agents.planners import BayesianPlanner, Planner, RandomPlanner
from retort.agents.proposal import Observation, Proposal, Value
from retort.orchestrator.campaign import Campaign
from retort.orchestrator.errors import CampaignError, LabError, LabRunFailed
from retort.orchestrator.labs import Lab, LabRequest, LabResult, build_lab
from retort.orchestrator.records import DONE, OPEN, CampaignRecord, ExperimentRecord
from retort.orchestrator.store import Store
from retort.surrogates import FittedModel

INTERRUPTED = (
    "interrupted: the run stopped while this experiment was on the instruments, so what was dispensed is unknown; "
    "it is not repeated and its well is not reused"
)


def make_planner(campaign: Campaign, name: Optional[str] = None) -> Planner:
    name = name or campaign.planner
    if name == "random":
        return RandomPlanner(seed=campaign.seed)
    return BayesianPlanner(weights=campaign.weights(), n_initial=campaign.initial_design, seed=campaign.seed)


class CampaignRun:
    """Everything one run of a campaign works with (a plain class: Prefect passes it by reference).

    Slots, not a ``__dict__``: Prefect then records it as ``<CampaignRun>`` rather than walking into
    the store and writing its URL (password included) to its server.
    """

    __slots__ = ("campaign", "store", "record", "lab", "planner", "gate", "space")

    def __init__(self, campaign: Campaign, store: Store, record: CampaignRecord, lab: Lab, planner: Planner,
                 gate: Optional[ApprovalGate] = None) -> None:
        self.campaign = campaign
        self.store = store
        self.record = record
        self.lab = lab
        self.planner = planner
        self.gate: ApprovalGate = gate or AutoApprove()
        unavailable = getattr(lab, "unavailable", lambda: [])()
        self.space = campaign.space.model_copy(update={"excluded": unavailable}) if unavailable else campaign.space

    def experiments(self) -> list[ExperimentRecord]:
        return self.store.experiments(self.record.id)


def open_run(campaign: Campaign, planner: Optional[str] = None, store: Optional[Store] = None) -> CampaignRun:
    """Open (or create) the campaign in its store and build its lab and planner, after checking
    everything that can be checked first (`check_run`)."""
    store = store or Store(campaign.store)
    lab = check_run(campaign, store)
    record = store.open_campaign(campaign.name, campaign.config_json(), Campaign.normalise_config)
    lab.attach(record.id)
    return CampaignRun(campaign=campaign, store=store, record=record, lab=lab, planner=make_planner(campaign, planner))


def check_run(campaign: Campaign, store: Optional[Store]) -> Lab:
    """Everything a run checks before it stores or dispenses anything; writes nothing.

    The campaign against its lab (`build_lab`), against what its store already holds (the same
    configuration but for the budget; no store: a new one), and its budget against the candidates
    left in a finite space. Returns the built lab. Raises a `RetortError` naming the problem.
    """
    lab = build_lab(campaign, store)
    record = store.find_campaign(campaign.name, campaign.config_json(), Campaign.normalise_config) if store else None
    space = campaign.space
    if space.is_discrete:
        experiments = store.experiments(record.id) if record else []
        holes = len(getattr(lab, "unavailable", lambda: [])())
        left = space.n_candidates() - holes - len({space.index_of(e.params) for e in experiments})
        if campaign.budget - len(experiments) > left:
            raise CampaignError(
                f"budget: {campaign.budget} is more than the space can give: {len(experiments)} experiments are stored and "
                f"{left} untried candidates are left ({space.n_candidates()} combinations, {holes} of them the lab cannot run); "
                f"lower the budget to at most {len(experiments) + left}"
            )
    return lab


def recover_interrupted(run: CampaignRun) -> list[int]:
    """Experiments left `running` by a stopped run: the lab collects what it can (a robot run that went
    on without us, a stored report), and those are measured and recorded; those nothing reached go
    back to `approved`; the rest become `failed` (never re-dispensed). Returns the numbers of those failed."""
    stuck = [e for e in run.experiments() if e.status == "running"]
    if not stuck:
        return []
    recovery = run.lab.recover([e.seq for e in stuck])
    measurable, requeued = set(recovery.measurable), set(recovery.not_started)
    if requeued:
        run.store.set_status([e.id for e in stuck if e.seq in requeued], "approved")
    collected = [e for e in stuck if e.seq in measurable]
    if collected:
        try:
            record(run, collected, run.lab.measure([LabRequest(seq=e.seq, params=e.params) for e in collected]))
        except LabError as exc:
            run.store.set_status([e.id for e in collected], "failed", reason=f"measurement error after a restart: {exc}")
    lost = [e for e in stuck if e.seq not in measurable and e.seq not in requeued]
    if lost:
        run.store.set_status([e.id for e in lost], "failed", reason=INTERRUPTED)
    return [e.seq for e in lost]


def observations(campaign: Campaign, experiments: list[ExperimentRecord]) -> list[Observation]:
    names = [o.name for o in campaign.objectives]
    out = []
    for e in experiments:
        values = e.objectives()
        if e.status == "measured" and all(n in values for n in names):
            out.append(Observation(params=e.params, objectives={n: values[n] for n in names}))
    return out


def remaining(run: CampaignRun) -> int:
    """Experiments still to run: the budget less those measured or failed."""
    return max(0, run.campaign.budget - sum(e.status in DONE for e in run.experiments()))


def next_iteration(run: CampaignRun) -> int:
    return max((e.iteration for e in run.experiments()), default=0) + 1


def open_experiments(run: CampaignRun) -> list[ExperimentRecord]:
    """Proposed or approved experiments that have not run yet (continued, never re-proposed)."""
    return [e for e in run.experiments() if e.status in OPEN]


def fit(run: CampaignRun, iteration: int) -> Optional[FittedModel]:
    """Refit the planner's surrogate on every measured experiment and store the model version."""
    model = run.planner.fit(run.space, observations(run.campaign, run.experiments()))
    if model is not None:
        model.version = run.store.add_model_version(run.record.id, iteration, model.summary)
    return model


def propose(run: CampaignRun, iteration: int, model: Optional[FittedModel], n: int) -> list[ExperimentRecord]:
    experiments = run.experiments()
    pending: list[dict[str, Value]] = [e.params for e in experiments if e.status in OPEN or e.status == "running"]
    proposals: list[Proposal] = run.planner.propose(run.space, observations(run.campaign, experiments), pending, n, model)
    return run.store.add_proposals(run.record.id, iteration, proposals)


def approve(run: CampaignRun, batch: list[ExperimentRecord]) -> list[ExperimentRecord]:
    """Pass proposed experiments through the gate; returns those approved (including earlier approvals)."""
    to_review = [e for e in batch if e.status == "proposed"]
    if to_review:
        decisions = run.gate.review([Proposal(params=e.params, provenance=e.provenance) for e in to_review])
        approved = [e.id for e, d in zip(to_review, decisions) if d.approved]
        for e, d in zip(to_review, decisions):
            if not d.approved:
                run.store.set_status([e.id], "failed", reason=f"rejected by {d.reviewer}: {d.reason}")
        if approved:
            run.store.set_status(approved, "approved")
    ids = {e.id for e in batch}
    return [e for e in run.experiments() if e.id in ids and e.status == "approved"]


def execute(run: CampaignRun, batch: list[ExperimentRecord]) -> None:
    """Let the lab plan and reserve the batch (nothing stored changes if it cannot), mark it running
    with its locations, then run it on the lab."""
    if not batch:
        return
    requests = [LabRequest(seq=e.seq, params=e.params) for e in batch]
    try:
        locations = run.lab.prepare(requests)
    except LabError as exc:
        run.store.set_status([e.id for e in batch], "failed", reason=f"lab error: {exc}")
        raise
    run.store.set_status([e.id for e in batch], "running", location={e.id: locations[e.seq] for e in batch})
    try:
        run.lab.execute(requests)
    except LabRunFailed as exc:  # part-way: measure what completed, fail what was touched, requeue what was not
        by_seq = {e.seq: e for e in batch}
        for seq, reason in exc.failed.items():
            run.store.set_status([by_seq[seq].id], "failed", reason=f"lab error: {reason}")
        if exc.not_started:
            run.store.set_status([by_seq[s].id for s in exc.not_started], "approved")
        done = [by_seq[s] for s in exc.done]
        if done:
            record(run, done, run.lab.measure([LabRequest(seq=e.seq, params=e.params) for e in done]))
        raise
    except LabError as exc:
        run.store.set_status([e.id for e in batch], "failed", reason=f"lab error: {exc}")
        raise


def measure(run: CampaignRun, batch: list[ExperimentRecord]) -> list[LabResult]:
    if not batch:
        return []
    try:
        return run.lab.measure([LabRequest(seq=e.seq, params=e.params) for e in batch])
    except LabError as exc:
        run.store.set_status([e.id for e in batch], "failed", reason=f"measurement error: {exc}")
        raise


class RecordOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    measured: list[int]
    failed: dict[int, str]


def record(run: CampaignRun, batch: list[ExperimentRecord], results: list[LabResult]) -> RecordOutcome:
    """Store readings and derived objectives; an experiment with a non-finite value is failed, with the reason."""
    by_seq = {r.seq: r for r in results}
    measured, failed = [], {}
    for e in batch:
        result = by_seq[e.seq]
        bad = [k for k, v in result.readings.items() if not math.isfinite(v)]
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
        units = dict(result.units) | {o.name: o.unit for o in run.campaign.objectives}
        run.store.record_result(e.id, result.readings, objectives, units, result.instrument, result.lab_seconds, failure)
    return RecordOutcome(measured=measured, failed=failed)


class CampaignSummary(BaseModel):
    """What a finished (or stopped) run reports."""

    model_config = ConfigDict(frozen=True)

    name: str
    budget: int
    measured: int
    failed: int
    iterations: int
    best_seq: Optional[int]
    best_params: dict[str, Value]
    best_objectives: dict[str, float]
    model_versions: int
    last_loo_coverage_95: dict[str, float]
    lab_seconds: float


def best(campaign: Campaign, experiments: list[ExperimentRecord]) -> Optional[ExperimentRecord]:
    """The measured experiment with the highest utility (weighted, signed objectives)."""
    names = [o.name for o in campaign.objectives]
    scored = [e for e in experiments if e.status == "measured" and all(n in e.objectives() for n in names)]
    return max(scored, key=lambda e: campaign.utility(e.objectives()), default=None)


def summarise(campaign: Campaign, store: Store, record: CampaignRecord) -> CampaignSummary:
    experiments = store.experiments(record.id)
    models = store.model_versions(record.id)
    top = best(campaign, experiments)
    return CampaignSummary(
        name=campaign.name,
        budget=campaign.budget,
        measured=sum(e.status == "measured" for e in experiments),
        failed=sum(e.status == "failed" for e in experiments),
        iterations=max((e.iteration for e in experiments), default=0),
        best_seq=top.seq if top else None,
        best_params=top.params if top else {},
        best_objectives=top.objectives() if top else {},
        model_versions=len(models),
        last_loo_coverage_95=models[-1].loo_coverage_95 if models else {},
        lab_seconds=sum(e.lab_seconds or 0.0 for e in experiments),
    )


class Steps(Protocol):
    """The loop's steps, as `run_iteration` calls them: the plain functions here (`PLAIN`), the same wrapped
    as Prefect tasks (`flows.TASKS`), or wrapped to time them (benchmarks)."""

    def fit(self, run: CampaignRun, iteration: int) -> Optional[FittedModel]: ...
    def propose(self, run: CampaignRun, iteration: int, model: Optional[FittedModel], n: int) -> list[ExperimentRecord]: ...
    def approve(self, run: CampaignRun, batch: list[ExperimentRecord]) -> list[ExperimentRecord]: ...
    def execute(self, run: CampaignRun, batch: list[ExperimentRecord]) -> None: ...
    def measure(self, run: CampaignRun, batch: list[ExperimentRecord]) -> list[LabResult]: ...
    def record(self, run: CampaignRun, batch: list[ExperimentRecord], results: list[LabResult]) -> RecordOutcome: ...


PLAIN: Steps = SimpleNamespace(fit=fit, propose=propose, approve=approve, execute=execute, measure=measure, record=record)  # type: ignore[assignment]


def run_iteration(run: CampaignRun, iteration: int, steps: Steps = PLAIN) -> RecordOutcome:
    """One pass of the loop, the only place its order is written: open experiments are continued
    (never re-proposed), else fit -> propose; then approve -> execute -> measure -> record."""
    batch = open_experiments(run)
    if not batch:
        batch = steps.propose(run, iteration, steps.fit(run, iteration), min(run.campaign.batch_size, remaining(run)))
    batch = steps.approve(run, batch)
    steps.execute(run, batch)
    return steps.record(run, batch, steps.measure(run, batch))
