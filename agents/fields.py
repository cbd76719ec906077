"""Number types for values a person writes in a campaign file.

Finite (no NaN or infinity), never a boolean (YAML's ``true`` is not 1), and within magnitudes
that floating-point arithmetic handles without overflow. Used by every user-facing model.

Example:
    >>> from pydantic import TypeAdapter
    >>> TypeAdapter(Number).validate_python(2)
    2.0
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AllowInfNan, Strict

LIMIT = 1e15  # larger magnitudes are typing mistakes, and overflow once normalised or squared


def _sane(value: float) -> float:
    if abs(value) > LIMIT:
        raise ValueError(f"{value:g} is beyond the {LIMIT:g} magnitude Retort accepts")
    return value


# The magnitude check is a validator, not Field(ge=, le=), so that a field's own bounds still apply.
Number = Annotated[float, Strict(), AllowInfNan(False), AfterValidator(_sane)]
"""A finite real number (an integer is accepted; a boolean or a string is not)."""

Whole = Annotated[int, Strict(), AfterValidator(_sane)]
"""An integer (a boolean, a float or a string is not)."""
