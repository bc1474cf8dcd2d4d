"""Inputs: numpy without a copy, DataFrames with their column names, Arrow, sparse refused;
the embedded datasets."""

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import scipy.sparse as sp

from unlearn import CertifiedLogisticRegression, CertifiedRidge, datasets


def test_float64_c_contiguous_input_reaches_the_extension_unconverted(breast_cancer):
    X, y, _ = breast_cancer
    est = CertifiedLogisticRegression(sigma=0).fit(X, y)
    assert est._validate(X, reset=False) is X
    fortran = np.asfortranarray(X)
    converted = est._validate(fortran, reset=False)
    assert converted is not fortran and converted.flags.c_contiguous
    np.testing.assert_array_equal(est.predict(fortran), est.predict(X))


@pytest.mark.parametrize("frame", ["pandas", "polars", "pyarrow"])
def test_dataframes_give_feature_names(diabetes, frame):
    X, y, ids = diabetes
    names = [f"f{j}" for j in range(X.shape[1])]
    table = {
        "pandas": lambda: pd.DataFrame(X, columns=names),
        "polars": lambda: pl.DataFrame(X, schema=names),
        "pyarrow": lambda: pa.table({n: X[:, j] for j, n in enumerate(names)}),
    }[frame]()
    est = CertifiedRidge(sigma=0).fit(table, y, ids=ids)
    assert list(est.feature_names_in_) == names
    reference = CertifiedRidge(sigma=0).fit(X, y, ids=ids)
    np.testing.assert_array_equal(est.coef_, reference.coef_)
    np.testing.assert_array_equal(est.predict(table), reference.predict(X))


def test_sparse_input_is_refused_with_a_clear_message(breast_cancer):
    X, y, _ = breast_cancer
    for sparse in [sp.csr_matrix(X), sp.csr_array(X)]:
        with pytest.raises(TypeError, match=r"sparse.*toarray"):
            CertifiedLogisticRegression().fit(sparse, y)
    est = CertifiedLogisticRegression(sigma=0).fit(X, y)
    with pytest.raises(TypeError, match="sparse"):
        est.predict(sp.csr_matrix(X))


def test_embedded_datasets():
    digits = datasets.load_digits()
    assert digits.data.shape == (1797, 64) and len(digits.ids) == 1797
    assert sorted(set(digits.target.tolist())) == list(range(10))
    assert np.all(np.linalg.norm(digits.data, axis=1) <= 1.0)
    raw = datasets.load_digits(scaled=False)
    np.testing.assert_array_equal(raw.data * raw.scale, digits.data)
    X, y, ids = datasets.load_breast_cancer(return_X_y=True)
    assert X.shape == (569, 30) and set(y) == {"benign", "malignant"}
    X, y, ids = datasets.load_diabetes(return_X_y=True)
    assert X.shape == (442, 10) and y.dtype == np.float64 and ids[0] != ids[1]


def test_synthetic_data_is_the_clis():
    X, y, ids = datasets.make_synthetic(50, 7, seed=3, return_X_y=True)
    assert X.shape == (50, 7) and ids[:2] == ["s0", "s1"]
    assert set(y.tolist()) <= {-1, 1}
    assert np.all(np.linalg.norm(X, axis=1) <= 1.0)
    again, _, _ = datasets.make_synthetic(50, 7, seed=3, return_X_y=True)
    np.testing.assert_array_equal(X, again)
    _, values, _ = datasets.make_synthetic(50, 7, seed=3, regression=True, return_X_y=True)
    assert values.dtype == np.float64 and len(set(values.tolist())) == 50


def test_non_finite_values_are_refused_with_their_position(breast_cancer):
    X, y, _ = breast_cancer
    bad = X.copy()
    bad[7, 3] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinity \(row 7, column 3\)"):
        CertifiedLogisticRegression().fit(bad, y)
    bad[7, 3] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        CertifiedLogisticRegression(clip_norm=1.0).fit(bad, y)
