"""unlearn.spark.remove: the removed rows fetched through Spark, the step on the driver, the lake.

Weights are compared as in test_fit.py: with sigma = 0 the published weights are the
secret ones, and each side's certificate bounds ||grad L(w)|| of them on the remaining rows
(``bounds["exact_residual"]``), so by Lambda-strong convexity the two removals' weights are
within (r_a + r_b) / Lambda of each other.
"""

import json

import numpy as np
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from lake_scan import find_rows

from unlearn import CertifiedLogisticRegression, datasets, spark

FEATURES = [f"x{j}" for j in range(30)]


@pytest.fixture(scope="module")
def cancer():
    X, y, _ = datasets.load_breast_cancer(return_X_y=True)
    columns = {f"x{j}": X[:, j] for j in range(30)}
    columns["y"] = y
    columns["id"] = [f"r{i:04d}" for i in range(len(y))]
    columns["subject"] = [f"s{i % 97:02d}" for i in range(len(y))]
    return pa.table(columns)


def _local(table):
    return CertifiedLogisticRegression(sigma=0.0).fit(
        table.select(FEATURES),
        table["y"].to_numpy(),
        ids=table["id"].to_pylist(),
        subjects=table["subject"].to_pylist(),
    )


def _spark_fit(source, session, **params):
    return spark.fit(
        source,
        CertifiedLogisticRegression(**params),
        features=FEATURES,
        target="y",
        subject="subject",
        session=session,
    )


def _weights(est):
    return np.column_stack([est.coef_, est.intercept_])


def _bound(a, b):
    ra = np.array(a.bounds["exact_residual"])
    rb = np.array(b.bounds["exact_residual"])
    assert a.effective_lambda == b.effective_lambda
    return float(np.linalg.norm((ra + rb) / a.effective_lambda))


def _delta(table, path):
    for k in range(3):
        write_deltalake(str(path), table.slice(k * 190, 190), mode="append")
    return str(path)


def test_a_removal_through_spark_equals_the_removal_in_process(spark_session, cancer, tmp_path):
    """Without noise every removal takes an exact step: through Spark that is a request
    that needs a pass, finished by a distributed re-solve over the remaining rows."""
    df = spark_session.createDataFrame(cancer).repartition(3)
    held = _local(cancer)
    external = _spark_fit(df, spark_session, sigma=0.0)
    assert external.spark_passes_ >= 2
    ids = ["r0003", "r0100", "r0421"]
    local = held.remove(ids)
    through_spark = spark.remove(external, ids, source=df)
    assert through_spark.lake is None
    assert through_spark.passes >= 2
    assert through_spark.certificate.bounds["residual_measured"] == [True]
    assert external.n_rows_ == held.n_rows_ == cancer.num_rows - 3
    gap = np.linalg.norm(_weights(external) - _weights(held))
    assert gap <= _bound(through_spark.certificate, local)


def test_a_re_solve_starts_at_the_secret_weights_and_takes_fewer_passes(spark_session, cancer):
    """The request that needs a pass re-solves from the model's weights, not from zero:
    fewer passes than a cold fit of the remaining rows, to the same certified stopping
    test (gradient bound <= tol), and within the strong-convexity bound of the in-process
    removal (as above)."""
    df = spark_session.createDataFrame(cancer).repartition(3)
    est = _spark_fit(df, spark_session, sigma=0.0)
    ids = ["r0007", "r0250"]
    removal = spark.remove(est, ids, source=df)
    warm = removal.passes - 1  # the re-solve's passes; the last pass is the refresh's
    remaining = df.filter(~df["id"].isin(ids))
    twin = CertifiedLogisticRegression(sigma=0.0, classes=est.classes_)
    cold = spark.solve(remaining, twin, features=FEATURES, target="y")
    assert 1 <= warm < cold.passes, (warm, cold.passes)
    tol = est.tol
    assert max(cold.summary()["gradient_bounds"]) <= tol
    assert max(removal.certificate.bounds["exact_residual"]) <= tol
    held = _local(cancer)
    local = held.remove(ids)
    gap = np.linalg.norm(_weights(est) - _weights(held))
    assert gap <= _bound(removal.certificate, local)


