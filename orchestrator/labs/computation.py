"""The computational lab: a computation engine as the campaign's instrument. An experiment is a computation on the
candidate's molecule; its readings are the engine's properties. Computations are stored once (any campaign sharing the
store reuses them), run in parallel where the campaign says (`flows.computations`), and a computation that fails is an
answer, not a fault: the experiment is stored as failed with the engine's message and the campaign goes on.
"""

from __future__ import annotations

import sys
import time
from typing import Optional, Protocol

from retort.agents.parameters import CompositionParameter, MoleculeParameter
from retort.instruments.computations import Engine, Job
from retort.instruments.errors import InstrumentError
from retort.orchestrator.campaign import Campaign, ComputationLabConfig, FidelityConfig
from retort.orchestrator.errors import CampaignError, LabError
from retort.orchestrator.labs.base import LabRequest, LabResult, LabRun, SimpleLab, Recovery, check_readings
from retort.orchestrator.store.computations import ComputationStore
from retort.orchestrator.store.core import Store

METHODS = {"xtb": "GFN2-xTB", "chgnet": "CHGNet 0.3.0"}


class Fanout(Protocol):
    """Runs the `jobs` the store does not hold on `runner` (``processes`` or ``dask``), storing each outcome as it arrives;
    returns how many it computed. The Prefect fan-out (`flows.computations.run_jobs`) is installed with `use_fanout` when
    the flows are loaded (`retort run`, Prefect deployments)."""

    def __call__(self, jobs: list[Job], engine: Engine, store: ComputationStore, runner: str, workers: int,
                 address: Optional[str]) -> int: ...


_FANOUT: Optional[Fanout] = None


def use_fanout(fanout: Fanout) -> None:
    global _FANOUT
    _FANOUT = fanout


def compute_inline(jobs: list[Job], engine: Engine, store: ComputationStore) -> int:
    """The jobs the store does not hold, computed here one at a time (each stored before the next starts)."""
    todo = list({j.key: j for j in jobs if store.get(j) is None}.values())
    progress = Progress(len(todo), engine.name)
    for job in todo:
        store.compute(job, engine)
        progress.step()
    return len(todo)


class Progress:
    """How a long screen is going: a bar on stderr, redrawn at most every 2 s, and when it ends."""

    def __init__(self, total: int, what: str) -> None:
        self.total, self.what, self.done = total, what, 0
        self.started = self.last = time.monotonic()

    def step(self) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.last >= 2 or self.done == self.total:
            self.last = now
            rate = self.done / max(now - self.started, 1e-9)
            left = (self.total - self.done) / rate if rate > 0 else 0
            bar = "#" * int(30 * self.done / self.total)
            print(f"\r{self.what}: [{bar:<30s}] {self.done}/{self.total} computed, about {left:.0f} s left",
                  end="\n" if self.done == self.total else "", file=sys.stderr, flush=True)


