"""Computations as instruments (the dry lab): an engine takes a `Job` (one molecule or structure, a method, its settings
and a seed) and answers an `Outcome` (values with units, or the engine's own failure message) with its provenance
(engine and version, CPU seconds, a digest of the input geometry). Engines are small and swappable:

- `xtb`: GFN2-xTB through tblite on a seeded RDKit conformer (`xtb.XtbEngine`);
- `lookup`: values already computed, read from a CSV file by the molecule's structure (`lookup.LookupEngine`).

An engine whose package is not installed is named with the command that installs it (`engine`).
"""

from retort.instruments.computations.engines import engine
from retort.instruments.computations.jobs import Engine, EngineMissing, Job, Outcome

__all__ = ["Engine", "EngineMissing", "Job", "Outcome", "engine"]
