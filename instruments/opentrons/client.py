"""A thin, typed client of an Opentrons robot's HTTP API (robot software 8.x, OT-2 and Flex).

Every request carries ``Opentrons-Version: 3``. Transport failures and HTTP errors become
`RobotError` subclasses whose message names the URL, the HTTP status, the robot's own error
(id, errorCode, detail) and what to do. The HTTP client is injected, so tests swap the transport
(`httpx.MockTransport`) or point it at Opentrons' real robot-server with simulated hardware.

Behaviour of robot-server 8.1.0 this client relies on (measured against the real server):

* ``POST /runs`` while the current run is running, paused or finishing answers 409
  ``RunAlreadyActive`` (errorCode 4001), but while the current run is *idle* it answers 201 and
  silently replaces that run (the old one becomes ``stopped``). `create_run` therefore refuses to
  replace any current run that has not finished, not only the ones the robot would refuse.
* A ``POST /runs`` that answers 500 (e.g. a run-time parameter out of range) is followed by one
  more 500 (``RunNotFoundError``) on the next ``POST /runs``; after a 500 the server also closes
  the keep-alive connection, so the next request on it may fail with "connection reset".
* ``GET /runs/{id}/commands`` without ``cursor`` pages around the *current* command, not from the
  start; the list omits each command's ``result``.
* ``play`` on a run that is stopped or no longer current answers 201 and does nothing.

Example:
    >>> client = RobotClient("http://127.0.0.1:31950")  # doctest: +SKIP
    >>> client.attached_pipettes()  # doctest: +SKIP
    {'left': 'p20_single_gen2', 'right': 'p300_single_gen2'}
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, Callable, Literal, Optional

import httpx
from pydantic import BaseModel, ConfigDict, Field

from retort.instruments.errors import InstrumentError

log = logging.getLogger(__name__)

HTTP_API_VERSION = "3"
"""Robot HTTP API version sent in ``Opentrons-Version``. Robot software 8.1 serves 2-4; 4 differs from 3 only
by removing ``/labware/calibrations``, which Retort does not use."""
TERMINAL = frozenset({"succeeded", "failed", "stopped"})
RECOVERY = frozenset({"awaiting-recovery", "awaiting-recovery-paused", "awaiting-recovery-blocked-by-open-door"})
PLAYABLE = frozenset({"idle", "paused"})
DEFAULT_PORT = 31950


# --- errors ----------------------------------------------------------------------------------------


class RobotError(InstrumentError):
    """Root of the errors talking to an Opentrons robot. `url` is the robot's base URL."""

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(message)
        self.url = url


class RobotUnreachable(RobotError, ConnectionError):
    """No answer from the robot: refused, timed out or dropped connection."""


class RobotHTTPError(RobotError):
    """The robot answered with an HTTP error.

    Attributes:
        status: HTTP status code.
        error_id: the robot's error id (e.g. ``RunAlreadyActive``), "" if none.
        error_code: the robot's errorCode (e.g. ``"4001"``), "" if none.
        detail: the robot's detail text.
    """

    def __init__(self, message: str, url: str, status: int, error_id: str = "", error_code: str = "", detail: str = "") -> None:
        super().__init__(message, url)
        self.status = status
        self.error_id = error_id
        self.error_code = error_code
        self.detail = detail


class RobotBusy(RobotError):
    """Another run is active on the robot (`run_id`, in `run_status`) and did not finish in time."""

    def __init__(self, message: str, url: str, run_id: str, run_status: str) -> None:
        super().__init__(message, url)
        self.run_id = run_id
        self.run_status = run_status


class RobotTimeout(RobotError, TimeoutError):
    """The robot did not reach the awaited state (analysis completed, run finished) before the deadline."""


class ProtocolRejected(RobotError, ValueError):
    """Opentrons' analysis (local or on the robot) found errors in a protocol; `errors` lists them."""

    def __init__(self, message: str, url: str = "", errors: tuple[str, ...] = ()) -> None:
        super().__init__(message, url)
        self.errors = errors


