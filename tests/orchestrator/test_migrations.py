"""The store's schema changes through Alembic: a store written by Retort 0.1.0 upgrades without losing a row,
and the migrations build exactly the tables the code declares."""

import shutil
import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from retort.orchestrator import loop
from retort.orchestrator.store import migrate, tables  # noqa: F401  (tables registers the metadata)
from retort.orchestrator.campaign import load_campaign, with_changes
from retort.orchestrator.store import Store

OLD = Path(__file__).parents[1] / "data" / "store-0.1.0.db"  # written by tests/data/make_store_0_1_0.py at commit fa15716
EXAMPLES = Path(__file__).parents[2] / "examples"


def dump(path):
    """Every row of 0.1.0's tables, in 0.1.0's columns (later releases only add columns)."""
    with sqlite3.connect(OLD) as old:
        columns = {t: [r[1] for r in old.execute(f"PRAGMA table_info({t})")] for t in ("campaign", "model_version", "experiment", "measurement")}
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT {', '.join(cs)} FROM {t} ORDER BY id").fetchall() for t, cs in columns.items()}


def test_a_store_written_by_0_1_0_upgrades_without_losing_a_row_and_continues(tmp_path):
    path = tmp_path / "retort.db"
    shutil.copy(OLD, path)
    before = dump(path)
    assert sum(map(len, before.values())) > 80
    store = Store(f"sqlite:///{path}")
    assert migrate.current(store.engine) == migrate.head()
    assert dump(path) == before  # every row, every value
    assert all(m.fit_warnings == {} for m in store.model_versions(store.campaign("colour-match").id))  # a column added since
    # the unchanged example file continues its stored campaign (new settings take their defaults)
    run = loop.open_run(load_campaign(EXAMPLES / "colour_match.yaml"), store=store)
    assert len(run.experiments()) == 8
    loop.run_iteration(run, 3)
    assert [e.status for e in run.experiments()].count("measured") == 12
    locations = [e.location for e in run.experiments()]
    assert len(set(locations)) == 12 and locations[-1].startswith("plate 2 ")  # 0.1.0 used plate 1: a fresh plate
    # the experiment 0.1.0 left running is failed as interrupted, not lost
    stuck = loop.open_run(with_changes(load_campaign(EXAMPLES / "branin.yaml"), "test", name="branin-interrupted"), store=store)
    assert loop.recover_interrupted(stuck) == [1]
    assert dump(path)["measurement"][: len(before["measurement"])] == before["measurement"]


R0004 = Path(__file__).parents[1] / "data" / "store-r0004.db"  # written by tests/data/make_store_r0004.py at commit 0a36dc7


def dump_all(reference, path):
    """Every row of every table `reference` has, in its columns."""
    with sqlite3.connect(reference) as old:
        tables = [r[0] for r in old.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'alembic_version'")]
        columns = {t: [r[1] for r in old.execute(f"PRAGMA table_info({t})")] for t in tables}
    with sqlite3.connect(path) as conn:
        return {t: conn.execute(f"SELECT {', '.join(cs)} FROM {t} ORDER BY 1").fetchall() for t, cs in columns.items()}


def test_a_store_written_by_the_previous_release_upgrades_without_losing_a_row_and_its_waiting_batch_is_decided(tmp_path):
    from retort.orchestrator.decisions.approvals import Decision, decide
    from retort.orchestrator.store.decisions import DecisionStore

    path = tmp_path / "retort.db"
    shutil.copy(R0004, path)
    before = dump_all(R0004, path)
    assert {t for t, rows in before.items() if not rows} == set()  # every table of that release holds rows
    store = Store(f"sqlite:///{path}")
    assert migrate.current(store.engine) == migrate.head()
    assert dump_all(R0004, path) == before
    # the batch that release left proposed is decided by a person once the campaign asks for approval
    campaign = with_changes(load_campaign(EXAMPLES / "branin.yaml"), "test", approval="required", store=f"sqlite:///{path}")
    run = loop.open_run(campaign, store=store)
    assert [e.seq for e in loop.open_experiments(run)] == [9, 10]
    decide(campaign, store, run.record.id, run.labs, [Decision(action="approve", seq=9), Decision(action="reject", seq=10, reason="no")], "dana")
    loop.run_iteration(run, 5)
    assert [e.status for e in run.experiments()][-2:] == ["measured", "rejected"]
    assert [a.actor for a in DecisionStore(store).events(run.record.id)] == ["dana", "dana"]
    after = dump_all(R0004, path)
    assert {t for t, rows in before.items() if after[t][: len(rows)] != rows} == {"campaign", "experiment"}  # the rest only added to


def test_migrations_build_exactly_the_declared_tables(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'new.db'}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_upgrading_twice_is_a_no_op(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    Store(url).open_campaign("a", "{}")
    Store(url).open_campaign("a", "{}")
    assert [c.name for c in Store(url).campaigns()] == ["a"]


def test_processes_opening_a_new_store_at_once_take_turns(tmp_path):
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'race.db'}"
    code = f"from retort.orchestrator.store import Store; Store({url!r}).campaigns()"
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(4)]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    assert migrate.current(Store(url).engine) == migrate.head()


def test_a_migration_stopped_part_way_completes_on_the_next_open(tmp_path):
    path = tmp_path / "partial.db"
    with sqlite3.connect(path) as conn:  # 0001 stopped after its second table (SQLite commits each CREATE TABLE)
        conn.execute("CREATE TABLE campaign (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR NOT NULL, config_json VARCHAR NOT NULL, "
                     "created_at DATETIME NOT NULL)")
    store = Store(f"sqlite:///{path}")
    store.open_campaign("a", "{}")
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []


def test_a_store_from_a_newer_retort_is_refused_with_a_store_error(tmp_path):
    import pytest

    from retort.orchestrator.errors import StoreError

    url = f"sqlite:///{tmp_path / 'new.db'}"
    Store(url)
    with sqlite3.connect(tmp_path / "new.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(StoreError, match="written by a newer Retort"):
        Store(url)
