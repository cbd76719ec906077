"""Dry-wet planning by cost on BoTorch's synthetic multi-fidelity functions, on a grid (the cost-aware planner chooses
among a finite set of candidates): `AugmentedBranin` (2 inputs, 30 x 30 grid) and `AugmentedHartmann` (6 inputs, 3
levels each: 729 candidates; 4 levels would be 8,192 (candidate, fidelity) pairs, minutes per round here). The truth is the function at fidelity s = 1; the cheap source is the same function at
s = 0.5 (`cheap`), or that source's values shuffled across the grid (`shuffled`: it tells nothing). Costs: cheap 1,
truth 10 (`--ratio`). Goal: the grid's smallest truth value and its 1 % smallest, at the least total cost; planners as
in `dry_wet.py` (random and qLogNEI at the truth; cost-aware over cheap + truth), paired by seed, the same first batch.

    .venv/bin/python benchmarks/dry_wet_synthetic.py --seeds 20 --jobs 2
"""

from __future__ import annotations

import argparse
import itertools
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dry_wet import Run, report, simulate  # noqa: E402  (the same loop and table as FreeSolv's)

PROBLEMS = {"branin": 30, "hartmann": 3}  # levels per input
PLANNERS = ("random", "wet", "dry-wet", "dry-wet-shuffled-only")


def problem(name: str):
    """The grid as a search space, and the function's values at s = 0.5 and s = 1 on every grid point, in grid order."""
    import torch
    from botorch.test_functions.multi_fidelity import AugmentedBranin, AugmentedHartmann

    from retort.agents.parameters import DiscreteParameter
    from retort.agents.space import SearchSpace

    levels = PROBLEMS[name]
    if name == "branin":
        function = AugmentedBranin()
        axes = [np.linspace(-5, 10, levels), np.linspace(0, 15, levels)]
    else:
        function = AugmentedHartmann()
        axes = [np.linspace(0.1, 0.85, levels)] * 6
    parameters = [DiscreteParameter(name=f"x{i + 1}", values=[round(float(v), 6) for v in axis]) for i, axis in enumerate(axes)]
    space = SearchSpace(parameters=parameters)
    grid = torch.tensor([[space.point_at(i)[p.name] for p in parameters] for i in range(space.n_candidates())], dtype=torch.double)
    at = {s: function(torch.cat([grid, torch.full((len(grid), 1), s, dtype=torch.double)], dim=-1)).numpy() for s in (0.5, 1.0)}
    return space, at[0.5], at[1.0]


def run(name: str, planner: str, seed: int, ratio: float) -> Run:
    space, cheap, truth = problem(name)
    if planner == "dry-wet-shuffled-only":
        cheap = np.random.default_rng(10_000 + seed).permutation(cheap)
    index = {tuple(sorted(space.point_at(i).items())): i for i in range(space.n_candidates())}
    value = {"wet": lambda p: float(truth[index[tuple(sorted(p.items()))]]),
             "cheap": lambda p: float(cheap[index[tuple(sorted(p.items()))]])}
    order = np.argsort(truth)
    top = max(1, round(0.01 * len(truth)))
    goal = {"best": {tuple(sorted(space.point_at(int(order[0])).items()))},
            "top 1%": {tuple(sorted(space.point_at(int(i)).items())) for i in order[:top]}}
    out = simulate(planner, seed, space, value, {"cheap": 1.0, "wet": ratio}, goal, cap=60 * ratio)
    out.planner = planner
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    parser.add_argument("--planners", nargs="+", default=list(PLANNERS), choices=PLANNERS)
    parser.add_argument("--ratio", type=float, default=10.0, help="what a truth experiment costs, the cheap source costing 1")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for name in args.problems:
            jobs = list(itertools.product(args.planners, range(args.seeds)))
            runs = list(pool.map(run, [name] * len(jobs), [p for p, _ in jobs], [s for _, s in jobs], [args.ratio] * len(jobs)))
            print(f"\n== {name}: cheap = the function at s = 0.5 (cost 1), truth s = 1 (cost {args.ratio:g}); cap 60 truth experiments' worth")
            report(runs, [], costs={"cheap": 1.0, "wet": args.ratio}, cap=60 * args.ratio)


if __name__ == "__main__":
    main()
