"""The soak benchmark in its CI size: 40 experiments on 2 virtual robots with injected faults, `retort run`
killed once and its PostgreSQL (a server of the soak's own: other tests on the machine's keep their connections)
restarted once; every experiment in the store checked against the robots' log."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SOAK = Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"


def test_soak_quick_loses_duplicates_and_repeats_nothing():
    pytest.importorskip("psycopg")
    result = subprocess.run([sys.executable, str(SOAK), "--quick"], capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lost 0, duplicated 0, ran twice 0" in result.stdout
    assert "orchestrator killed 1 times (SIGKILL), PostgreSQL restarted 1 times" in result.stdout
    assert "measured " in result.stdout and "Traceback" not in result.stderr
