"""Soak: a long campaign on several virtual robots with injected faults, its orchestrator killed and its
database restarted under it, then every experiment in the store checked against the robots' own log.

The campaign is the colour-match example on `--robots` virtual robots in the asynchronous schedule,
``on_interrupted: rerun``, each robot run drawing a fault with probability `--faults` (half transient
refusals, a quarter breakdowns, a quarter hangs). `retort run` runs it as a user would (a process of its
own, its own local Prefect server, the store on PostgreSQL); it is killed with SIGKILL `--kills` times
and PostgreSQL is restarted `--pg-restarts` times while it runs. The PostgreSQL restarted is a server of the
soak's own (a Debian cluster made with `pg_createcluster` on a free port, trust auth, dropped after), so no
other user of the machine's PostgreSQL (another test, a lab's store) loses its connections; with `--store`, the
store is that URL's and the server restarted is the machine's cluster `main`; an operator (this script) puts robots that
broke down back in service (``retort deck release``) whenever the run stops for want of one, and starts
the run again until the budget is spent. Then it prints

    lost N, duplicated N, ran twice N

- lost: an experiment the store does not account for (not measured or failed at the end), a robot
  dispensing for an experiment the store does not hold, or a measured experiment the robots never ran;
- duplicated: two experiments in one well (in the store, or in the robots' log: two runs that reached one
  well; a well a run never reached, reported 'not started', is free again and may be planned once more);
- ran twice: an experiment two robot runs reached (started, and not reported 'not started' by the robot;
  a run killed with no report counts as having reached all its experiments); a re-run under the policy is a
  new experiment;

with the counts of faults, kills and restarts. Exit code 1 if any of the three is not 0.

    .venv/bin/python benchmarks/soak.py              # 200 experiments, 4 robots, 3 kills, 1 PostgreSQL restart
    .venv/bin/python benchmarks/soak.py --quick      # 40 experiments, 2 robots, 1 kill, 1 restart (CI)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
import yaml

from retort.orchestrator.flows.server import free_port

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("RETORT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def campaign_file(folder: Path, budget: int, robots: int, faults: float, time_scale: float) -> Path:
    data = yaml.safe_load((ROOT / "examples" / "colour_match.yaml").read_text())
    data |= {"budget": budget, "initial_design": 8, "schedule": "async", "on_interrupted": "rerun", "name": "soak"}
    data["lab"] |= {"robots": robots, "time_scale": time_scale,
                    "faults": {"transient": faults / 2, "hard": faults / 4, "hang": faults / 4, "log": str(folder / "robots.jsonl")}}
    path = folder / "soak.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class Cluster:
    """A PostgreSQL server: its Debian version and cluster name, and its admin URL."""

    def __init__(self, version: str, name: str, admin: str) -> None:
        self.version, self.name, self.admin = version, name, admin

    def ctl(self, action: str) -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action], check=True, capture_output=True)

    def restart(self) -> None:
        self.ctl("restart")


def _version() -> str:
    return sorted(os.listdir("/etc/postgresql"), key=lambda v: [int(part) for part in v.split(".") if part.isdigit()])[-1]


@contextlib.contextmanager
def own_cluster():
    """A PostgreSQL cluster of the soak's own on a free port (trust auth on loopback), dropped at the end."""
    if not shutil.which("pg_createcluster") or not os.path.isdir("/etc/postgresql"):
        sys.exit("soak: restarting PostgreSQL needs a server of the soak's own, made with Debian's pg_createcluster "
                 "(package postgresql-common), which this machine lacks; or give --store URL to restart the machine's cluster 'main'")
    port = free_port()
    cluster = Cluster(_version(), f"retort_soak_{uuid.uuid4().hex[:8]}", f"postgresql://postgres@127.0.0.1:{port}/postgres")
    made = subprocess.run(["pg_createcluster", cluster.version, cluster.name, "-p", str(port), "--", "--auth=trust"], capture_output=True, text=True)
    if made.returncode:
        sys.exit(f"soak: pg_createcluster {cluster.version} {cluster.name} failed: {made.stderr.strip()}")
    try:
        cluster.ctl("start")
        yield cluster
    finally:
        subprocess.run(["pg_dropcluster", "--stop", cluster.version, cluster.name], capture_output=True)


def fresh_database(admin: str) -> str:
    name = f"retort_soak_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"


def done_count(url: str) -> int:
    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3) as conn:
            return conn.execute("select count(*) from experiment where status in ('measured', 'failed')").fetchone()[0]
    except psycopg.Error:
        return -1


def retort(*args: str) -> list[str]:
    return [sys.executable, "-m", "retort.orchestrator.cli", *args]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 experiments on 2 robots, 1 kill, 1 PostgreSQL restart")
    parser.add_argument("--budget", type=int, default=200)
    parser.add_argument("--robots", type=int, default=4)
    parser.add_argument("--faults", type=float, default=0.10, help="probability that a robot run draws a fault")
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--pg-restarts", type=int, default=1)
    parser.add_argument("--time-scale", type=float, default=0.01, help="wall seconds per simulated second")
    parser.add_argument("--seed", type=int, default=2026, help="when to kill and restart")
    parser.add_argument("--store", help="a PostgreSQL URL to use, on the machine's cluster 'main' (default: a server of the soak's own, dropped after)")
    args = parser.parse_args()
    if args.quick:
        args.budget, args.robots, args.kills, args.pg_restarts = 40, 2, 1, 1
    with contextlib.ExitStack() as stack:
        cluster = Cluster(_version(), "main", PG_ADMIN) if args.store else stack.enter_context(own_cluster())
        return soak(args, args.store or fresh_database(cluster.admin), cluster)


