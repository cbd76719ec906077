"""Labware and pipette specifications, and well addressing.

Volumes are in microlitres (uL) throughout Retort; names omit the unit.
The figures follow Opentrons' published labware and pipette definitions.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from retort.instruments.errors import LabwareError

_WELL = re.compile(r"^([A-P])([1-9][0-9]?)$")


class PipetteSpec(BaseModel):
    """A single-channel pipette: the volume range it can aspirate in one go.

    Example:
        >>> PIPETTES["p300_single_gen2"].can_move(150.0)
        True
    """

    model_config = ConfigDict(frozen=True)

    name: str
    min_volume: float = Field(gt=0)
    max_volume: float = Field(gt=0)
    tip_rack: str

    def can_move(self, volume: float) -> bool:
        return self.min_volume <= volume <= self.max_volume


PIPETTES: dict[str, PipetteSpec] = {
    "p20_single_gen2": PipetteSpec(
        name="p20_single_gen2", min_volume=1.0, max_volume=20.0, tip_rack="opentrons_96_tiprack_20ul"
    ),
    "p300_single_gen2": PipetteSpec(
        name="p300_single_gen2", min_volume=20.0, max_volume=300.0, tip_rack="opentrons_96_tiprack_300ul"
    ),
    "flex_1channel_50": PipetteSpec(
        name="flex_1channel_50", min_volume=1.0, max_volume=50.0, tip_rack="opentrons_flex_96_tiprack_50ul"
    ),
    "flex_1channel_1000": PipetteSpec(
        name="flex_1channel_1000", min_volume=5.0, max_volume=1000.0, tip_rack="opentrons_flex_96_tiprack_1000ul"
    ),
}


class LabwareSpec(BaseModel):
    """A rectangular labware: rows x columns of wells, each holding at most `well_capacity` uL.

    Example:
        >>> plate = LABWARE["corning_96_wellplate_360ul_flat"]
        >>> plate.wells()[:3]
        ['A1', 'B1', 'C1']
    """

    model_config = ConfigDict(frozen=True)

    load_name: str
    kind: Literal["plate", "reservoir", "tip_rack"]
    rows: int = Field(ge=1, le=16)
    columns: int = Field(ge=1, le=24)
    well_capacity: float = Field(gt=0)

    def wells(self) -> list[str]:
        """Well names in column-major order (A1, B1, ..., H1, A2, ...), as Opentrons orders them."""
        return [f"{chr(65 + r)}{c + 1}" for c in range(self.columns) for r in range(self.rows)]

    def check_well(self, well: str) -> None:
        match = _WELL.match(well)
        if not match or ord(match.group(1)) - 65 >= self.rows or int(match.group(2)) > self.columns:
            raise LabwareError(
                f"well {well!r} does not exist on {self.load_name} "
                f"({self.rows} rows A-{chr(64 + self.rows)}, columns 1-{self.columns})"
            )


LABWARE: dict[str, LabwareSpec] = {
    spec.load_name: spec
    for spec in [
        LabwareSpec(load_name="corning_96_wellplate_360ul_flat", kind="plate", rows=8, columns=12, well_capacity=360.0),
        LabwareSpec(load_name="nest_12_reservoir_15ml", kind="reservoir", rows=1, columns=12, well_capacity=15000.0),
        LabwareSpec(load_name="opentrons_96_tiprack_20ul", kind="tip_rack", rows=8, columns=12, well_capacity=20.0),
        LabwareSpec(load_name="opentrons_96_tiprack_300ul", kind="tip_rack", rows=8, columns=12, well_capacity=300.0),
        LabwareSpec(load_name="opentrons_flex_96_tiprack_50ul", kind="tip_rack", rows=8, columns=12, well_capacity=50.0),
        LabwareSpec(load_name="opentrons_flex_96_tiprack_1000ul", kind="tip_rack", rows=8, columns=12, well_capacity=1000.0),
    ]
}


def labware_spec(load_name: str) -> LabwareSpec:
    """The labware `load_name`: one of `LABWARE`, else any standard Opentrons labware, read from Opentrons' own
    definition (its newest version) in the Opentrons environment (`retort opentrons setup`): rows and columns from its
    well ordering, the capacity of its smallest well, its kind from its category.

    Raises:
        LabwareError: not a standard Opentrons labware, not rectangular, or the Opentrons environment is missing.
    """
    import json

    if load_name in LABWARE:
        return LABWARE[load_name]
    known = sorted(LABWARE)
    if not re.fullmatch(r"[a-z0-9][a-z0-9_.]{0,99}", load_name) or ".." in load_name:  # a folder name under the definitions
        raise LabwareError(f"{load_name!r} is not an Opentrons load name (lower-case letters, digits, '_' and '.'); Retort knows {known}")
    from retort.instruments.opentrons.environment import labware_definitions

    root = labware_definitions()
    if root is None:
        raise LabwareError(f"unknown labware {load_name!r}: Retort knows {known} itself and reads any other standard Opentrons "
                           "labware from Opentrons' own definitions, which come with the Opentrons environment: run "
                           "'retort opentrons setup' (or scripts/opentrons-env.sh)")
    versions = sorted((root / load_name).glob("*.json"), key=lambda f: int(f.stem) if f.stem.isdigit() else -1)
    if not versions:
        raise LabwareError(f"unknown labware {load_name!r}: not among Opentrons' {sum(1 for _ in root.iterdir())} standard labware "
                           f"definitions nor Retort's {known}; check the load name in the Opentrons Labware Library")
    definition = json.loads(versions[-1].read_text())
    ordering = definition["ordering"]  # columns, each a list of wells from the top row down
    if len({len(column) for column in ordering}) != 1 or any(w != f"{chr(65 + r)}{c + 1}" for c, column in enumerate(ordering)
                                                             for r, w in enumerate(column)):
        raise LabwareError(f"labware {load_name!r} is not a rectangular grid of wells A1..; Retort plans only such labware")
    category = definition.get("metadata", {}).get("displayCategory", "")
    kind = "tip_rack" if definition.get("parameters", {}).get("isTiprack") else {"reservoir": "reservoir", "wellPlate": "plate"}.get(category)
    if kind is None:
        raise LabwareError(f"labware {load_name!r} is a {category or 'labware of no category'}; Retort uses plates, reservoirs and tip racks")
    capacity = min(float(w["totalLiquidVolume"]) for w in definition["wells"].values())
    return LabwareSpec(load_name=load_name, kind=kind, rows=len(ordering[0]), columns=len(ordering), well_capacity=capacity)


class WellRef(BaseModel):
    """One well of one labware, addressed by the deck slot the labware sits in.

    Example:
        >>> str(WellRef(slot="1", well="A1"))
        '1:A1'
    """

    model_config = ConfigDict(frozen=True)

    slot: str
    well: str

    def __str__(self) -> str:
        return f"{self.slot}:{self.well}"
