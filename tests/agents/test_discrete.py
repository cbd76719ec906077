"""Molecule and descriptor parameters, lazy enumeration, chunked discrete scoring."""

import pytest
import torch
from pydantic import ValidationError

from retort.agents.parameters import CategoricalParameter, MoleculeParameter
from retort.agents.planners import BayesianPlanner, RandomPlanner
from retort.agents.proposal import Observation
from retort.agents.space import ContinuousParameter, SearchSpace

BASES = ["CCN(CC)CC", "[Na+].[OH-]", "CC(C)(C)[O-].[K+]"]
SOLVENTS = {"water": "O", "ethanol": "CCO", "dmso": "CS(C)=O", "toluene": "Cc1ccccc1"}


def space(encoding="descriptors", excluded=()):
    return SearchSpace(
        parameters=[
            MoleculeParameter(name="base", values=BASES, encoding=encoding),
            MoleculeParameter(name="solvent", values=SOLVENTS, encoding=encoding),
            CategoricalParameter(name="temp", values=["rt", "hot"], encoding="descriptors", descriptors={"rt": [25.0], "hot": [80.0]}),
        ],
        excluded=list(excluded),
    )


def yield_of(p):
    return BASES.index(p["base"]) * 10 + list(SOLVENTS).index(p["solvent"]) * 3 + (p["temp"] == "hot") * 5.0


@pytest.mark.parametrize("encoding", ["descriptors", "morgan", "morgan_count", "onehot"])
def test_enumeration_matches_encoding_point_by_point(encoding):
    s = space(encoding)
    assert s.n_candidates() == 24 and s.is_discrete
    block = s.candidate_block(0, 24)
    for i in range(24):
        point = s.point_at(i)
        assert s.index_of(point) == i
        assert torch.allclose(block[i], s.encode([point])[0])
    assert s.decode(block[5:6]) == [s.point_at(5)]
    assert (len(s.fingerprint_columns()) > 0) == encoding.startswith("morgan")


def test_bad_molecules_and_descriptor_tables_are_named():
    with pytest.raises(ValidationError, match=r"invalid SMILES 'C1CC\(': RDKit cannot parse it"):
        MoleculeParameter(name="base", values=["CCO", "C1CC("])
    with pytest.raises(ValidationError, match=r"duplicate molecule: 'OCC' and 'CCO' are the same compound"):
        MoleculeParameter(name="solvent", values=["CCO", "OCC"])
    with pytest.raises(ValidationError, match=r"no rows for \['hot'\]"):
        CategoricalParameter(name="t", values=["rt", "hot"], encoding="descriptors", descriptors={"rt": [1.0]})
    with pytest.raises(ValidationError, match="same, non-zero length"):
        CategoricalParameter(name="t", values=["rt", "hot"], encoding="descriptors", descriptors={"rt": [1.0], "hot": [1.0, 2.0]})


def test_chunked_scoring_equals_unchunked_and_skips_measured_pending_and_excluded():
    s = space(excluded=[{"base": BASES[2], "solvent": "toluene", "temp": "hot"}])
    obs = [Observation(params=p, objectives={"y": yield_of(p)}) for p in s.sample_discrete(8, seed=1)]
    pending = [s.point_at(23)]
    picks = {}
    for chunk in (5, 100_000):
        planner = BayesianPlanner({"y": 1.0}, n_initial=4, seed=0, chunk=chunk)
        model = planner.fit(s, obs)
        picks[chunk] = [p.params for p in planner.propose(s, obs, pending, 4, model)]
    assert picks[5] == picks[100_000]
    taken = [o.params for o in obs] + pending + s.excluded
    assert not any(p in taken for p in picks[5]) and len({s.index_of(p) for p in picks[5]}) == 4


def test_random_planner_samples_without_replacement():
    s = space("onehot")
    seen = []
    planner = RandomPlanner(seed=0)
    for _ in range(6):
        batch = planner.propose(s, [Observation(params=p, objectives={"y": 0.0}) for p in seen], [], 4)
        seen += [p.params for p in batch]
    assert len({s.index_of(p) for p in seen}) == 24


