"""The colour-mixing lab: dye stocks dispensed into a plate by a liquid handler, read by an absorbance reader.

Each batch becomes one plan (`colour_plan.compile_batch`), checked against the deck's stored state
and reserved in the store before anything moves; a backend runs it (the virtual bench, or an
Opentrons robot through `robot.RobotDriver`) and reports what it dispensed; the report is stored,
and the reader reads the wells. Until a reader driver exists, the reader is the virtual one,
computing absorbance from what the liquid handler *reported* it dispensed.
"""

from __future__ import annotations

import re
from typing import Optional

from pydantic import ValidationError

from retort.agents.space import ContinuousParameter
from retort.instruments import InstrumentError, PlateReader
from retort.instruments.deck import DeckConfig, DeckState
from retort.instruments.errors import DeckExhausted
from retort.instruments.opentrons.analysis import AnalysisError
from retort.instruments.opentrons.client import ProtocolRejected
from retort.instruments.labware import LABWARE, PIPETTES
from retort.instruments.plan import Plan, RunReport
from retort.orchestrator.campaign import Campaign, ColourLabConfig
from retort.orchestrator.store.decks import DeckChanged, DeckStore
from retort.orchestrator.errors import CampaignError, DeckEmpty, InstrumentDown, LabError, LabNotReady, LabRunFailed, LabTransient
from retort.orchestrator.labs.base import LabRequest, LabResult, Recovery, check_readings
from retort.orchestrator.labs import faults as faults_
from retort.orchestrator.labs.colour_plan import compile_batch
from retort.orchestrator.store.records import LabRunRecord
from retort.orchestrator.store import Store
from retort.simulators import DYES, ColourBench, ScaledClock, VirtualClock

PLATE_SLOT = "1"
RESERVOIR_SLOT = "2"
RESERVOIR = "nest_12_reservoir_15ml"
TIP_SLOTS = ("3", "4")
VIRTUAL_OPERATOR = "virtual operator"


def reading_name(nm: int) -> str:
    return f"A{nm}"


def default_deck(config: ColourLabConfig, campaign: Campaign) -> DeckConfig:
    """The OT-2 deck a campaign without `lab.deck` gets: its pipettes, one tip rack each, a 12-well reservoir of stocks."""
    if len(config.pipettes) > 2 or len(set(config.pipettes)) != len(config.pipettes):
        raise CampaignError(f"lab.pipettes: a robot has two mounts; give one or two different pipettes, got {config.pipettes}")
    unknown = [p for p in config.pipettes if p not in PIPETTES]
    if unknown:
        raise CampaignError(f"lab.pipettes: unknown pipettes {unknown}; known: {sorted(PIPETTES)}")
    robot = "flex" if all(p.startswith("flex_") for p in config.pipettes) else "ot2"
    slots = {"ot2": (PLATE_SLOT, RESERVOIR_SLOT) + TIP_SLOTS, "flex": ("D1", "D2", "C1", "C2")}[robot]
    wells = LABWARE[RESERVOIR].wells()
    if len(campaign.parameters) > len(wells):
        raise CampaignError(f"the reservoir has {len(wells)} wells; the campaign has {len(campaign.parameters)} stocks")
    data = {
        "name": f"virtual-{campaign.name}"[:64],
        "robot": robot,
        "pipettes": dict(zip(("left", "right"), config.pipettes)),
        "tip_racks": {slot: PIPETTES[p].tip_rack for slot, p in zip(slots[2:], config.pipettes)},
        "reservoir": {"slot": slots[1], "load_name": RESERVOIR},
        "stocks": {p.name: {"well": wells[i], "volume": config.stock_volume} for i, p in enumerate(campaign.parameters)},
        "plate": {"slot": slots[0], "load_name": config.plate},
    }
    try:
        return DeckConfig.model_validate(data)
    except ValidationError as exc:
        raise CampaignError("lab.pipettes, plate, stock_volume: " + "; ".join(
            e["msg"].removeprefix("Value error, ") for e in exc.errors())) from exc


