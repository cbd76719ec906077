"""A lookup lab over a measured grid: answers any measured combination, refuses anything else.

Example:
    >>> lab = GridLookup.from_packaged("buchwald_hartwig_ahneman2018", "yield")
    >>> len(lab.columns), len(lab.missing())
    (4, 5)
"""

from __future__ import annotations

import csv
import itertools
import math
from importlib import resources
from pathlib import Path

from retort.simulators.errors import DatasetError, SimulationInputError

PACKAGED = {  # name -> file under the package's data/ (each folder has its README and licence)
    "suzuki_perera2018": "edbo/suzuki_perera2018_experiment_index.csv",
    "buchwald_hartwig_ahneman2018": "edbo/buchwald_hartwig_ahneman2018_experiment_index.csv",
    "deoxyfluorination_nielsen2018": "hte/deoxyfluorination_nielsen2018.csv",
    "amide_coupling_wang2024": "hte/amide_coupling_wang2024.csv",
    "ni_borylation_stevens2022": "hte/ni_borylation_stevens2022.csv",
    "aryl_scope_ligand_wang2024": "hte/aryl_scope_ligand_wang2024.csv",
    "lnp3": "olympus/lnp3_grid.csv",
}


class GridLookup:
    """Measured values keyed by the input columns of a CSV table.

    Args:
        path: CSV with a header row.
        output: the column to report, or several (`lookup_all` reports each; `lookup` and `table` the first).
        columns: the input columns (default: every column but the outputs and `entry`); any other column is not read
            (names, ids, a product's SMILES), and these columns must tell every row apart.
    """

    def __init__(self, path: str | Path, output: str | list[str], columns: list[str] | None = None) -> None:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            raise DatasetError(f"{path} has no rows")
        header = list(rows[0])
        self.outputs = [output] if isinstance(output, str) else list(output)
        missing = [o for o in self.outputs if o not in header]
        if missing:
            raise DatasetError(f"{path} has no column {missing[0]!r}; columns: {header}")
        self.columns = columns or [c for c in header if c not in (*self.outputs, "entry")]
        unknown = [c for c in self.columns if c not in header]
        if unknown:
            raise DatasetError(f"{path} has no columns {unknown}; columns: {header}")
        self.output = self.outputs[0]
        self.values: dict[tuple[str, ...], tuple[float, ...]] = {}
        first: dict[tuple[str, ...], int] = {}
        for i, row in enumerate(rows, start=2):
            key = tuple(row[c] for c in self.columns)
            if key in self.values:
                if columns is not None:  # other columns of the file were left out: they may be what tells these rows apart
                    raise DatasetError(f"{path}: the columns {self.columns} do not determine a row: lines {first[key]} and {i} both hold "
                                       f"{dict(zip(self.columns, key))}; map the column that tells them apart to a parameter")
                raise DatasetError(f"{path} line {i}: the combination {key} appears twice (first on line {first[key]})")
            first[key] = i
            self.values[key] = tuple(_number(path, i, o, row[o]) for o in self.outputs)
        self.table: dict[tuple[str, ...], float] = {k: v[0] for k, v in self.values.items()}  # the first output
        self.levels = {c: sorted({k[j] for k in self.table}) for j, c in enumerate(self.columns)}

    @staticmethod
    def header(path: str | Path) -> list[str]:
        """The CSV's column names (its first row)."""
        with open(path, newline="") as handle:
            return next(csv.reader(handle), [])

    @classmethod
    def packaged_header(cls, name: str) -> list[str]:
        if name not in PACKAGED:
            raise DatasetError(f"unknown packaged dataset {name!r}; choose from {sorted(PACKAGED)}")
        with resources.as_file(resources.files("retort.simulators").joinpath("data", *PACKAGED[name].split("/"))) as path:
            return cls.header(path)

    @classmethod
    def from_packaged(cls, name: str, output: str | list[str] = "yield", columns: list[str] | None = None) -> "GridLookup":
        if name not in PACKAGED:
            raise DatasetError(f"unknown packaged dataset {name!r}; choose from {sorted(PACKAGED)}")
        with resources.as_file(resources.files("retort.simulators").joinpath("data", *PACKAGED[name].split("/"))) as path:
            return cls(path, output, columns)

    def lookup(self, point: dict[str, str]) -> float:
        return self.lookup_all(point)[self.output]

    def lookup_all(self, point: dict[str, str]) -> dict[str, float]:
        """Every output measured at `point` (input column -> the grid's text)."""
        key = tuple(point[c] for c in self.columns)
        if key not in self.values:
            off = [f"{c}={point[c]!r}" for c in self.columns if point[c] not in self.levels[c]]
            detail = f"unknown values {', '.join(off)}" if off else "this combination was never measured"
            raise SimulationInputError(f"the grid has no measurement for {dict(zip(self.columns, key))}: {detail}")
        return dict(zip(self.outputs, self.values[key]))

    def missing(self) -> list[dict[str, str]]:
        """Combinations of the grid's levels that were not measured."""
        return [
            dict(zip(self.columns, key))
            for key in itertools.product(*(self.levels[c] for c in self.columns))
            if key not in self.table
        ]

    def quantile(self, q: float) -> float:
        values = sorted(self.table.values())
        return values[min(len(values) - 1, int(math.floor(q * len(values))))]


def _number(path, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DatasetError(f"{path} line {line}: {column} is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise DatasetError(f"{path} line {line}: {column} is {text!r}")
    return value
