"""A campaign whose molecule parameter generates, where users meet it: its file's defaults and refusals, a rejection
that forbids a substructure (stored in the audit trail, read by every later round), and `retort approve`."""

import pytest
import yaml

from retort.agents.proposal import Origin, Proposal, Provenance
from retort.orchestrator import loop
from retort.orchestrator.campaign import Campaign
from retort.orchestrator.decisions.approvals import Decision, decide
from retort.orchestrator.errors import DecisionError
from retort.orchestrator.loop import steps
from retort.orchestrator.store import Store
from retort.orchestrator.store.decisions import DecisionStore
from tests.agents.test_generation import SEEDS
from tests.conftest import branin_campaign
from tests.orchestrator.test_cli import retort


def generating(**overrides) -> dict:
    data = {"name": "made", "parameters": [{"name": "molecule", "type": "molecule", "values": SEEDS, "encoding": "morgan_count",
                                           "generate": {"per_round": 100}}],
            "objectives": [{"name": "y", "goal": "maximize"}], "batch_size": 3, "budget": 30, "seed": 0,
            "lab": {"kind": "virtual_analytic", "function": "celecoxib_rediscovery"}}
    return data | overrides


def test_generated_proposals_wait_for_a_person_unless_the_file_says_otherwise_and_the_design_covers_the_list():
    campaign = Campaign.model_validate(generating())
    assert campaign.approval.mode == "required"
    assert campaign.initial_design == 6  # a fifth of the budget (10 molecules listed)
    assert Campaign.model_validate(generating(approval="auto")).approval.mode == "auto"
    assert Campaign.model_validate(generating(budget=200)).initial_design == 10  # at most every listed molecule
    assert branin_campaign().approval.mode == "auto"  # nothing generates: as before


@pytest.mark.parametrize("change, message", [
    (dict(planner="random"), "generated candidates are screened by the qLogNEI planner"),
    (dict(goal="learn", learning={"lower": 0.01, "upper": 0.5}), "generated candidates are screened by the qLogNEI planner"),
    (dict(parameters=[{"name": f"m{i}", "type": "molecule", "values": SEEDS, "encoding": "morgan", "generate": {}} for i in (1, 2)]),
     "at most one parameter of a campaign may generate"),
])
def test_a_generating_campaign_refuses_what_it_cannot_do(change, message):
    with pytest.raises(ValueError, match=message):
        Campaign.model_validate(generating(**change))


def test_bad_generation_settings_are_refused_at_the_cli_naming_the_parameter(tmp_path):
    bad = generating()
    bad["parameters"][0]["generate"] = {"forbidden": ["c1ccccc1", "[C"]}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    done = retort("validate", "bad.yaml", cwd=tmp_path)
    assert done.returncode == 2 and "parameters[0] ('molecule').generate.forbidden" in done.stderr and "'[C' is not a SMARTS" in done.stderr
    assert "Traceback" not in done.stderr
    bad["parameters"][0]["generate"] = {"alerts": ["brenk", "toxic"]}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    done = retort("validate", "bad.yaml", cwd=tmp_path)
    assert done.returncode == 2 and "generate.alerts[1]: Input should be 'brenk', 'pains'" in done.stderr
    wrong = generating(parameters=[{"name": "base", "type": "categorical", "values": ["a", "b"], "generate": {}}])
    (tmp_path / "wrong.yaml").write_text(yaml.safe_dump(wrong))
    done = retort("validate", "wrong.yaml", cwd=tmp_path)
    assert done.returncode == 2 and "('base').generate: only molecule parameters generate" in done.stderr


