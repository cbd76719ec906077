from pathlib import Path

import pytest

from retort.orchestrator.campaign import Campaign, load_campaign
from retort.orchestrator.errors import CampaignError
from retort.orchestrator.labs import build_lab

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


BASE = """
name: t
parameters:
  - {name: red, type: continuous, lower: 1, upper: 100, unit: uL}
  - {name: water, type: continuous, lower: 1, upper: 200, unit: uL}
constraints:
  - {terms: {red: 1, water: 1}, op: "<=", rhs: 300}
objectives:
  - {name: d, goal: match, target: {A520: 0.4}}
budget: 8
lab: {kind: virtual_colour}
"""


@pytest.mark.parametrize("name", ["colour_match.yaml", "branin.yaml"])
def test_examples_load_and_fit_their_labs(name):
    campaign = load_campaign(EXAMPLES / name)
    build_lab(campaign)
    assert Campaign.model_validate_json(campaign.model_dump_json()) == campaign


def test_defaults_and_weights(tmp_path):
    campaign = load_campaign(write(tmp_path, BASE))
    assert campaign.initial_design == 4 and campaign.batch_size == 4
    assert campaign.goal.weights() == {"d": -1.0}
    assert campaign.objectives[0].derive({"A520": 0.1}) == pytest.approx(0.3)


@pytest.mark.parametrize(
    "text, message",
    [
        ("name: [unclosed", "malformed YAML at line 1"),
        ("- just\n- a list", "must be a YAML mapping"),
        (BASE + "colour: blue\n", "colour: unknown key"),
        (BASE.replace("lab: {kind: virtual_colour}", "lab: {kind: colour, colour: 1}"), "lab.colour: unknown key"),  # spelt like the lab's kind
        (BASE.replace("type: continuous, lower: 1, upper: 100", "type: smiles, lower: 1, upper: 100"), "parameters[0] ('red')"),
        (BASE.replace("lower: 1, upper: 100", "lower: 100, upper: 1"), "parameters[0] ('red'): lower bound 100.0 must be finite and below upper bound 1.0"),
        (BASE.replace('op: "<=", rhs: 300', 'op: ">=", rhs: 400'), "no point within the parameter bounds satisfies all constraints"),
        (BASE.replace("goal: match, target: {A520: 0.4}", "goal: match"), "goal 'match' needs a target"),
        (BASE.replace("budget: 8", "budget: 0"), "budget: Input should be greater than or equal to 1"),
    ],
)
def test_bad_campaign_files_name_the_problem(tmp_path, text, message):
    with pytest.raises(CampaignError) as info:
        load_campaign(write(tmp_path, text))
    assert message in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(CampaignError, match="cannot read campaign file"):
        load_campaign(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "change, message",
    [
        (("lower: 1, upper: 100", "lower: 0.5, upper: 100"), "lower bound 0.5 uL is below what any mounted pipette can dispense"),
        (('op: "<=", rhs: 300', 'op: "<=", rhs: 500'), "allow 300 uL in one well, more than its 360 uL"),
        (("red", "cyan"), "no stock 'cyan'"),
        (("target: {A520: 0.4}", "target: {A999: 0.4}"), "needs readings ['A999']"),
    ],
)
def test_lab_checks_volumes_stocks_and_readings(tmp_path, change, message):
    text = BASE.replace(*change)
    if "rhs: 500" in text:
        text = text.replace("upper: 200", "upper: 350").replace("upper: 100", "upper: 150")
        message = "allow 500 uL in one well, more than its 360 uL"
    with pytest.raises(CampaignError) as info:
        build_lab(load_campaign(write(tmp_path, text)))
    assert message in str(info.value)


