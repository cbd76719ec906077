"""People who sign in to the operator UI, their sessions, and a campaign's control (run, paused, stopped).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa

from retort.orchestrator.store.migrations.helpers import add_column, create_index, create_table

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "ui_user",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    create_index("ix_ui_user_name", "ui_user", ["name"], unique=True)
    create_table(
        "ui_session",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("ui_user.id"), nullable=False),
        sa.Column("csrf", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )
    create_index("ix_ui_session_token_hash", "ui_session", ["token_hash"], unique=True)
    create_index("ix_ui_session_user_id", "ui_session", ["user_id"])
    add_column("campaign", sa.Column("control", sa.String(), nullable=False, server_default="run"))
