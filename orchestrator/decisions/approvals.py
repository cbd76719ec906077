"""Approving proposals: a person's decisions (approve, reject, edit, add an experiment), checked against the
search space and the lab's limits before anything is stored, and the campaign's policy for proposals nobody
decides in time. `retort approve` and the loop use these, on the store alone: the process deciding and the
one running the campaign need share nothing else.

Example:
    >>> Decision(action="edit", seq=3, values={"red": "12.5"}).action
    'edit'
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from retort.agents.proposal import Provenance, Value
from retort.agents.space import SearchSpace
from retort.orchestrator.campaign import Campaign
from retort.orchestrator.campaign.results import allocated
from retort.orchestrator.decisions.values import finite, read_point
from retort.orchestrator.errors import DecisionError, LabError, StoreError
from retort.orchestrator.labs.base import Lab
from retort.orchestrator.store.core import Store
from retort.orchestrator.store.decisions import DecisionStore, Verdict
from retort.orchestrator.store.records import ExperimentRecord

TIMEOUT_ACTOR = "retort (approval.wait)"


class Decision(BaseModel):
    """One decision: `approve`, `reject` (a reason is required) or `edit` proposed experiment `seq`
    (`values`: the parameters changed; the rest stay as proposed), or `add` an experiment of one's own
    (`values`: every parameter). Values may be text, as typed; they are read by each parameter's type."""

    model_config = ConfigDict(frozen=True)

    action: Literal["approve", "reject", "edit", "add"]
    seq: Optional[int] = None
    values: dict[str, Value] = Field(default_factory=dict)
    reason: str = ""
    forbid: str = ""  # with a rejection, in a campaign whose molecule parameter generates: a SMARTS no later proposal may contain


def decide(campaign: Campaign, store: Store, campaign_id: int, labs: dict[str, Lab], decisions: list[Decision],
           actor: str) -> list[ExperimentRecord]:
    """Check every decision, then store them all with their audit events (or none, raising `DecisionError`
    naming the first problem). Returns the experiments decided or added, as stored."""
    if not actor.strip():
        raise DecisionError("a decision needs the name of the person making it")
    proposed = {e.seq: e for e in store.experiments(campaign_id, seqs=[d.seq for d in decisions if d.seq is not None])}
    verdicts, added, seen = [], [], set()
    for d in decisions:
        if d.action == "add":
            if d.seq is not None:
                raise DecisionError(f"add: an added experiment gets the next number; do not give one (got {d.seq})")
            added.append(checked_point(campaign.space, labs, d.values, "add"))
            continue
        where = f"experiment {d.seq}"
        if d.seq is None or d.seq not in proposed:
            raise DecisionError(f"{d.action}: there is no experiment {d.seq} in campaign {campaign.name!r}")
        if d.seq in seen:
            raise DecisionError(f"{where}: decided twice in one request")
        seen.add(d.seq)
        if d.action == "reject":
            if not d.reason.strip():
                raise DecisionError(f"{where}: a rejection needs a reason (it is kept in the audit trail)")
            verdicts.append(Verdict(seq=d.seq, status="rejected", action="reject", reason=d.reason,
                                    forbid=forbidden_pattern(campaign, d.forbid, where) if d.forbid.strip() else None))
        elif d.action == "edit":
            if not d.values:
                raise DecisionError(f"{where}: an edit needs the values to change (name=value)")
            was = proposed[d.seq]
            params = checked_point(campaign.space, labs, was.params | d.values, where)
            if params == was.params:  # nothing changed: a plain approval, the planner's provenance kept
                verdicts.append(Verdict(seq=d.seq, status="approved", action="approve", reason=d.reason))
                continue
            changes = ", ".join(f"{k} {was.params[k]} -> {v}" for k, v in params.items() if v != was.params[k])
            provenance = Provenance(planner="edited", model_version=was.provenance.model_version,  # the model's prediction was for another point
                                    note=f"edited by {actor} from a {was.provenance.planner} proposal: {changes}")
            verdicts.append(Verdict(seq=d.seq, status="approved", action="edit", reason=d.reason, params=params,
                                    provenance=provenance, before=was.params))
        elif d.forbid.strip():
            raise DecisionError(f"{where}: a forbidden substructure goes with a rejection (Reject), not with {d.action}; nothing was changed")
        else:
            if d.values:
                raise DecisionError(f"{where}: approve takes no values; use edit to change them")
            verdicts.append(Verdict(seq=d.seq, status="approved", action="approve", reason=d.reason))
    if added:
        left = campaign.budget - allocated(store.status_counts(campaign_id))
        left += sum(v.status == "rejected" for v in verdicts)  # rejected in this same request: room made
        if len(added) > left:
            raise DecisionError(f"add: the budget ({campaign.budget}) has room for {max(left, 0)} more experiments, counting those "
                                "waiting and running; raise 'budget' in the campaign file (or reject a proposal) to add one")
    try:
        return DecisionStore(store).decide(campaign_id, verdicts, actor, added=added, iteration=max(1, store.last_iteration(campaign_id)),
                                           reason=next((d.reason for d in decisions if d.action == "add"), ""))
    except StoreError as exc:
        raise DecisionError(str(exc)) from exc


