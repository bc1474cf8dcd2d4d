"""Training on a Spark DataFrame, and removal whose rows stay in the user's table.

The mathematics splits along what it needs from the rows. Training, an exact step and a
refresh need only sums over rows — loss, gradient, the Hessian's lower triangle, the Gram
matrix, per-class counts, the largest row norm — which the core computes per Arrow batch
(``_unlearn.partial_sums``) and merges in any order with rounding bounds that hold for
every order (``_unlearn.merge_partials``; proofs/distributed_sums.md). A removal step needs
only the d x d state the driver keeps plus the removed rows.

So :func:`fit` runs each Newton iteration as one pass: ``df.mapInArrow`` turns every
partition's batches into one partial (merged inside the task), a tree reduction merges the
partials (``RDD.treeReduce``), and the driver (``_unlearn.DistributedFit``) takes the
Newton step, the Cholesky solve, the certified ||X||_2 bound and the release. The rows never
reach the driver; the estimator it returns keeps the weights, the noise key, the caches
and the ledger, and its rows are "external": they live in the table.

:func:`remove` fetches the removed rows from the table by id or subject (a filter), gives
them to the estimator's O(d^2) removal step on the driver, and only when the removal
schedule asks for an exact step or a re-solve runs a pass over the remaining rows and
finishes the request from those sums. With a Delta table as the source it then erases the
rows from the lake (:mod:`unlearn.lake`), in the same call.

Partial sums are sums over secret rows: they travel from the executors to the driver
inside one job (task results and the reduction's shuffle), and are never logged or written
to a file by this module. Preprocessing is the estimator's fixed constants (``clip_norm``,
the intercept column), applied to each row on its own: nothing is fitted per partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from . import _unlearn, lake
from ._certificate import Certificate, _Record

#: Depth of the tree reduction (``RDD.treeReduce``): with P partitions the driver receives
#: about P^(1/depth) partials per pass instead of P.
TREE_DEPTH = 2

# Rows per Arrow batch when a task reads a Parquet file itself (a batch's partial sums are
# computed in one call; larger batches amortise the call, smaller ones bound its memory).
_FILE_BATCH_ROWS = 65_536


@dataclass(frozen=True)
class Removal(_Record):
    """What :func:`remove` did: the certificate, the passes it ran, the lake erasure.

    Attributes
    ----------
    certificate : Certificate
        The new ledger entry.
    passes : int
        Spark passes over the remaining rows the request needed (0 on the pass-free path).
    lake : LakeErasure or None
        The erasure from the Delta table, when the source was one.
    """

    certificate: Certificate
    passes: int
    lake: lake.LakeErasure | None


class LakeErasureIncomplete(_unlearn.UnlearnError):
    """The model removal is done and recorded, but erasing the rows from the lake failed.

    ``.certificate`` is the removal's ledger entry. The lake erasure is idempotent: run
    :func:`unlearn.lake.erase_from_delta` again with the same ids or subjects (and
    ``ledger_entry=certificate.digest``).
    """


def read_delta(spark: Any, path: str | Path, storage_options: dict[str, str] | None = None):
    """Read a Delta table's current snapshot into a DataFrame, without delta-spark.

    Spark reads the snapshot's live Parquet files (``unlearn.lake.live_files``), with the
    table root as ``basePath`` so partition columns come back.

    Parameters
    ----------
    spark : SparkSession
    path : str or Path
        The table.
    storage_options : dict, optional
        delta-rs storage options (credentials of an object store).

    Returns
    -------
    DataFrame
    """
    files = lake.live_files(str(path), storage_options=storage_options)
    if not files:
        raise ValueError(f"{path}: the Delta table's snapshot has no data file (no rows)")
    return spark.read.option("basePath", str(path)).parquet(*files)


def _labels(df: Any, target: str) -> np.ndarray:
    """Return the distinct labels of ``target`` (one small Spark job), for the encoding."""
    rows = df.select(target).distinct().collect()
    labels = [r[0] for r in rows]
    if any(v is None for v in labels):
        raise ValueError(f"column '{target}' has missing labels (nulls): drop or fill them")
    return np.array(sorted(labels))


def _one_pass(df: Any, spec: bytes, query: bytes, depth: int) -> bytes:
    """Return the merged partial sums of every row of ``df`` at the query's weights.

    Each task merges its partition's batches into one partial; the partials are then
    tree-reduced. Any merge order is covered by the same rounding bounds.
    """

    def partials(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from unlearn import _unlearn as core

        total = None
        for batch in batches:
            if batch.num_rows == 0:
                continue
            part = core.partial_sums(batch, query, spec)
            total = part if total is None else core.merge_partials(total, part)
        if total is not None:
            yield pa.RecordBatch.from_pydict({"partial": pa.array([total], pa.binary())})

    rdd = df.mapInArrow(partials, "partial binary").rdd.map(lambda row: bytes(row[0]))
    return _reduce(rdd, depth)


def _reduce(rdd: Any, depth: int) -> bytes:
    """Tree-reduce an RDD of partials (bytes) with the core's merge."""
    try:
        return rdd.treeReduce(_unlearn.merge_partials, depth=depth)
    except ValueError as e:
        if "empty" in str(e).lower():
            raise ValueError("the table has no rows to train on") from None
        raise


