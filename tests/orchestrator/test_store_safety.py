"""A store that cannot keep data is refused; a store file that goes away or cannot be written, and a
database that fails, stop with one StoreError that shows no password."""

import ctypes
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from retort.agents.proposal import Prediction, Proposal, Provenance
from retort.orchestrator import loop
from retort.orchestrator.errors import StoreError
from retort.orchestrator.store import Store, check_persistent, redact_url
from tests.conftest import _pg_database, branin_campaign

IN_MEMORY = [
    "sqlite://",
    "sqlite:///",
    "sqlite:///:memory:",
    "sqlite+pysqlite:///:memory:",
    "sqlite:///x.db?mode=memory",
    "sqlite:///file:x.db?mode=memory&uri=true",
    "sqlite:///file::memory:?cache=shared&uri=true",
]


def proposals(n):
    return [Proposal(params={"x": float(i)}, provenance=Provenance(planner="sobol", model_version=None,
                     predicted={"y": Prediction(mean=1.0, std=0.5)}, acquisition_value=None)) for i in range(n)]


def remove_sqlite(path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}{suffix}"):
            os.remove(f"{path}{suffix}")


# -- in-memory stores -------------------------------------------------------------------


@pytest.mark.parametrize("url", IN_MEMORY)
def test_in_memory_store_is_refused_for_runs(url):
    with pytest.raises(StoreError, match="in-memory database") as info:
        check_persistent(url)
    assert url in str(info.value) and "give a file path, e.g. sqlite:///retort.db" in str(info.value)


@pytest.mark.parametrize("url", ["sqlite:///retort.db", "sqlite:////tmp/retort.db", "sqlite:///file:retort.db?mode=rwc&uri=true",
                                 "postgresql+psycopg://u:s3cret@127.0.0.1:1/x"])
def test_file_and_server_stores_are_accepted_for_runs(url):
    check_persistent(url)


def test_in_memory_store_still_works_for_unit_tests():
    assert Store("sqlite://").open_campaign("demo", "{}").name == "demo"


# -- the store file deleted, replaced or read-only ------------------------------------


def test_deleted_store_file_stops_the_next_write(tmp_path):
    path = tmp_path / "store.db"
    store = Store(f"sqlite:///{path}")
    c = store.open_campaign("demo", "{}")
    (e,) = store.add_proposals(c.id, 1, proposals(1))
    remove_sqlite(path)
    with pytest.raises(StoreError, match="was deleted or replaced while the campaign ran; nothing more is written") as info:
        store.set_status([e.id], "approved")
    assert str(path) in str(info.value)
    with pytest.raises(StoreError, match="deleted or replaced"):  # and it stays stopped: no read pretends all is well
        store.experiments(c.id)
    assert not path.exists()


def test_replaced_store_file_stops_the_next_write(tmp_path):
    path = tmp_path / "store.db"
    store = Store(f"sqlite:///{path}")
    c = store.open_campaign("demo", "{}")
    other = Store(f"sqlite:///{tmp_path / 'other.db'}")
    other.open_campaign("other", "{}")
    other.engine.dispose()
    remove_sqlite(path)
    shutil.move(tmp_path / "other.db", path)
    with pytest.raises(StoreError, match="deleted or replaced") as info:
        store.add_proposals(c.id, 1, proposals(1))
    assert str(path) in str(info.value)


def test_store_file_deleted_mid_run_stops_the_loop(tmp_path):
    path = tmp_path / "run.db"
    campaign = branin_campaign(budget=8, store=f"sqlite:///{path}")
    run = loop.open_run(campaign)
    loop.run_iteration(run, 1)
    remove_sqlite(path)
    with pytest.raises(StoreError, match="deleted or replaced"):
        while loop.remaining(run) > 0:
            loop.run_iteration(run, loop.next_iteration(run))
    with pytest.raises(StoreError, match="deleted or replaced"):  # no summary of rows that are not on disk
        run.experiments()


