"""The closed loop: its steps as plain functions (fit, propose, approve, execute, measure, record), the
three steps the schedules call on ids (`plan`, `approve_seqs`, `run_on`), and the two schedules, written
once: `run_iteration` (batch) and `run_async`.

The Prefect flow (`flows.py`) wraps the three steps in tasks; the benchmarks and tests call them directly.
Every step reads its inputs from the store and writes its outputs there first, so a run that stops
anywhere can be continued without losing or repeating an experiment.
"""

from __future__ import annotations

import contextvars
import logging
import math
import os
import time
import threading
import uuid
import weakref
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from types import SimpleNamespace
from typing import Callable, Optional, Protocol

from pydantic import BaseModel, ConfigDict, SecretStr

from retort.agents.planners import BayesianPlanner, Planner, RandomPlanner
from retort.agents.proposal import Observation, Proposal, Provenance, Value
from retort.orchestrator.approvals import settle_overdue
from retort.orchestrator.campaign import Campaign
from retort.orchestrator.errors import CampaignError, InstrumentDown, LabError, LabNotReady, LabRunFailed, LabTransient, RetortError
from retort.orchestrator.labs import Lab, LabRequest, LabResult, build_labs
from retort.orchestrator.pace import Pace
from retort.orchestrator.records import DONE, IMPORTED, OPEN, CampaignRecord, ExperimentRecord, allocated
from retort.orchestrator.store import Store
from retort.surrogates import FittedModel

log = logging.getLogger(__name__)
STORE_ENV = "RETORT_STORE_URL"  # where a process started by a Prefect worker finds the store
TRANSIENT_DELAYS = (1.0, 4.0, 16.0)  # s between tries of an instrument run refused before anything moved (`LabTransient`)
DECISION_POLL = float(os.environ.get("RETORT_DECISION_POLL", "2"))  # s between looks at the store for a person's decisions

INTERRUPTED = (
    "interrupted: the run stopped while this experiment was on the instruments, so what was dispensed is unknown; "
    "it is not repeated and its well is not reused"
)


def make_planner(campaign: Campaign, name: Optional[str] = None) -> Planner:
    name = name or campaign.planner
    if name == "random":
        return RandomPlanner(seed=campaign.seed)
    return BayesianPlanner(campaign.goal, n_initial=campaign.initial_design, seed=campaign.seed, initial=campaign.initial_design_method)


class RunRef(BaseModel):
    """What a task is given to find its campaign run: the store (secret: Prefect records task parameters)
    and the campaign's name. Tasks take this and experiment numbers, never live objects, so that a task
    can run in another process or on another host (`attach`)."""

    model_config = ConfigDict(frozen=True)

    store_url: SecretStr = SecretStr("")  # empty: this host's `RETORT_STORE_URL`
    campaign: str
    planner: Optional[str] = None
    opened: str = ""  # which opening of the campaign in the process that made the ref (`attach` there finds it)


class CampaignRun:
    """Everything one run of a campaign works with: its store, stored record, instruments (`labs`, by
    name; `lab` is the first) and planner. Opened once per process (`open_run`, `run_for`, `attach`).

    Slots, not a ``__dict__``: should Prefect ever see one it records ``<CampaignRun>`` rather than
    walking into the store and writing its URL (password included) to its server.
    """

    __slots__ = ("campaign", "store", "record", "labs", "lab", "planner", "planner_name", "space", "opened", "__weakref__")

    def __init__(self, campaign: Campaign, store: Store, record: CampaignRecord, labs: dict[str, Lab], planner: Planner,
                 planner_name: Optional[str] = None) -> None:
        self.campaign = campaign
        self.store = store
        self.record = record
        self.labs = labs
        self.lab = next(iter(labs.values()))
        self.planner = planner
        self.planner_name = planner_name
        unavailable = getattr(self.lab, "unavailable", lambda: [])()
        self.space = campaign.space.model_copy(update={"excluded": unavailable}) if unavailable else campaign.space
        self.opened = uuid.uuid4().hex

    @property
    def ref(self) -> RunRef:
        return RunRef(store_url=self.store.secret_url, campaign=self.record.name, planner=self.planner_name, opened=self.opened)

    def instrument(self, name: Optional[str]) -> Lab:
        """The lab named `name` (None: the first)."""
        return self.labs[name] if name else self.lab

    def experiments(self, seqs: Optional[list[int]] = None, statuses: Optional[tuple[str, ...]] = None) -> list[ExperimentRecord]:
        return self.store.experiments(self.record.id, seqs=seqs, statuses=statuses)

    def counts(self) -> dict[str, int]:
        return self.store.status_counts(self.record.id)

    @property
    def approval_required(self) -> bool:
        return self.campaign.approval.mode == "required"


