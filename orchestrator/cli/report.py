"""Campaign report (PNG): the best so far by experiment, the model's predictions against measurements and, with
several objectives, the Pareto front. What it calls the best (or the front) is `results.headline`, written on the
picture and into the PNG's ``Description``, the same answer `retort status`, `export` and the UI give."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from retort.orchestrator.campaign import Campaign  # noqa: E402
from retort.orchestrator.campaign.lifecycle import DONE  # noqa: E402
from retort.orchestrator.campaign.results import (best, best_so_far, fidelity_counts, fidelity_spend, headline, pareto_front,  # noqa: E402
                                                  learning_text, scored, warm_start_text)
from retort.orchestrator.store.records import ExperimentRecord  # noqa: E402

COLOURS = {"sobol": "tab:gray", "random": "tab:orange"}


def write_report(campaign: Campaign, experiments: list[ExperimentRecord], path: str | Path, models: Sequence = ()) -> Path:
    """Write the report PNG to `path` (two panels; three with several objectives) and return its absolute path. A
    dry-wet campaign's spend per fidelity and the correlations its last model version (`models`) learned go under the panels,
    as does what a warm-started campaign's last model version learned of its sources. A learn campaign's first panel is
    its rounds (`_learning_panel`) instead of the best so far."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    several = len(campaign.objectives) > 1
    fig, axes = plt.subplots(1, 3 if several else 2, figsize=(16.5 if several else 11, 4.8))
    answer = headline(campaign, experiments)
    fig.suptitle(f"{campaign.name}: {'Pareto ' if campaign.trade_off == 'pareto' else 'best '}{answer}", fontsize=11)
    metadata = {"Description": f"{campaign.name}: {answer}", "Software": "Retort"}
    conditions = best_conditions(campaign, experiments)
    if conditions:
        metadata["Best conditions"] = conditions
    spent = None
    if campaign.fidelities:
        spend = fidelity_spend(campaign, fidelity_counts(experiments), models)
        text = "spend: " + "; ".join(f"{f.name}{' (truth)' if f.truth else ''} {f.describe()}" for f in spend)
        metadata["Spend"] = text
        conditions = f"{conditions}\n{text}" if conditions else text
        spent = _cost_spent(campaign, experiments)
        experiments = [e for e in experiments if e.fidelity is None]  # the panels show the truth, against the total cost
    warm = warm_start_text(campaign, models[-1:])
    if warm:
        metadata["Warm start"] = warm
        conditions = f"{conditions}\n{warm}" if conditions else warm
    learning = learning_text(campaign, models)
    if learning:
        metadata["Learning"] = learning
        conditions = f"{conditions}\n{learning}" if conditions else learning
    if campaign.purpose == "learn" and models:
        _learning_panel(axes[0], campaign, models)
    else:
        _progress_panel(axes[0], campaign, experiments, spent)
    _prediction_panel(axes[1], campaign, experiments)
    if several:
        _pareto_panel(axes[2], campaign, experiments)
    if conditions:  # what a chemist carries to the bench, under the panels, in full
        lines = [w for part in conditions.split("\n") for w in textwrap.wrap(part, width=190 if several else 125, break_long_words=True)]
        fig.text(0.01, 0.01, "\n".join(lines), fontsize=8, family="monospace", va="bottom")
        fig.tight_layout(rect=(0, 0.035 * (len(lines) + 1), 1, 1))
    else:
        fig.tight_layout()
    fig.savefig(path, dpi=110, metadata=metadata)
    plt.close(fig)
    return path


def _cost_spent(campaign: Campaign, experiments: list[ExperimentRecord]) -> dict[int, float]:
    """A dry-wet campaign: experiment -> the total cost spent (every fidelity) once it and those before it were done."""
    cost = {f.name: f.cost for f in campaign.fidelities}
    total, spent = 0.0, {}
    for e in sorted(experiments, key=lambda e: e.seq):
        total += cost[e.fidelity or campaign.truth] if e.status in DONE else 0.0
        spent[e.seq] = total
    return spent


def best_conditions(campaign: Campaign, experiments: list[ExperimentRecord]) -> str:
    """The best experiment's parameters in full (``#3: ligand = XPhos, temperature = 60 degC``); empty with a Pareto
    trade-off (the front is the answer) or while nothing is measured."""
    from retort.orchestrator.cli.common import fmt

    top = None if campaign.trade_off == "pareto" else best(campaign, experiments)
    if top is None:
        return ""
    units = {p.name: getattr(p, "unit", "") for p in campaign.parameters}
    return f"#{top.seq}: " + ", ".join(f"{k} = {fmt(v)}" + (f" {units[k]}" if units.get(k) else "") for k, v in top.params.items())