def _file_pass(
    session: Any, files: list[str], columns: list[str], spec: Any, query: bytes, depth: int
) -> bytes:
    """Like :func:`_one_pass`, over Parquet files each task reads itself with pyarrow.

    One task per file; Spark schedules them, retries a failed one and reduces the partials.
    The rows go from Parquet to Arrow in the Python worker, skipping Spark's row-to-Arrow
    conversion (``mapInArrow`` feeds Python through it: half of a pass's time at 100
    columns, BENCHMARKS.md).
    """

    def partials(paths: Iterator[str]) -> Iterator[bytes]:
        import pyarrow.fs as pafs
        import pyarrow.parquet as pq

        from unlearn import _unlearn as core

        total = None
        for uri in paths:
            fs, path = pafs.FileSystem.from_uri(uri)
            with fs.open_input_file(path) as handle:
                reader = pq.ParquetFile(handle)
                for batch in reader.iter_batches(batch_size=_FILE_BATCH_ROWS, columns=columns):
                    if batch.num_rows == 0:
                        continue
                    part = core.partial_sums(batch, query, spec)
                    total = part if total is None else core.merge_partials(total, part)
        if total is not None:
            yield total

    rdd = session.sparkContext.parallelize(files, len(files)).mapPartitions(partials)
    return _reduce(rdd, depth)


@dataclass(frozen=True)
class _Rows:
    """Where a fit's passes read the rows: a DataFrame, or the Parquet files of a snapshot.

    ``df`` serves the small jobs (the label set, filters by id); ``files``, when set, are
    what every pass reads instead of ``df`` (a Delta snapshot's live files: the same rows
    on every pass, read by pyarrow in the tasks).
    """

    df: Any
    files: list[str] | None = None


def _rows_of(source: Any, session: Any, storage_options: dict[str, str] | None) -> _Rows:
    """Take a DataFrame as given, a Delta table path as its snapshot's live files."""
    if hasattr(source, "mapInArrow"):
        return _Rows(source)
    from pyspark.sql import SparkSession

    session = session or SparkSession.getActiveSession()
    if session is None:
        raise ValueError(f"{source}: no active Spark session to read it with: pass session=...")
    files = lake.live_files(str(source), storage_options=storage_options)
    if not files:
        raise ValueError(f"{source}: the Delta table's snapshot has no data file (no rows)")
    return _Rows(session.read.option("basePath", str(source)).parquet(*files), files)


def _pass(rows: _Rows, columns: list[str], spec: Any, query: bytes, depth: int) -> bytes:
    """One pass: the merged partial sums of every row at the query's weights."""
    if rows.files is None:
        return _one_pass(rows.df.select(*columns), spec, query, depth)
    session = rows.df.sparkSession
    return _file_pass(session, rows.files, columns, spec, query, depth)


def solve(
    source: Any,
    estimator: Any,
    *,
    features: Iterable[str],
    target: str,
    session: Any = None,
    max_passes: int = 100,
    depth: int = TREE_DEPTH,
    storage_options: dict[str, str] | None = None,
) -> Any:
    """Run the distributed Newton iteration to convergence; return the driver.

    The first step of :func:`fit` (which then builds the estimator from it), useful alone
    to audit a distributed fit: ``solve(...).compare(in_process._unlearner)`` gives the
    distance between the two fits' secret weights and the bound it must meet,
    ``.summary()`` the passes and the bounds.

    Parameters
    ----------
    source, estimator, features, target, session, max_passes, depth, storage_options
        As for :func:`fit`.

    Returns
    -------
    unlearn._unlearn.DistributedFit
        Converged: it holds the secret weights and the sums at them (never exposed).
    """
    rows = _rows_of(source, session, storage_options)
    features = [str(f) for f in features]
    if estimator._loss == "logistic":
        labels = _labels(rows.df, target) if estimator.classes is None else estimator.classes
    else:
        labels = np.zeros(1)
    _, encoding, _ = estimator._encode(np.asarray(labels))
    driver = _unlearn.DistributedFit(estimator._core_params(), features, encoding, target)
    spec = driver.spec()
    columns = [*features, target]
    while not driver.absorb(_pass(rows, columns, spec, driver.weights(), depth)):
        if driver.passes >= max_passes:
            raise _unlearn.UnlearnError(
                f"the distributed fit did not converge in {max_passes} passes: raise "
                "max_passes, or check the features' scaling and the estimator's tol"
            )
    return driver
