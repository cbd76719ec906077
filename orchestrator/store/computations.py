"""Computations in the store (the dry lab): each one kept once, under the digest of what decides its answer (`Job.key`),
with what it gave and where it came from. `ComputationStore.compute` answers a job from the store when it was computed
before (in any campaign, process or host sharing the store), else runs the engine and stores the outcome, failed ones
included: a computation is never run twice.

Example:
    >>> from retort.orchestrator.store import Store
    >>> from retort.instruments.computations import Job, Outcome
    >>> class Constant:
    ...     name, properties = "constant", {"value": "1"}
    ...     def compute(self, job): return Outcome(status="done", values={"value": 1.0}, units={"value": "1"})
    >>> stored = ComputationStore(Store("sqlite://")).compute(Job(engine="constant", method="-", input="C"), Constant())
    >>> stored.outcome.values, stored.fresh
    ({'value': 1.0}, True)
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Optional

from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from retort.instruments.computations import Engine, Job, Outcome
from retort.orchestrator.errors import StoreError
from retort.orchestrator.store.core import Store
from retort.orchestrator.store.tables import ComputationRow


class StoredComputation(BaseModel):
    """A computation as stored: its id, the job, the outcome, when; `fresh`: computed by this call (not from the store)."""

    model_config = ConfigDict(frozen=True)

    id: int
    job: Job
    outcome: Outcome
    created_at: datetime
    fresh: bool = False


class ComputationStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, job: Job) -> Optional[StoredComputation]:
        """The stored computation of `job`, or None."""
        with self.store.session(f"read computation {job.engine} of {job.input!r}") as s:
            row = s.exec(select(ComputationRow).where(ComputationRow.key == job.key)).first()
            return _stored(row) if row is not None else None

    def by_id(self, computation_id: int) -> StoredComputation:
        """The stored computation `computation_id` (a measurement's `computation`)."""
        with self.store.session(f"read computation {computation_id}") as s:
            row = s.get(ComputationRow, computation_id)
            if row is None:
                raise StoreError(f"no computation {computation_id} in the store")
            return _stored(row)

    def all(self) -> list[StoredComputation]:
        """Every stored computation, oldest first."""
        with self.store.session("read the computations") as s:
            return [_stored(r) for r in s.exec(select(ComputationRow).order_by(ComputationRow.id))]

    def compute(self, job: Job, engine: Engine) -> StoredComputation:
        """`job`'s outcome from the store, else from `engine` (stored before it is returned, failed or not)."""
        if job.engine != engine.name:
            raise StoreError(f"job for engine {job.engine!r} given to engine {engine.name!r}")
        known = self.get(job)
        if known is not None:
            return known
        return self.put(job, engine.compute(job))

    def put(self, job: Job, outcome: Outcome) -> StoredComputation:
        """Store `job`'s `outcome` (computed elsewhere, e.g. on a Dask worker) and return it as stored; when the job is
        stored already (another process got there first) the stored one is returned and `outcome` is dropped."""
        row = ComputationRow(key=job.key, engine=job.engine, method=job.method, settings_json=json.dumps(job.settings, sort_keys=True),
                             seed=job.seed, input=job.input, status=outcome.status, values_json=json.dumps(outcome.values),
                             units_json=json.dumps(outcome.units), message=outcome.message, engine_version=outcome.engine_version,
                             cpu_seconds=outcome.cpu_seconds, input_hash=outcome.input_hash)
        try:
            with self.store.session(f"store computation {job.engine} of {job.input!r}") as s:
                s.add(row)
                s.commit()
                s.refresh(row)
                return _stored(row).model_copy(update={"fresh": True})
        except StoreError as exc:  # another process stored the same computation meanwhile: theirs is the one kept
            if not isinstance(exc.__cause__, IntegrityError):
                raise
            known = self.get(job)
            if known is None:
                raise
            return known


def _stored(row: ComputationRow) -> StoredComputation:
    job = Job(engine=row.engine, method=row.method, settings=json.loads(row.settings_json), seed=row.seed, input=row.input)
    outcome = Outcome(status=row.status, values=json.loads(row.values_json), units=json.loads(row.units_json), message=row.message,
                      engine_version=row.engine_version, cpu_seconds=row.cpu_seconds, input_hash=row.input_hash)
    return StoredComputation(id=row.id, job=job, outcome=outcome, created_at=row.created_at)
