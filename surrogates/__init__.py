"""Surrogate models: GP fitting, calibration and acquisition builders.

Imports nothing else from Retort; works on tensors in the units the search space encodes.
"""

from retort.surrogates.acquisition import build_qlognei
from retort.surrogates.calibration import loo_calibration
from retort.surrogates.errors import SurrogateError
from retort.surrogates.gp import FittedModel, ModelSummary, fit_gp

__all__ = ["FittedModel", "ModelSummary", "SurrogateError", "build_qlognei", "fit_gp", "loo_calibration"]
