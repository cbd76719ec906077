#!/usr/bin/env bash
# Create .venv and install Retort with its pinned stack (and test extras). Safe to re-run:
# it reinstalls only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${RETORT_PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.11 python3.12 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PY=$candidate; break; fi
  done
fi
if [ ! -x .venv/bin/python ]; then
  echo "retort: creating .venv with $($PY --version)" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.retort-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "retort: installing dependencies into .venv (first time: a few minutes)" >&2
export PIP_DISABLE_PIP_VERSION_CHECK=1
noise="is ignored: it is neither a file nor a directory"  # this machine's pip index notes
pip_install() {
  local log status=0
  log=$(mktemp)
  .venv/bin/pip install -q "$@" >"$log" 2>&1 || status=$?
  grep -v "$noise" "$log" >&2 || true
  rm -f "$log"
  [ "$status" -eq 0 ] || { echo "retort: 'pip install $*' failed (exit $status)" >&2; exit "$status"; }
}
# torch first and exactly: a bare 'torch' requirement pulls gigabytes of CUDA wheels.
pip_install torch==2.13.0
pip_install -e '.[test,dry]'  # dry: the computation engines (tblite), optional for users, tested in CI
.venv/bin/python -c "import retort.orchestrator.cli, botorch, prefect" # fail loudly if the install did not work
# BoTorch compiles a C++ kernel for qLogNEHVI (Pareto campaigns) the first time one is built: about 30 CPU s (measured),
# done here once instead of inside a user's first Pareto proposal; cached in ~/.cache/torch_extensions. Without a
# compiler BoTorch warns and uses its Python version.
.venv/bin/python -c "from botorch.acquisition.multi_objective import logei; logei._try_load_fused_kernel()"
echo "$want" > "$stamp"
