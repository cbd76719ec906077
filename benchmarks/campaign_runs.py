"""Shared by the benchmark scripts: run a campaign in memory through the campaign loop the Prefect flow runs
(`loop.drive`, with the plain steps: without Prefect's start-up) and read its best-so-far trace
(`results.best_so_far`, what `retort run`, `status` and the UI call the best)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable, Optional

from retort.agents.planners import Planner
from retort.orchestrator import loop
from retort.orchestrator.campaign import Campaign
from retort.orchestrator.campaign.results import best_so_far
from retort.orchestrator.store import Store
from retort.orchestrator.store.records import ExperimentRecord


def variant(campaign: Campaign, seed: int, planner: str, encoding: Optional[str] = None) -> Campaign:
    """The campaign with another seed and planner (and every parameter's encoding, if given), in memory."""
    data = campaign.model_dump() | {"seed": seed, "planner": planner, "store": "sqlite://"}
    if encoding is not None:
        data["parameters"] = [p.model_dump() | {"encoding": encoding} for p in campaign.parameters]
    return Campaign.model_validate(data)


@dataclass
class Finished:
    campaign: Campaign
    experiments: list[ExperimentRecord]
    proposal_seconds: list[float]  # fit + propose, per model-based batch

    @property
    def propose_seconds(self) -> float:
        return sum(self.proposal_seconds)

    @property
    def proposals(self) -> int:
        return len(self.proposal_seconds)

    def best_so_far(self) -> list[Optional[ExperimentRecord]]:
        """After each experiment, the campaign's best so far (`results.best_so_far`)."""
        return best_so_far(self.campaign, self.experiments)

    def waste(self) -> tuple[int, int]:
        """Model-based proposals the model itself ruled out when it proposed them (its mean + 3 sd did not beat
        what was measured: `Provenance.ruled_out`), and model-based proposals in all."""
        modelled = [e.provenance for e in self.experiments if e.provenance.model_version is not None]
        return sum(bool(p.ruled_out) for p in modelled), len(modelled)

    def trace(self) -> list[Optional[float]]:
        """The first objective's value of the best so far after each experiment."""
        name = self.campaign.objectives[0].name
        return [None if e is None else e.objectives()[name] for e in self.best_so_far()]


def run_campaign(campaign: Campaign, clock: Callable[[], float] = time.process_time, planner: Optional[Planner] = None) -> Finished:
    """Run `campaign` to its budget in an in-memory store (with `planner` instead of the campaign's own, if given)."""
    run = loop.open_run(campaign, store=Store("sqlite://"))
    if planner is not None:
        run.planner = planner
    timed: list[float] = []

    def plan(ref, iteration, n):
        started = clock()
        seqs = loop.plan(ref, iteration, n)
        if run.experiments(seqs=seqs[:1])[0].provenance.model_version is not None:  # time fit + propose of model-based batches
            timed.append(clock() - started)
        return seqs

    loop.drive(run, SimpleNamespace(**vars(loop.PLAIN) | {"plan": plan}))
    return Finished(campaign, run.experiments(), timed)
