"""Computations fanned out as Prefect tasks: on a local process pool (Prefect's `ProcessPoolTaskRunner`) or a Dask
cluster (prefect-dask's `DaskTaskRunner`: a `LocalCluster`, or an existing cluster's scheduler). Each outcome is stored
the moment it arrives, in this process, so a run killed part-way keeps every computation that finished and a rerun
computes only the rest.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Literal, Optional

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed

from retort.instruments.computations import Engine, Job, Outcome
from retort.orchestrator.errors import LabError, LabTransient
from retort.orchestrator.labs.computation import Progress, compute_inline
from retort.orchestrator.store.computations import ComputationStore

log = logging.getLogger(__name__)
Runner = Literal["processes", "dask", "inline"]
DASK_INSTALL = "pip install -e '.[dry]'  (or: bash scripts/install.sh, which installs it)"


def run_job(engine: Engine, job: Job) -> Outcome:
    """One computation, where the task runner puts it; a job that fails is an outcome, not an exception."""
    return engine.compute(job)


# The task wraps a function importable under its own name, so that workers unpickle it by reference.
compute = task(name="retort-compute", cache_policy=NO_CACHE, task_run_name="{job.engine}-{job.input}")(run_job)


def task_runner(runner: Runner, workers: int, address: Optional[str]):
    if runner == "processes":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=workers)
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise LabError(f"runner 'dask' needs the package prefect-dask, which is not installed: {DASK_INSTALL}") from None
    if address:
        return DaskTaskRunner(address=address, client_kwargs={"timeout": "10s"})
    return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None,
                                          "silence_logs": logging.WARNING})


def run_jobs(jobs: list[Job], engine: Engine, store: ComputationStore, runner: Runner = "processes", workers: int = 2,
             address: Optional[str] = None) -> int:
    """Compute the `jobs` not stored yet and store each outcome as it arrives; returns how many were computed."""
    if runner == "inline":
        return compute_inline(jobs, engine, store)
    todo = list({j.key: j for j in jobs if store.get(j) is None}.values())
    if not todo:
        return 0
    progress = Progress(len(todo), engine.name)
    token = uuid.uuid4().hex
    _BATCHES[token] = (todo, engine, store, progress)
    try:
        fan_out.with_options(task_runner=task_runner(runner, workers, address))(token, len(todo))
    except (OSError, TimeoutError) as exc:
        where = f"the Dask scheduler at {address}" if address else f"the {runner} runner"
        raise LabTransient(f"computations could not run on {where}: {exc}; every computation finished before this is stored, "
                           "and the experiments wait, approved") from None
    finally:
        _BATCHES.pop(token, None)
    return len(todo)


# What a fan-out works on, by token: the flow's only parameters are the token and a count, so Prefect records no store
# URL (passwords) and pickles nothing of the store for the workers; the flow's body runs in this process.
_BATCHES: dict[str, tuple[list[Job], Engine, ComputationStore, "Progress"]] = {}


def batch(token: str) -> tuple[list[Job], Engine, ComputationStore, "Progress"]:
    """The fan-out's work (a function, so that the flow's body, which workers receive with each task's context, refers
    to the store by name rather than carrying it)."""
    return _BATCHES[token]


@flow(name="retort-computations", flow_run_name="{count}-computations")
def fan_out(token: str, count: int) -> None:
    """Submit every job to the flow's task runner and store each outcome as it arrives."""
    jobs, engine, store, progress = batch(token)
    logging.getLogger("distributed").setLevel(logging.WARNING)  # a LocalCluster's start and stop: a page of INFO lines
    futures = {compute.submit(engine, job): job for job in jobs}
    for future in as_completed(list(futures)):
        store.put(futures[future], future.result())
        progress.step()
