"""The dataset lookup lab on the packaged reaction grids."""

import json
from pathlib import Path

import pytest

from retort.orchestrator import loop
from retort.orchestrator.campaign import load_campaign
from retort.orchestrator.errors import CampaignError, LabError, StoreError
from retort.orchestrator.labs import LabRequest, build_lab
from retort.orchestrator.store import Store
from retort.simulators.lookup import GridLookup

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_grids_load_with_their_holes_and_thresholds():
    bh = GridLookup.from_packaged("buchwald_hartwig_ahneman2018")
    assert len(bh.table) == 3955 and len(bh.missing()) == 5 and bh.quantile(0.99) == pytest.approx(92.904, abs=1e-3)
    suzuki = GridLookup.from_packaged("suzuki_perera2018")
    assert len(suzuki.table) == 3696 and suzuki.missing() == []


def test_the_aryl_scope_ligand_grid_is_complete_and_its_example_names_every_level():
    grid = GridLookup.from_packaged("aryl_scope_ligand_wang2024")
    assert len(grid.table) == 24 * 8 * 8 and grid.missing() == [] and grid.quantile(0.99) == pytest.approx(98.01, abs=0.01)
    campaign = load_campaign(EXAMPLES / "aryl_scope_ligand.yaml")
    lab = build_lab(campaign)  # refuses any campaign value that is not in the grid
    assert [len(p.values) for p in campaign.parameters] == [24, 8, 8] and lab.unavailable() == []
    (result,) = lab.measure(lab.prepare([LabRequest(seq=1, params=campaign.space.point_at(0))]))
    assert result.readings["yield"] in set(grid.table.values())


def test_lookup_answers_the_grid_and_refuses_points_off_it():
    campaign = load_campaign(EXAMPLES / "buchwald_hartwig.yaml")
    lab = build_lab(campaign)
    hole = lab.unavailable()[0]
    point = campaign.space.point_at(0)
    (result,) = lab.measure(lab.prepare([LabRequest(seq=1, params=point)]))
    assert 0 <= result.readings["yield"] <= 100
    with pytest.raises(LabError, match="this combination was never measured"):
        lab.measure(lab.prepare([LabRequest(seq=2, params=hole)]))


def test_campaign_values_outside_the_grid_are_refused(tmp_path):
    text = (EXAMPLES / "buchwald_hartwig.yaml").read_text().replace("- 'Brc1ccccn1'", "- 'Brc1ccccc1'")
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(CampaignError, match=r"parameter 'aryl_halide': values \['Brc1ccccc1'\] are not in grid"):
        build_lab(load_campaign(tmp_path / "c.yaml"))


def test_grid_campaign_never_proposes_a_hole_or_a_repeat():
    campaign = load_campaign(EXAMPLES / "buchwald_hartwig.yaml").model_copy(update={"budget": 15, "store": "sqlite://"})
    run = loop.open_run(campaign, store=Store("sqlite://"))
    assert len(run.space.excluded) == 5
    while loop.remaining(run) > 0:
        loop.run_iteration(run, loop.next_iteration(run))
    experiments = run.experiments()
    assert all(e.status == "measured" for e in experiments) and len(experiments) == 15
    indices = [run.space.index_of(e.params) for e in experiments]
    assert len(set(indices)) == 15 and not set(indices) & run.space.excluded_indices()
    assert [e.provenance.planner for e in experiments].count("qLogNEI") == 10


