"""Computation engines (the dry lab's instruments): GFN2-xTB through tblite on seeded RDKit conformers. Small molecules
only: a screen's real scale belongs in benchmarks."""

import sys

import pytest

from retort.instruments.computations import EngineMissing, Job, engine
from retort.instruments.errors import InstrumentError


def xtb(smiles: str, **settings) -> "Outcome":  # noqa: F821
    return engine("xtb").compute(Job(engine="xtb", method=settings.pop("method", "GFN2-xTB"), settings={"solvent": "water", **settings},
                                     input=smiles))


def test_xtb_reports_energy_gap_dipole_and_solvation_with_units_and_provenance():
    water, ethanol, benzene = (xtb(s) for s in ("O", "CCO", "c1ccccc1"))
    assert {o.status for o in (water, ethanol, benzene)} == {"done"}
    assert water.units == {"energy": "Eh", "homo_lumo_gap": "eV", "dipole": "D", "solvation_free_energy": "kcal/mol"}
    # hydration free energies in the experimental order (FreeSolv: water -6.3, ethanol -5.0, benzene -0.9 kcal/mol)
    assert water.values["solvation_free_energy"] < ethanol.values["solvation_free_energy"] < benzene.values["solvation_free_energy"] < 0
    assert benzene.values["dipole"] < 0.1 < ethanol.values["dipole"] and all(o.values["homo_lumo_gap"] > 0 for o in (water, ethanol, benzene))
    assert water.engine_version.startswith("tblite 0.") and water.cpu_seconds > 0 and len(water.input_hash) == 64
    again = xtb("CCO")
    assert again.values == ethanol.values and again.input_hash == ethanol.input_hash  # seeded: the same geometry, the same answer
    gas = xtb("CCO", solvent="")
    assert "solvation_free_energy" not in gas.values and gas.values["energy"] == pytest.approx(ethanol.values["energy"])


def test_a_computation_that_cannot_be_done_is_a_failed_outcome_in_the_engines_words():
    assert xtb("[U]").message == "tblite: No support for elements with Z >86."
    assert xtb("C1CC").status == "failed" and "RDKit cannot read the SMILES 'C1CC'" in xtb("C1CC").message
    assert "method 'DFT' is not one tblite runs" in xtb("O", method="DFT").message
    unknown = xtb("O", solvent="unobtainium")
    assert unknown.status == "failed" and unknown.message.startswith("tblite:")


def test_a_job_is_keyed_by_everything_that_decides_its_answer():
    one = Job(engine="xtb", method="GFN2-xTB", settings={"solvent": "water"}, seed=0, input="CCO")
    assert one.key == Job(engine="xtb", method="GFN2-xTB", settings={"solvent": "water"}, seed=0, input="CCO").key
    assert len({one.key, one.model_copy(update={"seed": 1}).key, one.model_copy(update={"settings": {"solvent": "octanol"}}).key}) == 3


def test_an_unknown_or_missing_engine_is_named_with_what_to_do(monkeypatch):
    with pytest.raises(InstrumentError, match=r"unknown computation engine 'gaussian'; engines: \['chgnet', 'xtb'\]"):
        engine("gaussian")
    monkeypatch.setitem(sys.modules, "tblite", None)  # as on a machine without it
    with pytest.raises(EngineMissing, match=r"needs the package tblite, which is not installed: pip install -e '\.\[dry\]'"):
        engine("xtb")
    monkeypatch.setitem(sys.modules, "chgnet", None)
    with pytest.raises(EngineMissing, match=r"needs the package chgnet, which is not installed: pip install -e '\.\[dry\]'"):
        engine("chgnet")
