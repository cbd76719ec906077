import math

import pytest
import torch

from retort.surrogates import SurrogateError, fit_gp, loo_calibration

BOUNDS = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.double)


def data(n=15, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 2, generator=g, dtype=torch.double)
    Y = torch.sin(6 * X[:, :1]) + X[:, 1:] ** 2 + 0.05 * torch.randn(n, 1, generator=g, dtype=torch.double)
    return X, Y


def test_fit_stores_hyperparameters_and_calibration():
    X, Y = data()
    fitted = fit_gp(X, Y, BOUNDS, ["y"])
    s = fitted.summary
    assert s.n_train == 15 and s.outputs == ["y"]
    assert len(s.hyperparameters["lengthscale"]) == 2 and s.hyperparameters["noise"][0] > 0
    assert 0 <= s.loo_coverage_95["y"] <= 1 and math.isfinite(s.loo_log_likelihood["y"])
    assert s.versions["botorch"]


def test_closed_form_loo_matches_explicit_leave_one_out():
    """Condition the fitted kernel on n-1 points by hand and compare each held-out prediction."""
    X, Y = data(n=12, seed=1)
    model = fit_gp(X, Y, BOUNDS, ["y"]).model
    model.train()
    with torch.no_grad():
        y = model.train_targets
        prior = model(*model.train_inputs)
        K = model.likelihood(prior).covariance_matrix
        m = prior.mean
    model.eval()
    coverage_hits, lpd = 0, 0.0
    n = len(y)
    for i in range(n):
        keep = [j for j in range(n) if j != i]
        Kk = K[keep][:, keep]
        k = K[i, keep]
        w = torch.linalg.solve(Kk, k)
        mu = m[i] + w @ (y[keep] - m[keep])
        var = K[i, i] - k @ w
        coverage_hits += abs(y[i] - mu) <= 1.959963984540054 * var.sqrt()
        lpd += float(-0.5 * (torch.log(2 * math.pi * var) + (y[i] - mu) ** 2 / var))
    scale = float(model.outcome_transform.stdvs.reshape(-1)[0])
    coverage, loglik = loo_calibration(model)
    assert coverage[0] == pytest.approx(float(coverage_hits) / n)
    assert loglik[0] == pytest.approx(lpd / n - math.log(scale), rel=1e-6)


def test_two_outputs_get_one_calibration_each():
    X, Y = data()
    fitted = fit_gp(X, torch.cat([Y, -2 * Y], dim=-1), BOUNDS, ["a", "b"])
    assert set(fitted.summary.loo_coverage_95) == {"a", "b"}


def test_bad_training_data_is_refused():
    X, Y = data()
    Y[3, 0] = float("nan")
    with pytest.raises(SurrogateError, match="NaN"):
        fit_gp(X, Y, BOUNDS, ["y"])
    with pytest.raises(SurrogateError, match="at least 2"):
        fit_gp(X[:1], Y[:1], BOUNDS, ["y"])


def test_what_the_fit_warns_is_counted_and_stored_with_the_model_version(tmp_path, monkeypatch):
    import warnings

    from botorch.exceptions.warnings import OptimizationWarning

    from retort.orchestrator.store import Store
    from retort.surrogates import gp

    real = gp.fit_gpytorch_mll

    def troubled(mll, **kwargs):
        warnings.warn("Optimization failed within `scipy.optimize.minimize` with status 2", OptimizationWarning)
        warnings.warn("Optimization failed within `scipy.optimize.minimize` with status 2", OptimizationWarning)
        warnings.warn("a library's own deprecation", DeprecationWarning)  # not the fit's trouble: passed on
        return real(mll, **kwargs)

    X, Y = data()
    assert fit_gp(X, Y, BOUNDS, ["y"]).summary.fit_warnings == {}
    monkeypatch.setattr(gp, "fit_gpytorch_mll", troubled)
    with pytest.warns(DeprecationWarning, match="a library's own deprecation"):
        summary = fit_gp(X, Y, BOUNDS, ["y"]).summary
    assert summary.fit_warnings == {"OptimizationWarning: Optimization failed within `scipy.optimize.minimize` with status 2": 2}
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    campaign = store.open_campaign("c", "{}")
    store.add_model_version(campaign.id, 1, summary)
    assert store.model_versions(campaign.id)[0].fit_warnings == summary.fit_warnings


