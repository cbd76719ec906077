"""How far ahead the asynchronous schedule plans: one robot batch until a plan and a run have been timed,
then the batches of the robots expected to finish during two plans (the one started, and the next, which lands
only when computed), at most one per busy robot."""

from retort.orchestrator.pace import Pace


def test_one_batch_ahead_until_a_plan_and_a_run_have_been_timed():
    pace = Pace(size=4)
    assert pace.ahead(busy=3) == 4
    pace.planned(10.0)
    assert pace.ahead(busy=3) == 4  # no run timed yet
    assert pace.ahead(busy=0) == 0


def test_enough_ahead_for_the_robots_that_finish_during_two_plans():
    pace = Pace(size=4)
    pace.planned(1.0)
    for seconds in (12.0, 11.0, 13.0):
        pace.ran(seconds)
    assert pace.ahead(busy=4) == 4  # 2 x 4 x 1 / 12: planning keeps up, one batch ahead
    pace.planned(2.5)
    assert pace.ahead(busy=4) == 8  # 2 x 4 x 2.5 / 12 = 1.7 robots finish during two plans: two batches
    pace.planned(4.0)
    assert pace.ahead(busy=4) == 12  # 2.7: three
    pace.planned(60.0)
    assert pace.ahead(busy=4) == 16  # never more than one batch per busy robot
    assert pace.ahead(busy=1) == 4


def test_the_latest_plan_and_the_median_run_count():
    pace = Pace(size=2, window=3)
    for seconds in (100.0, 1.0, 1.0, 1.0):  # the 100 s run has left the window
        pace.ran(seconds)
    pace.planned(30.0)
    pace.planned(1.5)
    assert pace.ahead(busy=3) == 6  # ceil(2 x 3 x 1.5 / 1) = 9, capped at the 3 busy robots: 3 batches
