"""Derive the packaged HTE grids from the datasets in ../shared/datasets (run from the repository root).

    .venv/bin/python simulators/data/hte/derive.py ../shared/datasets

Each output keeps only what a lookup lab needs: one SMILES column per reaction component, then `yield`
(rows in the source's order, values as published). Sources are CC BY 4.0 (Doyle lab's ochem-data);
see README.md here for what was taken from where.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def write(name: str, columns: list[str], rows: list[list[str]]) -> None:
    with open(HERE / f"{name}.csv", "w", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(columns + ["yield"])
        out.writerows(rows)
    print(f"{name}.csv: {len(rows)} rows")


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def main(shared: Path) -> None:
    rows = read(shared / "doyle_deoxyfluorination" / "deoxyfluorination_nielsen2018.csv")
    cols = ["substrate_smiles", "fluoride_smiles", "base_smiles"]
    write("deoxyfluorination_nielsen2018", cols, [[r[c] for c in cols] + [r["yield"]] for r in rows])

    rows = read(shared / "doyle_amide_coupling" / "amide_coupling_wang2024.csv")
    cols = ["nucleophile_smiles", "activator_smiles", "base_smiles", "solvent_smiles"]
    write("amide_coupling_wang2024", cols, [[r[c] for c in cols] + [r["yield"]] for r in rows])

    folder = shared / "bms_ni_borylation"
    smiles = {(r["role"], r["key"]): r["smiles"] for r in read(folder / "component_smiles_from_inchi.csv")}
    rows = read(folder / "ni_borylation_stevens2022_23ligands.csv")
    keys = {"electrophile": "electrophile_id", "ligand": "ligand_name", "solvent": "solvent_name"}
    write("ni_borylation_stevens2022", [f"{role}_smiles" for role in keys],
          [[smiles[(role, r[key])] for role, key in keys.items()] + [r["yield"]] for r in rows])

    rows = read(shared / "doyle_aryl_scope_ligand" / "aryl_scope_ligand.csv")
    cols = ["ligand_smiles", "electrophile_smiles", "nucleophile_smiles"]
    write("aryl_scope_ligand_wang2024", cols, [[r[c] for c in cols] + [r["yield"]] for r in rows])


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / ".." / "shared" / "datasets")
