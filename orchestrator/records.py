"""What the store returns: validated domain records, never table rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict

from retort.agents.proposal import Provenance, Value
from retort.surrogates.summary import ModelSummary

Status = Literal["proposed", "approved", "running", "measured", "failed", "rejected"]
OPEN: tuple[Status, ...] = ("proposed", "approved")
DONE: tuple[Status, ...] = ("measured", "failed")
IMPORTED = "import"  # the planner of experiments imported from a file: measured elsewhere, they spend no budget


def allocated(counts: dict[str, int]) -> int:
    """Experiments that take a place in the budget, from `Store.status_counts` (which leaves out imported ones): every
    status but `rejected`."""
    return sum(n for status, n in counts.items() if status != "rejected")

# The lifecycle: which status may follow which. `rejected`: an operator said no; it spends no budget.
TRANSITIONS: dict[str, set[str]] = {
    "proposed": {"approved", "failed", "rejected"},
    "approved": {"running", "failed"},
    "running": {"measured", "failed", "approved"},  # approved again: its instrument run failed before it started
    "measured": set(),
    "failed": set(),
    "rejected": set(),
}


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

    def objectives(self) -> dict[str, float]:
        return {m.name: m.value for m in self.measurements if m.kind == "objective" and m.value is not None}

    def raw(self) -> dict[str, Optional[float]]:
        return {m.name: m.value for m in self.measurements if m.kind == "raw"}


@dataclass(frozen=True)
class ExperimentLine:
    """An experiment as pages and plots of thousands need it, read without validating every field (`ExperimentRecord`
    is the full, validated record): its number, iteration, status, planner, parameters, objectives and predictions."""

    seq: int
    iteration: int
    status: str
    planner: str
    params: dict
    values: dict  # objective name -> value (measured experiments)
    predicted: dict  # objective name -> {"mean": ..., "std": ...}

    def objectives(self) -> dict[str, float]:
        return self.values


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
