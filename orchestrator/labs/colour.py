"""The colour-mixing lab: dye stocks dispensed into a plate by a liquid handler, read by an absorbance reader.

Each batch becomes one plan (`colour_plan.compile_batch`), checked against the deck's stored state and reserved in
the store before anything moves. A liquid-handler backend (`retort.instruments.protocols.LiquidHandlerBackend`:
the virtual robot, or an Opentrons robot) runs it, and every step of the lab run is stored before the next:

    prepare: plan reserved (lab run `planned`) -> submitted to the backend (stored `submitted`, with its ids, when
             the backend keeps the run beyond this process, as a robot does): nothing has moved, and the
             experiments stay approved
    execute: started (`running`) -> collected, its report stored (`collected`)
    measure: the reader reads the wells the stored report says were filled

A lab run found `submitted` or `running` after a restart is recovered through the backend (a robot's run that went
on without Retort is collected); a stop (Ctrl-C, SIGTERM) during a run stops the backend and stores what it did.
Until a reader driver exists, the reader is the virtual one, reading what the liquid handler *reported* it
dispensed.
"""

from __future__ import annotations

import logging
import re
from typing import Callable, Optional

from retort.instruments import InstrumentError, PlateReader
from retort.instruments.deck import DeckConfig, DeckState
from retort.instruments.errors import DeckExhausted, RunRefused
from retort.instruments.opentrons.analysis import AnalysisError
from retort.instruments.opentrons.client import ProtocolRejected
from retort.instruments.plan import Plan, RunReport
from retort.instruments.protocols import LiquidHandlerBackend, Submission
from retort.orchestrator.campaign import Campaign, ColourLabConfig
from retort.orchestrator.errors import DeckEmpty, InstrumentDown, LabError, LabNotReady, LabRunFailed, LabTransient
from retort.orchestrator.labs.base import LabRequest, LabResult, LabRun, Recovery
from retort.orchestrator.labs.colour_deck import check_campaign, deck_of, reading_name, robot_decks
from retort.orchestrator.labs.colour_plan import compile_batch
from retort.orchestrator.store.core import Store
from retort.orchestrator.store.decks import DeckChanged, DeckStore
from retort.orchestrator.store.records import LabRunRecord
from retort.simulators import ColourBench, Faults, ScaledClock, VirtualClock, VirtualRobot

log = logging.getLogger(__name__)
VIRTUAL_OPERATOR = "virtual operator"
STOP_COLLECT_SECONDS = 60.0  # s to wait for a backend's report after stopping it


