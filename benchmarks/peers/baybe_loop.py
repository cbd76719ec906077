"""Runs in BayBE's own environment (see baybe_env.py): BayBE campaigns over continuous parameters, measured by
the process that started it (a two-way JSON-lines protocol over stdin and stdout).

The first line on stdin is the job: {name, batch_size, budget, target: {name, minimize}, parameters:
[{name, low, high}], seeds}. For every seed, a BayBE campaign (`NumericalContinuousParameter`s, BayBE's default
recommender: a random first batch, then its Bayesian recommender with its default surrogate and acquisition)
runs batch by batch until the budget:

    -> {"seed": s, "batch": [{name: value, ...}, ...]}     printed by this process
    <- {"values": [float, ...]}                             one line back, the measured target in batch order

and when the budget is spent: -> {"seed": s, "done": true, "cpu_seconds": [...] (per model-based `recommend`,
time.process_time), "wall_seconds", "baybe", "measured" (the target values the campaign holds, in order)}.
"""

import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402

torch.set_num_threads(1)

import baybe  # noqa: E402
from baybe import Campaign  # noqa: E402
from baybe.objectives import SingleTargetObjective  # noqa: E402
from baybe.parameters import NumericalContinuousParameter  # noqa: E402
from baybe.searchspace import SearchSpace  # noqa: E402
from baybe.targets import NumericalTarget  # noqa: E402
from baybe.utils.random import set_random_seed  # noqa: E402


def campaign(job: dict) -> Campaign:
    parameters = [NumericalContinuousParameter(name=p["name"], bounds=(p["low"], p["high"])) for p in job["parameters"]]
    target = NumericalTarget(name=job["target"]["name"], minimize=bool(job["target"]["minimize"]))
    return Campaign(searchspace=SearchSpace.from_product(parameters), objective=SingleTargetObjective(target))


def send(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def receive() -> dict:
    line = sys.stdin.readline()
    if not line:
        raise SystemExit("baybe_loop: the reader closed stdin before answering")
    return json.loads(line)


def main() -> None:
    job = receive()
    names, target = [p["name"] for p in job["parameters"]], job["target"]["name"]
    for seed in job["seeds"]:
        set_random_seed(seed)
        c = campaign(job)
        measured, cpu = 0, []
        started = time.time()
        while measured < job["budget"]:
            t = time.process_time()
            batch = c.recommend(batch_size=min(job["batch_size"], job["budget"] - measured))
            if measured:  # the first batch is BayBE's random initial design
                cpu.append(time.process_time() - t)
            send({"seed": seed, "batch": [{n: float(row[n]) for n in names} for _, row in batch.iterrows()]})
            values = receive()["values"]
            if len(values) != len(batch):
                raise SystemExit(f"baybe_loop: {len(values)} values for a batch of {len(batch)}")
            batch[target] = [float(v) for v in values]
            c.add_measurements(batch)
            measured += len(batch)
        send({"seed": seed, "done": True, "cpu_seconds": cpu, "wall_seconds": time.time() - started, "baybe": baybe.__version__,
              "measured": [float(v) for v in c.measurements[target]]})


if __name__ == "__main__":
    main()
