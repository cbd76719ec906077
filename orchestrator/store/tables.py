"""The store's tables (SQLModel), used only inside this package; the schema they
describe is built and changed by the Alembic migrations in `migrations/`, never by `create_all`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class CampaignRow(SQLModel, table=True):
    __tablename__ = "campaign"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    config_json: str
    created_at: datetime = Field(default_factory=utcnow)
    control: str = Field(default="run", sa_column_kwargs={"server_default": "run"})  # run, paused or stopped, by an operator


class ModelVersionRow(SQLModel, table=True):
    __tablename__ = "model_version"
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    iteration: int
    kind: str
    outputs_json: str
    n_train: int
    hyperparameters_json: str
    loo_coverage_json: str
    loo_log_likelihood_json: str
    fit_seconds: float
    versions_json: str
    created_at: datetime = Field(default_factory=utcnow)
    fit_warnings_json: str = Field(default="{}", sa_column_kwargs={"server_default": "{}"})


class ExperimentRow(SQLModel, table=True):
    __tablename__ = "experiment"
    __table_args__ = (UniqueConstraint("campaign_id", "seq"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    seq: int
    iteration: int
    params_json: str
    status: str = Field(index=True)
    planner: str
    model_version_id: Optional[int] = Field(default=None, foreign_key="model_version.id")
    provenance_json: str
    location: Optional[str] = None
    failure_reason: Optional[str] = None
    proposed_at: datetime = Field(default_factory=utcnow)
    approved_at: Optional[datetime] = None
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    lab_seconds: Optional[float] = None
    fidelity: Optional[str] = None  # a dry-wet campaign's computation: its fidelity (None: the truth, the campaign's lab)


class MeasurementRow(SQLModel, table=True):
    __tablename__ = "measurement"
    id: Optional[int] = Field(default=None, primary_key=True)
    experiment_id: int = Field(foreign_key="experiment.id", index=True)
    name: str
    kind: str  # "raw" reading or derived "objective"
    value: Optional[float] = None
    unit: str = ""
    instrument: str = ""
    computation_id: Optional[int] = Field(default=None, foreign_key="computation.id")  # a computed value: its stored computation
    created_at: datetime = Field(default_factory=utcnow)


class DeckRow(SQLModel, table=True):
    """One robot deck: its configuration and what is left on it (tips, stocks, plate wells)."""

    __tablename__ = "deck"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    config_json: str
    state_json: str
    version: int = 0  # bumped by every change: concurrent writers detect each other
    updated_at: datetime = Field(default_factory=utcnow)


class DeckEventRow(SQLModel, table=True):
    """Every change to a deck's state: runs reserving and using it, operators refilling it."""

    __tablename__ = "deck_event"
    id: Optional[int] = Field(default=None, primary_key=True)
    deck_id: int = Field(foreign_key="deck.id", index=True)
    kind: str
    actor: str
    detail_json: str
    state_json: str  # the state after the event
    created_at: datetime = Field(default_factory=utcnow)


class LabRunRow(SQLModel, table=True):
    """One batch on one instrument: its plan, the backend's ids, and its report (robot commands included)."""

    __tablename__ = "lab_run"
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    deck_id: int = Field(foreign_key="deck.id", index=True)
    seqs_json: str
    plan_json: str
    backend: str
    status: str = Field(index=True)  # planned, submitted, running, collected
    protocol_digest: Optional[str] = None
    protocol_id: Optional[str] = None
    robot_run_id: Optional[str] = None
    report_json: Optional[str] = None
    error: Optional[str] = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class LeaseRow(SQLModel, table=True):
    """Which process drives a campaign, until when (renewed while it runs)."""

    __tablename__ = "campaign_lease"
    campaign_id: int = Field(foreign_key="campaign.id", primary_key=True)
    holder: str  # host, pid and start time of the process: unique to one process
    host: str
    pid: int
    acquired_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class AuditRow(SQLModel, table=True):
    """Every decision on a proposal (approve, reject, edit, add) and every control action, with who and when."""

    __tablename__ = "audit_event"
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    experiment_id: Optional[int] = Field(default=None, foreign_key="experiment.id")
    seq: Optional[int] = None
    action: str
    actor: str
    reason: str = ""
    before_json: str = "{}"
    after_json: str = "{}"
    created_at: datetime = Field(default_factory=utcnow)


class UserRow(SQLModel, table=True):
    """A person who signs in to the operator UI: a role (viewer, operator, admin) and a password hash (argon2)."""

    __tablename__ = "ui_user"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    role: str
    password_hash: str
    created_at: datetime = Field(default_factory=utcnow)
    disabled: bool = False


class AccountEventRow(SQLModel, table=True):
    """What happened to an account: a sign-in (or a refused one, with the address), a role changed, a password reset,
    sessions revoked, a person disabled, enabled or removed; who did it."""

    __tablename__ = "account_event"
    id: Optional[int] = Field(default=None, primary_key=True)
    action: str
    subject: str = Field(index=True)
    actor: str
    address: str = ""
    detail: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class SessionRow(SQLModel, table=True):
    """A signed-in browser: the hash of its cookie's token (never the token), its CSRF token and when it expires."""

    __tablename__ = "ui_session"
    id: Optional[int] = Field(default=None, primary_key=True)
    token_hash: str = Field(index=True, unique=True)
    user_id: int = Field(foreign_key="ui_user.id", index=True)
    csrf: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class ComputationRow(SQLModel, table=True):
    """One computation (the dry lab): what was asked (engine, method, settings, seed, input; `key` is their digest, so
    a computation is stored once and never run twice) and what it gave, with its provenance."""

    __tablename__ = "computation"
    id: Optional[int] = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True)
    engine: str
    method: str
    settings_json: str = "{}"
    seed: int = 0
    input: str
    status: str  # done | failed
    values_json: str = "{}"
    units_json: str = "{}"
    message: str = ""
    engine_version: str = ""
    cpu_seconds: float = 0.0
    input_hash: Optional[str] = None  # digest of the geometry it was computed on
    created_at: datetime = Field(default_factory=utcnow)
