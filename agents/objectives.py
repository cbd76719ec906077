"""What a campaign optimises, as data: objectives computed from raw readings, how several objectives trade
off (a weighted sum, or a Pareto front), and constraints on outcomes.

Every objective is a known function of the instrument's raw readings (a reading itself, or a distance to a
target). Written once, it serves both the stored numbers (floats) and the planner's posterior samples
(tensors): the planner models the raw readings and scores proposals through these functions (composite
Bayesian optimisation), so a colour match learns each absorbance instead of a distance with a kink at its
optimum.

Example:
    >>> goal = Goal(objectives=[Objective(name="d", goal="match", target={"A430": 0.2, "A480": 0.3})])
    >>> goal.readings
    ['A430', 'A480']
    >>> round(goal.objectives[0].derive({"A430": 0.5, "A480": 0.7}), 3)
    0.5
    >>> goal.utility_of({"d": 0.5})
    -0.5
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, Mapping, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retort.agents.fields import Number

if TYPE_CHECKING:
    import torch


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Objective(_Strict):
    """What to optimise, derived from the lab's raw readings.

    `maximize`/`minimize` use the reading named `output` (default: `name`). `match` minimises the
    distance to `target`: ``|reading - target|`` for a number, or the Euclidean distance over
    several readings for a mapping ``{reading: target}`` (a spectrum, a colour).
    """

    name: str = Field(min_length=1)
    goal: Literal["maximize", "minimize", "match"]
    output: Optional[str] = None
    target: Union[Number, Annotated[dict[str, Number], Field(min_length=1)], None] = None
    weight: Number = Field(default=1.0, gt=0, le=1e6)
    unit: str = ""

    @model_validator(mode="after")
    def _target(self) -> "Objective":
        if self.goal == "match" and self.target is None:
            raise ValueError(f"objective {self.name!r}: goal 'match' needs a target (a number, or a mapping reading -> value)")
        if self.goal != "match" and self.target is not None:
            raise ValueError(f"objective {self.name!r}: a target only makes sense with goal 'match', not {self.goal!r}")
        if isinstance(self.target, dict) and self.output is not None:
            raise ValueError(f"objective {self.name!r}: give either 'output' or a target mapping, not both")
        return self

    @property
    def readings(self) -> list[str]:
        """The raw readings this objective is computed from."""
        if isinstance(self.target, dict):
            return list(self.target)
        return [self.output or self.name]

    @property
    def sign(self) -> float:
        """+1 where larger is better, -1 where smaller is (minimise, and distances for match)."""
        return 1.0 if self.goal == "maximize" else -1.0

    @property
    def is_reading(self) -> bool:
        """The objective is one reading as it is (maximise or minimise): linear in the readings."""
        return self.goal != "match"

    def derive(self, raw: Mapping):
        """The objective from raw readings: floats (NaN if a reading it needs is NaN), or tensors of samples."""
        if isinstance(self.target, dict):
            return sum((raw[k] - t) ** 2 for k, t in self.target.items()) ** 0.5
        value = raw[self.readings[0]]
        return abs(value - self.target) if self.goal == "match" else value


class OutcomeConstraint(_Strict):
    """An outcome the proposals must keep to (``yield >= 80``): `name` is an objective or a raw reading (one an
    objective is computed from, or any other the lab reports)."""

    name: str = Field(min_length=1)
    op: Literal["<=", ">="]
    value: Number

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.value:g}"


class Goal(_Strict):
    """Objectives, how they trade off, and outcome constraints.

    trade_off: ``weighted``: maximise ``sum(weight * sign * objective)``; ``pareto``: find the Pareto front of
        the objectives (each maximised or minimised as its goal says), above `reference`, the worst value of
        each objective worth having (default: inferred from the data).
    """

    objectives: list[Objective] = Field(min_length=1)
    trade_off: Literal["weighted", "pareto"] = "weighted"
    reference: Optional[dict[str, Number]] = None
    constraints: list[OutcomeConstraint] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> "Goal":
        names = [o.name for o in self.objectives]
        if self.trade_off == "pareto" and len(names) < 2:
            raise ValueError("trade_off 'pareto' needs at least two objectives")
        if self.reference is not None:
            if self.trade_off != "pareto":
                raise ValueError("a reference point belongs to trade_off 'pareto'")
            if sorted(self.reference) != sorted(names):
                raise ValueError(f"the reference point must give a value for each objective {names}, got {sorted(self.reference)}")
        return self

    @classmethod
    def from_weights(cls, weights: dict[str, float]) -> "Goal":
        """Maximise (positive weight) or minimise (negative) each named reading: the weighted sum."""
        return cls(objectives=[Objective(name=k, goal="maximize" if w > 0 else "minimize", weight=abs(w)) for k, w in weights.items()])

    def on_objectives(self) -> "Goal":
        """The same goal over the objectives' stored values instead of the readings (each objective taken as a
        reading of its own): for a model of the objectives, when some measurements lack their readings."""
        objectives = [Objective(name=o.name, goal="maximize" if o.sign > 0 else "minimize", weight=o.weight, unit=o.unit)
                      for o in self.objectives]
        return Goal(objectives=objectives, trade_off=self.trade_off, reference=self.reference,
                    constraints=[c for c in self.constraints if c.name in self.names])

    def values_of(self, observation) -> Optional[list[float]]:
        """An observation's values of `readings`: its raw readings, or for an objective that is a reading as it is,
        its stored objective value; None if it lacks one."""
        out = []
        for r in self.readings:
            value = observation.readings.get(r)
            same = next((o.name for o in self.objectives if o.is_reading and o.readings == [r]), None)
            if value is None and same is not None:
                value = observation.objectives.get(same)
            if value is None:
                return None
            out.append(float(value))
        return out

    @property
    def names(self) -> list[str]:
        return [o.name for o in self.objectives]

    @property
    def readings(self) -> list[str]:
        """The raw readings the objectives and constraints are computed from, in order, once each."""
        out: list[str] = []
        for r in [r for o in self.objectives for r in o.readings] + [c.name for c in self.constraints if c.name not in self.names]:
            if r not in out:
                out.append(r)
        return out

    @property
    def linear(self) -> bool:
        """Every objective and constrained name is a reading as it is: the utility is a weighted sum of readings."""
        by_name = {o.name: o for o in self.objectives}
        return all(o.is_reading for o in self.objectives) and all(c.name not in by_name or by_name[c.name].is_reading for c in self.constraints)

    def reading_weights(self) -> list[float]:
        """For a `linear` goal: the weighted sum's weight of each of `readings` (0 for one only constrained)."""
        return [sum(o.weight * o.sign for o in self.objectives if o.readings == [r]) for r in self.readings]

    def weights(self) -> dict[str, float]:
        """Signed weights per objective: ``weight * sign``."""
        return {o.name: o.weight * o.sign for o in self.objectives}

    def utility_of(self, objectives: Mapping[str, float]) -> float:
        """The weighted sum (higher is better) of stored objective values."""
        return sum(w * objectives[k] for k, w in self.weights().items())

    # -- on posterior samples of the readings (last dimension: `readings` in order) ------------------------------
    def _raw(self, Y: "torch.Tensor", readings: list[str]) -> dict[str, "torch.Tensor"]:
        return {r: Y[..., i] for i, r in enumerate(readings)}

    def objective_values(self, Y: "torch.Tensor", readings: list[str]) -> "torch.Tensor":
        """``... x k`` objective values (in their units) from ``... x r`` reading samples."""
        import torch

        raw = self._raw(Y, readings)
        return torch.stack([o.derive(raw) for o in self.objectives], dim=-1)

    def utility(self, Y: "torch.Tensor", readings: list[str]) -> "torch.Tensor":
        """The weighted sum of the objectives, from reading samples (what ``weighted`` maximises)."""
        values = self.objective_values(Y, readings)
        import torch

        w = torch.tensor([o.weight * o.sign for o in self.objectives], dtype=values.dtype)
        return values @ w

    def signed(self, Y: "torch.Tensor", readings: list[str]) -> "torch.Tensor":
        """Objective values turned so that larger is better for each (what ``pareto`` maximises)."""
        import torch

        return self.objective_values(Y, readings) * torch.tensor([o.sign for o in self.objectives], dtype=Y.dtype)

    def constraint_functions(self, readings: list[str]) -> list:
        """One callable per outcome constraint, ``samples -> tensor``, feasible where ``<= 0`` (BoTorch's convention)."""
        by_name = {o.name: o for o in self.objectives}

        def make(c: OutcomeConstraint):
            def value(Y, X=None):
                raw = self._raw(Y, readings)
                v = by_name[c.name].derive(raw) if c.name in by_name else raw[c.name]
                return (c.value - v) if c.op == ">=" else (v - c.value)
            return value

        return [make(c) for c in self.constraints]

    def feasible(self, objectives: Mapping[str, float], raw: Optional[Mapping[str, float]] = None) -> bool:
        """Whether stored values keep to every outcome constraint (`raw`: the readings; None when they are not at
        hand, and constraints on readings are then not checked)."""
        values = {**(raw or {}), **objectives}
        checked = [c for c in self.constraints if raw is not None or c.name in self.names]
        return all(values.get(c.name) is not None and (values[c.name] >= c.value if c.op == ">=" else values[c.name] <= c.value)
                   for c in checked)

    def pareto_front(self, objectives: list[Mapping[str, float]], raw: Optional[list[Mapping[str, float]]] = None) -> list[int]:
        """Positions (ascending) of the measurements on the Pareto front of every objective: none other is at least
        as good in every objective and better in one. Measurements that break an outcome constraint are left out
        (`raw`: their readings, for constraints on readings; see `feasible`).

        A sweep in lexicographic order (best first): whatever dominates a point comes before it, and if a point is
        dominated at all, a point on the front dominates it; so each point is checked against the front only.

            >>> g = Goal(objectives=[Objective(name="a", goal="maximize"), Objective(name="b", goal="minimize")], trade_off="pareto")
            >>> g.pareto_front([{"a": 1, "b": 1}, {"a": 2, "b": 2}, {"a": 1, "b": 2}, {"a": 2, "b": 2}])
            [0, 1, 3]
        """
        keep = [i for i in range(len(objectives)) if self.feasible(objectives[i], raw[i] if raw is not None else None)]
        signed = {i: tuple(o.sign * objectives[i][o.name] for o in self.objectives) for i in keep}
        front: list[int] = []
        for i in sorted(keep, key=lambda i: signed[i], reverse=True):
            a = signed[i]
            if not any(all(x >= y for x, y in zip(signed[j], a)) and signed[j] != a for j in front):
                front.append(i)
        return sorted(front)

    def outlook(self, samples: "torch.Tensor", observed: "torch.Tensor", readings: list[str]) -> list[tuple[float, bool]]:
        """For each candidate, the probability that it improves on what is measured, and whether the model rules
        that out: ``s x n x r`` posterior samples of the readings at ``n`` candidates, ``N x r`` observed readings.

        Improving means, for ``weighted``, a feasible utility above the best feasible one measured (any feasible
        result, if none is); for ``pareto``, a feasible result no measured point on the front dominates. Ruled out:
        even its optimistic prediction (mean + 3 sd of each objective, larger is better) does not improve.
        """
        import torch

        checks = self.constraint_functions(readings)
        feasible_obs = torch.ones(observed.shape[0], dtype=torch.bool)
        feasible = torch.ones(samples.shape[:-1], dtype=torch.bool)
        for c in checks:
            feasible_obs &= c(observed) <= 0
            feasible &= c(samples) <= 0
        if self.trade_off == "pareto":
            values, measured = self.signed(samples, readings), self.signed(observed, readings)[feasible_obs]

            def improves(v):  # ... x k -> ...: no measured feasible point is at least as good in every objective
                if measured.shape[0] == 0:
                    return torch.ones(v.shape[:-1], dtype=torch.bool)
                return ~(measured >= v.unsqueeze(-2)).all(-1).any(-1)

            optimistic = values.mean(0) + 3 * values.std(0)
        else:
            utility, measured = self.utility(samples, readings), self.utility(observed, readings)[feasible_obs]
            best = measured.max() if measured.numel() else torch.tensor(-torch.inf, dtype=samples.dtype)

            def improves(v):
                return v > best

            values, optimistic = utility, utility.mean(0) + 3 * utility.std(0)
        probability = (improves(values) & feasible).double().mean(0)
        ruled_out = ~improves(optimistic)
        return [(float(p), bool(r)) for p, r in zip(probability, ruled_out)]
