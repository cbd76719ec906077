"""One campaign, one driver: two `retort run` started at once on one campaign and store (SQLite and
PostgreSQL). One drives; the other says who holds the campaign and exits 2, or waits with --wait;
the store holds one batch and one model version per iteration, and no experiment twice."""

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from retort.orchestrator.store import Store

pytestmark = pytest.mark.slow
BRANIN = Path(__file__).resolve().parents[1] / "examples" / "branin.yaml"


def start(tmp_path, store_url, *extra):
    env = os.environ | {"RETORT_LOG_DIR": str(tmp_path / "logs")}
    return subprocess.Popen([sys.executable, "-m", "retort.orchestrator.cli", "run", str(BRANIN), "--store", store_url, *extra],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def one_batch_per_iteration(store_url):
    store = Store(store_url)
    record = store.campaign("branin")
    experiments = store.experiments(record.id)
    assert len({e.seq for e in experiments}) == len(experiments) == 16
    per_iteration = Counter(e.iteration for e in experiments)
    assert set(per_iteration.values()) == {2}, per_iteration  # batch_size 2: one batch per iteration
    versions = Counter(m.iteration for m in store.model_versions(record.id))
    assert set(versions.values()) == {1}, versions


def test_a_second_run_on_a_running_campaign_says_who_holds_it_and_exits_2(store_url, tmp_path):
    first, second = start(tmp_path, store_url), start(tmp_path, store_url)
    results = [p.communicate(timeout=600) for p in (first, second)]
    codes = sorted(p.returncode for p in (first, second))
    assert codes == [0, 2], results
    refused = next(err for (_, err), p in zip(results, (first, second)) if p.returncode == 2)
    assert "campaign 'branin' is being run by " in refused and " pid " in refused and "Traceback" not in refused
    one_batch_per_iteration(store_url)


def test_with_wait_the_second_run_waits_then_finds_the_campaign_done(store_url, tmp_path):
    import time

    from retort.orchestrator.store.leases import holder_of

    first = start(tmp_path, store_url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the second starts once the first holds the campaign
        try:
            store = Store(store_url)
            if holder_of(store, store.campaign("branin").id):
                break
        except Exception:  # the store or the campaign is not there yet
            pass
        time.sleep(0.2)
    second = start(tmp_path, store_url, "--wait")
    results = [p.communicate(timeout=600) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], results
    one_batch_per_iteration(store_url)
