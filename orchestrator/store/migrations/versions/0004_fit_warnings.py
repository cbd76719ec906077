"""Model versions keep what their fit warned (numerical trouble is stored, not silenced).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa

from retort.orchestrator.store.migrations.helpers import add_column

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column("model_version", sa.Column("fit_warnings_json", sa.String(), nullable=False, server_default="{}"))
