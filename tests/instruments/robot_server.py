"""Start and stop Opentrons' real robot-server (simulated OT-2 or Flex) for tests.

The server is ``../shared/opentrons-robot-server/robot-server`` from the repository root. It
needs Python 3.10; its first start in a work folder builds a virtualenv there (about 20-60 s,
from the package registry), later starts take 5-15 s. The work folder defaults to
``~/.cache/retort-tests/robot-server`` (reused between test sessions); set
``RETORT_ROBOT_SERVER_WORK`` to use another.

Example:
    >>> with running("ot2") as server:  # doctest: +SKIP
    ...     httpx.get(server.url + "/health", headers={"Opentrons-Version": "3"}).status_code
    200
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, Optional

from retort.orchestrator.flows.server import free_port

Robot = Literal["ot2", "flex"]

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "opentrons-robot-server"
SCRIPT = SHARED / "robot-server"
WORK_ENV = "RETORT_ROBOT_SERVER_WORK"
START_TIMEOUT = 900.0  # s: a first start builds the server's virtualenv
STOP_TIMEOUT = 60.0


@dataclass(frozen=True)
class RobotServer:
    """One running robot-server."""

    robot: Robot
    url: str
    port: int
    pidfile: Path
    work: Path


def default_work() -> Path:
    return Path(os.environ.get(WORK_ENV) or Path.home() / ".cache" / "retort-tests" / "robot-server").expanduser()


def python310() -> Optional[str]:
    """The Python 3.10 the server script would use (``$OT_RS_PYTHON``, pyenv's 3.10.*, ``python3.10``), or None."""
    if os.environ.get("OT_RS_PYTHON"):
        return os.environ["OT_RS_PYTHON"]
    found = sorted(glob.glob(str(Path.home() / ".pyenv" / "versions" / "3.10.*" / "bin" / "python3.10")))
    return found[-1] if found else shutil.which("python3.10")


def unavailable() -> Optional[str]:
    """Why the robot-server cannot run here, or None if it can."""
    if not SCRIPT.is_file():
        return f"Opentrons' robot-server is not installed at {SHARED} (../shared/opentrons-robot-server from the repository root)"
    if python310() is None:
        return "Opentrons' robot-server 8.1.0 needs Python 3.10 (pyenv install 3.10, or set OT_RS_PYTHON)"
    return None


def _script(*args: str, work: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args, "--work", str(work)], capture_output=True, text=True, timeout=timeout, check=False)


def start(robot: Robot, work: Optional[Path] = None, port: Optional[int] = None, sim_config: Optional[Path] = None) -> RobotServer:
    """Start a server on a free 127.0.0.1 port (three tries), or on `port`; returns once ``GET /health`` answers.
    `sim_config`: the simulated hardware (the script's JSON; default its OT-2 or Flex, `sim_config_of`).

    Raises:
        RuntimeError: the server did not start (the message ends with the script's output).
    """
    work = (work or default_work()).absolute()
    work.mkdir(parents=True, exist_ok=True)
    output = ""
    for _ in range(3):
        chosen = port or free_port()
        extra = ("--sim-config", str(sim_config)) if sim_config else ()
        proc = _script("start", "--robot", robot, "--port", str(chosen), *extra, work=work, timeout=START_TIMEOUT)
        values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if line.startswith("OT_RS_") and "=" in line)
        if proc.returncode == 0 and "OT_RS_URL" in values:
            return RobotServer(robot=robot, url=values["OT_RS_URL"], port=chosen, pidfile=Path(values["OT_RS_PIDFILE"]), work=work)
        output = (proc.stderr + proc.stdout)[-3000:]
        if "already in use" not in output or port:
            break
    raise RuntimeError(f"robot-server ({robot}) did not start with {SCRIPT}:\n{output}")


def sim_config_of(robot: Robot, work: Optional[Path] = None) -> dict:
    """The simulated hardware the script starts `robot` with (written on its first start)."""
    import json

    return json.loads(((work or default_work()).absolute() / "simulators" / f"{robot}.json").read_text())


def stop(server: RobotServer) -> None:
    """Stop `server` (the script kills only its own uvicorn and deletes its data folder)."""
    _script("stop", "--pidfile", str(server.pidfile), work=server.work, timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def running(robot: Robot, work: Optional[Path] = None) -> Iterator[RobotServer]:
    server = start(robot, work)
    try:
        yield server
    finally:
        stop(server)


class ServerPool:
    """Servers by robot type and number (robot 2 of a type: a second server on its own port), started on first
    use and stopped by `stop_all`."""

    def __init__(self, work: Optional[Path] = None) -> None:
        self.work = work or default_work()
        self.servers: dict[tuple[str, int], RobotServer] = {}

    def get(self, robot: Robot, number: int = 1) -> RobotServer:
        if (robot, number) not in self.servers:
            self.servers[robot, number] = start(robot, self.work)
        return self.servers[robot, number]

    def stop_all(self) -> None:
        for server in self.servers.values():
            stop(server)
        self.servers.clear()
