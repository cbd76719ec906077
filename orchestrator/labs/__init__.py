"""Labs: what a campaign runs its experiments on. A lab turns a batch into instrument work (a plan, checked and
reserved before anything moves), runs it on its backend, measures, and recovers after a stop (`base.Lab`). The
same lab code runs a virtual bench or, with another backend, a real robot. `build.build_labs` makes a campaign's.

The names below are loaded when first used: importing `labs.base` does not load every lab.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"Lab": "base", "LabRequest": "base", "LabResult": "base", "LabRun": "base", "Recovery": "base", "SimpleLab": "base",
            "check_readings": "base", "build_lab": "build", "build_labs": "build"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
