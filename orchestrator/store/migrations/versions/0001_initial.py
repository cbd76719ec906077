"""The schema of Retort 0.1.0: campaigns, model versions, experiments, measurements.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from retort.orchestrator.store.migrations.helpers import create_index, create_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_table(
        "campaign",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("config_json", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    create_index("ix_campaign_name", "campaign", ["name"], unique=True)
    create_table(
        "model_version",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), nullable=False),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("outputs_json", sa.String(), nullable=False),
        sa.Column("n_train", sa.Integer(), nullable=False),
        sa.Column("hyperparameters_json", sa.String(), nullable=False),
        sa.Column("loo_coverage_json", sa.String(), nullable=False),
        sa.Column("loo_log_likelihood_json", sa.String(), nullable=False),
        sa.Column("fit_seconds", sa.Float(), nullable=False),
        sa.Column("versions_json", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    create_index("ix_model_version_campaign_id", "model_version", ["campaign_id"])
    create_table(
        "experiment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("params_json", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("planner", sa.String(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), sa.ForeignKey("model_version.id")),
        sa.Column("provenance_json", sa.String(), nullable=False),
        sa.Column("location", sa.String()),
        sa.Column("failure_reason", sa.String()),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("approved_at", sa.DateTime()),
        sa.Column("started_at", sa.DateTime()),
        sa.Column("finished_at", sa.DateTime()),
        sa.Column("lab_seconds", sa.Float()),
        sa.UniqueConstraint("campaign_id", "seq"),
    )
    create_index("ix_experiment_campaign_id", "experiment", ["campaign_id"])
    create_index("ix_experiment_status", "experiment", ["status"])
    create_table(
        "measurement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiment.id"), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("value", sa.Float()),
        sa.Column("unit", sa.String(), nullable=False),
        sa.Column("instrument", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    create_index("ix_measurement_experiment_id", "measurement", ["experiment_id"])