_OPEN: "weakref.WeakValueDictionary[str, CampaignRun]" = weakref.WeakValueDictionary()  # by `opened`
_OPENING = threading.Lock()


def open_run(campaign: Campaign, planner: Optional[str] = None, store: Optional[Store] = None) -> CampaignRun:
    """Open (or create) the campaign in its store and build its instruments and planner, after checking
    everything that can be checked first (`check_run`). Tasks of this process then find it (`attach`)."""
    store = store or Store(campaign.store)
    labs = check_run(campaign, store)
    record = store.open_campaign(campaign.name, campaign.config_json(), Campaign.normalise_config)
    for lab in labs.values():
        lab.attach(record.id)
    run = CampaignRun(campaign=campaign, store=store, record=record, labs=labs, planner=make_planner(campaign, planner), planner_name=planner)
    _OPEN[run.opened] = run
    return run


def run_for(campaign: Campaign, planner: Optional[str] = None) -> CampaignRun:
    """The run this process already has open for `campaign` (the CLI opened it to check it), else a new one."""
    with _OPENING:
        for run in list(_OPEN.values()):
            if run.campaign == campaign and run.planner_name == planner:
                return run
        return open_run(campaign, planner)


def attach(ref: RunRef) -> CampaignRun:
    """The run `ref` names: the one open in this process, else opened from the campaign as stored (a task in another process)."""
    with _OPENING:
        run = _OPEN.get(ref.opened)
        if run is not None:
            return run
        url = ref.store_url.get_secret_value() or os.environ.get(STORE_ENV, "")
        if not url:
            raise CampaignError(f"campaign {ref.campaign!r}: no store URL was passed to this process (a Prefect deployment's parameters "
                                f"cannot carry secrets); set {STORE_ENV} on this host to the campaign's store")
        store = Store(url)
        stored = store.campaign(ref.campaign)
        try:
            campaign = Campaign.model_validate_json(stored.config_json).model_copy(update={"store": url})
        except ValueError as exc:
            raise CampaignError(f"campaign {ref.campaign!r} in store {store.url}: its stored configuration no longer validates: {exc}") from exc
        return open_run(campaign, ref.planner, store)


