"""What the planner benchmarks share: paired sign tests over seeds, and results kept as JSON lines."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional, Sequence, TypeVar

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


def load(path: Optional[Path], kind: type[T]) -> list[T]:
    """The results kept in a JSON-lines file (one `kind(**line)` each); none when there is no file."""
    if path is None or not path.exists():
        return []
    return [kind(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
