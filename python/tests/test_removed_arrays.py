"""External rows given as numpy arrays (``est.remove(ids, X=..., y=...)``): the same
removal, bit for bit, as the table path and as the in-process removal of the same rows, and
every refusal of rows that are not exactly the removed ones (issue 14, review 4's B4).

The copies compared with a store-backed estimator are loaded with ``record=False``: two
store-backed models of one store cannot both hold removals they have not saved (the first
holds the store's writer lock until it saves)."""

import dataclasses

import numpy as np
import pyarrow as pa
import pytest

import unlearn
from unlearn import CertifiedLogisticRegression, CertifiedRidge, _unlearn


def table(X, y, ids, rows, owners=None):
    """The rows at positions ``rows`` as a table (feature columns x0.., ``y``, ``id``, and
    ``owner`` when ``owners`` are given)."""
    columns = {f"x{j}": X[rows, j] for j in range(X.shape[1])}
    columns["y"] = y[rows]
    columns["id"] = [ids[i] for i in rows]
    if owners is not None:
        columns["owner"] = owners[rows]
    return pa.table(columns)


def twins(est, tmp_path, first_removed):
    """Two copies of ``est`` (through its store) after the same in-process removal, which
    seeds the caches the pass-free step uses; copies that do not record in the store (both
    would need its writer lock)."""
    est.save(tmp_path / "store")
    copies = [type(est).load(tmp_path / "store", record=False) for _ in range(2)]
    a, b = (c.remove([first_removed]) for c in copies)
    assert a == b
    return copies


def test_arrays_remove_as_the_table_and_as_in_process(breast_cancer, tmp_path):
    """Given as arrays, the rows take the pass-free step of the held model on the same rows
    (the core's `a_pass_free_removal_over_external_rows_is_the_held_one_bit_for_bit`): the
    same bounds, charge, transcript and published weights, bit for bit; the certificate
    differs only in the external-rows assumptions it lists (and so in its digest). Against
    the table path it is the same certificate, digest included."""
    X, y, ids = breast_cancer
    est = CertifiedLogisticRegression(C=1.0, budget=2.0).fit(X, y, ids=ids)
    held, by_arrays = twins(est, tmp_path, ids[7])
    by_arrays.detach_rows()
    by_arrays.save(tmp_path / "external")
    by_table = CertifiedLogisticRegression.load(tmp_path / "external", record=False)

    # Positions in decreasing order: the held model deletes the highest position first.
    rows = [300, 42, 5]
    removed = [ids[i] for i in rows]
    in_process = held.remove(removed)
    arrays = by_arrays.remove(removed, X=X[rows], y=y[rows])
    assert arrays.bounds["cached_hessian"] == [True], "a pass-free step"
    assert arrays == by_table.remove(removed, rows=table(X, y, ids, rows))
    differ = {
        f.name
        for f in dataclasses.fields(arrays)
        if getattr(arrays, f.name) != getattr(in_process, f.name)
    }
    assert differ == {"unproven_assumptions", "digest"}
    assert arrays.unproven_assumptions[: len(in_process.unproven_assumptions)] == (
        in_process.unproven_assumptions
    )
    assert np.array_equal(held.coef_, by_arrays.coef_)
    assert np.array_equal(held.intercept_, by_arrays.intercept_)
    assert by_arrays.n_rows_ == held.n_rows_ == len(ids) - 4
    assert by_arrays.verify().passed


def test_ridge_targets_and_any_layout(diabetes, tmp_path):
    """A regression's targets are values; X may be any float64 layout (here a transposed
    copy's transpose, Fortran order): the values, not the layout, are the rows."""
    X, y, ids = diabetes
    est = CertifiedRidge(alpha=1.0, budget=2.0).fit(X, y, ids=ids)
    est.detach_rows()
    est.save(tmp_path / "store")
    by_table = CertifiedRidge.load(tmp_path / "store", record=False)
    rows = [11, 3]
    fortran = np.asfortranarray(X[rows])
    assert not fortran.flags.c_contiguous
    removed = [ids[i] for i in rows]
    with pytest.raises(ValueError, match="y row 1 is NaN"):
        est.remove(removed, X=fortran, y=[y[11], np.nan])
    assert est.remove(removed, X=fortran, y=list(y[rows])) == by_table.remove(
        removed, rows=table(X, y, ids, rows)
    )


