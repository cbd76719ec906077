"""RobotClient against scripted robots (httpx.MockTransport); the JSON shapes are those robot-server 8.1.0 sends."""

from __future__ import annotations

import json
from typing import Callable

import httpx
import pytest

from retort.instruments.errors import InstrumentError
from retort.instruments.opentrons.client import (
    RobotBusy,
    RobotClient,
    RobotError,
    RobotHTTPError,
    RobotTimeout,
    RobotUnreachable,
    RunNotPlayable,
)
from retort.orchestrator.flows.server import free_port

URL = "http://robot.test:31950"
OT2_INSTRUMENTS = {
    "data": [
        {"mount": "left", "instrumentType": "pipette", "instrumentModel": "p20_single_v2.2", "serialNumber": "P20SV222021040709",
         "subsystem": "pipette_left", "ok": True, "data": {"channels": 1, "min_volume": 1.0, "max_volume": 20.0},
         "instrumentName": "p20_single_gen2"},
        {"mount": "right", "instrumentType": "pipette", "instrumentModel": "p300_single_v2.1", "serialNumber": "P3HSV202021042602",
         "subsystem": "pipette_right", "ok": True, "data": {"channels": 1, "min_volume": 20.0, "max_volume": 300.0},
         "instrumentName": "p300_single_gen2"},
    ],
    "meta": {"cursor": 0, "totalLength": 2},
}
FLEX_INSTRUMENTS = {
    "data": [
        {"mount": "left", "instrumentType": "pipette", "instrumentModel": "p50_single_v3.4", "serialNumber": "P50S3420230215A01",
         "subsystem": "pipette_left", "ok": True, "firmwareVersion": "1", "data": {"channels": 1, "min_volume": 5.0, "max_volume": 50.0},
         "instrumentName": "p50_single_flex", "state": {"tipDetected": False}},
        {"mount": "right", "instrumentType": "pipette", "instrumentModel": "p1000_single_v3.4", "serialNumber": "P1KS3420230215A02",
         "subsystem": "pipette_right", "ok": True, "data": {"channels": 1, "min_volume": 5.0, "max_volume": 1000.0},
         "instrumentName": "p1000_single_flex", "state": {"tipDetected": False}},
        {"mount": "extension", "instrumentType": "gripper", "instrumentModel": "gripperV1", "serialNumber": "GRPV1120230323A01",
         "subsystem": "gripper", "ok": True, "firmwareVersion": "1", "data": {"jawState": "homed_ready"}},
    ],
    "meta": {"cursor": 0, "totalLength": 3},
}
RUN_ALREADY_ACTIVE = {"errors": [{"id": "RunAlreadyActive", "title": "Run Already Active", "detail": "Current run is not idle or stopped.", "errorCode": "4001"}]}
PARAMETER_500 = {"errors": [{"id": "UnexpectedError", "title": "Unexpected Internal Error", "errorCode": "4000",
                             "detail": "opentrons.protocols.parameters.exceptions.ParameterValueError: Parameter must be between 20.0 and 200.0 inclusive."}]}
RUN_NOT_FOUND_500 = {"errors": [{"id": "UnexpectedError", "title": "Unexpected Internal Error", "errorCode": "4000", "detail": "Run r0 was not found."}]}


