"""One contract for every liquid-handler backend (`retort.instruments.protocols.LiquidHandlerBackend`): the virtual
robot (`retort.simulators.VirtualRobot`), and Opentrons' robot-server as an OT-2 and a Flex. The colour lab drives
every backend through these steps and nothing else (`retort.orchestrator.labs.colour`).

A backend runs a whole checked plan in steps a caller records between (set up, submit: nothing moves; start;
collect), reports per experiment in plan order what reached its well and the tips it used; two plans in a row use
exactly the tips each names (a robot's own tip tracking restarts at A1 on every run, so the plan must say which);
a stop ends a run part-way and the report says what was done and what never started; and after the process
driving it stops, `recover` accounts for every experiment of a run it left behind."""

import threading

import pytest

from retort.instruments.opentrons.backend import OpentronsBackend
from retort.instruments.plan import RunReport, check_plan
from retort.instruments.protocols import LiquidHandlerBackend, Submission
from retort.simulators import ColourBench, ScaledClock, VirtualRobot
from tests.instruments.decks import flex_deck, ot2_deck, plan_for
from tests.instruments.opentrons_fakes import long_plan

RECIPES = [{"water": 150.0, "red": 12.5}, {"water": 80.0, "blue": 40.0, "yellow": 5.0}, {"water": 200.0}]


@pytest.fixture(params=["virtual", pytest.param("ot2", marks=pytest.mark.robot_server), pytest.param("flex", marks=pytest.mark.robot_server)])
def kind(request):
    return request.param


@pytest.fixture
def backends(kind, request):
    """(make, deck): `make()` gives a new backend for the same instrument (as a restarted process would get)."""
    if kind == "virtual":
        bench = ColourBench(seed=0, clock=ScaledClock(0.002), pipetting_cv=0.0)  # a long plan takes a few seconds
        return (lambda: VirtualRobot(bench, "test-ot2")), ot2_deck()
    request.getfixturevalue("opentrons_venv")
    server = request.getfixturevalue("robot_servers").get(kind)
    made = []

    def make():
        made.append(OpentronsBackend(server.url))
        return made[-1]

    request.addfinalizer(lambda: [b.teardown() for b in made])
    return make, ot2_deck() if kind == "ot2" else flex_deck()


def test_a_plan_runs_whole_through_the_lifecycle_and_the_report_says_what_reached_each_well(backends):
    make, deck = backends
    lh = make()
    assert isinstance(lh, LiquidHandlerBackend)
    plan = plan_for(deck, RECIPES)
    check_plan(plan, deck.full_state())
    lh.setup(deck)
    submission = lh.submit(plan, label="contract 1")
    assert lh.held(submission) and Submission.model_validate_json(submission.model_dump_json()) == submission
    lh.start(submission)
    report = lh.collect(plan, submission)
    assert report.status == "succeeded" and report.error is None and report.out_of_service is None
    assert [e.seq for e in report.experiments] == [1, 2, 3] and {e.status for e in report.experiments} == {"done"}
    for experiment, recipe in zip(report.experiments, RECIPES):
        assert {d.liquid: pytest.approx(d.volume) for d in experiment.dispensed} == recipe
    assert list(report.tips_used) == plan.tips()
    assert report.touched is not None and report.touched.unused(plan).empty  # a whole run touched all it reserved
    assert report.touched.stocks == pytest.approx(plan.stock_draw())
    assert RunReport.model_validate_json(report.model_dump_json()) == report
    lh.teardown()


def test_consecutive_plans_use_exactly_the_tips_and_wells_they_name(backends):
    make, deck = backends
    lh = make()
    lh.setup(deck)
    first = plan_for(deck, RECIPES[:2])
    state = check_plan(first, deck.full_state())
    _run(lh, first, "contract 2")
    # the second batch: the next wells, and tips after the first batch's (as compile_batch assigns them)
    later = plan_for(deck, RECIPES, first_well=2)
    used = set(first.tips())
    second = later.model_copy(update={"experiments": tuple(
        e.model_copy(update={"steps": tuple(
            s.model_copy(update={"tip": s.tip.model_copy(update={"well": _shift(deck, s.tip, used)})}) if hasattr(s, "tip") else s
            for s in e.steps)}) for e in later.experiments)})
    check_plan(second, state)
    report = _run(lh, second, "contract 3")
    assert report.status == "succeeded" and list(report.tips_used) == second.tips()
    assert not set(report.tips_used) & used


