#!/usr/bin/env python3
"""Training on Spark against one process and against Spark MLlib; removal after each.

Issue 14's targets, in one run on one machine (local[2]: two task threads):
1. the data: ``--rows`` x ``--features`` (5,000,000 x 100 by default) seeded synthetic
   rows of norm at most 1 (features N(0, 1/d), scaled down to norm 1 when above), labels
   from a logistic model with a fixed direction, ids 0..n-1; written once as Parquet files
   of ``--rows-per-file`` rows under ``--data`` and reused by later runs;
2. **single process**: the files read with pyarrow into one table (timed apart), then
   ``CertifiedLogisticRegression.fit`` on it (the time the target compares);
3. **Spark**: ``unlearn.spark.fit`` on the files as a Delta table (a log written over them
   in place): the label set (a JVM ``distinct`` on the target column), then Newton passes
   of one task per file and a tree reduction of the partial sums; the first pass reads each
   file with pyarrow and keeps its prepared batches in Spark's memory store, the later
   passes sum those (``cache=True``, the default); the time is everything from the path to
   the fitted estimator. ``--uncached`` also times ``cache=False`` (every pass reads the
   files again: the route before the cache), right after;
4. **Spark MLlib**: ``pyspark.ml.classification.LogisticRegression`` on the same DataFrame
   (a ``VectorAssembler`` of the feature columns, cached as MLlib's docs advise; caching
   and assembling timed apart), on the same objective: MLlib minimises
   (1/n) sum_i loss_i + (regParam/2) ||w||^2 with the intercept unpenalised, unlearn's
   "per-sample" convention sum_i loss_i + (lambda n / 2) ||w||^2 (n times it), so
   regParam = lambda = 1 / C and the intercept is the only difference (unlearn's is
   penalised); ``standardization=False``. Per-sample lambda = 1e-4 and ``--tol 1e-2``
   by default: at 5,000,000 rows the certified bound on the gradient norm cannot go below
   ~2e-3 (its rounding error grows with n; the core refuses a smaller tolerance), and
   Lambda = lambda n = 500 keeps the weights within tol / Lambda = 2e-5 of the optimum.
   "The same tolerance": MLlib's ``tol`` is a relative change of the loss between L-BFGS
   iterations, unlearn's a certified bound on the gradient norm; MLlib's weights are
   therefore scored by the gradient norm of its own objective in unlearn's units (a sum
   over rows), streamed over the files with numpy, next to unlearn's certified bound;
5. **removal** (``--removals K``): K single-row removals by id on the estimator the Spark
   fit returned (the driver's step, the row fetched beforehand by one Spark filter, timed
   apart) and on the in-process estimator; medians;
6. **pass times** (``--pass-times K``): K passes at the first query through
   ``unlearn.spark._Passes`` without and with the cache, alternating twice (the first
   cached pass reads and caches, the later ones sum the cache), with what Spark's storage
   holds;
7. **routes** (``--route-files N``): one pass over the first N files through each route
   (``mapInArrow`` on a DataFrame, or the files read by pyarrow in the tasks), and what
   Spark's row-to-Arrow conversion costs alone;
8. **where a pass goes** (``--pass-profile K``): K rounds of one Newton pass over the
   files with timers in every task (CPU and wall seconds reading the Parquet file into
   Arrow batches, summing them, merging; the worker's pid, its page faults during the
   task, its resident and peak memory after it), the sums on the task's cores
   (``spark.task.cpus``, what ``unlearn.spark`` does) and on every core of the machine
   (what it did before), each in workers with pyarrow's pool keeping its freed pages
   (``unlearn.spark._kept_pages``, what the passes do) and in the session's plain workers,
   alternating; the pass's wall time against the tasks' summed wall time over the task
   slots (the rest is Spark's scheduling, the reduction, and the driver).

Prints one JSON object. Usage (after scripts/test, which builds the venv):
    target/python-venv/bin/python scripts/spark_bench.py [--rows 5000000 --features 100
        --data target/spark-bench-data --removals 10 --skip-mllib]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent


def generate(directory: Path, rows: int, features: int, rows_per_file: int, seed: int) -> None:
    """Write the seeded rows as Parquet files (skipped when the directory is complete)."""
    marker = directory / "_COMPLETE"
    if marker.exists() and marker.read_text() == f"{rows} {features} {rows_per_file} {seed}":
        return
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.parquet"):
        old.unlink()
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=features)
    direction *= 4.0 / np.linalg.norm(direction)
    for start in range(0, rows, rows_per_file):
        m = min(rows_per_file, rows - start)
        x = rng.normal(scale=1.0 / np.sqrt(features), size=(m, features))
        norms = np.linalg.norm(x, axis=1)
        x /= np.maximum(norms, 1.0)[:, None]
        p = 1.0 / (1.0 + np.exp(-(x @ direction)))
        y = (rng.random(m) < p).astype(np.int64)
        columns = {"id": pa.array(np.arange(start, start + m, dtype=np.int64))}
        columns.update({f"x{j}": pa.array(x[:, j]) for j in range(features)})
        columns["y"] = pa.array(y)
        pq.write_table(pa.table(columns), directory / f"part-{start // rows_per_file:05d}.parquet")
    marker.write_text(f"{rows} {features} {rows_per_file} {seed}")


def session(memory: str):
    """Start a local[2] Spark session: two task threads, the UI off, quiet logs."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("unlearn-spark-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", memory)
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def timed(f):
    """Run ``f()``; return (its result, seconds)."""
    start = time.perf_counter()
    out = f()
    return out, time.perf_counter() - start


