"""A campaign run: everything one run of a campaign works with (store, stored record, instruments, planner),
opened once per process after checking everything that can be checked first, and found again by the steps
from a `RunRef` (ids only, so a step can run in another process or on another host)."""

from __future__ import annotations

import os
import threading
import uuid
import weakref
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, SecretStr

from retort.agents.planners import BayesianPlanner, Planner, RandomPlanner
from retort.errors import RetortError
from retort.orchestrator.campaign import Campaign, stored_campaign
from retort.orchestrator.campaign.lifecycle import IMPORTED
from retort.orchestrator.errors import CampaignError
from retort.orchestrator.labs.base import Lab
from retort.orchestrator.labs.build import build_labs
from retort.orchestrator.store.core import Store
from retort.orchestrator.store.records import CampaignRecord, ExperimentRecord

STORE_ENV = "RETORT_STORE_URL"  # where a process started by a Prefect worker finds the store


def make_planner(campaign: Campaign, name: Optional[str] = None, sources: Optional[dict[str, list]] = None) -> Planner:
    """The campaign's planner (`name`: another one, e.g. random); `sources`: a warm start's measurements, by campaign."""
    name = name or campaign.planner
    if name == "random":
        return RandomPlanner(seed=campaign.seed)  # a dry-wet campaign's random baseline: truth experiments only
    if campaign.purpose == "learn":
        from retort.agents.learning import LearnPlanner, TrustLevels

        settings = campaign.learning
        levels = TrustLevels(lower=settings.lower, upper=settings.upper, keep=settings.keep, converged=settings.converged)
        return LearnPlanner(campaign.goal, levels, n_initial=campaign.initial_design, seed=campaign.seed, members=settings.members,
                            initial=campaign.initial_design_method)
    if campaign.space.open:  # a molecule parameter generates
        from retort.agents.generation.planner import GenerativePlanner

        return GenerativePlanner.around(campaign.goal, campaign.initial_design, campaign.seed, initial=campaign.initial_design_method)
    plain = BayesianPlanner(campaign.goal, n_initial=campaign.initial_design, seed=campaign.seed, initial=campaign.initial_design_method,
                            batch_selection=campaign.batch_selection, sources=sources)
    if campaign.fidelities:  # the plain planner takes over the truth when every dry source turns out unrelated to it
        from retort.agents.fidelity import CostAwarePlanner, Fidelity

        objective = campaign.objectives[0]
        return CostAwarePlanner(objective.name, objective.goal == "maximize", [Fidelity(name=f.name, cost=f.cost) for f in campaign.fidelities],
                                truth=campaign.truth, n_initial=campaign.initial_design, seed=campaign.seed, fallback=plain)
    return plain


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
        unavailable = self.lab.unavailable()
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
    labs, sources = checked(campaign, store)
    record = store.open_campaign(campaign.name, campaign.config_json(), Campaign.normalise_config)
    for lab in labs.values():
        lab.attach(record.id)
    run = CampaignRun(campaign=campaign, store=store, record=record, labs=labs, planner=make_planner(campaign, planner, sources),
                      planner_name=planner)
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
        return open_run(stored_campaign(store.campaign(ref.campaign), url), ref.planner, store)


def check_run(campaign: Campaign, store: Optional[Store]) -> dict[str, Lab]:
    """Everything a run checks before it stores or dispenses anything; writes nothing.

    The campaign against its lab (`build_labs`), against what its store already holds (the same
    configuration but for the budget; no store: a new one), its budget against the candidates
    left in a finite space, and its warm-start sources. Returns the built instruments (labs by name). Raises a
    `RetortError` naming the problem.
    """
    return checked(campaign, store)[0]


def checked(campaign: Campaign, store: Optional[Store]) -> tuple[dict[str, Lab], Optional[dict[str, list]]]:
    """`check_run`, also returning the warm-start sources it read (None without a warm start), for `open_run`."""
    labs = build_labs(campaign, store)
    lab = next(iter(labs.values()))
    if store is not None and store.in_memory and (campaign.schedule == "async" or len(labs) > 1):
        raise CampaignError("store: an in-memory SQLite store is one connection, which instruments running at once would share; "
                            "use a file (sqlite:///retort.db) or PostgreSQL")
    record = store.find_campaign(campaign.name, campaign.config_json(), Campaign.normalise_config) if store else None
    space = campaign.space
    if space.is_discrete:
        experiments = [e for e in store.experiments(record.id) if e.fidelity is None] if record else []  # computations: not tried
        spent = sum(e.status != "rejected" and e.provenance.planner != IMPORTED for e in experiments)
        hole_indices = {space.index_of(p) for p in lab.unavailable()}
        holes = len(hole_indices)
        left = space.n_candidates() - holes - len({space.index_of(e.params) for e in experiments} - hole_indices)  # rejected: never again
        if campaign.budget - spent > left:
            raise CampaignError(
                f"budget: {campaign.budget} is more than the space can give: {spent} experiments of the budget are stored and "
                f"{left} untried candidates are left ({space.n_candidates()} combinations, {holes} of them the lab cannot run); "
                f"lower the budget to at most {spent + left}"
            )
    return labs, warm_start_sources(campaign, store) if campaign.warm_start else None


def warm_start_sources(campaign: Campaign, store: Optional[Store]) -> dict[str, list]:
    """The measurements of each warm-start source, as the planner sees them (`Observation`s), by source name: a campaign
    `campaign.warm_start` names (checked to be in `store`, over the same parameters, encodings aside, and objective, with
    measurements), or a file of measurements (read and checked against this campaign's space and objective as `retort
    import` reads one). Raises `CampaignError` naming the source otherwise."""
    from retort.agents.proposal import Observation
    from retort.orchestrator.campaign.file import WarmStartFile
    from retort.orchestrator.campaign.observations import observations
    from retort.orchestrator.decisions.importing import read_measurements

    def shape(c: Campaign) -> tuple:
        return ([p.model_dump(exclude={"encoding"}) for p in c.parameters], [(o.name, o.goal) for o in c.objectives])

    out = {}
    for source in campaign.warm_start:
        if isinstance(source, WarmStartFile):
            try:
                text = Path(source.file).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise CampaignError(f"warm_start: cannot read {source.file}: {getattr(exc, 'strerror', None) or exc}") from None
            try:
                rows = read_measurements(campaign, text, f"warm_start file {source.name}")
            except RetortError as exc:
                raise CampaignError(str(exc)) from None
            out[source.name] = [Observation(params=r.params, objectives=r.objectives, readings=r.raw) for r in rows]
            continue
        name = source
        if store is None:
            raise CampaignError(f"warm_start: the store {campaign.store} does not exist yet, so it holds no campaign {name!r}; run the "
                                f"earlier campaign into it first")
        record = next((r for r in store.campaigns() if r.name == name), None)
        if record is None:
            raise CampaignError(f"warm_start: campaign {name!r} is not in the store {store.url}; stored campaigns: "
                                f"{[r.name for r in store.campaigns() if r.name != campaign.name] or 'none'}")
        stored = stored_campaign(record)
        if shape(stored) != shape(campaign):
            raise CampaignError(f"warm_start: campaign {name!r} has other parameters or objectives than {campaign.name!r}; a "
                                f"source must search the same space (its encodings may differ) for the same objective")
        measured = observations(stored, [e for e in store.experiments(record.id) if e.fidelity is None])
        if not measured:
            raise CampaignError(f"warm_start: campaign {name!r} has no measurements yet")
        out[name] = measured
    return out
