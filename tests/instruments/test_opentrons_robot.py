"""OpentronsBackend and RobotClient against Opentrons' real robot-server 8.1.0 (simulated OT-2 and Flex).

Needs ../shared/opentrons-robot-server and Python 3.10 (skipped otherwise) and Opentrons' local
analysis environment (built on first use by the `opentrons_venv` fixture). Fixtures come from
`tests.instruments.robot_fixtures`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from retort.instruments.opentrons.analysis import analyse
from retort.instruments.opentrons.backend import Deadlines, OpentronsBackend
from retort.instruments.opentrons.client import PipetteMismatch, RobotBusy, RobotClient, RobotHTTPError
from retort.instruments.plan import Plan
from retort.instruments.protocols import run_plan
from tests.instruments.opentrons_fakes import deck, long_plan, plan
from tests.instruments.robot_server import RobotServer

pytestmark = pytest.mark.robot_server

ROBOT_TYPES = {"ot2": "OT-2", "flex": "Flex"}
HEADERS = {"Opentrons-Version": "3"}


@pytest.fixture
def backend(robot_server: RobotServer, opentrons_venv) -> Iterator[OpentronsBackend]:
    """A backend on the robot-server with Opentrons' local analysis; leaves no active run behind."""
    robot = robot_server.robot

    def local(source: str):
        return analyse(source, robot=robot, venv=opentrons_venv)

    with OpentronsBackend(robot_server.url, analyse=local, deadlines=Deadlines(busy=2, run=300, poll=0.1)) as b:
        yield b
        active = b.client.current_run()
        if active is not None and not active.finished:
            b.client.stop(active.id)
            b.client.wait_run(active.id, timeout=60)


def amounts(dispensed) -> dict[str, float]:
    return {d.liquid: d.volume for d in dispensed}


