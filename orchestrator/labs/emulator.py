"""The dataset emulator lab: a GP fitted to a scattered dataset stands in for the experiment."""

from __future__ import annotations

from retort.agents.parameters import CompositionParameter, ContinuousParameter, IntegerParameter, MixtureParameter
from retort.orchestrator.campaign import Campaign, EmulatorLabConfig
from retort.orchestrator.errors import CampaignError, LabError
from retort.orchestrator.labs.base import LabRequest, LabResult, SimpleLab, check_readings
from retort.simulators.emulator import DatasetEmulator


class EmulatorLab(SimpleLab):
    def __init__(self, config: EmulatorLabConfig, campaign: Campaign) -> None:
        source = config.dataset if config.dataset else config.path
        numeric = [p for p in campaign.parameters if isinstance(p, (ContinuousParameter, IntegerParameter))]
        simplex = [p for p in campaign.parameters if isinstance(p, (CompositionParameter, MixtureParameter))]
        for p in campaign.parameters:
            if p not in numeric and p not in simplex:
                raise CampaignError(f"parameter {p.name!r}: an emulator lab needs continuous, integer, mixture or composition "
                                    f"parameters, not {p.type}")
        columns = {p.name: config.columns.get(p.name, p.name) for p in numeric}
        unknown = sorted(set(config.columns) - set(columns))
        if unknown:
            raise CampaignError(f"lab.columns names {unknown}, which are not continuous or integer parameters")
        try:
            if config.dataset:
                self.emulator = DatasetEmulator.from_packaged(config.dataset, config.output)
            else:
                self.emulator = DatasetEmulator.from_folder(config.path, config.output)
        except ValueError as exc:
            raise CampaignError(f"lab: cannot build an emulator of {source!r}: {exc}") from exc
        source = self.emulator.source
        ranges = {f"parameter {p.name!r}": (columns[p.name], p.lower, p.upper) for p in numeric}
        for p in simplex:
            if isinstance(p, CompositionParameter) and not self.emulator.compositional:
                raise CampaignError(f"parameter {p.name!r}: {source!r} is not a composition dataset")
            ranges |= {f"component {c} of {p.name!r}": (c, *p.fraction_bounds(c)) for c in p.components}
        covered = [column for column, _, _ in ranges.values()]
        missing = [] if self.emulator.compositional else sorted(set(self.emulator.inputs) - set(covered))
        extra = sorted(set(covered) - set(self.emulator.inputs))
        if missing or extra or len(covered) != len(set(covered)):
            raise CampaignError(
                f"the parameters map to inputs {sorted(covered)}, but {source!r} has inputs {self.emulator.inputs}; "
                f"name the parameters (or mixture components) after them or map them with lab.columns"
            )
        for what, (column, lower, upper) in ranges.items():
            lo, hi = self.emulator.bounds[column]
            if lower < lo or upper > hi:
                raise CampaignError(f"{what}: bounds [{lower:g}, {upper:g}] go outside the data's range [{lo:g}, {hi:g}] "
                                    f"of {source!r}; the emulator does not extrapolate")
        output = self.emulator.output
        self.readings = [output, f"{output}_emulator_std"]
        check_readings(campaign, self.readings, "dataset_emulator")
        self.columns, self.simplex = columns, {p.name: p for p in simplex}
        self.noise, self.seed = config.noise, campaign.seed
        self.instrument = self.emulator.describe()

    def inputs(self, params: dict) -> dict[str, float]:
        """The emulator's inputs for a point: numeric values by column, fractions by component."""
        point = dict.fromkeys(self.emulator.inputs, 0.0) if self.emulator.compositional else {}
        for name, value in params.items():
            if name in self.simplex:
                point |= self.simplex[name].fractions(value)
            else:
                point[self.columns[name]] = float(value)
        return point

    def unavailable(self) -> list:
        return []

    def location(self, seq: int) -> str:
        return f"emulated experiment {seq}"

    def result(self, request: LabRequest) -> LabResult:
        try:
            answer = self.emulator.measure(self.inputs(request.params), seed=self.seed * 1_000_003 + request.seq)
        except ValueError as exc:
            raise LabError(f"experiment {request.seq}: {exc}") from exc
        value = answer.value if self.noise else answer.mean
        return LabResult(seq=request.seq, readings={self.readings[0]: value, self.readings[1]: answer.std}, units={},
                         instrument=self.instrument, location=self.location(request.seq))