class ComputationLab(SimpleLab):
    """The campaign's lab, or with `fidelity` one of a dry-wet campaign's computations (its reading estimates the objective)."""

    def __init__(self, config: ComputationLabConfig, campaign: Campaign, store: Optional[Store] = None,
                 fidelity: Optional[FidelityConfig] = None) -> None:
        from retort.instruments.computations.engines import engine

        self.config = config
        where = "lab" if fidelity is None else f"fidelity {fidelity.name!r}: lab"
        kind = CompositionParameter if config.engine == "chgnet" else MoleculeParameter
        what = "composition" if config.engine == "chgnet" else "molecule"
        candidates = [p for p in campaign.parameters if isinstance(p, kind)]
        if config.input is not None:
            named = [p for p in campaign.parameters if p.name == config.input]
            if not named or not isinstance(named[0], kind):
                raise CampaignError(f"{where}.input {config.input!r}: name a {what} parameter; the campaign's are {[p.name for p in candidates]}")
            self.parameter = named[0]
        elif len(candidates) != 1:
            raise CampaignError(f"engine {config.engine!r} computes on one {what} parameter; the campaign has {len(candidates)} "
                                f"({[p.name for p in candidates]}): name it with {where}.input")
        else:
            self.parameter = candidates[0]
        try:
            if config.engine == "lookup":
                from retort.instruments.computations.lookup import LookupEngine

                self.engine: Engine = LookupEngine(config.path, config.key, config.outputs)  # the path is the file's, made absolute
            else:
                self.engine = engine(config.engine)
            if config.engine == "chgnet":
                self.prototype = _prototype(config, self.parameter)
        except InstrumentError as exc:
            raise CampaignError(f"{where}: {exc}") from None
        self.method = config.method or METHODS.get(config.engine, "")
        properties = dict(self.engine.properties)
        if config.engine == "xtb" and config.settings.get("solvent", "water") == "":
            properties.pop("solvation_free_energy")  # gas phase only
        self.units = properties
        self.readings = list(properties)
        if fidelity is None:
            check_readings(campaign, self.readings, f"computation ({config.engine})")
        elif fidelity.reading not in self.readings:
            raise CampaignError(f"fidelity {fidelity.name!r}: reading {fidelity.reading!r} is not one engine {config.engine!r} reports; "
                                f"it reports {self.readings}")
        self.computations = ComputationStore(store) if store is not None else None

    def job(self, params: dict) -> Job:
        """The computation an experiment asks for: the engine on the candidate's molecule."""
        from retort.surrogates.featurisers import canonical

        if self.config.engine == "chgnet":
            from retort.instruments.computations.chgnet import structure_json, substituted

            fractions = self.parameter.fractions(params[self.parameter.name])
            structure = substituted(self.prototype, self.config.site, fractions, self.config.seed)
            return Job(engine="chgnet", method=self.method, settings=dict(self.config.settings), seed=self.config.seed,
                       input=structure_json(structure))
        smiles = self.parameter.smiles[self.parameter.labels.index(params[self.parameter.name])]
        if self.config.engine == "lookup":
            return self.engine.job(smiles, self.config.seed)
        return Job(engine=self.engine.name, method=self.method, settings=dict(self.config.settings), seed=self.config.seed,
                   input=canonical(smiles))

    def location(self, seq: int) -> str:
        return f"{self.config.engine} computation"

    def _store(self) -> ComputationStore:
        if self.computations is None:
            raise LabError("a computation lab needs the campaign's store to keep its computations")
        return self.computations

    def execute(self, run: LabRun) -> None:
        """Compute what the store does not hold yet, in parallel, each outcome stored as it arrives."""
        jobs = [self.job(r.params) for r in run.requests]
        if self.config.runner == "inline":
            compute_inline(jobs, self.engine, self._store())
        elif _FANOUT is None:
            raise LabError(f"runner {self.config.runner!r} fans computations out as Prefect tasks, which 'retort run' and Prefect "
                           "deployments load; driving the loop without Prefect, use runner: inline")
        else:
            _FANOUT(jobs, self.engine, self._store(), self.config.runner, self.config.workers, self.config.address)

    def measure(self, run: LabRun) -> list[LabResult]:
        return [self.result(r) for r in run.requests]

    def result(self, request: LabRequest) -> LabResult:
        job = self.job(request.params)
        stored = self._store().get(job)
        if stored is None:
            raise LabError(f"experiment {request.seq}: its {job.engine} computation on {job.input} is not in the store")
        outcome = stored.outcome
        common = dict(seq=request.seq, units=dict(self.units), instrument=f"{job.engine} {job.method}".strip(),
                      location=self.location(request.seq), lab_seconds=outcome.cpu_seconds, computation=stored.id)
        if outcome.status == "failed":
            return LabResult(readings={}, failure=f"{job.engine} failed on {job.input}: {outcome.message}", **common)
        return LabResult(readings={k: outcome.values[k] for k in self.readings}, **common)

    def recover(self, seqs: list[int]) -> Recovery:
        """A stopped run's computations go back to the queue: those stored are answered from the store, the rest computed."""
        return Recovery(not_started=list(seqs))


def _prototype(config: ComputationLabConfig, parameter: CompositionParameter):
    """The prototype cell from the campaign's CIF file, made the supercell asked for; its `site` element must be there."""
    try:
        from pymatgen.core import Structure

        structure = Structure.from_file(config.path)
    except (OSError, ValueError) as exc:
        raise InstrumentError(f"cannot read the prototype {config.path}: {exc}") from None
    if config.site not in {s.specie.symbol for s in structure}:
        raise InstrumentError(f"site {config.site!r}: the prototype {config.path} has no such element; it has "
                              f"{sorted({s.specie.symbol for s in structure})}")
    structure.make_supercell(config.supercell)
    return structure