def check_run(campaign: Campaign, store: Optional[Store]) -> dict[str, Lab]:
    """Everything a run checks before it stores or dispenses anything; writes nothing.

    The campaign against its lab (`build_labs`), against what its store already holds (the same
    configuration but for the budget; no store: a new one), and its budget against the candidates
    left in a finite space. Returns the built instruments (labs by name). Raises a `RetortError` naming the problem.
    """
    labs = build_labs(campaign, store)
    lab = next(iter(labs.values()))
    if store is not None and store.in_memory and (campaign.schedule == "async" or len(labs) > 1):
        raise CampaignError("store: an in-memory SQLite store is one connection, which instruments running at once would share; "
                            "use a file (sqlite:///retort.db) or PostgreSQL")
    record = store.find_campaign(campaign.name, campaign.config_json(), Campaign.normalise_config) if store else None
    space = campaign.space
    if space.is_discrete:
        experiments = store.experiments(record.id) if record else []
        spent = sum(e.status != "rejected" and e.provenance.planner != IMPORTED for e in experiments)
        hole_indices = {space.index_of(p) for p in getattr(lab, "unavailable", lambda: [])()}
        holes = len(hole_indices)
        left = space.n_candidates() - holes - len({space.index_of(e.params) for e in experiments} - hole_indices)  # rejected: never again
        if campaign.budget - spent > left:
            raise CampaignError(
                f"budget: {campaign.budget} is more than the space can give: {spent} experiments of the budget are stored and "
                f"{left} untried candidates are left ({space.n_candidates()} combinations, {holes} of them the lab cannot run); "
                f"lower the budget to at most {spent + left}"
            )
    return labs


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
        collected = [e for e in stuck if e.seq in recovery.measurable]
        measurable |= set(recovery.measurable)
        if collected:
            try:
                record(run, collected, lab.measure([LabRequest(seq=e.seq, params=e.params) for e in collected]))
            except LabError as exc:
                run.store.set_status([e.id for e in collected], "failed", reason=f"measurement error after a restart: {exc}")
    lost = [e for e in stuck if e.seq not in measurable and e.seq not in requeued]
    if lost:
        run.store.set_status([e.id for e in lost], "failed", reason=INTERRUPTED)
    if lost and run.campaign.on_interrupted == "rerun":
        again = lost[: unallocated(run)]  # within the budget
        reruns = run.store.add_proposals(run.record.id, next_iteration(run), [
            Proposal(params=e.params, provenance=Provenance(planner="rerun", note=f"re-run of experiment {e.seq}, interrupted")) for e in again])
        if not run.approval_required:  # else a person decides on the re-runs like any proposal
            run.store.set_status([e.id for e in reruns], "approved")
    return [e.seq for e in lost]


def observations(campaign: Campaign, experiments: list[ExperimentRecord]) -> list[Observation]:
    """Measured experiments as the planner sees them: parameters, objectives and the finite raw readings."""
    names = [o.name for o in campaign.objectives]
    out = []
    for e in experiments:
        values = e.objectives()
        if e.status == "measured" and all(n in values for n in names):
            readings = {k: v for k, v in e.raw().items() if v is not None and math.isfinite(v)}
            out.append(Observation(params=e.params, objectives={n: values[n] for n in names}, readings=readings))
    return out


def remaining(run: CampaignRun) -> int:
    """Experiments still to run: the budget less those measured or failed."""
    counts = run.counts()
    return max(0, run.campaign.budget - sum(counts.get(s, 0) for s in DONE))


def unallocated(run: CampaignRun) -> int:
    """Experiments still to propose: the budget less every stored experiment (done, running, or open) but those
    rejected (and those imported, which `counts` leaves out)."""
    return max(0, run.campaign.budget - allocated(run.counts()))


def plannable(run: CampaignRun) -> int:
    """How many experiments may be proposed now: `unallocated`, and in a finite space no more than its untried
    candidates. Raises `CampaignError` when budget is left but no candidate is (rejections use candidates up
    without spending budget)."""
    n = unallocated(run)
    if n and run.space.is_discrete:
        experiments = run.experiments()
        tried = {run.space.index_of(e.params) for e in experiments} | run.space.excluded_indices()
        left = run.space.n_candidates() - len(tried)
        if left <= 0:
            rejected = sum(e.status == "rejected" for e in experiments)
            raise CampaignError(f"campaign {run.campaign.name!r}: every candidate of the space has been tried or rejected ({rejected} "
                                f"rejected), so the {n} experiments left in the budget cannot be proposed; lower the budget to "
                                f"{run.campaign.budget - n} to finish the campaign")
        n = min(n, left)
    return n


def next_iteration(run: CampaignRun) -> int:
    return run.store.last_iteration(run.record.id) + 1


def open_experiments(run: CampaignRun) -> list[ExperimentRecord]:
    """Proposed or approved experiments that have not run yet (continued, never re-proposed)."""
    return run.experiments(statuses=tuple(OPEN))


def fit(run: CampaignRun, iteration: int) -> Optional[FittedModel]:
    """Refit the planner's surrogate on every measured experiment and store the model version."""
    model = run.planner.fit(run.space, observations(run.campaign, run.experiments()))
    if model is not None:
        model.version = run.store.add_model_version(run.record.id, iteration, model.summary)
    return model


