"""Fuzzing campaign files: every mutated example must run, or be refused with one RetortError that
names the field; a known-invalid file must be refused before anything is proposed.

Cases come from `tests/orchestrator/fuzz_cases.py` (mutations of ``examples/*.yaml``, shared with
`benchmarks/fuzz_campaigns.py`). Each runs in-process: `load_campaign`, `open_run` on a throwaway
SQLite store, then one iteration (fit, first proposals, approve, execute, measure, record).

More examples than the defaults: ``RETORT_FUZZ_EXAMPLES=1000 RETORT_FUZZ_EMULATED_EXAMPLES=100``.
"""

from __future__ import annotations

import os
import resource
import tempfile

import pytest
from hypothesis import HealthCheck, event, given, settings

from tests.orchestrator import fuzz_cases as fc

CHEAP = ["branin", "colour_match", "colour_match_lab", "colour_match_ot2", "colour_match_flex", "suzuki", "buchwald_hartwig", "buchwald_hartwig_bromide",
         "deoxyfluorination", "amide_coupling", "ni_borylation", "aryl_scope_ligand", "aryl_scope_learn", "lnp3_pareto"]  # open in milliseconds (robot examples fuzzed on the virtual backend)
EMULATED = ["snar_emulated", "flow_suzuki_emulated", "alloy_hardness_emulated"]  # fit a GP emulator at open (seconds)
COMPUTED = ["freesolv_dry_wet", "freesolv_xtb", "rocksalt_chgnet"]  # compute on a Dask LocalCluster or process pool (seconds to start): run unmodified only
WARM = ["buchwald_hartwig_iodide_warm_start"]  # warm-started from another example, which runs first into its store: run unmodified only
GENERATED = ["celecoxib_generate"]  # generates and screens about a thousand molecules a round (seconds each): run unmodified only
assert sorted(CHEAP + EMULATED + COMPUTED + WARM + GENERATED) == fc.example_names(), \
    "a new example: add it to CHEAP, EMULATED, COMPUTED, WARM or GENERATED"

FUZZ = dict(deadline=None, derandomize=True, database=None, print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module", autouse=True)
def bounded_memory():
    """A runaway allocation (a design of a million points) must fail here, not wake the OOM killer."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as status:
        vm_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = vm_kb * 1024 + 8 * 2**30
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.fixture(scope="module")
def cached_emulators():
    """Fit each packaged emulator once per module (keyed by every argument; errors are not cached):
    the checks EmulatorLab makes against the campaign still run for every case."""
    from retort.simulators.emulator import DatasetEmulator

    original = DatasetEmulator.from_packaged
    cache: dict[str, DatasetEmulator] = {}

    def from_packaged(cls, *args, **kwargs):
        key = repr((args, sorted(kwargs.items())))
        if key not in cache:
            cache[key] = original(*args, **kwargs)
        return cache[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DatasetEmulator, "from_packaged", classmethod(from_packaged))
        yield


def check(case: fc.Case) -> None:
    with tempfile.TemporaryDirectory(prefix="retort-fuzz-") as folder:
        path = case.write(folder)
        outcome = fc.run_in_process(path, f"sqlite:///{folder}/store.db")
    verdict = fc.judge(case, outcome)
    assert verdict.ok, explain(case, outcome, verdict)


def explain(case: fc.Case, outcome: fc.Outcome, verdict: fc.Verdict) -> str:
    expected = {fc.INVALID: f"a RetortError at load/open naming one of {list(case.fields)}",
                fc.NEUTRAL: "a run, or a RetortError", fc.VALID: "a run"}[case.kind]
    return (f"{verdict.label}: {verdict.reason}\n"
            f"case: {case.label} [{case.kind}] {case.detail}\n"
            f"expected: {expected}\n"
            f"got: {outcome.status} at {outcome.stage} ({outcome.exception})\n{outcome.message.strip()[-3000:]}\n"
            f"--- campaign file ---\n{case.preview()}")


@pytest.mark.parametrize("name", sorted(fc.NAMED))
def test_named_case(name, cached_emulators):
    """One test per class of bad file from the reliability report (and the Flex pipette, which must run)."""
    check(fc.named_case(name))


@pytest.mark.parametrize("example", fc.example_names())
def test_example_runs_unmodified(example, cached_emulators):
    check(fc.apply(example, [fc.BY_NAME["identity"]], fc.ScriptPicker()))


@settings(max_examples=int(os.environ.get("RETORT_FUZZ_EXAMPLES", 250)), **FUZZ)
@given(case=fc.case_strategy(CHEAP))
def test_mutated_campaigns(case):
    event(f"{case.kind} {case.mutation}")  # pytest --hypothesis-show-statistics
    check(case)


@settings(max_examples=int(os.environ.get("RETORT_FUZZ_EMULATED_EXAMPLES", 40)), **FUZZ)
@given(case=fc.case_strategy(EMULATED))
def test_mutated_emulated_campaigns(case, cached_emulators):
    event(f"{case.kind} {case.example}")
    check(case)


def test_generator_is_deterministic_and_covers_every_mutation():
    """The benchmark's seeded generator: same seed, same cases; every mutation reachable."""
    first = fc.random_cases(60, seed=11)
    assert [c.data for c in first] == [c.data for c in fc.random_cases(60, seed=11)]
    reachable = {m.name for e in fc.example_names() for m in fc.applicable(fc.example_text(e))}
    assert reachable == set(fc.BY_NAME)
    assert {fc.BY_NAME[fc.NAMED[n][1]].kind for n in fc.NAMED} == {fc.INVALID, fc.VALID}
