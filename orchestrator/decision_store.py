"""Decisions in the store: an operator's approvals, rejections, edits and added experiments, measurements
imported from a file, and the audit trail that records each with who and when.

Every change and its audit event are one transaction, so the trail never misses a decision and a
decision is never half-stored. An experiment is decided only while it is `proposed` (its row locked
while checked): of two people deciding one proposal at once, the second is told who was first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

from sqlmodel import Session, select

from retort.agents.proposal import Proposal, Provenance, Value
from retort.orchestrator.errors import StoreError
from retort.orchestrator.records import IMPORTED, AuditRecord, ExperimentRecord
from retort.orchestrator.store import Store, experiment_record, insert_experiments
from retort.orchestrator.tables import AuditRow, ExperimentRow, MeasurementRow, utcnow


@dataclass(frozen=True)
class Verdict:
    """What to store for one proposed experiment: `approved` (with `params` when edited) or `rejected`."""

    seq: int
    status: str
    action: str  # approve, reject, edit, or the policy's name (e.g. 'no decision in time')
    reason: str = ""
    params: Optional[dict[str, Value]] = None


@dataclass(frozen=True)
class Imported:
    """One measured row of an imported file."""

    params: dict[str, Value]
    raw: dict[str, float]
    objectives: dict[str, float]
    note: str
    units: dict[str, str] = field(default_factory=dict)


class DecisionStore:
    """Decisions, imports and the audit trail, kept in a campaign `Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def decide(self, campaign_id: int, verdicts: list[Verdict], actor: str) -> list[ExperimentRecord]:
        """Store every verdict and its audit event at once, or none: each experiment must still be proposed."""
        now = utcnow()
        with self.store._session(f"store decisions on experiments {[v.seq for v in verdicts]}") as s:
            rows = []
            for v in verdicts:
                row = s.exec(select(ExperimentRow).where(ExperimentRow.campaign_id == campaign_id, ExperimentRow.seq == v.seq)
                             .with_for_update()).first()
                if row is None:
                    raise StoreError(f"experiment {v.seq}: there is no such experiment in this campaign")
                if row.status != "proposed":
                    raise StoreError(f"experiment {v.seq} is already {row.status}{_by_whom(s, row)}; nothing was decided")
                before = json.loads(row.params_json)
                if v.params is not None:
                    row.params_json = json.dumps(v.params)
                row.status = v.status
                if v.status == "approved":
                    row.approved_at = now
                else:
                    row.finished_at = now
                    row.failure_reason = f"rejected by {actor}: {v.reason}" if v.reason else f"rejected by {actor}"
                s.add(row)
                s.add(AuditRow(campaign_id=campaign_id, experiment_id=row.id, seq=row.seq, action=v.action, actor=actor, reason=v.reason,
                               before_json=json.dumps(before), after_json=json.dumps(json.loads(row.params_json) | {"status": v.status})))
                rows.append(row)
            s.commit()
            for row in rows:
                s.refresh(row)
            return [experiment_record(r, []) for r in rows]

    def add(self, campaign_id: int, iteration: int, params: list[dict[str, Value]], actor: str, reason: str) -> list[ExperimentRecord]:
        """An operator's own experiments, stored approved (provenance `operator`), with their audit events."""
        provenance = Provenance(planner="operator", note=f"added by {actor}" + (f": {reason}" if reason else ""))
        now = utcnow()
        with self.store._session(f"store experiments added by {actor}") as s:
            rows = insert_experiments(s, campaign_id, iteration, [Proposal(params=p, provenance=provenance) for p in params], "approved")
            for row in rows:
                row.approved_at = now
                s.add(row)
                s.flush()
                s.add(AuditRow(campaign_id=campaign_id, experiment_id=row.id, seq=row.seq, action="add", actor=actor, reason=reason,
                               after_json=json.dumps(json.loads(row.params_json) | {"status": "approved"})))
            s.commit()
            for row in rows:
                s.refresh(row)
            return [experiment_record(r, []) for r in rows]

    def import_measured(self, campaign_id: int, items: list[Imported], actor: str, source: dict) -> list[int]:
        """Measurements made elsewhere, stored as measured experiments of iteration 0 (planner `import`: they spend
        no budget and the model learns from them), with one audit event naming `source`. Returns their numbers."""
        now = utcnow()
        with self.store._session(f"import {len(items)} measurements") as s:
            proposals = [Proposal(params=i.params, provenance=Provenance(planner=IMPORTED, note=i.note)) for i in items]
            rows = insert_experiments(s, campaign_id, 0, proposals, "measured")
            for row, item in zip(rows, items):
                row.finished_at = now
                s.add(row)
                s.flush()
                for kind, values in (("raw", item.raw), ("objective", item.objectives)):
                    for name, value in values.items():
                        s.add(MeasurementRow(experiment_id=row.id, name=name, kind=kind, value=float(value),
                                             unit=item.units.get(name, ""), instrument=IMPORTED))
            seqs = [r.seq for r in rows]
            s.add(AuditRow(campaign_id=campaign_id, action="import", actor=actor, reason=source.get("file", ""),
                           after_json=json.dumps(source | {"experiments": [seqs[0], seqs[-1]] if seqs else []})))
            s.commit()
            return seqs

    def events(self, campaign_id: int, action: Optional[str] = None, limit: Optional[int] = None) -> list[AuditRecord]:
        """The campaign's audit trail, newest first."""
        with self.store._session(f"read the audit trail of campaign id {campaign_id}") as s:
            query = select(AuditRow).where(AuditRow.campaign_id == campaign_id)
            if action is not None:
                query = query.where(AuditRow.action == action)
            return [_audit(r) for r in s.exec(query.order_by(AuditRow.id.desc()).limit(limit))]


def _by_whom(s: Session, row: ExperimentRow) -> str:
    event = s.exec(select(AuditRow).where(AuditRow.experiment_id == row.id).order_by(AuditRow.id.desc())).first()
    return f" ({event.action} by {event.actor} at {event.created_at:%Y-%m-%d %H:%M:%S} UTC)" if event else ""


def _audit(row: AuditRow) -> AuditRecord:
    return AuditRecord(id=row.id, campaign_id=row.campaign_id, seq=row.seq, action=row.action, actor=row.actor, reason=row.reason,
                       before=json.loads(row.before_json), after=json.loads(row.after_json), created_at=row.created_at)
