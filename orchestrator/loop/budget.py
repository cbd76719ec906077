"""How much of a campaign's budget is left: to run, to propose, and to propose now (a finite space may run out of
untried candidates first)."""

from __future__ import annotations

from retort.orchestrator.campaign.lifecycle import OPEN
from retort.orchestrator.campaign.results import allocated, done
from retort.orchestrator.errors import CampaignError
from retort.orchestrator.loop.run import CampaignRun
from retort.orchestrator.store.records import ExperimentRecord


def remaining(run: CampaignRun) -> int:
    """Experiments still to run: the budget less those measured or failed."""
    return max(0, run.campaign.budget - done(run.counts()))


def unallocated(run: CampaignRun) -> int:
    """Experiments still to propose: the budget less every stored experiment (done, running, or open) but those
    rejected (and those imported, which `counts` leaves out)."""
    return max(0, run.campaign.budget - allocated(run.counts()))


def plannable(run: CampaignRun) -> int:
    """How many experiments may be proposed now: `unallocated`, and in a finite space no more than its untried
    candidates. Raises `CampaignError` when budget is left but no candidate is (rejections use candidates up
    without spending budget)."""
    n = unallocated(run)
    if n and run.space.is_discrete:
        experiments = [e for e in run.experiments() if e.fidelity is None]  # a computation leaves its candidate untried
        tried = {run.space.index_of(e.params) for e in experiments} | run.space.excluded_indices()
        left = run.space.n_candidates() - len(tried)
        if left <= 0:
            rejected = sum(e.status == "rejected" for e in experiments)
            raise CampaignError(f"campaign {run.campaign.name!r}: every candidate of the space has been tried or rejected ({rejected} "
                                f"rejected), so the {n} experiments left in the budget cannot be proposed; lower the budget to "
                                f"{run.campaign.budget - n} to finish the campaign")
        n = min(n, left)
    return n


def next_iteration(run: CampaignRun) -> int:
    return run.store.last_iteration(run.record.id) + 1


def open_experiments(run: CampaignRun) -> list[ExperimentRecord]:
    """Proposed or approved experiments that have not run yet (continued, never re-proposed)."""
    return run.experiments(statuses=tuple(OPEN))
