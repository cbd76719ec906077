"""A colour-mixing bench: a virtual OT-2 dispensing dye stocks and an absorbance plate reader.

Physics: each dye has a Gaussian absorption band; a well's absorbance at wavelength lambda is
Beer-Lambert, ``A(lambda) = sum_i eps_i(lambda) * c_i * l``, with ``c_i`` the dye's concentration
after mixing. The reader reports path-length-corrected absorbance (l = 1 cm), as readers with a
path-check do, so diluting with water lowers absorbance. Pipetting error is a coefficient of
variation on each dispensed volume; the reader adds proportional and absolute noise and saturates
at 4 AU. Everything is seeded; time comes from an injected clock.

Example:
    >>> from retort.simulators import ColourBench, VirtualClock
    >>> bench = ColourBench(seed=0, clock=VirtualClock(), pipetting_cv=0.0, reader_noise=0.0)
    >>> round(bench.true_absorbance({"red": 50, "water": 150}, 520), 3)
    0.5
"""

from __future__ import annotations

import math
from collections import defaultdict
import threading
from typing import Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from retort.instruments import MeasurementError, WellRef
from retort.instruments.ops import DropTip, Mix, PickUpTip, ReadPlate, Transfer
from retort.instruments.plan import Dispensed, ExperimentReport, Plan, RunReport, Touched
from retort.simulators.clock import DURATIONS, VirtualClock
from retort.simulators.errors import SimulationInputError

SATURATION = 4.0  # AU; readers report "over" above this
FAULT = "virtual fault: the pipette stopped after the first transfer (fault injection)"
HUNG = "virtual fault: the robot stopped answering during this experiment and was stopped (fault injection)"


class Dye(BaseModel):
    """A stock solution with one Gaussian absorption band (peak absorbance of the stock at 1 cm)."""

    model_config = ConfigDict(frozen=True)

    peak_nm: float = Field(gt=0)
    width_nm: float = Field(gt=0)
    stock_absorbance: float = Field(ge=0)

    def absorbance(self, wavelength: float, fraction: float) -> float:
        """Absorbance (1 cm) at `wavelength` of this stock diluted to volume `fraction`."""
        shape = math.exp(-0.5 * ((wavelength - self.peak_nm) / self.width_nm) ** 2)
        return self.stock_absorbance * shape * fraction


# Food-dye-like stocks: a red absorbing green light, a yellow absorbing blue, a blue absorbing red.
DYES: dict[str, Dye] = {
    "red": Dye(peak_nm=520, width_nm=35, stock_absorbance=2.0),
    "yellow": Dye(peak_nm=430, width_nm=30, stock_absorbance=2.0),
    "blue": Dye(peak_nm=630, width_nm=40, stock_absorbance=2.0),
    "green": Dye(peak_nm=600, width_nm=60, stock_absorbance=1.5),
    "water": Dye(peak_nm=500, width_nm=1, stock_absorbance=0.0),
}


