"""A learn campaign's product: its model's predictions over the whole space, as CSV (`retort export --predictions`).

One row per candidate of a finite space (every combination; excluded ones left out), or per point of a Sobol sequence
over a space with a continuous parameter: the parameters, the predicted value of the objective and its standard
deviation (a new measurement's, noise included), the committee's disagreement, and the trust class the campaign's
levels give it: ``measured`` (with its measured value), ``accurate``, ``candidate`` (worth an experiment) or
``suspect`` (the models disagree beyond the upper level: look at it before anyone runs it). The model is refitted on
the stored measurements with the campaign's own settings, so it is the model the last round planned with.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from typing import Sequence

from retort.orchestrator.campaign.file import Campaign
from retort.orchestrator.campaign.observations import observations
from retort.orchestrator.errors import CampaignError

CHUNK = 8192  # candidates predicted at once


def predictions_csv(campaign: Campaign, experiments: Sequence, points: int = 4096) -> tuple[str, Counter]:
    """The CSV text and how many rows fell in each trust class. `points`: Sobol points for a space with a continuous parameter."""
    import torch

    from retort.orchestrator.loop.run import make_planner

    if campaign.purpose != "learn":
        raise CampaignError(f"campaign {campaign.name!r}: --predictions writes the model of a campaign with goal: learn; this one "
                            "optimises (its model is a means to the best experiment: export its experiments instead)")
    planner = make_planner(campaign)
    seen = observations(campaign, experiments)
    model = planner.fit(campaign.space, seen)
    if model is None:
        raise CampaignError(f"campaign {campaign.name!r}: {len(seen)} measurements so far; its committee of {planner.members} needs "
                            f"at least {planner.members + 1}: run the campaign first")
    space, objective = campaign.space, campaign.objectives[0].name
    measured = {json.dumps(o.params, sort_keys=True): o.objectives[objective] for o in seen}
    if space.is_discrete:
        X, index = planner.candidates(space, [])  # every candidate but the excluded
        rows = [space.point_at(int(i)) for i in index]
    else:
        rows = space.sample(points, seed=campaign.seed, method="sobol")
        X = space.encode(rows)
    mean, std, d = [], [], []
    for start in range(0, X.shape[0], CHUNK):
        m, s = model.predict(X[start : start + CHUNK])
        mean.append(m)
        std.append(s)
        d.append(model.disagreement(X[start : start + CHUNK]))
    mean, std, d = torch.cat(mean), torch.cat(std), torch.cat(d)
    keys = [json.dumps(r, sort_keys=True) for r in rows]
    _, accurate, suspect = planner.levels.classify(d, among=torch.tensor([k not in measured for k in keys]))
    buffer, classes = io.StringIO(), Counter()
    writer = csv.writer(buffer)
    names = [p.name for p in space.parameters]
    writer.writerow([f"param.{n}" for n in names] + [f"predicted.{objective}.mean", f"predicted.{objective}.std", "disagreement", "trust",
                                                   f"measured.{objective}"])
    for row, key, m, s, dv, good, odd in zip(rows, keys, mean.tolist(), std.tolist(), d.tolist(), accurate.tolist(), suspect.tolist()):
        trust = "measured" if key in measured else "accurate" if good else "suspect" if odd else "candidate"
        classes[trust] += 1
        writer.writerow([json.dumps(row[n]) if isinstance(row[n], dict) else row[n] for n in names]
                        + [f"{m:.6g}", f"{s:.6g}", f"{dv:.6g}", trust, measured.get(key, "")])
    return buffer.getvalue(), classes
