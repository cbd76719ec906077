"""Instrument operations, backend Protocols and checking front ends.

This package imports nothing else from Retort. A backend (virtual lab, and later the
Opentrons HTTP API) only executes typed operations; the front ends check volumes, tips
and labware before anything reaches a backend.
"""

from retort.instruments.errors import (
    InstrumentError,
    LabwareError,
    MeasurementError,
    TipError,
    VolumeError,
)
from retort.instruments.labware import PIPETTES, LabwareSpec, PipetteSpec, WellRef
from retort.instruments.liquid_handler import LiquidHandler
from retort.instruments.ops import DropTip, Mix, PickUpTip, ReadPlate, Transfer
from retort.instruments.plate_reader import PlateReader
from retort.instruments.protocols import LiquidHandlerBackend, PlateReaderBackend

__all__ = [
    "PIPETTES",
    "DropTip",
    "InstrumentError",
    "LabwareError",
    "LabwareSpec",
    "LiquidHandler",
    "LiquidHandlerBackend",
    "MeasurementError",
    "Mix",
    "PickUpTip",
    "PipetteSpec",
    "PlateReader",
    "PlateReaderBackend",
    "ReadPlate",
    "TipError",
    "Transfer",
    "VolumeError",
    "WellRef",
]
