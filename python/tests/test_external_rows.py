"""External rows: a model that keeps none of its rows, given the removed ones; the "needs a
full pass" outcome and the refresh from partial sums (issue 14, item 3)."""

import numpy as np
import pyarrow as pa
import pytest

import unlearn
from unlearn import CertifiedLogisticRegression, _unlearn


def table(X, y, ids, rows):
    """The rows at positions ``rows`` as the caller's table holds them: the feature columns
    (named as ``fit`` names numpy columns), the target column ``y`` and the ids."""
    columns = {f"x{j}": X[rows, j] for j in range(X.shape[1])}
    columns["y"] = y[rows]
    columns["id"] = [ids[i] for i in rows]
    return pa.table(columns)


def fitted(breast_cancer, budget=2.0):
    """A certified model whose lifetime budget affords pass-free steps (at the default
    budget this data's first tracked bound already needs a measured residual)."""
    X, y, ids = breast_cancer
    est = CertifiedLogisticRegression(C=1.0, budget=budget).fit(X, y, ids=ids)
    return est.detach_rows(), X, y, ids


def refresh_inputs(est, X, y, rows):
    """What a refresh after removing ``rows`` needs besides the sums: the remaining rows'
    positions, the re-solve on them (sigma = 0), its weights (K x d, intercept last), the
    batch spec, the query at those weights and the digest request (id column "id")."""
    keep = np.ones(len(X), dtype=bool)
    keep[rows] = False
    resolved = CertifiedLogisticRegression(C=1.0, sigma=0).fit(X[keep], y[keep])
    weights = np.hstack([resolved.coef_, resolved.intercept_[:, None]])
    spec = est._unlearner.batch_spec()
    query = est._unlearner.refresh_query(weights)
    digest = est._unlearner.digest_request("id")
    return np.flatnonzero(keep), resolved, weights, spec, query, digest


def test_an_external_removal_is_pass_free_and_certified(breast_cancer):
    est, X, y, ids = fitted(breast_cancer)
    assert est._unlearner.external()
    rows = [3, 10, 200]
    certificate = est.remove([ids[i] for i in rows], rows=table(X, y, ids, rows))
    assert certificate.certified and certificate.published
    assert certificate.bounds["cached_hessian"] == [True]
    assert certificate.rows_after == len(ids) - 3 == est.n_rows_
    assert est.verify().passed
    # Removed once: a second time is an unknown id; ids alone are not enough.
    with pytest.raises(KeyError, match=ids[3]):
        est.remove([ids[3]], rows=table(X, y, ids, [3]))
    with pytest.raises(ValueError, match="external"):
        est.remove([ids[4]])
    with pytest.raises(ValueError, match="not among the given rows"):
        est.remove([ids[4], ids[5]], rows=table(X, y, ids, [4]))
    with pytest.raises(ValueError, match="external"):
        est.audit_against_retrain(seed=1)


def test_an_external_model_round_trips_through_its_store(breast_cancer, tmp_path):
    est, X, y, ids = fitted(breast_cancer)
    # Two removals queue two rows in the caches; save() folds them in (in the estimator
    # too, so that it and the loaded copy continue from the same caches).
    est.remove([ids[0]], rows=table(X, y, ids, [0]))
    est.remove([ids[2]], rows=table(X, y, ids, [2]))
    est.save(tmp_path / "store")
    # A copy that does not record in the store: est (backed by it since its save) does.
    loaded = CertifiedLogisticRegression.load(tmp_path / "store", record=False)
    assert loaded._unlearner.external() and loaded.n_rows_ == len(ids) - 2 == est.n_rows_
    a = est.remove([ids[1]], rows=table(X, y, ids, [1]))
    b = loaded.remove([ids[1]], rows=table(X, y, ids, [1]))
    assert a == b, "the persisted caches continue bit for bit"


def test_given_rows_in_many_chunks_remove_as_in_one(breast_cancer, tmp_path):
    """A filtered read or Spark's toArrow gives a table of one chunk per file or partition,
    most of them empty; the removal is the same, bit for bit, as from one chunk."""
    est, X, y, ids = fitted(breast_cancer)
    est.save(tmp_path / "store")
    # Two copies compared, neither recording in the store (both would need its writer lock).
    one = CertifiedLogisticRegression.load(tmp_path / "store", record=False)
    many = CertifiedLogisticRegression.load(tmp_path / "store", record=False)
    rows = [7, 8, 90]
    whole = table(X, y, ids, rows)
    chunked = pa.concat_tables(
        [whole.slice(0, 0), whole.slice(0, 1), whole.slice(1, 0), whole.slice(1, 2)]
    )
    assert chunked["id"].num_chunks == 4
    removed = [ids[i] for i in rows]
    assert one.remove(removed, rows=whole) == many.remove(removed, rows=chunked)
    assert many.verify().passed