class DeckMismatch(RobotError, ValueError):
    """The robot is not what the deck configuration says (robot type, software, pipettes)."""


class PipetteMismatch(DeckMismatch):
    """The pipettes attached to the robot are not those the deck configuration names, mount by mount."""


class ModuleMismatch(DeckMismatch):
    """A module the deck configuration places is not attached to the robot."""


class HardwareRefused(RobotError):
    """The robot is real hardware and the backend was not allowed to move it."""


class RunNotPlayable(RobotError):
    """A run cannot be played: it finished, was stopped, or is no longer the robot's current run."""


# --- data ------------------------------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RobotHealth(_Frozen):
    """What ``GET /health`` says about a robot.

    `simulating` is True when the server drives simulated hardware: Opentrons' hardware
    simulators (OT-2 and Flex) report the serial number ``"simulator"``; a robot reports its own.
    """

    name: str
    robot_model: str
    api_version: str
    robot_serial: Optional[str] = None
    maximum_protocol_api_version: tuple[int, ...] = ()
    simulating: bool


class UploadedProtocol(_Frozen):
    """A protocol stored on the robot and the id of its (asynchronous) analysis."""

    protocol_id: str
    analysis_id: str


class RobotAnalysis(_Frozen):
    """The robot's own analysis of an uploaded protocol. `result`: ``ok``, ``not-ok`` or ``parameter-value-required``."""

    result: str
    errors: tuple[dict, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result == "ok" and not self.errors


class RunState(_Frozen):
    """A run as ``GET /runs/{id}`` reports it (the fields Retort reads)."""

    id: str
    status: str
    current: bool = False
    protocol_id: Optional[str] = None
    errors: tuple[dict, ...] = ()
    labware: tuple[dict, ...] = Field(default=(), description="loaded labware: id, loadName, location")
    actions: tuple[str, ...] = Field(default=(), description="action types posted so far (play, pause, stop)")
    has_ever_entered_error_recovery: bool = False
    started_at: Optional[datetime] = None
    completed_at: Optional[datetime] = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "RunState":
        return cls(
            id=data["id"],
            status=data["status"],
            current=bool(data.get("current")),
            protocol_id=data.get("protocolId"),
            errors=tuple(data.get("errors") or ()),
            labware=tuple(data.get("labware") or ()),
            actions=tuple(a.get("actionType", "") for a in data.get("actions") or ()),
            has_ever_entered_error_recovery=bool(data.get("hasEverEnteredErrorRecovery")),
            started_at=data.get("startedAt"),
            completed_at=data.get("completedAt"),
        )

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def seconds(self) -> Optional[float]:
        """From play to the end of the run (s), by the robot's clock; None until it started and finished."""
        if self.started_at is None or self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()


# --- helpers ---------------------------------------------------------------------------------------


NOT_A_ROBOT = "NotARobot"  # the error id given to an answer that is not a robot's JSON


def _error_fields(response: httpx.Response) -> tuple[str, str, str]:
    """(error id, errorCode, detail) from a robot error body; tolerant of the legacy ``{"message": ...}`` shape. An
    answer that is not JSON (an HTML page from a proxy or another web server) is not shown; it is named `NOT_A_ROBOT`."""
    try:
        body = response.json()
    except ValueError:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return NOT_A_ROBOT, "", f"the answer is not a robot's ({kind}, {len(response.content)} bytes)"
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return str(first.get("id", "")), str(first.get("errorCode", "")), str(first.get("detail") or first.get("title") or "")
        if "message" in body:
            return "", "", str(body["message"])
    return "", "", response.text[:500]


def _advice(status: int, error_id: str) -> str:
    if error_id == NOT_A_ROBOT:
        return "check the robot's URL: something else answers there (a robot's server listens on port 31950 and answers JSON)"
    if status == 503:
        return "the robot's server is not ready (starting after a restart?); wait a minute and try again"
    if error_id == "RunAlreadyActive":
        return "another run is active: wait for it to finish, or stop it from the Opentrons App or touchscreen"
    if error_id == "OutdatedAPIVersion":
        return "the robot refuses this client's Opentrons-Version header; update the robot software"
    if status == 404:
        return "the robot does not know this id: robots keep only their most recent 20 runs, and a restart may lose protocols"
    if status == 409:
        return "the run is not in a state that allows this; check it with GET /runs/{id}"
    if status in (400, 422):
        return "the robot rejected the request as invalid; this is a Retort bug or an unsupported robot software version"
    if status >= 500:
        return "the robot server failed internally; see GET /logs/server.log on the robot, then retry"
    return "see the robot's detail above"


# --- the client ------------------------------------------------------------------------------------


class RobotClient:
    """Typed calls to one robot's HTTP API.

    Args:
        base_url: e.g. ``http://10.0.0.5:31950`` (a robot) or ``http://127.0.0.1:31950`` (robot-server).
        http: the HTTP client to use (tests inject one with `httpx.MockTransport`); default: a new
            `httpx.Client` that `close` closes.
        timeout: seconds for one ordinary request.
        upload_timeout: seconds for a protocol upload.
        poll: seconds between status polls.
        clock: monotonic clock (s); injectable for tests.
        sleep: sleep function; injectable for tests.
        not_ready_deadline: seconds a request answered 503 (the robot's server still starting) is asked again for.

    Example:
        >>> import httpx
        >>> transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": []}))
        >>> RobotClient("http://robot:31950", http=httpx.Client(transport=transport)).attached_pipettes()
        {}
    """

    def __init__(
        self,
        base_url: str,
        http: Optional[httpx.Client] = None,
        *,
        timeout: float = 10.0,
        upload_timeout: float = 60.0,
        poll: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        not_ready_deadline: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client()
        self.timeout = timeout
        self.upload_timeout = upload_timeout
        self.poll = poll
        self._clock = clock
        self._sleep = sleep
        self.not_ready_deadline = not_ready_deadline
        self._last_5xx = False

    # -- lifecycle --

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> "RobotClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport --

    def _url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        files: Any = None,
        params: Optional[dict[str, Any]] = None,
        timeout: Optional[float] = None,
    ) -> httpx.Response:
        """Send one request; map transport failures and HTTP errors to `RobotError`s.

        503 (the server is not ready: a robot still starting after a restart) did nothing, so the request is sent
        again after 1, 4 and 16 s, within `not_ready_deadline` seconds, before it is refused.
        A dropped connection (reset, closed before any answer) is retried once for GETs, and for
        other methods only right after a 5xx answer: robot-server closes the keep-alive connection
        after an internal error, so the next request on it fails without having reached the server.
        """
        deadline = self._clock() + self.not_ready_deadline
        for pause in (1.0, 4.0, 16.0, None):
            response = self._send(method, path, json=json, files=files, params=params, timeout=timeout)
            if response.status_code != 503 or pause is None or self._clock() + pause > deadline:
                break
            log.info("%s %s: the robot at %s is not ready (503); asking again in %g s", method, path, self.base_url, pause)
            self._sleep(pause)
        if response.is_success:
            return response
        raise self._http_error(method, path, response)

    def _send(self, method: str, path: str, *, json: Any = None, files: Any = None, params: Optional[dict[str, Any]] = None,
              timeout: Optional[float] = None) -> httpx.Response:
        """One request and its answer, whatever the status; transport failures mapped to `RobotUnreachable`."""
        url = self._url(path)
        headers = {"Opentrons-Version": HTTP_API_VERSION}
        wait = timeout or self.timeout
        retry_allowed = method == "GET" or self._last_5xx
        try:
            try:
                response = self._http.request(method, url, json=json, files=files, params=params, headers=headers, timeout=wait)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                if not retry_allowed:
                    raise
                log.info("connection to %s dropped (%s); retrying %s %s once", self.base_url, exc, method, path)
                response = self._http.request(method, url, json=json, files=files, params=params, headers=headers, timeout=wait)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise RobotUnreachable(
                f"cannot connect to the robot at {self.base_url} ({method} {path}: {exc}); check that it is on and on this "
                f"network and that the URL is right (a robot listens on port {DEFAULT_PORT})",
                self.base_url,
            ) from exc
        except httpx.TimeoutException as exc:
            raise RobotUnreachable(
                f"the robot at {self.base_url} did not answer {method} {path} within {wait:g} s; check its network "
                "connection and that its server is running (restart it from the touchscreen or the Opentrons App)",
                self.base_url,
            ) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise RobotUnreachable(
                f"the connection to the robot at {self.base_url} dropped during {method} {path} ({exc}); "
                "check the network, then check on the robot whether the request took effect before retrying",
                self.base_url,
            ) from exc
        except httpx.HTTPError as exc:
            raise RobotUnreachable(f"{method} {url} failed: {exc}; check the robot's URL and network", self.base_url) from exc
        self._last_5xx = response.status_code >= 500
        return response

    def _http_error(self, method: str, path: str, response: httpx.Response) -> RobotHTTPError:
        error_id, code, detail = _error_fields(response)
        robot = (f"{error_id} (errorCode {code})" if code else error_id) if error_id else "an error"
        message = (
            f"the robot at {self.base_url} answered {method} {path} with HTTP {response.status_code}, {robot}: "
            f"{(detail or response.reason_phrase).rstrip('. ')}; {_advice(response.status_code, error_id)}"
        )
        return RobotHTTPError(message, self.base_url, response.status_code, error_id, code, detail)

    def _get(self, path: str, **params: Any) -> Any:
        return self._request("GET", path, params=params or None).json()

    # -- robot --

    def health(self) -> RobotHealth:
        """``GET /health``."""
        body = self._get("/health")
        serial = body.get("robot_serial")
        return RobotHealth(
            name=str(body.get("name", "")),
            robot_model=str(body.get("robot_model", "")),
            api_version=str(body.get("api_version", "")),
            robot_serial=serial,
            maximum_protocol_api_version=tuple(body.get("maximum_protocol_api_version") or ()),
            simulating=serial == "simulator",
        )

    def attached_pipettes(self) -> dict[str, str]:
        """Mount -> the attached pipette's name (``instrumentName``: ``p20_single_gen2``, ``p50_single_flex``, ...).

        Raises:
            RobotError: a pipette reports it is not ok (e.g. it needs a firmware update).
        """
        out: dict[str, str] = {}
        for item in self._get("/instruments").get("data", []):
            if item.get("instrumentType") != "pipette":
                continue
            mount = str(item.get("mount"))
            if not item.get("ok", True) or "instrumentName" not in item:
                raise RobotError(
                    f"the {mount} pipette of the robot at {self.base_url} is not usable ({item.get('instrumentModel', 'unknown model')}, "
                    f"subsystem {item.get('subsystem', '?')} reports not ok); update or re-seat it from the Opentrons App",
                    self.base_url,
                )
            out[mount] = str(item["instrumentName"])
        return out

    def attached_modules(self) -> list[str]:
        """The models of the modules attached to the robot (``temperatureModuleV2``, ``heaterShakerModuleV1``, ...)."""
        return [str(item["moduleModel"]) for item in self._get("/modules").get("data", []) if "moduleModel" in item]

    # -- protocols --

    def upload_protocol(self, source: str, filename: str) -> UploadedProtocol:
        """``POST /protocols``: store `source` as `filename`; its analysis starts asynchronously.

        Uploading text the robot already holds returns the stored protocol (HTTP 200) and its latest analysis.
        """
        files = [("files", (filename, source.encode(), "text/x-python"))]
        data = self._request("POST", "/protocols", files=files, timeout=self.upload_timeout).json()["data"]
        summaries = data.get("analysisSummaries") or []
        if not summaries:
            raise RobotError(f"the robot at {self.base_url} stored protocol {data['id']} but started no analysis of it", self.base_url)
        return UploadedProtocol(protocol_id=data["id"], analysis_id=summaries[-1]["id"])

    def wait_analysis(self, protocol_id: str, analysis_id: str, timeout: float) -> RobotAnalysis:
        """Poll ``GET /protocols/{id}/analyses/{analysisId}`` until it completes.

        Args:
            timeout: seconds to wait.

        Raises:
            RobotTimeout: not completed within `timeout`.
        """
        deadline = self._clock() + timeout
        path = f"/protocols/{protocol_id}/analyses/{analysis_id}"
        pause = min(0.05, self.poll)  # an analysis takes ~0.1 s on a robot-server: poll fast, then back off
        while True:
            data = self._get(path)["data"]
            if data.get("status") == "completed":
                return RobotAnalysis(result=str(data.get("result")), errors=tuple(data.get("errors") or ()))
            if self._clock() >= deadline:
                raise RobotTimeout(
                    f"the robot at {self.base_url} did not complete its analysis of protocol {protocol_id} within {timeout:g} s "
                    f"(status {data.get('status')!r}); retry later or raise the analysis deadline",
                    self.base_url,
                )
            self._sleep(pause)
            pause = min(self.poll, pause * 2)

    # -- runs --

    def run(self, run_id: str) -> RunState:
        """``GET /runs/{id}``."""
        return RunState.from_api(self._get(f"/runs/{run_id}")["data"])

    def runs(self) -> list[RunState]:
        """Every run the robot still holds, oldest first (a robot keeps about 20)."""
        return [RunState.from_api(d) for d in self._get("/runs").get("data", [])]

    def current_run(self) -> Optional[RunState]:
        """The robot's current run, if it has one (finished runs stay current until another is created)."""
        body = self._get("/runs", pageLength=1)
        href = (body.get("links") or {}).get("current", {}).get("href")
        if not href:
            return None
        try:
            return self.run(href.rstrip("/").rsplit("/", 1)[-1])
        except RobotHTTPError as exc:
            if exc.status == 404:  # after a failed POST /runs, robot-server links a current run it never stored
                return None
            raise

    def create_run(self, protocol_id: str, *, run_time_parameters: Optional[dict[str, Any]] = None, busy_timeout: float = 0.0) -> str:
        """``POST /runs`` for `protocol_id` (not played); returns the run id.

        Never replaces a current run that has not finished: while one is active (idle, running,
        paused, ...) this polls until it finishes or `busy_timeout` passes. An idle, never-played
        current run of the same protocol is taken as this call's own (a previous attempt whose
        answer was lost) and its id returned. A 500 is retried once (robot-server answers 500 once
        more after a failed run creation); a second 500 raises the first one's detail.

        Args:
            run_time_parameters: ``runTimeParameterValues`` for the run.
            busy_timeout: seconds to wait for another run to finish.

        Raises:
            RobotBusy: another run is still active after `busy_timeout`.
            RobotHTTPError: the robot refused the run (twice for a 500).
        """
        deadline = self._clock() + busy_timeout
        body: dict[str, Any] = {"protocolId": protocol_id}
        if run_time_parameters:
            body["runTimeParameterValues"] = run_time_parameters
        server_error: Optional[RobotHTTPError] = None
        while True:
            active = self.current_run()
            if active is not None and not active.finished:
                if active.protocol_id == protocol_id and active.status == "idle" and not active.actions:
                    log.info("adopting idle run %s of protocol %s", active.id, protocol_id)
                    return active.id
            else:
                try:
                    return self._request("POST", "/runs", json={"data": body}).json()["data"]["id"]
                except RobotHTTPError as exc:
                    if exc.status >= 500 and server_error is None:
                        log.info("POST /runs answered %s (%s); retrying once", exc.status, exc.detail)
                        server_error = exc
                        continue
                    if exc.status >= 500 and server_error is not None:
                        raise RobotHTTPError(
                            f"{server_error} (retried once: HTTP {exc.status}, {exc.detail})",
                            self.base_url,
                            server_error.status,
                            server_error.error_id,
                            server_error.error_code,
                            server_error.detail,
                        ) from exc
                    if exc.error_id != "RunAlreadyActive":
                        raise
                active = self.current_run()
            if self._clock() >= deadline:
                raise self._busy(active, busy_timeout)
            self._sleep(self.poll)

    def _busy(self, active: Optional[RunState], waited: float) -> RobotBusy:
        if active is None or active.finished:  # the robot answered 409 but names no active run
            return RobotBusy(
                f"the robot at {self.base_url} refuses new runs (RunAlreadyActive) but reports no active run; waited {waited:g} s. "
                "Check the Opentrons App or touchscreen for a run in progress",
                self.base_url,
                "",
                "unknown",
            )
        return RobotBusy(
            f"the robot at {self.base_url} is busy with run {active.id} ({active.status}, protocol {active.protocol_id}); "
            f"waited {waited:g} s. Let it finish, or stop it from the Opentrons App or with "
            f"POST /runs/{active.id}/actions {{\"data\": {{\"actionType\": \"stop\"}}}}",
            self.base_url,
            active.id,
            active.status,
        )

    def _action(self, run_id: str, action: Literal["play", "pause", "stop"]) -> None:
        self._request("POST", f"/runs/{run_id}/actions", json={"data": {"actionType": action}})

    def play(self, run_id: str) -> None:
        """Start (or resume) a run.

        Raises:
            RunNotPlayable: the run is not the current run or not idle/paused (robot-server would accept and ignore it).
        """
        state = self.run(run_id)
        if not state.current or state.status not in PLAYABLE:
            why = "is no longer the robot's current run" if not state.current else f"is {state.status}"
            raise RunNotPlayable(
                f"run {run_id} on the robot at {self.base_url} {why}, so it cannot be played; create a new run",
                self.base_url,
            )
        self._action(run_id, "play")

    def pause(self, run_id: str) -> None:
        """Pause a running run."""
        self._action(run_id, "pause")

    def stop(self, run_id: str) -> None:
        """Stop a run; a run that already finished is left as it is."""
        state = self.run(run_id)
        if state.finished:
            return
        try:
            self._action(run_id, "stop")
        except RobotHTTPError as exc:
            if exc.status == 409 and self.run(run_id).finished:
                return
            raise

    def wait_run(self, run_id: str, timeout: float, poll: Optional[float] = None, *, stop_on_recovery: bool = True) -> RunState:
        """Poll a run until it succeeded, failed or stopped.

        A Flex that meets a recoverable error waits in an ``awaiting-recovery`` state for a person;
        with `stop_on_recovery` the run is stopped then (once) and awaited to its end.

        Args:
            timeout: seconds to wait.
            poll: seconds between polls (default: the client's).

        Raises:
            RobotTimeout: still not finished after `timeout`; the run is left as it is.
            RunNotPlayable: the run is idle and was never played.
        """
        deadline = self._clock() + timeout
        stopped = False
        while True:
            state = self.run(run_id)
            if state.finished:
                return state
            if state.status == "idle" and "play" not in state.actions:
                raise RunNotPlayable(
                    f"run {run_id} on the robot at {self.base_url} was never played, so it will not finish; play it or stop it",
                    self.base_url,
                )
            if state.status in RECOVERY and stop_on_recovery and not stopped:
                log.warning("run %s is %s; stopping it", run_id, state.status)
                self.stop(run_id)
                stopped = True
                continue
            if self._clock() >= deadline:
                raise RobotTimeout(
                    f"run {run_id} on the robot at {self.base_url} is still {state.status} after {timeout:g} s; "
                    "wait longer (collect it again) or stop it",
                    self.base_url,
                )
            self._sleep(self.poll if poll is None else poll)

    def commands(self, run_id: str, page_length: int = 200) -> list[dict]:
        """Every command of a run, oldest first, following pages (``cursor`` from 0, ``pageLength``)."""
        out: list[dict] = []
        while True:
            body = self._get(f"/runs/{run_id}/commands", cursor=len(out), pageLength=page_length)
            page = body.get("data") or []
            out.extend(page)
            total = int((body.get("meta") or {}).get("totalLength", len(out)))
            if not page or len(out) >= total:
                return out
