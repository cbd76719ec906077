"""Errors raised by the orchestrator. `OrchestratorError` is this package's root; like every
package's root it subclasses `retort.errors.RetortError`, which the CLI maps to exit code 2."""

from retort.errors import RetortError


class OrchestratorError(RetortError):
    """Root of every error the orchestrator raises for a user to act on."""


class CampaignError(ValueError, OrchestratorError):
    """A campaign file that cannot be read or does not describe a runnable campaign."""


class StoreError(OrchestratorError):
    """The store cannot be opened or written, or holds something that conflicts with the request."""


class UnknownCampaign(StoreError):
    """No campaign of that name in the store (the UI answers 404)."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


class DecisionError(OrchestratorError):
    """A decision on a proposal that cannot be stored (not proposed any more, values outside the space or the lab's
    limits, a bad import file); nothing was stored."""


class LabError(OrchestratorError):
    """The lab could not run or measure an experiment; the experiment is stored as failed."""


class LabNotReady(OrchestratorError):
    """The lab cannot take the batch now; nothing moved and the experiments wait, approved."""


class DeckEmpty(LabNotReady):
    """A deck must be refilled (tips, stocks, a new plate) before the next batch; nothing was dispensed."""


class LabRunFailed(LabError):
    """An instrument run failed part-way: `done` experiments completed, `failed` ones (number -> reason)
    were touched, `not_started` ones received nothing."""

    def __init__(self, message: str, done: list[int], failed: dict[int, str], not_started: list[int]) -> None:
        super().__init__(message)
        self.done, self.failed, self.not_started = list(done), dict(failed), list(not_started)


class InstrumentDown(LabRunFailed):
    """An instrument broke down (or stopped answering) during a run: as `LabRunFailed`, and the instrument
    is out of service until an operator releases it (``retort deck release``)."""

    def __init__(self, message: str, instrument: str, done: list[int], failed: dict[int, str], not_started: list[int]) -> None:
        super().__init__(message, done, failed, not_started)
        self.instrument = instrument


class LabTransient(LabNotReady):
    """The instrument refused a run before anything moved (busy, a dropped connection): safe to try again;
    the experiments wait, approved, and their reservation is kept."""
