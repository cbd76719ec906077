"""Flat exports of a campaign's experiments (the store's `ExperimentRecord`s: CSV, JSON), each marked with what the campaign has found: the best
experiment (`results.best`) and, with several objectives, those on the Pareto front (`results.pareto_front`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Optional

from retort.orchestrator.campaign.file import Campaign
from retort.orchestrator.campaign.results import best, pareto_front

FOUND = ("best", "pareto_front")  # the columns marking what the campaign found ("yes" or empty)


def found(campaign: Optional[Campaign], experiments: Sequence) -> dict[int, dict[str, bool]]:
    """Per experiment number, whether it is the campaign's best and whether it is on the Pareto front (several
    objectives only); nothing without the campaign (a stored configuration this release refuses)."""
    if campaign is None:
        return {}
    top = best(campaign, experiments)
    front = {e.seq for e in pareto_front(campaign, experiments)} if len(campaign.objectives) > 1 else None
    return {e.seq: {"best": top is not None and e.seq == top.seq} | ({"pareto_front": e.seq in front} if front is not None else {})
            for e in experiments}


def rows(experiments: Sequence, campaign: Optional[Campaign] = None) -> list[dict[str, object]]:
    """One flat row per experiment: parameters, raw readings, objectives, what the campaign found, provenance, timestamps."""
    marks = found(campaign, experiments)
    out = []
    for e in experiments:
        row: dict[str, object] = {
            "seq": e.seq,
            "iteration": e.iteration,
            "status": e.status,
            **{k: "yes" if v else "" for k, v in marks.get(e.seq, {}).items()},
            "location": e.location,
            **({"fidelity": e.fidelity or campaign.truth} if campaign is not None and campaign.fidelities else {}),  # dry-wet
            "planner": e.provenance.planner,
            "model_version": e.provenance.model_version,
            "acquisition_value": e.provenance.acquisition_value,
            "acquisition": e.provenance.acquisition,
            "improvement_probability": e.provenance.improvement_probability,
            "ruled_out": {True: "yes", False: "no", None: ""}[e.provenance.ruled_out],
        }
        row |= {f"param.{k}": json.dumps(v) if isinstance(v, dict) else v for k, v in e.params.items()}  # a mixture: JSON
        row |= {f"raw.{m.name}": m.value for m in e.measurements if m.kind == "raw"}
        row |= {f"objective.{m.name}": m.value for m in e.measurements if m.kind == "objective"}
        for name, p in e.provenance.predicted.items():
            row[f"predicted.{name}.mean"] = p.mean
            row[f"predicted.{name}.std"] = p.std
        if campaign is not None and campaign.space.open:  # generated candidates: where each came from
            origin = e.provenance.origin
            row |= {"generated.operator": origin.operator if origin else "", "generated.parents": " ".join(origin.parents) if origin else "",
                    "generated.round": origin.round if origin else ""}
        row |= {
            "failure_reason": e.failure_reason,
            "proposed_at": e.proposed_at.isoformat(),
            "finished_at": e.finished_at.isoformat() if e.finished_at else None,
            "lab_seconds": e.lab_seconds,
        }
        out.append(row)
    return out


def to_json(experiments: Sequence, campaign: Optional[Campaign] = None) -> str:
    marks = found(campaign, experiments)
    return json.dumps([e.model_dump(mode="json") | marks.get(e.seq, {}) for e in experiments], indent=2)


def to_csv(experiments: Sequence, campaign: Optional[Campaign] = None) -> str:
    flat = rows(experiments, campaign)
    columns: list[str] = []
    for row in flat:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(flat)
    return buffer.getvalue()
