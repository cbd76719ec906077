"""Bring a store's schema to the current release with Alembic (`migrations/`).

A new database gets every migration; a database written by Retort 0.1.0 (tables, no
``alembic_version``) is stamped at the first revision, which describes exactly that schema, then
upgraded. Nothing is dropped or rewritten: migrations only add.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"
FIRST = "0001"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Upgrade `engine`'s database to the head revision (a no-op when it is there)."""
    if current(engine) == head():
        return
    with engine.begin() as conn:
        config = _config()
        config.attributes["connection"] = conn
        if MigrationContext.configure(conn).get_current_revision() is None and inspect(conn).has_table("campaign"):
            command.stamp(config, FIRST)  # written by 0.1.0, before migrations
        command.upgrade(config, "head")
