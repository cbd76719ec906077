"""The dataset lookup lab: a measured grid stands in for the instruments."""

from __future__ import annotations

from retort.agents.parameters import CategoricalParameter, DiscreteParameter, MoleculeParameter, Value
from retort.orchestrator.campaign import Campaign, LookupLabConfig
from retort.orchestrator.errors import CampaignError, LabError
from retort.orchestrator.labs.base import LabRequest, LabResult, SimpleLab, check_readings
from retort.simulators.errors import SimulationInputError
from retort.simulators.lookup import GridLookup


class LookupLab(SimpleLab):
    def __init__(self, config: LookupLabConfig, campaign: Campaign) -> None:
        source = config.dataset or config.path
        self.column = {p.name: config.columns.get(p.name, p.name) for p in campaign.parameters}
        unknown = sorted(set(config.columns) - set(self.column))
        if unknown:
            raise CampaignError(f"lab.columns names {unknown}, which are not parameters")
        twice = sorted({c for c in self.column.values() if list(self.column.values()).count(c) > 1})
        if twice:
            raise CampaignError(f"lab.columns maps several parameters to the column(s) {twice}; map each parameter to a column of its own")
        columns = list(self.column.values())  # only these and the outputs are read: a file may carry names, ids, products
        try:
            header = GridLookup.packaged_header(config.dataset) if config.dataset else GridLookup.header(config.path)
        except OSError as exc:
            raise CampaignError(f"lab: cannot load grid {source!r}: {exc}") from exc
        absent = {name: c for name, c in self.column.items() if c not in header}
        if absent:
            raise CampaignError(f"parameters {sorted(absent)} map to columns {sorted(absent.values())}, which grid {source!r} does not "
                                f"have (its columns: {header}); name the parameters after columns or map them with lab.columns")
        try:
            self.grid = (GridLookup.from_packaged(config.dataset, config.output, columns) if config.dataset
                         else GridLookup(config.path, config.output, columns))
        except (OSError, ValueError) as exc:
            raise CampaignError(f"lab: cannot load grid {source!r}: {exc}") from exc
        self.readings = list(self.grid.outputs)
        self.level: dict[str, dict[Value, str]] = {}  # parameter -> its value -> the grid's text for it
        for p in campaign.parameters:
            if not isinstance(p, (CategoricalParameter, DiscreteParameter, MoleculeParameter)):
                raise CampaignError(f"parameter {p.name!r}: a grid lab needs discrete, categorical or molecule parameters, not {p.type}")
            levels = self.grid.levels[self.column[p.name]]
            if isinstance(p, DiscreteParameter):  # numbers: 60 matches a column's "60.0"
                spellings: dict[float, list[str]] = {}
                for t in levels:
                    if _number(t) is not None:
                        spellings.setdefault(_number(t), []).append(t)
                twice = {n: ts for n, ts in spellings.items() if len(ts) > 1}
                if twice:
                    raise CampaignError(f"grid {source!r} column {self.column[p.name]!r} writes one number two ways: "
                                        f"{sorted(twice.values())}; write each value one way")
                self.level[p.name] = {p.labels[p.index(_number(t))]: t for t in levels if p.index(_number(t)) >= 0}
            elif isinstance(p, MoleculeParameter):  # by label (a name or a SMILES), else by structure: a names-to-SMILES
                self.level[p.name] = _molecule_levels(p, levels)  # campaign answers from a file's SMILES column
            else:
                self.level[p.name] = {v: v for v in p.labels if v in levels}
            off = [v for v in p.labels if v not in self.level[p.name]]
            if off:
                raise CampaignError(f"parameter {p.name!r}: values {off} are not in grid {source!r} (column {self.column[p.name]!r})")
        check_readings(campaign, self.readings, "dataset_lookup")
        self.parameters = campaign.parameters

    def unavailable(self) -> list[dict[str, Value]]:
        by_column = {c: name for name, c in self.column.items()}
        value_of = {name: {text: v for v, text in levels.items()} for name, levels in self.level.items()}
        holes = [{by_column[c]: v for c, v in m.items()} for m in self.grid.missing()]
        return [{n: value_of[n][t] for n, t in h.items()} for h in holes if all(t in value_of[n] for n, t in h.items())]

    def _text(self, name: str, value: Value) -> str:
        """How the grid writes parameter `name`'s `value` (a number as its column has it)."""
        p = next(p for p in self.parameters if p.name == name)
        index = p.index(value)
        return self.level[name][p.labels[index]] if index >= 0 else str(value)

    def location(self, seq: int) -> str:
        return f"grid row for experiment {seq}"

    def result(self, request: LabRequest) -> LabResult:
        try:
            readings = self.grid.lookup_all({self.column[k]: self._text(k, v) for k, v in request.params.items()})
        except SimulationInputError as exc:
            raise LabError(f"experiment {request.seq}: {exc}") from exc
        return LabResult(seq=request.seq, readings=readings, units={}, instrument="dataset_lookup", location=self.location(request.seq))


def _molecule_levels(p: MoleculeParameter, levels: list[str]) -> dict[Value, str]:
    """Each of `p`'s options -> the grid's text for it: the option's label if the column writes it, else the column's
    SMILES of the same structure (canonical SMILES compared; texts that are not SMILES are passed over)."""
    from retort.surrogates.featurisers import FeaturisationError, canonical

    found = {label: label for label in p.labels if label in levels}
    if len(found) == len(p.labels):
        return found
    structures: dict[str, str] = {}
    for text in levels:
        try:
            structures.setdefault(canonical(text), text)
        except FeaturisationError:
            continue
    for label, smiles in zip(p.labels, p.smiles):
        if label not in found and canonical(smiles) in structures:
            found[label] = structures[canonical(smiles)]
    return found


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
