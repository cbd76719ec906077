"""The dataset emulator lab in campaigns: checked against the data, stored like any other lab."""

from pathlib import Path

import pytest

from retort.orchestrator import loop
from retort.orchestrator.campaign import load_campaign
from retort.orchestrator.errors import CampaignError
from retort.orchestrator.labs import build_lab
from retort.orchestrator.store import Store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def variant(tmp_path, old, new):
    text = (EXAMPLES / "snar_emulated.yaml").read_text()
    assert old in text
    (tmp_path / "c.yaml").write_text(text.replace(old, new))
    return load_campaign(tmp_path / "c.yaml")


def run_example(name, budget):
    """The example campaign run to `budget` in memory, through the loop's steps."""
    campaign = load_campaign(EXAMPLES / name).model_copy(update={"budget": budget, "store": "sqlite://"})
    run = loop.open_run(campaign, store=Store("sqlite://"))
    while loop.remaining(run) > 0:
        loop.run_iteration(run, loop.next_iteration(run))
    return campaign, run


def test_emulated_campaign_stores_values_with_the_emulators_own_std():
    _, run = run_example("snar_emulated.yaml", 9)
    experiments = run.experiments()
    assert [e.status for e in experiments] == ["measured"] * 9
    for e in experiments:
        raw = {m.name: m for m in e.measurements}
        assert raw["impurity_emulator_std"].value > 0 and raw["impurity"].instrument.startswith("GP emulator of olympus/snar")
        assert e.location == f"emulated experiment {e.seq}"


@pytest.mark.parametrize("old,new,message", [
    ("{name: temperature, type: continuous, lower: 60", "{name: temperature, type: continuous, lower: 20",
     r"parameter 'temperature': bounds \[20, 140\] go outside the data's range \[60, 140\] of 'olympus/snar'"),
    ("{name: ratio,", "{name: equivalents,", r"the parameters map to inputs .*'equivalents'.* but 'olympus/snar' has inputs"),
    ("dataset: snar}", "dataset: snar, output: yield}", "no measurement 'yield'"),
    ("dataset: snar}", "path: /nonexistent/folder}", "cannot build an emulator of '/nonexistent/folder'"),
    ("dataset: snar}", "dataset: snar, columns: {pressure: p}}", r"lab.columns names \['pressure'\], which are not continuous or integer parameters"),
])
def test_emulator_campaigns_that_do_not_fit_the_data_are_refused(tmp_path, old, new, message):
    with pytest.raises(CampaignError, match=message):
        build_lab(variant(tmp_path, old, new))


def test_objectives_must_come_from_the_emulated_output(tmp_path):
    with pytest.raises(CampaignError, match=r"objective 'purity' needs readings \['purity'\]"):
        build_lab(variant(tmp_path, "{name: impurity, goal: minimize}", "{name: purity, goal: minimize}"))


def test_alloy_composition_campaign_runs_on_the_hardness_emulator():
    campaign, run = run_example("alloy_hardness_emulated.yaml", 10)
    experiments = run.experiments()
    assert [e.status for e in experiments] == ["measured"] * 10
    assert run.lab.instrument.startswith("GP emulator of materials/hea_hardness (243 measurements of HV")
    for e in experiments:
        campaign.space.validate_point(e.params)  # formulas over the declared elements, within bounds, summing to one
        assert e.raw()["HV"] >= 0 and e.raw()["HV_emulator_std"] > 0
    assert any(e.provenance.planner == "qLogNEI" for e in experiments)


def test_composition_campaigns_outside_the_alloy_data_are_refused(tmp_path):
    text = (EXAMPLES / "alloy_hardness_emulated.yaml").read_text()
    (tmp_path / "wide.yaml").write_text(text.replace("Al: [0, 0.4]", "Al: [0, 0.6]"))
    with pytest.raises(CampaignError, match=r"component Al of 'alloy': bounds \[0, 0.6\] go outside the data's range \[0, 0.\d+\]"):
        build_lab(load_campaign(tmp_path / "wide.yaml"))
    (tmp_path / "gold.yaml").write_text(text.replace("components: [Al, Co", "components: [Au, Co").replace("Al: [0, 0.4], ", ""))
    with pytest.raises(CampaignError, match=r"the parameters map to inputs .*'Au'.* but 'materials/hea_hardness' has inputs"):
        build_lab(load_campaign(tmp_path / "gold.yaml"))
    (tmp_path / "snar.yaml").write_text(text.replace("dataset: hea_hardness", "dataset: snar"))
    with pytest.raises(CampaignError, match=r"parameter 'alloy': 'olympus/snar' is not a composition dataset"):
        build_lab(load_campaign(tmp_path / "snar.yaml"))