def wait_for_marker(client: RobotClient, run_id: str, seq: int, timeout: float = 60) -> None:
    """Wait until the run has started experiment `seq` (its marker comment ran)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        commands = client.commands(run_id)
        if any(c["commandType"] == "comment" and c["params"].get("message", "").startswith(f"retort experiment {seq} ") for c in commands):
            return
        time.sleep(0.05)
    raise TimeoutError(f"run {run_id} did not reach experiment {seq} in {timeout} s")


def test_a_plan_runs_end_to_end(backend: OpentronsBackend, robot_server: RobotServer):
    p = plan(deck(robot_server.robot), experiments=3, transfers=3)
    report = run_plan(backend, p)
    assert report.status == "succeeded", report.error
    assert [e.status for e in report.experiments] == ["done"] * 3
    for got, planned in zip(report.experiments, p.experiments):
        assert amounts(got.dispensed) == pytest.approx(planned.recipe(p.deck))
    assert report.tips_used == tuple(p.tips())
    commands = backend.client.commands(report.run_id)
    assert backend.client.commands(report.run_id, page_length=7) == commands
    assert [c["id"] for c in report.log] == [c["id"] for c in commands]
    assert 0 < report.seconds < 60


def test_swapped_pipettes_are_refused_before_any_run_is_created(backend: OpentronsBackend, robot_server: RobotServer):
    runs_before = {r.id for r in backend.client.runs()}
    with pytest.raises(PipetteMismatch, match="left mount: the deck says") as caught:
        backend.check(deck(robot_server.robot, swap_mounts=True))
    assert "right mount: the deck says" in str(caught.value) and robot_server.url in str(caught.value)
    assert {r.id for r in backend.client.runs()} == runs_before


def test_a_module_the_robot_does_not_have_is_refused_before_any_run_and_one_it_has_passes(backend: OpentronsBackend, robot_server: RobotServer):
    """The simulated OT-2 has a Temperature and a Magnetic Module GEN2; the simulated Flex a Temperature Module GEN2 and
    a Heater-Shaker. A Heater-Shaker on the OT-2's deck (or a Magnetic Module on the Flex's) is refused by GET /modules."""
    from retort.instruments.opentrons.client import ModuleMismatch

    base = deck(robot_server.robot)
    have, lack = (("7", "temperature module gen2"), ("9", "heaterShakerModuleV1")) if robot_server.robot == "ot2" else \
        (("B1", "temperatureModuleV2"), ("B2", "magnetic module gen2"))
    backend.check(base.model_copy(update={"modules": dict([have])}))  # attached: passes
    runs_before = {r.id for r in backend.client.runs()}
    with pytest.raises(ModuleMismatch, match=f"slot {lack[0]}: {lack[1]}") as caught:
        backend.check(base.model_copy(update={"modules": dict([have, lack])}))
    assert "nothing was reserved or sent to the robot" in str(caught.value) and robot_server.url in str(caught.value)
    assert {r.id for r in backend.client.runs()} == runs_before


def test_unchecked_the_robot_itself_fails_the_run_at_load_pipette(backend: OpentronsBackend, robot_server: RobotServer):
    """What `check` prevents: analysis passes, the run fails when it loads the pipettes (error 3010)."""
    p = plan(deck(robot_server.robot, swap_mounts=True), experiments=2, transfers=1)
    submission = backend.submit(p)
    backend.play(submission.run_id)
    report = backend.collect(p, submission)
    assert report.status == "failed"
    assert [e.status for e in report.experiments] == ["not_started", "not_started"]
    assert "FailedToLoadPipetteError (error 3010): mount LEFT: expected instrument" in report.error
    assert report.tips_used == ()


def test_a_busy_robot_is_waited_for_then_reported(backend: OpentronsBackend, robot_server: RobotServer):
    p = long_plan(deck(robot_server.robot), experiments=30)
    submission = backend.submit(p)
    client = backend.client
    client.play(submission.run_id)
    client.pause(submission.run_id)
    deadline = time.monotonic() + 30
    while client.run(submission.run_id).status != "paused" and time.monotonic() < deadline:
        time.sleep(0.05)
    # the server's own answer to a second run while one is paused
    raw = httpx.post(f"{robot_server.url}/runs", json={"data": {"protocolId": submission.protocol_id}}, headers=HEADERS)
    assert raw.status_code == 409 and raw.json()["errors"][0]["id"] == "RunAlreadyActive"
    with pytest.raises(RobotBusy, match=f"busy with run {submission.run_id} \\(paused") as caught:
        client.create_run(submission.protocol_id, busy_timeout=1)
    assert caught.value.run_id == submission.run_id
    # 409, then the run ends: create_run waits and succeeds
    stopper = threading.Timer(1.0, client.stop, args=(submission.run_id,))
    stopper.start()
    started = time.monotonic()
    try:
        run_id = client.create_run(submission.protocol_id, busy_timeout=30)
    finally:
        stopper.join()
    assert run_id != submission.run_id and time.monotonic() - started >= 0.9
    assert client.run(submission.run_id).status == "stopped"
    # an idle run is replaced silently by the server; the client refuses to replace it
    other = plan(deck(robot_server.robot), experiments=1, transfers=1)
    with pytest.raises(RobotBusy, match=f"busy with run {run_id} \\(idle"):
        backend.submit(other)
    assert client.current_run().id == run_id


def test_stopping_a_playing_run(backend: OpentronsBackend, robot_server: RobotServer):
    p: Plan = long_plan(deck(robot_server.robot), experiments=30)
    submission = backend.submit(p)
    backend.play(submission.run_id)
    wait_for_marker(backend.client, submission.run_id, 3)
    backend.stop(submission)
    report = backend.collect(p, submission, timeout=60)
    assert report.status == "stopped" and report.error == "the run was stopped"
    statuses = [e.status for e in report.experiments]
    done = statuses.count("done")
    assert 2 <= done < len(statuses)
    assert statuses[:done] == ["done"] * done
    assert set(statuses[done + 1:]) == {"not_started"}
    for got, planned in zip(report.experiments[:done], p.experiments):
        assert amounts(got.dispensed) == pytest.approx(planned.recipe(p.deck))
    assert report.tips_used == tuple(p.tips()[: len(report.tips_used)])


def test_the_500_after_a_failed_run_creation_is_absorbed(backend: OpentronsBackend, robot_server: RobotServer):
    source = (
        "from opentrons import protocol_api\n\n"
        f"requirements = {{'robotType': {ROBOT_TYPES[robot_server.robot]!r}, 'apiLevel': '2.20'}}\n\n\n"
        "def add_parameters(parameters):\n"
        "    parameters.add_float(variable_name='volume', display_name='Volume', default=50.0, minimum=20.0, maximum=200.0)\n\n\n"
        "def run(protocol: protocol_api.ProtocolContext) -> None:\n"
        "    protocol.comment(f'volume {protocol.params.volume}')\n"
    )
    client = backend.client
    uploaded = client.upload_protocol(source, "parameters.py")
    assert client.wait_analysis(uploaded.protocol_id, uploaded.analysis_id, timeout=60).ok
    # an out-of-range value: 500, and the server's follow-up 500 is spent on the one retry
    with pytest.raises(RobotHTTPError, match="Parameter must be between 20.0 and 200.0") as caught:
        client.create_run(uploaded.protocol_id, run_time_parameters={"volume": 500.0})
    assert caught.value.status == 500 and "retried once" in str(caught.value)
    first = client.create_run(uploaded.protocol_id, run_time_parameters={"volume": 50.0})
    client.stop(first)
    deadline = time.monotonic() + 30
    while not client.run(first).finished and time.monotonic() < deadline:  # a stop takes a moment: 409 until then
        time.sleep(0.05)
    # the server's quirk seen raw: a 500, then the next valid creation also gets a 500 - which the client retries
    raw = httpx.post(f"{robot_server.url}/runs", headers=HEADERS,
                     json={"data": {"protocolId": uploaded.protocol_id, "runTimeParameterValues": {"volume": 500.0}}})
    assert raw.status_code == 500
    run_id = client.create_run(uploaded.protocol_id, run_time_parameters={"volume": 50.0})
    assert client.run(run_id).status == "idle"


def test_a_run_the_robot_lost_in_a_restart_is_not_blamed_on_run_retention(tmp_path, opentrons_venv):
    """A robot-server restarted with its runs cleared: the run Retort left behind is reported failed (what it did is
    unknown, so nothing it reserved comes back), saying the robot's history was cleared, not that it keeps 20 runs."""
    from tests.instruments import robot_server

    server = robot_server.start("ot2")
    try:
        p = plan(deck("ot2"), experiments=2)
        with OpentronsBackend(server.url, analyse=lambda source: analyse(source, robot="ot2", venv=opentrons_venv)) as backend:
            backend.setup(deck("ot2"))
            submission = backend.submit(p, label="lost")
            robot_server.stop(server)
            server = robot_server.start("ot2", port=server.port)  # back, with a fresh run history
            assert not backend.held(submission)
            report = backend.recover(p, submission, started=True)
        assert report.status == "failed" and {e.status for e in report.experiments} == {"failed"}
        assert f"no longer holds run {submission.run_id} and holds only 0 runs" in report.error
        assert "run history was cleared" in report.error and "keeps only" not in report.error
        assert report.touched is None  # unknown: everything reserved stays used
    finally:
        robot_server.stop(server)


