"""What a generated molecule must be: the rules a campaign sets for a `molecule` parameter that generates.

Every generated candidate is sanitised and canonicalised by RDKit, then checked here; the first rule it breaks is
its reason for being dropped (counted, never proposed).

Example:
    >>> rules = MoleculeRules(elements=["C", "N", "O"], heavy_atoms=(2, 12), forbidden=["[N]-[N]"])
    >>> rules.violation(parse("CCO")) is None, rules.violation(parse("CCNN"))
    (True, 'contains a forbidden substructure [N]-[N]')
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from retort.agents.fields import Number, Whole

RING_SANITY = ("[R]=[R]=[R]", "[r3,r4]=[r3,r4]")  # allenes in rings, double bonds in three- and four-membered rings
Alert = Literal["brenk", "pains", "nih", "zinc", "chembl"]  # RDKit's structural-alert catalogues (FilterCatalog)


class MoleculeRules(BaseModel):
    """Allowed elements (default: those of the listed molecules), heavy-atom and molecular-weight ranges, net formal
    charge, forbidden substructures (SMARTS), structural alerts (RDKit's catalogues: `brenk`, unwanted and unstable
    groups such as peroxides and charged oxygen or sulfur; `pains`, assay interference; `nih`, `zinc`, `chembl`), a
    ceiling on RDKit's synthetic-accessibility score (1 easy .. 10 hard) and a ring sanity filter (no ring larger than
    `max_ring_size`, no allene in a ring, no double bond in a three- or four-membered ring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    elements: Optional[list[str]] = Field(default=None, min_length=1, description="element symbols; default: the listed molecules' elements")
    heavy_atoms: tuple[Whole, Whole] = (1, 50)
    weight: tuple[Number, Number] = (0.0, 600.0)
    charge: Optional[int] = Field(default=0, description="net formal charge; none: any")
    forbidden: list[str] = Field(default_factory=list, description="SMARTS no generated molecule may contain")
    alerts: list[Alert] = Field(default_factory=list, description="structural-alert catalogues no generated molecule may match")
    max_sa: Optional[Number] = Field(default=6.0, ge=1, le=10, description="synthetic accessibility ceiling (RDKit SA score); none: no ceiling")
    max_ring_size: Whole = Field(default=8, ge=3)

    @field_validator("elements")
    @classmethod
    def _elements(cls, elements: Optional[list[str]]) -> Optional[list[str]]:
        from retort.surrogates.featurisers import unknown_elements

        if bad := unknown_elements(elements or []):
            raise ValueError(f"{bad[0]!r} is not an element symbol (such as C, N, Cl)")
        return elements

    @field_validator("forbidden")
    @classmethod
    def _smarts(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if _pattern(pattern) is None:
                raise ValueError(f"{pattern!r} is not a SMARTS pattern RDKit can parse")
        return patterns

    @model_validator(mode="after")
    def _ranges(self) -> "MoleculeRules":
        for name in ("heavy_atoms", "weight"):
            lo, hi = getattr(self, name)
            if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi or lo < 0:
                raise ValueError(f"{name}: [{lo}, {hi}] is not a range (0 <= lower <= upper)")
        return self

    def with_elements(self, elements: list[str]) -> "MoleculeRules":
        """These rules with `elements` filled in where none were given."""
        return self if self.elements is not None else self.model_copy(update={"elements": sorted(elements)})

    def with_forbidden(self, patterns: list[str]) -> "MoleculeRules":
        """These rules with more forbidden substructures (an operator's, from a rejection)."""
        return self.model_copy(update={"forbidden": list(dict.fromkeys([*self.forbidden, *patterns]))})

    def violation(self, mol) -> Optional[str]:
        """The first rule `mol` (a sanitised RDKit molecule) breaks, in words, or None."""
        from rdkit.Chem import Descriptors, rdmolops

        if self.elements is not None:
            allowed = set(self.elements) | {"H"}
            others = sorted({a.GetSymbol() for a in mol.GetAtoms()} - allowed)
            if others:
                return f"has elements {others} outside {sorted(self.elements)}"
        heavy = mol.GetNumHeavyAtoms()
        if not self.heavy_atoms[0] <= heavy <= self.heavy_atoms[1]:
            return f"has {heavy} heavy atoms, outside [{self.heavy_atoms[0]}, {self.heavy_atoms[1]}]"
        weight = Descriptors.MolWt(mol)
        if not self.weight[0] <= weight <= self.weight[1]:
            return f"weighs {weight:.1f} g/mol, outside [{self.weight[0]:g}, {self.weight[1]:g}]"
        if self.charge is not None and rdmolops.GetFormalCharge(mol) != self.charge:
            return f"has net formal charge {rdmolops.GetFormalCharge(mol)}, not {self.charge}"
        rings = mol.GetRingInfo().AtomRings()
        if rings and max(len(r) for r in rings) > self.max_ring_size:
            return f"has a {max(len(r) for r in rings)}-membered ring (at most {self.max_ring_size})"
        for pattern in RING_SANITY:
            if mol.HasSubstructMatch(_pattern(pattern)):
                return f"fails the ring sanity check ({pattern})"
        found = first_match(mol, self.forbidden)
        if found is not None:
            return f"contains a forbidden substructure {found}"
        if self.alerts and (alert := _catalogue(tuple(self.alerts)).GetFirstMatch(mol)) is not None:
            return f"matches the structural alert {alert.GetDescription()!r}"
        if self.max_sa is not None:
            score = sa_score(mol)
            if score > self.max_sa:
                return f"has synthetic accessibility {score:.2f}, above {self.max_sa:g}"
        return None


def parse(smiles: str):
    """A sanitised RDKit molecule, or None."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    return Chem.MolFromSmiles(smiles) if isinstance(smiles, str) and smiles.strip() else None


def first_match(mol, patterns: list[str]):
    """The first of the SMARTS `patterns` that `mol` contains, or None."""
    return next((p for p in patterns if mol.HasSubstructMatch(_pattern(p))), None)


def elements_of(mols) -> list[str]:
    """The heavy elements of the molecules, sorted."""
    return sorted({a.GetSymbol() for m in mols for a in m.GetAtoms()} - {"H"})


def sa_score(mol) -> float:
    """RDKit's synthetic accessibility score (Ertl and Schuffenhauer 2009; RDKit Contrib), 1 (easy) to 10 (hard)."""
    return float(_sascorer().calculateScore(mol))


@lru_cache(maxsize=1)
def _sascorer():
    from rdkit.Contrib.SA_Score import sascorer

    return sascorer


@lru_cache(maxsize=512)
def _pattern(smarts: str):
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    return Chem.MolFromSmarts(smarts) if smarts.strip() else None


@lru_cache(maxsize=8)
def _catalogue(names: tuple[str, ...]):
    from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

    params = FilterCatalogParams()
    for name in names:
        params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, name.upper()))
    return FilterCatalog(params)


class Generation(MoleculeRules):
    """A `molecule` parameter's ``generate:`` section: the rules every generated molecule keeps, and how many attempts
    each round makes (`per_round`) with which operators. The parameter's listed molecules are the seeds."""

    per_round: Whole = Field(default=1000, ge=10, le=100_000, description="attempts at new molecules per round (about 5 ms each)")
    operators: list[Literal["crossover", "mutation", "selfies"]] = Field(
        default=["crossover", "mutation", "selfies"], min_length=1, description="Graph-GA crossover and mutation, SELFIES mutation")

    @property
    def rules(self) -> MoleculeRules:
        return MoleculeRules(**{k: getattr(self, k) for k in MoleculeRules.model_fields})