def test_a_request_that_needs_a_pass_is_finished_from_arrays(breast_cancer, tmp_path):
    """NeedsFullPass from arrays changes nothing; the refresh takes the same arrays and
    gives the table path's certificate, bit for bit."""
    X, y, ids = breast_cancer
    est = CertifiedLogisticRegression(C=1.0, budget=1e-3).fit(X, y, ids=ids)
    est.detach_rows()
    est.save(tmp_path / "store")
    by_table = CertifiedLogisticRegression.load(tmp_path / "store", record=False)
    rows = list(range(20))
    removed = [ids[i] for i in rows]
    before = est._unlearner.certificates()
    with pytest.raises(unlearn.NeedsFullPass):
        est.remove(removed, X=X[rows], y=y[rows])
    assert est._unlearner.certificates() == before and est.n_rows_ == len(ids)

    keep = np.ones(len(ids), dtype=bool)
    keep[rows] = False
    resolved = CertifiedLogisticRegression(C=1.0, sigma=0).fit(X[keep], y[keep])
    weights = np.hstack([resolved.coef_, resolved.intercept_[:, None]])
    query = est._unlearner.refresh_query(weights)
    partials = _unlearn.partial_sums(
        table(X, y, ids, np.flatnonzero(keep)),
        query,
        est._unlearner.batch_spec(),
        est._unlearner.digest_request("id"),
    )
    with pytest.raises(ValueError, match="rows= .* or X= and y="):
        est._refresh_from_partials(partials, weights, removed)
    arrays = est._refresh_from_partials(partials, weights, removed, X=X[rows], y=y[rows])
    tabled = by_table._refresh_from_partials(
        partials, weights, removed, rows=table(X, y, ids, rows)
    )
    assert arrays == tabled and arrays.bounds["residual_measured"] == [True]
    assert est.n_rows_ == len(ids) - 20 and est.verify().passed


def test_a_subject_erased_from_arrays(breast_cancer, tmp_path):
    """Subjects need each row's id and subject; the erasure equals the table path's."""
    X, y, ids = breast_cancer
    owners = np.array([f"p{i % 50}" for i in range(len(ids))])
    est = CertifiedLogisticRegression(C=1.0, budget=2.0).fit(X, y, ids=ids, subjects=owners)
    est.detach_rows()
    est.save(tmp_path / "store")
    by_table = CertifiedLogisticRegression.load(tmp_path / "store", record=False)
    alice = [i for i in range(len(ids)) if owners[i] == "p7"]
    arrays = est.remove(
        subjects="p7",
        X=X[alice],
        y=y[alice],
        row_ids=[ids[i] for i in alice],
        row_subjects=owners[alice],
    )
    tabled = by_table.remove(
        subjects="p7", rows=table(X, y, ids, alice, owners), subject_column="owner"
    )
    assert arrays == tabled
    assert len(arrays.erased_subject_tags) == 1 and est.n_rows_ == len(ids) - len(alice)


