"""What a campaign has found, defined once: the best experiment, the best so far after each experiment, the
Pareto front, how many experiments are done, and the summary a run reports. The CLI (`retort run`, `status`,
`export`), the report PNG, the operator UI and the benchmarks all read results through here.

The functions take the store's full records (`ExperimentRecord`) or its light rows (`ExperimentLine`) alike:
anything with ``seq``, ``status``, ``objectives()`` and ``raw()`` (the readings outcome constraints name). This
module imports neither the store nor torch, so a page or a status line never loads a model to name the best.

Example:
    >>> from types import SimpleNamespace as E
    >>> from retort.orchestrator.campaign.file import Campaign
    >>> campaign = Campaign.model_validate({"name": "c", "budget": 4, "lab": {"kind": "virtual_analytic", "function": "branin"},
    ...     "parameters": [{"name": "x1", "type": "continuous", "lower": -5, "upper": 10},
    ...                    {"name": "x2", "type": "continuous", "lower": 0, "upper": 15}],
    ...     "objectives": [{"name": "y", "goal": "minimize"}]})
    >>> done = [E(seq=1, status="measured", objectives=lambda: {"y": 3.0}, raw=lambda: {}),
    ...         E(seq=2, status="measured", objectives=lambda: {"y": 1.0}, raw=lambda: {})]
    >>> best(campaign, done).seq, [e.seq for e in best_so_far(campaign, done)]
    (2, [1, 2])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Optional, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from retort.agents.proposal import Value
from retort.orchestrator.campaign.file import Campaign
from retort.orchestrator.campaign.lifecycle import DONE, IMPORTED


class Measured(Protocol):
    """What the results need of an experiment (`ExperimentRecord` and `ExperimentLine` both have it)."""

    seq: int
    status: str

    def objectives(self) -> dict[str, float]: ...

    def raw(self) -> Mapping[str, Optional[float]]: ...


E = TypeVar("E", bound=Measured)


def scored(campaign: Campaign, experiments: Sequence[E]) -> list[E]:
    """The measured experiments with a value for every objective, in the order given."""
    names = [o.name for o in campaign.objectives]
    return [e for e in experiments if e.status == "measured" and all(n in e.objectives() for n in names)]


def feasible(campaign: Campaign, experiment: Measured) -> bool:
    """Whether a measured experiment keeps to every outcome constraint (on objectives or on readings)."""
    return campaign.goal.feasible(experiment.objectives(), _readings(experiment))


def best(campaign: Campaign, experiments: Sequence[E]) -> Optional[E]:
    """The measured experiment with the highest utility (the weighted, signed objectives) of those that keep to the
    outcome constraints; the earliest of equals; None until one does."""
    return max((e for e in scored(campaign, experiments) if feasible(campaign, e)), key=lambda e: campaign.utility(e.objectives()),
               default=None)


def best_so_far(campaign: Campaign, experiments: Sequence[E]) -> list[Optional[E]]:
    """After each experiment in the order given, the `best` of it and those before it (None until there is one)."""
    top: Optional[E] = None
    out: list[Optional[E]] = []
    for e in experiments:
        if e.status == "measured" and all(o.name in e.objectives() for o in campaign.objectives) and feasible(campaign, e):
            if top is None or campaign.utility(e.objectives()) > campaign.utility(top.objectives()):
                top = e
        out.append(top)
    return out


def pareto_front(campaign: Campaign, experiments: Sequence[E]) -> list[E]:
    """The measured experiments on the Pareto front of every objective, of those keeping to the outcome constraints."""
    done = scored(campaign, experiments)
    return [done[i] for i in campaign.goal.pareto_front([e.objectives() for e in done], [_readings(e) for e in done])]


def _readings(e: Measured) -> dict[str, float]:
    return {k: v for k, v in e.raw().items() if v is not None}


def done(counts: Mapping[str, int]) -> int:
    """Experiments that spent the budget (measured or failed), from `Store.status_counts`."""
    return sum(counts.get(s, 0) for s in DONE)


def allocated(counts: Mapping[str, int]) -> int:
    """Experiments that take a place in the budget, from `Store.status_counts` (which leaves out imported ones):
    every status but `rejected`."""
    return sum(n for status, n in counts.items() if status != "rejected")


def constrained_readings(campaign: Campaign) -> list[str]:
    """The raw readings outcome constraints are checked on (what light rows must carry for `best` and the front)."""
    return [c.name for c in campaign.outcome_constraints if c.name not in {o.name for o in campaign.objectives}]


class FidelitySpend(BaseModel):
    """What a dry-wet campaign spent at one fidelity, and how well the model learned it predicts the truth."""

    model_config = ConfigDict(frozen=True)

    name: str
    truth: bool
    cost: float
    done: int  # experiments or computations run (measured or failed: each was paid for)
    spend: float
    correlation: Optional[float] = None  # learned by the last model version (the truth: None)

    def describe(self) -> str:
        what = "measurement" if self.truth else "computation"
        text = f"{self.done} {what}{'s' if self.done != 1 else ''} x {self.cost:g} = {self.spend:,.0f}"
        if self.correlation is not None:
            text += f"; learned correlation with the truth {self.correlation:+.2f}"
        return text


def fidelity_counts(experiments: Sequence) -> dict[Optional[str], Counter]:
    """`Store.fidelity_counts` of full records already read: how many are in each status, by fidelity (None: the
    truth); imports left out."""
    counts: dict[Optional[str], Counter] = {}
    for e in experiments:
        if e.provenance.planner != IMPORTED:
            counts.setdefault(getattr(e, "fidelity", None), Counter())[e.status] += 1
    return counts


def fidelity_spend(campaign: Campaign, counts: Mapping[Optional[str], Mapping[str, int]], models: Sequence = ()) -> list[FidelitySpend]:
    """A dry-wet campaign's spend per fidelity, from `Store.fidelity_counts` and its model versions (the last one's
    learned correlations); empty for a campaign without fidelities."""
    from retort.surrogates.summary import CORRELATION

    learned = models[-1].hyperparameters if models else {}
    out = []
    for f in campaign.fidelities:
        n = done(counts.get(None if f.is_truth else f.name, {}))
        correlation = None if f.is_truth else (learned.get(f"{CORRELATION}{f.name}") or [None])[0]
        out.append(FidelitySpend(name=f.name, truth=f.is_truth, cost=f.cost, done=n, spend=n * f.cost, correlation=correlation))
    return out


def warm_start_text(campaign: Campaign, models: Sequence = ()) -> Optional[str]:
    """A warm-started campaign's last model version in words: each source's learned correlation with this campaign,
    whether the model planned with them, and the model's error on this campaign's own measurements, each left out in
    turn (with and without the sources); None for a campaign without `warm_start` or before its first model."""
    from retort.surrogates.summary import RELATEDNESS, WARM_START

    if not campaign.warm_start or not models:
        return None
    learned = models[-1].hyperparameters
    if WARM_START not in learned:
        return None
    used, _, _, joint, alone = learned[WARM_START]
    sources = ", ".join(f"{name} (correlation {learned.get(RELATEDNESS + name, [float('nan')])[0]:+.2f})" for name in campaign.warm_start_names)
    unit = next((f" {o.unit}" for o in campaign.objectives if o.unit), "")
    how = "planned with them" if used else "a cold start: they did not help predict this campaign's measurements"
    return (f"warm start from {sources}: {how}; leave-one-out error on this campaign's measurements {joint:.3g}{unit} with "
            f"the sources, {alone:.3g}{unit} without")


def learning_text(campaign: Campaign, models: Sequence = ()) -> Optional[str]:
    """A learn campaign's last round in words: where the untried candidates fall between the trust levels, the model's
    cross-validated error on the measured points, and whether it has learned; None for another campaign or before its
    first committee."""
    from retort.orchestrator.campaign.learning import learned, rounds

    if campaign.purpose != "learn":
        return None
    shares = rounds(models)
    if not shares:
        return None
    last, unit = shares[-1], next((f" {o.unit}" for o in campaign.objectives if o.unit), "")
    text = (f"round {len(shares)}: of {last.total} candidates not yet measured {last.accurate} accurate ({last.accurate_share:.0%}), "
            f"{last.candidates} to label, {last.suspect} suspect (trust levels {last.lower:.3g} to {last.upper:.3g}{unit}); "
            f"cross-validated error on the measured points RMSE {last.cv_rmse:.3g}{unit}, R^2 {last.cv_r2:.2f}")
    over = learned(campaign, models)
    return text + (f"; {over}" if over else "")


class CampaignSummary(BaseModel):
    """What a finished (or stopped) run reports, and what `retort status` and the UI show of a campaign."""

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
    fidelities: list[FidelitySpend] = []  # a dry-wet campaign: the spend per fidelity (the counts above are the truth's)
    warm_start: Optional[str] = None  # a warm-started campaign: its sources' relatedness and the model's error, in words
    learning: Optional[str] = None  # a learn campaign: its last round and model error, in words (`learning_text`)
    generation: Optional[str] = None  # a generating campaign: its generated experiments, in words (`generation_text`)


def summarise(campaign: Campaign, experiments: Sequence, models: Sequence = (), forbidden: Sequence[str] = ()) -> CampaignSummary:
    """The summary of a campaign's stored experiments (full records) and model versions (`forbidden`: the substructures
    people forbade, of a generating campaign)."""
    top = best(campaign, experiments)
    spend = fidelity_spend(campaign, fidelity_counts(experiments), models)
    experiments = [e for e in experiments if getattr(e, "fidelity", None) is None]  # the truth's, from here on
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
        fidelities=spend,
        warm_start=warm_start_text(campaign, models),
        learning=learning_text(campaign, models),
        generation=generation_text(campaign, experiments, forbidden),
    )


def generation_text(campaign: Campaign, experiments: Sequence, forbidden: Sequence[str] = ()) -> Optional[str]:
    """A generating campaign's generated experiments in words: how many, how many measured, the best of them, and the
    substructures people forbade; None for a campaign that does not generate."""
    if not campaign.space.open:
        return None
    made = [e for e in experiments if e.provenance.origin is not None]
    measured = [e for e in made if e.status == "measured"]
    top = best(campaign, measured)
    text = f"{len(made)} generated proposals, {len(measured)} measured"
    if top is not None and campaign.trade_off != "pareto":
        text += f"; best generated #{top.seq} " + ", ".join(f"{o.name} {top.objectives()[o.name]:.4g}" for o in campaign.objectives)
    return text + (f"; forbidden by people: {', '.join(forbidden)}" if forbidden else "")


def headline(campaign: Campaign, experiments: Sequence[Measured]) -> str:
    """The campaign's answer in one line, as every command and page shows it: the best experiment and its
    objectives (``#12 colour_distance 0.0123``), or with ``trade_off: pareto`` the front (``front #3 #7 #12``);
    ``-`` while there is none."""
    if campaign.trade_off == "pareto":
        front = pareto_front(campaign, experiments)
        return "front " + " ".join(f"#{e.seq}" for e in front) if front else "-"
    top = best(campaign, experiments)
    if top is None:
        return "-"
    return f"#{top.seq} " + ", ".join(f"{o.name} {top.objectives()[o.name]:.4g}" for o in campaign.objectives)
