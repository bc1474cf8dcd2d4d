#!/usr/bin/env python3
"""Per-batch throughput of ``unlearn._unlearn.partial_sums`` as Spark's tasks call it.

Without ``--file``: one pyarrow RecordBatch of 10,000 rows (Spark's default
``maxRecordsPerBatch``) x 100 features in a FixedSizeList column ``x``, text labels in
``y``, clip norm 1 and an intercept; the partial sums of the first pass (Hessian and Gram
matrix) and of a Newton pass (Hessian) are timed, 15 calls each, and the median is printed
with rows/s and the size of the partial in bytes; then the cached route's two halves:
reading the batch once into prepared rows (``prepare_rows``) and a Newton pass's sums from
them (``prepared_sums``, which decodes the blob first); then what the keyed row digest adds
to a Newton pass (``partial_sums`` with ``digest=``: the id column read and one HMAC-SHA256
per row), the two timed alternately, call by call. The Rust side alone is
``cargo bench -p unlearn --bench partials`` (BENCHMARKS.md, "Partial sums per batch").

With ``--file PATH`` (a Parquet file of ``scripts/spark_bench.py``'s data: columns x0..,
y): what one Spark task of a pass does with its file, stage by stage, in this one process
(so other agents' load shows as wall time above CPU time, and the CPU time per stage is
what to read): the whole task of a Newton pass as ``unlearn.spark`` runs it
(``_files_partial``: each batch read, then summed), then its parts: reading the file
into Arrow batches as ``unlearn.spark`` does (``_file_batches``), the sums of a Newton
pass on each batch (``partial_sums``: the reader, preprocessing and intercept, then the
sums), the same split into its halves
(``prepare_rows``, ``prepared_sums``), and the merge of the batches' partials. ``--threads``
is the thread count of the sums (as a Spark task gets it from ``spark.task.cpus``).
Prints one JSON object: seconds of CPU and wall per stage, and rows/s.

The Rust side alone is ``cargo bench -p unlearn --bench partials`` (BENCHMARKS.md,
"Partial sums per batch").

Run: target/python-venv/bin/python scripts/partials_throughput.py [--file F --threads 1]
"""

import argparse
import json
import os
import statistics
import time

import numpy as np
import pyarrow as pa

from unlearn import _unlearn

ROWS, FEATURES, CALLS = 10_000, 100, 15

PARAMS = {
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


def timed(f, *args):
    """Median seconds of CALLS calls of ``f(*args)`` and the last result."""
    seconds = []
    for _ in range(CALLS):
        start = time.perf_counter()
        out = f(*args)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), out


def one_batch():
    """Time the first pass and one Newton pass of a fit on one synthetic batch."""
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
    names = [f"x[{j}]" for j in range(FEATURES)]
    encoding = {"kind": "binary", "positive": "pos", "negative": "neg"}
    fit = _unlearn.DistributedFit(PARAMS, names, encoding, "y")
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


class Clock:
    """CPU (this process, every thread) and wall seconds per named stage."""

    def __init__(self):
        self.stages = {}

    def __call__(self, name, f, *args, **kwargs):
        """Run ``f`` and add its CPU and wall seconds to stage ``name``."""
        cpu, wall = time.process_time(), time.perf_counter()
        out = f(*args, **kwargs)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        total = self.stages.setdefault(name, {"cpu_seconds": 0.0, "wall_seconds": 0.0})
        total["cpu_seconds"] += cpu
        total["wall_seconds"] += wall
        return out


def one_file(path, threads):
    """Time what one Spark task does with one Parquet file in a Newton pass, by stage."""
    import pyarrow.parquet as pq

    from unlearn import CertifiedLogisticRegression
    from unlearn import spark as uspark

    features = [f for f in pq.ParquetFile(path).schema_arrow.names if f.startswith("x")]
    # spark_bench.py's estimator: per-sample lambda = 1e-4, labels 0 and 1.
    est = CertifiedLogisticRegression(C=1e4, regularization="per-sample", tol=1e-2)
    _, encoding, _ = est._encode(np.array([0, 1]))
    fit = _unlearn.DistributedFit(est._core_params(), features, encoding, "y")
    spec, columns, uri = fit.spec(), [*features, "y"], f"file://{os.path.abspath(path)}"
    clock = Clock()
    batches = clock("read", lambda: list(uspark._file_batches([uri], columns, threads)))
    rows = sum(b.num_rows for b in batches)
    first = [_unlearn.partial_sums(b, fit.weights(), spec, threads=threads) for b in batches]
    fit.absorb(uspark._merged(first))  # the driver's first step: the next query is a Newton one
    query = fit.weights()
    # The task as Spark runs it (`_files_partial`): each batch read, then summed.
    clock("task", uspark._files_partial, [uri], columns, spec, query, None, threads)
    partials = [
        clock("partial_sums", _unlearn.partial_sums, b, query, spec, threads=threads)
        for b in batches
    ]
    clock("merge", uspark._merged, partials)
    blobs = [clock("prepare_rows", _unlearn.prepare_rows, b, spec)[0] for b in batches]
    cached = [
        clock("prepared_sums", _unlearn.prepared_sums, b, query, spec, threads=threads)
        for b in blobs
    ]
    assert cached == partials  # the same sums, bit for bit
    for stage in clock.stages.values():
        stage["rows_per_cpu_second"] = rows / max(stage["cpu_seconds"], 1e-9)
    print(
        json.dumps(
            {
                "file": str(path),
                "rows": rows,
                "batches": len(batches),
                "threads": threads,
                "stages": clock.stages,
                "load": os.getloadavg(),
            },
            indent=2,
        )
    )


def main():
    """One synthetic batch, or one real file stage by stage (``--file``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", help="a Parquet file of spark_bench.py's data")
    parser.add_argument("--threads", type=int, default=None, help="threads of the sums")
    args = parser.parse_args()
    if args.file is None:
        one_batch()
    else:
        one_file(args.file, args.threads)


if __name__ == "__main__":
    main()
