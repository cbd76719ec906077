"""The analytic virtual lab: a test function measured with noise; its reading is `y`."""

from __future__ import annotations

from retort.agents.parameters import ContinuousParameter, DiscreteParameter, IntegerParameter, MoleculeParameter
from retort.orchestrator.campaign import AnalyticLabConfig, Campaign
from retort.orchestrator.errors import CampaignError
from retort.orchestrator.labs.base import LabRequest, LabResult, SimpleLab, check_readings
from retort.simulators import AnalyticLab, VirtualClock
from retort.simulators.molecules import OBJECTIVES as MOLECULAR


class VirtualAnalyticLab(SimpleLab):
    readings = ["y"]

    def __init__(self, config: AnalyticLabConfig, campaign: Campaign) -> None:
        self.clock = VirtualClock()
        self.nan_at = set(config.nan_readings_at)
        self.molecule = None
        if config.function in MOLECULAR:
            self._molecular(config, campaign)
            return
        self.sim = AnalyticLab(config.function, config.noise_sd, seed=campaign.seed, clock=self.clock)
        names = {p.name for p in campaign.parameters}
        missing = sorted(set(self.sim.domain) - names)
        if missing:
            raise CampaignError(f"lab {config.function!r} needs parameters {sorted(self.sim.domain)}; the campaign lacks {missing}")
        for p in campaign.parameters:  # exactly the function's inputs, as numbers: anything else would be optimised to no effect
            if p.name not in self.sim.domain:
                raise CampaignError(f"parameter {p.name!r}: lab {config.function!r} takes only {sorted(self.sim.domain)}; "
                                    f"{p.name!r} would not change its result")
            if not isinstance(p, (ContinuousParameter, IntegerParameter, DiscreteParameter)):
                raise CampaignError(f"parameter {p.name!r}: lab {config.function!r} takes numbers (continuous, integer or "
                                    f"discrete), not {p.type}")
        check_readings(campaign, self.readings, config.function)

    def _molecular(self, config: AnalyticLabConfig, campaign: Campaign) -> None:
        """A molecular objective: the campaign's one parameter is a molecule; its SMILES is scored."""
        molecules = [p for p in campaign.parameters if isinstance(p, MoleculeParameter)]
        if len(campaign.parameters) != 1 or not molecules:
            raise CampaignError(f"lab {config.function!r} scores one molecule: the campaign needs exactly one parameter, of type "
                                f"molecule; it has {[f'{p.name} ({p.type})' for p in campaign.parameters]}")
        self.molecule = molecules[0]
        self.sim = AnalyticLab(config.function, config.noise_sd, seed=campaign.seed, clock=self.clock)
        check_readings(campaign, self.readings, config.function)

    def location(self, seq: int) -> str:
        return f"evaluation {seq}"

    def result(self, request: LabRequest) -> LabResult:
        start = self.clock.now()
        if self.molecule is not None:
            y = self.sim.evaluate({"smiles": self.molecule.smiles_of(request.params[self.molecule.name])})
        else:
            y = self.sim.evaluate({k: float(v) for k, v in request.params.items()})
        if request.seq in self.nan_at:
            y = float("nan")
        return LabResult(seq=request.seq, readings={"y": y}, units={"y": ""}, instrument="analytic", location=self.location(request.seq),
                         lab_seconds=self.clock.now() - start)
