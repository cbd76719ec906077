#!/usr/bin/env bash
# Install (first time) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/install-browser.sh
export PREFECT_SERVER_ANALYTICS_ENABLED=false
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # one torch thread per worker: two workers on two cores (tests/conftest.py)
# Two worker processes (pytest-xdist); the robot-server tests share one (tests/conftest.py). RETORT_TEST_WORKERS=0: one process.
exec .venv/bin/python -m pytest -q -n "${RETORT_TEST_WORKERS:-2}" --dist loadgroup "$@"
