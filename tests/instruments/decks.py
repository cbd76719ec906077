"""Decks and plans for instrument tests: the simulated robots' pipettes, a plate, a reservoir of dye stocks."""

from retort.instruments.deck import DeckConfig
from retort.instruments.labware import WellRef
from retort.instruments.ops import DropTip, Mix, PickUpTip, Transfer
from retort.instruments.plan import ExperimentPlan, Plan

STOCKS = {"water": "A1", "red": "A2", "yellow": "A3", "blue": "A4"}


def ot2_deck(name="test-ot2", volume=15000.0, **changes):
    data = dict(name=name, robot="ot2", pipettes={"left": "p20_single_gen2", "right": "p300_single_gen2"},
                tip_racks={"3": "opentrons_96_tiprack_20ul", "4": "opentrons_96_tiprack_300ul"},
                reservoir={"slot": "2", "load_name": "nest_12_reservoir_15ml"},
                stocks={n: {"well": w, "volume": volume} for n, w in STOCKS.items()},
                plate={"slot": "1", "load_name": "corning_96_wellplate_360ul_flat"})
    return DeckConfig.model_validate(data | changes)


def flex_deck(name="test-flex", volume=15000.0, **changes):
    data = dict(name=name, robot="flex", pipettes={"left": "flex_1channel_50", "right": "flex_1channel_1000"},
                tip_racks={"C1": "opentrons_flex_96_tiprack_50ul", "C2": "opentrons_flex_96_tiprack_1000ul"},
                reservoir={"slot": "D2", "load_name": "nest_12_reservoir_15ml"},
                stocks={n: {"well": w, "volume": volume} for n, w in STOCKS.items()},
                plate={"slot": "D1", "load_name": "corning_96_wellplate_360ul_flat"})
    return DeckConfig.model_validate(data | changes)


def plan_for(deck, recipes, plate=1, first_well=0, mix=2):
    """A plan giving experiment i+1 the ith recipe ({stock: uL}); small volumes with the small pipette, one tip per transfer."""
    small, large = deck.mounted()[0], deck.mounted()[-1]
    tips = {p.name: iter([WellRef(slot=deck.racks_for(p)[0], well=w) for w in deck.labware(deck.racks_for(p)[0]).wells()])
            for p in (small, large)}
    wells = deck.labware(deck.plate.slot).wells()
    experiments = []
    for i, recipe in enumerate(recipes):
        dest = WellRef(slot=deck.plate.slot, well=wells[first_well + i])
        steps = []
        items = list(recipe.items())
        for j, (stock, volume) in enumerate(items):
            p = small if small.can_move(volume) else large
            steps.append(PickUpTip(pipette=p.name, tip=next(tips[p.name])))
            steps.append(Transfer(pipette=p.name, source=WellRef(slot=deck.reservoir.slot, well=deck.stocks[stock].well), dest=dest,
                                  volume=volume))
            if mix and j == len(items) - 1:
                steps.append(Mix(pipette=p.name, well=dest, volume=min(p.max_volume, max(p.min_volume, 0.5 * sum(recipe.values()))),
                                 repetitions=mix))
            steps.append(DropTip(pipette=p.name))
        experiments.append(ExperimentPlan(seq=i + 1, well=dest, steps=tuple(steps)))
    return Plan(deck=deck, plate=plate, experiments=tuple(experiments))
