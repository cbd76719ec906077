"""User administration: a person can be disabled, and what is done to accounts (sign-ins, refused sign-ins, roles
changed, passwords reset, sessions revoked, people disabled, enabled or removed) is kept in `account_event`.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa

from retort.orchestrator.store.migrations.helpers import add_column, create_index, create_table

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column("ui_user", sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()))
    create_table(
        "account_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False, server_default=""),
        sa.Column("detail", sa.String(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    create_index("ix_account_event_subject", "account_event", ["subject"])
