"""BayBE 0.15 in a virtualenv of its own, driven as a subprocess.

BayBE pins its own botorch, pandas and scikit-learn ranges, so it is not installed beside Retort: the first
run creates ``~/.cache/retort/bench-baybe-0.15.0`` (torch 2.13.0 first, so pip takes the CPU build from this
machine's local file instead of CUDA wheels, then ``baybe[chem]==0.15.0``: a few minutes), later runs reuse
it. `run` streams one JSON result per campaign from `baybe_grid.py` running in that environment; `run_loop`
drives `baybe_loop.py` there, answering each batch it recommends with the caller's `answer` (the two-way
protocol for labs that live in Retort's environment, such as the dataset emulators).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

VERSION = "0.15.0"
ENV = Path(os.environ.get("RETORT_BAYBE_ENV", Path.home() / ".cache" / "retort" / f"bench-baybe-{VERSION}"))
RUNNER = Path(__file__).with_name("baybe_grid.py")
LOOP_RUNNER = Path(__file__).with_name("baybe_loop.py")


def python() -> Path:
    return ENV / "bin" / "python"


def ensure_env() -> Path:
    """The environment's Python, creating the environment first if it is missing or unfinished."""
    stamp = ENV / ".retort-ready"
    if stamp.exists():
        return python()
    ENV.parent.mkdir(parents=True, exist_ok=True)
    with open(ENV.parent / f".{ENV.name}.lock", "a") as lock:  # a benchmark's worker processes ask at once: one builds it
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():  # built while this process waited
            return python()
        print(f"creating BayBE {VERSION}'s environment at {ENV} (first run: a few minutes)", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(ENV)], check=True)  # --clear: what an interrupted build left
        pip = [str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run(pip + ["torch==2.13.0"], check=True)
        subprocess.run(pip + [f"baybe[chem]=={VERSION}"], check=True)
        subprocess.run([str(python()), "-c", "import baybe, mordred"], check=True)
        stamp.write_text(VERSION)
    return python()


def _environment() -> dict[str, str]:
    """The runners' environment: one thread per process (as Retort's side), BayBE's warnings quiet."""
    return os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


def run(spec: dict, seeds: list[int], encodings: list[str]) -> Iterator[dict]:
    """One result per (encoding, seed) campaign on the grid `spec` (see `baybe_grid.py`)."""
    exe = ensure_env()
    job = json.dumps(spec | {"seeds": seeds, "encodings": encodings})
    with subprocess.Popen([str(exe), str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_environment()) as proc:
        proc.stdin.write(job)
        proc.stdin.close()
        for line in proc.stdout:
            if line.strip():
                yield json.loads(line)
    if proc.returncode:
        raise RuntimeError(f"BayBE runner failed (exit {proc.returncode}) on {spec['grid']}")


def run_loop(job: dict, answer: Callable[[int, int, dict], float], exe: Path | None = None) -> Iterator[dict]:
    """One result per seed of `job` (see `baybe_loop.py`): BayBE recommends each batch, `answer(seed, k, point)`
    measures the k-th experiment (1-based, in the order recommended) here. Yields {seed, points, values,
    cpu_seconds, wall_seconds, baybe, measured (the values BayBE's campaign holds)} as each campaign finishes. `exe`: BayBE's Python (default: `ensure_env()`)."""
    exe = exe or ensure_env()
    with subprocess.Popen([str(exe), str(LOOP_RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_environment()) as proc:
        proc.stdin.write(json.dumps(job) + "\n")
        proc.stdin.flush()
        points: dict[int, list[dict]] = {}
        values: dict[int, list[float]] = {}
        for line in proc.stdout:
            if not line.strip():
                continue
            message = json.loads(line)
            seed = message["seed"]
            if "batch" in message:
                done = len(points.setdefault(seed, []))
                batch = [answer(seed, done + i + 1, p) for i, p in enumerate(message["batch"])]
                points[seed] += message["batch"]
                values.setdefault(seed, []).extend(batch)
                proc.stdin.write(json.dumps({"values": batch}) + "\n")
                proc.stdin.flush()
            elif message.get("done"):
                yield {"seed": seed, "points": points.pop(seed), "values": values.pop(seed)} | {
                    k: message[k] for k in ("cpu_seconds", "wall_seconds", "baybe", "measured")}
        proc.stdin.close()
    if proc.returncode:
        raise RuntimeError(f"BayBE loop runner failed (exit {proc.returncode}) on {job.get('name')}")
