"""An emulator lab for scattered continuous datasets: a GP fitted to the measurements.

A scattered dataset (Olympus' flow Suzuki, SnAr, crossed barrels, ...) cannot be looked up at a
new point, so a Gaussian process fitted to every measurement answers instead. The emulator says
what it is: it reports its latent standard deviation at each point it answers, its fitted noise,
and its own leave-one-out accuracy on the data (RMSE and R^2). It answers only inside the data's
bounds and refuses anything else.

Example:
    >>> emulator = DatasetEmulator.from_packaged("snar")
    >>> emulator.inputs
    ['residence_time', 'ratio', 'concentration', 'temperature']
    >>> answer = emulator.measure({"residence_time": 1.0, "ratio": 3.0, "concentration": 0.3, "temperature": 100.0}, seed=0)
    >>> answer.value > 0, answer.std > 0
    (True, True)
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np

from retort.simulators.errors import DatasetError, SimulationInputError

PACKAGED = ("suzuki", "snar", "crossed_barrel", "p3ht", "agnp", "photo_pce10", "hplc")
COMPOSITIONS = {"hea_hardness": ("hea_vickers_hardness.csv", "composition", "HV")}  # file, formula column, output


def _slack(bound: float) -> float:
    """How far past a bound a value may lie and still be answered (at the bound): rounding, such
    as a formula's fractions written to 6 decimals, must not turn a point away."""
    return 1e-6 * max(1.0, abs(bound))


@dataclass(frozen=True)
class EmulatedValue:
    """One emulated measurement: the value reported, the GP's latent mean and std there."""

    value: float
    mean: float
    std: float


@dataclass(frozen=True)
class EmulatorFit:
    """The emulator's GP, its fitted noise sd and its leave-one-out RMSE and R^2 (in the output's units)."""

    model: object
    noise_sd: float
    loo_rmse: float
    loo_r2: float


