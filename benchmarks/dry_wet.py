"""Dry-wet planning by cost on FreeSolv: 642 molecules, each with an experimental hydration free energy (wet, the
truth), a GAFF alchemical free energy (dry, costly) and a GFN2-xTB + ALPB(water) solvation free energy computed live
(dry, cheap; kept in a computation store so a rerun computes nothing twice).

Goal: the most negative experimental value. Planners, paired by seed (every planner of a seed starts from the same
space-filling first batch of 5 wet measurements):
- ``random``: wet measurements at random, 5 at a time;
- ``wet``: Retort's default planner on the wet measurements alone (qLogNEI, batch 5, the molecule parameter's default
  encoding);
- ``dry-wet``: the cost-aware planner (`retort.agents.fidelity`) over xtb, gaff and wet;
- ``dry-wet-shuffled``: the same, with the xTB values shuffled across molecules (a dry source that tells nothing);
- ``dry-wet-shuffled-only``: the cost-aware planner over the shuffled xTB values and wet alone (its only dry source tells
  nothing: where multi-fidelity BO is known to lose to plain BO).

Printed: total cost (dry included), wet spend and dry spend to (a) the single most negative molecule and (b) the
first of the 1 % most negative measured wet, medians with the runs that never got there within the cap; the
correlations the joint model learned; and the RMSE over all 642 of the wet value predicted from random wet labels,
with and without every dry value.

    .venv/bin/python benchmarks/dry_wet.py --seeds 20 --jobs 2 --results runs.jsonl
    .venv/bin/python benchmarks/dry_wet.py --from-results runs.jsonl --rmse-seeds 5 --jobs 2   # the table again, RMSE on 5 seeds
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "freesolv" / "database.txt"
CACHE = Path(__file__).resolve().parent / ".cache" / "freesolv-xtb.sqlite"
COSTS = {"xtb": 1.0, "gaff": 100.0, "wet": 2000.0}
BATCH, INITIAL, CAP = 5, 5, 60  # wet batch, wet first batch, cap in wet experiments' worth of cost
PLANNERS = ("random", "wet", "dry-wet", "dry-wet-shuffled", "dry-wet-shuffled-only")


@dataclass
class Molecule:
    id: str
    smiles: str
    wet: float
    gaff: float
    xtb: float | None = None


def load(path: Path = DATA) -> list[Molecule]:
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        f = [x.strip() for x in line.split(";")]
        rows.append(Molecule(id=f[0], smiles=f[1], wet=float(f[3]), gaff=float(f[5])))
    return rows


def with_xtb(molecules: list[Molecule], cache: Path = CACHE) -> list[Molecule]:
    """Each molecule's GFN2-xTB ALPB(water) solvation free energy, from the computation store (computed once)."""
    from retort.instruments.computations import Job
    from retort.instruments.computations.engines import engine
    from retort.orchestrator.store import Store
    from retort.orchestrator.store.computations import ComputationStore

    cache.parent.mkdir(parents=True, exist_ok=True)
    store = ComputationStore(Store(f"sqlite:///{cache}"))
    xtb, fresh, cpu, failed = engine("xtb"), 0, 0.0, []
    for m in molecules:
        done = store.compute(Job(engine="xtb", method="GFN2-xTB", settings={"solvent": "water"}, seed=0, input=m.smiles), xtb)
        fresh += done.fresh
        cpu += done.outcome.cpu_seconds or 0.0
        if done.outcome.status == "done":
            m.xtb = done.outcome.values["solvation_free_energy"]
        else:
            failed.append(f"{m.id}: {done.outcome.message}")
    print(f"xtb: {len(molecules) - len(failed)} of {len(molecules)} computed ({fresh} now, the rest from {cache}; "
          f"{cpu:.0f} CPU s in all); failed: {failed or 'none'}", file=sys.stderr)
    return molecules


