"""The dataset emulator lab: a GP fitted to a scattered dataset stands in for the experiment."""

from __future__ import annotations

from retort.agents.parameters import ContinuousParameter, IntegerParameter
from retort.orchestrator.campaign import Campaign, EmulatorLabConfig
from retort.orchestrator.errors import CampaignError, LabError
from retort.orchestrator.labs import LabRequest, LabResult, check_readings
from retort.simulators.emulator import DatasetEmulator


class EmulatorLab:
    def __init__(self, config: EmulatorLabConfig, campaign: Campaign) -> None:
        source = f"olympus/{config.dataset}" if config.dataset else config.path
        columns = {p.name: config.columns.get(p.name, p.name) for p in campaign.parameters}
        unknown = sorted(set(config.columns) - set(columns))
        if unknown:
            raise CampaignError(f"lab.columns names {unknown}, which are not parameters")
        for p in campaign.parameters:
            if not isinstance(p, (ContinuousParameter, IntegerParameter)):
                raise CampaignError(f"parameter {p.name!r}: an emulator lab needs continuous or integer parameters, not {p.type}")
        try:
            if config.dataset:
                self.emulator = DatasetEmulator.from_packaged(config.dataset, config.output)
            else:
                self.emulator = DatasetEmulator.from_folder(config.path, config.output)
        except ValueError as exc:
            raise CampaignError(f"lab: cannot build an emulator of {source!r}: {exc}") from exc
        if sorted(columns.values()) != sorted(self.emulator.inputs):
            raise CampaignError(
                f"the parameters map to inputs {sorted(columns.values())}, but {source!r} has inputs {self.emulator.inputs}; "
                f"name the parameters after them or map them with lab.columns"
            )
        for p in campaign.parameters:
            lo, hi = self.emulator.bounds[columns[p.name]]
            if p.lower < lo or p.upper > hi:
                raise CampaignError(
                    f"parameter {p.name!r}: bounds [{p.lower:g}, {p.upper:g}] go outside the data's range [{lo:g}, {hi:g}] "
                    f"of {source!r}; the emulator does not extrapolate"
                )
        output = self.emulator.output
        self.readings = [output, f"{output}_emulator_std"]
        check_readings(campaign, self.readings, "dataset_emulator")
        self.columns, self.noise, self.seed = columns, config.noise, campaign.seed
        self.instrument = self.emulator.describe()
        self._results: dict[int, LabResult] = {}

    def unavailable(self) -> list:
        return []

    def location(self, seq: int) -> str:
        return f"emulated experiment {seq}"

    def execute(self, batch: list[LabRequest]) -> None:
        for r in batch:
            point = {self.columns[k]: float(v) for k, v in r.params.items()}
            try:
                answer = self.emulator.measure(point, seed=self.seed * 1_000_003 + r.seq)
            except ValueError as exc:
                raise LabError(f"experiment {r.seq}: {exc}") from exc
            value = answer.value if self.noise else answer.mean
            self._results[r.seq] = LabResult(
                seq=r.seq,
                readings={self.readings[0]: value, self.readings[1]: answer.std},
                units={},
                instrument=self.instrument,
                location=self.location(r.seq),
            )

    def measure(self, batch: list[LabRequest]) -> list[LabResult]:
        return [self._results.pop(r.seq) for r in batch]
