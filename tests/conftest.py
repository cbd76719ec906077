"""Shared fixtures: stores on SQLite and (where it runs) PostgreSQL, one Prefect harness per session."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.instruments import robot_fixtures

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# as `retort run` sets it (flows/settings.py): Prefect's 20 s default for its ephemeral server's start timed out in a
# computational example's process-pool fan-out under CI's load (tests/orchestrator/test_campaign_fuzz.py, rocksalt_chgnet)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
# one torch thread per test process (and the processes tests start): the suite runs two workers on two cores, and two
# threads each oversubscribe them (a multi-task GP test: 16 s wall with two threads, 3 s with one, measured under load)
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config):
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


PG_ADMIN = os.environ.get("RETORT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_database():
    """Create a throwaway PostgreSQL database; yields its SQLAlchemy URL, or skips if no server."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a test extra
        pytest.skip("psycopg is not installed (pip install -e '.[test]')")
    name = f"retort_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN}: {exc}".splitlines()[0])
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pytest_collection_modifyitems(items):
    """With pytest-xdist (`scripts/test.sh`), the tests on Opentrons' robot-servers run on one worker: one set of
    servers per session, not one per worker."""
    for item in items:
        if robot_fixtures.NAMES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("robot-server"))


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    """A fresh, empty store URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from _pg_database()


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test server for the whole session (starting one costs 10-20 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def branin_campaign(**overrides):
    from retort.orchestrator.campaign import Campaign

    data = {
        "name": "branin-test",
        "parameters": [
            {"name": "x1", "type": "continuous", "lower": -5, "upper": 10},
            {"name": "x2", "type": "continuous", "lower": 0, "upper": 15},
        ],
        "objectives": [{"name": "y", "goal": "minimize"}],
        "batch_size": 2,
        "budget": 8,
        "initial_design": 4,
        "seed": 3,
        "lab": {"kind": "virtual_analytic", "function": "branin", "noise_sd": 0.05},
    }
    data.update(overrides)
    return Campaign.model_validate(data)


def colour_campaign(**overrides):
    from retort.orchestrator.campaign import load_campaign

    campaign = load_campaign(os.path.join(os.path.dirname(__file__), "..", "examples", "colour_match.yaml"))
    return campaign.model_copy(update=overrides) if overrides else campaign


@pytest.fixture(scope="session")
def opentrons_venv():
    """Opentrons' analysis virtualenv (opentrons 9.0.0, Python 3.11), built on first use (about 20 s) where
    `retort opentrons setup` builds it. Never skipped: a clean machine builds it."""
    from retort.instruments.opentrons.analysis import setup_environment

    return setup_environment()


from tests.instruments.robot_fixtures import flex_server, ot2_server, robot_server, robot_servers  # noqa: E402,F401
