"""What the loop asks of a lab (`Lab`), and what it hands over: a batch prepared on a lab (`LabRun`, the handle
`execute` and `measure` take), the results, and what a lab recovers after a stop.

A lab turns an experiment's parameters into instrument operations (a pure function), executes them through
instrument front ends, and measures. The same lab code runs a virtual bench or, with other backends, real
instruments.
"""

from __future__ import annotations

from typing import Optional, Protocol

from pydantic import BaseModel, ConfigDict

from retort.agents.proposal import Value
from retort.instruments.plan import Plan
from retort.instruments.protocols import Submission
from retort.orchestrator.campaign import Campaign
from retort.orchestrator.errors import CampaignError, LabError
from retort.orchestrator.store.records import LabRunRecord


class LabRequest(BaseModel):
    """One experiment as a lab sees it: its number in the campaign and its parameters."""

    model_config = ConfigDict(frozen=True)

    seq: int
    params: dict[str, Value]


class LabResult(BaseModel):
    """Raw readings of one experiment (may hold NaN: the caller decides what that means).

    `failure`: the instrument answered that this experiment has no value, in its own words (a computation that did not
    converge, a molecule that cannot be embedded): the experiment is stored as failed and the campaign goes on.
    `computation`: the stored computation (its id) the readings come from, for their provenance."""

    model_config = ConfigDict(frozen=True)

    seq: int
    readings: dict[str, float]
    units: dict[str, str]
    instrument: str
    location: str
    lab_seconds: Optional[float] = None
    failure: Optional[str] = None
    computation: Optional[int] = None


class LabRun(BaseModel):
    """A batch prepared on a lab: its experiments, where each runs, and for labs that keep instrument state the
    stored lab run, its plan and its submission to the backend. `prepare` makes it; `execute` and `measure` take it;
    nothing a later step needs is kept anywhere else (a report is read back from the stored lab run)."""

    model_config = ConfigDict(frozen=True)

    requests: tuple[LabRequest, ...]
    locations: dict[int, str]
    record: Optional[LabRunRecord] = None
    plan: Optional[Plan] = None
    submission: Optional[Submission] = None  # what the backend gave for it (its ids), once submitted

    @property
    def seqs(self) -> list[int]:
        return [r.seq for r in self.requests]

    def only(self, seqs: list[int]) -> "LabRun":
        """The same lab run, for the experiments `seqs` of it (e.g. those it completed)."""
        keep = set(seqs)
        return self.model_copy(update={"requests": tuple(r for r in self.requests if r.seq in keep),
                                       "locations": {s: w for s, w in self.locations.items() if s in keep}})


class Recovery(BaseModel):
    """What a lab could collect of experiments a stopped run left running."""

    model_config = ConfigDict(frozen=True)

    collected: list[LabRun] = []  # lab runs whose report says these experiments completed: they can be measured
    not_started: list[int] = []  # nothing reached them: they go back to the queue

    @property
    def measurable(self) -> list[int]:
        return [s for run in self.collected for s in run.seqs]


class Lab(Protocol):
    """What the loop asks of a lab."""

    readings: list[str]

    def attach(self, campaign_id: int) -> None:
        """The stored campaign this lab runs for (labs keeping instrument state store it under it)."""

    def prepare(self, batch: list[LabRequest]) -> LabRun:
        """Plan the batch and reserve what it uses; returns the prepared lab run (with where each experiment runs,
        e.g. a plate well). Raises before anything moves when the lab cannot take the batch now (`DeckEmpty`,
        `LabNotReady`) or at all (`LabError`)."""

    def execute(self, run: LabRun) -> None:
        """Run a prepared batch (dispense, react). Raises `LabError` naming the experiments (`LabRunFailed` with what
        completed), or `LabTransient` when the instrument refused the run before anything moved."""

    def measure(self, run: LabRun) -> list[LabResult]:
        """Read every experiment of an executed (or recovered) lab run."""

    def recover(self, seqs: list[int]) -> Recovery:
        """Experiments a stopped run left running: collect what can be; says which can still be measured
        and which never started (the rest are lost: failed as interrupted)."""

    def unavailable(self) -> list[dict[str, Value]]:
        """Points of the search space this lab cannot run (holes in a grid); usually none."""

    def check(self, params: dict[str, Value]) -> None:
        """Raise `LabError` naming the limit if the lab could never run `params` (a point of the search space), e.g. a
        volume no pipette moves or a well overfilled. Nothing is reserved: a person's edit is checked with it."""

    def out_of_service(self) -> Optional[str]:
        """Why the instrument is out of service (it broke down; an operator releases it), or None."""

    def identity(self) -> Optional[str]:
        """The physical instrument this lab drives, the same whichever store or host drives it (a robot's URL): runs on
        it from anywhere take turns. None: a virtual instrument, which only its campaign's store shares."""


class SimpleLab:
    """Defaults for labs that keep no instrument state, whose experiment is its evaluation: each runs at
    `location(seq)`, is evaluated when measured (`result`), and nothing survives a stop."""

    def location(self, seq: int) -> str:
        raise NotImplementedError

    def result(self, request: LabRequest) -> LabResult:
        """The experiment's readings. Raises `LabError` naming it when the lab cannot answer."""
        raise NotImplementedError

    def attach(self, campaign_id: int) -> None:
        pass

    def prepare(self, batch: list[LabRequest]) -> LabRun:
        return LabRun(requests=tuple(batch), locations={r.seq: self.location(r.seq) for r in batch})

    def execute(self, run: LabRun) -> None:
        pass  # nothing to dispense: the evaluation is the measurement

    def measure(self, run: LabRun) -> list[LabResult]:
        return [self.result(r) for r in run.requests]

    def recover(self, seqs: list[int]) -> Recovery:
        return Recovery()

    def unavailable(self) -> list[dict[str, Value]]:
        return []

    def check(self, params: dict[str, Value]) -> None:
        if params in self.unavailable():
            raise LabError(f"{params} is a combination this lab cannot run (it has no measurement for it)")

    def out_of_service(self) -> Optional[str]:
        return None

    def identity(self) -> Optional[str]:
        return None


def check_readings(campaign: Campaign, readings: list[str], lab_name: str) -> None:
    """Every objective must be computed from readings the lab produces."""
    for objective in campaign.objectives:
        missing = [r for r in objective.readings if r not in readings]
        if missing:
            raise CampaignError(
                f"objective {objective.name!r} needs readings {missing}, which lab {lab_name!r} does not produce; "
                f"it produces {readings}"
            )
