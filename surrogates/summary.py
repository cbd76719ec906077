"""The stored description of a fitted model version (plain pydantic: no torch import)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from pydantic import BaseModel, ConfigDict


class ModelSummary(BaseModel):
    """What is stored for each fitted model version."""

    model_config = ConfigDict(frozen=True)

    kind: str = "SingleTaskGP"
    outputs: list[str]
    n_train: int
    hyperparameters: dict[str, list[float]]
    loo_coverage_95: dict[str, float]
    loo_log_likelihood: dict[str, float]
    fit_seconds: float
    versions: dict[str, str]
    fit_warnings: dict[str, int] = {}  # what the fit warned (category: message) -> how many times; stored, not silenced


CORRELATION = "correlation with the truth: "  # a dry-wet model version's hyperparameters: this + a fidelity -> [its learned correlation]
RELATEDNESS = "correlation with this campaign: "  # a warm-started model version's hyperparameters: this + a source -> [its learned correlation]
WARM_START = "warm start used; LOO log density, joint and cold; LOO RMSE, joint and cold"  # -> [1 if the joint model was used else 0, ...]
LEARNING = "learn: trust levels, shares and cross-validated error"  # a learn campaign's model version -> `Shares.stored()` (below)


@dataclass(frozen=True)
class Shares:
    """How the candidates not yet measured fall between the trust levels at one fit."""

    lower: float  # the lower level used (adaptive: may be below the campaign's)
    upper: float
    accurate: int
    candidates: int
    suspect: int
    cv_rmse: float
    cv_r2: float
    cv_coverage: float

    @property
    def total(self) -> int:
        return self.accurate + self.candidates + self.suspect

    @property
    def accurate_share(self) -> float:
        return self.accurate / self.total if self.total else 1.0

    def stored(self) -> list[float]:
        return [self.lower, self.upper, self.accurate, self.candidates, self.suspect, self.cv_rmse, self.cv_r2, self.cv_coverage]

    @classmethod
    def from_stored(cls, values: Sequence[float]) -> "Shares":
        lower, upper, accurate, candidates, suspect, rmse, r2, coverage = values
        return cls(lower, upper, int(accurate), int(candidates), int(suspect), rmse, r2, coverage)
