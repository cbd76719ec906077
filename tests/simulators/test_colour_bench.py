import math

import numpy as np
import pytest

from retort.instruments import MeasurementError, WellRef
from retort.instruments.ops import ReadPlate
from retort.simulators import DURATIONS, ColourBench, VirtualClock
from tests.instruments.decks import ot2_deck, plan_for

PLATE = "1"


def dispense(bench, well, volumes):
    """Run a one-experiment plan putting `volumes` in `well` (plate 1)."""
    deck = ot2_deck()
    index = deck.labware(PLATE).wells().index(well)
    return bench.run(plan_for(deck, [volumes], first_well=index, mix=0))


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
    deck = ot2_deck()
    report = bench.run(plan_for(deck, [{"water": 100}] * 96, mix=0))
    volumes = [e.dispensed[0].volume for e in report.experiments]
    assert np.std(volumes) / np.mean(volumes) == pytest.approx(0.02, rel=0.2)
    assert sum(bench.contents(WellRef(slot=PLATE, well="A1")).values()) == pytest.approx(volumes[0])


def test_clock_advances_by_operation_durations():
    clock = VirtualClock()
    bench = ColourBench(seed=0, clock=clock, pipetting_cv=0)
    report = dispense(bench, "A1", {"water": 100})
    expected = DURATIONS["pick_up_tip"] + DURATIONS["transfer_base"] + 100 / DURATIONS["flow_rate"] + DURATIONS["drop_tip"]
    assert clock.now() == pytest.approx(expected) and report.seconds == pytest.approx(expected)


def test_fault_injection_and_empty_well():
    bench = ColourBench(seed=0, clock=VirtualClock(), nan_wells={(1, "A1")})
    dispense(bench, "A1", {"red": 40})
    assert math.isnan(bench.plate_reader.read(ReadPlate(slot=PLATE, wells=("A1",), wavelengths=(520,)))["A1"][520])
    with pytest.raises(MeasurementError, match="well 1:B1 is empty"):
        bench.plate_reader.read(ReadPlate(slot=PLATE, wells=("B1",), wavelengths=(520,)))


def test_replace_plate_empties_the_slot():
    bench = ColourBench(seed=0, clock=VirtualClock())
    dispense(bench, "A1", {"red": 40})
    bench.replace_plate(PLATE, 2)
    assert bench.contents(WellRef(slot=PLATE, well="A1")) == {}
    dispense(bench, "B1", {"red": 40})
    assert bench.contents(WellRef(slot=PLATE, well="B1")) != {}
