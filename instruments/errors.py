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


class DeckExhausted(InstrumentError):
    """Tips, a stock or the plate's wells ran out: an operator refills the deck, then the campaign continues.

    `needs` lists what to refill, one phrase each.
    """

    def __init__(self, message: str, needs: list[str] | None = None) -> None:
        super().__init__(message)
        self.needs = list(needs or [])


class RunRefused(InstrumentError):
    """A backend refused to start a run before anything moved (busy, a dropped connection): safe to try again."""


class RunLost(InstrumentError):
    """A backend cannot account for a run it was given (it died with the process that drove it, or was forgotten)."""
