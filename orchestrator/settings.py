"""Process-wide defaults that must be set before Prefect is imported."""

from __future__ import annotations

import os


def prefect_defaults(verbose: bool = False) -> None:
    """Quiet, local-first Prefect: no analytics (its start-up otherwise logs 'database is locked'),
    ephemeral server unless `PREFECT_API_URL` names one. The user's own settings win."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "CRITICAL")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
