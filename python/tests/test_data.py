"""Inputs: numpy without a copy, DataFrames and tables through the Arrow C stream interface
with their column names, sparse refused; the embedded datasets."""

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
import scipy.sparse as sp

from unlearn import CertifiedLogisticRegression, CertifiedRidge, _unlearn, datasets


def test_float64_c_contiguous_input_reaches_the_extension_unconverted(breast_cancer):
    X, y, _ = breast_cancer
    est = CertifiedLogisticRegression(sigma=0).fit(X, y)
    assert est._rows(X, reset=False) is X
    fortran = np.asfortranarray(X)
    converted = est._rows(fortran, reset=False)
    assert converted is not fortran and converted.flags.c_contiguous
    np.testing.assert_array_equal(est.predict(fortran), est.predict(X))


FRAMES = {
    "pandas": lambda X, names: pd.DataFrame(X, columns=names),
    "polars": lambda X, names: pl.DataFrame(X, schema=names),
    "pyarrow": lambda X, names: pa.table({n: X[:, j] for j, n in enumerate(names)}),
}


@pytest.mark.parametrize("frame", FRAMES)
def test_tables_go_through_arrow_and_give_the_numpy_bits(diabetes, breast_cancer, frame):
    """Every table is read by the extension's Arrow reader (a Table, not a numpy copy), its
    column names become feature_names_in_, and the model has the numpy path's bits: the
    same values reach the same solver in the same order."""
    for est_class, (X, y, ids) in [
        (CertifiedRidge, diabetes),
        (CertifiedLogisticRegression, breast_cancer),
    ]:
        names = [f"f{j}" for j in range(X.shape[1])]
        table = FRAMES[frame](X, names)
        est = est_class(sigma=0).fit(table, y, ids=ids)
        assert isinstance(est._rows(table, reset=False), _unlearn.Table)
        assert list(est.feature_names_in_) == names
        reference = est_class(sigma=0).fit(X, y, ids=ids)
        assert est.coef_.tobytes() == reference.coef_.tobytes()
        np.testing.assert_array_equal(est.predict(table), reference.predict(X))
        with pytest.warns(UserWarning, match="X does not have valid feature names"):
            np.testing.assert_array_equal(est.predict(X), reference.predict(X))


def test_a_pandas_index_is_not_a_feature(diabetes):
    X, y, _ = diabetes
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])]).iloc[::2]
    est = CertifiedRidge(sigma=0).fit(frame, y[::2])
    assert est.n_features_in_ == X.shape[1]
    reference = CertifiedRidge(sigma=0).fit(X[::2], y[::2])
    assert est.coef_.tobytes() == reference.coef_.tobytes()


@pytest.mark.parametrize("frame", FRAMES)
def test_a_text_column_is_refused_naming_it(diabetes, frame):
    X, y, _ = diabetes
    names = [f"f{j}" for j in range(X.shape[1])]
    table = FRAMES[frame](X, names)
    city = ["Lyon", "Oslo"] * (len(y) // 2)
    if frame == "pandas":
        table["city"] = city
    elif frame == "polars":
        table = table.with_columns(pl.Series("city", city))
    else:
        table = table.append_column("city", pa.array(city))
    with pytest.raises(ValueError, match=r'column "city" has type .*; a feature column holds'):
        CertifiedRidge(sigma=0).fit(table, y)


@pytest.mark.parametrize("frame", FRAMES)
def test_a_missing_value_is_refused_naming_its_column_and_row(diabetes, frame):
    """pandas' NaN, polars' and pyarrow's null: all missing values, all named by row."""
    X, y, _ = diabetes
    names = [f"f{j}" for j in range(X.shape[1])]
    if frame == "pandas":
        table = pd.DataFrame(X, columns=names)
        table.iloc[5, 2] = np.nan
    else:
        columns = {n: X[:, j].tolist() for j, n in enumerate(names)}
        columns["f2"][5] = None
        table = pl.DataFrame(columns) if frame == "polars" else pa.table(columns)
    with pytest.raises(ValueError, match=r'X: row 5 \(counting from 0\): column "f2": missing'):
        CertifiedRidge(sigma=0).fit(table, y)
    fitted = CertifiedRidge(sigma=0).fit(X, y)
    with (
        pytest.warns(UserWarning, match="X has feature names"),
        pytest.raises(ValueError, match=r'row 5 .*column "f2"'),
    ):
        fitted.predict(table)


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
