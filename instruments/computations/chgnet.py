"""CHGNet (a universal machine-learned interatomic potential, pretrained on the Materials Project's relaxation
trajectories; its weights ship in the wheel) on a crystal structure: the energy per atom, static or after relaxing
atoms and cell. Structures for a composition come from substituting it into a prototype cell (`substituted`).

A job's input is the structure as compact JSON (`structure_json`): the lattice and every site's element and fractional
coordinates, rounded, so the same structure is the same job. Elements CHGNet was not trained on and anything the model
raises are failed outcomes in its own words.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings

import numpy as np

from retort.instruments.computations.jobs import Job, Outcome

MAX_Z = 94  # CHGNet 0.3.0 is trained on elements up to plutonium
METHOD = "CHGNet 0.3.0"


def structure_json(structure) -> str:
    """A pymatgen `Structure` as the job's input: lattice (Angstrom) and sites (element, fractional coordinates)."""
    lattice = np.round(structure.lattice.matrix, 6).tolist()
    sites = [[site.specie.symbol, *np.round(site.frac_coords % 1.0, 6).tolist()] for site in structure]
    return json.dumps({"lattice": lattice, "sites": sites}, separators=(",", ":"))


def from_json(text: str):
    from pymatgen.core import Lattice, Structure

    data = json.loads(text)
    return Structure(Lattice(data["lattice"]), [s[0] for s in data["sites"]], [s[1:] for s in data["sites"]])


def substituted(prototype, site: str, fractions: dict[str, float], seed: int):
    """`prototype` (a `Structure`, made into the supercell wanted) with the sites of element `site` shared out among
    `fractions` (largest remainders, so the counts add up), placed in an order drawn from `seed`, and the lattice scaled
    by the mean atomic radius of what now sits there against `site`'s (Vegard's law, as a starting volume)."""
    from pymatgen.core import Element

    structure = prototype.copy()
    indices = [i for i, s in enumerate(structure) if s.specie.symbol == site]
    if not indices:
        raise ValueError(f"the prototype has no {site} sites to substitute")
    total = sum(fractions.values())
    shares = {e: f / total * len(indices) for e, f in fractions.items() if f > 0}
    counts = {e: int(np.floor(v)) for e, v in shares.items()}
    for e in sorted(shares, key=lambda e: shares[e] - counts[e], reverse=True)[: len(indices) - sum(counts.values())]:
        counts[e] += 1
    order = np.random.default_rng(seed).permutation(indices)
    elements = [e for e in sorted(counts) for _ in range(counts[e])]
    for i, element in zip(order, elements):
        structure.replace(int(i), element)
    radius = sum(float(Element(e).atomic_radius) * n for e, n in counts.items()) / len(indices)
    structure.scale_lattice(structure.volume * (radius / float(Element(site).atomic_radius)) ** 3)
    return structure


class ChgnetEngine:
    """`compute` a `Job` whose input is `structure_json`; settings: ``relax`` (relax atoms and cell first; default
    false) and ``steps`` (the relaxation's at most, default 100)."""

    name = "chgnet"
    properties = {"energy_per_atom": "eV/atom"}

    def __init__(self) -> None:
        self._model = None

    def __getstate__(self) -> dict:  # shipped to workers without the model: each loads its own once
        return {"_model": None}

    def compute(self, job: Job) -> Outcome:
        with warnings.catch_warnings():
            return self._compute(job)

    def _compute(self, job: Job) -> Outcome:
        import chgnet

        version = f"chgnet {chgnet.__version__}"
        started = time.process_time()

        def failed(message: str) -> Outcome:
            return Outcome(status="failed", message=message, engine_version=version, cpu_seconds=time.process_time() - started)

        if job.method != METHOD:
            return failed(f"method {job.method!r} is not one this engine runs; methods: [{METHOD!r}]")
        try:
            structure = from_json(job.input)
        except (ValueError, KeyError, TypeError) as exc:
            return failed(f"not a structure: {exc}")
        beyond = sorted({s.specie.symbol for s in structure if s.specie.Z > MAX_Z})
        if beyond:
            return failed(f"CHGNet was trained on elements up to Pu (Z = {MAX_Z}); this structure has {beyond}")
        digest = hashlib.sha256(job.input.encode()).hexdigest()
        try:
            warnings.simplefilter("ignore")  # chgnet's own notes on tensors it copies; in this call only (see below)
            model = self._load()
            if job.settings.get("relax", False):
                from chgnet.model import StructOptimizer

                result = StructOptimizer(model=model).relax(structure, steps=int(job.settings.get("steps", 100)), verbose=False)
                energy = float(result["trajectory"].energies[-1]) / len(structure)
            else:
                energy = float(model.predict_structure(structure)["e"])
        except Exception as exc:  # the model's own error (a graph it cannot build, an optimiser failure) is the outcome
            return failed(f"chgnet: {type(exc).__name__}: {exc}")
        return Outcome(status="done", values={"energy_per_atom": energy}, units=dict(self.properties), engine_version=version,
                       cpu_seconds=time.process_time() - started, input_hash=digest)

    def _load(self):
        if self._model is None:
            from chgnet.model import CHGNet

            self._model = CHGNet.load(verbose=False)
        return self._model
