"""The run's own Prefect server: a server that dies while booting is one clear error, not a hang."""

import pytest

from retort.errors import RetortError
from retort.orchestrator.flows.server import LocalPrefectServer, PrefectServerError


def test_a_server_that_dies_while_booting_is_one_error_naming_its_log(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    server = LocalPrefectServer()
    server.start()
    try:
        assert server.process.pid and server.api_url.startswith("http://127.0.0.1:")
        server.process.kill()
        server.process.wait()
        with pytest.raises(PrefectServerError, match=r"exited with code -9; its log is .*retort-prefect-server-") as info:
            server.wait_ready(timeout=30)
        assert isinstance(info.value, RetortError)  # the CLI reports it as one message, exit 2
    finally:
        server.stop()
    assert server.process is None
