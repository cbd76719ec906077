"""Instrument utilisation: 1, 2 and 4 virtual robots, batch versus asynchronous schedule.

Runs the colour-match example (`examples/colour_match.yaml`) through the campaign loop the Prefect flow runs
(`loop.drive`, on the batch or the asynchronous schedule; the plain steps, without Prefect's start-up) on
virtual robots whose simulated time passes as wall-clock time
scaled by `--time-scale` (0.05: a 4-minute robot run takes 12 s). Prints, per configuration:

- utilisation: each robot's busy time (dispensing and reading, as its clock slept) over the wall
  time from the start to the last result, averaged over robots;
- while work remained: the same, up to the moment the last experiment of the budget was handed to a
  robot (after it, idle robots have nothing left to do: the budget, not the schedule, idles them);
- idle per experiment: robot-seconds of idling (robots x wall - busy) per experiment, the cost of
  orchestration (planning, store, waiting for the batch) in instrument time;
- CPU per experiment: this process's CPU seconds (fitting, proposing, planning, store) per experiment.

    .venv/bin/python benchmarks/utilisation.py [--budget 64] [--time-scale 0.05] [--robots 1 2 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from retort.orchestrator import loop
from retort.orchestrator.campaign import load_campaign
from retort.orchestrator.store import Store

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "colour_match.yaml"


def measure(robots: int, schedule: str, budget: int, time_scale: float, folder: Path) -> dict[str, float]:
    base = load_campaign(EXAMPLE)
    lab = base.lab.model_copy(update={"robots": robots, "time_scale": time_scale})
    url = f"sqlite:///{folder / f'{robots}-{schedule}.db'}"
    campaign = base.model_copy(update={"budget": budget, "schedule": schedule, "lab": lab, "store": url,
                                       "name": f"utilisation-{robots}-{schedule}"})
    run = loop.open_run(campaign, store=Store(url))
    handed: list[float] = []

    def run_on(ref, instrument, seqs):
        handed.append(time.perf_counter())
        return loop.run_on(ref, instrument, seqs)

    steps = SimpleNamespace(**vars(loop.PLAIN) | {"run_on": run_on})
    start, cpu = time.perf_counter(), time.process_time()
    loop.drive(run, steps)
    end, cpu = time.perf_counter(), time.process_time() - cpu
    clocks = [lab.bench.clock for lab in run.labs.values()]
    busy = sum(c.busy_between(start, end) for c in clocks)
    busy_working = sum(c.busy_between(start, max(handed)) for c in clocks)
    done = sum(e.status == "measured" for e in run.experiments())
    wall = end - start
    return {"wall": wall, "utilisation": busy / (len(clocks) * wall), "working": busy_working / (len(clocks) * (max(handed) - start)),
            "idle_per_experiment": (len(clocks) * wall - busy) / done, "cpu_per_experiment": cpu / done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=64)
    parser.add_argument("--time-scale", type=float, default=0.05, help="wall seconds per simulated second")
    parser.add_argument("--robots", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    print(f"colour-match, budget {args.budget}, batch_size 4 per robot run, time scale {args.time_scale:g}")
    print(f"{'robots':>6} {'schedule':>8} {'wall s':>7} {'utilisation':>11} {'while work remained':>19} {'idle s/exp':>10} {'CPU s/exp':>9}")
    with tempfile.TemporaryDirectory() as folder:
        for robots in args.robots:
            for schedule in ("batch", "async"):
                r = measure(robots, schedule, args.budget, args.time_scale, Path(folder))
                print(f"{robots:>6} {schedule:>8} {r['wall']:>7.1f} {r['utilisation']:>11.1%} {r['working']:>19.1%} {r['idle_per_experiment']:>10.2f} "
                      f"{r['cpu_per_experiment']:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
