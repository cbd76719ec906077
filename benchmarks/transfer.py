"""Warm starts on a reaction grid split by substrate: a campaign for one aryl halide started from another one's finished
campaign, against a cold start, and from a deliberately unrelated source.

Buchwald-Hartwig (Ahneman et al. 2018; 15 aryl halides x 264 conditions: 22 additives x 3 bases x 4 ligands). A campaign
searches the conditions for one aryl halide (batch 5, a first batch of 5 spread over the options, budget 50, answers
looked up in the grid). Pairs, fixed before any run: each aryl bromide is the source for the iodide of the same arene (5
pairs; their yields over the 264 conditions correlate 0.85-0.94). For every seed:
- ``cold``: the iodide's campaign alone (Retort's default planner);
- the bromide's own cold campaign of 50 experiments is the source (a finished campaign);
- ``warm``: the iodide's campaign warm-started from it (`BayesianPlanner(sources=...)`, as `warm_start:` builds it);
- ``unrelated``: warm-started from the same campaign with its yields shuffled across its experiments (tells nothing).

Printed per planner: experiments until the best measured yield is within 5 % of the iodide's best in the grid (>= 0.95 x
its maximum; median over pairs and seeds, with the runs that never got there within 50), paired against cold, the
learned correlation at the last fit, how often the joint model was used, and CPU s per proposal (fit + propose).

    .venv/bin/python benchmarks/transfer.py --seeds 10 --jobs 2 --results transfer.jsonl
    .venv/bin/python benchmarks/transfer.py --from-results transfer.jsonl          # the table again
    .venv/bin/python benchmarks/transfer.py --rules loo correlation always --seeds 5   # when the sources are used
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired import run_kept, sign_test  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "simulators" / "data" / "edbo" / "buchwald_hartwig_ahneman2018_experiment_index.csv"
ARENES = ["CCc1ccc({})cc1", "COc1ccc({})cc1", "FC(F)(F)c1ccc({})cc1", "{}c1ccccn1", "{}c1cccnc1"]
PAIRS = [(a.format("Br"), a.format("I")) for a in ARENES]  # (source, target)
BATCH, INITIAL, BUDGET, WITHIN = 5, 5, 50, 0.95
COLUMNS = {"additive": "Additive_SMILES", "base": "Base_SMILES", "ligand": "Ligand_SMILES"}


@dataclass
class Run:
    planner: str  # cold, warm:<rule>, unrelated:<rule>
    seed: int
    target: str
    to_target: int | None  # experiments until within 5 % of the target's best (None: not within the budget)
    best: float
    correlation: float | None = None  # learned at the last fit
    used: list = field(default_factory=list)  # per fit: whether the joint model was used
    seconds: list = field(default_factory=list)  # CPU s per proposal


def grid() -> tuple[object, dict[str, dict[tuple, float]]]:
    """The conditions' search space and, per aryl halide, its yield at each condition (missing ones left out)."""
    import pandas as pd

    from retort.agents.parameters import MoleculeParameter
    from retort.agents.space import SearchSpace

    data = pd.read_csv(GRID)
    space = SearchSpace(parameters=[MoleculeParameter(name=p, values=sorted(data[c].unique())) for p, c in COLUMNS.items()])
    yields = {halide: {tuple(r[c] for c in COLUMNS.values()): float(r["yield"]) for _, r in rows.iterrows()}
              for halide, rows in data.groupby("Aryl_halide_SMILES")}
    return space, yields


def campaign(space, yields: dict[tuple, float], seed: int, sources=None, rule: str = "loo") -> tuple[list, dict]:
    """One campaign to the budget; returns its observations and what its fits said."""
    import torch

    from retort.agents.planners import BayesianPlanner
    from retort.agents.proposal import Observation
    from retort.surrogates.summary import RELATEDNESS, WARM_START

    torch.set_num_threads(1)
    missing = [dict(zip(COLUMNS, key)) for key in (tuple(p.values()) for p in map(space.point_at, range(space.n_candidates())))
               if key not in yields]
    space = space.model_copy(update={"excluded": missing}) if missing else space
    planner = BayesianPlanner({"yield": 1.0}, n_initial=INITIAL, seed=seed, sources=sources, warm_start_rule=rule)
    observations, info = [], {"used": [], "correlation": None, "seconds": []}
    while len(observations) < BUDGET:
        started = time.process_time()
        model = planner.fit(space, observations)
        proposals = planner.propose(space, observations, [], BATCH, model)
        if model is not None:
            info["seconds"].append(time.process_time() - started)
            learned = model.summary.hyperparameters
            if WARM_START in learned:
                info["used"].append(bool(learned[WARM_START][0]))
                info["correlation"] = next(v[0] for k, v in learned.items() if k.startswith(RELATEDNESS))
        for p in proposals:
            observations.append(Observation(params=p.params, objectives={"yield": yields[tuple(p.params[k] for k in COLUMNS)]}))
    return observations, info


