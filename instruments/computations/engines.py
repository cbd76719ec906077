"""The engines by name (`engine`), each imported only when asked for: a missing package is named with its install command."""

from __future__ import annotations

from retort.instruments.computations.jobs import Engine, EngineMissing
from retort.instruments.errors import InstrumentError

INSTALL = "pip install -e '.[dry]'  (or: bash scripts/install.sh, which installs it)"


def engine(name: str) -> Engine:
    """The engine called `name`; `EngineMissing` names the install command when its package is absent."""
    if name == "xtb":
        try:
            import tblite  # noqa: F401
        except ImportError:
            raise EngineMissing(f"computation engine 'xtb' needs the package tblite, which is not installed: {INSTALL}") from None
        from retort.instruments.computations.xtb import XtbEngine

        return XtbEngine()
    if name == "chgnet":
        try:
            import chgnet  # noqa: F401
        except ImportError:
            raise EngineMissing(f"computation engine 'chgnet' needs the package chgnet, which is not installed: {INSTALL}") from None
        from retort.instruments.computations.chgnet import ChgnetEngine

        return ChgnetEngine()
    raise InstrumentError(f"unknown computation engine {name!r}; engines: ['chgnet', 'xtb']")
