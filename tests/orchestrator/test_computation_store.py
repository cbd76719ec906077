"""Computations in the store: answered once, from the store after that (any process sharing it), failures included,
with their provenance."""

import pytest

from retort.instruments.computations import Job, engine
from retort.orchestrator.store import Store
from retort.orchestrator.store.computations import ComputationStore

pytest.importorskip("tblite", reason="the dry extra: pip install -e '.[dry]'")


class Counting:
    """The real xtb engine, counting the jobs it was given."""

    def __init__(self):
        self.inner, self.jobs = engine("xtb"), []
        self.name, self.properties = self.inner.name, self.inner.properties

    def compute(self, job):
        self.jobs.append(job.input)
        return self.inner.compute(job)


def job(smiles, **settings):
    return Job(engine="xtb", method="GFN2-xTB", settings={"solvent": "water", **settings}, seed=0, input=smiles)


def test_a_computation_is_run_once_and_answered_from_the_store_after_that_with_its_provenance(tmp_path):
    url = f"sqlite:///{tmp_path / 'dry.db'}"
    xtb = Counting()
    first = ComputationStore(Store(url)).compute(job("CCO"), xtb)
    assert first.fresh and first.outcome.status == "done" and first.outcome.values["solvation_free_energy"] < 0
    again = ComputationStore(Store(url)).compute(job("CCO"), xtb)  # another process opening the same store
    assert not again.fresh and again.id == first.id and again.outcome == first.outcome and xtb.jobs == ["CCO"]
    assert again.outcome.engine_version.startswith("tblite") and len(again.outcome.input_hash) == 64 and again.outcome.cpu_seconds > 0
    assert again.job == job("CCO")
    octanol = ComputationStore(Store(url)).compute(job("CCO", solvent="octanol"), xtb)  # other settings: another computation
    assert octanol.fresh and xtb.jobs == ["CCO", "CCO"]


def test_a_failed_computation_is_stored_with_the_engines_message_and_not_run_again(tmp_path):
    store, xtb = ComputationStore(Store(f"sqlite:///{tmp_path / 'dry.db'}")), Counting()
    failed = store.compute(job("[U]"), xtb)
    assert failed.outcome.status == "failed" and failed.outcome.message == "tblite: No support for elements with Z >86."
    assert store.compute(job("[U]"), xtb).id == failed.id and xtb.jobs == ["[U]"]
