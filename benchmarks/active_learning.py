"""Learning a model of a whole space: labels needed to reach a target error, learn mode against random and max-variance labelling.

On the six complete reaction grids (the example campaigns' spaces and encodings, answers looked up in the measured
grid) and FreeSolv (642 molecules, experimental hydration free energy, the default molecule encoding), each
strategy labels in batches of 20 from the same first batch (the campaign's space-filling design, seed by seed) until
the campaign's GP, fitted on the labels so far, predicts every row of the dataset with R^2 >= the target (0.8), or
the label cap is reached. Every strategy is scored with the same model (the GP a learn campaign fits: `LearnPlanner.fit`),
so only the choice of labels differs:

- ``learn``: `agents.learning.LearnPlanner`, a 5-member committee's disagreement between trust levels fixed before
  any run as a user would write them in the data's units (yield: lower 2 %, upper 40 %; FreeSolv: 0.3 and 5 kcal/mol),
  the lower level adaptive (at least a batch of candidates each round); among the candidates, those whose measurement
  removes the most of the GP's predictive variance over the space (Cohn's integrated variance reduction);
- ``disagreement``: the same committee and trust levels, candidates labelled most disagreed-upon first (DP-GEN's order);
- ``variance``: the same GP's predictive standard deviation, greedy with fantasies (plain maximum-variance labelling);
- ``random``: uniform draws without replacement.

Prints per dataset: median labels to the target (runs that never got there count as the cap and are listed), the
learn mode's labels as a share of random's (median of paired ratios), paired sign counts, suspects ever labelled by
the learn mode (must be 0), and CPU seconds per round. ``--results`` keeps (and resumes from) every run.

    .venv/bin/python benchmarks/active_learning.py --seeds 10 --results al.jsonl
    .venv/bin/python benchmarks/active_learning.py --datasets freesolv ni_borylation --seeds 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
FREESOLV = ROOT.parent / "shared" / "datasets" / "freesolv" / "database.txt"

from paired import load, run_kept  # noqa: E402
from reaction_grids import EXAMPLES, GRIDS  # noqa: E402

BATCH, TARGET, MEMBERS = 20, 0.8, 5
CAP = {"freesolv": 320}  # labels at most (default below): past it a run has not reached the target
DEFAULT_CAP = 400
LEVELS = {"freesolv": (0.3, 5.0)}  # (lower, upper) in the data's units; yields in %: (2, 40)
YIELD_LEVELS = (2.0, 40.0)
STRATEGIES = ("learn", "disagreement", "variance", "random")


@dataclass
class Run:
    dataset: str
    strategy: str
    seed: int
    labels: list[int]  # after each round
    r2: list[float]  # the model's R^2 over every row, after each round
    suspect_labelled: int  # learn: labels the committee called suspect when it proposed them (-1: not checked, an earlier version)
    cpu_seconds: float  # per round: fit + propose + scoring


def dataset(name: str):
    """The dataset's search space (unmeasured combinations excluded), its rows' encoded inputs and values, the objective's
    name, and each row's candidate index in the space."""
    import numpy as np
    import torch

    if name == "freesolv":
        from retort.agents.parameters import MoleculeParameter
        from retort.agents.space import SearchSpace

        rows = [line.split("; ") for line in FREESOLV.read_text().splitlines() if line and not line.startswith("#")]
        smiles, values = [r[1] for r in rows], [float(r[3]) for r in rows]
        space = SearchSpace(parameters=[MoleculeParameter(name="molecule", values=smiles)])
        index = list(range(len(smiles)))
        return space, space.candidates(np.array(index)), torch.tensor(values, dtype=torch.double), "value", index
    from retort.orchestrator.campaign import load_campaign
    from retort.simulators.lookup import GridLookup

    campaign = load_campaign(EXAMPLES / GRIDS[name])
    lookup = GridLookup.from_packaged(campaign.lab.dataset, campaign.lab.output)
    column = {p.name: campaign.lab.columns.get(p.name, p.name) for p in campaign.parameters}
    space = campaign.space
    index, values, missing = [], [], []
    for i in range(space.n_candidates()):
        point = space.point_at(i)
        key = tuple(point[next(n for n, c in column.items() if c == col)] for col in lookup.columns)
        if key in lookup.table:
            index.append(i)
            values.append(lookup.table[key])
        else:
            missing.append(point)
    space = space.model_copy(update={"excluded": list(space.excluded) + missing}) if missing else space
    return space, space.candidates(np.array(index)), torch.tensor(values, dtype=torch.double), campaign.objectives[0].name, index