class FakeClock:
    """A monotonic clock that only `sleep` advances."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run_body(run_id: str, status: str, protocol_id: str = "p-other", actions: tuple[str, ...] = ("play",), current: bool = True) -> dict:
    return {"data": {"id": run_id, "status": status, "current": current, "protocolId": protocol_id, "errors": [], "labware": [],
                     "actions": [{"id": f"a{i}", "actionType": a} for i, a in enumerate(actions)], "createdAt": "2026-01-01T00:00:00+00:00"}}


class Robot:
    """A scripted robot: `routes` maps "METHOD /path" to a list of responses served in turn (the last repeats)."""

    def __init__(self, routes: dict[str, list]) -> None:
        self.routes = {k: list(v) for k, v in routes.items()}
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        key = f"{request.method} {request.url.path}"
        queue = self.routes.get(key)
        if not queue:
            return httpx.Response(404, json={"errors": [{"id": "RouteNotFound", "detail": key, "errorCode": "4000"}]})
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        if callable(item):
            return item(request)
        status, body = item
        return httpx.Response(status, json=body)

    def count(self, key: str) -> int:
        return sum(1 for r in self.calls if f"{r.method} {r.url.path}" == key)


def client_for(robot: Callable[[httpx.Request], httpx.Response], clock: FakeClock | None = None) -> RobotClient:
    clock = clock or FakeClock()
    return RobotClient(URL, http=httpx.Client(transport=httpx.MockTransport(robot)), poll=0.5, clock=clock, sleep=clock.sleep)


NO_CURRENT = (200, {"data": [], "links": {}, "meta": {"cursor": 0, "totalLength": 0}})


def current(run_id: str) -> tuple[int, dict]:
    return 200, {"data": [], "links": {"current": {"href": f"/runs/{run_id}"}}, "meta": {"cursor": 0, "totalLength": 1}}


def test_every_request_sends_the_version_header_and_errors_are_instrument_errors():
    robot = Robot({"GET /instruments": [(200, OT2_INSTRUMENTS)]})
    client = client_for(robot)
    assert client.attached_pipettes() == {"left": "p20_single_gen2", "right": "p300_single_gen2"}
    assert robot.calls[0].headers["Opentrons-Version"] == "3"
    assert issubclass(RobotError, InstrumentError)


def test_attached_pipettes_reads_flex_instrument_names_and_skips_the_gripper():
    client = client_for(Robot({"GET /instruments": [(200, FLEX_INSTRUMENTS)]}))
    assert client.attached_pipettes() == {"left": "p50_single_flex", "right": "p1000_single_flex"}


def test_a_pipette_that_is_not_ok_is_an_error_naming_its_mount():
    bad = json.loads(json.dumps(FLEX_INSTRUMENTS))
    bad["data"][1] = {"mount": "right", "instrumentType": "pipette", "subsystem": "pipette_right", "ok": False}
    with pytest.raises(RobotError, match="right pipette"):
        client_for(Robot({"GET /instruments": [(200, bad)]})).attached_pipettes()


def test_health_detects_the_simulator_by_its_serial():
    health = {"name": "opentrons-sim-ot2", "robot_model": "OT-2 Standard", "api_version": "8.1.0", "robot_serial": "simulator",
              "maximum_protocol_api_version": [2, 20]}
    real = dict(health, robot_serial="OT2CEP20210817R04")
    assert client_for(Robot({"GET /health": [(200, health)]})).health().simulating
    assert not client_for(Robot({"GET /health": [(200, real)]})).health().simulating


def test_create_run_waits_for_an_active_run_to_finish():
    clock = FakeClock()
    robot = Robot({
        "GET /runs": [current("r0")],
        "GET /runs/r0": [(200, run_body("r0", "running")), (200, run_body("r0", "running")), (200, run_body("r0", "succeeded"))],
        "POST /runs": [(201, run_body("r1", "idle", "p1", actions=()))],
    })
    assert client_for(robot, clock).create_run("p1", busy_timeout=30) == "r1"
    assert robot.count("POST /runs") == 1
    assert clock.now == pytest.approx(1.0)


def test_create_run_409_then_idle_retries():
    clock = FakeClock()
    robot = Robot({
        "GET /runs": [NO_CURRENT, current("r0"), current("r0")],
        "GET /runs/r0": [(200, run_body("r0", "running")), (200, run_body("r0", "stopped"))],
        "POST /runs": [(409, RUN_ALREADY_ACTIVE), (201, run_body("r1", "idle", "p1", actions=()))],
    })
    assert client_for(robot, clock).create_run("p1", busy_timeout=30) == "r1"
    assert robot.count("POST /runs") == 2


def test_create_run_409_past_the_deadline_names_the_active_run():
    clock = FakeClock()
    robot = Robot({
        "GET /runs": [NO_CURRENT, current("r0")],
        "GET /runs/r0": [(200, run_body("r0", "paused"))],
        "POST /runs": [(409, RUN_ALREADY_ACTIVE)],
    })
    with pytest.raises(RobotBusy, match="r0 \\(paused") as caught:
        client_for(robot, clock).create_run("p1", busy_timeout=5)
    assert caught.value.run_id == "r0" and caught.value.run_status == "paused"
    assert 5 <= clock.now <= 6


def test_create_run_never_replaces_an_idle_run_of_another_protocol():
    robot = Robot({"GET /runs": [current("r0")], "GET /runs/r0": [(200, run_body("r0", "idle", "p-other", actions=()))]})
    with pytest.raises(RobotBusy, match="r0 \\(idle"):
        client_for(robot).create_run("p1", busy_timeout=0)
    assert robot.count("POST /runs") == 0


def test_create_run_adopts_its_own_idle_run():
    robot = Robot({"GET /runs": [current("r0")], "GET /runs/r0": [(200, run_body("r0", "idle", "p1", actions=()))]})
    assert client_for(robot).create_run("p1") == "r0"
    assert robot.count("POST /runs") == 0


def test_create_run_retries_a_500_once():
    robot = Robot({"GET /runs": [NO_CURRENT], "POST /runs": [(500, RUN_NOT_FOUND_500), (201, run_body("r1", "idle", "p1", actions=()))]})
    assert client_for(robot).create_run("p1") == "r1"
    assert robot.count("POST /runs") == 2


def test_create_run_two_500s_raise_the_first_detail():
    robot = Robot({"GET /runs": [NO_CURRENT], "POST /runs": [(500, PARAMETER_500), (500, RUN_NOT_FOUND_500)]})
    with pytest.raises(RobotHTTPError) as caught:
        client_for(robot).create_run("p1", run_time_parameters={"vol": 500})
    error = caught.value
    assert error.status == 500 and "Parameter must be between" in error.detail
    assert URL in str(error) and "HTTP 500" in str(error) and "retried once" in str(error)
    assert robot.count("POST /runs") == 2
    assert json.loads(robot.calls[-1].content)["data"]["runTimeParameterValues"] == {"vol": 500}


def test_a_connection_dropped_after_a_500_is_retried():
    robot = Robot({
        "GET /runs": [NO_CURRENT, httpx.ReadError("Connection reset by peer"), NO_CURRENT],
        "POST /runs": [(500, PARAMETER_500), (201, run_body("r1", "idle", "p1", actions=()))],
    })
    assert client_for(robot).create_run("p1") == "r1"
    assert robot.count("GET /runs") == 3


def test_a_dropped_post_without_a_500_before_is_not_retried():
    robot = Robot({"GET /runs": [NO_CURRENT], "POST /runs": [httpx.RemoteProtocolError("Server disconnected"), (201, run_body("r1", "idle"))]})
    with pytest.raises(RobotUnreachable, match="dropped during POST /runs"):
        client_for(robot).create_run("p1")
    assert robot.count("POST /runs") == 1


def test_connection_refused_is_robot_unreachable():
    port = free_port()  # nothing listens on it
    client = RobotClient(f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(RobotUnreachable, match=f"cannot connect to the robot at http://127.0.0.1:{port}"):
        client.health()
    client.close()


def test_a_timeout_is_robot_unreachable():
    robot = Robot({"GET /health": [httpx.ReadTimeout("timed out")]})
    with pytest.raises(RobotUnreachable, match="did not answer GET /health within 10 s"):
        client_for(robot).health()


def test_http_errors_name_url_status_and_the_robot_detail():
    body = {"errors": [{"id": "RunNotFound", "title": "Run Not Found", "detail": "Run nope was not found.", "errorCode": "4000"}]}
    with pytest.raises(RobotHTTPError) as caught:
        client_for(Robot({"GET /runs/nope": [(404, body)]})).run("nope")
    message = str(caught.value)
    assert caught.value.status == 404 and caught.value.error_id == "RunNotFound"
    assert f"{URL} answered GET /runs/nope with HTTP 404, RunNotFound (errorCode 4000): Run nope was not found;" in message
    assert "most recent 20 runs" in message


def test_commands_follow_pages_from_cursor_zero():
    commands = [{"id": f"c{i}", "commandType": "comment", "status": "succeeded", "params": {}} for i in range(45)]

    def page(request: httpx.Request) -> httpx.Response:
        cursor, length = int(request.url.params["cursor"]), int(request.url.params["pageLength"])
        return httpx.Response(200, json={"data": commands[cursor:cursor + length], "meta": {"cursor": cursor, "totalLength": 45}, "links": {}})

    robot = Robot({"GET /runs/r1/commands": [page]})
    assert client_for(robot).commands("r1", page_length=20) == commands
    assert [r.url.params["cursor"] for r in robot.calls] == ["0", "20", "40"]


def test_wait_analysis_polls_until_completed():
    pending = {"data": {"id": "a1", "status": "pending"}}
    done = {"data": {"id": "a1", "status": "completed", "result": "not-ok", "errors": [{"errorType": "X", "detail": "bad"}]}}
    clock = FakeClock()
    analysis = client_for(Robot({"GET /protocols/p1/analyses/a1": [(200, pending), (200, pending), (200, done)]}), clock).wait_analysis("p1", "a1", 10)
    assert not analysis.ok and analysis.errors[0]["detail"] == "bad"
    with pytest.raises(RobotTimeout, match="within 1 s"):
        client_for(Robot({"GET /protocols/p1/analyses/a1": [(200, pending)]})).wait_analysis("p1", "a1", 1)


def test_upload_returns_protocol_and_latest_analysis():
    body = {"data": {"id": "p1", "analysisSummaries": [{"id": "a0", "status": "completed"}, {"id": "a1", "status": "pending"}]}}
    robot = Robot({"POST /protocols": [(201, body)]})
    uploaded = client_for(robot).upload_protocol("print('hi')\n", "batch.py")
    assert (uploaded.protocol_id, uploaded.analysis_id) == ("p1", "a1")
    assert b'filename="batch.py"' in robot.calls[0].content


def test_play_refuses_a_run_that_is_no_longer_playable():
    for body in (run_body("r1", "stopped"), run_body("r1", "idle", current=False)):
        robot = Robot({"GET /runs/r1": [(200, body)]})
        with pytest.raises(RunNotPlayable, match="r1"):
            client_for(robot).play("r1")
        assert robot.count("POST /runs/r1/actions") == 0


def test_wait_run_stops_a_run_awaiting_recovery():
    robot = Robot({
        "GET /runs/r1": [(200, run_body("r1", "running")), (200, run_body("r1", "awaiting-recovery")),
                         (200, run_body("r1", "awaiting-recovery")), (200, run_body("r1", "stop-requested")), (200, run_body("r1", "stopped"))],
        "POST /runs/r1/actions": [(201, {"data": {"id": "a", "actionType": "stop"}})],
    })
    assert client_for(robot).wait_run("r1", timeout=60).status == "stopped"
    assert json.loads(robot.calls[3].content) == {"data": {"actionType": "stop"}}
    assert robot.count("POST /runs/r1/actions") == 1


def test_wait_run_times_out_and_leaves_the_run_alone():
    robot = Robot({"GET /runs/r1": [(200, run_body("r1", "running"))]})
    with pytest.raises(RobotTimeout, match="still running after 2 s"):
        client_for(robot).wait_run("r1", timeout=2)
    assert robot.count("POST /runs/r1/actions") == 0


def test_a_current_run_the_robot_cannot_find_is_no_current_run():
    """After a POST /runs that answered 500, robot-server links a current run that GET /runs/{id} does not know (404)."""
    not_found = {"errors": [{"id": "RunNotFound", "detail": "Run r9 was not found.", "errorCode": "4000"}]}
    robot = Robot({"GET /runs": [current("r9")], "GET /runs/r9": [(404, not_found)], "POST /runs": [(201, run_body("r1", "idle", "p1", actions=()))]})
    client = client_for(robot)
    assert client.current_run() is None
    assert client.create_run("p1") == "r1"


def test_waiting_for_a_run_that_was_never_played_fails_at_once():
    robot = Robot({"GET /runs/r1": [(200, run_body("r1", "idle", actions=()))]})
    with pytest.raises(RunNotPlayable, match="never played"):
        client_for(robot).wait_run("r1", timeout=3600)


def test_a_409_without_an_active_run_is_waited_out_then_reported():
    clock = FakeClock()
    robot = Robot({"GET /runs": [NO_CURRENT], "POST /runs": [(409, RUN_ALREADY_ACTIVE)]})
    with pytest.raises(RobotBusy, match="reports no active run"):
        client_for(robot, clock).create_run("p1", busy_timeout=2)
    assert robot.count("POST /runs") == 5 and clock.now == pytest.approx(2.0)


NOT_READY = (503, {"errors": [{"id": "ServiceUnavailable", "title": "Service Unavailable", "detail": "The robot is still starting.",
                               "errorCode": "4000"}]})


def test_a_robot_still_starting_is_asked_again_after_1_and_4_s_and_refused_past_the_deadline():
    body = {"data": {"id": "p1", "analysisSummaries": [{"id": "a1", "status": "pending"}]}}
    clock = FakeClock()
    robot = Robot({"POST /protocols": [NOT_READY, NOT_READY, (201, body)]})
    assert client_for(robot, clock).upload_protocol("print('hi')\n", "batch.py").protocol_id == "p1"
    assert robot.count("POST /protocols") == 3 and clock.now == 5.0
    clock = FakeClock()
    never = Robot({"POST /protocols": [NOT_READY]})
    with pytest.raises(RobotHTTPError, match="HTTP 503.*the robot's server is not ready") as refused:
        client_for(never, clock).upload_protocol("print('hi')\n", "batch.py")
    assert refused.value.status == 503 and never.count("POST /protocols") == 4 and clock.now == 21.0  # 1 + 4 + 16 s, within 30


def test_an_answer_that_is_not_a_robots_is_named_not_shown(tmp_path):
    """Something else on the robot's address (a web server's HTML 404): the message says so, without the page."""
    import functools
    import threading
    from http.server import HTTPServer, SimpleHTTPRequestHandler

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))  # an empty folder: 404 pages
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with RobotClient(f"http://127.0.0.1:{server.server_port}") as client, pytest.raises(RobotHTTPError) as refused:
            client.attached_pipettes()
    finally:
        server.shutdown()
    message = str(refused.value)
    assert "HTTP 404" in message and "the answer is not a robot's (text/html" in message and "something else answers there" in message
    assert "<html" not in message.lower() and "<!doctype" not in message.lower() and "most recent 20 runs" not in message
