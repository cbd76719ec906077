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


def test_deleting_the_store_file_mid_run_stops_retort_run_with_exit_2(tmp_path):
    """Before: the run kept writing to the unlinked file, reported "40 measured" and exited 0."""
    import signal
    import time

    from tests.test_end_to_end import EXAMPLE, _count_done, _start_retort_run

    store_file = tmp_path / "doomed.db"
    url = f"sqlite:///{store_file}"
    with open(tmp_path / "stderr.txt", "w") as stderr:
        run = _start_retort_run(EXAMPLE.parent / "branin.yaml", url, tmp_path, stderr)
    try:
        deadline = time.monotonic() + 180
        while _count_done(url, "branin") < 2 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.1)
        for path in tmp_path.glob("doomed.db*"):
            path.unlink()
        run.wait(timeout=120)
        messages = (tmp_path / "stderr.txt").read_text()
        assert run.returncode == 2, messages
        assert f"the store file {store_file} was deleted or replaced while the campaign ran" in messages, messages
        assert messages.count("error:") == 1 and "Traceback" not in messages and "measured" not in messages
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
