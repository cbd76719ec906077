"""A committee of GPs, for campaigns whose product is a model rather than an optimum.

The campaign's GP is fitted once on every measurement; each of K members takes its fitted hyperparameters
(kernel, mean, noise) and is conditioned on all measurements but one fold of them (query by bagging: members
trained on different subsets of the data, Abe & Mamitsuka 1998; DP-GEN trains its ensemble on the same data
from different seeds, which for a GP would give K copies of one model). Two things come out of the folds:

- the committee's *disagreement* at a point, the standard deviation of the K members' predicted means (in the
  objective's units): where the data pins the function down the members agree, where it does not they differ;
- a cross-validated error on the measured points (each predicted by the member that never saw it), the honest
  error of the model as it stands (hyperparameters are shared, fitted on every point, so slightly optimistic).

Example:
    >>> import torch
    >>> from retort.surrogates.gp import fit_gp
    >>> X = torch.linspace(0, 1, 12, dtype=torch.double).unsqueeze(-1)
    >>> full = fit_gp(X, torch.sin(6 * X), torch.tensor([[0.0], [1.0]], dtype=torch.double), ["y"])
    >>> committee = fit_committee(full, X, torch.sin(6 * X), members=4, seed=0)
    >>> len(committee.members), committee.cv.n
    (4, 12)
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize

from retort.surrogates.errors import SurrogateError
from retort.surrogates.gp import FittedModel


@dataclass(frozen=True)
class CrossValidation:
    """The committee's K-fold error on the measured points, in the objective's units."""

    n: int
    rmse: float
    r2: float  # 1 - SSE / SST over the measured points (SST about their mean)
    coverage_95: float  # share of points inside their held-out 95 % interval


@dataclass
class Committee(FittedModel):
    """The campaign's GP (`model`, fitted on everything) and its K fold members."""

    members: list[SingleTaskGP] = field(default_factory=list)
    cv: CrossValidation | None = None

    def means(self, X: torch.Tensor, members: list | None = None) -> torch.Tensor:
        """``K x n``: every member's predicted mean at the ``n x d`` points `X` (the objective's units)."""
        with torch.no_grad():
            return torch.stack([m.posterior(X).mean.reshape(-1) for m in (members or self.members)])

    def disagreement(self, X: torch.Tensor, members: list | None = None) -> torch.Tensor:
        """The members' standard deviation at each point of `X` (``n``)."""
        return self.means(X, members).std(dim=0)

    def predict(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The campaign's model at `X`: predictive mean and standard deviation of a new measurement's value (``n`` each)."""
        with torch.no_grad():
            posterior = self.model.posterior(X, observation_noise=True)
            return posterior.mean.reshape(-1), posterior.variance.reshape(-1).clamp_min(0).sqrt()


def member(full: SingleTaskGP, X: torch.Tensor, Y: torch.Tensor) -> SingleTaskGP:
    """A GP with `full`'s fitted kernel, mean, noise and input scaling, conditioned on (`X`, `Y`) only."""
    model = SingleTaskGP(X, Y, covar_module=copy.deepcopy(full.covar_module), likelihood=copy.deepcopy(full.likelihood),
                         mean_module=copy.deepcopy(full.mean_module), input_transform=copy.deepcopy(getattr(full, "input_transform", None)),
                         outcome_transform=Standardize(m=Y.shape[-1]))
    model.eval()
    return model


def fit_committee(full: FittedModel, train_X: torch.Tensor, train_Y: torch.Tensor, members: int, seed: int) -> Committee:
    """K = `members` fold models around `full` (fitted on `train_X`, `train_Y`: one output), and their cross-validated error.

    Folds are a seeded shuffle of the measurements dealt out in turn, so each member leaves out about n / K of them.
    """
    n = train_X.shape[0]
    if train_Y.shape[-1] != 1:
        raise SurrogateError(f"a committee models one output, got {train_Y.shape[-1]}")
    if members < 2 or n < members + 1:
        raise SurrogateError(f"a committee of {members} members needs more than {members} measurements, has {n}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    folds = [order[k::members] for k in range(members)]
    models, mean, var = [], torch.empty(n, dtype=torch.double), torch.empty(n, dtype=torch.double)
    for fold in folds:
        keep = torch.ones(n, dtype=torch.bool)
        keep[fold] = False
        fitted = member(full.model, train_X[keep].double(), train_Y[keep].double())
        with torch.no_grad():
            posterior = fitted.posterior(train_X[fold].double(), observation_noise=True)
        mean[fold], var[fold] = posterior.mean.reshape(-1), posterior.variance.reshape(-1).clamp_min(1e-12)
        models.append(fitted)
    y = train_Y.reshape(-1).double()
    residual = y - mean
    sst = float(((y - y.mean()) ** 2).sum())
    cv = CrossValidation(n=n, rmse=math.sqrt(float((residual**2).mean())), r2=1 - float((residual**2).sum()) / sst if sst > 0 else float("nan"),
                         coverage_95=float((residual.abs() <= 1.959963984540054 * var.sqrt()).double().mean()))
    return Committee(model=full.model, summary=full.summary, members=models, cv=cv)
