"""What the planner benchmarks share: paired sign tests over seeds, and results kept as JSON lines."""

from __future__ import annotations

import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, TypeVar

T = TypeVar("T")


def sign_test(a: Sequence[float], b: Sequence[float], lower_is_better: bool = False) -> tuple[int, int, float]:
    """Paired by seed: how often `a` is better than `b`, how often worse (ties dropped), and the two-sided
    exact binomial p-value. Higher is better unless `lower_is_better` (e.g. experiments needed)."""
    wins, losses = sum(x > y for x, y in zip(a, b)), sum(x < y for x, y in zip(a, b))
    if lower_is_better:
        wins, losses = losses, wins
    n, k = wins + losses, min(wins, losses)
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n) if n else 1.0
    return wins, losses, p


DEAD_NOTE = ("dead: the share of model-based proposals the planner's own model ruled out when it proposed them (mean + 3 sd "
             "not better than the best measured; '-': not known, e.g. BayBE's model is not asked)")


def dead_share(counts: Sequence[Optional[Sequence[int]]]) -> str:
    """Over runs, each ``[ruled out, model-based proposals]`` (`campaign_runs.Finished.waste`), the share ruled out;
    '-' when a run does not know (a peer's) or none was model-based."""
    if any(c is None for c in counts):
        return "-"
    modelled = sum(c[1] for c in counts)
    return f"{sum(c[0] for c in counts) / modelled:.0%}" if modelled else "-"


def load(path: Optional[Path], kind: type[T]) -> list[T]:
    """The results kept in a JSON-lines file (one `kind(**line)` each); none when there is no file."""
    if path is None or not path.exists():
        return []
    return [kind(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def run_kept(tasks: Sequence[tuple[Callable, tuple]], jobs: int, path: Optional[Path], say: Callable[[T], str]) -> Iterator[T]:
    """Run every ``(function, args)`` in `jobs` processes and yield each result as it finishes (a task may return a
    list of them), after appending it to `path` as a JSON line (`load` reads them back, so a stopped run resumes)
    and printing `say(result)` with the time so far to stderr."""
    started = time.time()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for future in as_completed([pool.submit(fn, *args) for fn, args in tasks]):
            out = future.result()
            for result in out if isinstance(out, list) else [out]:
                if path:
                    with path.open("a") as handle:
                        handle.write(json.dumps(asdict(result)) + "\n")
                print(f"  {say(result)} ({time.time() - started:.0f} s)", file=sys.stderr, flush=True)
                yield result
