"""docs/deployment.md as written: Prefect's server on PostgreSQL, work pools, the deployments of prefect.yaml,
a worker for planning and one per robot, a campaign run through them into a store on PostgreSQL; and a campaign
with approval required run there, decided with `retort approve` from another process.

The doc's bash blocks run from the repository, with the server's port and the two database names made unique
(so that a test never touches a lab's own) and a Prefect home of the test's own."""

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from retort.orchestrator.store.decisions import DecisionStore
from retort.orchestrator.store.leases import holder_of
from retort.orchestrator.flows.server import free_port
from retort.orchestrator.store import Store

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
TRY = "## Try it on one machine"
APPROVAL = "## A person approves each proposal"
DECKS = ("virtual-colour-match-lab-1", "virtual-colour-match-lab-2")  # examples/colour_match_lab.yaml's robots


# The doc's commands are typed into a terminal, which has job control; so have the test's shells. (A script's background
# jobs otherwise ignore SIGINT, and a Prefect worker stops on SIGTERM by sending itself SIGINT: it would outlive the doc's
# `kill $(jobs -p)`.) Whatever happens, the background parts go when the script ends.
PROLOGUE = "set -m\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"


def doc_blocks(heading: str) -> list[str]:
    """The bash blocks of one `## ` section of docs/deployment.md, in order."""
    text = (ROOT / "docs" / "deployment.md").read_text()
    section = text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


