import math

import numpy as np
import pytest

from retort.instruments import MeasurementError, WellRef
from retort.instruments.ops import PickUpTip, ReadPlate, Transfer
from retort.simulators import DURATIONS, ColourBench, VirtualClock

RES, PLATE = WellRef(slot="2", well="A1"), "1"


def dispense(bench, well, volumes):
    for i, (liquid, v) in enumerate(volumes.items()):
        src = WellRef(slot="2", well=f"A{i + 1}")
        bench.fill(src, liquid, 10_000)
        bench.liquid_handler.execute(Transfer(pipette="p300_single_gen2", source=src, dest=WellRef(slot=PLATE, well=well), volume=v))


def test_beer_lambert_is_linear_in_concentration_and_additive():
    bench = ColourBench(seed=0, clock=VirtualClock(), pipetting_cv=0, reader_noise=0)
    a_half = bench.true_absorbance({"red": 50, "water": 50}, 520)
    a_quarter = bench.true_absorbance({"red": 25, "water": 75}, 520)
    assert a_half == pytest.approx(2 * a_quarter)
    both = bench.true_absorbance({"red": 50, "blue": 50}, 600)
    assert both == pytest.approx(bench.true_absorbance({"red": 50, "water": 50}, 600) + bench.true_absorbance({"blue": 50, "water": 50}, 600))


def test_same_seed_same_readings_different_seed_different():
    def run(seed):
        bench = ColourBench(seed=seed, clock=VirtualClock())
        dispense(bench, "A1", {"red": 40, "water": 100})
        return bench.plate_reader.read(ReadPlate(slot=PLATE, wells=("A1",), wavelengths=(430, 520)))
    assert run(1) == run(1)
    assert run(1) != run(2)


def test_pipetting_error_has_the_configured_cv():
    bench = ColourBench(seed=0, clock=VirtualClock(), pipetting_cv=0.02)
    bench.fill(RES, "water", 1e9)
    volumes = []
    for i in range(400):
        dest = WellRef(slot="1", well=f"A{i % 12 + 1}")
        before = sum(bench.contents(dest).values())
        bench.liquid_handler.execute(Transfer(pipette="p300_single_gen2", source=RES, dest=dest, volume=100))
        volumes.append(sum(bench.contents(dest).values()) - before)
    assert np.std(volumes) / np.mean(volumes) == pytest.approx(0.02, rel=0.15)


def test_clock_advances_by_operation_durations():
    clock = VirtualClock()
    bench = ColourBench(seed=0, clock=clock)
    bench.liquid_handler.execute(PickUpTip(pipette="p20_single_gen2", tip=WellRef(slot="3", well="A1")))
    assert clock.now() == DURATIONS["pick_up_tip"]


def test_fault_injection_and_empty_well():
    bench = ColourBench(seed=0, clock=VirtualClock(), nan_wells={(0, "A1")})
    dispense(bench, "A1", {"red": 40})
    assert math.isnan(bench.plate_reader.read(ReadPlate(slot=PLATE, wells=("A1",), wavelengths=(520,)))["A1"][520])
    with pytest.raises(MeasurementError, match="well 1:B1 is empty"):
        bench.plate_reader.read(ReadPlate(slot=PLATE, wells=("B1",), wavelengths=(520,)))


def test_replace_plate_empties_the_slot():
    bench = ColourBench(seed=0, clock=VirtualClock())
    dispense(bench, "A1", {"red": 40})
    bench.replace_plate(PLATE, 2)
    assert bench.contents(WellRef(slot=PLATE, well="A1")) == {}
    assert bench.contents(RES) != {}
