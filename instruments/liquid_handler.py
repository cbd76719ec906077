"""Liquid-handler front end: checks volumes, tips and wells, then drives a backend.

Example:
    >>> from retort.instruments import LiquidHandler, WellRef
    >>> class Recorder:
    ...     def __init__(self): self.ops = []
    ...     def execute(self, op): self.ops.append(op)
    >>> lh = LiquidHandler(Recorder(), deck={"1": "corning_96_wellplate_360ul_flat",
    ...     "2": "nest_12_reservoir_15ml", "3": "opentrons_96_tiprack_300ul"},
    ...     pipettes=["p300_single_gen2"])
    >>> lh.fill(WellRef(slot="2", well="A1"), "water", 10000)
    >>> lh.transfer(WellRef(slot="2", well="A1"), WellRef(slot="1", well="A1"), 150)
    >>> lh.volume(WellRef(slot="1", well="A1"))
    150.0
"""

from __future__ import annotations

import math
from collections import defaultdict

from retort.instruments.errors import LabwareError, TipError, VolumeError
from retort.instruments.labware import LABWARE, PIPETTES, LabwareSpec, PipetteSpec, WellRef
from retort.instruments.ops import DropTip, Mix, PickUpTip, Transfer
from retort.instruments.protocols import LiquidHandlerBackend


