"""Pytest fixtures for tests against Opentrons' real robot-server (simulated hardware).

Import them into a conftest::

    from tests.instruments.robot_fixtures import flex_server, ot2_server, robot_server, robot_servers  # noqa: F401

or load this module as a plugin: ``pytest -p tests.instruments.robot_fixtures``. Servers start once
per session on free ports (one per robot type, on first use) and stop at its end. Tests using them
are skipped only when the robot-server or Python 3.10 is missing; a server that fails to start
fails the test.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.instruments.robot_server import RobotServer, ServerPool, unavailable

NAMES = {"robot_servers", "ot2_server", "flex_server", "robot_server"}  # the fixtures below: tests using one share the servers


@pytest.fixture(scope="session")
def robot_servers() -> Iterator[ServerPool]:
    """The session's robot-servers, started on first use (`ServerPool.get`)."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    pool = ServerPool()
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture(scope="session")
def ot2_server(robot_servers: ServerPool) -> RobotServer:
    """A simulated OT-2: left p20_single_gen2, right p300_single_gen2."""
    return robot_servers.get("ot2")


@pytest.fixture(scope="session")
def flex_server(robot_servers: ServerPool) -> RobotServer:
    """A simulated Flex: left flex_1channel_50, right flex_1channel_1000, a gripper."""
    return robot_servers.get("flex")


@pytest.fixture(params=["ot2", "flex"])
def robot_server(request: pytest.FixtureRequest, robot_servers: ServerPool) -> RobotServer:
    """Each simulated robot in turn."""
    return robot_servers.get(request.param)
