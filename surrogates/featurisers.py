"""Featurisers: molecules (SMILES) to numbers with RDKit.

Each returns one row per input, as a float64 NumPy array. Invalid SMILES raise
`FeaturisationError` naming the offending string.

Example:
    >>> morgan(["CCO", "c1ccccc1"], n_bits=64).shape
    (2, 64)
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from retort.surrogates.errors import SurrogateError


class FeaturisationError(ValueError, SurrogateError):
    """A molecule or composition that cannot be featurised."""


def parse_smiles(smiles: str):
    """An RDKit molecule, or `FeaturisationError` saying which SMILES is invalid."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles) if isinstance(smiles, str) and smiles.strip() else None
    if mol is None:
        raise FeaturisationError(f"invalid SMILES {smiles!r}: RDKit cannot parse it")
    return mol


def canonical(smiles: str) -> str:
    from rdkit import Chem

    return Chem.MolToSmiles(parse_smiles(smiles))


def morgan(smiles: list[str], radius: int = 2, n_bits: int = 2048, counts: bool = False) -> np.ndarray:
    """Morgan (ECFP-like) fingerprints: bits, or counts with ``counts=True``."""
    from rdkit.Chem import rdFingerprintGenerator

    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    rows = []
    for s in smiles:
        mol = parse_smiles(s)
        fp = generator.GetCountFingerprintAsNumPy(mol) if counts else generator.GetFingerprintAsNumPy(mol)
        rows.append(np.asarray(fp, dtype=np.float64))
    return np.vstack(rows) if rows else np.zeros((0, n_bits))


def rdkit_descriptors(smiles: list[str]) -> tuple[np.ndarray, list[str]]:
    """All of RDKit's 2-D descriptors (about 200), unscaled, with their names."""
    from rdkit.Chem import Descriptors

    mols = [parse_smiles(s) for s in smiles]
    names = [name for name, _ in Descriptors._descList]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = np.array([[float(fn(m)) for _, fn in Descriptors._descList] for m in mols], dtype=np.float64)
    return table, names


def mordred_descriptors(smiles: list[str]) -> tuple[np.ndarray, list[str]]:
    """Mordred's 2-D descriptors (about 1,600; `mordredcommunity`), unscaled, with their names. A descriptor
    Mordred cannot compute for a molecule is NaN (`reduce_descriptors` drops such columns)."""
    calculator = _mordred_calculator()
    mols = [parse_smiles(s) for s in smiles]
    names = [str(d) for d in calculator.descriptors]
    rows = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for mol in mols:
            rows.append([_number(v) for v in calculator(mol)])
    return np.array(rows, dtype=np.float64).reshape(len(mols), len(names)), names


@functools.lru_cache(maxsize=1)
def _mordred_calculator():
    from mordred import Calculator, descriptors

    return Calculator(descriptors, ignore_3D=True)