def run(name: str, strategy: str, seed: int) -> Run:
    import torch

    from retort.agents.learning import LearnPlanner, TrustLevels
    from retort.agents.objectives import Goal, Objective
    from retort.agents.planners import RandomPlanner
    from retort.agents.proposal import Observation

    torch.set_num_threads(1)
    space, X_all, y_all, objective, index = dataset(name)
    position = {i: k for k, i in enumerate(index)}  # candidate index -> row
    goal = Goal(objectives=[Objective(name=objective, goal="maximize")])
    lower, upper = LEVELS.get(name, YIELD_LEVELS)
    scorer = LearnPlanner(goal, TrustLevels(lower=lower, upper=upper, keep=BATCH), n_initial=BATCH, seed=seed, members=MEMBERS,
                          score={"variance": "variance", "disagreement": "disagreement"}.get(strategy, "information"))
    planner = RandomPlanner(seed=seed) if strategy == "random" else scorer
    cap = CAP.get(name, DEFAULT_CAP)
    observations, labels, r2, suspect, seconds = [], [], [], 0, []

    def value(point) -> float:
        return float(y_all[position[space.index_of(point)]])

    first = scorer.propose(space, [], [], BATCH)  # the same space-filling first batch for every strategy
    observations += [Observation(params=p.params, objectives={objective: value(p.params)}) for p in first]
    while True:
        started = time.process_time()
        model = scorer.fit(space, observations)
        with torch.no_grad():
            mean = model.model.posterior(X_all).mean.reshape(-1)
        score = 1 - float(((mean - y_all) ** 2).sum()) / float(((y_all - y_all.mean()) ** 2).sum())
        labels.append(len(observations))
        r2.append(score)
        if score >= TARGET or len(observations) >= cap:
            seconds.append(time.process_time() - started)
            break
        proposals = planner.propose(space, observations, [], BATCH, model if strategy != "random" else None)
        seconds.append(time.process_time() - started)
        if strategy == "learn":  # checked here, not taken from the planner: the committee's disagreement at each proposal
            suspect += int((model.disagreement(space.encode([p.params for p in proposals])) > upper).sum())
        observations += [Observation(params=p.params, objectives={objective: value(p.params)}) for p in proposals]
    return Run(name, strategy, seed, labels, r2, suspect, statistics.mean(seconds))


AT = (100, 200, 400)  # label counts the R^2 table reports


def r2_at(r: Run, n: int) -> float | None:
    """The run's R^2 with `n` labels (the last round at or below `n`); None if the run stopped short of `n` without
    reaching the target (a cap below `n`)."""
    before = [s for k, s in zip(r.labels, r.r2) if k <= n]
    if not before or (r.labels[-1] < n and r.r2[-1] < TARGET):
        return None
    return before[-1]


def reached(r: Run, cap: int) -> int:
    """Labels when the target was first reached; the cap + 1 when never (counts as worse than any that did)."""
    return next((n for n, s in zip(r.labels, r.r2) if s >= TARGET), cap + 1)


def suspects(runs: list[Run], dataset: str) -> str:
    """Suspect candidates the learn mode labelled, over the runs that checked ('n/a' where none did)."""
    checked = [r.suspect_labelled for r in runs if r.dataset == dataset and r.strategy == "learn" and r.suspect_labelled >= 0]
    return str(sum(checked)) if checked else "n/a"


