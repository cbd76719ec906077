"""Gaussian-process surrogate: BoTorch `SingleTaskGP` with input normalisation and standardised outcomes.

Example:
    >>> import torch
    >>> X = torch.rand(12, 2, dtype=torch.double)
    >>> Y = (X.sum(-1, keepdim=True) - 1) ** 2
    >>> fitted = fit_gp(X, Y, torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.double), ["y"])
    >>> fitted.summary.n_train
    12
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal, Optional

import botorch
import gpytorch
import numpy as np
import torch
from botorch.exceptions.warnings import BotorchWarning
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.input import ChainedInputTransform, Normalize
from botorch.models.transforms.outcome import Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.utils.warnings import GPInputWarning, NumericalWarning
from scipy.optimize import OptimizeWarning

from retort.surrogates.calibration import loo_calibration
from retort.surrogates.errors import SurrogateError
from retort.surrogates.summary import ModelSummary
from retort.surrogates.transforms import CompositionFeatures


@dataclass
class FittedModel:
    """A fitted model, its summary, and the version number the store gave it (once stored)."""

    model: SingleTaskGP
    summary: ModelSummary
    version: Optional[int] = field(default=None)


@dataclass(frozen=True)
class GPSettings:
    """How the GP is built (inputs are scaled to the unit cube and outcomes standardised either way).

    priors: ``botorch``: BoTorch's `SingleTaskGP` default (RBF, lengthscale prior scaled with the dimension);
        ``gamma``: Matern-5/2 with EDBO's dimension-aware Gamma priors on lengthscales, output scale and noise;
        ``chen``: Matern-5/2 with Gamma priors whose means grow with the square root of the input width (Chen et
        al.'s adaptive hyperpriors, BayBE 0.15's default for spaces with substances; `kernels.chen_matern`).
    additive: one kernel per parameter, on that parameter's columns, summed (the outcome as a sum of
        per-component effects), instead of one kernel over every column. Needs `groups` in `fit_gp`.
    ftol: the fit's relative tolerance on the marginal likelihood (L-BFGS-B's ``ftol``; None: SciPy's default,
        about 2.2e-9).
    balanced: with BoTorch's priors, every parameter gets an equal share of the prior's complexity instead of every
        column: a column of a parameter ``w`` columns wide, among ``G`` parameters, gets the dimension-scaled
        lengthscale prior of ``w * G`` columns (`kernels.balanced_rbf`). A temperature beside three molecules of
        a dozen descriptor columns each is then expected to matter as much as one molecule, not as one descriptor
        column. Where every parameter is one column wide this is BoTorch's prior exactly. Needs `groups` in `fit_gp`.
    """

    priors: Literal["botorch", "gamma", "chen"] = "botorch"
    additive: bool = False
    ftol: float | None = None
    balanced: bool = False

    def __post_init__(self) -> None:
        if self.balanced and (self.priors != "botorch" or self.additive):
            raise SurrogateError("balanced priors are BoTorch's dimension-scaled priors shared out per parameter; "
                                 "they do not combine with priors 'gamma' or 'chen' or an additive kernel")


def _fit_options(settings: GPSettings, outputs: int) -> dict | None:
    """`fit_gpytorch_mll`'s optimiser options for `settings`. Several outputs are fitted by BoTorch's batched
    L-BFGS-B, which takes `ftol` only with its default `factr` cleared; SciPy's (one output) has no `factr`."""
    if settings.ftol is None:
        return None
    return {"options": {"ftol": settings.ftol} | ({"factr": None} if outputs > 1 else {})}


FIT_WARNINGS = (BotorchWarning, GPInputWarning, NumericalWarning, OptimizeWarning, RuntimeWarning)