class DatasetEmulator:
    """A BoTorch `SingleTaskGP` (Matern-5/2, ARD, inputs normalised to the data's bounds,
    outcome standardised) fitted to a dataset, measuring with the noise it fitted.

    Args:
        X: ``n x d`` measured inputs.
        y: ``n`` measured outputs.
        inputs: the ``d`` input names.
        output: the output's name.
        bounds: per input, the ``(low, high)`` range the emulator answers in.
        source: where the data came from (for messages and provenance).
        positive: the quantity cannot be negative (values reported are clipped at 0).
        compositional: the inputs are element fractions (an absent element is 0).
    """

    def __init__(self, X, y, inputs: list[str], output: str, bounds: list[tuple[float, float]], source: str,
                 positive: bool = False, compositional: bool = False) -> None:
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64).reshape(-1)
        if X.ndim != 2 or X.shape[1] != len(inputs) or X.shape[0] != y.shape[0]:
            raise DatasetError(f"{source}: need n x {len(inputs)} inputs and n outputs, got {X.shape} and {y.shape}")
        if X.shape[0] < 5:
            raise DatasetError(f"{source}: {X.shape[0]} measurements are too few to emulate (need at least 5)")
        bad = np.flatnonzero(~np.isfinite(X).all(axis=1) | ~np.isfinite(y))
        if bad.size:
            raise DatasetError(f"{source}: rows {[int(i) + 1 for i in bad[:5]]} hold non-finite values")
        self.inputs, self.output, self.source, self.positive = list(inputs), output, source, positive
        self.compositional = compositional
        self.bounds = {name: (float(lo), float(hi)) for name, (lo, hi) in zip(inputs, bounds)}
        self.n = X.shape[0]
        self._data = (X, y)  # fitted when first asked for an answer or a figure of the fit (`fit`), not before:
        # a campaign that does not fit the data's inputs or bounds is refused without waiting for a GP fit

    @property
    def noise_sd(self) -> float:
        return self.fit.noise_sd

    @property
    def loo_rmse(self) -> float:
        return self.fit.loo_rmse

    @property
    def loo_r2(self) -> float:
        return self.fit.loo_r2

    @classmethod
    def from_folder(cls, folder: str | Path, output: str | None = None, source: str | None = None) -> "DatasetEmulator":
        """An Olympus-format folder: `config.json` (parameters with low/high, measurements) and
        `data.csv` (no header; parameter columns in config order, then the measurements)."""
        folder = Path(folder)
        source = source or str(folder)
        try:
            config = json.loads((folder / "config.json").read_text())
            data = np.loadtxt(folder / "data.csv", delimiter=",", ndmin=2)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{source}: cannot read config.json and data.csv: {exc}") from None
        parameters, measurements = config.get("parameters", []), [m["name"] for m in config.get("measurements", [])]
        kinds = {p["name"]: p.get("type") for p in parameters}
        if any(kind != "continuous" for kind in kinds.values()):
            raise DatasetError(f"{source}: the emulator handles continuous parameters only; parameter types are {kinds}")
        output = output or measurements[0]
        if output not in measurements:
            raise DatasetError(f"{source}: no measurement {output!r}; measurements: {measurements}")
        if data.shape[1] != len(parameters) + len(measurements):
            raise DatasetError(f"{source}: data.csv has {data.shape[1]} columns, config.json declares {len(parameters)} parameters "
                             f"and {len(measurements)} measurements")
        positive = config.get("constraints", {}).get("measurements") == "positive"
        y = data[:, len(parameters) + measurements.index(output)]
        bounds = [(float(p["low"]), float(p["high"])) for p in parameters]
        return cls(data[:, : len(parameters)], y, [p["name"] for p in parameters], output, bounds, source, positive)

    @classmethod
    def from_compositions(cls, path: str | Path, composition: str, output: str, source: str | None = None) -> "DatasetEmulator":
        """A CSV of formulas and a property. The inputs are the atomic fractions of every element
        in the data (absent elements are 0); each answers from 0 up to its largest fraction in the
        data, so the emulator never extrapolates along an element."""
        from retort.surrogates.featurisers import FeaturisationError, parse_composition

        source = source or str(path)
        try:
            with open(path, newline="") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as exc:
            raise DatasetError(f"{source}: cannot read: {exc}") from None
        if not rows or composition not in rows[0] or output not in rows[0]:
            raise DatasetError(f"{source}: need columns {composition!r} and {output!r}; found {list(rows[0]) if rows else 'no rows'}")
        fractions, y = [], []
        for line, row in enumerate(rows, start=2):
            try:
                amounts = parse_composition(row[composition])
                value = float(row[output])
            except (FeaturisationError, ValueError) as exc:
                raise DatasetError(f"{source} line {line}: cannot read {row[composition]!r} -> {row[output]!r}: {exc}") from None
            fractions.append(amounts)
            y.append(value)
        elements = sorted({e for f in fractions for e in f})
        X = np.array([[f.get(e, 0.0) for e in elements] for f in fractions])
        bounds = [(0.0, float(X[:, j].max())) for j in range(len(elements))]
        return cls(X, y, elements, output, bounds, source, positive=True, compositional=True)

    @classmethod
    def from_packaged(cls, name: str, output: str | None = None) -> "DatasetEmulator":
        data = resources.files("retort.simulators") / "data"
        if name in COMPOSITIONS:
            file, composition, default = COMPOSITIONS[name]
            with resources.as_file(data / "materials" / file) as path:
                return cls.from_compositions(path, composition, output or default, source=f"materials/{name}")
        if name not in PACKAGED:
            raise DatasetError(f"unknown packaged dataset {name!r}; choose from {list(PACKAGED) + list(COMPOSITIONS)}")
        with resources.as_file(data / "olympus" / name) as folder:
            return cls.from_folder(folder, output, source=f"olympus/{name}")

    def check(self, point: dict[str, float]) -> None:
        """Raise `SimulationInputError` naming the input if `point` lacks one or lies outside the data's range."""
        missing = [k for k in self.inputs if k not in point]
        if missing:
            raise SimulationInputError(f"{self.source}: the point lacks inputs {missing}")
        for name, (lo, hi) in self.bounds.items():
            value = float(point[name])
            if not (math.isfinite(value) and lo - _slack(lo) <= value <= hi + _slack(hi)):
                raise SimulationInputError(f"{self.source}: {name}={value:g} is outside the data's range [{lo:g}, {hi:g}]; "
                                 f"the emulator does not extrapolate")

    def predict(self, points: list[dict[str, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Latent mean and standard deviation at `points` (each checked against the bounds)."""
        import torch

        for p in points:
            self.check(p)
        X = torch.tensor([[min(max(float(p[k]), self.bounds[k][0]), self.bounds[k][1]) for k in self.inputs] for p in points],
                         dtype=torch.double)
        model = self.fit.model  # fitted here, outside no_grad, the first time
        with torch.no_grad():
            posterior = model.posterior(X)
        return posterior.mean.reshape(-1).numpy(), posterior.variance.clamp_min(0).sqrt().reshape(-1).numpy()

    def measure(self, point: dict[str, float], seed: int) -> EmulatedValue:
        """The latent mean plus Gaussian noise of the fitted noise level, drawn from `seed`."""
        mean, std = (float(v[0]) for v in self.predict([point]))
        value = mean + self.noise_sd * float(np.random.default_rng(seed).standard_normal())
        return EmulatedValue(value=max(value, 0.0) if self.positive else value, mean=mean, std=std)

    def describe(self) -> str:
        return (f"GP emulator of {self.source} ({self.n} measurements of {self.output}; leave-one-out RMSE {self.loo_rmse:.3g}, "
                f"R^2 {self.loo_r2:.2f}; noise sd {self.noise_sd:.3g})")

    @cached_property
    def fit(self) -> "EmulatorFit":
        """The GP fitted to the data (once, by the surrogates' `fit_gp`), its noise level and its leave-one-out
        accuracy (the surrogates' closed-form `loo_residuals`)."""
        import torch

        from retort.surrogates.calibration import loo_residuals
        from retort.surrogates.gp import fit_gp

        X, y = self._data
        bounds = torch.tensor(list(zip(*self.bounds.values())), dtype=torch.double)
        args = (torch.from_numpy(X), torch.from_numpy(y).unsqueeze(-1), bounds, [self.output])
        stored = _fit_cache(X, y, bounds, self.output)
        try:
            model = fit_gp(*args, state=torch.load(stored, weights_only=True)).model if stored.exists() else None
        except Exception:  # noqa: BLE001 - a copy that cannot be read or loaded (torn, another model's shape): fitted again
            model = None
        if model is None:
            model = fit_gp(*args).model
            _store(stored, model.state_dict())
        [(resid, _, scale)] = loo_residuals(model)
        resid = resid * scale  # in the output's units
        noise_sd = math.sqrt(float(model.likelihood.noise.detach().reshape(-1)[0])) * float(scale)
        return EmulatorFit(model=model, noise_sd=noise_sd, loo_rmse=float(resid.pow(2).mean().sqrt()),
                           loo_r2=1.0 - float(resid.pow(2).sum()) / float(((y - y.mean()) ** 2).sum()))


FIT_CACHE_ENV = "RETORT_EMULATOR_CACHE"  # where fitted emulators are kept (default ~/.cache/retort/emulators)


def _fit_cache(X: np.ndarray, y: np.ndarray, bounds, output: str) -> Path:
    """Where the emulator fitted to these data is kept: a fit depends only on the data and the fitting code (the GP's
    defaults and the library versions are in the key), and the hardness emulator's took 50 s of CPU (measured) at every
    `retort run` of a campaign on it."""
    import hashlib
    import os

    import botorch
    import gpytorch
    import torch

    from retort.surrogates.gp import GPSettings

    digest = hashlib.sha256()
    for part in (X.tobytes(), y.tobytes(), bounds.numpy().tobytes(), output.encode(), repr(GPSettings()).encode(),
                 f"{botorch.__version__} {gpytorch.__version__} {torch.__version__}".encode()):
        digest.update(part)
    folder = Path(os.environ.get(FIT_CACHE_ENV) or Path.home() / ".cache" / "retort" / "emulators")
    return folder / f"{digest.hexdigest()[:32]}.pt"


def _store(path: Path, state: dict) -> None:
    """Keep a fitted emulator's state (written whole, then renamed: a reader never sees half a file); a cache that
    cannot be written costs the next run a fit, nothing else."""
    import os
    import tempfile

    import torch

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
            torch.save(state, f)
        os.replace(f.name, path)
    except OSError:
        pass
