"""Decisions on proposals and control actions are stored with who and when (the audit trail).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa

from retort.orchestrator.store.migrations.helpers import create_index, create_table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), nullable=False),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiment.id"), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("before_json", sa.String(), nullable=False),
        sa.Column("after_json", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    create_index("ix_audit_event_campaign_id", "audit_event", ["campaign_id"])
