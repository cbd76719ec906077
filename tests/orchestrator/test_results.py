"""What a campaign found is defined once (`campaign.results`) and named the same everywhere a user meets it: `retort
status`, `retort export` (CSV and JSON), `retort run`'s summary, the report PNG, and the UI's campaigns and campaign
pages; a stored configuration this release refuses is shown as such, and its data stay exportable."""

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from retort.agents.proposal import Proposal, Provenance
from retort.orchestrator.campaign import Campaign
from retort.orchestrator.campaign.results import best, headline, pareto_front, summarise
from retort.orchestrator.cli.report import write_report
from retort.orchestrator.cli.run import print_summary
from retort.orchestrator.store import Store
from retort.orchestrator.store.tables import CampaignRow
from retort.orchestrator.store.users import Users
from retort.orchestrator.ui.app import create_app

# (yield, cost, purity) per experiment. Weighted utility (yield - 0.5 cost), keeping purity >= 90:
#   #1 49.5, #2 85 (breaks purity), #3 69 (the best), #4 65 (the best first objective that keeps purity), #5 failed.
# Pareto front (maximise yield, minimise cost), keeping purity: #1, #3, #4 (ignoring purity: #1, #2, #3).
MEASURED = {1: (50.0, 1.0, 95.0), 2: (90.0, 10.0, 80.0), 3: (70.0, 2.0, 92.0), 4: (80.0, 30.0, 95.0)}


def campaign_data(name, trade_off):
    return {"name": name, "budget": 8, "batch_size": 5, "trade_off": trade_off,
            "parameters": [{"name": "ligand", "type": "categorical", "values": ["a", "b", "c", "d", "e"]}],
            "objectives": [{"name": "yield", "goal": "maximize", "weight": 1.0}, {"name": "cost", "goal": "minimize", "weight": 0.5}],
            "outcome_constraints": [{"name": "purity", "op": ">=", "value": 90}],
            "lab": {"kind": "dataset_lookup", "path": "/data/grid.csv", "output": ["yield", "cost", "purity"]}}


def fill(store, campaign):
    """Five experiments: four measured (readings and objectives as a lab run stores them), one failed."""
    record = store.open_campaign(campaign.name, campaign.config_json(), Campaign.normalise_config)
    rows = store.add_proposals(record.id, 1, [Proposal(params={"ligand": v}, provenance=Provenance(planner="random")) for v in "abcde"])
    store.set_status([e.id for e in rows], "approved")
    store.set_status([e.id for e in rows], "running")
    for e in rows:
        if e.seq in MEASURED:
            y, c, p = MEASURED[e.seq]
            store.record_result(e.id, {"yield": y, "cost": c, "purity": p}, {"yield": y, "cost": c}, {}, "lookup", 1.0)
        else:
            store.record_result(e.id, {"yield": float("nan")}, {}, {}, "lookup", 1.0, failure="non-finite reading")
    return record


@pytest.fixture
def lab(tmp_path):
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    store = Store(url)
    weighted = Campaign.model_validate(campaign_data("weighted", "weighted") | {"store": url})
    pareto = Campaign.model_validate(campaign_data("pareto", "pareto") | {"store": url})
    fill(store, weighted)
    fill(store, pareto)
    Users(store).add("olga", "operator", "olga-password")
    return tmp_path, url, store, weighted, pareto


