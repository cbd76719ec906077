"""The local Prefect server a `retort run` owns: started with the run, gone with it, however it ends.

Prefect's own ephemeral mode starts its API server as a child in the caller's process group and
session. A terminal's Ctrl-C (SIGINT to the whole group) then kills the server with the run, which
afterwards spends minutes logging connection errors; and `kill -9` of the run leaves the server
running for good. Retort starts the same server (Prefect's app under uvicorn, as Prefect's
`SubprocessASGIServer` does) itself, in a session of its own so that signals meant for the
terminal's job do not reach it, and with the kernel told to stop it when the run dies
(Linux's parent-death signal), so that not even SIGKILL of the run orphans it.

With ``PREFECT_API_URL`` set, the user's server is used and nothing is started.

Example:
    >>> with local_prefect_server():  # doctest: +SKIP
    ...     campaign_flow(campaign)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import Optional

from retort.orchestrator.errors import OrchestratorError

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class PrefectServerError(OrchestratorError):
    """The local Prefect server did not start; the message says why and where its log is."""


class LocalPrefectServer:
    """Prefect's API server on a free loopback port, in its own session, bound to this process's life.

    `start()` returns at once (the server boots while the caller imports Prefect and builds its
    lab); `wait_ready()` blocks until it answers; `stop()` stops it.
    """

    def __init__(self) -> None:
        self.process: Optional[subprocess.Popen] = None
        self.port = 0
        self.log = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="retort-prefect-server-", suffix=".log", delete=False)
        env = dict(os.environ, PREFECT_UI_ENABLED="0", PREFECT__SERVER_EPHEMERAL="1", PREFECT__SERVER_FINAL="1")
        env.pop("PREFECT_API_URL", None)
        command = [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app",
                   "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "error", "--lifespan", "on"]
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
                                        start_new_session=True, preexec_fn=_die_with(os.getpid()))

    def wait_ready(self, timeout: float = 90) -> None:
        """Block until the server answers its health check; raise `PrefectServerError` if it cannot."""
        if self.process is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PrefectServerError(f"the local Prefect server exited with code {self.process.returncode}; "
                                         f"its log is {self.log.name}")
            with contextlib.suppress(OSError):  # refused or reset while it boots
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            time.sleep(0.1)
        raise PrefectServerError(f"the local Prefect server did not answer within {timeout:g} s; its log is {self.log.name}")

    def stop(self) -> None:
        """Let Prefect send what it still holds (events, logs), then stop the server and wait for it."""
        if self.process is None:
            return
        if "prefect" in sys.modules:
            with contextlib.suppress(Exception):  # best effort: the server is about to go either way
                from prefect._internal.concurrency.services import QueueService

                QueueService.drain_all(timeout=5)
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


@contextlib.contextmanager
def local_prefect_server(wait: bool = True, timeout: float = 90) -> Iterator[LocalPrefectServer]:
    """Run a local Prefect server for the duration, or use the user's (``PREFECT_API_URL``).

    Sets ``PREFECT_API_URL`` while active, so enter it before Prefect is imported. With
    ``wait=False`` it yields as soon as the server process starts: call `wait_ready` before the
    first flow, and do slow work (imports, building the lab) in between.
    """
    server = LocalPrefectServer()
    if os.environ.get("PREFECT_API_URL"):  # the user's server: nothing to start or stop
        yield server
        return
    server.start()
    os.environ["PREFECT_API_URL"] = server.api_url
    os.environ[LOCAL_SERVER] = "1"  # an ephemeral server: no repossessor (`limits.reclaim_expired`)
    try:
        if wait:
            server.wait_ready(timeout)
        yield server
    finally:
        server.stop()
        os.environ.pop("PREFECT_API_URL", None)
        os.environ.pop(LOCAL_SERVER, None)


LOCAL_SERVER = "RETORT_LOCAL_PREFECT_SERVER"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick; free until someone binds it)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with(parent: int):
    """A `preexec_fn` asking the kernel to SIGTERM the child when `parent` dies (Linux; elsewhere a no-op)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork: the child only calls it
    except (OSError, AttributeError):
        return None

    def set_parent_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return set_parent_death_signal
