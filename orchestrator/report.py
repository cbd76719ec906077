"""Campaign report: best-so-far by experiment and the model's predictions against measurements (PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from retort.orchestrator.campaign import Campaign  # noqa: E402
from retort.orchestrator.records import ExperimentRecord  # noqa: E402


def write_report(campaign: Campaign, experiments: list[ExperimentRecord], path: str | Path) -> Path:
    """Write a two-panel PNG to `path` and return its absolute path."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    objective = campaign.objectives[0]
    measured = [e for e in experiments if e.status == "measured" and objective.name in e.objectives()]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))

    seqs = [e.seq for e in measured]
    values = [e.objectives()[objective.name] for e in measured]
    best, running = [], None
    for v in values:
        running = v if running is None else (max(running, v) if objective.sign > 0 else min(running, v))
        best.append(running)
    colours = {"sobol": "tab:gray", "random design": "tab:gray", "random": "tab:orange"}
    for planner in sorted({e.provenance.planner for e in measured}):
        xs = [e.seq for e in measured if e.provenance.planner == planner]
        ys = [e.objectives()[objective.name] for e in measured if e.provenance.planner == planner]
        ax1.scatter(xs, ys, s=18, alpha=0.7, color=colours.get(planner, "tab:blue"), label=planner)
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
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
