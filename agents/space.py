"""Search spaces: typed parameters, linear constraints, encoding to tensors, sampling.

Domain values (microlitres, category names; later SMILES and compositions) become tensor columns
only here. Each parameter type owns its encoding, so new types join the `Parameter` union without
touching planners.

Example:
    >>> space = SearchSpace(parameters=[
    ...     ContinuousParameter(name="red", lower=1, upper=100, unit="uL"),
    ...     ContinuousParameter(name="water", lower=1, upper=200, unit="uL")],
    ...     constraints=[LinearConstraint(terms={"red": 1, "water": 1}, op="<=", rhs=250)])
    >>> points = space.sample(4, seed=0)
    >>> all(space.is_feasible(p) for p in points)
    True
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy.optimize import linprog

from retort.agents.errors import SpaceError
from retort.agents.fields import Number
from retort.agents.parameters import (
    TOL,
    CategoricalParameter,
    DiscreteParameter,
    CompositionParameter,
    MixtureParameter,
    ContinuousParameter,
    IntegerParameter,
    MaterialParameter,
    MoleculeParameter,
    Parameter,
    Value,
)

if TYPE_CHECKING:
    import torch


CHOICES = (CategoricalParameter, DiscreteParameter, MoleculeParameter, MaterialParameter)  # a choice among listed options


class LinearConstraint(BaseModel):
    """``sum(terms[name] * x[name]) <op> rhs`` over continuous and integer parameters.

    Example: total dispensed volume within a well, ``terms={"red": 1, "water": 1}, op="<=", rhs=300``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    terms: dict[str, Number] = Field(min_length=1)
    op: Literal["<=", ">=", "=="]
    rhs: Number

    def value(self, point: dict[str, Value]) -> float:
        return sum(c * float(point[name]) for name, c in self.terms.items())

    def satisfied(self, point: dict[str, Value], tol: float = 1e-6) -> bool:
        lhs = self.value(point)
        scale = max(1.0, abs(self.rhs))
        if self.op == "<=":
            return lhs <= self.rhs + tol * scale
        if self.op == ">=":
            return lhs >= self.rhs - tol * scale
        return abs(lhs - self.rhs) <= tol * scale * 100

    def __str__(self) -> str:
        lhs = " + ".join(f"{c:g}*{n}" for n, c in self.terms.items())
        return f"{lhs} {self.op} {self.rhs:g}"


