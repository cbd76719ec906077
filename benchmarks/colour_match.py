"""Retort's qLogNEI planner against the random planner on the virtual colour lab.

Runs the example campaign (40 experiments, batch 4) once per seed and planner through the loop's
own steps (the same functions the Prefect flow calls, without Prefect's start-up), and prints,
per budget, the median (and min-max) best measured colour distance over seeds. At the final
budget it also prints the noise-free distance of each planner's best measured recipe, and the
mean wall time of a qLogNEI proposal.

    .venv/bin/python benchmarks/colour_match.py            # 5 seeds
    .venv/bin/python benchmarks/colour_match.py --seeds 10
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

from campaign_runs import run_campaign, variant
from retort.orchestrator import loop
from retort.orchestrator.campaign import load_campaign
from retort.simulators import ColourBench, VirtualClock

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "colour_match.yaml"


def run_once(seed: int, planner: str) -> tuple[list[float], dict, float, int]:
    done = run_campaign(variant(load_campaign(EXAMPLE), seed, planner), clock=time.perf_counter)
    return done.trace(), loop.best(done.campaign, done.experiments).params, done.propose_seconds, done.proposals


def true_distance(params: dict) -> float:
    campaign = load_campaign(EXAMPLE)
    target = campaign.objectives[0].target
    bench = ColourBench(seed=0, clock=VirtualClock(), pipetting_cv=0, reader_noise=0)
    return math.sqrt(sum((bench.true_absorbance(params, int(k[1:])) - t) ** 2 for k, t in target.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    planners = ["qLogNEI", "random"]
    traces = {p: [] for p in planners}
    finals = {p: [] for p in planners}
    seconds, count = 0.0, 0
    wall = time.perf_counter()
    for seed in range(args.seeds):
        for planner in planners:
            trace, params, s, n = run_once(seed, planner)
            traces[planner].append(trace)
            finals[planner].append(true_distance(params))
            seconds, count = seconds + s, count + n
            print(f"seed {seed} {planner:8s} best measured distance {trace[-1]:.4f}", flush=True)
    budgets = list(range(8, len(traces["qLogNEI"][0]) + 1, 4))
    print(f"\nColour matching, virtual lab, batch 4, {args.seeds} seeds: best measured colour distance (AU), median [min-max]")
    print(f"{'budget':>6} | {'qLogNEI':>24} | {'random':>24} | ratio qLogNEI/random")
    for b in budgets:
        cells = []
        medians = []
        for p in planners:
            values = [t[b - 1] for t in traces[p]]
            medians.append(statistics.median(values))
            cells.append(f"{medians[-1]:.4f} [{min(values):.4f}-{max(values):.4f}]")
        print(f"{b:>6} | {cells[0]:>24} | {cells[1]:>24} | {medians[0] / medians[1]:.2f}")
    print("\nnoise-free distance of the best measured recipe at the final budget, median: "
          + ", ".join(f"{p} {statistics.median(finals[p]):.4f}" for p in planners))
    print(f"qLogNEI fit+propose wall time per batch: {seconds / max(count, 1):.1f} s (mean of {count}); total {time.perf_counter() - wall:.0f} s")


if __name__ == "__main__":
    main()
