"""Erasure from a Delta table: no file under the table directory holds the removed rows."""

import json

import numpy as np
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from lake_scan import find_rows

from unlearn.lake import erase_from_delta, live_files

N, D = 600, 3


def _rows(seed=7):
    """Rows with full-precision random features (no value repeats by chance)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D))
    return pa.table(
        {
            "id": [f"row-{i:05d}" for i in range(N)],
            "subject": [f"person-{i % 97:03d}" for i in range(N)],
            **{f"x{j}": x[:, j] for j in range(D)},
            "y": (x[:, 0] > 0).astype(np.int64),
        }
    )


def _write(path, table, *, change_data=False, batches=6):
    """Several appends (several files and commits, each with its own column statistics)."""
    step = len(table) // batches
    config = {"delta.enableChangeDataFeed": "true"} if change_data else None
    for k in range(batches):
        write_deltalake(str(path), table.slice(k * step, step), mode="append", configuration=config)


def _needles(table, mask):
    removed = table.filter(pa.array(mask))
    texts = removed["id"].to_pylist() + sorted(set(removed["subject"].to_pylist()))
    numbers = [v for j in range(D) for v in removed[f"x{j}"].to_pylist()]
    return texts, numbers


@pytest.mark.parametrize("change_data", [False, True], ids=["plain", "change-data-feed"])
def test_erased_subjects_are_in_no_file_of_the_table(tmp_path, change_data):
    table = _rows()
    path = tmp_path / "table"
    _write(path, table, change_data=change_data)
    # An update first, so that (with the change data feed) the rows' old values are in
    # _change_data before the erasure, and the log holds a rewrite's statistics too.
    DeltaTable(str(path)).update(predicate="subject = 'person-003'", updates={"y": "y + 10"})
    erased = ["person-003", "person-050"]
    mask = np.isin(np.array(table["subject"].to_pylist()), erased)
    texts, numbers = _needles(table, mask)
    # The scan can fail: before the erasure it finds the rows (in data files, and in the
    # log's column statistics, which outlive a plain delete + vacuum).
    before = find_rows(path, texts, numbers)
    assert any("_delta_log" in f for f, _ in before)
    assert any(f.endswith(".parquet") and "_delta_log" not in f for f, _ in before)

    erasure = erase_from_delta(str(path), subjects=erased, ledger_entry="ab" * 32)

    assert find_rows(path, texts, numbers) == []
    assert erasure.rows_deleted == int(mask.sum())
    assert erasure.files_vacuumed >= erasure.files_rewritten > 0
    assert erasure.log_files_expired > 0
    assert (erasure.change_data_files_deleted > 0) == change_data
    # The table still reads, with exactly the other rows.
    left = DeltaTable(str(path))
    assert sorted(left.to_pyarrow_table()["id"].to_pylist()) == sorted(
        np.array(table["id"].to_pylist())[~mask].tolist()
    )
    assert left.version() == erasure.final_version
    # The log's last commit ties the erasure to the ledger entry it serves.
    info = left.history(1)[0]
    assert info["unlearn.ledger_entry"] == "ab" * 32
    assert info["unlearn.erasure_version"] == str(erasure.version)


def test_erasure_is_idempotent_and_takes_ids_of_the_column_type(tmp_path):
    table = _rows().set_column(0, "id", pa.array(np.arange(N, dtype=np.int64)))
    path = tmp_path / "table"
    _write(path, table)
    first = erase_from_delta(str(path), ids=["5", "17"])
    again = erase_from_delta(str(path), ids=[5, 17])
    assert (first.rows_deleted, again.rows_deleted) == (2, 0)
    assert (again.files_rewritten, again.files_vacuumed) == (0, 0)
    assert DeltaTable(str(path)).to_pyarrow_table().num_rows == N - 2


def test_erasure_errors_name_the_table_and_what_to_do(tmp_path):
    path = tmp_path / "table"
    _write(path, _rows())
    with pytest.raises(ValueError, match="nothing to erase"):
        erase_from_delta(str(path), ids=[])
    with pytest.raises(KeyError, match="no column 'person'.*subject_column="):
        erase_from_delta(str(path), subjects=["x"], subject_column="person")
    ints = tmp_path / "ints"
    _write(ints, _rows().set_column(0, "id", pa.array(np.arange(N, dtype=np.int64))))
    with pytest.raises(ValueError, match="do not convert to the type of column 'id', int64"):
        erase_from_delta(str(ints), ids=["row-00001"])


def test_spark_reads_the_live_files_of_the_snapshot(spark_session, tmp_path):
    table = _rows()
    path = tmp_path / "table"
    _write(path, table)
    erase_from_delta(str(path), ids=["row-00000", "row-00001"])
    df = spark_session.read.option("basePath", str(path)).parquet(*live_files(str(path)))
    assert df.count() == N - 2
    assert df.filter("id = 'row-00000'").count() == 0


@pytest.mark.parametrize("feature", ["DeletionVectors", "ColumnMapping"])
def test_a_table_whose_files_a_plain_read_would_misread_is_refused(tmp_path, feature):
    """Review 12, finding 1: with deletion vectors a deleted or updated row stays in its file
    (marked only in the vector), and with column mapping the files' columns have other
    names; Spark reading the live files as plain Parquet would train on erased rows. The
    table is refused, naming it, the feature and what to do; the files are not listed."""
    from deltalake.table import TableFeatures

    path = tmp_path / "table"
    _write(path, _rows())
    DeltaTable(str(path)).alter.add_feature(
        [getattr(TableFeatures, feature)], allow_protocol_versions_increase=True
    )
    name = feature[0].lower() + feature[1:]
    with pytest.raises(ValueError, match=rf"{path}: .*{name}.*REORG TABLE"):
        live_files(str(path))


def test_a_table_upgraded_to_column_mapping_without_table_features_is_refused(tmp_path):
    """Review 13, finding F1: Databricks turns column mapping on with reader version 2 and
    ``delta.columnMapping.mode`` (no reader feature list), keeping the old columns' physical
    names; after a column is dropped and re-added, a plain read of the old files returns
    the dropped column's values under the new one's name. Such a table is refused too."""
    path = tmp_path / "table"
    _write(path, _rows())
    log = path / "_delta_log"
    first = [json.loads(line) for line in (log / f"{0:020}.json").read_text().splitlines()]
    metadata = next(action["metaData"] for action in first if "metaData" in action)
    schema = json.loads(metadata["schemaString"])
    for number, field in enumerate(schema["fields"], start=1):
        field["metadata"] = {
            "delta.columnMapping.id": number,
            "delta.columnMapping.physicalName": field["name"],
        }
    metadata["schemaString"] = json.dumps(schema)
    metadata["configuration"] = {
        **metadata.get("configuration", {}),
        "delta.columnMapping.mode": "name",
        "delta.columnMapping.maxColumnId": str(len(schema["fields"])),
    }
    upgrade = [
        {"protocol": {"minReaderVersion": 2, "minWriterVersion": 5}},
        {"metaData": metadata},
    ]
    (log / f"{1:020}.json").write_text("\n".join(json.dumps(a) for a in upgrade) + "\n")
    protocol = DeltaTable(str(path)).protocol()
    assert (protocol.min_reader_version, protocol.reader_features) == (2, None)
    with pytest.raises(ValueError, match=rf"{path}: .*columnMapping.*mode = name"):
        live_files(str(path))
