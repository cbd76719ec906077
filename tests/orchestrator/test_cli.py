"""The `retort` command as a user meets it: bad input, status, export (fast paths, no Prefect)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from retort.orchestrator import loop
from retort.orchestrator.store import Store
from tests.conftest import branin_campaign

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "colour_match.yaml"


def retort(*args, cwd, stdin=None):
    env = dict(os.environ, PREFECT_HOME=str(Path(cwd) / ".prefect"), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "retort.orchestrator.cli", *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def stored(tmp_path):
    """A store holding a finished 4-experiment Branin campaign, and its export."""
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    campaign = branin_campaign(budget=4, store=url)
    run = loop.open_run(campaign, store=Store(url))
    while loop.remaining(run) > 0:
        loop.run_iteration(run, loop.next_iteration(run))
    (tmp_path / "branin.yaml").write_text(json.dumps(campaign.model_dump(mode="json")))
    return tmp_path, url


BAD = {
    "malformed.yaml": ("name: x\nparameters: [", "malformed YAML"),
    "unknown-type.yaml": (EXAMPLE.read_text().replace("{name: red,    type: continuous", "{name: red,    type: colour"), "parameters[0] ('red')"),
    "bounds.yaml": (EXAMPLE.read_text().replace("lower: 1, upper: 100, unit: uL}\n  - {name: yellow", "lower: 90, upper: 10, unit: uL}\n  - {name: yellow"), "lower bound 90.0 must be finite and below upper bound 10.0"),
    "tiny-volume.yaml": (EXAMPLE.read_text().replace("{name: blue,   type: continuous, lower: 1", "{name: blue,   type: continuous, lower: 0.2"), "parameter 'blue': lower bound 0.2 uL is below"),
    "infeasible.yaml": (EXAMPLE.read_text().replace("rhs: 100", "rhs: 1000"), "no point within the parameter bounds satisfies all constraints"),
    "bad-smiles.yaml": ((EXAMPLE.parent / "buchwald_hartwig.yaml").read_text().replace("'Brc1cccnc1'", "'Brc1cccnc1('"),
                        "parameters[0] ('aryl_halide'): invalid SMILES 'Brc1cccnc1(': RDKit cannot parse it"),
    "unknown-element.yaml": ((EXAMPLE.parent / "alloy_hardness_emulated.yaml").read_text().replace("[Al, Co,", "[Al, Qq,"),
                             "parameters[0] ('alloy').components: unknown elements ['Qq']"),
    "extrapolating-emulator.yaml": ((EXAMPLE.parent / "snar_emulated.yaml").read_text().replace("lower: 60, upper: 140", "lower: 20, upper: 140"),
                                    "parameter 'temperature': bounds [20, 140] go outside the data's range [60, 140]"),
    "unknown-outcome.yaml": ((EXAMPLE.parent / "suzuki.yaml").read_text() + "outcome_constraints: [{name: purity, op: '>=', value: 90}]\n",
                             "outcome constraint purity >= 90: 'purity' is not an objective or a reading the lab reports; known: ['yield']"),
    "unused-parameter.yaml": ((EXAMPLE.parent / "branin.yaml").read_text().replace("  - {name: x2,", "  - {name: x3, type: continuous, lower: 0, upper: 1}\n  - {name: x2,"),
                              "parameter 'x3': lab 'branin' takes only ['x1', 'x2']; 'x3' would not change its result"),
    "categorical-for-number.yaml": ((EXAMPLE.parent / "branin.yaml").read_text().replace("{name: x2, type: continuous, lower: 0, upper: 15}", "{name: x2, type: categorical, values: [a, b]}"),
                                    "parameter 'x2': lab 'branin' takes numbers (continuous, integer or discrete), not categorical"),
    "pareto-of-one.yaml": ((EXAMPLE.parent / "suzuki.yaml").read_text() + "trade_off: pareto\n", "trade_off 'pareto' needs at least two objectives"),
    "partial-reference.yaml": ((EXAMPLE.parent / "lnp3_pareto.yaml").read_text() + "reference_point: {drug_loading: 0}\n",
                               "the reference point must give a value for each objective ['drug_loading', 'encap_efficiency', 'particle_diameter']"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_exits_2_with_one_message_and_leaves_the_store_alone(stored, name):
    tmp_path, url = stored
    store = Store(url)
    before = store.experiments(store.campaign("branin-test").id)
    text, message = BAD[name]
    (tmp_path / name).write_text(text)
    result = retort("run", name, "--store", url, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert store.experiments(store.campaign("branin-test").id) == before
    assert [c.name for c in store.campaigns()] == ["branin-test"]


def test_changed_campaign_under_a_stored_name_is_refused(stored):
    tmp_path, url = stored
    data = json.loads((tmp_path / "branin.yaml").read_text())
    data["seed"] = 99
    (tmp_path / "changed.yaml").write_text(json.dumps(data))
    result = retort("run", "changed.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "different configuration; changed: seed 3 -> 99" in result.stderr and "--name" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_and_export(stored):
    tmp_path, url = stored
    status = retort("status", "--store", url, cwd=tmp_path)
    assert status.returncode == 0 and "branin-test" in status.stdout
    csv_out = retort("export", "branin.yaml", "--format", "csv", cwd=tmp_path)
    lines = csv_out.stdout.strip().splitlines()
    assert lines[0].startswith("seq,iteration,status,best,location,planner") and len(lines) == 5
    assert "param.x1" in lines[0] and "objective.y" in lines[0]
    exported = json.loads(retort("export", "branin-test", "--store", url, "--format", "json", cwd=tmp_path).stdout)
    assert [e["status"] for e in exported] == ["measured"] * 4
    best = min(exported, key=lambda e: next(m["value"] for m in e["measurements"] if m["name"] == "y"))
    assert [e["seq"] for e in exported if e["best"]] == [best["seq"]]  # the lowest y (minimised), marked in both formats
    assert [line.split(",")[0] for line in lines[1:] if line.split(",")[3] == "yes"] == [str(best["seq"])]
    assert f"#{best['seq']} y " in status.stdout
    missing = retort("export", "nope", "--store", url, cwd=tmp_path)
    assert missing.returncode == 2 and "no campaign 'nope'" in missing.stderr
    nostore = retort("status", cwd=tmp_path / "..")
    assert nostore.returncode in (0, 2) and "Traceback" not in nostore.stderr
    garbage = retort("status", "--store", "not a url", cwd=tmp_path)
    assert garbage.returncode == 2 and "error: not a url is not a store URL" in garbage.stderr


def test_version_and_validate_spend_nothing(stored):
    tmp_path, url = stored
    version = retort("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("retort ")
    store = Store(url)
    before = store.experiments(store.campaign("branin-test").id)
    ok = retort("validate", "branin.yaml", cwd=tmp_path)
    assert ok.returncode == 0 and "is valid" in ok.stdout and "4 of 4 experiments done" in ok.stdout, ok.stderr
    new = retort("validate", str(EXAMPLE), "--store", f"sqlite:///{tmp_path / 'fresh.db'}", cwd=tmp_path)
    assert new.returncode == 0 and "a new store" in new.stdout and not (tmp_path / "fresh.db").exists()
    changed = retort("validate", "branin.yaml", "--planner", "random", cwd=tmp_path)
    assert changed.returncode == 2 and 'planner "qLogNEI" -> "random"' in changed.stderr and "--name" in changed.stderr
    variant = retort("validate", "branin.yaml", "--planner", "random", "--name", "branin-random", cwd=tmp_path)
    assert variant.returncode == 0 and "'branin-random' is valid" in variant.stdout and "new in the store" in variant.stdout
    bad_name = retort("validate", "branin.yaml", "--name", "no spaces", cwd=tmp_path)
    assert bad_name.returncode == 2 and "command line: invalid campaign" in bad_name.stderr and "name" in bad_name.stderr
    assert store.experiments(store.campaign("branin-test").id) == before
    assert [c.name for c in store.campaigns()] == ["branin-test"]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:"])
def test_run_refuses_a_store_that_keeps_nothing(tmp_path, url):
    result = retort("run", str(EXAMPLE), "--store", url, cwd=tmp_path)
    assert result.returncode == 2 and "in-memory database" in result.stderr and "Traceback" not in result.stderr


def test_an_unexpected_error_is_one_line_naming_its_log(stored, monkeypatch, capsys):
    from retort.orchestrator.cli import main as cli

    tmp_path, url = stored

    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setitem(cli.COMMANDS, "status", broken)
    monkeypatch.setenv("RETORT_LOG_DIR", str(tmp_path / "logs"))
    assert cli.main(["status", "--store", url]) == 1
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "unexpected ZeroDivisionError in 'retort status': a bug" in message
    log = next((tmp_path / "logs").iterdir())
    assert str(log) in message and "Traceback" in log.read_text() and "ZeroDivisionError: a bug" in log.read_text()
