#!/usr/bin/env python3
"""A removal on the driver (external rows, the row given) against one in process.

The removal part of ``scripts/spark_bench.py`` (issue 14's target "a removal on the driver
after a Spark fit costs the same as in process") without the Spark fit, so that it can be
re-run in a minute: the same seeded rows (``spark_bench.generate``, Parquet files under
``--data``), the same estimator (``spark_bench.estimator``), two in-process fits on them;
one keeps its rows, the other lets go of them (``detach_rows``: what ``unlearn.spark.fit``
returns, an estimator over external rows with the caches seeded from sums over the rows)
and is loaded twice from its store. The removed rows are fetched once, before timing, by
one filtered read of the files (as the Spark bench fetches them with one Spark filter): a
pyarrow table of the feature columns, ``y`` and ``id``, in as many chunks as the read
gives. Then, for each
of K ids, three single-row removals in turn: ``est.remove([id], rows=row)`` (the row as a
table, through the Arrow C stream interface), ``est.remove([id], X=x, y=label)`` (the row
as numpy arrays) on the other external estimator, and ``local.remove([id])`` in process.
``row``, ``x`` and ``label`` are made outside the timing; the time to turn the fetched
table into the arrays (what a caller holding only the table would pay for the array path)
is reported apart. Times are the median and the low decile of wall time per call, from
Python (what a caller pays, the binding's conversion of the row included). The two
external paths must give the same certificate, bit for bit (checked).

Prints one JSON object. Usage (after scripts/test, which builds the venv):
    target/python-venv/bin/python scripts/external_remove_bench.py [--rows 1000000
        --features 100 --data target/spark-bench-1m --removals 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as ds

sys.path.insert(0, str(Path(__file__).resolve().parent))
import spark_bench  # noqa: E402  (the same data and estimator as the Spark bench)


def main() -> None:
    """Run the benchmark and print its JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--rows-per-file", type=int, default=250_000)
    parser.add_argument("--data", type=Path, default=spark_bench.REPO / "target" / "spark-bench-1m")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--C", type=float, default=1e4)
    parser.add_argument("--tol", type=float, default=1e-2)
    parser.add_argument("--budget", type=float, default=1.0)
    parser.add_argument("--removals", type=int, default=20)
    args = parser.parse_args()

    spark_bench.generate(args.data, args.rows, args.features, args.rows_per_file, args.seed)
    features = [f"x{j}" for j in range(args.features)]
    report: dict = {"rows": args.rows, "features": args.features, "load_before": os.getloadavg()}
    local, _ = spark_bench.local_fit(args.data, features, spark_bench.estimator(args))
    external, _ = spark_bench.local_fit(args.data, features, spark_bench.estimator(args))
    external.detach_rows()
    # Two copies of one external model (its store holds no row: d x d caches, ≈ 1 MB at
    # d = 100), so that the two paths can be checked to give the same certificates.
    with tempfile.TemporaryDirectory(dir=args.data.parent) as scratch:
        external.save(Path(scratch) / "store")
        by_table, by_arrays = (type(external).load(Path(scratch) / "store") for _ in range(2))
    del external

    rng = np.random.default_rng(args.seed + 1)
    ids = [int(i) for i in rng.choice(args.rows, size=args.removals, replace=False)]
    dataset = ds.dataset(args.data, format="parquet")
    rows = dataset.to_table(columns=[*features, "y", "id"], filter=pc.field("id").isin(ids))
    report["fetched_chunks"] = rows["id"].num_chunks
    times: dict[str, list[float]] = {"table": [], "arrays": [], "in_process": [], "convert": []}
    pass_free = []
    for i in ids:
        row = rows.filter(pc.equal(rows["id"], i))
        start = time.perf_counter()
        x = np.column_stack([row[f].to_numpy() for f in features])
        label = row["y"].to_numpy()
        times["convert"].append(time.perf_counter() - start)
        start = time.perf_counter()
        from_table = by_table.remove([str(i)], rows=row)
        times["table"].append(time.perf_counter() - start)
        start = time.perf_counter()
        from_arrays = by_arrays.remove([str(i)], X=x, y=label)
        times["arrays"].append(time.perf_counter() - start)
        if from_arrays != from_table:
            raise SystemExit(f"id {i}: the array path's certificate differs from the table path's")
        pass_free.append(from_table.bounds["cached_hessian"])
        start = time.perf_counter()
        local.remove([str(i)])
        times["in_process"].append(time.perf_counter() - start)
    for name, values in times.items():
        # On a loaded machine the low decile is the least disturbed estimate of the cost.
        report[f"{name}_median_ms"] = 1e3 * float(np.median(values))
        report[f"{name}_p10_ms"] = 1e3 * float(np.percentile(values, 10))
    for name, values in times.items():
        report[f"{name}_ms"] = [round(1e3 * t, 3) for t in values]
    report.update(pass_free=pass_free, load_after=os.getloadavg())
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
