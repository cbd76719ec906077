"""Errors raised by the orchestrator. `OrchestratorError` is this package's root; like every
package's root it subclasses `retort.errors.RetortError`, which the CLI maps to exit code 2."""

from retort.errors import RetortError


class OrchestratorError(RetortError):
    """Root of every error the orchestrator raises for a user to act on."""


class CampaignError(ValueError, OrchestratorError):
    """A campaign file that cannot be read or does not describe a runnable campaign."""


class StoreError(OrchestratorError):
    """The store cannot be opened or written, or holds something that conflicts with the request."""


class LabError(OrchestratorError):
    """The lab could not run or measure an experiment; the experiment is stored as failed."""


class DeckEmpty(OrchestratorError):
    """A deck must be refilled (tips, stocks, a new plate) before the next batch; nothing was dispensed."""
