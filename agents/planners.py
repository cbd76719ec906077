"""Planners: one small interface, `fit` then `propose`.

A planner never runs anything: it returns `Proposal` data with provenance. Pending experiments
(proposed, not yet measured) are always passed in, so a batch never repeats work in flight.

Example:
    >>> from retort.agents.space import SearchSpace, ContinuousParameter
    >>> space = SearchSpace(parameters=[ContinuousParameter(name="x", lower=0, upper=1)])
    >>> planner = RandomPlanner(seed=1)
    >>> [round(p.params["x"], 3) for p in planner.propose(space, [], [], 2)]
    [0.127, 0.007]
"""

from __future__ import annotations

import math
import warnings
from typing import Protocol

import torch

from retort.agents.errors import PlanningError
from retort.agents.proposal import Observation, Prediction, Proposal, Provenance, Value
from retort.agents.space import SearchSpace
from retort.surrogates import FittedModel, build_qlognei, fit_gp


class Planner(Protocol):
    """What the campaign flow needs from a planner."""

    name: str

    def fit(self, space: SearchSpace, observations: list[Observation]) -> FittedModel | None:
        """Fit the planner's surrogate to the observations, or return None if it uses none (yet)."""

    def propose(
        self,
        space: SearchSpace,
        observations: list[Observation],
        pending: list[dict[str, Value]],
        batch_size: int,
        model: FittedModel | None = None,
    ) -> list[Proposal]:
        """Return `batch_size` proposals, aware of `pending` experiments."""


class RandomPlanner:
    """Uniform random feasible points: the baseline every planner must beat."""

    name = "random"

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def fit(self, space: SearchSpace, observations: list[Observation]) -> None:
        return None

    def propose(self, space, observations, pending, batch_size, model=None) -> list[Proposal]:
        # Seeded by position in the campaign, so a resumed campaign draws what it would have drawn.
        position = len(observations) + len(pending)
        if space.is_discrete:  # without replacement: never a point already measured or pending
            avoid = {space.index_of(p) for p in [o.params for o in observations] + list(pending)}
            points = space.sample_discrete(batch_size, seed=self.seed * 100_003 + position, avoid=avoid)
        else:
            points = space.sample(batch_size, seed=self.seed * 100_003 + position, method="uniform")
        return [Proposal(params=p, provenance=Provenance(planner=self.name)) for p in points]


