"""Idempotent schema steps: a migration stopped part-way (SQLite commits each CREATE TABLE on its own)
is completed, not failed, when it runs again; a store written by 0.1.0 passes through 0001 unchanged."""

from alembic import op
from sqlalchemy import inspect


def create_table(name: str, *columns) -> None:
    if not inspect(op.get_bind()).has_table(name):
        op.create_table(name, *columns)


def add_column(table: str, column) -> None:
    if column.name not in {c["name"] for c in inspect(op.get_bind()).get_columns(table)}:
        with op.batch_alter_table(table) as batch:  # SQLite: a copy of the table where ALTER cannot do it
            batch.add_column(column)


def create_index(name: str, table: str, columns: list[str], unique: bool = False) -> None:
    if name not in {i["name"] for i in inspect(op.get_bind()).get_indexes(table)}:
        op.create_index(name, table, columns, unique=unique)
