"""Opentrons' own analysis of a generated protocol, run in a separate virtualenv.

Opentrons' package (``opentrons``) cannot share Retort's environment (it pins ``jsonschema<4.18``
and ``numpy<2``; Prefect needs ``jsonschema>=4.18``), so it lives in its own Python 3.11
virtualenv and runs as a subprocess: ``python -m opentrons.cli analyze``. A protocol's code
therefore never runs in Retort's process. `setup_environment` builds that virtualenv once
(``retort opentrons setup`` or ``scripts/opentrons-env.sh``); `analyse` runs the analysis and
returns an `Analysis` tied to the exact text analysed (its SHA-256, `protocol.digest`).

Example:
    >>> from retort.instruments.opentrons.protocol import render
    >>> analysis = analyse(render(plan, title="batch 3"), robot="ot2")  # doctest: +SKIP
    >>> require_ok(analysis).commands  # doctest: +SKIP
    57
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from retort.instruments.deck import Robot
from retort.instruments.errors import InstrumentError
from retort.instruments.opentrons.environment import ENV_VAR, OPENTRONS_VERSION, default_venv  # noqa: F401 (re-exported)
from retort.instruments.opentrons.protocol import digest

PYTHON_VERSION = "3.11"
SETUP_COMMAND = "retort opentrons setup"
STAMP = ".retort-opentrons.json"
CONFIG_DIR = "opentrons-config"  # Opentrons' settings (OT_API_CONFIG_DIR), kept inside the venv, not in ~/.opentrons
# Opentrons' robotType in the analysis output -> Retort's robot name.
ROBOT_TYPES: dict[str, Robot] = {"OT-2 Standard": "ot2", "OT-3 Standard": "flex"}
PIP_NOISE = "is ignored: it is neither a file nor a directory"  # this machine's pip index notes
CACHE_SIZE = 256
STDERR_TAIL = 15


DEFAULT_VENV = default_venv()
"""`default_venv()` as it was when this module was imported."""


class AnalysisError(InstrumentError):
    """Opentrons' analysis could not run (no environment, a crash, a timeout) or found errors (`require_ok`)."""


