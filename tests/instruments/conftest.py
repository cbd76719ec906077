"""Fixtures for instrument tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def opentrons_venv():
    """Opentrons' analysis virtualenv (opentrons 9.0.0, Python 3.11), built on first use (~11 s).

    Built where `retort opentrons setup` builds it ($RETORT_OPENTRONS_VENV, else
    ~/.cache/retort/opentrons-9.0.0), so CI can cache that directory. Never skipped: a clean
    machine builds it.
    """
    from retort.instruments.opentrons.analysis import setup_environment

    return setup_environment()


from tests.instruments.robot_fixtures import flex_server, ot2_server, robot_server, robot_servers  # noqa: E402,F401