def test_a_stop_ends_the_run_part_way_and_the_report_says_what_never_started(backends):
    make, deck = backends
    lh = make()
    lh.setup(deck)
    plan = long_plan(deck, experiments=30)
    submission = lh.submit(plan, label="contract 4")
    lh.start(submission)
    stopper = threading.Timer(0.3, lh.stop, args=(submission,))
    stopper.start()
    report = lh.collect(plan, submission, timeout=120)
    stopper.join()
    statuses = [e.status for e in report.experiments]
    assert report.status == "stopped" and [e.seq for e in report.experiments] == list(range(1, 31))
    assert "not_started" in statuses and statuses[statuses.index("not_started"):] == ["not_started"] * statuses.count("not_started")
    assert all(e.dispensed for e in report.experiments if e.status == "done")
    # what the backend's own record says it touched: every tip, well and uL of what ran, nothing of what never started
    unused = report.touched.unused(plan)
    by_seq = {e.seq: e for e in plan.experiments}
    never = [by_seq[e.seq] for e in report.experiments if e.status == "not_started"]
    # every well of what never started is unused, and so is the well of one stopped between drawing its stock and
    # dispensing it (failed, nothing dispensed); a well that got liquid never is
    extra = set(unused.wells) - {e.well.well for e in never}
    assert {e.well.well for e in never} <= set(unused.wells)
    assert all(e.status == "failed" and not e.dispensed for e in report.experiments if by_seq[e.seq].well.well in extra), extra
    assert set(unused.tips) <= {s.tip for e in never for s in e.steps if hasattr(s, "tip")}  # a tip taken stays used
    assert set(report.tips_used) <= set(report.touched.tips) and not set(unused.tips) & set(report.touched.tips)
    stopped = [by_seq[e.seq] for e in report.experiments if e.status == "failed"]  # part-way: some of its draw may be unused
    least = sum(v for e in never for v in e.stock_draw(deck).values())
    assert least - 1e-6 <= sum(unused.stocks.values()) <= least + sum(v for e in stopped for v in e.stock_draw(deck).values()) + 1e-6


def test_a_run_submitted_but_never_started_is_recovered_with_nothing_started(backends):
    make, deck = backends
    lh, plan, submission = _submitted(make, deck, "contract 5")
    again = make()  # the process that submitted it stopped; another takes over
    assert again.held(submission) == submission.durable  # only a backend that keeps runs beyond a process still has it
    report = again.recover(plan, submission, started=False)
    assert [e.seq for e in report.experiments] == [1, 2, 3] and {e.status for e in report.experiments} == {"not_started"}
    assert report.touched is not None and report.touched.empty  # nothing moved: all it reserved comes back


def test_a_finished_run_is_accounted_for_after_its_process_stopped(backends):
    make, deck = backends
    lh, plan, submission = _submitted(make, deck, "contract 6")
    lh.start(submission)
    lh.collect(plan, submission)
    report = make().recover(plan, submission, started=True)  # the process died before it stored the report
    assert [e.seq for e in report.experiments] == [1, 2, 3]
    if submission.durable:  # the robot kept the run: what it did is collected from it
        assert report.status == "succeeded" and {e.status for e in report.experiments} == {"done"}
    else:  # what a process-bound run dispensed died with it: never taken for done, never for not started
        assert {e.status for e in report.experiments} == {"failed"}


def _submitted(make, deck, label):
    """A new backend, set up, with the three recipes' plan submitted under `label`."""
    lh = make()
    lh.setup(deck)
    plan = plan_for(deck, RECIPES)
    return lh, plan, lh.submit(plan, label=label)


def _run(lh, plan, label):
    submission = lh.submit(plan, label=label)
    lh.start(submission)
    return lh.collect(plan, submission)


def _shift(deck, tip, used):
    """The tip `tip` would be if the rack's first len(used in that rack) tips were gone."""
    wells = deck.labware(tip.slot).wells()
    taken = sum(1 for t in used if t.slot == tip.slot)
    return wells[wells.index(tip.well) + taken]
