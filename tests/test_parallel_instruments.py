"""Several virtual robots in one campaign: the batch schedule splits each iteration across them, the
asynchronous one gives each robot work as it frees up; no robot runs two batches at once, no well or
experiment is used twice, the budget is kept; through the Prefect flow each robot's run holds the
robot's global concurrency limit, and a paused (inactive) limit stops the campaign before anything runs."""

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter, defaultdict
from types import SimpleNamespace

import pytest

from retort.orchestrator import loop
from retort.orchestrator.campaign import with_changes
from retort.orchestrator.store.decks import DeckStore
from retort.orchestrator.errors import CampaignError, LabNotReady
from retort.orchestrator.loop.pace import Pace
from retort.orchestrator.store import Store
from tests.conftest import colour_campaign


def robots_campaign(tmp_path, robots=3, schedule="async", budget=20, time_scale=0.0005, name="colour-match"):
    base = colour_campaign()
    return with_changes(base, "test", name=name, budget=budget, schedule=schedule, initial_design=4, store=f"sqlite:///{tmp_path / 'r.db'}",
                        lab=base.lab.model_dump(mode="json") | {"robots": robots, "time_scale": time_scale})


def log_runs(run):
    """Wall-clock (start, end) of every bench run, per robot."""
    intervals, lock = defaultdict(list), threading.Lock()
    for name, lab in run.labs.items():
        def timed(plan, _run=lab.bench.run, _name=name):
            started = time.perf_counter()
            report = _run(plan)
            with lock:
                intervals[_name].append((started, time.perf_counter()))
            return report
        lab.bench.run = timed
    return intervals


def check_store(run, budget):
    experiments = run.experiments()
    assert [e.seq for e in experiments] == list(range(1, budget + 1))
    assert all(e.status == "measured" for e in experiments)
    assert len({e.location for e in experiments}) == budget  # no well used twice
    decks = Counter(e.location.split(" plate ")[0] for e in experiments)
    assert set(decks) == set(run.labs)  # every robot worked, on its own deck
    for lab_run in DeckStore(run.store).runs(run.record.id):
        assert len(lab_run.seqs) <= run.campaign.batch_size and lab_run.status == "collected"
    return experiments


def test_async_schedule_keeps_every_robot_working_and_never_runs_two_batches_on_one(tmp_path):
    campaign = robots_campaign(tmp_path, budget=22)  # not a multiple of the batch: the budget is kept exactly
    run = loop.open_run(campaign, store=Store(campaign.store))
    intervals = log_runs(run)
    loop.run_async(run)
    experiments = check_store(run, 22)
    for spans in intervals.values():  # one batch at a time on each robot
        spans.sort()
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
    first = {name: spans[0] for name, spans in intervals.items()}
    assert max(s for s, _ in first.values()) < min(e for _, e in first.values())  # the robots really ran at once
    model_based = [e for e in experiments if e.provenance.planner == "qLogNEI"]
    assert model_based and all(e.provenance.model_version is not None for e in model_based)


def test_async_proposals_treat_running_experiments_as_pending(tmp_path):
    campaign = robots_campaign(tmp_path, robots=2, budget=12)
    run = loop.open_run(campaign, store=Store(campaign.store))
    seen = []

    def propose(space, observations, pending, n, model, rejected=(), _propose=run.planner.propose):
        seen.append((len(observations), len(pending)))
        return _propose(space, observations, pending, n, model, rejected=rejected)

    run.planner.propose = propose
    loop.run_async(run)
    check_store(run, 12)
    assert any(p > 0 for _, p in seen[1:])  # later proposals knew what was still on the robots


def test_async_plans_several_batches_ahead_when_planning_is_slower_than_a_robot_run(tmp_path, monkeypatch):
    campaign = robots_campaign(tmp_path, robots=2, budget=24)  # robot runs of ~0.1 s; every plan made to take 0.5 s more
    run = loop.open_run(campaign, store=Store(campaign.store))
    intervals, plans, asked = log_runs(run), [], []

    class Recorded(Pace):
        def ahead(self, began, now: float) -> int:
            began = list(began)
            n = super().ahead(began, now)
            asked.append((len(began), n))
            return n

    def plan(ref, iteration, n):
        plans.append(n)
        time.sleep(0.5)
        return loop.plan(ref, iteration, n)

    monkeypatch.setattr(loop.asynchronous, "Pace", Recorded)
    loop.run_async(run, SimpleNamespace(**vars(loop.PLAIN) | {"plan": plan}))
    check_store(run, 24)
    assert plans[:2] == [8, 4]  # both robots' batches, then one batch ahead: no plan or run timed yet
    # once a plan (slower than a robot run) and a run have been timed, with both robots busy the schedule holds
    # both their batches queued or being planned: both are expected to finish during two plans
    assert (2, 8) in asked, asked
    assert 8 in plans[2:], plans
    for spans in intervals.values():
        spans.sort()
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))


