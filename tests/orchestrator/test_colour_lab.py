"""The colour lab on stored deck state: plans reserved before anything moves, never a tip or well twice,
refills by a virtual operator or a pause, and collecting a stored report after a stop."""

import json

import pytest

from retort.instruments.plan import Plan, RunReport
from retort.orchestrator import loop
from retort.orchestrator.campaign import with_changes
from retort.orchestrator.store.decks import DeckStore
from retort.orchestrator.errors import DeckEmpty
from retort.orchestrator.store import Store
from tests.conftest import colour_campaign
from tests.instruments.decks import ot2_deck


def deck_campaign(name="colour-deck", **lab):
    """colour_match on an explicit OT-2 deck, on the virtual backend."""
    base = colour_campaign()
    data = base.lab.model_dump(mode="json", exclude={"pipettes", "plate", "stock_volume", "deck"})
    deck = ot2_deck(name="bench").model_dump(mode="json")
    return with_changes(base, "test", name=name, budget=12, lab=data | {"kind": "colour", "deck": deck} | lab)


def used(store, deck):
    """Every tip and well the stored plans of `deck` use, as lists (duplicates kept)."""
    tips, wells = [], []
    for run in DeckStore(store).runs(deck=deck):
        plan = Plan.model_validate_json(run.plan_json)
        tips += [str(t) for t in plan.tips()]
        wells += [f"{plan.plate}:{e.well.well}" for e in plan.experiments]
    return tips, wells


def touched(store, deck):
    """Every tip and well the deck's collected runs touched, by the backend's own record, as lists (duplicates kept)."""
    tips, wells = [], []
    for run in DeckStore(store).runs(deck=deck):
        if run.report_json:
            report, plan = RunReport.model_validate_json(run.report_json), Plan.model_validate_json(run.plan_json)
            tips += [str(t) for t in report.touched.tips]
            wells += [f"{plan.plate}:{w}" for w in report.touched.wells]
    return tips, wells


