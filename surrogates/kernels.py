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
