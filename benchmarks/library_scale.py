"""Score a 1,000,000-candidate library per iteration: time and peak memory.

The library is a product of 4 categorical parameters with 32 values each (32^4 = 1,048,576
candidates), each value described by `--columns` seeded random descriptors (d = 4 x columns).
With 100 observations of a smooth test function, the planner fits a GP and proposes a batch of
5 over the whole library, scored in chunks (analytic LogEI with Kriging-believer fantasies above
50,000 candidates; the first pick scans the library, later picks score it lazily). Prints CPU and wall seconds for fit and proposal, and the process's peak
resident memory. Goal: <= 10 s and <= 4 GB on 2 cores. Peers (../shared/notes/measured-peers.md):
BoTorch optimize_acqf_discrete + qLogNEI 373 CPU s and 1.7 GB at d = 16.

    .venv/bin/python benchmarks/library_scale.py                # d = 16
    .venv/bin/python benchmarks/library_scale.py --columns 64   # d = 256
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from retort.agents.parameters import CategoricalParameter
from retort.agents.planners import BayesianPlanner
from retort.agents.proposal import Observation
from retort.agents.space import SearchSpace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=32, help="values per parameter (4 parameters)")
    parser.add_argument("--columns", type=int, default=4, help="descriptor columns per parameter")
    parser.add_argument("--observations", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    parameters = []
    for k in range(4):
        values = [f"v{i}" for i in range(args.values)]
        table = rng.normal(size=(args.values, args.columns))
        parameters.append(CategoricalParameter(name=f"p{k}", values=values, encoding="descriptors",
                                               descriptors={v: row.tolist() for v, row in zip(values, table)}))
    space = SearchSpace(parameters=parameters)
    n, d = space.n_candidates(), space.dim
    w = rng.normal(size=d)

    def f(point) -> float:
        x = space.encode([point])[0].numpy()
        return float(np.sin(x @ w / np.sqrt(d)) + 0.1 * np.sum(x[: args.columns] ** 2))

    obs = [Observation(params=p, objectives={"y": f(p)}) for p in space.sample_discrete(args.observations, seed=1)]
    planner = BayesianPlanner({"y": 1.0}, n_initial=5, seed=0)
    encoded = [0]
    candidates = SearchSpace.candidates

    def counted(self, index):  # how many candidates the planner encodes and scores
        encoded[0] += len(index)
        return candidates(self, index)

    SearchSpace.candidates = counted
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    c0, w0 = time.process_time(), time.perf_counter()
    model = planner.fit(space, obs)
    c1, w1 = time.process_time(), time.perf_counter()
    batch = planner.propose(space, obs, [], 5, model)
    c2, w2 = time.process_time(), time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"library {n:,} candidates, d = {d}, {len(obs)} observations, batch 5, {args.threads} threads")
    print(f"fit:     {c1 - c0:7.1f} CPU s  {w1 - w0:7.1f} wall s")
    print(f"propose: {c2 - c1:7.1f} CPU s  {w2 - w1:7.1f} wall s  (chunks of {planner.chunk}, {'LogEI + believer' if n > planner.large_library else 'qLogNEI'})")
    print(f"candidates scored: {encoded[0]:,} ({encoded[0] / n:.2f} x the library; later picks of the batch score lazily)")
    print(f"peak resident memory: {peak:,.0f} MB (before fitting: {before:,.0f} MB)")
    best = max(f(space.point_at(i)) for i in range(0, n, max(1, n // 20000)))
    print(f"proposed values: {[round(f(p.params), 3) for p in batch]}; best of a 1-in-{max(1, n // 20000)} scan of the library: {best:.3f}; best observed: {max(o.objectives['y'] for o in obs):.3f}")


if __name__ == "__main__":
    main()
