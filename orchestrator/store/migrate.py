"""Bring a store's schema to the current release with Alembic (`migrations/`).

Every migration is idempotent (`migrations/helpers.py`): 0001 describes exactly the schema of
Retort 0.1.0, so a 0.1.0 store (tables, no ``alembic_version``) passes through it unchanged, and
a migration stopped part-way completes when run again. Migrations only add. Processes opening one
store at once take turns (a file lock beside a SQLite file, an advisory lock on PostgreSQL).
"""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from retort.orchestrator.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
PG_LOCK = 0x7265746F7274  # "retort": the advisory lock key migrations hold on PostgreSQL


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, sqlite_file: str | None = None) -> None:
    """Upgrade `engine`'s database to the head revision (a no-op when it is there).

    Raises:
        StoreError: the store was written by a newer Retort (a revision this one does not know).
    """
    scripts = ScriptDirectory.from_config(_config())
    found = current(engine)
    if found == scripts.get_current_head():
        return
    if found is not None and found not in {s.revision for s in scripts.walk_revisions()}:
        raise StoreError(f"the store was written by a newer Retort (schema revision {found}); upgrade Retort to open it")
    with _lock(engine, sqlite_file):
        with engine.begin() as conn:
            if MigrationContext.configure(conn).get_current_revision() == head():
                return  # another process upgraded it while we waited
            config = _config()
            config.attributes["connection"] = conn
            try:
                command.upgrade(config, "head")
            except CommandError as exc:
                raise StoreError(f"cannot upgrade the store's schema: {exc}") from exc


@contextlib.contextmanager
def _lock(engine: Engine, sqlite_file: str | None) -> Iterator[None]:
    if sqlite_file is not None:
        with open(f"{sqlite_file}.migrate-lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        return
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            _pg(conn, "SELECT pg_advisory_lock(:key)")
            try:
                yield
            finally:
                _pg(conn, "SELECT pg_advisory_unlock(:key)")
        return
    yield  # in-memory SQLite: one process


def _pg(conn: Connection, sql: str) -> None:
    conn.execute(text(sql), {"key": PG_LOCK})
    conn.commit()
