"""Warm starts: a campaign's model learns from an earlier campaign's measurements as a related task, and plans with them
only where they help predict the campaign's own measurements (each left out in turn); otherwise it starts cold."""

import numpy as np
import pytest

from retort.agents.errors import PlanningError
from retort.agents.planners import BayesianPlanner
from retort.agents.proposal import Observation
from retort.surrogates.summary import RELATEDNESS, WARM_START

from tests.agents.test_fidelity import N, observed, problem


def test_a_related_source_is_learned_and_planned_with():
    space, names, truth = problem()
    earlier = 2 * truth + 1 + np.random.default_rng(1).normal(scale=0.1, size=N)  # another scale, the same shape
    own = observed(space, names, truth, None, [0, 7, 14, 21, 28])
    planner = BayesianPlanner({"y": 1.0}, n_initial=5, seed=0, sources={"earlier": observed(space, names, earlier, None, range(0, N, 2))})
    model = planner.fit(space, own)
    learned = model.summary.hyperparameters
    assert model.summary.kind == "MultiTaskGP" and learned[RELATEDNESS + "earlier"][0] > 0.9
    used, joint, cold, joint_rmse, cold_rmse = learned[WARM_START]
    assert used == 1.0 and joint > cold and joint_rmse < cold_rmse
    proposals = planner.propose(space, own, [], 3, model)
    best = names[int(np.argmax(truth))]
    assert best in [p.params["c"] for p in proposals]  # five measurements of its own, and it proposes the best candidate
    assert all(p.params["c"] not in {o.params["c"] for o in own} for p in proposals)


def test_a_source_that_tells_nothing_leaves_a_cold_start():
    space, names, truth = problem()
    noise = np.random.default_rng(3).normal(size=N)
    own = observed(space, names, truth, None, [0, 7, 14, 21, 28])
    planner = BayesianPlanner({"y": 1.0}, n_initial=5, seed=0, sources={"noise": observed(space, names, noise, None, range(0, N, 2))})
    model = planner.fit(space, own)
    cold = BayesianPlanner({"y": 1.0}, n_initial=5, seed=0).fit(space, own)
    assert model.summary.kind == "SingleTaskGP" and model.summary.hyperparameters[WARM_START][0] == 0.0
    assert abs(model.summary.hyperparameters[RELATEDNESS + "noise"][0]) < 0.3
    assert model.summary.loo_log_likelihood == cold.summary.loo_log_likelihood  # the campaign's own model, as without the source


def test_a_warm_start_that_cannot_apply_says_why():
    space, names, truth = problem()
    source = observed(space, names, truth, None, range(10))
    with pytest.raises(PlanningError, match="one objective"):
        BayesianPlanner({"y": 1.0, "z": -1.0}, n_initial=5, seed=0, sources={"earlier": source})
    with pytest.raises(PlanningError, match="warm-start source 'earlier' has no measurements of 'z'"):
        BayesianPlanner({"z": 1.0}, n_initial=5, seed=0, sources={"earlier": source})
    with pytest.raises(PlanningError, match="no measurements"):
        BayesianPlanner({"y": 1.0}, n_initial=5, seed=0, sources={"earlier": []})