def test_a_request_that_needs_a_pass_is_finished_from_partial_sums(breast_cancer):
    """A budget so small that a pass-free step's tracked bound misses it: the removal needs
    its residual measured, which needs the rows. NeedsFullPass, nothing changed; then the
    pass (a re-solve on the remaining rows, partial sums at its weights) finishes it."""
    est, X, y, ids = fitted(breast_cancer, budget=1e-3)
    rows = list(range(20))
    removed = [ids[i] for i in rows]
    before = est._unlearner.certificates()
    with pytest.raises(unlearn.NeedsFullPass, match="full pass") as raised:
        est.remove(removed, rows=table(X, y, ids, rows))
    assert est._unlearner.certificates() == before and est.n_rows_ == len(ids)
    # The message names what finishes the request.
    assert "_refresh_from_partials" in str(raised.value)
    assert "unlearn.spark.remove" in str(raised.value)

    # The remaining rows' keyed digest rides with the sums (read from the id column).
    rest, resolved, weights, spec, query, digest = refresh_inputs(est, X, y, rows)
    halves = [
        _unlearn.partial_sums(table(X, y, ids, part), query, spec, digest)
        for part in np.array_split(rest, 2)
    ]
    partials = _unlearn.merge_partials(*halves)
    certificate = est._refresh_from_partials(
        partials, weights, removed, rows=table(X, y, ids, rows)
    )
    assert certificate.rows_after == len(ids) - 20 == est.n_rows_
    assert certificate.published and certificate.certified
    assert certificate.bounds["residual_measured"] == [True]
    # The refreshed weights are the re-solve's, which stopped at ‖∇L‖ ≤ tol; the bound adds
    # the sums' rounding bounds (γ_N times sums of |terms| over N = 549 rows of norm ≤ R: far
    # below 1e-8 here).
    assert certificate.bounds["exact_residual"][0] <= resolved.tol * (1 + 1e-6) + 1e-8
    assert est.verify().passed
    # Partial sums over the wrong rows (the removed ones still in) are refused.
    with pytest.raises(ValueError, match="rows"):
        est._refresh_from_partials(partials, weights, [ids[30]], rows=table(X, y, ids, [30]))


def test_a_refresh_over_a_table_with_a_swapped_row_is_refused(breast_cancer):
    """The row digest: remaining rows in which one row holds another's values (of the same
    label, so the count, the label counts and the row-norm bound all pass) are refused at
    the refresh, saying what it means; nothing changes; the true remaining rows refresh.
    Sums without the digest are refused too."""
    est, X, y, ids = fitted(breast_cancer, budget=1e-3)
    rows = list(range(20))
    removed = [ids[i] for i in rows]
    with pytest.raises(unlearn.NeedsFullPass):
        est.remove(removed, rows=table(X, y, ids, rows))
    rest, _, weights, spec, query, digest = refresh_inputs(est, X, y, rows)
    a = rest[0]
    b = next(i for i in rest[1:] if y[i] == y[a])
    swapped = X.copy()
    swapped[a] = X[b]
    given = table(X, y, ids, rows)
    before = est._unlearner.certificates()
    for sums in [
        _unlearn.partial_sums(table(swapped, y, ids, rest), query, spec, digest),
        _unlearn.partial_sums(table(X, y, ids, rest), query, spec),
    ]:
        with pytest.raises(ValueError, match="row digest"):
            est._refresh_from_partials(sums, weights, removed, rows=given)
        assert est._unlearner.certificates() == before and est.n_rows_ == len(ids)
    clean = _unlearn.partial_sums(table(X, y, ids, rest), query, spec, digest)
    certificate = est._refresh_from_partials(clean, weights, removed, rows=given)
    assert certificate.rows_after == len(ids) - 20
    assert est.verify().passed


def test_given_rows_must_be_exactly_the_requested_rows(breast_cancer):
    """Review 4, finding B4: the rows given must be exactly those of ``ids`` and of
    ``subjects``. A row nobody asked for would be removed silently; rows of another subject
    would leave the erased subject's rows in the model; a subject erasure needs
    ``subject_column`` to check that. Each refusal names the row or column and changes
    nothing; the subject's own rows with their subject column erase it."""
    X, y, ids = breast_cancer
    owners = np.array([f"p{i % 50}" for i in range(len(ids))])
    est = CertifiedLogisticRegression(C=1.0, budget=2.0).fit(X, y, ids=ids, subjects=owners)
    est.detach_rows()

    def with_owner(rows):
        return table(X, y, ids, rows).append_column("owner", pa.array(owners[rows]))

    before = est._unlearner.certificates()
    with pytest.raises(ValueError, match=f"'{ids[5]}'.*neither"):
        est.remove([ids[4]], rows=table(X, y, ids, [4, 5]))
    alice = [i for i in range(len(ids)) if owners[i] == "p7"]
    with pytest.raises(ValueError, match="subject column.*subject_column"):
        est.remove(subjects="p7", rows=with_owner(alice))
    with pytest.raises(ValueError, match=f"'{ids[8]}'.*p8"):
        est.remove(subjects="p7", rows=with_owner(alice + [8]), subject_column="owner")
    assert est._unlearner.certificates() == before and est.n_rows_ == len(ids)

    certificate = est.remove(subjects="p7", rows=with_owner(alice), subject_column="owner")
    assert len(certificate.removed_id_tags) == len(alice)
    assert len(certificate.erased_subject_tags) == 1
    assert est.n_rows_ == len(ids) - len(alice)
    assert est.verify().passed
