"""Backend Protocols: what a liquid handler or plate reader must execute.

Backends receive operations the front ends have already checked. A backend reports what it
did; it does not second-guess volumes.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from retort.instruments.ops import LiquidOp, ReadPlate


@runtime_checkable
class LiquidHandlerBackend(Protocol):
    """Executes checked liquid-handling operations (virtual lab, Opentrons HTTP, ...)."""

    def execute(self, op: LiquidOp) -> None: ...


@runtime_checkable
class PlateReaderBackend(Protocol):
    """Reads absorbance. Returns `{well: {wavelength_nm: absorbance}}` for every requested well."""

    def read(self, op: ReadPlate) -> dict[str, dict[int, float]]: ...