def fit_gp(
    train_X: torch.Tensor,
    train_Y: torch.Tensor,
    bounds: torch.Tensor,
    outputs: list[str],
    fingerprint_dims: list[int] | None = None,
    composition_groups: list[tuple[list[int], np.ndarray | torch.Tensor]] | None = None,
    groups: list[list[int]] | None = None,
    settings: GPSettings = GPSettings(),
    state: dict | None = None,
) -> FittedModel:
    """Fit a `SingleTaskGP` by maximising the exact marginal log-likelihood.

    Args:
        train_X: ``n x d`` inputs in the search space's units.
        train_Y: ``n x m`` outcomes, one column per name in `outputs`.
        bounds: ``2 x d`` bounds used to normalise inputs to the unit cube.
        outputs: names of the ``m`` outcome columns.
        fingerprint_dims: columns holding fingerprint bits/counts. These get a Tanimoto kernel
            (times an ARD Matern-5/2 kernel on the other columns, if any) and are not normalised.
        composition_groups: per composition encoded with descriptors, its fraction columns and
            a table of element properties (one row per column); the model appends their
            weighted means and standard deviations (`CompositionFeatures`) to its inputs.
        groups: the columns of each parameter (for ``settings.additive`` and ``settings.balanced``).
        settings: kernel and priors (`GPSettings`); fingerprint columns always get the Tanimoto kernel.
        state: the `state_dict` of a model fitted earlier by this function to the same data and arguments: loaded
            instead of fitting again (the same model, without the optimisation).
    """
    if train_X.dim() != 2 or train_Y.dim() != 2 or train_X.shape[0] != train_Y.shape[0]:
        raise SurrogateError(f"need n x d inputs and n x m outcomes, got {tuple(train_X.shape)} and {tuple(train_Y.shape)}")
    if train_Y.shape[1] != len(outputs):
        raise SurrogateError(f"{train_Y.shape[1]} outcome columns but {len(outputs)} names")
    if not torch.isfinite(train_Y).all():
        raise SurrogateError("training outcomes contain NaN or infinite values; failed experiments must be left out")
    if train_X.shape[0] < 2:
        raise SurrogateError(f"need at least 2 observations to fit a GP, have {train_X.shape[0]}")
    start = time.perf_counter()
    features = CompositionFeatures(composition_groups) if composition_groups else None
    if features is not None:
        bounds = torch.cat([bounds.double(), features.feature_bounds()], dim=-1)
    d = bounds.shape[-1]  # the model's input width, appended features included
    covar_module, likelihood, input_transform = None, None, Normalize(d=d, bounds=bounds.double())
    if not fingerprint_dims and (settings.priors != "botorch" or settings.additive or settings.balanced):
        if (settings.additive or settings.balanced) and not groups:
            raise SurrogateError("an additive kernel or balanced priors need the columns of each parameter (groups)")
        covar_module, likelihood = _kernel(settings, groups, d, train_Y.shape[-1])
    if fingerprint_dims:
        rest = [i for i in range(d) if i not in set(fingerprint_dims)]
        covar_module = _fingerprint_kernel(fingerprint_dims, rest)
        input_transform = Normalize(d=d, indices=rest, bounds=bounds.double()) if rest else None
    if features is not None:
        input_transform = ChainedInputTransform(features=features, normalize=input_transform)
    model = SingleTaskGP(
        train_X.double(),
        train_Y.double(),
        covar_module=covar_module,
        likelihood=likelihood,
        input_transform=input_transform,
        outcome_transform=Standardize(m=train_Y.shape[-1]),
    )
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if state is None:
            fit_gpytorch_mll(mll, optimizer_kwargs=_fit_options(settings, outputs=train_Y.shape[-1]))
        else:
            model.load_state_dict(state)
    told: Counter[str] = Counter()
    for w in caught:  # the fit's numerical trouble is kept with the model version; anything else goes on as warned
        if issubclass(w.category, FIT_WARNINGS):
            told[f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}"] += 1
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    model.eval()
    seconds = time.perf_counter() - start
    coverage, loglik = loo_calibration(model)
    summary = ModelSummary(
        outputs=list(outputs),
        n_train=int(train_X.shape[0]),
        hyperparameters=_hyperparameters(model),
        loo_coverage_95=dict(zip(outputs, coverage)),
        loo_log_likelihood=dict(zip(outputs, loglik)),
        fit_seconds=seconds,
        versions={"botorch": botorch.__version__, "gpytorch": gpytorch.__version__, "torch": torch.__version__},
        fit_warnings=dict(told),
    )
    return FittedModel(model=model, summary=summary)


