"""Approval as stored state: proposals wait for a person's decision (approve, reject, edit, add), every decision is
checked before anything is stored and kept in the audit trail, and the loop waits on the store alone."""

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from retort.orchestrator import loop
from retort.orchestrator.decisions.approvals import TIMEOUT_ACTOR, Decision, decide, settle_overdue
from retort.orchestrator.campaign import Approval, load_campaign
from retort.orchestrator.store.decisions import DecisionStore
from retort.orchestrator.errors import DecisionError, LabError
from retort.orchestrator.labs import build_labs
from retort.orchestrator.store import Store
from tests.conftest import branin_campaign, colour_campaign

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    monkeypatch.setattr(loop.waits, "DECISION_POLL", 0.05)


def person(url, campaign):
    """Another process's view: its own store connection, the campaign as stored."""
    store = Store(url)
    record = store.campaign(campaign.name)
    return store, record, build_labs(campaign, store)


def until(condition, timeout=60.0):
    import time

    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_the_approval_setting_reads_a_word_or_a_policy_and_refuses_half_a_policy():
    assert branin_campaign(approval="required").approval == Approval(mode="required")
    assert branin_campaign().approval.mode == "auto"
    timed = branin_campaign(approval={"mode": "required", "wait": 30, "then": "reject"}).approval
    assert timed.describe() == "required; after 30 min undecided: reject"
    with pytest.raises(ValueError, match="give 'wait' .* and 'then' .* together"):
        branin_campaign(approval={"mode": "required", "wait": 30})
    with pytest.raises(ValueError, match="apply to mode 'required'"):
        branin_campaign(approval={"mode": "auto", "wait": 30, "then": "approve"})


def test_a_batch_waits_for_a_person_and_a_rejection_spends_no_budget(store_url):
    url = store_url
    campaign = branin_campaign(approval="required", budget=4, store=url)
    run = loop.open_run(campaign, store=Store(url))
    done = []
    worker = threading.Thread(target=lambda: done.append(loop.run_iteration(run, 1)), daemon=True)
    worker.start()
    store, record, labs = person(url, campaign)
    until(lambda: len(store.experiments(record.id, statuses=("proposed",))) == 2)
    assert worker.is_alive() and store.status_counts(record.id) == {"proposed": 2}  # nothing runs undecided
    with pytest.raises(DecisionError, match="experiment 2: a rejection needs a reason"):
        decide(campaign, store, record.id, labs, [Decision(action="approve", seq=1), Decision(action="reject", seq=2)], "alice")
    assert store.status_counts(record.id) == {"proposed": 2}  # all or nothing
    decide(campaign, store, record.id, labs, [Decision(action="approve", seq=1),
                                              Decision(action="reject", seq=2, reason="too close to the edge")], "alice")
    worker.join(60)
    assert done[0].measured == [1]
    e1, e2 = run.experiments()
    assert (e1.status, e2.status) == ("measured", "rejected") and e2.failure_reason == "rejected by alice: too close to the edge"
    assert loop.unallocated(run) == 3 and loop.remaining(run) == 3  # the rejection spent nothing
    trail = DecisionStore(store).events(record.id)
    assert [(a.seq, a.action, a.actor, a.reason) for a in trail] == [(2, "reject", "alice", "too close to the edge"), (1, "approve", "alice", "")]
    assert trail[0].before == e2.params and trail[0].after == e2.params | {"status": "rejected"}
    with pytest.raises(DecisionError, match=r"experiment 1 is already measured"):
        decide(campaign, store, record.id, labs, [Decision(action="approve", seq=1)], "bob")


