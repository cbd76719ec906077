"""Backend Protocols: what a liquid handler or plate reader must do.

A liquid handler runs a whole plan that `check_plan` has passed and reports what it did; it does
not second-guess volumes. A backend that drives hardware adds its own gates (analysis, attached
instruments) before anything moves.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from retort.instruments.ops import ReadPlate
from retort.instruments.plan import Plan, RunReport


@runtime_checkable
class LiquidHandlerBackend(Protocol):
    """Runs checked plans (virtual bench, Opentrons HTTP, ...)."""

    def run(self, plan: Plan) -> RunReport: ...


@runtime_checkable
class PlateReaderBackend(Protocol):
    """Reads absorbance. Returns `{well: {wavelength_nm: absorbance}}` for every requested well."""

    def read(self, op: ReadPlate) -> dict[str, dict[int, float]]: ...
