"""How far ahead the asynchronous schedule plans: one robot batch until a plan and a run have been timed,
then the batches of the busy robots expected to finish during two plans (the one started, and the next, which
lands only when computed), read from when each began its run, at least one batch, at most one per busy robot."""

from retort.orchestrator.loop.pace import Pace


def test_one_batch_ahead_until_a_plan_and_a_run_have_been_timed():
    pace = Pace(size=4)
    assert pace.ahead([0.0, 1.0, 2.0], now=5.0) == 4
    pace.planned(10.0)
    assert pace.ahead([0.0, 1.0, 2.0], now=5.0) == 4  # no run timed yet
    assert pace.ahead([], now=5.0) == 0


def test_a_batch_for_each_robot_expected_to_finish_during_two_plans():
    pace = Pace(size=4)
    pace.planned(1.0)
    for seconds in (12.0, 11.0, 13.0):
        pace.ran(seconds)
    began, now = [0.0, 3.0, 6.0, 9.0], 10.0  # expected to end at 12, 15, 18 and 21
    assert pace.ahead(began, now) == 4  # within 2 x 1 s: the first
    pace.planned(2.5)
    assert pace.ahead(began, now) == 8  # within 5 s: two
    pace.planned(4.0)
    assert pace.ahead(began, now) == 12
    pace.planned(60.0)
    assert pace.ahead(began, now) == 16  # never more than one batch per busy robot
    assert pace.ahead([9.0], now) == 4


def test_at_least_one_batch_ahead_while_no_robot_is_due():
    pace = Pace(size=4)
    pace.planned(1.0)
    pace.ran(12.0)
    assert pace.ahead([10.0, 10.0], now=10.0) == 4


def test_robots_that_began_together_are_due_together():
    """The initial design's batches start at once: when the first robot frees up the others are due too, so the
    plan started then is for all of them, whatever the (instant) initial-design plans measured."""
    pace = Pace(size=4)
    pace.planned(0.04)
    pace.ran(14.1)
    assert pace.ahead([0.37, 0.38, 0.38], now=14.46) == 12


def test_the_longest_recent_plan_and_the_median_run_count():
    pace = Pace(size=2, window=3)
    for seconds in (100.0, 1.0, 1.0, 1.0):  # the 100 s run has left the window
        pace.ran(seconds)
    for seconds in (30.0, 1.5, 0.5, 1.0):  # so has the 30 s plan: the longest left is 1.5 s
        pace.planned(seconds)
    assert pace.ahead([0.0, 1.0, 3.5], now=1.0) == 4  # ends at 1, 2 and 4.5; within 3 s of now: two
    pace.planned(2.0)
    assert pace.ahead([0.0, 1.0, 3.5], now=1.0) == 6  # within 4 s: all three
