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
from typing import Literal, Protocol, Sequence, get_args

import torch

from retort.agents.design import BatchSelection, InitialDesign, space_filling
from retort.agents.errors import PlanningError
from retort.agents.objectives import Goal
from retort.agents.proposal import Observation, Prediction, Proposal, Provenance, Value
from retort.agents.space import SearchSpace
from retort.surrogates import FittedModel, build_log_ei, build_qlognehvi, fit_gp
from retort.surrogates.gp import GPSettings

Acquisition = Literal["qLogNEI", "qLogEI"]  # for one utility (a Pareto front: qLogNEHVI)
GREEDY = "greedy over the batch, pending and picked experiments in its posterior"  # how a batch was chosen, for provenance


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
        rejected: Sequence[dict[str, Value]] = (),
    ) -> list[Proposal]:
        """Return `batch_size` proposals, aware of `pending` experiments, never proposing a `rejected` one again
        (a person said no: in a finite space it is excluded; in a continuous one the proposals keep away from it)."""


class RandomPlanner:
    """Uniform random feasible points: the baseline every planner must beat."""

    name = "random"

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def fit(self, space: SearchSpace, observations: list[Observation]) -> None:
        return None

    def propose(self, space, observations, pending, batch_size, model=None, rejected=()) -> list[Proposal]:
        # Seeded by position in the campaign, so a resumed campaign draws what it would have drawn.
        position = len(observations) + len(pending) + len(rejected)
        if space.is_discrete:  # without replacement: never a point already measured, pending or rejected
            avoid = {space.index_of(p) for p in [o.params for o in observations] + list(pending) + list(rejected)}
            points = space.sample_discrete(batch_size, seed=self.seed * 100_003 + position, avoid=avoid)
        else:
            points = space.sample(batch_size, seed=self.seed * 100_003 + position, method="uniform")
        return [Proposal(params=p, provenance=Provenance(planner=self.name)) for p in points]


