#!/usr/bin/env bash
# Build (first time) the Python 3.11 virtualenv with opentrons==9.0.0 that runs Opentrons' analysis
# of generated protocols. Safe to re-run: it returns at once when the environment is ready.
# Where: $RETORT_OPENTRONS_VENV, else ~/.cache/retort/opentrons-9.0.0. Same as `retort opentrons setup`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -c 'from retort.instruments.opentrons.analysis import setup_environment; setup_environment()'
