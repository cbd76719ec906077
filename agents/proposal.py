"""Proposals and observations: plain, frozen data passed between planner, gate, lab and store.

Example:
    >>> p = Proposal(params={"red": 10.0}, provenance=Provenance(planner="random"))
    >>> Proposal.model_validate_json(p.model_dump_json()) == p
    True
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from retort.agents.parameters import Value


class Prediction(BaseModel):
    """The surrogate's predictive mean and standard deviation for one objective."""

    model_config = ConfigDict(frozen=True)

    mean: float
    std: float = Field(ge=0)


class Origin(BaseModel):
    """Where a generated candidate came from: the molecules it was made from, how, in which round of generation."""

    model_config = ConfigDict(frozen=True)

    parameter: str
    parents: list[str]
    operator: str  # crossover, mutation or selfies (`retort.agents.generation.operators`)
    round: int = Field(ge=1)


class Provenance(BaseModel):
    """Where a proposal came from: planner, model version, what the model expected."""

    model_config = ConfigDict(frozen=True)

    planner: str
    model_version: Optional[int] = None
    predicted: dict[str, Prediction] = Field(default_factory=dict)
    acquisition_value: Optional[float] = None
    acquisition: Optional[str] = None  # the acquisition function that chose it, as used (None: no model)
    improvement_probability: Optional[float] = None  # the model's probability that it beats what is measured
    ruled_out: Optional[bool] = None  # the model's own mean + 3 sd does not beat what is measured (a dead member)
    origin: Optional[Origin] = None  # a generated candidate: its parents and operator
    note: str = ""


class Proposal(BaseModel):
    """One experiment a planner wants run."""

    model_config = ConfigDict(frozen=True)

    params: dict[str, Value]
    provenance: Provenance
    fidelity: Optional[str] = None  # where a campaign has several (a computation, the wet measurement): which one; None: the only one


class Observation(BaseModel):
    """A measured experiment as planners see it: parameters, derived objective values and the raw readings they
    came from (absent for measurements that brought only objectives, e.g. some imports)."""

    model_config = ConfigDict(frozen=True)

    params: dict[str, Value]
    objectives: dict[str, float]
    readings: dict[str, float] = Field(default_factory=dict)
    fidelity: Optional[str] = None  # the fidelity it was measured or computed at (None: the only one, the truth)
