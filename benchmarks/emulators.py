"""Planners on continuous Olympus emulators, Retort's default side by side with BayBE 0.15 and random in one run.

The labs are the GP emulators of Olympus' scattered flow SnAr (minimise impurity) and flow Suzuki (maximise
yield) datasets (`retort.simulators.emulator`, the example campaigns `snar_emulated.yaml` and
`flow_suzuki_emulated.yaml`; the direction is each dataset's `default_goal` in its config.json). Batch 5,
budget 50, seeds 0..N-1. Every planner's k-th experiment (k = 1..50, in the order proposed) of seed s is
answered by the same rule as the emulator lab's: `DatasetEmulator.measure(point, seed=s * 1_000_003 + k)`
(latent mean plus the fitted noise), so the results pair by seed.

    nice -n 10 .venv/bin/python benchmarks/emulators.py                           # 20 seeds, both emulators
    nice -n 10 .venv/bin/python benchmarks/emulators.py --seeds 3 --emulators snar
    nice -n 10 .venv/bin/python benchmarks/emulators.py --results out.jsonl       # keep (and resume from) every campaign
    nice -n 10 .venv/bin/python benchmarks/emulators.py --ftol6 --no-baybe        # also the default with GPSettings(ftol=1e-6)

Planners: `Retort default` is what a campaign file that names only parameters, objectives, lab, batch size
and budget gets (qLogNEI; its default initial design: max(batch, 2 x parameters) = 8 Sobol points, which at
batch 5 makes two Sobol batches); `BayBE 0.15` is a BayBE campaign with `NumericalContinuousParameter`s and its
default recommender and surrogate (a random first batch), run in its own environment
(`peers/baybe_env.py`) and measured here over a JSON-lines pipe (`peers/baybe_loop.py`); `random` is Retort's
uniform random planner.

Prints per emulator and planner: best-so-far after 5, 10, 20, 30 and 50 experiments (mean and median over
seeds, as measured: with the emulator's noise), the latent (noise-free) emulator mean at the final best
point, experiments until the best-so-far is within 1 % of the dataset's range of the dataset's best measured
value (threshold fixed before any run: best - 0.01 x (max - min) when maximising, best + 0.01 x (max - min)
when minimising; median and worst over seeds, '>50' = not reached, and how many seeds never got there), and
mean CPU seconds per model-based proposal (fit + propose; BayBE: per `recommend` after its random first batch;
`time.process_time()` with one torch thread in every process), and the share of Retort's model-based proposals its
model ruled out when it proposed them (mean + 3 sd not better than the best measured). Then paired sign tests (over seeds) of Retort
default against BayBE and against random on the final best-so-far.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from paired import DEAD_NOTE, dead_share, load, sign_test  # noqa: E402

EMULATORS = {"snar": "snar_emulated.yaml", "suzuki": "flow_suzuki_emulated.yaml"}  # dataset -> example campaign
RETORT, BAYBE, RANDOM = "Retort default", "BayBE 0.15", "random"
RETORT_FTOL = "Retort ftol6"  # --ftol6: the default with GPSettings(ftol=1e-6)
PLANNERS = (RETORT, RETORT_FTOL, BAYBE, RANDOM)
CHECKPOINTS = (5, 10, 20, 30, 50)
BUDGET, BATCH = 50, 5
WITHIN = 0.01  # of the dataset's range, from its best measured value
SEED_STRIDE = 1_000_003  # the emulator lab's rule: experiment k of seed s is answered with seed s * SEED_STRIDE + k


@dataclass(frozen=True)
class Result:
    emulator: str
    planner: str
    seed: int
    values: list[float]  # as measured (with the emulator's noise), in the order measured
    means: list[float]  # the emulator's latent mean at the same points
    cpu_seconds: list[float]  # per model-based proposal
    waste: Optional[list[int]] = None  # Retort: [model-based proposals its model ruled out when proposing them, all model-based]


@dataclass(frozen=True)
class Dataset:
    """What the threshold is computed from: the packaged data, before any campaign runs."""

    name: str
    output: str
    sign: int  # +1 maximise, -1 minimise (config.json's default_goal)
    best: float
    low: float
    high: float
    rows: int

    @property
    def threshold(self) -> float:
        return self.best - self.sign * WITHIN * (self.high - self.low)


def dataset(name: str) -> Dataset:
    import numpy as np

    folder = resources.files("retort.simulators") / "data" / "olympus" / name
    config = json.loads((folder / "config.json").read_text())
    with resources.as_file(folder / "data.csv") as path:
        data = np.loadtxt(path, delimiter=",", ndmin=2)
    output = config["measurements"][0]["name"]
    y = data[:, len(config["parameters"])]
    sign = {"maximize": 1, "minimize": -1}[config["default_goal"]]
    return Dataset(name, output, sign, float(y.max() if sign > 0 else y.min()), float(y.min()), float(y.max()), len(y))


def trace(values: list[float], sign: int) -> list[float]:
    out: list[float] = []
    for v in values:
        out.append(v if not out or sign * (v - out[-1]) > 0 else out[-1])
    return out


def best_index(values: list[float], sign: int) -> int:
    return max(range(len(values)), key=lambda i: (sign * values[i], -i))


def reached(values: list[float], data: Dataset) -> int:
    """Experiments until the best-so-far is within the threshold; BUDGET + 1 if it never is."""
    return next((i + 1 for i, v in enumerate(trace(values, data.sign)) if data.sign * (v - data.threshold) >= 0), BUDGET + 1)


# -- campaigns --------------------------------------------------------------------------------------------
def campaign_for(name: str, planner: str, seed: int):
    """The example campaign with only what a user must write: parameters, objectives, lab, batch size, budget."""
    from retort.orchestrator.campaign import Campaign
    from retort.orchestrator.campaign.yamlfile import read_yaml

    example = read_yaml(EXAMPLES / EMULATORS[name])
    data = {k: example[k] for k in ("name", "parameters", "objectives", "lab")}
    data |= {"batch_size": BATCH, "budget": BUDGET, "seed": seed, "store": "sqlite://"}
    if planner == RANDOM:
        data["planner"] = "random"
    campaign = Campaign.model_validate(data)
    info = dataset(name)
    objective = campaign.objectives[0]
    if objective.name != info.output or objective.sign != info.sign:
        raise SystemExit(f"{EMULATORS[name]}: objective {objective.name} ({objective.goal}) disagrees with config.json "
                         f"({info.output}, {'maximize' if info.sign > 0 else 'minimize'})")
    return campaign


@lru_cache(maxsize=None)
def emulator(name: str):
    from retort.simulators.emulator import DatasetEmulator

    return DatasetEmulator.from_packaged(name, dataset(name).output)


def answer(name: str, seed: int, k: int, point: dict) -> float:
    return emulator(name).measure(point, seed=seed * SEED_STRIDE + k).value


def latent(name: str, points: list[dict]) -> list[float]:
    return [float(v) for v in emulator(name).predict(points)[0]]


def run_retort(name: str, planner: str, seed: int) -> Result:
    import torch

    from campaign_runs import run_campaign

    torch.set_num_threads(1)
    campaign = campaign_for(name, planner, seed)
    custom = None
    if planner == RETORT_FTOL:
        from retort.agents.planners import BayesianPlanner
        from retort.surrogates.gp import GPSettings

        custom = BayesianPlanner(campaign.goal, n_initial=campaign.initial_design, seed=campaign.seed,
                                 initial=campaign.initial_design_method, gp=GPSettings(ftol=1e-6))
    done = run_campaign(campaign, planner=custom)
    output = campaign.objectives[0].name
    values = [e.objectives()[output] for e in done.experiments]
    points = [{k: float(v) for k, v in e.params.items()} for e in done.experiments]
    # the lab answered with the rule every planner here is answered by
    expected = [answer(name, seed, e.seq, p) for e, p in zip(done.experiments, points)]
    if [e.seq for e in done.experiments] != list(range(1, BUDGET + 1)) or any(abs(a - b) > 1e-9 * max(1, abs(a)) for a, b in zip(values, expected)):
        raise RuntimeError(f"{name} seed {seed}: the emulator lab's answers differ from the benchmark's seed rule")
    return Result(name, planner, seed, values, latent(name, points), done.proposal_seconds, list(done.waste()))


def baybe_job(name: str, seeds: list[int], budget: int = BUDGET) -> dict:
    campaign = campaign_for(name, RETORT, 0)
    objective = campaign.objectives[0]
    return {"name": name, "batch_size": BATCH, "budget": budget, "seeds": seeds,
            "target": {"name": objective.name, "minimize": objective.sign < 0},
            "parameters": [{"name": p.name, "low": float(p.lower), "high": float(p.upper)} for p in campaign.parameters]}


def run_baybe(name: str, seeds: list[int], budget: int = BUDGET, exe: Optional[Path] = None):
    """One Result per seed, as each BayBE campaign finishes."""
    import torch

    from peers.baybe_env import run_loop

    torch.set_num_threads(1)
    for r in run_loop(baybe_job(name, seeds, budget), lambda seed, k, point: answer(name, seed, k, point), exe=exe):
        if r["measured"] != r["values"]:
            raise RuntimeError(f"{name} seed {r['seed']}: BayBE holds {r['measured']}, but was sent {r['values']}")
        yield Result(name, BAYBE, r["seed"], r["values"], latent(name, r["points"]), r["cpu_seconds"])


# -- statistics -------------------------------------------------------------------------------------------
def steps_text(v: float) -> str:
    return f">{BUDGET}" if v > BUDGET else f"{v:g}"


def report(results: list[Result], names: list[str], seeds: list[int]) -> None:
    by = {(r.emulator, r.planner, r.seed): r for r in results}
    for name in names:
        data = dataset(name)
        digits = 3 if data.high - data.low < 10 else 1
        f = lambda v: f"{v:.{digits}f}"  # noqa: E731
        goal = "maximise" if data.sign > 0 else "minimise"
        print(f"\n{name}: {goal} {data.output}; dataset best {f(data.best)} of {data.rows} rows (range {f(data.low)}-{f(data.high)}); "
              f"threshold {data.output} {'>=' if data.sign > 0 else '<='} {data.threshold:.4g} (best {'-' if data.sign > 0 else '+'} 1 % of range); "
              f"batch {BATCH}, budget {BUDGET}, {len(seeds)} seeds")
        print(f"  {emulator(name).describe()}")
        print(f"{'planner':<15} | " + " | ".join(f"{'best@' + str(k) + ' mean/med':>17}" for k in CHECKPOINTS)
              + f" | {'latent@50':>9} | {'to threshold med/worst':>22} | never | dead | CPU s/proposal")
        for planner in PLANNERS:
            runs = [by.get((name, planner, s)) for s in seeds]
            if planner == RETORT_FTOL and not any(runs):
                continue
            if any(r is None for r in runs):
                print(f"{planner:<15} | (missing seeds {[s for s, r in zip(seeds, runs) if r is None]})")
                continue
            traces = [trace(r.values, data.sign) for r in runs]
            cells = [f"{f(statistics.mean(t[k - 1] for t in traces)) + ' / ' + f(statistics.median(t[k - 1] for t in traces)):>17}"
                     for k in CHECKPOINTS]
            lat = statistics.mean(r.means[best_index(r.values, data.sign)] for r in runs)
            steps = [reached(r.values, data) for r in runs]
            cpu = [c for r in runs for c in r.cpu_seconds]
            dead = dead_share([r.waste for r in runs])
            print(f"{planner:<15} | " + " | ".join(cells) + f" | {f(lat):>9} | "
                  f"{steps_text(statistics.median(steps)) + ' / ' + steps_text(max(steps)):>22} | {sum(v > BUDGET for v in steps):>5} | {dead:>4} | "
                  + (f"{statistics.mean(cpu):.2f}" if cpu else "-"))
    print("\n" + DEAD_NOTE)
    print(f"\nPaired sign tests on the best-so-far after {BUDGET} experiments (as measured), {RETORT} against each: better-worse "
          "(ties dropped), two-sided p")
    for other in [p for p in (BAYBE, RANDOM, RETORT_FTOL) if any(r.planner == p for r in results)]:
        pooled_a, pooled_b, per = [], [], []
        for name in names:
            pairs = [(by.get((name, RETORT, s)), by.get((name, other, s))) for s in seeds]
            pairs = [(a, b) for a, b in pairs if a and b]
            sign = dataset(name).sign
            a = [sign * trace(x.values, sign)[-1] for x, _ in pairs]
            b = [sign * trace(y.values, sign)[-1] for _, y in pairs]
            w, l, p = sign_test(a, b)
            per.append(f"{name} {w}-{l} p = {p:.3g}")
            pooled_a += a
            pooled_b += b
        w, l, p = sign_test(pooled_a, pooled_b)
        print(f"  vs {other:<11}: " + "; ".join(per) + f"; pooled {w}-{l} p = {p:.3g}")


# -- the run ----------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--emulators", nargs="+", choices=list(EMULATORS), default=list(EMULATORS))
    parser.add_argument("--results", type=Path, help="JSON-lines file: every finished campaign is appended, and campaigns already in it are not run again")
    parser.add_argument("--ftol6", action="store_true", help="also Retort's default with its GP fit stopped at a relative tolerance of 1e-6")
    parser.add_argument("--no-baybe", action="store_true", help="leave BayBE out (its campaigns already in --results are still reported)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    seeds = list(range(args.seeds))
    results = [r for r in load(args.results, Result) if r.emulator in args.emulators and r.seed in seeds]
    have = {(r.emulator, r.planner, r.seed) for r in results}
    started = time.time()

    def keep(r: Result) -> None:
        results.append(r)
        if args.results:
            with open(args.results, "a") as handle:
                handle.write(json.dumps(r.__dict__) + "\n")
        print(f"  done {r.emulator} {r.planner} seed {r.seed} ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)

    # one campaign at a time (one process, plus BayBE's while it recommends); blocks of 5 seeds, so that a run
    # stopped early (--results keeps what finished) has the same seeds for every emulator and planner
    for block in [seeds[i : i + 5] for i in range(0, len(seeds), 5)]:
        for name in args.emulators:
            for planner in (RETORT, RANDOM) + ((RETORT_FTOL,) if args.ftol6 else ()):
                for s in block:
                    if (name, planner, s) not in have:
                        keep(run_retort(name, planner, s))
            missing = [] if args.no_baybe else [s for s in block if (name, BAYBE, s) not in have]
            if missing:
                for r in run_baybe(name, missing):
                    keep(r)
    report(results, args.emulators, seeds)


if __name__ == "__main__":
    main()
