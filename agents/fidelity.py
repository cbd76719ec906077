"""Planning wet and dry experiments together, by cost: which candidate, and at which fidelity.

A campaign's fidelities are its ways of getting a value for a candidate: a cheap calculation (xTB), a costly one
(alchemical free energy) and the measurement that is the truth (wet), each with a cost in any one unit. The planner
models them jointly (BoTorch's `MultiTaskGP`: one kernel over the candidates times a learned covariance between
fidelities, so the data say how well each dry source predicts the truth) and scores every (candidate, fidelity) pair
by what its result would tell about the best truth value in the space, per unit of cost: multi-fidelity max-value
entropy search (Takeno et al., ICML 2020), the information about the truth's maximum ``y*`` gained by observing the
pair, with ``y*`` sampled from the joint posterior over the candidates. A source the data show to be unrelated to
the truth has correlation near zero, so its pairs tell almost nothing and are not bought.

A batch is chosen greedily: after each pick the posterior covariance over every pair is conditioned on it (a rank-one
update; the mean does not move), so the next pick adds something of its own. A round is either dry or wet: when the
best pick is a computation, the round takes computations while they tell more per unit of cost than any truth
experiment (up to `dry_budget` of cost), and the truth experiments wait for their results; otherwise it takes
`batch_size` truth experiments. The recommendation is always a truth measurement.

A source the data show unrelated to the truth (|correlation| below `unrelated`, judged once it has `judged_after`
values) is not bought again. When every source is judged unrelated and the joint model also predicts the truth's own
measurements worse, each left out in turn, than the `fallback` planner's model of the truth alone, the round is truth
experiments chosen by the fallback (the campaign's wet-only planner): a useless source must cost no more than its
computations. Both must agree because either alone misjudges at a few truth values (measured on FreeSolv: shuffled
xTB read 0.5-0.7 at 5-25 truth values; the leave-one-out comparison dropped real sources in 5 of 12 runs).

Finite spaces only, up to `MAX_PAIRS` (candidate, fidelity) pairs: the covariance over every pair is kept in memory.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from retort.agents.design import space_filling
from retort.agents.errors import PlanningError
from retort.agents.proposal import Observation, Prediction, Proposal, Provenance, Value
from retort.agents.space import SearchSpace
from retort.surrogates.multitask import MAX_EXACT, exact, fit_multitask, target_loo, task_correlations
from retort.surrogates.summary import CORRELATION, ModelSummary

MAX_PAIRS = MAX_EXACT  # (candidate, fidelity) pairs whose joint covariance is held (8 bytes each, squared: 1.2 GB)


class Fidelity(BaseModel):
    """One way of getting a value for a candidate, and what it costs (any unit, the same for every fidelity)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    cost: float = Field(gt=0, allow_inf_nan=False)


@dataclass
class FidelityModel:
    """The joint model over fidelities, and what it learned: each fidelity's correlation with the truth."""

    model: object  # a fitted MultiTaskGP on unit-cube inputs and per-fidelity standardised, signed values
    fidelities: list[str]  # task index -> fidelity name
    scale: dict[str, tuple[float, float]]  # fidelity -> (mean, sd) of its signed values
    correlation: dict[str, float] = field(default_factory=dict)  # fidelity -> correlation with the truth (truth: 1)
    unrelated: list[str] = field(default_factory=list)  # sources judged unrelated to the truth: not bought again
    fallback: Optional[object] = None  # the fallback planner's model of the truth alone, when the sources do not help predict it
    version: Optional[int] = None
    summary: Optional[ModelSummary] = None  # what is stored with the model version: each fidelity's correlation with the truth