def test_a_rejection_that_forbids_a_substructure_is_stored_and_read_by_the_next_round(tmp_path):
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    campaign = Campaign.model_validate(generating(store=url))
    run = loop.open_run(campaign, store=Store(url))
    origin = Origin(parameter="molecule", parents=[SEEDS[0]], operator="mutation", round=1)
    made = [Proposal(params={"molecule": s}, provenance=Provenance(planner="qLogNEI", origin=origin)) for s in ("CC(=O)Nc1ccc(OC)cc1", "CCOC(C)=O")]
    first, second = run.store.add_proposals(run.record.id, 1, made)
    for bad, message in [(Decision(action="reject", seq=first.seq, reason="no", forbid="[C"), "is not a SMARTS pattern"),
                         (Decision(action="approve", seq=first.seq, forbid="c1ccccc1"), "goes with a rejection")]:
        with pytest.raises(DecisionError, match=message):
            decide(campaign, run.store, run.record.id, {}, [bad], "olga")
    assert DecisionStore(run.store).forbidden(run.record.id) == []  # refused: nothing stored
    decide(campaign, run.store, run.record.id, {}, [Decision(action="reject", seq=first.seq, reason="aromatic ether", forbid="c1ccccc1O")], "olga")
    assert DecisionStore(run.store).forbidden(run.record.id) == ["c1ccccc1O"]
    events = DecisionStore(run.store).events(run.record.id)
    assert [(a.action, a.seq, a.actor) for a in events[:2]] == [("forbid", 1, "olga"), ("reject", 1, "olga")]  # newest first
    assert events[0].after == {"smarts": "c1ccccc1O"} and events[0].reason == "aromatic ether"
    steps.propose(run, 2, None, 3)  # no model yet: the design; the planner now holds what was forbidden
    assert run.planner.forbidden == ["c1ccccc1O"]

    plain = branin_campaign(approval="required", store=f"sqlite:///{tmp_path / 'b.db'}")
    other = loop.open_run(plain, store=Store(plain.store))
    (e,) = other.store.add_proposals(other.record.id, 1, [Proposal(params={"x1": 0.0, "x2": 1.0}, provenance=Provenance(planner="sobol"))])
    with pytest.raises(DecisionError, match="applies to a campaign whose molecule parameter generates"):
        decide(plain, other.store, other.record.id, {}, [Decision(action="reject", seq=e.seq, reason="no", forbid="C")], "olga")


def test_retort_approve_rejects_with_a_forbidden_substructure(tmp_path):
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    campaign = Campaign.model_validate(generating(store=url))
    run = loop.open_run(campaign, store=Store(url))
    origin = Origin(parameter="molecule", parents=[SEEDS[0]], operator="crossover", round=1)
    (e,) = run.store.add_proposals(run.record.id, 1, [Proposal(params={"molecule": "CC(=O)Nc1ccc(OC)cc1"},
                                                               provenance=Provenance(planner="qLogNEI", origin=origin))])
    shown = retort("approve", "made", "--store", url, cwd=tmp_path)
    assert shown.returncode == 0 and f"crossover of {SEEDS[0]}" in shown.stdout and "--forbid SMARTS" in shown.stdout
    alone = retort("approve", "made", "--store", url, "--forbid", "C=O", cwd=tmp_path)
    assert alone.returncode == 2 and "--forbid goes with --reject" in alone.stderr
    done = retort("approve", "made", "--store", url, "--reject", str(e.seq), "--reason", "no amides", "--forbid", "C(=O)N", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert DecisionStore(Store(url)).forbidden(run.record.id) == ["C(=O)N"]
    status = retort("status", "made", "--store", url, cwd=tmp_path)
    assert "made: generation: 1 generated proposals, 0 measured; forbidden by people: C(=O)N" in status.stdout, status.stdout


def test_the_export_says_where_each_generated_experiment_came_from(tmp_path):
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    campaign = Campaign.model_validate(generating(store=url))
    run = loop.open_run(campaign, store=Store(url))
    origin = Origin(parameter="molecule", parents=[SEEDS[0], SEEDS[1]], operator="crossover", round=2)
    run.store.add_proposals(run.record.id, 1, [Proposal(params={"molecule": "CC(=O)Nc1ccc(OC)cc1"}, provenance=Provenance(planner="qLogNEI", origin=origin)),
                                               Proposal(params={"molecule": SEEDS[2]}, provenance=Provenance(planner="levels design"))])
    done = retort("export", "made", "--store", url, "-o", "made.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    import csv

    rows = list(csv.DictReader((tmp_path / "made.csv").open()))
    assert [(r["generated.operator"], r["generated.parents"], r["generated.round"]) for r in rows] == [
        ("crossover", f"{SEEDS[0]} {SEEDS[1]}", "2"), ("", "", "")]