def mllib_fit(df, features: list[str], lam: float, tol: float, max_iter: int) -> dict:
    """MLlib's LogisticRegression on the same rows and objective; its weights and times."""
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    assembled = VectorAssembler(inputCols=features, outputCol="features").transform(df)
    assembled = assembled.select("features", "y").cache()
    _, cache_seconds = timed(assembled.count)
    model, fit_seconds = timed(
        lambda: LogisticRegression(
            featuresCol="features",
            labelCol="y",
            regParam=lam,
            elasticNetParam=0.0,
            standardization=False,
            fitIntercept=True,
            tol=tol,
            maxIter=max_iter,
        ).fit(assembled)
    )
    assembled.unpersist()
    weights = np.append(model.coefficients.toArray(), model.intercept)
    return {
        "assemble_and_cache_seconds": cache_seconds,
        "fit_seconds": fit_seconds,
        "iterations": model.summary.totalIterations,
        "weights": weights,
    }


def estimator(args: argparse.Namespace) -> Any:
    """Return the estimator both unlearn fits use (per-sample lambda = 1 / C; --tol, --budget)."""
    from unlearn import CertifiedLogisticRegression

    return CertifiedLogisticRegression(
        C=args.C, regularization="per-sample", tol=args.tol, budget=args.budget
    )


def spark_fit(spark: Any, args: argparse.Namespace, features: list[str], cache: bool | None):
    """``unlearn.spark.fit`` of the benchmark's estimator on the Delta table at ``--data``."""
    from unlearn import spark as uspark

    return uspark.fit(
        str(args.data), estimator(args), features=features, target="y", session=spark, cache=cache
    )


def local_fit(directory: Path, features: list[str], est: Any) -> tuple[Any, dict]:
    """Fit in process on the same rows: read with pyarrow (timed apart), then fit."""
    import pyarrow.dataset as ds

    table, read_seconds = timed(
        lambda: ds.dataset(directory, format="parquet").to_table(columns=[*features, "y"])
    )
    y = table["y"].to_numpy()
    # ids=None: the core's default ids "0".."n-1" are the table's ids (0..n-1) as text.
    est, fit_seconds = timed(lambda: est.fit(table.select(features), y))
    return est, {"read_seconds": read_seconds, "fit_seconds": fit_seconds}


def gradient_norm(directory: Path, features: list[str], w: np.ndarray, lam: float) -> float:
    """||sum_i l'(w.x_i, y_i) [x_i, 1] + lambda n [w_x, 0]|| over the files, streamed.

    The gradient of MLlib's objective (intercept unpenalised) multiplied by n, i.e. in
    unlearn's units (a sum over rows, Lambda = lambda n), at MLlib's weights ``w`` (the
    coefficients, then the intercept).
    """
    gradient = np.zeros(len(w))
    n = 0
    for path in sorted(directory.glob("*.parquet")):
        table = pq.read_table(path, columns=[*features, "y"])
        x = np.column_stack([table[f].to_numpy() for f in features] + [np.ones(table.num_rows)])
        sign = np.where(table["y"].to_numpy() == 1, 1.0, -1.0)
        derivative = -sign / (1.0 + np.exp(sign * (x @ w)))
        gradient += x.T @ derivative
        n += table.num_rows
    gradient[:-1] += lam * n * w[:-1]
    return float(np.linalg.norm(gradient))


