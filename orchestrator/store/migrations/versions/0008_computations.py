"""The dry lab: every computation (engine, method, settings, seed, input, keyed by their digest) and what it gave, with
its provenance (engine version, CPU seconds, geometry digest), in `computation`.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa

from retort.orchestrator.store.migrations.helpers import create_index, create_table

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "computation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("engine", sa.String(), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("settings_json", sa.String(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("input", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("values_json", sa.String(), nullable=False),
        sa.Column("units_json", sa.String(), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("engine_version", sa.String(), nullable=False),
        sa.Column("cpu_seconds", sa.Float(), nullable=False),
        sa.Column("input_hash", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    create_index("ix_computation_key", "computation", ["key"], unique=True)