def _progress_panel(ax, campaign: Campaign, experiments: list[ExperimentRecord], spent: Optional[dict[int, float]] = None) -> None:
    """Every measured experiment's value, by planner, and the best so far (`results.best_so_far`): the objective's
    value with one objective, the utility (weighted objectives) with several; with a Pareto trade-off the first
    objective, the front marked. Against the experiment's number, or with `spent` (a dry-wet campaign: experiment ->
    the total cost spent when it was done, every fidelity's) against the cost."""
    at = (lambda seq: spent[seq]) if spent is not None else (lambda seq: seq)
    measured = scored(campaign, experiments)
    one = campaign.objectives[0]
    if len(campaign.objectives) == 1 or campaign.trade_off == "pareto":
        value, label = (lambda e: e.objectives()[one.name]), f"{one.name} ({one.goal}{', target' if one.goal == 'match' else ''})"
    else:
        value, label = (lambda e: campaign.utility(e.objectives())), "utility (weighted objectives, higher is better)"
    for planner in sorted({e.provenance.planner for e in measured}):
        mine = [e for e in measured if e.provenance.planner == planner]
        colour = "tab:gray" if planner.endswith(" design") else COLOURS.get(planner, "tab:blue")  # initial designs in grey
        ax.scatter([at(e.seq) for e in mine], [value(e) for e in mine], s=18, alpha=0.7, color=colour, label=planner)
    if campaign.trade_off == "pareto":
        front = pareto_front(campaign, experiments)
        ax.scatter([at(e.seq) for e in front], [value(e) for e in front], s=40, facecolors="none", edgecolors="tab:red", label="Pareto front")
        ax.set_title(f"{campaign.name}: measured")
    else:
        tops = [(at(e.seq), top) for e, top in zip(measured, best_so_far(campaign, measured)) if top is not None]
        ax.step([seq for seq, _ in tops], [value(top) for _, top in tops], where="post", color="black", label="best so far")
        ax.set_title(f"{campaign.name}: best so far")
    ax.set_xlabel("experiment" if spent is None else "total cost spent (every fidelity)")
    ax.set_ylabel(label)
    ax.legend(fontsize=8)


def _learning_panel(ax, campaign: Campaign, models: Sequence) -> None:
    """A learn campaign's rounds: the model's cross-validated error on the measured points, and the share of the untried
    candidates its committee calls accurate (the convergence threshold dashed)."""
    from retort.orchestrator.campaign.learning import rounds
    from retort.surrogates.summary import LEARNING

    shares, n = rounds(models), [m.n_train for m in models if LEARNING in m.hyperparameters]
    unit = next((f" ({o.unit})" for o in campaign.objectives if o.unit), "")
    ax.plot(n, [s.cv_rmse for s in shares], marker="o", color="tab:blue", label="cross-validated RMSE")
    ax.set_xlabel("measurements")
    ax.set_ylabel(f"{campaign.objectives[0].name} RMSE{unit}")
    ax.set_title(f"{campaign.name}: the model as it learned")
    share = ax.twinx()
    share.plot(n, [s.accurate_share for s in shares], marker="s", color="tab:green", label="accurate share")
    share.axhline(campaign.learning.converged, color="tab:green", linestyle="--", linewidth=0.8)
    share.set_ylim(0, 1.05)
    share.set_ylabel("share of untried candidates accurate")
    lines = ax.get_legend_handles_labels()
    more = share.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="center right")


def _prediction_panel(ax, campaign: Campaign, experiments: list[ExperimentRecord]) -> None:
    objective = campaign.objectives[0]
    predicted = [e for e in scored(campaign, experiments) if objective.name in e.provenance.predicted]
    if not predicted:
        ax.text(0.5, 0.5, "no model-based proposals yet", ha="center", va="center")
        ax.set_axis_off()
        return
    mu = [e.provenance.predicted[objective.name].mean for e in predicted]
    sd = [e.provenance.predicted[objective.name].std for e in predicted]
    y = [e.objectives()[objective.name] for e in predicted]
    ax.errorbar(mu, y, xerr=[2 * s for s in sd], fmt="o", ms=4, alpha=0.7, ecolor="tab:blue")
    lo, hi = min(mu + y), max(mu + y)
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel(f"predicted {objective.name} (mean, ±2 sd)")
    ax.set_ylabel(f"measured {objective.name}")
    ax.set_title("model predictions at proposal time")


def _pareto_panel(ax, campaign: Campaign, experiments: list[ExperimentRecord]) -> None:
    """The first two objectives of every measured experiment, the Pareto front (over every objective) marked."""
    a, b = campaign.objectives[:2]
    done = scored(campaign, experiments)
    front = {e.seq for e in pareto_front(campaign, experiments)}
    rest = [e for e in done if e.seq not in front]
    on = sorted((e for e in done if e.seq in front), key=lambda e: e.objectives()[a.name])
    ax.scatter([e.objectives()[a.name] for e in rest], [e.objectives()[b.name] for e in rest], s=16, color="tab:gray", alpha=0.6,
               label="measured")
    ax.scatter([e.objectives()[a.name] for e in on], [e.objectives()[b.name] for e in on], s=30, color="tab:red",
               label=f"Pareto front ({len(on)})")
    for e in on:
        ax.annotate(str(e.seq), (e.objectives()[a.name], e.objectives()[b.name]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    over = f" over all {len(campaign.objectives)} objectives" if len(campaign.objectives) > 2 else ""
    ax.set_title(f"Pareto front{over}")
    ax.set_xlabel(f"{a.name} ({a.goal})")
    ax.set_ylabel(f"{b.name} ({b.goal})")
    ax.legend(fontsize=8)
