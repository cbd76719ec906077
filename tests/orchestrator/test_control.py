"""An operator pauses, resumes and stops a campaign (`retort control`, the UI): stored state the loop obeys."""

import threading
import time

import pytest

from retort.orchestrator import loop
from retort.orchestrator.store.decisions import DecisionStore
from retort.orchestrator.errors import StoreError
from retort.orchestrator.store import Store
from tests.conftest import branin_campaign
from tests.orchestrator.test_approvals import until
from tests.orchestrator.test_cli import retort


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr(loop.waits, "DECISION_POLL", 0.05)


def test_pause_holds_the_batch_schedule_resume_lets_it_go_and_stop_ends_it(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    campaign = branin_campaign(budget=8, store=url)
    run = loop.open_run(campaign, store=Store(url))
    controls = DecisionStore(Store(url))
    controls.set_control(run.record.id, "pause", "olga", "cleaning the deck")
    with pytest.raises(StoreError, match="cannot pause the campaign: it is paused already"):
        controls.set_control(run.record.id, "pause", "olga")
    done = []
    worker = threading.Thread(target=lambda: done.append(loop.run_iteration(run, 1)), daemon=True)
    worker.start()
    time.sleep(0.5)
    assert worker.is_alive() and run.experiments() == []  # nothing proposed or run while paused
    controls.set_control(run.record.id, "resume", "olga")
    worker.join(60)
    assert done[0].measured == [1, 2]
    controls.set_control(run.record.id, "stop", "olga", "enough")
    assert loop.run_iteration(run, 2).measured == [] and len(run.experiments()) == 2
    assert [(e.action, e.actor, e.reason) for e in controls.events(run.record.id)] == [
        ("stop", "olga", "enough"), ("resume", "olga", ""), ("pause", "olga", "cleaning the deck")]


def test_the_async_schedule_hands_out_nothing_new_while_paused_and_ends_when_stopped(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    campaign = branin_campaign(schedule="async", budget=40, store=url)
    run = loop.open_run(campaign, store=Store(url))
    controls = DecisionStore(Store(url))
    worker = threading.Thread(target=lambda: loop.run_async(run), daemon=True)
    worker.start()
    try:
        until(lambda: run.counts().get("measured", 0) >= 4)
        controls.set_control(run.record.id, "pause", "olga")
        until(lambda: run.counts().get("running", 0) == 0)  # what was on the instrument finishes
        measured = run.counts().get("measured", 0)
        time.sleep(1.5)  # a proposal under way may still be stored; nothing more is run
        assert run.counts().get("measured", 0) == measured and run.counts().get("running", 0) == 0 and worker.is_alive()
        controls.set_control(run.record.id, "resume", "olga")
        until(lambda: run.counts().get("measured", 0) > measured)
    finally:
        controls.set_control(run.record.id, "stop", "olga")
    worker.join(60)
    assert not worker.is_alive() and loop.remaining(run) > 0  # stopped before the budget
    assert run.counts().get("running", 0) == 0


def test_a_stopped_campaign_is_not_run_until_resumed(tmp_path):
    import json

    url = f"sqlite:///{tmp_path / 'lab.db'}"
    campaign = branin_campaign(budget=4, store=url)
    (tmp_path / "c.yaml").write_text(json.dumps(campaign.model_dump(mode="json")))
    run = loop.open_run(campaign, store=Store(url))
    stopped = retort("control", "c.yaml", "stop", "--reason", "reagent recall", "--by", "olga", cwd=tmp_path)
    assert stopped.returncode == 0 and "campaign branin-test stopped" in stopped.stdout
    refused = retort("run", "c.yaml", cwd=tmp_path)
    assert refused.returncode == 2 and "campaign 'branin-test' was stopped by olga at " in refused.stderr
    assert "(reagent recall); resume it with 'retort control branin-test resume'" in refused.stderr
    again = retort("control", "c.yaml", "stop", cwd=tmp_path)
    assert again.returncode == 2 and "cannot stop the campaign: it is stopped already" in again.stderr
    assert retort("control", "c.yaml", "resume", cwd=tmp_path).returncode == 0
    assert DecisionStore(run.store).control(run.record.id) == "run"