class ColourBench:
    """The virtual bench: liquid-handler and plate-reader backends sharing one physical state.

    `plate_reader` implements `retort.instruments`' reader Protocol; `robot.VirtualRobot` makes the bench a liquid-handler backend.
    Operator actions (`replace_plate`) clear a slot, as a person swapping the plate would.

    Args:
        seed: seeds pipetting and reader noise.
        clock: receives the duration of every operation.
        pipetting_cv: coefficient of variation of each dispensed volume.
        reader_noise: standard deviation of the reader's absolute noise (AU); proportional noise is
            half of it per AU.
        nan_wells: `(plate number, well)` pairs whose reading comes back NaN (fault injection).
        nan_experiments: experiment numbers whose well reads NaN, wherever they land (fault injection).
        failing: experiment numbers whose dispense fails after the first transfer (fault injection).
    """

    def __init__(
        self,
        seed: int,
        clock: VirtualClock,
        pipetting_cv: float = 0.01,
        reader_noise: float = 0.005,
        dyes: dict[str, Dye] | None = None,
        nan_wells: set[tuple[int, str]] | None = None,
        nan_experiments: set[int] | None = None,
        failing: set[int] | None = None,
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.clock = clock
        self.pipetting_cv = pipetting_cv
        self.reader_noise = reader_noise
        self.dyes = dict(DYES if dyes is None else dyes)
        self.nan_wells = set(nan_wells or ())
        self.nan_experiments = set(nan_experiments or ())
        self.failing: set[int] = set(failing or ())  # experiment numbers whose dispense fails (fault injection)
        self.hang_at: Optional[int] = None  # fault injection: the next run stops answering at this experiment, until `halt` is set
        self.halt = threading.Event()
        self.plate_number: dict[str, int] = {}
        self._wells: dict[str, dict[str, float]] = {}
        self.plate_reader = _VirtualPlateReader(self)

    # -- operator actions ---------------------------------------------------------------
    def replace_plate(self, slot: str, plate_number: int) -> None:
        """A fresh, empty plate numbered `plate_number` now sits in `slot`."""
        self.plate_number[slot] = plate_number
        for key in [k for k in self._wells if k.startswith(f"{slot}:")]:
            del self._wells[key]

    # -- physics ------------------------------------------------------------------------
    def true_absorbance(self, contents: dict[str, float], wavelength: float) -> float:
        total = sum(contents.values())
        if total <= 0:
            return 0.0
        return sum(self.dyes[liquid].absorbance(wavelength, v / total) for liquid, v in contents.items())

    def contents(self, well: WellRef) -> dict[str, float]:
        return dict(self._wells.get(str(well), {}))

    def receive(self, well: WellRef, liquid: str, volume: float) -> None:
        """`volume` uL of stock `liquid` lands in `well` (what a robot reports it dispensed)."""
        if liquid not in self.dyes:
            raise SimulationInputError(f"the virtual bench has no stock {liquid!r}; stocks: {sorted(self.dyes)}")
        contents = self._wells.setdefault(str(well), {})
        contents[liquid] = contents.get(liquid, 0.0) + volume

    @staticmethod
    def estimate(plan: Plan) -> float:
        """Simulated seconds the plan's steps take (as `run` sleeps them)."""
        total = 0.0
        for experiment in plan.experiments:
            for step in experiment.steps:
                if isinstance(step, Transfer):
                    total += DURATIONS["transfer_base"] + step.volume / DURATIONS["flow_rate"]
                elif isinstance(step, (PickUpTip, DropTip)):
                    total += DURATIONS["pick_up_tip" if isinstance(step, PickUpTip) else "drop_tip"]
                elif isinstance(step, Mix):
                    total += DURATIONS["mix_cycle"] * step.repetitions
        return total

    def run(self, plan: Plan) -> RunReport:
        """Run a checked plan: every transfer dispenses its stock with the bench's pipetting error. `halt` set
        between experiments (an operator's stop) ends the run there: the rest are not started. With `hang_at`
        set, the bench stops answering after that experiment's first transfer until `halt` is set, then reports
        it failed and the rest not started, as a robot stopped by its operator would."""
        start = self.clock.now()
        if self.plate_number.get(plan.deck.plate.slot) != plan.plate:
            self.replace_plate(plan.deck.plate.slot, plan.plate)
        stock_of = {s.well: name for name, s in plan.deck.stocks.items()}
        self._mark_nan(plan)
        reports: list[ExperimentReport] = []
        error, stopped = None, False
        tips, wells, drawn = [], [], defaultdict(float)  # what it touched, as a robot's log would say
        for experiment in plan.experiments:
            if error is None and self.halt.is_set():
                stopped = True
            if error is not None or stopped:
                reports.append(ExperimentReport(seq=experiment.seq, status="not_started"))
                continue
            dispensed: dict[str, float] = {}
            transfers = 0
            for step in experiment.steps:
                if isinstance(step, Transfer) and transfers == 1 and experiment.seq in self.failing:
                    error = FAULT  # a fault after the first transfer: the well holds part of its recipe
                    break
                if isinstance(step, Transfer) and transfers == 1 and experiment.seq == self.hang_at:
                    self.hang_at = None
                    self.halt.wait()  # not answering, until stopped
                    self.halt.clear()
                    error = HUNG
                    break
                transfers += isinstance(step, Transfer)
                if isinstance(step, Transfer):
                    liquid = stock_of[step.source.well]
                    drawn[liquid] += step.volume
                    wells += [step.dest.well] if step.dest.well not in wells else []
                    actual = max(0.0, step.volume * (1.0 + self.pipetting_cv * self.rng.standard_normal()))
                    self.receive(step.dest, liquid, actual)
                    dispensed[liquid] = dispensed.get(liquid, 0.0) + actual
                    self.clock.sleep(DURATIONS["transfer_base"] + step.volume / DURATIONS["flow_rate"])
                elif isinstance(step, PickUpTip):
                    tips.append(step.tip)
                    self.clock.sleep(DURATIONS["pick_up_tip"])
                elif isinstance(step, DropTip):
                    self.clock.sleep(DURATIONS["drop_tip"])
                elif isinstance(step, Mix):
                    self.clock.sleep(DURATIONS["mix_cycle"] * step.repetitions)
            reports.append(ExperimentReport(seq=experiment.seq, status="failed" if error else "done",
                                            dispensed=tuple(Dispensed(liquid=k, volume=v) for k, v in dispensed.items()), error=error))
        return RunReport(backend="virtual", status="failed" if error else "stopped" if stopped else "succeeded", experiments=tuple(reports),
                         tips_used=tuple(tips), seconds=self.clock.now() - start, error=error or ("stopped by the operator" if stopped else None),
                         touched=Touched(tips=tuple(tips), wells=tuple(wells), stocks=dict(drawn)))

    def apply(self, plan: Plan, report: RunReport) -> None:
        """Make this bench's wells (the plate it reads) hold what a backend reports it dispensed: each experiment's
        well holds exactly its report's liquids, so applying a report again, or the report of the bench's own run,
        changes nothing."""
        if self.plate_number.get(plan.deck.plate.slot) != plan.plate:
            self.replace_plate(plan.deck.plate.slot, plan.plate)
        self._mark_nan(plan)
        wells = {e.seq: e.well for e in plan.experiments}
        for experiment in report.experiments:
            self._wells.pop(str(wells[experiment.seq]), None)
            for d in experiment.dispensed:
                self.receive(wells[experiment.seq], d.liquid, d.volume)

    def _mark_nan(self, plan: Plan) -> None:
        self.nan_wells |= {(plan.plate, e.well.well) for e in plan.experiments if e.seq in self.nan_experiments}

    def _read(self, op: ReadPlate) -> dict[str, dict[int, float]]:
        self.clock.sleep(DURATIONS["read_plate_base"] + DURATIONS["read_per_well_wavelength"] * len(op.wells) * len(op.wavelengths))
        plate = self.plate_number.get(op.slot, 0)
        out: dict[str, dict[int, float]] = {}
        for well in op.wells:
            contents = self._wells.get(f"{op.slot}:{well}", {})
            if sum(contents.values()) <= 0:
                raise MeasurementError(f"well {op.slot}:{well} is empty; nothing to read")
            row = {}
            for nm in op.wavelengths:
                a = self.true_absorbance(contents, nm)
                noisy = a * (1 + 0.5 * self.reader_noise * self.rng.standard_normal()) + self.reader_noise * self.rng.standard_normal()
                row[nm] = float("nan") if (plate, well) in self.nan_wells else float(min(SATURATION, noisy))
            out[well] = row
        return out


class _VirtualPlateReader:
    def __init__(self, bench: ColourBench) -> None:
        self.bench = bench

    def read(self, op: ReadPlate) -> dict[str, dict[int, float]]:
        return self.bench._read(op)
