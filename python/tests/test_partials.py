"""Distributed training without Spark (issue 14): a table split into Arrow batches, partial
sums per batch, merged in different orders, a ``DistributedFit`` driven to convergence, and
its weights compared with the in-process fit.

The tolerance is the recorded bound, not a tuned constant: both fits stop only when a
guaranteed upper bound g on the exact gradient norm of the same objective is below ``tol``
(proofs/training_residual.md, Lemma 3; the distributed sums' bounds hold in any merge order,
proofs/distributed_sums.md), so each is within g/Lambda of the one exact minimiser and the two
are within (g_dist + g_local)/Lambda of each other (strong convexity). ``compare`` returns
that bound per class model next to the actual distance.
"""

from functools import reduce

import numpy as np
import pyarrow as pa
import pytest

from unlearn import CertifiedLogisticRegression, CertifiedRidge, _unlearn


def table(X, y, *, as_list):
    """X and y as an Arrow table: one float64 column per feature, or one list column."""
    if as_list:
        x = pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), X.shape[1])
        columns = {"id": [f"r{i}" for i in range(len(y))], "x": x, "y": y}
        names = [f"x[{j}]" for j in range(X.shape[1])]
    else:
        columns = {f"f{j}": X[:, j] for j in range(X.shape[1])}
        columns["y"] = y
        names = [f"f{j}" for j in range(X.shape[1])]
    return pa.table(columns), names


def tree(parts):
    """Pairwise reduction, as Spark's treeReduce brackets it."""
    while len(parts) > 1:
        pairs = [parts[i : i + 2] for i in range(0, len(parts), 2)]
        parts = [p[0] if len(p) == 1 else _unlearn.merge_partials(p[0], p[1]) for p in pairs]
    return parts[0]


def fit_distributed(estimator, tbl, names, *, batch_rows, merge):
    encoding = estimator._unlearner.published()["target"]
    fit = _unlearn.DistributedFit(estimator._core_params(), names, encoding, "y")
    spec = fit.spec()
    batches = tbl.to_batches(max_chunksize=batch_rows)
    for _ in range(100):
        query = fit.weights()
        parts = [_unlearn.partial_sums(b, query, spec) for b in batches]
        if fit.absorb(merge(parts)):
            return fit
    raise AssertionError("no convergence in 100 passes")


def first_pass(X, y):
    """The rows as a table of feature columns, and a distributed fit over them at its
    first pass (the classes and parameters of a noiseless in-process fit)."""
    estimator = CertifiedLogisticRegression(sigma=0.0).fit(X, y)
    tbl, names = table(X, y, as_list=False)
    encoding = estimator._unlearner.published()["target"]
    return tbl, names, _unlearn.DistributedFit(estimator._core_params(), names, encoding, "y")


def left_fold(parts):
    return reduce(_unlearn.merge_partials, parts)


def reversed_tree(parts):
    return tree(parts[::-1])


