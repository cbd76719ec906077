"""Process-wide defaults that must be set before Prefect is imported."""

from __future__ import annotations

import os


def prefect_defaults(verbose: bool = False) -> None:
    """Quiet, local-first Prefect: no analytics on server or client (the server otherwise logs 'database is locked'),
    a local server of the run's own unless `PREFECT_API_URL` names one. The user's own settings win."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Prefect's client telemetry printed a notice into runs in a terminal
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "CRITICAL")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    # instrument slots are leased: on disk, a lease whose holder was killed (kill -9) expires and frees its
    # slot after a restart; in memory (Prefect's default) it is forgotten and the slot stays taken for good
    os.environ.setdefault("PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE", "prefect.server.concurrency.lease_storage.filesystem")
