"""The campaign's instruments, built from its lab section and checked against its parameters and objectives."""

from __future__ import annotations

from typing import Optional

from retort.orchestrator.campaign import AnalyticLabConfig, Campaign, ColourLabConfig, ComputationLabConfig, EmulatorLabConfig, LookupLabConfig
from retort.orchestrator.labs.analytic import VirtualAnalyticLab
from retort.orchestrator.labs.base import Lab
from retort.orchestrator.labs.colour import build_colour_labs
from retort.orchestrator.labs.emulator import EmulatorLab
from retort.orchestrator.labs.lookup import LookupLab
from retort.orchestrator.store.core import Store


def build_labs(campaign: Campaign, store: Optional[Store] = None) -> dict[str, Lab]:
    """The campaign's instruments, by name, each checked against the campaign's parameters and objectives: one lab,
    or with several (virtual) robots one per robot, each with its own deck.

    A dry-wet campaign's computations follow, each named after its fidelity (`Campaign.fidelities`).

    `store` keeps instrument state (decks) for labs that have it; without one such a lab can be checked, not run.
    """
    labs = _truth_labs(campaign, store)
    for name, fidelity in campaign.dry.items():
        from retort.orchestrator.labs.computation import ComputationLab

        labs[name] = ComputationLab(fidelity.lab, campaign, store, fidelity=fidelity)
    return labs


def _truth_labs(campaign: Campaign, store: Optional[Store]) -> dict[str, Lab]:
    config = campaign.lab
    if isinstance(config, ColourLabConfig):
        return dict(build_colour_labs(config, campaign, store))
    if isinstance(config, AnalyticLabConfig):
        lab: Lab = VirtualAnalyticLab(config, campaign)
    elif isinstance(config, LookupLabConfig):
        lab = LookupLab(config, campaign)
    elif isinstance(config, EmulatorLabConfig):
        lab = EmulatorLab(config, campaign)
    elif isinstance(config, ComputationLabConfig):
        from retort.orchestrator.labs.computation import ComputationLab

        lab = ComputationLab(config, campaign, store)
    else:  # pragma: no cover - the config union is closed
        raise TypeError(config)
    return {"lab": lab}


def build_lab(campaign: Campaign, store: Optional[Store] = None) -> Lab:
    """The campaign's (first) instrument (`build_labs`)."""
    return next(iter(build_labs(campaign, store).values()))