def routes(spark: Any, directory: Path, files: int, features: list[str], est: Any) -> dict:
    """One pass (the first, with the Gram matrix) by each route over the first ``files``.

    ``mapInArrow`` (a DataFrame: Spark reads Parquet and converts rows to Arrow for Python)
    against the files read by pyarrow in the tasks (a Delta snapshot), and what Spark's
    conversion alone costs: the same ``mapInArrow`` counting rows, and a JVM-only sum.
    """
    from unlearn import _unlearn
    from unlearn import spark as uspark

    paths = [str(p.resolve()) for p in sorted(directory.glob("*.parquet"))[:files]]
    df = spark.read.parquet(*paths)
    labels = np.array(sorted(r[0] for r in df.select("y").distinct().collect()))
    _, encoding, _ = est._encode(labels)
    driver = _unlearn.DistributedFit(est._core_params(), features, encoding, "y")
    spec, query, columns = driver.spec(), driver.weights(), [*features, "y"]

    def count(batches):
        yield pa.RecordBatch.from_pydict({"n": [sum(b.num_rows for b in batches)]})

    selected = df.select(*columns)
    out: dict = {"rows": df.count()}
    selected.mapInArrow(count, "n long").collect()  # warm-up: Python workers started
    out["load_before"] = os.getloadavg()
    for name, rows in [
        ("map_in_arrow_seconds", uspark._Rows(df)),
        ("parquet_files_seconds", uspark._Rows(df, [Path(p).as_uri() for p in paths])),
    ]:
        _, out[name] = timed(lambda rows=rows: uspark._pass(rows, columns, spec, query, 2))
    _, out["map_in_arrow_count_only_seconds"] = timed(
        lambda: selected.mapInArrow(count, "n long").collect()
    )
    _, out["jvm_sum_seconds"] = timed(lambda: df.agg({"x0": "sum"}).collect())
    out["load_after"] = os.getloadavg()
    return out


def pass_times(spark: Any, args: argparse.Namespace, features: list[str], est: Any) -> list:
    """Seconds of ``args.pass_times`` passes, uncached then cached, alternating twice."""
    from unlearn import _unlearn
    from unlearn import spark as uspark

    rows = uspark._rows_of(str(args.data), spark, None)
    _, encoding, _ = est._encode(np.array([0, 1]))
    driver = _unlearn.DistributedFit(est._core_params(), features, encoding, "y")
    spec, query = driver.spec(), driver.weights()
    out = []
    for cache in [False, True, False, True]:
        with uspark._Passes(rows, [*features, "y"], spec, 2, cache) as passes:
            seconds = [timed(lambda: passes(query))[1] for _ in range(args.pass_times)]
            storage = spark.sparkContext._jsc.sc().getRDDStorageInfo()
            cached = [(i.numCachedPartitions(), i.memSize()) for i in storage]
        out.append(
            {
                "cache": cache,
                "seconds": seconds,
                "cached": cached,
                "load": os.getloadavg(),
            }
        )
    return out


def _memory_mb() -> dict:
    """Return this process's resident and peak resident memory (MB): /proc/self/status."""
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {
        name: int(fields[key].split()[0]) // 1024
        for name, key in [("rss_mb", "VmRSS"), ("peak_rss_mb", "VmHWM")]
    }