def test_rows_that_are_not_exactly_the_removed_ones_are_refused(breast_cancer):
    """Each refusal names the argument (and the row) and says what to give; none changes
    anything. Then the right rows are removed."""
    X, y, ids = breast_cancer
    owners = np.array([f"p{i % 50}" for i in range(len(ids))])
    est = CertifiedLogisticRegression(C=1.0, budget=2.0).fit(X, y, ids=ids, subjects=owners)
    est.detach_rows()
    before = est._unlearner.certificates()
    a, b = ids[4], ids[5]

    def refused(error, match, *args, **kwargs):
        with pytest.raises(error, match=match):
            est.remove(*args, **kwargs)

    # Kind, dimension and dtype.
    refused(ValueError, "two-dimensional.*reshape", [a], X=X[4], y=y[[4]])
    refused(TypeError, "float64.*got float32", [a], X=X[[4]].astype(np.float32), y=y[[4]])
    refused(TypeError, "float64.*got int64", [a], X=np.ones((1, 30), dtype=np.int64), y=y[[4]])
    refused(TypeError, "rows=", [a], X=table(X, y, ids, [4]), y=y[[4]])
    refused(ValueError, "both X.*and y", [a], X=X[[4]])
    refused(ValueError, "once", [a], X=X[[4]], y=y[[4]], rows=table(X, y, ids, [4]))
    # Shapes against the model and the request.
    refused(ValueError, "X has 29 columns.*30 features", [a], X=X[[4], :29], y=y[[4]])
    refused(ValueError, "y has 2 entries for the 1 rows", [a], X=X[[4]], y=y[[4, 5]])
    refused(ValueError, "row_ids has 1 entries for the 2 rows", [a], X=X[[4, 5]], y=y[[4, 5]])
    # Values: not finite, a label the model does not know, a row beyond the norm bound.
    nan = X[[4]].copy()
    nan[0, 3] = np.nan
    refused(ValueError, f"X row 0 \\(id '{a}'\\), column 3 \\('x3'\\) is NaN", [a], X=nan, y=y[[4]])
    refused(ValueError, 'unknown label "benign-ish"', [a], X=X[[4]], y=["benign-ish"])
    refused(ValueError, "norm.*exceeds", [a], X=X[[4]] * 1e6, y=y[[4]])
    # Exactly the request's rows: duplicates, a row not asked for, an id without its row.
    refused(ValueError, "row_ids: .*duplicate id .*once", [a, a], X=X[[4, 4]], y=y[[4, 4]])
    refused(ValueError, "more than once in the request", [a, a], X=X[[4]], y=y[[4]], row_ids=[a])
    refused(ValueError, f"'{b}'.*neither", [a], X=X[[4, 5]], y=y[[4, 5]], row_ids=[a, b])
    refused(ValueError, f"'{b}'.*not among the given rows", [a, b], X=X[[4]], y=y[[4]], row_ids=[a])
    # Subjects: each row's subject is needed, and every row must be the subject's.
    alice = [i for i in range(len(ids)) if owners[i] == "p7"]
    alice_ids = [ids[i] for i in alice]
    refused(ValueError, "row_ids= and row_subjects=", subjects="p7", X=X[alice], y=y[alice])
    refused(
        ValueError,
        f"'{ids[8]}'.*p8",
        subjects="p7",
        X=X[alice + [8]],
        y=y[alice + [8]],
        row_ids=alice_ids + [ids[8]],
        row_subjects=list(owners[alice]) + ["p8"],
    )
    refused(
        ValueError,
        "row_subjects has",
        subjects="p7",
        X=X[alice],
        y=y[alice],
        row_ids=alice_ids,
        row_subjects=["p7"],
    )
    assert est._unlearner.certificates() == before and est.n_rows_ == len(ids)

    est.remove([a], X=X[[4]], y=y[[4]])
    # Removed once: the same row again is an unknown id.
    refused(KeyError, a, [a], X=X[[4]], y=y[[4]])
    assert est.n_rows_ == len(ids) - 1


def test_a_held_model_refuses_given_rows(breast_cancer):
    X, y, ids = breast_cancer
    est = CertifiedLogisticRegression(C=1.0).fit(X, y, ids=ids)
    with pytest.raises(ValueError, match="held: remove them by id"):
        est.remove([ids[0]], X=X[[0]], y=y[[0]])
