#!/usr/bin/env bash
# Install (first time) and run the example colour-matching campaign on the virtual lab.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/retort run examples/colour_match.yaml "$@"