def profiled_pass(
    spark: Any, files: list[str], spec: Any, query: bytes, all_cores: bool, kept: bool
) -> dict:
    """One pass over ``files`` (one task each), every task timing its stages.

    ``kept``: the pass's function defined inside ``unlearn.spark._kept_pages`` (its workers
    keep pyarrow's freed pages, as the passes of a fit do), else in the plain workers.
    """
    from unlearn import _unlearn
    from unlearn import spark as uspark

    columns = [*spec["feature_names"], spec["target_column"]]

    def task(paths):
        start_cpu, start = time.process_time(), time.perf_counter()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        threads = None if all_cores else uspark._task_threads()
        stages = {"read": [0.0, 0.0], "sums": [0.0, 0.0]}
        partials, batches, rows = [], uspark._file_batches(paths, columns, threads), 0
        while True:
            cpu, wall = time.process_time(), time.perf_counter()
            batch = next(batches, None)
            stages["read"][0] += time.process_time() - cpu
            stages["read"][1] += time.perf_counter() - wall
            if batch is None:
                break
            rows += batch.num_rows
            cpu, wall = time.process_time(), time.perf_counter()
            partials.append(_unlearn.partial_sums(batch, query, spec, threads=threads))
            stages["sums"][0] += time.process_time() - cpu
            stages["sums"][1] += time.perf_counter() - wall
        total = uspark._merged(partials)
        stages["task"] = [time.process_time() - start_cpu, time.perf_counter() - start]
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        yield (
            total,
            {
                "stages": stages,
                "rows": rows,
                "pid": os.getpid(),
                "threads": threads,
                "faults": faults,
                "memory": _memory_mb(),
                "environment": os.environ.get("MIMALLOC_PURGE_DELAY"),
            },
        )

    load = os.getloadavg()
    with uspark._kept_pages(spark) if kept else contextlib.nullcontext():
        rdd = spark.sparkContext.parallelize(files, len(files)).mapPartitions(task)
        out, wall = timed(rdd.collect)
    uspark._merged(p for p, _ in out)  # the driver's merge (the same bits in any order)
    slots = spark.sparkContext.defaultParallelism
    sums = {
        name: [sum(t["stages"][name][i] for _, t in out) for i in range(2)]
        for name in ["read", "sums", "task"]
    }
    workers = {}
    for _, t in out:  # each worker's memory after its last task of the pass
        workers[t["pid"]] = t["memory"]
    faults = sorted(t["faults"] for _, t in out)
    return {
        "all_cores": all_cores,
        "kept_pages": kept,
        "worker_environment": sorted({str(t["environment"]) for _, t in out}),
        "threads": out[0][1]["threads"],
        "pass_seconds": wall,
        "tasks_cpu_seconds": {k: v[0] for k, v in sums.items()},
        "tasks_wall_seconds": {k: v[1] for k, v in sums.items()},
        "tasks_wall_per_slot_seconds": sums["task"][1] / slots,
        "workers": len(workers),
        "worker_memory_mb": workers,
        "task_faults": {"median": faults[len(faults) // 2], "min": faults[0], "max": faults[-1]},
        "task_cpu_seconds_median": sorted(t["stages"]["task"][0] for _, t in out)[len(out) // 2],
        "rows": sum(t["rows"] for _, t in out),
        "load": [load, os.getloadavg()],
    }


def pass_profile(spark: Any, args: argparse.Namespace, features: list[str], est: Any) -> list:
    """Run ``args.pass_profile`` rounds of a profiled Newton pass.

    Task cores then all cores, each in the session's plain workers and then in workers
    keeping pyarrow's freed pages.
    """
    from unlearn import _unlearn
    from unlearn import spark as uspark

    rows = uspark._rows_of(str(args.data), spark, None)
    _, encoding, _ = est._encode(np.array([0, 1]))
    driver = _unlearn.DistributedFit(est._core_params(), features, encoding, "y")
    spec = driver.spec()
    driver.absorb(uspark._pass(rows, [*features, "y"], spec, driver.weights(), 2, None))
    query = driver.weights()  # a Newton pass's: value, gradient, Hessian
    return [
        profiled_pass(spark, rows.files, spec, query, all_cores, kept)
        for _ in range(args.pass_profile)
        for all_cores in [False, True]
        for kept in [False, True]
    ]


def removals(spark: Any, args: argparse.Namespace, est: Any, local: Any) -> dict:
    """Single-row removals by id: after the Spark fit (the row given) and in process.

    The rows are fetched once, by one Spark filter (timed apart: a scan of the table);
    each removal after the Spark fit is then the driver's step alone, ``est.remove(id,
    rows=row)``, against the in-process estimator's ``remove(id)``, alternating.
    """
    import pyarrow.compute as pc
    from pyspark.sql import functions as F

    rng = np.random.default_rng(args.seed + 1)
    ids = [int(i) for i in rng.choice(args.rows, size=args.removals, replace=False)]
    columns = [f"x{j}" for j in range(args.features)] + ["y", "id"]
    df = spark.read.parquet(str(args.data))
    rows, fetch = timed(lambda: df.filter(F.col("id").isin(ids)).select(*columns).toArrow())
    spark_times, local_times, paths = [], [], []
    for i in ids:
        row = rows.filter(pc.equal(rows["id"], i))
        certificate, seconds = timed(lambda row=row, i=i: est.remove([str(i)], rows=row))
        spark_times.append(seconds)
        paths.append(certificate.bounds["cached_hessian"])
        _, seconds = timed(lambda i=i: local.remove([str(i)]))
        local_times.append(seconds)
    return {
        "fetch_seconds": fetch,
        "after_spark_fit_median_seconds": float(np.median(spark_times)),
        "in_process_median_seconds": float(np.median(local_times)),
        "pass_free": paths,
        "load": os.getloadavg(),
    }


def measured(report: dict) -> None:
    """Print what is measured so far to stderr (a later stage may fail or be killed)."""
    print(json.dumps(report), file=sys.stderr, flush=True)


def main() -> None:
    """Run the benchmark and print its JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--rows-per-file", type=int, default=250_000)
    parser.add_argument("--data", type=Path, default=REPO / "target" / "spark-bench-data")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--C", type=float, default=1e4)
    parser.add_argument("--tol", type=float, default=1e-2)
    # A lifetime budget that affords pass-free steps here (at 0.01, the default, the first
    # tracked bound already needs a measured residual: a pass over the rows).
    parser.add_argument("--budget", type=float, default=1.0)
    parser.add_argument("--mllib-tol", type=float, default=1e-6)
    parser.add_argument("--mllib-max-iter", type=int, default=100)
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--skip-mllib", action="store_true")
    parser.add_argument("--skip-fit", action="store_true")
    parser.add_argument(
        "--cache",
        choices=["auto", "on", "off"],
        default="auto",
        help="the Spark fit's cache: unlearn.spark's choice (auto), or forced on or off",
    )
    parser.add_argument(
        "--uncached",
        action="store_true",
        help="also time the Spark fit with cache=False",
    )
    parser.add_argument("--removals", type=int, default=0, help="single-row removals to time")
    parser.add_argument(
        "--pass-times",
        type=int,
        default=0,
        help="time K passes uncached and cached, twice",
    )
    parser.add_argument(
        "--route-files",
        type=int,
        default=0,
        help="time one pass by each route over N files",
    )
    parser.add_argument(
        "--pass-profile",
        type=int,
        default=0,
        help="K rounds of a pass with per-task timers",
    )
    args = parser.parse_args()

    from deltalake import DeltaTable, convert_to_deltalake

    generate(args.data, args.rows, args.features, args.rows_per_file, args.seed)
    if not (args.data / "_delta_log").exists():
        # A Delta log over the Parquet files in place: what `unlearn.spark` reads on a lake.
        convert_to_deltalake(str(args.data))
    assert len(DeltaTable(str(args.data)).file_uris()) == -(-args.rows // args.rows_per_file)
    features = [f"x{j}" for j in range(args.features)]
    report: dict = {"rows": args.rows, "features": args.features}

    local = None
    if not args.skip_local:
        report["single_process"] = {"load_before": os.getloadavg()}
        local, times = local_fit(args.data, features, estimator(args))
        report["single_process"].update(times, load_after=os.getloadavg())
        measured(report)
        if not args.removals:
            local = None
    spark = session(args.driver_memory)
    if not args.skip_fit:
        report["spark"] = {"load_before": os.getloadavg()}
        cache = {"auto": None, "on": True, "off": False}[args.cache]
        est, seconds = timed(lambda: spark_fit(spark, args, features, cache))
        training = est.certificates_[0].bounds
        report["spark"].update(
            cache=args.cache,
            fit_seconds=seconds,
            load_after=os.getloadavg(),
            passes=est.spark_passes_,
            gradient_bound=training["exact_residual"],
        )
        if args.uncached:
            load = os.getloadavg()
            uncached, seconds = timed(lambda: spark_fit(spark, args, features, False))
            report["spark_uncached"] = {
                "load_before": load,
                "fit_seconds": seconds,
                "load_after": os.getloadavg(),
                "passes": uncached.spark_passes_,
                "gradient_bound": uncached.certificates_[0].bounds["exact_residual"],
            }
        if args.removals and local is not None:
            report["removal"] = removals(spark, args, est, local)
    measured(report)
    if args.pass_times:
        report["pass_times"] = pass_times(spark, args, features, estimator(args))
    if args.route_files:
        report["routes"] = routes(spark, args.data, args.route_files, features, estimator(args))
    if args.pass_profile:
        report["pass_profile"] = pass_profile(spark, args, features, estimator(args))
    measured(report)
    if not args.skip_mllib:
        df = spark.read.parquet(str(args.data))
        report["mllib"] = {
            "load_before": os.getloadavg(),
            "partitions": df.rdd.getNumPartitions(),
        }
        mllib = mllib_fit(df, features, 1.0 / args.C, args.mllib_tol, args.mllib_max_iter)
        weights = mllib.pop("weights")
        report["mllib"].update(mllib, load_after=os.getloadavg())
        report["mllib"]["gradient_norm"] = gradient_norm(args.data, features, weights, 1 / args.C)
    spark.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
