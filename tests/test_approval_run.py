"""Approval required, as a lab meets it: `retort run` waits for a person, who decides with `retort approve` in
another process sharing only the store; a run stopped while it waits waits again for the same proposals."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from retort.orchestrator.store.decisions import DecisionStore
from retort.orchestrator.store import Store
from tests.conftest import branin_campaign

pytestmark = pytest.mark.slow


def retort(tmp_path, *args, background=False):
    env = os.environ | {"RETORT_LOG_DIR": str(tmp_path / "logs"), "RETORT_DECISION_POLL": "0.2", "COLUMNS": "200"}
    command = [sys.executable, "-m", "retort.orchestrator.cli", *args]
    if background:
        return subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)


def waiting(url, name, n, process, timeout=180):
    """The numbers of the `n` proposals waiting in the store, once there are that many."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert process.poll() is None, process.communicate()
        try:
            store = Store(url)
            seqs = [e.seq for e in store.experiments(store.campaign(name).id, statuses=("proposed",))]
        except Exception:  # not created yet
            seqs = []
        if len(seqs) == n:
            return seqs
        time.sleep(0.2)
    raise AssertionError("no proposals")


def test_a_run_waits_for_decisions_made_from_another_process_and_across_its_own_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    campaign = branin_campaign(approval="required", budget=4, initial_design=2, store=url)
    (tmp_path / "c.yaml").write_text(json.dumps(campaign.model_dump(mode="json")))
    run = retort(tmp_path, "run", "c.yaml", background=True)
    assert waiting(url, campaign.name, 2, run) == [1, 2]
    listed = retort(tmp_path, "approve", "c.yaml")
    assert listed.returncode == 0 and "2 proposals wait for a decision (approval: required, waits for ever)" in listed.stdout
    time.sleep(1)
    assert run.poll() is None  # still waiting: nothing was decided
    run.send_signal(signal.SIGTERM)  # the flow process stops while it waits
    out, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    store = Store(url)
    record = store.campaign(campaign.name)
    assert [e.status for e in store.experiments(record.id)] == ["proposed", "proposed"]  # nothing lost, nothing decided

    decided = retort(tmp_path, "approve", "c.yaml", "--approve", "1", "--edit", "2", "x1=1.5", "--reason", "closer to the valley", "--by", "erin")
    assert decided.returncode == 0, decided.stderr
    assert "experiment 1: approved by erin" in decided.stdout and "experiment 2: approved by erin: x1=1.5" in decided.stdout
    refused = retort(tmp_path, "approve", "c.yaml", "--reject", "1", "--reason", "changed my mind")
    assert refused.returncode == 2 and refused.stderr.startswith("error: experiment 1 is already approved (approve by erin at ")

    again = retort(tmp_path, "run", "c.yaml", background=True)  # runs the decided batch, then waits for the next
    assert waiting(url, campaign.name, 2, again) == [3, 4]
    rejected = retort(tmp_path, "approve", "c.yaml", "--reject", "4", "--reason", "too far out", "--approve", "3", "--by", "erin")
    assert rejected.returncode == 0, rejected.stderr
    assert waiting(url, campaign.name, 1, again) == [5]  # a rejection spends no budget: one more is proposed
    assert retort(tmp_path, "approve", "c.yaml", "--all", "--by", "erin").returncode == 0
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert "4 measured, 0 failed, budget 4" in out and "1 proposal (no budget spent)" in out
    assert "approval required, waits for ever: decide with 'retort approve branin-test'" in err
    experiments = store.experiments(record.id)
    assert [e.status for e in experiments] == ["measured", "measured", "measured", "rejected", "measured"]
    assert experiments[1].params["x1"] == 1.5
    trail = DecisionStore(store).events(record.id)
    assert [(a.seq, a.action, a.actor) for a in reversed(trail)] == [
        (1, "approve", "erin"), (2, "edit", "erin"), (3, "approve", "erin"), (4, "reject", "erin"), (5, "approve", "erin")]
