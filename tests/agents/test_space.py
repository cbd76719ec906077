import pytest
import torch
from pydantic import ValidationError

from retort.agents.errors import SpaceError
from retort.agents.space import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    LinearConstraint,
    SearchSpace,
)


def mixed_space():
    return SearchSpace(
        parameters=[
            ContinuousParameter(name="temp", lower=20, upper=80, unit="degC"),
            IntegerParameter(name="cycles", lower=1, upper=5),
            CategoricalParameter(name="solvent", values=["water", "ethanol", "dmso"]),
        ],
        constraints=[LinearConstraint(terms={"temp": 1, "cycles": 10}, op="<=", rhs=100)],
    )


def test_encode_decode_round_trip():
    space = mixed_space()
    points = [{"temp": 25.0, "cycles": 2, "solvent": "dmso"}, {"temp": 70.5, "cycles": 3, "solvent": "water"}]
    X = space.encode(points)
    assert X.shape == (2, 5) and space.dim == 5
    assert space.decode(X) == points
    assert space.bounds().shape == (2, 5)


def test_samples_are_feasible_and_seeded():
    space = mixed_space()
    a, b = space.sample(16, seed=1), space.sample(16, seed=1)
    assert a == b and all(space.is_feasible(p) for p in a)
    assert space.sample(16, seed=2) != a


def test_equality_constraint_uses_the_polytope_sampler():
    space = SearchSpace(
        parameters=[ContinuousParameter(name=n, lower=0, upper=1) for n in "abc"],
        constraints=[LinearConstraint(terms={"a": 1, "b": 1, "c": 1}, op="==", rhs=1)],
    )
    points = space.sample(10, seed=0)
    assert len(points) == 10
    assert all(sum(p.values()) == pytest.approx(1, abs=1e-6) for p in points)


def test_sample_columns_fills_the_polytope_uniformly():
    # red + blue <= 1 in the unit square: a triangle, half the box, so half the samples land below x = 0.293
    space = SearchSpace(
        parameters=[ContinuousParameter(name="red", lower=0, upper=1), ContinuousParameter(name="blue", lower=0, upper=1)],
        constraints=[LinearConstraint(terms={"red": 1, "blue": 1}, op="<=", rhs=1)],
    )
    X = space.sample_columns(4096, seed=3)
    assert X.shape == (4096, 2) and bool((X.sum(-1) <= 1).all()) and bool((X >= 0).all())
    assert (X[:, 0] <= 1 - 0.5**0.5).double().mean().item() == pytest.approx(0.5, abs=0.03)
    assert torch.equal(X, space.sample_columns(4096, seed=3)) and not torch.equal(X, space.sample_columns(4096, seed=4))


def test_sample_columns_thin_or_equality_polytopes_use_hit_and_run():
    thin = SearchSpace(
        parameters=[ContinuousParameter(name=n, lower=0, upper=1) for n in "abc"],
        constraints=[LinearConstraint(terms={"a": 1, "b": 1, "c": 1}, op="<=", rhs=0.1)],  # 1/6000 of the box
    )
    X = thin.sample_columns(200, seed=0)
    assert X.shape == (200, 3) and bool((X.sum(-1) <= 0.1 + 1e-9).all())
    simplex = SearchSpace(
        parameters=[ContinuousParameter(name=n, lower=0, upper=1) for n in "abc"],
        constraints=[LinearConstraint(terms={"a": 1, "b": 1, "c": 1}, op="==", rhs=1)],
    )
    assert simplex.sample_columns(50, seed=0).sum(-1).sub(1).abs().max().item() < 1e-6


def test_infeasible_constraints_are_rejected_with_the_constraint_named():
    with pytest.raises(ValidationError, match=r"no point .* satisfies all constraints \(1\*a \+ 1\*b >= 3\)"):
        SearchSpace(
            parameters=[ContinuousParameter(name="a", lower=0, upper=1), ContinuousParameter(name="b", lower=0, upper=1)],
            constraints=[LinearConstraint(terms={"a": 1, "b": 1}, op=">=", rhs=3)],
        )


def test_bad_parameters_and_constraint_names():
    with pytest.raises(ValidationError, match="lower bound 5.0 must be finite and below upper bound 1.0"):
        ContinuousParameter(name="x", lower=5, upper=1)
    with pytest.raises(ValidationError, match=r"duplicate values \['a'\]"):
        CategoricalParameter(name="c", values=["a", "a"])
    with pytest.raises(ValidationError, match=r"names \['nope'\]"):
        SearchSpace(parameters=[ContinuousParameter(name="x", lower=0, upper=1)],
                    constraints=[LinearConstraint(terms={"nope": 1}, op="<=", rhs=1)])
    with pytest.raises(ValidationError, match="unique"):
        SearchSpace(parameters=[ContinuousParameter(name="x", lower=0, upper=1)] * 2)


def test_validate_point_names_the_problem():
    space = mixed_space()
    with pytest.raises(SpaceError, match="parameter 'temp': value 200"):
        space.validate_point({"temp": 200, "cycles": 1, "solvent": "water"})
    with pytest.raises(SpaceError, match="violates constraint"):
        space.validate_point({"temp": 79, "cycles": 5, "solvent": "water"})


def test_botorch_constraints_mean_sum_at_least_rhs():
    space = mixed_space()
    inequality, equality = space.botorch_constraints()
    idx, coef, rhs = inequality[0]
    x = torch.tensor([25.0, 2.0, 0, 0, 1], dtype=torch.double)
    assert (x[idx] * coef).sum() >= rhs  # 25 + 20 <= 100 holds
    assert equality == []
    assert space.max_linear({"temp": 1, "cycles": 10}) == pytest.approx(100)
