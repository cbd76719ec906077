"""Where Opentrons' own environment lives (opentrons 9.0.0 in a virtualenv of its own: its pins clash with Prefect's).
A leaf module: the labware table reads Opentrons' definitions from it, the analysis runs in it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

OPENTRONS_VERSION = "9.0.0"
ENV_VAR = "RETORT_OPENTRONS_VENV"


def default_venv() -> Path:
    """Where the environment lives: ``$RETORT_OPENTRONS_VENV``, else ``~/.cache/retort/opentrons-9.0.0``.

    Read at call time, so setting the variable after import takes effect.
    """
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "retort" / f"opentrons-{OPENTRONS_VERSION}"


def labware_definitions(venv: Optional[Path] = None) -> Optional[Path]:
    """Opentrons' standard labware definitions (schema 2, one folder per load name) in the environment, or None if it
    is not set up."""
    found = sorted((venv or default_venv()).glob("lib/python3*/site-packages/opentrons_shared_data/data/labware/definitions/2"))
    return found[-1] if found else None
