"""Generated compositions: ionic substitutions of measured ones (pymatgen's `SubstitutionPredictor`, the data-mined
substitution probabilities of Hautier et al., Inorg. Chem. 2011), kept when charge-balanced (pymatgen's
oxidation-state guesses) and made of allowed elements.

Example:
    >>> charge_balanced("LiFePO4"), charge_balanced("NaCl2")
    (True, False)
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from retort.agents.fields import Number, Whole
from retort.agents.generation.generator import Child, Generated


class Substitution(BaseModel):
    """A `material` parameter's ``generate:`` section: substitutions whose probability (of the whole composition) is
    at least `threshold`, of the `per_round` best measured compositions, using only `elements` (default: any)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: Number = Field(default=1e-3, gt=0, lt=1, description="lowest substitution probability kept (pymatgen's threshold)")
    elements: Optional[list[str]] = Field(default=None, min_length=1, description="element symbols generated compositions may use")
    per_round: Whole = Field(default=6, ge=1, le=100, description="measured compositions substituted each round, best first (about 2 s each)")

    @field_validator("elements")
    @classmethod
    def _elements(cls, elements: Optional[list[str]]) -> Optional[list[str]]:
        from retort.surrogates.featurisers import unknown_elements

        if bad := unknown_elements(elements or []):
            raise ValueError(f"{bad[0]!r} is not an element symbol (such as Fe, O)")
        return elements

    def allows(self, formula: str) -> bool:
        """Charge-balanced, and of allowed elements."""
        return self.refusal(formula) is None

    def refusal(self, formula: str) -> Optional[str]:
        """Why `formula` may not be generated ("elements", "charge balance"), or None when it may."""
        elements = _elements_of(formula)
        if elements is None or (self.elements is not None and not set(elements) <= set(self.elements)):
            return "elements"
        return None if charge_balanced(formula) else "charge balance"


def reduced(formula: str) -> str:
    """The composition's reduced formula (pymatgen), the form two writings of one composition share."""
    from pymatgen.core import Composition

    return Composition(formula).reduced_formula


@lru_cache(maxsize=4096)
def charge_balanced(formula: str) -> bool:
    """Whether some assignment of common oxidation states makes the composition neutral (pymatgen's guesses)."""
    from pymatgen.core import Composition

    try:
        return bool(Composition(formula).oxi_state_guesses(max_sites=-50))
    except (ValueError, KeyError):
        return False


@lru_cache(maxsize=4096)
def _elements_of(formula: str) -> Optional[tuple[str, ...]]:
    from pymatgen.core import Composition

    try:
        return tuple(sorted(str(e) for e in Composition(formula).elements))
    except (ValueError, KeyError):
        return None


def substitute(parents: list[str], known: set[str], settings: Substitution) -> Generated:
    """New compositions from `parents` (formulas, best first; the first `per_round`): every substitution above the
    threshold, as a reduced formula; none in `known` (reduced formulas), none made twice; drops counted by reason."""
    made: dict[str, Child] = {}
    dropped: Counter = Counter()
    attempts = 0
    for parent in parents[: settings.per_round]:
        for formula in _substitutions(parent, settings.threshold):
            attempts += 1
            if formula in known or formula in made:
                dropped["repeats"] += 1
            elif reason := settings.refusal(formula):
                dropped[reason] += 1
            else:
                made[formula] = Child(value=formula, parents=(parent,), operator="substitution")
    return Generated(children=list(made.values()), attempts=attempts, dropped=dropped)


@lru_cache(maxsize=256)
def _substitutions(formula: str, threshold: float) -> tuple[str, ...]:
    """The reduced formulas of the substitutions of `formula` above `threshold` (the composition itself left out)."""
    from pymatgen.core import Composition

    charged = Composition(formula).add_charges_from_oxi_state_guesses()
    out = []
    for prediction in _predictor(threshold).composition_prediction(charged):
        new_for_old = {str(old): new for new, old in prediction["substitutions"].items()}
        new = Composition({new_for_old[str(species)].element: amount for species, amount in charged.items()})
        if new.reduced_formula != charged.reduced_formula:
            out.append(new.reduced_formula)
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=8)
def _predictor(threshold: float):
    from pymatgen.analysis.structure_prediction.substitution_probability import SubstitutionPredictor

    return SubstitutionPredictor(threshold=threshold)
