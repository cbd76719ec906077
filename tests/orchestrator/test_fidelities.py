"""Dry-wet campaigns: fidelities in the campaign file, computations and measurements planned together by cost, the budget
counting the truth, the spend and learned correlations where users look (run summary, status, export, report)."""

import copy
from pathlib import Path

import pytest
import yaml

from retort.agents.fidelity import CostAwarePlanner
from retort.agents.proposal import Proposal, Provenance
from retort.orchestrator import loop
from retort.orchestrator.cli import main as cli
from retort.orchestrator.campaign import load_campaign
from retort.orchestrator.campaign.export import rows
from retort.orchestrator.campaign.results import summarise
from retort.orchestrator.errors import CampaignError
from retort.orchestrator.store import Store
from retort.orchestrator.store.computations import ComputationStore
from retort.surrogates.summary import CORRELATION

DATA = Path(__file__).resolve().parents[2] / "examples" / "data" / "freesolv_every20th.csv"  # 33 FreeSolv molecules


def campaign_data(tmp_path: Path, budget: int = 8) -> dict:
    return {
        "name": "dry-wet", "parameters": [{"name": "molecule", "type": "molecule", "values": {"file": str(DATA), "smiles": "smiles", "names": "id"}}],
        "objectives": [{"name": "dG", "goal": "minimize", "output": "expt"}],
        "lab": {"kind": "dataset_lookup", "path": str(DATA), "output": "expt", "columns": {"molecule": "id"}},
        "fidelities": [{"name": "gaff", "cost": 100, "reading": "calc",
                        "lab": {"kind": "computation", "engine": "lookup", "path": str(DATA), "key": "smiles", "output": "calc", "runner": "inline"}},
                       {"name": "wet", "cost": 2000}],
        "budget": budget, "batch_size": 4, "initial_design": 4, "seed": 0, "store": f"sqlite:///{tmp_path / 'dw.db'}"}


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "dw.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_dry_wet_campaign_plans_by_cost_and_its_budget_counts_truth_experiments(tmp_path, capsys):
    campaign = load_campaign(write(tmp_path, campaign_data(tmp_path)))
    run = loop.open_run(campaign)
    loop.drive(run)
    experiments = run.experiments()
    truth = [e for e in experiments if e.fidelity is None]
    dry = [e for e in experiments if e.fidelity is not None]
    assert len(truth) == 8 and all(e.status == "measured" and "dG" in e.objectives() for e in truth)  # the budget: 8 measurements
    assert dry and {e.fidelity for e in dry} == {"gaff"} and all(e.status == "measured" for e in dry)
    assert all(e.objectives() == {} for e in dry)  # a computed value is no measurement of the objective: never the best
    assert len({e.params["molecule"] for e in truth}) == 8 and len({e.params["molecule"] for e in dry}) == len(dry)
    computations = ComputationStore(run.store)
    for e in dry:  # each computed value names its stored computation: the file's digest and row, the engine
        (raw,) = [m for m in e.measurements if m.kind == "raw"]
        assert computations.by_id(raw.computation).outcome.values["calc"] == raw.value
    assert all(e.provenance.planner == "MF-MES" for e in dry)
    assert run.counts() == {"measured": 8}  # what the budget and every progress line count

    models = run.store.model_versions(run.record.id)
    assert models and models[-1].kind == "MultiTaskGP" and f"{CORRELATION}gaff" in models[-1].hyperparameters
    summary = summarise(campaign, experiments, models)
    assert summary.measured == 8 and summary.best_seq in {e.seq for e in truth}
    spend = {f.name: f for f in summary.fidelities}
    assert spend["wet"].done == 8 and spend["wet"].spend == 16_000 and spend["wet"].correlation is None
    assert spend["gaff"].done == len(dry) and spend["gaff"].spend == 100 * len(dry)
    assert -1 <= spend["gaff"].correlation <= 1 and spend["gaff"].correlation == models[-1].hyperparameters[f"{CORRELATION}gaff"][0]

    assert {r["fidelity"] for r in rows(experiments, campaign)} == {"gaff", "wet"}
    assert cli.main(["status", "dry-wet", "--store", campaign.store]) == 0
    shown = capsys.readouterr().out
    assert f"gaff {len(dry)} computations x 100 = {100 * len(dry):,}; learned correlation with the truth " in shown
    assert "wet (truth) 8 measurements x 2000 = 16,000" in shown