def test_all_parameter_types_mix_in_one_campaign_file(tmp_path):
    text = """
name: mixed
parameters:
  - {name: temp, type: continuous, lower: 20, upper: 80, unit: degC}
  - {name: cycles, type: integer, lower: 1, upper: 4}
  - {name: base, type: molecule, values: {TEA: 'CCN(CC)CC', hydroxide: '[Na+].[OH-]'}, encoding: morgan}
  - {name: additive, type: categorical, values: [none, salt], encoding: descriptors, descriptors: {none: [0], salt: [1]}}
  - {name: alloy, type: composition, components: [Fe, Ni, Co], bounds: {Co: [0, 0.2]}}
  - {name: solvent, type: mixture, components: [water, ethanol]}
objectives: [{name: y, goal: maximize}]
budget: 4
lab: {kind: virtual_analytic, function: branin}
"""
    campaign = load_campaign(write(tmp_path, text))
    points = campaign.space.sample(3, seed=0)
    assert all(campaign.space.is_feasible(p) for p in points)
    assert {p["base"] for p in points} <= {"TEA", "hydroxide"}


@pytest.mark.parametrize(
    "parameter, message",
    [
        ("{name: base, type: molecule, values: ['CCO', 'C1CC(']}", "parameters[0] ('base'): invalid SMILES 'C1CC('"),
        ("{name: alloy, type: composition, components: [Fe, Xq]}", "parameters[0] ('alloy').components: unknown elements ['Xq']"),
        ("{name: alloy, type: composition, components: [Fe, Ni], bounds: {Fe: [0, 0.2], Ni: [0, 0.3]}}", "no fractions within the bounds sum to one"),
        ("{name: base, type: molecule, values: ['CCO', 'OCC']}", "duplicate molecule"),
        ("{name: add, type: categorical, values: [a, b], encoding: descriptors, descriptors: {a: [1]}}", "the descriptor table has no rows for ['b']"),
    ],
)
def test_bad_chemistry_is_named_before_anything_runs(tmp_path, parameter, message):
    text = f"name: bad\nparameters:\n  - {parameter}\nobjectives: [{{name: y, goal: maximize}}]\nbudget: 4\nlab: {{kind: virtual_analytic, function: branin}}\n"
    with pytest.raises(CampaignError) as info:
        load_campaign(write(tmp_path, text))
    assert message in str(info.value)


def test_several_opentrons_robots_are_listed_in_robot_url_each_with_its_own_deck(tmp_path):
    from retort.orchestrator.labs.colour import robot_decks

    text = (EXAMPLES / "colour_match_ot2.yaml").read_text().replace("deck: decks/", f"deck: {EXAMPLES}/decks/")
    two = text.replace("robot_url: http://127.0.0.1:31950", "robot_url: [http://10.0.0.12:31950, http://10.0.0.13:31950]")
    campaign = load_campaign(write(tmp_path, two))
    assert campaign.lab.robot_urls == ["http://10.0.0.12:31950", "http://10.0.0.13:31950"] and campaign.lab.robot_count == 2
    assert [d.name for d in robot_decks(campaign.lab, campaign)] == ["ot2-bench-1", "ot2-bench-2"]
    assert [d.name for d in robot_decks(load_campaign(write(tmp_path, text)).lab, campaign)] == ["ot2-bench"]
    virtual = load_campaign(write(tmp_path, two.replace("backend: opentrons", "backend: virtual")))  # the same file, simulated
    assert [d.name for d in robot_decks(virtual.lab, virtual)] == ["ot2-bench-virtual-1", "ot2-bench-virtual-2"]
    for change, message in (
        (("robot_url: http://127.0.0.1:31950", "robot_url: [http://10.0.0.12:31950, http://10.0.0.12:31950]"),
         "robot_url: ['http://10.0.0.12:31950'] listed twice"),
        (("robot_url: http://127.0.0.1:31950", "robot_url: []"), "lab.robot_url"),
        (("robot_url: http://127.0.0.1:31950", "robot_url: [ftp://robot]"), "lab.robot_url"),
        (("  backend: opentrons", "  backend: opentrons\n  robots: 2"), "an Opentrons campaign drives the robots listed in robot_url"),
        (("  backend: opentrons\n  robot_url: http://127.0.0.1:31950", "  backend: virtual\n  robots: 3\n"
          "  robot_url: [http://10.0.0.12:31950, http://10.0.0.13:31950]"), "robots: 3, but robot_url lists 2 robots"),
    ):
        with pytest.raises(CampaignError, match=message.replace("[", r"\[").replace("]", r"\]")):
            load_campaign(write(tmp_path, text.replace(*change)))