class BayesianPlanner:
    """Sobol initial design, then batch qLogNEI on a `SingleTaskGP` of the objectives.

    Args:
        weights: objective name -> signed weight (positive to maximise, negative to minimise);
            the planner improves the weighted sum.
        n_initial: experiments drawn from the Sobol design before the model takes over.
        seed: seeds the Sobol design, the acquisition's QMC sampler and the optimiser's restarts.
        num_restarts, raw_samples: acquisition optimiser effort (BoTorch's names).
        discrete_candidates: feasible random candidates scored when the space mixes continuous
            with integer or categorical parameters.
        chunk: candidates scored at once in a purely discrete space (bounds memory).
    """

    name = "qLogNEI"

    def __init__(
        self,
        weights: dict[str, float],
        n_initial: int,
        seed: int,
        num_restarts: int = 8,
        raw_samples: int = 256,
        discrete_candidates: int = 2048,
        chunk: int = 8192,
    ) -> None:
        if not weights:
            raise PlanningError("a Bayesian planner needs at least one objective")
        self.weights = dict(weights)
        self.n_initial = n_initial
        self.seed = seed
        self.num_restarts = num_restarts
        self.raw_samples = raw_samples
        self.discrete_candidates = discrete_candidates
        self.chunk = chunk

    @property
    def outputs(self) -> list[str]:
        return list(self.weights)

    def fit(self, space: SearchSpace, observations: list[Observation]) -> FittedModel | None:
        if len(observations) < 2:
            return None
        train_X = space.encode([o.params for o in observations])
        train_Y = torch.tensor([[o.objectives[k] for k in self.outputs] for o in observations], dtype=torch.double)
        return fit_gp(train_X, train_Y, space.bounds(), self.outputs, fingerprint_dims=space.fingerprint_columns())

    def propose(self, space, observations, pending, batch_size, model=None) -> list[Proposal]:
        done = len(observations) + len(pending)
        if model is None or done < self.n_initial:
            return self._initial(space, done, batch_size)
        position = done
        torch.manual_seed(self.seed * 100_003 + position)
        X_baseline = space.encode([o.params for o in observations])
        X_pending = space.encode(pending) if pending else None
        acq = build_qlognei(
            model.model, X_baseline, [self.weights[k] for k in self.outputs], X_pending=X_pending, seed=self.seed + position
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if space.is_discrete:
                avoid = {space.index_of(p) for p in [o.params for o in observations] + list(pending)}
                X = self._optimise_discrete(acq, space, batch_size, X_pending, avoid)
            else:
                X = self._optimise(acq, space, batch_size, X_baseline)
        return self._with_provenance(space, X, acq, model)

    def _initial(self, space: SearchSpace, done: int, batch_size: int) -> list[Proposal]:
        # One Sobol sequence for the whole design, sliced by position: resumable and batch-size free.
        design = space.sample(max(self.n_initial, done + batch_size), seed=self.seed, method="sobol")
        points = design[done : done + batch_size]
        if len(points) < batch_size:  # past the design (model unavailable): continue the sequence
            points += space.sample(batch_size - len(points), seed=self.seed + done + 1, method="sobol")
        return [Proposal(params=p, provenance=Provenance(planner="sobol", note="initial design")) for p in points]

    def _optimise(self, acq, space: SearchSpace, q: int, X_baseline: torch.Tensor) -> torch.Tensor:
        from botorch.optim import optimize_acqf, optimize_acqf_discrete

        if space.is_continuous:
            inequality, equality = space.botorch_constraints()
            X, _ = optimize_acqf(
                acq,
                bounds=space.bounds(),
                q=q,
                num_restarts=self.num_restarts,
                raw_samples=self.raw_samples,
                inequality_constraints=inequality or None,
                equality_constraints=equality or None,
                options={"maxiter": 200},
            )
            return X.detach()
        candidates = space.encode(space.sample(self.discrete_candidates, seed=self.seed + X_baseline.shape[0], method="uniform"))
        X, _ = optimize_acqf_discrete(acq, q=q, choices=candidates, unique=True, X_avoid=X_baseline)
        return X.detach()

    def _optimise_discrete(self, acq, space: SearchSpace, q: int, X_pending, avoid: set[int]) -> torch.Tensor:
        """Sequential greedy batch over the whole candidate product, scored in chunks.

        Each of the q picks scores every candidate not measured, pending, excluded or already
        picked, `chunk` at a time, so memory stays bounded whatever the library's size; the
        pick then joins the acquisition's pending points.
        """
        skip = space.excluded_indices() | avoid
        chosen: list[int] = []
        picked = []
        total = space.n_candidates()
        for _ in range(q):
            best_value, best_index = -math.inf, None
            with torch.no_grad():
                for start in range(0, total, self.chunk):
                    X = space.candidate_block(start, start + self.chunk)
                    values = acq(X.unsqueeze(-2))
                    for i in [i for i in skip | set(chosen) if start <= i < start + X.shape[0]]:
                        values[i - start] = -math.inf
                    j = int(torch.argmax(values))
                    if float(values[j]) > best_value:
                        best_value, best_index = float(values[j]), start + j
            if best_index is None:
                raise PlanningError(f"every one of the {total} candidates has been measured, is pending or is excluded")
            chosen.append(best_index)
            picked.append(space.candidate_block(best_index, best_index + 1))
            acq.set_X_pending(torch.cat([t for t in (X_pending, *picked) if t is not None], dim=0))
        acq.set_X_pending(X_pending)
        return torch.cat(picked, dim=0)

    def _with_provenance(self, space: SearchSpace, X: torch.Tensor, acq, model: FittedModel) -> list[Proposal]:
        points = space.decode(X)
        X_exact = space.encode(points)
        with torch.no_grad():
            posterior = model.model.posterior(X_exact)
            mean, std = posterior.mean, posterior.variance.clamp_min(0).sqrt()
            values = [float(acq(X_exact[i : i + 1].unsqueeze(0))) for i in range(len(points))]
        proposals = []
        for i, point in enumerate(points):
            space.validate_point(point)
            predicted = {k: Prediction(mean=float(mean[i, j]), std=float(std[i, j])) for j, k in enumerate(self.outputs)}
            provenance = Provenance(planner=self.name, model_version=model.version, predicted=predicted, acquisition_value=values[i])
            proposals.append(Proposal(params=point, provenance=provenance))
        return proposals
