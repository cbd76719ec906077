"""Dry-wet campaigns: an experiment may be a computation at a cheaper fidelity (`experiment.fidelity`, the fidelity's
name; NULL for the campaign's truth, its lab's measurements, and for everything stored before).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa

from retort.orchestrator.store.migrations.helpers import add_column

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column("experiment", sa.Column("fidelity", sa.String(), nullable=True))
