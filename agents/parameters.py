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
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from retort.agents.fields import Number, Whole
from retort.agents.generation.rules import Generation
from retort.agents.generation.substitution import Substitution

Value = Union[float, int, str, dict[str, float]]
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
    lower: Number
    upper: Number

    def decode(self, columns: list[float]) -> float:
        return float(min(max(columns[0], self.lower), self.upper))

    def contains(self, value: Value) -> bool:
        return isinstance(value, (int, float)) and self.lower - TOL <= float(value) <= self.upper + TOL


class IntegerParameter(_Numeric):
    """An integer in [lower, upper] (a count, a number of cycles, ...)."""

    type: Literal["integer"] = "integer"
    lower: Whole
    upper: Whole

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

    def index(self, value: Value) -> int:
        """The position of option `value` among `labels`, or -1."""
        return self.labels.index(value) if value in self.labels else -1

    def encode(self, value: Value) -> list[float]:
        index = self.index(value)
        if index < 0:
            raise ValueError(f"parameter {self.name!r}: {value!r} is not one of its values {self.labels}")
        return self.table()[index].tolist()

    def decode(self, columns: list[float]) -> str:
        distances = np.abs(self.table() - np.asarray(columns)).sum(axis=1)
        return self.labels[int(np.argmin(distances))]

    def contains(self, value: Value) -> bool:
        return self.index(value) >= 0


class CategoricalParameter(_Discrete):
    """One of a few named choices: one-hot, or rows of user-supplied descriptors.

    With ``encoding: descriptors``, `descriptors` maps every value to a list of numbers of one length.
    """

    type: Literal["categorical"] = "categorical"
    values: list[str] = Field(min_length=2)
    encoding: Literal["onehot", "descriptors"] = "onehot"
    descriptors: Optional[dict[str, list[Number]]] = None

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


class DiscreteParameter(_Discrete):
    """One of a few numbers (a grid's temperatures or concentrations), in `unit`: an ordered numeric
    choice, encoded by the value itself, so the model learns how the outcome changes with it (a
    categorical would treat 30, 60 and 90 degC as unrelated)."""

    type: Literal["discrete"] = "discrete"
    values: list[Number] = Field(min_length=2)
    unit: str = ""

    @model_validator(mode="after")
    def _check(self) -> "DiscreteParameter":
        ordered = sorted(self.values)
        close = [(a, b) for a, b in zip(ordered, ordered[1:]) if b - a <= TOL * max(1.0, abs(a), abs(b))]
        if close:
            raise ValueError(f"duplicate values {sorted({a for a, _ in close})}")
        return self

    @property
    def labels(self) -> list[float]:
        return list(self.values)

    def table(self) -> np.ndarray:
        return np.asarray(self.values, dtype=np.float64).reshape(-1, 1)

    def index(self, value: Value) -> int:
        """The option `value` is (within a relative 1e-6), or -1."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            for i, v in enumerate(self.values):
                if abs(float(value) - v) <= TOL * max(1.0, abs(v)):
                    return i
        return -1



class _Open(_Discrete):
    """A choice among written structures (SMILES, formulas) that may `generate` more: then its listed ones are the
    seeds, its columns are computed per structure (`rows`), so they exist for ones nobody listed, and any structure its
    rules allow is a value (`open`). A round's candidates are a snapshot of it (`pooled`), a finite choice."""

    _seeds: tuple[str, ...] = PrivateAttr(default=())  # a generating parameter's listed structures (columns may be fitted on them)
    _pool: bool = PrivateAttr(default=False)  # a round's snapshot: its values are every candidate of the round

    @property
    def structures(self) -> list[str]:
        raise NotImplementedError

    def key(self, structure: str) -> str:
        """The canonical form two writings of one structure share."""
        raise NotImplementedError

    def allows(self, structure: str) -> bool:
        """Whether a structure nobody listed keeps the generation's rules."""
        raise NotImplementedError

    def rows(self, structures: tuple[str, ...]) -> np.ndarray:
        """A generating parameter's columns for these structures, one row each."""
        raise NotImplementedError

    def _keep_seeds(self) -> None:
        if not self._seeds:  # validated again inside each space it joins: a round's snapshot keeps its listed structures
            self._seeds = tuple(self.structures)

    @property
    def open(self) -> bool:
        """It generates, and this is not a round's snapshot: any structure its rules allow is a value."""
        return getattr(self, "generate", None) is not None and not self._pool

    def pooled(self, values: dict[str, str]):
        """A round's snapshot of a generating parameter: these values (label -> structure: the listed ones, then the
        round's candidates), encoded as the parameter encodes any structure."""
        copy = self.model_copy(update={"values": values if isinstance(self.values, dict) else list(values.values())})
        copy._pool = True
        return copy

    def structure_of(self, value: Value) -> str:
        """The structure of a value: a listed option's, or (generating) the value itself."""
        index = self.index(value)
        return self.structures[index] if index >= 0 else str(value)

    def index(self, value: Value) -> int:
        return self.labels.index(value) if isinstance(value, str) and value in self.labels else -1

    def contains(self, value: Value) -> bool:
        if self.index(value) >= 0:
            return True
        return self.open and isinstance(value, str) and self.allows(value)

    def encode(self, value: Value) -> list[float]:
        if getattr(self, "generate", None) is None:
            return super().encode(value)
        if self.index(value) < 0 and not self.contains(value):
            raise ValueError(f"parameter {self.name!r}: {value!r} is not a {self.type} its generation rules allow")
        return self.rows((self.structure_of(value),))[0].tolist()

    def column_bounds(self) -> list[tuple[float, float]]:
        if getattr(self, "generate", None) is None:
            return super().column_bounds()
        t = self.rows(self._seeds)  # fixed: the seeds' range, whatever a round holds
        lo, hi = t.min(axis=0), t.max(axis=0)
        return [(float(a), float(b) if b > a else float(a) + 1.0) for a, b in zip(lo, hi)]

    def table(self) -> np.ndarray:
        return self.rows(tuple(self.structures))


