"""Run plans on an Opentrons robot (OT-2 or Flex) through its HTTP API.

A batch runs in steps a caller can record between, so that a crash never leaves a run unknown:

1. `OpentronsBackend.check` - the robot answers, is a simulator (or hardware is allowed), is the
   deck's robot type and carries the deck's pipettes on the deck's mounts;
2. `OpentronsBackend.submit` - render the plan as one protocol, pass Opentrons' analysis locally,
   upload it, pass the robot's own analysis, create a run (not played): a `Submission`;
3. `OpentronsBackend.play` - start that run (the only step that moves anything);
4. `OpentronsBackend.collect` - wait for the run to end, read every command and report per
   experiment (`commands.report_from_commands`); store the report before the robot forgets the
   run (it keeps its last 20).

It implements `retort.instruments.protocols.LiquidHandlerBackend` (`setup` is `check`; `start` plays a run
unless someone already started it from the robot's screen; `recover` collects a run a stopped process left
behind); `run_plan` does every step in one call.

Real hardware: Opentrons' hardware simulators report the serial number ``"simulator"`` in
``GET /health``; any other robot is real hardware, and the backend refuses to play a run on it
unless `allow_hardware` is True.

Example:
    >>> backend = OpentronsBackend("http://127.0.0.1:31950", allow_hardware=False)  # doctest: +SKIP
    >>> backend.check(plan.deck)  # doctest: +SKIP
    >>> submission = backend.submit(plan, title="batch 3")  # doctest: +SKIP
    >>> backend.start(submission)  # doctest: +SKIP
    >>> backend.collect(plan, submission).status  # doctest: +SKIP
    'succeeded'
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from retort.instruments.deck import ROBOT_TYPE, DeckConfig, Robot
from retort.instruments.opentrons.client import (
    DeckMismatch,
    HardwareRefused,
    ModuleMismatch,
    PipetteMismatch,
    ProtocolRejected,
    RobotClient,
    RobotError,
    RobotHealth,
    RobotHTTPError,
)
from retort.instruments.opentrons.commands import describe_error, report_from_commands
from retort.instruments.opentrons.protocol import API_LEVEL, digest, render
from retort.instruments.plan import ExperimentReport, Plan, RunReport
from retort.instruments.protocols import Submission

log = logging.getLogger(__name__)

ROBOT_MODELS: dict[Robot, str] = {"ot2": "OT-2 Standard", "flex": "OT-3 Standard"}
"""Deck robot -> ``robot_model`` in ``GET /health``."""
ATTACHED_NAMES: dict[str, str] = {"flex_1channel_50": "p50_single_flex", "flex_1channel_1000": "p1000_single_flex"}
"""Protocol API load name -> the ``instrumentName`` ``GET /instruments`` reports (the same name where absent)."""
MODULE_MODELS: dict[str, str] = {"temperature module gen2": "temperatureModuleV2", "magnetic module gen2": "magneticModuleV2"}
"""A deck file's module name -> the ``moduleModel`` ``GET /modules`` reports (the same name where absent)."""