def propose(run: CampaignRun, iteration: int, model: Optional[FittedModel], n: int) -> list[ExperimentRecord]:
    """Propose `n` experiments, every open or running one passed as pending and every rejected one as rejected
    (never proposed again in a finite space; kept away from in a continuous one)."""
    experiments = run.experiments()
    pending: list[dict[str, Value]] = [e.params for e in experiments if e.status in (*OPEN, "running")]
    rejected = [e.params for e in experiments if e.status == "rejected"]
    proposals: list[Proposal] = run.planner.propose(run.space, observations(run.campaign, experiments), pending, n, model, rejected=rejected)
    return run.store.add_proposals(run.record.id, iteration, proposals)


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


def control(run: CampaignRun) -> str:
    """How an operator left the campaign (`retort control`, the UI): `run`, `paused` or `stopped`."""
    from retort.orchestrator.decision_store import DecisionStore

    return DecisionStore(run.store).control(run.record.id)


def wait_while_paused(run: CampaignRun, should_stop: Callable[[], bool] = lambda: False) -> str:
    """Wait, looking at the store every `DECISION_POLL` s, while an operator has the campaign paused; returns its
    control then (`run`, or `stopped`)."""
    from retort.orchestrator.stopping import stop_requested

    state = control(run)
    while state == "paused" and not should_stop() and not stop_requested():
        time.sleep(DECISION_POLL)
        state = control(run)
    return state


def awaiting(run: CampaignRun, seqs: Optional[list[int]] = None) -> list[int]:
    """The numbers of experiments (of `seqs`) waiting for a person's decision."""
    return [e.seq for e in run.experiments(seqs=seqs, statuses=("proposed",))] if run.approval_required else []


def wait_for_decisions(run: CampaignRun, seqs: list[int], every: bool = True, should_stop: Callable[[], bool] = lambda: False,
                       or_when: Callable[[], bool] = lambda: False) -> None:
    """Wait, looking at the store every `DECISION_POLL` s, until a person (or the campaign's `approval.then`) has
    decided every one of `seqs` (`every`), or any one of them, or `or_when()` (e.g. an operator added an
    experiment). The wait is the store's state, not this process's: a run stopped while waiting waits again for
    the same proposals when continued."""
    from retort.orchestrator.stopping import stop_requested

    waiting = set(awaiting(run, seqs))
    while waiting and not should_stop() and not stop_requested():
        time.sleep(DECISION_POLL)
        settle_overdue(run.campaign, run.store, run.record.id)
        left = set(awaiting(run, seqs))
        if not left or (not every and left != waiting) or or_when() or control(run) == "stopped":
            return
        waiting = left


def execute(run: CampaignRun, batch: list[ExperimentRecord], instrument: Optional[str] = None) -> None:
    """Let the instrument (default: the first) plan and reserve the batch (nothing stored changes if it
    cannot), mark it running with its locations, then run it there."""
    if not batch:
        return
    lab = run.instrument(instrument)
    requests = [LabRequest(seq=e.seq, params=e.params) for e in batch]
    try:
        locations = lab.prepare(requests)
    except LabError as exc:
        run.store.set_status([e.id for e in batch], "failed", reason=f"lab error: {exc}")
        raise
    run.store.set_status([e.id for e in batch], "running", location={e.id: locations[e.seq] for e in batch})
    try:
        lab.execute(requests)
    except LabRunFailed as exc:  # part-way: measure what completed, fail what was touched, requeue what was not
        by_seq = {e.seq: e for e in batch}
        for seq, reason in exc.failed.items():
            run.store.set_status([by_seq[seq].id], "failed", reason=f"lab error: {reason}")
        if exc.not_started:
            run.store.set_status([by_seq[s].id for s in exc.not_started], "approved")
        done = [by_seq[s] for s in exc.done]
        if done:
            record(run, done, lab.measure([LabRequest(seq=e.seq, params=e.params) for e in done]))
        raise
    except LabTransient:  # refused before anything moved: back in the queue, the reservation kept for the next try
        run.store.set_status([e.id for e in batch], "approved")
        raise
    except LabError as exc:
        run.store.set_status([e.id for e in batch], "failed", reason=f"lab error: {exc}")
        raise