class MoleculeParameter(_Open):
    """A choice among molecules given as SMILES (a list, or a mapping name -> SMILES).

    The point's value is the option's label: the SMILES for a list, the name for a mapping.
    `encoding`: RDKit 2-D ``descriptors`` (standardised, near-constant and correlated columns
    dropped, then projected on principal components), Mordred 2-D descriptors (``mordred``:
    standardised, near-constant columns and any column correlated above 0.7 with an earlier one
    dropped), Morgan fingerprint bits (``morgan``) or counts (``morgan_count``), or ``onehot`` as a baseline.

    With `generate` the listed molecules are seeds: a generative planner proposes molecules made from measured ones
    (`retort.agents.generation`), any that keep the generation's rules. Such a parameter's columns are computed per
    molecule (all `fingerprint_bits`, or descriptors reduced as fitted on the seeds), so they exist for molecules
    nobody listed; its space is open (`open`). A round's candidates are a snapshot of it (`pooled`), a finite choice.
    """

    type: Literal["molecule"] = "molecule"
    values: Union[list[str], dict[str, str]] = Field(min_length=1)
    encoding: Literal["descriptors", "mordred", "morgan", "morgan_count", "onehot"] = "descriptors"
    fingerprint_bits: Whole = Field(default=2048, ge=64, le=16384)
    generate: Optional[Generation] = Field(default=None, description="propose molecules made from the listed ones (the seeds)")

    @model_validator(mode="after")
    def _check(self) -> "MoleculeParameter":
        from retort.surrogates.featurisers import FeaturisationError, canonical

        if self._pool:  # a round's snapshot, validated again inside the space it joins: its values were checked as they were made
            return self
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
        if self.generate is not None:
            self._check_generation()
        return self

    def _check_generation(self) -> None:
        from retort.agents.generation.rules import elements_of, parse

        if self.encoding not in GENERATING_ENCODINGS:
            why = ("one-hot has a column per listed molecule and none for a new one" if self.encoding == "onehot" else
                   "Mordred costs about a second per molecule, too slow for the thousands a round generates")
            raise ValueError(f"encoding {self.encoding!r} cannot describe generated molecules ({why}); use one of "
                             f"{list(GENERATING_ENCODINGS)}")
        mols = [parse(s) for s in self.smiles]
        object.__setattr__(self, "generate", self.generate.with_elements(elements_of(mols)))
        rules = self.generate.rules
        reasons = {label: rules.violation(m) for label, m in zip(self.labels, mols)}
        if all(reasons.values()):
            label, reason = next(iter(reasons.items()))
            raise ValueError(f"generate: no listed molecule keeps the generation's rules (e.g. {label!r} {reason}); "
                             "the seeds must include molecules the rules allow")
        self._keep_seeds()

    def smiles_of(self, value: Value) -> str:
        """The SMILES of a value: a listed option's, or (generating) the value itself."""
        return self.structure_of(value)

    def key(self, structure: str) -> str:
        from retort.surrogates.featurisers import canonical

        return canonical(structure)

    def allows(self, structure: str) -> bool:
        from retort.agents.generation.rules import parse

        mol = parse(structure)
        return mol is not None and self.generate.rules.violation(mol) is None

    def rows(self, structures: tuple[str, ...]) -> np.ndarray:
        return _generated_rows(structures, self.encoding, self.fingerprint_bits, self._seeds)

    @property
    def labels(self) -> list[str]:
        return list(self.values) if isinstance(self.values, list) else list(self.values.keys())

    @property
    def smiles(self) -> list[str]:
        return list(self.values) if isinstance(self.values, list) else list(self.values.values())

    @property
    def structures(self) -> list[str]:
        return self.smiles

    @property
    def fingerprint(self) -> bool:
        return self.encoding in ("morgan", "morgan_count")

    def table(self) -> np.ndarray:
        if self.generate is not None:
            return super().table()
        return _molecule_table(tuple(self.smiles), self.encoding, self.fingerprint_bits)


