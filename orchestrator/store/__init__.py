"""The store: every row Retort keeps (campaigns, experiments, measurements, model versions, decks and lab runs,
decisions and the audit trail, users and sessions, leases), behind one SQLAlchemy URL, with its schema changed
only by the Alembic migrations in `migrations/`. The only package that imports SQLModel or SQLAlchemy."""

from retort.orchestrator.store.core import Store, retry_on_conflict
from retort.orchestrator.store.urls import check_persistent, redact_url, sqlite_file_missing

__all__ = ["Store", "check_persistent", "redact_url", "retry_on_conflict", "sqlite_file_missing"]
