"""A liquid handler's deck: what is loaded where (`DeckConfig`) and what is left (`DeckState`).

The configuration is what an operator sets up once; the state is what runs consume (tips, stock
volumes, target wells) and operators replenish (`refill_tips`, `refill_stocks`, `new_plate`). The
state is plain data so the store can keep it across processes and campaigns sharing one deck.

Example:
    >>> deck = DeckConfig(name="bench-1", robot="ot2",
    ...     pipettes={"left": "p20_single_gen2", "right": "p300_single_gen2"},
    ...     tip_racks={"3": "opentrons_96_tiprack_20ul", "4": "opentrons_96_tiprack_300ul"},
    ...     reservoir={"slot": "2", "load_name": "nest_12_reservoir_15ml"},
    ...     stocks={"red": {"well": "A1", "volume": 15000}, "water": {"well": "A2", "volume": 15000}},
    ...     plate={"slot": "1", "load_name": "corning_96_wellplate_360ul_flat"})
    >>> state = deck.full_state()
    >>> state.stocks["red"], len(state.free_tips(deck, "3"))
    (15000.0, 96)
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from retort.instruments.errors import LabwareError
from retort.instruments.labware import PIPETTES, LabwareSpec, PipetteSpec, labware_spec

Robot = Literal["ot2", "flex"]
Mount = Literal["left", "right"]

OT2_SLOTS = [str(n) for n in range(1, 12)]
FLEX_SLOTS = [f"{row}{col}" for row in "ABCD" for col in (1, 2, 3)]
FLEX_TRASH_SLOT = "A3"
ROBOT_TYPE = {"ot2": "OT-2", "flex": "Flex"}
# Modules the Protocol API loads by these names (Opentrons' `load_module` model names).
MODULES = {"temperature module gen2", "magnetic module gen2", "heaterShakerModuleV1", "temperatureModuleV2"}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LabwarePlace(_Frozen):
    slot: str
    load_name: str


class Stock(_Frozen):
    """A stock liquid in one reservoir well; `volume` (uL) is what a refill puts in."""

    well: str
    volume: float = Field(gt=0, allow_inf_nan=False)


class DeckConfig(_Frozen):
    """What is on one robot's deck. `name` identifies the deck: campaigns naming the same deck share its state.

    Slots are OT-2 numbers ("1"-"11") or Flex coordinates ("A1"-"D3"; A3 holds the Flex trash bin).
    """

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    robot: Robot = "ot2"
    pipettes: dict[Mount, str] = Field(min_length=1)
    tip_racks: dict[str, str] = Field(min_length=1, description="slot -> tip rack load name")
    reservoir: LabwarePlace
    stocks: dict[str, Stock] = Field(min_length=1)
    plate: LabwarePlace
    modules: dict[str, str] = Field(default_factory=dict, description="slot -> module model name")

    @field_validator("pipettes")
    @classmethod
    def _known_pipettes(cls, pipettes: dict[str, str]) -> dict[str, str]:
        for mount, name in pipettes.items():
            if name not in PIPETTES:
                raise ValueError(f"pipette {name!r} on the {mount} mount is unknown; known: {sorted(PIPETTES)}")
        return pipettes

    @model_validator(mode="after")
    def _check(self) -> "DeckConfig":
        slots = OT2_SLOTS if self.robot == "ot2" else FLEX_SLOTS
        places = [(s, n, "tip rack") for s, n in self.tip_racks.items()]
        places += [(self.reservoir.slot, self.reservoir.load_name, "reservoir"), (self.plate.slot, self.plate.load_name, "plate")]
        places += [(s, n, "module") for s, n in self.modules.items()]
        seen: dict[str, str] = {}
        for slot, load_name, role in places:
            if slot not in slots or (self.robot == "flex" and slot == FLEX_TRASH_SLOT):
                usable = [s for s in slots if not (self.robot == "flex" and s == FLEX_TRASH_SLOT)]
                raise ValueError(f"{role} {load_name!r}: slot {slot!r} is not a deck slot of an {ROBOT_TYPE[self.robot]}; use one of {usable}")
            if slot in seen:
                raise ValueError(f"slot {slot} holds both the {seen[slot]} and the {role} {load_name!r}")
            seen[slot] = f"{role} {load_name!r}"
            if role == "module":
                if load_name not in MODULES:
                    raise ValueError(f"module {load_name!r} in slot {slot} is unknown; known: {sorted(MODULES)}")
                continue
            kind = {"tip rack": "tip_rack", "reservoir": "reservoir", "plate": "plate"}[role]
            try:
                spec = labware_spec(load_name)
            except LabwareError as exc:
                raise ValueError(f"{role} in slot {slot}: {exc}") from None
            if spec.kind != kind:
                raise ValueError(f"{role} in slot {slot}: {load_name!r} is a {spec.kind.replace('_', ' ')}, not a {role}")
        wells = [s.well for s in self.stocks.values()]
        for name, stock in self.stocks.items():
            try:
                self.labware(self.reservoir.slot).check_well(stock.well)
            except LabwareError as exc:
                raise ValueError(f"stock {name!r}: {exc}") from None
            if wells.count(stock.well) > 1:
                raise ValueError(f"stock {name!r}: reservoir well {stock.well} holds more than one stock")
            capacity = self.labware(self.reservoir.slot).well_capacity
            if stock.volume > capacity:
                raise ValueError(f"stock {name!r}: {stock.volume:g} uL does not fit in a {self.reservoir.load_name} well ({capacity:g} uL)")
        for mount, name in self.pipettes.items():
            if not self.racks_for(PIPETTES[name]):
                raise ValueError(
                    f"pipette {name} on the {mount} mount has no tip rack on the deck; add its rack "
                    f"{PIPETTES[name].tip_rack!r} to tip_racks"
                )
        if self.robot == "ot2" and any(n.startswith("flex_") for n in self.pipettes.values()):
            raise ValueError(f"an OT-2 cannot carry Flex pipettes {sorted(self.pipettes.values())}")
        if self.robot == "flex" and any(not n.startswith("flex_") for n in self.pipettes.values()):
            raise ValueError(f"a Flex carries only Flex pipettes; got {sorted(self.pipettes.values())}")
        return self

    def labware(self, slot: str) -> LabwareSpec:
        if slot == self.plate.slot:
            return labware_spec(self.plate.load_name)
        if slot == self.reservoir.slot:
            return labware_spec(self.reservoir.load_name)
        if slot in self.tip_racks:
            return labware_spec(self.tip_racks[slot])
        raise LabwareError(f"deck {self.name!r} has no labware in slot {slot!r}")

    def racks_for(self, pipette: PipetteSpec) -> list[str]:
        """Slots of the tip racks `pipette` uses, in the order tips are taken."""
        return sorted(slot for slot, load_name in self.tip_racks.items() if load_name == pipette.tip_rack)

    def mounted(self) -> list[PipetteSpec]:
        """Mounted pipettes, smallest first."""
        return sorted((PIPETTES[n] for n in self.pipettes.values()), key=lambda p: p.max_volume)

    def mount_of(self, pipette: str) -> Mount:
        return next(m for m, n in self.pipettes.items() if n == pipette)

    def full_state(self, plate: int = 1) -> "DeckState":
        """A deck with full tip racks, full stocks and an empty plate number `plate`."""
        return DeckState(stocks={n: s.volume for n, s in self.stocks.items()}, plate=plate)


class DeckState(_Frozen):
    """What is left on a deck: used tips per rack slot, stock volumes (uL), the plate and its wells' contents."""

    used_tips: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    stocks: dict[str, float] = Field(default_factory=dict)
    plate: int = Field(default=1, ge=1)
    wells: dict[str, dict[str, float]] = Field(default_factory=dict, description="used wells of the current plate -> liquid -> uL")
    out_of_service: Optional[str] = Field(default=None, description="why the instrument was taken out of service; None: in service")

    def free_tips(self, deck: DeckConfig, slot: str) -> list[str]:
        used = set(self.used_tips.get(slot, ()))
        return [w for w in deck.labware(slot).wells() if w not in used]

    def free_wells(self, deck: DeckConfig) -> list[str]:
        return [w for w in deck.labware(deck.plate.slot).wells() if w not in self.wells]

    def refill_tips(self, slots: list[str] | None = None) -> "DeckState":
        """Full racks in `slots` (default: all)."""
        keep = {} if slots is None else {s: t for s, t in self.used_tips.items() if s not in slots}
        return self.model_copy(update={"used_tips": keep})

    def refill_stocks(self, deck: DeckConfig, volumes: dict[str, float] | None = None) -> "DeckState":
        """Stocks topped up to `volumes` (default: each stock's configured volume)."""
        volumes = volumes or {n: s.volume for n, s in deck.stocks.items()}
        unknown = sorted(set(volumes) - set(deck.stocks))
        if unknown:
            raise LabwareError(f"deck {deck.name!r} has no stocks {unknown}; stocks: {sorted(deck.stocks)}")
        capacity = deck.labware(deck.reservoir.slot).well_capacity
        for name, volume in volumes.items():
            if not 0 <= volume <= capacity:
                raise LabwareError(f"stock {name!r}: {volume:g} uL is not within 0-{capacity:g} uL ({deck.reservoir.load_name})")
        return self.model_copy(update={"stocks": self.stocks | {n: float(v) for n, v in volumes.items()}})

    def new_plate(self) -> "DeckState":
        """An empty plate replaces the current one; it gets the next plate number."""
        return self.model_copy(update={"plate": self.plate + 1, "wells": {}})