def to_target(observations: list, best: float) -> int | None:
    return next((i + 1 for i, o in enumerate(observations) if o.objectives["yield"] >= WITHIN * best), None)


def run_pair(source: str, target: str, seed: int, rules: list[str]) -> list[Run]:
    space, yields = grid()
    best = max(yields[target].values())
    out = []
    cold, info = campaign(space, yields[target], seed)
    out.append(Run("cold", seed, target, to_target(cold, best), max(o.objectives["yield"] for o in cold), seconds=info["seconds"]))
    finished, _ = campaign(space, yields[source], seed)  # the source: the bromide's own finished campaign
    shuffled = np.random.default_rng(10_000 + seed).permutation([o.objectives["yield"] for o in finished]).tolist()
    unrelated = [o.model_copy(update={"objectives": {"yield": y}}) for o, y in zip(finished, shuffled)]
    for rule in rules:
        for name, sources in (("warm", finished), ("unrelated", unrelated)):
            obs, info = campaign(space, yields[target], seed, {source: sources}, rule)
            out.append(Run(f"{name}:{rule}", seed, target, to_target(obs, best), max(o.objectives["yield"] for o in obs),
                           info["correlation"], info["used"], info["seconds"]))
    return out


def report(runs: list[Run]) -> None:
    planners = sorted({r.planner for r in runs}, key=lambda p: (p != "cold", p))
    cold = {(r.seed, r.target): r for r in runs if r.planner == "cold"}
    steps = lambda r: r.to_target if r.to_target is not None else BUDGET + 1  # noqa: E731
    print(f"\nBuchwald-Hartwig by aryl halide, {len(PAIRS)} bromide -> iodide pairs, seeds {sorted({r.seed for r in runs})}: "
          f"experiments until within {100 - WITHIN * 100:.0f} % of the iodide's best yield (budget {BUDGET})")
    print(f"{'planner':<22} {'median':>7} {'never':>6} {'vs cold (fewer-more, p)':>24} {'ratio to cold':>14} "
          f"{'correlation':>12} {'joint used':>11} {'CPU s/prop':>11}")
    for p in planners:
        mine = [r for r in runs if r.planner == p]
        median = statistics.median(steps(r) for r in mine)
        never = sum(r.to_target is None for r in mine)
        pairs = [(steps(r), steps(cold[(r.seed, r.target)])) for r in mine if (r.seed, r.target) in cold]
        fewer, more, p_value = sign_test([a for a, _ in pairs], [b for _, b in pairs], lower_is_better=True)
        versus = "-" if p == "cold" else f"{fewer}-{more} (p = {p_value:.2g})"
        ratio = "-" if p == "cold" else f"{statistics.median(steps(r) for r in mine) / statistics.median(b for _, b in pairs):.2f}"
        corr = [r.correlation for r in mine if r.correlation is not None]
        used = [u for r in mine for u in r.used]
        seconds = [s for r in mine for s in r.seconds]
        print(f"{p:<22} {median if median <= BUDGET else '>' + str(BUDGET):>7} {never:>6} {versus:>24} {ratio:>14} "
              f"{(f'{statistics.median(corr):+.2f}' if corr else '-'):>12} {(f'{sum(used)}/{len(used)}' if used else '-'):>11} "
              f"{statistics.mean(seconds) if seconds else 0:>11.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--rules", nargs="+", default=["loo"], choices=["loo", "correlation", "always"])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--results", type=Path, help="JSON lines: every run, appended as its pair finishes")
    parser.add_argument("--from-results", type=Path, help="report the runs stored in this file instead of running them")
    args = parser.parse_args()
    if args.from_results:
        report([Run(**json.loads(line)) for line in args.from_results.read_text().splitlines()])
        return
    tasks = [(run_pair, (s, t, seed, args.rules)) for seed in range(args.first_seed, args.first_seed + args.seeds) for s, t in PAIRS]
    runs: list[Run] = list(run_kept(tasks, args.jobs, args.results,
                                    lambda r: f"{r.planner} seed {r.seed} {r.target}: {r.to_target} best {r.best:.1f} "
                                              f"corr {r.correlation} used {sum(r.used)}/{len(r.used)}"))
    report(runs)


if __name__ == "__main__":
    main()