@dataclass
class Run:
    planner: str
    seed: int
    cost: dict = field(default_factory=dict)  # target -> (total, wet, dry) cost when first measured wet, or None
    wet: int = 0
    spend: dict = field(default_factory=dict)  # fidelity -> cost spent in all
    correlation: dict = field(default_factory=dict)  # last learned correlation with wet
    trace: list = field(default_factory=list)  # per model-based round: wet measured, learned correlations, the round's fidelities
    seconds: float = 0.0


def targets(molecules: list[Molecule]) -> dict[str, set[str]]:
    ordered = sorted(molecules, key=lambda m: m.wet)
    top = max(1, round(0.01 * len(molecules)))
    return {"best": {ordered[0].id}, "top 1%": {m.id for m in ordered[:top]}}


def space_of(molecules: list[Molecule]):
    from retort.agents.parameters import MoleculeParameter
    from retort.agents.space import SearchSpace

    return SearchSpace(parameters=[MoleculeParameter(name="molecule", values={m.id: m.smiles for m in molecules})])


def run(planner: str, seed: int, molecules: list[Molecule]) -> Run:
    """One FreeSolv campaign of `planner`: the values each fidelity gives, by molecule, and the targets."""
    by_id = {m.id: m for m in molecules}
    xtb = {m.id: m.xtb for m in molecules}
    if planner.startswith("dry-wet-shuffled"):
        ids = [m.id for m in molecules]
        xtb = dict(zip(ids, np.random.default_rng(10_000 + seed).permutation([xtb[i] for i in ids]).tolist()))
    value = {"wet": lambda p: by_id[p["molecule"]].wet, "gaff": lambda p: by_id[p["molecule"]].gaff, "xtb": lambda p: xtb[p["molecule"]]}
    costs = {k: COSTS[k] for k in (("xtb", "wet") if planner == "dry-wet-shuffled-only" else COSTS)}
    goal = {name: {(("molecule", i),) for i in ids} for name, ids in targets(molecules).items()}
    return simulate(planner, seed, space_of(molecules), value, costs, goal)


def simulate(planner: str, seed: int, space, value: dict, costs: dict[str, float], goal: dict[str, set], truth: str = "wet",
             batch: int = BATCH, initial: int = INITIAL, cap: float = CAP * COSTS["wet"]) -> Run:
    """One campaign, in memory, until every target in `goal` (name -> points, each as a sorted tuple of its items) is
    measured at the truth or the total cost reaches `cap`. `value`: fidelity -> the point's value there (None: the
    computation failed: paid for, never asked again); `costs`: the fidelities the cost-aware planner may use. The truth is
    minimised. Planners: random and wet (qLogNEI) at the truth only; the others cost-aware over `costs`."""
    import torch

    from retort.agents.fidelity import CostAwarePlanner, Fidelity
    from retort.agents.planners import BayesianPlanner
    from retort.agents.proposal import Observation

    torch.set_num_threads(1)
    started = time.process_time()
    out = Run(planner, seed, cost={t: None for t in goal})
    spend = {f: 0.0 for f in costs}
    observations: list[Observation] = []
    failed: list[tuple[dict, str]] = []
    wet_only = BayesianPlanner({"y": -1.0}, n_initial=initial, seed=seed)
    cost_aware = CostAwarePlanner("y", maximise=False, fidelities=[Fidelity(name=k, cost=v) for k, v in costs.items()],
                                  truth=truth, n_initial=initial, seed=seed, fallback=wet_only)  # as `retort run` builds it
    while sum(spend.values()) < cap and any(v is None for v in out.cost.values()):
        measured = [o for o in observations if o.fidelity == truth]
        if planner == "random":
            avoid = {space.index_of(o.params) for o in measured}
            picks = [(p, truth) for p in space.sample_discrete(batch, seed=seed * 100_003 + len(measured), avoid=avoid)]
        elif planner == "wet" or len(measured) < initial:  # the shared first batch comes from the wet planner's design
            plain = [o.model_copy(update={"fidelity": None}) for o in measured]
            proposals = wet_only.propose(space, plain, [], batch, wet_only.fit(space, plain))
            picks = [(p.params, truth) for p in proposals]
        else:
            model = cost_aware.fit(space, observations)
            out.correlation = {k: round(v, 3) for k, v in model.correlation.items()}
            proposals = cost_aware.propose(space, observations, [], batch, model, failed_pairs=failed)
            picks = [(p.params, p.fidelity) for p in proposals]
            out.trace.append([len(measured), {k: round(v, 2) for k, v in model.correlation.items() if k != truth},
                              "alone" if model.fallback is not None else sorted({f for _, f in picks})])
        for params, fidelity in picks:
            spend[fidelity] += costs[fidelity]
            y = value[fidelity](params)
            if y is None:
                failed.append((params, fidelity))
                continue
            observations.append(Observation(params=params, objectives={"y": y}, fidelity=fidelity))
            if fidelity == truth:
                out.wet += 1
                for name, points in goal.items():
                    if out.cost[name] is None and tuple(sorted(params.items())) in points:
                        dry = sum(v for k, v in spend.items() if k != truth)
                        out.cost[name] = (sum(spend.values()), spend[truth], dry)
    out.spend = spend
    out.seconds = time.process_time() - started
    return out


