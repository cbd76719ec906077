"""Goals: objectives from readings, weighted and Pareto trade-offs, outcome constraints, and the planner using them."""

import math

import pytest
import torch
from hypothesis import given, settings, strategies as st
from pydantic import ValidationError

from retort.agents.errors import PlanningError
from retort.agents.objectives import Goal, Objective, OutcomeConstraint
from retort.agents.parameters import DiscreteParameter
from retort.agents.planners import BayesianPlanner
from retort.agents.proposal import Observation
from retort.agents.space import SearchSpace


def two(trade_off="pareto", **kw):
    return Goal(objectives=[Objective(name="a", goal="maximize"), Objective(name="b", goal="minimize")], trade_off=trade_off, **kw)


def test_a_goal_names_what_is_wrong():
    with pytest.raises(ValidationError, match="needs at least two objectives"):
        Goal(objectives=[Objective(name="a", goal="maximize")], trade_off="pareto")
    with pytest.raises(ValidationError, match=r"value for each objective \['a', 'b'\]"):
        two(reference={"a": 0})
    with pytest.raises(ValidationError, match="belongs to trade_off 'pareto'"):
        two("weighted", reference={"a": 0, "b": 1})


def test_objectives_are_the_same_functions_on_numbers_and_on_samples():
    match = Objective(name="d", goal="match", target={"r": 0.2, "g": 0.5})
    goal = Goal(objectives=[match, Objective(name="y", goal="maximize", weight=2)])
    assert goal.readings == ["r", "g", "y"] and not goal.linear
    Y = torch.tensor([[0.5, 0.1, 3.0], [0.2, 0.5, 1.0]], dtype=torch.double)
    values = goal.objective_values(Y, goal.readings)
    for row, v in zip(Y.tolist(), values.tolist()):
        raw = dict(zip(goal.readings, row))
        assert v == pytest.approx([match.derive(raw), raw["y"]])
    assert goal.utility(Y, goal.readings).tolist() == pytest.approx([-0.5 + 6.0, 0.0 + 2.0])
    assert goal.utility_of({"d": 0.5, "y": 3.0}) == pytest.approx(5.5)


def test_constraints_follow_botorch_sign_convention():
    goal = two(constraints=[OutcomeConstraint(name="a", op=">=", value=1.0), OutcomeConstraint(name="b", op="<=", value=2.0)])
    Y = torch.tensor([[1.5, 3.0], [0.5, 1.0]], dtype=torch.double)
    low, high = goal.constraint_functions(goal.readings)
    assert low(Y).tolist() == [-0.5, 0.5]  # feasible where <= 0
    assert high(Y).tolist() == [1.0, -1.0]
    assert goal.feasible({"a": 1.5, "b": 1.0}, {}) and not goal.feasible({"a": 1.5, "b": 3.0}, {})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)), max_size=30))
def test_pareto_front_matches_the_definition(points):
    goal = Goal(objectives=[Objective(name=n, goal=g) for n, g in zip("abc", ("maximize", "minimize", "maximize"))], trade_off="pareto")
    values = [dict(zip("abc", p)) for p in points]
    signed = [(p[0], -p[1], p[2]) for p in points]
    expected = [i for i, s in enumerate(signed)
                if not any(all(x >= y for x, y in zip(t, s)) and t != s for t in signed)]
    assert goal.pareto_front(values) == expected


def test_pareto_front_leaves_out_what_breaks_an_outcome_constraint():
    goal = two(constraints=[OutcomeConstraint(name="purity", op=">=", value=0.9)])
    values = [{"a": 3, "b": 1}, {"a": 2, "b": 1}, {"a": 1, "b": 0}]
    raw = [{"purity": 0.5}, {"purity": 0.95}, {"purity": 0.99}]
    assert goal.pareto_front(values, raw) == [1, 2]
    assert goal.pareto_front(values) == [0, 2]  # readings not at hand: only constraints on objectives are checked


# -- the planner ------------------------------------------------------------------------------------------------
def line_space(n=21):
    return SearchSpace(parameters=[DiscreteParameter(name="x", values=[float(i) for i in range(n)])])


def observe(xs, readings):
    return [Observation(params={"x": float(x)}, objectives={}, readings=readings(x)) for x in xs]


def test_a_match_objective_is_scored_from_predicted_readings():
    space = line_space()
    goal = Goal(objectives=[Objective(name="d", goal="match", target={"r": 7.0, "g": -7.0})])
    planner = BayesianPlanner(goal, n_initial=4, seed=0)
    obs = observe([0, 5, 10, 15, 20], lambda x: {"r": x, "g": -x})
    obs = [Observation(params=o.params, objectives={"d": goal.objectives[0].derive(o.readings)}, readings=o.readings) for o in obs]
    model = planner.fit(space, obs)
    assert model.summary.outputs == ["r", "g"]  # the readings are modelled, not the distance
    proposals = planner.propose(space, obs, [], 2, model=model)
    assert "d computed from the predicted readings r, g" in proposals[0].provenance.acquisition
    assert abs(proposals[0].params["x"] - 7) <= 2
    assert proposals[0].provenance.predicted["d"].mean < 3


def test_objectives_are_modelled_when_readings_are_missing_and_a_reading_constraint_then_refuses():
    space = line_space()
    goal = Goal(objectives=[Objective(name="d", goal="match", target={"r": 7.0, "g": -7.0})])
    obs = [Observation(params={"x": float(x)}, objectives={"d": abs(x - 7) * math.sqrt(2)}) for x in (0, 5, 10, 15)]
    planner = BayesianPlanner(goal, n_initial=4, seed=0)
    assert planner.fit(space, obs).summary.outputs == ["d"]
    constrained = Goal(objectives=goal.objectives, constraints=[OutcomeConstraint(name="r", op=">=", value=1)])
    with pytest.raises(PlanningError, match="name readings that some measurements lack"):
        BayesianPlanner(constrained, n_initial=4, seed=0).fit(space, obs)


def test_an_outcome_constraint_keeps_proposals_inside_it():
    space = line_space()
    goal = Goal(objectives=[Objective(name="y", goal="maximize")], constraints=[OutcomeConstraint(name="z", op=">=", value=-10)])
    obs = observe([0, 4, 8, 12, 16, 20], lambda x: {"y": x, "z": -x})  # feasible: x <= 10; best feasible x = 10
    planner = BayesianPlanner(goal, n_initial=4, seed=0)
    proposals = planner.propose(space, obs, [], 1, model=planner.fit(space, obs))
    assert 9 <= proposals[0].params["x"] <= 11
    unconstrained = BayesianPlanner(Goal(objectives=goal.objectives), n_initial=4, seed=0)
    assert unconstrained.propose(space, obs, [], 1, model=unconstrained.fit(space, obs))[0].params["x"] > 16


def test_a_pareto_goal_proposes_with_qlognehvi_and_predicts_each_objective():
    space = line_space()
    goal = two()
    obs = observe([0, 6, 14, 20], lambda x: {"a": x, "b": (x - 10) ** 2 / 10})
    obs = [Observation(params=o.params, objectives=o.readings, readings=o.readings) for o in obs]
    planner = BayesianPlanner(goal, n_initial=4, seed=0)
    proposals = planner.propose(space, obs, [], 2, model=planner.fit(space, obs))
    assert {p.provenance.planner for p in proposals} == {"qLogNEHVI"}
    assert all(set(p.provenance.predicted) == {"a", "b"} for p in proposals)
    assert len({p.params["x"] for p in proposals}) == 2 and not {p.params["x"] for p in proposals} & {0.0, 6.0, 14.0, 20.0}