def _number(value) -> float:
    """A Mordred result as a float: NaN for its missing-value and error objects (and for booleans)."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_)):
        return float(value)
    return float("nan")


def reduce_descriptors(table: np.ndarray, names: list[str], max_correlation: float = 0.95, min_std: float = 1e-6) -> tuple[np.ndarray, list[str]]:
    """Standardise columns, dropping non-finite, near-constant and highly correlated ones.

    A column is dropped if its absolute Pearson correlation with an earlier kept column exceeds
    `max_correlation`. The result has zero mean and unit variance per column.
    """
    finite = np.isfinite(table).all(axis=0)
    std = np.where(finite, np.nan_to_num(table).std(axis=0), 0.0)
    keep = [j for j in range(table.shape[1]) if finite[j] and std[j] > min_std]
    Z = (table[:, keep] - table[:, keep].mean(axis=0)) / std[keep]
    chosen: list[int] = []
    for j in range(Z.shape[1]):
        if all(abs(float(np.mean(Z[:, j] * Z[:, k]))) <= max_correlation for k in chosen):
            chosen.append(j)
    return Z[:, chosen], [names[keep[j]] for j in chosen]


def principal_components(Z: np.ndarray, variance: float = 0.99) -> np.ndarray:
    """Project standardised columns onto the principal components that explain `variance` of the
    total. With n molecules there are at most n - 1 of them, so distances between the molecules
    are kept while the model sees far fewer columns."""
    if Z.shape[1] == 0:
        return Z
    U, S, _ = np.linalg.svd(Z - Z.mean(axis=0), full_matrices=False)
    explained = np.cumsum(S**2) / max(float(np.sum(S**2)), 1e-300)
    k = int(np.searchsorted(explained, variance) + 1)
    return U[:, :k] * S[:k]


ELEMENT_PROPERTIES = ("X", "atomic_radius", "atomic_mass", "row", "group", "mendeleev_no")


def parse_composition(formula: str) -> dict[str, float]:
    """Atomic fractions of a formula (pymatgen `Composition`), or `FeaturisationError` naming it."""
    from pymatgen.core import Composition, Element

    if not isinstance(formula, str):
        raise FeaturisationError(f"invalid composition {formula!r}: a composition is a formula string such as 'Fe2O3'")
    try:
        composition = Composition(formula)
    except Exception as exc:  # pymatgen raises several types for unparsable formulas
        raise FeaturisationError(f"invalid composition {formula!r}: {exc}") from None
    symbols = [str(el) for el in composition.elements]
    bad = [s for s in symbols if not Element.is_valid_symbol(s)]
    if bad or not symbols:
        raise FeaturisationError(f"invalid composition {formula!r}: unknown elements {bad}")
    amounts = composition.fractional_composition.get_el_amt_dict()
    return {s: float(amounts[s]) for s in symbols}


def unknown_elements(symbols: list[str]) -> list[str]:
    """The symbols that name no element (pymatgen's table), in order: ``unknown_elements(["Fe", "Xx"]) == ["Xx"]``."""
    from pymatgen.core import Element

    return [s for s in symbols if not (isinstance(s, str) and Element.is_valid_symbol(s))]


def element_table(symbols: list[str]) -> np.ndarray:
    """``len(symbols) x len(ELEMENT_PROPERTIES)`` element data from pymatgen (Pauling
    electronegativity, atomic radius in angstrom, atomic mass, period, group, Mendeleev number)."""
    from pymatgen.core import Element

    rows = []
    for s in symbols:
        row = []
        for prop in ELEMENT_PROPERTIES:
            v = getattr(Element(s), prop) if Element.is_valid_symbol(s) else None
            if v is None:
                raise FeaturisationError(f"element {s!r}: pymatgen has no {prop} for it")
            row.append(float(v))
        rows.append(row)
    return np.array(rows, dtype=np.float64).reshape(len(symbols), len(ELEMENT_PROPERTIES))


def composition_descriptors(formulas: list[str]) -> tuple[np.ndarray, list[str]]:
    """Composition descriptors from pymatgen's element data (Magpie-style statistics).

    For each of `ELEMENT_PROPERTIES`: the atomic-fraction-weighted mean and standard deviation,
    and the minimum and maximum over the elements present.
    """
    names = [f"{stat}_{prop}" for prop in ELEMENT_PROPERTIES for stat in ("mean", "std", "min", "max")]
    rows = []
    for formula in formulas:
        fractions = parse_composition(formula)
        try:
            table = element_table(list(fractions))
        except FeaturisationError as exc:
            raise FeaturisationError(f"invalid composition {formula!r}: {exc}") from None
        w = np.array(list(fractions.values()))
        mean = w @ table
        std = np.sqrt(w @ (table - mean) ** 2)
        rows.append(np.stack([mean, std, table.min(axis=0), table.max(axis=0)], axis=1).reshape(-1).tolist())
    return np.array(rows, dtype=np.float64).reshape(len(formulas), len(names)), names


class FittedDescriptors:
    """RDKit descriptors of any molecule, standardised, pruned and projected as fitted on a reference set (a generating
    parameter's listed molecules): the same columns for molecules the reference never held, so a model fitted on one
    set of molecules scores another. A descriptor a new molecule lacks (non-finite) is set to the reference mean.

    Example:
        >>> fitted = FittedDescriptors(("CCO", "CCCO", "c1ccccc1", "CC(=O)O"))
        >>> fitted(["CCCCO"]).shape[1] == fitted(["CCO"]).shape[1]
        True
    """

    def __init__(self, reference: tuple[str, ...], max_correlation: float = 0.95, variance: float = 0.99) -> None:
        raw, _ = rdkit_descriptors(list(reference))
        finite = np.isfinite(raw).all(axis=0)
        std = np.where(finite, np.nan_to_num(raw).std(axis=0), 0.0)
        self.keep = np.array([j for j in range(raw.shape[1]) if finite[j] and std[j] > 1e-6], dtype=np.int64)
        self.mean, self.std = raw[:, self.keep].mean(axis=0), std[self.keep]
        Z = (raw[:, self.keep] - self.mean) / self.std
        chosen: list[int] = []
        for j in range(Z.shape[1]):
            if all(abs(float(np.mean(Z[:, j] * Z[:, k]))) <= max_correlation for k in chosen):
                chosen.append(j)
        self.chosen = np.array(chosen, dtype=np.int64)
        Z = Z[:, self.chosen]
        self.centre = Z.mean(axis=0)
        _, S, Vt = np.linalg.svd(Z - self.centre, full_matrices=False)
        explained = np.cumsum(S**2) / max(float(np.sum(S**2)), 1e-300)
        self.axes = Vt[: int(np.searchsorted(explained, variance) + 1)].T

    def __call__(self, smiles: list[str]) -> np.ndarray:
        raw, _ = rdkit_descriptors(smiles)
        X = raw[:, self.keep]
        X = np.where(np.isfinite(X), X, self.mean)
        Z = ((X - self.mean) / self.std)[:, self.chosen]
        return (Z - self.centre) @ self.axes
