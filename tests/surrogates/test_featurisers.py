import numpy as np
import pytest
import torch

from retort.surrogates.featurisers import (
    FeaturisationError,
    canonical,
    morgan,
    principal_components,
    rdkit_descriptors,
    reduce_descriptors,
)
from retort.surrogates.kernels import TanimotoKernel


def test_morgan_bits_and_counts_on_known_molecules():
    bits = morgan(["CCO", "OCC", "c1ccccc1"], n_bits=1024)
    assert bits.shape == (3, 1024) and set(np.unique(bits)) <= {0.0, 1.0}
    assert (bits[0] == bits[1]).all()  # the same molecule written two ways
    counts = morgan(["CCCCCCCC"], n_bits=1024, counts=True)
    assert counts.max() > 1  # repeated CH2 environments are counted
    assert (morgan(["CCCCCCCC"], n_bits=1024) == (counts > 0)).all()


def test_invalid_smiles_is_named():
    with pytest.raises(FeaturisationError, match=r"invalid SMILES 'C1CC\(': RDKit cannot parse it"):
        morgan(["CCO", "C1CC("])
    assert canonical("OCC") == canonical("CCO")


def test_descriptors_known_values_and_reduction():
    table, names = rdkit_descriptors(["O", "CCO", "c1ccccc1", "CC(=O)O", "CCN"])
    assert table[0, names.index("MolWt")] == pytest.approx(18.015, abs=1e-3)
    with_copies = np.hstack([table, table[:, :1] * 2.0, np.ones((5, 1))])
    Z, kept = reduce_descriptors(with_copies, names + ["copy", "constant"])
    assert "constant" not in kept and "copy" not in kept
    assert np.allclose(Z.mean(axis=0), 0) and np.allclose(Z.std(axis=0), 1)
    P = principal_components(Z)
    assert P.shape[1] <= 4  # at most n - 1 components for n molecules
    d = lambda A: np.linalg.norm(A[:, None] - A[None], axis=-1)  # noqa: E731
    assert np.allclose(d(P), d(Z), atol=0.2 * d(Z).max())


def test_tanimoto_kernel_properties():
    X = torch.from_numpy(morgan(["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CCCCCCCC", "c1ccncc1"], n_bits=512, counts=True))
    K = TanimotoKernel(chunk=4)(X).to_dense().detach()
    assert torch.allclose(K, K.T)
    assert torch.allclose(torch.diagonal(K), torch.ones(6, dtype=K.dtype))
    assert torch.linalg.eigvalsh(K).min() > -1e-10
    brute = torch.minimum(X[:, None], X[None]).sum(-1) / torch.maximum(X[:, None], X[None]).sum(-1)
    assert torch.allclose(K, brute)
    assert torch.allclose(TanimotoKernel(chunk=1)(X[:2], X).to_dense(), brute[:2])
    assert torch.allclose(TanimotoKernel()(X, diag=True), torch.ones(6, dtype=X.dtype))


def test_composition_descriptors_on_known_compositions():
    from retort.surrogates.featurisers import composition_descriptors

    table, names = composition_descriptors(["Fe2O3", "Fe", "AlCoCrCuFeNi"])
    row = dict(zip(names, table[0]))
    assert row["mean_X"] == pytest.approx((2 * 1.83 + 3 * 3.44) / 5)
    assert row["min_X"] == pytest.approx(1.83) and row["max_X"] == pytest.approx(3.44)
    assert row["mean_atomic_mass"] == pytest.approx((2 * 55.845 + 3 * 15.999) / 5, abs=1e-2)
    pure = dict(zip(names, table[1]))
    assert pure["std_X"] == 0 and pure["mean_row"] == 4
    assert dict(zip(names, table[2]))["mean_row"] == pytest.approx((3 + 5 * 4) / 6)
    with pytest.raises(FeaturisationError, match="invalid composition 'Xx2O'"):
        composition_descriptors(["Xx2O"])


def test_composition_features_transform_matches_the_descriptors_and_has_gradients():
    from retort.surrogates.featurisers import ELEMENT_PROPERTIES, composition_descriptors, element_table
    from retort.surrogates.transforms import CompositionFeatures

    elements = ["Al", "Co", "Fe", "Ni"]
    transform = CompositionFeatures([([1, 2, 3, 4], torch.from_numpy(element_table(elements)))])  # column 0: not a fraction
    X = torch.tensor([[700.0, 0.25, 0.25, 0.25, 0.25], [20.0, 0.0, 0.5, 0.0, 0.5]], dtype=torch.double, requires_grad=True)
    out = transform.transform(X)
    assert out.shape == (2, 5 + 2 * len(ELEMENT_PROPERTIES)) and torch.equal(out[:, :5], X)
    table, names = composition_descriptors(["AlCoFeNi", "CoNi"])
    p = len(ELEMENT_PROPERTIES)
    for k, prop in enumerate(ELEMENT_PROPERTIES):
        assert torch.allclose(out[:, 5 + k], torch.from_numpy(table[:, names.index(f"mean_{prop}")]))
        assert torch.allclose(out[:, 5 + p + k], torch.from_numpy(table[:, names.index(f"std_{prop}")]), atol=1e-5)
    out[:, 5:].sum().backward()
    assert torch.isfinite(X.grad).all() and (X.grad[:, 1:] != 0).any() and (X.grad[:, 0] == 0).all()
    bounds = transform.feature_bounds()
    assert bounds.shape == (2, 2 * p) and (out[:, 5:] >= bounds[0] - 1e-9).all() and (out[:, 5:] <= bounds[1] + 1e-9).all()
