"""Acquisition builders."""

from __future__ import annotations

import torch
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.objective import ScalarizedPosteriorTransform
from botorch.models.model import Model
from botorch.sampling import SobolQMCNormalSampler


def build_qlognei(
    model: Model,
    X_baseline: torch.Tensor,
    weights: list[float],
    X_pending: torch.Tensor | None = None,
    seed: int = 0,
    mc_samples: int = 128,
) -> qLogNoisyExpectedImprovement:
    """Batch log noisy expected improvement of the weighted sum of the model's outputs.

    Args:
        model: a fitted model with ``m = len(weights)`` outputs.
        X_baseline: ``n x d`` already-observed inputs.
        weights: signed weights, positive for outputs to maximise, negative to minimise.
        X_pending: ``p x d`` inputs proposed but not yet measured.
        seed: seeds the quasi-Monte-Carlo sampler.
    """
    transform = ScalarizedPosteriorTransform(weights=torch.tensor(weights, dtype=torch.double))
    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([mc_samples]), seed=seed)
    return qLogNoisyExpectedImprovement(
        model=model,
        X_baseline=X_baseline,
        sampler=sampler,
        posterior_transform=transform,
        X_pending=X_pending,
        prune_baseline=True,
    )