class MaterialParameter(_Open):
    """A choice among materials written as formulas (``LiFePO4``, ``SrTiO3``), each encoded by the element-property
    statistics of its composition (weighted mean and spread, minimum and maximum of electronegativity, radius, mass,
    period, group and Mendeleev number; computed per formula, so a composition nobody listed has its columns too).

    With `generate` the listed formulas are seeds: a generative planner proposes ionic substitutions of the measured
    ones (`retort.agents.generation.substitution`), only charge-balanced ones of allowed elements; every seed must
    itself be charge-balanced.

    Example: ``{name: cathode, type: material, values: [LiFePO4, LiMnPO4, LiCoO2], generate: {elements: [Li, Na, Fe, Mn, Co, Ni, P, O]}}``
    """

    type: Literal["material"] = "material"
    values: list[str] = Field(min_length=2)
    generate: Optional[Substitution] = Field(default=None, description="propose substitutions of the listed compositions (the seeds)")

    @model_validator(mode="after")
    def _check(self) -> "MaterialParameter":
        from retort.agents.generation.substitution import charge_balanced
        from retort.surrogates.featurisers import FeaturisationError, parse_composition

        if self._pool:  # a round's snapshot (see MoleculeParameter._check)
            return self
        seen: dict[str, str] = {}
        for formula in self.values:
            try:
                parse_composition(formula)
                key = self.key(formula)
            except (FeaturisationError, ValueError) as exc:
                raise ValueError(f"{formula!r} is not a formula pymatgen can read ({exc})") from None
            if key in seen:
                raise ValueError(f"duplicate material: {formula!r} and {seen[key]!r} are the same composition ({key})")
            seen[key] = formula
        if self.generate is not None:
            unbalanced = [f for f in self.values if not charge_balanced(f)]
            if unbalanced:
                raise ValueError(f"generate: {unbalanced[0]!r} cannot be charge-balanced with common oxidation states; substitutions "
                                 "keep a seed's charges, so every seed must be neutral")
            self._keep_seeds()
        return self

    @property
    def labels(self) -> list[str]:
        return list(self.values)

    @property
    def structures(self) -> list[str]:
        return list(self.values)

    def key(self, structure: str) -> str:
        from retort.agents.generation.substitution import reduced

        return reduced(structure)

    def allows(self, structure: str) -> bool:
        return self.generate.allows(structure)

    def rows(self, structures: tuple[str, ...]) -> np.ndarray:
        table = np.vstack([_material_row(s) for s in structures])
        table.setflags(write=False)
        return table


