"""First batches for finite spaces: space-filling designs over the candidates.

``maximin`` and ``kmeans`` measure distances per parameter on its encoded columns (the planner's
encoding), each column scaled to [0, 1] over the parameter's options and each parameter's block scaled so
that its two most different options are 1 apart: every reaction component counts the same, however many
columns its encoding has. ``levels`` measures them on the options alone (one-hot: two candidates are as
far apart as the number of parameters on which they differ): each pick is a candidate whose fewest
differences from any point before it are as many as any candidate's, ties drawn at random, so a first
batch repeats no option of any parameter while every parameter has an option left untried.

Example:
    >>> from retort.agents.space import SearchSpace
    >>> from retort.agents.parameters import CategoricalParameter
    >>> space = SearchSpace(parameters=[CategoricalParameter(name=n, values=list("abcd")) for n in "xyz"])
    >>> picks = space_filling(space, 4, seed=0, taken=[], method="maximin")
    >>> [len({space.point_at(i)[n] for i in picks}) for n in "xyz"]  # every option of every parameter once
    [4, 4, 4]
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from retort.agents.errors import PlanningError
from retort.agents.parameters import Value
from retort.agents.space import SearchSpace

BatchSelection = Literal["sequential", "joint"]  # how a model-based batch is chosen in a continuous space (`BayesianPlanner`)
POOL = 4096  # candidates drawn at random to choose from, in a larger space

InitialDesign = Literal["random", "levels", "maximin", "kmeans"]


def default_size(budget: int, batch_size: int, space: SearchSpace) -> int:
    """How many experiments an initial design has unless a campaign says: two per parameter, at least a batch. Where a
    molecule parameter generates, at least a fifth of the budget, up to every listed molecule: the model screens
    thousands of molecules nobody measured, and from a handful of measurements it ranks the neighbours of the best one
    above everything else (on GuacaMol's celecoxib rediscovery, one seed list: 5 listed molecules first reached 0.278
    after 60 evaluations, 20 reached 0.381; benchmarks/generative.py measures the rest)."""
    size = max(batch_size, 2 * len(space.parameters))
    for p in space.open:
        size = max(size, min(len(p.labels), budget // 5))
    return min(budget, size)


def scaled_candidates(space: SearchSpace, index: np.ndarray, encoded: bool = True) -> np.ndarray:
    """The candidates at `index`, encoded (or one-hot, `encoded=False`) and scaled per parameter as the module
    docstring says."""
    blocks, index = [], np.asarray(index, dtype=np.int64)
    for p in reversed(space.parameters):
        index, digit = np.divmod(index, len(p.labels))
        table = p.table() if encoded else np.eye(len(p.labels))
        span = table.max(axis=0) - table.min(axis=0)
        unit = (table - table.min(axis=0)) / np.where(span > 0, span, 1.0)
        diameter = max(float(np.sqrt(_sq_distances(unit, unit).max())), 1e-12)
        blocks.append(unit[digit] / diameter)
    return np.concatenate(blocks[::-1], axis=1)


def space_filling(space: SearchSpace, n: int, seed: int, taken: list[dict[str, Value]],
                  method: Literal["levels", "maximin", "kmeans"] = "maximin") -> list[int]:
    """`n` candidate indices that spread over the space, away from the `taken` points (measured, pending or
    rejected) and never one of them, nor an excluded candidate.

    ``maximin``: greedily the candidate farthest from everything taken or picked (the first, when nothing is
    taken, at random). ``levels``: ``maximin`` over the options rather than their encoding, ties at random.
    ``kmeans``: k-means over the candidates (k-means++ start, seeded), then the candidate nearest each centre;
    with points already taken it is ``maximin``. All choose among all untried candidates, or `POOL` of them
    drawn at random in a larger space.
    """
    rng = np.random.default_rng(seed)
    skip = space.excluded_indices() | {space.index_of(p) for p in taken}
    total = space.n_candidates()
    if total - len(skip) < n:
        raise PlanningError(f"only {total - len(skip)} untried candidates are left; cannot choose {n}")
    if total - len(skip) <= POOL:
        pool = np.array([i for i in range(total) if i not in skip], dtype=np.int64)
        if method == "levels":  # many candidates tie on option counts: take the first of them in random order
            pool = rng.permutation(pool)
    else:
        pool = np.unique(rng.integers(0, total, size=2 * POOL))
        pool = rng.permutation(pool[~np.isin(pool, list(skip))])[:POOL]
    encoded = method != "levels"
    X = scaled_candidates(space, pool, encoded)
    if method == "kmeans" and not taken:
        return [int(pool[i]) for i in _kmeans_medoids(X, n, rng)]
    nearest = np.full(len(pool), np.inf)
    if taken:
        T = scaled_candidates(space, np.array([space.index_of(p) for p in taken], dtype=np.int64), encoded)
        nearest = _sq_distances(X, T).min(axis=1)
    picks: list[int] = []
    for _ in range(n):
        i = int(rng.integers(len(pool))) if not np.isfinite(nearest).any() else int(np.argmax(nearest))
        picks.append(i)
        nearest = np.minimum(nearest, _sq_distances(X, X[i : i + 1])[:, 0])
        nearest[picks] = -np.inf
    return [int(pool[i]) for i in picks]


def _sq_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.maximum((A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T, 0.0)


def _kmeans_medoids(X: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 30) -> list[int]:
    """Rows of `X` nearest the centres of a k-means clustering (k-means++ start, Lloyd's iterations), distinct."""
    centres = [X[int(rng.integers(len(X)))]]
    for _ in range(1, k):
        d = _sq_distances(X, np.array(centres)).min(axis=1)
        centres.append(X[int(rng.choice(len(X), p=d / d.sum()))] if d.sum() > 0 else X[int(rng.integers(len(X)))])
    C = np.array(centres)
    for _ in range(iterations):
        label = _sq_distances(X, C).argmin(axis=1)
        moved = np.array([X[label == j].mean(axis=0) if (label == j).any() else C[j] for j in range(k)])
        if np.allclose(moved, C):
            break
        C = moved
    picks: list[int] = []
    D = _sq_distances(X, C)
    for j in range(k):
        order = np.argsort(D[:, j])
        picks.append(int(next(i for i in order if i not in picks)))
    return picks
