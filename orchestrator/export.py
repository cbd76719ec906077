"""Flat exports of a campaign's experiments (CSV, JSON)."""

from __future__ import annotations

import csv
import io
import json

from retort.orchestrator.records import ExperimentRecord


def rows(experiments: list[ExperimentRecord]) -> list[dict[str, object]]:
    """One flat row per experiment: parameters, raw readings, objectives, provenance, timestamps."""
    out = []
    for e in experiments:
        row: dict[str, object] = {
            "seq": e.seq,
            "iteration": e.iteration,
            "status": e.status,
            "location": e.location,
            "planner": e.provenance.planner,
            "model_version": e.provenance.model_version,
            "acquisition_value": e.provenance.acquisition_value,
            "acquisition": e.provenance.acquisition,
        }
        row |= {f"param.{k}": json.dumps(v) if isinstance(v, dict) else v for k, v in e.params.items()}  # a mixture: JSON
        row |= {f"raw.{m.name}": m.value for m in e.measurements if m.kind == "raw"}
        row |= {f"objective.{m.name}": m.value for m in e.measurements if m.kind == "objective"}
        for name, p in e.provenance.predicted.items():
            row[f"predicted.{name}.mean"] = p.mean
            row[f"predicted.{name}.std"] = p.std
        row |= {
            "failure_reason": e.failure_reason,
            "proposed_at": e.proposed_at.isoformat(),
            "finished_at": e.finished_at.isoformat() if e.finished_at else None,
            "lab_seconds": e.lab_seconds,
        }
        out.append(row)
    return out


def to_json(experiments: list[ExperimentRecord]) -> str:
    return json.dumps([e.model_dump(mode="json") for e in experiments], indent=2)


def to_csv(experiments: list[ExperimentRecord]) -> str:
    flat = rows(experiments)
    columns: list[str] = []
    for row in flat:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(flat)
    return buffer.getvalue()
