"""Backend Protocols: what a liquid handler or a plate reader must do.

A liquid handler runs whole plans that `check_plan` has passed and reports what it did; it does not second-guess
volumes. Its backend has a lifecycle (PyLabRobot's backends are the model), in steps a caller can record between
so that a crash never leaves a run unknown:

    setup(deck) -> submit(plan, label) -> start(submission) -> collect(plan, submission) ... teardown()

`submit` does everything that moves nothing (a robot's protocol analyses, its run created) and returns the
backend's own ids (`Submission`); `start` is the only step that moves anything, and may refuse before anything
moves (`RunRefused`: safe to try again); `collect` waits for the run's end and reports it; `stop` ends a run at
any point; `recover` says, after the process driving it stopped, what became of a run it submitted. A backend
that drives hardware adds its own gates (analysis, attached instruments) before anything moves.

The virtual bench (`retort.simulators`) and Opentrons robots (`retort.instruments.opentrons`) implement it; one
contract test suite runs against every backend.
"""

from __future__ import annotations

from typing import Optional, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from retort.instruments.deck import DeckConfig
from retort.instruments.ops import ReadPlate
from retort.instruments.plan import Plan, RunReport


class Submission(BaseModel):
    """A plan handed to a backend, ready to start: the backend's own ids for it, which a restarted process needs to
    find the run again, and the time each stage of submitting took (s).

    Example:
        >>> Submission(run_id="r1", protocol_id="p1", title="batch 1").run_id
        'r1'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    protocol_id: str = ""
    digest: str = Field(default="", pattern=r"^([0-9a-f]{64})?$", description="SHA-256 of what was sent (a protocol's text)")
    title: str = ""
    seconds: dict[str, float] = Field(default_factory=dict)
    durable: bool = Field(default=True, description="the backend keeps the run beyond this process (a robot does, the virtual "
                                                     "robot does not): only then is there anything to find again after a restart")


@runtime_checkable
class LiquidHandlerBackend(Protocol):
    """Runs checked plans (the virtual bench, Opentrons HTTP, ...), step by step (see the module)."""

    name: str  # what it is and where, for messages and the stored lab run: "virtual", "opentrons http://..."
    identity: Optional[str]  # the physical instrument, the same from every store and host that drives it (a robot's URL); None: virtual

    def setup(self, deck: DeckConfig) -> None:
        """Check the instrument before anything is sent to it: it answers, it is the deck's kind, it carries the deck's pipettes."""

    def submit(self, plan: Plan, label: str) -> Submission:
        """Prepare `plan` to run (nothing moves); `label` names it in the backend's own records (e.g. the lab run's id)."""

    def held(self, submission: Submission) -> bool:
        """Whether the backend still holds a submitted run (a restarted robot forgets the runs it had)."""

    def start(self, submission: Submission) -> None:
        """Start the run: the only step that moves anything. Raises `RunRefused` when refused before anything moved."""

    def collect(self, plan: Plan, submission: Submission, timeout: Optional[float] = None) -> RunReport:
        """Wait (at most `timeout` s) for the run to end and report what it did to each experiment of `plan`."""

    def stop(self, submission: Submission) -> None:
        """Stop the run (nothing happens if it already ended)."""

    def recover(self, plan: Plan, submission: Submission, started: bool) -> RunReport:
        """What became of a run a stopped process left behind (`started`: it was recorded as started): collected from
        the instrument where it can be; experiments it cannot account for are reported failed, or not started."""

    def teardown(self) -> None:
        """Release what `setup` took (connections)."""


def run_plan(backend: LiquidHandlerBackend, plan: Plan, label: str = "") -> RunReport:
    """Set up, submit, start and collect `plan` in one call (for tests and scripts; a lab records each step)."""
    backend.setup(plan.deck)
    submission = backend.submit(plan, label)
    backend.start(submission)
    return backend.collect(plan, submission)


@runtime_checkable
class PlateReaderBackend(Protocol):
    """Reads absorbance. Returns `{well: {wavelength_nm: absorbance}}` for every requested well."""

    def read(self, op: ReadPlate) -> dict[str, dict[int, float]]: ...
