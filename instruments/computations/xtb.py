"""GFN2-xTB through tblite on one RDKit conformer: total energy, HOMO-LUMO gap, dipole moment and, in a named ALPB
solvent, the solvation free energy (the solvated minus the gas-phase energy at the same geometry).

The conformer is RDKit's ETKDGv3 embedding seeded by the job's seed, relaxed with MMFF94 (UFF where MMFF has no
parameters): the same job gives the same geometry, and its digest is kept with the outcome. Anything that fails
(embedding, an element GFN2-xTB does not cover, an SCF that does not converge) is a failed outcome with the message of
the tool that failed.

Example:
    >>> outcome = XtbEngine().compute(Job(engine="xtb", method="GFN2-xTB", settings={"solvent": "water"}, input="CCO"))  # doctest: +SKIP
    >>> round(outcome.values["solvation_free_energy"], 1)  # doctest: +SKIP
    -4.9
"""

from __future__ import annotations

import hashlib
import time

import numpy as np

from retort.instruments.computations.jobs import Job, Outcome

HARTREE_EV = 27.211386245988
HARTREE_KCAL = 627.5094740631
BOHR_ANGSTROM = 0.529177210903
AU_DEBYE = 2.541746473
METHODS = ("GFN2-xTB", "GFN1-xTB", "IPEA1-xTB")


class XtbEngine:
    """`compute` a `Job` whose input is a SMILES; settings: ``solvent`` (an ALPB solvent name, e.g. ``water``; empty:
    gas phase only), ``accuracy`` (tblite's, default 1.0), ``max_iterations`` (SCF, default 250)."""

    name = "xtb"
    properties = {"energy": "Eh", "homo_lumo_gap": "eV", "dipole": "D", "solvation_free_energy": "kcal/mol"}

    def compute(self, job: Job) -> Outcome:
        import tblite

        version = f"tblite {getattr(tblite, '__version__', '') or _version('tblite')}"
        started = time.process_time()

        def failed(message: str) -> Outcome:
            return Outcome(status="failed", message=message, engine_version=version, cpu_seconds=time.process_time() - started)

        if job.method not in METHODS:
            return failed(f"method {job.method!r} is not one tblite runs; methods: {list(METHODS)}")
        try:
            numbers, positions, charge, unpaired = conformer(job.input, job.seed)
        except ValueError as exc:
            return failed(str(exc))
        digest = geometry_hash(numbers, positions)
        solvent = str(job.settings.get("solvent", "water") or "")
        try:
            gas = _singlepoint(job, numbers, positions, charge, unpaired, "")
            values = {"energy": float(gas.get("energy")), "homo_lumo_gap": _gap(gas), "dipole": float(np.linalg.norm(gas.get("dipole"))) * AU_DEBYE}
            if solvent:
                solvated = _singlepoint(job, numbers, positions, charge, unpaired, solvent)
                values["solvation_free_energy"] = (float(solvated.get("energy")) - values["energy"]) * HARTREE_KCAL
        except Exception as exc:  # tblite raises its own RuntimeError (SCF, parameters, solvent names): its message is kept
            return failed(f"tblite: {' '.join(str(exc).split())}")
        if not all(np.isfinite(v) for v in values.values()):
            return failed(f"tblite returned non-finite values {values}")
        units = {k: self.properties[k] for k in values}
        return Outcome(status="done", values=values, units=units, engine_version=version, cpu_seconds=time.process_time() - started,
                       input_hash=digest)


def conformer(smiles: str, seed: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Atomic numbers, positions (Angstrom), total charge and unpaired electrons of `smiles`' seeded conformer
    (hydrogens added). Raises `ValueError` naming what RDKit could not do."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem import AllChem, Descriptors

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"RDKit cannot read the SMILES {smiles!r}")
    mol = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(mol, params) != 0:
        params.useRandomCoords = True  # RDKit's advice for molecules its distance geometry cannot start
        if AllChem.EmbedMolecule(mol, params) != 0:
            raise ValueError(f"RDKit could not embed {smiles!r} in 3-D (ETKDGv3, seed {seed})")
    if AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.MMFFOptimizeMolecule(mol, maxIters=2000)
    elif AllChem.UFFHasAllMoleculeParams(mol):
        AllChem.UFFOptimizeMolecule(mol, maxIters=2000)
    numbers = np.array([a.GetAtomicNum() for a in mol.GetAtoms()])
    positions = mol.GetConformer().GetPositions()
    return numbers, positions, Chem.GetFormalCharge(mol), Descriptors.NumRadicalElectrons(mol)


def geometry_hash(numbers: np.ndarray, positions: np.ndarray) -> str:
    """A digest of the atoms and their coordinates (to 1e-4 Angstrom): the geometry a value was computed on."""
    text = ";".join(f"{z}:{x:.4f},{y:.4f},{w:.4f}" for z, (x, y, w) in zip(numbers, positions))
    return hashlib.sha256(text.encode()).hexdigest()


def _singlepoint(job: Job, numbers, positions, charge: int, unpaired: int, solvent: str):
    from tblite.interface import Calculator

    calc = Calculator(job.method, numbers, positions / BOHR_ANGSTROM, charge=charge, uhf=unpaired)
    calc.set("verbosity", 0)
    calc.set("accuracy", float(job.settings.get("accuracy", 1.0)))
    calc.set("max-iter", int(job.settings.get("max_iterations", 250)))
    if solvent:
        calc.add("alpb-solvation", solvent)
    return calc.singlepoint()


def _gap(result) -> float:
    energies, occupations = np.asarray(result.get("orbital-energies")), np.asarray(result.get("orbital-occupations"))
    if occupations.ndim > 1:  # spin-resolved: an orbital is occupied if either spin is
        occupations = occupations.sum(axis=0)
    occupied, empty = energies[occupations > 0.5], energies[occupations <= 0.5]
    return float((empty.min() - occupied.max()) * HARTREE_EV) if len(occupied) and len(empty) else float("nan")


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)
