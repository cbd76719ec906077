"""What each page shows, read from the store: plain data for the templates (no HTML here but the plots)."""

from __future__ import annotations

import re
from typing import Mapping, Optional

from urllib.parse import quote

from pydantic import BaseModel

from retort.orchestrator.campaign import Campaign, StoredConfigError, stored_campaign
from retort.orchestrator.campaign.lifecycle import IMPORTED
from retort.orchestrator.campaign.results import (best, best_so_far, constrained_readings, done, fidelity_spend, headline, pareto_front, scored,
                                                  learning_text, warm_start_text)
from retort.orchestrator.errors import DecisionError
from retort.orchestrator.store import Store
from retort.orchestrator.store.decisions import DecisionStore
from retort.orchestrator.store.leases import holder_of
from retort.orchestrator.store.records import CampaignRecord, ExperimentLine
from retort.orchestrator.ui import plots

PAGE = 100
SORTS = ("seq", "iteration", "status", "planner")


class Typed(BaseModel):
    """A refused form as the operator typed it, drawn again with the reason beside the field it names: `form` is
    ``decide:SEQ`` (a proposal's form), ``add`` or ``record``."""

    campaign: str
    form: str
    values: dict[str, str]
    reason: str = ""
    forbid: str = ""
    seq: str = ""
    fields: list[str] = []
    message: str = ""

    @classmethod
    def of(cls, campaign: str, route: str, fields: Mapping[str, object], message: str, named: list[str] = ()) -> "Typed":
        """A form posted to `route` (``decide`` or ``record``) as typed: its ``v.``/``m.`` fields, reason and number."""
        prefix = "m." if route == "record" else "v."
        which = "record" if route == "record" else (f"decide:{fields['seq']}" if "seq" in fields else "add")
        return cls(campaign=campaign, form=which, values={k[len(prefix):]: str(v) for k, v in fields.items() if k.startswith(prefix)},
                   reason=str(fields.get("reason", ""))[:2000], forbid=str(fields.get("forbid", ""))[:500], seq=str(fields.get("seq", ""))[:20],
                   fields=list(named), message=message)


def fields_named(message: str, campaign: Campaign) -> list[str]:
    """The parameters, objectives or readings a refusal names: quoted (``parameter 'x1'``), or listed after
    ``you changed``."""
    names = list(campaign.space.names) + [o.name for o in campaign.objectives]
    quoted = [n for n in names if f"'{n}'" in message]
    if quoted:
        return quoted
    changed = re.search(r"you changed ([^;]+);", message)
    return [n.strip() for n in changed.group(1).split(",") if n.strip() in names] if changed else []


def load(store: Store, name: str) -> tuple[CampaignRecord, Campaign]:
    """A stored campaign and its record (`StoredConfigError` when this release refuses its configuration)."""
    record = store.campaign(name)
    return record, stored_campaign(record, store.url)


def generated(store: Store, record: CampaignRecord, campaign: Campaign, last: int = 12) -> Optional[dict]:
    """A generating campaign's `last` generated experiments, newest first, and the substructures people forbade
    since it began; None for a campaign that does not generate."""
    if not campaign.space.open:
        return None
    from retort.orchestrator.store.decisions import DecisionStore

    made = [e for e in store.experiments(record.id) if e.provenance.origin is not None]
    return {"experiments": made[-last:][::-1], "count": len(made), "forbidden": DecisionStore(store).forbidden(record.id)}


def lines(store: Store, record: CampaignRecord, campaign: Campaign) -> list[ExperimentLine]:
    """The campaign's experiments as light rows, with the readings its outcome constraints are checked on."""
    return store.experiment_lines(record.id, readings=constrained_readings(campaign))


