"""Approval gates: what stands between a proposal and the instruments.

The automatic gate approves everything; a human gate (operator UI) will implement the same
Protocol.

Example:
    >>> from retort.agents.proposal import Proposal, Provenance
    >>> AutoApprove().review([Proposal(params={"x": 1.0}, provenance=Provenance(planner="random"))])[0].approved
    True
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from retort.agents.proposal import Proposal


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    approved: bool
    reviewer: str
    reason: str = ""


class ApprovalGate(Protocol):
    def review(self, proposals: list[Proposal]) -> list[Decision]:
        """One decision per proposal, in order."""


class AutoApprove:
    """Approves every proposal (the default until a human gate is configured)."""

    def review(self, proposals: list[Proposal]) -> list[Decision]:
        return [Decision(approved=True, reviewer="auto") for _ in proposals]
