"""Time from a batch's proposal to its robot run starting, per stage, on Opentrons' robot-server.

Runs the robot example (``examples/colour_match_{ot2,flex}.yaml``) through the loop's steps
against a robot-server (started here with ``../shared/opentrons-robot-server/robot-server`` on a
free port unless ``--url`` names one) and, for every batch, prints:

- plan: from approval to the batch's plan compiled and its tips, wells and stocks reserved in the store;
- local analysis: Opentrons' analysis (opentrons 9.0.0, its own virtualenv) of the exact protocol;
- upload + robot analysis, run creation: the robot's HTTP API;
- total: from the proposals being stored to the robot's first command starting (the robot's own
  ``startedAt``), which also covers approval, rendering and the play request.

Then the median, min and max of each stage over the batches, and the machine's load (``os.getloadavg``)
before, during (per batch) and after: the analyses are CPU-bound, so other work on the machine shows.
Before each batch an operator tops the deck up where the next batch might not fit (a tip rack with
fewer free tips than the batch can take, a stock below what it can draw, fewer free wells than
experiments), recorded through `DeckStore.refill` / `DeckStore.new_plate` as ``retort deck refill`` and
``retort deck new-plate`` record it, so any number of batches runs.

    .venv/bin/python benchmarks/robot_latency.py [--robot ot2|flex] [--batches 6] [--url URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.instruments.robot_server starts the robot-server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robot", choices=["ot2", "flex"], default="ot2")
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--url", help="a running robot-server (default: start one)")
    args = parser.parse_args()

    from tests.instruments import robot_server

    load_before = os.getloadavg()
    server = None
    url = args.url
    if url is None:
        server = robot_server.start(args.robot)
        url = server.url
    try:
        rows, refills = measure(args.robot, url, args.batches)
    finally:
        if server is not None:
            robot_server.stop(server)
    load_after = os.getloadavg()
    stages = ["plan", "local_analysis", "upload", "robot_analysis", "create_run", "total"]
    print(f"robot {args.robot} at {url}; {len(rows)} batches of 4 experiments (16 transfers, mixes); seconds; "
          f"{os.cpu_count()} CPUs")
    print(f"{'batch':>6} " + " ".join(f"{s:>14}" for s in stages) + f" {'load1':>6}")
    for i, row in enumerate(rows, 1):
        print(f"{i:>6} " + " ".join(f"{row[s]:>14.3f}" for s in stages) + f" {row['load1']:>6.2f}")
    for name, summary in (("median", statistics.median), ("min", min), ("max", max)):
        print(f"{name:>6} " + " ".join(f"{summary(r[s] for r in rows):>14.3f}" for s in stages))
    print("load average (1, 5, 15 min): before " + _load(load_before) + ", after " + _load(load_after)
          + f"; per batch (1 min) {min(r['load1'] for r in rows):.2f}-{max(r['load1'] for r in rows):.2f}")
    print(f"operator top-ups between batches: {refills or 'none'}")
    print("batch 1 pays the analysis environment's cold start; total = proposals stored -> robot's first command")
    return 0


def _load(values: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def measure(robot: str, url: str, batches: int) -> tuple[list[dict[str, float]], dict[str, int]]:
    from retort.instruments.plan import RunReport
    from retort.orchestrator import loop
    from retort.orchestrator.campaign import load_campaign, with_changes
    from retort.orchestrator.store.decks import DeckStore
    from retort.orchestrator.store import Store

    folder = Path(tempfile.mkdtemp(prefix="retort-robot-latency-"))
    campaign = load_campaign(ROOT / "examples" / f"colour_match_{robot}.yaml")
    lab = campaign.lab.model_dump(mode="json") | {"robot_url": url}
    campaign = with_changes(campaign, "benchmark", lab=lab, budget=4 * batches,
                            store=f"sqlite:///{folder / 'retort.db'}", planner="random")
    store = Store(campaign.store)
    run = loop.open_run(campaign, store=store)
    rows = []
    refills: dict[str, int] = {}
    for iteration in range(1, batches + 1):
        for what in top_up(DeckStore(store), run.lab.deck.name, campaign):
            refills[what] = refills.get(what, 0) + 1
        before = len(run.lab.backend.timings)
        loop.run_iteration(run, iteration)
        stages = run.lab.backend.timings[before] if len(run.lab.backend.timings) > before else {}
        batch = [e for e in run.experiments() if e.iteration == iteration]
        lab_run = DeckStore(store).runs(run.record.id)[-1]
        report = RunReport.model_validate_json(lab_run.report_json)
        first = min(_utc(datetime.fromisoformat(c["startedAt"])) for c in report.log if c.get("startedAt"))
        rows.append({
            "plan": (_utc(lab_run.created_at) - _utc(batch[0].approved_at)).total_seconds(),  # approved -> plan reserved
            "local_analysis": stages.get("local_analysis", 0.0),
            "upload": stages.get("upload", 0.0),
            "robot_analysis": stages.get("robot_analysis", 0.0),
            "create_run": stages.get("create_run", 0.0),
            "total": (first - _utc(batch[0].proposed_at)).total_seconds(),
            "load1": os.getloadavg()[0],
        })
    return rows, refills


def top_up(decks, name: str, campaign) -> list[str]:
    """What an operator does before a batch that might not fit: full racks where fewer tips are free than the batch
    can take (a tip per stock per experiment), stocks below what it can draw topped up to their configured volume,
    a new plate when fewer wells are free than experiments; recorded as `retort deck` records them. Returns what was done."""
    config, state = decks.get(name)
    n = campaign.batch_size
    racks = [slot for slot in sorted(config.tip_racks) if len(state.free_tips(config, slot)) < n * len(campaign.parameters)]
    low = {p.name: config.stocks[p.name].volume for p in campaign.parameters
           if state.stocks[p.name] < n * campaign.space.max_linear({p.name: 1.0})}
    done = []
    if racks or low:
        decks.refill(name, "benchmark operator", tips=racks or None, stocks=low or None)
        done += [f"tip rack {slot}" for slot in racks] + [f"stock {stock}" for stock in low]
    if len(state.free_wells(config)) < n:
        decks.new_plate(name, "benchmark operator")
        done.append("plate")
    return done


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


if __name__ == "__main__":
    sys.exit(main())
