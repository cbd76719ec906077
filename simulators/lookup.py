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

PACKAGED = {
    "suzuki_perera2018": "suzuki_perera2018_experiment_index.csv",
    "buchwald_hartwig_ahneman2018": "buchwald_hartwig_ahneman2018_experiment_index.csv",
}


class GridLookup:
    """Measured values keyed by the input columns of a CSV table.

    Args:
        path: CSV with a header row.
        output: the column to report.
        columns: the input columns (default: every column but `output` and `entry`).
    """

    def __init__(self, path: str | Path, output: str, columns: list[str] | None = None) -> None:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            raise DatasetError(f"{path} has no rows")
        header = list(rows[0])
        if output not in header:
            raise DatasetError(f"{path} has no column {output!r}; columns: {header}")
        self.columns = columns or [c for c in header if c not in (output, "entry")]
        unknown = [c for c in self.columns if c not in header]
        if unknown:
            raise DatasetError(f"{path} has no columns {unknown}; columns: {header}")
        self.output = output
        self.table: dict[tuple[str, ...], float] = {}
        for i, row in enumerate(rows, start=2):
            key = tuple(row[c] for c in self.columns)
            if key in self.table:
                raise DatasetError(f"{path} line {i}: the combination {key} appears twice")
            try:
                value = float(row[output])
            except ValueError:
                raise DatasetError(f"{path} line {i}: {output} is {row[output]!r}, not a number") from None
            if not math.isfinite(value):
                raise DatasetError(f"{path} line {i}: {output} is {row[output]!r}")
            self.table[key] = value
        self.levels = {c: sorted({k[j] for k in self.table}) for j, c in enumerate(self.columns)}

    @classmethod
    def from_packaged(cls, name: str, output: str = "yield") -> "GridLookup":
        if name not in PACKAGED:
            raise DatasetError(f"unknown packaged dataset {name!r}; choose from {sorted(PACKAGED)}")
        with resources.as_file(resources.files("retort.simulators") / "data" / "edbo" / PACKAGED[name]) as path:
            return cls(path, output)

    def lookup(self, point: dict[str, str]) -> float:
        key = tuple(point[c] for c in self.columns)
        if key not in self.table:
            off = [f"{c}={point[c]!r}" for c in self.columns if point[c] not in self.levels[c]]
            detail = f"unknown values {', '.join(off)}" if off else "this combination was never measured"
            raise SimulationInputError(f"the grid has no measurement for {dict(zip(self.columns, key))}: {detail}")
        return self.table[key]

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
