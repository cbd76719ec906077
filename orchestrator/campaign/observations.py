"""Stored experiments (the store's records, or anything with their fields) as a planner sees them."""

from __future__ import annotations

import math
from typing import Sequence

from retort.agents.proposal import Observation
from retort.orchestrator.campaign.file import Campaign


def observations(campaign: Campaign, experiments: Sequence) -> list[Observation]:
    """Measured experiments as the planner sees them: parameters, objectives and the finite raw readings. A dry-wet
    campaign's computation counts at its fidelity, its objective the reading that estimates it."""
    names = [o.name for o in campaign.objectives]
    out = []
    for e in experiments:
        readings = {k: v for k, v in e.raw().items() if v is not None and math.isfinite(v)}
        if e.fidelity is not None:
            reading = campaign.dry[e.fidelity].reading
            if e.status == "measured" and reading in readings:
                out.append(Observation(params=e.params, objectives={names[0]: readings[reading]}, readings=readings, fidelity=e.fidelity))
            continue
        values = e.objectives()
        if e.status == "measured" and all(n in values for n in names):
            out.append(Observation(params=e.params, objectives={n: values[n] for n in names}, readings=readings, fidelity=campaign.truth))
    return out