def soak(args, url: str, cluster: Cluster) -> int:
    rng = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="retort-soak-") as tmp:
        folder = Path(tmp)
        file = campaign_file(folder, args.budget, args.robots, args.faults, args.time_scale)
        env = dict(os.environ, PREFECT_HOME=str(folder / ".prefect"), RETORT_LOG_DIR=str(folder / "logs"), COLUMNS="200")
        kinds = ["kill"] * args.kills + ["postgres"] * args.pg_restarts
        rng.shuffle(kinds)
        # spread over the campaign: strike k of n once about k/(n+1) of the budget is done (give or take 2)
        events = [(kind, round(args.budget * (k + 1) / (len(kinds) + 1)) + rng.randint(-2, 2)) for k, kind in enumerate(kinds)]
        rounds, releases, exits, struck = 0, 0, Counter(), Counter()
        while rounds < 40:
            rounds += 1
            errors = folder / f"run-{rounds}.err"  # a file, not a pipe: a pipe nobody reads while the run goes on could fill and block it
            with open(errors, "w") as err:
                process = subprocess.Popen(retort("run", str(file), "--store", url), cwd=folder, env=env,
                                           stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
            while events and process.poll() is None:  # strike once the campaign has got that far; a run may outlive a strike
                event, target = events[0]
                while process.poll() is None and done_count(url) < target:
                    time.sleep(0.2)
                if process.poll() is not None:
                    break  # the run ended first: the next run gets it
                events.pop(0)
                if event == "kill":
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    cluster.restart()
                struck[event] += 1
            process.wait(timeout=1800)
            stderr = errors.read_text(errors="replace")
            code = "killed" if process.returncode == -signal.SIGKILL else process.returncode
            exits[code] += 1
            if process.returncode == 0:  # the budget is spent
                break
            if "out of service" in stderr:  # the operator fixes the robots that broke down
                for robot in range(1, args.robots + 1):
                    subprocess.run(retort("deck", "release", str(file), "--store", url, "--robot", str(robot), "--by", "soak operator"),
                                   cwd=folder, env=env, check=True, capture_output=True)
                releases += 1
            elif process.returncode not in (0, 2) and code != "killed":
                print(f"retort run exited {process.returncode}:\n{stderr[-3000:]}", file=sys.stderr)
        return report(url, folder, args, rounds, releases, exits, struck, time.monotonic() - started)


def report(url: str, folder: Path, args, rounds: int, releases: int, exits: Counter, struck: Counter, seconds: float) -> int:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        rows = conn.execute("select e.seq, e.status, e.location, e.failure_reason, e.planner from experiment e "
                            "join campaign c on c.id = e.campaign_id where c.name = 'soak' order by e.seq").fetchall()
        out_of_service = conn.execute("select count(*) from deck_event where kind = 'out_of_service'").fetchone()[0]
    log = [json.loads(line) for line in (folder / "robots.jsonl").read_text().splitlines()]
    store = {seq: (status, location) for seq, status, location, _, _ in rows}
    started = Counter(line["seq"] for line in log if line["event"] == "start")
    outcome = {(line["seq"], line["lab_run"]): line["event"] for line in log if line["event"] != "start"}
    # a run reached an experiment unless its robot reported it not started (no report: killed mid-run, unknown: counted)
    reached = Counter(line["seq"] for line in log if line["event"] == "start" and outcome.get((line["seq"], line["lab_run"])) != "not_started")
    finished = {line["seq"] for line in log if line["event"] == "done"}
    wells = Counter((line["deck"], line["plate"], line["well"]) for line in log  # wells runs reached (killed mid-run: all of them)
                    if line["event"] == "start" and outcome.get((line["seq"], line["lab_run"])) != "not_started")
    lost = (sum(status not in ("measured", "failed") for status, _ in store.values())
            + sum(seq not in store for seq in started)
            + sum(status == "measured" and seq not in finished for seq, (status, _) in store.items()))
    duplicated = sum(n - 1 for n in Counter(seq for seq, *_ in rows).values() if n > 1) + sum(n - 1 for n in wells.values() if n > 1) \
        + sum(n - 1 for n in Counter(loc for _, loc in store.values() if loc).values() if n > 1)
    twice = sum(n > 1 for n in reached.values())
    failures = Counter(("interrupted" if "interrupted" in (reason or "") else "fault" if "fault injection" in (reason or "") else "other")
                       for _, status, _, reason, _ in rows if status == "failed")
    print(f"soak: {len(rows)} experiments (budget {args.budget}) on {args.robots} robots, {rounds} runs of retort run in {seconds:.0f} s")
    print(f"  measured {sum(s == 'measured' for s, _ in store.values())}, failed {sum(failures.values())} "
          f"({failures['fault']} by injected faults, {failures['interrupted']} interrupted by kills or restarts, {failures['other']} other), "
          f"re-run under the policy {sum(p == 'rerun' for *_, p in rows)}")
    refusals = len({(line["deck"], line["lab_run"], line["attempt"]) for line in log if line["event"] == "refused"})
    print(f"  faults: {refusals} transient refusals (retried), "
          f"{out_of_service} robots out of service (breakdowns and hangs; released {releases} times by the operator)")
    print(f"  orchestrator killed {struck['kill']} times (SIGKILL), PostgreSQL restarted {struck['postgres']} times "
          f"(asked: {args.kills}, {args.pg_restarts}); exits of retort run {dict(exits)}")
    for seq in sorted(seq for seq, n in reached.items() if n > 1):  # what a person needs to see why
        print(f"  ran twice: experiment {seq}: " + "; ".join(f"{line['event']} on {line['deck']} lab run {line['lab_run']} well {line['well']}"
                                                          for line in log if line["seq"] == seq), file=sys.stderr)
    print(f"lost {lost}, duplicated {duplicated}, ran twice {twice}")
    return 0 if lost == duplicated == twice == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
