"""OpentronsBackend's gates and steps against a scripted robot (httpx.MockTransport); the real server is in test_opentrons_robot.py."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Optional

import httpx
import pytest

from retort.instruments.opentrons.backend import Deadlines, OpentronsBackend
from retort.instruments.opentrons.client import DeckMismatch, HardwareRefused, PipetteMismatch, ProtocolRejected
from retort.instruments.opentrons.protocol import digest
from retort.instruments.plan import Plan
from retort.instruments.protocols import LiquidHandlerBackend, Submission, run_plan
from tests.instruments.opentrons_fakes import CommandLog, deck, plan
from tests.instruments.test_opentrons_client import FLEX_INSTRUMENTS, OT2_INSTRUMENTS, FakeClock

URL = "http://robot.test:31950"


class FakeRobot:
    """Just enough of robot-server 8.1 to run one plan: its run 'executes' the plan's commands at once."""

    def __init__(self, plan_: Plan, *, serial: str = "simulator", model: Optional[str] = None, analysis: str = "ok") -> None:
        self.plan = plan_
        self.health = {"name": "sim", "robot_model": model or {"ot2": "OT-2 Standard", "flex": "OT-3 Standard"}[plan_.deck.robot],
                       "api_version": "8.1.0", "robot_serial": serial, "maximum_protocol_api_version": [2, 20]}
        self.instruments = OT2_INSTRUMENTS if plan_.deck.robot == "ot2" else FLEX_INSTRUMENTS
        self.analysis = analysis
        self.uploads: list[bytes] = []
        self.runs: dict[str, dict] = {}
        self.current: Optional[str] = None
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        self.calls.append(f"{method} {path}")
        if path == "/health":
            return httpx.Response(200, json=self.health)
        if path == "/instruments":
            return httpx.Response(200, json=self.instruments)
        if method == "POST" and path == "/protocols":
            self.uploads.append(request.content)
            return httpx.Response(201, json={"data": {"id": "p1", "analysisSummaries": [{"id": "a1", "status": "pending"}]}})
        if path == "/protocols/p1/analyses/a1":
            errors = [] if self.analysis == "ok" else [{"errorType": "ExceptionInProtocolError", "errorCode": "4000", "detail": "bad [line 3]",
                                                        "wrappedErrors": [{"errorType": "InvalidAspirateVolumeError", "errorCode": "4000", "detail": "too much"}]}]
            return httpx.Response(200, json={"data": {"id": "a1", "status": "completed", "result": self.analysis, "errors": errors}})
        if path == "/runs" and method == "GET":
            links = {"current": {"href": f"/runs/{self.current}"}} if self.current else {}
            return httpx.Response(200, json={"data": list(self.runs.values()), "links": links, "meta": {"cursor": 0, "totalLength": len(self.runs)}})
        if path == "/runs" and method == "POST":
            run_id = f"r{len(self.runs) + 1}"
            self.runs[run_id] = {"id": run_id, "status": "idle", "current": True, "protocolId": "p1", "errors": [], "actions": [], "labware": []}
            self.current = run_id
            return httpx.Response(201, json={"data": self.runs[run_id]})
        match = re.fullmatch(r"/runs/(\w+)(/actions|/commands)?", path)
        run = self.runs[match.group(1)]
        if match.group(2) == "/actions":
            action = json.loads(request.content)["data"]["actionType"]
            run["actions"].append({"actionType": action})
            run["status"] = {"play": "succeeded", "stop": "stopped"}[action]
            run.update(startedAt="2026-01-01T00:00:00+00:00", completedAt="2026-01-01T00:00:02.5+00:00")
            log = CommandLog(self.plan)
            run["commands"], run["labware"] = log.all(), log.run_labware()
            return httpx.Response(201, json={"data": {"actionType": action}})
        if match.group(2) == "/commands":
            commands = run.get("commands", [])
            cursor, length = int(request.url.params["cursor"]), int(request.url.params["pageLength"])
            return httpx.Response(200, json={"data": commands[cursor:cursor + length], "meta": {"cursor": cursor, "totalLength": len(commands)}})
        return httpx.Response(200, json={"data": {k: v for k, v in run.items() if k != "commands"}})


def ok_analysis(source: str) -> SimpleNamespace:
    return SimpleNamespace(ok=True, errors=(), digest=digest(source), result="ok")


def backend_for(robot: FakeRobot, **kwargs) -> OpentronsBackend:
    clock = FakeClock()
    kwargs.setdefault("analyse", ok_analysis)
    return OpentronsBackend(URL, http=httpx.Client(transport=httpx.MockTransport(robot)), clock=clock, sleep=clock.sleep,
                            deadlines=Deadlines(busy=0), **kwargs)