class SearchSpace(BaseModel):
    """Parameters plus linear constraints; encodes points to a ``n x d`` tensor and back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    parameters: list[Parameter] = Field(min_length=1)
    constraints: list[LinearConstraint] = Field(default_factory=list)
    excluded: list[dict[str, Value]] = Field(default_factory=list, description="points no lab can run (holes in a grid)")

    @model_validator(mode="after")
    def _check(self) -> "SearchSpace":
        names = [p.name for p in self.parameters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"parameter names must be unique; repeated: {dupes}")
        numeric = {p.name for p in self.parameters if isinstance(p, (ContinuousParameter, IntegerParameter))}
        for i, c in enumerate(self.constraints):
            unknown = sorted(set(c.terms) - numeric)
            if unknown:
                raise ValueError(
                    f"constraint {i} ({c}) names {unknown}, which are not continuous or integer parameters "
                    f"(those are: {sorted(numeric)})"
                )
        self._check_feasible()
        return self

    # -- structure ----------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def dim(self) -> int:
        return sum(p.width for p in self.parameters)

    @property
    def is_continuous(self) -> bool:
        """Every column is a real number (compositions and mixtures included: their sum-to-one is
        an equality constraint for the optimiser)."""
        return all(isinstance(p, (ContinuousParameter, CompositionParameter, MixtureParameter)) for p in self.parameters)

    @property
    def is_discrete(self) -> bool:
        """Every parameter is a choice among options: the space is a (lazily enumerated) product. A space with a
        generating molecule parameter is not (`open`): its round snapshots are (`pooled`)."""
        return all(isinstance(p, CHOICES) for p in self.parameters) and not self.open

    @property
    def open(self) -> list[MoleculeParameter | MaterialParameter]:
        """Its generating parameters, molecules or materials (any structure their rules allow is a value)."""
        return [p for p in self.parameters if isinstance(p, (MoleculeParameter, MaterialParameter)) and p.open]

    def pooled(self, values: dict[str, dict[str, str]]) -> "SearchSpace":
        """This space with each generating parameter named in `values` narrowed to those values (label -> SMILES):
        a round's finite snapshot, encoded as the open space encodes the same molecules."""
        parameters = [p.pooled(values[p.name]) if p.name in values else p for p in self.parameters]
        return SearchSpace(parameters=parameters, constraints=self.constraints, excluded=self.excluded)

    def discrete_columns(self) -> list[int]:
        """Columns of integer, categorical and molecule parameters: fixed per discrete combination
        when a mixed space's continuous part is optimised."""
        offsets = self.column_offsets()
        return [offsets[p.name] + j for p in self.parameters
                if isinstance(p, (IntegerParameter, *CHOICES)) for j in range(p.width)]

    def composition_groups(self) -> list[tuple[list[int], np.ndarray]]:
        """Per composition encoded with descriptors: its fraction columns and element-property table."""
        offsets = self.column_offsets()
        return [([offsets[p.name] + j for j in range(p.width)], p.element_table()) for p in self.parameters
                if isinstance(p, CompositionParameter) and p.encoding == "descriptors"]

    def column_groups(self) -> list[list[int]]:
        """Each parameter's columns, in order (an additive model has one kernel per group)."""
        offsets = self.column_offsets()
        return [[offsets[p.name] + j for j in range(p.width)] for p in self.parameters]

    def fingerprint_columns(self) -> list[int]:
        """Columns holding fingerprint bits or counts (modelled with a Tanimoto kernel)."""
        offsets = self.column_offsets()
        return [offsets[p.name] + j for p in self.parameters if getattr(p, "fingerprint", False) for j in range(p.width)]

    # -- discrete enumeration -----------------------------------------------------------
    def n_candidates(self) -> int:
        return math.prod(len(p.labels) for p in self.parameters)

    def index_of(self, point: dict[str, Value]) -> int:
        """The point's position in the product enumeration (last parameter varies fastest)."""
        index = 0
        for p in self.parameters:
            digit = p.index(point[p.name])
            if digit < 0:
                raise SpaceError(f"parameter {p.name!r}: {point[p.name]!r} is not one of its values {p.labels}")
            index = index * len(p.labels) + digit
        return index

    def point_at(self, index: int) -> dict[str, Value]:
        point = {}
        for p in reversed(self.parameters):
            index, digit = divmod(index, len(p.labels))
            point[p.name] = p.labels[digit]
        return {p.name: point[p.name] for p in self.parameters}

    def candidate_block(self, start: int, stop: int) -> "torch.Tensor":
        """Encoded candidates ``start..stop-1`` as a ``(stop - start) x d`` tensor, built from
        per-parameter tables without enumerating the rest of the product."""
        return self.candidates(np.arange(start, min(stop, self.n_candidates()), dtype=np.int64))

    def candidates(self, index: np.ndarray) -> "torch.Tensor":
        """Encoded candidates at the given enumeration indices, as a ``len(index) x d`` tensor."""
        import torch

        index = np.asarray(index, dtype=np.int64)
        blocks = []
        for p in reversed(self.parameters):
            index, digit = np.divmod(index, len(p.labels))
            blocks.append(p.table()[digit])
        return torch.from_numpy(np.concatenate(blocks[::-1], axis=1)).to(torch.double)

    def excluded_indices(self) -> set[int]:
        return {self.index_of(p) for p in self.excluded}

    def sample_discrete(self, n: int, seed: int, avoid: set[int] | None = None) -> list[dict[str, Value]]:
        """`n` distinct candidates uniformly at random, skipping excluded ones and `avoid`."""
        skip = self.excluded_indices() | set(avoid or ())
        total = self.n_candidates()
        if total - len(skip) < n:
            raise SpaceError(f"only {total - len(skip)} untried candidates are left; cannot draw {n}")
        rng = np.random.default_rng(seed)
        chosen: list[int] = []
        while len(chosen) < n:  # fixed-size draws: the first k of n points do not depend on n
            for i in rng.integers(0, total, size=64).tolist():
                if i not in skip and i not in chosen and len(chosen) < n:
                    chosen.append(i)
        return [self.point_at(i) for i in chosen]

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    def column_offsets(self) -> dict[str, int]:
        offsets, i = {}, 0
        for p in self.parameters:
            offsets[p.name] = i
            i += p.width
        return offsets

    def bounds(self) -> torch.Tensor:
        """``2 x d`` tensor of lower and upper column bounds (double)."""
        import torch

        cols = [b for p in self.parameters for b in p.column_bounds()]
        return torch.tensor(cols, dtype=torch.double).T.contiguous()

    # -- encoding -----------------------------------------------------------------------
    def encode(self, points: list[dict[str, Value]]) -> torch.Tensor:
        """``n x d`` double tensor of the points' columns."""
        import torch

        rows = [[c for p in self.parameters for c in p.encode(pt[p.name])] for pt in points]
        return torch.tensor(rows, dtype=torch.double).reshape(len(points), self.dim)

    def decode(self, X: torch.Tensor) -> list[dict[str, Value]]:
        """Points from an ``n x d`` tensor: clipped to bounds, integers rounded, one-hot argmaxed."""
        out = []
        for row in X.detach().cpu().double().tolist():
            point, i = {}, 0
            for p in self.parameters:
                point[p.name] = p.decode(row[i : i + p.width])
                i += p.width
            out.append(point)
        return out

    def validate_point(self, point: dict[str, Value]) -> None:
        """Raise `SpaceError` naming the first parameter or constraint the point violates."""
        missing = sorted(set(self.names) - set(point))
        extra = sorted(set(point) - set(self.names))
        if missing or extra:
            raise SpaceError(f"point {point} has missing parameters {missing} and unknown ones {extra}")
        for p in self.parameters:
            if isinstance(p, (CompositionParameter, MixtureParameter)):
                try:
                    p.check_value(point[p.name])
                except ValueError as exc:
                    raise SpaceError(str(exc)) from None
            elif not p.contains(point[p.name]):
                raise SpaceError(f"parameter {p.name!r}: value {point[p.name]!r} is outside its domain")
        for c in self.constraints:
            if not c.satisfied(point):
                raise SpaceError(f"point {point} violates constraint {c}")

    def is_feasible(self, point: dict[str, Value]) -> bool:
        try:
            self.validate_point(point)
        except SpaceError:
            return False
        return True

    def botorch_constraints(self) -> tuple[list[tuple[torch.Tensor, torch.Tensor, float]], list[tuple[torch.Tensor, torch.Tensor, float]]]:
        """Constraints in BoTorch's ``(indices, coefficients, rhs)`` form, meaning ``sum >= rhs``."""
        import torch

        offsets = self.column_offsets()
        inequality, equality = [], []
        for c in self.constraints:
            idx = torch.tensor([offsets[n] for n in c.terms], dtype=torch.long)
            coef = torch.tensor(list(c.terms.values()), dtype=torch.double)
            if c.op == ">=":
                inequality.append((idx, coef, float(c.rhs)))
            elif c.op == "<=":
                inequality.append((idx, -coef, -float(c.rhs)))
            else:
                equality.append((idx, coef, float(c.rhs)))
        for p in self.parameters:
            if isinstance(p, (CompositionParameter, MixtureParameter)):
                cols, coefs, rhs = p.sum_constraint()
                idx = torch.tensor([offsets[p.name] + j for j in cols], dtype=torch.long)
                equality.append((idx, torch.tensor(coefs, dtype=torch.double), rhs))
        return inequality, equality

    # -- sampling -----------------------------------------------------------------------
    def sample(self, n: int, seed: int, method: Literal["sobol", "uniform"] = "sobol") -> list[dict[str, Value]]:
        """`n` feasible points: scrambled Sobol (or uniform) in the box, keeping feasible ones.

        Falls back to hit-and-run sampling of the constraint polytope when too few box samples are
        feasible (equality constraints, thin polytopes).
        """
        import torch

        if n <= 0:
            return []
        if self.is_discrete:
            return self.sample_discrete(n, seed)
        bounds = self.bounds()
        lo, hi = bounds[0], bounds[1]
        sobol = torch.quasirandom.SobolEngine(self.dim, scramble=True, seed=seed)
        generator = torch.Generator().manual_seed(seed)
        points: list[dict[str, Value]] = []
        drawn, limit = 0, max(1024, 64 * n)
        while len(points) < n and drawn < limit:  # in chunks: the same sequence as one draw, decoded only as far as needed
            k = min(4096, limit - drawn)
            if method == "sobol":
                U = sobol.draw(k, dtype=torch.double)
            else:
                U = torch.rand(k, self.dim, generator=generator, dtype=torch.double)
            X = lo + (hi - lo) * U
            for col, p in self._discrete_numeric_columns():  # each value equally likely, however they are spaced
                X[:, col] = torch.as_tensor(p.values, dtype=torch.double)[(U[:, col] * len(p.values)).long().clamp(max=len(p.values) - 1)]
            points += [p for p in self.decode(X) if self.is_feasible(p)]
            drawn += k
        if len(points) < n:
            points = self._polytope_sample(n, seed)
        return points[:n]

    def _discrete_numeric_columns(self) -> list[tuple[int, DiscreteParameter]]:
        offsets = self.column_offsets()
        return [(offsets[p.name], p) for p in self.parameters if isinstance(p, DiscreteParameter)]

    def sample_columns(self, n: int, seed: int) -> torch.Tensor:
        """``n x d`` feasible columns of a continuous space, uniform over its constraint polytope: scrambled
        Sobol in the box, keeping rows that meet every inequality (vectorised; no decoding). Hit-and-run
        (BoTorch's polytope sampler) when there are equality constraints or under 1 % of the box is feasible.
        The acquisition optimiser's raw samples: hit-and-run alone cost seconds per proposal (measured)."""
        import torch
        from botorch.utils.sampling import get_polytope_samples

        inequality, equality = self.botorch_constraints()
        bounds = self.bounds()
        if not equality:
            sobol = torch.quasirandom.SobolEngine(self.dim, scramble=True, seed=seed)
            kept, found = [], 0
            for _ in range(100):  # at most 100 n draws: gives up below 1 % feasible
                X = bounds[0] + (bounds[1] - bounds[0]) * sobol.draw(n, dtype=torch.double)
                ok = torch.ones(n, dtype=torch.bool)
                for idx, coef, rhs in inequality:
                    ok &= X[:, idx] @ coef >= rhs
                kept.append(X[ok])
                found += int(ok.sum())
                if found >= n:
                    return torch.cat(kept)[:n]
        return get_polytope_samples(n, bounds, inequality or None, equality or None, seed=seed, n_burnin=10_000, n_thinning=32)

    def _polytope_sample(self, n: int, seed: int) -> list[dict[str, Value]]:
        from botorch.utils.sampling import get_polytope_samples

        inequality, equality = self.botorch_constraints()
        X = get_polytope_samples(n * 4, self.bounds(), inequality or None, equality or None, seed=seed, n_burnin=2000, n_thinning=8)
        points = [p for p in self.decode(X) if self.is_feasible(p)]
        if len(points) < n:
            raise SpaceError(
                f"could only draw {len(points)} of {n} feasible points; the constraints leave too thin a region "
                "(with integer or categorical parameters, rounding may break equality constraints)"
            )
        return points

    def max_linear(self, terms: dict[str, float]) -> float:
        """The largest value of ``sum(terms[name] * x[name])`` over the bounds and constraints (an LP)."""
        result = self._linprog(terms, maximise=True)
        if result.status != 0:
            raise SpaceError(f"cannot maximise {terms} over the search space: {result.message}")
        return float(-result.fun)

    def _check_feasible(self) -> None:
        if not self.constraints:
            return
        listed = "; ".join(str(c) for c in self.constraints)
        if self._linprog({}, maximise=False).status == 2:
            raise ValueError(
                f"no point within the parameter bounds satisfies all constraints ({listed}); "
                "widen the bounds or relax a constraint"
            )
        integers = sorted({n for c in self.constraints for n in c.terms if isinstance(self.parameter(n), IntegerParameter)})
        if integers and self._linprog({}, maximise=False, integral=True).status == 2:
            raise ValueError(
                f"no integer values of {integers} within their bounds satisfy all constraints ({listed}); "
                "an equality over integer parameters needs a right-hand side that integers can reach"
            )

    def _linprog(self, terms: dict[str, float], maximise: bool, integral: bool = False):
        """Solve the LP over continuous and integer columns; `integral` keeps integers whole (a MILP)."""
        numeric = [p for p in self.parameters if isinstance(p, (ContinuousParameter, IntegerParameter))]
        index = {p.name: i for i, p in enumerate(numeric)}

        def row(coefficients: dict[str, float]) -> list[float]:
            out = [0.0] * len(numeric)
            for name, coef in coefficients.items():
                out[index[name]] = coef
            return out

        A_ub, b_ub, A_eq, b_eq = [], [], [], []
        for c in self.constraints:
            if c.op == "<=":
                A_ub.append(row(c.terms)), b_ub.append(c.rhs)
            elif c.op == ">=":
                A_ub.append([-v for v in row(c.terms)]), b_ub.append(-c.rhs)
            else:
                A_eq.append(row(c.terms)), b_eq.append(c.rhs)
        objective = row(terms)
        return linprog(
            [-v for v in objective] if maximise else objective,
            A_ub=A_ub or None,
            b_ub=b_ub or None,
            A_eq=A_eq or None,
            b_eq=b_eq or None,
            bounds=[(p.lower, p.upper) for p in numeric],
            integrality=[int(integral and isinstance(p, IntegerParameter)) for p in numeric],
            method="highs",
        )
