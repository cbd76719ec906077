"""Errors raised by instruments. `InstrumentError` is the root of this package."""

from retort.errors import RetortError


class InstrumentError(RetortError):
    """Root of every error raised by `retort.instruments`."""


class VolumeError(ValueError, InstrumentError):
    """A volume that no pipette can move or that a well or source cannot hold or supply."""


class TipError(InstrumentError):
    """No tip is available, or an operation needs a tip the pipette does not hold."""


class LabwareError(ValueError, InstrumentError):
    """An unknown labware slot or well name."""


class MeasurementError(InstrumentError):
    """An instrument returned a reading that cannot be used (NaN, infinite, missing)."""