def rmse_runs(seed: int, molecules: list[Molecule], labels: tuple[int, ...] = (20, 40)) -> dict[str, float]:
    """RMSE over every molecule of the wet value predicted from `labels` random wet labels: the wet-only GP, and the
    joint model with every xtb value, every GAFF value, or both."""
    import torch

    from retort.agents.fidelity import CostAwarePlanner, Fidelity
    from retort.agents.planners import BayesianPlanner
    from retort.agents.proposal import Observation

    torch.set_num_threads(1)
    space = space_of(molecules)
    truth = np.array([m.wet for m in molecules])
    order = np.random.default_rng(20_000 + seed).permutation(len(molecules))
    everything = [space.point_at(i) for i in range(len(molecules))]
    out = {}
    for n in labels:
        wet = [Observation(params=space.point_at(int(i)), objectives={"dG": molecules[int(i)].wet}) for i in order[:n]]
        model = BayesianPlanner({"dG": -1.0}, n_initial=INITIAL, seed=seed).fit(space, wet)
        with torch.no_grad():
            predicted = model.model.posterior(space.encode(everything)).mean.reshape(-1).numpy()
        out[f"wet only, {n} labels"] = float(np.sqrt(np.mean((predicted - truth) ** 2)))
    n = min(labels)
    wet = [Observation(params=space.point_at(int(i)), objectives={"dG": molecules[int(i)].wet}, fidelity="wet") for i in order[:n]]
    for dry in (("xtb",), ("gaff",), ("xtb", "gaff")):
        fidelities = [Fidelity(name=k, cost=COSTS[k]) for k in (*dry, "wet")]
        planner = CostAwarePlanner("dG", maximise=False, fidelities=fidelities, truth="wet", n_initial=INITIAL, seed=seed)
        extra = [Observation(params=space.point_at(i), objectives={"dG": getattr(m, k)}, fidelity=k)
                 for k in dry for i, m in enumerate(molecules) if getattr(m, k) is not None]
        fitted = planner.fit(space, wet + extra)
        predicted = planner.predict(fitted, space, everything)[0]
        out[f"{n} labels + every {' and '.join(dry)} value"] = float(np.sqrt(np.mean((predicted - truth) ** 2)))
    return out


def median_text(values: list) -> str:
    found = [v for v in values if v is not None]
    missed = len(values) - len(found)
    if len(found) * 2 <= len(values):
        return f">cap ({missed} missed)"
    padded = sorted(found) + [math.inf] * missed
    return f"{statistics.median(padded):,.0f}" + (f" ({missed} missed)" if missed else "")


