"""Retort's planner on the virtual colour lab: modelling the raw readings (composite, the default) against
modelling the colour distance itself, and against random.

Runs the example campaign (40 experiments, batch 4) once per seed and planner through the loop's own steps
(the functions the Prefect flow calls, without Prefect's start-up) and prints, per budget, the median (and
min-max) best measured colour distance over seeds. At the final budget it also prints the noise-free
distance of each planner's best measured recipe, and each planner's mean CPU time per proposal.

    .venv/bin/python benchmarks/colour_match.py            # 5 seeds
    .venv/bin/python benchmarks/colour_match.py --seeds 10
    .venv/bin/python benchmarks/colour_match.py --planners composite composite@4x128   # optimiser effort
    .venv/bin/python benchmarks/colour_match.py --planners composite composite+ftol6    # GP fit tolerance
    .venv/bin/python benchmarks/colour_match.py --planners composite composite+joint composite+iter200 random

`composite@RxS`: the composite planner with R restarts from the best of S raw samples when optimising the
acquisition (the default is the planner's own, `BayesianPlanner.num_restarts` x `raw_samples`). Flags after a
model's name: `+ftol6` (the GP fit stops at a relative tolerance of 1e-6, `GPSettings.ftol`), `+joint` (the batch
optimised jointly, as before sequential batches were the default), `+iterN` (N optimiser iterations per member of a
sequential batch).

It also prints the waste: the share of model-based proposals that the model itself ruled out when it proposed
them (mean + 3 sd not better than the best measured, `Provenance.ruled_out`).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from campaign_runs import run_campaign, variant
from paired import sign_test
from retort.agents.planners import BayesianPlanner
from retort.orchestrator.campaign.results import best
from retort.orchestrator.campaign import load_campaign
from retort.simulators import ColourBench, VirtualClock
from retort.surrogates.gp import GPSettings

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "colour_match.yaml"
PLANNERS = {  # name -> (the campaign's planner, whether its model is of the readings)
    "composite": ("qLogNEI", True),
    "distance": ("qLogNEI", False),
    "random": ("random", None),
}


def parse(name: str) -> tuple[str, dict[str, int], dict]:
    """``base[@RxS][+flag...]`` -> the base planner, the optimiser effort and the planner's other settings."""
    head, *flags = name.split("+")
    base, _, effort = head.partition("@")
    settings: dict = {}
    for flag in flags:
        if flag == "ftol6":
            settings["gp"] = GPSettings(ftol=1e-6)
        elif flag == "joint":
            settings["batch_selection"] = "joint"
        elif flag.startswith("iter") and flag[4:].isdigit():
            settings["member_iterations"] = int(flag[4:])
        else:
            raise ValueError(flag)
    if base not in PLANNERS or (effort and not (base == "composite" and _effort(effort))) or (flags and base == "random"):
        raise ValueError(name)
    return base, _effort(effort), settings


def planner_name(name: str) -> str:
    """A name in `PLANNERS`, or `composite@RxS` (restarts x raw samples), with optional flags after a model's name."""
    try:
        parse(name)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name!r}: expected one of {sorted(PLANNERS)} or composite@RxS, e.g. composite@4x128, "
                                         "optionally followed by +ftol6, +joint or +iterN") from None
    return name


def _effort(text: str) -> dict[str, int]:
    restarts, _, raw = text.partition("x")
    return {"num_restarts": int(restarts), "raw_samples": int(raw)} if restarts.isdigit() and raw.isdigit() else {}


def run_once(seed: int, name: str) -> tuple[list[float], dict, list[float], tuple[int, int]]:
    base, effort, settings = parse(name)
    planner, composite = PLANNERS[base]
    campaign = variant(load_campaign(EXAMPLE), seed, planner)
    custom = None if composite is None else BayesianPlanner(campaign.goal, n_initial=campaign.initial_design, seed=seed, composite=composite,
                                                            **effort, **settings)
    done = run_campaign(campaign, planner=custom)
    return done.trace(), best(done.campaign, done.experiments).params, done.proposal_seconds, done.waste()


def run_task(task: tuple[int, str]):
    import torch

    torch.set_num_threads(1)  # CPU seconds comparable with the other benchmarks (and not inflated by thread contention)
    return run_once(*task)


def true_distance(params: dict) -> float:
    campaign = load_campaign(EXAMPLE)
    target = campaign.objectives[0].target
    bench = ColourBench(seed=0, clock=VirtualClock(), pipetting_cv=0, reader_noise=0)
    return math.sqrt(sum((bench.true_absorbance(params, int(k[1:])) - t) ** 2 for k, t in target.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--planners", nargs="+", type=planner_name, default=["composite", "distance", "random"],
                        help=f"of {', '.join(PLANNERS)}, or composite@RxS (optimiser restarts x raw samples)")
    parser.add_argument("--jobs", type=int, default=1, help="campaigns at once (one process each)")
    args = parser.parse_args()
    planners = args.planners
    traces = {p: [] for p in planners}
    finals = {p: [] for p in planners}
    cpu = {p: [] for p in planners}
    dead = {p: [0, 0] for p in planners}
    wall = time.perf_counter()
    tasks = [(seed, planner) for seed in range(args.seeds) for planner in planners]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(run_task, tasks))  # in the order of `tasks`
    for (seed, planner), (trace, params, seconds, (ruled_out, modelled)) in zip(tasks, results):
        dead[planner][0] += ruled_out
        dead[planner][1] += modelled
        traces[planner].append(trace)
        finals[planner].append(true_distance(params))
        cpu[planner] += seconds
        print(f"seed {seed} {planner:10s} best measured distance {trace[-1]:.4f}, noise-free {finals[planner][-1]:.4f}, "
              f"ruled out {ruled_out}/{modelled}", flush=True)
    budgets = list(range(8, len(traces[planners[0]][0]) + 1, 4))
    print(f"\nColour matching, virtual lab, batch 4, {args.seeds} seeds: best measured colour distance (AU), median [min-max]")
    print(f"{'budget':>6} | " + " | ".join(f"{p:>24}" for p in planners))
    for b in budgets:
        cells = []
        for p in planners:
            values = [t[b - 1] for t in traces[p]]
            cells.append(f"{statistics.median(values):.4f} [{min(values):.4f}-{max(values):.4f}]")
        print(f"{b:>6} | " + " | ".join(f"{c:>24}" for c in cells))
    print("\nnoise-free distance of the best measured recipe at the final budget, median: "
          + ", ".join(f"{p} {statistics.median(finals[p]):.4f}" for p in planners))
    first = planners[0]
    for p in planners[1:]:  # paired by seed, at the final budget
        measured = sign_test([t[-1] for t in traces[p]], [t[-1] for t in traces[first]], lower_is_better=True)
        noise_free = sign_test(finals[p], finals[first], lower_is_better=True)
        print(f"{p} against {first}, better-worse over seeds (sign test p): best measured {measured[0]}-{measured[1]} "
              f"(p = {measured[2]:.2g}), its noise-free distance {noise_free[0]}-{noise_free[1]} (p = {noise_free[2]:.2g})")
    print("dead model-based proposals (the model's own mean + 3 sd did not beat the best measured), share: "
          + ", ".join(f"{p} {d[0]}/{d[1]} = {d[0] / d[1]:.0%}" if d[1] else f"{p} - (no model)" for p, d in dead.items()))
    print("CPU s per model-based proposal (fit + propose), mean: "
          + ", ".join(f"{p} {statistics.mean(cpu[p]):.2f}" for p in planners if cpu[p]) + f"; total {time.perf_counter() - wall:.0f} s wall")


if __name__ == "__main__":
    main()
