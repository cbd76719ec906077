"""One contract for every liquid-handler backend: the virtual bench, and Opentrons' robot-server as an OT-2 and a Flex.

A backend runs a whole checked plan and reports, per experiment in plan order, what reached its well,
and the tips it used; two plans in a row use exactly the tips each names (a robot's own tip tracking
restarts at A1 on every run, so the plan must say which)."""

import pytest

from retort.instruments.opentrons.backend import OpentronsBackend
from retort.instruments.plan import RunReport, check_plan
from retort.instruments.protocols import LiquidHandlerBackend
from retort.simulators import ColourBench, VirtualClock
from tests.instruments.decks import flex_deck, ot2_deck, plan_for

RECIPES = [{"water": 150.0, "red": 12.5}, {"water": 80.0, "blue": 40.0, "yellow": 5.0}, {"water": 200.0}]


@pytest.fixture(params=["virtual", pytest.param("ot2", marks=pytest.mark.robot_server), pytest.param("flex", marks=pytest.mark.robot_server)])
def backend(request):
    """(backend, deck) for each kind."""
    if request.param == "virtual":
        return ColourBench(seed=0, clock=VirtualClock(), pipetting_cv=0.0).liquid_handler, ot2_deck()
    request.getfixturevalue("opentrons_venv")
    server = request.getfixturevalue("robot_servers").get(request.param)
    deck = ot2_deck() if request.param == "ot2" else flex_deck()
    robot = OpentronsBackend(server.url)
    request.addfinalizer(robot.close)
    return robot, deck


def test_a_plan_runs_whole_and_the_report_says_what_reached_each_well(backend):
    lh, deck = backend
    assert isinstance(lh, LiquidHandlerBackend)
    plan = plan_for(deck, RECIPES)
    check_plan(plan, deck.full_state())
    report = lh.run(plan)
    assert report.status == "succeeded" and report.error is None
    assert [e.seq for e in report.experiments] == [1, 2, 3] and {e.status for e in report.experiments} == {"done"}
    for experiment, recipe in zip(report.experiments, RECIPES):
        assert {d.liquid: pytest.approx(d.volume) for d in experiment.dispensed} == recipe
    assert list(report.tips_used) == plan.tips()
    assert RunReport.model_validate_json(report.model_dump_json()) == report


def test_consecutive_plans_use_exactly_the_tips_and_wells_they_name(backend):
    lh, deck = backend
    first = plan_for(deck, RECIPES[:2])
    state = check_plan(first, deck.full_state())
    lh.run(first)
    # the second batch: the next wells, and tips after the first batch's (as compile_batch assigns them)
    later = plan_for(deck, RECIPES, first_well=2)
    used = set(first.tips())
    second = later.model_copy(update={"experiments": tuple(
        e.model_copy(update={"steps": tuple(
            s.model_copy(update={"tip": s.tip.model_copy(update={"well": _shift(deck, s.tip, used)})}) if hasattr(s, "tip") else s
            for s in e.steps)}) for e in later.experiments)})
    check_plan(second, state)
    report = lh.run(second)
    assert report.status == "succeeded" and list(report.tips_used) == second.tips()
    assert not set(report.tips_used) & used


def _shift(deck, tip, used):
    """The tip `tip` would be if the rack's first len(used in that rack) tips were gone."""
    wells = deck.labware(tip.slot).wells()
    taken = sum(1 for t in used if t.slot == tip.slot)
    return wells[wells.index(tip.well) + taken]