class Lab:
    """The doc's names made the test's own: a free port, databases with a unique suffix, logs and Prefect home in `tmp_path`."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp, self.suffix, self.port = tmp_path, uuid.uuid4().hex[:8], free_port()
        self.store_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/retort_lab_{self.suffix}"
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PREFECT_HOME": str(tmp_path / ".prefect"), "COLUMNS": "200"}

    def localise(self, script: str) -> str:
        return (script.replace("4200", str(self.port)).replace("prefect_lab", f"prefect_lab_{self.suffix}")
                .replace("retort_lab", f"retort_lab_{self.suffix}")
                .replace("> prefect-server.log", f"> {self.tmp}/prefect-server.log").replace("> worker-", f"> {self.tmp}/worker-"))

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp.glob("*.log")))

    def drop_databases(self, psycopg) -> None:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            for name in (f"prefect_lab_{self.suffix}", f"retort_lab_{self.suffix}"):
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_deployment_doc_runs_a_campaign_on_a_prefect_server_with_a_worker_per_robot(tmp_path):
    psycopg = pytest.importorskip("psycopg")
    lab = Lab(tmp_path)
    script = lab.localise("\n".join(doc_blocks(TRY)))
    try:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", PROLOGUE + script], cwd=ROOT, env=lab.env, capture_output=True,
                                text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:] + lab.logs()
        assert "Completed" in result.stdout
        store = Store(lab.store_url)
        experiments = store.experiments(store.campaign("colour-match-lab").id)
        assert len(experiments) == 16 and all(e.status == "measured" for e in experiments)
        decks = {e.location.split(" plate ")[0] for e in experiments}
        assert decks == set(DECKS)  # both robots' workers ran batches
        status = next(line for line in result.stdout.splitlines() if line.strip().startswith("colour-match-lab"))
        assert status.split()[1:4] == ["16", "16", "0"]  # `retort status`: budget, measured, failed
        assert_stopped(lab)
    finally:
        stop_processes(lab)
        lab.drop_databases(psycopg)


def test_deployment_doc_approval_waits_on_the_server_for_decisions_across_a_cancelled_flow_run(tmp_path):
    """The doc's setup (server, pools, deployments, workers), then its approval section: the campaign flow run,
    picked up by the planning worker, stores its proposals and waits, Running, running nothing and holding no
    robot; it is cancelled, one proposal rejected and one edited, and the deployment run again: the new flow run
    runs the edited one and waits for the rest, proposing nothing; people decide with `retort approve` (add,
    approve) from other processes, and the campaign runs to its budget on the robots' workers, the rejection
    spending none. The campaign is the doc's with approval required, a budget of 6, batches of 2 and a Sobol
    design throughout, in a fresh store: a flow run that proposed anew would have room to."""
    psycopg = pytest.importorskip("psycopg")
    lab = Lab(tmp_path)
    tried = doc_blocks(TRY)
    setup = [b for b in tried if "deployment run" not in b and "kill $(jobs -p)" not in b]
    stop = next(b for b in tried if "kill $(jobs -p)" in b)
    exports = lab.localise(next(b for b in tried if "export PREFECT_API_URL" in b))
    start, listing_and_all = doc_blocks(APPROVAL)
    listing, approve_all = [line for line in listing_and_all.splitlines() if line.strip()]

    campaign = yaml.safe_load((ROOT / "examples" / "colour_match_lab.yaml").read_text())
    assert "approval" not in campaign
    campaign |= {"approval": "required", "budget": 6, "batch_size": 2, "initial_design": 6}
    campaign_file = tmp_path / "colour_match_lab_approval.yaml"
    campaign_file.write_text(yaml.safe_dump(campaign, sort_keys=False))
    start = start.replace("campaign_file=colour_match_lab_approval.yaml", f"campaign_file={campaign_file}")
    assert str(campaign_file) in start

    api = f"http://127.0.0.1:{lab.port}/api"
    env = lab.env | {"PREFECT_WORKER_QUERY_SECONDS": "2"}  # workers look for flow runs every 2 s (Prefect's default: 10 s)

    def sh(command: str) -> subprocess.CompletedProcess:
        """`command` in a shell of its own (another process, as on another host) with the doc's exports."""
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", exports + "\n" + command], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}\n{lab.logs()}"
        return result

    def rest(path: str, body: dict | None = None) -> dict | list:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{api}{path}", data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def state(flow_run: str) -> tuple[str, str]:
        run = rest(f"/flow_runs/{flow_run}")
        return run["state"]["type"], run["state"].get("message") or ""

    def instrument_runs() -> list[str]:
        return [r["name"] for r in rest("/flow_runs/filter", {}) if ": experiments" in r["name"]]

    def robot_slots_taken() -> dict[str, int]:
        limits = rest("/v2/concurrency_limits/filter", {})
        ours = {limit["name"]: limit["active_slots"] for limit in limits if limit["name"].startswith("retort-instrument-")}
        assert all(any(name.startswith(f"retort-instrument-{deck}-") for name in ours) for deck in DECKS), ours
        return ours

    def until(what: str, check, timeout: float, flow_run: str | None = None):
        """Wait for `check()` to be truthy; fail naming `what` (and the flow run's state, the logs) after `timeout` s,
        or at once when the flow run ends."""
        end = time.monotonic() + timeout
        while True:
            kind, message = state(flow_run) if flow_run is not None else ("", "")  # before `check`: it sees what the run left
            value = check()
            if value:
                return value
            assert kind not in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"), \
                f"waiting for {what}: flow run {flow_run} ended {kind}: {message}\n{lab.logs()}"
            assert time.monotonic() < end, f"{what}: not within {timeout:.0f} s\n{lab.logs()}"
            time.sleep(0.5)

    store: Store | None = None  # opened once the doc's setup has created its database

    def statuses() -> dict[int, str]:
        try:
            record = store.campaign("colour-match-lab")
        except Exception:  # not created yet
            return {}
        return {e.seq: e.status for e in store.experiments(record.id)}

    def holder() -> int | None:
        """The process driving the campaign (its lease), if one does."""
        lease = holder_of(store, store.campaign("colour-match-lab").id)
        return lease.pid if lease else None

    def run_deployment() -> str:
        out = sh(start).stdout
        found = re.search(r"UUID:\s*([0-9a-f-]{36})", out)
        assert found, out
        return found.group(1)

    began, setup_out = time.monotonic(), open(tmp_path / "setup.out", "w")
    server = subprocess.Popen(["bash", "-euo", "pipefail", "-c",  # the doc's hosts, in the background until told to stop
                               PROLOGUE + lab.localise("\n".join(setup))
                               + "\necho retort-test: set up\nread -r _\n" + stop],
                              cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=setup_out,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        until("the doc's server, work pools, deployments and workers",
              lambda: "\nretort-test: set up\n" in (tmp_path / "setup.out").read_text() or server.poll() is not None, 600)
        assert server.poll() is None, (tmp_path / "setup.out").read_text()[-4000:] + lab.logs()
        ready = time.monotonic()
        store = Store(lab.store_url)

        first = run_deployment()  # picked up by the planning worker
        waiting = {1: "proposed", 2: "proposed", 3: "proposed", 4: "proposed"}
        until("the first flow run to store 4 proposals", lambda: statuses() == waiting, 300, first)
        time.sleep(6)  # three looks at the store (every 2 s): nothing decided, nothing runs
        assert state(first)[0] == "RUNNING"
        driver = holder()
        assert driver is not None  # the flow run's process, started by the planning worker, holds the campaign
        with pytest.MonkeyPatch.context() as mp:  # the operator UI, beside this Prefect server, names the flow run driving it
            from retort.orchestrator.ui.pages import prefect_flow_run

            mp.setenv("PREFECT_API_URL", api)
            shown = prefect_flow_run("colour-match-lab")
            campaign_runs = rest("/flow_runs/filter", {"flow_runs": {"name": {"any_": ["colour-match-lab"]}}})
            assert [r["id"] for r in campaign_runs if r["state"]["type"] == "RUNNING"] == [shown.split()[4]], (shown, campaign_runs)
            assert "(Running)" in shown and f"/runs/flow-run/{shown.split()[4]}" in shown
        assert statuses() == waiting
        assert instrument_runs() == []
        assert set(robot_slots_taken().values()) == {0}  # waiting holds no robot
        listed = sh(listing)
        assert "colour-match-lab: 4 proposals wait for a decision (approval: required, waits for ever)" in listed.stdout, listed.stdout

        sh(f".venv/bin/prefect flow-run cancel {first}")
        until("the first flow run to be cancelled", lambda: state(first)[0] == "CANCELLED", 120)
        until("the cancelled flow run to release the campaign (else another host's worker could not take it for 60 s)",
              lambda: holder() is None, 30)
        assert statuses() == waiting  # nothing lost, nothing decided
        proposed = {e.seq: e.params for e in store.experiments(store.campaign("colour-match-lab").id)}
        rejected = sh('.venv/bin/retort approve colour-match-lab --store "$RETORT_STORE_URL" --reject 4 --reason "too much blue" --by olga')
        assert "experiment 4: rejected by olga" in rejected.stdout, rejected.stdout  # decided while no flow run waits
        edited = sh('.venv/bin/retort approve colour-match-lab --store "$RETORT_STORE_URL" --edit 3 red=20 --reason "redder" --by erin')
        assert "experiment 3: approved by erin: red=20" in edited.stdout, edited.stdout

        second = run_deployment()  # runs what was decided, waits for the rest
        until("the second flow run to take the campaign", lambda: holder() is not None, 180, second)
        assert holder() != driver
        until("the second flow run to run the edited experiment", lambda: statuses().get(3) == "measured", 180, second)
        time.sleep(6)
        assert state(second)[0] == "RUNNING"
        assert statuses() == {1: "proposed", 2: "proposed", 3: "measured", 4: "rejected"}  # nothing new while 1 and 2 wait
        assert [name.split(":")[1].strip() for name in instrument_runs()] == ["experiments [3]"]

        added = sh('.venv/bin/retort approve colour-match-lab --store "$RETORT_STORE_URL" --add red=10 yellow=10 blue=5 water=100 '
                   '--reason "a control" --by olga')
        assert "experiment 5: added by olga" in added.stdout, added.stdout
        sh(approve_all)  # 1 and 2
        until("two more proposals (the budget's last two: a rejection spends none)",
              lambda: [s for s, v in statuses().items() if v == "proposed"] == [6, 7], 300, second)
        sh(approve_all)
        until("the second flow run to complete", lambda: state(second)[0] == "COMPLETED", 300, second)
        finished = time.monotonic()

        record = store.campaign("colour-match-lab")
        experiments = {e.seq: e for e in store.experiments(record.id)}
        assert {s: e.status for s, e in experiments.items()} == {1: "measured", 2: "measured", 3: "measured", 4: "rejected",
                                                                 5: "measured", 6: "measured", 7: "measured"}
        assert experiments[3].params["red"] == 20 and experiments[3].provenance.planner == "edited"
        assert experiments[5].provenance.planner == "operator"
        assert experiments[5].params == {"red": 10, "yellow": 10, "blue": 5, "water": 100}
        assert all(e.params == proposed[e.seq] for e in experiments.values() if e.seq in (1, 2, 4))
        assert {e.location.split(" plate ")[0] for e in experiments.values() if e.status == "measured"} <= set(DECKS)
        assert len(instrument_runs()) >= 3  # the robots' workers ran the batches
        events = DecisionStore(store).events(record.id)
        assert {(e.seq, e.action): (e.actor, e.reason) for e in events} == {
            (4, "reject"): ("olga", "too much blue"), (3, "edit"): ("erin", "redder"), (5, "add"): ("olga", "a control"),
            (1, "approve"): ("olga", ""), (2, "approve"): ("olga", ""), (6, "approve"): ("olga", ""), (7, "approve"): ("olga", "")}
        edit = next(e for e in events if e.action == "edit")
        assert edit.before == proposed[3] and edit.after == proposed[3] | {"red": 20, "status": "approved"}  # proposed, decided
        status = sh('.venv/bin/retort status colour-match-lab --store "$RETORT_STORE_URL"').stdout
        line = next(line for line in status.splitlines() if line.strip().startswith("colour-match-lab"))
        assert line.split()[1:4] == ["6", "6", "0"]  # budget, measured, failed: the rejection spent none
        print(f"setup {ready - began:.0f} s, campaign {finished - ready:.0f} s")

        server.stdin.write("\n")  # the doc's last block: stop the workers and the server
        server.stdin.flush()
        assert server.wait(timeout=60) == 0, (tmp_path / "setup.out").read_text()[-3000:]
        assert_stopped(lab)
    finally:
        stop_processes(lab)
        setup_out.close()
        if store is not None:
            store.engine.dispose()
        lab.drop_databases(psycopg)


def lab_processes(lab: Lab) -> dict[int, str]:
    """The test's processes still running (the setup shell, server, workers, flow runs), by process id: those whose
    environment names the test's own Prefect home."""
    marker, found = f"PREFECT_HOME={lab.env['PREFECT_HOME']}".encode(), {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
    return found


def assert_stopped(lab: Lab, timeout: float = 60) -> None:
    """The doc's last block (`kill $(jobs -p)`) stopped the server and the workers, and no flow run is left."""
    end = time.monotonic() + timeout
    while lab_processes(lab) and time.monotonic() < end:
        time.sleep(0.5)
    assert not lab_processes(lab), f"still running {timeout:.0f} s after the doc's last block: {lab_processes(lab)}"


def stop_processes(lab: Lab) -> None:
    """Stop what is left of the test's processes, by process id: SIGTERM, then SIGKILL for those still there after 15 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in lab_processes(lab):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        end = time.monotonic() + 15
        while lab_processes(lab) and time.monotonic() < end:
            time.sleep(0.5)
