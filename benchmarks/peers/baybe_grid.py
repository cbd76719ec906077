"""Runs in BayBE's own environment (see baybe_env.py): BayBE campaigns on one lookup grid.

Reads a JSON job on stdin: {grid, batch_size, budget, parameters: [{name, smiles: {label: SMILES}}],
rows: [[label, ..., yield]], seeds, encodings}. For every encoding and seed, a BayBE campaign with its default
recommender (random first batch, then its Bayesian recommender with its default surrogate and acquisition)
maximises the yield looked up in the grid, batch by batch, until the budget. ``MORDRED`` encodes each SMILES
component as a `SubstanceParameter` (Mordred descriptors, decorrelated: BayBE's defaults); ``ONEHOT`` as a
`CategoricalParameter`. Prints one JSON line per campaign: {grid, encoding, seed, yields (in the order
measured), cpu_seconds (per model-based `recommend`), baybe}.
"""

import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402

torch.set_num_threads(1)

import baybe  # noqa: E402
import pandas as pd  # noqa: E402
from baybe import Campaign  # noqa: E402
from baybe.objectives import SingleTargetObjective  # noqa: E402
from baybe.parameters import CategoricalParameter, SubstanceParameter  # noqa: E402
from baybe.searchspace import SearchSpace  # noqa: E402
from baybe.targets import NumericalTarget  # noqa: E402
from baybe.utils.random import set_random_seed  # noqa: E402


def campaign(spec: dict, encoding: str) -> Campaign:
    if encoding == "MORDRED":
        parameters = [SubstanceParameter(name=p["name"], data=p["smiles"], encoding="MORDRED") for p in spec["parameters"]]
    elif encoding == "ONEHOT":
        parameters = [CategoricalParameter(name=p["name"], values=list(p["smiles"]), encoding="OHE") for p in spec["parameters"]]
    else:
        raise SystemExit(f"unknown encoding {encoding!r}")
    return Campaign(searchspace=SearchSpace.from_product(parameters), objective=SingleTargetObjective(NumericalTarget(name="yield")))


def main() -> None:
    spec = json.load(sys.stdin)
    names = [p["name"] for p in spec["parameters"]]
    table = {tuple(row[:-1]): float(row[-1]) for row in spec["rows"]}
    for encoding in spec["encodings"]:
        for seed in spec["seeds"]:
            set_random_seed(seed)
            c = campaign(spec, encoding)
            yields, cpu = [], []
            started = time.time()
            while len(yields) < spec["budget"]:
                t = time.process_time()
                batch = c.recommend(batch_size=min(spec["batch_size"], spec["budget"] - len(yields)))
                if yields:  # the first batch is BayBE's random initial design
                    cpu.append(time.process_time() - t)
                batch["yield"] = [table[tuple(row[n] for n in names)] for _, row in batch.iterrows()]
                c.add_measurements(batch)
                yields += batch["yield"].tolist()
            print(json.dumps({"grid": spec["grid"], "encoding": encoding, "seed": seed, "yields": yields, "cpu_seconds": cpu,
                              "wall_seconds": time.time() - started, "baybe": baybe.__version__}), flush=True)


if __name__ == "__main__":
    main()
