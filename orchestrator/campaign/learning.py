"""The learning section of a campaign file: a campaign whose product is a model of the whole space, not an optimum.

With ``goal: learn`` the planner labels what a committee of models disagrees on, between two trust levels in the
objective's units (`retort.agents.learning`): below ``lower`` a candidate is accurate (no experiment needed), above
``upper`` it is suspect (never sent to an instrument; `retort export --predictions` lists it for a person), and the
campaign ends when the accurate share of the candidates not yet measured stays at or above ``converged`` for two rounds
(or the budget is spent). Each round's shares and the model's cross-validated error are stored with its model version
(`surrogates.summary.LEARNING`): the loop, `retort status`, the report and the UI read them from there.

Example (a campaign's YAML):

    goal: learn
    learning: {lower: 2, upper: 40, keep: 5, converged: 0.95}
"""

from __future__ import annotations

from typing import Optional, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retort.agents.fields import Number, Whole
from retort.surrogates.summary import LEARNING, Shares


class LearningConfig(BaseModel):
    """Trust levels (the objective's units), the adaptive lower level, the convergence threshold and the committee's size."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lower: Number = Field(ge=0, description="committee disagreement below which a candidate is accurate (no experiment)")
    upper: Number = Field(gt=0, description="disagreement above which a candidate is suspect (never run; listed for a person)")
    keep: Whole = Field(default=0, ge=0, le=100_000, description="an adaptive lower level: lowered each round, when needed, so "
                                                                 "that this many candidates lie between the levels (0: fixed)")
    converged: Number = Field(default=0.95, gt=0, le=1, description="the accurate share that, held for two rounds, ends the campaign")
    members: Whole = Field(default=5, ge=2, le=20, description="the committee's size (each member leaves out 1/members of the data)")

    @model_validator(mode="after")
    def _levels(self) -> "LearningConfig":
        if self.lower >= self.upper:
            raise ValueError(f"learning: lower {self.lower:g} must be below upper {self.upper:g} (trust levels on the committee's "
                             "disagreement, in the objective's units)")
        return self

    def describe(self) -> str:
        adaptive = f", lowered to keep {self.keep} candidates" if self.keep else ""
        return (f"trust levels {self.lower:g} to {self.upper:g}{adaptive}; converged at {self.converged:.0%} accurate for two rounds; "
                f"committee of {self.members}")


def check_learning(campaign: "object") -> None:
    """Raise ValueError naming what a learn campaign's other settings get wrong."""
    c = campaign
    if c.purpose != "learn":
        if c.learning is not None:
            raise ValueError("learning: trust levels apply to a campaign with goal: learn; add it, or remove learning")
        return
    if c.learning is None:
        raise ValueError("goal 'learn' needs trust levels in the objective's units: learning: {lower: ..., upper: ...} (below lower the "
                         "models agree, above upper a candidate is suspect and never run)")
    if len(c.objectives) != 1 or c.outcome_constraints or c.trade_off != "weighted":
        raise ValueError(f"goal 'learn' models one objective without outcome constraints; this campaign has {len(c.objectives)} "
                         f"objectives{' and outcome constraints' if c.outcome_constraints else ''}")
    if c.fidelities or c.warm_start:
        raise ValueError("goal 'learn' takes neither fidelities nor warm_start (yet); remove them or learn without")
    if c.space.is_discrete:
        left = c.space.n_candidates() - len(c.space.excluded_indices())
        if left <= c.initial_design:
            raise ValueError(f"goal 'learn': the space has {left} candidates and the initial design measures {c.initial_design} of them: "
                             "nothing is left to learn; measure them all instead, or add parameter values")


def rounds(models: Sequence) -> list:
    """Each learn round's shares (`surrogates.summary.Shares`), oldest first, from the stored model versions."""
    return [Shares.from_stored(m.hyperparameters[LEARNING]) for m in models if LEARNING in m.hyperparameters]


def learned(campaign, models: Sequence) -> Optional[str]:
    """Why the learn campaign is over, in words, or None while it is not (or it is no learn campaign)."""
    if campaign.purpose != "learn":
        return None
    shares = rounds(models)
    if not shares:
        return None
    threshold, last = campaign.learning.converged, shares[-1]
    if len(shares) >= 2 and all(s.accurate_share >= threshold for s in shares[-2:]):
        return (f"converged: {shares[-2].accurate_share:.1%} and {last.accurate_share:.1%} of the candidates not yet measured are "
                f"accurate in the last two rounds (threshold {threshold:.0%})")
    if last.candidates == 0:
        return (f"nothing left to label between the trust levels: {last.accurate} accurate, {last.suspect} suspect (above "
                f"{last.upper:g}; never run: see 'retort export --predictions')")
    return None