def _kernel(settings: GPSettings, groups: list[list[int]] | None, d: int, m: int):
    """The covariance module and likelihood `settings` ask for, over `d` input columns and `m` outcomes
    (a batch of independent GPs when `m` > 1); `groups`: each parameter's columns (additive: one kernel per group;
    balanced: one prior width per group; columns after the last group, appended features, form one group more)."""
    from gpytorch.kernels import AdditiveKernel, ScaleKernel
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior, get_gaussian_likelihood_with_lognormal_prior

    from retort.surrogates.kernels import chen_likelihood, chen_matern, gamma_likelihood, gamma_matern

    from retort.surrogates.kernels import balanced_rbf

    batch = torch.Size([m]) if m > 1 else torch.Size()
    if settings.balanced:
        covered = {c for g in groups for c in g}
        extra = [c for c in range(d) if c not in covered]
        return balanced_rbf(list(groups) + ([extra] if extra else []), d, batch), get_gaussian_likelihood_with_lognormal_prior(batch_shape=batch)
    parts = groups if settings.additive else [list(range(d))]
    if settings.priors == "gamma":
        kernels = [gamma_matern(cols, batch) for cols in parts]
        likelihood = gamma_likelihood(d, batch)
    elif settings.priors == "chen":
        kernels = [chen_matern(cols, batch) for cols in parts]
        likelihood = chen_likelihood(batch)
    else:
        kernels = [get_covar_module_with_dim_scaled_prior(len(cols), batch, active_dims=cols) for cols in parts]
        kernels = [ScaleKernel(k, batch_shape=batch) for k in kernels] if len(parts) > 1 else kernels
        likelihood = get_gaussian_likelihood_with_lognormal_prior(batch_shape=batch)
    return (kernels[0] if len(kernels) == 1 else AdditiveKernel(*kernels)), likelihood


def _fingerprint_kernel(fingerprint_dims: list[int], rest: list[int]):
    from gpytorch.kernels import MaternKernel, ScaleKernel
    from gpytorch.priors import GammaPrior

    from retort.surrogates.kernels import TanimotoKernel

    kernel = TanimotoKernel(active_dims=torch.tensor(fingerprint_dims))
    if rest:
        kernel = kernel * MaternKernel(nu=2.5, ard_num_dims=len(rest), active_dims=torch.tensor(rest))
    return ScaleKernel(kernel, outputscale_prior=GammaPrior(2.0, 0.15))


def _hyperparameters(model: SingleTaskGP) -> dict[str, list[float]]:
    """Lengthscales (on the unit cube), output scales, noise and constant mean, per output (standardised scale);
    every kernel's, in the order the model holds them (several with an additive kernel)."""
    kernels = list(model.covar_module.modules())
    out: dict[str, list[float]] = {}
    lengthscales = [k.lengthscale.detach().reshape(-1) for k in kernels if getattr(k, "has_lengthscale", False) and k.lengthscale is not None]
    if lengthscales:
        out["lengthscale"] = torch.cat(lengthscales).tolist()
    outputscales = [k.outputscale.detach().reshape(-1) for k in kernels if hasattr(k, "raw_outputscale")]
    if outputscales:
        out["outputscale"] = torch.cat(outputscales).tolist()
    out["noise"] = model.likelihood.noise.detach().reshape(-1).tolist()
    out["mean_constant"] = model.mean_module.constant.detach().reshape(-1).tolist()
    return out
