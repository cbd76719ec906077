"""Values as people type them (text in a form or on the command line, cells of a CSV file) read as a campaign's
parameters and measurements, every problem one `DecisionError` naming where."""

from __future__ import annotations

import json
import math

from retort.agents.parameters import (
    CategoricalParameter,
    CompositionParameter,
    ContinuousParameter,
    DiscreteParameter,
    IntegerParameter,
    MixtureParameter,
    MaterialParameter,
    MoleculeParameter,
)
from retort.agents.proposal import Value
from retort.agents.space import SearchSpace, SpaceError
from retort.orchestrator.errors import DecisionError


def read_point(space: SearchSpace, values: dict[str, Value], where: str) -> dict[str, Value]:
    """Every parameter's value read by its type (`read_value`), and the point checked against the space."""
    point = {n: read_value(space, n, values[n], where) for n in space.names}
    try:
        space.validate_point(point)
    except SpaceError as exc:
        raise DecisionError(f"{where}: {exc}") from None
    return point


def read_value(space: SearchSpace, name: str, value: Value, where: str) -> Value:
    """A value as typed (text) or given (JSON), as parameter `name` stores it."""
    p = space.parameter(name)
    bad = f"{where}: {name}={value!r}"
    if isinstance(p, (ContinuousParameter, IntegerParameter, DiscreteParameter)):
        try:
            number = float(value) if not isinstance(value, (dict, bool)) else math.nan
        except ValueError:
            raise DecisionError(f"{bad} is not a number") from None
        if not math.isfinite(number):
            raise DecisionError(f"{bad} is not a finite number")
        if isinstance(p, IntegerParameter):
            if not number.is_integer():
                raise DecisionError(f"{bad} is not a whole number")
            return int(number)
        if isinstance(p, DiscreteParameter):
            index = p.index(number)
            if index < 0:
                raise DecisionError(f"{bad} is not one of its values {p.values}")
            return p.values[index]
        return number
    if isinstance(p, MixtureParameter) and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise DecisionError(f"{bad}: give the fractions as JSON, e.g. {{\"{p.components[0]}\": 0.5, ...}}") from None
    if isinstance(p, (MoleculeParameter, MaterialParameter)) and p.open:
        if not p.contains(value):
            raise DecisionError(f"{bad} is not one of its values {p.labels}, nor a {p.type} its generation rules allow")
    elif isinstance(p, (CategoricalParameter, MoleculeParameter, MaterialParameter)) and not p.contains(value):
        raise DecisionError(f"{bad} is not one of its values {p.labels}")
    if isinstance(p, CompositionParameter) and not isinstance(value, str):
        raise DecisionError(f"{bad}: give a formula, e.g. Fe0.5Ni0.5")
    return value


def finite(text: object, where: str) -> float:
    cell = (text or "").strip() if isinstance(text, str) else text
    if cell in ("", None):
        raise DecisionError(f"{where}: empty; a measurement is needed")
    try:
        value = float(cell)
    except ValueError:
        raise DecisionError(f"{where}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise DecisionError(f"{where}: {cell!r} is not a finite number; leave the row out")
    return value