def test_an_edit_is_checked_against_the_space_then_stored_with_what_was_proposed(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    campaign = branin_campaign(approval="required", store=url)
    run = loop.open_run(campaign, store=Store(url))
    (first, _) = loop.propose(run, 1, None, 2)
    store, record, labs = person(url, campaign)
    for values, message in (({"x1": "20"}, "parameter 'x1': value 20.0 is outside its domain"),
                            ({"x1": "abc"}, "x1='abc' is not a number"),
                            ({"x1": "nan"}, "x1='nan' is not a finite number"),
                            ({"x3": "1"}, r"unknown parameters \['x3'\]")):
        with pytest.raises(DecisionError, match=message):
            decide(campaign, store, record.id, labs, [Decision(action="edit", seq=1, values=values)], "alice")
    assert store.experiments(record.id, seqs=[1])[0].params == first.params
    (edited,) = decide(campaign, store, record.id, labs, [Decision(action="edit", seq=1, values={"x1": "2.5"}, reason="known region")], "alice")
    assert edited.status == "approved" and edited.params == {"x1": 2.5, "x2": first.params["x2"]}
    (event,) = DecisionStore(store).events(record.id)
    assert (event.action, event.before, event.after) == ("edit", first.params, {"x1": 2.5, "x2": first.params["x2"], "status": "approved"})
    (added,) = decide(campaign, store, record.id, labs, [Decision(action="add", values={"x1": "1", "x2": "2"}, reason="my guess")], "bob")
    assert (added.seq, added.status, added.provenance.planner, added.params) == (3, "approved", "operator", {"x1": 1.0, "x2": 2.0})
    with pytest.raises(DecisionError, match=r"add: missing values for \['x2'\]"):
        decide(campaign, store, record.id, labs, [Decision(action="add", values={"x1": "1"})], "bob")


def test_an_edit_the_lab_cannot_run_is_refused_naming_the_limit(tmp_path):
    campaign = load_campaign(EXAMPLES / "buchwald_hartwig.yaml").model_copy(update={"approval": Approval(mode="required")})
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    run = loop.open_run(campaign, store=store)
    loop.propose(run, 1, None, 1)
    hole = run.lab.unavailable()[0]
    with pytest.raises(DecisionError, match="experiment 1: lab cannot run it: .* a combination this lab cannot run"):
        decide(campaign, store, run.record.id, run.labs, [Decision(action="edit", seq=1, values=hole)], "alice")
    colour = build_labs(colour_campaign())
    lab = next(iter(colour.values()))
    with pytest.raises(LabError, match="0.2 uL is below the smallest volume any mounted pipette can move"):
        lab.check({"red": 0.2, "yellow": 10.0, "blue": 10.0, "water": 10.0})
    with pytest.raises(LabError, match="a well would hold 420 uL, more than its 360 uL"):
        lab.check({"red": 300.0, "yellow": 100.0, "blue": 10.0, "water": 10.0})
    lab.check({"red": 30.0, "yellow": 10.0, "blue": 10.0, "water": 10.0})


def test_of_two_people_deciding_one_proposal_the_second_is_told_who_was_first(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    campaign = branin_campaign(approval="required", store=url)
    run = loop.open_run(campaign, store=Store(url))
    loop.propose(run, 1, None, 2)
    store, record, labs = person(url, campaign)
    decide(campaign, store, record.id, labs, [Decision(action="approve", seq=1)], "alice")
    with pytest.raises(DecisionError, match=r"experiment 1 is already approved \(approve by alice at .* UTC\); nothing was decided"):
        decide(campaign, store, record.id, labs, [Decision(action="reject", seq=1, reason="no"), Decision(action="approve", seq=2)], "bob")
    assert [e.status for e in run.experiments()] == ["approved", "proposed"]  # checked under the row's lock: all or nothing


def test_proposals_nobody_decides_in_time_follow_the_campaigns_policy(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    campaign = branin_campaign(approval={"mode": "required", "wait": 10, "then": "reject"}, store=url)
    run = loop.open_run(campaign, store=Store(url))
    batch = loop.propose(run, 1, None, 2)
    proposed_at = batch[0].proposed_at
    assert settle_overdue(campaign, run.store, run.record.id, now=proposed_at + timedelta(minutes=9)) == []
    assert settle_overdue(campaign, run.store, run.record.id, now=proposed_at + timedelta(minutes=10, seconds=1)) == [1, 2]
    assert [e.status for e in run.experiments()] == ["rejected", "rejected"]
    (event, _) = DecisionStore(run.store).events(run.record.id)
    assert event.actor == TIMEOUT_ACTOR and event.reason == "no decision within 10 min (approval.then: reject)"


def test_a_rejected_candidate_is_never_proposed_again_in_a_finite_space(tmp_path):
    campaign = load_campaign(EXAMPLES / "buchwald_hartwig.yaml").model_copy(update={"approval": Approval(mode="required"), "budget": 8})
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    run = loop.open_run(campaign, store=store)
    first = loop.propose(run, 1, None, 4)
    decide(campaign, store, run.record.id, run.labs, [Decision(action="reject", seq=e.seq, reason="no") for e in first], "alice")
    again = loop.propose(run, 2, None, 4)
    rejected = {campaign.space.index_of(e.params) for e in first}
    assert rejected.isdisjoint(campaign.space.index_of(e.params) for e in again)


def test_the_async_schedule_runs_what_is_approved_while_other_proposals_wait(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    campaign = branin_campaign(approval="required", schedule="async", budget=4, store=url)
    run = loop.open_run(campaign, store=Store(url))
    worker = threading.Thread(target=lambda: loop.run_async(run), daemon=True)
    worker.start()
    store, record, labs = person(url, campaign)
    until(lambda: len(store.experiments(record.id, statuses=("proposed",))) == 2)
    decide(campaign, store, record.id, labs, [Decision(action="approve", seq=1)], "alice")
    until(lambda: store.experiments(record.id, seqs=[1])[0].status == "measured")
    assert store.experiments(record.id, seqs=[2])[0].status == "proposed"  # waits; nothing else is planned meanwhile
    assert len(store.experiments(record.id)) == 2 + (1 if store.experiments(record.id, seqs=[3]) else 0) <= 3
    while worker.is_alive():
        waiting = store.experiments(record.id, statuses=("proposed",))
        if waiting:
            decide(campaign, store, record.id, labs, [Decision(action="approve", seq=e.seq) for e in waiting], "alice")
        worker.join(0.1)
    assert [e.status for e in run.experiments()] == ["measured"] * 4


def test_of_two_people_deciding_at_the_same_moment_exactly_one_wins_each_proposal(store_url):
    campaign = branin_campaign(approval="required", budget=40, store=store_url)
    run = loop.open_run(campaign, store=Store(store_url))
    loop.propose(run, 1, None, 20)
    outcomes = {"alice": [], "bob": []}

    def decider(name, action, barrier):
        store, record, labs = person(store_url, campaign)
        for seq in range(1, 21):
            barrier.wait()
            try:
                decide(campaign, store, record.id, labs, [Decision(action=action, seq=seq, reason="race")], name)
                outcomes[name].append(seq)
            except DecisionError as exc:
                assert f"experiment {seq} is already" in str(exc)

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=decider, args=(n, a, barrier)) for n, a in (("alice", "approve"), ("bob", "reject"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(outcomes["alice"] + outcomes["bob"]) == list(range(1, 21))  # each decided once
    events = DecisionStore(run.store).events(run.record.id)
    assert sorted(e.seq for e in events) == list(range(1, 21))
    status = {e.seq: e.status for e in run.experiments()}
    assert all(status[e.seq] == ("approved" if e.actor == "alice" else "rejected") for e in events)


def test_experiments_added_while_the_loop_proposes_are_numbered_without_a_clash(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    campaign = branin_campaign(approval="required", budget=200, store=url)
    run = loop.open_run(campaign, store=Store(url))
    errors = []

    def planner():
        try:
            for i in range(25):
                loop.propose(run, i + 1, None, 2)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def operator():
        store, record, labs = person(url, campaign)
        try:
            for _ in range(25):
                decide(campaign, store, record.id, labs, [Decision(action="add", values={"x1": "1", "x2": "2"})], "olga")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=planner), threading.Thread(target=operator)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert [e.seq for e in run.experiments()] == list(range(1, 76))


def test_an_experiment_added_beyond_the_budget_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    campaign = branin_campaign(approval="required", budget=2, initial_design=2, store=url)
    run = loop.open_run(campaign, store=Store(url))
    loop.propose(run, 1, None, 2)
    with pytest.raises(DecisionError, match=r"the budget \(2\) has room for 0 more experiments"):
        decide(campaign, run.store, run.record.id, run.labs, [Decision(action="approve", seq=1),
                                                              Decision(action="add", values={"x1": "1", "x2": "2"})], "olga")
    assert [e.status for e in run.experiments()] == ["proposed", "proposed"]  # all or nothing
    decide(campaign, run.store, run.record.id, run.labs, [Decision(action="reject", seq=2, reason="no"),
                                                          Decision(action="add", values={"x1": "1", "x2": "2"})], "olga")
    assert [(e.seq, e.status) for e in run.experiments()] == [(1, "proposed"), (2, "rejected"), (3, "approved")]


def test_rejected_proposals_do_not_shorten_the_initial_design(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    campaign = branin_campaign(approval="required", budget=8, initial_design=4, store=url)
    run = loop.open_run(campaign, store=Store(url))
    first = loop.propose(run, 1, None, 2)
    decide(campaign, run.store, run.record.id, run.labs, [Decision(action="reject", seq=e.seq, reason="no") for e in first], "olga")
    design = [loop.propose(run, i, loop.fit(run, i), 2) for i in (2, 3)]
    assert [e.provenance.planner for batch in design for e in batch] == ["sobol"] * 4
    assert {tuple(e.params.values()) for e in first}.isdisjoint(tuple(e.params.values()) for b in design for e in b)


def test_a_finite_space_used_up_by_rejections_stops_with_a_message(tmp_path):
    campaign = load_campaign(EXAMPLES / "buchwald_hartwig.yaml").model_copy(update={"approval": Approval(mode="required")})
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    run = loop.open_run(campaign, store=store)
    everything = loop.propose(run, 1, None, loop.plannable(run))
    assert len(everything) == campaign.budget  # the budget, not more
    decide(campaign, store, run.record.id, run.labs, [Decision(action="reject", seq=e.seq, reason="no") for e in everything], "olga")
    left = run.space.n_candidates() - len(run.space.excluded_indices()) - campaign.budget
    assert loop.plannable(run) == min(campaign.budget, left)


def test_async_with_a_proposal_limit_runs_what_it_planned_and_an_added_experiment_runs_while_others_wait(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    campaign = branin_campaign(approval="required", schedule="async", budget=6, store=url)
    run = loop.open_run(campaign, store=Store(url))
    worker = threading.Thread(target=lambda: loop.run_async(run, last_iteration=1), daemon=True)
    worker.start()
    store, record, labs = person(url, campaign)
    until(lambda: len(store.experiments(record.id, statuses=("proposed",))) == 2)
    (added,) = decide(campaign, store, record.id, labs, [Decision(action="add", values={"x1": "1", "x2": "2"})], "olga")
    until(lambda: store.experiments(record.id, seqs=[added.seq])[0].status == "measured")  # runs while 1 and 2 wait
    assert [e.status for e in store.experiments(record.id, seqs=[1, 2])] == ["proposed", "proposed"]
    decide(campaign, store, record.id, labs, [Decision(action="approve", seq=1), Decision(action="reject", seq=2, reason="no")], "olga")
    worker.join(60)
    assert not worker.is_alive()
    assert [(e.seq, e.status) for e in run.experiments()] == [(1, "measured"), (2, "rejected"), (3, "measured")]  # nothing past iteration 1


def test_a_result_measured_by_hand_is_stored_checked_and_the_loop_does_not_run_it_again(tmp_path):
    from retort.orchestrator.decisions.approvals import record_by_hand

    url = f"sqlite:///{tmp_path / 's.db'}"
    campaign = branin_campaign(approval="required", budget=4, initial_design=2, store=url)
    run = loop.open_run(campaign, store=Store(url))
    loop.propose(run, 1, None, 2)
    store, record, labs = person(url, campaign)
    for values, message in (({}, r"give a value for each objective \['y'\]"), ({"y": "nan"}, "experiment 1, y: 'nan' is not a finite number"),
                            ({"z": "1"}, r"unknown values \['z'\]")):
        with pytest.raises(DecisionError, match=message):
            record_by_hand(campaign, store, record.id, 1, values, "olga")
    e = record_by_hand(campaign, store, record.id, 1, {"y": "12.5"}, "olga", "ran it on the bench")
    assert e.status == "measured" and run.experiments(seqs=[1])[0].objectives() == {"y": 12.5}
    with pytest.raises(DecisionError, match="experiment 1 is measured; only a proposed or approved experiment"):
        record_by_hand(campaign, store, record.id, 1, {"y": "1"}, "olga")
    decide(campaign, store, record.id, labs, [Decision(action="approve", seq=2)], "olga")
    assert loop.run_on(run.ref, "lab", [1]).measured == []  # handed out before the hand entry landed: skipped, not an error
    loop.run_iteration(run, 1)
    assert [e.status for e in run.experiments()] == ["measured", "measured"]
    approved, by_hand = DecisionStore(store).events(record.id)
    assert (approved.action, by_hand.action, by_hand.actor, by_hand.after, by_hand.reason) == (
        "approve", "by hand", "olga", {"y": 12.5}, "ran it on the bench")


def test_retort_record_enters_a_result_from_the_command_line(tmp_path):
    import json

    from tests.orchestrator.test_cli import retort

    url = f"sqlite:///{tmp_path / 'lab.db'}"
    campaign = branin_campaign(approval="required", store=url)
    (tmp_path / "c.yaml").write_text(json.dumps(campaign.model_dump(mode="json")))
    run = loop.open_run(campaign, store=Store(url))
    loop.propose(run, 1, None, 2)
    done = retort("record", "c.yaml", "2", "y=4.25", "--by", "olga", cwd=tmp_path)
    assert done.returncode == 0 and "experiment 2 of branin-test: measured by hand by olga" in done.stdout
    bad = retort("record", "c.yaml", "1", "y=", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr == "error: experiment 1, y: empty; a measurement is needed\n"
    assert [e.status for e in run.experiments()] == ["proposed", "measured"]