class LiquidHandler:
    """Checks each operation against pipette ranges, well capacities, source contents and tips.

    Args:
        backend: executes the checked operations.
        deck: deck slot -> labware load name.
        pipettes: mounted pipette names (keys of `PIPETTES`).
    """

    def __init__(self, backend: LiquidHandlerBackend, deck: dict[str, str], pipettes: list[str]) -> None:
        self.backend = backend
        self.deck: dict[str, LabwareSpec] = {}
        for slot, load_name in deck.items():
            if load_name not in LABWARE:
                raise LabwareError(f"unknown labware {load_name!r} in slot {slot}; known: {sorted(LABWARE)}")
            self.deck[slot] = LABWARE[load_name]
        unknown = [p for p in pipettes if p not in PIPETTES]
        if unknown or not pipettes:
            raise LabwareError(f"unknown or missing pipettes {unknown or pipettes}; known: {sorted(PIPETTES)}")
        self.pipettes: list[PipetteSpec] = sorted((PIPETTES[p] for p in pipettes), key=lambda p: p.max_volume)
        self._contents: dict[str, dict[str, float]] = defaultdict(dict)
        self._used_tips: set[str] = set()
        self.tips_used = 0

    # -- state -------------------------------------------------------------------------
    def fill(self, well: WellRef, liquid: str, volume: float) -> None:
        """Record that an operator filled `well` with `volume` uL of `liquid`."""
        spec = self._labware(well)
        if self.volume(well) + volume > spec.well_capacity:
            raise VolumeError(
                f"cannot fill {well} with {volume:g} uL of {liquid}: the well holds at most "
                f"{spec.well_capacity:g} uL and already has {self.volume(well):g} uL"
            )
        contents = self._contents[str(well)]
        contents[liquid] = contents.get(liquid, 0.0) + volume

    def volume(self, well: WellRef) -> float:
        return float(sum(self._contents.get(str(well), {}).values()))

    def contents(self, well: WellRef) -> dict[str, float]:
        return dict(self._contents.get(str(well), {}))

    def tips_left(self, pipette: str) -> int:
        return len(self._free_tips(PIPETTES[pipette]))

    def clear(self, slot: str) -> None:
        """Record that an operator replaced the labware in `slot` with an empty one."""
        self._labware(WellRef(slot=slot, well="A1"))
        for key in [k for k in self._contents if k.startswith(f"{slot}:")]:
            del self._contents[key]

    def replace_tip_racks(self) -> None:
        """Record that an operator replaced every tip rack with a full one."""
        self._used_tips.clear()

    # -- checks ------------------------------------------------------------------------
    def pipette_for(self, volume: float) -> tuple[PipetteSpec, int]:
        """The smallest mounted pipette that can move `volume`, and how many aspirations it needs."""
        if not math.isfinite(volume) or volume <= 0:
            raise VolumeError(f"volume must be a positive number of uL, got {volume!r}")
        for pipette in self.pipettes:
            if pipette.can_move(volume):
                return pipette, 1
        largest = self.pipettes[-1]
        if volume > largest.max_volume:
            n = math.ceil(volume / largest.max_volume)
            return largest, n
        smallest = self.pipettes[0]
        raise VolumeError(
            f"{volume:g} uL is below the smallest volume any mounted pipette can move "
            f"({smallest.name}: {smallest.min_volume:g}-{smallest.max_volume:g} uL); "
            f"use a volume of at least {smallest.min_volume:g} uL or mount a smaller pipette"
        )

    def check_transfer(self, source: WellRef, dest: WellRef, volume: float) -> None:
        """Raise `VolumeError` if `transfer(source, dest, volume)` cannot be done now."""
        self.pipette_for(volume)
        dest_spec = self._labware(dest)
        self._labware(source)
        available = self.volume(source)
        if available + 1e-9 < volume:
            raise VolumeError(f"source {source} holds {available:g} uL, cannot supply {volume:g} uL; refill it")
        if self.volume(dest) + volume > dest_spec.well_capacity + 1e-9:
            raise VolumeError(
                f"{volume:g} uL does not fit in {dest}: it holds {self.volume(dest):g} uL of at most "
                f"{dest_spec.well_capacity:g} uL ({dest_spec.load_name})"
            )

    # -- operations --------------------------------------------------------------------
    def transfer(self, source: WellRef, dest: WellRef, volume: float, mix_repetitions: int = 0) -> None:
        """Move `volume` uL from `source` to `dest` with a fresh tip, then optionally mix `dest`."""
        self.check_transfer(source, dest, volume)
        pipette, n = self.pipette_for(volume)
        self._pick_up_tip(pipette)
        try:
            for _ in range(n):
                self._move(pipette, source, dest, volume / n)
            if mix_repetitions:
                mix_volume = min(pipette.max_volume, max(pipette.min_volume, 0.5 * self.volume(dest)))
                self.backend.execute(Mix(pipette=pipette.name, well=dest, volume=mix_volume, repetitions=mix_repetitions))
        finally:
            self.backend.execute(DropTip(pipette=pipette.name))

    def _move(self, pipette: PipetteSpec, source: WellRef, dest: WellRef, volume: float) -> None:
        self.backend.execute(Transfer(pipette=pipette.name, source=source, dest=dest, volume=volume))
        src = self._contents[str(source)]
        total = sum(src.values())
        moved = {liquid: volume * v / total for liquid, v in src.items()}
        for liquid, v in moved.items():
            src[liquid] -= v
            dst = self._contents[str(dest)]
            dst[liquid] = dst.get(liquid, 0.0) + v

    def _pick_up_tip(self, pipette: PipetteSpec) -> None:
        free = self._free_tips(pipette)
        if not free:
            slots = [s for s, spec in self.deck.items() if spec.load_name == pipette.tip_rack]
            raise TipError(
                f"no {pipette.tip_rack} tips left for {pipette.name} (racks in slots {slots or 'none'}); "
                "replace the tip racks"
            )
        tip = free[0]
        self.backend.execute(PickUpTip(pipette=pipette.name, tip=tip))
        self._used_tips.add(str(tip))
        self.tips_used += 1

    def _free_tips(self, pipette: PipetteSpec) -> list[WellRef]:
        return [
            WellRef(slot=slot, well=well)
            for slot, spec in sorted(self.deck.items())
            if spec.load_name == pipette.tip_rack
            for well in spec.wells()
            if f"{slot}:{well}" not in self._used_tips
        ]

    def _labware(self, well: WellRef) -> LabwareSpec:
        spec = self.deck.get(well.slot)
        if spec is None:
            raise LabwareError(f"no labware in deck slot {well.slot!r} (slots: {sorted(self.deck)})")
        spec.check_well(well.well)
        return spec
