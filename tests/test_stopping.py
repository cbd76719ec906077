"""Stopping `retort run` however a person or a process manager does it: a clean stop (message, exit
130, no traceback) within seconds, and no process of the run (its Prefect server included) left over.

Signals are sent the way they arrive in real life: Ctrl-C typed into a terminal (the terminal sends
SIGINT to its whole foreground process group), `kill -INT`/`kill PID` to the process alone,
`kill -TERM -PGID` to the group as process managers do, and `kill -9` at moments spread over the run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.test_end_to_end import EXAMPLE, _count_done, _retort_run

BRANIN = EXAMPLE.parent / "branin.yaml"


def _descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                alive.add(pid)
    return alive


def _wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return _alive(pids)


def _start(tmp_path: Path, terminal: bool = False):
    """`retort run` on the Branin example in a session of its own; with `terminal`, that session's
    controlling terminal is a pseudo-terminal whose master end the test holds (as a terminal emulator does)."""
    url = f"sqlite:///{tmp_path / 'stop.db'}"
    command, env = _retort_run(BRANIN, url, tmp_path)
    output = open(tmp_path / "output.txt", "w")
    if not terminal:
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        return process, url, None
    master, slave = pty.openpty()

    def take_terminal() -> None:  # what a shell does for its job: own session, the pty as controlling terminal
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdin=slave, stdout=output, stderr=subprocess.STDOUT,
                               preexec_fn=take_terminal)
    os.close(slave)
    return process, url, master


def _wait_for_experiments(url: str, n: int, process: subprocess.Popen, tmp_path: Path) -> None:
    deadline = time.monotonic() + 180
    while _count_done(url, "branin") < n and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert process.poll() is None, (tmp_path / "output.txt").read_text()
    assert _count_done(url, "branin") >= n, "the run did not get going"


@pytest.mark.parametrize("how", ["ctrl-c in a terminal", "SIGINT to the process", "SIGTERM to the process", "SIGTERM to the group"])
def test_stopping_retort_run_is_clean_however_it_is_done(tmp_path, how):
    process, url, master = _start(tmp_path, terminal=how.startswith("ctrl-c"))
    try:
        _wait_for_experiments(url, 2, process, tmp_path)
        family = _descendants(process.pid)
        assert family, "retort run should have started its local Prefect server"
        if how.startswith("ctrl-c"):
            os.write(master, b"\x03")  # the terminal turns ^C into SIGINT for its foreground process group
        elif how == "SIGINT to the process":
            process.send_signal(signal.SIGINT)
        elif how == "SIGTERM to the process":
            process.send_signal(signal.SIGTERM)
        else:
            os.killpg(process.pid, signal.SIGTERM)
        sent = time.monotonic()
        process.wait(timeout=60)
        seconds = time.monotonic() - sent
        output = (tmp_path / "output.txt").read_text()
        assert process.returncode == 130, output
        assert "stopped. Everything measured is stored" in output
        assert "Traceback" not in output and "EventsWorker" not in output and "ConnectError" not in output, output
        assert seconds < 15, f"stopping took {seconds:.1f} s"
        assert not _wait_gone(family, 10), "a process of the run outlived it"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if master is not None:
            os.close(master)


def test_kill_9_at_any_moment_leaves_no_process_behind(tmp_path):
    """Five SIGKILLs at moments spread from start-up (the server still booting) to mid-campaign."""
    for delay in (0.5, 2.0, 4.0, 7.0, 11.0):
        process, url, _ = _start(tmp_path)
        try:
            deadline = time.monotonic() + delay
            family: set[int] = set()
            while time.monotonic() < deadline and process.poll() is None:
                family |= _descendants(process.pid)
                time.sleep(0.05)
            family |= _descendants(process.pid)
            process.send_signal(signal.SIGKILL)  # to the run alone: no chance to clean up
            process.wait(timeout=10)
            assert not _wait_gone(family, 15), f"after kill -9 at {delay} s, processes {_alive(family)} were left running"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            for pid in _alive(family):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
