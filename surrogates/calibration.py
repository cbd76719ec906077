"""Leave-one-out calibration of a fitted GP, in closed form.

With hyperparameters held fixed, the LOO predictive of point i is Gaussian with
``mean_i = y_i - [K^-1 (y - m)]_i / [K^-1]_ii`` and ``var_i = 1 / [K^-1]_ii``
(Rasmussen & Williams 2006, eq. 5.12), where K includes the noise. Computed on the model's
standardised scale; coverage is scale-free and the log-likelihood is mapped back to the
outcome's own units.
"""

from __future__ import annotations

import math

import torch
from botorch.models import SingleTaskGP

Z95 = 1.959963984540054


def loo_calibration(model: SingleTaskGP) -> tuple[list[float], list[float]]:
    """Per output: fraction of points inside their LOO 95 % interval, mean LOO log predictive density.

    Returns:
        ``(coverage, log_likelihood)``, each a list with one float per output.
    """
    coverage, loglik = [], []
    for resid, var, scale in loo_residuals(model):
        coverage.append(float((resid.abs() <= Z95 * var.sqrt()).double().mean()))
        lpd = -0.5 * (torch.log(2 * math.pi * var) + resid**2 / var) - torch.log(scale)
        loglik.append(float(lpd.mean()))
    return coverage, loglik


def loo_residuals(model: SingleTaskGP) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per output, on the model's standardised scale: each point's leave-one-out residual ``y_i - mu_loo_i`` and
    variance (``n`` each), and the outcome's scale (its standard deviation: residual x scale is in its units)."""
    was_training = model.training
    model.train()  # in train mode `train_inputs` are the raw inputs the transforms expect
    try:
        with torch.no_grad():
            y = model.train_targets  # (m, n) or (n,), standardised
            prior = model(*model.train_inputs)
            K = model.likelihood(prior).covariance_matrix
            mean = prior.mean
    finally:
        model.train(was_training)
    if y.dim() == 1:
        y, K, mean = y.unsqueeze(0), K.unsqueeze(0), mean.unsqueeze(0)
    scale = torch.ones(y.shape[0], dtype=y.dtype)
    tf = getattr(model, "outcome_transform", None)
    if tf is not None and hasattr(tf, "stdvs"):
        scale = tf.stdvs.detach().reshape(-1).to(y)
    return [(*_loo_one(K[j], y[j], mean[j]), scale[j]) for j in range(y.shape[0])]


@torch.no_grad()
def _loo_one(K: torch.Tensor, y: torch.Tensor, mean: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    L = torch.linalg.cholesky(K)
    Kinv = torch.cholesky_inverse(L)
    alpha = Kinv @ (y - mean)
    diag = torch.diagonal(Kinv)
    return alpha / diag, 1.0 / diag  # y_i - mu_loo_i, and its variance