def test_a_campaign_stored_while_random_draws_were_the_default_resumes_with_the_levels_design(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    campaign = load_campaign(EXAMPLES / "buchwald_hartwig.yaml").model_copy(update={"budget": 15, "initial_design": 10, "store": url})
    assert campaign.initial_design_method == "levels" and "initial_design_method" not in (EXAMPLES / "buchwald_hartwig.yaml").read_text()
    earlier = campaign.model_copy(update={"initial_design_method": "random"})  # what the earlier release stored for this file
    run = loop.open_run(earlier, store=Store(url))
    loop.run_iteration(run, loop.next_iteration(run))
    assert [e.provenance.planner for e in run.experiments()] == ["random design"] * 5
    run = loop.open_run(campaign, store=Store(url))  # the unchanged file, this release: not refused
    loop.run_iteration(run, loop.next_iteration(run))
    experiments = run.experiments()
    assert [e.provenance.planner for e in experiments] == ["random design"] * 5 + ["levels design"] * 5
    assert len({run.space.index_of(e.params) for e in experiments}) == 10
    with pytest.raises(StoreError, match="changed: seed"):
        loop.open_run(campaign.model_copy(update={"seed": campaign.seed + 1}), store=Store(url))


def test_a_dataset_path_is_relative_to_the_campaign_file_and_a_store_from_the_last_release_still_matches(tmp_path, monkeypatch):
    from retort.orchestrator.campaign import Campaign

    from importlib import resources

    from retort.simulators.lookup import PACKAGED

    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    packaged = resources.files("retort.simulators").joinpath("data", *PACKAGED["buchwald_hartwig_ahneman2018"].split("/"))
    (project / "data" / "grid.csv").write_text(packaged.read_text())
    text = (EXAMPLES / "buchwald_hartwig.yaml").read_text().replace("dataset: buchwald_hartwig_ahneman2018", "path: data/grid.csv")
    assert "path: data/grid.csv" in text
    (project / "c.yaml").write_text(text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    campaign = load_campaign(project / "c.yaml")
    assert campaign.lab.path == str(project / "data" / "grid.csv")
    lab = build_lab(campaign)
    lab.measure(lab.prepare([LabRequest(seq=1, params=campaign.space.point_at(0))]))
    # the last release stored the path as written and read it from the working directory
    monkeypatch.chdir(project)
    stored = json.loads(campaign.config_json()) | {}
    stored["lab"]["path"] = "data/grid.csv"
    assert Campaign.normalise_config(json.dumps(stored)) == Campaign.normalise_config(campaign.config_json())
    stored["lab"]["path"] = "/an/old/checkout/data/grid.csv"  # the project moved
    assert Campaign.normalise_config(json.dumps(stored)) == Campaign.normalise_config(campaign.config_json())
    stored["lab"]["path"] = "data/other.csv"
    assert Campaign.normalise_config(json.dumps(stored)) != Campaign.normalise_config(campaign.config_json())


def test_a_numeric_grid_column_is_a_discrete_parameter_matched_by_value(tmp_path):
    rows = [(lig, t, (i + 1) * t / 10) for i, lig in enumerate(["L1", "L2", "L3"]) for t in (30, 60, 90) if (lig, t) != ("L3", 90)]
    (tmp_path / "grid.csv").write_text("ligand,temperature,yield\n" + "".join(f"{lig},{t:.1f},{y}\n" for lig, t, y in rows))
    text = """
name: numeric-grid
parameters:
  - {name: ligand, type: categorical, values: [L1, L2, L3]}
  - {name: temperature, type: discrete, values: [30, 60, 90], unit: degC}
objectives: [{name: yield, goal: maximize}]
batch_size: 2
budget: 8
initial_design: 2
seed: 3
lab: {kind: dataset_lookup, path: grid.csv}
"""
    (tmp_path / "c.yaml").write_text(text)
    campaign = load_campaign(tmp_path / "c.yaml").model_copy(update={"store": "sqlite://"})
    lab = build_lab(campaign)
    assert lab.unavailable() == [{"ligand": "L3", "temperature": 90.0}]
    run = loop.open_run(campaign, store=Store("sqlite://"))
    while loop.remaining(run) > 0:
        loop.run_iteration(run, loop.next_iteration(run))
    measured = run.experiments()
    assert len(measured) == 8 and all(e.status == "measured" for e in measured)
    expected = {(lig, float(t)): y for lig, t, y in rows}
    assert all(e.raw()["yield"] == expected[e.params["ligand"], e.params["temperature"]] for e in measured)
    (tmp_path / "c.yaml").write_text(text.replace("values: [30, 60, 90]", "values: [30, 45, 90]"))
    with pytest.raises(CampaignError, match=r"parameter 'temperature': values \[45\.0\] are not in grid"):
        build_lab(load_campaign(tmp_path / "c.yaml"))
    with (tmp_path / "grid.csv").open("a") as grid:
        grid.write("L3,90,1.0\n")  # 90 written a second way
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(CampaignError, match=r"column 'temperature' writes one number two ways: \[\['90', '90.0'\]\]"):
        build_lab(load_campaign(tmp_path / "c.yaml"))


def test_a_chemists_own_export_is_read_by_the_columns_the_campaign_maps(tmp_path):
    """An HTE export names each compound, gives it an id and a SMILES, and carries the product: the campaign maps the
    SMILES columns and the rest of the file is not read; the mapped columns must tell every row apart."""
    ligands = {"XPhos": "CC(C)c1cc(C(C)C)c(-c2ccccc2P(C2CCCCC2)C2CCCCC2)c(C(C)C)c1", "PPh3": "c1ccc(P(c2ccccc2)c2ccccc2)cc1"}
    bromides = {"PhBr": "Brc1ccccc1", "TolBr": "Cc1ccc(Br)cc1"}
    lines = ["ligand_name,ligand_id,ligand_smiles,bromide_name,bromide_smiles,product_smiles,yield"]
    for i, (ln, ls) in enumerate(ligands.items()):
        for j, (bn, bs) in enumerate(bromides.items()):
            lines.append(f"{ln},L{i},{ls},{bn},{bs},c1ccc(-c2ccccc2)cc1,{10 * i + j + 1}")
    (tmp_path / "export.csv").write_text("\n".join(lines) + "\n")
    text = f"""
name: own-export
parameters:
  - {{name: ligand, type: molecule, values: {json.dumps(ligands)}}}
  - {{name: bromide, type: molecule, values: {json.dumps(bromides)}}}
objectives: [{{name: yield, goal: maximize}}]
batch_size: 1
budget: 2
initial_design: 1
lab: {{kind: dataset_lookup, path: export.csv, columns: {{ligand: ligand_smiles, bromide: bromide_smiles}}}}
"""
    (tmp_path / "c.yaml").write_text(text)
    campaign = load_campaign(tmp_path / "c.yaml")
    lab = build_lab(campaign)
    assert lab.grid.columns == ["ligand_smiles", "bromide_smiles"] and lab.unavailable() == []
    (result,) = lab.measure(lab.prepare([LabRequest(seq=1, params={"ligand": "PPh3", "bromide": "TolBr"})]))
    assert result.readings == {"yield": 12.0}
    (tmp_path / "c.yaml").write_text(text.replace("bromide: bromide_smiles", "bromide: bromide_inchi"))
    with pytest.raises(CampaignError, match=r"parameters \['bromide'\] map to columns \['bromide_inchi'\], which grid '.*export.csv' does not have"):
        build_lab(load_campaign(tmp_path / "c.yaml"))
    one = text.replace("  - {name: bromide, type: molecule, values: " + json.dumps(bromides) + "}\n", "")
    (tmp_path / "c.yaml").write_text(one.replace(", bromide: bromide_smiles", ""))
    with pytest.raises(CampaignError, match=r"the columns \['ligand_smiles'\] do not determine a row: lines 2 and 3 both hold"):
        build_lab(load_campaign(tmp_path / "c.yaml"))


def test_the_run_summary_shows_the_best_conditions_in_full_at_80_columns(monkeypatch):
    """A ligand's SMILES is longer than the terminal: `retort run`'s summary folds it, it never cuts it off."""
    from rich.console import Console

    from retort.orchestrator.campaign.results import CampaignSummary
    from retort.orchestrator.cli import run as run_cli

    campaign = load_campaign(EXAMPLES / "aryl_scope_ligand.yaml")
    best = {p.name: max(p.labels, key=len) for p in campaign.parameters}
    summary = CampaignSummary(name=campaign.name, budget=50, measured=50, failed=0, iterations=10, best_seq=7, best_params=best,
                              best_objectives={"yield": 98.0}, model_versions=9, last_loo_coverage_95={}, lab_seconds=1.0)
    console = Console(width=80, record=True)
    monkeypatch.setattr(run_cli, "out", console)
    run_cli.print_summary(summary, campaign, 1.0)
    shown = console.export_text()
    assert "…" not in shown and len(best["ligand"]) > 80
    text = "".join(shown.split()).replace("│", "")
    assert all(f"best{name}{value}" in text for name, value in best.items())


def test_a_molecule_parameter_reads_its_names_and_structures_from_the_chemists_export(tmp_path):
    """`values: {file, smiles, names}`: the export's own name and SMILES columns give the options (each compound once,
    in file order), so the summary, status, export and UI show names with nothing typed twice; a name written with two
    structures, or one structure under two names, is refused naming the lines."""
    ligands = {"XPhos": "CC(C)c1cc(C(C)C)c(-c2ccccc2P(C2CCCCC2)C2CCCCC2)c(C(C)C)c1", "PPh3": "c1ccc(P(c2ccccc2)c2ccccc2)cc1"}
    bromides = {"PhBr": "Brc1ccccc1", "TolBr": "Cc1ccc(Br)cc1"}
    lines = ["ligand_name,ligand_smiles,bromide_name,bromide_smiles,yield"]
    lines += [f"{ln},{ls},{bn},{bs},{10 * i + j + 1}" for i, (ln, ls) in enumerate(ligands.items()) for j, (bn, bs) in enumerate(bromides.items())]
    (tmp_path / "export.csv").write_text("\n".join(lines) + "\n")
    text = """
name: named-export
parameters:
  - {name: ligand, type: molecule, values: {file: export.csv, smiles: ligand_smiles, names: ligand_name}}
  - {name: bromide, type: molecule, values: {file: export.csv, smiles: bromide_smiles, names: bromide_name}}
objectives: [{name: yield, goal: maximize}]
batch_size: 1
budget: 2
initial_design: 1
lab: {kind: dataset_lookup, path: export.csv, columns: {ligand: ligand_smiles, bromide: bromide_smiles}}
"""
    (tmp_path / "c.yaml").write_text(text)
    campaign = load_campaign(tmp_path / "c.yaml")
    assert campaign.parameters[0].values == ligands and campaign.parameters[1].values == bromides
    assert '"XPhos"' in campaign.config_json()  # stored as the mapping: the run never needs the file's names again
    lab = build_lab(campaign)
    (result,) = lab.measure(lab.prepare([LabRequest(seq=1, params={"ligand": "PPh3", "bromide": "TolBr"})]))
    assert result.readings == {"yield": 12.0}
    bad = lines + [f"XPhos,{ligands['PPh3']},PhBr,{bromides['PhBr']},1"]
    (tmp_path / "export.csv").write_text("\n".join(bad) + "\n")
    with pytest.raises(CampaignError, match=r"parameter 'ligand': values \(export.csv\): 'XPhos' is .* at line 2 but .* at line 6"):
        load_campaign(tmp_path / "c.yaml")
    bad = lines + [f"Triphenylphosphine,{ligands['PPh3']},PhBr,{bromides['PhBr']},1"]
    (tmp_path / "export.csv").write_text("\n".join(bad) + "\n")
    with pytest.raises(CampaignError, match=r"line 6 names 'Triphenylphosphine' the compound line 4 names 'PPh3'"):
        load_campaign(tmp_path / "c.yaml")
    (tmp_path / "c.yaml").write_text(text.replace("names: ligand_name", "names: ligand_label"))
    with pytest.raises(CampaignError, match=r"'export.csv' has no column 'ligand_label' \(its columns: \['ligand_name'"):
        load_campaign(tmp_path / "c.yaml")