class ColourLab:
    """Runs colour-mixing batches as plans on one deck through a liquid-handler backend, keeping the deck's state and
    every lab run in the store.

    Args:
        config: the lab section of the campaign.
        campaign: parameters must be volumes (uL) of the deck's stocks.
        store: keeps the deck's state and the lab runs (None: the lab can be checked, not run).
        backend: the liquid handler (`VirtualRobot`, `OpentronsBackend`).
        bench: the virtual bench whose reader reads the plate.
        deck: the deck it runs on (default: the campaign's, `deck_of`).
        number: which robot it is when the campaign has several (locations then start with the deck's name).
        auto_refill: a virtual operator refills the deck when it runs out; else the campaign waits for a person.
    """

    def __init__(self, config: ColourLabConfig, campaign: Campaign, store: Optional[Store], backend: LiquidHandlerBackend,
                 bench: ColourBench, deck: Optional[DeckConfig] = None, number: Optional[int] = None, auto_refill: bool = False) -> None:
        self.config, self.campaign, self.backend, self.bench = config, campaign, backend, bench
        self.reader = PlateReader(bench.plate_reader)
        self.readings = [reading_name(nm) for nm in config.wavelengths]
        self.deck = deck or deck_of(config, campaign)
        self.number = number  # which robot, when a campaign has several
        self.label = self.deck.name if number else ""  # prefixed to locations when a campaign has several robots
        self.auto_refill = auto_refill
        check_campaign(config, campaign, self.deck)
        self.decks = DeckStore(store) if store is not None else None
        self.campaign_id: Optional[int] = None
        self._set_up = False

    # -- the Lab protocol ---------------------------------------------------------------
    def attach(self, campaign_id: int) -> None:
        """Run for stored campaign `campaign_id`; opens (or creates) the deck, whose stored set-up must match."""
        self.campaign_id = campaign_id
        decks = self._decks()
        plate = 1
        if self.deck.name not in decks.names():  # a deck new to a campaign stored by 0.1.0: after the plates it used
            used = [int(m.group(1)) for e in decks.store.experiments(campaign_id) if e.location and (m := re.fullmatch(r"plate (\d+) \w+", e.location))]
            plate = max(used, default=0) + 1
        decks.open(self.deck, plate=plate)

    def setup(self) -> None:
        """Set the backend up (a robot: it answers, is the deck's kind and carries its pipettes); once."""
        if not self._set_up:
            self.backend.setup(self.deck)
            self._set_up = True

    def prepare(self, batch: list[LabRequest]) -> LabRun:
        """Plan the batch, reserve its wells, tips and stocks on the deck, and submit it to the backend (nothing moves).

        A batch already planned or submitted (a run stopped before it started) keeps its plan and, while the backend
        still holds it, its submission. Raises `DeckEmpty` (nothing stored changes) when the deck must be refilled first.
        """
        decks = self._decks()
        seqs = [r.seq for r in batch]
        state = decks.open(self.deck)
        waiting = [r for r in decks.runs(self.campaign_id, self.deck.name, active=True) if r.status in ("planned", "submitted") and r.seqs == seqs]
        run = waiting[-1] if waiting else None
        plan = Plan.model_validate_json(run.plan_json) if run is not None else None
        if run is not None and plan.plate != state.plate:  # cannot happen while refills wait for it
            decks.cancel_run(run.id, f"plate {state.plate} replaced the plate it was planned for")
            run = None
        if run is None:
            self._drop_stale(decks, seqs)
            try:
                run = self._reserve(batch)
            except DeckExhausted as exc:
                if not self.auto_refill:
                    raise DeckEmpty(self._refill_message(exc, seqs)) from exc
                self._virtual_refill(exc)
                run = self._reserve(batch)
            plan = Plan.model_validate_json(run.plan_json)
        submission = _submission(run) if run.status == "submitted" else None
        if submission is None or not self.backend.held(submission):
            run, submission = self._submit(plan, run)
        return LabRun(requests=tuple(batch), locations={e.seq: self._where(plan.plate, e.well.well) for e in plan.experiments},
                      record=run, plan=plan, submission=submission)

    def execute(self, run: LabRun) -> None:
        """Start the prepared lab run and collect it, storing its report. Raises `LabError` naming the experiments a
        failure touched (`InstrumentDown` when the instrument broke down: it is then out of service), or
        `LabTransient` when the backend refused the run before anything moved."""
        record, plan, submission = run.record, run.plan, run.submission
        try:
            self.backend.start(submission)
        except RunRefused as exc:  # nothing moved: the reservation stays for the next try
            raise LabTransient(str(exc)) from exc
        except BaseException:  # a start that failed part-way (or a stop signal): stop the backend, store what it did
            self._stop_and_store(plan, record, submission)
            raise
        self.decks.update_run(record.id, status="running")
        try:  # from the start on, any way out (a stop signal included) stops the backend and stores what it did
            report = self.backend.collect(plan, submission)
        except BaseException:
            self._stop_and_store(plan, record, submission)
            raise
        self.decks.collect_run(record.id, report, error=report.error)  # what the robot never touched comes back to the deck
        bad = [e for e in report.experiments if e.status != "done"]
        if bad or report.status != "succeeded":
            failed = {e.seq: e.error or f"the {self.backend.name} run {report.status}" for e in report.experiments if e.status == "failed"}
            not_started = [e.seq for e in report.experiments if e.status == "not_started"]
            parts = [f"experiment {s}: {why}" for s, why in failed.items()]
            parts += [f"experiments {not_started} were not started and wait to run again"] if not_started else []
            message = (f"{self.backend.name} run {report.run_id or record.id} {report.status}"
                       f"{': ' + report.error if report.error else ''}; {'; '.join(parts)}")
            done = [e.seq for e in report.experiments if e.status == "done"]
            if report.out_of_service:
                self.take_out_of_service(report.out_of_service, actor=self.backend.name)
                raise InstrumentDown(f"{message}; {self.deck.name} is out of service: {report.out_of_service}. Once it is fixed, put it "
                                     f"back with 'retort deck release CAMPAIGN.yaml{self._robot_option()}'", self.deck.name, done, failed,
                                     not_started)
            raise LabRunFailed(message, done=done, failed=failed, not_started=not_started)

    def measure(self, run: LabRun) -> list[LabResult]:
        """Read the wells of the lab run's experiments as its stored report says they were filled."""
        stored = self._decks().run(run.record.id)
        if not stored.report_json:
            raise LabError(f"experiments {run.seqs} have no stored report of lab run {stored.id} ({stored.status}); they cannot be read")
        report, plan = RunReport.model_validate_json(stored.report_json), run.plan
        self.bench.apply(plan, report)
        wells = {e.seq: e.well.well for e in plan.experiments}
        try:
            readings = self.reader.read(plan.deck.plate.slot, [wells[s] for s in run.seqs], self.config.wavelengths)
        except InstrumentError as exc:
            raise LabError(f"reading plate {plan.plate} wells {[wells[s] for s in run.seqs]}: {exc}") from exc
        seconds = report.seconds / len(plan.experiments)
        return [LabResult(seq=s, readings={reading_name(nm): v for nm, v in readings[wells[s]].items()},
                          units={reading_name(nm): "AU" for nm in self.config.wavelengths}, instrument="plate_reader",
                          location=self._where(plan.plate, wells[s]), lab_seconds=seconds)
                for s in run.seqs]

    def recover(self, seqs: list[int]) -> Recovery:
        """After a stop: collect the lab runs of experiments left running. Experiments whose run finished them can
        be measured; those it never started (or a run never started) go back to the queue; the rest are lost."""
        decks = self._decks()
        collected, not_started = [], []
        for record in decks.runs(self.campaign_id, self.deck.name):
            mine = [s for s in record.seqs if s in seqs]
            if not mine or record.status == "cancelled":
                continue
            plan = Plan.model_validate_json(record.plan_json)
            if record.status == "planned":  # reserved, never sent anywhere: nothing moved
                decks.cancel_run(record.id, "stopped before the batch was sent to the instrument")
                not_started += mine
                continue
            if record.status == "collected" and record.report_json:
                report = RunReport.model_validate_json(record.report_json)
            elif record.status in ("submitted", "running"):
                report = self.backend.recover(plan, _submission(record), started=record.status == "running")
                record = decks.collect_run(record.id, report, error=report.error)
            else:
                continue
            done = [e.seq for e in report.experiments if e.status == "done" and e.seq in mine]
            not_started += [e.seq for e in report.experiments if e.status == "not_started" and e.seq in mine]
            if done:
                requests = tuple(LabRequest(seq=e.seq, params={}) for e in plan.experiments if e.seq in done)
                collected.append(LabRun(requests=requests, locations={e.seq: self._where(plan.plate, e.well.well) for e in plan.experiments
                                                                      if e.seq in done}, record=record, plan=plan))
        return Recovery(collected=collected, not_started=not_started)

    def check(self, params: dict) -> None:
        """The experiment planned alone on a full deck: every volume a mounted pipette can move, the well not overfilled."""
        try:
            compile_batch([(1, params)], self.deck, self.deck.full_state(), self.config.mix_repetitions)
        except InstrumentError as exc:
            raise LabError(f"deck {self.deck.name!r}: {str(exc).removeprefix('experiment 1: ').replace('well A1 ', 'a well ')}") from exc

    def unavailable(self) -> list:
        return []

    def out_of_service(self) -> Optional[str]:
        """Why this instrument is out of service (stored with its deck), or None."""
        return self._decks().get(self.deck.name)[1].out_of_service

    def identity(self) -> Optional[str]:
        """The robot's (`LiquidHandlerBackend.identity`); None for the virtual robot."""
        return self.backend.identity

    def take_out_of_service(self, why: str, actor: str) -> None:
        self._decks().change(self.deck.name, "out_of_service", actor, {"reason": why},
                             lambda config, state: state.model_copy(update={"out_of_service": why}), while_active=True)

    # -- helpers ------------------------------------------------------------------------
    def _submit(self, plan: Plan, run: LabRunRecord) -> tuple[LabRunRecord, Submission]:
        """Hand the plan to the backend (its analyses and run created: nothing has moved yet); stored as `submitted`
        with the backend's ids when the backend keeps the run beyond this process."""
        self.setup()
        try:
            submission = self.backend.submit(plan, label=str(run.id))
        except (ProtocolRejected, AnalysisError) as exc:  # the same plan would be refused again: release the deck
            self._decks().cancel_run(run.id, str(exc))
            raise LabNotReady(
                f"{exc}\nNothing moved; experiments {run.seqs} wait, approved, and their reservation (lab run {run.id}) is "
                "cancelled (its tips, wells and stock volumes are free again). Fix the deck file, record it with 'retort deck reset "
                "CAMPAIGN.yaml', then run again"
            ) from exc
        log.info("batch %s submitted to %s in %s", run.seqs, self.backend.name, submission.seconds)
        if submission.durable:
            run = self._decks().update_run(run.id, status="submitted", protocol_id=submission.protocol_id or None,
                                           robot_run_id=submission.run_id, protocol_digest=submission.digest or None)
        return run, submission

    def _stop_and_store(self, plan: Plan, record: LabRunRecord, submission: Submission) -> None:
        """A run interrupted while collecting: stop the backend and store what it did (the next start collects it
        otherwise)."""
        try:
            self.backend.stop(submission)
            report = self.backend.collect(plan, submission, timeout=STOP_COLLECT_SECONDS)
        except InstrumentError as exc:
            log.error("could not stop and collect lab run %s on %s: %s; the next start collects it", record.id, self.backend.name, exc)
            return
        self._decks().collect_run(record.id, report, error=report.error or "stopped by Retort")

    def _where(self, plate: int, well: str) -> str:
        return f"{self.label + ' ' if self.label else ''}plate {plate} {well}"

    def _drop_stale(self, decks: DeckStore, seqs: list[int]) -> None:
        """Cancel older reservations, on any deck of the campaign, holding any of these experiments: they are being
        planned again (regrouped, or on another robot), and must never be recovered as 'not started' later."""
        for old in decks.runs(self.campaign_id, active=True):
            if old.status == "planned" and set(old.seqs) & set(seqs):
                decks.cancel_run(old.id, f"experiments {sorted(set(old.seqs) & set(seqs))} were planned again")
            elif set(old.seqs) & set(seqs):  # sent to a robot or running: the experiments are not free to plan again
                raise LabNotReady(f"experiments {sorted(set(old.seqs) & set(seqs))} belong to lab run {old.id} on deck {old.deck} "
                                  f"({old.status}); run the campaign again to collect it, or cancel it with 'retort deck cancel'")

    def _robot_option(self) -> str:
        return f" --robot {self.number}" if self.number else ""

    def _decks(self) -> DeckStore:
        if self.decks is None or self.campaign_id is None:
            raise LabError("the colour lab was built without a store or campaign; it can be checked, not run")
        return self.decks

    def _reserve(self, batch: list[LabRequest]) -> LabRunRecord:
        volumes = [(r.seq, {k: float(v) for k, v in r.params.items()}) for r in batch]

        def build(current: DeckState) -> tuple[Plan, DeckState]:
            return compile_batch(volumes, self.deck, current, self.config.mix_repetitions)

        try:
            for attempt in range(3):  # another process changed the deck between our read and write: plan again
                try:
                    return self._decks().reserve(self.campaign_id, self.deck.name, self.backend.name, build)
                except DeckChanged:
                    if attempt == 2:
                        raise
        except DeckExhausted:
            raise
        except InstrumentError as exc:
            raise LabError(f"experiments {[r.seq for r in batch]}: {exc}") from exc

    def _virtual_refill(self, exc: DeckExhausted) -> None:
        def refill(deck: DeckConfig, state: DeckState) -> DeckState:
            state = state.refill_tips().refill_stocks(deck)
            return state.new_plate() if any(n.startswith("a new plate") for n in exc.needs) else state

        self._decks().change(self.deck.name, "refill", VIRTUAL_OPERATOR, {"needs": exc.needs}, refill)

    def _refill_message(self, exc: DeckExhausted, seqs: list[int]) -> str:
        return (
            f"{exc}. Nothing was dispensed; experiments {seqs} wait, approved. Refill the deck, record it with "
            f"'retort deck refill CAMPAIGN.yaml' (tips and stocks) or 'retort deck new-plate CAMPAIGN.yaml', then run the campaign again"
        )


