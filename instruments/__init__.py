"""Instruments: decks, plans, backend Protocols (with their lifecycle), the plate-reader front end, the Opentrons backend.

This package imports nothing else from Retort. A batch becomes a `Plan` (plain data), checked as a
whole by `check_plan` against the deck's state; a backend (the virtual bench, an Opentrons robot)
runs a checked plan and reports what it did.
"""

from retort.instruments.deck import DeckConfig, DeckState
from retort.instruments.errors import (
    DeckExhausted,
    InstrumentError,
    LabwareError,
    MeasurementError,
    RunLost,
    RunRefused,
    TipError,
    VolumeError,
)
from retort.instruments.labware import PIPETTES, LabwareSpec, PipetteSpec, WellRef
from retort.instruments.ops import DropTip, Mix, PickUpTip, ReadPlate, Transfer
from retort.instruments.plan import ExperimentPlan, Plan, RunReport, check_plan
from retort.instruments.plate_reader import PlateReader
from retort.instruments.protocols import LiquidHandlerBackend, PlateReaderBackend, Submission, run_plan

__all__ = [
    "PIPETTES",
    "DeckConfig",
    "DeckExhausted",
    "DeckState",
    "DropTip",
    "ExperimentPlan",
    "InstrumentError",
    "LabwareError",
    "LabwareSpec",
    "LiquidHandlerBackend",
    "MeasurementError",
    "Mix",
    "PickUpTip",
    "PipetteSpec",
    "Plan",
    "PlateReader",
    "PlateReaderBackend",
    "ReadPlate",
    "RunLost",
    "RunRefused",
    "RunReport",
    "Submission",
    "TipError",
    "Transfer",
    "VolumeError",
    "WellRef",
    "check_plan",
    "run_plan",
]
