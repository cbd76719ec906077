"""Surrogate models: GP fitting, calibration and acquisition builders.

Imports nothing else from Retort; works on tensors in the units the search space encodes.
Attributes load lazily so that reading a store or a campaign file does not import BoTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from retort.surrogates.errors import SurrogateError
from retort.surrogates.summary import ModelSummary

if TYPE_CHECKING:
    from retort.surrogates.acquisition import build_log_ei, build_qlognehvi
    from retort.surrogates.calibration import loo_calibration
    from retort.surrogates.gp import FittedModel, fit_gp

_LAZY = {
    "build_log_ei": "retort.surrogates.acquisition",
    "build_qlognehvi": "retort.surrogates.acquisition",
    "loo_calibration": "retort.surrogates.calibration",
    "FittedModel": "retort.surrogates.gp",
    "fit_gp": "retort.surrogates.gp",
}

__all__ = ["FittedModel", "ModelSummary", "SurrogateError", "build_log_ei", "build_qlognehvi", "fit_gp", "loo_calibration"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'retort.surrogates' has no attribute {name!r}")
