"""The learn planner: its committee, its trust levels (a suspect is never proposed), and Cohn's variance reduction."""

import math

import pytest
import torch

from retort.agents.errors import PlanningError
from retort.agents.learning import LearnPlanner, TrustLevels
from retort.agents.objectives import Goal, Objective
from retort.agents.proposal import Observation
from retort.agents.space import DiscreteParameter, SearchSpace
from retort.surrogates.committee import fit_committee
from retort.surrogates.gp import fit_gp
from retort.surrogates.information import greedy_variance_reduction
from retort.surrogates.summary import LEARNING, Shares

GOAL = Goal(objectives=[Objective(name="y", goal="maximize")])
GRID = SearchSpace(parameters=[DiscreteParameter(name="x", values=[round(i / 80, 4) for i in range(81)])])


def f(x: float) -> float:
    return math.sin(7 * x) + (4.0 if x > 0.85 else 0.0)  # a cliff at the edge of the space


def measured(xs) -> list[Observation]:
    return [Observation(params={"x": x}, objectives={"y": f(x)}) for x in xs]


def test_the_committee_leaves_out_one_fold_each_and_its_error_is_cross_validated():
    X = torch.linspace(0, 1, 15, dtype=torch.double).unsqueeze(-1)
    Y = torch.sin(6 * X)
    full = fit_gp(X, Y, torch.tensor([[0.0], [1.0]], dtype=torch.double), ["y"])
    committee = fit_committee(full, X, Y, members=5, seed=0)
    assert [m.train_inputs[0].shape[-2] for m in committee.members] == [12] * 5  # each left out 3 of 15
    assert committee.cv.n == 15 and 0 < committee.cv.rmse < 0.5 and committee.cv.r2 > 0.8
    assert committee.disagreement(X).max() < committee.disagreement(torch.tensor([[2.0]], dtype=torch.double)).max()  # far out: they differ


def test_suspect_candidates_are_never_proposed_and_each_round_stores_where_candidates_fall():
    planner = LearnPlanner(GOAL, TrustLevels(lower=0.01, upper=0.6), n_initial=6, seed=0)
    observations = measured([0.0, 0.2, 0.4, 0.6, 0.8, 0.3, 0.5, 0.95])  # one point past the cliff at 0.85: the folds disagree there
    model = planner.fit(GRID, observations)
    shares = Shares.from_stored(model.summary.hyperparameters[LEARNING])
    assert shares.suspect > 5 and shares.candidates > 10 and shares.total == 81 - 8  # the test can fail: suspects exist
    X = GRID.encode([GRID.point_at(i) for i in range(81)])
    suspect = {GRID.point_at(i)["x"] for i, d in enumerate(model.disagreement(X).tolist()) if d > 0.6}
    proposals = planner.propose(GRID, observations, [], 10, model)
    assert len(proposals) == 10
    assert not {p.params["x"] for p in proposals} & suspect
    assert all(p.provenance.acquisition_value is not None and "trust levels" in p.provenance.acquisition for p in proposals)


def test_with_a_lower_level_above_every_disagreement_nothing_is_proposed():
    planner = LearnPlanner(GOAL, TrustLevels(lower=50, upper=100), n_initial=6, seed=0)
    observations = measured([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 0.5])
    model = planner.fit(GRID, observations)
    assert Shares.from_stored(model.summary.hyperparameters[LEARNING]).accurate_share == 1.0
    assert planner.propose(GRID, observations, [], 5, model) == []


def test_an_adaptive_lower_level_keeps_candidates_to_label():
    levels = TrustLevels(lower=50, upper=100, keep=4)
    assert levels.lower_for(torch.tensor([0.1, 0.5, 0.2, 0.9, 0.3, 200.0])) == pytest.approx(0.2)  # the 4th largest below upper
    planner = LearnPlanner(GOAL, levels, n_initial=6, seed=0)
    observations = measured([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 0.5])
    assert len(planner.propose(GRID, observations, [], 4, planner.fit(GRID, observations))) == 4


@pytest.mark.parametrize("lower, upper, converged", [(1.0, 1.0, 0.9), (2.0, 1.0, 0.9), (0.1, 1.0, 0.0), (0.1, 1.0, 1.5)])
def test_trust_levels_that_cannot_work_are_refused(lower, upper, converged):
    with pytest.raises(PlanningError):
        TrustLevels(lower=lower, upper=upper, converged=converged)


def test_greedy_variance_reduction_picks_what_conditioning_the_gp_says_removes_most():
    torch.manual_seed(0)
    X = torch.rand(12, 2, dtype=torch.double)
    model = fit_gp(X, torch.sin(5 * X[:, :1]) + X[:, 1:], torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.double), ["y"]).model
    C, R = torch.rand(60, 2, dtype=torch.double), torch.rand(50, 2, dtype=torch.double)
    picks, _ = greedy_variance_reduction(model, C, R, 3)
    fantasy = model
    for j in picks:  # each pick is the brute-force best given the picks before it
        with torch.no_grad():
            before = fantasy.posterior(R).variance.sum()
            removed = [float(before - fantasy.condition_on_observations(C[c : c + 1], fantasy.posterior(C[c : c + 1]).mean).posterior(R).variance.sum())
                       for c in range(60)]
        assert j == max((c for c in range(60) if c not in picks[: picks.index(j)]), key=removed.__getitem__)
        fantasy = fantasy.condition_on_observations(C[j : j + 1], fantasy.posterior(C[j : j + 1]).mean.detach())


def test_in_a_continuous_space_the_pool_leaves_out_what_is_measured_or_pending():
    from retort.agents.space import ContinuousParameter

    space = SearchSpace(parameters=[ContinuousParameter(name="x", lower=0, upper=1), ContinuousParameter(name="z", lower=0, upper=1)])
    planner = LearnPlanner(GOAL, TrustLevels(lower=0.0, upper=100.0), n_initial=6, seed=0, pool=64)
    y = lambda p: Observation(params=p, objectives={"y": math.sin(6 * p["x"]) + p["z"]})
    observations, pending = [], []
    for _ in range(6):
        model = planner.fit(space, observations)
        if model is not None:  # the design and every label are points of the pool's Sobol sequence: the shares count the rest
            assert Shares.from_stored(model.summary.hyperparameters[LEARNING]).total == 64 - len(observations)
        batch = [p.params for p in planner.propose(space, observations, pending, 4, model)]
        assert not {tuple(p.values()) for p in batch} & {tuple(p.values()) for p in pending + [o.params for o in observations]}
        observations += [y(p) for p in pending + batch[2:]]  # last round's pending are measured now; two of this batch stay pending
        pending = batch[:2]
