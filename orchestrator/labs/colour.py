"""The colour-mixing lab: dye stocks dispensed into a 96-well plate, read by an absorbance reader.

`mixing_ops` is the pure part (experiment -> transfers); `ColourLab` runs those through the
checking front ends onto whatever backends it is given. `VirtualColourLab` gives it the virtual
bench; a real OT-2 and reader will be other backends for the same class.
"""

from __future__ import annotations

from retort.agents.space import ContinuousParameter
from retort.instruments import (
    InstrumentError,
    LiquidHandler,
    LiquidHandlerBackend,
    PlateReader,
    PlateReaderBackend,
    WellRef,
)
from retort.instruments.labware import LABWARE, PIPETTES
from retort.orchestrator.campaign import Campaign, ColourLabConfig
from retort.orchestrator.errors import CampaignError, LabError
from retort.orchestrator.labs import LabRequest, LabResult, check_readings
from retort.simulators import DYES, ColourBench, VirtualClock

PLATE_SLOT = "1"
RESERVOIR_SLOT = "2"
RESERVOIR = "nest_12_reservoir_15ml"
TIP_SLOTS = ("3", "4", "5", "6")


def reading_name(nm: int) -> str:
    return f"A{nm}"


def plate_and_well(seq: int, wells: list[str]) -> tuple[int, str]:
    """Experiment `seq` (1-based) goes to plate ``(seq-1) // n + 1``, well ``(seq-1) % n``."""
    return (seq - 1) // len(wells) + 1, wells[(seq - 1) % len(wells)]


def mixing_ops(params: dict[str, float], stock_wells: dict[str, WellRef], dest: WellRef) -> list[tuple[WellRef, WellRef, float]]:
    """The transfers that make one mixture: water first (so dyes land in liquid), then each dye."""
    order = sorted(params, key=lambda name: (name != "water", name))
    return [(stock_wells[name], dest, float(params[name])) for name in order if float(params[name]) > 0]


