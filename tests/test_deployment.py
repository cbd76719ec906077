"""docs/deployment.md as written: Prefect's server on PostgreSQL, work pools, the deployments of prefect.yaml,
a worker for planning and one per robot, a campaign run through them into a store on PostgreSQL.

The doc's bash blocks run in order in one shell from the repository, with the server's port and the two
database names made unique (so that the test never touches a lab's own) and a Prefect home of the test's own."""

import re
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

from retort.orchestrator.store import Store

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_deployment_doc_runs_a_campaign_on_a_prefect_server_with_a_worker_per_robot(tmp_path):
    psycopg = pytest.importorskip("psycopg")
    text = (ROOT / "docs" / "deployment.md").read_text()
    script = "\n".join(re.findall(r"```bash\n(.*?)```", text, flags=re.S))
    suffix, port = uuid.uuid4().hex[:8], free_port()
    script = (script.replace("4200", str(port)).replace("prefect_lab", f"prefect_lab_{suffix}").replace("retort_lab", f"retort_lab_{suffix}")
              .replace("> prefect-server.log", f"> {tmp_path}/prefect-server.log").replace("> worker-", f"> {tmp_path}/worker-"))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PREFECT_HOME": str(tmp_path / ".prefect"), "COLUMNS": "200"}
    try:
        script = "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script  # the background parts go when the script ends, however
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in tmp_path.glob("*.log"))
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:] + logs
        assert "Completed" in result.stdout
        store = Store(f"postgresql+psycopg://postgres@127.0.0.1:5432/retort_lab_{suffix}")
        experiments = store.experiments(store.campaign("colour-match-lab").id)
        assert len(experiments) == 16 and all(e.status == "measured" for e in experiments)
        decks = {e.location.split(" plate ")[0] for e in experiments}
        assert decks == {"virtual-colour-match-lab-1", "virtual-colour-match-lab-2"}  # both robots' workers ran batches
        status = next(line for line in result.stdout.splitlines() if line.strip().startswith("colour-match-lab"))
        assert status.split()[1:4] == ["16", "16", "0"]  # `retort status`: budget, measured, failed
    finally:
        subprocess.run(["pkill", "-f", "--", f"--port {port}"], check=False)
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            for name in (f"prefect_lab_{suffix}", f"retort_lab_{suffix}"):
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
