"""What people decide while a campaign runs, as the loop waits for it: an operator's pause, resume and stop
(`retort control`, the UI) and decisions on proposals (`approval: required`). Every wait reads the store, not
this process's memory: a run stopped while waiting waits again for the same thing when continued."""

from __future__ import annotations

import os
import time
from typing import Callable, Optional

from retort.orchestrator.decisions.approvals import settle_overdue
from retort.orchestrator.loop.run import CampaignRun
from retort.orchestrator.loop.stopping import stop_requested
from retort.orchestrator.store.decisions import DecisionStore

DECISION_POLL = float(os.environ.get("RETORT_DECISION_POLL", "2"))  # s between looks at the store for a person's decisions


def control(run: CampaignRun) -> str:
    """How an operator left the campaign (`retort control`, the UI): `run`, `paused` or `stopped`."""
    return DecisionStore(run.store).control(run.record.id)


def wait_while_paused(run: CampaignRun, should_stop: Callable[[], bool] = lambda: False) -> str:
    """Wait, looking at the store every `DECISION_POLL` s, while an operator has the campaign paused; returns its
    control then (`run`, or `stopped`)."""
    state = control(run)
    while state == "paused" and not should_stop() and not stop_requested():
        time.sleep(DECISION_POLL)
        state = control(run)
    return state


def awaiting(run: CampaignRun, seqs: Optional[list[int]] = None) -> list[int]:
    """The numbers of experiments (of `seqs`) waiting for a person's decision."""
    return [e.seq for e in run.experiments(seqs=seqs, statuses=("proposed",))] if run.approval_required else []


def wait_for_decisions(run: CampaignRun, seqs: list[int], every: bool = True, should_stop: Callable[[], bool] = lambda: False,
                       or_when: Callable[[], bool] = lambda: False) -> None:
    """Wait, looking at the store every `DECISION_POLL` s, until a person (or the campaign's `approval.then`) has
    decided every one of `seqs` (`every`), or any one of them, or `or_when()` (e.g. an operator added an
    experiment). The wait is the store's state, not this process's: a run stopped while waiting waits again for
    the same proposals when continued."""
    waiting = set(awaiting(run, seqs))
    while waiting and not should_stop() and not stop_requested():
        time.sleep(DECISION_POLL)
        settle_overdue(run.campaign, run.store, run.record.id)
        left = set(awaiting(run, seqs))
        if not left or (not every and left != waiting) or or_when() or control(run) == "stopped":
            return
        waiting = left
