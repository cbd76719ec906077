"""The colour lab's link to an Opentrons robot: each step of a batch's robot run stored before the next.

    prepare: plan reserved (lab run `planned`) -> protocol analysed locally and by the robot, run
             created, not played (`submitted`, with the robot's ids); any failure so far has moved
             nothing, and the experiments stay approved
    execute: play (`running`) -> wait, read the robot's commands -> report stored (`collected`)

A run found `submitted` or `running` after a restart is played or waited for and collected; a stop
(Ctrl-C, SIGTERM) during a run sends the robot a stop and stores what it did before Retort exits.
"""

from __future__ import annotations

import logging
from typing import Optional

from retort.instruments.deck import DeckConfig
from retort.instruments.opentrons.backend import OpentronsBackend, Submission
from retort.instruments.opentrons.client import RobotError, RobotHTTPError, RunNotPlayable
from retort.instruments.plan import Plan, RunReport
from retort.orchestrator.campaign import ColourLabConfig
from retort.orchestrator.store.decks import DeckStore
from retort.orchestrator.store.records import LabRunRecord

log = logging.getLogger(__name__)
STOP_COLLECT_SECONDS = 60.0


class RobotDriver:
    """Drives one Opentrons robot for a colour lab; `timings` keeps each batch's stage times (s)."""

    def __init__(self, config: ColourLabConfig, backend: Optional[OpentronsBackend] = None, url: Optional[str] = None) -> None:
        self.url = url or config.robot_urls[0]
        self.backend = backend or OpentronsBackend(self.url, allow_hardware=config.allow_hardware)
        self.timings: list[dict[str, float]] = []
        self._checked = False

    def check(self, deck: DeckConfig) -> None:
        """The robot answers, is the deck's robot type and carries the deck's pipettes (raises `RobotError`)."""
        self.backend.check(deck)
        self._checked = True

    def submit(self, plan: Plan, run: LabRunRecord, decks: DeckStore) -> LabRunRecord:
        """Upload and analyse `plan` and create its robot run (not played); stored as `submitted`.

        A run already submitted is kept while the robot holds it, whatever became of it (someone may
        have started it from the robot's screen: it is collected, never submitted twice).
        """
        if run.status == "submitted" and run.robot_run_id:
            try:
                self.backend.client.run(run.robot_run_id)
                return run
            except RobotHTTPError as exc:
                if exc.status != 404:
                    raise
        if not self._checked:
            self.check(plan.deck)
        submission: Submission = self.backend.submit(plan)
        self.timings.append(submission.seconds)
        log.info("batch %s submitted to %s in %s", run.seqs, self.backend.url, submission.seconds)
        return decks.update_run(run.id, status="submitted", protocol_id=submission.protocol_id,
                                robot_run_id=submission.run_id, protocol_digest=submission.digest)

    def run(self, plan: Plan, run: LabRunRecord, decks: DeckStore) -> RunReport:
        """Play the submitted run and collect it; a stop during it stops the robot and stores what it did."""
        try:  # from play on, any way out (a stop signal included) stops the robot and stores its report
            state = self.backend.client.run(run.robot_run_id)
            if state.status == "idle" and not state.actions:
                self.backend.play(run.robot_run_id)
            else:
                log.warning("robot run %s was started outside Retort (%s); collecting it, not starting it again", run.robot_run_id, state.status)
            decks.update_run(run.id, status="running")
            return self.backend.collect(plan, run.robot_run_id)
        except BaseException:
            self._stop_and_store(plan, run, decks)
            raise

    def recover(self, plan: Plan, run: LabRunRecord, decks: DeckStore) -> RunReport:
        """A run a stopped process left `submitted` or `running`: wait for it on the robot and collect it
        (a run never played is stopped: its experiments are not started)."""
        try:
            state = self.backend.client.run(run.robot_run_id)
        except RobotHTTPError as exc:
            if exc.status == 404:
                return _lost(plan, run, "the robot no longer holds this run (it keeps only its last runs)")
            raise
        if state.status == "idle":
            self.backend.stop(run.robot_run_id)
        return self.backend.collect(plan, run.robot_run_id)

    def _stop_and_store(self, plan: Plan, run: LabRunRecord, decks: DeckStore) -> None:
        try:
            self.backend.stop(run.robot_run_id)
            report = self.backend.collect(plan, run.robot_run_id, timeout=STOP_COLLECT_SECONDS)
        except (RobotError, RunNotPlayable) as exc:
            log.error("could not stop and collect robot run %s: %s; the next start collects it", run.robot_run_id, exc)
            return
        decks.update_run(run.id, status="collected", report_json=report.model_dump_json(), error=report.error or "stopped by Retort")


def _lost(plan: Plan, run: LabRunRecord, why: str) -> RunReport:
    from retort.instruments.plan import ExperimentReport

    return RunReport(backend="opentrons", run_id=run.robot_run_id, status="failed", error=why,
                     experiments=tuple(ExperimentReport(seq=e.seq, status="failed", error=why) for e in plan.experiments))
