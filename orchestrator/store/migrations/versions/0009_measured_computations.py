"""A computed value's provenance: each measurement a computation gave names its stored computation
(`measurement.computation_id`, NULL for everything measured before and for wet measurements).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa

from retort.orchestrator.store.migrations.helpers import add_column

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column("measurement", sa.Column("computation_id", sa.Integer(), sa.ForeignKey("computation.id", name="fk_measurement_computation"), nullable=True))

