"""Typed instrument operations: plain data that a backend executes.

An experiment becomes a list of these by a pure function; only an executor sends them to a
backend. Volumes in uL, wavelengths in nm.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from retort.instruments.labware import WellRef


class _Op(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PickUpTip(_Op):
    op: Literal["pick_up_tip"] = "pick_up_tip"
    pipette: str
    tip: WellRef


class DropTip(_Op):
    op: Literal["drop_tip"] = "drop_tip"
    pipette: str


class Transfer(_Op):
    """Aspirate `volume` from `source` and dispense it all into `dest` with the pipette's tip."""

    op: Literal["transfer"] = "transfer"
    pipette: str
    source: WellRef
    dest: WellRef
    volume: float = Field(gt=0)


class Mix(_Op):
    """Aspirate and dispense `volume` in `well` `repetitions` times."""

    op: Literal["mix"] = "mix"
    pipette: str
    well: WellRef
    volume: float = Field(gt=0)
    repetitions: int = Field(ge=1, le=20)


class ReadPlate(_Op):
    """Read absorbance of `wells` of the plate in `slot` at each of `wavelengths` (nm)."""

    op: Literal["read_plate"] = "read_plate"
    slot: str
    wells: tuple[str, ...]
    wavelengths: tuple[int, ...]


LiquidOp = Annotated[Union[PickUpTip, DropTip, Transfer, Mix], Field(discriminator="op")]
