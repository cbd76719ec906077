"""A multi-task GP over related sources of one quantity, and what it learned about how they relate.

BoTorch's `MultiTaskGP`: one kernel over the inputs times a covariance between tasks (an intrinsic coregionalisation
model), so the data say how well each task predicts another. Used for a dry-wet campaign's fidelities
(`retort.agents.fidelity`) and for a campaign warm-started from earlier ones (`retort.agents.planners`).

The task kernel is GPyTorch's own `IndexKernel`, whose factor may take any sign: BoTorch's default keeps every entry
positive, which holds an unrelated source's correlation well above zero (measured: 0.7 for pure noise against 12 values
of the other task).
"""

from __future__ import annotations

import math
import warnings

import torch
from gpytorch.kernels import IndexKernel

FIT_ITERATIONS = 150  # L-BFGS-B iterations of the joint fit (0.1 s each at 660 points, d = 85; uncapped it ran for minutes)
MAX_EXACT = 12_000  # points up to which solves stay exact (Cholesky)


class TaskKernel(IndexKernel):
    """GPyTorch's `IndexKernel`, with the setter BoTorch's `MultiTaskGP.eval` uses to give a task not yet observed the
    mean of the observed tasks' factors (an average relation to the others, until its data say otherwise)."""

    def _set_covar_factor(self, value: torch.Tensor) -> None:
        with torch.no_grad():
            self.covar_factor.copy_(value)


def exact():
    """GPyTorch's exact (Cholesky) solves up to `MAX_EXACT` points: above 800 it would switch to conjugate gradients and
    Lanczos estimates, far slower here and approximate."""
    import gpytorch

    return gpytorch.settings.max_cholesky_size(MAX_EXACT)


def fit_multitask(train_X: torch.Tensor, train_Y: torch.Tensor, n_tasks: int, seed: int, output_tasks: list[int] | None = None,
                  input_transform=None, outcome_transform=None):
    """A fitted `MultiTaskGP`: `train_X` is ``n x (d + 1)``, its last column the task index (0 .. n_tasks - 1); `train_Y`
    ``n x 1``. Tasks with no data are allowed (they start with the mean relation of the others)."""
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import MultiTaskGP
    from gpytorch.mlls import ExactMarginalLogLikelihood

    torch.manual_seed(seed)
    model = MultiTaskGP(train_X, train_Y, task_feature=-1, all_tasks=list(range(n_tasks)), output_tasks=output_tasks,
                        outcome_transform=outcome_transform, input_transform=input_transform, task_covar_prior=None)
    data, tasks = model.covar_module.kernels
    model.covar_module.kernels[1] = TaskKernel(num_tasks=n_tasks, rank=n_tasks, active_dims=tasks.active_dims).to(torch.double)
    with warnings.catch_warnings(), exact():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model), optimizer_kwargs={"options": {"maxiter": FIT_ITERATIONS}})
    model.eval()
    return model


def task_correlations(model, target: int, d: int, at: torch.Tensor | None = None) -> list[float]:
    """How well each task's result predicts the `target` task's at the same input: the correlation between its observed
    value (its noise included) and the target's latent value, from the learned task covariance. A task whose values the
    model explains as noise scores near zero, however its task covariance came out. `at`: the input (``d``) to read the
    covariance at (the data kernel is stationary: any will do; default the origin)."""
    n_tasks = model.covar_module.kernels[1].covar_factor.shape[0]
    noise = model.likelihood.noise.reshape(-1).expand(n_tasks)
    point = torch.zeros(d, dtype=torch.double) if at is None else at.double()
    out = []
    with torch.no_grad(), exact():
        for t in range(n_tasks):
            X = torch.stack([torch.cat([point, torch.tensor([float(t)], dtype=torch.double)]),
                             torch.cat([point, torch.tensor([float(target)], dtype=torch.double)])])
            C = model.forward(model.transform_inputs(X) if hasattr(model, "transform_inputs") else X).covariance_matrix
            observed = C[0, 0] + (noise[t] if t != target else 0.0)
            out.append(float(C[0, 1] / (observed * C[1, 1]).sqrt()))
    return out


