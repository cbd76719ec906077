"""Campaign report: best-so-far by experiment, the model's predictions against measurements and, with several
objectives, the Pareto front (PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from retort.orchestrator.campaign import Campaign  # noqa: E402
from retort.orchestrator.records import ExperimentRecord  # noqa: E402


def write_report(campaign: Campaign, experiments: list[ExperimentRecord], path: str | Path) -> Path:
    """Write the report PNG to `path` (two panels; three with several objectives) and return its absolute path."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    objective = campaign.objectives[0]
    measured = [e for e in experiments if e.status == "measured" and objective.name in e.objectives()]
    several = len(campaign.objectives) > 1
    fig, axes = plt.subplots(1, 3 if several else 2, figsize=(16.5 if several else 11, 4.5))
    ax1, ax2 = axes[0], axes[1]

    seqs = [e.seq for e in measured]
    values = [e.objectives()[objective.name] for e in measured]
    best, running = [], None
    for v in values:
        running = v if running is None else (max(running, v) if objective.sign > 0 else min(running, v))
        best.append(running)
    colours = {"sobol": "tab:gray", "random": "tab:orange"}
    for planner in sorted({e.provenance.planner for e in measured}):
        xs = [e.seq for e in measured if e.provenance.planner == planner]
        ys = [e.objectives()[objective.name] for e in measured if e.provenance.planner == planner]
        colour = "tab:gray" if planner.endswith(" design") else colours.get(planner, "tab:blue")  # initial designs in grey
        ax1.scatter(xs, ys, s=18, alpha=0.7, color=colour, label=planner)
    ax1.step(seqs, best, where="post", color="black", label="best so far")
    ax1.set_xlabel("experiment")
    ax1.set_ylabel(f"{objective.name} ({objective.goal}{', target' if objective.goal == 'match' else ''})")
    ax1.set_title(f"{campaign.name}: best so far")
    ax1.legend(fontsize=8)

    predicted = [e for e in measured if objective.name in e.provenance.predicted]
    if predicted:
        mu = [e.provenance.predicted[objective.name].mean for e in predicted]
        sd = [e.provenance.predicted[objective.name].std for e in predicted]
        y = [e.objectives()[objective.name] for e in predicted]
        ax2.errorbar(mu, y, xerr=[2 * s for s in sd], fmt="o", ms=4, alpha=0.7, ecolor="tab:blue")
        lo, hi = min(mu + y), max(mu + y)
        ax2.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax2.set_xlabel(f"predicted {objective.name} (mean, ±2 sd)")
        ax2.set_ylabel(f"measured {objective.name}")
        ax2.set_title("model predictions at proposal time")
    else:
        ax2.text(0.5, 0.5, "no model-based proposals yet", ha="center", va="center")
        ax2.set_axis_off()
    if several:
        _pareto_panel(axes[2], campaign, experiments)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _pareto_panel(ax, campaign: Campaign, experiments: list[ExperimentRecord]) -> None:
    """The first two objectives of every measured experiment, the Pareto front (over every objective) marked."""
    from retort.orchestrator.loop import pareto_front, scored

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