def record_by_hand(campaign: Campaign, store: Store, campaign_id: int, seq: int, values: dict[str, str], actor: str,
                   reason: str = "") -> ExperimentRecord:
    """A result measured off the instruments: every objective's value, or every reading the objectives are derived
    from, as finite numbers. Stored with its audit event; the model learns from it like any other."""
    if not actor.strip():
        raise DecisionError("a result entered by hand needs the name of the person entering it")
    where = f"experiment {seq}"
    objectives = [o.name for o in campaign.objectives]
    readings = sorted({r for o in campaign.objectives for r in o.readings})
    unknown = sorted(set(values) - set(objectives) - set(readings))
    if unknown:
        raise DecisionError(f"{where}: unknown values {unknown}; give the objectives {objectives} or the readings {readings}")
    if all(n in values for n in objectives):
        found = {n: finite(values[n], f"{where}, {n}") for n in objectives}
        raw = {r: finite(values[r], f"{where}, {r}") for r in readings if r in values and r not in found}
    elif all(r in values for r in readings):
        raw = {r: finite(values[r], f"{where}, {r}") for r in readings}
        found = {o.name: o.derive(raw) for o in campaign.objectives}
    else:
        raise DecisionError(f"{where}: give a value for each objective {objectives}, or for each reading they are derived from {readings}")
    units = {o.name: o.unit for o in campaign.objectives}
    try:
        return DecisionStore(store).record_by_hand(campaign_id, seq, raw, found, units, actor, reason)
    except StoreError as exc:
        raise DecisionError(str(exc)) from exc


def forbidden_pattern(campaign: Campaign, smarts: str, where: str) -> str:
    """A SMARTS typed with a rejection, checked: the campaign must generate molecules and RDKit must parse it."""
    from retort.agents.generation.rules import MoleculeRules

    if not any(p.type == "molecule" for p in campaign.space.open):
        raise DecisionError(f"{where}: a forbidden substructure applies to a campaign whose molecule parameter generates; "
                            f"{campaign.name!r} proposes only what its file lists. Nothing was changed")
    try:
        MoleculeRules(forbidden=[smarts.strip()])
    except ValueError:
        raise DecisionError(f"{where}: forbid: {smarts.strip()!r} is not a SMARTS pattern RDKit can parse; nothing was changed") from None
    return smarts.strip()


def checked_point(space: SearchSpace, labs: dict[str, Lab], values: dict[str, Value], where: str) -> dict[str, Value]:
    """`values` read by each parameter's type and checked against the space and every instrument's limits."""
    unknown = sorted(set(values) - set(space.names))
    if unknown:
        raise DecisionError(f"{where}: unknown parameters {unknown}; the parameters are {space.names}")
    missing = [n for n in space.names if n not in values]
    if missing:
        raise DecisionError(f"{where}: missing values for {missing}")
    point = read_point(space, values, where)
    for name, lab in labs.items():
        try:
            lab.check(point)
        except LabError as exc:
            raise DecisionError(f"{where}: {name} cannot run it: {exc}") from None
    return point


def settle_overdue(campaign: Campaign, store: Store, campaign_id: int, now: Optional[datetime] = None) -> list[int]:
    """Apply the campaign's `approval.then` to proposals undecided for `approval.wait` minutes; returns their numbers."""
    policy = campaign.approval
    if policy.mode != "required" or policy.wait is None:
        return []
    now = now or datetime.now(timezone.utc)
    limit = timedelta(minutes=policy.wait)
    late = [e for e in store.experiments(campaign_id, statuses=("proposed",)) if now - _utc(e.proposed_at) >= limit]
    if not late:
        return []
    status = "approved" if policy.then == "approve" else "rejected"
    reason = f"no decision within {policy.wait:g} min (approval.then: {policy.then})"
    try:
        DecisionStore(store).decide(campaign_id, [Verdict(seq=e.seq, status=status, action=policy.then, reason=reason) for e in late],
                                    TIMEOUT_ACTOR)
    except StoreError:  # a person decided one of them meanwhile: the next look settles the rest
        return []
    return [e.seq for e in late]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite returns naive UTC