def test_a_looser_fit_tolerance_stops_the_fit_sooner_near_the_same_likelihood():
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from retort.surrogates.gp import GPSettings

    def evaluations_and_mll(settings):
        from unittest import mock

        import retort.surrogates.gp as gp

        evaluations = [0]
        real = gp.fit_gpytorch_mll

        def counted_fit(mll, **kw):
            forward = mll.forward

            def counted(*args, **kwargs):
                evaluations[0] += 1
                return forward(*args, **kwargs)

            mll.forward = counted
            return real(mll, **kw)

        with mock.patch.object(gp, "fit_gpytorch_mll", counted_fit):
            model = fit_gp(*data(n=30, seed=2), BOUNDS, ["y"], settings=settings).model
        model.train()
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        with torch.no_grad():
            value = mll(model(*model.train_inputs), model.train_targets).item()
        return evaluations[0], value

    tight, tight_mll = evaluations_and_mll(GPSettings())
    loose, loose_mll = evaluations_and_mll(GPSettings(ftol=1e-3))
    assert loose < tight and loose_mll == pytest.approx(tight_mll, abs=0.05)
    X, Y = data(n=20, seed=3)  # two outputs: BoTorch fits them with its batched L-BFGS-B, which takes the tolerance too
    two = fit_gp(X, torch.cat([Y, -2 * Y], dim=1), BOUNDS, ["a", "b"], settings=GPSettings(ftol=1e-3))
    assert two.summary.outputs == ["a", "b"]


def test_the_chen_preset_builds_baybes_kernel_for_the_input_width():
    """BayBE 0.15's kernel for spaces with substances: Matern-5/2, lengthscales ~ Gamma(2 l, 2) and output scale ~
    Gamma(l, 1) with l = 0.4 sqrt(d) + 4, both starting at l; a Gaussian likelihood with no noise prior."""
    from retort.surrogates.gp import GPSettings

    X, Y = data(n=12, seed=2)
    model = fit_gp(X, Y, BOUNDS, ["y"], settings=GPSettings(priors="chen")).model
    kernel, scale = model.covar_module, 0.4 * math.sqrt(2) + 4
    assert kernel.base_kernel.nu == 2.5 and kernel.base_kernel.lengthscale.shape[-1] == 2
    assert float(kernel.base_kernel.lengthscale_prior.concentration) == pytest.approx(2 * scale)
    assert float(kernel.base_kernel.lengthscale_prior.rate) == 2.0
    assert float(kernel.outputscale_prior.concentration) == pytest.approx(scale) and float(kernel.outputscale_prior.rate) == 1.0
    assert not any("noise_prior" in name for name, *_ in model.likelihood.named_priors())
    assert model.posterior(X).mean.shape == (12, 1)


def test_balanced_priors_give_each_parameter_an_equal_share_and_are_botorchs_for_one_column_parameters():
    """A numeric condition beside a molecule of many descriptor columns: with BoTorch's prior every column's expected
    lengthscale grows with the total width (the condition is drowned); balanced, the condition's column gets the prior
    of (its width 1) x (2 parameters) columns and the molecule's columns that of 8 x 2, whatever the other is."""
    from retort.surrogates.errors import SurrogateError
    from retort.surrogates.gp import GPSettings

    g = torch.Generator().manual_seed(4)
    X = torch.rand(15, 9, generator=g, dtype=torch.double)
    Y = torch.sin(6 * X[:, :1]) + 0.1 * X[:, 1:].sum(-1, keepdim=True)
    bounds = torch.tensor([[0.0] * 9, [1.0] * 9], dtype=torch.double)
    groups = [[0], list(range(1, 9))]
    balanced = fit_gp(X, Y, bounds, ["y"], groups=groups, settings=GPSettings(balanced=True)).model
    loc = balanced.covar_module.lengthscale_prior.loc
    assert loc[0].item() == pytest.approx(math.sqrt(2) + 0.5 * math.log(2))
    assert loc[1:].tolist() == pytest.approx([math.sqrt(2) + 0.5 * math.log(16)] * 8)
    plain = fit_gp(X, Y, bounds, ["y"], groups=groups).model
    assert float(plain.covar_module.lengthscale_prior.loc) == pytest.approx(math.sqrt(2) + 0.5 * math.log(9))
    # the condition's lengthscale comes out shorter under its own prior than under the one scaled by all 9 columns
    assert balanced.covar_module.lengthscale[0, 0] < plain.covar_module.lengthscale[0, 0]

    X2, Y2 = data(n=14, seed=5)  # every parameter one column wide: exactly BoTorch's model
    one = fit_gp(X2, Y2, BOUNDS, ["y"], groups=[[0], [1]], settings=GPSettings(balanced=True)).model
    default = fit_gp(X2, Y2, BOUNDS, ["y"], groups=[[0], [1]]).model
    assert one.covar_module.lengthscale.reshape(-1).tolist() == pytest.approx(default.covar_module.lengthscale.reshape(-1).tolist(), rel=1e-6)
    assert one.posterior(X2).mean.reshape(-1).tolist() == pytest.approx(default.posterior(X2).mean.reshape(-1).tolist(), rel=1e-6)
    with pytest.raises(SurrogateError, match="do not combine"):
        GPSettings(balanced=True, priors="chen")
    with pytest.raises(SurrogateError, match="groups"):
        fit_gp(X2, Y2, BOUNDS, ["y"], settings=GPSettings(balanced=True))
