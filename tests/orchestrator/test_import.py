"""Measurements made elsewhere, imported from CSV (`retort import`): checked row by row before anything is stored,
used by the model, and spending no budget."""

import json

import numpy as np
import pytest

from retort.orchestrator import loop
from retort.orchestrator.store import Store
from retort.simulators.analytic import branin
from tests.conftest import branin_campaign
from tests.orchestrator.test_cli import retort


def write_campaign(tmp_path, **overrides):
    campaign = branin_campaign(store=f"sqlite:///{tmp_path / 'lab.db'}", **overrides)
    (tmp_path / "branin.yaml").write_text(json.dumps(campaign.model_dump(mode="json")))
    return campaign


def branin_rows(n, seed=0):
    rng = np.random.default_rng(seed)
    points = [{"x1": float(rng.uniform(-5, 10)), "x2": float(rng.uniform(0, 15))} for _ in range(n)]
    return ["x1,x2,y"] + [f"{p['x1']},{p['x2']},{branin(p)}" for p in points]


def test_a_campaign_started_from_20_imported_measurements_proposes_from_a_model_fitted_on_them(tmp_path):
    campaign = write_campaign(tmp_path, budget=6, initial_design=6)
    (tmp_path / "earlier.csv").write_text("\n".join(branin_rows(20)) + "\n")
    result = retort("import", "branin.yaml", "earlier.csv", "--by", "carol", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "imported 20 measurements from earlier.csv into campaign 'branin-test' (experiments 1-20)" in result.stdout
    run = loop.open_run(campaign, store=Store(campaign.store))
    assert loop.remaining(run) == 6 and loop.unallocated(run) == 6  # no budget spent
    loop.run_iteration(run, loop.next_iteration(run))
    first = run.experiments()[20:]
    assert [e.provenance.planner for e in first] == ["qLogNEI", "qLogNEI"]  # not the initial design
    (model,) = run.store.model_versions(run.record.id)
    assert model.n_train == 20 and all(e.provenance.model_version == model.id for e in first)
    imported = run.experiments()[:20]
    assert all(e.status == "measured" and e.provenance.planner == "import" and e.iteration == 0 for e in imported)
    assert imported[0].provenance.note == "imported from earlier.csv row 2"
    again = retort("import", "branin.yaml", "earlier.csv", cwd=tmp_path)
    assert again.returncode == 2 and "this file was already imported into campaign 'branin-test' by carol" in again.stderr
    status = retort("status", "branin.yaml", cwd=tmp_path)
    assert "imported" in status.stdout and " 20 " in status.stdout


BAD = {
    "unknown column": ("x1,x2,y,colour\n1,2,3,red\n", "unknown columns ['colour']"),
    "no parameter": ("x1,y\n1,3\n", "no column for parameters ['x2']"),
    "no objective": ("x1,x2\n1,2\n", "give a column for each objective ['y']"),
    "outside": ("x1,x2,y\n1,2,3\n11,2,3\n", "row 3: parameter 'x1': value 11.0 is outside its domain"),
    "not a number": ("x1,x2,y\n1,2,3\n1,2,high\n", "row 3, column 'y': 'high' is not a number"),
    "nan": ("x1,x2,y\n1,2,nan\n", "row 2, column 'y': 'nan' is not a finite number"),
    "empty": ("x1,x2,y\n1,2,\n", "row 2, column 'y': empty"),
    "empty parameter": ("x1,x2,y\n,2,4\n", "row 2: no value for ['x1']"),
    "header only": ("x1,x2,y\n", "no measured rows to import"),
    "twice": ("x1,x2,y,x1\n1,2,3,9\n", "two columns give the same value (x1)"),
    "twice prefixed": ("x1,x2,y,param.x1\n1,2,3,9\n", "two columns give the same value (param x1)"),
    "prefixed unknown": ("x1,x2,y,param.x3\n1,2,3,9\n", "unknown columns ['param.x3']"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_file_is_refused_naming_the_row_and_column_and_nothing_is_stored(tmp_path, case):
    campaign = write_campaign(tmp_path)
    text, message = BAD[case]
    (tmp_path / "bad.csv").write_text(text)
    result = retort("import", "branin.yaml", "bad.csv", cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: bad.csv")
    store = Store(campaign.store)
    assert store.experiments(store.campaign(campaign.name).id) == []


def test_one_campaigns_export_imports_into_another_taking_only_its_measured_rows(tmp_path):
    campaign = write_campaign(tmp_path, budget=4)
    run = loop.open_run(campaign, store=Store(campaign.store))
    while loop.remaining(run) > 0:
        loop.run_iteration(run, loop.next_iteration(run))
    loop.propose(run, 9, None, 2)  # proposed, not measured: not imported
    exported = retort("export", "branin.yaml", "-o", "old.csv", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    result = retort("import", "branin-test-2", "old.csv", "--store", campaign.store, cwd=tmp_path)
    assert result.returncode == 2 and "no campaign 'branin-test-2'" in result.stderr  # a name must be stored already
    (tmp_path / "second.yaml").write_text(json.dumps(campaign.model_dump(mode="json") | {"name": "branin-test-2"}))
    result = retort("import", "second.yaml", "old.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    store = Store(campaign.store)
    copied = store.experiments(store.campaign("branin-test-2").id)
    measured = [e for e in run.experiments() if e.status == "measured"]
    assert [(e.params, e.objectives()) for e in copied] == [(e.params, e.objectives()) for e in measured]
    assert all(sorted((m.name, m.kind) for m in e.measurements) == [("y", "objective"), ("y", "raw")] for e in copied)
