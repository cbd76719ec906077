"""A campaign warm-started from an earlier one in the same store (or a file of measurements), where users meet it: the
campaign file, `retort run` (its summary), `retort status`, and the messages when a source cannot serve."""

from pathlib import Path

import yaml

from retort.orchestrator import loop
from retort.orchestrator.campaign import load_campaign, with_changes
from retort.orchestrator.cli import main as cli
from retort.orchestrator.store import Store
from retort.surrogates.summary import RELATEDNESS, WARM_START
from tests.orchestrator.test_cli import retort  # a real run in a process of its own: Prefect's client outlives its server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(tmp_path: Path, stem: str, **changes) -> Path:
    text = (EXAMPLES / f"{stem}.yaml").read_text().replace("path: data/", f"path: {EXAMPLES}/data/")
    data = yaml.safe_load(text) | changes
    path = tmp_path / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_example_pair_runs_and_status_shows_what_the_warm_start_learned(tmp_path, capsys):
    store = f"sqlite:///{tmp_path / 'warm.db'}"
    source, target = example(tmp_path, "buchwald_hartwig_bromide"), example(tmp_path, "buchwald_hartwig_iodide_warm_start")
    assert cli.main(["validate", str(target), "--store", store]) == 2  # no store yet: its sources cannot be in it
    assert "warm_start: the store" in capsys.readouterr().err
    assert cli.main(["run", str(target), "--store", store]) == 2  # before its source exists: one message, nothing stored
    assert "warm_start: campaign 'bh-ethylphenyl-bromide' is not in the store" in capsys.readouterr().err
    assert [c.name for c in Store(store).campaigns()] == []
    loop.drive(loop.open_run(with_changes(load_campaign(source), "test", budget=10), store=Store(store)))  # the earlier campaign
    ran = retort("run", str(target), "--store", store, "--iterations", "2", "--report", str(tmp_path / "r.png"), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    from PIL import Image

    assert Image.open(tmp_path / "r.png").text["Warm start"].startswith("warm start from bh-ethylphenyl-bromide (correlation")
    out = " ".join(ran.stdout.replace("│", " ").split())  # the summary table, its cells unwrapped
    assert "warm start warm start from bh-ethylphenyl-" in out and "(correlation" in out, out
    db = Store(store)
    (model,) = db.model_versions(db.campaign("bh-ethylphenyl-iodide").id)
    assert RELATEDNESS + "bh-ethylphenyl-bromide" in model.hyperparameters and WARM_START in model.hyperparameters
    assert cli.main(["validate", str(target), "--store", store]) == 0
    assert "warm start from bh-ethylphenyl-bromide" in capsys.readouterr().out
    assert cli.main(["status", "--store", store]) == 0
    status = capsys.readouterr().out
    assert "bh-ethylphenyl-iodide: warm start from bh-ethylphenyl-bromide (correlation" in status
    assert "leave-one-out error on this campaign's measurements" in status
    from retort.orchestrator.store.users import Users
    from tests.ui.test_app import signed_in

    Users(db).add("olga", "operator", "olga-password")
    page = signed_in(store, "olga").get("/campaigns/bh-ethylphenyl-iodide")
    assert page.status_code == 200 and "warm start from bh-ethylphenyl-bromide (correlation" in " ".join(page.text.split())


def test_a_source_over_other_parameters_is_refused_by_name(tmp_path, capsys):
    store = f"sqlite:///{tmp_path / 'warm.db'}"
    data = yaml.safe_load((EXAMPLES / "buchwald_hartwig_bromide.yaml").read_text())
    narrower = [p | {"values": p["values"][:2]} if p["name"] == "base" else p for p in data["parameters"]]
    source = example(tmp_path, "buchwald_hartwig_bromide", parameters=narrower, budget=5)
    loop.drive(loop.open_run(load_campaign(source), store=Store(store)))
    target = example(tmp_path, "buchwald_hartwig_iodide_warm_start")
    capsys.readouterr()
    assert cli.main(["run", str(target), "--store", store]) == 2
    assert "warm_start: campaign 'bh-ethylphenyl-bromide' has other parameters or objectives" in capsys.readouterr().err
    assert [c.name for c in Store(store).campaigns()] == ["bh-ethylphenyl-bromide"]  # nothing of the target was stored


def test_a_campaign_cannot_warm_start_from_itself(tmp_path, capsys):
    target = example(tmp_path, "buchwald_hartwig_iodide_warm_start", warm_start=["bh-ethylphenyl-iodide"])
    assert cli.main(["run", str(target), "--store", f"sqlite:///{tmp_path / 'w.db'}"]) == 2
    assert "warm_start" in capsys.readouterr().err


def test_a_file_of_measurements_is_a_source_and_a_bad_one_is_refused_by_row(tmp_path, capsys):
    """A lab notebook's measurements of the bromide (30 of its 264 conditions) warm-start the iodide campaign."""
    rows = (EXAMPLES / "data" / "buchwald_hartwig_ethylphenyl_bromide.csv").read_text().splitlines()
    (tmp_path / "notebook.csv").write_text("\n".join(rows[:31]) + "\n")
    store = f"sqlite:///{tmp_path / 'warm.db'}"
    target = example(tmp_path, "buchwald_hartwig_iodide_warm_start", warm_start=[{"file": "notebook.csv"}])
    ran = retort("run", str(target), "--store", store, "--iterations", "2", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "warm start warm start from notebook.csv (correlation" in " ".join(ran.stdout.replace("│", " ").split()), ran.stdout
    db = Store(store)
    (model,) = db.model_versions(db.campaign("bh-ethylphenyl-iodide").id)
    assert RELATEDNESS + "notebook.csv" in model.hyperparameters
    (tmp_path / "notebook.csv").write_text("\n".join(rows[:5] + ["c1ccccc1,CN1CCCN2CCCN=C12,CCP(CC)CC,12.0"]) + "\n")
    other = example(tmp_path, "buchwald_hartwig_iodide_warm_start", name="other", warm_start=[{"file": "notebook.csv"}])
    assert cli.main(["run", str(other), "--store", store]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "warm_start file notebook.csv row 6" in err and "additive" in err, err
    missing = example(tmp_path, "buchwald_hartwig_iodide_warm_start", name="other", warm_start=[{"file": "gone.csv"}])
    assert cli.main(["run", str(missing), "--store", store]) == 2
    assert "warm_start: cannot read" in capsys.readouterr().err
    assert "other" not in [c.name for c in db.campaigns()]  # nothing of either refused campaign was stored
