"""The loop's steps without Prefect: completion, resuming after a crash, failed measurements."""

from retort.orchestrator import loop
from retort.orchestrator.campaign.results import summarise
from retort.orchestrator.labs import LabRequest, build_lab
from retort.orchestrator.store import Store
from tests.conftest import branin_campaign, colour_campaign


def run_to_end(campaign, store):
    run = loop.open_run(campaign, store=store)
    loop.recover_interrupted(run)
    while loop.remaining(run) > 0:
        loop.run_iteration(run, loop.next_iteration(run))
    return run


def test_campaign_runs_to_budget_with_model_provenance(store_url):
    campaign = branin_campaign()
    store = Store(store_url)
    run = run_to_end(campaign, store)
    experiments = run.experiments()
    assert [e.seq for e in experiments] == list(range(1, 9))
    assert all(e.status == "measured" for e in experiments)
    versions = {m.id for m in store.model_versions(run.record.id)}
    model_based = [e for e in experiments if e.provenance.planner == "qLogNEI"]
    assert len(model_based) == 4 and all(e.provenance.model_version in versions for e in model_based)
    summary = summarise(campaign, experiments, store.model_versions(run.record.id))
    assert summary.measured == 8 and summary.best_objectives["y"] == min(e.objectives()["y"] for e in experiments)


def test_resume_continues_open_experiments_and_fails_interrupted_ones(tmp_path):
    campaign = branin_campaign(budget=10)
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    run = loop.open_run(campaign, store=store)
    loop.run_iteration(run, 1)
    # crash 1: proposals stored, not yet run
    proposed = loop.propose(run, 2, loop.fit(run, 2), 2)
    # crash 2 (simulated on the next batch): one experiment was on the instruments
    before = {e.seq: e for e in run.experiments() if e.status == "measured"}

    resumed = loop.open_run(campaign, store=Store(f"sqlite:///{tmp_path / 's.db'}"))
    assert loop.recover_interrupted(resumed) == []
    loop.run_iteration(resumed, loop.next_iteration(resumed))  # runs the stored proposals, proposes nothing
    after = resumed.experiments()
    assert [e.params for e in after if e.seq in (3, 4)] == [p.params for p in proposed]
    assert len(after) == 4

    batch = loop.propose(resumed, 3, None, 2)
    resumed.store.set_status([e.id for e in batch], "approved")
    resumed.store.set_status([e.id for e in batch], "running")
    again = loop.open_run(campaign, store=Store(f"sqlite:///{tmp_path / 's.db'}"))
    assert loop.recover_interrupted(again) == [5, 6]
    while loop.remaining(again) > 0:
        loop.run_iteration(again, loop.next_iteration(again))
    final = again.experiments()
    assert len(final) == 10 and len({e.seq for e in final}) == 10
    assert [e.status for e in final].count("failed") == 2
    assert all("interrupted" in e.failure_reason for e in final if e.status == "failed")
    for seq, e in before.items():  # nothing stored was altered
        assert final[seq - 1] == e


def test_nan_reading_is_stored_as_failed_and_left_out_of_the_model(tmp_path):
    campaign = branin_campaign(lab={"kind": "virtual_analytic", "function": "branin", "nan_readings_at": [3]})
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    run = loop.open_run(campaign, store=store)
    loop.run_iteration(run, 1)
    outcome = loop.run_iteration(run, 2)
    assert list(outcome.failed) == [3] and "returned non-finite values for y" in outcome.failed[3]
    e3 = run.experiments()[2]
    assert e3.status == "failed" and e3.raw() == {"y": None} and e3.objectives() == {}
    assert len(loop.observations(campaign, run.experiments())) == 3


def test_a_batch_handed_out_twice_runs_once_and_the_second_hand_reserves_nothing(tmp_path):
    import pytest

    from retort.orchestrator.store.decks import DeckStore
    from retort.orchestrator.errors import LabError

    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    run = loop.open_run(colour_campaign(budget=4, batch_size=4), store=store)
    seqs = loop.approve_seqs(run.ref, loop.plan(run.ref, 1, 4))
    (deck,) = run.labs
    assert loop.run_on(run.ref, deck, seqs).measured
    runs = DeckStore(store).runs(deck=deck)
    # e.g. a Prefect flow run scheduled before its campaign flow restarted, started after the batch ran
    with pytest.raises(LabError, match=r"experiments \{1: 'measured', 2: 'measured', 3: 'measured', 4: 'measured'\} are no longer approved"):
        loop.run_on(run.ref, deck, seqs)
    assert DeckStore(store).runs(deck=deck) == runs and all(e.status == "measured" for e in run.experiments())
