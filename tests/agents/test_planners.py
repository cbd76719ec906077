import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from retort.agents.planners import BayesianPlanner, RandomPlanner
from retort.agents.proposal import Observation, Prediction, Proposal, Provenance
from retort.agents.space import CategoricalParameter, ContinuousParameter, LinearConstraint, SearchSpace
from retort.simulators.analytic import branin

SPACE = SearchSpace(
    parameters=[ContinuousParameter(name="x1", lower=-5, upper=10), ContinuousParameter(name="x2", lower=0, upper=15)],
    constraints=[LinearConstraint(terms={"x1": 1, "x2": 1}, op="<=", rhs=18)],
)


def observe(points):
    return [Observation(params=p, objectives={"y": branin(p)}) for p in points]


def test_random_planner_is_seeded_by_position():
    a = RandomPlanner(seed=4).propose(SPACE, [], [], 4)
    b = RandomPlanner(seed=4).propose(SPACE, [], [], 4)
    assert [p.params for p in a] == [p.params for p in b]
    later = RandomPlanner(seed=4).propose(SPACE, observe([p.params for p in a]), [], 2)
    assert later[0].params not in [p.params for p in a]
    assert all(SPACE.is_feasible(p.params) for p in a + later)


def test_sobol_design_is_sliced_by_position_so_resuming_continues_it():
    planner = BayesianPlanner({"y": -1.0}, n_initial=6, seed=0)
    whole = [p.params for p in planner.propose(SPACE, [], [], 6)]
    first = planner.propose(SPACE, [], [], 2)
    rest = planner.propose(SPACE, observe([p.params for p in first]), [whole[2]], 3)
    assert [p.params for p in first] + [whole[2]] + [p.params for p in rest] == whole
    assert first[0].provenance.planner == "sobol"


def test_bayesian_planner_proposes_feasible_points_with_provenance_away_from_pending():
    planner = BayesianPlanner({"y": -1.0}, n_initial=8, seed=1, num_restarts=2, raw_samples=64)
    obs = observe(SPACE.sample(10, seed=3))
    model = planner.fit(SPACE, obs)
    model.version = 7
    pending = [{"x1": 3.0, "x2": 2.5}]
    batch = planner.propose(SPACE, obs, pending, 3, model)
    assert len(batch) == 3
    for p in batch:
        assert SPACE.is_feasible(p.params)
        assert p.params not in pending
        assert p.provenance.planner == "qLogNEI" and p.provenance.model_version == 7
        assert p.provenance.predicted["y"].std > 0 and p.provenance.acquisition_value is not None
        assert p.provenance.acquisition == "qLogNEI (greedy over the batch, pending and picked experiments in its posterior)"
    assert len({tuple(p.params.values()) for p in batch}) == 3


def test_bayesian_planner_handles_categorical_parameters():
    space = SearchSpace(parameters=[ContinuousParameter(name="x", lower=0, upper=1),
                                    CategoricalParameter(name="c", values=["a", "b", "c"])])
    planner = BayesianPlanner({"y": 1.0}, n_initial=4, seed=0, discrete_candidates=256)
    pts = space.sample(8, seed=0)
    obs = [Observation(params=p, objectives={"y": p["x"] + (p["c"] == "b")}) for p in pts]
    batch = planner.propose(space, obs, [], 2, planner.fit(space, obs))
    assert all(space.is_feasible(p.params) for p in batch)



finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(
    params=st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.one_of(finite, st.integers(-10**6, 10**6), st.text(max_size=10)), max_size=5),
    mean=finite,
    std=st.floats(min_value=0, max_value=1e6),
    acq=st.one_of(st.none(), finite),
    version=st.one_of(st.none(), st.integers(0, 10**6)),
)
def test_proposals_round_trip_through_json(params, mean, std, acq, version):
    p = Proposal(params=params, provenance=Provenance(planner="qLogNEI", model_version=version,
                                                      predicted={"y": Prediction(mean=mean, std=std)}, acquisition_value=acq))
    assert Proposal.model_validate_json(p.model_dump_json()) == p
    o = Observation(params=params, objectives={"y": mean})
    assert Observation.model_validate_json(o.model_dump_json()) == o


def test_planner_without_objectives_is_an_error():
    from retort.agents.errors import PlanningError

    with pytest.raises(PlanningError):
        BayesianPlanner({}, n_initial=2, seed=0)


def test_qlogei_as_baybe_proposes_with_its_name_and_refuses_what_it_cannot_score():
    from retort.agents.errors import PlanningError
    from retort.agents.objectives import Goal, Objective, OutcomeConstraint

    planner = BayesianPlanner({"y": -1.0}, n_initial=8, seed=1, num_restarts=2, raw_samples=64, acquisition="qLogEI")
    obs = observe(SPACE.sample(10, seed=3))
    batch = planner.propose(SPACE, obs, [], 2, planner.fit(SPACE, obs))
    assert len(batch) == 2 and all(SPACE.is_feasible(p.params) for p in batch)
    assert all(p.provenance.planner == "qLogEI" and p.provenance.acquisition.startswith("qLogEI (greedy") for p in batch)
    with pytest.raises(PlanningError, match="acquisition 'qLogUCB'"):
        BayesianPlanner({"y": 1.0}, n_initial=4, seed=0, acquisition="qLogUCB")
    pareto = Goal(objectives=[Objective(name="a", goal="maximize"), Objective(name="b", goal="minimize")], trade_off="pareto")
    with pytest.raises(PlanningError, match="Pareto front is searched with qLogNEHVI"):
        BayesianPlanner(pareto, n_initial=4, seed=0, acquisition="qLogEI")
    constrained = Goal(objectives=[Objective(name="y", goal="maximize")], constraints=[OutcomeConstraint(name="y", op="<=", value=3)])
    with pytest.raises(PlanningError, match="takes no outcome constraints"):
        BayesianPlanner(constrained, n_initial=4, seed=0, acquisition="qLogEI")


def test_the_acquisition_is_estimated_from_as_many_posterior_samples_as_asked():
    from retort.agents.errors import PlanningError

    obs = observe(SPACE.sample(10, seed=3))
    for samples in (128, 512):
        planner = BayesianPlanner({"y": -1.0}, n_initial=8, seed=1, num_restarts=2, raw_samples=64, mc_samples=samples, acquisition="qLogEI")
        model = planner.fit(SPACE, obs)
        X = SPACE.encode([o.params for o in obs])
        Y = torch.tensor([[o.objectives["y"]] for o in obs], dtype=torch.double)
        acq, _ = planner._acquisition(planner.goal, model, X, Y, None, seed=0)
        assert acq.sampler.sample_shape == torch.Size([samples])
    with pytest.raises(PlanningError, match="mc_samples 0"):
        BayesianPlanner({"y": 1.0}, n_initial=4, seed=0, mc_samples=0)
