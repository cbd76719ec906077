"""A learn campaign where users meet it: the campaign file and its messages, `retort run` (its summary and report),
`retort status`, `retort export --predictions`, the operator UI, and the loop ending it when it has learned."""

import csv
import io
from pathlib import Path

import pytest
import yaml

from retort.orchestrator import loop
from retort.orchestrator.campaign import load_campaign, with_changes
from retort.orchestrator.campaign.learning import rounds
from retort.orchestrator.campaign.results import summarise
from retort.orchestrator.cli import main as cli
from retort.orchestrator.store import Store
from tests.orchestrator.test_cli import retort  # a real run in a process of its own: Prefect's client outlives its server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "aryl_scope_learn.yaml"


def test_the_example_runs_and_status_export_report_and_ui_show_the_model(tmp_path, capsys):
    store = f"sqlite:///{tmp_path / 'learn.db'}"
    ran = retort("run", str(EXAMPLE), "--store", store, "--iterations", "3", "--report", str(tmp_path / "r.png"), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "planner learn (trust levels 2 to 40, lowered to keep 10 candidates" in " ".join(ran.stderr.split())
    out = " ".join(ran.stdout.replace("│", " ").split())
    assert "learning round 2: of 1516 candidates not yet measured" in out and "cross-validated error on the measured points RMSE" in out, out
    from PIL import Image

    assert Image.open(tmp_path / "r.png").text["Learning"].startswith("round 2: of 1516 candidates")
    db = Store(store)
    record = db.campaign("aryl-scope-learn")
    shares = rounds(db.model_versions(record.id))
    assert len(shares) == 2 and all(s.total == 1536 - n for s, n in zip(shares, (10, 20)))
    learned = [e for e in db.experiments(record.id) if e.provenance.planner == "learn"]
    assert len(learned) == 20 and all(e.provenance.acquisition_value is not None for e in learned)
    disagreement = [float(e.provenance.note.split("committee disagreement ")[1].split()[0]) for e in learned]
    assert all(d <= 40 for d in disagreement)  # none above the upper trust level was sent to the lab
    assert cli.main(["status", "--store", store]) == 0
    assert "aryl-scope-learn: learning: round 2: of 1516 candidates" in " ".join(capsys.readouterr().out.split())
    assert cli.main(["export", "aryl-scope-learn", "--store", store, "--predictions", "-o", str(tmp_path / "p.csv")]) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "p.csv").read_text())))
    assert len(rows) == 1536 and {r["trust"] for r in rows} <= {"measured", "accurate", "candidate", "suspect"}
    assert sum(r["trust"] == "measured" for r in rows) == 30 and all(r["measured.yield"] for r in rows if r["trust"] == "measured")
    assert all(float(r["predicted.yield.std"]) > 0 for r in rows)
    assert cli.main(["export", "aryl-scope-learn", "--store", store, "--predictions", "--format", "json"]) == 2
    assert "--predictions writes CSV" in capsys.readouterr().err
    from retort.orchestrator.store.users import Users
    from tests.ui.test_app import signed_in

    Users(db).add("olga", "operator", "olga-password")
    page = signed_in(store, "olga").get("/campaigns/aryl-scope-learn")
    assert page.status_code == 200 and "Learning (goal: learn" in page.text and "round 2: of 1516 candidates" in " ".join(page.text.split())


@pytest.mark.parametrize("keep, measured, why", [
    (10, 20, "converged: 99.3% and 99.3% of the candidates not yet measured are accurate in the last two rounds (threshold 95%)"),
    (0, 10, "nothing left to label between the trust levels: 1526 accurate, 0 suspect"),
])
def test_a_campaign_whose_models_agree_ends_before_its_budget_and_says_why(tmp_path, keep, measured, why):
    campaign = with_changes(load_campaign(EXAMPLE), "test", learning={"lower": 1000, "upper": 2000, "keep": keep}, budget=100,
                            store=f"sqlite:///{tmp_path / 'done.db'}")
    run = loop.open_run(campaign)
    loop.drive(run)  # keep 10: each round 10 candidates are left between the levels, the rest accurate; keep 0: none is
    models = run.store.model_versions(run.record.id)
    summary = summarise(campaign, run.store.experiments(run.record.id), models)
    assert summary.measured == measured and why in summary.learning
    loop.drive(run)  # run again: it stays over
    assert summarise(campaign, run.store.experiments(run.record.id), models).measured == measured


def small_space(data: dict) -> dict:
    """Two values of each parameter (8 candidates) and a design of all 8."""
    return data | {"initial_design": 8, "budget": 8, "parameters": [p | {"values": p["values"][:2]} for p in data["parameters"]]}


@pytest.mark.parametrize("change, message", [
    (lambda d: d | {"learning": {"lower": 40, "upper": 2}}, "learning: lower 40 must be below upper 2"),
    (lambda d: d | {"learning": {"lower": 2, "upper": 40, "converged": 0}}, "learning.converged"),
    (lambda d: d | {"learning": {"lower": 2, "upper": 40, "converged": 1.5}}, "learning.converged"),
    (lambda d: {k: v for k, v in d.items() if k != "learning"}, "goal 'learn' needs trust levels"),
    (lambda d: d | {"goal": "optimise"}, "learning: trust levels apply to a campaign with goal: learn"),
    (lambda d: d | {"objectives": d["objectives"] + [{"name": "cost", "goal": "minimize"}]}, "goal 'learn' models one objective"),
    (small_space, "nothing is left to learn"),
])
def test_settings_that_cannot_learn_are_refused_by_name_and_nothing_is_stored(tmp_path, capsys, change, message):
    path = tmp_path / "learn.yaml"
    path.write_text(yaml.safe_dump(change(yaml.safe_load(EXAMPLE.read_text()))))
    store = f"sqlite:///{tmp_path / 'bad.db'}"
    assert cli.main(["run", str(path), "--store", store]) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "bad.db").exists() or Store(store).campaigns() == []
