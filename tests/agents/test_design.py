"""First batches for finite spaces: `levels`, `maximin` and `kmeans` designs (retort.agents.design)."""

import numpy as np
import pytest

from retort.agents.design import scaled_candidates, space_filling
from retort.agents.errors import PlanningError
from retort.agents.parameters import CategoricalParameter
from retort.agents.planners import BayesianPlanner
from retort.agents.space import SearchSpace

# Three components of 3, 6 and 7 options; the descriptors put most options of "ligand" close together.
LIGANDS = {f"L{i}": [float(i == 5) * 10 + i * 0.01] for i in range(6)}


def grid(excluded=()):
    return SearchSpace(parameters=[
        CategoricalParameter(name="base", values=["b0", "b1", "b2"]),
        CategoricalParameter(name="ligand", values=list(LIGANDS), encoding="descriptors", descriptors=LIGANDS),
        CategoricalParameter(name="solvent", values=[f"s{i}" for i in range(7)]),
    ], excluded=list(excluded))


@pytest.mark.parametrize("seed", range(5))
def test_levels_spreads_a_batch_over_the_options_of_every_parameter(seed):
    s = grid()
    points = [s.point_at(i) for i in space_filling(s, 3, seed, [], method="levels")]
    for name in ("base", "ligand", "solvent"):
        assert len({p[name] for p in points}) == 3  # no option repeated while unused ones are left


def test_levels_ignores_the_encoding_where_maximin_follows_it():
    """maximin's batch holds the far ligand L5 every time (its descriptor is 10 away from the rest);
    levels draws the ligands at random, so over many seeds it takes L5 only about as often as any other."""
    s = grid()
    maximin = [{s.point_at(i)["ligand"] for i in space_filling(s, 3, seed, [], method="maximin")} for seed in range(40)]
    levels = [{s.point_at(i)["ligand"] for i in space_filling(s, 3, seed, [], method="levels")} for seed in range(40)]
    assert all("L5" in batch for batch in maximin)
    assert 8 <= sum("L5" in batch for batch in levels) <= 32  # expected 20 of 40 (3 of 6 ligands per batch)


def test_each_later_pick_differs_from_everything_before_it_on_as_many_parameters_as_any_candidate_could():
    s = grid(excluded=[{"base": "b0", "ligand": "L0", "solvent": "s0"}])
    taken = [s.point_at(i) for i in space_filling(s, 3, 0, [], method="levels")]
    more = [s.point_at(i) for i in space_filling(s, 4, 1, taken, method="levels")]
    differ = lambda a, b: sum(a[k] != b[k] for k in a)  # noqa: E731
    before = list(taken)
    for pick in more:
        left = [s.point_at(i) for i in range(s.n_candidates()) if s.point_at(i) not in before + s.excluded]
        assert pick in left
        assert min(differ(pick, b) for b in before) == max(min(differ(c, b) for b in before) for c in left)
        before.append(pick)


@pytest.mark.parametrize("method", ["levels", "maximin", "kmeans"])
def test_a_design_is_reproducible_by_seed_and_refuses_more_than_is_left(method):
    s = grid()
    assert space_filling(s, 4, 7, [], method=method) == space_filling(s, 4, 7, [], method=method)
    picks = space_filling(s, 4, 7, [], method=method)
    assert len(set(picks)) == 4
    everything_but_two = [s.point_at(i) for i in range(s.n_candidates() - 2)]
    with pytest.raises(PlanningError, match="only 2 untried candidates are left; cannot choose 4"):
        space_filling(s, 4, 0, everything_but_two, method=method)


def test_one_hot_scaling_puts_candidates_as_far_apart_as_the_parameters_they_differ_on():
    s = grid()
    X = scaled_candidates(s, np.array([0, 1, 8, s.n_candidates() - 1]), encoded=False)
    d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    assert d2[0, 1] == pytest.approx(1.0)  # solvent only
    assert d2[0, 2] == pytest.approx(2.0)  # ligand and solvent
    assert d2[0, 3] == pytest.approx(3.0)  # all three


def test_the_planner_records_which_design_chose_the_first_batch():
    batch = BayesianPlanner({"y": 1.0}, n_initial=3, seed=0, initial="levels").propose(grid(), [], [], 3)
    assert {p.provenance.planner for p in batch} == {"levels design"}
    assert all(p.provenance.note == "initial design (levels: spread over the options of every parameter)" for p in batch)
    batch = BayesianPlanner({"y": 1.0}, n_initial=3, seed=0, initial="maximin").propose(grid(), [], [], 3)
    assert all(p.provenance.note == "initial design (maximin: spread over the encoded candidates)" for p in batch)
