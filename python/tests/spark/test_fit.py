"""unlearn.spark's distributed fit on a local[2,3] session, against the in-process fit.

The bound every comparison uses is the core's (``DistributedFit.compare``): both fits'
secret weights minimise the same Lambda-strongly convex objective L approximately, each
with a certified bound g on ||grad L(w)|| (outward-rounded; the distributed one covers the
rounding of its sums in any merge order). Strong convexity gives ||w - w*|| <= g / Lambda,
so ||w_spark - w_local|| <= (g_spark + g_local) / Lambda per class model, whatever the
partitioning.
"""

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import write_deltalake

from unlearn import CertifiedLogisticRegression, CertifiedRidge, UnlearnError, datasets, spark

FEATURES = [f"x{j}" for j in range(30)]


def _table(X, y):
    columns = {f"x{j}": X[:, j] for j in range(X.shape[1])}
    columns["y"] = y
    columns["id"] = [f"r{i:04d}" for i in range(len(y))]
    columns["subject"] = [f"s{i % 7:02d}" for i in range(len(y))]
    return pa.table(columns)


def _frame(session, table, directory, parts):
    """``parts`` Parquet files read back: one partition each, in a fixed order."""
    directory.mkdir()
    step = -(-table.num_rows // parts)
    for k in range(parts):
        pq.write_table(table.slice(k * step, step), directory / f"part-{k}.parquet")
    df = session.read.parquet(str(directory))
    assert df.rdd.getNumPartitions() == parts
    return df


@pytest.fixture(scope="module")
def cancer():
    X, y, _ = datasets.load_breast_cancer(return_X_y=True)
    return _table(X, y)


@pytest.fixture(scope="module")
def local(cancer):
    est = CertifiedLogisticRegression()
    return est.fit(cancer.select(FEATURES), cancer["y"].to_numpy(), ids=cancer["id"].to_pylist())


def _solve(source, **kwargs):
    return spark.solve(
        source, CertifiedLogisticRegression(), features=FEATURES, target="y", **kwargs
    )


def _within(driver, local):
    comparison = driver.compare(local._unlearner)
    assert len(comparison["distances"]) == 1
    assert all(d <= b for d, b in zip(comparison["distances"], comparison["bounds"], strict=True))
    return comparison


@pytest.mark.parametrize("parts", [3, 7])
def test_the_fit_matches_the_in_process_fit_at_any_partition_count(
    spark_session, cancer, local, tmp_path, parts
):
    driver = _solve(_frame(spark_session, cancer, tmp_path / "rows", parts))
    _within(driver, local)
    summary = driver.summary()
    assert summary["rows"] == cancer.num_rows
    assert summary["passes"] >= 2


def test_a_delta_table_is_read_from_its_live_files(spark_session, cancer, local, tmp_path):
    path = str(tmp_path / "table")
    for k in range(3):
        write_deltalake(path, cancer.slice(k * 190, 190), mode="append")
    _within(_solve(path, session=spark_session), local)


@pytest.mark.parametrize("given", ["path", "read_delta"])
def test_a_fit_whose_files_an_erasure_rewrote_meanwhile_is_refused(
    spark_session, cancer, tmp_path, monkeypatch, given
):
    """Review 13, finding F2: an erasure committed while a fit ran (here: right after its
    last pass) removed rows the fit had summed; the fit is refused instead of returning a
    model that holds them — given the table's path, or the DataFrame ``read_delta`` returned
    (review 14, finding F1)."""
    from unlearn.lake import erase_from_delta

    path = str(tmp_path / "table")
    for k in range(3):
        write_deltalake(path, cancer.slice(k * 190, 190), mode="append")
    source = path if given == "path" else spark.read_delta(spark_session, path)
    converge = spark._converge

    def erased_meanwhile(*args):
        driver = converge(*args)
        erase_from_delta(path, ids=["r0001"])
        return driver

    monkeypatch.setattr(spark, "_converge", erased_meanwhile)
    with pytest.raises(ValueError, match=rf"{path}: 1 of the 3 files the fit read left"):
        _solve(source, session=spark_session)


def test_a_failed_task_is_retried_and_the_fit_is_unchanged(spark_session, cancer, local, tmp_path):
    """Every partition's first attempt raises (local[2,3]: three attempts per task)."""
    df = _frame(spark_session, cancer, tmp_path / "rows", 3)
    markers = tmp_path / "attempts"
    markers.mkdir()

    def fail_once(batches):
        from pyspark import TaskContext

        marker = markers / f"partition-{TaskContext.get().partitionId()}"
        if not marker.exists():
            marker.touch()
            raise RuntimeError("injected fault: the task's first attempt dies")
        yield from batches

    clean = _solve(df)
    retried = _solve(df.mapInArrow(fail_once, df.schema))
    assert sorted(p.name for p in markers.iterdir()) == [f"partition-{k}" for k in range(3)]
    # Below four partitions pyspark's treeReduce merges on the driver in partition order,
    # and a retried task recomputes the same batches: the same bits, not only the bound.
    assert retried.summary() == clean.summary()
    assert retried.compare(local._unlearner) == clean.compare(local._unlearner)


def test_the_cached_passes_give_the_same_fit_as_reading_every_pass(spark_session, cancer, tmp_path):
    """The prepared batches kept in Spark's memory are summed exactly as the batches read
    again would be (the core's prepared rows, bit for bit), on both routes; with three
    partitions pyspark's treeReduce merges in partition order, so the summaries are equal,
    not only within the bound."""
    df = _frame(spark_session, cancer, tmp_path / "rows", 3)
    path = str(tmp_path / "table")
    for k in range(3):
        write_deltalake(path, cancer.slice(k * 190, 190), mode="append")
    for source in [df, path]:
        cached = _solve(source, session=spark_session, cache=True)
        read = _solve(source, session=spark_session, cache=False)
        assert cached.summary() == read.summary()
        assert cached.summary()["passes"] >= 2


def test_ridge_is_fitted_through_spark(spark_session, tmp_path):
    X, y, _ = datasets.load_diabetes(return_X_y=True)
    table = _table(X, y)
    features = [f"x{j}" for j in range(X.shape[1])]
    local = CertifiedRidge().fit(table.select(features), y)
    df = _frame(spark_session, table, tmp_path / "rows", 3)
    _within(spark.solve(df, CertifiedRidge(), features=features, target="y"), local)


def test_an_empty_table_is_refused(spark_session, cancer, tmp_path):
    df = _frame(spark_session, cancer, tmp_path / "rows", 3).limit(0)
    with pytest.raises(ValueError, match="no rows"):
        spark.solve(
            df,
            CertifiedLogisticRegression(classes=[0, 1]),
            features=FEATURES,
            target="y",
        )


def test_a_fit_that_does_not_converge_in_max_passes_says_what_to_do(
    spark_session, cancer, tmp_path
):
    df = _frame(spark_session, cancer, tmp_path / "rows", 3)
    with pytest.raises(UnlearnError, match="did not converge in 2 passes: raise max_passes"):
        _solve(df, max_passes=2)


def test_fit_returns_a_certified_estimator_whose_rows_stay_in_the_table(
    spark_session, cancer, local, tmp_path
):
    df = _frame(spark_session, cancer, tmp_path / "rows", 3)
    est = spark.fit(df, CertifiedLogisticRegression(), features=FEATURES, target="y")
    assert est._unlearner.external()
    assert est.n_rows_ == cancer.num_rows
    assert list(est.classes_) == list(local.classes_)
    assert est.certificates_[0].certified
    assert est.verify().passed


def test_the_cache_is_chosen_by_the_rows_size_against_spark_storage_memory(
    spark_session, cancer, tmp_path
):
    """cache=None decides from sizes only, before any pass: the breast-cancer rows (569 x 32
    prepared values, 146 KB) fit the evict-free half of the 1 GB driver's storage memory
    (about 200 MB), on both routes; a billion-row range (8 * 3 bytes a row prepared: 24 GB)
    does not, and deciding so runs no job (the range is never materialised)."""
    df = _frame(spark_session, cancer, tmp_path / "rows", 3)
    path = str(tmp_path / "table")
    write_deltalake(path, cancer)
    fit = _solve(df)  # cache=None
    spec = {"feature_names": FEATURES, "intercept": True}
    assert spark._cache_fits(spark._Rows(df), spec)
    assert spark._cache_fits(spark._Rows(df.filter("id != 'r0000'").select("x0", "y")), spec)
    assert spark._cache_fits(spark._rows_of(path, spark_session, None), spec)
    huge = spark_session.range(10**9).selectExpr("cast(id as double) as x0", "id % 2 as y")
    jobs = spark_session.sparkContext.statusTracker().getJobIdsForGroup()
    assert not spark._cache_fits(spark._Rows(huge), {**spec, "feature_names": ["x0"]})
    assert spark_session.sparkContext.statusTracker().getJobIdsForGroup() == jobs
    assert fit.summary()["rows"] == cancer.num_rows


def test_a_compressible_table_is_sized_by_its_rows_not_its_bytes_on_disk(spark_session, tmp_path):
    """Review 9b, finding 3: 200,000 rows of 300 constant features are 0.3 MB of Parquet on
    disk (each column chunk one run) but 483 MB prepared (8 * 302 bytes a row), beyond the
    1 GB driver's whole unified memory (434 MB; its evict-free half 217 MB).
    Sized by the optimizer's bytes (the compressed size) the rows fitted and were cached,
    then partly evicted on every pass; by the rows from the footers they do not fit, for
    the table and for a filter of it. A DataFrame whose rows cannot be bounded without a
    job (a union of the table with itself) has no bound, so no cache. No job runs."""
    rows, features = 200_000, [f"x{j}" for j in range(300)]
    column = pa.array(np.zeros(rows))
    table = pa.table({**{f: column for f in features}, "y": column})
    pq.write_table(table, tmp_path / "rows.parquet")
    spec = {"feature_names": features, "intercept": True}
    df = spark_session.read.parquet(str(tmp_path / "rows.parquet"))
    on_disk = int(str(df._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()))
    assert on_disk < 8 * rows  # far below the prepared 8 * 302 bytes a row
    jobs = spark_session.sparkContext.statusTracker().getJobIdsForGroup()
    assert spark._row_bound(spark._Rows(df.filter("y = 0"))) == rows
    assert not spark._cache_fits(spark._Rows(df), spec)
    assert not spark._cache_fits(spark._Rows(df.filter("y = 0").select(*features, "y")), spec)
    assert spark._row_bound(spark._Rows(df.union(df))) is None
    # Review 12, finding 3: the optimizer's count of a sample is its expected size (100,000
    # at a fraction of 0.5 of these rows, below the rows it may return): no bound. A
    # range's count is exact, under a filter an upper bound.
    assert spark._row_bound(spark._Rows(df.sample(fraction=0.5, seed=1))) is None
    assert spark._row_bound(spark._Rows(spark_session.range(10**9).filter("id > 5"))) == 10**9
    assert spark_session.sparkContext.statusTracker().getJobIdsForGroup() == jobs


def _environments_under(pid):
    """The environments of the processes descending from ``pid`` (Linux's /proc)."""
    children = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while listed
            continue
        children.setdefault(int(fields[1]), []).append(int(status.parent.name))
    found, stack = [], list(children.get(pid, []))
    while stack:
        child = stack.pop()
        stack.extend(children.get(child, []))
        try:
            found.append(Path(f"/proc/{child}/environ").read_bytes().split(b"\0"))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads Linux's /proc")
def test_the_passes_run_in_workers_keeping_pyarrows_freed_pages(
    spark_session, cancer, tmp_path, monkeypatch
):
    """pyarrow's pool must not return freed pages to the kernel in the passes' workers
    (BENCHMARKS.md, "round 5"): the variable reaches the workers that run a fit's passes,
    read every pass (cache=False) or cached (the prepared rows' function too), and nothing
    else: a job defined outside a pass runs in the session's plain workers, and neither the
    driver's environment nor the session's keeps it. A value the session sets is kept."""
    df = _frame(spark_session, cancer, tmp_path / "rows", 3)
    context = spark_session.sparkContext
    jvm = context._gateway.proc.pid

    def probe(_):
        import os

        yield os.environ.get("MIMALLOC_PURGE_DELAY")

    def plain():
        return set(context.parallelize(range(2), 2).mapPartitions(probe).collect())

    before = plain()
    environment = context.environment
    with spark._kept_pages(spark_session):
        # Rebound, not changed in place (review 12, finding 2): a conversion of the old dict
        # that another driver thread runs meanwhile never sees it change size.
        assert "MIMALLOC_PURGE_DELAY" not in environment
        assert context.environment["MIMALLOC_PURGE_DELAY"] == "-1"
        assert set(context.parallelize(range(2), 2).mapPartitions(probe).collect()) == {"-1"}
    assert plain() == before == {os.environ.get("MIMALLOC_PURGE_DELAY")}
    assert "MIMALLOC_PURGE_DELAY" not in context.environment
    # A fit's passes: a variable of this test's own marks the workers they ran in (each
    # new environment starts a pool of workers of its own under the JVM).
    for cache in [False, True]:
        mark = f"UNLEARN_TEST_{cache}_{os.getpid()}".encode()
        monkeypatch.setattr(spark, "_WORKER_ENVIRONMENT", {"UNLEARN_TEST_MARK": mark.decode()})
        _solve(df, cache=cache)
        assert any(b"UNLEARN_TEST_MARK=" + mark in env for env in _environments_under(jvm))
        assert "UNLEARN_TEST_MARK" not in context.environment
        assert "UNLEARN_TEST_MARK" not in os.environ
    monkeypatch.setitem(context.environment, "MIMALLOC_PURGE_DELAY", "100")
    monkeypatch.setattr(spark, "_WORKER_ENVIRONMENT", {"MIMALLOC_PURGE_DELAY": "-1"})
    with spark._kept_pages(spark_session):
        assert set(context.parallelize(range(2), 2).mapPartitions(probe).collect()) == {"100"}
    assert context.environment["MIMALLOC_PURGE_DELAY"] == "100"
