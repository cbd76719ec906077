"""A stop request that survives libraries swallowing KeyboardInterrupt.

Ctrl-C and SIGTERM raise `KeyboardInterrupt` in the main thread wherever it happens to be. Most of
the time that stops the run at once; but a signal landing inside a library's cleanup code (Prefect's
flow-run heartbeat teardown, measured) can be swallowed there, and the run would go on to the end of
its budget. So the request is also remembered here: the campaign flow checks it between iterations,
and the CLI checks it when the flow returns.
"""

from __future__ import annotations

import threading

_requested = threading.Event()


def request_stop() -> None:
    _requested.set()


def stop_requested() -> bool:
    return _requested.is_set()
