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


def test_a_source_that_misleads_leaves_a_cold_start():
    space, names, truth = problem()
    X = space.encode([{"c": n} for n in names]).numpy()
    other = np.cos(9 * X[:, 1] + 2) - X[:, 0]  # another function of the same inputs: it would mislead the model
    own = observed(space, names, truth, None, range(0, N, 4))
    planner = BayesianPlanner({"y": 1.0}, n_initial=5, seed=0, sources={"other": observed(space, names, other, None, range(0, N, 2))})
    model = planner.fit(space, own)
    cold = BayesianPlanner({"y": 1.0}, n_initial=5, seed=0).fit(space, own)
    used, joint, alone, _, _ = model.summary.hyperparameters[WARM_START]
    assert model.summary.kind == "SingleTaskGP" and used == 0.0 and joint < alone - 1  # far worse with the source (measured 0.06 vs 1.96)
    assert RELATEDNESS + "other" in model.summary.hyperparameters
    assert model.summary.loo_log_likelihood == cold.summary.loo_log_likelihood  # the campaign's own model, as without the source
    # (a source of pure noise is not tested here: on this toy the joint model's kernel predicts the campaign about as well
    # as the campaign's own GP with or without it, so either choice is right; benchmarks/transfer.py measures that case)


def test_a_warm_start_that_cannot_apply_says_why():
    space, names, truth = problem()
    source = observed(space, names, truth, None, range(10))
    with pytest.raises(PlanningError, match="one objective"):
        BayesianPlanner({"y": 1.0, "z": -1.0}, n_initial=5, seed=0, sources={"earlier": source})
    with pytest.raises(PlanningError, match="warm-start source 'earlier' has no measurements of 'z'"):
        BayesianPlanner({"z": 1.0}, n_initial=5, seed=0, sources={"earlier": source})
    with pytest.raises(PlanningError, match="no measurements"):
        BayesianPlanner({"y": 1.0}, n_initial=5, seed=0, sources={"earlier": []})
