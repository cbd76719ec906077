import math

import pytest

from retort.agents.proposal import Prediction, Proposal, Provenance
from retort.orchestrator.errors import StoreError
from retort.orchestrator.store import Store
from retort.surrogates import ModelSummary


def proposals(n):
    return [Proposal(params={"x": float(i)}, provenance=Provenance(planner="qLogNEI", model_version=None,
                     predicted={"y": Prediction(mean=1.0, std=0.5)}, acquisition_value=-2.0)) for i in range(n)]


def test_lifecycle_measurements_and_model_versions(store_url):
    store = Store(store_url)
    c = store.open_campaign("demo", '{"budget": 4, "seed": 1}')
    first = store.add_proposals(c.id, 1, proposals(2))
    second = store.add_proposals(c.id, 2, proposals(1))
    assert [e.seq for e in first + second] == [1, 2, 3]
    ids = [e.id for e in first]
    store.set_status(ids, "approved")
    store.set_status(ids, "running", location={ids[0]: "plate 1 A1", ids[1]: "plate 1 B1"})
    store.record_result(ids[0], {"A520": 0.4}, {"y": 0.1}, {"A520": "AU"}, "plate_reader", 12.5)
    store.record_result(ids[1], {"A520": float("nan")}, {}, {}, "plate_reader", 3.0, failure="A520 is NaN")
    e1, e2, e3 = store.experiments(c.id)
    assert e1.status == "measured" and e1.objectives() == {"y": 0.1} and e1.raw() == {"A520": 0.4}
    assert e1.location == "plate 1 A1" and e1.provenance.predicted["y"].std == 0.5 and e1.lab_seconds == 12.5
    assert e2.status == "failed" and e2.raw() == {"A520": None} and e2.failure_reason == "A520 is NaN"
    assert e3.status == "proposed"
    version = store.add_model_version(c.id, 2, ModelSummary(outputs=["y"], n_train=1, hyperparameters={"noise": [0.1]},
                                      loo_coverage_95={"y": 1.0}, loo_log_likelihood={"y": -0.5}, fit_seconds=0.1, versions={}))
    assert store.model_versions(c.id)[0].id == version


def test_illegal_transitions_are_refused(store_url):
    store = Store(store_url)
    c = store.open_campaign("demo", "{}")
    (e,) = store.add_proposals(c.id, 1, proposals(1))
    with pytest.raises(StoreError, match="is 'proposed'; it cannot become 'measured'"):
        store.set_status([e.id], "measured")
    with pytest.raises(StoreError, match="is not running"):
        store.record_result(e.id, {"y": 1.0}, {}, {}, "x", None)


def test_changed_configuration_is_refused_but_budget_may_change(store_url):
    store = Store(store_url)
    store.open_campaign("demo", '{"budget": 4, "seed": 1}')
    store.open_campaign("demo", '{"budget": 8, "seed": 1}')
    with pytest.raises(StoreError, match=r"different configuration; changed: seed 1 -> 2\. .*--name NEW-NAME"):
        store.open_campaign("demo", '{"budget": 8, "seed": 2}')
    with pytest.raises(StoreError, match=r"changed: seed 1 -> 2"):
        store.find_campaign("demo", '{"budget": 8, "seed": 2}')
    assert store.find_campaign("new", "{}") is None and [c.name for c in store.campaigns()] == ["demo"]  # finding writes nothing
    with pytest.raises(StoreError, match="no campaign 'other'"):
        store.campaign("other")


def test_unreachable_store_is_a_clear_error(tmp_path):
    with pytest.raises(StoreError, match="cannot open store"):
        Store(f"sqlite:///{tmp_path}/missing-dir/x.db")
    with pytest.raises(StoreError, match=r"postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/db"):
        Store("postgresql+psycopg://u:secret@127.0.0.1:1/db")


def test_a_changed_lab_setting_is_named_in_the_refusal(tmp_path):
    import json

    import pytest

    from retort.orchestrator.errors import StoreError

    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    lab = {"kind": "colour", "backend": "opentrons", "wavelengths": list(range(400, 700, 20)), "deck": {"name": "x" * 60}}
    store.open_campaign("c", json.dumps({"lab": lab}))
    with pytest.raises(StoreError, match=r'changed: lab.backend "opentrons" -> "virtual"\. To run'):
        store.open_campaign("c", json.dumps({"lab": lab | {"backend": "virtual"}}))


def test_of_two_processes_starting_one_approved_experiment_only_one_can(store_url):
    import threading

    from sqlmodel import Session

    from retort.orchestrator.store.tables import ExperimentRow

    if store_url.startswith("sqlite"):
        pytest.skip("SQLite lets one writer in at a time; hosts share a campaign only on PostgreSQL")
    store = Store(store_url)
    c = store.open_campaign("demo", "{}")
    (e,) = store.add_proposals(c.id, 1, proposals(1))
    store.set_status([e.id], "approved")
    outcome = {}

    def second_host():
        try:
            Store(store_url).set_status([e.id], "running")
            outcome["second"] = "started it too"
        except StoreError as exc:
            outcome["second"] = str(exc)

    with Session(store.engine) as first:  # the first host has checked the row and is starting it
        row = first.get(ExperimentRow, e.id, with_for_update=True)
        row.status = "running"
        first.add(row)
        first.flush()
        other = threading.Thread(target=second_host)
        other.start()
        other.join(1.0)
        assert other.is_alive()  # waits for the first host's change, not reading the row as it was
        first.commit()
    other.join(30)
    assert "is 'running'; it cannot become 'running'" in outcome["second"]


def test_times_are_stored_as_utc_whatever_the_database_sessions_zone(monkeypatch):
    """PostgreSQL converts an aware time to the session's zone before storing it in a zone-less column; the store
    forces its sessions to UTC."""
    from datetime import datetime, timezone

    from tests.conftest import _pg_database

    monkeypatch.setenv("PGTZ", "America/New_York")
    for url in _pg_database():
        store = Store(url)
        record = store.open_campaign("tz", "{}")
        from retort.agents.proposal import Proposal, Provenance

        (e,) = store.add_proposals(record.id, 1, [Proposal(params={"x": 1.0}, provenance=Provenance(planner="t"))])
        stored = store.experiments(record.id)[0].proposed_at.replace(tzinfo=timezone.utc)
        assert abs((datetime.now(timezone.utc) - stored).total_seconds()) < 60
