"""Every member of a batch earns its experiment: each proposal records its chance of beating what is measured and
whether the model rules that out (`Goal.outlook`), and sequential batches hold no member the model rules out where
joint batches do."""

import pytest
import torch

from retort.agents.errors import PlanningError
from retort.agents.objectives import Goal, Objective, OutcomeConstraint
from retort.agents.planners import BayesianPlanner
from retort.orchestrator.campaign import Campaign

from .test_planners import SPACE, observe


def samples(*columns):
    """``s x n x r`` samples: one list of per-sample reading tuples per candidate."""
    return torch.tensor(list(zip(*columns)), dtype=torch.double)


def normal(mean, sd, n=4000, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (mean + sd * torch.randn(n, generator=g, dtype=torch.double)).tolist()


def test_outlook_of_a_minimised_objective_against_the_best_measured():
    goal = Goal(objectives=[Objective(name="y", goal="minimize")])
    observed = torch.tensor([[5.0], [3.0], [4.0]], dtype=torch.double)  # best measured: 3
    likely = [(v,) for v in normal(1.0, 0.5)]
    hopeless = [(v,) for v in normal(6.0, 0.5, seed=1)]  # mean - 3 sd = 4.5 > 3
    long_shot = [(v,) for v in normal(4.0, 0.5, seed=2)]  # mean - 3 sd = 2.5 < 3: unlikely, not ruled out
    (p1, r1), (p2, r2), (p3, r3) = goal.outlook(samples(likely, hopeless, long_shot), observed, ["y"])
    assert p1 > 0.99 and not r1
    assert p2 == 0 and r2
    assert 0 < p3 < 0.05 and not r3


def test_outlook_counts_only_feasible_improvements():
    goal = Goal(objectives=[Objective(name="y", goal="maximize")], constraints=[OutcomeConstraint(name="purity", op=">=", value=90)])
    observed = torch.tensor([[10.0, 95.0], [50.0, 80.0]], dtype=torch.double)  # 50 breaks purity: the best is 10
    high_impure = [(v, 85.0) for v in normal(30.0, 1.0)]
    high_pure = [(v, 92.0) for v in normal(30.0, 1.0)]
    (p_impure, _), (p_pure, r_pure) = goal.outlook(samples(high_impure, high_pure), observed, ["y", "purity"])
    assert p_impure == 0 and p_pure == 1 and not r_pure


def test_outlook_on_a_pareto_front():
    goal = Goal(objectives=[Objective(name="a", goal="maximize"), Objective(name="b", goal="minimize")], trade_off="pareto")
    observed = torch.tensor([[1.0, 1.0], [2.0, 3.0]], dtype=torch.double)  # both on the front
    dominated = [(a, b) for a, b in zip(normal(0.5, 0.05), normal(2.0, 0.05, seed=1))]
    beyond = [(a, b) for a, b in zip(normal(3.0, 0.05, seed=2), normal(2.5, 0.05, seed=3))]
    (p1, r1), (p2, r2) = goal.outlook(samples(dominated, beyond), observed, ["a", "b"])
    assert p1 == 0 and r1
    assert p2 > 0.99 and not r2


def test_sequential_batches_hold_no_member_the_model_rules_out_where_joint_batches_do():
    observations = observe(SPACE.sample(24, seed=3))
    batches = {}
    for selection in ("joint", "sequential"):
        planner = BayesianPlanner({"y": -1.0}, n_initial=8, seed=1, num_restarts=4, raw_samples=128, batch_selection=selection)
        batches[selection] = planner.propose(SPACE, observations, [], 4, planner.fit(SPACE, observations))
    assert any(p.provenance.ruled_out for p in batches["joint"])
    assert [p.provenance.ruled_out for p in batches["sequential"]] == [False] * 4
    for p in batches["sequential"]:
        assert 0 < p.provenance.improvement_probability <= 1 and p.provenance.note == ""
        assert p.provenance.acquisition == "qLogNEI (greedy over the batch, pending and picked experiments in its posterior)"
    dead = next(p for p in batches["joint"] if p.provenance.ruled_out)
    assert "rules out" in dead.provenance.note


def test_a_batch_selection_that_does_not_exist_or_cannot_apply_is_refused_naming_it():
    with pytest.raises(PlanningError, match="batch_selection 'greedy'"):
        BayesianPlanner({"y": 1.0}, n_initial=4, seed=0, batch_selection="greedy")
    data = {"name": "grid", "budget": 8, "batch_selection": "joint",
            "parameters": [{"name": "ligand", "type": "categorical", "values": ["a", "b", "c"]}],
            "objectives": [{"name": "y", "goal": "maximize"}], "lab": {"kind": "dataset_lookup", "path": "grid.csv", "output": "y"}}
    with pytest.raises(ValueError, match="batch_selection 'joint' applies to continuous spaces only"):
        Campaign.model_validate(data)
    with pytest.raises(ValueError, match="batch_selection"):
        Campaign.model_validate(data | {"batch_selection": "greedy"})
