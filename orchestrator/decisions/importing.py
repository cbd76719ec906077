"""Measurements made before or outside a campaign, imported from a CSV file: chemists start with data.

A file has a header row. Its columns are the campaign's parameters and either its objectives or the
readings they are derived from, named as they are (``red``, ``yield``) or as ``retort export`` writes
them (``param.red``, ``objective.distance``, ``raw.A520``): one campaign's export imports into another.
Export's other columns are ignored, and of an exported file only its measured rows are taken. Every row is
checked against the search space, and every value must be a finite number, before anything is stored;
the rows are then stored at once, as measured experiments with provenance ``import`` that spend no budget.
A file already imported into the campaign (the same bytes) is refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

from retort.orchestrator.campaign import Campaign
from retort.orchestrator.campaign.export import FOUND
from retort.orchestrator.decisions.values import finite, read_point
from retort.orchestrator.errors import DecisionError
from retort.orchestrator.store.decisions import DecisionStore, Imported

EXPORT_COLUMNS = {"seq", "iteration", "status", "location", "planner", "model_version", "acquisition_value", "acquisition",
                  "improvement_probability", "ruled_out", "failure_reason", "proposed_at", "finished_at", "lab_seconds", "fidelity", *FOUND}  # `retort export`'s own columns: ignored


def import_file(campaign: Campaign, store, campaign_id: int, path: str | Path, actor: str, source: str = "", shown: str = "") -> list[int]:
    """Read, check and store the measurements of `path` (`source`: what to call it in the audit trail, default its
    absolute path; `shown`: in messages, default the path); returns the new experiments' numbers."""
    path = Path(path)
    label = shown or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DecisionError(f"cannot read {label}: {exc.strerror or exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    decisions = DecisionStore(store)
    for event in decisions.events(campaign_id, action="import"):
        if event.after.get("sha256") == digest:
            raise DecisionError(f"{label}: this file was already imported into campaign {campaign.name!r} by {event.actor} on "
                                f"{event.created_at:%Y-%m-%d %H:%M} UTC (experiments {event.after.get('experiments')}); nothing imported")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DecisionError(f"{label}: not a UTF-8 text file") from None
    items = read_measurements(campaign, text, label)
    return decisions.import_measured(campaign_id, items, actor, {"file": source or str(path.resolve()), "sha256": digest, "rows": len(items)})


def read_measurements(campaign: Campaign, text: str, where: str) -> list[Imported]:
    """The measured rows of a CSV text, checked; raises `DecisionError` naming the file, row and column of the first problem."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise DecisionError(f"{where}: empty file; the first row must name the columns")
    space = campaign.space
    objectives = [o.name for o in campaign.objectives]
    readings = sorted({r for o in campaign.objectives for r in o.readings})
    columns: dict[str, tuple[str, str]] = {}  # header -> (kind, name)
    unknown = []
    known = {"param": space.names, "objective": objectives, "raw": None}  # raw: an export's other readings are kept too
    for h in header:
        kind, _, name = h.partition(".") if h.split(".", 1)[0] in known else ("", "", h)
        if not h or h in EXPORT_COLUMNS or h.startswith("predicted."):
            continue  # an empty header cell (spreadsheets add them) or export's own columns
        if kind and known[kind] is not None and name not in known[kind]:
            unknown.append(h)
        elif kind:
            columns[h] = (kind, name)
        elif name in space.names:
            columns[h] = ("param", name)
        elif name in objectives:
            columns[h] = ("objective", name)
        elif name in readings:
            columns[h] = ("raw", name)
        else:
            unknown.append(h)
    if unknown:
        raise DecisionError(f"{where}: unknown columns {unknown}; columns are the parameters {space.names}, the objectives "
                            f"{objectives} or the readings {readings} (as written, or as retort export writes them)")
    twice = sorted({f"{k} {n}" for k, n in columns.values() if list(columns.values()).count((k, n)) > 1}
                   | {h for h in header if h and header.count(h) > 1})
    if twice:
        raise DecisionError(f"{where}: two columns give the same value ({', '.join(twice)}); keep one")
    named = {(k, n) for k, n in columns.values()}
    missing = [n for n in space.names if ("param", n) not in named]
    if missing:
        raise DecisionError(f"{where}: no column for parameters {missing}")
    by_objective = all(("objective", n) in named for n in objectives)
    if not by_objective and not all(("raw", r) in named for r in readings):
        raise DecisionError(f"{where}: give a column for each objective {objectives}, or for each reading they are derived from "
                            f"{readings}; missing: {[n for n in objectives if ('objective', n) not in named]}")
    units = {o.name: o.unit for o in campaign.objectives}
    items = []
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip(): v for k, v in row.items()}
        if (row.get("status") or "measured").strip().lower() != "measured":
            continue  # an exported experiment that was not measured
        if (row.get("fidelity") or "").strip() not in ("", campaign.truth):
            continue  # a dry-wet export's computation: not a measurement of the truth
        here = f"{where} row {number}"
        params = {name: (row.get(h) or "").strip() for h, (kind, name) in columns.items() if kind == "param"}
        empty = [n for n, v in params.items() if v == ""]
        if empty:
            raise DecisionError(f"{here}: no value for {empty}")
        point = read_point(space, params, here)
        raw = {name: finite(row.get(h), f"{here}, column {h!r}") for h, (kind, name) in columns.items()
               if kind == "raw" and (by_objective is False or (row.get(h) or "").strip())}
        if by_objective:
            values = {name: finite(row.get(h), f"{here}, column {h!r}") for h, (kind, name) in columns.items() if kind == "objective"}
        else:
            values = {o.name: o.derive(raw) for o in campaign.objectives}
        items.append(Imported(params=point, raw=raw, objectives=values, units=units, note=f"imported from {Path(where).name} row {number}"))
    if not items:
        raise DecisionError(f"{where}: no measured rows to import")
    return items