class BayesianPlanner:
    """An initial design, then batch qLogNEI (one utility) or qLogNEHVI (a Pareto front) on a `SingleTaskGP`.

    The GP models the raw readings the objectives are computed from, and proposals are scored through the
    objectives as functions of those readings (composite: a distance to a target is computed from predicted
    readings, not modelled itself). When some measurement lacks a reading (brought in with objectives only),
    or in a large library (whose fast path needs a weighted sum of outputs), the GP models the objectives.

    Args:
        goal: the objectives, their trade-off and outcome constraints (`Goal`), or a mapping objective name ->
            signed weight (positive to maximise, negative to minimise): improve the weighted sum.
        n_initial: experiments drawn from the Sobol design before the model takes over.
        seed: seeds the Sobol design, the acquisition's QMC sampler and the optimiser's restarts.
        num_restarts, raw_samples: acquisition optimiser effort (BoTorch's names).
        discrete_candidates: feasible random candidates screened when the space mixes continuous
            with integer, categorical or molecule parameters.
        mixed_combinations: in a mixed space, the continuous part is optimised (gradient-based,
            BoTorch's `optimize_acqf_mixed`) for each of this many discrete combinations, the
            best-scoring ones of the screen.
        chunk: candidates scored at once in a purely discrete space (bounds memory).
        large_library: above this many candidates, a discrete space is scored with analytic
            LogEI and Kriging-believer fantasies for the batch (one posterior per candidate)
            instead of qLogNEI (a joint posterior with every observation per candidate).
        gp: how the surrogate is built (`GPSettings`: priors, additive per parameter).
        initial: the initial design in a finite space: a space-filling design (``levels``: over the options;
            ``maximin`` or ``kmeans``: in the encoded space; `retort.agents.design`), or ``random`` draws; kept
            away from points already measured, pending or rejected. Other spaces start with a scrambled Sobol sequence.
        composite: model the raw readings and score the objectives computed from them (default), or (False)
            model each objective's stored value, as a model of a distance has to.
        batch_selection: in a continuous space, ``sequential`` (default): each member of the batch is optimised in
            turn with the members already picked as pending experiments (BoTorch's sequential greedy), so each one
            must add something of its own; ``joint``: the q-batch at once (once one member carries the batch's
            improvement the others get no gradient and stay where the optimiser left them: measured on the
            colour campaign, benchmarks/colour_match.py). Discrete and mixed spaces are always greedy.
        member_iterations: with ``sequential``, the optimiser's iterations for each member (``joint``: the batch's
            200); the fewer, the cheaper a batch (benchmarks/colour_match.py measures 60 against 200).
        acquisition: for one utility, ``qLogNEI`` (default: noisy expected improvement, integrating over what the
            measured results may truly be) or ``qLogEI`` (improvement over the best posterior mean measured, as
            BayBE 0.15 does; benchmarks/reaction_grids.py compares them). A Pareto front always uses qLogNEHVI.
        mc_samples: quasi-Monte-Carlo samples of the posterior that estimate qLogNEI or qLogEI (BayBE 0.15 uses
            BoTorch's 512; benchmarks/reaction_grids.py flag ``mc512`` measures the difference).
        sources: a warm start: name -> the measurements of an earlier, related campaign over the same parameters and
            objective. Each fit also fits a multi-task GP over them and this campaign's own measurements, and plans with it
            where it predicts this campaign's measurements better (leave-one-out) than this campaign's own model does
            (`surrogates.multitask.fit_warm_start`); otherwise with its own model, a cold start. One objective only.
        warm_start_rule: when a warm start plans with the sources: ``loo`` (above), ``correlation`` or ``always``.
    """

    name = "qLogNEI"

    def __init__(
        self,
        goal: Goal | dict[str, float],
        n_initial: int,
        seed: int,
        num_restarts: int = 8,
        raw_samples: int = 256,
        discrete_candidates: int = 2048,
        chunk: int = 8192,
        large_library: int = 50_000,
        mixed_combinations: int = 3,
        gp: GPSettings = GPSettings(),
        initial: InitialDesign = "levels",
        composite: bool = True,
        batch_selection: BatchSelection = "sequential",
        member_iterations: int = 60,
        acquisition: Acquisition = "qLogNEI",
        mc_samples: int = 128,
        sources: dict[str, Sequence[Observation]] | None = None,
        warm_start_rule: str = "loo",
    ) -> None:
        if not goal:
            raise PlanningError("a Bayesian planner needs at least one objective")
        self.goal = goal if isinstance(goal, Goal) else Goal.from_weights(goal)
        self.n_initial = n_initial
        self.seed = seed
        self.num_restarts = num_restarts
        self.raw_samples = raw_samples
        self.discrete_candidates = discrete_candidates
        self.chunk = chunk
        self.large_library = large_library
        self.mixed_combinations = mixed_combinations
        self.gp = gp
        self.initial = initial
        self.composite = composite
        if batch_selection not in get_args(BatchSelection):
            raise PlanningError(f"batch_selection {batch_selection!r}: choose sequential or joint")
        self.batch_selection = batch_selection
        self.member_iterations = member_iterations
        if acquisition not in get_args(Acquisition):
            raise PlanningError(f"acquisition {acquisition!r}: choose qLogNEI or qLogEI")
        if acquisition == "qLogEI" and self.goal.trade_off == "pareto":
            raise PlanningError("acquisition 'qLogEI' scores one utility; a Pareto front is searched with qLogNEHVI")
        if acquisition == "qLogEI" and self.goal.constraints:
            raise PlanningError("acquisition 'qLogEI' takes no outcome constraints here; use qLogNEI")
        self.name = acquisition
        if mc_samples < 1:
            raise PlanningError(f"mc_samples {mc_samples}: at least 1 posterior sample is needed")
        self.mc_samples = mc_samples
        self.sources = {name: list(obs) for name, obs in (sources or {}).items()}
        self.warm_start_rule = warm_start_rule
        if self.sources and (len(self.goal.objectives) != 1 or self.goal.constraints):
            raise PlanningError("a warm start models one objective without outcome constraints; this goal has "
                                f"{[o.name for o in self.goal.objectives]}")
        for name, obs in self.sources.items():
            if not obs or any(self.goal.objectives[0].name not in o.objectives for o in obs):
                raise PlanningError(f"warm-start source {name!r} has no measurements of {self.goal.objectives[0].name!r}")

    def modelled(self, space: SearchSpace, observations: list[Observation]) -> Goal:
        """The goal as the model sees it: over the raw readings, or over the objectives' stored values where
        some observation lacks a reading, or in a large library (see the class docstring)."""
        sources = [o for obs in self.sources.values() for o in obs]
        if self.composite and all(self.goal.values_of(o) is not None for o in [*observations, *sources]):
            if not sources or len(self.goal.readings) == 1:
                return self.goal
        goal = self.goal.on_objectives()
        dropped = [str(c) for c in self.goal.constraints if c not in goal.constraints]
        if dropped:
            raise PlanningError(f"outcome constraints {dropped} name readings that some measurements lack (brought in with their "
                                f"objectives only); constrain an objective instead, or import the readings")
        return goal

    def fit(self, space: SearchSpace, observations: list[Observation]) -> FittedModel | None:
        if len(observations) < 2:
            return None
        goal = self.modelled(space, observations)
        train_X = space.encode([o.params for o in observations])
        train_Y = torch.tensor([goal.values_of(o) for o in observations], dtype=torch.double)
        cold = fit_gp(train_X, train_Y, space.bounds(), goal.readings, fingerprint_dims=space.fingerprint_columns(),
                      composition_groups=space.composition_groups() or None, groups=space.column_groups(), settings=self.gp)
        if not self.sources:
            return cold
        from retort.surrogates.multitask import fit_warm_start

        sources = {name: (space.encode([o.params for o in obs]), torch.tensor([goal.values_of(o)[0] for o in obs], dtype=torch.double))
                   for name, obs in self.sources.items()}
        return fit_warm_start(sources, train_X, train_Y, space.bounds(), cold, self.seed, rule=self.warm_start_rule)

    def propose(self, space, observations, pending, batch_size, model=None, rejected=()) -> list[Proposal]:
        done = len(observations) + len(pending)  # rejected proposals are not part of the design: it goes on past them
        position = done + len(rejected)
        if model is None or done < self.n_initial:
            if space.is_discrete:
                return self._initial_discrete(space, [o.params for o in observations] + list(pending) + list(rejected), position, batch_size)
            return self._initial(space, position, batch_size, len(rejected))
        torch.manual_seed(self.seed * 100_003 + position)
        goal = self.modelled(space, observations)
        if list(model.summary.outputs) != goal.readings:
            raise PlanningError(f"the model predicts {model.summary.outputs}, but the goal needs {goal.readings}: fit it on these observations")
        X_baseline = space.encode([o.params for o in observations])
        Y_baseline = torch.tensor([goal.values_of(o) for o in observations], dtype=torch.double)
        pending = list(pending) + list(rejected)  # the acquisition keeps away from rejected points as from pending ones
        X_pending = space.encode(pending) if pending else None
        acq, name = self._acquisition(goal, model, X_baseline, Y_baseline, X_pending, self.seed + position)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if space.is_discrete:
                avoid = {space.index_of(p) for p in [o.params for o in observations] + list(pending)}
                if (space.n_candidates() > self.large_library and name == "qLogNEI" and goal.linear and not goal.constraints
                        and model.summary.kind == "SingleTaskGP"):  # the fast path reads a single-task GP's internals
                    X, acq = self._believer_batch(model, goal, space, batch_size, X_baseline, X_pending, avoid)
                    used = "LogEI, greedy over the batch with Kriging-believer fantasies of pending and picked experiments"
                else:
                    X = self._optimise_discrete(acq, space, batch_size, X_pending, avoid)
                    used = f"{name} ({GREEDY})"
            else:
                X, how = self._optimise(acq, space, batch_size, X_baseline)
                used = f"{name} ({how})"
        if not goal.linear:
            composite = [o.name for o in goal.objectives if not o.is_reading]
            used += f"; {', '.join(composite)} computed from the predicted readings {', '.join(goal.readings)}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # jitter notes from sampling the posterior; the fit's warnings are counted where it is fitted
            return self._with_provenance(space, X, acq, model, goal, used, Y_baseline,
                                         planner=name if name == "qLogNEHVI" else self.name)

    def _acquisition(self, goal: Goal, model: FittedModel, X_baseline, Y_baseline, X_pending, seed: int):
        """The acquisition function for `goal` over the model's outputs (`goal.readings`), and its name."""
        outputs = goal.readings
        constraints = goal.constraint_functions(outputs)
        if goal.trade_off == "pareto":
            signed = goal.signed(Y_baseline, outputs)
            if goal.reference is not None:
                ref = torch.tensor([goal.reference[o.name] * o.sign for o in goal.objectives], dtype=torch.double)
            else:  # BoTorch's rule: the nadir of the observed front, pushed out by 10 % of its range
                from botorch.utils.multi_objective.hypervolume import infer_reference_point
                from botorch.utils.multi_objective.pareto import is_non_dominated

                ref = infer_reference_point(signed[is_non_dominated(signed)])
            return build_qlognehvi(model.model, X_baseline, lambda Y: goal.signed(Y, outputs), ref, X_pending, seed,
                                   constraints=constraints), "qLogNEHVI"
        noisy = self.name == "qLogNEI"
        if goal.linear:
            return build_log_ei(model.model, X_baseline, goal.reading_weights(), X_pending, seed, constraints=constraints,
                                noisy=noisy, mc_samples=self.mc_samples), self.name
        return build_log_ei(model.model, X_baseline, None, X_pending, seed, utility=lambda Y: goal.utility(Y, outputs),
                            constraints=constraints, noisy=noisy, mc_samples=self.mc_samples), self.name

    def _initial_discrete(self, space: SearchSpace, taken: list[dict[str, Value]], position: int, batch_size: int) -> list[Proposal]:
        """A finite space's initial design: seeded by position in the campaign (a resumed campaign draws what it
        would have drawn), never a point already measured, pending or rejected."""
        seed = self.seed * 100_003 + position
        if self.initial == "random":
            points = space.sample_discrete(batch_size, seed=seed, avoid={space.index_of(p) for p in taken})
            note = "initial design (random draws)"
        else:
            points = [space.point_at(i) for i in space_filling(space, batch_size, seed, taken, method=self.initial)]
            over = "the options of every parameter" if self.initial == "levels" else "the encoded candidates"
            note = f"initial design ({self.initial}: spread over {over})"
        return [Proposal(params=p, provenance=Provenance(planner=f"{self.initial} design", note=note)) for p in points]

    def _initial(self, space: SearchSpace, done: int, batch_size: int, skipped: int = 0) -> list[Proposal]:
        # One Sobol sequence for the whole design, sliced by position (`skipped`: rejected points passed over):
        # resumable and batch-size free.
        design = space.sample(max(self.n_initial + skipped, done + batch_size), seed=self.seed, method="sobol")
        points = design[done : done + batch_size]
        if len(points) < batch_size:  # past the design (model unavailable): continue the sequence
            points += space.sample(batch_size - len(points), seed=self.seed + done + 1, method="sobol")
        return [Proposal(params=p, provenance=Provenance(planner="sobol", note="initial design")) for p in points]

    def _optimise(self, acq, space: SearchSpace, q: int, X_baseline: torch.Tensor) -> tuple[torch.Tensor, str]:
        """Continuous spaces: the batch jointly, multistart L-BFGS-B (SLSQP under linear constraints). Mixed
        spaces: the continuous part is optimised per discrete combination (the best of a random screen),
        greedily over the batch. Spaces of integers and choices only: the best of the screen, greedily.
        Returns the batch and how it was chosen (for provenance)."""
        from botorch.optim import optimize_acqf, optimize_acqf_discrete, optimize_acqf_mixed

        inequality, equality = space.botorch_constraints()
        effort = dict(bounds=space.bounds(), q=q, num_restarts=self.num_restarts, raw_samples=self.raw_samples,
                      inequality_constraints=inequality or None, equality_constraints=equality or None, options={"maxiter": 200})
        if space.is_continuous:
            if inequality or equality:  # raw samples by rejection in the box: BoTorch's hit-and-run took most of a proposal's time (measured)
                seed = self.seed + X_baseline.shape[0]
                effort["generator"] = lambda n, q, _: space.sample_columns(n * q, seed).view(n, q, space.dim)
            if self.batch_selection == "joint":
                return optimize_acqf(acq, **effort)[0].detach(), "joint over the batch, pending experiments in its posterior"
            effort["options"] = {"maxiter": self.member_iterations}
            return optimize_acqf(acq, sequential=True, **effort)[0].detach(), GREEDY
        candidates = space.encode(space.sample(self.discrete_candidates, seed=self.seed + X_baseline.shape[0], method="uniform"))
        discrete = space.discrete_columns()
        if len(discrete) == space.dim:
            return optimize_acqf_discrete(acq, q=q, choices=candidates, unique=True, X_avoid=X_baseline)[0].detach(), GREEDY
        with torch.no_grad():
            scores = acq(candidates.unsqueeze(-2))
        best: dict[tuple[float, ...], float] = {}
        for key, score in zip(map(tuple, candidates[:, discrete].tolist()), scores.tolist()):
            best[key] = max(best.get(key, -math.inf), score)
        combinations = sorted(best, key=best.__getitem__, reverse=True)[: self.mixed_combinations]
        fixed = [dict(zip(discrete, key)) for key in combinations]
        effort |= dict(num_restarts=max(2, self.num_restarts // 2), raw_samples=max(32, self.raw_samples // 4))
        return optimize_acqf_mixed(acq, fixed_features_list=fixed, **effort)[0].detach(), GREEDY

    def _optimise_discrete(self, acq, space: SearchSpace, q: int, X_pending, avoid: set[int]) -> torch.Tensor:
        """Sequential greedy batch over the whole candidate product, scored in chunks.

        Each of the q picks scores every candidate not measured, pending, excluded or already
        picked, `chunk` at a time, so memory stays bounded whatever the library's size; the
        pick then joins the acquisition's pending points.
        """
        skip = space.excluded_indices() | avoid
        chosen: list[int] = []
        picked = []
        for _ in range(q):
            index, _ = self._best_chunk(acq, space, skip | set(chosen))
            if index is None:
                raise PlanningError(f"every one of the {space.n_candidates()} candidates has been measured, is pending or is excluded")
            chosen.append(index)
            picked.append(space.candidate_block(index, index + 1))
            acq.set_X_pending(torch.cat([t for t in (X_pending, *picked) if t is not None], dim=0))
        acq.set_X_pending(X_pending)
        return torch.cat(picked, dim=0)

    def _best_chunk(self, score, space: SearchSpace, skip: set[int]) -> tuple[int | None, float]:
        """Index and value of the best candidate not in `skip`, scanning `chunk` candidates at a time."""
        best_value, best_index = -math.inf, None
        total = space.n_candidates()
        with torch.no_grad():
            for start in range(0, total, self.chunk):
                X = space.candidate_block(start, start + self.chunk)
                values = score(X.unsqueeze(-2))
                for i in [i for i in skip if start <= i < start + X.shape[0]]:
                    values[i - start] = -math.inf
                j = int(torch.argmax(values))
                if float(values[j]) > best_value:
                    best_value, best_index = float(values[j]), start + j
        return best_index, best_value

    def _believer_batch(self, model: FittedModel, goal: Goal, space: SearchSpace, q: int, X_baseline, X_pending, avoid: set[int]):
        """Analytic LogEI, greedy over q, each pick (and every pending point) fantasised at the
        model's mean (Kriging believer). Returns the picks and the acquisition for provenance.

        Only the first pick scans the whole library. A fantasy observed at the posterior mean
        leaves every posterior mean unchanged and can only shrink variances, and EI grows with
        the variance at a fixed mean, so each candidate's first score bounds its later ones: later
        picks score candidates in order of their first score and stop once the best found beats
        the bound of everything left (lazy greedy; the same pick as a full scan).
        """
        from botorch.acquisition.analytic import LogExpectedImprovement
        from botorch.acquisition.objective import ScalarizedPosteriorTransform

        transform = ScalarizedPosteriorTransform(weights=torch.tensor(goal.reading_weights(), dtype=torch.double))
        with torch.no_grad():
            best_f = float(transform(model.model.posterior(X_baseline)).mean.max())
        fantasy = model.model
        if X_pending is not None:
            fantasy = _believe(fantasy, X_pending)
        first = self._scan(_marginal_log_ei(fantasy, best_f, transform), space)
        for i in space.excluded_indices() | avoid:
            first[i] = -math.inf
        order = torch.argsort(first, descending=True)
        picked, chosen = [], []
        for _ in range(q):
            if chosen:
                index = self._lazy_best(_marginal_log_ei(fantasy, best_f, transform), space, first, order, set(chosen))
            else:
                index = int(torch.argmax(first)) if first.numel() and float(first.max()) > -math.inf else None
            if index is None:
                raise PlanningError(f"every one of the {space.n_candidates()} candidates has been measured, is pending or is excluded")
            chosen.append(index)
            x = space.candidates([index])
            picked.append(x)
            fantasy = _believe(fantasy, x)
        return torch.cat(picked, dim=0), LogExpectedImprovement(model.model, best_f=best_f, posterior_transform=transform)

    def _scan(self, score, space: SearchSpace) -> torch.Tensor:
        """Every candidate's score, `chunk` candidates at a time (one number per candidate is kept)."""
        total = space.n_candidates()
        values = torch.empty(total, dtype=torch.double)
        with torch.no_grad():
            for start in range(0, total, self.chunk):
                X = space.candidate_block(start, start + self.chunk)
                values[start : start + X.shape[0]] = score(X.unsqueeze(-2))
        return values

    def _lazy_best(self, score, space: SearchSpace, bound: torch.Tensor, order: torch.Tensor, chosen: set[int]) -> int | None:
        """Best candidate under `score`, given `bound[i] >= score(i)`: candidates are scored in
        descending order of `bound`, in growing blocks, until no unscored one can win."""
        best_value, best_index, position, size = -math.inf, None, 0, 256
        with torch.no_grad():
            while position < order.numel():
                ceiling = float(bound[order[position]])
                if ceiling == -math.inf or best_value >= ceiling:
                    break
                block = order[position : position + size]
                block = block[bound[block] > -math.inf]
                block = block[torch.tensor([int(i) not in chosen for i in block], dtype=torch.bool)] if chosen else block
                if block.numel():
                    values = score(space.candidates(block.numpy()).unsqueeze(-2))
                    j = int(torch.argmax(values))
                    if float(values[j]) > best_value:
                        best_value, best_index = float(values[j]), int(block[j])
                position += size
                size = min(2 * size, self.chunk)
        return best_index

    def _with_provenance(self, space: SearchSpace, X: torch.Tensor, acq, model: FittedModel, goal: Goal, used: str,
                         Y_baseline: torch.Tensor, planner: str) -> list[Proposal]:
        """The proposals, each with what the model expects of it: predictions per objective, its own acquisition value
        (with the pending experiments, not the rest of its batch), its probability of improving on what is measured,
        and whether the model rules that out (`Goal.outlook`); a ruled-out member says so in its note."""
        points = space.decode(X)
        X_exact = space.encode(points)
        outputs = goal.readings
        with torch.no_grad():
            posterior = model.model.posterior(X_exact)
            mean, std = posterior.mean, posterior.variance.clamp_min(0).sqrt()
            readings = posterior.rsample(torch.Size([512]))  # 512 x n x r
            samples = goal.objective_values(readings, outputs)  # 512 x n x k, for composite objectives
            values = [float(acq(X_exact[i : i + 1].unsqueeze(0))) for i in range(len(points))]
            outlook = goal.outlook(readings, Y_baseline, outputs)
        proposals = []
        for i, point in enumerate(points):
            space.validate_point(point)
            predicted = {}
            for j, o in enumerate(goal.objectives):
                if o.is_reading:  # exact: the objective is one modelled output
                    k = outputs.index(o.readings[0])
                    predicted[o.name] = Prediction(mean=float(mean[i, k]), std=float(std[i, k]))
                else:  # a function of several outputs: from posterior samples
                    predicted[o.name] = Prediction(mean=float(samples[:, i, j].mean()), std=float(samples[:, i, j].std()))
            chance, ruled_out = outlook[i]
            note = ("the model rules out improving on what is measured here (not even at mean + 3 sd): the optimiser found "
                    "nothing better to try" if ruled_out else "")
            provenance = Provenance(planner=planner, model_version=model.version, predicted=predicted, acquisition_value=values[i],
                                    acquisition=used, improvement_probability=chance, ruled_out=ruled_out, note=note)
            proposals.append(Proposal(params=point, provenance=provenance))
        return proposals


def _believe(model, X: torch.Tensor):
    """The model conditioned on `X` observed at its own posterior mean (a fantasy)."""
    with torch.no_grad():
        Y = model.posterior(X).mean
    return model.condition_on_observations(X, Y)


def _marginal_log_ei(model, best_f: float, transform):
    """Analytic LogEI over a chunk, from marginal posteriors only.

    For a single-output GP the marginal mean and variance are computed directly from one Cholesky
    factor of the training covariance, ``O(b n (n + d))`` per chunk of ``b`` candidates, instead of
    GPyTorch's batch mode, which copies the training data into every candidate's batch element.
    Takes and returns the shapes `_best_chunk` uses: ``b x 1 x d`` -> ``b``.
    """
    from botorch.acquisition.analytic import _log_ei_helper

    weight = float(transform.weights.reshape(-1)[0])
    if transform.weights.numel() != 1:  # several outputs: BoTorch's general posterior
        def general(X: torch.Tensor) -> torch.Tensor:
            posterior = model.posterior(X, posterior_transform=transform)
            mean, sigma = posterior.mean.reshape(-1), posterior.variance.reshape(-1).clamp_min(1e-12).sqrt()
            return _log_ei_helper((mean - best_f) / sigma) + sigma.log()

        return general
    with torch.no_grad():
        train_X = model.train_inputs[0]
        y = model.train_targets.reshape(-1)
        train_X = train_X.reshape(-1, train_X.shape[-1])
        prior = model.forward(train_X)
        K = prior.covariance_matrix + torch.diag_embed(model.likelihood.noise.reshape(-1).expand(y.shape[0]))
        L = torch.linalg.cholesky(K)
        alpha = torch.cholesky_solve((y - prior.mean).unsqueeze(-1), L).squeeze(-1)
        tf = getattr(model, "outcome_transform", None)
        mu_y, sd_y = (float(tf.means.reshape(-1)[0]), float(tf.stdvs.reshape(-1)[0])) if tf is not None else (0.0, 1.0)

    def score(X: torch.Tensor) -> torch.Tensor:
        x = X.squeeze(-2)
        x = model.transform_inputs(x) if hasattr(model, "transform_inputs") else x
        cross = model.covar_module(x, train_X).to_dense()  # b x n
        prior_var = model.covar_module(x, diag=True)
        mean = model.mean_module(x) + cross @ alpha
        v = torch.linalg.solve_triangular(L, cross.T, upper=False)  # n x b
        var = (prior_var - (v * v).sum(0)).clamp_min(1e-12)
        mean = weight * (mean * sd_y + mu_y)
        sigma = abs(weight) * sd_y * var.sqrt()
        return _log_ei_helper((mean - best_f) / sigma) + sigma.log()

    return score
