"""report_from_commands on robot-server-shaped command lists (shapes as robot-server 8.1.0 returns them)."""

from __future__ import annotations

import pytest

from retort.instruments.opentrons.commands import describe_error, report_from_commands
from tests.instruments.opentrons_fakes import CommandLog, deck, plan

RUN_STOPPED = {"id": "e1", "isDefined": False, "errorType": "RunStoppedError", "errorCode": "4000", "detail": "Run was cancelled",
               "errorInfo": {}, "wrappedErrors": []}
PIPETTE_3010 = {"id": "e2", "isDefined": False, "errorType": "FailedToLoadPipetteError", "errorCode": "3010",
                "detail": "mount LEFT: expected instrument p300_single_gen2 but got p20_single_v2.2", "errorInfo": {}, "wrappedErrors": []}
RUN_3010 = {"id": "e3", "isDefined": False, "errorType": "ExceptionInProtocolError", "errorCode": "4000",
            "detail": "ProtocolCommandFailedError [line 14]: Error 4000 GENERAL_ERROR (ProtocolCommandFailedError): FailedToLoadPipetteError: "
                      "mount LEFT: expected instrument p300_single_gen2 but got p20_single_v2.2",
            "errorInfo": {}, "wrappedErrors": [{"id": "e3", "isDefined": False, "errorType": "ProtocolCommandFailedError", "errorCode": "4000",
                                                "detail": "FailedToLoadPipetteError: ...", "errorInfo": {}, "wrappedErrors": [PIPETTE_3010]}]}


def recipe(p, e):
    return {n: v for n, v in e.recipe(p.deck).items()}


def test_a_succeeded_run_reports_every_experiment_done_with_the_plans_volumes_and_tips():
    p = plan(deck("ot2"), experiments=3, transfers=3, mix=3)
    log = CommandLog(p)
    report = report_from_commands(p, log.all(), "succeeded", [], "run-1", 1.5, labware=log.run_labware())
    assert report.status == "succeeded" and report.error is None and report.run_id == "run-1"
    assert [e.status for e in report.experiments] == ["done"] * 3
    for e, planned in zip(report.experiments, p.experiments):
        assert {d.liquid: d.volume for d in e.dispensed} == recipe(p, planned)  # mixes add nothing
    assert report.tips_used == tuple(p.tips())


def test_labware_slots_come_from_load_labware_results_too():
    p = plan(deck("flex"), experiments=2, transfers=2)
    log = CommandLog(p)
    commands = log.all()
    for c in commands:
        if c["commandType"] == "loadLabware":
            c["result"] = {"labwareId": log.labware[c["params"]["location"]["slotName"]]}
    report = report_from_commands(p, commands, "succeeded")
    assert [e.status for e in report.experiments] == ["done", "done"]
    assert report.tips_used == tuple(p.tips())


def test_a_run_stopped_mid_experiment():
    p = plan(deck("ot2"), experiments=3, transfers=2)
    log = CommandLog(p)
    setup = log.setup()
    first, second = log.experiment(p.experiments[0]), log.experiment(p.experiments[1])
    cut = next(i for i, c in enumerate(second) if c["commandType"] == "dispense")
    second = second[: cut + 1]
    second[-1] = dict(second[-1], status="failed", error=RUN_STOPPED)  # the stop interrupts its first dispense
    report = report_from_commands(p, setup + first + second, "stopped", [], "r", labware=log.run_labware())
    one, two, three = report.experiments
    assert one.status == "done"
    assert two.status == "failed" and "dispense failed: RunStoppedError" in two.error and two.dispensed == ()
    assert three.status == "not_started" and "stopped before it started" in three.error and three.dispensed == ()
    assert report.status == "stopped" and report.error == "the run was stopped"


def test_a_run_stopped_while_paused_leaves_a_queued_command():
    p = plan(deck("ot2"), experiments=2, transfers=2)
    log = CommandLog(p)
    second = log.experiment(p.experiments[1])
    cut = [i for i, c in enumerate(second) if c["commandType"] == "dispense"][0]
    second = second[: cut + 1] + [dict(second[cut + 1], status="queued", startedAt=None, completedAt=None)]
    report = report_from_commands(p, log.setup() + log.experiment(p.experiments[0]) + second, "stopped", [], "r", labware=log.run_labware())
    assert report.experiments[0].status == "done"
    two = report.experiments[1]
    assert two.status == "failed" and "stopped while this experiment was in progress" in two.error
    assert len(two.dispensed) == 1  # the first transfer reached the well


def test_a_setup_failure_leaves_every_experiment_not_started():
    p = plan(deck("ot2", swap_mounts=True), experiments=2, transfers=1)
    log = CommandLog(p)
    setup = log.setup()
    setup[-2] = dict(setup[-2], status="failed", error=PIPETTE_3010)
    report = report_from_commands(p, setup[:-1], "failed", [RUN_3010], "r", labware=log.run_labware())
    assert [e.status for e in report.experiments] == ["not_started", "not_started"]
    assert report.error == ("FailedToLoadPipetteError (error 3010): mount LEFT: expected instrument p300_single_gen2 but got "
                            "p20_single_v2.2 (protocol line 14)")
    assert "FailedToLoadPipetteError" in report.experiments[0].error
    assert report.tips_used == ()


def test_a_failed_tip_pickup_before_any_liquid_is_not_started_with_its_error():
    p = plan(deck("ot2"), experiments=1, transfers=1)
    log = CommandLog(p)
    first = log.experiment(p.experiments[0])
    first = first[:2]
    first[1] = dict(first[1], status="failed", error={"errorType": "TipNotAttachedError", "errorCode": "3005", "detail": "no tip"})
    report = report_from_commands(p, log.setup() + first, "failed", [], "r", labware=log.run_labware())
    only = report.experiments[0]
    assert only.status == "not_started" and "pickUpTip failed: TipNotAttachedError (error 3005): no tip" == only.error
    assert report.tips_used == ()


def test_a_well_that_got_other_volumes_than_planned_is_failed():
    p = plan(deck("ot2"), experiments=1, transfers=2)
    log = CommandLog(p)
    commands = log.all()
    dispense = next(c for c in commands if c["commandType"] == "dispense")
    aspirate = next(c for c in commands if c["commandType"] == "aspirate")
    aspirate["params"]["volume"] = dispense["params"]["volume"] = 5.0
    report = report_from_commands(p, commands, "succeeded", [], labware=log.run_labware())
    assert report.experiments[0].status == "failed" and "but the plan says" in report.experiments[0].error


def test_the_log_keeps_only_the_fields_worth_storing():
    p = plan(deck("ot2"), experiments=1, transfers=1)
    log = CommandLog(p)
    report = report_from_commands(p, log.all(), "succeeded", [], labware=log.run_labware())
    assert len(report.log) == len(log.all())
    assert set(report.log[0]) <= {"id", "commandType", "status", "params", "result", "error", "startedAt", "completedAt"}
    assert report.model_validate_json(report.model_dump_json()) == report


def test_a_run_that_has_not_finished_cannot_be_reported():
    p = plan(deck("ot2"), experiments=1, transfers=1)
    with pytest.raises(ValueError, match="running"):
        report_from_commands(p, [], "running", [])


def test_describe_error_without_wrappers():
    assert describe_error(RUN_STOPPED) == "RunStoppedError (error 4000): Run was cancelled"
    assert describe_error(None) == "unknown error"
