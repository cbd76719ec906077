"""The fidelities section of a campaign file: the ways a dry-wet campaign gets a value for a candidate, and their costs.

One fidelity is the truth, measured by the campaign's `lab` (it names no lab of its own); each other is a computation,
with the computational lab that runs it and the reading of that lab that estimates the objective. Costs are in any one
unit (CPU hours, minutes of robot time, money). The cost-aware planner (`retort.agents.fidelity`) chooses, candidate by
candidate, which fidelity is worth its cost; the budget counts truth experiments.

Example (a campaign's YAML):

    fidelities:
      - {name: xtb, cost: 1, reading: solvation_free_energy, lab: {kind: computation, engine: xtb, settings: {solvent: water}}}
      - {name: wet, cost: 2000}
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from retort.agents.fields import Number
from retort.orchestrator.campaign.labs import ComputationLabConfig


class FidelityConfig(BaseModel):
    """One fidelity: its name, its cost, and for a computation its lab and the reading that estimates the objective."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40, description="lower-case letters, digits and _")
    cost: Number = Field(gt=0, description="what one experiment at this fidelity costs, in the unit every fidelity uses")
    lab: Optional[ComputationLabConfig] = Field(default=None, description="a computation's lab; none: the truth, measured by the campaign's lab")
    reading: Optional[str] = Field(default=None, description="a computation: its lab's reading that estimates the objective")

    @property
    def is_truth(self) -> bool:
        return self.lab is None


def check_fidelities(fidelities: list[FidelityConfig], campaign: "object") -> None:
    """Raise ValueError naming what a dry-wet campaign's fidelities get wrong (the campaign's other settings included)."""
    if not fidelities:
        return
    names = [f.name for f in fidelities]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"fidelities: {twice} named twice; name each fidelity once")
    if "lab" in names:
        raise ValueError("fidelities: 'lab' names the campaign's own instrument; call the fidelity something else (e.g. wet)")
    truths = [f.name for f in fidelities if f.is_truth]
    if len(truths) != 1:
        raise ValueError("fidelities: exactly one fidelity is the truth, measured by the campaign's lab, and names no lab of its own; "
                         + (f"{truths} name none" if truths else "every one names a lab"))
    if len(fidelities) < 2:
        raise ValueError("fidelities: a dry-wet campaign needs the truth and at least one computation; without computations leave "
                         "fidelities out")
    for f in fidelities:
        if f.is_truth and f.reading is not None:
            raise ValueError(f"fidelities: {f.name!r} is the truth: its value is the objective as the campaign's lab measures it; "
                             "remove reading")
        if not f.is_truth and not f.reading:
            raise ValueError(f"fidelities: {f.name!r} needs reading: the reading of its lab that estimates the objective")
    c = campaign
    if len(c.objectives) != 1 or c.outcome_constraints or c.trade_off != "weighted":
        raise ValueError("fidelities: the cost-aware planner optimises one objective; this campaign has "
                         f"{len(c.objectives)} objectives{' and outcome constraints' if c.outcome_constraints else ''}")
    if c.objectives[0].goal == "match":
        raise ValueError("fidelities: a computation estimates a value to maximise or minimise; goal 'match' is not planned by cost")
    if not c.space.is_discrete:
        raise ValueError("fidelities: the cost-aware planner chooses among a finite set of candidates; this space has a continuous "
                         "parameter")
    if c.schedule != "batch":
        raise ValueError("fidelities: dry and wet rounds are planned together; use schedule: batch")
