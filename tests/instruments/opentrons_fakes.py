"""Plans and robot-server-shaped command lists for the Opentrons tests (no robot needed)."""

from __future__ import annotations

import itertools
from typing import Literal, Optional

from retort.instruments.deck import DeckConfig
from retort.instruments.labware import WellRef
from retort.instruments.ops import DropTip, Mix, PickUpTip, Transfer
from retort.instruments.opentrons.protocol import MARKER
from retort.instruments.plan import ExperimentPlan, Plan, check_plan
from tests.instruments.decks import flex_deck, ot2_deck

STOCKS = {"red": {"well": "A1", "volume": 15000}, "blue": {"well": "A2", "volume": 15000},
          "water": {"well": "A3", "volume": 15000}, "yellow": {"well": "A4", "volume": 15000}}
VOLUMES = (10.0, 50.0, 15.0, 100.0)


def deck(robot: Literal["ot2", "flex"] = "ot2", *, swap_mounts: bool = False, name: str = "test-deck") -> DeckConfig:
    """The simulated robots' decks (`decks.ot2_deck`, `decks.flex_deck`) with these stocks; optionally the mounts swapped."""
    build = ot2_deck if robot == "ot2" else flex_deck
    base = build(name=name, stocks=STOCKS)
    if not swap_mounts:
        return base
    return build(name=name, stocks=STOCKS, pipettes={"left": base.pipettes["right"], "right": base.pipettes["left"]})


def plan(deck_: DeckConfig, experiments: int = 3, transfers: int = 3, *, mix: int = 2, first_well: int = 0) -> Plan:
    """`experiments` experiments of `transfers` transfers each (one fresh tip per transfer), the last followed by a mix."""
    small, big = deck_.mounted()
    tips = {p.name: iter(itertools.product(deck_.racks_for(p), deck_.labware(deck_.racks_for(p)[0]).wells())) for p in (small, big)}
    wells = deck_.labware(deck_.plate.slot).wells()[first_well:]
    stocks = list(deck_.stocks.values())
    out = []
    for i in range(experiments):
        dest = WellRef(slot=deck_.plate.slot, well=wells[i])
        steps: list = []
        for k in range(transfers):
            volume = VOLUMES[(i + k) % len(VOLUMES)]
            pipette = small if volume <= small.max_volume else big
            slot, tip = next(tips[pipette.name])
            steps += [PickUpTip(pipette=pipette.name, tip=WellRef(slot=slot, well=tip)),
                      Transfer(pipette=pipette.name, source=WellRef(slot=deck_.reservoir.slot, well=stocks[k % len(stocks)].well),
                               dest=dest, volume=volume)]
            if mix and k == transfers - 1:
                steps.append(Mix(pipette=pipette.name, well=dest, volume=volume, repetitions=mix))
            steps.append(DropTip(pipette=pipette.name))
        out.append(ExperimentPlan(seq=i + 1, well=dest, steps=tuple(steps)))
    result = Plan(deck=deck_, plate=1, experiments=tuple(out))
    check_plan(result, deck_.full_state())
    return result


def long_plan(deck_: DeckConfig, experiments: int = 60, repetitions: int = 20) -> Plan:
    """Many experiments, each one transfer and a long mix with the large pipette: a run that lasts seconds on a simulator."""
    big = deck_.mounted()[-1]
    rack = deck_.racks_for(big)[0]
    wells, tips = deck_.labware(deck_.plate.slot).wells(), deck_.labware(rack).wells()
    out = []
    for i in range(experiments):
        dest = WellRef(slot=deck_.plate.slot, well=wells[i])
        out.append(ExperimentPlan(seq=i + 1, well=dest, steps=(
            PickUpTip(pipette=big.name, tip=WellRef(slot=rack, well=tips[i])),
            Transfer(pipette=big.name, source=WellRef(slot=deck_.reservoir.slot, well="A1"), dest=dest, volume=100.0),
            Mix(pipette=big.name, well=dest, volume=50.0, repetitions=repetitions),
            DropTip(pipette=big.name))))
    result = Plan(deck=deck_, plate=1, experiments=tuple(out))
    check_plan(result, deck_.full_state())
    return result


class CommandLog:
    """Builds the command list robot-server 8.1 returns for a plan's protocol (``GET /runs/{id}/commands``)."""

    def __init__(self, plan_: Plan) -> None:
        self.plan = plan_
        self.ids = itertools.count()
        self.labware = {slot: f"lw-{slot}" for slot in [plan_.deck.plate.slot, plan_.deck.reservoir.slot, *plan_.deck.tip_racks]}
        self.pipettes = {name: f"pip-{mount}" for mount, name in plan_.deck.pipettes.items()}

    def command(self, kind: str, params: dict, status: str = "succeeded", error: Optional[dict] = None) -> dict:
        out = {"id": f"cmd-{next(self.ids)}", "key": "k", "commandType": kind, "createdAt": "2026-01-01T00:00:00+00:00",
               "startedAt": "2026-01-01T00:00:00+00:00", "completedAt": "2026-01-01T00:00:01+00:00", "status": status,
               "params": params, "notes": []}
        if error:
            out["error"] = error
        return out

    def run_labware(self) -> list[dict]:
        """The run's ``labware`` list (``GET /runs/{id}``)."""
        return [{"id": lid, "loadName": "x", "location": {"slotName": slot}} for slot, lid in self.labware.items()]

    def well(self, kind: str, pipette: str, ref: WellRef, volume: Optional[float] = None) -> dict:
        params = {"labwareId": self.labware[ref.slot], "wellName": ref.well, "pipetteId": self.pipettes[pipette],
                  "wellLocation": {"origin": "top", "offset": {"x": 0.0, "y": 0.0, "z": 0.0}}}
        if volume is not None:
            params["volume"] = volume
        return self.command(kind, params)

    def setup(self) -> list[dict]:
        deck_ = self.plan.deck
        out = [self.command("home", {})]
        for slot, lid in self.labware.items():
            out.append(self.command("loadLabware", {"location": {"slotName": slot}, "loadName": deck_.labware(slot).load_name,
                                                    "namespace": "opentrons", "version": 1}))
        for name in self.pipettes:
            out.append(self.command("loadPipette", {"pipetteName": name, "mount": deck_.mount_of(name)}))
        return out

    def experiment(self, e: ExperimentPlan) -> list[dict]:
        out = [self.command("comment", {"message": f"{MARKER}{e.seq} -> {e.well.well}"})]
        for step in e.steps:
            if isinstance(step, PickUpTip):
                out.append(self.well("pickUpTip", step.pipette, step.tip))
            elif isinstance(step, Transfer):
                out += [self.well("aspirate", step.pipette, step.source, step.volume), self.well("dispense", step.pipette, step.dest, step.volume)]
            elif isinstance(step, Mix):
                for _ in range(step.repetitions):
                    out += [self.well("aspirate", step.pipette, step.well, step.volume), self.well("dispense", step.pipette, step.well, step.volume)]
            elif isinstance(step, DropTip):
                out += [self.command("moveToAddressableAreaForDropTip", {"pipetteId": self.pipettes[step.pipette], "addressableAreaName": "fixedTrash"}),
                        self.command("dropTipInPlace", {"pipetteId": self.pipettes[step.pipette]})]
        return out

    def all(self) -> list[dict]:
        return self.setup() + [c for e in self.plan.experiments for c in self.experiment(e)]
