"""`lookup`: a costly calculation whose values are already known (a group's earlier results, a dataset column), read from
a CSV file and answered like any computation: stored once with provenance (the file's digest is the method), failing
in its own words for a molecule the file does not hold.

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "gaff.csv")
    >>> _ = open(path, "w").write("smiles,dG\\nCCO,-4.9\\nc1ccccc1,-1.0\\n")
    >>> engine = LookupEngine(path, key="smiles", columns=["dG"])
    >>> engine.compute(engine.job("OCC")).values
    {'dG': -4.9}
    >>> engine.compute(engine.job("CCCC")).message
    "no row of gaff.csv holds CCCC (column 'smiles')"
"""

from __future__ import annotations

import csv
import hashlib
import math
import time
from pathlib import Path

from retort.instruments.computations.jobs import Job, Outcome
from retort.instruments.errors import InstrumentError


class LookupEngine:
    """Values of `columns` from the CSV file `path`, by the molecule in its column `key` (SMILES compared by structure;
    other text exactly)."""

    name = "lookup"

    def __init__(self, path: str | Path, key: str, columns: list[str]) -> None:
        self.path = Path(path)
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise InstrumentError(f"lookup: cannot read {self.path}: {exc.strerror or exc}") from None
        self.digest = hashlib.sha256(data).hexdigest()
        rows = list(csv.DictReader(data.decode("utf-8-sig").splitlines()))
        header = list(rows[0]) if rows else []
        missing = [c for c in [key, *columns] if c not in header]
        if missing:
            raise InstrumentError(f"lookup: {self.path} has no column(s) {missing}; its columns: {header}")
        self.key, self.columns = key, list(columns)
        self.properties = {c: "" for c in columns}
        self.rows: dict[str, dict[str, str]] = {}
        for row in rows:
            self.rows.setdefault(_structure(row[key]), row)

    def job(self, molecule: str, seed: int = 0) -> Job:
        """The job asking this file for `molecule` (the file's digest stands for the method: another file is another job)."""
        return Job(engine=self.name, method=f"file sha256:{self.digest[:16]}", settings={"columns": ",".join(self.columns)},
                   seed=seed, input=_structure(molecule))

    def compute(self, job: Job) -> Outcome:
        started = time.process_time()
        row = self.rows.get(_structure(job.input))
        version = f"{self.path.name} sha256:{self.digest[:16]}"
        if row is None:
            return Outcome(status="failed", message=f"no row of {self.path.name} holds {job.input} (column {self.key!r})",
                           engine_version=version, cpu_seconds=time.process_time() - started)
        values, bad = {}, []
        for c in self.columns:
            try:
                values[c] = float(row[c])
            except (TypeError, ValueError):
                bad.append(c)
            else:
                if not math.isfinite(values[c]):
                    bad.append(c)
        if bad:
            return Outcome(status="failed", message=f"{self.path.name}: {job.input} has no number in column(s) {bad}",
                           engine_version=version, cpu_seconds=time.process_time() - started)
        return Outcome(status="done", values=values, units=dict(self.properties), engine_version=version,
                       cpu_seconds=time.process_time() - started)


def _structure(text: str) -> str:
    """A SMILES as its canonical form (the same molecule written two ways is one key); other text as it is."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(text.strip()) if text.strip() else None
    return Chem.MolToSmiles(mol) if mol is not None else text.strip()
