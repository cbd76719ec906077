"""Plans: a whole batch of liquid handling as data, checked as a whole before anything moves.

A plan names the deck it runs on, the plate, and for each experiment the well it owns and its
steps (tip pick-ups, transfers, mixes, tip drops). `check_plan` checks it against the deck's state
(tips left, stock volumes, wells already used, well capacities, pipette ranges) and returns the
state after it; a backend then runs the plan and reports what it did (`RunReport`).

Example:
    >>> from retort.instruments.deck import DeckConfig
    >>> deck = DeckConfig(name="d", pipettes={"right": "p300_single_gen2"},
    ...     tip_racks={"3": "opentrons_96_tiprack_300ul"},
    ...     reservoir={"slot": "2", "load_name": "nest_12_reservoir_15ml"},
    ...     stocks={"water": {"well": "A1", "volume": 1000}},
    ...     plate={"slot": "1", "load_name": "corning_96_wellplate_360ul_flat"})
    >>> src, dest = WellRef(slot="2", well="A1"), WellRef(slot="1", well="A1")
    >>> plan = Plan(deck=deck, plate=1, experiments=(ExperimentPlan(seq=1, well=dest, steps=(
    ...     PickUpTip(pipette="p300_single_gen2", tip=WellRef(slot="3", well="A1")),
    ...     Transfer(pipette="p300_single_gen2", source=src, dest=dest, volume=100),
    ...     DropTip(pipette="p300_single_gen2"))),))
    >>> check_plan(plan, deck.full_state()).stocks["water"]
    900.0
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from retort.instruments.deck import DeckConfig, DeckState
from retort.instruments.errors import DeckExhausted, LabwareError, TipError, VolumeError
from retort.instruments.labware import PIPETTES, WellRef
from retort.instruments.ops import DropTip, LiquidOp, Mix, PickUpTip, Transfer


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ExperimentPlan(_Frozen):
    """One experiment's steps; it owns `well` on the plan's plate."""

    seq: int = Field(ge=1)
    well: WellRef
    steps: tuple[LiquidOp, ...]

    def stock_draw(self, deck: DeckConfig) -> dict[str, float]:
        """uL drawn from each stock."""
        by_well = {s.well: n for n, s in deck.stocks.items()}
        out: dict[str, float] = defaultdict(float)
        for step in self.steps:
            if isinstance(step, Transfer) and step.source.slot == deck.reservoir.slot:
                out[by_well[step.source.well]] += step.volume
        return dict(out)

    def recipe(self, deck: DeckConfig) -> dict[str, float]:
        """uL of each stock this experiment's well receives."""
        return self.stock_draw(deck)


