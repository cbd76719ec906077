"""Plate-reader front end: validates requests and readings.

Example:
    >>> class Flat:
    ...     def read(self, op): return {w: {nm: 0.1 for nm in op.wavelengths} for w in op.wells}
    >>> PlateReader(Flat()).read("1", ["A1"], [450])
    {'A1': {450: 0.1}}
"""

from __future__ import annotations

import math

from retort.instruments.errors import MeasurementError
from retort.instruments.ops import ReadPlate
from retort.instruments.protocols import PlateReaderBackend

MIN_WAVELENGTH = 230
MAX_WAVELENGTH = 1000


class PlateReader:
    """Checks wavelengths and that every requested well came back with a finite reading."""

    def __init__(self, backend: PlateReaderBackend) -> None:
        self.backend = backend

    def read(self, slot: str, wells: list[str], wavelengths: list[int]) -> dict[str, dict[int, float]]:
        bad = [nm for nm in wavelengths if not MIN_WAVELENGTH <= nm <= MAX_WAVELENGTH]
        if bad:
            raise ValueError(f"wavelengths {bad} nm are outside the reader's {MIN_WAVELENGTH}-{MAX_WAVELENGTH} nm range")
        op = ReadPlate(slot=slot, wells=tuple(wells), wavelengths=tuple(wavelengths))
        readings = self.backend.read(op)
        for well in wells:
            row = readings.get(well)
            if row is None or any(nm not in row for nm in wavelengths):
                raise MeasurementError(f"plate reader returned no reading for well {slot}:{well}")
        return {well: {nm: float(readings[well][nm]) for nm in wavelengths} for well in wells}


def non_finite(readings: dict[int, float]) -> list[int]:
    """Wavelengths whose reading is NaN or infinite."""
    return [nm for nm, value in readings.items() if not math.isfinite(value)]