def test_fingerprints_with_a_continuous_parameter_fit_a_product_kernel():
    s = SearchSpace(parameters=[MoleculeParameter(name="solvent", values=SOLVENTS, encoding="morgan"),
                                ContinuousParameter(name="temp", lower=20, upper=80)])
    obs = [Observation(params=p, objectives={"y": p["temp"] / 10 + len(p["solvent"])}) for p in s.sample(10, seed=0)]
    planner = BayesianPlanner({"y": 1.0}, n_initial=4, seed=0, discrete_candidates=128)
    model = planner.fit(s, obs)
    assert "lengthscale" in model.summary.hyperparameters  # the Matern part over temperature
    assert all(s.is_feasible(p.params) for p in planner.propose(s, obs, [], 2, model))


def test_large_library_path_is_chunk_independent_and_avoids_taken_points():
    s = space(excluded=[{"base": BASES[0], "solvent": "water", "temp": "hot"}])
    obs = [Observation(params=p, objectives={"y": yield_of(p)}) for p in s.sample_discrete(8, seed=2)]
    pending = [s.point_at(0)]
    picks = {}
    for chunk in (5, 100_000):
        planner = BayesianPlanner({"y": 1.0}, n_initial=4, seed=0, chunk=chunk, large_library=10)  # 24 > 10: believer path
        batch = planner.propose(s, obs, pending, 4, planner.fit(s, obs))
        picks[chunk] = [p.params for p in batch]
        assert all(p.provenance.acquisition_value is not None for p in batch)
        assert all(p.provenance.acquisition.startswith("LogEI, greedy over the batch with Kriging-believer") for p in batch)
    assert picks[5] == picks[100_000]
    taken = [o.params for o in obs] + pending + s.excluded
    assert not any(p in taken for p in picks[5]) and len({s.index_of(p) for p in picks[5]}) == 4


def test_initial_design_on_a_discrete_space_says_what_it_is():
    batch = BayesianPlanner({"y": 1.0}, n_initial=4, seed=0).propose(space("onehot"), [], [], 4)
    assert {p.provenance.planner for p in batch} == {"levels design"}  # the default: spread over the options
    first, second = batch[0].params, batch[1].params
    assert all(first[k] != second[k] for k in first) and len({tuple(p.params.values()) for p in batch}) == 4
    random = BayesianPlanner({"y": 1.0}, n_initial=4, seed=0, initial="random").propose(space("onehot"), [], [], 4)
    assert {p.provenance.planner for p in random} == {"random design"}
    assert len({tuple(p.params.values()) for p in random}) == 4


def test_lazy_believer_picks_equal_a_full_scan_in_every_round():
    import numpy as np
    from botorch.acquisition.objective import ScalarizedPosteriorTransform

    from retort.agents.planners import _believe, _marginal_log_ei

    rng = np.random.default_rng(3)
    params = []
    for k in range(3):
        values = [f"v{i}" for i in range(12)]
        params.append(CategoricalParameter(name=f"p{k}", values=values, encoding="descriptors",
                                           descriptors={v: rng.normal(size=2).tolist() for v in values}))
    s = SearchSpace(parameters=params)  # 1728 candidates
    f = lambda p: float(np.sin(s.encode([p])[0].numpy().sum()))  # noqa: E731
    obs = [Observation(params=p, objectives={"y": f(p)}) for p in s.sample_discrete(30, seed=4)]
    planner = BayesianPlanner({"y": 1.0}, n_initial=4, seed=0, chunk=100, large_library=10)
    model = planner.fit(s, obs)
    X_baseline = s.encode([o.params for o in obs])
    avoid = {s.index_of(o.params) for o in obs}
    X, _ = planner._believer_batch(model, planner.goal, s, 6, X_baseline, None, avoid)
    lazy = [s.index_of(p) for p in s.decode(X)]

    transform = ScalarizedPosteriorTransform(weights=torch.tensor([1.0], dtype=torch.double))
    best_f = float(model.model.posterior(X_baseline).mean.max())
    fantasy, full = model.model, []
    for _ in range(6):
        scores = planner._scan(_marginal_log_ei(fantasy, best_f, transform), s)
        scores[sorted(avoid | set(full))] = -float("inf")
        full.append(int(torch.argmax(scores)))
        fantasy = _believe(fantasy, s.candidates([full[-1]]))
    assert lazy == full and len(set(lazy)) == 6


