"""What a computation is asked (`Job`) and what it answers (`Outcome`), and the small Protocol every engine implements."""

from __future__ import annotations

import hashlib
import json
from typing import Literal, Optional, Protocol

from pydantic import BaseModel, ConfigDict, Field

from retort.instruments.errors import InstrumentError

class EngineMissing(InstrumentError):
    """A computation engine's package is not installed."""


class Job(BaseModel):
    """One computation: `engine` runs `method` with `settings` on `input` (a canonical SMILES, or a structure as JSON),
    seeded by `seed`. Two jobs with the same `key` are the same computation (answered once)."""

    model_config = ConfigDict(frozen=True)

    engine: str
    method: str
    settings: dict[str, str | float | int | bool] = Field(default_factory=dict)
    seed: int = 0
    input: str

    @property
    def key(self) -> str:
        """A digest of everything that decides the answer (the engine's version is part of the outcome, not the key)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


class Outcome(BaseModel):
    """What a job gave: `values` with `units` when `status` is ``done``; the engine's own `message` when ``failed``."""

    model_config = ConfigDict(frozen=True)

    status: Literal["done", "failed"]
    values: dict[str, float] = Field(default_factory=dict)
    units: dict[str, str] = Field(default_factory=dict)
    message: str = ""
    engine_version: str = ""
    cpu_seconds: float = 0.0
    input_hash: Optional[str] = None  # digest of the geometry the engine computed on (atoms and coordinates)


class Engine(Protocol):
    """A computation engine: `properties` it reports (name -> unit) and `compute`, which never raises for a job that
    fails (the outcome says why, in the engine's words)."""

    name: str
    properties: dict[str, str]

    def compute(self, job: Job) -> Outcome: ...