def deck_of(config: ColourLabConfig, campaign: Campaign) -> DeckConfig:
    """The deck a colour campaign runs on. On the virtual backend a configured deck is stored under
    ``NAME-virtual``, so a simulation never uses up the real robot's recorded tips and wells."""
    if config.deck is None:
        return default_deck(config, campaign)
    if config.backend == "virtual":
        return config.deck.model_copy(update={"name": f"{config.deck.name[:56]}-virtual"})
    return config.deck


class ColourLab:
    """Runs colour-mixing batches as plans on one deck, keeping the deck's state in the store.

    Args:
        config: the lab section of the campaign.
        campaign: parameters must be volumes (uL) of the deck's stocks.
        store: keeps the deck's state and the lab runs (None: the lab can be checked, not run).
        bench: the virtual bench; its reader reads the plate, and with the virtual backend it dispenses too.
        robot: drives an Opentrons robot (None: the bench dispenses).
        deck: the deck it runs on (default: the campaign's, `deck_of`).
        number: which robot it is when the campaign has several (locations then start with the deck's name).
    """

    def __init__(self, config: ColourLabConfig, campaign: Campaign, store: Optional[Store], bench: ColourBench, robot=None,
                 deck: Optional[DeckConfig] = None, number: Optional[int] = None) -> None:
        self.config = config
        self.campaign = campaign
        self.bench = bench
        self.robot = robot
        self.reader = PlateReader(bench.plate_reader)
        self.readings = [reading_name(nm) for nm in config.wavelengths]
        self.deck = deck or deck_of(config, campaign)
        self.number = number  # which robot, when a campaign has several
        self.label = self.deck.name if number else ""  # prefixed to locations when a campaign has several robots
        self._check(campaign)
        self.decks = DeckStore(store) if store is not None else None
        self.campaign_id: Optional[int] = None
        self._runs: dict[int, LabRunRecord] = {}  # experiment number -> its lab run
        self._reports: dict[int, RunReport] = {}  # lab run id -> report

    @property
    def backend_name(self) -> str:
        return "virtual" if self.robot is None else f"opentrons {self.robot.url}"

    def _check(self, campaign: Campaign) -> None:
        deck = self.deck
        smallest = min(p.min_volume for p in deck.mounted())
        capacity = LABWARE[deck.plate.load_name].well_capacity
        for p in campaign.parameters:
            where = f"parameter {p.name!r}"
            if not isinstance(p, ContinuousParameter) or p.unit != "uL":
                raise CampaignError(f"{where}: the colour lab's parameters are stock volumes, continuous with unit 'uL'")
            if p.name not in deck.stocks:
                raise CampaignError(f"{where}: deck {deck.name!r} has no stock {p.name!r}; its stocks are {sorted(deck.stocks)}")
            if p.name not in DYES:
                raise CampaignError(f"{where}: the virtual reader knows no stock {p.name!r}; it knows {sorted(DYES)}")
            if p.lower < smallest:
                raise CampaignError(
                    f"{where}: lower bound {p.lower:g} uL is below what any mounted pipette can dispense "
                    f"(smallest: {smallest:g} uL); raise it to at least {smallest:g} uL"
                )
            if p.upper > capacity:
                raise CampaignError(f"{where}: upper bound {p.upper:g} uL exceeds the well capacity of {capacity:g} uL")
        names = [p.name for p in campaign.parameters]
        max_total = campaign.space.max_linear({name: 1.0 for name in names})
        if max_total > capacity + 1e-9:
            raise CampaignError(
                f"the parameters allow {max_total:g} uL in one well, more than its {capacity:g} uL; add a constraint "
                f"such as 'terms: {{{', '.join(f'{s}: 1' for s in names)}}}, op: \"<=\", rhs: {capacity:g}'"
            )
        wells = len(LABWARE[deck.plate.load_name].wells())
        if campaign.batch_size > wells:
            raise CampaignError(f"batch_size {campaign.batch_size} is more than the {wells} wells of a {deck.plate.load_name}")
        for name in names:  # one batch must fit in one filling of a stock
            most = campaign.batch_size * campaign.space.max_linear({name: 1.0})
            if most > deck.stocks[name].volume:
                raise CampaignError(
                    f"stock {name!r}: a batch of {campaign.batch_size} can draw up to {most:g} uL of {name}, more than the "
                    f"{deck.stocks[name].volume:g} uL filled; raise the stock volume or lower batch_size"
                )
        check_readings(campaign, self.readings, "colour")

    # -- the Lab protocol ---------------------------------------------------------------
    def prepare(self, batch: list[LabRequest]) -> dict[int, str]:
        """Plan the batch and reserve its wells, tips and stocks on the deck; returns each experiment's well.

        A batch already planned (a run stopped before it started) keeps its plan. Raises `DeckEmpty`
        (nothing stored changes) when the deck must be refilled first.
        """
        decks = self._decks()
        seqs = [r.seq for r in batch]
        state = decks.open(self.deck)
        waiting = [r for r in decks.runs(self.campaign_id, self.deck.name, active=True) if r.status in ("planned", "submitted") and r.seqs == seqs]
        run = waiting[-1] if waiting else None
        if run is not None and Plan.model_validate_json(run.plan_json).plate != state.plate:  # cannot happen while refills wait for it
            decks.update_run(run.id, status="cancelled", error=f"plate {state.plate} replaced the plate it was planned for")
            run = None
        if run is None:
            self._drop_stale(decks, seqs)
            try:
                run = self._reserve(batch)
            except DeckExhausted as exc:
                if self.robot is not None or self.config.auto_refill is False:
                    raise DeckEmpty(self._refill_message(exc, seqs)) from exc
                self._virtual_refill(exc)
                run = self._reserve(batch)
        plan = Plan.model_validate_json(run.plan_json)
        if self.robot is not None:
            try:
                run = self.robot.submit(plan, run, decks)  # analyses and run creation: nothing has moved yet
            except (ProtocolRejected, AnalysisError) as exc:  # the same plan would be refused again: release the deck
                decks.update_run(run.id, status="cancelled", error=str(exc))
                raise LabNotReady(
                    f"{exc}\nNothing moved; experiments {seqs} wait, approved, and their reservation (lab run {run.id}) is "
                    "cancelled (its tips and wells stay marked used). Fix the deck file, record it with 'retort deck reset "
                    "CAMPAIGN.yaml', then run again"
                ) from exc
        for e in plan.experiments:
            self._runs[e.seq] = run
            if self.robot is None and e.seq in self.config.nan_readings_at:
                self.bench.nan_wells.add((plan.plate, e.well.well))
            if self.robot is None and e.seq in self.config.fail_runs_at:
                self.bench.failing.add(e.seq)
        return {e.seq: self._where(plan.plate, e.well.well) for e in plan.experiments}

    def execute(self, batch: list[LabRequest]) -> None:
        """Run the batch's plan on the backend and store its report. Raises `LabError` naming the experiments a failure
        touched (`InstrumentDown` when the instrument broke down: it is then out of service), or `LabTransient` when
        the backend refused the run before anything moved."""
        run = self._run_of(batch)
        plan = Plan.model_validate_json(run.plan_json)
        report, down = self._dispense(plan, run)
        self.decks.update_run(run.id, status="collected", report_json=report.model_dump_json(), error=report.error)
        self._collected(plan, run, report, into_reader=self.robot is not None)
        bad = [e for e in report.experiments if e.status != "done"]
        if bad or report.status != "succeeded":
            failed = {e.seq: e.error or f"the {self.backend_name} run {report.status}" for e in report.experiments if e.status == "failed"}
            not_started = [e.seq for e in report.experiments if e.status == "not_started"]
            parts = [f"experiment {s}: {why}" for s, why in failed.items()]
            parts += [f"experiments {not_started} were not started and wait to run again"] if not_started else []
            message = (f"{self.backend_name} run {report.run_id or run.id} {report.status}"
                       f"{': ' + report.error if report.error else ''}; {'; '.join(parts)}")
            done = [e.seq for e in report.experiments if e.status == "done"]
            if down:
                self.take_out_of_service(down, actor=self.backend_name)
                raise InstrumentDown(f"{message}; {self.deck.name} is out of service: {down}. Once it is fixed, put it back with "
                                     f"'retort deck release CAMPAIGN.yaml{self._robot_option()}'", self.deck.name, done, failed, not_started)
            raise LabRunFailed(message, done=done, failed=failed, not_started=not_started)

    def _dispense(self, plan: Plan, run: LabRunRecord) -> tuple[RunReport, Optional[str]]:
        """Run `plan` on the backend: its report and, if the instrument broke down, why."""
        if self.robot is None:
            self.decks.update_run(run.id, status="running")
            return self.bench.run(plan), None
        return self.robot.run(plan, run, self.decks), None

    def out_of_service(self) -> Optional[str]:
        """Why this instrument is out of service (stored with its deck), or None."""
        return self._decks().get(self.deck.name)[1].out_of_service

    def take_out_of_service(self, why: str, actor: str) -> None:
        self._decks().change(self.deck.name, "out_of_service", actor, {"reason": why},
                             lambda config, state: state.model_copy(update={"out_of_service": why}), while_active=True)

    def measure(self, batch: list[LabRequest]) -> list[LabResult]:
        run = self._run_of(batch)
        plan = Plan.model_validate_json(run.plan_json)
        report = self._reports.get(run.id)
        if report is None:
            raise LabError(f"experiments {[r.seq for r in batch]} were not run on this lab run; they cannot be read")
        wells = {e.seq: e.well.well for e in plan.experiments}
        try:
            readings = self.reader.read(plan.deck.plate.slot, [wells[r.seq] for r in batch], self.config.wavelengths)
        except InstrumentError as exc:
            raise LabError(f"reading plate {plan.plate} wells {[wells[r.seq] for r in batch]}: {exc}") from exc
        seconds = report.seconds / len(plan.experiments)
        return [
            LabResult(seq=r.seq, readings={reading_name(nm): v for nm, v in readings[wells[r.seq]].items()},
                      units={reading_name(nm): "AU" for nm in self.config.wavelengths}, instrument="plate_reader",
                      location=self._where(plan.plate, wells[r.seq]), lab_seconds=seconds)
            for r in batch
        ]

    def recover(self, seqs: list[int]) -> Recovery:
        """After a stop: collect the lab runs of experiments left running. Experiments whose run finished them can
        be measured; those it never started (or a run never played) go back to the queue; the rest are lost."""
        decks = self._decks()
        measurable, not_started = [], []
        for run in decks.runs(self.campaign_id, self.deck.name):
            mine = [s for s in run.seqs if s in seqs]
            if not mine:
                continue
            plan = Plan.model_validate_json(run.plan_json)
            report: Optional[RunReport] = None
            if run.status == "collected" and run.report_json:
                report = RunReport.model_validate_json(run.report_json)
            elif run.status in ("submitted", "running") and self.robot is not None:
                report = self.robot.recover(plan, run, decks)
                decks.update_run(run.id, status="collected", report_json=report.model_dump_json(), error=report.error)
            elif run.status == "planned":  # reserved, never sent anywhere: nothing moved
                decks.update_run(run.id, status="cancelled", error="stopped before the batch was sent to the instrument")
                not_started += mine
            elif run.status != "collected" and run.status != "cancelled":  # the virtual bench's wells died with its process
                decks.update_run(run.id, status="collected", error="interrupted before a report was stored")
            if report is not None:
                for e in plan.experiments:
                    self._runs[e.seq] = run
                self._collected(plan, run, report, into_reader=True)
                measurable += [e.seq for e in report.experiments if e.status == "done" and e.seq in mine]
                not_started += [e.seq for e in report.experiments if e.status == "not_started" and e.seq in mine]
        return Recovery(measurable=measurable, not_started=not_started)

    def check(self, params: dict) -> None:
        """The experiment planned alone on a full deck: every volume a mounted pipette can move, the well not overfilled."""
        try:
            compile_batch([(1, params)], self.deck, self.deck.full_state(), self.config.mix_repetitions)
        except InstrumentError as exc:
            raise LabError(f"deck {self.deck.name!r}: {str(exc).removeprefix('experiment 1: ').replace('well A1 ', 'a well ')}") from exc

    def unavailable(self) -> list:
        return []

    def attach(self, campaign_id: int) -> None:
        """Run for stored campaign `campaign_id`; opens (or creates) the deck, whose stored set-up must match."""
        self.campaign_id = campaign_id
        decks = self._decks()
        plate = 1
        if self.deck.name not in decks.names():  # a deck new to a campaign stored by 0.1.0: after the plates it used
            used = [int(m.group(1)) for e in decks.store.experiments(campaign_id) if e.location and (m := re.fullmatch(r"plate (\d+) \w+", e.location))]
            plate = max(used, default=0) + 1
        decks.open(self.deck, plate=plate)

    # -- helpers ------------------------------------------------------------------------
    def _where(self, plate: int, well: str) -> str:
        return f"{self.label + ' ' if self.label else ''}plate {plate} {well}"

    def _drop_stale(self, decks: DeckStore, seqs: list[int]) -> None:
        """Cancel older reservations, on any deck of the campaign, holding any of these experiments: they are being
        planned again (regrouped, or on another robot), and must never be recovered as 'not started' later."""
        for old in decks.runs(self.campaign_id, active=True):
            if old.status == "planned" and set(old.seqs) & set(seqs):
                decks.update_run(old.id, status="cancelled", error=f"experiments {sorted(set(old.seqs) & set(seqs))} were planned again")
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
                    return self._decks().reserve(self.campaign_id, self.deck.name, self.backend_name, build)
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

    def _run_of(self, batch: list[LabRequest]) -> LabRunRecord:
        runs = {self._runs[r.seq].id: self._runs[r.seq] for r in batch if r.seq in self._runs}
        if len(runs) != 1 or any(r.seq not in self._runs for r in batch):
            raise LabError(f"experiments {[r.seq for r in batch]} were not prepared together on this lab run")
        return next(iter(runs.values()))

    def _collected(self, plan: Plan, run: LabRunRecord, report: RunReport, into_reader: bool) -> None:
        """Keep `report` for measuring; `into_reader`: put what it says was dispensed into the reader's plate
        (a robot's report, or any report collected after a restart; the virtual bench's own run is there already)."""
        if into_reader:
            self.bench.apply(plan, report)
        self._reports[run.id] = report


