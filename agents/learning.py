"""Learning a model over a whole space with the fewest labels: a committee's disagreement between trust levels.

After DP-GEN's concurrent learning (Zhang et al., Comput. Phys. Commun. 2020): a committee of models scores every
candidate by how much its members disagree. Below the `lower` trust level the models agree (the candidate is
*accurate*: no label needed); between the levels it is a *candidate* (worth an experiment); above `upper` it is
*suspect* (the models disagree so much it is probably outside what they can learn, or a broken corner of the space:
never sent to an instrument, listed for a person). A round labels at most a batch of candidates, chosen by how much of
the GP's uncertainty over the whole space each would remove (`surrogates.information`, greedy over the batch; DP-GEN's
own order, most disagreed-upon first, is the ``disagreement`` score). A campaign has learned when the accurate share
stays at or above a threshold for two rounds (the loop reads it from the stored model versions: `summary.LEARNING`).

The committee is `surrogates.committee`: the campaign's GP and K members, each conditioned on all measurements but
one fold.

Example:
    >>> from retort.agents.space import SearchSpace, ContinuousParameter
    >>> from retort.agents.objectives import Goal, Objective
    >>> levels = TrustLevels(lower=0.01, upper=10.0)
    >>> planner = LearnPlanner(Goal(objectives=[Objective(name="y", goal="maximize")]), levels, n_initial=6, seed=0)
    >>> planner.name
    'learn'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Optional, get_args

import numpy as np
import torch

from retort.agents.errors import PlanningError
from retort.agents.objectives import Goal
from retort.agents.planners import BayesianPlanner, _believe
from retort.agents.proposal import Observation, Prediction, Proposal, Provenance, Value
from retort.agents.space import SearchSpace
from retort.surrogates.information import greedy_variance_reduction
from retort.surrogates.summary import LEARNING, Shares

Score = Literal["information", "disagreement", "variance"]


@dataclass(frozen=True)
class TrustLevels:
    """DP-GEN's trust levels on the committee's disagreement, in the objective's units.

    lower: below it a candidate is accurate (not labelled). upper: above it a candidate is suspect (never labelled).
    keep: an adaptive lower level: each round it drops, when needed, so that at least `keep` candidates lie between
        the levels (never below what a batch needs; 0: the lower level is fixed).
    converged: the accurate share (of the candidates not yet measured) that, held for two rounds, ends the campaign.
    """

    lower: float
    upper: float
    keep: int = 0
    converged: float = 0.95

    def __post_init__(self) -> None:
        if not (0 <= self.lower < self.upper):
            raise PlanningError(f"trust levels lower {self.lower:g} and upper {self.upper:g}: need 0 <= lower < upper")
        if not (0 < self.converged <= 1):
            raise PlanningError(f"convergence threshold {self.converged:g}: need a share in (0, 1]")

    def lower_for(self, disagreement: torch.Tensor) -> float:
        """The lower level this round: `lower`, or lower still so that `keep` candidates lie below `upper`."""
        if not self.keep:
            return self.lower
        below = disagreement[disagreement <= self.upper]
        if below.numel() == 0:
            return self.lower
        kth = torch.topk(below, min(self.keep, below.numel())).values[-1]
        return min(self.lower, float(kth))

    def classify(self, disagreement: torch.Tensor, among: Optional[torch.Tensor] = None) -> tuple[float, torch.Tensor, torch.Tensor]:
        """The lower level this round (`lower_for` over the points `among` selects, default all) and, for every point,
        whether it is accurate and whether it is suspect (the rest are candidates)."""
        lower = self.lower_for(disagreement if among is None else disagreement[among])
        return lower, disagreement < lower, disagreement > self.upper


class LearnPlanner(BayesianPlanner):
    """Labels what a committee of GPs disagrees on, between trust levels (module docstring); one objective.

    Args:
        goal: one objective, the quantity to learn (its direction is not used).
        levels: the trust levels and convergence threshold (`TrustLevels`).
        n_initial, seed, initial: the initial design, as `BayesianPlanner`'s.
        members: the committee's size K (each member leaves out 1/K of the measurements).
        score: how the candidates between the trust levels are ranked: ``information`` (default): by how much of the GP's
            predictive variance over the whole space measuring each would remove (`surrogates.information`: Cohn's
            integrated variance reduction, greedy over the batch); ``disagreement``: most disagreed-upon first, each pick
            told to the committee at its consensus; ``variance``: no trust levels, the GP's predictive standard deviation
            (plain maximum-variance labelling, a baseline `benchmarks/active_learning.py` compares with).
        pool: in a space with a continuous parameter, the candidates scored are this many points of a Sobol
            sequence (the same every round); a finite space scores every candidate not yet measured.
        rescore: with the ``disagreement`` and ``variance`` scores, after the first pick of a batch only this many of the
            best-scoring candidates are scored again.
        reference: with the ``information`` score, the variance removed is summed over at most this many of the candidates.
    """

    name = "learn"

    def __init__(self, goal: Goal, levels: TrustLevels, n_initial: int, seed: int, members: int = 5, score: Score = "information",
                 pool: int = 4096, rescore: int = 4096, reference: int = 2048, initial: str = "levels") -> None:
        if len(goal.objectives) != 1 or goal.constraints:
            raise PlanningError(f"a learn campaign models one objective without outcome constraints; this goal has "
                                f"{[o.name for o in goal.objectives]}")
        if members < 2:
            raise PlanningError(f"a committee needs at least 2 members, got {members}")
        super().__init__(goal, n_initial=max(n_initial, members + 1), seed=seed, initial=initial, composite=False)
        if score not in get_args(Score):
            raise PlanningError(f"score {score!r}: choose one of {get_args(Score)}")
        self.levels, self.members, self.score, self.pool, self.rescore, self.reference = levels, members, score, pool, rescore, reference
        self.name = "max-variance" if score == "variance" else "learn"

    # -- fit: the campaign's GP, its committee, and where the candidates fall ----------------------------------------------
    def fit(self, space: SearchSpace, observations: list[Observation]):
        from retort.surrogates.committee import fit_committee

        if len(observations) <= self.members:
            return None
        full = super().fit(space, observations)
        objective = self.goal.objectives[0].name
        X = space.encode([o.params for o in observations])
        Y = torch.tensor([[o.objectives[objective]] for o in observations], dtype=torch.double)
        committee = fit_committee(full, X, Y, self.members, seed=self.seed + len(observations))
        measured = [o.params for o in observations]
        shares = self.shares(committee, space, measured)
        summary = committee.summary.model_copy(update={
            "kind": f"SingleTaskGP, committee of {self.members}", "hyperparameters": committee.summary.hyperparameters | {LEARNING: shares.stored()}})
        committee.summary = summary
        return committee

    def shares(self, committee, space: SearchSpace, measured: list[dict[str, Value]]) -> Shares:
        X, _ = self.candidates(space, measured)
        d = committee.disagreement(X) if X.shape[0] else torch.empty(0, dtype=torch.double)
        lower, accurate, suspect = self.levels.classify(d)
        cv = committee.cv
        return Shares(lower, self.levels.upper, int(accurate.sum()), int((~accurate & ~suspect).sum()), int(suspect.sum()),
                      cv.rmse, cv.r2, cv.coverage_95)

    def candidates(self, space: SearchSpace, avoid: list[dict[str, Value]]) -> tuple[torch.Tensor, Optional[np.ndarray]]:
        """The candidates scored: every candidate of a finite space not in `avoid` nor excluded (and their indices), or
        `pool` Sobol points of a space with a continuous parameter, less any in `avoid` (indices None)."""
        if space.is_discrete:
            skip = space.excluded_indices() | {space.index_of(p) for p in avoid}
            index = np.setdiff1d(np.arange(space.n_candidates(), dtype=np.int64), np.fromiter(skip, dtype=np.int64, count=len(skip)))
            return space.candidates(index), index
        X = space.encode(space.sample(self.pool, seed=self.seed, method="sobol"))
        if avoid:  # the design is the same Sobol sequence: its points, and any other labelled or pending, leave the pool
            X = X[torch.cdist(X, space.encode(list(avoid)), compute_mode="donot_use_mm_for_euclid_dist").min(dim=1).values > 1e-9]
        return X, None

    # -- propose: the most disagreed-upon candidates, one at a time ----------------------------------------------------------
    def _greedy(self, X, score, closed, members, full, q: int) -> tuple[list[int], list[float]]:
        """`q` picks, each the best-scoring candidate; after each, the committee (`members`: disagreement) or the GP (`full`:
        standard deviation) is told the pick was measured, and the `rescore` best-scoring candidates at the start are scored
        again. Returns the picks and their scores when picked."""
        order = torch.argsort(score, descending=True)[: self.rescore]
        picked, values, focus = [], [], X[order]
        for _ in range(q):
            j = int(torch.argmax(score[order]))
            if not math.isfinite(float(score[order[j]])):
                break
            i = int(order[j])
            picked.append(i)
            values.append(float(score[i]))
            x = X[i : i + 1]
            if members is not None:
                members = _agree(members, x)
                fresh = torch.stack([m.posterior(focus).mean.reshape(-1) for m in members]).std(0)
            else:
                full = _believe(full, x)
                fresh = _std(full, focus)
            fresh[closed[order] | torch.isin(order, torch.tensor(picked))] = -math.inf
            score[order] = fresh
        return picked, values

    def propose(self, space, observations, pending, batch_size, model=None, rejected=()) -> list[Proposal]:
        done = len(observations) + len(pending)
        position = done + len(rejected)
        if model is None or done < self.n_initial:
            if space.is_discrete:
                return self._initial_discrete(space, [o.params for o in observations] + list(pending) + list(rejected), position, batch_size)
            return self._initial(space, position, batch_size, len(rejected))
        if not hasattr(model, "members"):
            raise PlanningError("a learn campaign plans with its committee: fit the planner on these observations first")
        taken = [o.params for o in observations] + list(pending) + list(rejected)
        X, index = self.candidates(space, taken)
        if X.shape[0] == 0:
            raise PlanningError(f"every one of the {space.n_candidates()} candidates has been measured, is pending or is excluded")
        X_pending = space.encode(list(pending)) if pending else None
        members = _agree(list(model.members), X_pending) if pending else list(model.members)
        d = model.disagreement(X, members)
        lower, accurate, suspect = self.levels.classify(d)
        closed = accurate | suspect if self.score != "variance" else torch.zeros_like(accurate)
        q = min(batch_size, int((~closed).sum()))
        if q == 0:
            return []  # nothing to label: the fit's shares say why, and the loop ends the campaign (`orchestrator.loop.learning`)
        with torch.no_grad():
            if self.score == "information":
                reference = X if X.shape[0] <= self.reference else X[torch.randperm(X.shape[0], generator=torch.Generator().manual_seed(
                    self.seed + position))[: self.reference]]
                picked, values = greedy_variance_reduction(model.model, X, reference, q, eligible=~closed, pending=X_pending)
                how = (f"integrated variance reduction over {reference.shape[0]} points of the space, among the candidates whose committee "
                       f"disagreement lies between the trust levels {lower:.4g} and {self.levels.upper:.4g} ({self.members} fold members); "
                       f"greedy over the batch")
            elif self.score == "disagreement":
                picked, values = self._greedy(X, d.clone().masked_fill(closed, -math.inf), closed, members, None, q)
                how = (f"committee disagreement ({self.members} fold members; trust levels {lower:.4g} to {self.levels.upper:.4g}), greedy "
                       f"over the batch with consensus fantasies")
            else:
                full = _believe(model.model, X_pending) if pending else model.model
                picked, values = self._greedy(X, _std(full, X), closed, None, full, q)
                how = "predictive standard deviation, greedy over the batch with fantasies"
        mean, std = model.predict(X[picked])
        objective = self.goal.objectives[0].name
        where = (f"{int(accurate.sum())} accurate, {int(((~accurate) & (~suspect)).sum())} candidates, {int(suspect.sum())} suspect of "
                 f"{X.shape[0]} not yet labelled")
        points = [space.point_at(int(index[i])) for i in picked] if index is not None else space.decode(X[picked])
        return [Proposal(params=p, provenance=Provenance(
                    planner=self.name, model_version=model.version, acquisition=how, acquisition_value=v,
                    predicted={objective: Prediction(mean=float(m), std=float(s))},
                    note=f"committee disagreement {float(d[i]):.4g} ({where})"))
                for p, i, v, m, s in zip(points, picked, values, mean.tolist(), std.tolist())]


def _agree(members: list, X: torch.Tensor) -> list:
    """Every member told that `X` was measured at the committee's consensus (the members' mean prediction) there."""
    with torch.no_grad():
        consensus = torch.stack([m.posterior(X).mean for m in members]).mean(0)
    return [m.condition_on_observations(X, consensus) for m in members]


def _std(model, X: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.posterior(X).variance.reshape(-1).clamp_min(0).sqrt()