def test_a_subject_is_erased_from_the_model_and_from_every_file_of_the_table(
    spark_session, cancer, tmp_path
):
    path = _delta(cancer, tmp_path / "table")
    # A budget that affords pass-free steps (at the default one this data's first tracked
    # bound already needs a measured residual: tests/test_external_rows.py).
    est = _spark_fit(path, spark_session, budget=2.0)
    assert est.certificates_[0].certified
    mask = np.array(cancer["subject"].to_pylist()) == "s05"
    removed, kept = cancer.filter(pa.array(mask)), cancer.filter(pa.array(~mask))
    texts = removed["id"].to_pylist() + ["s05"]
    # The dataset's values have few digits and repeat across rows: look for the removed
    # rows' values that no remaining row has.
    left = {v for f in FEATURES for v in kept[f].to_pylist()}
    numbers = sorted({v for f in FEATURES for v in removed[f].to_pylist()} - left)
    assert len(numbers) > 10
    assert find_rows(path, texts, numbers)  # the scan finds them before

    store = tmp_path / "store"
    est.save(store)
    removal = spark.remove(
        est,
        subjects=["s05"],
        source=path,
        session=spark_session,
        subject_column="subject",
        store=store,
    )

    assert est.n_rows_ == cancer.num_rows - int(mask.sum())
    # Saved before the lake step: a restarted driver loads the model without the subject.
    reloaded = CertifiedLogisticRegression.load(store)
    assert reloaded.n_rows_ == est.n_rows_
    assert reloaded.certificates_[-1].digest == removal.certificate.digest
    # Recorded in the store's release log before est.remove() returned; the save committed
    # it through the same writer without recording it again.
    log = (store / "releases.jsonl").read_text().splitlines()
    assert sum(json.loads(line).get("entry") == removal.certificate.digest for line in log) == 1
    assert removal.passes == 0 and removal.certificate.bounds["cached_hessian"] == [True]
    assert removal.certificate.certified
    assert len(removal.certificate.erased_subject_tags) == 1
    assert removal.lake.rows_deleted == int(mask.sum())
    assert find_rows(path, texts, numbers) == []
    info = DeltaTable(path).history(1)[0]
    assert info["unlearn.ledger_entry"] == removal.certificate.digest


def test_a_request_naming_no_row_of_the_table_changes_nothing(spark_session, cancer, tmp_path):
    path = _delta(cancer, tmp_path / "table")
    est = _local(cancer).detach_rows()
    version = DeltaTable(path).version()
    with pytest.raises(KeyError, match="no row of the table has the ids or subjects named"):
        spark.remove(est, ["no-such-id"], source=path, session=spark_session)
    assert est.n_rows_ == cancer.num_rows
    assert DeltaTable(path).version() == version


def test_a_removal_whose_save_fails_erases_nothing_from_the_lake(spark_session, cancer, tmp_path):
    """Model, save, lake: if the save fails, the rows stay in the table (they are what a
    retried removal needs), and the error is the save's."""
    path = _delta(cancer, tmp_path / "table")
    est = _local(cancer).detach_rows()
    not_a_store = tmp_path / "not-a-store"
    not_a_store.write_text("a file where the store directory should be")
    version = DeltaTable(path).version()
    with pytest.raises(Exception, match="not-a-store"):
        spark.remove(est, ["r0003"], source=path, session=spark_session, store=not_a_store)
    assert DeltaTable(path).version() == version
    assert find_rows(path, ["r0003"], []) != []


def test_a_refresh_over_a_tampered_table_is_refused(spark_session, cancer):
    """The row digest (a keyed, order-free hash of every row's id, values and target,
    taken in the fit's first pass): a table whose remaining rows are not the training rows
    less the removed ones — here one row given another row's values, of the same label, so
    the counts, the label counts and the row-norm bound all pass — is refused at the
    refresh the removal needs, and nothing changes. The true table, partitioned otherwise
    than at the fit, then refreshes: the digest does not depend on the partitions."""
    df = spark_session.createDataFrame(cancer).repartition(3)
    est = _spark_fit(df, spark_session, sigma=0.0)
    y = cancer["y"].to_numpy()
    a = 10
    b = next(i for i in range(a + 1, len(y)) if y[i] == y[a])
    columns = {c: cancer[c].to_pylist() for c in cancer.column_names}
    for f in FEATURES:
        columns[f][a] = columns[f][b]
    tampered = spark_session.createDataFrame(pa.table(columns)).repartition(3)
    before = len(est.certificates_)
    with pytest.raises(ValueError, match="row digest"):
        spark.remove(est, ["r0003"], source=tampered)
    assert est.n_rows_ == cancer.num_rows and len(est.certificates_) == before
    clean = spark.remove(
        est, ["r0003"], source=spark_session.createDataFrame(cancer).repartition(5)
    )
    assert clean.passes >= 2 and est.n_rows_ == cancer.num_rows - 1
    assert est.verify().passed
