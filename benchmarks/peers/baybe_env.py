"""BayBE 0.15 in a virtualenv of its own, driven as a subprocess.

BayBE pins its own botorch, pandas and scikit-learn ranges, so it is not installed beside Retort: the first
run creates ``~/.cache/retort/bench-baybe-0.15.0`` (torch 2.13.0 first, so pip takes the CPU build from this
machine's local file instead of CUDA wheels, then ``baybe[chem]==0.15.0``: a few minutes), later runs reuse
it. `run` streams one JSON result per campaign from `baybe_grid.py` running in that environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

VERSION = "0.15.0"
ENV = Path(os.environ.get("RETORT_BAYBE_ENV", Path.home() / ".cache" / "retort" / f"bench-baybe-{VERSION}"))
RUNNER = Path(__file__).with_name("baybe_grid.py")


def python() -> Path:
    return ENV / "bin" / "python"


def ensure_env() -> Path:
    """The environment's Python, creating the environment first if it is missing or unfinished."""
    stamp = ENV / ".retort-ready"
    if stamp.exists():
        return python()
    print(f"creating BayBE {VERSION}'s environment at {ENV} (first run: a few minutes)", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(ENV)], check=True)
    pip = [str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + ["torch==2.13.0"], check=True)
    subprocess.run(pip + [f"baybe[chem]=={VERSION}"], check=True)
    subprocess.run([str(python()), "-c", "import baybe, mordred"], check=True)
    stamp.write_text(VERSION)
    return python()


def run(spec: dict, seeds: list[int], encodings: list[str]) -> Iterator[dict]:
    """One result per (encoding, seed) campaign on the grid `spec` (see `baybe_grid.py`)."""
    exe = ensure_env()
    job = json.dumps(spec | {"seeds": seeds, "encodings": encodings})
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    with subprocess.Popen([str(exe), str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env) as proc:
        proc.stdin.write(job)
        proc.stdin.close()
        for line in proc.stdout:
            if line.strip():
                yield json.loads(line)
    if proc.returncode:
        raise RuntimeError(f"BayBE runner failed (exit {proc.returncode}) on {spec['grid']}")
