"""Planners on six complete reaction grids, Retort's settings side by side with BayBE 0.15 in one run.

Batch 5, budget 50, answers looked up in the measured grid, seeds 0..N-1 (the same seeds for every
planner, so results pair by seed). Prints per grid and planner: experiments until the best-so-far first
reaches the grid's top 1 % (99th-percentile yield; median and worst over seeds, '>50' = not reached),
how many seeds never got there, mean best yield after 5, 10, 20, 30 and 50 experiments, the share of
Retort's model-based proposals its model ruled out when it proposed them ("dead"), and mean CPU
seconds per model-based proposal (fit + propose; BayBE: per `recommend`). Then the aggregate over grids
(geometric mean of the per-grid medians, mean rank), paired sign tests of the default against every
other planner, and the leave-one-grid-out choice among Retort's settings (`--select`).

    .venv/bin/python benchmarks/reaction_grids.py                      # default vs BayBE (Mordred, one-hot) and random, 20 seeds
    .venv/bin/python benchmarks/reaction_grids.py --retort onehot mordred+gamma --peers --seeds 5 --grids suzuki
    .venv/bin/python benchmarks/reaction_grids.py --results out.jsonl   # keep (and resume from) every campaign's yields

A Retort setting is written ENCODING[+FLAG...]: the molecule encoding (`default`: what a campaign that
names none gets; `descriptors`, `mordred`, `morgan_count`, `onehot`), then `gamma` (Matern-5/2 with
EDBO's dimension-aware Gamma priors instead of BoTorch's defaults), `chen` (Matern-5/2 with the adaptive
Gamma priors BayBE 0.15 uses for substances, `GPSettings.priors`), `logei` (qLogEI over the best posterior
mean instead of qLogNEI, as BayBE), `mc512` (512 quasi-Monte-Carlo posterior samples in the acquisition, BoTorch's
default, which BayBE keeps, instead of Retort's 128), `balanced` (BoTorch's dimension-scaled lengthscale prior
counted per parameter, not per column: `GPSettings.balanced`), `additive` (one kernel per
component, summed), `ftol6` (the GP fit stops at a relative tolerance of 1e-6), `levels` / `maximin` / `kmeans` / `random0` (the first batch's design). `random` is uniform
random sampling without replacement. CPU seconds are `time.process_time()` with one torch thread per
process, as in ../shared/notes/measured-peers.md. `asbaybe` is BayBE 0.15's pipeline for substances built from
Retort's parts: mordred+chen+logei+mc512+random0 (Mordred decorrelated at 0.7, inputs min-max scaled, the CHEN kernel
and likelihood, qLogEI from 512 samples, a random first batch, greedy discrete batches over every untried candidate).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from paired import DEAD_NOTE, dead_share, load, run_kept, sign_test  # noqa: E402

GRIDS = {  # benchmark name -> example campaign (its lab names the packaged grid)
    "suzuki": "suzuki.yaml",
    "buchwald_hartwig": "buchwald_hartwig.yaml",
    "deoxyfluorination": "deoxyfluorination.yaml",
    "amide_coupling": "amide_coupling.yaml",
    "ni_borylation": "ni_borylation.yaml",
    "aryl_scope_ligand": "aryl_scope_ligand.yaml",
}
ENCODINGS = ("default", "descriptors", "mordred", "morgan_count", "onehot")
FLAGS = ("gamma", "chen", "logei", "mc512", "balanced", "additive", "ftol6", "levels", "maximin", "kmeans", "random0")
AS_BAYBE = "mordred+chen+logei+mc512+random0"  # BayBE 0.15's pipeline for substances, built from Retort's parts
BAYBE = ("MORDRED", "ONEHOT")
CHECKPOINTS = (5, 10, 20, 30, 50)
BUDGET, BATCH = 50, 5


@dataclass(frozen=True)
class Result:
    grid: str
    planner: str
    seed: int
    yields: list[float]  # in the order measured
    cpu_seconds: list[float]  # per model-based proposal
    waste: Optional[list[int]] = None  # Retort: [model-based proposals its model ruled out when proposing them, all model-based]

    def trace(self) -> list[float]:
        best, out = -math.inf, []
        for y in self.yields:
            best = max(best, y)
            out.append(best)
        return out

    def reached(self, threshold: float) -> int:
        """Experiments until the best-so-far reaches `threshold`; BUDGET + 1 if it never does."""
        return next((i + 1 for i, v in enumerate(self.trace()) if v >= threshold), BUDGET + 1)


def set_budget(budget: int) -> None:
    """Campaigns of `budget` experiments (the checkpoints past it are dropped)."""
    global BUDGET, CHECKPOINTS
    BUDGET, CHECKPOINTS = budget, tuple(k for k in (5, 10, 20, 30, 50) if k <= budget)


def parse_setting(text: str) -> tuple[str, set[str]]:
    encoding, *flags = (AS_BAYBE if text == "asbaybe" else text).split("+")
    if encoding not in ENCODINGS or not set(flags) <= set(FLAGS):
        raise SystemExit(f"unknown Retort setting {text!r}: ENCODING[+FLAG...], encodings {ENCODINGS}, flags {FLAGS}")
    return encoding, set(flags)


def campaign_for(grid: str, setting: str, seed: int):
    from retort.orchestrator.campaign import load_campaign

    campaign = load_campaign(EXAMPLES / GRIDS[grid])
    data = campaign.model_dump() | {"seed": seed, "store": "sqlite://", "budget": BUDGET, "batch_size": BATCH, "initial_design": BATCH}
    if setting == "random":
        data["planner"] = "random"
    else:
        encoding, _ = parse_setting(setting)
        if encoding != "default":
            data["parameters"] = [p | {"encoding": encoding} if p.get("type") == "molecule" else p for p in data["parameters"]]
        else:  # what a user gets who names no encoding
            data["parameters"] = [{k: v for k, v in p.items() if k != "encoding"} for p in data["parameters"]]
    return type(campaign).model_validate(data)


def planner_for(campaign, setting: str):
    """The planner a setting names (None: the campaign's own)."""
    from retort.agents.planners import BayesianPlanner
    from retort.surrogates.gp import GPSettings

    if setting == "random" or parse_setting(setting)[0] == "default" and not parse_setting(setting)[1]:
        return None
    _, flags = parse_setting(setting)
    initial = next((f for f in ("levels", "maximin", "kmeans", "random0") if f in flags), None)
    options = {"initial": {"random0": "random"}.get(initial, initial)} if initial else {}
    priors = next((f for f in ("gamma", "chen") if f in flags), "botorch")
    return BayesianPlanner(campaign.goal, n_initial=campaign.initial_design, seed=campaign.seed,
                           acquisition="qLogEI" if "logei" in flags else "qLogNEI", mc_samples=512 if "mc512" in flags else 128,
                           gp=GPSettings(priors=priors, additive="additive" in flags, ftol=1e-6 if "ftol6" in flags else None,
                                         balanced="balanced" in flags), **options)


def run_retort(grid: str, setting: str, seed: int, budget: int = BUDGET) -> Result:
    import torch

    from campaign_runs import run_campaign

    torch.set_num_threads(1)
    set_budget(budget)  # in a worker process
    campaign = campaign_for(grid, setting, seed)
    done = run_campaign(campaign, planner=planner_for(campaign, setting))
    yields = [e.objectives()["yield"] for e in done.experiments]
    return Result(grid, setting, seed, yields, done.proposal_seconds, list(done.waste()))


def run_baybe(grid: str, encoding: str, seeds: list[int], budget: int = BUDGET) -> list[Result]:
    from peers.baybe_env import run as baybe_run

    set_budget(budget)  # in a worker process
    spec = grid_spec(grid)
    return [Result(grid, f"BayBE {r['encoding']}", r["seed"], r["yields"], r["cpu_seconds"]) for r in baybe_run(spec, seeds, [encoding])]


def grid_spec(grid: str) -> dict:
    """The grid as the BayBE runner reads it: parameters (label -> SMILES) and every row with its yield."""
    from retort.orchestrator.campaign import load_campaign
    from retort.simulators.lookup import GridLookup

    campaign = load_campaign(EXAMPLES / GRIDS[grid])
    lookup = GridLookup.from_packaged(campaign.lab.dataset, "yield")
    column = {p.name: campaign.lab.columns.get(p.name, p.name) for p in campaign.parameters}
    parameters = [{"name": p.name, "smiles": dict(zip(p.labels, p.smiles))} for p in campaign.parameters]
    rows = [[dict(zip(lookup.columns, key))[column[p.name]] for p in campaign.parameters] + [value] for key, value in lookup.table.items()]
    return {"grid": grid, "batch_size": BATCH, "budget": BUDGET, "parameters": parameters, "rows": rows}


def threshold(grid: str) -> float:
    from retort.orchestrator.campaign import load_campaign
    from retort.simulators.lookup import GridLookup

    return GridLookup.from_packaged(load_campaign(EXAMPLES / GRIDS[grid]).lab.dataset).quantile(0.99)


# -- statistics -------------------------------------------------------------------------------------------
def geometric_mean(values: Iterable[float]) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


def text(v: float) -> str:
    return f">{BUDGET}" if v > BUDGET else f"{v:g}"


# -- the run ----------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--grids", nargs="+", choices=list(GRIDS), default=list(GRIDS))
    parser.add_argument("--retort", nargs="*", default=["default"], help="Retort settings (ENCODING[+FLAG...]; none: --retort with no names); the first planner is 'the default' in the comparisons")
    parser.add_argument("--peers", nargs="*", choices=BAYBE, default=list(BAYBE), help="BayBE 0.15 variants (none: --peers with no names)")
    parser.add_argument("--no-random", action="store_true", help="leave out the random baseline")
    parser.add_argument("--select", action="store_true", help="leave-one-grid-out choice among the --retort settings")
    parser.add_argument("--results", type=Path, help="JSON-lines file: every finished campaign is appended, and campaigns already in it are not run again")
    parser.add_argument("--jobs", type=int, default=2, help="campaigns at once (one process each)")
    parser.add_argument("--budget", type=int, default=BUDGET, help="experiments per campaign (e.g. 10 to compare first batches by best@5 and best@10)")
    parser.add_argument("--report-only", action="store_true", help="run nothing: report the --results file over the seeds every grid and "
                                                                  "planner has (a run stopped early, or several files joined)")
    args = parser.parse_args()
    set_budget(args.budget)
    for s in args.retort:
        parse_setting(s)
    seeds = list(range(args.seeds))
    results = [r for r in load(args.results, Result) if r.grid in args.grids and r.seed in seeds]
    have = {(r.grid, r.planner, r.seed) for r in results}
    planners = list(args.retort) + ([] if args.no_random else ["random"])
    if args.report_only:
        names = planners + [f"BayBE {e}" for e in args.peers]
        complete = [s for s in seeds if all((g, p, s) in have for g in args.grids for p in names)]
        print(f"{len(complete)} of {len(seeds)} seeds complete for every grid and planner: {complete}", file=sys.stderr)
        report(results, args.grids, names, complete, args.retort if args.select else [])
        return
    tasks = [(run_retort, (g, p, s, BUDGET)) for g in args.grids for p in planners for s in seeds if (g, p, s) not in have]
    tasks += [(run_baybe, (g, e, missing, BUDGET)) for g in args.grids for e in args.peers
              if (missing := [s for s in seeds if (g, f"BayBE {e}", s) not in have])]
    # BayBE's long tasks first, so they overlap Retort's; then seed by seed, so that a run stopped early (--results keeps
    # what finished) has the same seeds for every grid and planner
    tasks.sort(key=lambda t: (t[0] is run_retort, t[1][2] if t[0] is run_retort else 0))
    print(f"{len(tasks)} tasks ({sum(t[0] is run_baybe for t in tasks)} BayBE), {args.jobs} at once", file=sys.stderr, flush=True)
    results += run_kept(tasks, args.jobs, args.results, lambda r: f"done {r.grid} {r.planner} seed {r.seed}")
    report(results, args.grids, planners + [f"BayBE {e}" for e in args.peers], seeds, args.retort if args.select else [])


def report(results: list[Result], grids: list[str], planners: list[str], seeds: list[int], candidates: list[str]) -> None:
    by = {(r.grid, r.planner, r.seed): r for r in results}
    steps: dict[tuple[str, str], list[int]] = {}
    for grid in grids:
        top = threshold(grid)
        print(f"\n{grid}: top 1 % = yield >= {top:.2f}, batch {BATCH}, budget {BUDGET}, {len(seeds)} seeds")
        print(f"{'planner':<28} | {'to top-1 % median / worst':>25} | never | " + " | ".join(f"best@{k:<2}" for k in CHECKPOINTS) + " | dead | CPU s/proposal")
        for planner in planners:
            runs = [by[(grid, planner, s)] for s in seeds]
            steps[grid, planner] = [r.reached(top) for r in runs]
            cpu = [c for r in runs for c in r.cpu_seconds]
            at = {k: statistics.mean(r.trace()[k - 1] for r in runs) for k in CHECKPOINTS}
            median, per = statistics.median(steps[grid, planner]), f"{statistics.mean(cpu):.2f}" if cpu else "-"
            dead = dead_share([r.waste for r in runs])
            print(f"{planner:<28} | {text(median) + ' / ' + text(max(steps[grid, planner])):>25} | {sum(v > BUDGET for v in steps[grid, planner]):>5} | "
                  + " | ".join(f"{at[k]:7.1f}" for k in CHECKPOINTS) + f" | {dead:>4} | {per}")
    print("\n" + DEAD_NOTE)
    print(f"\nAggregate over {len(grids)} grids (>{BUDGET} counted as {BUDGET + 1}): geometric mean of median experiments to top 1 %, mean rank")
    ranks = {p: [] for p in planners}
    for grid in grids:
        for p in planners:
            ranks[p].append(1 + sum(statistics.median(steps[grid, q]) < statistics.median(steps[grid, p]) for q in planners))
    last = CHECKPOINTS[-1]
    final = {(g, p): [-by[(g, p, s)].trace()[last - 1] for s in seeds] for g in grids for p in planners}  # negated: fewer is better
    print(f"{'planner':<28} | geo-mean | mean rank | " + " | ".join(f"best@{k} (mean over grids)" for k in CHECKPOINTS[:2]))
    for p in planners:
        at = [statistics.mean(statistics.mean(by[(g, p, s)].trace()[k - 1] for s in seeds) for g in grids) for k in CHECKPOINTS[:2]]
        print(f"{p:<28} | {geometric_mean(statistics.median(steps[g, p]) for g in grids):8.1f} | {statistics.mean(ranks[p]):9.2f} | "
              + " | ".join(f"{v:24.1f}" for v in at))
    first = planners[0]
    for label, table in (("fewer / more experiments to top 1 %", steps), (f"higher / lower best yield after {last} experiments", final)):
        print(f"\nPaired sign tests, {first} against each (over every grid's seeds: {label}, p)")
        for p in planners[1:]:
            wins, losses, pv = sign_test([v for g in grids for v in table[g, first]], [v for g in grids for v in table[g, p]], lower_is_better=True)
            per = ", ".join("{} {}-{}".format(g, *sign_test(table[g, first], table[g, p], lower_is_better=True)[:2]) for g in grids)
            print(f"  vs {p:<26}: {wins}-{losses}, p = {pv:.3g}   ({per})")
    if len(candidates) > 1:
        select(steps, grids, candidates)


def select(steps: dict[tuple[str, str], list[int]], grids: list[str], candidates: list[str]) -> None:
    """Leave one grid out: choose the candidate with the best geometric mean of medians on the other grids, then
    show how it does on the grid left out (it was not chosen on it)."""
    print("\nLeave-one-grid-out: chosen on the other grids (geometric mean of medians), shown on the one left out")
    for held in grids:
        others = [g for g in grids if g != held]
        score = {c: geometric_mean(statistics.median(steps[g, c]) for g in others) for c in candidates}
        chosen = min(candidates, key=score.__getitem__)
        best = min(candidates, key=lambda c: statistics.median(steps[held, c]))
        print(f"  {held:<18}: chosen {chosen} ({score[chosen]:.1f} on the others); on {held}: {text(statistics.median(steps[held, chosen]))}"
              f" (best candidate there: {best}, {text(statistics.median(steps[held, best]))})")


if __name__ == "__main__":
    main()
