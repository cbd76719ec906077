"""Which measurements teach a GP the most about a whole space: integrated variance reduction (Cohn's ALC).

Measuring a candidate ``c`` reduces the GP's predictive variance at every point ``p`` by ``cov(p, c)^2 / (var(c) + noise)``
(hyperparameters held). Summed over reference points spread over the space, that is how much of the model's
uncertainty about the space one label removes: Cohn, Ghahramani & Jordan (1996), "active learning Cohn". It prefers
candidates whose uncertainty is shared by many others over isolated outliers, which plain maximum variance chases
(MacKay's ALM). Batches are greedy: after each pick the covariances are updated as if it had been measured (rank one),
which needs no value, so pending experiments join the training inputs the same way.

Covariances are computed on the model's standardised scale from one Cholesky factor of the training covariance:
``O(n^2 (R + C))`` for ``R`` reference points and ``C`` candidates, and ``R x C`` memory.
"""

from __future__ import annotations

import torch
from botorch.models import SingleTaskGP


@torch.no_grad()
def greedy_variance_reduction(model: SingleTaskGP, candidates: torch.Tensor, reference: torch.Tensor, q: int,
                              eligible: torch.Tensor | None = None, pending: torch.Tensor | None = None) -> tuple[list[int], list[float]]:
    """`q` candidates (indices into `candidates`, ``C x d`` in the search space's units), each the one whose measurement most
    reduces the summed predictive variance over `reference` (``R x d``), given the measurements, `pending` ones and the picks
    before it; only `eligible` candidates (a ``C`` mask) are picked. Returns the picks and each one's reduction (summed
    variance removed, as a share of the summed variance over `reference` before the batch)."""
    train = model.train_inputs[0].reshape(-1, model.train_inputs[0].shape[-1])  # transformed inputs (eval mode)
    if pending is not None and pending.shape[0]:
        train = torch.cat([train, model.transform_inputs(pending.double())])
    noise = float(model.likelihood.noise.reshape(-1)[0])
    kernel = model.covar_module
    C, R = model.transform_inputs(candidates.double()), model.transform_inputs(reference.double())
    K = kernel(train).to_dense() + noise * torch.eye(train.shape[0], dtype=train.dtype)
    L = torch.linalg.cholesky(K)
    A_C = torch.linalg.solve_triangular(L, kernel(train, C).to_dense(), upper=False)  # n x C
    A_R = torch.linalg.solve_triangular(L, kernel(train, R).to_dense(), upper=False)  # n x R
    cov = kernel(R, C).to_dense() - A_R.T @ A_C  # R x C
    var = (kernel(C, diag=True) - (A_C * A_C).sum(0)).clamp_min(1e-12)  # C
    total = float((kernel(R, diag=True) - (A_R * A_R).sum(0)).clamp_min(0).sum())
    open_ = torch.ones(C.shape[0], dtype=torch.bool) if eligible is None else eligible.clone()
    picks, gains, told = [], [], []  # told: per pick so far, cov(candidates, pick) before it and var(pick) + noise
    for _ in range(q):
        score = (cov * cov).sum(0) / (var + noise)
        score[~open_] = -torch.inf
        j = int(torch.argmax(score))
        if not torch.isfinite(score[j]):
            break
        picks.append(j)
        gains.append(float(score[j]) / total if total > 0 else 0.0)
        open_[j] = False
        # measured at j: every covariance loses cov(., j) cov(j, .) / (var(j) + noise); cov(candidates, j) as it stands now
        # is the prior's less what each earlier pick took (the candidates' covariances among themselves are not kept)
        with_j = kernel(C, C[j : j + 1]).to_dense().reshape(-1) - A_C.T @ A_C[:, j]
        for u, s in told:
            with_j -= u * u[j] / s
        scale = var[j] + noise
        cov -= torch.outer(cov[:, j], with_j) / scale
        var = (var - with_j**2 / scale).clamp_min(1e-12)
        told.append((with_j, scale))
    return picks, gains
