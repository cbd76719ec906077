"""Input transforms written against BoTorch.

Example:
    >>> import torch
    >>> table = torch.tensor([[1.0], [3.0]], dtype=torch.double)  # one property of two elements
    >>> CompositionFeatures([([0, 1], table)]).transform(torch.tensor([[0.5, 0.5]], dtype=torch.double))
    tensor([[0.5000, 0.5000, 2.0000, 1.0000]], dtype=torch.float64)
"""

from __future__ import annotations

import numpy as np
import torch
from botorch.models.transforms.input import InputTransform


class CompositionFeatures(InputTransform):
    """Appends composition descriptors to fraction columns: for each group of columns holding one
    composition's fractions, the fraction-weighted mean and standard deviation of each element
    property (Magpie-style statistics).

    Both are smooth in the fractions, so the acquisition optimiser keeps working on fractions
    (and their sum-to-one constraint) while the GP also sees the chemistry: compositions with
    similar mean electronegativity or radius are near each other even with no element in common.

    Args:
        groups: per composition, its column indices (``k`` of them) and a ``k x p`` table (array
            or tensor) of element properties, one row per column.
    """

    def __init__(self, groups: list[tuple[list[int], np.ndarray | torch.Tensor]]) -> None:
        super().__init__()
        self.transform_on_train = True
        self.transform_on_eval = True
        self.transform_on_fantasize = True
        self.n_groups = len(groups)
        for i, (columns, table) in enumerate(groups):
            table = torch.as_tensor(table, dtype=torch.double)
            if table.shape[0] != len(columns):
                raise ValueError(f"group {i}: {len(columns)} columns but {table.shape[0]} table rows")
            self.register_buffer(f"columns_{i}", torch.tensor(columns, dtype=torch.long))
            self.register_buffer(f"table_{i}", table)

    def _groups(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(getattr(self, f"columns_{i}"), getattr(self, f"table_{i}")) for i in range(self.n_groups)]

    @property
    def n_features(self) -> int:
        """How many columns the transform appends."""
        return sum(2 * table.shape[1] for _, table in self._groups())

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """``... x d`` fractions (and other columns) -> ``... x (d + n_features)``."""
        parts = [X]
        for columns, table in self._groups():
            w = X[..., columns]
            w = w / w.sum(dim=-1, keepdim=True).clamp_min(1e-12)
            table = table.to(X)
            mean = w @ table
            variance = (w @ table.pow(2) - mean.pow(2)).clamp_min(1e-12)
            parts += [mean, variance.sqrt()]
        return torch.cat(parts, dim=-1)

    def feature_bounds(self) -> torch.Tensor:
        """``2 x n_features`` bounds of the appended columns (means within the properties' range,
        standard deviations within half of it); a property constant over the elements gets a
        unit-wide range so normalising it never divides by zero."""
        lower, upper = [], []
        for _, table in self._groups():
            lo, hi = table.min(dim=0).values, table.max(dim=0).values
            span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
            lower += [lo, torch.zeros_like(lo)]
            upper += [lo + span, span / 2]
        return torch.stack([torch.cat(lower), torch.cat(upper)])
