"""The operator UI's pages with 10,000 stored experiments: how long each takes to serve.

Builds a store holding one Branin campaign with `--experiments` measured experiments (each with its
readings, objective and the model's prediction; a model version every 4), asking for approval with 4
proposals waiting, then serves the pages in this process (FastAPI's test client: the server's own
work, no network) and prints the median of `--repeat` requests per page. The peer, in the same
process: reading the campaign's experiments from the store (what every campaign page starts with),
so the ratio says how much the page adds to the read. Goal: under 1 s per page.

    .venv/bin/python benchmarks/ui_pages.py [--experiments 10000] [--repeat 5] [--store URL]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from retort.agents.proposal import Prediction, Provenance
from retort.orchestrator import loop
from retort.orchestrator.campaign import Campaign
from retort.orchestrator.store import Store
from retort.orchestrator.store.tables import ExperimentRow, MeasurementRow, ModelVersionRow, utcnow
from retort.orchestrator.ui.app import create_app
from retort.orchestrator.store.users import Users
from retort.simulators.analytic import branin


def build(url: str, n: int) -> Campaign:
    import numpy as np

    campaign = Campaign.model_validate({
        "name": "ui-bench", "budget": n + 4, "batch_size": 4, "initial_design": 8, "approval": "required", "store": url,
        "parameters": [{"name": "x1", "type": "continuous", "lower": -5, "upper": 10}, {"name": "x2", "type": "continuous", "lower": 0, "upper": 15}],
        "objectives": [{"name": "y", "goal": "minimize"}], "lab": {"kind": "virtual_analytic", "function": "branin"}})
    store = Store(url)
    record = store.open_campaign(campaign.name, campaign.config_json(), Campaign.normalise_config)
    rng = np.random.default_rng(0)
    now = utcnow()
    with store.session("fill the benchmark's store") as s:
        for start in range(0, n, 1000):
            rows = []
            for seq in range(start + 1, min(n, start + 1000) + 1):
                point = {"x1": float(rng.uniform(-5, 10)), "x2": float(rng.uniform(0, 15))}
                y = branin(point)
                provenance = Provenance(planner="qLogNEI", model_version=None, acquisition_value=float(rng.normal()),
                                        predicted={"y": Prediction(mean=y + float(rng.normal(0, 5)), std=5.0)})
                rows.append((ExperimentRow(campaign_id=record.id, seq=seq, iteration=(seq - 1) // 4 + 1, params_json=json.dumps(point),
                                           status="measured", planner="qLogNEI", provenance_json=provenance.model_dump_json(),
                                           location=f"{seq}", proposed_at=now, approved_at=now, started_at=now, finished_at=now,
                                           lab_seconds=1.0), y))
            s.add_all(r for r, _ in rows)
            s.flush()
            for row, y in rows:
                s.add(MeasurementRow(experiment_id=row.id, name="y", kind="raw", value=y, instrument="bench"))
                s.add(MeasurementRow(experiment_id=row.id, name="y", kind="objective", value=y, instrument="bench"))
        for i in range(1, n // 4 + 1):
            s.add(ModelVersionRow(campaign_id=record.id, iteration=i, kind="SingleTaskGP", outputs_json='["y"]', n_train=4 * i,
                                  hyperparameters_json="{}", loo_coverage_json='{"y": 0.95}', loo_log_likelihood_json='{"y": -1.0}',
                                  fit_seconds=0.1, versions_json="{}"))
        s.commit()
    run = loop.open_run(campaign, store=store)
    loop.propose(run, n // 4 + 1, None, 4)  # four proposals waiting for a decision
    Users(store).add("bench", "operator", "bench-password")
    return campaign


def timed(client: TestClient, path: str, repeat: int) -> tuple[float, int]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return statistics.median(times), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store", help="an empty store URL (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.store or f"sqlite:///{Path(folder) / 'ui.db'}"
        started = time.perf_counter()
        campaign = build(url, args.experiments)
        print(f"store {Store(url).url}: {args.experiments:,} measured experiments built in {time.perf_counter() - started:.1f} s")
        client = TestClient(create_app(url), base_url="http://127.0.0.1:8765")
        form = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        client.post("/login", data={"name": "bench", "password": "bench-password", "csrf": token})
        store = Store(url)
        record = store.campaign(campaign.name)
        reads = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            store.experiments(record.id)
            reads.append(time.perf_counter() - start)
        read = statistics.median(reads)
        print(f"peer: reading the campaign's experiments from the store: {read:.3f} s (median of {args.repeat})")
        print(f"{'page':<58} {'median s':>9} {'x read':>7} {'KB':>7}")
        for path in ("/", f"/campaigns/{campaign.name}", f"/campaigns/{campaign.name}?sort=objective:y&desc=true&page_no=37",
                     f"/campaigns/{campaign.name}?status=measured&sort=iteration", f"/campaigns/{campaign.name}/live", "/approvals",
                     f"/campaigns/{campaign.name}/experiments.csv", "/audit"):
            seconds, size = timed(client, path, args.repeat)
            print(f"{path:<58} {seconds:>9.3f} {seconds / read:>7.1f} {size / 1024:>7.0f}")


if __name__ == "__main__":
    main()
