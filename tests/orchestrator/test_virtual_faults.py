"""Faults of the virtual robots (`lab.faults`): transient refusals are tried again and never re-dispense;
a robot that breaks down or stops answering (caught by its run's deadline) is taken out of service, its
experiments settled, and the others carry on; an operator puts it back; interrupted experiments are
re-run only when the campaign says so."""

import json
from collections import Counter

import pytest

from retort.orchestrator import loop
from retort.orchestrator.campaign import with_changes
from retort.orchestrator.store.decks import DeckStore
from retort.orchestrator.errors import InstrumentDown, LabNotReady
from retort.orchestrator.labs import LabRequest
from retort.orchestrator.store import Store
from tests.conftest import colour_campaign


def faulty(tmp_path, robots=2, budget=16, schedule="async", on_interrupted="leave", **faults):
    base = colour_campaign()
    lab = base.lab.model_dump(mode="json") | {"robots": robots, "time_scale": 0.0005,
                                              "faults": faults | {"log": str(tmp_path / "robots.jsonl")}}
    return with_changes(base, "test", budget=budget, schedule=schedule, initial_design=4, on_interrupted=on_interrupted,
                        store=f"sqlite:///{tmp_path / 'f.db'}", lab=lab)


def robot_log(tmp_path):
    return [json.loads(line) for line in (tmp_path / "robots.jsonl").read_text().splitlines()]


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(loop.steps, "TRANSIENT_DELAYS", (0.01, 0.01, 0.01))


def test_transient_refusals_are_tried_again_and_nothing_is_dispensed_twice(tmp_path, quick_retries, caplog):
    campaign = faulty(tmp_path, transient=0.4)
    run = loop.open_run(campaign, store=Store(campaign.store))
    loop.run_async(run)
    experiments = run.experiments()
    assert [e.status for e in experiments] == ["measured"] * 16
    assert "the connection dropped before lab run" in caplog.text and "trying again" in caplog.text
    starts = Counter(line["seq"] for line in robot_log(tmp_path) if line["event"] == "start")
    assert sorted(starts) == list(range(1, 17)) and set(starts.values()) == {1}  # each dispensed once
    runs = DeckStore(run.store).runs(run.record.id)
    assert all(r.status == "collected" for r in runs) and sorted(s for r in runs for s in r.seqs) == list(range(1, 17))


def test_a_robot_refusing_every_try_leaves_its_experiments_approved_and_reserved(tmp_path, quick_retries):
    campaign = faulty(tmp_path, robots=1, budget=4, schedule="batch", transient=1.0)
    run = loop.open_run(campaign, store=Store(campaign.store))
    with pytest.raises(LabNotReady, match="connection dropped"):
        loop.run_iteration(run, 1)
    assert [e.status for e in run.experiments()] == ["approved"] * 4
    assert [r.status for r in DeckStore(run.store).runs(run.record.id)] == ["planned"]  # the reservation is kept for the next try
    assert Counter(line["event"] for line in robot_log(tmp_path)) == {"refused": 4 * 4}  # four tries; nothing moved


def test_robots_that_break_down_go_out_of_service_until_released(tmp_path):
    campaign = faulty(tmp_path, hard=1.0)
    run = loop.open_run(campaign, store=Store(campaign.store))
    with pytest.raises(LabNotReady, match=r"every instrument is out of service: .*-1: it broke down during lab run \d+.*-2: it broke down"):
        loop.run_async(run)
    experiments = run.experiments()
    failed = [e for e in experiments if e.status == "failed"]
    assert len(failed) == 2 and all("virtual fault" in e.failure_reason for e in failed)  # one struck per robot run
    assert {e.status for e in experiments} <= {"measured", "failed", "approved"}  # done measured, untouched requeued
    decks = DeckStore(run.store)
    for number, name in enumerate(run.labs, start=1):
        assert decks.get(name)[1].out_of_service.startswith("it broke down")
        assert decks.events(name)[0].kind == "out_of_service"
        assert name.endswith(f"-{number}") and run.labs[name]._robot_option() == f" --robot {number}"  # named in its message
    with pytest.raises(LabNotReady, match="every instrument is out of service"):  # a new run refuses before anything runs
        loop.run_async(loop.open_run(campaign, store=Store(campaign.store)))

    from retort.orchestrator.cli.main import main

    file = tmp_path / "c.yaml"
    file.write_text(json.dumps(campaign.model_dump(mode="json") | {"lab": campaign.lab.model_dump(mode="json") | {"faults": {}}}))
    assert main(["deck", "release", str(file), "--robot", "1", "--by", "ana"]) == 0
    assert decks.get(next(iter(run.labs)))[1].out_of_service is None and decks.events(next(iter(run.labs)))[0].actor == "ana"
    fixed = with_changes(campaign, "test", lab=campaign.lab.model_dump(mode="json") | {"faults": {}})
    again = loop.open_run(fixed, store=Store(campaign.store))
    assert loop.in_service(again) == [next(iter(run.labs))]
    loop.run_async(again)  # robot 1 finishes the campaign alone
    assert sum(e.status == "measured" for e in again.experiments()) == 14