def fit_warm_start(sources: dict[str, tuple[torch.Tensor, torch.Tensor]], train_X: torch.Tensor, train_Y: torch.Tensor,
                   bounds: torch.Tensor, cold, seed: int, rule: str = "loo"):
    """A campaign's model with earlier campaigns' measurements as related tasks, or its own model (`cold`) where they do not help.

    Each source's values are standardised and put on this campaign's scale (mean and sd), then one `MultiTaskGP` is fitted
    over every source and this campaign, predicting this campaign's task only (inputs normalised by `bounds`, outcomes
    standardised). The sources earn their place on this campaign's own measurements: the joint model is used when its
    leave-one-out log predictive density over them is at least the cold model's (a source that says nothing, or misleads,
    makes those predictions worse), and the cold model otherwise: a cold start. Either way the summary keeps each source's
    learned correlation with this campaign and both densities.

    Args:
        sources: name -> (``n_s x d`` inputs, ``n_s`` values) of one earlier campaign, in this campaign's encoding.
        train_X, train_Y: this campaign's ``n x d`` inputs and ``n x 1`` values (one modelled output).
        cold: this campaign's own fitted model (`fit_gp` on the same data): the fallback and the yardstick.
        rule: when the joint model is used: ``loo`` (as above), ``correlation`` (some source's learned |correlation| is
            at least 0.3) or ``always`` (benchmarks/transfer.py measures them).
    Returns:
        A `FittedModel`, its summary's hyperparameters naming the sources (`RELATEDNESS` + name) and the choice.
    """
    import time

    import botorch
    import gpytorch
    from botorch.models.transforms.input import Normalize
    from botorch.models.transforms.outcome import Standardize

    from retort.surrogates.calibration import loo_residuals
    from retort.surrogates.gp import FittedModel
    from retort.surrogates.summary import RELATEDNESS, WARM_START, ModelSummary

    started = time.perf_counter()
    d, k = train_X.shape[-1], len(sources)
    y = train_Y.reshape(-1).double()
    mean, sd = float(y.mean()), float(y.std()) if len(y) > 1 and float(y.std()) > 0 else 1.0
    X, Y = [], []
    for t, (Xs, Ys) in enumerate(sources.values()):
        v = Ys.reshape(-1).double()
        v_sd = float(v.std()) if len(v) > 1 and float(v.std()) > 0 else 1.0
        X.append(torch.cat([Xs.double(), torch.full((len(v), 1), float(t), dtype=torch.double)], dim=-1))
        Y.append(((v - v.mean()) / v_sd * sd + mean).unsqueeze(-1))
    X.append(torch.cat([train_X.double(), torch.full((len(y), 1), float(k), dtype=torch.double)], dim=-1))
    Y.append(y.unsqueeze(-1))
    X_all, Y_all = torch.cat(X), torch.cat(Y)
    model = fit_multitask(X_all, Y_all, k + 1, seed, output_tasks=[k],
                          input_transform=Normalize(d=d + 1, indices=list(range(d)), bounds=bounds.double()),
                          outcome_transform=Standardize(m=1))
    correlation = dict(zip(sources, task_correlations(model, k, d, at=bounds[0])))
    joint, joint_rmse, coverage = target_loo(model, k)
    (residual, _, cold_scale), = loo_residuals(cold.model)
    alone_rmse = float((residual ** 2).mean().sqrt() * cold_scale)
    alone = float(next(iter(cold.summary.loo_log_likelihood.values())))
    if rule == "loo":
        used = joint >= alone
    elif rule == "correlation":  # some source's learned |correlation| with this campaign is at least 0.3
        used = max(abs(v) for v in correlation.values()) >= 0.3
    elif rule == "always":
        used = True
    else:
        raise ValueError(f"warm-start rule {rule!r}: choose loo, correlation or always")
    choice = {f"{RELATEDNESS}{name}": [value] for name, value in correlation.items()} | {
        WARM_START: [1.0 if used else 0.0, joint, alone, joint_rmse, alone_rmse]}
    if not used:
        return FittedModel(model=cold.model, summary=cold.summary.model_copy(
            update={"hyperparameters": cold.summary.hyperparameters | choice}))
    output = cold.summary.outputs[0]
    summary = ModelSummary(kind="MultiTaskGP", outputs=list(cold.summary.outputs), n_train=int(len(y)), hyperparameters=choice
                           | {f"observations from {name}": [float(len(v))] for name, (_, v) in sources.items()},
                           loo_coverage_95={output: coverage}, loo_log_likelihood={output: joint},
                           fit_seconds=time.perf_counter() - started,
                           versions={"botorch": botorch.__version__, "gpytorch": gpytorch.__version__, "torch": torch.__version__})
    return FittedModel(model=model, summary=summary)


def target_loo(model, target: int, scale: float = 1.0) -> tuple[float, float, float]:
    """How well the model predicts the `target` task's own measurements, each left out in turn (hyperparameters fixed,
    `calibration`'s closed form with the noise per task): their mean log predictive density and root mean squared
    error, in the outcome's units (`scale`: the sd of values the model was given already standardised; an outcome
    transform's is applied here), and the share inside their 95 % interval."""
    from retort.surrogates.calibration import Z95, _loo_one

    model.train()  # in train mode `train_inputs` are the raw inputs the transforms expect
    try:
        with torch.no_grad(), exact():
            X = model.train_inputs[0]
            prior = model(X)
            tasks = X[:, -1].long()
            noise = model.likelihood.noise.reshape(-1)
            K = prior.covariance_matrix + torch.diag(noise[tasks] if noise.numel() > 1 else noise.expand(len(tasks)))
            residual, variance = _loo_one(K, model.train_targets.reshape(-1), prior.mean)
    finally:
        model.eval()
    transform = getattr(model, "outcome_transform", None)
    if transform is not None:
        scale *= float(transform.stdvs.reshape(-1)[0])
    own = tasks == target
    r, v = residual[own], variance[own]
    density = -0.5 * (torch.log(2 * torch.pi * v) + r ** 2 / v) - math.log(scale)
    return float(density.mean()), float((r ** 2).mean().sqrt()) * scale, float((r.abs() <= Z95 * v.sqrt()).double().mean())