def report(runs: list[Run]) -> None:
    names = [d for d in [*GRIDS, "freesolv"] if any(r.dataset == d for r in runs)]
    strategies = [s for s in STRATEGIES if any(r.strategy == s for r in runs)]
    print(f"\nlabels to R^2 >= {TARGET} over every row (batch {BATCH}; median over seeds; '>cap': not reached)")
    print(f"{'dataset':<20}{'cap':>5}" + "".join(f"{s:>12}" for s in strategies) + f"{'learn/random':>14}{'learn vs random':>17}"
          f"{'learn vs var':>14}{'suspect':>9}{'CPU s/round':>13}")
    wins = 0
    for d in names:
        cap = CAP.get(d, DEFAULT_CAP)
        by = {s: {r.seed: reached(r, cap) for r in runs if r.dataset == d and r.strategy == s} for s in strategies}
        seeds = sorted(set.intersection(*(set(v) for v in by.values())))
        if not seeds:
            continue
        med = {s: statistics.median(by[s][k] for k in seeds) for s in strategies}
        cpu = {s: statistics.mean(r.cpu_seconds for r in runs if r.dataset == d and r.strategy == s) for s in strategies}
        text = lambda v: f">{cap}" if v > cap else f"{v:g}"
        row = f"{d:<20}{cap:>5}" + "".join(f"{text(med[s]):>12}" for s in strategies)
        if not {"learn", "random"} <= set(strategies):  # the comparisons need both
            print(row + f"{'-':>14}{'-':>17}{'-':>14}{suspects(runs, d):>9}" + "".join(f"  {s} {cpu[s]:.1f}" for s in strategies) + f"  ({len(seeds)} seeds)")
            continue
        ratio = statistics.median(by["learn"][k] / by["random"][k] for k in seeds)
        wins += ratio <= 0.5
        vs = lambda other: f"{sum(by['learn'][k] < by[other][k] for k in seeds)}-{sum(by['learn'][k] > by[other][k] for k in seeds)}"
        print(row + f"{ratio:>14.2f}{vs('random'):>17}{vs('variance') if 'variance' in strategies else '-':>14}"
              f"{suspects(runs, d):>9}{cpu['learn']:>7.1f}/{cpu['random']:.1f}  ({len(seeds)} seeds)")
    print(f"\nlearn mode at <= 50 % of random's labels (median paired ratio) on {wins} of {len(names)} datasets")
    print(f"\nR^2 over every row after n labels, median over seeds (a run that reached {TARGET} and stopped keeps its last value)")
    print(f"{'dataset':<20}" + "".join(f"{f'{s} @{n}':>16}" for n in AT for s in strategies))
    for d in names:
        cells = []
        for n in AT:
            for s in strategies:
                values = [r2_at(r, n) for r in runs if r.dataset == d and r.strategy == s]
                values = [v for v in values if v is not None]
                cells.append(f"{statistics.median(values):.2f}" if values else "-")
        print(f"{d:<20}" + "".join(f"{c:>16}" for c in cells))
    for d in names:
        for s in strategies:
            never = [r.seed for r in runs if r.dataset == d and r.strategy == s and reached(r, CAP.get(d, DEFAULT_CAP)) > CAP.get(d, DEFAULT_CAP)]
            if never:
                print(f"  {d} {s}: never reached the target in seeds {never}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=[*GRIDS, "freesolv"], choices=[*GRIDS, "freesolv"])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", type=Path, help="JSON lines: every run, kept and resumed from")
    args = parser.parse_args()
    done = load(args.results, Run)
    have = {(r.dataset, r.strategy, r.seed) for r in done}
    todo = [(d, s, k) for k in range(args.first_seed, args.first_seed + args.seeds) for d in args.datasets for s in args.strategies
            if (d, s, k) not in have]
    done += run_kept([(run, job) for job in todo], args.workers, args.results,
                     lambda r: f"{r.dataset} {r.strategy} seed {r.seed}: {reached(r, CAP.get(r.dataset, DEFAULT_CAP))} labels "
                               f"(R^2 {r.r2[-1]:.3f}), {r.cpu_seconds:.1f} CPU s/round")
    wanted = {(d, s) for d in args.datasets for s in args.strategies}
    report([r for r in done if (r.dataset, r.strategy) in wanted and args.first_seed <= r.seed < args.first_seed + args.seeds])


if __name__ == "__main__":
    main()