def show(value, full: bool = False) -> str:
    """A parameter's value as the pages write it: numbers to 4 significant digits (`full`: 6, as edit fields hold
    them), a mixture as `name=fraction` pairs (`full`: JSON, as an edit takes it), text as it is."""
    import json

    if isinstance(value, dict):
        return json.dumps(value) if full else ", ".join(f"{k}={v:.3g}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.6g}" if full else f"{value:.4g}"
    return str(value)


def overview(store: Store) -> list[dict]:
    rows = []
    for record in store.campaigns():
        try:
            _, campaign = load(store, record.name)
        except StoredConfigError as exc:  # one refused campaign does not hide the others
            rows.append({"name": record.name, "broken": str(exc)})
            continue
        counts = store.status_counts(record.id)
        control = DecisionStore(store).control(record.id)
        rows.append({
            "name": record.name, "budget": campaign.budget, "done": done(counts),
            "failed": counts.get("failed", 0), "running": counts.get("running", 0),
            "waiting": counts.get("proposed", 0) if campaign.approval.mode == "required" else 0,
            "approval": campaign.approval.describe(),
            "driver": driver(store, record.id) + ("" if control == "run" else f", {control}"),
            "best": headline(campaign, lines(store, record, campaign)),
        })
    return rows


def summary(store: Store, record: CampaignRecord, campaign: Campaign, experiments: list[ExperimentLine]) -> dict:
    counts = store.status_counts(record.id)
    top = best(campaign, experiments)
    return {
        "budget": campaign.budget, "done": done(counts), "counts": counts, "headline": headline(campaign, experiments),
        "front": [e.seq for e in pareto_front(campaign, experiments)] if len(campaign.objectives) > 1 else [],
        "imported": sum(e.planner == IMPORTED for e in experiments),
        "waiting": counts.get("proposed", 0) if campaign.approval.mode == "required" else 0,
        "approval": campaign.approval.describe(), "driver": driver(store, record.id) + prefect_flow_run(record.name),
        "control": DecisionStore(store).control(record.id),
        "best": top, "objectives": campaign.objectives, "parameters": campaign.space.names,
        "fidelities": fidelity_spend(campaign, store.fidelity_counts(record.id), store.model_versions(record.id)[-1:])
        if campaign.fidelities else [],
        "warm_start": warm_start_text(campaign, store.model_versions(record.id)[-1:]) if campaign.warm_start else None,
        "learning": (learning_text(campaign, store.model_versions(record.id)) or "no committee yet") if campaign.purpose == "learn" else None,
    }


def driver(store: Store, campaign_id: int) -> str:
    """Which process runs the campaign (its lease) and when it last said it is alive, or idle."""
    from datetime import datetime, timezone

    from retort.orchestrator.store.leases import TTL

    lease = holder_of(store, campaign_id)
    if lease is None:
        return "idle: no process runs it"
    expires = lease.expires_at if lease.expires_at.tzinfo else lease.expires_at.replace(tzinfo=timezone.utc)
    alive = max(0.0, TTL - (expires - datetime.now(timezone.utc)).total_seconds())
    return f"running on {lease.host} (pid {lease.pid}; alive {alive:.0f} s ago)"


def prefect_flow_run(name: str) -> str:
    """In deployment mode (the UI's environment names a Prefect server, ``PREFECT_API_URL``): the Prefect flow run driving
    campaign `name` (the ``retort-campaign`` flow run of that name that is running), as text to add to `driver`; "" when
    there is none or no server is named. Read over Prefect's REST API (2 s at most): the UI does not import Prefect."""
    import os

    import httpx

    api = os.environ.get("PREFECT_API_URL", "").rstrip("/")
    if not api:
        return ""
    query = {"flows": {"name": {"any_": ["retort-campaign"]}}, "limit": 5, "sort": "START_TIME_DESC",
             "flow_runs": {"name": {"any_": [name]}, "state": {"type": {"any_": ["RUNNING", "PAUSED"]}}}}
    try:
        response = httpx.post(f"{api}/flow_runs/filter", json=query, timeout=2.0)
        response.raise_for_status()
        runs = response.json()
    except (httpx.HTTPError, ValueError):
        return f" · the Prefect server at {api} did not answer"
    if not runs:
        return ""
    run = runs[0]
    ui = os.environ.get("PREFECT_UI_URL", api.removesuffix("/api")).rstrip("/")
    return f" · Prefect flow run {run['id']} ({run['state']['name']}): {ui}/runs/flow-run/{run['id']}"


def figures(campaign: Campaign, experiments: list[ExperimentLine]) -> list[str]:
    """Best so far against experiments; each objective against iteration; predicted against measured (error bars:
    2 sd); the Pareto front of the first two objectives when there are several. A scatter of more than `DOTS`
    experiments shows an evenly spaced selection of them, and says so."""
    measured = scored(campaign, experiments)
    out = []
    tops = [(i, top) for i, top in enumerate(best_so_far(campaign, measured), start=1) if top is not None]
    if len(campaign.objectives) == 1:  # the objective itself, in its units and direction
        o = campaign.objectives[0]
        better = "higher is better" if o.sign > 0 else "lower is better"
        out.append(plots.line(f"best so far: {o.name} ({better}; outcome constraints kept)", [i for i, _ in tops],
                              [top.objectives()[o.name] for _, top in tops], "experiments measured", f"best {o.name} {o.unit}".strip()))
    else:
        out.append(plots.line("best so far (utility: weighted objectives, higher is better; outcome constraints kept)",
                              [i for i, _ in tops], [campaign.utility(top.objectives()) for _, top in tops], "experiments measured", "best utility"))
    for o in campaign.objectives:
        shown, of = _thin(measured)
        out.append(plots.scatter(f"{o.name} against iteration{of}", [e.iteration for e in shown], [e.objectives()[o.name] for e in shown],
                                 "iteration", f"{o.name} {o.unit}".strip()))
        shown, of = _thin([e for e in measured if o.name in e.predicted])
        out.append(plots.scatter(f"{o.name}: predicted against measured (bars: 2 sd){of}", [e.objectives()[o.name] for e in shown],
                                 [e.predicted[o.name]["mean"] for e in shown], "measured", "predicted",
                                 errors=[2 * e.predicted[o.name]["std"] for e in shown], diagonal=True,
                                 none=f"none of the {len(measured)} measured experiments was proposed by a model yet" if measured
                                 else "nothing measured yet"))
    if len(campaign.objectives) > 1:
        a, b = campaign.objectives[:2]
        front_seqs = {e.seq for e in pareto_front(campaign, measured)}
        shown, of = _thin(measured)
        over = f" (front over all {len(campaign.objectives)} objectives)" if len(campaign.objectives) > 2 else ""
        out.append(plots.scatter(f"Pareto front: {a.name} and {b.name} (front in colour){over}{of}",
                                 [e.objectives()[a.name] for e in shown], [e.objectives()[b.name] for e in shown],
                                 a.name, b.name, highlight=[e.seq in front_seqs for e in shown]))
    return out


DOTS = 2000


def _thin(items: list) -> tuple[list, str]:
    """At most `DOTS` of `items`, evenly spaced, and the note saying so (empty when all are shown)."""
    if len(items) <= DOTS:
        return items, ""
    step = len(items) / DOTS
    return [items[int(i * step)] for i in range(DOTS)], f" ({DOTS:,} of {len(items):,}, evenly spaced)"


def table(store: Store, campaign_id: int, experiments: list[ExperimentLine], status: Optional[str], sort: str, descending: bool,
          page: int) -> dict:
    """One page of the experiments, filtered and sorted over all of them; the page's rows are full records."""
    rows = [e for e in experiments if status in (None, "", e.status)]
    key = {"seq": lambda e: e.seq, "iteration": lambda e: (e.iteration, e.seq), "status": lambda e: (e.status, e.seq),
           "planner": lambda e: (e.planner, e.seq)}.get(sort)
    if key is None and sort.startswith("objective:"):
        name = sort.split(":", 1)[1]
        key = lambda e: (e.objectives().get(name, float("-inf")), e.seq)  # noqa: E731
    rows.sort(key=key or (lambda e: e.seq), reverse=descending)
    pages = max(1, -(-len(rows) // PAGE))
    page = min(max(1, page), pages)
    seqs = [e.seq for e in rows[(page - 1) * PAGE: page * PAGE]]
    full = {e.seq: e for e in store.experiments(campaign_id, seqs=seqs)} if seqs else {}
    return {"rows": [full[s] for s in seqs], "total": len(rows), "page": page, "pages": pages}


def waiting(store: Store) -> list[dict]:
    """Every campaign asking for approval with its proposals waiting."""
    out = []
    for record in store.campaigns():
        try:
            _, campaign = load(store, record.name)
        except StoredConfigError:  # shown as refused on the campaigns page
            continue
        if campaign.approval.mode != "required":
            continue
        out.append({"name": record.name, "campaign": campaign, "approval": campaign.approval.describe(),
                    "proposals": store.experiments(record.id, statuses=("proposed",)),
                    "approved": store.experiments(record.id, statuses=("approved",)),
                    "readings": sorted({r for o in campaign.objectives for r in o.readings} - {o.name for o in campaign.objectives})})
    return out


class AuditFilter(BaseModel):
    """Which audit events to show: by campaign, person and action (exact), and a time window (UTC, inclusive dates
    or date-times as ``2026-12-06`` or ``2026-12-06T14:30``)."""

    campaign: str = ""
    actor: str = ""
    action: str = ""
    since: str = ""
    until: str = ""

    def window(self) -> tuple[Optional["datetime"], Optional["datetime"]]:
        from datetime import datetime, timedelta

        def moment(text: str, end: bool):
            if not text:
                return None
            try:
                value = datetime.fromisoformat(text)
            except ValueError:
                raise DecisionError(f"audit filter: {text!r} is not a date (2026-12-06) or a date and time (2026-12-06T14:30)") from None
            if end and len(text) == 10:  # a whole day
                value += timedelta(days=1) - timedelta(microseconds=1)
            return value.replace(tzinfo=None)

        return moment(self.since, False), moment(self.until, True)

    def query(self) -> str:
        return "&".join(f"{k}={quote(v, safe='')}" for k, v in self.model_dump().items() if v)


def audit(store: Store, chosen: AuditFilter = AuditFilter(), limit: Optional[int] = 500) -> list[dict]:
    """Audit events newest first, filtered by `chosen`; at most `limit` (None: all)."""
    since, until = chosen.window()
    decisions = DecisionStore(store)
    events = []
    for record in store.campaigns():
        if chosen.campaign and record.name != chosen.campaign:
            continue
        for e in decisions.events(record.id, action=chosen.action or None):
            when = e.created_at.replace(tzinfo=None)
            if (chosen.actor and e.actor != chosen.actor) or (since and when < since) or (until and when > until):
                continue
            events.append({"campaign": record.name, "event": e})
    events.sort(key=lambda x: x["event"].created_at, reverse=True)
    return events if limit is None else events[:limit]


def inbox_count(store: Store) -> int:
    """Proposals waiting for a decision, over every campaign that asks for approval."""
    total = 0
    for record in store.campaigns():
        try:
            required = stored_campaign(record).approval.mode == "required"
        except StoredConfigError:  # shown as refused on the campaigns page
            continue
        if required:
            total += store.status_counts(record.id).get("proposed", 0)
    return total


def decks(store: Store, campaign: Campaign) -> list[dict]:
    """What is left on each robot deck the campaign runs on (the colour lab): tips per rack, stocks, the plate's free
    wells, whether the robot is out of service, batches in progress and the latest deck events."""
    from retort.orchestrator.campaign import ColourLabConfig
    from retort.orchestrator.store.decks import DeckStore
    from retort.orchestrator.labs.colour import robot_decks

    if not isinstance(campaign.lab, ColourLabConfig):
        return []
    stored = DeckStore(store)
    names = set(stored.names())
    out = []
    for deck in robot_decks(campaign.lab, campaign):
        if deck.name not in names:
            out.append({"name": deck.name, "unused": True})
            continue
        config, state = stored.get(deck.name)
        free = state.free_wells(config)
        out.append({
            "name": deck.name, "robot": config.robot, "unused": False, "out_of_service": state.out_of_service,
            "rows": [(f"tips, slot {slot} ({load})", f"{len(state.free_tips(config, slot))} of 96") for slot, load in sorted(config.tip_racks.items())]
            + [(f"stock {stock} ({config.reservoir.slot}:{config.stocks[stock].well})", f"{volume:g} uL") for stock, volume in sorted(state.stocks.items())]
            + [(f"plate {state.plate} (slot {config.plate.slot})", f"{len(free)} free wells" + (f", next {free[0]}" if free else ""))],
            "runs": stored.runs(deck=deck.name, active=True), "events": stored.events(deck.name, limit=5)})
    return out