CASES = ["breast_cancer", "digits", "diabetes"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("as_list", [False, True])
def test_distributed_fit_matches_the_in_process_fit_within_the_recorded_bound(
    request, case, as_list
):
    X, y, _ = request.getfixturevalue(case)
    if case == "diabetes":
        estimator = CertifiedRidge(alpha=1.0, sigma=0.0, clip_norm=1.0).fit(X, y)
    else:
        estimator = CertifiedLogisticRegression(C=10.0, sigma=0.0, clip_norm=1.0).fit(X, y)
    tbl, names = table(X, y, as_list=as_list)
    for batch_rows, merge in [(64, left_fold), (101, reversed_tree)]:
        fit = fit_distributed(estimator, tbl, names, batch_rows=batch_rows, merge=merge)
        comparison = fit.compare(estimator._unlearner)
        for distance, bound in zip(comparison["distances"], comparison["bounds"], strict=True):
            assert distance <= bound, (distance, bound)
        # The fitted external-rows model publishes those weights (sigma = 0: no noise).
        unlearner = fit.finish()
        assert unlearner.n_rows() == len(y)
        published = np.asarray(unlearner.weights())
        local = np.asarray(estimator._unlearner.weights())
        distances = np.linalg.norm(published - local, axis=1)
        assert np.all(distances <= np.asarray(comparison["bounds"])), distances
        summary = fit.summary()
        assert summary["rows"] == len(y)
        assert max(summary["gradient_bounds"]) <= estimator.tol
        # Newton from zero: a handful of passes, one per iteration when full steps pass.
        assert summary["passes"] <= 3 * (max(summary["iterations"]) + 1)


def test_bad_blobs_and_batches_are_clear_errors(breast_cancer):
    X, y, _ = breast_cancer
    tbl, names, fit = first_pass(X, y)
    query, spec = fit.weights(), fit.spec()
    part = _unlearn.partial_sums(tbl.to_batches()[0], query, spec)
    with pytest.raises(ValueError, match="checksum"):
        _unlearn.merge_partials(part, part[:-1] + bytes([part[-1] ^ 1]))
    with pytest.raises(ValueError, match="not a valid unlearn query"):
        _unlearn.partial_sums(tbl, part, spec)
    with pytest.raises(ValueError, match="tag"):
        fit.absorb(query)
    with pytest.raises(ValueError, match='"f99"'):
        _unlearn.partial_sums(tbl, query, {**spec, "feature_names": names[:-1] + ["f99"]})
    with pytest.raises(ValueError, match="__arrow_c_stream__"):
        _unlearn.partial_sums(X, query, spec)
    # The rows must not change between passes (a lost or duplicated partition).
    fit.absorb(_unlearn.partial_sums(tbl, query, spec))
    half = tbl.slice(0, 100)
    with pytest.raises(_unlearn.UnlearnError, match="rows changed between passes"):
        fit.absorb(_unlearn.partial_sums(half, fit.weights(), spec))


def test_prepared_rows_sum_as_the_batch_and_a_warm_fit_starts_at_the_secret_weights(
    breast_cancer,
):
    """prepare_rows once, prepared_sums at every pass: the same bytes as partial_sums on the
    batch (so the same bounds). warm_fit from a fitted model on the same rows: its first
    pass's sums already pass the stopping test (the model converged there), so it ends in
    one pass where a fit from zero takes several; a model of another shape is refused."""
    X, y, _ = breast_cancer
    estimator = CertifiedLogisticRegression(sigma=0.0).fit(X, y)
    tbl, names = table(X, y, as_list=False)
    encoding = estimator._unlearner.published()["target"]
    params = estimator._core_params()
    cold = fit_distributed(estimator, tbl, names, batch_rows=200, merge=tree)
    warm = _unlearn.warm_fit(params, names, encoding, "y", estimator._unlearner)
    spec = warm.spec()
    batches = tbl.to_batches(max_chunksize=200)
    prepared = [blob for b in batches for blob in _unlearn.prepare_rows(b, spec)]
    assert len(prepared) == len(batches)
    query = warm.weights()
    direct = [_unlearn.partial_sums(b, query, spec) for b in batches]
    assert [_unlearn.prepared_sums(p, query, spec) for p in prepared] == direct
    assert warm.absorb(tree(direct))
    assert warm.passes == 1 < cold.passes
    assert warm.summary()["gradient_bounds"][0] <= estimator.tol
    with pytest.raises(ValueError, match="another spec"):
        _unlearn.prepared_sums(prepared[0], query, {**spec, "target_column": "label"})
    with pytest.raises(ValueError, match="class models of 30 weights"):
        _unlearn.warm_fit(params, names[:-1], encoding, "y", estimator._unlearner)


def test_the_sums_are_the_same_bits_on_any_number_of_threads(digits):
    """A Spark task sums on the cores it holds (``threads``): the sums' order is fixed by
    constant block sizes, so 1, 2, 3 threads and the global pool give the same bytes, on a
    batch of several Gram leaves (1,797 rows > 1,024) and ten class models; 0 threads is
    refused."""
    X, y, _ = digits
    tbl, _, fit = first_pass(X, y)
    query, spec = fit.weights(), fit.spec()
    (batch,) = tbl.combine_chunks().to_batches()
    (rows,) = _unlearn.prepare_rows(batch, spec)
    reference = _unlearn.partial_sums(batch, query, spec)
    for threads in [1, 2, 3]:
        assert _unlearn.partial_sums(batch, query, spec, threads=threads) == reference
        assert _unlearn.prepared_sums(rows, query, spec, threads=threads) == reference
    with pytest.raises(ValueError, match="threads = 0"):
        _unlearn.partial_sums(batch, query, spec, threads=0)
