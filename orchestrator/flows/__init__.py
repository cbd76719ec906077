"""Prefect: the campaign flows and tasks (`campaign.py`), each instrument's concurrency slot (`limits.py`), the
local Prefect server a `retort run` owns (`server.py`) and the settings it needs before Prefect is imported
(`settings.py`). Deployments name the flows by their module (``retort.orchestrator.flows.campaign:campaign_file_flow``).

Importing this package does not import Prefect (its settings are read when it is imported, so `retort run` sets
them first): the flows below are loaded when first used.
"""

from __future__ import annotations

from retort.lazy import lazy_exports

_EXPORTS = dict.fromkeys(("DEPLOYED", "STEPS", "TASKS", "approve_task", "campaign_file_flow", "campaign_flow", "instrument_flow",
                          "iteration_flow", "plan_task", "run_on_deployment", "run_on_task"), "campaign")
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