def test_mixed_space_optimises_the_continuous_part_per_discrete_combination():
    from retort.agents.parameters import IntegerParameter
    from retort.agents.space import LinearConstraint
    from retort.surrogates import build_log_ei

    s = SearchSpace(parameters=[MoleculeParameter(name="solvent", values=SOLVENTS, encoding="descriptors"),
                                ContinuousParameter(name="temp", lower=20, upper=80),
                                IntegerParameter(name="equivalents", lower=1, upper=3)],
                    constraints=[LinearConstraint(terms={"temp": 1, "equivalents": 10}, op="<=", rhs=90)])
    f = lambda p: -((p["temp"] - 47.3) / 10) ** 2 + 2 * (p["solvent"] == "dmso") + 0.5 * p["equivalents"]  # noqa: E731
    obs = [Observation(params=p, objectives={"y": f(p)}) for p in s.sample(10, seed=0)]
    planner = BayesianPlanner({"y": 1.0}, n_initial=4, seed=0, num_restarts=4, raw_samples=64, discrete_candidates=256, mixed_combinations=2)
    model = planner.fit(s, obs)
    batch = planner.propose(s, obs, [], 2, model)
    for p in batch:
        s.validate_point(p.params)  # the constraint holds with the integer fixed
        assert isinstance(p.params["equivalents"], int)
    X_baseline = s.encode([o.params for o in obs])
    acq = build_log_ei(model.model, X_baseline, [1.0], seed=planner.seed + len(obs))  # as the planner built it
    with torch.no_grad():
        screen = acq(s.encode(s.sample(256, seed=planner.seed + len(obs), method="uniform")).unsqueeze(-2)).max()
        first = acq(s.encode([batch[0].params]).unsqueeze(0))
    assert first > screen  # gradient steps on the temperature improve on the best screened point


def test_a_discrete_numeric_parameter_is_an_ordered_choice_encoded_by_its_value():
    from collections import Counter

    from retort.agents.parameters import DiscreteParameter

    temp = DiscreteParameter(name="temp", values=[30, 60, 90], unit="degC")
    assert temp.width == 1 and temp.encode(60) == [60.0] and temp.encode(60.0000000001) == [60.0]
    assert temp.contains(90.0) and not temp.contains(75) and not temp.contains("60")
    assert temp.decode([70.0]) == 60 and temp.decode([88.0]) == 90
    with pytest.raises(ValueError, match=r"parameter 'temp': 75 is not one of its values \[30\.0, 60\.0, 90\.0\]"):
        temp.encode(75)
    spaced = SearchSpace(parameters=[DiscreteParameter(name="conc", values=[1, 2, 5, 100]), ContinuousParameter(name="x", lower=0, upper=1)])
    assert sorted(Counter(p["conc"] for p in spaced.sample(400, seed=1)).values()) == [100, 100, 100, 100]  # by value, not by range
    with pytest.raises(ValidationError, match=r"duplicate values \[60\.0\]"):
        DiscreteParameter(name="temp", values=[30, 60, 60.0])
    with pytest.raises(ValidationError, match="at least 2 items"):
        DiscreteParameter(name="temp", values=[30])
    grid = SearchSpace(parameters=[temp, MoleculeParameter(name="base", values=BASES, encoding="onehot")])
    assert grid.is_discrete and grid.n_candidates() == 9 and grid.discrete_columns() == [0, 1, 2, 3]
    assert [grid.index_of(grid.point_at(i)) for i in range(9)] == list(range(9))
    assert grid.point_at(5) == {"temp": 60.0, "base": BASES[2]}
    # a model sees the order: after 30 and 90 measured, 60 is predicted between them
    obs = [Observation(params={"temp": t, "base": b}, objectives={"y": t / 10 + i}) for t in (30.0, 90.0) for i, b in enumerate(BASES)]
    model = BayesianPlanner({"y": 1.0}, n_initial=2, seed=0).fit(grid, obs)
    X = grid.encode([{"temp": t, "base": BASES[0]} for t in (30.0, 60.0, 90.0)])
    low, mid, high = model.model.posterior(X).mean.squeeze(-1).tolist()
    assert low < mid < high
