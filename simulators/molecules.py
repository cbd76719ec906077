"""Molecular objectives from GuacaMol (Brown et al., J. Chem. Inf. Model. 2019), written from the paper's and its
reference code's definitions with RDKit (the `guacamol` package imports `scipy.histogram`, gone from today's SciPy):
the "lab" of a generative benchmark, where the best molecule is not on anyone's list.

Each objective takes a SMILES and returns a score in [0, 1] (1: the target); an unparsable SMILES raises
`SimulationInputError`. Similarities are Tanimoto on RDKit's unhashed count fingerprints, as GuacaMol's
(ECFP4/ECFP6: Morgan radius 2/3; FCFP4: Morgan radius 2 on feature invariants; AP: atom pairs up to distance 10).

Example:
    >>> round(OBJECTIVES["celecoxib_rediscovery"](CELECOXIB), 3)
    1.0
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Callable

from retort.simulators.errors import SimulationInputError

CELECOXIB = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"
TROGLITAZONE = "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O"
OSIMERTINIB = "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34"
FEXOFENADINE = "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4"
CAMPHOR, MENTHOL = "CC1(C)C2CCC1(C)C(=O)C2", "CC(C)C1CCC(C)CC1O"


def _mol(smiles: str):
    from retort.surrogates.featurisers import FeaturisationError, parse_smiles

    try:
        return parse_smiles(smiles)
    except FeaturisationError as exc:
        raise SimulationInputError(str(exc)) from None


@lru_cache(maxsize=8)
def _generator(kind: str):
    from rdkit.Chem import rdFingerprintGenerator as g

    if kind == "AP":
        return g.GetAtomPairGenerator(maxDistance=10)
    radius = int(kind[-1]) // 2
    if kind.startswith("FCFP"):
        return g.GetMorganGenerator(radius=radius, atomInvariantsGenerator=g.GetMorganFeatureAtomInvGen())
    return g.GetMorganGenerator(radius=radius)


def fingerprint(mol, kind: str):
    return _generator(kind).GetSparseCountFingerprint(mol)


def similarity(target: str, kind: str) -> Callable:
    """Tanimoto similarity to `target` on the `kind` count fingerprint, as a function of an RDKit molecule."""
    from rdkit import DataStructs

    reference = fingerprint(_mol(target), kind)
    return lambda mol: DataStructs.TanimotoSimilarity(fingerprint(mol, kind), reference)


def gaussian(mu: float, sigma: float) -> Callable[[float], float]:
    return lambda x: math.exp(-0.5 * ((x - mu) / sigma) ** 2)


def at_most(mu: float, sigma: float) -> Callable[[float], float]:
    """1 up to `mu`, a half Gaussian above (GuacaMol's MinGaussianModifier)."""
    return lambda x: gaussian(mu, sigma)(max(x, mu))


def at_least(mu: float, sigma: float) -> Callable[[float], float]:
    """1 from `mu` on, a half Gaussian below (MaxGaussianModifier)."""
    return lambda x: gaussian(mu, sigma)(min(x, mu))


def clipped(upper: float) -> Callable[[float], float]:
    """0 at 0 rising linearly to 1 at `upper` (ClippedScoreModifier)."""
    return lambda x: min(max(x / upper, 0.0), 1.0)


def geometric_mean(values: list[float]) -> float:
    return math.prod(values) ** (1.0 / len(values)) if all(v > 0 for v in values) else 0.0


def _logp(mol) -> float:
    from rdkit.Chem import Crippen

    return Crippen.MolLogP(mol)


def _tpsa(mol) -> float:
    from rdkit.Chem import Descriptors

    return Descriptors.TPSA(mol)


def rediscovery(target: str) -> Callable[[str], float]:
    score = similarity(target, "ECFP4")
    return lambda smiles: score(_mol(smiles))


def median(first: str, second: str) -> Callable[[str], float]:
    a, b = similarity(first, "ECFP4"), similarity(second, "ECFP4")
    return lambda smiles: geometric_mean([a(m := _mol(smiles)), b(m)])


def isomer(formula: str) -> Callable[[str], float]:
    """Closeness to a molecular formula: per element a Gaussian (sigma 1) on its count, and one (sigma 2) on the total
    number of atoms, hydrogens included; their geometric mean."""
    counts = {e: int(n or 1) for e, n in re.findall(r"([A-Z][a-z]?)(\d*)", formula)}
    total = sum(counts.values())

    def score(smiles: str) -> float:
        from rdkit import Chem

        mol = Chem.AddHs(_mol(smiles))
        symbols = [a.GetSymbol() for a in mol.GetAtoms()]
        parts = [gaussian(n, 1.0)(symbols.count(e)) for e, n in counts.items()] + [gaussian(total, 2.0)(len(symbols))]
        return geometric_mean(parts)

    return score


def osimertinib_mpo() -> Callable[[str], float]:
    close, not_too_close = similarity(OSIMERTINIB, "FCFP4"), similarity(OSIMERTINIB, "ECFP6")

    def score(smiles: str) -> float:
        mol = _mol(smiles)
        return geometric_mean([clipped(0.8)(close(mol)), at_most(0.85, 0.1)(not_too_close(mol)),
                               at_least(100, 10)(_tpsa(mol)), at_most(1, 1)(_logp(mol))])

    return score


def fexofenadine_mpo() -> Callable[[str], float]:
    close = similarity(FEXOFENADINE, "AP")

    def score(smiles: str) -> float:
        mol = _mol(smiles)
        return geometric_mean([clipped(0.8)(close(mol)), at_least(90, 10)(_tpsa(mol)), at_most(4, 1)(_logp(mol))])

    return score


OBJECTIVES: dict[str, Callable[[str], float]] = {}


def _register() -> None:
    OBJECTIVES.update({
        "celecoxib_rediscovery": rediscovery(CELECOXIB),
        "troglitazone_rediscovery": rediscovery(TROGLITAZONE),
        "median_camphor_menthol": median(CAMPHOR, MENTHOL),
        "isomer_c9h10n2o2pf2cl": isomer("C9H10N2O2PF2Cl"),
        "osimertinib_mpo": osimertinib_mpo(),
        "fexofenadine_mpo": fexofenadine_mpo(),
    })


_register()