def test_a_robot_server_still_starting_answers_503_and_is_asked_again_until_it_is_ready(caplog):
    """Opentrons' robot-server listens before its database and hardware are ready and answers 503 meanwhile (a robot
    after a restart). An upload sent then is asked again (1, 4, 16 s) and goes through once the server is ready."""
    import logging
    import socket
    import subprocess

    from retort.instruments.opentrons.client import RobotClient
    from retort.orchestrator.flows.server import free_port
    from tests.instruments import robot_server

    work, port = robot_server.default_work().absolute(), free_port()
    starting = subprocess.Popen([str(robot_server.SCRIPT), "start", "--robot", "ot2", "--port", str(port), "--work", str(work)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + robot_server.START_TIMEOUT
    try:
        while True:  # the moment it listens, long before it is ready
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert starting.poll() is None and time.monotonic() < deadline, starting.stdout.read() if starting.poll() is not None else ""
            time.sleep(0.02)
        first = httpx.get(f"http://127.0.0.1:{port}/health", headers=HEADERS, timeout=10).status_code
        with caplog.at_level(logging.INFO, logger="retort.instruments.opentrons.client"):
            with RobotClient(f"http://127.0.0.1:{port}") as client:
                uploaded = client.upload_protocol("requirements = {'robotType': 'OT-2', 'apiLevel': '2.20'}\n\ndef run(protocol):\n"
                                                  "    protocol.comment('hello')\n", "hello.py")
        assert uploaded.protocol_id and first == 503  # /health too, while it starts
        assert "is not ready (503); asking again in 1 s" in caplog.text, caplog.text
    finally:
        output, _ = starting.communicate(timeout=robot_server.START_TIMEOUT)
        values = dict(line.split("=", 1) for line in output.splitlines() if line.startswith("OT_RS_") and "=" in line)
        if "OT_RS_PIDFILE" in values:
            robot_server.stop(robot_server.RobotServer("ot2", values["OT_RS_URL"], port, Path(values["OT_RS_PIDFILE"]), work))
