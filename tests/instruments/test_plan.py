import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from retort.instruments import DeckExhausted, LabwareError, TipError, VolumeError, WellRef, check_plan
from retort.instruments.ops import DropTip, PickUpTip, Transfer
from retort.instruments.plan import ExperimentPlan, Plan
from tests.instruments.decks import flex_deck, ot2_deck, plan_for


def test_a_checked_plan_returns_the_state_after_it():
    deck = ot2_deck()
    plan = plan_for(deck, [{"water": 150, "red": 10}, {"water": 100, "blue": 40}])
    state = check_plan(plan, deck.full_state())
    assert state.stocks["water"] == 15000 - 250 and state.stocks["red"] == 15000 - 10
    assert state.wells == {"A1": {"water": 150, "red": 10}, "B1": {"water": 100, "blue": 40}}
    assert state.used_tips == {"3": ("A1",), "4": ("A1", "B1", "C1")}
    assert "experiment 1 -> well A1: 150 uL water, 10 uL red" in plan.describe()


def test_tips_and_wells_are_never_reused_across_plans():
    deck = ot2_deck()
    state = check_plan(plan_for(deck, [{"water": 150}]), deck.full_state())
    with pytest.raises(LabwareError, match="well A1 of plate 1 is already used"):
        check_plan(plan_for(deck, [{"water": 150}]), state)
    second = plan_for(deck, [{"water": 150}], first_well=1)  # the same tip, 4:A1, again
    with pytest.raises(DeckExhausted, match="1 more opentrons_96_tiprack_300ul tips") as exc:
        check_plan(second, state)
    assert exc.value.needs == ["1 more opentrons_96_tiprack_300ul tips"]


def test_stock_short_names_what_to_refill():
    deck = ot2_deck(volume=100)
    with pytest.raises(DeckExhausted, match="needs 50 uL more water"):
        check_plan(plan_for(deck, [{"water": 150}]), deck.full_state())


def test_a_well_that_would_overflow_is_refused_before_anything_moves():
    deck = ot2_deck()
    with pytest.raises(VolumeError, match=r"experiment 1: well A1 would hold 400 uL, more than its 360 uL"):
        check_plan(plan_for(deck, [{"water": 200, "red": 200}]), deck.full_state())


def test_a_volume_outside_the_pipette_range_is_refused():
    deck = ot2_deck()
    src, dest = WellRef(slot="2", well="A1"), WellRef(slot="1", well="A1")
    steps = (PickUpTip(pipette="p20_single_gen2", tip=WellRef(slot="3", well="A1")),
             Transfer(pipette="p20_single_gen2", source=src, dest=dest, volume=50), DropTip(pipette="p20_single_gen2"))
    plan = Plan(deck=deck, plate=1, experiments=(ExperimentPlan(seq=7, well=dest, steps=steps),))
    with pytest.raises(VolumeError, match="experiment 7: 50 uL is outside p20_single_gen2's 1-20 uL"):
        check_plan(plan, deck.full_state())


def test_liquid_moved_without_a_tip_or_by_an_unmounted_pipette_is_refused():
    deck = ot2_deck()
    src, dest = WellRef(slot="2", well="A1"), WellRef(slot="1", well="A1")
    no_tip = Plan(deck=deck, plate=1, experiments=(ExperimentPlan(seq=1, well=dest, steps=(
        Transfer(pipette="p300_single_gen2", source=src, dest=dest, volume=50),)),))
    with pytest.raises(TipError, match="moves liquid without a tip"):
        check_plan(no_tip, deck.full_state())
    flex = Plan(deck=deck, plate=1, experiments=(ExperimentPlan(seq=1, well=dest, steps=(
        PickUpTip(pipette="flex_1channel_50", tip=WellRef(slot="3", well="A1")),)),))
    with pytest.raises(TipError, match="flex_1channel_50 is not mounted"):
        check_plan(flex, deck.full_state())


@pytest.mark.parametrize("change, message", [
    ({"plate": {"slot": "12", "load_name": "corning_96_wellplate_360ul_flat"}}, "slot '12' is not a deck slot of an OT-2"),
    ({"plate": {"slot": "2", "load_name": "corning_96_wellplate_360ul_flat"}}, "slot 2 holds both"),
    ({"plate": {"slot": "1", "load_name": "no_such_plate"}}, "plate in slot 1: unknown labware 'no_such_plate'"),
    ({"pipettes": {"left": "flex_1channel_50"}}, "flex_1channel_50 on the left mount has no tip rack"),
    ({"pipettes": {"left": "p1000_single_gen9"}}, "pipette 'p1000_single_gen9' on the left mount is unknown"),
    ({"stocks": {"water": {"well": "A13", "volume": 100}}}, "stock 'water': well 'A13' does not exist"),
    ({"stocks": {"water": {"well": "A1", "volume": 20000}}}, "does not fit in a nest_12_reservoir_15ml well"),
])
def test_deck_configuration_errors_name_the_slot_mount_or_well(change, message):
    with pytest.raises(ValidationError, match=message):
        ot2_deck(**change)


def test_flex_slots_and_the_trash_bin():
    assert flex_deck().robot == "flex"
    with pytest.raises(ValidationError, match="slot 'A3' is not a deck slot"):
        flex_deck(plate={"slot": "A3", "load_name": "corning_96_wellplate_360ul_flat"})
    with pytest.raises(ValidationError, match="a Flex carries only Flex pipettes"):
        flex_deck(pipettes={"left": "p20_single_gen2"}, tip_racks={"C1": "opentrons_96_tiprack_20ul"})


recipes = st.lists(st.fixed_dictionaries({"water": st.floats(20, 200), "red": st.floats(1, 20)}), min_size=1, max_size=8)


@settings(max_examples=30, deadline=None)
@given(recipes=recipes, flex=st.booleans())
def test_plans_and_states_round_trip_through_json(recipes, flex):
    deck = flex_deck() if flex else ot2_deck()
    plan = plan_for(deck, recipes)
    assert Plan.model_validate_json(plan.model_dump_json()) == plan
    state = check_plan(plan, deck.full_state())
    assert type(state).model_validate_json(state.model_dump_json()) == state
