"""Labs: what the campaign flow runs experiments on.

A lab turns an experiment's parameters into instrument operations (a pure function), executes
them through instrument front ends, and measures. The same lab code runs a virtual bench or, with
other backends, real instruments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol

from pydantic import BaseModel, ConfigDict

from retort.agents.proposal import Value
from retort.orchestrator.campaign import AnalyticLabConfig, Campaign, ColourLabConfig, EmulatorLabConfig, LookupLabConfig


if TYPE_CHECKING:
    from retort.orchestrator.store import Store


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


class Recovery(BaseModel):
    """What a lab could collect of experiments a stopped run left running."""

    model_config = ConfigDict(frozen=True)

    measurable: list[int] = []
    not_started: list[int] = []  # nothing reached them: they go back to the queue


class Lab(Protocol):
    """What the flow asks of a lab."""

    readings: list[str]

    def attach(self, campaign_id: int) -> None:
        """The stored campaign this lab runs for (labs keeping instrument state store it under it)."""

    def prepare(self, batch: list[LabRequest]) -> dict[int, str]:
        """Plan the batch and reserve what it uses; returns where each experiment runs (e.g. a plate well).
        Raises before anything moves when the lab cannot take the batch now (`DeckEmpty`) or at all (`LabError`)."""

    def execute(self, batch: list[LabRequest]) -> None:
        """Run a prepared batch (dispense, react). Raises `LabError` naming the experiments."""

    def measure(self, batch: list[LabRequest]) -> list[LabResult]:
        """Read every executed experiment of the batch."""

    def recover(self, seqs: list[int]) -> Recovery:
        """Experiments a stopped run left running: collect what can be; says which can still be measured
        and which never started (the rest are lost: failed as interrupted)."""

    def unavailable(self) -> list[dict[str, Value]]:
        """Points of the search space this lab cannot run (holes in a grid); usually none."""

    def check(self, params: dict[str, Value]) -> None:
        """Raise `LabError` naming the limit if the lab could never run `params` (a point of the search space), e.g. a
        volume no pipette moves or a well overfilled. Nothing is reserved: a person's edit is checked with it."""

    def out_of_service(self) -> Optional[str]:
        """Why the instrument is out of service (it broke down; an operator releases it), or None."""


class SimpleLab:
    """Defaults for labs that keep no instrument state: each experiment runs at `location(seq)`; nothing survives a stop."""

    def location(self, seq: int) -> str:
        raise NotImplementedError

    def attach(self, campaign_id: int) -> None:
        pass

    def prepare(self, batch: list[LabRequest]) -> dict[int, str]:
        return {r.seq: self.location(r.seq) for r in batch}

    def recover(self, seqs: list[int]) -> Recovery:
        return Recovery()

    def unavailable(self) -> list[dict[str, Value]]:
        return []

    def check(self, params: dict[str, Value]) -> None:
        if params in self.unavailable():
            from retort.orchestrator.errors import LabError

            raise LabError(f"{params} is a combination this lab cannot run (it has no measurement for it)")

    def out_of_service(self) -> Optional[str]:
        return None


def build_lab(campaign: Campaign, store: Optional["Store"] = None) -> Lab:
    """The lab a campaign names, checked against the campaign's parameters and objectives.

    `store` keeps instrument state (decks) for labs that have it; without one such a lab can be checked, not run.
    """
    config = campaign.lab
    if isinstance(config, ColourLabConfig):
        from retort.orchestrator.labs.colour import build_colour_lab

        lab: Lab = build_colour_lab(config, campaign, store)
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


def build_labs(campaign: Campaign, store: Optional["Store"] = None) -> dict[str, Lab]:
    """The campaign's instruments, by name: a lab each (several virtual robots: one per robot, each with its own deck)."""
    config = campaign.lab
    if isinstance(config, ColourLabConfig):
        from retort.orchestrator.labs.colour import build_colour_labs

        return dict(build_colour_labs(config, campaign, store))
    return {"lab": build_lab(campaign, store)}


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
