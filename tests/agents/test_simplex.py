"""Composition (pymatgen) and mixture parameters: validation, encoding, planning on the simplex."""

import pytest
from pydantic import ValidationError

from retort.agents.errors import SpaceError
from retort.agents.parameters import CompositionParameter, MixtureParameter
from retort.agents.planners import BayesianPlanner
from retort.agents.proposal import Observation
from retort.agents.space import ContinuousParameter, SearchSpace

ALLOY = CompositionParameter(name="alloy", components=["Al", "Co", "Cr", "Fe", "Ni"], bounds={"Al": (0.0, 0.3)})


def test_composition_fractions_and_bounds():
    assert ALLOY.encode("AlCoCrFeNi") == pytest.approx([0.2] * 5)
    assert ALLOY.encode("CoNi") == pytest.approx([0, 0.5, 0, 0, 0.5])
    assert ALLOY.contains(ALLOY.decode([0.1, 0.2, 0.3, 0.2, 0.2]))
    with pytest.raises(ValueError, match=r"Al fraction 0.5 is outside its bounds \[0, 0.3\]"):
        ALLOY.check_value("AlNi")
    with pytest.raises(ValueError, match=r"elements \['Cu'\] outside the declared"):
        ALLOY.check_value("AlCoCrCuFeNi")
    with pytest.raises(ValueError, match="cannot parse formula|unknown elements"):
        ALLOY.check_value("Xx2O")


def test_bad_compositions_and_mixtures_are_refused():
    with pytest.raises(ValidationError, match=r"unknown elements \['Qq'\]"):
        CompositionParameter(name="c", components=["Fe", "Qq"])
    with pytest.raises(ValidationError, match="no fractions within the bounds sum to one"):
        MixtureParameter(name="m", components=["a", "b"], bounds={"a": (0, 0.2), "b": (0, 0.3)})
    with pytest.raises(ValidationError, match=r"bounds given for \['c'\]"):
        MixtureParameter(name="m", components=["a", "b"], bounds={"c": (0, 0.5)})


def test_samples_and_proposals_lie_on_the_simplex_within_bounds():
    space = SearchSpace(parameters=[ALLOY, MixtureParameter(name="solvent", components=["water", "ethanol"], bounds={"water": (0.2, 0.8)}),
                                    ContinuousParameter(name="anneal", lower=500, upper=900, unit="degC")])
    points = space.sample(12, seed=0)
    assert all(space.is_feasible(p) for p in points)
    obs = [Observation(params=p, objectives={"y": space.encode([p])[0, 4].item() - space.encode([p])[0, 0].item()}) for p in points]
    planner = BayesianPlanner({"y": 1.0}, n_initial=4, seed=0, num_restarts=2, raw_samples=64)
    batch = planner.propose(space, obs, [], 2, planner.fit(space, obs))
    for p in batch:
        space.validate_point(p.params)
        assert sum(p.params["solvent"].values()) == pytest.approx(1.0)
    with pytest.raises(SpaceError, match="Al fraction"):
        space.validate_point({"alloy": "Al3Ni", "solvent": {"water": 0.5, "ethanol": 0.5}, "anneal": 600.0})


def test_composition_descriptors_encoding_adds_element_statistics_to_the_model():
    alloy = ALLOY.model_copy(update={"encoding": "descriptors"})
    space = SearchSpace(parameters=[alloy])
    assert space.dim == 5 and [cols for cols, _ in space.composition_groups()] == [[0, 1, 2, 3, 4]]
    points = space.sample(8, seed=1)
    obs = [Observation(params=p, objectives={"y": space.encode([p])[0, 4].item()}) for p in points]
    planner = BayesianPlanner({"y": 1.0}, n_initial=4, seed=0, num_restarts=2, raw_samples=64)
    model = planner.fit(space, obs)
    assert len(model.summary.hyperparameters["lengthscale"]) == 5 + 12  # fractions + 6 properties x (mean, std)
    for p in planner.propose(space, obs, [], 2, model):
        space.validate_point(p.params)
    assert len(planner.fit(SearchSpace(parameters=[ALLOY]), obs).summary.hyperparameters["lengthscale"]) == 5
