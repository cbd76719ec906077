"""The colour lab's pure part: a batch of mixtures -> a plan on a deck, given what is left on it.

Each experiment gets the next free well of the plate on the deck; each transfer the smallest
mounted pipette that can move its volume (split into equal aspirations above the largest
pipette's range) and a fresh tip, water first so the dyes land in liquid; the last transfer mixes.
A batch never spans two plates. What runs out (wells, tips, stock) raises `DeckExhausted` listing
everything the batch needs, so an operator refills once.
"""

from __future__ import annotations

import math

from retort.instruments.deck import DeckConfig, DeckState
from retort.instruments.errors import DeckExhausted, VolumeError
from retort.instruments.labware import PipetteSpec, WellRef
from retort.instruments.ops import DropTip, LiquidOp, Mix, PickUpTip, Transfer
from retort.instruments.plan import ExperimentPlan, Plan, check_plan


def compile_batch(batch: list[tuple[int, dict[str, float]]], deck: DeckConfig, state: DeckState,
                  mix_repetitions: int) -> tuple[Plan, DeckState]:
    """The plan for `batch` (experiment number, stock volumes in uL), checked against `state`, and the state after it.

    Raises:
        DeckExhausted: the deck lacks wells, tips or stock for the batch.
        VolumeError: a volume no mounted pipette can move.
    """
    wells = state.free_wells(deck)
    needs = []
    if len(wells) < len(batch):
        needs.append(f"a new plate: plate {state.plate} has {len(wells)} free wells and the batch needs {len(batch)}")
    dests = [WellRef(slot=deck.plate.slot, well=w) for w in wells[: len(batch)]]
    dests += [WellRef(slot=deck.plate.slot, well="A1")] * (len(batch) - len(dests))  # only counted: the batch waits for a plate
    steps_per = [_steps(params, deck, dest, mix_repetitions) for (_, params), dest in zip(batch, dests)]
    free_tips = {p.name: [WellRef(slot=s, well=w) for s in deck.racks_for(p) for w in state.free_tips(deck, s)] for p in deck.mounted()}
    wanted = {p.name: sum(isinstance(st, PickUpTip) and st.pipette == p.name for steps in steps_per for st in steps) for p in deck.mounted()}
    for p in deck.mounted():
        if wanted[p.name] > len(free_tips[p.name]):
            needs.append(f"{wanted[p.name] - len(free_tips[p.name])} more {p.tip_rack} tips for {p.name} "
                         f"(racks in slots {', '.join(deck.racks_for(p))})")
    if needs:
        raise DeckExhausted(f"deck {deck.name!r} cannot take the next batch: it needs {'; '.join(needs)}", needs=needs)
    experiments = []
    for (seq, _), dest, steps in zip(batch, dests, steps_per):
        tipped = [PickUpTip(pipette=st.pipette, tip=free_tips[st.pipette].pop(0)) if isinstance(st, PickUpTip) else st for st in steps]
        experiments.append(ExperimentPlan(seq=seq, well=dest, steps=tuple(tipped)))
    plan = Plan(deck=deck, plate=state.plate, experiments=tuple(experiments))
    return plan, check_plan(plan, state)


def _steps(params: dict[str, float], deck: DeckConfig, dest: WellRef, mix_repetitions: int) -> list[LiquidOp]:
    order = sorted((n for n in params if float(params[n]) > 0), key=lambda n: (n != "water", n))
    total = sum(float(params[n]) for n in order)
    steps: list[LiquidOp] = []
    for i, name in enumerate(order):
        volume = float(params[name])
        pipette, n = pipette_for(deck, volume)
        source = WellRef(slot=deck.reservoir.slot, well=deck.stocks[name].well)
        steps.append(PickUpTip(pipette=pipette.name, tip=WellRef(slot=deck.racks_for(pipette)[0], well="A1")))
        steps += [Transfer(pipette=pipette.name, source=source, dest=dest, volume=volume / n) for _ in range(n)]
        if mix_repetitions and i == len(order) - 1:
            mix_volume = min(pipette.max_volume, max(pipette.min_volume, 0.5 * total))
            steps.append(Mix(pipette=pipette.name, well=dest, volume=mix_volume, repetitions=mix_repetitions))
        steps.append(DropTip(pipette=pipette.name))
    return steps


def pipette_for(deck: DeckConfig, volume: float) -> tuple[PipetteSpec, int]:
    """The smallest mounted pipette that can move `volume` (uL), and how many aspirations it takes."""
    if not math.isfinite(volume) or volume <= 0:
        raise VolumeError(f"volume must be a positive number of uL, got {volume!r}")
    mounted = deck.mounted()
    for pipette in mounted:
        if pipette.can_move(volume):
            return pipette, 1
    largest, smallest = mounted[-1], mounted[0]
    if volume > largest.max_volume:
        return largest, math.ceil(volume / largest.max_volume)
    raise VolumeError(
        f"{volume:g} uL is below the smallest volume any mounted pipette can move ({smallest.name}: "
        f"{smallest.min_volume:g}-{smallest.max_volume:g} uL); use at least {smallest.min_volume:g} uL or mount a smaller pipette"
    )