def build_colour_lab(config: ColourLabConfig, campaign: Campaign, store: Optional[Store], url: Optional[str] = None,
                     deck: Optional[DeckConfig] = None, number: Optional[int] = None) -> ColourLab:
    """The colour lab on the backend the campaign names, on the robot at `url` (by default the first listed). A
    campaign's only robot is checked (reachable, its pipettes attached) at once; one of several, before its first
    batch is sent, so a process driving one robot (a robot host's worker) need not reach the others."""
    if config.backend == "virtual":
        return VirtualColourLab(config, campaign, store, slow=config.faults.slow.get(1, 1.0))
    from retort.instruments.opentrons.analysis import require_environment
    from retort.orchestrator.labs.robot import RobotDriver

    require_environment()  # no batch is proposed for a robot that could not be sent it

    reader = ColourBench(seed=campaign.seed, clock=VirtualClock(), pipetting_cv=0.0, reader_noise=config.reader_noise)
    lab = ColourLab(config, campaign, store, reader, RobotDriver(config, url=url), deck=deck, number=number)
    if number is None:
        lab.robot.check(lab.deck)
    return lab


def robot_decks(config: ColourLabConfig, campaign: Campaign) -> list[DeckConfig]:
    """The deck of each robot: one robot's is `deck_of`; several robots (virtual, or Opentrons robots listed in
    `robot_url`, in that order) get decks of their own, named ``DECK-1``, ``DECK-2``, ..."""
    base = deck_of(config, campaign)
    if config.robot_count == 1:
        return [base]
    return [base.model_copy(update={"name": f"{base.name[:60]}-{i}"}) for i in range(1, config.robot_count + 1)]


