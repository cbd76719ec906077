"""Retort on the two measured reaction grids: chemical encodings vs one-hot vs random.

Batch 5, budget 50, first batch random (seeded), answers looked up in the grid. Prints, per grid
and planner: experiments until the best-so-far first reaches the grid's top 1 % yield (median and
worst over seeds; '>50' = not reached), mean best yield after 5, 10, 20, 30, 50 experiments, and
mean CPU seconds per proposal (fit + propose). Compare with ../shared/notes/measured-peers.md.

    .venv/bin/python benchmarks/reaction_grids.py --seeds 20
    .venv/bin/python benchmarks/reaction_grids.py --seeds 5 --grids buchwald_hartwig
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from campaign_runs import run_campaign, variant
from retort.orchestrator.campaign import load_campaign
from retort.simulators.lookup import GridLookup

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GRIDS = {"suzuki": "suzuki_perera2018", "buchwald_hartwig": "buchwald_hartwig_ahneman2018"}
VARIANTS = {
    "descriptors": ("qLogNEI", "descriptors"),
    "morgan": ("qLogNEI", "morgan_count"),
    "onehot": ("qLogNEI", "onehot"),
    "random": ("random", "onehot"),
}
CHECKPOINTS = (5, 10, 20, 30, 50)


def run_once(grid: str, variant_name: str, seed: int) -> tuple[list[float], float, int]:
    planner, encoding = VARIANTS[variant_name]
    done = run_campaign(variant(load_campaign(EXAMPLES / f"{grid}.yaml"), seed, planner, encoding))
    return done.trace(), done.propose_seconds, done.proposals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--grids", nargs="+", choices=sorted(GRIDS), default=sorted(GRIDS))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the peers were measured: CPU seconds are the comparable figure
    for grid in args.grids:
        threshold = GridLookup.from_packaged(GRIDS[grid]).quantile(0.99)
        print(f"\n{grid}: top 1 % = yield >= {threshold:.2f} %, batch 5, budget 50, {args.seeds} seeds", flush=True)
        print(f"{'planner':<12} | {'to top-1 % (median / worst)':>27} | " + " | ".join(f"best@{k:<2}" for k in CHECKPOINTS) + " | CPU s/proposal")
        for variant in args.variants:
            reached, at, cpu, n = [], {k: [] for k in CHECKPOINTS}, 0.0, 0
            for seed in range(args.seeds):
                trace, seconds, proposals = run_once(grid, variant, seed)
                hit = next((i + 1 for i, v in enumerate(trace) if v >= threshold), None)
                reached.append(hit if hit is not None else 51)
                for k in CHECKPOINTS:
                    at[k].append(trace[k - 1])
                cpu, n = cpu + seconds, n + proposals
            median = statistics.median(reached)
            text = lambda v: ">50" if v > 50 else f"{v:g}"  # noqa: E731
            per = f"{cpu / n:.2f}" if n else "-"
            print(f"{variant:<12} | {text(median) + ' / ' + text(max(reached)):>27} | "
                  + " | ".join(f"{statistics.mean(at[k]):7.1f}" for k in CHECKPOINTS) + f" | {per}", flush=True)


if __name__ == "__main__":
    main()