def measure(run: CampaignRun, batch: list[ExperimentRecord], instrument: Optional[str] = None) -> list[LabResult]:
    if not batch:
        return []
    lab = run.instrument(instrument)
    try:
        return lab.measure([LabRequest(seq=e.seq, params=e.params) for e in batch])
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
    rejected: int = 0
    imported: int = 0  # measurements imported from a file: used by the model, not counted in the budget
    iterations: int
    best_seq: Optional[int]
    best_params: dict[str, Value]
    best_objectives: dict[str, float]
    model_versions: int
    last_loo_coverage_95: dict[str, float]
    fit_warnings: dict[str, int] = {}  # over every model version: warning -> times
    lab_seconds: float
    front: list[int] = []  # several objectives: the experiments on the Pareto front (numbers)


def scored(campaign: Campaign, experiments: list[ExperimentRecord]) -> list[ExperimentRecord]:
    """Measured experiments with every objective."""
    names = [o.name for o in campaign.objectives]
    return [e for e in experiments if e.status == "measured" and all(n in e.objectives() for n in names)]


def best(campaign: Campaign, experiments: list[ExperimentRecord]) -> Optional[ExperimentRecord]:
    """The measured experiment with the highest utility (weighted, signed objectives) of those that keep to the
    outcome constraints (None until one does)."""
    goal = campaign.goal
    feasible = [e for e in scored(campaign, experiments) if goal.feasible(e.objectives(), _readings(e))]
    return max(feasible, key=lambda e: campaign.utility(e.objectives()), default=None)


def pareto_front(campaign: Campaign, experiments: list[ExperimentRecord]) -> list[ExperimentRecord]:
    """The measured experiments on the Pareto front of the objectives (keeping to the outcome constraints)."""
    done = scored(campaign, experiments)
    return [done[i] for i in campaign.goal.pareto_front([e.objectives() for e in done], [_readings(e) for e in done])]


def _readings(e) -> Optional[dict]:
    """A full record's raw readings; None for the UI's light rows (`ExperimentLine`), which do not carry them
    (outcome constraints on readings are then not checked, as `Goal.feasible` says)."""
    return e.raw() if isinstance(e, ExperimentRecord) else None


def summarise(campaign: Campaign, store: Store, record: CampaignRecord) -> CampaignSummary:
    experiments = store.experiments(record.id)
    models = store.model_versions(record.id)
    top = best(campaign, experiments)
    return CampaignSummary(
        name=campaign.name,
        budget=campaign.budget,
        measured=sum(e.status == "measured" and e.provenance.planner != IMPORTED for e in experiments),
        failed=sum(e.status == "failed" for e in experiments),
        rejected=sum(e.status == "rejected" for e in experiments),
        imported=sum(e.provenance.planner == IMPORTED for e in experiments),
        iterations=max((e.iteration for e in experiments), default=0),
        best_seq=top.seq if top else None,
        best_params=top.params if top else {},
        best_objectives=top.objectives() if top else {},
        model_versions=len(models),
        last_loo_coverage_95=models[-1].loo_coverage_95 if models else {},
        fit_warnings=dict(sum((Counter(m.fit_warnings) for m in models), Counter())),
        lab_seconds=sum(e.lab_seconds or 0.0 for e in experiments),
        front=[e.seq for e in pareto_front(campaign, experiments)] if len(campaign.objectives) > 1 else [],
    )


def plan(ref: RunRef, iteration: int, n: int) -> list[int]:
    """Fit the model on everything measured, store its version, propose `n` experiments (everything open or
    running passed as pending) and store them; returns their numbers."""
    run = attach(ref)
    return [e.seq for e in propose(run, iteration, fit(run, iteration), n)]


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
    execute(run, batch, instrument)  # `measure` and `record` need only the numbers, ids and parameters read above
    return record(run, batch, measure(run, batch, instrument))


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