def build_colour_labs(config: ColourLabConfig, campaign: Campaign, store: Optional[Store]) -> dict[str, ColourLab]:
    """One colour lab per robot, by deck name (`robot_decks`); with several robots, their experiments'
    locations start with the deck's name."""
    if config.robot_count == 1:
        lab = build_colour_lab(config, campaign, store)
        return {lab.deck.name: lab}
    if config.backend == "opentrons":
        return {deck.name: build_colour_lab(config, campaign, store, url=url, deck=deck, number=i)
                for i, (url, deck) in enumerate(zip(config.robot_urls, robot_decks(config, campaign)), start=1)}
    return {deck.name: VirtualColourLab(config, campaign, store, deck=deck, seed=campaign.seed + i, number=i + 1,
                                        slow=config.faults.slow.get(i + 1, 1.0))
            for i, deck in enumerate(robot_decks(config, campaign))}


class VirtualColourLab(ColourLab):
    """`ColourLab` on the virtual bench (seeded from the campaign); a virtual operator refills the deck.
    With `lab.time_scale` the bench takes wall-clock time in proportion to its simulated time (`slow` times
    more); `lab.faults` injects transient, hard and hanging faults and keeps the robots' own log (`faults.py`)."""

    def __init__(self, config: ColourLabConfig, campaign: Campaign, store: Optional[Store] = None,
                 deck: Optional[DeckConfig] = None, seed: Optional[int] = None, number: Optional[int] = None, slow: float = 1.0) -> None:
        clock = ScaledClock(config.time_scale * slow) if config.time_scale else VirtualClock()
        bench = ColourBench(seed=campaign.seed if seed is None else seed, clock=clock,
                            pipetting_cv=config.pipetting_cv, reader_noise=config.reader_noise)
        super().__init__(config, campaign, store, bench, deck=deck, number=number)
        self._attempts: dict[int, int] = {}  # lab run id -> tries so far

    def _dispense(self, plan: Plan, run: LabRunRecord) -> tuple[RunReport, Optional[str]]:
        faults = self.config.faults
        attempt = self._attempts[run.id] = self._attempts.get(run.id, -1) + 1
        fault, index = faults_.draw(faults, self.campaign.seed, self.deck.name, run.id, attempt)
        where = {e.seq: {"deck": self.deck.name, "plate": plan.plate, "well": e.well.well, "lab_run": run.id} for e in plan.experiments}
        if fault == "transient":
            if faults.log:
                faults_.log_lines(faults.log, [{"event": "refused", "seq": s, "campaign_id": self.campaign_id, "attempt": attempt} | w
                                               for s, w in where.items()])
            raise LabTransient(f"virtual robot {self.deck.name}: the connection dropped before lab run {run.id} started "
                               "(fault injection); nothing moved")
        struck = plan.experiments[index % len(plan.experiments)].seq
        if fault == "hard":
            self.bench.failing.add(struck)
        elif fault == "hang":
            self.bench.hang_at = struck
        self.decks.update_run(run.id, status="running")
        if faults.log:
            faults_.log_lines(faults.log, [{"event": "start", "seq": s, "campaign_id": self.campaign_id} | w for s, w in where.items()])
        try:
            report, stopped = faults_.watched_run(self.bench, plan, faults.deadline)
        finally:
            self.bench.failing.discard(struck)
        if faults.log:
            faults_.log_lines(faults.log, [{"event": e.status, "seq": e.seq, "campaign_id": self.campaign_id,
                                            "dispensed": {d.liquid: d.volume for d in e.dispensed}} | where[e.seq] for e in report.experiments])
        if stopped is not None:
            return report, f"it stopped answering during lab run {run.id}; its {stopped:.0f} s deadline passed and it was stopped (fault injection)"
        if fault == "hard":
            return report, f"it broke down during lab run {run.id} (fault injection)"
        return report, None