def test_a_hung_robot_is_stopped_at_its_deadline_and_taken_out_of_service(tmp_path):
    campaign = faulty(tmp_path, robots=1, budget=4, schedule="batch", hang=1.0)
    run = loop.open_run(campaign, store=Store(campaign.store))
    with pytest.raises(InstrumentDown) as raised:  # the batch schedule stops at it; the next run leaves the robot out
        loop.run_iteration(run, 1)
    assert "stopped answering" in str(raised.value) and "deadline passed" in str(raised.value)
    statuses = Counter(e.status for e in run.experiments())
    assert statuses["failed"] == 1 and statuses["measured"] + statuses["approved"] == 3
    hung = next(e for e in run.experiments() if e.status == "failed")
    assert "stopped answering" in hung.failure_reason
    with pytest.raises(LabNotReady, match="every instrument is out of service"):
        loop.run_iteration(run, 2)
    events = Counter(line["event"] for line in robot_log(tmp_path))
    assert events["start"] == 4 and events["failed"] == 1


def test_a_slow_robot_takes_longer(tmp_path):
    campaign = faulty(tmp_path, robots=2, budget=8, slow={2: 3.0})
    run = loop.open_run(campaign, store=Store(campaign.store))
    first, second = run.labs.values()
    assert second.bench.clock.scale == pytest.approx(3 * first.bench.clock.scale)


@pytest.mark.parametrize("policy", ["leave", "rerun"])
def test_interrupted_experiments_are_rerun_only_when_the_campaign_says_so(tmp_path, policy):
    campaign = faulty(tmp_path, robots=1, budget=8, schedule="batch", on_interrupted=policy)
    run = loop.open_run(campaign, store=Store(campaign.store))
    batch = loop.approve(run, loop.propose(run, 1, None, 4))
    requests = [LabRequest(seq=e.seq, params=e.params) for e in batch]
    run.lab.prepare(requests)
    run.store.set_status([e.id for e in batch], "running")
    run.labs[next(iter(run.labs))].decks.update_run(DeckStore(run.store).runs(run.record.id)[0].id, status="running")  # killed mid-run
    again = loop.open_run(campaign, store=Store(campaign.store))
    assert loop.recover_interrupted(again) == [1, 2, 3, 4]
    after = again.experiments()
    assert [e.status for e in after[:4]] == ["failed"] * 4
    if policy == "leave":
        assert len(after) == 4
    else:
        assert [e.status for e in after[4:]] == ["approved"] * 4 and [e.params for e in after[4:]] == [e.params for e in batch]
        assert [e.provenance.note for e in after[4:]] == [f"re-run of experiment {s}, interrupted" for s in (1, 2, 3, 4)]
        while loop.remaining(again) > 0:
            loop.run_iteration(again, loop.next_iteration(again))
        assert len(again.experiments()) == 8  # the re-runs are within the budget


def test_a_batch_planned_again_on_another_robot_cancels_its_old_reservation(tmp_path):
    """Reserved on robot 2, never started, then given to robot 1: robot 2's reservation is cancelled, so a later
    recovery can never take the experiments for 'not started' and run them a second time."""
    campaign = faulty(tmp_path, robots=2, budget=8)
    run = loop.open_run(campaign, store=Store(campaign.store))
    batch = loop.approve(run, loop.propose(run, 1, None, 4))
    first, second = run.labs
    run.labs[second].prepare([LabRequest(seq=e.seq, params=e.params) for e in batch])  # reserved; the process dies here
    again = loop.open_run(campaign, store=Store(campaign.store))
    loop.run_on(again.ref, first, [e.seq for e in batch])
    runs = DeckStore(again.store).runs(again.record.id)
    assert [(r.deck, r.status) for r in runs] == [(second, "cancelled"), (first, "collected")]
    assert "were planned again" in runs[0].error
    assert loop.recover_interrupted(loop.open_run(campaign, store=Store(campaign.store))) == []
    starts = Counter(line["seq"] for line in robot_log(tmp_path) if line["event"] == "start")
    assert starts == {1: 1, 2: 1, 3: 1, 4: 1}


def test_a_paused_robot_takes_no_new_batch_and_its_experiments_wait(tmp_path):
    from retort.orchestrator.cli.main import main

    campaign = faulty(tmp_path, robots=2, budget=8)
    file = tmp_path / "c.yaml"
    file.write_text(json.dumps(campaign.model_dump(mode="json")))
    run = loop.open_run(campaign, store=Store(campaign.store))
    batch = loop.approve(run, loop.propose(run, 1, None, 4))
    assert main(["deck", "pause", str(file), "--robot", "2", "--by", "ana"]) == 0
    second = list(run.labs)[1]
    with pytest.raises(InstrumentDown, match=f"{second} is out of service: paused by ana"):
        loop.run_on(run.ref, second, [e.seq for e in batch])
    assert [e.status for e in run.experiments()] == ["approved"] * 4
    loop.run_async(run)  # robot 1 does it all
    assert {e.location.split(" plate ")[0] for e in run.experiments()} == {list(run.labs)[0]}
    assert main(["deck", "release", str(file), "--robot", "2"]) == 0
    assert loop.in_service(run) == list(run.labs)
