"""Instrument state: decks (tips, stocks, plate wells), their event log, and lab runs with their plans.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from retort.orchestrator.store.migrations.helpers import create_index, create_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "deck",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("config_json", sa.String(), nullable=False),
        sa.Column("state_json", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    create_index("ix_deck_name", "deck", ["name"], unique=True)
    create_table(
        "deck_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("deck_id", sa.Integer(), sa.ForeignKey("deck.id"), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("detail_json", sa.String(), nullable=False),
        sa.Column("state_json", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    create_index("ix_deck_event_deck_id", "deck_event", ["deck_id"])
    create_table(
        "lab_run",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), nullable=False),
        sa.Column("deck_id", sa.Integer(), sa.ForeignKey("deck.id"), nullable=False),
        sa.Column("seqs_json", sa.String(), nullable=False),
        sa.Column("plan_json", sa.String(), nullable=False),
        sa.Column("backend", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("protocol_digest", sa.String()),
        sa.Column("protocol_id", sa.String()),
        sa.Column("robot_run_id", sa.String()),
        sa.Column("report_json", sa.String()),
        sa.Column("error", sa.String()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    create_index("ix_lab_run_campaign_id", "lab_run", ["campaign_id"])
    create_index("ix_lab_run_deck_id", "lab_run", ["deck_id"])
    create_index("ix_lab_run_status", "lab_run", ["status"])
