"""Telling people that proposals wait for a decision: a POST of JSON to the campaign's `approval.notify` URL (a chat
webhook, a lab's paging service). A receiver that is down or refuses never stops the campaign: the run logs a warning
naming the URL and what it answered, and the proposals wait as they would have."""

from __future__ import annotations

import logging

from retort.orchestrator.campaign import Campaign
from retort.orchestrator.store.records import ExperimentRecord

log = logging.getLogger(__name__)
TIMEOUT = 5.0  # s: a slow receiver delays the campaign this long at most


def proposals_waiting(campaign: Campaign, new: list[ExperimentRecord]) -> bool:
    """POST ``{"campaign", "waiting", "text"}`` to the campaign's notify URL about the proposals `new`; True if the
    receiver answered 2xx (False, with a warning logged, otherwise; nothing to do without a URL or proposals)."""
    import httpx

    url = campaign.approval.notify
    if url is None or not new:
        return False
    seqs = [e.seq for e in new]
    body = {"campaign": campaign.name, "waiting": seqs,
            "text": f"{campaign.name}: {len(seqs)} proposal{'s' if len(seqs) != 1 else ''} ({', '.join(map(str, seqs))}) wait for a "
                    "decision (retort approve, or the UI's Approvals page)"}
    try:
        answer = httpx.post(str(url), json=body, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        log.warning("could not tell %s that proposals %s of %s wait: %s", url, seqs, campaign.name, exc)
        return False
    if not answer.is_success:
        log.warning("%s answered %s to the notice that proposals %s of %s wait", url, answer.status_code, seqs, campaign.name)
        return False
    return True
