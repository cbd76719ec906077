"""Fuzz the `retort run` command with mutated campaign files and count what it does with them.

Cases come from the seeded generator in `tests/orchestrator/fuzz_cases.py` (the one the property
tests use): an example from ``examples/``, mutated. Each runs as
``retort run FILE --store sqlite:///TMP --iterations 1`` in this process (`cli.main`, one shared
local Prefect server), and every K-th as a real subprocess (``python -m retort.orchestrator.cli``).

Each case is classified:
- ran: exit 0;
- refused cleanly: exit 2, a line starting ``error: ``, no traceback and, for a known-invalid
  mutation, the message names the mutated field;
- traceback: any other exit, an exception out of `cli.main`, or a traceback in the output;
- accepted invalid: a known-invalid mutation that exited 0.
Further failures are counted on their own line: a known-invalid file refused only after
experiments were stored (refused late), refused without naming the field, and a valid case refused.

    .venv/bin/python benchmarks/fuzz_campaigns.py --cases 100 [--seed 0] [--subprocess-every 10]

Failing case files (and what Retort printed) are saved under ``--out`` (default
``fuzz-failures/``). Exit status 1 if any case failed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.orchestrator.fuzz_cases: the one generator

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "CRITICAL")
os.environ.setdefault("COLUMNS", "200")

from retort.orchestrator.flows.server import local_prefect_server  # noqa: E402
from tests.orchestrator import fuzz_cases as fc  # noqa: E402

COUNTED = ("refused cleanly", "ran", "traceback", "accepted invalid")
EXTRA = ("refused late", "refused without naming the field", "valid case refused")


class CaseTimeout(BaseException):
    """Raised in the main thread when one in-process case runs past --timeout."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, required=True, help="number of mutated campaign files")
    parser.add_argument("--seed", type=int, default=0, help="seed of the case generator")
    parser.add_argument("--subprocess-every", type=int, default=10, metavar="K",
                        help="run every K-th case as a real subprocess (0: never)")
    parser.add_argument("--out", default="fuzz-failures", help="folder for failing case files (default fuzz-failures/)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per case before it counts as a traceback")
    parser.add_argument("--memory-gb", type=float, default=8, help="address-space limit of this process and its cases")
    parser.add_argument("--examples", nargs="*", help="only these examples (file stems)")
    args = parser.parse_args(argv)

    out = Path(args.out).resolve()
    if out.exists():
        shutil.rmtree(out)
    cases = fc.random_cases(args.cases, seed=args.seed, examples=args.examples)
    work = Path(tempfile.mkdtemp(prefix="retort-fuzz-"))
    results: list[tuple[int, fc.Case, str, fc.Verdict, float]] = []
    started = time.perf_counter()
    with local_prefect_server():  # one server for every case; subprocesses inherit PREFECT_API_URL
        _limit_memory(args.memory_gb)
        try:
            for i, case in enumerate(cases, start=1):
                folder = work / f"case-{i:04d}"
                folder.mkdir()
                path = case.write(folder)
                subprocess_run = bool(args.subprocess_every) and i % args.subprocess_every == 0
                t0 = time.perf_counter()
                outcome = _run(path, folder, subprocess_run, args.timeout)
                seconds = time.perf_counter() - t0
                verdict = fc.judge(case, outcome, early_stages=("load", "open", "early"))
                label = _label(verdict)
                results.append((i, case, label, verdict, seconds))
                how = "subprocess" if subprocess_run else "in-process"
                sys.stderr.write(f"[{i}/{len(cases)}] {case.label} [{case.kind}] -> {label} ({seconds:.1f} s, {how})"
                                 + ("" if verdict.ok else f": {verdict.reason[:200]}") + "\n")
                if not verdict.ok:
                    _save(out, i, case, verdict, outcome)
                shutil.rmtree(folder, ignore_errors=True)
        except KeyboardInterrupt:
            sys.stderr.write(f"interrupted after {len(results)} of {len(cases)} cases; reporting those\n")
    shutil.rmtree(work, ignore_errors=True)
    return _report(results, out, time.perf_counter() - started)


def _label(verdict: fc.Verdict) -> str:
    return {"refused": "refused cleanly", "ran": "ran"}.get(verdict.label, verdict.label)


def _report(results, out: Path, seconds: float) -> int:
    counts = Counter(label for _, _, label, _, _ in results)
    failing = [r for r in results if not r[3].ok]
    if failing:
        print(f"failing cases ({len(failing)}; files in {out}):")
        for i, case, label, verdict, _ in failing:
            print(f"  #{i} {case.mutation} on {case.example} [{case.kind}] {label}: {_one_line(verdict.reason)}")
            print(f"      {case.detail[:160]}")
    extra = [f"{name} {counts[name]}" for name in EXTRA if counts[name]]
    if extra:
        print("also failing: " + ", ".join(extra))
    print(f"({seconds:.0f} s)", file=sys.stderr)
    print(f"cases {len(results)}, refused cleanly {counts['refused cleanly']}, ran {counts['ran']}, "
          f"tracebacks {counts['traceback']}, accepted invalid {counts['accepted invalid']}")
    return 1 if failing else 0