def _merge(outcomes: list[RecordOutcome]) -> RecordOutcome:
    return RecordOutcome(measured=sorted(s for o in outcomes for s in o.measured), failed={k: v for o in outcomes for k, v in o.failed.items()})


def _chunks(seqs: list[int], instruments: list[str], size: int) -> list[tuple[str, list[int]]]:
    """Up to `size` experiments per instrument, in order."""
    return [(name, seqs[i * size:(i + 1) * size]) for i, name in enumerate(instruments) if seqs[i * size:(i + 1) * size]]


def _in_threads(jobs: list[Callable[[], RecordOutcome]]) -> list[RecordOutcome]:
    """Run jobs at once (one thread each; a single job on this thread), wait for all, then raise the first error."""
    if len(jobs) == 1:
        return [jobs[0]()]
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="retort-instrument") as pool:
        futures = [pool.submit(contextvars.copy_context().run, job) for job in jobs]
        wait(futures)
    return [f.result() for f in futures]


def in_service(run: CampaignRun) -> list[str]:
    """The instruments not out of service; raises `LabNotReady` naming each one's reason when none is left."""
    down = {name: lab.out_of_service() for name, lab in run.labs.items()}
    working = [name for name, why in down.items() if why is None]
    if not working:
        raise LabNotReady("every instrument is out of service: " + "; ".join(f"{name}: {why}" for name, why in down.items())
                          + ". Nothing was run. Once one is fixed, put it back with 'retort deck release CAMPAIGN.yaml' (--robot N)")
    return working


def run_iteration(run: CampaignRun, iteration: int, steps: Steps = PLAIN) -> RecordOutcome:
    """One pass of the batch schedule, the only place its order is written: open experiments are continued
    (never re-proposed), else plan `batch_size` per instrument; approve (or wait for a person to decide);
    each instrument runs, measures and records its share, all at once; returns when all are done."""
    nothing = RecordOutcome(measured=[], failed={})
    if wait_while_paused(run) == "stopped":
        return nothing
    ref, instruments, size = run.ref, in_service(run), run.campaign.batch_size
    seqs = [e.seq for e in open_experiments(run)][: size * len(instruments)]
    if not seqs:
        seqs = steps.plan(ref, iteration, min(size * len(instruments), plannable(run)))
    if awaiting(run, seqs):  # approval: required; a rejected experiment is not run and spends no budget
        wait_for_decisions(run, seqs)
        if wait_while_paused(run) == "stopped":
            return nothing
        instruments = in_service(run)  # a wait can be long: an instrument may have been taken out of service
    seqs = steps.approve(ref, seqs)
    jobs = [lambda name=name, part=part: steps.run_on(ref, name, part) for name, part in _chunks(seqs, instruments, size)]
    return _merge(_in_threads(jobs)) if jobs else nothing


