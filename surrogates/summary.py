"""The stored description of a fitted model version (plain pydantic: no torch import)."""

from __future__ import annotations

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