def report(runs: list[Run], rmse: list[dict], costs: dict[str, float] = COSTS, cap: float = CAP * COSTS["wet"]) -> None:
    print(f"\ncosts {costs}, wet batch {BATCH}, cap {cap:,.0f}; {len({r.seed for r in runs})} seeds")
    print("median cost to the target measured wet: total (wet, dry)")
    by = {p: [r for r in runs if r.planner == p] for p in PLANNERS if any(r.planner == p for r in runs)}
    for target in ("best", "top 1%"):
        print(f"  {target}:")
        for p, rs in by.items():
            total = [r.cost[target][0] if r.cost[target] else None for r in rs]
            wet = [r.cost[target][1] if r.cost[target] else None for r in rs]
            dry = [r.cost[target][2] if r.cost[target] else None for r in rs]
            print(f"    {p:18s} {median_text(total):>16s}   wet {median_text(wet):>14s}   dry {median_text(dry):>14s}")
    print("  paired, total cost to the target (fewer = better; ties and both-missed left out):")
    for target in ("best", "top 1%"):
        for p in [p for p in by if p.startswith("dry-wet")]:
            if "wet" not in by:
                continue
            a = {r.seed: r.cost[target][0] if r.cost[target] else math.inf for r in by[p]}
            b = {r.seed: r.cost[target][0] if r.cost[target] else math.inf for r in by["wet"]}
            seeds = sorted(set(a) & set(b))
            win = sum(a[s] < b[s] for s in seeds)
            lose = sum(a[s] > b[s] for s in seeds)
            ratios = [a[s] / b[s] for s in seeds if math.isfinite(a[s]) and math.isfinite(b[s])]
            print(f"    {target:7s} {p} vs wet: cheaper in {win}, dearer in {lose} of {len(seeds)}; median ratio "
                  f"{statistics.median(ratios):.2f}" if ratios else "")
    for p, rs in by.items():
        if p.startswith("dry-wet"):
            corr = {k: statistics.median(r.correlation.get(k, math.nan) for r in rs) for k in rs[0].spend}
            spend = {k: statistics.median(r.spend.get(k, 0.0) for r in rs) for k in rs[0].spend}
            print(f"  {p}: learned correlation with wet (median, last round) {json.dumps({k: round(v, 2) for k, v in corr.items()})}; "
                  f"median spend per fidelity {json.dumps(spend)}; median CPU s per run {statistics.median(r.seconds for r in rs):.0f}")
    if rmse:
        print(f"RMSE over all 642 of the predicted experimental value (kcal/mol), median over {len(rmse)} seeds:")
        for key in rmse[0]:
            print(f"    {key:40s} {statistics.median(r[key] for r in rmse):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--planners", nargs="+", default=list(PLANNERS), choices=PLANNERS)
    parser.add_argument("--rmse-seeds", type=int, help="seeds of the RMSE part (default: --seeds; each fits the joint model "
                        "on up to 1,304 values three times, 1-3 CPU min)")
    parser.add_argument("--from-results", type=Path, help="report the planner runs stored in this JSON-lines file instead of running them")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--results", type=Path, help="JSON lines: every run, appended as it finishes")
    args = parser.parse_args()
    molecules = with_xtb(load())
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [] if args.from_results else [(p, s) for s in seeds for p in args.planners]
    runs: list[Run] = [Run(**json.loads(line)) for line in args.from_results.read_text().splitlines()] if args.from_results else []
    rmse_seeds = seeds if args.rmse_seeds is None else range(args.first_seed, args.first_seed + args.rmse_seeds)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run, p, s, molecules) for p, s in jobs]
        rmse_futures = [pool.submit(rmse_runs, s, molecules) for s in rmse_seeds]
        for f in futures:
            r = f.result()
            runs.append(r)
            print(f"{r.planner} seed {r.seed}: {r.cost} spend {r.spend} corr {r.correlation} {r.seconds:.0f} CPU s", file=sys.stderr)
            if args.results:
                with args.results.open("a") as fh:
                    fh.write(json.dumps(asdict(r)) + "\n")
        rmse = [f.result() for f in rmse_futures]
    report(runs, rmse)


if __name__ == "__main__":
    main()