def run_async(run: CampaignRun, steps: Steps = PLAIN, should_stop: Callable[[], bool] = lambda: False,
              last_iteration: Optional[int] = None) -> RecordOutcome:
    """The asynchronous schedule: whenever instruments are free each gets up to `batch_size` approved open
    experiments at once. Planning runs on a thread of its own, so handing out what is planned never waits for a
    plan: whenever none is being computed, the next is started for the free instruments and for those expected
    to free up while it is computed, measured in the run (`Pace`), in one proposal (every open and running
    experiment passed as pending); its experiments are stored, approved, for the first instruments to free up.
    So no instrument waits for another's batch, and none for the planner while the planner keeps up. Gives out
    nothing new while an operator has the campaign paused. Stops giving out work at the budget, at the first
    failure, when an operator stops the campaign or when `should_stop()`; always waits for the plan and the
    instruments still running, then raises the first error (or a `LabError` naming the failed experiments).
    `last_iteration`: plan no proposal numbered above it (what is planned still runs)."""
    ref, size = run.ref, run.campaign.batch_size
    free, busy, given = in_service(run), {}, set()  # given: numbers handed to an instrument that has not finished
    pace, began = Pace(size), {}  # how far ahead to plan (`pace.py`); when each instrument run began
    planning: Optional[Future] = None  # the plan being computed, if one is
    outcomes: list[RecordOutcome] = []
    error: Optional[BaseException] = None

    def queued(n: int) -> list[int]:
        """Open experiments not handed out: approved ones (and, with `approval: auto` while no plan is computed,
        proposed ones left by a run that stopped before approving them)."""
        ready = ("approved",) if run.approval_required or planning is not None else OPEN
        return [e.seq for e in open_experiments(run) if e.seq not in given and e.status in ready][:n]

    def stopping() -> bool:
        return should_stop() or control(run) == "stopped"

    def giving() -> bool:  # new work is handed out: not stopping, not paused by an operator
        return not stopping() and control(run) == "run"

    def may_plan() -> bool:
        return last_iteration is None or next_iteration(run) <= last_iteration

    def timed_plan(iteration: int, n: int) -> list[int]:
        started = time.monotonic()
        seqs = steps.approve(ref, steps.plan(ref, iteration, n))
        pace.planned(time.monotonic() - started)
        return seqs

    def start_plan() -> Optional[Future]:
        """A plan for the free instruments and those expected to free up while it is computed, less what is
        queued, in whole batches; None when nothing is to be planned."""
        want = size * len(free) + pace.ahead(began.values(), time.monotonic())
        short = want - len(queued(want))
        n = min(size * math.ceil(short / size), plannable(run)) if short > 0 and may_plan() else 0
        return planner.submit(contextvars.copy_context().run, timed_plan, next_iteration(run), n) if n else None

    pool = ThreadPoolExecutor(max_workers=len(run.labs), thread_name_prefix="retort-instrument")
    planner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retort-planner")
    try:
        while True:
            if planning is not None and planning.done():
                finished, planning = planning, None
                finished.result()  # a planning error ends the run (once the instruments' runs end)
            while free and error is None and giving():  # each free instrument a share of what is queued
                if run.approval_required:
                    settle_overdue(run.campaign, run.store, run.record.id)
                seqs = queued(size * len(free))
                seqs = steps.approve(ref, seqs) if seqs else []
                if not seqs:
                    break
                for instrument, part in _chunks(seqs, list(free), size):
                    free.remove(instrument)
                    given |= set(part)
                    future = pool.submit(contextvars.copy_context().run, steps.run_on, ref, instrument, part)
                    busy[future], began[future] = (instrument, part), time.monotonic()
            undecided = awaiting(run)
            if planning is None and error is None and giving() and not undecided:
                planning = start_plan()
            if not busy and planning is None:
                if error is None and not stopping() and (queued(1) or undecided or (unallocated(run) and may_plan())):
                    if wait_while_paused(run, should_stop) != "run":
                        continue  # stopped meanwhile: the next pass ends the run
                    if undecided and not queued(1):  # every instrument idle: wait for a person to decide one (or add one)
                        wait_for_decisions(run, undecided, every=False, should_stop=should_stop, or_when=lambda: bool(queued(1)))
                    free = in_service(run)  # raises when none is left; a robot put back in service meanwhile is taken
                    continue
                break
            waited = set(busy) | ({planning} if planning is not None else set())
            done, _ = wait(waited, timeout=DECISION_POLL if undecided or not giving() else None, return_when=FIRST_COMPLETED)
            for future in done:
                if future is planning:
                    continue  # taken at the top of the next pass
                instrument, seqs = busy.pop(future)
                given -= set(seqs)
                pace.ran(time.monotonic() - began.pop(future))
                try:
                    outcome = future.result()
                except InstrumentDown as exc:  # its experiments are settled (`execute`); the others carry on
                    log.warning("%s", exc)
                    continue
                except RetortError as exc:
                    free.append(instrument)
                    error = error or exc
                    continue
                free.append(instrument)
                outcomes.append(outcome)
                if outcome.failed and error is None:
                    error = LabError("; ".join(outcome.failed.values()))
    finally:
        planner.shutdown(wait=True, cancel_futures=True)
        pool.shutdown(wait=True, cancel_futures=True)
    if error is not None:
        raise error
    return _merge(outcomes)
