"""Decisions in the store: an operator's approvals, rejections, edits and added experiments, measurements
imported from a file, and the audit trail that records each with who and when.

Every change and its audit event are one transaction, so the trail never misses a decision and a
decision is never half-stored. An experiment is decided only while it is `proposed` (the update itself
checks it): of two people deciding one proposal at once, the second is told who was first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import update
from sqlmodel import Session, select

from retort.agents.proposal import Proposal, Provenance, Value
from retort.orchestrator.errors import StoreError
from retort.orchestrator.campaign.lifecycle import IMPORTED
from retort.orchestrator.store.records import AuditRecord, ExperimentRecord
from retort.orchestrator.store.core import Store, experiment_record, insert_experiments, retry_on_conflict
from retort.orchestrator.store.tables import AuditRow, CampaignRow, ExperimentRow, MeasurementRow, utcnow


@dataclass(frozen=True)
class Verdict:
    """What to store for one proposed experiment: `approved` (with `params` and `provenance` when edited) or `rejected`."""

    seq: int
    status: str
    action: str  # approve, reject, edit, or the policy's (e.g. 'reject' by `approval.wait`)
    reason: str = ""
    params: Optional[dict[str, Value]] = None
    provenance: Optional[Provenance] = None
    before: Optional[dict[str, Value]] = None  # the parameters as proposed (an edit replaces them)
    forbid: Optional[str] = None  # a rejection's SMARTS: later generated proposals may not contain it (audit action `forbid`)


@dataclass(frozen=True)
class Imported:
    """One measured row of an imported file."""

    params: dict[str, Value]
    raw: dict[str, float]
    objectives: dict[str, float]
    note: str
    units: dict[str, str] = field(default_factory=dict)


CONTROL_DONE = {"run": "resumed", "paused": "paused: no new work is handed out",
                "stopped": "stopped: the run ends once what is on the instruments is done"}  # what a control action did


class DecisionStore:
    """Decisions, imports and the audit trail, kept in a campaign `Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def decide(self, campaign_id: int, verdicts: list[Verdict], actor: str, added: list[dict[str, Value]] = (),
               iteration: int = 1, reason: str = "") -> list[ExperimentRecord]:
        """Store every verdict, and `added` experiments (approved, provenance `operator`), each with its audit event,
        in one transaction, or nothing. An experiment is changed only if it is still proposed: the change itself
        checks it (an UPDATE ... WHERE status = 'proposed', which SQLite and PostgreSQL each run one writer at a time),
        so of two people deciding one proposal the second is told who was first."""
        now = utcnow()

        def write() -> list[ExperimentRecord]:
            with self.store.session(f"store decisions on experiments {[v.seq for v in verdicts]}") as s:
                rows = []
                for v in sorted(verdicts, key=lambda v: v.seq):  # one lock order for every writer (PostgreSQL: no deadlock)
                    values: dict = {"status": v.status}
                    if v.status == "approved":
                        values["approved_at"] = now
                    else:
                        values |= {"finished_at": now, "failure_reason": f"rejected by {actor}: {v.reason}" if v.reason else f"rejected by {actor}"}
                    if v.params is not None:
                        values["params_json"] = json.dumps(v.params)
                    if v.provenance is not None:
                        values |= {"provenance_json": v.provenance.model_dump_json(), "planner": v.provenance.planner}
                    where = (ExperimentRow.campaign_id == campaign_id, ExperimentRow.seq == v.seq)
                    changed = s.execute(update(ExperimentRow).where(*where, ExperimentRow.status == "proposed").values(**values)).rowcount
                    row = s.exec(select(ExperimentRow).where(*where)).first()
                    if row is None:
                        raise StoreError(f"experiment {v.seq}: there is no such experiment in this campaign")
                    if not changed:
                        raise StoreError(f"experiment {v.seq} is already {row.status}{_by_whom(s, row)}; nothing was decided")
                    after = json.loads(row.params_json)
                    s.add(AuditRow(campaign_id=campaign_id, experiment_id=row.id, seq=row.seq, action=v.action, actor=actor, reason=v.reason,
                                   before_json=json.dumps(v.before if v.before is not None else after),
                                   after_json=json.dumps(after | {"status": v.status})))
                    if v.forbid:
                        s.add(AuditRow(campaign_id=campaign_id, experiment_id=row.id, seq=row.seq, action="forbid", actor=actor,
                                       reason=v.reason, after_json=json.dumps({"smarts": v.forbid})))
                    rows.append(row)
                if added:
                    provenance = Provenance(planner="operator", note=f"added by {actor}" + (f": {reason}" if reason else ""))
                    new = insert_experiments(s, campaign_id, iteration, [Proposal(params=p, provenance=provenance) for p in added], "approved")
                    for row in new:
                        row.approved_at = now
                        s.add(row)
                        s.add(AuditRow(campaign_id=campaign_id, experiment_id=row.id, seq=row.seq, action="add", actor=actor, reason=reason,
                                       after_json=json.dumps(json.loads(row.params_json) | {"status": "approved"})))
                    rows += new
                s.commit()
                for row in rows:
                    s.refresh(row)
                return [experiment_record(r, []) for r in rows]

        return retry_on_conflict(write)  # an experiment numbered at once by another process (the loop planning): number again

    def forbidden(self, campaign_id: int) -> list[str]:
        """The substructures (SMARTS) people forbade with their rejections, oldest first: every later round of a
        generating campaign keeps them."""
        with self.store.session("read forbidden substructures") as s:
            rows = s.exec(select(AuditRow.after_json).where(AuditRow.campaign_id == campaign_id, AuditRow.action == "forbid")
                          .order_by(AuditRow.id)).all()
        return list(dict.fromkeys(json.loads(r)["smarts"] for r in rows))

    def import_measured(self, campaign_id: int, items: list[Imported], actor: str, source: dict) -> list[int]:
        """Measurements made elsewhere, stored as measured experiments of iteration 0 (planner `import`: they spend
        no budget and the model learns from them), with one audit event naming `source`. Returns their numbers."""
        now = utcnow()

        def write() -> list[int]:
            with self.store.session(f"import {len(items)} measurements") as s:
                proposals = [Proposal(params=i.params, provenance=Provenance(planner=IMPORTED, note=i.note)) for i in items]
                rows = insert_experiments(s, campaign_id, 0, proposals, "measured")
                for row, item in zip(rows, items):
                    row.finished_at = now
                    s.add(row)
                    for kind, values in (("raw", item.raw), ("objective", item.objectives)):
                        for name, value in values.items():
                            s.add(MeasurementRow(experiment_id=row.id, name=name, kind=kind, value=float(value),
                                                 unit=item.units.get(name, ""), instrument=IMPORTED))
                seqs = [r.seq for r in rows]
                s.add(AuditRow(campaign_id=campaign_id, action="import", actor=actor, reason=source.get("file", ""),
                               after_json=json.dumps(source | {"experiments": [seqs[0], seqs[-1]] if seqs else []})))
                s.commit()
                return seqs

        return retry_on_conflict(write)

    def record_by_hand(self, campaign_id: int, seq: int, raw: dict[str, float], objectives: dict[str, float], units: dict[str, str],
                       actor: str, reason: str = "") -> ExperimentRecord:
        """An experiment run off the instruments by a person: its readings and objectives stored, and it becomes
        `measured` (from proposed or approved; checked by the update itself, so an instrument that took it
        meanwhile wins and nothing is stored), with an audit event."""
        now = utcnow()
        with self.store.session(f"record experiment {seq} by hand") as s:
            where = (ExperimentRow.campaign_id == campaign_id, ExperimentRow.seq == seq)
            changed = s.execute(update(ExperimentRow).where(*where, ExperimentRow.status.in_(("proposed", "approved")))
                                .values(status="measured", finished_at=now, location="by hand")).rowcount
            row = s.exec(select(ExperimentRow).where(*where)).first()
            if row is None:
                raise StoreError(f"experiment {seq}: there is no such experiment in this campaign")
            if not changed:
                raise StoreError(f"experiment {seq} is {row.status}; only a proposed or approved experiment can be recorded by hand")
            for kind, values in (("raw", raw), ("objective", objectives)):
                for name, value in values.items():
                    s.add(MeasurementRow(experiment_id=row.id, name=name, kind=kind, value=float(value), unit=units.get(name, ""),
                                         instrument=f"by hand ({actor})"))
            s.add(AuditRow(campaign_id=campaign_id, experiment_id=row.id, seq=seq, action="by hand", actor=actor, reason=reason,
                           before_json=row.params_json, after_json=json.dumps(raw | objectives)))
            s.commit()
            s.refresh(row)
            return experiment_record(row, [])

    def control(self, campaign_id: int) -> str:
        """How an operator left the campaign: `run`, `paused` (no new work is handed out) or `stopped`."""
        with self.store.session(f"read the control of campaign id {campaign_id}") as s:
            return s.exec(select(CampaignRow.control).where(CampaignRow.id == campaign_id)).one()

    def set_control(self, campaign_id: int, action: str, actor: str, reason: str = "") -> str:
        """`pause`, `resume` or `stop` the campaign, with its audit event; returns the new state. Refused (StoreError)
        when it changes nothing: pausing a paused campaign, resuming one that runs."""
        state = {"pause": "paused", "resume": "run", "stop": "stopped"}[action]
        allowed = {"pause": ("run",), "resume": ("paused", "stopped"), "stop": ("run", "paused")}[action]
        with self.store.session(f"{action} campaign id {campaign_id}") as s:
            changed = s.execute(update(CampaignRow).where(CampaignRow.id == campaign_id, CampaignRow.control.in_(allowed))
                                .values(control=state)).rowcount
            if not changed:
                now = s.exec(select(CampaignRow.control).where(CampaignRow.id == campaign_id)).one()
                raise StoreError(f"cannot {action} the campaign: it is {'running' if now == 'run' else now} already; nothing changed")
            s.add(AuditRow(campaign_id=campaign_id, action=action, actor=actor, reason=reason,
                           after_json=json.dumps({"control": state})))
            s.commit()
        return state

    def note_run(self, campaign_id: int, action: str, actor: str, reason: str = "", detail: Optional[dict] = None) -> None:
        """Audit a run started for the campaign (`start` from an upload, `continue` from its page)."""
        with self.store.session(f"audit {action} of campaign id {campaign_id}") as s:
            s.add(AuditRow(campaign_id=campaign_id, action=action, actor=actor, reason=reason, after_json=json.dumps(detail or {})))
            s.commit()

    def events(self, campaign_id: int, action: Optional[str] = None, limit: Optional[int] = None) -> list[AuditRecord]:
        """The campaign's audit trail, newest first."""
        with self.store.session(f"read the audit trail of campaign id {campaign_id}") as s:
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