Analyse = Callable[[str], Any]
"""Opentrons' local analysis of a protocol text; returns an object with ``ok``, ``errors`` and ``digest``."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Deadlines(_Frozen):
    """Seconds the backend waits at each stage."""

    request: float = Field(default=10.0, gt=0, description="one ordinary HTTP request")
    upload: float = Field(default=60.0, gt=0, description="uploading a protocol")
    analysis: float = Field(default=120.0, gt=0, description="the robot's analysis of the protocol")
    busy: float = Field(default=60.0, ge=0, description="another run finishing before ours is created")
    run: float = Field(default=4 * 3600.0, gt=0, description="play -> the run's end")
    poll: float = Field(default=0.5, gt=0, description="between status polls")


def _default_analyse(robot: Robot) -> Analyse:
    try:
        from retort.instruments.opentrons import analysis
    except ImportError as exc:  # pragma: no cover - the module ships with Retort
        raise RobotError(
            "Opentrons' local analysis (retort.instruments.opentrons.analysis) cannot be imported; pass `analyse=` "
            f"or reinstall Retort: {exc}"
        ) from exc
    return lambda source: analysis.analyse(source, robot=robot)


def default_title(plan: Plan) -> str:
    seqs = [e.seq for e in plan.experiments]
    return f"Retort {plan.deck.name} plate {plan.plate} experiments {seqs[0]}-{seqs[-1]}"


def robot_identity(url: str) -> str:
    """The robot a URL reaches, written one way: scheme, lower-case host and port (31950 when none is given), no path.

    Example:
        >>> robot_identity("http://OT2-Bench.local/")
        'opentrons http://ot2-bench.local:31950'
    """
    parts = urlsplit(url if "://" in url else f"http://{url}")
    return f"opentrons {parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or 31950}"


ROBOT_KEEPS_RUNS = 20  # an Opentrons robot deletes its oldest runs beyond this many


class OpentronsBackend:
    """Runs checked plans on one Opentrons robot.

    Args:
        url: the robot's base URL, e.g. ``http://10.0.0.5:31950``.
        allow_hardware: play runs on a robot that is not a simulator. Off by default.
        analyse: Opentrons' local analysis, called with the protocol text before anything is
            uploaded; default `retort.instruments.opentrons.analysis.analyse` (for the deck's robot).
        http: the HTTP client (tests inject one); default: one this backend owns.
        deadlines: how long to wait at each stage.
        clock: monotonic clock (s).
        sleep: sleep function.

    Example:
        >>> from retort.instruments.protocols import LiquidHandlerBackend
        >>> isinstance(OpentronsBackend("http://127.0.0.1:31950"), LiquidHandlerBackend)
        True
    """

    kind = "opentrons"  # the backend named in its reports

    def __init__(
        self,
        url: str,
        *,
        allow_hardware: bool = False,
        analyse: Optional[Analyse] = None,
        http: Optional[httpx.Client] = None,
        deadlines: Deadlines = Deadlines(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.name = f"opentrons {self.url}"
        self.identity = robot_identity(self.url)
        self.allow_hardware = allow_hardware
        self.timings: list[dict[str, float]] = []  # each submission's stage times (s), in order
        self.deadlines = deadlines
        self._analyse = analyse
        self._clock = clock
        self.client = RobotClient(
            self.url, http, timeout=deadlines.request, upload_timeout=deadlines.upload, poll=deadlines.poll, clock=clock, sleep=sleep
        )

    def close(self) -> None:
        self.client.close()

    def teardown(self) -> None:
        self.close()

    def __enter__(self) -> "OpentronsBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- 1. check --

    def setup(self, deck: DeckConfig) -> None:
        """`check` the robot against `deck`."""
        self.check(deck)

    def _require_allowed(self, health: RobotHealth) -> None:
        if health.simulating or self.allow_hardware:
            return
        raise HardwareRefused(
            f"the robot at {self.url} is real hardware ({health.robot_model} {health.name!r}, serial {health.robot_serial}); "
            "Retort moves a real robot only with allow_hardware=True, set once a person has checked its deck",
            self.url,
        )

    def check(self, deck: DeckConfig) -> RobotHealth:
        """Check the robot against `deck` before anything is sent to it.

        Raises:
            RobotUnreachable: no answer.
            HardwareRefused: real hardware and `allow_hardware` is False.
            DeckMismatch: another robot type, or robot software too old for the protocols.
            PipetteMismatch: a mount of the deck carries another pipette, or none (the message names each mount).
        """
        health = self.client.health()
        self._require_allowed(health)
        want = ROBOT_MODELS[deck.robot]
        if health.robot_model != want:
            raise DeckMismatch(
                f"deck {deck.name!r} is for an {ROBOT_TYPE[deck.robot]} but the robot at {self.url} is {health.robot_model!r}; "
                "use this deck with the right robot or fix its `robot` setting",
                self.url,
            )
        level = tuple(int(x) for x in API_LEVEL.split("."))
        if health.maximum_protocol_api_version and tuple(health.maximum_protocol_api_version) < level:
            raise DeckMismatch(
                f"the robot at {self.url} runs software {health.api_version} (protocols up to apiLevel "
                f"{'.'.join(map(str, health.maximum_protocol_api_version))}); Retort writes apiLevel {API_LEVEL}: update the robot",
                self.url,
            )
        self._check_pipettes(deck)
        self._check_modules(deck)
        return health

    def _check_modules(self, deck: DeckConfig) -> None:
        """Every module the deck places is attached (`GET /modules`), before anything is reserved or sent: a module
        missing would fail the run at its load, after tips and wells were reserved."""
        if not deck.modules:
            return
        attached = self.client.attached_modules()
        left = list(attached)
        missing = []
        for slot, name in sorted(deck.modules.items()):
            model = MODULE_MODELS.get(name, name)
            if model in left:
                left.remove(model)
            else:
                missing.append(f"slot {slot}: {name} ({model})")
        if missing:
            raise ModuleMismatch(
                f"the robot at {self.url} does not have the modules deck {deck.name!r} places: {'; '.join(missing)} "
                f"(attached: {', '.join(attached) or 'none'}). Attach and power the module, or take it out of the deck file; "
                "nothing was reserved or sent to the robot",
                self.url,
            )

    def _check_pipettes(self, deck: DeckConfig) -> None:
        attached = self.client.attached_pipettes()
        problems = []
        for mount, name in sorted(deck.pipettes.items()):
            got = attached.get(mount)
            if got != ATTACHED_NAMES.get(name, name):
                problems.append(f"{mount} mount: the deck says {name} ({ATTACHED_NAMES.get(name, name)}) but {got or 'nothing'} is attached")
        if problems:
            raise PipetteMismatch(
                f"the robot at {self.url} does not carry the pipettes of deck {deck.name!r}: {'; '.join(problems)}. "
                "Fix the deck configuration's pipettes or change the robot's pipettes; nothing was sent to the robot",
                self.url,
            )

    # -- 2. submit --

    def _local_gate(self, source: str, robot: Robot) -> Any:
        analyse = self._analyse if self._analyse is not None else _default_analyse(robot)
        analysis = analyse(source)
        errors = tuple(str(e) for e in getattr(analysis, "errors", ()) or ())
        if getattr(analysis, "ok", None) is not True:
            lines = "\n".join(f"  - {e}" for e in errors) or f"  - result {getattr(analysis, 'result', '?')!r}"
            raise ProtocolRejected(
                f"Opentrons' local analysis rejected the protocol; nothing was uploaded to {self.url}:\n{lines}", self.url, errors
            )
        analysed = getattr(analysis, "digest", None)
        if analysed is not None and analysed != digest(source):
            raise ProtocolRejected(
                f"the local analysis is of another text (digest {str(analysed)[:12]}, protocol {digest(source)[:12]}); "
                "nothing was uploaded: this is a bug in the `analyse` callable",
                self.url,
            )
        return analysis

    def submit(self, plan: Plan, label: str = "", title: Optional[str] = None) -> Submission:
        """Render `plan`, pass both analyses, upload it and create its run (not played). The protocol is named
        `title` (default: the deck, plate and experiments; `label` is not part of it, so one plan is one protocol).

        Raises:
            ProtocolRejected: the local or the robot's analysis found errors (nothing runs).
            RobotBusy: another run stayed active past the `busy` deadline.
            RobotTimeout: the robot's analysis took longer than the `analysis` deadline.
        """
        title = title or default_title(plan)
        seconds: dict[str, float] = {}
        started = self._clock()

        def lap(stage: str) -> None:
            nonlocal started
            now = self._clock()
            seconds[stage] = round(now - started, 3)
            started = now

        source = render(plan, title)
        protocol_digest = digest(source)
        lap("render")
        self._local_gate(source, plan.deck.robot)
        lap("local_analysis")
        filename = f"retort-{plan.deck.name}-plate{plan.plate}-{protocol_digest[:12]}.py"
        uploaded = self.client.upload_protocol(source, filename)
        lap("upload")
        analysis = self.client.wait_analysis(uploaded.protocol_id, uploaded.analysis_id, self.deadlines.analysis)
        lap("robot_analysis")
        if not analysis.ok:
            errors = tuple(describe_error(e) for e in analysis.errors) or (f"result {analysis.result!r}",)
            raise ProtocolRejected(
                f"the robot at {self.url} rejected protocol {uploaded.protocol_id} in its own analysis (no run was created):\n"
                + "\n".join(f"  - {e}" for e in errors),
                self.url,
                errors,
            )
        run_id = self.client.create_run(uploaded.protocol_id, busy_timeout=self.deadlines.busy)
        lap("create_run")
        log.info("run %s created on %s for %s (protocol %s)", run_id, self.url, title, uploaded.protocol_id)
        self.timings.append(seconds)
        return Submission(run_id=run_id, protocol_id=uploaded.protocol_id, digest=protocol_digest, title=title, seconds=seconds)

    def held(self, submission: Submission) -> bool:
        """Whether the robot still holds the run (it forgets runs when restarted, and keeps only its last 20)."""
        try:
            self.client.run(submission.run_id)
        except RobotHTTPError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # -- 3. start (play), stop --

    def start(self, submission: Submission) -> None:
        """Play the submitted run, unless someone started it already (from the robot's screen): it is then collected,
        never started twice."""
        state = self.client.run(submission.run_id)
        if state.status == "idle" and not state.actions:
            self.play(submission.run_id)
        else:
            log.warning("robot run %s was started outside Retort (%s); collecting it, not starting it again", submission.run_id, state.status)

    def play(self, run_id: str) -> None:
        """Start run `run_id` (checks again that the robot is a simulator or hardware is allowed).

        Raises:
            HardwareRefused: real hardware and `allow_hardware` is False.
            RunNotPlayable: the run finished, was stopped or replaced.
        """
        self._require_allowed(self.client.health())
        self.client.play(run_id)

    def stop(self, submission: Submission) -> None:
        """Stop the submitted run (nothing happens if it already ended)."""
        self.client.stop(submission.run_id)

    # -- 4. collect --

    def collect(self, plan: Plan, submission: Submission, timeout: Optional[float] = None) -> RunReport:
        """Wait for the submitted run to end, then report what it did to each experiment of `plan`.

        A Flex run waiting for error recovery is stopped; its report says so.

        Args:
            timeout: seconds to wait (default: the `run` deadline).

        Raises:
            RobotTimeout: the run is still going after `timeout` (it is left running; collect again or stop it).
        """
        started, run_id = self._clock(), submission.run_id
        state = self.client.wait_run(run_id, self.deadlines.run if timeout is None else timeout)
        commands = self.client.commands(run_id)
        seconds = state.seconds if state.seconds is not None else self._clock() - started
        report = report_from_commands(plan, commands, state.status, state.errors, run_id, seconds, labware=state.labware, backend=self.kind)
        if state.has_ever_entered_error_recovery and state.status == "stopped":
            note = "the run met an error the robot could recover from, and Retort stopped it rather than wait for a person"
            report = report.model_copy(update={"error": f"{report.error}; {note}" if report.error else note})
        return report

    # -- 5. after a restart --

    def _lost(self, run_id: str) -> str:
        """Why the robot no longer holds `run_id`: its run history was cleared (a restart or reset) when it holds fewer
        runs than it keeps, else it may have been deleted to make room."""
        held = len(self.client.runs())
        if held < ROBOT_KEEPS_RUNS:
            return (f"the robot no longer holds run {run_id} and holds only {held} runs, so it did not delete it to make room "
                    "(it keeps 20): its run history was cleared (a restart of a simulated robot, or a reset); what the run did is unknown")
        return (f"the robot no longer holds run {run_id}: it keeps only its last {ROBOT_KEEPS_RUNS} runs, and holds "
                f"{held}; what the run did is unknown")

    def recover(self, plan: Plan, submission: Submission, started: bool) -> RunReport:
        """A run a stopped process left behind: wait for it on the robot and collect it (a run never played is stopped:
        its experiments are not started). Whether the process recorded it as started does not matter: the robot says."""
        try:
            state = self.client.run(submission.run_id)
        except RobotHTTPError as exc:
            if exc.status == 404:
                why = self._lost(submission.run_id)
                return RunReport(backend=self.kind, run_id=submission.run_id, status="failed", error=why,
                                 experiments=tuple(ExperimentReport(seq=e.seq, status="failed", error=why) for e in plan.experiments))
            raise
        if state.status == "idle":
            self.stop(submission)
        return self.collect(plan, submission)
