import pytest

from retort.instruments import MeasurementError, PlateReader
from retort.instruments.plate_reader import non_finite


class Reader:
    def __init__(self, rows):
        self.rows = rows

    def read(self, op):
        return self.rows


def test_reads_are_returned_per_well_and_wavelength():
    reader = PlateReader(Reader({"A1": {450: 0.2, 600: 0.1}}))
    assert reader.read("1", ["A1"], [450, 600]) == {"A1": {450: 0.2, 600: 0.1}}


def test_wavelength_out_of_range_and_missing_well():
    with pytest.raises(ValueError, match=r"\[100\] nm are outside"):
        PlateReader(Reader({})).read("1", ["A1"], [100])
    with pytest.raises(MeasurementError, match="no reading for well 1:B1"):
        PlateReader(Reader({"A1": {450: 0.2}})).read("1", ["A1", "B1"], [450])


def test_non_finite_lists_bad_wavelengths():
    assert non_finite({450: float("nan"), 500: 0.1, 600: float("inf")}) == [450, 600]
