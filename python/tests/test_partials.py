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
        summary = fit.summary()
        assert summary["rows"] == len(y)
        assert max(summary["gradient_bounds"]) <= estimator.tol
        # Newton from zero: a handful of passes, one per iteration when full steps pass.
        assert summary["passes"] <= 3 * (max(summary["iterations"]) + 1)


def test_bad_blobs_and_batches_are_clear_errors(breast_cancer):
    X, y, _ = breast_cancer
    estimator = CertifiedLogisticRegression(sigma=0.0).fit(X, y)
    tbl, names = table(X, y, as_list=False)
    encoding = estimator._unlearner.published()["target"]
    fit = _unlearn.DistributedFit(estimator._core_params(), names, encoding, "y")
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