def test_read_only_store_raises_store_error_at_the_first_write(tmp_path):
    path = tmp_path / "store.db"
    writer = Store(f"sqlite:///{path}")
    c = writer.open_campaign("demo", "{}")
    writer.engine.dispose()
    store = Store(f"sqlite:///file:{path}?mode=ro&uri=true")  # SQLite refuses writes, as for a read-only file
    assert store.campaign("demo").id == c.id
    with pytest.raises(StoreError, match="attempt to write a readonly database") as info:
        store.add_proposals(c.id, 1, proposals(1))
    assert "cannot store proposals for campaign id" in str(info.value) and str(path) in str(info.value)
    assert isinstance(info.value.__cause__, Exception) and "sqlalchemy" in type(info.value.__cause__).__module__


def _without_file_permission_override():
    """Run as root without the capabilities that bypass file permissions (root ignores chmod)."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
            if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP: gone after exec
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


WRITE_ONCE = textwrap.dedent("""
    import sys
    from retort.orchestrator.errors import StoreError
    from retort.orchestrator.store import Store
    try:
        store = Store(sys.argv[1])
        store.open_campaign("second", "{}")
    except StoreError as exc:
        print("StoreError:", exc)
    else:
        print("written")
""")


def write_once_without_permission(url, cwd):
    result = subprocess.run([sys.executable, "-c", WRITE_ONCE, url], cwd=cwd, capture_output=True, text=True,
                            timeout=300, preexec_fn=_without_file_permission_override)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result.stdout


@pytest.mark.parametrize("read_only", ["file", "directory"])
def test_chmod_read_only_store_raises_store_error(tmp_path, read_only):
    path = tmp_path / "store.db"
    writer = Store(f"sqlite:///{path}")
    writer.open_campaign("demo", "{}")
    writer.engine.dispose()
    target = path if read_only == "file" else tmp_path
    mode = target.stat().st_mode
    target.chmod(0o444 if read_only == "file" else 0o555)
    try:
        out = write_once_without_permission(f"sqlite:///{path}", cwd=tmp_path)
    finally:
        target.chmod(mode)
    assert out.startswith("StoreError:"), out
    assert str(path) in out and ("readonly database" in out or "unable to open database file" in out), out


# -- secrets and database failures ----------------------------------------------------


def test_password_is_never_shown():
    url = "postgresql+psycopg://u:s3cret@127.0.0.1:1/x"
    assert redact_url(url) == "postgresql+psycopg://u:***@127.0.0.1:1/x"
    with pytest.raises(StoreError) as info:
        Store(url)
    message = str(info.value)
    assert "postgresql+psycopg://u:***@127.0.0.1:1/x" in message and "s3cret" not in message
    assert "Connection refused" in message or "connection failed" in message
    with pytest.raises(StoreError) as info:
        Store("postgresql+psycopg://u:s3cret@127.0.0.1:bad/x")  # not even a URL SQLAlchemy can read
    assert "s3cret" not in str(info.value)


@pytest.fixture
def pg_url():
    yield from _pg_database()


def test_postgres_store_hides_password_and_turns_a_lost_server_into_store_error(pg_url):
    url = pg_url.replace("postgres@", "postgres:s3cret@")  # trust auth: the password is ignored
    store = Store(url)
    assert "s3cret" not in store.url and ":***@" in store.url
    c = store.open_campaign("demo", "{}")
    import psycopg

    from tests.conftest import PG_ADMIN

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:  # the database goes away under the store
        conn.execute(f"DROP DATABASE {url.rsplit('/', 1)[1]} WITH (FORCE)")
    for call in (lambda: store.add_proposals(c.id, 1, proposals(1)), lambda: store.experiments(c.id)):
        with pytest.raises(StoreError) as info:
            call()
        message = str(info.value)
        assert store.url in message and "s3cret" not in message, message
