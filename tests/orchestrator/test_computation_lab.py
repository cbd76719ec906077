"""The computational lab: a campaign whose instrument is a computation engine (the dry lab)."""

import json
import re
from pathlib import Path

import pytest
import yaml

from retort.orchestrator import loop
from retort.orchestrator.campaign import load_campaign
from retort.orchestrator.errors import CampaignError
from retort.orchestrator.store import Store
from retort.orchestrator.store.computations import ComputationStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MOLECULES = {"water": "O", "methanol": "CO", "ethanol": "CCO", "propanol": "CCCO", "benzene": "c1ccccc1", "radium": "[Ra]"}


def campaign_file(tmp_path: Path, lab: dict, budget: int = 6, molecules: dict = MOLECULES, objective: str = "dG") -> Path:
    data = {"name": "dry", "parameters": [{"name": "solvent", "type": "molecule", "values": molecules}],
            "objectives": [{"name": objective, "goal": "minimize"}], "lab": lab, "budget": budget, "batch_size": 2, "seed": 0,
            "store": "sqlite://"}
    path = tmp_path / "dry.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def gaff_file(tmp_path: Path) -> None:  # FreeSolv's calculated values; radium and benzene (written another way: C1=CC=CC=C1) only
    (tmp_path / "gaff.csv").write_text("smiles,dG,note\nO,-6.3,\nCO,-3.5,\nOCC,-3.2,\nCCCO,-2.9,\nC1=CC=CC=C1,-0.8,\n[Ra],,no value\n")


def test_a_lookup_campaign_stores_each_value_with_its_computation_and_goes_on_past_a_failure(tmp_path):
    gaff_file(tmp_path)
    path = campaign_file(tmp_path, {"kind": "computation", "engine": "lookup", "path": "gaff.csv", "key": "smiles", "output": "dG",
                                    "runner": "inline"})
    store = Store("sqlite://")
    run = loop.open_run(load_campaign(path), store=store)
    loop.drive(run)  # radium's row has no number: its experiment fails, and the campaign does not stop
    experiments = run.experiments()
    assert len(experiments) == 6 and {e.params["solvent"] for e in experiments} == set(MOLECULES)  # each once: none asked twice
    failed = [e for e in experiments if e.status == "failed"]
    assert [e.params["solvent"] for e in failed] == ["radium"]
    assert failed[0].failure_reason == "no value: lookup failed on [Ra]: gaff.csv: [Ra] has no number in column(s) ['dG']"
    computations = ComputationStore(store)
    for e in experiments:
        if e.status != "measured":
            continue
        (raw,) = [m for m in e.measurements if m.kind == "raw"]
        stored = computations.by_id(raw.computation)  # the value's provenance: the file's digest, its row, the engine
        assert stored.outcome.values["dG"] == raw.value and stored.job.engine == "lookup" and stored.job.method.startswith("file sha256:")
    assert dict((e.params["solvent"], e.objectives()["dG"]) for e in experiments if e.status == "measured")["benzene"] == -0.8


def test_an_xtb_campaign_computes_live_and_a_failed_computation_keeps_the_engines_words(tmp_path):
    pytest.importorskip("tblite")
    path = campaign_file(tmp_path, {"kind": "computation", "engine": "xtb", "settings": {"solvent": "water"}, "runner": "inline"},
                         objective="solvation_free_energy")
    store = Store("sqlite://")
    run = loop.open_run(load_campaign(path), store=store)
    loop.drive(run)
    by = {e.params["solvent"]: e for e in run.experiments()}
    assert by["radium"].status == "failed" and "No support for elements with Z >86" in by["radium"].failure_reason
    measured = {k: e.objectives()["solvation_free_energy"] for k, e in by.items() if e.status == "measured"}
    assert measured["water"] < measured["ethanol"] < measured["benzene"]  # the experimental order of FreeSolv
    units = {m.name: m.unit for m in by["water"].measurements if m.kind == "raw"}
    assert units["solvation_free_energy"] == "kcal/mol" and units["homo_lumo_gap"] == "eV"
    rows = ComputationStore(store).all()
    assert len(rows) == 6 and all(r.job.settings == {"solvent": "water"} and r.outcome.engine_version.startswith("tblite") for r in rows)
    assert all(r.outcome.input_hash for r in rows if r.outcome.status == "done")


@pytest.mark.parametrize("lab, message", [
    ({"kind": "computation", "engine": "gaussian"}, "engine"),
    ({"kind": "computation", "engine": "lookup", "path": "gaff.csv"}, "engine 'lookup' needs ['key', 'output']"),
    ({"kind": "computation", "engine": "lookup", "path": "gaff.csv", "key": "smiles", "output": "dH"}, "no column(s) ['dH']"),
    ({"kind": "computation", "engine": "xtb", "address": "tcp://10.0.0.1:8786"}, "address is a Dask scheduler's; set runner: dask"),
    ({"kind": "computation", "engine": "xtb"}, "objective 'dG' needs readings ['dG'], which lab 'computation (xtb)' does not produce"),
])
def test_a_computation_lab_that_cannot_run_is_named(tmp_path, lab, message):
    pytest.importorskip("tblite")
    gaff_file(tmp_path)
    with pytest.raises(CampaignError, match=re.escape(message)):
        loop.open_run(load_campaign(campaign_file(tmp_path, lab)), store=Store("sqlite://"))


def test_a_chgnet_campaign_over_compositions_stores_each_energy_with_its_provenance():
    pytest.importorskip("chgnet")
    campaign = load_campaign(EXAMPLES / "rocksalt_chgnet.yaml")
    campaign = campaign.model_copy(update={"budget": 3, "store": "sqlite://", "lab": campaign.lab.model_copy(update={"runner": "inline"})})
    store = Store("sqlite://")
    run = loop.open_run(campaign, store=store)
    loop.drive(run)
    experiments = run.experiments()
    assert len(experiments) == 3 and all(e.status == "measured" for e in experiments)
    computations = ComputationStore(store)
    for e in experiments:
        (raw,) = [m for m in e.measurements if m.kind == "raw"]
        stored = computations.by_id(raw.computation)
        structure = json.loads(stored.job.input)
        cations = [s[0] for s in structure["sites"] if s[0] != "O"]
        assert len(structure["sites"]) == 32 and len(cations) == 16 and set(cations) <= {"Mg", "Ca", "Sr"}
        assert stored.job.method == "CHGNet 0.3.0" and stored.job.settings == {"relax": False}
        assert stored.outcome.engine_version.startswith("chgnet 0.4") and stored.outcome.cpu_seconds > 0 and stored.outcome.input_hash
        assert raw.unit == "eV/atom" and raw.value == stored.outcome.values["energy_per_atom"] and -8 < raw.value < -4


def test_chgnet_names_an_element_it_was_not_trained_on():
    pytest.importorskip("chgnet")
    from pymatgen.core import Structure

    from retort.instruments.computations import Job
    from retort.instruments.computations.chgnet import ChgnetEngine, structure_json, substituted

    prototype = Structure.from_file(EXAMPLES / "structures" / "MgO_rocksalt.cif")
    americium = substituted(prototype, "Mg", {"Mg": 0.5, "Am": 0.5}, seed=0)
    outcome = ChgnetEngine().compute(Job(engine="chgnet", method="CHGNet 0.3.0", input=structure_json(americium)))
    assert outcome.status == "failed" and outcome.message == "CHGNet was trained on elements up to Pu (Z = 94); this structure has ['Am']"
