"""Labs: what a campaign runs its experiments on. A lab turns a batch into instrument work (a plan, checked and
reserved before anything moves), runs it on its backend, measures, and recovers after a stop (`base.Lab`). The
same lab code runs a virtual bench or, with another backend, a real robot. `build.build_labs` makes a campaign's.

The names below are loaded when first used: importing `labs.base` does not load every lab.
"""

from __future__ import annotations

from retort.lazy import lazy_exports

_EXPORTS = {"Lab": "base", "LabRequest": "base", "LabResult": "base", "LabRun": "base", "Recovery": "base", "SimpleLab": "base",
            "check_readings": "base", "build_lab": "build", "build_labs": "build"}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
