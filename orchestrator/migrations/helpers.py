"""Idempotent schema steps: a migration stopped part-way (SQLite commits each CREATE TABLE on its own)
is completed, not failed, when it runs again; a store written by 0.1.0 passes through 0001 unchanged."""

from alembic import op
from sqlalchemy import inspect


def create_table(name: str, *columns) -> None:
    if not inspect(op.get_bind()).has_table(name):
        op.create_table(name, *columns)


def create_index(name: str, table: str, columns: list[str], unique: bool = False) -> None:
    if name not in {i["name"] for i in inspect(op.get_bind()).get_indexes(table)}:
        op.create_index(name, table, columns, unique=unique)