def test_it_is_a_liquid_handler_backend():
    assert isinstance(backend_for(FakeRobot(plan(deck("ot2"), 1, 1))), LiquidHandlerBackend)


@pytest.mark.parametrize("robot", ["ot2", "flex"])
def test_run_goes_through_every_step(robot):
    p = plan(deck(robot), experiments=2, transfers=2)
    fake = FakeRobot(p)
    report = run_plan(backend_for(fake), p)
    assert report.status == "succeeded" and report.seconds == 2.5 and report.backend == "opentrons"
    assert [e.status for e in report.experiments] == ["done", "done"]
    assert report.tips_used == tuple(p.tips())
    assert fake.calls.index("POST /protocols") < fake.calls.index("POST /runs") < fake.calls.index("POST /runs/r1/actions")


def test_submit_returns_what_a_caller_stores_between_steps():
    p = plan(deck("ot2"), experiments=1, transfers=1)
    fake = FakeRobot(p)
    submission = backend_for(fake).submit(p, title="batch 7")
    assert submission.run_id == "r1" and submission.protocol_id == "p1"
    assert set(submission.seconds) == {"render", "local_analysis", "upload", "robot_analysis", "create_run"}
    assert Submission.model_validate_json(submission.model_dump_json()) == submission
    assert b"'protocolName': 'batch 7'" in fake.uploads[0] and digest(fake.uploads[0].split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0].decode()) == submission.digest
    assert fake.runs["r1"]["actions"] == []  # created, not played


def test_real_hardware_is_refused_unless_allowed():
    p = plan(deck("ot2"), experiments=1, transfers=1)
    fake = FakeRobot(p, serial="OT2CEP20210817R04")
    with pytest.raises(HardwareRefused, match="real hardware .*serial OT2CEP20210817R04.*allow_hardware=True"):
        run_plan(backend_for(fake), p)
    assert "POST /protocols" not in fake.calls
    with pytest.raises(HardwareRefused):
        backend_for(fake).play("r1")
    assert run_plan(backend_for(fake, allow_hardware=True), p).status == "succeeded"


@pytest.mark.parametrize("robot", ["ot2", "flex"])
def test_swapped_pipettes_are_caught_before_anything_is_sent(robot):
    p = plan(deck(robot, swap_mounts=True), experiments=1, transfers=1)
    fake = FakeRobot(p)
    with pytest.raises(PipetteMismatch) as caught:
        backend_for(fake).check(p.deck)
    message = str(caught.value)
    small, big = {"ot2": ("p20_single_gen2", "p300_single_gen2"), "flex": ("p50_single_flex", "p1000_single_flex")}[robot]
    assert f"left mount: the deck says" in message and f"but {small} is attached" in message
    assert f"right mount: the deck says" in message and f"but {big} is attached" in message
    assert URL in message and not any(c.startswith("POST") for c in fake.calls)


def test_a_deck_for_another_robot_type_is_refused():
    p = plan(deck("ot2"), experiments=1, transfers=1)
    with pytest.raises(DeckMismatch, match="is for an OT-2 but the robot .* is 'OT-3 Standard'"):
        backend_for(FakeRobot(p, model="OT-3 Standard")).check(p.deck)


def test_a_protocol_the_local_analysis_rejects_is_never_uploaded():
    p = plan(deck("ot2"), experiments=1, transfers=1)
    fake = FakeRobot(p)

    def bad(source: str) -> SimpleNamespace:
        return SimpleNamespace(ok=False, errors=("line 16, aspirate: InvalidAspirateVolumeError: too much",), digest=digest(source))

    with pytest.raises(ProtocolRejected, match="(?s)local analysis rejected.*InvalidAspirateVolumeError") as caught:
        backend_for(fake, analyse=bad).submit(p)
    assert caught.value.errors and fake.uploads == []


def test_an_analysis_of_another_text_is_refused():
    p = plan(deck("ot2"), experiments=1, transfers=1)
    fake = FakeRobot(p)
    with pytest.raises(ProtocolRejected, match="another text"):
        backend_for(fake, analyse=lambda source: SimpleNamespace(ok=True, errors=(), digest="0" * 64)).submit(p)
    assert fake.uploads == []


def test_a_protocol_the_robot_rejects_gets_no_run():
    p = plan(deck("ot2"), experiments=1, transfers=1)
    fake = FakeRobot(p, analysis="not-ok")
    with pytest.raises(ProtocolRejected, match="(?s)rejected protocol p1 in its own analysis.*InvalidAspirateVolumeError \\(error 4000\\): too much \\(protocol line 3\\)"):
        backend_for(fake).submit(p)
    assert "POST /runs" not in fake.calls
