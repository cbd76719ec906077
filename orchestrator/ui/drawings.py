"""Molecules drawn for the pages: RDKit's 2-D depiction as SVG, rendered here on the server and sent as a ``data:``
image (the pages' content security policy allows ``img-src data:`` and no inline styles, which RDKit's SVG carries;
inside an ``<img>`` an SVG runs nothing). No external asset, no script.

Example:
    >>> molecule_image("c1ccccc1O").startswith("data:image/svg+xml;base64,")
    True
"""

from __future__ import annotations

import base64
from functools import lru_cache


@lru_cache(maxsize=2048)
def molecule_image(smiles: str, width: int = 220, height: int = 160) -> str:
    """A ``data:`` URI of the molecule's 2-D drawing, or "" when RDKit cannot parse `smiles`."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem.Draw import rdMolDraw2D

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles) if isinstance(smiles, str) and smiles.strip() else None
    if mol is None:
        return ""
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height)
    drawer.drawOptions().clearBackground = False
    rdMolDraw2D.PrepareAndDrawMolecule(drawer, mol)
    drawer.FinishDrawing()
    return "data:image/svg+xml;base64," + base64.b64encode(drawer.GetDrawingText().encode()).decode()
