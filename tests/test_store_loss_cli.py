"""`retort status` on a store it cannot reach: one message, exit code 2, no traceback, no password."""

import os
import subprocess
import sys


def test_unreachable_postgres_store_exits_2_without_traceback_or_password(tmp_path):
    env = dict(os.environ, PREFECT_HOME=str(tmp_path / ".prefect"), COLUMNS="200")
    result = subprocess.run(
        [sys.executable, "-m", "retort.orchestrator.cli", "status", "--store", "postgresql+psycopg://u:s3cret@127.0.0.1:1/x"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert result.stderr.startswith("error: cannot open store postgresql+psycopg://u:***@127.0.0.1:1/x"), output
    assert "Traceback" not in output and "s3cret" not in output
