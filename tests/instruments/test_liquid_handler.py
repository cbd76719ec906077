import pytest

from retort.instruments import LabwareError, LiquidHandler, TipError, VolumeError, WellRef
from retort.instruments.ops import DropTip, Mix, PickUpTip, Transfer

PLATE, RES, TIPS20, TIPS300 = "1", "2", "3", "4"


class Recorder:
    def __init__(self):
        self.ops = []

    def execute(self, op):
        self.ops.append(op)


def handler(pipettes=("p20_single_gen2", "p300_single_gen2")):
    deck = {PLATE: "corning_96_wellplate_360ul_flat", RES: "nest_12_reservoir_15ml",
            TIPS20: "opentrons_96_tiprack_20ul", TIPS300: "opentrons_96_tiprack_300ul"}
    lh = LiquidHandler(Recorder(), deck=deck, pipettes=list(pipettes))
    lh.fill(WellRef(slot=RES, well="A1"), "red", 10_000)
    return lh


def test_transfer_picks_the_smallest_pipette_and_tracks_contents():
    lh = handler()
    src, dst = WellRef(slot=RES, well="A1"), WellRef(slot=PLATE, well="B2")
    lh.transfer(src, dst, 5.0)
    lh.transfer(src, dst, 150.0, mix_repetitions=3)
    kinds = [type(op) for op in lh.backend.ops]
    assert kinds == [PickUpTip, Transfer, DropTip, PickUpTip, Transfer, Mix, DropTip]
    assert lh.backend.ops[1].pipette == "p20_single_gen2" and lh.backend.ops[4].pipette == "p300_single_gen2"
    assert lh.contents(dst) == pytest.approx({"red": 155.0})
    assert lh.volume(src) == pytest.approx(10_000 - 155.0)
    assert lh.tips_used == 2


def test_volume_below_every_pipette_is_refused_before_anything_moves():
    lh = handler()
    with pytest.raises(VolumeError, match=r"0.5 uL is below .* \(p20_single_gen2: 1-20 uL\)"):
        lh.transfer(WellRef(slot=RES, well="A1"), WellRef(slot=PLATE, well="A1"), 0.5)
    assert lh.backend.ops == []


def test_volume_above_the_well_capacity_is_refused():
    lh = handler()
    dst = WellRef(slot=PLATE, well="A1")
    lh.transfer(WellRef(slot=RES, well="A1"), dst, 300)
    with pytest.raises(VolumeError, match="does not fit in 1:A1"):
        lh.transfer(WellRef(slot=RES, well="A1"), dst, 100)
    assert lh.volume(dst) == pytest.approx(300)


def test_large_volume_is_split_across_aspirations():
    lh = handler(pipettes=["p20_single_gen2"])
    lh.transfer(WellRef(slot=RES, well="A1"), WellRef(slot=PLATE, well="A1"), 50)
    moves = [op for op in lh.backend.ops if isinstance(op, Transfer)]
    assert len(moves) == 3 and sum(m.volume for m in moves) == pytest.approx(50)


def test_empty_source_and_unknown_well_are_clear_errors():
    lh = handler()
    with pytest.raises(VolumeError, match="source 2:A2 holds 0 uL"):
        lh.transfer(WellRef(slot=RES, well="A2"), WellRef(slot=PLATE, well="A1"), 10)
    with pytest.raises(LabwareError, match="well 'Z9' does not exist"):
        lh.transfer(WellRef(slot=RES, well="A1"), WellRef(slot=PLATE, well="Z9"), 10)
    with pytest.raises(LabwareError, match="no labware in deck slot '9'"):
        lh.transfer(WellRef(slot=RES, well="A1"), WellRef(slot="9", well="A1"), 10)


def test_tips_run_out_and_can_be_replaced():
    lh = handler()
    src = WellRef(slot=RES, well="A1")
    for i in range(96):
        lh.transfer(src, WellRef(slot=PLATE, well=["A1", "B1"][i % 2]), 1.0)
    assert lh.tips_left("p20_single_gen2") == 0
    with pytest.raises(TipError, match="replace the tip racks"):
        lh.transfer(src, WellRef(slot=PLATE, well="C1"), 1.0)
    lh.replace_tip_racks()
    lh.transfer(src, WellRef(slot=PLATE, well="C1"), 1.0)
    assert lh.tips_left("p20_single_gen2") == 95


def test_unknown_labware_or_pipette():
    with pytest.raises(LabwareError, match="unknown labware"):
        LiquidHandler(Recorder(), deck={"1": "no_such_plate"}, pipettes=["p20_single_gen2"])
    with pytest.raises(LabwareError, match="unknown or missing pipettes"):
        LiquidHandler(Recorder(), deck={}, pipettes=["p2000"])
