"""Labs: what the campaign flow runs experiments on.

A lab turns an experiment's parameters into instrument operations (a pure function), executes
them through instrument front ends, and measures. The same lab code runs a virtual bench or, with
other backends, real instruments.
"""

from __future__ import annotations

from typing import Optional, Protocol

from pydantic import BaseModel, ConfigDict

from retort.agents.proposal import Value
from retort.orchestrator.campaign import AnalyticLabConfig, Campaign, ColourLabConfig, EmulatorLabConfig, LookupLabConfig


class LabRequest(BaseModel):
    """One experiment as a lab sees it: its number in the campaign and its parameters."""

    model_config = ConfigDict(frozen=True)

    seq: int
    params: dict[str, Value]


class LabResult(BaseModel):
    """Raw readings of one experiment (may hold NaN: the caller decides what that means)."""

    model_config = ConfigDict(frozen=True)

    seq: int
    readings: dict[str, float]
    units: dict[str, str]
    instrument: str
    location: str
    lab_seconds: Optional[float] = None


class Lab(Protocol):
    """The three things the flow asks of a lab."""

    readings: list[str]

    def location(self, seq: int) -> str:
        """Where experiment `seq` runs (e.g. a plate well); stable across restarts."""

    def execute(self, batch: list[LabRequest]) -> None:
        """Prepare the experiments (dispense, react). Raises `LabError` naming the experiment."""

    def measure(self, batch: list[LabRequest]) -> list[LabResult]:
        """Read every executed experiment of the batch."""

    def unavailable(self) -> list[dict[str, Value]]:
        """Points of the search space this lab cannot run (holes in a grid); usually none."""


def build_lab(campaign: Campaign) -> Lab:
    """The lab a campaign names, checked against the campaign's parameters and objectives."""
    config = campaign.lab
    if isinstance(config, ColourLabConfig):
        from retort.orchestrator.labs.colour import VirtualColourLab

        lab: Lab = VirtualColourLab(config, campaign)
    elif isinstance(config, AnalyticLabConfig):
        from retort.orchestrator.labs.analytic import VirtualAnalyticLab

        lab = VirtualAnalyticLab(config, campaign)
    elif isinstance(config, LookupLabConfig):
        from retort.orchestrator.labs.lookup import LookupLab

        lab = LookupLab(config, campaign)
    elif isinstance(config, EmulatorLabConfig):
        from retort.orchestrator.labs.emulator import EmulatorLab

        lab = EmulatorLab(config, campaign)
    else:  # pragma: no cover - the config union is closed
        raise TypeError(config)
    return lab


def check_readings(campaign: Campaign, readings: list[str], lab_name: str) -> None:
    """Every objective must be computed from readings the lab produces."""
    from retort.orchestrator.errors import CampaignError

    for objective in campaign.objectives:
        missing = [r for r in objective.readings if r not in readings]
        if missing:
            raise CampaignError(
                f"objective {objective.name!r} needs readings {missing}, which lab {lab_name!r} does not produce; "
                f"it produces {readings}"
            )
