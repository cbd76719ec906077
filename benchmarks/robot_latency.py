"""Time from a batch's proposal to its robot run starting, per stage, on Opentrons' robot-server.

Runs the robot example (``examples/colour_match_{ot2,flex}.yaml``) through the loop's steps
against a robot-server (started here with ``../shared/opentrons-robot-server/robot-server`` on a
free port unless ``--url`` names one) and, for every batch, prints:

- plan: from approval to the batch's plan compiled and its tips, wells and stocks reserved in the store;
- local analysis: Opentrons' analysis (opentrons 9.0.0, its own virtualenv) of the exact protocol;
- upload + robot analysis, run creation: the robot's HTTP API;
- proposal -> run start: from the proposals being stored to the robot's first command starting
  (the robot's own ``startedAt``), which also covers approval and the play request.

    .venv/bin/python benchmarks/robot_latency.py [--robot ot2|flex] [--batches 6] [--url URL]
"""

from __future__ import annotations

import argparse
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

    server = None
    url = args.url
    if url is None:
        server = robot_server.start(args.robot)
        url = server.url
    try:
        rows = measure(args.robot, url, args.batches)
    finally:
        if server is not None:
            robot_server.stop(server)
    stages = ["plan", "local_analysis", "upload", "robot_analysis", "create_run", "to_start"]
    print(f"robot {args.robot} at {url}; batch of 4 experiments (16 transfers, mixes); seconds")
    print(f"{'batch':>5} " + " ".join(f"{s:>15}" for s in stages))
    for i, row in enumerate(rows, 1):
        print(f"{i:>5} " + " ".join(f"{row[s]:>15.3f}" for s in stages))
    print(f"{'median':>6}" + " ".join(f"{statistics.median(r[s] for r in rows):>15.3f}" for s in stages))
    print("first batch pays the analysis environment's cold start; to_start = proposals stored -> robot's first command")
    return 0


def measure(robot: str, url: str, batches: int) -> list[dict[str, float]]:
    from retort.instruments.plan import RunReport
    from retort.orchestrator import loop
    from retort.orchestrator.campaign import load_campaign, with_changes
    from retort.orchestrator.deck_store import DeckStore
    from retort.orchestrator.store import Store

    folder = Path(tempfile.mkdtemp(prefix="retort-robot-latency-"))
    campaign = load_campaign(ROOT / "examples" / f"colour_match_{robot}.yaml")
    lab = campaign.lab.model_dump(mode="json") | {"robot_url": url}
    campaign = with_changes(campaign, "benchmark", lab=lab, budget=4 * batches,
                            store=f"sqlite:///{folder / 'retort.db'}", planner="random")
    store = Store(campaign.store)
    run = loop.open_run(campaign, store=store)
    rows = []
    for iteration in range(1, batches + 1):
        before = len(run.lab.robot.timings)
        loop.run_iteration(run, iteration)
        stages = run.lab.robot.timings[before] if len(run.lab.robot.timings) > before else {}
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
            "to_start": (first - _utc(batch[0].proposed_at)).total_seconds(),
        })
    return rows


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


if __name__ == "__main__":
    sys.exit(main())
