"""Names a package exports but loads only when first used (PEP 562), so that importing one light module of the
package does not import the heavy ones beside it. Imports nothing of the project.

Example:
    >>> __getattr__ = lazy_exports("retort.orchestrator.campaign", {"DEFAULT_STORE": "defaults"})
    >>> __getattr__("DEFAULT_STORE")
    'sqlite:///retort.db'
"""

from __future__ import annotations

import importlib
from typing import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], object]:
    """A module `__getattr__` for `package`: each name of `exports` from the submodule it names, loaded when asked for."""

    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{exports[name]}"), name)

    return __getattr__
