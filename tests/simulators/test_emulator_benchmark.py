"""The emulator benchmark's two-way protocol with BayBE (benchmarks/peers/baybe_loop.py): one seed, budget 10.

Needs BayBE's benchmark environment (built by a benchmark run, never by the tests); skipped without it."""

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from peers import baybe_env  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (baybe_env.ENV / ".retort-ready").exists(), reason=f"BayBE's environment is not built at {baybe_env.ENV}"),
]


def test_baybe_loop_answers_every_recommendation_here_and_baybe_holds_the_answers():
    import emulators

    job = emulators.baybe_job("snar", [3], budget=10)
    calls = []

    def answer(seed, k, point):
        calls.append((seed, k, point))
        return emulators.answer("snar", seed, k, point)

    (result,) = list(baybe_env.run_loop(job, answer, exe=baybe_env.python()))
    assert [(s, k) for s, k, _ in calls] == [(3, k) for k in range(1, 11)]  # numbered 1..budget in the order recommended
    assert result["seed"] == 3 and result["points"] == [p for _, _, p in calls]
    expected = [emulators.answer("snar", 3, k, p) for _, k, p in calls]
    assert result["values"] == expected and result["measured"] == expected  # BayBE's campaign holds what it was sent
    for p in result["points"]:
        assert all(q["low"] <= p[q["name"]] <= q["high"] for q in job["parameters"])
    assert len(result["cpu_seconds"]) == 1 and result["baybe"] == baybe_env.VERSION  # the second batch is the one model-based
