"""The dry-wet example campaign through `retort run`: xTB computed live on a two-worker Dask LocalCluster (prefect-dask),
GAFF values looked up, measurements planned with them by cost; killed with SIGKILL while xTB runs and run again, it
recomputes nothing that was stored."""

import os
import re
import signal
import subprocess
import time

import pytest

from retort.orchestrator.store import Store
from retort.orchestrator.store.computations import ComputationStore
from tests.test_end_to_end import EXAMPLE, _retort_run, _start_retort_run

CAMPAIGN = EXAMPLE.parent / "freesolv_dry_wet.yaml"


def _computations(url, engine=None):
    try:
        return {c.job.key: (c.id, c.created_at) for c in ComputationStore(Store(url)).all() if engine in (None, c.job.engine)}
    except Exception:
        return {}


def test_killing_a_dry_wet_campaign_while_xtb_runs_on_dask_and_running_it_again_recomputes_nothing_stored(tmp_path):
    pytest.importorskip("tblite")
    pytest.importorskip("prefect_dask")
    url = f"sqlite:///{tmp_path / 'dry.db'}"
    with open(tmp_path / "first.txt", "w") as stderr:
        run = _start_retort_run(CAMPAIGN, url, tmp_path, stderr)
    try:
        deadline = time.monotonic() + 300
        while len(_computations(url, "xtb")) < 3 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.05)
        assert run.poll() is None, (tmp_path / "first.txt").read_text()
        os.killpg(run.pid, signal.SIGKILL)  # the campaign, its Prefect server and the Dask workers, while xTB runs
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    before = _computations(url)
    xtb_before = len(_computations(url, "xtb"))
    assert 3 <= xtb_before < 25, xtb_before  # killed part-way through the screen
    command, env = _retort_run(CAMPAIGN, url, tmp_path)
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stdout + again.stderr
    after = _computations(url)
    assert all(after[k] == v for k, v in before.items())  # the same rows: none computed again
    store = Store(url)
    experiments = store.experiments(store.campaign("freesolv_dry_wet").id)
    truth = [e for e in experiments if e.fidelity is None]
    computations = [e for e in experiments if e.fidelity is not None]
    assert len(truth) == 10 and all(e.status == "measured" for e in truth)  # the budget counts measurements
    assert {e.fidelity for e in computations} <= {"xtb", "gaff"} and "xtb" in {e.fidelity for e in computations}
    assert all(e.status == "measured" or e.failure_reason.startswith("no value: ") for e in computations)
    assert len({(e.fidelity, e.params["molecule"]) for e in computations}) == len(computations)  # no pair asked twice
    computed = sum(int(n) for n in re.findall(r"xtb: \[[# ]*\] \d+/(\d+) computed, about 0 s left", again.stderr))
    assert computed == len(_computations(url, "xtb")) - xtb_before, again.stderr  # the rerun computed only what was missing
    assert all(m.computation is not None for e in computations for m in e.measurements if m.kind == "raw")
    assert "xtb (dry)" in again.stdout and "learned correlation with the truth" in again.stdout and "total cost" in again.stdout


def test_a_dask_scheduler_that_does_not_answer_is_named_and_nothing_is_lost(prefect_harness, tmp_path):
    pytest.importorskip("prefect_dask")
    from retort.instruments.computations.lookup import LookupEngine
    from retort.orchestrator.errors import LabTransient
    from retort.orchestrator.flows.computations import run_jobs

    store = ComputationStore(Store("sqlite://"))
    (tmp_path / "values.csv").write_text("smiles,dG\nCCO,-4.9\n")
    engine = LookupEngine(tmp_path / "values.csv", key="smiles", columns=["dG"])
    with pytest.raises(LabTransient, match="the Dask scheduler at tcp://127.0.0.1:9: Timed out trying to connect"):
        run_jobs([engine.job("CCO")], engine, store, "dask", 2, "tcp://127.0.0.1:9")
    assert store.all() == []
