"""What the store returns: validated domain records, never table rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict

from retort.agents.proposal import Provenance, Value
from retort.orchestrator.campaign.lifecycle import Status
from retort.surrogates.summary import ModelSummary


class CampaignRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    config_json: str
    created_at: datetime


class MeasurementRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: Literal["raw", "objective"]
    value: Optional[float]  # None where the instrument returned NaN or infinity
    unit: str
    instrument: str
    computation: Optional[int] = None  # a computed value: the id of its stored computation (engine, method, settings, provenance)


class ExperimentRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    campaign_id: int
    seq: int
    iteration: int
    params: dict[str, Value]
    status: Status
    provenance: Provenance
    location: Optional[str] = None
    failure_reason: Optional[str] = None
    proposed_at: datetime
    approved_at: Optional[datetime] = None
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    lab_seconds: Optional[float] = None
    measurements: list[MeasurementRecord] = []
    fidelity: Optional[str] = None  # a dry-wet campaign's computation: its fidelity (None: the truth, the campaign's lab)

    def objectives(self) -> dict[str, float]:
        return {m.name: m.value for m in self.measurements if m.kind == "objective" and m.value is not None}

    def raw(self) -> dict[str, Optional[float]]:
        return {m.name: m.value for m in self.measurements if m.kind == "raw"}


@dataclass(frozen=True)
class ExperimentLine:
    """An experiment as pages and plots of thousands need it, read without validating every field (`ExperimentRecord`
    is the full, validated record): its number, iteration, status, planner, parameters, objectives, the readings
    asked for (those outcome constraints name) and predictions."""

    seq: int
    iteration: int
    status: str
    planner: str
    params: dict
    values: dict  # objective name -> value (measured experiments)
    predicted: dict  # objective name -> {"mean": ..., "std": ...}
    readings: dict = field(default_factory=dict)  # reading name -> value, for the readings `Store.experiment_lines` was asked for

    def objectives(self) -> dict[str, float]:
        return self.values

    def raw(self) -> dict[str, Optional[float]]:
        return self.readings


class ModelVersionRecord(ModelSummary):
    """A stored model version: the fit's summary plus where and when it was made."""

    id: int
    campaign_id: int
    iteration: int
    created_at: datetime


LabRunStatus = Literal["planned", "submitted", "running", "collected", "cancelled"]


class LabRunRecord(BaseModel):
    """One batch on one deck: its plan (JSON), the backend's ids, and once collected its report (JSON)."""

    model_config = ConfigDict(frozen=True)

    id: int
    campaign_id: int
    deck: str
    seqs: list[int]
    plan_json: str
    backend: str
    status: LabRunStatus
    protocol_digest: Optional[str] = None
    protocol_id: Optional[str] = None
    robot_run_id: Optional[str] = None
    report_json: Optional[str] = None
    error: Optional[str] = None
    created_at: datetime
    updated_at: datetime


class DeckEventRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    deck: str
    kind: str
    actor: str
    detail: dict
    created_at: datetime


class AuditRecord(BaseModel):
    """One decision or control action: who did what, when, to which experiment; `before` and `after` hold what
    was proposed and what was decided (parameters), or what changed."""

    model_config = ConfigDict(frozen=True)

    id: int
    campaign_id: int
    seq: Optional[int]
    action: str
    actor: str
    reason: str
    before: dict
    after: dict
    created_at: datetime