def test_a_restarted_process_and_a_second_campaign_never_reuse_a_tip_or_well(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    first = loop.open_run(deck_campaign("first"), store=store)
    loop.run_iteration(first, 1)
    again = loop.open_run(deck_campaign("first"), store=Store(store.url))  # a new process: a new lab, the stored deck
    loop.run_iteration(again, 2)
    second = loop.open_run(deck_campaign("second"), store=store)  # another campaign on the same deck
    loop.run_iteration(second, 1)
    tips, wells = used(store, "bench-virtual")
    assert len(wells) == 12 and len(set(wells)) == 12 and len(set(tips)) == len(tips) == 12 * 4
    _, state = DeckStore(store).get("bench-virtual")
    assert set(tips) == {f"{slot}:{w}" for slot, ws in state.used_tips.items() for w in ws}
    measured = [e for r in (again, second) for e in r.experiments() if e.status == "measured"]
    assert len(measured) == 8 + 4 and all(e.location.startswith("plate 1 ") for e in measured)


def test_running_out_pauses_without_touching_the_experiments_then_a_refill_continues(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    campaign = deck_campaign(auto_refill=False)
    run = loop.open_run(campaign, store=store)
    decks = DeckStore(store)
    decks.change("bench-virtual", "test", "test", {}, lambda deck, state: state.model_copy(
        update={"used_tips": {"4": tuple(deck.labware("4").wells()[:94])}}))
    batch = loop.propose(run, 1, None, 4)
    batch = loop.approve(run, batch)
    with pytest.raises(DeckEmpty, match=r"needs \d+ more opentrons_96_tiprack_300ul tips .*retort deck refill"):
        loop.execute(run, batch)
    assert {e.status for e in run.experiments()} == {"approved"}
    assert decks.runs(deck="bench-virtual") == []
    decks.change("bench-virtual", "refill", "ada", {"tips": ["4"]}, lambda deck, state: state.refill_tips(["4"]))
    outcome = loop.run_iteration(run, 1)  # continues the approved batch
    assert len(outcome.measured) == 4
    assert [e.kind for e in decks.events("bench-virtual")][:3] == ["reserved", "refill", "test"]


def test_a_full_plate_is_replaced_by_the_virtual_operator_and_a_batch_never_spans_plates(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    run = loop.open_run(deck_campaign(), store=store)
    DeckStore(store).change("bench-virtual", "test", "test", {}, lambda deck, state: state.model_copy(
        update={"wells": {w: {"water": 100.0} for w in deck.labware("1").wells()[:94]}}))
    loop.run_iteration(run, 1)
    assert [e.location for e in run.experiments()] == ["plate 2 A1", "plate 2 B1", "plate 2 C1", "plate 2 D1"]
    event = DeckStore(store).events("bench-virtual")[1]
    assert event.kind == "refill" and event.actor == "virtual operator" and "a new plate" in event.detail["needs"][0]


def test_a_report_stored_before_a_stop_is_collected_and_measured_on_restart(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    run = loop.open_run(deck_campaign(), store=store)
    batch = loop.approve(run, loop.propose(run, 1, None, 4))
    loop.execute(run, batch)  # ... and the process dies before measuring
    again = loop.open_run(deck_campaign(), store=Store(store.url))
    assert loop.recover_interrupted(again) == []
    statuses = [e.status for e in again.experiments()]
    assert statuses == ["measured"] * 4
    [lab_run] = DeckStore(store).runs(deck="bench-virtual")
    report = RunReport.model_validate_json(lab_run.report_json)
    assert lab_run.status == "collected" and [e.seq for e in report.experiments] == [1, 2, 3, 4]


def test_a_plan_reserved_but_never_run_is_reused_not_replanned(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    run = loop.open_run(deck_campaign(), store=store)
    batch = loop.approve(run, loop.propose(run, 1, None, 4))
    from retort.orchestrator.labs import LabRequest

    run.lab.prepare([LabRequest(seq=e.seq, params=e.params) for e in batch])  # reserved; the process dies
    again = loop.open_run(deck_campaign(), store=Store(store.url))
    loop.run_iteration(again, 1)
    runs = DeckStore(store).runs(deck="bench-virtual")
    assert len(runs) == 1 and json.loads(json.dumps(runs[0].seqs)) == [1, 2, 3, 4] and runs[0].status == "collected"


def test_a_run_failing_part_way_measures_what_completed_fails_what_it_touched_and_requeues_the_rest(tmp_path):
    from retort.orchestrator.errors import LabRunFailed

    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    run = loop.open_run(deck_campaign(fail_runs_at=[3]), store=store)
    with pytest.raises(LabRunFailed, match=r"experiment 3: virtual fault.*experiments \[4\] were not started") as exc:
        loop.run_iteration(run, 1)
    assert (exc.value.done, list(exc.value.failed), exc.value.not_started) == ([1, 2], [3], [4])
    assert [e.status for e in run.experiments()] == ["measured", "measured", "failed", "approved"]
    assert "virtual fault" in run.experiments()[2].failure_reason
    first = DeckStore(store).runs(deck="bench-virtual")[0]
    plan = Plan.model_validate_json(first.plan_json)
    four = next(e for e in plan.experiments if e.seq == 4)
    config, state = DeckStore(store).get("bench-virtual")
    assert four.well.well not in state.wells  # the robot never reached experiment 4: its well and tips came back
    assert not {str(s.tip) for s in four.steps if hasattr(s, "tip")} & {f"{k}:{w}" for k, ws in state.used_tips.items() for w in ws}
    loop.run_iteration(run, 1)  # the next run continues experiment 4, in the well it never touched
    e4 = run.experiments()[3]
    assert e4.status == "measured" and e4.location == f"plate 1 {four.well.well}"
    tips, wells = touched(store, "bench-virtual")
    assert len(set(tips)) == len(tips) and len(set(wells)) == len(wells) == 4  # nothing touched twice
    config, state = DeckStore(store).get("bench-virtual")
    assert {f"{k}:{w}" for k, ws in state.used_tips.items() for w in ws} == set(tips)  # the store holds what the robot used
    assert {f"1:{w}" for w in state.wells} == set(wells)


def test_experiments_stopped_before_their_batch_was_sent_anywhere_go_back_to_the_queue(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    run = loop.open_run(deck_campaign(), store=store)
    batch = loop.approve(run, loop.propose(run, 1, None, 4))
    from retort.orchestrator.labs import LabRequest

    locations = run.lab.prepare([LabRequest(seq=e.seq, params=e.params) for e in batch]).locations
    store.set_status([e.id for e in batch], "running", location={e.id: locations[e.seq] for e in batch})  # and the process dies
    again = loop.open_run(deck_campaign(), store=Store(store.url))
    assert loop.recover_interrupted(again) == []
    assert {e.status for e in again.experiments()} == {"approved"}
    assert DeckStore(store).runs(deck="bench-virtual")[0].status == "cancelled"
    config, state = DeckStore(store).get("bench-virtual")
    assert state == config.full_state()  # nothing of the cancelled batch moved: all it reserved is free again
    loop.run_iteration(again, 1)
    assert {e.status for e in again.experiments()} == {"measured"}
    tips, wells = touched(store, "bench-virtual")
    assert len(set(tips)) == len(tips) == 16 and len(set(wells)) == 4