def test_batch_schedule_splits_each_iteration_across_the_robots(tmp_path):
    campaign = robots_campaign(tmp_path, robots=2, schedule="batch", budget=16)
    run = loop.open_run(campaign, store=Store(campaign.store))
    while loop.remaining(run) > 0:
        loop.run_iteration(run, loop.next_iteration(run))
    experiments = check_store(run, 16)
    per_iteration = Counter(e.iteration for e in experiments)
    assert list(per_iteration.values()) == [8, 8]  # batch_size 4 on each of 2 robots
    versions = Counter(m.iteration for m in run.store.model_versions(run.record.id))
    assert set(versions.values()) == {1}


def test_a_stopped_async_run_continues_without_repeating_an_experiment(tmp_path):
    campaign = robots_campaign(tmp_path, robots=2, budget=16)
    run = loop.open_run(campaign, store=Store(campaign.store))
    loop.run_async(run, should_stop=lambda: loop.remaining(run) <= 10)
    assert 0 < sum(e.status == "measured" for e in run.experiments()) < 16
    again = loop.open_run(campaign, store=Store(campaign.store))  # a new process
    loop.recover_interrupted(again)
    loop.run_async(again)
    check_store(again, 16)


def test_robots_belong_to_the_virtual_backend():
    base = colour_campaign()
    deck = {"name": "bench", "robot": "ot2", "pipettes": {"left": "p300_single_gen2"}, "tip_racks": {"3": "opentrons_96_tiprack_300ul"},
            "reservoir": {"slot": "2", "load_name": "nest_12_reservoir_15ml"}, "plate": {"slot": "1", "load_name": "corning_96_wellplate_360ul_flat"},
            "stocks": {n: {"well": f"A{i + 1}", "volume": 15000} for i, n in enumerate(("red", "yellow", "blue", "water"))}}
    lab = base.lab.model_dump(mode="json", exclude={"pipettes", "plate", "stock_volume"}) | {"backend": "opentrons", "deck": deck, "robots": 2}
    with pytest.raises(CampaignError, match="robots, time_scale and faults describe virtual robots"):
        with_changes(base, "test", lab=lab)


def test_through_the_flow_each_robot_holds_its_concurrency_limit(prefect_harness, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate

    from retort.orchestrator.flows import campaign_flow
    from retort.orchestrator.flows.limits import limit_name

    campaign = robots_campaign(tmp_path, robots=2, budget=12, name="limits")
    summary = campaign_flow(campaign)
    assert summary.measured == 12
    store = Store(campaign.store)
    decks = sorted({e.location.split(" plate ")[0] for e in store.experiments(store.campaign("limits").id)})
    names = [limit_name(d, None, store.scope) for d in decks]  # virtual robots: their deck, in this store
    with get_client(sync_client=True) as client:
        limits = [client.read_global_concurrency_limit_by_name(name) for name in names]
        assert [(lim.limit, lim.active, lim.active_slots) for lim in limits] == [(1, True, 0)] * 2  # created, active, released
        client.update_global_concurrency_limit(names[0], GlobalConcurrencyLimitUpdate(active=False))
    try:
        with pytest.raises(LabNotReady, match=rf"instrument '{decks[0]}': its Prefect concurrency limit .* is inactive.*prefect gcl enable {names[0]}"):
            campaign_flow(campaign.model_copy(update={"budget": 16}))
        assert len(store.experiments(store.campaign("limits").id)) == 12  # nothing more ran
    finally:
        with get_client(sync_client=True) as client:
            client.update_global_concurrency_limit(names[0], GlobalConcurrencyLimitUpdate(active=True))


def test_instrument_limits_are_keyed_by_the_robot_and_by_the_store_for_virtual_decks(tmp_path):
    """A robot is one limit whichever store or URL spelling drives it; a virtual deck of the same name in two stores
    is two limits (the same store reached by two URLs is one)."""
    from retort.instruments.opentrons.backend import OpentronsBackend
    from retort.orchestrator.flows.limits import limit_name
    from retort.orchestrator.loop import open_run
    from retort.orchestrator.flows.campaign import limits

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one, other = (open_run(robots_campaign(tmp_path / n, robots=1)) for n in "ab")
    assert list(limits(one)) == list(limits(other))  # the example's deck name in both
    assert limits(one) != limits(other)
    same = Store(f"sqlite:///{tmp_path / 'a' / '.' / 'r.db'}")  # the same file, written another way
    assert limit_name("bench", None, same.scope) == limit_name("bench", None, one.store.scope)
    robot = [OpentronsBackend(url).identity for url in ("http://OT2.local:31950/", "http://ot2.local", "ot2.local:31950")]
    assert len(set(robot)) == 1
    assert limit_name("deck-a", robot[0], one.store.scope) == limit_name("deck-b", robot[0], other.store.scope)
    assert limit_name("deck-a", OpentronsBackend("http://ot2.local:31951").identity, "x") != limit_name("deck-a", robot[0], "x")


def test_a_dead_holder_of_another_stores_deck_of_the_same_name_does_not_block(prefect_harness, tmp_path):
    """The example deck name in two stores: a run holding (or dead while holding) store A's slot never delays
    store B's."""
    from retort.orchestrator.flows.limits import ensure_instrument_limits, instrument_slot, limit_name

    a, b = (limit_name("virtual-colour-match-lab", None, Store(f"sqlite:///{tmp_path / n}.db").scope) for n in "ab")
    ensure_instrument_limits({"virtual-colour-match-lab": a})
    ensure_instrument_limits({"virtual-colour-match-lab": b})
    with instrument_slot("virtual-colour-match-lab", a):
        started = time.monotonic()
        with instrument_slot("virtual-colour-match-lab", b):
            assert time.monotonic() - started < 2.0


def test_killing_retort_run_on_busy_robots_frees_their_slots_and_repeats_nothing(tmp_path):
    """`kill -9` while a robot runs: the next `retort run` frees the dead run's instrument slots (its own local
    Prefect server runs no repossessor), fails what was on the robots, and finishes the campaign."""
    from tests.test_end_to_end import _retort_run, _start_retort_run, _wait_until_done

    url = f"sqlite:///{tmp_path / 'kill.db'}"
    file = tmp_path / "campaign.yaml"
    campaign = robots_campaign(tmp_path, robots=2, budget=24, time_scale=0.05)  # both robots have work after the restart
    lab = campaign.lab.model_dump(mode="json") | {"faults": {"log": str(tmp_path / "robots.jsonl")}}
    file.write_text(json.dumps(campaign.model_dump(mode="json", exclude={"store"}) | {"lab": lab}))
    first = _start_retort_run(file, url, tmp_path, subprocess.DEVNULL)
    try:
        _wait_until_done(url, "colour-match", 4, first)
        deadline = time.monotonic() + 180
        # until a robot is in a run (often both; not when a loaded machine plans slower than a robot runs)
        while len(Store(url).experiments(1, statuses=("running",))) < 4:
            assert time.monotonic() < deadline, "no robot run started"
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)
    prefect_db = tmp_path / ".prefect" / "prefect.db"
    with contextlib.closing(sqlite3.connect(prefect_db)) as db:
        assert sum(n for (n,) in db.execute("select active_slots from concurrency_limit_v2")) >= 1  # held by the dead run

    command, env = _retort_run(file, url, tmp_path)
    started = time.monotonic()
    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    assert time.monotonic() - started < 240  # the dead run's leases expire within a minute and are freed
    store = Store(url)
    experiments = store.experiments(store.campaign("colour-match").id)
    assert len(experiments) == 24 and all(e.status in ("measured", "failed") for e in experiments)
    assert all("interrupted" in e.failure_reason for e in experiments if e.status == "failed")
    starts = Counter(line["seq"] for line in map(json.loads, (tmp_path / "robots.jsonl").read_text().splitlines())
                     if line["event"] == "start")
    assert set(starts.values()) == {1}  # nothing dispensed twice
    with contextlib.closing(sqlite3.connect(prefect_db)) as db:
        assert [n for (n,) in db.execute("select active_slots from concurrency_limit_v2")] == [0, 0]