def _one_line(text: str) -> str:
    return " ".join(text.split())[:240]


# -- running one case -----------------------------------------------------------------------


def _run(path: Path, folder: Path, in_subprocess: bool, timeout: float) -> fc.Outcome:
    """One case; an unexpected error's traceback (which `retort` writes to a log file) is added to its message."""
    logs = folder / "logs"
    os.environ["RETORT_LOG_DIR"] = str(logs)  # `retort` writes an unexpected error's traceback there
    outcome = _run_case(path, folder, in_subprocess, timeout)
    if outcome.status == "error" and logs.is_dir():
        text = "\n".join(log.read_text(errors="backslashreplace") for log in sorted(logs.glob("*.log")))
        if text:
            outcome = dataclasses.replace(outcome, message=f"{outcome.message}\n\n{_strip(text, path)}")
    return outcome


def _run_case(path: Path, folder: Path, in_subprocess: bool, timeout: float) -> fc.Outcome:
    store = f"sqlite:///{folder / 'store.db'}"
    argv = ["run", str(path), "--store", store, "--iterations", "1", "--report", str(folder / "report.png")]
    if in_subprocess:
        return _subprocess([sys.executable, "-m", "retort.orchestrator.cli", *argv], path, folder, store, timeout)
    from retort.orchestrator.cli import main as cli

    return _in_process(lambda: cli.main(argv), path, folder, store, timeout)


def _in_process(call, path: Path, folder: Path, store: str, timeout: float) -> fc.Outcome:
    stdout, stderr = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                rc = call()
            except SystemExit as exc:  # argparse, or a sys.exit deep inside
                rc = exc.code if isinstance(exc.code, int) else 1
            except CaseTimeout:
                return fc.Outcome("error", "cli", f"no answer within {timeout:g} s", "Timeout")
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - escaped cli.main: the traceback case
                import traceback

                return fc.Outcome("error", "cli", _strip(traceback.format_exc(), path), type(exc).__name__)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return _classify(rc, stdout.getvalue(), stderr.getvalue(), path, store)


def _alarm(signum, frame):
    raise CaseTimeout()


def _subprocess(command: list[str], path: Path, folder: Path, store: str, timeout: float) -> fc.Outcome:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    try:
        done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, errors="backslashreplace")
    except subprocess.TimeoutExpired:
        return fc.Outcome("error", "subprocess", f"no answer within {timeout:g} s", "Timeout")
    return _classify(done.returncode, done.stdout, done.stderr, path, store)


def _classify(rc: int, stdout: str, stderr: str, path: Path, store: str) -> fc.Outcome:
    """Exit code and output -> ran / refused (with where: before or after experiments were stored) / error."""
    output = _strip(stderr + stdout, path)
    errors = [i for i, line in enumerate(stderr.splitlines()) if line.startswith("error: ")]
    if "Traceback" in stderr + stdout or rc not in (0, 2):
        first = stderr.splitlines()[errors[0]] if errors else f"exit code {rc}"
        return fc.Outcome("error", "cli", _strip(first, path) + "\n" + output[-4000:], f"exit {rc}")
    if rc == 0:
        return fc.Outcome("ran", "cli", "")
    if not errors:
        return fc.Outcome("error", "cli", output[-4000:] or "exit code 2, no output", "exit 2 without 'error: '")
    message = "\n".join(stderr.splitlines()[errors[0]:])
    message = _strip(message.removeprefix("error: "), path)
    return fc.Outcome("refused", "late" if _stored_experiments(store) else "early", message, "exit 2")


def _stored_experiments(store: str) -> int:
    """Experiments the run stored before it was refused (0 if nothing was stored)."""
    file = Path(store.removeprefix("sqlite:///"))
    if not file.exists():
        return 0
    from retort.orchestrator.store import Store

    try:
        s = Store(store)
        n = sum(len(s.experiments(c.id)) for c in s.campaigns())
        s.engine.dispose()
        return n
    except Exception:  # noqa: BLE001 - an unreadable store: say nothing was stored rather than guess
        return 0


def _strip(text: str, path: Path) -> str:
    return text.replace(str(path), "FILE").replace(str(path.parent), "DIR")


def _save(out: Path, i: int, case: fc.Case, verdict: fc.Verdict, outcome: fc.Outcome) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{i:04d}-{case.example}-{case.mutation}"
    case.write(out, f"{stem}.yaml")
    (out / f"{stem}.txt").write_text(
        f"case: {case.label} [{case.kind}]\nmutations: {case.detail}\nmust name one of: {list(case.fields)}\n"
        f"verdict: {verdict.label}: {verdict.reason}\noutcome: {outcome.status} at {outcome.stage} ({outcome.exception})\n\n"
        f"{outcome.message}\n")


# -- environment ----------------------------------------------------------------------------


def _limit_memory(gb: float) -> None:
    """A case that allocates without bound fails with MemoryError instead of waking the OOM killer."""
    if gb <= 0:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as status:
        vm = next(int(line.split()[1]) for line in status if line.startswith("VmSize:")) * 1024
    limit = int(vm + gb * 2**30)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


if __name__ == "__main__":
    sys.exit(main())
