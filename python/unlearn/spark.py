"""Training on a Spark DataFrame, and removal whose rows stay in the user's table.

The mathematics splits along what it needs from the rows. Training, an exact step and a
refresh need only sums over rows — loss, gradient, the Hessian's lower triangle, the Gram
matrix, per-class counts, the largest row norm — which the core computes per Arrow batch
(``_unlearn.partial_sums``) and merges in any order with rounding bounds that hold for
every order (``_unlearn.merge_partials``; proofs/distributed_sums.md). A removal step needs
only the d x d state the driver keeps plus the removed rows.

So :func:`fit` runs each Newton iteration as one pass: every partition's batches become
one partial (merged inside the task), a tree reduction merges the partials
(``RDD.treeReduce``), and the driver (``_unlearn.DistributedFit``) takes the Newton step,
the Cholesky solve, the certified ||X||_2 bound and the release. The rows never reach the
driver; the estimator it returns keeps the weights, the noise key, the caches and the
ledger, and its rows are "external": they live in the table.

Reading the rows (Parquet, or Spark's rows converted to Arrow, then Arrow to preprocessed
rows) costs more than the sums themselves, and every pass sums the same rows: with the
cache the first pass reads each batch once into the core's prepared rows
(``_unlearn.prepare_rows``), Spark keeps them in its memory store
(``persist(MEMORY_ONLY)``: never spilled to a file), and every pass sums them
(``_unlearn.prepared_sums``, the same sums bit for bit). Spark guarantees the cache by
lineage: a partition evicted or lost is read again from the source, so a cache miss costs
time, never correctness. The cache lives for one :func:`solve` (or one removal's re-solve
and refresh) and is dropped after it. By default (``cache=None``) it is used only when the
prepared rows fit the storage memory Spark never evicts for execution
(:func:`_cache_fits`, from the rows' size and Spark's memory, never from their values):
a cache that does not fit is partly dropped, and a pass then both reads the dropped
partitions again and moves the rest from the JVM to Python (BENCHMARKS.md, "5,000,000 x
100, round 3").

The passes' Python workers run with pyarrow's allocator keeping the pages it frees
(:func:`_kept_pages`): returned to the kernel, they were faulted in and zeroed again for
every batch, about half a task's CPU at 5,000,000 x 100 (BENCHMARKS.md, "round 5").

Each task sums on as many threads as Spark gave it cores (``spark.task.cpus``,
:func:`_task_threads`): the tasks running at once then share the executor's cores instead
of each starting one thread per core of the machine.

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

import os
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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

#: The environment of the Python workers that run the passes (:func:`_kept_pages`).
_WORKER_ENVIRONMENT = {"MIMALLOC_PURGE_DELAY": "-1"}

# Passes running now (across driver threads) and the variables they added to the session's
# worker environment, removed again when the last one ends.
_kept_lock = threading.Lock()
_kept_users = 0
_kept_added: list[str] = []


@contextmanager
def _kept_pages(session: Any) -> Iterator[None]:
    """Launch the Python workers of the jobs defined inside with pyarrow's pool keeping pages.

    pyarrow's default pool (mimalloc) returns the pages it frees to the kernel 10 ms later
    (``MIMALLOC_PURGE_DELAY``, 10 by default), so each batch a task decodes lands in fresh
    pages the kernel faults in and zeroes. With the delay at -1 (never) mimalloc reuses
    them: a task of a pass over a 250,000 x 101 file faulted 3,800 times instead of 33,500
    and read its file in 0.56 CPU s instead of 0.97 (BENCHMARKS.md, "5,000,000 x 100,
    round 5"). Memory freed stays with the worker's pool for its next batch, so a worker
    holds its peak (one batch's decoding) instead of returning it between batches.

    mimalloc reads the variable once, when pyarrow loads, so it cannot be set inside a
    task. It is set where Spark takes the workers' environment from: PySpark captures
    ``SparkContext.environment`` into each Python function when the function is defined
    (a DataFrame's ``mapInArrow``, an RDD's pipeline at its first action), and Spark
    launches the workers of a function with that environment — a pool of workers of their
    own, keyed by it, on every executor, local mode or a cluster. So only unlearn's passes
    get it: the driver's process and the session's other Python functions (defined outside
    this block) are untouched, and it is removed when the last pass running ends. A value
    the session (``spark.executorEnv.MIMALLOC_PURGE_DELAY``) or the driver's environment
    (which local-mode workers inherit) already sets is kept.

    The dict is rebound, never changed in place (review 12, finding 2): PySpark hands
    ``SparkContext.environment`` itself to the JVM one key at a time (py4j's map
    converter), so another driver thread defining a Python function meanwhile would
    iterate a dict changing size. What rebinding cannot prevent: a function another
    driver thread defines while a pass runs captures the variable too (its workers keep
    their peak pages: more memory, the same results), a value set for the same name
    in the session during a pass is dropped with it when the last pass ends, and code that
    kept a reference to ``sc.environment`` from before a pass and writes into it during or
    after the pass writes into a dict Spark no longer reads (look it up again instead).
    """
    global _kept_users
    context = session.sparkContext
    with _kept_lock:
        if _kept_users == 0:
            added = {
                name: value
                for name, value in _WORKER_ENVIRONMENT.items()
                if name not in context.environment and name not in os.environ
            }
            if added:
                context.environment = {**context.environment, **added}
            _kept_added.extend(added)
        _kept_users += 1
    try:
        yield
    finally:
        with _kept_lock:
            _kept_users -= 1
            if _kept_users == 0 and _kept_added:
                try:
                    # dict() copies in one step under the GIL: iterating the live dict
                    # could meet another thread's `sc.environment[k] = v` (review 13, F3).
                    current = dict(context.environment)
                    context.environment = {
                        name: value for name, value in current.items() if name not in _kept_added
                    }
                finally:
                    _kept_added.clear()


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
    rows = _rows_of(str(path), spark, storage_options)
    _read_snapshots[rows.df] = rows.listed
    return rows.df


def _labels(df: Any, target: str) -> np.ndarray:
    """Return the distinct labels of ``target`` (one small Spark job), for the encoding."""
    rows = df.select(target).distinct().collect()
    labels = [r[0] for r in rows]
    if any(v is None for v in labels):
        raise ValueError(f"column '{target}' has missing labels (nulls): drop or fill them")
    return np.array(sorted(labels))


def _task_threads() -> int | None:
    """Return the cores Spark gave the running task (``spark.task.cpus``): the sums' threads.

    None outside a task (the sums then use one thread per core).
    """
    from pyspark import TaskContext

    context = TaskContext.get()
    return None if context is None else context.cpus()


def _merged(parts: Iterable[bytes]) -> bytes | None:
    """Merge one task's partials into one (None when the task had no rows)."""
    total = None
    for part in parts:
        total = part if total is None else _unlearn.merge_partials(total, part)
    return total


def _file_batches(
    uris: Iterable[str], columns: list[str], threads: int | None = None
) -> Iterator[pa.RecordBatch]:
    """Yield the non-empty Arrow batches of Parquet files, read with pyarrow (in a task).

    Only ``columns`` are decoded. Each row group's column chunks are fetched in a few
    coalesced reads before decoding (``pre_buffer``), and with ``threads`` = 1 (a task
    holding one core) decoded on the task's own thread, not pyarrow's pool of one thread
    per core: read column by column on the pool, a 250,000 x 101 file cost 1.4-7 s of CPU
    under load against 0.3 s so. A local file is memory-mapped: its chunks are the page
    cache's pages, not copies into freshly allocated memory that the kernel zeroes first
    (half of a Spark worker's samples at 5,000,000 rows; memory-mapped, a file's reading
    took a median 1.04 CPU s against 2.2). BENCHMARKS.md, "5,000,000 x 100, round 3".

    Mapping assumes the file is not changed while it is read, as a Delta table's data files
    never are (a new version writes new files); a file truncated under the mapping ends the
    worker with SIGBUS instead of raising (Spark retries the task either way). A network
    file system mounted locally counts as local here.
    """
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    for uri in uris:
        fs, path = pafs.FileSystem.from_uri(uri)
        if isinstance(fs, pafs.LocalFileSystem):
            fs = pafs.LocalFileSystem(use_mmap=True)
        with fs.open_input_file(path) as handle:
            reader = pq.ParquetFile(handle, pre_buffer=True)
            for batch in reader.iter_batches(
                batch_size=_FILE_BATCH_ROWS, columns=columns, use_threads=threads != 1
            ):
                if batch.num_rows:
                    yield batch


def _one_pass(df: Any, spec: bytes, query: bytes, depth: int, digest: bytes | None) -> bytes:
    """Return the merged partial sums of every row of ``df`` at the query's weights.

    Each task merges its partition's batches into one partial; the partials are then
    tree-reduced. Any merge order is covered by the same rounding bounds. With ``digest``
    (a digest request) the sums carry the rows' keyed digest (exact in any order).
    """

    def partials(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        threads = _task_threads()
        total = _merged(
            _unlearn.partial_sums(b, query, spec, digest, threads=threads)
            for b in batches
            if b.num_rows
        )
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
    session: Any,
    files: list[str],
    columns: list[str],
    spec: Any,
    query: bytes,
    depth: int,
    digest: bytes | None,
) -> bytes:
    """Like :func:`_one_pass`, over Parquet files each task reads itself with pyarrow.

    One task per file; Spark schedules them, retries a failed one and reduces the partials.
    The rows go from Parquet to Arrow in the Python worker, skipping Spark's row-to-Arrow
    conversion (``mapInArrow`` feeds Python through it: half of a pass's time at 100
    columns, BENCHMARKS.md).
    """

    def partials(paths: Iterator[str]) -> Iterator[bytes]:
        total = _files_partial(paths, columns, spec, query, digest, _task_threads())
        if total is not None:
            yield total

    rdd = session.sparkContext.parallelize(files, len(files)).mapPartitions(partials)
    return _reduce(rdd, depth)


def _files_partial(
    paths: Iterable[str],
    columns: list[str],
    spec: Any,
    query: bytes,
    digest: bytes | None,
    threads: int | None,
) -> bytes | None:
    """Return one task's partial of :func:`_file_pass` (None without rows).

    The task reads its files batch by batch and merges the batches' partial sums into one,
    on ``threads`` threads. Each batch is summed as soon as it is read, so one batch's
    Arrow buffers and design are alive at a time (``partial_sums`` reads every batch into
    one design buffer it keeps between calls).
    """
    batches = _file_batches(paths, columns, threads)
    return _merged(_unlearn.partial_sums(b, query, spec, digest, threads=threads) for b in batches)


@dataclass(frozen=True)
class _Listing:
    """The live files of a Delta table's snapshot, as listed when its rows were read."""

    table: str
    files: list[str]
    storage_options: dict[str, str] | None


@dataclass(frozen=True)
class _Rows:
    """Where a fit's passes read the rows: a DataFrame, or the Parquet files of a snapshot.

    ``df`` serves the small jobs (the label set, filters by id); ``files``, when set, are
    what every pass reads instead of ``df`` (a Delta snapshot's live files: the same rows
    on every pass, read by pyarrow in the tasks), and the lake step of :func:`remove`
    erases from that table. ``listed``: the snapshot ``df`` reads (a Delta path, or the
    DataFrame :func:`read_delta` returned), which a fit checks is still live at its end.
    """

    df: Any
    files: list[str] | None = None
    listed: _Listing | None = None


# The snapshot each DataFrame that `read_delta` returned reads, so that a fit on it is
# checked as a fit on the path is (review 14, finding F1); a DataFrame derived from it
# (filtered, joined, ...) is another object, not checked.
_read_snapshots: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _rows_of(source: Any, session: Any, storage_options: dict[str, str] | None) -> _Rows:
    """Take a DataFrame as given, a Delta table path as its snapshot's live files."""
    if hasattr(source, "mapInArrow"):
        return _Rows(source, listed=_read_snapshots.get(source))
    from pyspark.sql import SparkSession

    session = session or SparkSession.getActiveSession()
    if session is None:
        raise ValueError(f"{source}: no active Spark session to read it with: pass session=...")
    files = lake.live_files(str(source), storage_options=storage_options)
    if not files:
        raise ValueError(f"{source}: the Delta table's snapshot has no data file (no rows)")
    df = session.read.option("basePath", str(source)).parquet(*files)
    return _Rows(df, files, _Listing(str(source), files, storage_options))


def _pass(
    rows: _Rows, columns: list[str], spec: Any, query: bytes, depth: int, digest: bytes | None
) -> bytes:
    """One pass: the merged partial sums of every row at the query's weights."""
    if rows.files is None:
        return _one_pass(rows.df.select(*columns), spec, query, depth, digest)
    session = rows.df.sparkSession
    return _file_pass(session, rows.files, columns, spec, query, depth, digest)


def _prepared(rows: _Rows, columns: list[str], spec: Any, digest: bytes | None) -> Any:
    """Return an RDD of the rows' prepared batches (bytes), read as a pass reads them.

    A Delta snapshot's files are read by pyarrow in the tasks (one task per file), a
    DataFrame through ``mapInArrow``; either way each Arrow batch becomes one blob of
    ``_unlearn.prepare_rows`` (with ``digest``, keeping its rows' keyed digest).
    """

    def prepare_files(paths: Iterator[str]) -> Iterator[bytes]:
        for batch in _file_batches(paths, columns, _task_threads()):
            yield from _unlearn.prepare_rows(batch, spec, digest)

    def prepare_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows:
                blobs = _unlearn.prepare_rows(batch, spec, digest)
                yield pa.RecordBatch.from_pydict({"rows": pa.array(blobs, pa.binary())})

    if rows.files is None:
        df = rows.df.select(*columns).mapInArrow(prepare_batches, "rows binary")
        return df.rdd.map(lambda row: bytes(row[0]))
    session = rows.df.sparkSession
    files = session.sparkContext.parallelize(rows.files, len(rows.files))
    return files.mapPartitions(prepare_files)


def _row_count(files: list[str]) -> int | None:
    """Return the rows of Parquet files, counted from their footers (no data page read).

    None when the driver's pyarrow cannot open them (credentials or a file system only the
    executors have): the caller then has no bound (review 12, finding 5).
    """
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    count = 0
    try:
        for uri in files:
            fs, path = pafs.FileSystem.from_uri(uri)
            with fs.open_input_file(path) as handle:
                count += pq.ParquetFile(handle).metadata.num_rows
    except (OSError, pa.ArrowException):
        return None
    return count


# Logical plan nodes that never add rows: a chain of them over one Parquet scan has at most
# the rows of the files it scans (Union, Join, Generate, Sample with replacement can add).
_ROW_KEEPING_NODES = {"Project", "Filter", "LocalLimit", "GlobalLimit"}


def _row_bound(rows: _Rows) -> int | None:
    """Return an upper bound on the rows, never from their values; None when unknown.

    A Delta snapshot's files: their rows, from the Parquet footers. A DataFrame: for a
    chain of projections, filters and limits (nodes that never add rows) over one leaf, the
    leaf's rows: a range's count (exact), or, over one Parquet scan (what :func:`remove`
    passes over: the table less the removed rows), the rows of the files it scans, from
    their footers (None if pyarrow cannot open them). Anything else has no bound: the
    optimizer's row count is an estimate, not a bound, under cost-based optimisation (a
    filter's selectivity) and even without it (a sample's expected size), so it is never
    read from the plan's top (review 12, finding 3). No Spark job either way.
    """
    if rows.files is not None:
        return _row_count(rows.files)
    node = rows.df._jdf.queryExecution().optimizedPlan()
    while node.nodeName() in _ROW_KEEPING_NODES and node.children().size() == 1:
        node = node.children().apply(0)
    if node.nodeName() == "Range":
        return int(str(node.numElements()))
    if node.nodeName() != "LogicalRelation" or node.children().size() != 0:
        return None
    relation = node.relation()
    if relation.getClass().getSimpleName() != "HadoopFsRelation":
        return None
    if relation.fileFormat().getClass().getSimpleName() != "ParquetFileFormat":
        return None
    return _row_count(rows.df.inputFiles())


def _cache_fits(rows: _Rows, spec: Any) -> bool:
    """Whether the rows' prepared batches fit the storage memory Spark never evicts.

    Prepared rows take 8 (d + 1) bytes a row (the design with its intercept column, and the
    target), whatever the source's encoding or compression, so their size is the rows'
    bound (:func:`_row_bound`) times that width; unknown rows are not cached. Spark's
    unified memory is shared by execution and storage, and only
    ``spark.memory.storageFraction`` of it (0.5 by default) is storage that execution never
    evicts; a larger cache is partly dropped, and every pass then reads the dropped
    partitions again besides moving the kept ones from the JVM to Python. The memory is the
    executors' (the driver's in local mode). (Sizing a DataFrame over Parquet by the
    optimizer's size in bytes, as before, took the compressed size on disk: a compressible
    table was judged to fit, cached and partly evicted.)
    """
    bound = _row_bound(rows)
    if bound is None:
        return False
    session = rows.df.sparkSession
    width = 8 * (len(spec["feature_names"]) + int(spec["intercept"]) + 1)
    context = session.sparkContext._jsc.sc()
    executors = context.statusStore().executorList(True).iterator()
    memory = {}
    while executors.hasNext():
        executor = executors.next()
        memory[executor.id()] = executor.maxMemory()
    if not context.isLocal():
        # A cluster: the driver runs no task; before any executor registers (dynamic
        # allocation from zero) no memory is known, so no cache (review 12, finding 4).
        memory.pop("driver", None)
    fraction = float(session.conf.get("spark.memory.storageFraction", "0.5"))
    return bound * width <= fraction * sum(memory.values())


class _Passes:
    """The passes of one Newton iteration (or re-solve) over one set of rows.

    With ``cache`` the rows' prepared batches are persisted in Spark's memory store on the
    first pass and summed from there on every later one (see the module docs); without,
    every pass reads the rows again (:func:`_pass`); None: the cache if it fits
    (:func:`_cache_fits`). Use as a context manager: the cache is dropped on exit.

    With ``digest`` (a digest request; ``columns`` then hold the id column) the sums carry
    the rows' keyed digest, computed once: cached, when the rows are prepared (every pass's
    sums then carry it at no cost); read every pass, on the first pass and on a pass called
    with ``digested=True``.
    """

    def __init__(
        self,
        rows: _Rows,
        columns: list[str],
        spec: Any,
        depth: int,
        cache: bool | None,
        digest: bytes | None = None,
    ):
        self._rows, self._columns, self._spec, self._depth = rows, columns, spec, depth
        self._digest, self._first = digest, True
        self._cached = None
        if cache is None:
            cache = _cache_fits(rows, spec)
        if cache:
            from pyspark import StorageLevel

            # (persist defines the RDD's Python function: inside the block.)
            with _kept_pages(rows.df.sparkSession):
                prepared = _prepared(rows, columns, spec, digest)
                self._cached = prepared.persist(StorageLevel.MEMORY_ONLY)

    def __call__(self, query: bytes, *, digested: bool = False) -> bytes:
        """Return the merged partial sums of every row at the query's weights."""
        with _kept_pages(self._rows.df.sparkSession):
            return self._sums(query, digested)

    def _sums(self, query: bytes, digested: bool) -> bytes:
        """:meth:`__call__`, its Python functions defined with the workers' environment."""
        if self._cached is None:
            digest = self._digest if digested or self._first else None
            self._first = False
            return _pass(self._rows, self._columns, self._spec, query, self._depth, digest)
        spec = self._spec

        def partials(blobs: Iterator[bytes]) -> Iterator[bytes]:
            threads = _task_threads()
            total = _merged(_unlearn.prepared_sums(b, query, spec, threads=threads) for b in blobs)
            if total is not None:
                yield total

        return _reduce(self._cached.mapPartitions(partials), self._depth)

    def __enter__(self) -> _Passes:
        return self

    def __exit__(self, *_: object) -> None:
        if self._cached is not None:
            self._cached.unpersist()


def solve(
    source: Any,
    estimator: Any,
    *,
    features: Iterable[str],
    target: str,
    id_column: str = "id",
    session: Any = None,
    max_passes: int = 100,
    depth: int = TREE_DEPTH,
    storage_options: dict[str, str] | None = None,
    cache: bool | None = None,
) -> Any:
    """Run the distributed Newton iteration to convergence; return the driver.

    The first step of :func:`fit` (which then builds the estimator from it), useful alone
    to audit a distributed fit: ``solve(...).compare(in_process._unlearner)`` gives the
    distance between the two fits' secret weights and the bound it must meet,
    ``.summary()`` the passes and the bounds.

    Parameters
    ----------
    source, estimator, features, target, id_column, session, max_passes, depth,
    storage_options, cache
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
    digest = driver.digest_request(id_column)
    columns = [*features, target, id_column]
    with _Passes(rows, columns, driver.spec(), depth, cache, digest) as passes:
        driver = _converge(driver, passes, max_passes)
    if rows.listed is not None:
        _refuse_if_rewritten(rows.listed)
    return driver


def _refuse_if_rewritten(listed: _Listing):
    """Refuse a fit some of whose files left the table's snapshot while it ran.

    An erasure (or an update, or a compaction) committed during the fit rewrote files the
    fit had read: its passes may have summed rows the table no longer holds, and nothing
    would remove them from the model, since the erasure was done (review 13, finding F2).
    Listing the live files again after the last pass catches every such commit made
    before that listing. What it cannot catch: an erasure committed after that listing
    but before the new model takes over from the old one — serialise erasures with the
    hand-over (README, "Spark and the lake"); and a fit on a DataFrame other than a Delta
    path or what :func:`read_delta` returned.
    """
    live = lake.live_files(listed.table, storage_options=listed.storage_options)
    gone = set(listed.files) - set(live)
    if gone:
        raise ValueError(
            f"{listed.table}: {len(gone)} of the {len(listed.files)} files the fit read left "
            "the table's snapshot while it ran (an erasure, update or compaction was "
            "committed meanwhile), so the model could hold rows the table no longer has: "
            "fit again"
        )


def _converge(driver: Any, passes: _Passes, max_passes: int) -> Any:
    """Absorb passes until the driver has converged (at most ``max_passes``)."""
    while not driver.absorb(passes(driver.weights())):
        if driver.passes >= max_passes:
            raise _unlearn.UnlearnError(
                f"the distributed fit did not converge in {max_passes} passes: raise "
                "max_passes, or check the features' scaling and the estimator's tol"
            )
    return driver


def fit(
    source: Any,
    estimator: Any,
    *,
    features: Iterable[str],
    target: str,
    id_column: str = "id",
    subject: str | None = None,
    session: Any = None,
    max_passes: int = 100,
    depth: int = TREE_DEPTH,
    storage_options: dict[str, str] | None = None,
    cache: bool | None = None,
) -> Any:
    """Fit a certified estimator on a Spark table, one Spark pass per Newton iteration.

    Parameters
    ----------
    source : DataFrame, str or Path
        The training rows: a DataFrame (read through ``mapInArrow``), or the path of a
        Delta table (its snapshot's live Parquet files, read with pyarrow in the tasks: the
        same rows every pass).
        One numeric column per feature, the target, an id column (removals name ids).
    estimator : CertifiedLogisticRegression or CertifiedRidge
        Unfitted; its parameters (C or alpha, privacy target, clip_norm, tol, ...) are the
        fit's. Output perturbation only (the default mechanism).
    features : iterable of str
        The feature columns, in order.
    target : str
        The target column.
    id_column : str, default "id"
        The id column (unique ids). The first pass reads it to digest the rows: a keyed,
        order-free hash of every row's id, values and target, which the model keeps secret
        and every refresh compares (:func:`remove` refuses a table whose remaining rows are
        not the training rows less the removed ones: README, "What a refresh trusts").
    subject : str, optional
        The data-subject column, when removals may name subjects.
    session : SparkSession, optional
        For a Delta path (default: the active session).
    max_passes : int, default 100
        Refuse to run more passes than this.
    depth : int, default 2
        Depth of the tree reduction.
    storage_options : dict, optional
        delta-rs storage options for a Delta path.
    cache : bool, optional
        True: read the rows once and keep their prepared batches in Spark's memory store
        for the later passes (8 * (features + 2) bytes a row with the intercept;
        partitions that do not fit are read again each pass). False: every pass reads the
        source. None (default): the cache when it fits the storage memory Spark never
        evicts for execution (``spark.memory.storageFraction`` of the executors' memory),
        else reading every pass.

    Returns
    -------
    estimator
        The estimator, fitted; its rows are external (they stay in the table): remove rows
        with :func:`remove`. ``spark_passes_`` is the number of passes the fit ran.
    """
    features = [str(f) for f in features]
    driver = solve(
        source,
        estimator,
        features=features,
        target=target,
        id_column=id_column,
        session=session,
        max_passes=max_passes,
        depth=depth,
        storage_options=storage_options,
        cache=cache,
    )
    passes = driver.passes
    declared = estimator._loss == "logistic" and estimator.classes is not None
    estimator._unlearner = driver.finish(declared, subject is not None)
    estimator.n_features_in_ = len(features)
    if features != [f"x{j}" for j in range(len(features))]:
        estimator.feature_names_in_ = np.array(features, dtype=object)
    estimator.spark_passes_ = passes
    estimator._refresh()
    return estimator


def _resolve(estimator: Any, passes: _Passes, spec: dict[str, Any]) -> tuple:
    """Re-solve over the remaining rows; return the weights (K x d) and the passes run.

    A distributed fit of the same objective without noise (``sigma=0``; the classes of the
    model, so the encoding is the same), whose secret weights, unrounded, are what the
    refresh is charged for by their measured residual. It is never published or stored.
    Newton starts at the model's current secret weights (``_unlearn.warm_fit``): they
    minimise the objective with the removed rows, which moves by O(removed / Lambda)
    without them, so a few rows' removal takes 3 passes instead of a fit's 5 (BENCHMARKS.md).
    Like every iterate, the start is the first pass's query: bytes on the driver, sent to
    the executors in the tasks' closures (secret: README, "What the executors see").
    """
    from sklearn.base import clone

    twin = clone(estimator).set_params(sigma=0.0)
    if estimator._loss == "logistic":
        twin.set_params(classes=estimator.classes_)
        labels = np.asarray(estimator.classes_)
    else:
        labels = np.zeros(1)
    _, encoding, _ = twin._encode(labels)
    driver = _unlearn.warm_fit(
        twin._core_params(),
        spec["feature_names"],
        encoding,
        spec["target_column"],
        estimator._unlearner,
    )
    _converge(driver, passes, max_passes=100)
    return driver.finish(twin._loss == "logistic", False).weights(), driver.passes


def _named(ids: list[str], subjects: list[str], id_column: str, subject_column: str | None):
    """Return the Spark condition "this row is named by the request" (never null).

    Ids and subjects are compared as text, as the estimator keeps them; a row whose subject
    is null is not named by subject (``coalesce``: without it, the negated condition would
    be null there too, and the filter for the remaining rows would drop the row).
    """
    from pyspark.sql import functions as F

    conditions = []
    if ids:
        conditions.append(F.col(id_column).cast("string").isin(ids))
    if subjects:
        conditions.append(F.col(subject_column).cast("string").isin(subjects))
    if not conditions:
        raise ValueError("nothing to remove: give ids=[...] and/or subjects=[...]")
    condition = conditions[0] if len(conditions) == 1 else conditions[0] | conditions[1]
    return F.coalesce(condition, F.lit(False))


def _names(names: str | Iterable[Any] | None) -> list[str]:
    """One name or many, as a list of strings."""
    if names is None:
        return []
    return [names] if isinstance(names, str) else [str(n) for n in names]


def remove(
    estimator: Any,
    ids: str | Iterable[Any] | None = None,
    subjects: str | Iterable[Any] | None = None,
    *,
    source: Any,
    store: str | Path | None = None,
    session: Any = None,
    id_column: str = "id",
    subject_column: str | None = None,
    require_certified: bool = False,
    storage_options: dict[str, str] | None = None,
    depth: int = TREE_DEPTH,
    cache: bool | None = None,
) -> Removal:
    """Remove rows by id or subject from a Spark-fitted model, and from the lake.

    1. The named rows are read from ``source`` (a filter; one small job).
    2. The model removes them on the driver (``estimator.remove(..., rows=...)``): the
       O(d^2) pass-free step, no Spark job. When the removal schedule asks for an exact
       step or a re-solve instead, the core says so (:class:`unlearn.NeedsFullPass`) and
       changes nothing; then a distributed re-solve runs over the remaining rows (the
       source without the named rows; Newton started at the model's secret weights), one
       more pass sums them at its weights, and the request is finished from those sums
       (``_refresh_from_partials``). A store-backed estimator (loaded from a store or
       saved to one) has the release recorded in its store's release log before this step
       returns, so a driver that dies from here on leaves it charged
       (:meth:`~unlearn.CertifiedLogisticRegression.remove`).
    3. With ``store``, the model is saved there (``estimator.save(store)``): the removal is
       durable before any row leaves the lake.
    4. With a Delta table as ``source``, the rows are erased from it
       (:func:`unlearn.lake.erase_from_delta`, which records the certificate's digest).

    Model first, lake second: the model's step needs the rows, read while the table still
    holds them, and once the rows are erased from the lake they cannot be fetched again, so
    a removal that was never saved could not be redone. Give ``store`` (the directory the
    model was saved to) so that a restarted driver loads a model without the erased rows;
    without it, save the estimator yourself before anything else erases the rows. If the
    save fails, nothing was erased from the lake (retry the save, then the lake step). If the
    lake step fails, :class:`LakeErasureIncomplete` carries the certificate; the lake
    erasure is idempotent and can be re-run alone.

    Parameters
    ----------
    estimator : CertifiedLogisticRegression or CertifiedRidge
        Fitted, its rows external (``detach_rows()``, or a distributed fit).
    ids, subjects : str or iterable of str, optional
        The rows to remove: ids, and/or data subjects (every row of each).
    source : DataFrame, str or Path
        The training table: a DataFrame, or the path of a Delta table (read with
        :func:`read_delta`, then erased).
    store : str or Path, optional
        The model's store (:meth:`~unlearn.CertifiedLogisticRegression.save`): the removal
        is saved there before the lake erasure.
    session : SparkSession, optional
        For a Delta path (default: the active session).
    id_column, subject_column : str
        The table's id and subject columns.
    require_certified : bool, default False
        Raise :class:`unlearn.NotCertified` if the certificate is not certified (after the
        lake erasure: a deletion is never undone).
    storage_options : dict, optional
        delta-rs storage options.
    depth : int, default 2
        Depth of the tree reduction, when the request needs passes.
    cache : bool, optional
        When the request needs passes: keep the remaining rows' prepared batches in
        Spark's memory between them (as :func:`fit`; None: when they fit).

    Returns
    -------
    Removal
        The certificate, the Spark passes the request ran, the lake erasure.

    Several models trained on one table: remove the rows from each but the last with
    ``source`` the DataFrame :func:`read_delta` gives (no lake step), then from the last
    with the table's path (its rows read, then erased once); a model whose rows are already
    erased from the lake cannot read them there any more (KeyError).

    Raises
    ------
    KeyError
        No row of the table has the ids or subjects named (nothing changed); or an id is
        not among the model's remaining rows.
    LakeErasureIncomplete
        The model removal is done, the lake erasure failed (retry it alone).
    """
    ids, subjects = _names(ids), _names(subjects)
    if subjects and subject_column is None:
        raise ValueError("subjects named: give the table's subject column, subject_column=...")
    rows = _rows_of(source, session, storage_options)
    spec = estimator._unlearner.batch_spec()
    columns = [*spec["feature_names"], spec["target_column"], id_column]
    if subject_column is not None:
        columns.append(subject_column)
    named = _named(ids, subjects, id_column, subject_column)
    given = rows.df.filter(named).select(*columns).toArrow()
    if given.num_rows == 0:
        raise KeyError(
            "no row of the table has the ids or subjects named: nothing was removed (check "
            f"id_column={id_column!r} and subject_column={subject_column!r}; if another "
            "model's remove erased them from the lake already, their rows are gone from "
            "it: see remove's note on several models)"
        )
    request = {"rows": given, "id_column": id_column, "subject_column": subject_column}
    try:
        certificate = estimator.remove(ids, subjects, **request)
        passes = 0
    except _unlearn.NeedsFullPass:
        remaining = _Rows(rows.df.filter(~named))
        columns = [*spec["feature_names"], spec["target_column"], id_column]
        digest = estimator._unlearner.digest_request(id_column)
        with _Passes(remaining, columns, spec, depth, cache, digest) as over_remaining:
            weights, passes = _resolve(estimator, over_remaining, spec)
            query = estimator._unlearner.refresh_query(weights)
            partials = over_remaining(query, digested=True)
        certificate = estimator._refresh_from_partials(partials, weights, ids, subjects, **request)
        passes += 1
    if store is not None:
        # Durable before the lake step: once erased there, the rows cannot be fetched to
        # redo the removal. A failure raises here, before anything is erased.
        estimator.save(store)
    path = None if rows.files is None else str(source)
    erased = None
    if path is not None:
        try:
            erased = lake.erase_from_delta(
                path,
                ids=ids or None,
                subjects=subjects or None,
                id_column=id_column,
                subject_column=subject_column or "subject",
                ledger_entry=certificate.digest,
                storage_options=storage_options,
            )
        except Exception as e:
            error = LakeErasureIncomplete(
                f"{path}: the model removal is done (ledger entry {certificate.digest}"
                f"{', saved' if store is not None else ', not saved: save the estimator'}), "
                f"but erasing the rows from the table failed ({e}); "
                "run unlearn.lake.erase_from_delta again with the same ids or subjects "
                "(it is idempotent)"
            )
            error.certificate = certificate
            raise error from e
    if require_certified and not certificate.certified:
        error = _unlearn.NotCertified(
            f"the rows were removed, but the release is not certified: {certificate.reason}"
        )
        error.certificate = certificate
        raise error
    return Removal(certificate=certificate, passes=passes, lake=erased)
