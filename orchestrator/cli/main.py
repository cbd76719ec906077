"""The `retort` command: its parser (each command's arguments live with the command: `run.py`, `campaigns.py`,
`deck.py`, `approve.py`, `ui.py`) and the one place errors become exit codes and messages.

Exit codes: 0 done; 2 a problem the user can act on (bad campaign file, store conflict, failed
measurement), printed as one message without a traceback; 130 interrupted (run again to continue);
1 an unexpected error, printed as one line naming the log file that holds its traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional

from retort.errors import RetortError
from retort.orchestrator.cli import approve, campaigns, deck, run, ui

MODULES = (run, campaigns, deck, approve, ui)  # each adds its commands' arguments and names their functions
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {name: f for module in MODULES for name, f in module.COMMANDS.items()}

LOG_DIR = "retort-logs"
STOPPED = "stopped. Everything measured is stored; run the same command again to continue.\n"


def main(argv: Optional[list[str]] = None) -> int:
    args = _parser().parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C and `kill PID` stop the same way, the local Prefect server with them
        signal.signal(signum, _stop)
    try:
        return COMMANDS[args.command](args)
    except RetortError as exc:
        sys.stderr.write(f"error: {exc}\n")  # plain text: no wrapping inside paths or values
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(STOPPED)
        return 130
    except Exception as exc:  # a bug: one line for the person, the traceback in a file for the report
        log = _write_traceback(args)
        what = f"campaign {args.campaign}" if getattr(args, "campaign", None) else f"'retort {args.command}'"
        sys.stderr.write(f"error: unexpected {type(exc).__name__} in {what}: {_first_line(exc)}; the traceback is in {log}. "
                         "Please report it. Everything stored so far is kept.\n")
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retort", description="Closed-loop campaigns for self-driving labs.")
    parser.add_argument("--version", action="version", version=f"retort {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in MODULES:
        module.add_parsers(sub)
    return parser


def _stop(signum, frame) -> None:
    from retort.orchestrator.loop.stopping import request_stop

    request_stop()  # remembered, in case the KeyboardInterrupt lands somewhere that swallows it
    raise KeyboardInterrupt(f"signal {signum}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("retort")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
        return "unknown"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "(no message)"


def _write_traceback(args: argparse.Namespace) -> str:
    """Write the current exception's traceback to a new file under retort-logs/ (or the temporary
    folder, if that cannot be written) and return its path."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"retort-{args.command}-{stamp}-{os.getpid()}.log"
    from retort.orchestrator.store import redact_url

    command = " ".join(redact_url(arg) if "://" in arg else arg for arg in sys.argv[1:])
    text = f"retort {_version()} {command}\n\n{traceback.format_exc()}"
    for folder in (Path(os.environ.get("RETORT_LOG_DIR", LOG_DIR)), Path(os.environ.get("TMPDIR", "/tmp"))):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
            return str(folder / name)
        except OSError:
            continue
    return "(no folder could be written; run with --verbose)"


if __name__ == "__main__":
    sys.exit(main())
