"""Opentrons' own analysis (opentrons 9.0.0 in its own virtualenv) of protocols Retort renders.

Real analyses, no mocks: each uncached analysis is a ~1.7 s subprocess.
"""

from __future__ import annotations

import os
import time

import pytest

from retort.instruments.deck import DeckConfig, LabwarePlace
from retort.instruments.errors import InstrumentError, VolumeError
from retort.instruments.labware import WellRef
from retort.instruments.opentrons.analysis import SETUP_COMMAND, AnalysisError, analyse, clear_cache, require_ok, setup_environment
from retort.instruments.opentrons.protocol import digest, render
from retort.instruments.ops import DropTip, Mix, PickUpTip, Transfer
from retort.instruments.plan import ExperimentPlan, Plan, check_plan
from tests.instruments.decks import flex_deck, ot2_deck

STOCKS = ("red", "green", "blue", "water")

OT2 = ot2_deck(name="ot2-test", stocks={name: {"well": f"A{i + 1}", "volume": 10_000} for i, name in enumerate(STOCKS)})
FLEX = flex_deck(name="flex-test", stocks={name: {"well": f"A{i + 1}", "volume": 10_000} for i, name in enumerate(STOCKS)})
RECIPES = ((10.0, 150.0, 40.0, 100.0), (5.0, 60.0, 120.0, 80.0), (15.0, 25.0, 200.0, 50.0), (2.0, 90.0, 30.0, 150.0))


def batch(deck: DeckConfig, recipes=RECIPES) -> Plan:
    """One experiment per recipe: a fresh tip per stock (the smallest pipette that moves it), then a mix."""
    tips = {slot: iter(deck.labware(slot).wells()) for slot in deck.tip_racks}
    source = {name: WellRef(slot=deck.reservoir.slot, well=s.well) for name, s in deck.stocks.items()}
    experiments = []
    for seq, recipe in enumerate(recipes, start=1):
        well = WellRef(slot=deck.plate.slot, well=deck.labware(deck.plate.slot).wells()[seq - 1])
        steps = []
        for name, volume in zip(STOCKS, recipe):
            pipette = next(p for p in deck.mounted() if p.can_move(volume))
            rack = deck.racks_for(pipette)[0]
            steps += [PickUpTip(pipette=pipette.name, tip=WellRef(slot=rack, well=next(tips[rack]))),
                      Transfer(pipette=pipette.name, source=source[name], dest=well, volume=volume)]
            if name == STOCKS[-1]:
                steps.append(Mix(pipette=pipette.name, well=well, volume=min(100.0, pipette.max_volume), repetitions=3))
            steps.append(DropTip(pipette=pipette.name))
        experiments.append(ExperimentPlan(seq=seq, well=well, steps=tuple(steps)))
    return Plan(deck=deck, plate=1, experiments=tuple(experiments))


@pytest.mark.parametrize("deck", [OT2, FLEX], ids=["ot2", "flex"])
def test_a_rendered_batch_passes_opentrons_analysis(opentrons_venv, deck):
    plan = batch(deck)
    check_plan(plan, deck.full_state())  # Retort's own check agrees
    source = render(plan, title=f"{deck.name} batch")
    analysis = require_ok(analyse(source, robot=deck.robot))
    assert analysis.ok and analysis.result == "ok" and analysis.errors == ()
    assert analysis.digest == digest(source)
    assert analysis.robot == deck.robot
    assert analysis.opentrons_version == "9.0.0"
    assert sum(isinstance(s, Transfer) for s in plan.steps()) == 16
    assert analysis.commands > len(plan.steps())  # aspirate + dispense per transfer, 3 pairs per mix, loads, comments


def test_a_volume_above_the_pipette_maximum_is_rejected_with_the_command_named(opentrons_venv):
    src, dest = WellRef(slot="2", well="A1"), WellRef(slot="1", well="A1")
    plan = Plan(deck=OT2, plate=1, experiments=(ExperimentPlan(seq=1, well=dest, steps=(
        PickUpTip(pipette="p300_single_gen2", tip=WellRef(slot="4", well="A1")),
        Transfer(pipette="p300_single_gen2", source=src, dest=dest, volume=500.0),
        DropTip(pipette="p300_single_gen2"))),))
    with pytest.raises(VolumeError):  # Retort's own check refuses it too
        check_plan(plan, OT2.full_state())
    analysis = analyse(render(plan, title="too much"))
    assert not analysis.ok and analysis.result == "not-ok"
    [error] = analysis.errors
    assert "InvalidAspirateVolumeError" in error and "Cannot aspirate 500.0" in error
    assert "aspirate 500 uL with p300_single_gen2 (right)" in error and "well A1 of nest_12_reservoir_15ml" in error
    with pytest.raises(AnalysisError, match="Opentrons' analysis of the batch protocol failed") as info:
        require_ok(analysis)
    assert error in str(info.value) and isinstance(info.value, InstrumentError)


def test_an_unknown_labware_is_rejected_with_its_load_name(opentrons_venv):
    deck = OT2.model_copy(update={"plate": LabwarePlace(slot="1", load_name="no_such_plate")})  # past DeckConfig's own check
    plan = batch(OT2, recipes=RECIPES[:1]).model_copy(update={"deck": deck})
    analysis = analyse(render(plan, title="bad plate"))
    assert not analysis.ok
    [error] = analysis.errors
    assert "loadLabware" in error and "no_such_plate" in error and "not found" in error
    with pytest.raises(AnalysisError, match="no_such_plate"):
        require_ok(analysis)