def test_computations_are_approved_without_a_person_and_measurements_wait_for_one(tmp_path):
    data = campaign_data(tmp_path) | {"approval": "required"}
    run = loop.open_run(load_campaign(write(tmp_path, data)))

    class Fixed(CostAwarePlanner):  # the steps' side only: what happens to a dry and a truth proposal once made
        def propose(self, space, observations, pending, batch_size, model=None, rejected=(), failed_pairs=()):
            return [Proposal(params={"molecule": "mobley_1017962"}, fidelity="gaff", provenance=Provenance(planner="fixed")),
                    Proposal(params={"molecule": "mobley_1323538"}, fidelity="wet", provenance=Provenance(planner="fixed"))]

    planner = run.planner
    run.planner = Fixed(planner.objective, False, planner.fidelities, planner.truth, planner.n_initial, planner.seed)
    gaff, wet = loop.propose(run, 1, None, 4)
    assert (gaff.fidelity, gaff.status) == ("gaff", "approved")  # a computation spends no reagents
    assert (wet.fidelity, wet.status) == (None, "proposed")  # the truth is stored as the campaign's own experiments are
    assert run.counts() == {"proposed": 1}


BAD = [
    (lambda d: d["fidelities"][1].update(cost=0), "fidelities[1] ('wet').cost: Input should be greater than 0"),
    (lambda d: d["fidelities"][1].pop("cost"), "fidelities[1] ('wet').cost: Field required"),
    (lambda d: d["fidelities"][0].pop("lab"), "exactly one fidelity is the truth, measured by the campaign's lab, and names no lab of its own; "
                                              "['gaff', 'wet'] name none"),
    (lambda d: d["fidelities"].pop(), "exactly one fidelity is the truth"),
    (lambda d: d["fidelities"][0].pop("reading"), "fidelities: 'gaff' needs reading: the reading of its lab that estimates the objective"),
    (lambda d: d["fidelities"][1].update(name="lab"), "'lab' names the campaign's own instrument"),
    (lambda d: d["objectives"].append({"name": "other", "goal": "maximize", "output": "calc"}), "the cost-aware planner optimises one objective"),
    (lambda d: d.update(schedule="async"), "dry and wet rounds are planned together; use schedule: batch"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_fidelities_are_named(tmp_path, change, message):
    data = copy.deepcopy(campaign_data(tmp_path))
    change(data)
    with pytest.raises(CampaignError, match=None) as caught:
        load_campaign(write(tmp_path, data))
    assert message in str(caught.value)


def test_a_reading_the_computation_does_not_report_is_named_before_anything_is_stored(tmp_path, capsys):
    data = campaign_data(tmp_path)
    data["fidelities"][0]["reading"] = "solvation_free_energy"
    path = write(tmp_path, data)
    assert cli.main(["run", str(path)]) == 2
    assert ("error: fidelity 'gaff': reading 'solvation_free_energy' is not one engine 'lookup' reports; it reports ['calc']"
            in capsys.readouterr().err)
    assert not (tmp_path / "dw.db").exists() or Store(data["store"]).campaigns() == []


def test_the_operator_ui_shows_the_spend_per_fidelity_and_each_computed_value(tmp_path):
    from retort.orchestrator.store.users import Users
    from tests.ui.test_app import signed_in

    campaign = load_campaign(write(tmp_path, campaign_data(tmp_path, budget=6)))
    run = loop.open_run(campaign)
    loop.drive(run)
    Users(run.store).add("olga", "operator", "olga-password")
    page = signed_in(campaign.store, "olga").get("/campaigns/dry-wet")
    assert page.status_code == 200
    dry = [e for e in run.experiments() if e.fidelity == "gaff"]
    text = " ".join(page.text.split())
    assert "6 of 6</strong> experiments done" in text  # the budget: measurements
    assert f"gaff: {len(dry)} computations x 100 = {100 * len(dry):,}; learned correlation with the truth" in text
    assert "wet: 6 measurements x 2000 = 12,000" in text
    shown = dry[0].raw()["calc"]
    assert f'<span class="note">gaff {shown:.4g}</span>' in page.text  # the computed value, beside the objective's column


def test_an_export_imported_into_a_fresh_dry_wet_campaign_brings_its_measurements_not_its_computations(tmp_path):
    from retort.orchestrator.campaign.export import to_csv
    from retort.orchestrator.decisions.importing import read_measurements

    data = campaign_data(tmp_path, budget=5)
    campaign = load_campaign(write(tmp_path, data))
    run = loop.open_run(campaign)
    loop.drive(run)
    experiments = run.experiments()
    items = read_measurements(campaign, to_csv(experiments, campaign), "export.csv")
    truth = {e.params["molecule"]: e.objectives()["dG"] for e in experiments if e.fidelity is None}
    assert {i.params["molecule"]: i.objectives["dG"] for i in items} == truth and len(items) == 5