@lru_cache(maxsize=100_000)
def _material_row(formula: str) -> np.ndarray:
    from retort.surrogates.featurisers import composition_descriptors

    return composition_descriptors([formula])[0][0]


GENERATING_ENCODINGS = ("morgan_count", "morgan", "descriptors")


def _generated_rows(smiles: tuple[str, ...], encoding: str, bits: int, seeds: tuple[str, ...]) -> np.ndarray:
    """A generating parameter's columns for these molecules, one row each, computed per molecule (cached)."""
    rows = [_generated_row(s, encoding, bits, seeds) for s in smiles]
    table = np.vstack(rows)
    table.setflags(write=False)
    return table


@lru_cache(maxsize=200_000)
def _generated_row(smiles: str, encoding: str, bits: int, seeds: tuple[str, ...]) -> np.ndarray:
    from retort.surrogates import featurisers as f

    if encoding == "descriptors":
        return _fitted_descriptors(seeds)([smiles])[0]
    return f.morgan([smiles], n_bits=bits, counts=encoding == "morgan_count")[0]


@lru_cache(maxsize=32)
def _fitted_descriptors(seeds: tuple[str, ...]):
    from retort.surrogates.featurisers import FittedDescriptors

    return FittedDescriptors(seeds)


@lru_cache(maxsize=256)
def _molecule_table(smiles: tuple[str, ...], encoding: str, bits: int) -> np.ndarray:
    from retort.surrogates import featurisers as f

    if encoding == "onehot":
        table = np.eye(len(smiles))
    elif encoding == "descriptors":
        raw, names = f.rdkit_descriptors(list(smiles))
        table = f.principal_components(f.reduce_descriptors(raw, names)[0])
    elif encoding == "mordred":
        raw, names = f.mordred_descriptors(list(smiles))
        table = f.reduce_descriptors(raw, names, max_correlation=0.7)[0]
    else:
        table = f.morgan(list(smiles), n_bits=bits, counts=encoding == "morgan_count")
        used = table.any(axis=0)  # bits no option sets carry no information
        table = table[:, used] if used.any() else table[:, :1]
    table.setflags(write=False)
    return table