class Analysis(BaseModel):
    """What Opentrons' analysis said about one protocol text.

    Attributes:
        digest: SHA-256 of the exact source analysed (`protocol.digest`).
        ok: Opentrons found no error (its ``result`` is ``"ok"``) and the robot matched the one expected.
        result: Opentrons' own verdict: ``"ok"``, ``"not-ok"`` or ``"parameter-value-required"``.
        errors: one line per error, naming the error, the protocol line and the command, pipette,
            labware and well involved where Opentrons says so.
        commands: how many commands the analysis produced (``home``, loads, comments, liquid handling).
        robot: the robot Opentrons read the protocol as (``"ot2"``/``"flex"``), None if it could not tell.
        seconds: wall time of the analysis subprocess.
        opentrons_version: the ``opentrons`` package that analysed it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    ok: bool
    result: str
    errors: tuple[str, ...] = ()
    commands: int = Field(ge=0)
    robot: Optional[Robot] = None
    seconds: float = Field(ge=0)
    opentrons_version: str


# --- environment ----------------------------------------------------------------------------------


def _log_stderr(message: str) -> None:
    print(f"retort: {message}", file=sys.stderr, flush=True)


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _stamp(venv: Path) -> Optional[dict]:
    """The stamp `setup_environment` wrote, if the venv is complete and for this Opentrons version."""
    try:
        stamp = json.loads((venv / STAMP).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or stamp.get("opentrons") != OPENTRONS_VERSION or not _venv_python(venv).exists():
        return None
    return stamp


def _run(argv: list[str], timeout: float, env: Optional[dict[str, str]] = None, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd, check=False)


def _probe(python: str) -> tuple[Optional[str], str]:
    """(``"3.11"`` etc., the interpreter's real path) if `python` runs and can create a virtualenv with pip, else (None, python)."""
    code = "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2]); print(getattr(sys, '_base_executable', sys.executable))"
    try:
        proc = _run([python, "-c", code], timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None, python
    lines = proc.stdout.split("\n")
    if proc.returncode != 0 or len(lines) < 2:
        return None, python
    return lines[0].strip(), lines[1].strip() or python


def _python_version(python: str) -> Optional[str]:
    return _probe(python)[0]


def _candidates() -> Iterator[str]:
    on_path = shutil.which(f"python{PYTHON_VERSION}")
    if on_path:
        yield on_path
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    versions = [p for p in (pyenv / "versions").glob(f"{PYTHON_VERSION}.*") if re.fullmatch(r"3\.11\.\d+", p.name)]
    for path in sorted(versions, key=lambda p: int(p.name.split(".")[2]), reverse=True):
        yield str(path / "bin" / "python")
    if sys.version_info[:2] == (3, 11):
        yield sys.executable


def find_python(python: Optional[str] = None) -> str:
    """A Python 3.11 interpreter able to create virtualenvs.

    Looks at `python` if given, else ``python3.11`` on PATH, pyenv's ``~/.pyenv/versions/3.11.*``
    (newest first), then the interpreter running Retort if it is 3.11.

    Returns:
        The interpreter's own path: a pyenv shim or a virtualenv's python resolves to the base interpreter.

    Raises:
        AnalysisError: none found (or `python` is not a usable 3.11).
    """
    if python is not None:
        found, real = _probe(python)
        if found != PYTHON_VERSION:
            raise AnalysisError(
                f"{python} is not a usable Python {PYTHON_VERSION} (it reports {found or 'nothing: it does not run or lacks venv/ensurepip'}); "
                f"opentrons {OPENTRONS_VERSION} needs Python {PYTHON_VERSION}"
            )
        return real
    tried = []
    for candidate in _candidates():
        found, real = _probe(candidate)
        if found == PYTHON_VERSION:
            return real
        tried.append(candidate)
    raise AnalysisError(
        f"no Python {PYTHON_VERSION} found for Opentrons' analysis environment (opentrons {OPENTRONS_VERSION} needs it; "
        f"tried {tried or 'nothing: no python3.11 on PATH, no pyenv 3.11'}). Install Python {PYTHON_VERSION} "
        f"(e.g. `pyenv install 3.11`) or pass its path: `{SETUP_COMMAND} --python /path/to/python3.11`"
    )


@contextlib.contextmanager
def _locked(venv: Path, log: Callable[[str], None]) -> Iterator[None]:
    """Hold an exclusive lock on ``.<venv name>.lock`` next to `venv` (two processes never build it at once)."""
    import fcntl

    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another process building {venv}")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tail(text: str, lines: int = STDERR_TAIL) -> str:
    kept = [line for line in text.strip().splitlines() if PIP_NOISE not in line]
    return "\n".join(kept[-lines:])


def _subprocess_env(venv: Path) -> dict[str, str]:
    """Retort's environment without what would leak its own Python into the Opentrons venv."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__"}}
    env.update(OT_API_CONFIG_DIR=str(venv / CONFIG_DIR), PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def _create_venv(venv: Path, python: Optional[str], log: Callable[[str], None]) -> None:
    if (venv / "pyvenv.cfg").exists():
        found = _python_version(str(_venv_python(venv)))
        if found == PYTHON_VERSION:
            return
        raise AnalysisError(
            f"{venv} is a virtualenv with Python {found or '(broken)'}, not {PYTHON_VERSION}; remove it and run `{SETUP_COMMAND}` again"
        )
    if venv.exists() and any(venv.iterdir()):
        raise AnalysisError(f"{venv} exists and is not a virtualenv; remove it or set ${ENV_VAR} to another directory")
    interpreter = find_python(python)
    log(f"creating Opentrons' analysis environment in {venv} with {interpreter}")
    proc = _run([interpreter, "-m", "venv", str(venv)], timeout=300)
    if proc.returncode != 0:
        raise AnalysisError(f"`{interpreter} -m venv {venv}` failed (exit {proc.returncode}):\n{_tail(proc.stderr + proc.stdout)}")


def _install(venv: Path, log: Callable[[str], None]) -> None:
    log(f"installing opentrons=={OPENTRONS_VERSION} into {venv} (about 15 s)")
    argv = [str(_venv_python(venv)), "-m", "pip", "install", "-q", f"opentrons=={OPENTRONS_VERSION}"]
    try:
        proc = _run(argv, timeout=1800, env=_subprocess_env(venv))
    except subprocess.TimeoutExpired as exc:
        raise AnalysisError(f"`pip install opentrons=={OPENTRONS_VERSION}` into {venv} did not finish in 30 min") from exc
    output = _tail(proc.stdout + proc.stderr, lines=40)
    if proc.returncode != 0:
        raise AnalysisError(f"`pip install opentrons=={OPENTRONS_VERSION}` into {venv} failed (exit {proc.returncode}):\n{output}")
    for line in output.splitlines():
        log(f"pip: {line}")


def _verify(venv: Path) -> str:
    """Import opentrons in the venv (this also writes its settings into the venv); return the Python version."""
    code = "import sys, opentrons; print(opentrons.__version__); print('%d.%d.%d' % sys.version_info[:3])"
    proc = _run([str(_venv_python(venv)), "-I", "-c", code], timeout=300, env=_subprocess_env(venv))
    lines = proc.stdout.split()
    if proc.returncode != 0 or len(lines) < 2 or lines[-2] != OPENTRONS_VERSION:
        raise AnalysisError(
            f"opentrons {OPENTRONS_VERSION} does not import in {venv} (got {lines[-2] if len(lines) >= 2 else 'nothing'}):\n"
            f"{_tail(proc.stderr)}\nremove {venv} and run `{SETUP_COMMAND}` again"
        )
    return lines[-1]


def setup_environment(venv: Optional[Path] = None, python: Optional[str] = None, log: Callable[[str], None] = _log_stderr) -> Path:
    """Build (once) the Python 3.11 virtualenv with ``opentrons==9.0.0`` that `analyse` runs in.

    Idempotent and fast (a stamp file check) when already built; safe when two processes call it
    at once (a file lock next to the venv). What ``retort opentrons setup`` and
    ``scripts/opentrons-env.sh`` run.

    Args:
        venv: where to build it; default `default_venv()`.
        python: the Python 3.11 to build it with; default: found by `find_python`.
        log: receives progress lines (default: printed to stderr).

    Returns:
        The venv's path.

    Raises:
        AnalysisError: no Python 3.11, or the venv or install failed (the message says why).

    Example:
        >>> setup_environment()  # doctest: +SKIP
        PosixPath('/root/.cache/retort/opentrons-9.0.0')
    """
    venv = Path(venv or default_venv()).expanduser().absolute()
    if _stamp(venv):
        return venv
    with _locked(venv, log):
        if _stamp(venv):  # another process built it while we waited
            return venv
        started = time.monotonic()
        _create_venv(venv, python, log)
        _install(venv, log)
        python_version = _verify(venv)
        stamp = {"opentrons": OPENTRONS_VERSION, "python": python_version, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        (venv / STAMP).write_text(json.dumps(stamp) + "\n")
        log(f"Opentrons' analysis environment is ready in {venv} ({time.monotonic() - started:.0f} s)")
    return venv


def require_environment(venv: Optional[Path] = None) -> dict:
    """Raise `AnalysisError` naming the setup command if the analysis environment is missing; else its stamp."""
    venv = venv or default_venv()
    stamp = _stamp(venv)
    if stamp is None:
        raise AnalysisError(
            f"Opentrons' analysis environment (opentrons {OPENTRONS_VERSION}, Python {PYTHON_VERSION}) is missing at {venv}; "
            f"create it with `{SETUP_COMMAND}` (or scripts/opentrons-env.sh), or point ${ENV_VAR} at one"
        )
    return stamp


# --- the analysis output (only the parts Retort reads) --------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


_WRAPPERS = {"ExceptionInProtocolError", "ProtocolCommandFailedError"}


class _ErrorOccurrence(_Out):
    id: str = ""
    errorType: str = "UnknownError"
    detail: str = ""
    wrappedErrors: list["_ErrorOccurrence"] = Field(default_factory=list)

    def cause(self) -> "_ErrorOccurrence":
        """The error under Opentrons' wrappers (``ExceptionInProtocolError [line N]: ProtocolCommandFailedError: ...``).

        Not the innermost one: below the cause, ``PythonException`` entries hold Python's exception
        chain (e.g. ``KeyError: 'opentrons/no_such_plate/1'`` under ``Labware "no_such_plate" not found``).
        """
        if self.errorType in _WRAPPERS and self.wrappedErrors:
            return self.wrappedErrors[0].cause()
        return self

    def ids(self) -> set[str]:
        return {self.id}.union(*(e.ids() for e in self.wrappedErrors))


class _Command(_Out):
    commandType: str
    status: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    error: Optional[_ErrorOccurrence] = None


class _Labware(_Out):
    id: str
    loadName: str
    location: Any = None
    displayName: Optional[str] = None


class _Pipette(_Out):
    id: str
    pipetteName: str
    mount: str


class _Output(_Out):
    result: str
    robotType: Optional[str] = None
    errors: list[_ErrorOccurrence] = Field(default_factory=list)
    commands: list[_Command] = Field(default_factory=list)
    labware: list[_Labware] = Field(default_factory=list)
    pipettes: list[_Pipette] = Field(default_factory=list)


def _slot(location: Any) -> str:
    if isinstance(location, dict):
        for key in ("slotName", "addressableAreaName", "moduleId", "labwareId"):
            if key in location:
                return str(location[key])
    return str(location)


def _describe_command(command: _Command, out: _Output) -> str:
    """E.g. ``aspirate 500 uL with p300_single_gen2 (right) at well A1 of nest_12_reservoir_15ml 'stocks' in slot 2``."""
    params = command.params
    parts = [command.commandType]
    if "volume" in params:
        parts.append(f"{params['volume']:g} uL" if isinstance(params["volume"], (int, float)) else str(params["volume"]))
    pipette = next((p for p in out.pipettes if p.id == params.get("pipetteId")), None)
    if pipette:
        parts.append(f"with {pipette.pipetteName} ({pipette.mount})")
    elif "pipetteName" in params:
        parts.append(f"of {params['pipetteName']} on the {params.get('mount', '?')} mount")
    labware = next((lw for lw in out.labware if lw.id == params.get("labwareId")), None)
    where = ""
    if labware:
        label = f" {labware.displayName!r}" if labware.displayName else ""
        where = f"{labware.loadName}{label} in slot {_slot(labware.location)}"
    elif "loadName" in params:
        where = f"labware {params['loadName']!r} in slot {_slot(params.get('location'))}"
    if "wellName" in params:
        where = f"well {params['wellName']}" + (f" of {where}" if where else "")
    if where:
        parts.append(f"at {where}")
    return " ".join(parts)


def _error_line(error: _ErrorOccurrence, out: _Output) -> str:
    """One line: ``line 16, aspirate 500 uL with ...: InvalidAspirateVolumeError: Cannot aspirate ...``."""
    ids = error.ids()
    command = next((c for c in out.commands if c.error is not None and c.error.id in ids), None)
    cause = command.error if command and command.error else error.cause()
    context = []
    line = next((m.group(1) for e in (error, *error.wrappedErrors) if (m := re.search(r"\[line (\d+)\]", e.detail))), None)
    if line:
        context.append(f"line {line}")
    if command:
        context.append(_describe_command(command, out))
    prefix = ", ".join(context) + ": " if context else ""
    return f"{prefix}{cause.errorType}: {' '.join(cause.detail.split())}"


# --- running it -----------------------------------------------------------------------------------

_cache: "OrderedDict[tuple[str, str], Analysis]" = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every cached analysis."""
    with _cache_lock:
        _cache.clear()


def _run_analysis(source: str, venv: Path, version: str, timeout: float) -> Analysis:
    with tempfile.TemporaryDirectory(prefix="retort-opentrons-") as tmp:
        work = Path(tmp)
        (work / "protocol.py").write_text(source)
        argv = [str(_venv_python(venv)), "-I", "-m", "opentrons.cli", "analyze", "--json-output", "analysis.json", "protocol.py"]
        started = time.monotonic()
        try:
            proc = _run(argv, timeout=timeout, env=_subprocess_env(venv), cwd=work)
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            raise AnalysisError(f"Opentrons' analysis did not finish within {timeout:g} s; its last output:\n{_tail(stderr)}") from exc
        seconds = time.monotonic() - started
        try:
            raw = (work / "analysis.json").read_text()
        except OSError:
            raw = ""
    if proc.returncode != 0 or not raw:
        raise AnalysisError(
            f"Opentrons' analysis crashed (exit {proc.returncode}) without a result; its last output:\n{_tail(proc.stderr + proc.stdout)}"
        )
    try:
        out = _Output.model_validate_json(raw)
    except ValidationError as exc:
        raise AnalysisError(f"Opentrons' analysis output is not what opentrons {version} writes: {exc}") from exc
    errors = tuple(_error_line(e, out) for e in out.errors)
    return Analysis(
        digest=digest(source),
        ok=out.result == "ok" and not errors,
        result=out.result,
        errors=errors,
        commands=len(out.commands),
        robot=ROBOT_TYPES.get(out.robotType or ""),
        seconds=round(seconds, 3),
        opentrons_version=version,
    )


def analyse(source: str, robot: Optional[Robot] = None, venv: Optional[Path] = None, timeout: float = 120) -> Analysis:
    """Run Opentrons' analysis on a protocol's text, in the Opentrons virtualenv (never in this process).

    Results are cached in memory by the text's digest (and venv): analysing the same text again is free.

    Args:
        source: the protocol's Python source, exactly as it will be uploaded.
        robot: the robot the protocol is meant for; if Opentrons reads it as another, the analysis is not ok.
        venv: the Opentrons virtualenv; default `default_venv()`.
        timeout: seconds before the analysis is abandoned.

    Returns:
        An `Analysis`; `Analysis.ok` is False when Opentrons found errors (see `require_ok`).

    Raises:
        AnalysisError: the environment is missing (run ``retort opentrons setup``), or the analysis
            timed out or crashed without a result (the message ends with its last output lines).

    Example:
        >>> analyse(open("batch.py").read(), robot="flex").ok  # doctest: +SKIP
        True
    """
    venv = Path(venv or default_venv()).expanduser().absolute()
    stamp = require_environment(venv)
    key = (digest(source), str(venv))
    with _cache_lock:
        analysis = _cache.get(key)
        if analysis is not None:
            _cache.move_to_end(key)
    if analysis is None:
        analysis = _run_analysis(source, venv, stamp["opentrons"], timeout)
        with _cache_lock:
            _cache[key] = analysis
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    if robot is not None and analysis.robot != robot:
        found = analysis.robot or "an unknown robot"
        line = f"RobotTypeMismatch: the protocol is for {robot} but Opentrons read it as {found}"
        analysis = analysis.model_copy(update={"ok": False, "errors": (*analysis.errors, line)})
    return analysis


def require_ok(analysis: Analysis) -> Analysis:
    """`analysis` if it is ok.

    Raises:
        AnalysisError: listing Opentrons' errors, one per line.

    Example:
        >>> require_ok(analyse(source)).commands  # doctest: +SKIP
        57
    """
    if analysis.ok:
        return analysis
    errors = "\n".join(f"  - {e}" for e in analysis.errors) or f"  - Opentrons' result was {analysis.result!r}"
    raise AnalysisError(f"Opentrons' analysis of the batch protocol failed (protocol {analysis.digest[:12]}):\n{errors}")
