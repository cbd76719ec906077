"""The GP emulator of scattered datasets: answers inside the data, says what it is, refuses outside."""

import json

import numpy as np
import pytest

from retort.simulators.emulator import DatasetEmulator

INSIDE = {"residence_time": 1.0, "ratio": 3.0, "concentration": 0.3, "temperature": 100.0}


@pytest.fixture(scope="module")
def snar():
    return DatasetEmulator.from_packaged("snar")


def test_emulator_describes_itself_and_reproduces_its_data(snar):
    assert snar.inputs == ["residence_time", "ratio", "concentration", "temperature"] and snar.output == "impurity"
    assert snar.n == 66 and snar.positive
    assert snar.describe().startswith("GP emulator of olympus/snar (66 measurements of impurity")
    assert snar.loo_r2 > 0.9  # held-out accuracy on the published measurements


def test_emulator_is_surer_at_its_data_than_between_it(snar):
    measured = {"residence_time": 1.24, "ratio": 2.43, "concentration": 0.361, "temperature": 64.8}  # row 1 of data.csv
    corner = {"residence_time": 0.5, "ratio": 5.0, "concentration": 0.1, "temperature": 60.0}
    mean, std = snar.predict([measured, corner])
    assert abs(mean[0] - 2.06) < 0.3 and std[0] < std[1]


def test_measurement_is_seeded_noisy_and_carries_the_latent_std(snar):
    a, b, c = snar.measure(INSIDE, seed=1), snar.measure(INSIDE, seed=1), snar.measure(INSIDE, seed=2)
    assert a == b and a.value != c.value and a.mean == c.mean and a.std > 0
    assert abs(a.value - a.mean) < 6 * snar.noise_sd


def test_points_outside_the_data_or_incomplete_are_refused(snar):
    with pytest.raises(ValueError, match=r"temperature=150 is outside the data's range \[60, 140\]; the emulator does not extrapolate"):
        snar.measure(INSIDE | {"temperature": 150.0}, seed=0)
    with pytest.raises(ValueError, match=r"lacks inputs \['ratio'\]"):
        snar.predict([{k: v for k, v in INSIDE.items() if k != "ratio"}])
    with pytest.raises(ValueError, match="unknown packaged dataset 'nope'"):
        DatasetEmulator.from_packaged("nope")


def test_bad_folders_are_named(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({
        "parameters": [{"name": "a", "type": "continuous", "low": 0, "high": 1}, {"name": "s", "type": "categorical"}],
        "measurements": [{"name": "y"}]}))
    (tmp_path / "data.csv").write_text("0.1,1,2\n")
    with pytest.raises(ValueError, match="continuous parameters only"):
        DatasetEmulator.from_folder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({
        "parameters": [{"name": "a", "type": "continuous", "low": 0, "high": 1}], "measurements": [{"name": "y"}]}))
    with pytest.raises(ValueError, match="data.csv has 3 columns, config.json declares 1 parameters and 1 measurements"):
        DatasetEmulator.from_folder(tmp_path)
    (tmp_path / "data.csv").write_text("0.1,1\n0.2,nan\n0.3,1\n0.4,2\n0.5,1\n0.6,0\n")
    with pytest.raises(ValueError, match=r"rows \[2\] hold non-finite values"):
        DatasetEmulator.from_folder(tmp_path)
    with pytest.raises(ValueError, match="no measurement 'z'"):
        DatasetEmulator.from_folder(tmp_path, output="z")
    with pytest.raises(ValueError, match="cannot read config.json and data.csv"):
        DatasetEmulator.from_folder(tmp_path / "missing")


def test_composition_emulator_answers_in_element_fractions(tmp_path):
    rows = ["composition,HV", "FeNi,200", "Fe3Ni,260", "FeNi3,180", "FeCr,320", "CrNi,300", "FeCrNi,280", "Fe2CrNi,290"]
    (tmp_path / "alloys.csv").write_text("\n".join(rows) + "\n")
    emulator = DatasetEmulator.from_compositions(tmp_path / "alloys.csv", "composition", "HV")
    assert emulator.compositional and emulator.inputs == ["Cr", "Fe", "Ni"]
    assert emulator.bounds["Fe"] == (0.0, 0.75) and emulator.bounds["Cr"] == (0.0, 0.5)
    answer = emulator.measure({"Cr": 0.2, "Fe": 0.5, "Ni": 0.3}, seed=0)
    assert 100 < answer.mean < 400 and answer.std > 0
    with pytest.raises(ValueError, match=r"Fe=0.9 is outside the data's range \[0, 0.75\]"):
        emulator.measure({"Cr": 0.0, "Fe": 0.9, "Ni": 0.1}, seed=0)
    (tmp_path / "bad.csv").write_text("\n".join(rows[:3] + ["Qq2Fe,100"] + rows[3:]) + "\n")
    with pytest.raises(ValueError, match=r"bad.csv line 4: cannot read 'Qq2Fe'"):
        DatasetEmulator.from_compositions(tmp_path / "bad.csv", "composition", "HV")
    with pytest.raises(ValueError, match=r"need columns 'formula' and 'HV'"):
        DatasetEmulator.from_compositions(tmp_path / "alloys.csv", "formula", "HV")


def test_rounding_at_a_bound_is_answered_but_a_real_excursion_is_not(snar):
    lo, hi = snar.bounds["temperature"]
    assert snar.predict([INSIDE | {"temperature": hi + 1e-5}])[0] == pytest.approx(snar.predict([INSIDE | {"temperature": hi}])[0])
    with pytest.raises(ValueError, match="outside the data's range"):
        snar.predict([INSIDE | {"temperature": hi + 0.01}])


def test_a_fitted_emulator_is_kept_and_a_bad_copy_is_fitted_again(tmp_path, monkeypatch):
    from retort.simulators.emulator import FIT_CACHE_ENV

    monkeypatch.setenv(FIT_CACHE_ENV, str(tmp_path))
    fresh = DatasetEmulator.from_packaged("snar")
    answer = fresh.predict([INSIDE])
    (kept,) = tmp_path.glob("*.pt")  # the fit, kept for the next run
    again = DatasetEmulator.from_packaged("snar")
    assert np.array_equal(again.predict([INSIDE]), answer) and again.describe() == fresh.describe()  # the same model, not refitted
    kept.write_bytes(b"not a model")
    assert np.array_equal(DatasetEmulator.from_packaged("snar").predict([INSIDE]), answer)  # an unreadable copy: fitted again
