#!/usr/bin/env python3
"""Per-batch throughput of ``unlearn._unlearn.partial_sums`` as Spark's mapInArrow calls it.

One pyarrow RecordBatch of 10,000 rows (Spark's default ``maxRecordsPerBatch``) x 100
features in a FixedSizeList column ``x``, text labels in ``y``, clip norm 1 and an
intercept; the partial sums of the first pass (Hessian and Gram matrix) and of a Newton
pass (Hessian) are timed, 15 calls each, and the median is printed with rows/s and the
size of the partial in bytes; then the cached route's two halves: reading the batch once
into prepared rows (``prepare_rows``) and a Newton pass's sums from them
(``prepared_sums``, which decodes the blob first); then what the keyed row digest adds to a
Newton pass (``partial_sums`` with ``digest=``: the id column read and one HMAC-SHA256 per
row), the two timed alternately, call by call. The Rust side alone is
``cargo bench -p unlearn --bench partials`` (BENCHMARKS.md, "Partial sums per batch").

Run: target/python-venv/bin/python scripts/partials_throughput.py
"""

import statistics
import time

import numpy as np
import pyarrow as pa

from unlearn import _unlearn

ROWS, FEATURES, CALLS = 10_000, 100, 15


def timed(f, *args):
    """Median seconds of CALLS calls of ``f(*args)`` and the last result."""
    seconds = []
    for _ in range(CALLS):
        start = time.perf_counter()
        out = f(*args)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), out


def main():
    """Time the first pass and one Newton pass of a fit on one batch."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((ROWS, FEATURES))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = np.where(rng.random(ROWS) < 0.5, "pos", "neg")
    batch = pa.record_batch(
        {
            "x": pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), FEATURES),
            "y": pa.array(labels),
            "id": pa.array([f"row-{i:08d}" for i in range(ROWS)]),
        }
    )
    params = {
        "loss": "logistic",
        "lambda": 1.0,
        "regularization": "total",
        "fit_intercept": True,
        "epsilon": None,
        "delta": None,
        "budget": None,
        "sigma": 0.0,
        "clip_norm": 1.0,
        "mechanism": "output-perturbation",
        "tol": 1e-7,
    }
    names = [f"x[{j}]" for j in range(FEATURES)]
    encoding = {"kind": "binary", "positive": "pos", "negative": "neg"}
    fit = _unlearn.DistributedFit(params, names, encoding, "y")
    spec = fit.spec()
    first, partial = timed(_unlearn.partial_sums, batch, fit.weights(), spec)
    print(
        f"first pass (Hessian + Gram): {first * 1e3:.1f} ms, {ROWS / first:,.0f} rows/s, "
        f"{len(partial):,} bytes"
    )
    fit.absorb(partial)
    newton, partial = timed(_unlearn.partial_sums, batch, fit.weights(), spec)
    print(
        f"Newton pass (Hessian): {newton * 1e3:.1f} ms, {ROWS / newton:,.0f} rows/s, "
        f"{len(partial):,} bytes"
    )
    prepare, (rows,) = timed(_unlearn.prepare_rows, batch, spec)
    print(f"prepare_rows (read once): {prepare * 1e3:.1f} ms, {len(rows):,} bytes")
    cached, cached_partial = timed(_unlearn.prepared_sums, rows, fit.weights(), spec)
    assert cached_partial == partial  # the same sums, bit for bit
    print(f"Newton pass from prepared rows: {cached * 1e3:.1f} ms, {ROWS / cached:,.0f} rows/s")
    digest = fit.digest_request("id")
    query = fit.weights()
    plain, digested = [], []
    for _ in range(CALLS):
        for seconds, extra in ((plain, ()), (digested, (digest,))):
            start = time.perf_counter()
            _unlearn.partial_sums(batch, query, spec, *extra)
            seconds.append(time.perf_counter() - start)
    without, with_digest = statistics.median(plain), statistics.median(digested)
    print(
        f"Newton pass with the row digest: {with_digest * 1e3:.1f} ms against "
        f"{without * 1e3:.1f} ms without (+{(with_digest - without) / ROWS * 1e6:.2f} us a row)"
    )


if __name__ == "__main__":
    main()