def test_an_instrument_slot_is_held_for_the_run_and_a_second_taker_waits(prefect_harness):
    from prefect.client.orchestration import get_client

    from retort.orchestrator.flows.limits import ensure_instrument_limits, instrument_slot

    name = "retort-instrument-slot-test"
    ensure_instrument_limits({"slot-test": name})
    order, second_has_it = [], threading.Event()

    def second():
        with instrument_slot("slot-test", name):
            order.append("second")
            second_has_it.set()

    with instrument_slot("slot-test", name):
        with get_client(sync_client=True) as client:
            assert client.read_global_concurrency_limit_by_name(name).active_slots == 1
        waiter = threading.Thread(target=second)
        waiter.start()
        assert not second_has_it.wait(3.0)  # it waits while the first holds the slot
        order.append("first done")
    waiter.join(30)
    assert order == ["first done", "second"]


def test_through_the_flow_transient_refusals_are_retried_by_prefect(prefect_harness, tmp_path, monkeypatch):
    from retort.orchestrator import flows

    from retort.simulators import Faults

    fast = SimpleNamespace(**vars(flows.TASKS) | {"run_on": flows.run_on_task.with_options(retry_delay_seconds=[0.01] * 3)})
    monkeypatch.setitem(flows.STEPS, "local", fast)
    # every run's first try is refused (drawn faults depend on which robot gets which run: not certain in 3 runs)
    monkeypatch.setattr(Faults, "draw", lambda self, deck, label, attempt: ("transient" if attempt == 0 else None, 0))
    base = robots_campaign(tmp_path, robots=2, budget=12, name="retried")
    lab = base.lab.model_dump(mode="json") | {"faults": {"transient": 0.4, "log": str(tmp_path / "robots.jsonl")}}
    summary = flows.campaign_flow(with_changes(base, "test", lab=lab))
    assert summary.measured == 12
    lines = [json.loads(line) for line in (tmp_path / "robots.jsonl").read_text().splitlines()]
    refused = {line["lab_run"] for line in lines if line["event"] == "refused"}
    assert refused == {line["lab_run"] for line in lines if line["event"] == "start"}  # every run refused once, then retried by Prefect
    starts = Counter(line["seq"] for line in lines if line["event"] == "start")
    assert sorted(starts) == list(range(1, 13)) and set(starts.values()) == {1}