def retort(*args, cwd):
    env = dict(os.environ, PREFECT_HOME=str(Path(cwd) / ".prefect"), COLUMNS="250")
    return subprocess.run([sys.executable, "-m", "retort.orchestrator.cli", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def ui(url):
    client = TestClient(create_app(url), base_url="http://127.0.0.1:8765")
    form = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    client.post("/login", data={"name": "olga", "password": "olga-password", "csrf": token, "next": "/"})
    return client


def test_every_command_and_page_names_the_same_best_experiment_and_the_same_front(lab, capsys):
    tmp_path, url, store, weighted, pareto = lab
    experiments = store.experiments(store.campaign("weighted").id)
    assert best(weighted, experiments).seq == 3
    assert [e.seq for e in pareto_front(pareto, store.experiments(store.campaign("pareto").id))] == [1, 3, 4]
    assert headline(weighted, experiments) == "#3 yield 70, cost 2"
    assert headline(pareto, store.experiments(store.campaign("pareto").id)) == "front #1 #3 #4"

    status = retort("status", "--store", url, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "#3 yield 70, cost 2" in status.stdout and "front #1 #3 #4" in status.stdout

    for name, column, marked in (("weighted", "best", ["3"]), ("pareto", "pareto_front", ["1", "3", "4"])):
        exported = retort("export", name, "--store", url, cwd=tmp_path)
        rows = list(csv.DictReader(io.StringIO(exported.stdout)))
        assert [r["seq"] for r in rows if r[column] == "yes"] == marked, name
        as_json = json.loads(retort("export", name, "--store", url, "--format", "json", cwd=tmp_path).stdout)
        assert [str(e["seq"]) for e in as_json if e[column]] == marked, name

    summary = summarise(weighted, experiments, store.model_versions(store.campaign("weighted").id))
    assert summary.best_seq == 3 and summary.front == [1, 3, 4]
    print_summary(summary, weighted, 1.0)  # what `retort run` prints at its end
    printed = capsys.readouterr().out
    assert "70 (experiment 3)" in printed and "2 (experiment 3)" in printed and "#1, #3, #4" in printed
    pareto_summary = summarise(pareto, store.experiments(store.campaign("pareto").id))
    print_summary(pareto_summary, pareto, 1.0)
    printed = capsys.readouterr().out
    assert "#1, #3, #4" in printed and "best yield" not in printed

    for campaign, answer in ((weighted, "weighted: #3 yield 70, cost 2"), (pareto, "pareto: front #1 #3 #4")):
        png = write_report(campaign, store.experiments(store.campaign(campaign.name).id), tmp_path / f"{campaign.name}.png")
        assert Image.open(png).text["Description"] == answer
    weighted_best = store.experiments(store.campaign("weighted").id)[2]
    assert weighted_best.seq == 3 and Image.open(tmp_path / "weighted.png").text["Best conditions"] == (
        "#3: " + ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}" for k, v in weighted_best.params.items()))
    assert "Best conditions" not in Image.open(tmp_path / "pareto.png").text

    client = ui(url)
    listing = client.get("/").text
    assert "#3 yield 70, cost 2" in listing and "front #1 #3 #4" in listing
    page = client.get("/campaigns/weighted").text
    assert "Best so far: experiment 3:" in page
    front = client.get("/campaigns/pareto").text
    assert "Pareto front: experiment 1, experiment 3, experiment 4" in front and "Best so far" not in front


def test_a_stored_configuration_this_release_refuses_is_named_and_its_data_stay_exportable(lab):
    tmp_path, url, store, weighted, _ = lab
    with store.session("make an old release's configuration") as s:  # e.g. a weight above today's cap, which an earlier release took
        row = s.query(CampaignRow).filter(CampaignRow.name == "weighted").one()
        config = json.loads(row.config_json)
        config["objectives"][1]["weight"] = 5e6
        row.config_json = json.dumps(config)
        s.commit()

    status = retort("status", "--store", url, cwd=tmp_path)
    assert status.returncode == 0 and "Traceback" not in status.stderr + status.stdout
    assert "campaign 'weighted': its stored configuration is refused by this release of Retort: objectives[1] ('cost').weight:" in status.stdout
    assert "front #1 #3 #4" in status.stdout  # the other campaign is shown as ever
    single = retort("status", "weighted", "--store", url, cwd=tmp_path)
    assert single.returncode == 0 and "configuration refused" in single.stdout

    exported = retort("export", "weighted", "--store", url, cwd=tmp_path)
    assert exported.returncode == 0 and "its stored configuration is refused" in exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [r["seq"] for r in rows] == ["1", "2", "3", "4", "5"] and "best" not in rows[0]

    approve = retort("approve", "weighted", "--store", url, cwd=tmp_path)
    assert approve.returncode == 2 and approve.stderr.startswith("error: campaign 'weighted': its stored configuration is refused")

    client = ui(url)
    listing = client.get("/")
    assert listing.status_code == 200
    assert "campaign &#39;weighted&#39;: its stored configuration is refused by this release of Retort: objectives[1] (&#39;cost&#39;).weight" in listing.text
    assert client.get("/campaigns/weighted/experiments.csv").text.count("\n") == 6
