"""The loop's check that a learn campaign is over (`campaign.learning.learned`), read from its stored model versions."""

from __future__ import annotations

from typing import Optional

from retort.orchestrator.campaign.learning import learned


def run_learned(run) -> Optional[str]:
    """`learned` for a campaign run (a `CampaignRun`), reading its model versions only for a learn campaign."""
    if run.campaign.purpose != "learn":
        return None
    return learned(run.campaign, run.store.model_versions(run.record.id))
