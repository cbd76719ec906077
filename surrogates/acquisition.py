"""Acquisition builders: batch log (noisy) expected improvement of one utility, or of the hypervolume of several
objectives, each optionally under outcome constraints. Objectives and constraints are callables on posterior
samples of the model's outputs (``... x m`` -> ``...``), so a utility may be any differentiable function of
what the model predicts (composite Bayesian optimisation)."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
from botorch.acquisition.logei import qLogExpectedImprovement, qLogNoisyExpectedImprovement
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import GenericMCMultiOutputObjective
from botorch.acquisition.objective import GenericMCObjective, ScalarizedPosteriorTransform
from botorch.models.model import Model
from botorch.sampling import SobolQMCNormalSampler

Samples = Callable[..., torch.Tensor]


def build_log_ei(
    model: Model,
    X_baseline: torch.Tensor,
    weights: Optional[list[float]] = None,
    X_pending: torch.Tensor | None = None,
    seed: int = 0,
    mc_samples: int = 128,
    utility: Optional[Samples] = None,
    constraints: Sequence[Samples] = (),
    noisy: bool = True,
) -> qLogNoisyExpectedImprovement | qLogExpectedImprovement:
    """Batch log expected improvement of a utility of the model's outputs: noisy (qLogNEI, integrating over what
    the measured results may truly be) or, with ``noisy=False``, over the best posterior mean at the observed inputs
    (qLogEI with BayBE 0.15's `best_f`; no outcome constraints).

    Args:
        model: a fitted model with ``m`` outputs.
        X_baseline: ``n x d`` already-observed inputs.
        weights: the utility is the weighted sum of the outputs (signed: positive to maximise, negative to
            minimise); exact and cheapest. Give this or `utility`.
        X_pending: ``p x d`` inputs proposed but not yet measured.
        seed: seeds the quasi-Monte-Carlo sampler.
        utility: the utility as a function of output samples (``... x m -> ...``), e.g. minus a distance.
        constraints: outcome constraints, each ``samples -> tensor``, feasible where ``<= 0``.
    """
    if (weights is None) == (utility is None):
        raise ValueError("give either weights or a utility")
    if constraints and not noisy:
        raise ValueError("qLogEI is built here without outcome constraints")
    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([mc_samples]), seed=seed)
    w = torch.tensor(weights, dtype=torch.double) if weights is not None else None
    function = utility if utility is not None else (lambda Y, X=None: Y @ w)
    if not noisy:
        with torch.no_grad():
            best_f = float(function(model.posterior(X_baseline).mean).max())  # the utility of the mean (exact for weights)
        return qLogExpectedImprovement(model=model, best_f=best_f, sampler=sampler, X_pending=X_pending,
                                       objective=GenericMCObjective(lambda Y, X=None: function(Y)))
    if weights is not None and not constraints:  # a transform of the posterior: no samples of each output needed
        return qLogNoisyExpectedImprovement(model=model, X_baseline=X_baseline, sampler=sampler, X_pending=X_pending,
                                            posterior_transform=ScalarizedPosteriorTransform(weights=w), prune_baseline=True)
    return qLogNoisyExpectedImprovement(model=model, X_baseline=X_baseline, sampler=sampler, X_pending=X_pending,
                                        objective=GenericMCObjective(lambda Y, X=None: function(Y)), prune_baseline=True,
                                        constraints=list(constraints) or None)


def build_qlognehvi(
    model: Model,
    X_baseline: torch.Tensor,
    signed: Samples,
    ref_point: torch.Tensor,
    X_pending: torch.Tensor | None = None,
    seed: int = 0,
    mc_samples: int = 64,  # a box decomposition per sample: 128 cost 4x the time of 32 for the same picks (lnp3, measured)
    constraints: Sequence[Samples] = (),
) -> qLogNoisyExpectedHypervolumeImprovement:
    """Batch log noisy expected hypervolume improvement over `ref_point`.

    Args:
        signed: the objectives from output samples, each turned so that larger is better (``... x m -> ... x k``).
        ref_point: ``k`` values in the same (signed) terms: the worst of each objective worth having.
        constraints: outcome constraints, each ``samples -> tensor``, feasible where ``<= 0``.
    """
    sampler = SobolQMCNormalSampler(sample_shape=torch.Size([mc_samples]), seed=seed)
    return qLogNoisyExpectedHypervolumeImprovement(
        model=model, ref_point=ref_point.tolist(), X_baseline=X_baseline, sampler=sampler, X_pending=X_pending,
        objective=GenericMCMultiOutputObjective(lambda Y, X=None: signed(Y)), constraints=list(constraints) or None,
        prune_baseline=True, cache_root=False)