class CostAwarePlanner:
    """Propose (candidate, fidelity) pairs by information about the best truth value per unit of cost.

    Args:
        objective: the objective every fidelity reports (its name in `Observation.objectives`).
        maximise: the goal's direction.
        fidelities: every fidelity with its cost; `truth` names the one that is the truth (the wet measurement).
        n_initial: truth experiments of the space-filling first batch (the same design a wet-only campaign starts with).
        seed: seeds the design, the max-value samples and the fit.
        dry_budget: what a dry round may spend (default: the cost of one truth experiment).
        max_values: posterior samples of the truth's maximum.
        fallback: plans the truth experiments alone where every source is unrelated and does not help predict the truth
            (a `Planner` over the truth's observations, e.g. the campaign's `BayesianPlanner`); None: MF-MES goes on.
        unrelated: a source whose learned |correlation| with the truth is below this is unrelated (0.3: it would explain
            under a tenth of the truth's variance at a candidate).
        judged_after: a source is judged once it has this many values (fewer say little about a correlation).
    """

    name = "MF-MES"

    def __init__(self, objective: str, maximise: bool, fidelities: Sequence[Fidelity], truth: str, n_initial: int, seed: int,
                 dry_budget: Optional[float] = None, max_values: int = 64, fallback=None, unrelated: float = 0.3,
                 judged_after: int = 10) -> None:
        names = [f.name for f in fidelities]
        if len(set(names)) != len(names):
            raise PlanningError(f"fidelities {names}: each must be named once")
        if truth not in names:
            raise PlanningError(f"truth {truth!r} names no fidelity; the fidelities are {names}")
        if len(names) < 2:
            raise PlanningError("a cost-aware planner needs a truth and at least one other fidelity")
        self.objective, self.sign = objective, 1.0 if maximise else -1.0
        self.fidelities = list(fidelities)
        self.cost = {f.name: float(f.cost) for f in fidelities}
        self.truth = truth
        self.n_initial, self.seed = n_initial, seed
        self.dry_budget = float(dry_budget) if dry_budget is not None else self.cost[truth]
        self.max_values = max_values
        if not 0 <= unrelated < 1:
            raise PlanningError(f"unrelated {unrelated}: a correlation threshold in [0, 1)")
        self.fallback, self.unrelated, self.judged_after = fallback, unrelated, judged_after
        nodes, weights = np.polynomial.hermite_e.hermegauss(32)  # E over N(0, 1): sum(w f(z)) / sqrt(2 pi)
        self._nodes = torch.tensor(nodes, dtype=torch.double)
        self._weights = torch.tensor(weights / math.sqrt(2 * math.pi), dtype=torch.double)

    # -- the model ---------------------------------------------------------------------------------------------
    def _task(self, observation: Observation) -> str:
        fidelity = observation.fidelity or self.truth
        if fidelity not in self.cost:
            raise PlanningError(f"an observation is at fidelity {fidelity!r}, which the campaign does not name ({list(self.cost)})")
        return fidelity

    def _inputs(self, space: SearchSpace, points: list[dict[str, Value]]) -> torch.Tensor:
        bounds = space.bounds().double()
        span = (bounds[1] - bounds[0]).clamp_min(1e-12)
        return (space.encode(points).double() - bounds[0]) / span

    def fit(self, space: SearchSpace, observations: list[Observation]) -> Optional[FidelityModel]:
        """The joint model, or None before the truth has two measurements (nothing to relate the others to)."""
        import botorch
        import gpytorch

        by = {f: [o for o in observations if self._task(o) == f] for f in self.cost}
        if len(by[self.truth]) < 2:
            return None
        started = time.perf_counter()
        names = [f.name for f in self.fidelities]
        scale, X, Y = {}, [], []
        for t, name in enumerate(names):
            values = torch.tensor([self.sign * o.objectives[self.objective] for o in by[name]], dtype=torch.double)
            mean = float(values.mean()) if len(values) else 0.0
            sd = float(values.std()) if len(values) > 1 and float(values.std()) > 0 else 1.0
            scale[name] = (mean, sd)
            if len(values):
                x = self._inputs(space, [o.params for o in by[name]])
                X.append(torch.cat([x, torch.full((len(values), 1), float(t), dtype=torch.double)], dim=-1))
                Y.append(((values - mean) / sd).unsqueeze(-1))
        model = fit_multitask(torch.cat(X), torch.cat(Y), len(names), self.seed)
        fitted = FidelityModel(model=model, fidelities=names, scale=scale)
        fitted.correlation = dict(zip(names, task_correlations(model, names.index(self.truth), space.dim)))
        fitted.unrelated = [name for name in names if name != self.truth and len(by[name]) >= self.judged_after
                            and abs(fitted.correlation[name]) < self.unrelated]
        loo = {}
        if self.fallback is not None and len(fitted.unrelated) == len(names) - 1:  # every source judged unrelated: do they
            alone = self.fallback.fit(space, [o.model_copy(update={"fidelity": None}) for o in by[self.truth]])  # help at all?
            loo = {"joint": target_loo(model, names.index(self.truth), scale[self.truth][1])[0],
                   "alone": next(iter(alone.summary.loo_log_likelihood.values()))}
            if loo["joint"] < loo["alone"]:
                fitted.fallback = alone
        fitted.summary = ModelSummary(
            kind="MultiTaskGP", outputs=[self.objective], n_train=sum(len(v) for v in by.values()),
            hyperparameters={f"{CORRELATION}{name}": [value] for name, value in fitted.correlation.items()}
            | {f"observations at {name}": [float(len(by[name]))] for name in names}
            | {f"unrelated (not bought again): {name}": [fitted.correlation[name]] for name in fitted.unrelated}
            | ({"truth LOO log density, joint and truth alone": [loo["joint"], loo["alone"]]} if loo else {}),
            loo_coverage_95={}, loo_log_likelihood={}, fit_seconds=time.perf_counter() - started,
            versions={"botorch": botorch.__version__, "gpytorch": gpytorch.__version__, "torch": torch.__version__})
        return fitted

    # -- proposing ---------------------------------------------------------------------------------------------
    def predict(self, fitted: FidelityModel, space: SearchSpace, points: list[dict[str, Value]]) -> tuple[np.ndarray, np.ndarray]:
        """The truth's predicted mean and standard deviation at `points`, in the objective's units."""
        X = self._inputs(space, points)
        X = torch.cat([X, torch.full((len(points), 1), float(fitted.fidelities.index(self.truth)), dtype=torch.double)], dim=-1)
        m, sd = fitted.scale[self.truth]
        with torch.no_grad(), exact():
            posterior = fitted.model.posterior(X)
            mean = posterior.mean.reshape(-1).numpy() * sd + m
            std = posterior.variance.reshape(-1).clamp_min(0).sqrt().numpy() * sd
        return self.sign * mean, std

    def propose(self, space: SearchSpace, observations: list[Observation], pending: Sequence[tuple[dict[str, Value], str]],
                batch_size: int, model: Optional[FidelityModel] = None, rejected: Sequence[dict[str, Value]] = (),
                failed_pairs: Sequence[tuple[dict[str, Value], str]] = ()) -> list[Proposal]:
        """The next round: up to `batch_size` truth experiments, or computations costing up to `dry_budget`.
        `pending` holds (point, fidelity) pairs in flight; a `rejected` point is not proposed again at any fidelity, nor a
        pair in `failed_pairs` (a computation that failed: asking again gives the same answer)."""
        if not space.is_discrete:
            raise PlanningError("the cost-aware planner chooses among a finite set of candidates; this space is continuous")
        n = space.n_candidates()
        if n * len(self.cost) > MAX_PAIRS:
            raise PlanningError(f"{n} candidates at {len(self.cost)} fidelities are {n * len(self.cost)} pairs; the cost-aware "
                                f"planner holds at most {MAX_PAIRS}")
        truth_done = [o for o in observations if self._task(o) == self.truth]
        truth_pending = [p for p, f in pending if f == self.truth]
        if model is None or len(truth_done) + len(truth_pending) < self.n_initial:
            taken = [o.params for o in truth_done] + truth_pending + list(rejected)
            picks = space_filling(space, min(batch_size, self.n_initial - len(truth_done) - len(truth_pending)) or batch_size,
                                  self.seed * 100_003 + len(taken), taken, method="levels")
            return [Proposal(params=space.point_at(i), fidelity=self.truth,
                             provenance=Provenance(planner="levels design", note="initial design, at the truth fidelity"))
                    for i in picks]
        if model.fallback is not None:
            return self._alone(space, truth_done, truth_pending, batch_size, model, rejected)
        return self._round(space, observations, pending, batch_size, model, rejected, failed_pairs)

    def _alone(self, space, truth_done, truth_pending, batch_size, fitted: FidelityModel, rejected) -> list[Proposal]:
        """Truth experiments from the fallback planner on the truth alone: every source is unrelated."""
        plain = [o.model_copy(update={"fidelity": None}) for o in truth_done]
        proposals = self.fallback.propose(space, plain, truth_pending, batch_size, fitted.fallback, rejected=rejected)
        learned = ", ".join(f"{name} {value:+.2f}" for name, value in fitted.correlation.items() if name != self.truth)
        note = (f"the sources do not help predict {self.truth} (learned correlation: {learned}; {self.truth}'s own measurements "
                f"are predicted better without them): planned on {self.truth} alone")
        return [p.model_copy(update={"fidelity": self.truth, "provenance": p.provenance.model_copy(
                    update={"note": "; ".join(x for x in (p.provenance.note, note) if x), "model_version": fitted.version})})
                for p in proposals]

    def _round(self, space, observations, pending, batch_size, fitted: FidelityModel, rejected, failed_pairs) -> list[Proposal]:
        names, n = fitted.fidelities, space.n_candidates()
        F, w = len(names), names.index(self.truth)
        X = self._inputs(space, [space.point_at(i) for i in range(n)])
        X_all = torch.cat([torch.cat([X, torch.full((n, 1), float(t), dtype=torch.double)], dim=-1) for t in range(F)])
        with torch.no_grad(), exact():
            posterior = fitted.model.posterior(X_all)
            mean = posterior.mean.reshape(-1)
            S = posterior.mvn.covariance_matrix.clone()
            noise = fitted.model.likelihood.noise.reshape(-1).expand(F).clone()  # per fidelity
        available = torch.ones(F * n, dtype=torch.bool)
        for i in space.excluded_indices():
            available[[t * n + i for t in range(F)]] = False
        for point in rejected:
            available[[t * n + space.index_of(point) for t in range(F)]] = False
        for o in observations:
            available[names.index(self._task(o)) * n + space.index_of(o.params)] = False
        for point, fidelity in failed_pairs:
            available[names.index(fidelity) * n + space.index_of(point)] = False
        for name in fitted.unrelated:
            t = names.index(name)
            available[t * n:(t + 1) * n] = False
        for point, fidelity in pending:
            p = names.index(fidelity) * n + space.index_of(point)
            available[p] = False
            _condition(S, p, float(noise[p // n]))
        # samples of the truth's maximum over the candidates, never below the best truth value measured
        truth = slice(w * n, (w + 1) * n)
        generator = torch.Generator().manual_seed(self.seed * 100_003 + len(observations))
        L = _cholesky(S[truth, truth])
        draws = mean[truth] + (L @ torch.randn(n, self.max_values, generator=generator, dtype=torch.double)).T
        best = max((self.sign * o.objectives[self.objective] - fitted.scale[self.truth][0]) / fitted.scale[self.truth][1]
                   for o in observations if self._task(o) == self.truth)
        y_star = draws.max(dim=1).values.clamp_min(best)  # K
        cost = torch.tensor([self.cost[names[t]] for t in range(F) for _ in range(n)], dtype=torch.double)
        picks: dict[int, float] = {}  # pair -> its information per unit of cost when picked
        spent, kind = 0.0, None
        while True:
            info = self._information(S, mean, y_star, n, F, w, noise)
            score = torch.where(available, info / cost, torch.tensor(-math.inf, dtype=torch.double))
            p = int(torch.argmax(score))
            if not math.isfinite(float(score[p])):
                break
            dry = p // n != w
            if kind is None:
                kind = "dry" if dry else "truth"
            if kind == "dry" and not dry or float(score[p]) <= 0:
                break  # a truth experiment now tells more per unit of cost than any computation left: they wait for these
            if kind == "truth" and dry:
                available[p] = False  # a truth round fills its batch; the computation may come up in a later round
                if not available.any():
                    break
                continue
            if kind == "dry" and picks and spent + float(cost[p]) > self.dry_budget:
                break
            picks[p] = float(score[p])
            spent += float(cost[p])
            available[p] = False
            _condition(S, p, float(noise[p // n]))
            if kind == "truth" and len(picks) >= batch_size:
                break
        if not picks:
            raise PlanningError(f"every one of the {n} candidates has been measured at every fidelity, is pending or is excluded")
        return self._proposals(space, fitted, picks, n, w, mean, posterior)

    def _information(self, S: torch.Tensor, mean: torch.Tensor, y_star: torch.Tensor, n: int, F: int, w: int, noise: torch.Tensor) -> torch.Tensor:
        """Information each pair's result gives about the truth's maximum, in nats (MF-MES, `y_star` samples)."""
        diag = S.diagonal()
        var_w = diag[w * n:(w + 1) * n].clamp_min(1e-12)
        truth_index = torch.arange(n) + w * n
        out = torch.empty(F * n, dtype=torch.double)
        gamma = (y_star.unsqueeze(1) - mean[w * n:(w + 1) * n]) / var_w.sqrt()  # K x n
        log_cdf = torch.special.log_ndtr(gamma)
        pdf_over_cdf = torch.exp(-0.5 * gamma ** 2 - 0.5 * math.log(2 * math.pi) - log_cdf)
        for t in range(F):
            rows = torch.arange(n) + t * n
            cov = S[rows, truth_index]
            rho2 = (cov ** 2 / ((diag[rows] + noise[t]) * var_w)).clamp(0.0, 1.0 - 1e-9)  # n
            rho = rho2.sqrt()
            # E over z ~ p(z | truth <= y*) of log Phi((gamma - rho z) / sqrt(1 - rho^2)), by Gauss-Hermite on N(0, 1)
            b = (gamma.unsqueeze(-1) - rho.view(1, n, 1) * self._nodes) / (1 - rho2).sqrt().view(1, n, 1)  # K x n x J
            log_b = torch.special.log_ndtr(b)
            expectation = (self._weights * torch.exp(log_b) * log_b).sum(-1) / torch.exp(log_cdf)
            gain = rho2 * gamma * pdf_over_cdf / 2 - log_cdf + expectation
            out[rows] = gain.mean(0).clamp_min(0.0)
        return out

    def _proposals(self, space: SearchSpace, fitted: FidelityModel, picks: dict[int, float], n: int, w: int, mean: torch.Tensor,
                   posterior) -> list[Proposal]:
        m, sd = fitted.scale[self.truth]
        variance = posterior.variance.reshape(-1)
        out = []
        for p, value in picks.items():
            t, i = divmod(p, n)
            name = fitted.fidelities[t]
            predicted_mean = self.sign * (float(mean[w * n + i]) * sd + m)
            predicted_sd = float(variance[w * n + i].clamp_min(0).sqrt()) * sd
            note = (f"{name} (cost {self.cost[name]:g}) at this candidate; learned correlation with {self.truth}: "
                    f"{fitted.correlation[name]:+.2f}")
            provenance = Provenance(planner=self.name, model_version=fitted.version,
                                    predicted={self.objective: Prediction(mean=predicted_mean, std=predicted_sd)}, acquisition_value=value,
                                    acquisition="MF-MES: information about the best truth value per unit of cost", note=note)
            out.append(Proposal(params=space.point_at(i), fidelity=name, provenance=provenance))
        return out

    def recommend(self, observations: list[Observation]) -> Optional[Observation]:
        """The best truth measurement (never a computed value)."""
        truth = [o for o in observations if self._task(o) == self.truth]
        return max(truth, key=lambda o: self.sign * o.objectives[self.objective]) if truth else None


def _condition(S: torch.Tensor, p: int, noise: float) -> None:
    """Condition the covariance `S` (in place) on an observation of pair `p` with `noise` (the mean does not move
    for an observation at the mean: a Kriging believer)."""
    s = S[:, p].clone()
    S -= torch.outer(s, s) / (s[p] + noise)


def _cholesky(S: torch.Tensor) -> torch.Tensor:
    jitter = 1e-8 * float(S.diagonal().mean().clamp_min(1e-12))
    for _ in range(8):
        L, info = torch.linalg.cholesky_ex(S + jitter * torch.eye(S.shape[0], dtype=S.dtype))
        if int(info) == 0:
            return L
        jitter *= 10
    raise PlanningError("the posterior covariance over the candidates is not positive definite, even with jitter")