def test_the_same_source_is_analysed_once(opentrons_venv):
    clear_cache()
    source = render(batch(OT2, recipes=RECIPES[:1]), title="cache")
    started = time.monotonic()
    first = analyse(source)
    first_seconds = time.monotonic() - started
    started = time.monotonic()
    second = analyse(source)
    second_seconds = time.monotonic() - started
    assert second is first
    assert first_seconds > 0.5 and second_seconds < 0.05, (first_seconds, second_seconds)
    assert analyse(source + "\n") is not first  # another text, another digest: analysed afresh


def test_a_robot_other_than_the_expected_one_is_not_ok(opentrons_venv):
    source = render(batch(FLEX, recipes=RECIPES[:1]), title="flex")
    analysis = analyse(source, robot="ot2")
    assert not analysis.ok
    assert analysis.errors[-1] == "RobotTypeMismatch: the protocol is for ot2 but Opentrons read it as flex"


def test_the_protocol_runs_in_another_process(opentrons_venv, tmp_path):
    marker = tmp_path / "pid"
    source = render(batch(OT2, recipes=RECIPES[:1]), title="pid")
    source = source.replace("from opentrons import protocol_api\n", f"from opentrons import protocol_api\nimport os\nopen({str(marker)!r}, 'w').write(str(os.getpid()))\n")
    assert analyse(source).ok
    assert int(marker.read_text()) != os.getpid()


def test_a_protocol_opentrons_cannot_read_raises_with_its_message(opentrons_venv):
    with pytest.raises(AnalysisError, match=r"crashed \(exit 1\)[\s\S]*invalid syntax"):
        analyse("def run(:\n")


def test_an_analysis_that_takes_too_long_is_abandoned(opentrons_venv):
    source = render(batch(OT2, recipes=RECIPES[:1]), title="slow").replace("def run(", "import time\ntime.sleep(60)\n\n\ndef run(")
    started = time.monotonic()
    with pytest.raises(AnalysisError, match="did not finish within 1 s"):
        analyse(source, timeout=1)
    assert time.monotonic() - started < 10


def test_a_missing_environment_names_the_setup_command(tmp_path):
    with pytest.raises(AnalysisError, match=SETUP_COMMAND) as info:
        analyse(render(batch(OT2, recipes=RECIPES[:1]), title="x"), venv=tmp_path / "nope")
    assert str(tmp_path / "nope") in str(info.value)


def test_setup_is_fast_once_built(opentrons_venv):
    started = time.monotonic()
    assert setup_environment(opentrons_venv) == opentrons_venv
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("robot, modules", [("ot2", {"7": "temperature module gen2", "9": "magnetic module gen2"}),
                                            ("flex", {"A1": "heaterShakerModuleV1", "B3": "temperature module gen2"})])
def test_a_deck_with_modules_loads_them(opentrons_venv, robot, modules):
    from tests.instruments.decks import plan_for

    deck = (ot2_deck if robot == "ot2" else flex_deck)(modules=modules)
    analysis = require_ok(analyse(render(plan_for(deck, [{"water": 100.0}]), "modules"), robot=robot))
    assert analysis.ok and analysis.robot == robot


def test_any_standard_opentrons_labware_is_read_from_opentrons_own_definitions(opentrons_venv):
    """nest_96_wellplate_200ul_flat is not in Retort's table: its definition comes from Opentrons' shared data, its
    200 uL wells bound the volumes, and a batch on it passes Opentrons' analysis; a tube rack is not a plate."""
    from pydantic import ValidationError

    from retort.instruments.labware import labware_spec

    nest = labware_spec("nest_96_wellplate_200ul_flat")
    assert (nest.kind, nest.rows, nest.columns, nest.well_capacity) == ("plate", 8, 12, 200.0)
    assert labware_spec("corning_384_wellplate_112ul_flat").wells()[-1] == "P24"
    deck = ot2_deck(name="nest-test", stocks={n: {"well": f"A{i + 1}", "volume": 10_000} for i, n in enumerate(STOCKS)},
                    plate={"slot": "1", "load_name": "nest_96_wellplate_200ul_flat"})
    plan = batch(deck, recipes=((10.0, 60.0, 40.0, 50.0),))
    check_plan(plan, deck.full_state())
    assert require_ok(analyse(render(plan, title="nest plate"), robot="ot2")).ok
    with pytest.raises(VolumeError, match="200"):
        check_plan(batch(deck, recipes=((10.0, 150.0, 40.0, 50.0),)), deck.full_state())  # 250 uL in a 200 uL well
    with pytest.raises(ValidationError, match="plate in slot 1: labware 'opentrons_24_tuberack_nest_1.5ml_snapcap' is a tubeRack"):
        ot2_deck(plate={"slot": "1", "load_name": "opentrons_24_tuberack_nest_1.5ml_snapcap"})
    with pytest.raises(ValidationError, match="plate in slot 1: 'nest_12_reservoir_15ml' is a reservoir, not a plate"):
        ot2_deck(plate={"slot": "1", "load_name": "nest_12_reservoir_15ml"})