class _Simplex(_Param):
    """Fractions of named components that sum to one, each within its own bounds."""

    components: list[str] = Field(min_length=2)
    bounds: dict[str, tuple[Number, Number]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_simplex(self):
        dupes = sorted({c for c in self.components if self.components.count(c) > 1})
        if dupes:
            raise ValueError(f"components listed twice: {dupes}")
        unknown = sorted(set(self.bounds) - set(self.components))
        if unknown:
            raise ValueError(f"bounds given for {unknown}, which are not among the components {self.components}")
        for c, (lo, hi) in self.bounds.items():
            if not 0.0 <= lo < hi <= 1.0:
                raise ValueError(f"bounds of {c!r} must satisfy 0 <= lower < upper <= 1, got ({lo}, {hi})")
        lows, highs = zip(*(self.fraction_bounds(c) for c in self.components))
        if sum(lows) > 1 + TOL or sum(highs) < 1 - TOL:
            raise ValueError(f"no fractions within the bounds sum to one (lower bounds sum to {sum(lows):g}, upper to {sum(highs):g})")
        return self

    def fraction_bounds(self, component: str) -> tuple[float, float]:
        return tuple(self.bounds.get(component, (0.0, 1.0)))

    @property
    def width(self) -> int:
        return len(self.components)

    def column_bounds(self) -> list[tuple[float, float]]:
        return [self.fraction_bounds(c) for c in self.components]

    def sum_constraint(self) -> tuple[list[int], list[float], float]:
        """Columns (relative to this parameter), coefficients and right-hand side of sum == 1."""
        return list(range(self.width)), [1.0] * self.width, 1.0

    def fractions(self, value: Value) -> dict[str, float]:
        raise NotImplementedError

    def encode(self, value: Value) -> list[float]:
        f = self.fractions(value)
        return [f.get(c, 0.0) for c in self.components]

    def contains(self, value: Value) -> bool:
        try:
            self.check_value(value)
        except ValueError:
            return False
        return True

    def check_value(self, value: Value) -> None:
        """Raise `ValueError` naming the component outside its bounds or the sum that is not one."""
        f = self.fractions(value)
        total = sum(f.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"parameter {self.name!r}: fractions sum to {total:g}, not 1")
        for c in self.components:
            lo, hi = self.fraction_bounds(c)
            if not lo - 1e-6 <= f.get(c, 0.0) <= hi + 1e-6:
                raise ValueError(f"parameter {self.name!r}: {c} fraction {f.get(c, 0.0):.4g} is outside its bounds [{lo:g}, {hi:g}]")

    def _normalised(self, columns: list[float]) -> dict[str, float]:
        clipped = [min(max(x, lo), hi) for x, (lo, hi) in zip(columns, self.column_bounds())]
        total = sum(clipped) or 1.0
        return {c: x / total for c, x in zip(self.components, clipped)}


class MixtureParameter(_Simplex):
    """Volume or mass fractions of named components that sum to one; the value is a mapping.

    Example: ``{name: blend, type: mixture, components: [PCE10, PC71BM, additive], bounds: {additive: [0, 0.1]}}``
    """

    type: Literal["mixture"] = "mixture"

    def fractions(self, value: Value) -> dict[str, float]:
        if not isinstance(value, dict):
            raise ValueError(f"parameter {self.name!r}: a mixture value is a mapping component -> fraction, got {value!r}")
        unknown = sorted(set(value) - set(self.components))
        if unknown:
            raise ValueError(f"parameter {self.name!r}: unknown components {unknown}")
        return {c: float(value.get(c, 0.0)) for c in self.components}

    def decode(self, columns: list[float]) -> dict[str, float]:
        return self._normalised(columns)


class CompositionParameter(_Simplex):
    """A material's composition over declared elements, as a formula (pymatgen `Composition`).

    Amounts in a formula are normalised to atomic fractions (``AlCoCrCuFeNi`` is 1/6 of each), which
    must lie within each element's `bounds`. The planner searches the fractions; with
    ``encoding: descriptors`` its model also sees their element-property statistics (weighted
    mean and spread of electronegativity, radius, mass, period, group and Mendeleev number).

    Example: ``{name: alloy, type: composition, components: [Al, Co, Cr, Fe, Ni], bounds: {Al: [0, 0.3]}}``
    """

    type: Literal["composition"] = "composition"
    encoding: Literal["fractions", "descriptors"] = "fractions"

    @field_validator("components")
    @classmethod
    def _elements(cls, components: list[str]) -> list[str]:
        from retort.surrogates.featurisers import unknown_elements

        if bad := unknown_elements(components):
            raise ValueError(f"unknown elements {bad}: components of a composition are element symbols such as Fe, Ni")
        return components

    def element_table(self) -> np.ndarray:
        """Element properties of the components, one row each (used with ``encoding: descriptors``)."""
        from retort.surrogates.featurisers import element_table

        return element_table(self.components)

    def fractions(self, value: Value) -> dict[str, float]:
        from retort.surrogates.featurisers import FeaturisationError, parse_composition

        try:
            amounts = parse_composition(value)
        except FeaturisationError as exc:
            raise ValueError(f"parameter {self.name!r}: {exc}") from None
        outside = sorted(set(amounts) - set(self.components))
        if outside:
            raise ValueError(f"parameter {self.name!r}: formula {value!r} has elements {outside} outside the declared {self.components}")
        return {c: amounts.get(c, 0.0) for c in self.components}

    def decode(self, columns: list[float]) -> str:
        f = self._normalised(columns)
        return "".join(f"{c}{f[c]:.6f}" for c in self.components if f[c] > 5e-7)


Parameter = Annotated[
    Union[ContinuousParameter, IntegerParameter, DiscreteParameter, CategoricalParameter, MoleculeParameter, MaterialParameter,
          MixtureParameter, CompositionParameter],
    Field(discriminator="type"),
]
