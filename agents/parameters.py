"""Parameter types. Each owns its encoding to tensor columns, so new types (molecules, and next
compositions and mixtures) join the `Parameter` union without touching planners.

Example:
    >>> MoleculeParameter(name="base", values=["CCN(CC)CC", "[Na+].[OH-]"], encoding="onehot").width
    2
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Annotated, Literal, Optional, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

Value = Union[float, int, str]
TOL = 1e-6


class _Param(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Numeric(_Param):
    """Shared by continuous and integer parameters: one column, the value itself."""

    unit: str = ""

    @model_validator(mode="after")
    def _bounds(self):
        if not (math.isfinite(self.lower) and math.isfinite(self.upper)) or self.lower >= self.upper:
            raise ValueError(f"lower bound {self.lower} must be finite and below upper bound {self.upper}")
        return self

    @property
    def width(self) -> int:
        return 1

    def column_bounds(self) -> list[tuple[float, float]]:
        return [(float(self.lower), float(self.upper))]

    def encode(self, value: Value) -> list[float]:
        return [float(value)]


class ContinuousParameter(_Numeric):
    """A real number in [lower, upper], in `unit` (uL, degC, s, ...)."""

    type: Literal["continuous"] = "continuous"
    lower: float
    upper: float

    def decode(self, columns: list[float]) -> float:
        return float(min(max(columns[0], self.lower), self.upper))

    def contains(self, value: Value) -> bool:
        return isinstance(value, (int, float)) and self.lower - TOL <= float(value) <= self.upper + TOL


class IntegerParameter(_Numeric):
    """An integer in [lower, upper] (a count, a number of cycles, ...)."""

    type: Literal["integer"] = "integer"
    lower: int
    upper: int

    def decode(self, columns: list[float]) -> int:
        return int(min(max(round(columns[0]), self.lower), self.upper))

    def contains(self, value: Value) -> bool:
        return isinstance(value, (int, float)) and float(value).is_integer() and self.lower <= value <= self.upper


class _Discrete(_Param):
    """A choice among labelled options, encoded by a table with one row per option."""

    @property
    def labels(self) -> list[str]:
        raise NotImplementedError

    def table(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def width(self) -> int:
        return self.table().shape[1]

    @property
    def fingerprint(self) -> bool:
        return False

    def column_bounds(self) -> list[tuple[float, float]]:
        t = self.table()
        lo, hi = t.min(axis=0), t.max(axis=0)
        return [(float(a), float(b) if b > a else float(a) + 1.0) for a, b in zip(lo, hi)]

    def encode(self, value: Value) -> list[float]:
        return self.table()[self.labels.index(value)].tolist()

    def decode(self, columns: list[float]) -> str:
        distances = np.abs(self.table() - np.asarray(columns)).sum(axis=1)
        return self.labels[int(np.argmin(distances))]

    def contains(self, value: Value) -> bool:
        return value in self.labels


class CategoricalParameter(_Discrete):
    """One of a few named choices: one-hot, or rows of user-supplied descriptors.

    With ``encoding: descriptors``, `descriptors` maps every value to a list of numbers of one length.
    """

    type: Literal["categorical"] = "categorical"
    values: list[str] = Field(min_length=2)
    encoding: Literal["onehot", "descriptors"] = "onehot"
    descriptors: Optional[dict[str, list[float]]] = None

    @model_validator(mode="after")
    def _check(self) -> "CategoricalParameter":
        dupes = sorted({v for v in self.values if self.values.count(v) > 1})
        if dupes:
            raise ValueError(f"duplicate values {dupes}")
        if self.encoding == "descriptors":
            if not self.descriptors:
                raise ValueError("encoding 'descriptors' needs a 'descriptors' table (value -> list of numbers)")
            missing = [v for v in self.values if v not in self.descriptors]
            if missing:
                raise ValueError(f"the descriptor table has no rows for {missing}")
            extra = sorted(set(self.descriptors) - set(self.values))
            if extra:
                raise ValueError(f"the descriptor table has rows for unknown values {extra}")
            lengths = {len(self.descriptors[v]) for v in self.values}
            if len(lengths) != 1 or 0 in lengths:
                raise ValueError(f"every descriptor row must have the same, non-zero length; got lengths {sorted(lengths)}")
            bad = [v for v in self.values if not all(math.isfinite(x) for x in self.descriptors[v])]
            if bad:
                raise ValueError(f"descriptor rows for {bad} contain NaN or infinite numbers")
        elif self.descriptors is not None:
            raise ValueError("a 'descriptors' table is only used with encoding: descriptors")
        return self

    @property
    def labels(self) -> list[str]:
        return self.values

    def table(self) -> np.ndarray:
        if self.encoding == "descriptors":
            return np.array([self.descriptors[v] for v in self.values], dtype=np.float64)
        return np.eye(len(self.values))


class MoleculeParameter(_Discrete):
    """A choice among molecules given as SMILES (a list, or a mapping name -> SMILES).

    The point's value is the option's label: the SMILES for a list, the name for a mapping.
    `encoding`: RDKit 2-D ``descriptors`` (standardised, near-constant and correlated columns
    dropped, then projected on principal components), Morgan fingerprint bits (``morgan``) or
    counts (``morgan_count``), or ``onehot`` as a baseline.
    """

    type: Literal["molecule"] = "molecule"
    values: Union[list[str], dict[str, str]] = Field(min_length=1)
    encoding: Literal["descriptors", "morgan", "morgan_count", "onehot"] = "descriptors"
    fingerprint_bits: int = Field(default=2048, ge=64, le=16384)

    @model_validator(mode="after")
    def _check(self) -> "MoleculeParameter":
        from retort.surrogates.featurisers import FeaturisationError, canonical

        seen: dict[str, str] = {}
        for label, smiles in zip(self.labels, self.smiles):
            try:
                key = canonical(smiles)
            except FeaturisationError as exc:
                raise ValueError(f"{exc} (option {label!r})") from None
            if key in seen:
                raise ValueError(f"duplicate molecule: {label!r} and {seen[key]!r} are the same compound ({key})")
            seen[key] = label
        if len(self.labels) < 2:
            raise ValueError("a molecule parameter needs at least two molecules to choose from")
        return self

    @property
    def labels(self) -> list[str]:
        return list(self.values) if isinstance(self.values, list) else list(self.values.keys())

    @property
    def smiles(self) -> list[str]:
        return list(self.values) if isinstance(self.values, list) else list(self.values.values())

    @property
    def fingerprint(self) -> bool:
        return self.encoding in ("morgan", "morgan_count")

    def table(self) -> np.ndarray:
        return _molecule_table(tuple(self.smiles), self.encoding, self.fingerprint_bits)


@lru_cache(maxsize=256)
def _molecule_table(smiles: tuple[str, ...], encoding: str, bits: int) -> np.ndarray:
    from retort.surrogates import featurisers as f

    if encoding == "onehot":
        table = np.eye(len(smiles))
    elif encoding == "descriptors":
        raw, names = f.rdkit_descriptors(list(smiles))
        table = f.principal_components(f.reduce_descriptors(raw, names)[0])
    else:
        table = f.morgan(list(smiles), n_bits=bits, counts=encoding == "morgan_count")
        used = table.any(axis=0)  # bits no option sets carry no information
        table = table[:, used] if used.any() else table[:, :1]
    table.setflags(write=False)
    return table


Parameter = Annotated[
    Union[ContinuousParameter, IntegerParameter, CategoricalParameter, MoleculeParameter], Field(discriminator="type")
]
