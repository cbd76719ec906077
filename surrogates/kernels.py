"""Kernels written against GPyTorch.

Example:
    >>> import torch
    >>> x = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]], dtype=torch.double)
    >>> TanimotoKernel()(x).to_dense().tolist()
    [[1.0, 0.3333333333333333], [0.3333333333333333, 1.0]]
"""

from __future__ import annotations

import torch
from gpytorch.kernels import Kernel


class TanimotoKernel(Kernel):
    """MinMax (Tanimoto/Jaccard for bits) similarity ``sum(min(x, y)) / sum(max(x, y))`` of
    non-negative vectors such as fingerprint bits or counts. Positive semi-definite (Ralaivola et
    al. 2005); no hyperparameters of its own (wrap it in a `ScaleKernel`).

    Memory is bounded by computing ``sum(min)`` as ``(|x| + |y| - |x - y|) / 2`` in row chunks,
    never materialising the ``n x m x d`` tensor at once.
    """

    has_lengthscale = False

    def __init__(self, chunk: int = 256, **kwargs) -> None:
        super().__init__(**kwargs)
        self.chunk = chunk

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params) -> torch.Tensor:
        if diag:  # every vector is identical to itself (all-zero vectors included, by convention)
            return torch.ones(x1.shape[:-1], dtype=x1.dtype, device=x1.device)
        n1, n2 = x1.sum(-1, keepdim=True), x2.sum(-1, keepdim=True).transpose(-1, -2)
        parts = []
        for start in range(0, x1.shape[-2], self.chunk):
            a = x1[..., start : start + self.chunk, :]
            parts.append(torch.cdist(a, x2, p=1) if a.dim() == x2.dim() else torch.cdist(a, x2.expand(*a.shape[:-2], *x2.shape[-2:]), p=1))
        l1 = torch.cat(parts, dim=-2)
        sum_min = 0.5 * (n1 + n2 - l1)
        sum_max = 0.5 * (n1 + n2 + l1)
        return torch.where(sum_max > 0, sum_min / sum_max.clamp_min(1e-12), torch.ones_like(sum_max))


def balanced_rbf(groups: list[list[int]], d: int, batch_shape: torch.Size = torch.Size()):
    """BoTorch's default kernel (RBF, ARD, a LogNormal lengthscale prior scaled with the input width: Hvarfner et al.
    2024) with the width counted per parameter: a column in a group of ``w`` columns, among ``G`` groups, gets the prior
    BoTorch gives ``w * G`` columns, ``LogNormal(sqrt 2 + log(w G) / 2, sqrt 3)``, and starts at its mode. Each
    group then adds the same expected share to the kernel's squared distance, however many columns encode it; with
    one column per group it is BoTorch's prior exactly. `groups` must cover the `d` columns once."""
    import math

    from gpytorch.constraints import GreaterThan
    from gpytorch.kernels import RBFKernel
    from gpytorch.priors import LogNormalPrior

    if sorted(c for g in groups for c in g) != list(range(d)) or not all(groups):
        raise ValueError(f"the groups {groups} do not cover the {d} columns once each")
    width = [0.0] * d
    for g in groups:
        for c in g:
            width[c] = float(len(g) * len(groups))
    loc = torch.tensor([math.sqrt(2.0) + 0.5 * math.log(w) for w in width], dtype=torch.double)
    prior = LogNormalPrior(loc=loc, scale=torch.full_like(loc, math.sqrt(3.0)))
    kernel = RBFKernel(ard_num_dims=d, batch_shape=batch_shape, lengthscale_prior=prior,
                       lengthscale_constraint=GreaterThan(2.5e-2, transform=None))
    kernel.lengthscale = torch.exp(loc - 3.0).expand(*batch_shape, 1, d)  # the prior's mode, column by column
    return kernel


# Dimension-aware Gamma priors for a Matern-5/2 kernel on inputs scaled to the unit cube, as EDBO tuned them for
# reaction grids (Shields et al. 2021) and BayBE interpolates them between its low- and high-dimensional regimes
# (8 and 75 columns): short lengthscales for a few columns, long ones (a smooth function) for many descriptors.
_DIMS = (8.0, 75.0)


def _between(d: int, low: float, high: float) -> float:
    import numpy as np

    return float(np.interp(d, _DIMS, [low, high]))


def gamma_matern(columns: list[int], batch_shape: torch.Size = torch.Size()):
    """A scaled ARD Matern-5/2 kernel on `columns` with dimension-aware Gamma priors (see above)."""
    from gpytorch.kernels import MaternKernel, ScaleKernel
    from gpytorch.priors import GammaPrior

    d = len(columns)
    matern = MaternKernel(nu=2.5, ard_num_dims=d, active_dims=torch.tensor(columns), batch_shape=batch_shape,
                          lengthscale_prior=GammaPrior(_between(d, 1.2, 2.5), _between(d, 1.1, 0.55)))
    kernel = ScaleKernel(matern, batch_shape=batch_shape, outputscale_prior=GammaPrior(_between(d, 5.0, 3.5), _between(d, 0.5, 0.15)))
    matern.lengthscale = _between(d, 0.2, 6.0)
    kernel.outputscale = _between(d, 8.0, 15.0)
    return kernel


def gamma_likelihood(d: int, batch_shape: torch.Size = torch.Size()):
    """A Gaussian likelihood with the noise prior that goes with `gamma_matern` on `d` columns."""
    from gpytorch.likelihoods import GaussianLikelihood
    from gpytorch.priors import GammaPrior

    likelihood = GaussianLikelihood(noise_prior=GammaPrior(_between(d, 1.05, 1.5), _between(d, 0.5, 0.1)), batch_shape=batch_shape)
    likelihood.noise = _between(d, 0.1, 5.0)
    return likelihood


def chen_matern(columns: list[int], batch_shape: torch.Size = torch.Size()):
    """A scaled ARD Matern-5/2 kernel on `columns` with the adaptive hyperpriors of Chen et al. (2026), as BayBE 0.15
    builds them for a space with substances (its ``CHEN`` preset, `_ChenNumericalKernelFactory`): with
    ``l = 0.4 sqrt(d) + 4`` for ``d`` columns, lengthscales ~ Gamma(2 l, 2) and output scale ~ Gamma(l, 1) (both
    with mean ``l``, where they start): long lengthscales, a smooth function, the more columns there are."""
    import math

    from gpytorch.kernels import MaternKernel, ScaleKernel
    from gpytorch.priors import GammaPrior

    scale = 0.4 * math.sqrt(len(columns)) + 4.0
    matern = MaternKernel(nu=2.5, ard_num_dims=len(columns), active_dims=torch.tensor(columns), batch_shape=batch_shape,
                          lengthscale_prior=GammaPrior(2.0 * scale, 2.0))
    kernel = ScaleKernel(matern, batch_shape=batch_shape, outputscale_prior=GammaPrior(scale, 1.0))
    matern.lengthscale = scale
    kernel.outputscale = scale
    return kernel


def chen_likelihood(batch_shape: torch.Size = torch.Size()):
    """The likelihood that goes with `chen_matern` in BayBE's preset: GPyTorch's Gaussian likelihood, no noise prior."""
    from gpytorch.likelihoods import GaussianLikelihood

    return GaussianLikelihood(batch_shape=batch_shape)
