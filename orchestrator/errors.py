"""Errors raised by the orchestrator. `RetortError` is the root; the CLI maps it to exit code 2."""


class RetortError(Exception):
    """Root of every error the orchestrator raises for a user to act on."""


class CampaignError(ValueError, RetortError):
    """A campaign file that cannot be read or does not describe a runnable campaign."""


class StoreError(RetortError):
    """The store cannot be opened, or holds something that conflicts with the request."""


class LabError(RetortError):
    """The lab could not run or measure an experiment; the experiment is stored as failed."""