class ColourLab:
    """Runs colour-mixing experiments on a liquid handler and plate reader.

    Args:
        config: the lab section of the campaign.
        campaign: parameters must be volumes (uL) of stocks the bench holds.
        liquid_backend, reader_backend: instrument backends.
        operator: replaces plates and tip racks (a person, or the virtual bench).
    """

    def __init__(self, config: ColourLabConfig, campaign: Campaign, liquid_backend: LiquidHandlerBackend,
                 reader_backend: PlateReaderBackend, operator, clock: VirtualClock) -> None:
        self.config = config
        self.clock = clock
        self.operator = operator
        self.readings = [reading_name(nm) for nm in config.wavelengths]
        self.stocks = [p.name for p in campaign.parameters]
        self._check(campaign)
        deck = {PLATE_SLOT: config.plate, RESERVOIR_SLOT: RESERVOIR}
        deck |= {slot: PIPETTES[pipette].tip_rack for slot, pipette in zip(TIP_SLOTS, config.pipettes)}
        self.handler = LiquidHandler(liquid_backend, deck=deck, pipettes=config.pipettes)
        self.reader = PlateReader(reader_backend)
        self.wells = LABWARE[config.plate].wells()
        reservoir = LABWARE[RESERVOIR].wells()
        self.stock_wells = {name: WellRef(slot=RESERVOIR_SLOT, well=reservoir[i]) for i, name in enumerate(self.stocks)}
        for name, well in self.stock_wells.items():
            self.handler.fill(well, name, config.stock_volume)
            operator.fill(well, name, config.stock_volume)
        self.plate_number = 0
        self._started: dict[int, float] = {}
        self._unread: list[LabRequest] = []
        self._results: dict[int, LabResult] = {}

    def _check(self, campaign: Campaign) -> None:
        cfg = self.config
        unknown = [p for p in cfg.pipettes if p not in PIPETTES]
        if unknown:
            raise CampaignError(f"lab.pipettes: unknown pipettes {unknown}; known: {sorted(PIPETTES)}")
        if len(set(cfg.pipettes)) != len(cfg.pipettes) or len(cfg.pipettes) > len(TIP_SLOTS):
            raise CampaignError(f"lab.pipettes: give at most {len(TIP_SLOTS)} different pipettes (one tip rack slot each), got {cfg.pipettes}")
        no_rack = [p for p in cfg.pipettes if PIPETTES[p].tip_rack not in LABWARE]
        if no_rack:
            raise CampaignError(f"lab.pipettes: no tip rack is defined for {no_rack}")
        reservoir = LABWARE[RESERVOIR].well_capacity
        if cfg.stock_volume > reservoir:
            raise CampaignError(f"lab.stock_volume: {cfg.stock_volume:g} uL does not fit in a reservoir well ({reservoir:g} uL, {RESERVOIR})")
        plates = sorted(name for name, spec in LABWARE.items() if spec.kind == "plate")
        if cfg.plate not in plates:
            raise CampaignError(f"lab.plate: unknown plate {cfg.plate!r}; known: {plates}")
        if len(self.stocks) > 12:
            raise CampaignError(f"the reservoir has 12 wells; the campaign has {len(self.stocks)} stocks")
        smallest = min(PIPETTES[p].min_volume for p in cfg.pipettes)
        capacity = LABWARE[cfg.plate].well_capacity
        for p in campaign.parameters:
            where = f"parameter {p.name!r}"
            if not isinstance(p, ContinuousParameter) or p.unit != "uL":
                raise CampaignError(f"{where}: the colour lab's parameters are stock volumes, continuous with unit 'uL'")
            if p.name not in DYES:
                raise CampaignError(f"{where}: the virtual bench has no stock {p.name!r}; stocks are {sorted(DYES)}")
            if p.lower < smallest:
                raise CampaignError(
                    f"{where}: lower bound {p.lower:g} uL is below what any mounted pipette can dispense "
                    f"(smallest: {smallest:g} uL); raise it to at least {smallest:g} uL"
                )
            if p.upper > capacity:
                raise CampaignError(f"{where}: upper bound {p.upper:g} uL exceeds the well capacity of {capacity:g} uL")
        max_total = campaign.space.max_linear({name: 1.0 for name in self.stocks})
        if max_total > capacity + 1e-9:
            raise CampaignError(
                f"the parameters allow {max_total:g} uL in one well, more than its {capacity:g} uL; add a constraint "
                f"such as 'terms: {{{', '.join(f'{s}: 1' for s in self.stocks)}}}, op: \"<=\", rhs: {capacity:g}'"
            )
        for name in self.stocks:  # the operator refills stocks between batches; one batch must fit in one filling
            most = campaign.batch_size * campaign.space.max_linear({name: 1.0})
            if most > cfg.stock_volume:
                raise CampaignError(
                    f"lab.stock_volume: a batch of {campaign.batch_size} can draw up to {most:g} uL of {name}, more than "
                    f"the {cfg.stock_volume:g} uL stock; raise stock_volume or lower batch_size"
                )
        check_readings(campaign, self.readings, "virtual_colour")

    def location(self, seq: int) -> str:
        plate, well = plate_and_well(seq, self.wells)
        return f"plate {plate} {well}"

    def execute(self, batch: list[LabRequest]) -> None:
        needed = {p: 0 for p in self.config.pipettes}
        for request in batch:
            for _, _, volume in mixing_ops(request.params, self.stock_wells, WellRef(slot=PLATE_SLOT, well="A1")):
                needed[self.handler.pipette_for(volume)[0].name] += 1
        if any(self.handler.tips_left(p) < n for p, n in needed.items()):
            self.handler.replace_tip_racks()  # the operator swaps tip racks between batches
        for name, well in self.stock_wells.items():  # and tops up any stock the batch could run dry
            if self.handler.volume(well) < sum(float(r.params[name]) for r in batch):
                top_up = self.config.stock_volume - self.handler.volume(well)
                self.handler.fill(well, name, top_up)
                self.operator.fill(well, name, top_up)
        for request in batch:
            plate, well = plate_and_well(request.seq, self.wells)
            if plate != self.plate_number:
                self._read_unread()  # read the full plate before it leaves the deck
                self.operator.replace_plate(PLATE_SLOT, plate)
                self.handler.clear(PLATE_SLOT)
                self.plate_number = plate
            dest = WellRef(slot=PLATE_SLOT, well=well)
            self._started[request.seq] = self.clock.now()
            ops = mixing_ops(request.params, self.stock_wells, dest)
            try:
                for i, (source, target, volume) in enumerate(ops):
                    last = i == len(ops) - 1
                    self.handler.transfer(source, target, volume, mix_repetitions=self.config.mix_repetitions if last else 0)
            except InstrumentError as exc:
                raise LabError(f"experiment {request.seq} ({self.location(request.seq)}): {exc}") from exc
            self._unread.append(request)

    def measure(self, batch: list[LabRequest]) -> list[LabResult]:
        self._read_unread()
        missing = [r.seq for r in batch if r.seq not in self._results]
        if missing:
            raise LabError(f"experiments {missing} were not executed on this lab run; they cannot be read")
        return [self._results.pop(r.seq) for r in batch]

    def _read_unread(self) -> None:
        if not self._unread:
            return
        requests, self._unread = self._unread, []
        wells = [plate_and_well(r.seq, self.wells)[1] for r in requests]
        try:
            readings = self.reader.read(PLATE_SLOT, wells, self.config.wavelengths)
        except InstrumentError as exc:
            raise LabError(f"reading plate {self.plate_number} wells {wells}: {exc}") from exc
        now = self.clock.now()
        for request, well in zip(requests, wells):
            values = {reading_name(nm): v for nm, v in readings[well].items()}
            self._results[request.seq] = LabResult(
                seq=request.seq,
                readings=values,
                units={k: "AU" for k in values},
                instrument="plate_reader",
                location=self.location(request.seq),
                lab_seconds=now - self._started.pop(request.seq, now),
            )


class VirtualColourLab(ColourLab):
    """`ColourLab` on the virtual bench (seeded from the campaign)."""

    def __init__(self, config: ColourLabConfig, campaign: Campaign) -> None:
        clock = VirtualClock()
        wells = LABWARE[config.plate].wells() if config.plate in LABWARE else ["A1"]
        bench = ColourBench(
            seed=campaign.seed,
            clock=clock,
            pipetting_cv=config.pipetting_cv,
            reader_noise=config.reader_noise,
            nan_wells={plate_and_well(seq, wells) for seq in config.nan_readings_at},
        )
        self.bench = bench
        super().__init__(config, campaign, bench.liquid_handler, bench.plate_reader, bench, clock)