class Plan(_Frozen):
    """A batch of experiments on one deck and plate, in the order they run."""

    deck: DeckConfig
    plate: int = Field(ge=1)
    experiments: tuple[ExperimentPlan, ...] = Field(min_length=1)

    def steps(self) -> list[LiquidOp]:
        return [s for e in self.experiments for s in e.steps]

    def tips(self) -> list[WellRef]:
        return [s.tip for s in self.steps() if isinstance(s, PickUpTip)]

    def describe(self) -> str:
        """The plan as a person reads it."""
        deck = self.deck
        lines = [f"deck {deck.name} ({deck.robot}), plate {self.plate} in slot {deck.plate.slot}: {len(self.experiments)} experiments"]
        for e in self.experiments:
            recipe = ", ".join(f"{v:g} uL {n}" for n, v in e.recipe(deck).items())
            tips = ", ".join(str(s.tip) for s in e.steps if isinstance(s, PickUpTip))
            mixes = [s for s in e.steps if isinstance(s, Mix)]
            mix = f"; mix {mixes[0].repetitions}x {mixes[0].volume:g} uL" if mixes else ""
            lines.append(f"  experiment {e.seq} -> well {e.well.well}: {recipe} (tips {tips}{mix})")
        draw = self.stock_draw()
        lines.append("  stocks drawn: " + ", ".join(f"{n} {v:g} uL from {deck.reservoir.slot}:{deck.stocks[n].well}" for n, v in draw.items()))
        return "\n".join(lines)

    def stock_draw(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for e in self.experiments:
            for name, v in e.stock_draw(self.deck).items():
                out[name] += v
        return dict(out)


def check_plan(plan: Plan, state: DeckState) -> DeckState:
    """Check `plan` as a whole against `state`; return the state after it runs.

    Raises:
        DeckExhausted: tips, stock or plate wells run out (an operator refills; nothing is wrong with the plan).
        VolumeError, TipError, LabwareError: the plan itself is wrong (a volume no pipette moves, an overfull well, ...).
    """
    deck = plan.deck
    if plan.plate != state.plate:
        raise LabwareError(f"the plan is for plate {plan.plate} but plate {state.plate} is on deck {deck.name!r}")
    mounted = set(deck.pipettes.values())
    used_tips = {slot: set(wells) for slot, wells in state.used_tips.items()}
    stocks = dict(state.stocks)
    wells = {w: dict(c) for w, c in state.wells.items()}
    stock_of = {s.well: n for n, s in deck.stocks.items()}
    capacity = deck.labware(deck.plate.slot).well_capacity
    owned: set[str] = set()
    short_tips: dict[str, int] = defaultdict(int)
    short_stock: dict[str, float] = defaultdict(float)
    for e in plan.experiments:
        where = f"experiment {e.seq}"
        if e.well.slot != deck.plate.slot:
            raise LabwareError(f"{where}: its well {e.well} is not on the plate (slot {deck.plate.slot})")
        deck.labware(deck.plate.slot).check_well(e.well.well)
        if e.well.well in wells or e.well.well in owned:
            raise LabwareError(f"{where}: well {e.well.well} of plate {plan.plate} is already used; wells are never reused")
        owned.add(e.well.well)
        wells[e.well.well] = {}
        holding: Optional[str] = None
        for step in e.steps:
            if step.pipette not in mounted:
                raise TipError(f"{where}: pipette {step.pipette} is not mounted on deck {deck.name!r} ({deck.pipettes})")
            spec = PIPETTES[step.pipette]
            if isinstance(step, PickUpTip):
                if holding:
                    raise TipError(f"{where}: {step.pipette} picks up a tip while holding one")
                if step.tip.slot not in deck.racks_for(spec):
                    raise TipError(f"{where}: tip {step.tip} is not in a {spec.tip_rack} rack ({deck.racks_for(spec)})")
                deck.labware(step.tip.slot).check_well(step.tip.well)
                if step.tip.well in used_tips.setdefault(step.tip.slot, set()):
                    short_tips[spec.tip_rack] += 1
                used_tips[step.tip.slot].add(step.tip.well)
                holding = step.pipette
            elif isinstance(step, DropTip):
                holding = None
            elif isinstance(step, (Transfer, Mix)):
                if holding != step.pipette:
                    raise TipError(f"{where}: {step.pipette} moves liquid without a tip")
                if not spec.can_move(step.volume):
                    raise VolumeError(f"{where}: {step.volume:g} uL is outside {spec.name}'s {spec.min_volume:g}-{spec.max_volume:g} uL")
                if isinstance(step, Mix):
                    if step.well != e.well:
                        raise LabwareError(f"{where}: mixes {step.well}, a well it does not own")
                    continue
                if step.dest != e.well:
                    raise LabwareError(f"{where}: dispenses into {step.dest}, a well it does not own ({e.well})")
                if step.source.slot != deck.reservoir.slot or step.source.well not in stock_of:
                    raise LabwareError(f"{where}: aspirates from {step.source}, which holds no stock")
                name = stock_of[step.source.well]
                stocks[name] = stocks.get(name, 0.0) - step.volume
                if stocks[name] < -1e-9:
                    short_stock[name] = -stocks[name]
                contents = wells[e.well.well]
                contents[name] = contents.get(name, 0.0) + step.volume
                if sum(contents.values()) > capacity + 1e-9:
                    raise VolumeError(
                        f"{where}: well {e.well.well} would hold {sum(contents.values()):g} uL, more than its {capacity:g} uL "
                        f"({deck.plate.load_name})"
                    )
        if holding:
            raise TipError(f"{where}: ends holding a tip on {holding}")
    needs = []
    if short_tips:
        needs += [f"{n} more {rack} tips" for rack, n in short_tips.items()]
    if short_stock:
        needs += [f"{v:g} uL more {name}" for name, v in short_stock.items()]
    if needs:
        raise DeckExhausted(f"deck {deck.name!r} cannot run this batch: it needs {', '.join(needs)}", needs=needs)
    return DeckState(
        used_tips={slot: tuple(sorted(w, key=deck.labware(slot).wells().index)) for slot, w in used_tips.items() if w},
        stocks=stocks,
        plate=state.plate,
        wells=wells,
    )


class Dispensed(_Frozen):
    """Liquid a backend reports it put into an experiment's well."""

    liquid: str
    volume: float


class ExperimentReport(_Frozen):
    """What happened to one experiment of a plan. `done`: every step ran; `failed`: a step failed or
    the run stopped part-way through it (liquid may have left a stock without reaching its well);
    `not_started`: none of its liquid steps ran."""

    seq: int
    status: Literal["done", "failed", "not_started"]
    dispensed: tuple[Dispensed, ...] = ()
    error: Optional[str] = None


class Touched(_Frozen):
    """What an instrument's own record says a run touched, counting a step that failed or was cut short as touched:
    the tips it picked up, the plate wells it dispensed into or mixed in, and uL aspirated from each stock. What a
    plan reserved beyond this the run never used; the deck gets it back (`unused`)."""

    tips: tuple[WellRef, ...] = ()
    wells: tuple[str, ...] = ()
    stocks: dict[str, float] = Field(default_factory=dict)

    def unused(self, plan: "Plan") -> "Touched":
        """What `plan` reserved that this run did not touch."""
        tips, wells = set(self.tips), set(self.wells)
        draw = {name: max(0.0, v - self.stocks.get(name, 0.0)) for name, v in plan.stock_draw().items()}
        return Touched(tips=tuple(t for t in plan.tips() if t not in tips),
                       wells=tuple(e.well.well for e in plan.experiments if e.well.well not in wells),
                       stocks={name: v for name, v in draw.items() if v > 1e-9})

    @property
    def empty(self) -> bool:
        return not (self.tips or self.wells or self.stocks)


class RunReport(_Frozen):
    """What a backend did with a plan: per experiment, and the backend's own record (robot commands)."""

    backend: str
    run_id: Optional[str] = None
    status: Literal["succeeded", "failed", "stopped"]
    experiments: tuple[ExperimentReport, ...]
    tips_used: tuple[WellRef, ...] = ()
    error: Optional[str] = None
    seconds: float = 0.0
    log: tuple[dict, ...] = Field(default=(), description="the backend's own record (robot commands), stored as is")
    labware: dict[str, str] = Field(default_factory=dict, description="the backend's labware ids in `log` -> deck slot")
    out_of_service: Optional[str] = Field(default=None, description="the instrument broke down during the run: why (it stays out "
                                                                    "of service until an operator puts it back)")
    touched: Optional[Touched] = Field(default=None, description="what the run touched, from the instrument's own record; None: "
                                                                 "unknown (all the plan reserved stays used)")