def _submission(run: LabRunRecord) -> Submission:
    """What the backend gave for a stored lab run when it was submitted (its own ids)."""
    return Submission(run_id=run.robot_run_id or "", protocol_id=run.protocol_id or "", digest=run.protocol_digest or "")


# -- building ---------------------------------------------------------------------------------
def build_colour_labs(config: ColourLabConfig, campaign: Campaign, store: Optional[Store]) -> dict[str, ColourLab]:
    """One colour lab per robot, by deck name (`robot_decks`); with several robots, their experiments' locations
    start with the deck's name. A campaign's only Opentrons robot is checked (reachable, its pipettes attached) at
    once; one of several, before its first batch is sent, so a process driving one robot (a robot host's worker)
    need not reach the others."""
    decks = robot_decks(config, campaign)
    several = len(decks) > 1
    make: Callable[[int, DeckConfig], ColourLab] = _opentrons_lab if config.backend == "opentrons" else _virtual_lab
    labs = {deck.name: make(i, deck, several, config, campaign, store) for i, deck in enumerate(decks)}
    if config.backend == "opentrons" and not several:
        next(iter(labs.values())).setup()
    return labs


def _virtual_lab(i: int, deck: DeckConfig, several: bool, config: ColourLabConfig, campaign: Campaign, store: Optional[Store]) -> ColourLab:
    """Robot `i` (from 0) on the virtual bench, seeded from the campaign. With `lab.time_scale` the bench takes
    wall-clock time in proportion to its simulated time (`faults.slow` times more); `lab.faults` injects transient,
    hard and hanging faults and keeps the robots' own log; a virtual operator refills the deck unless `auto_refill`
    is false."""
    slow = config.faults.slow.get(i + 1, 1.0)
    clock = ScaledClock(config.time_scale * slow) if config.time_scale else VirtualClock()
    bench = ColourBench(seed=campaign.seed + i if several else campaign.seed, clock=clock, pipetting_cv=config.pipetting_cv,
                        reader_noise=config.reader_noise, nan_experiments=set(config.nan_readings_at), failing=set(config.fail_runs_at))
    f = config.faults
    robot = VirtualRobot(bench, deck.name, Faults(transient=f.transient, hard=f.hard, hang=f.hang, deadline=f.deadline, log=f.log,
                                                  seed=campaign.seed))
    return ColourLab(config, campaign, store, robot, bench, deck=deck, number=i + 1 if several else None,
                     auto_refill=config.auto_refill is not False)


def _opentrons_lab(i: int, deck: DeckConfig, several: bool, config: ColourLabConfig, campaign: Campaign, store: Optional[Store]) -> ColourLab:
    """Robot `i` (from 0) of `robot_url`, an Opentrons robot; the virtual reader reads what it reports it dispensed."""
    from retort.instruments.opentrons.analysis import require_environment
    from retort.instruments.opentrons.backend import OpentronsBackend

    require_environment()  # no batch is proposed for a robot that could not be sent it
    reader = ColourBench(seed=campaign.seed, clock=VirtualClock(), pipetting_cv=0.0, reader_noise=config.reader_noise)
    robot = OpentronsBackend(config.robot_urls[i], allow_hardware=config.allow_hardware)
    return ColourLab(config, campaign, store, robot, reader, deck=deck, number=i + 1 if several else None)
