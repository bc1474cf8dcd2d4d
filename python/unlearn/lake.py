"""Erasure in the lake: delete rows from a Delta Lake table so that no file of it holds them.

Deleting rows from a Delta table only writes a new snapshot: the Parquet files that held
them stay on disk (for time travel) until a vacuum, and even then three more places keep
their values. :func:`erase_from_delta` clears all four, in this order:

1. **The snapshot.** A ``MERGE`` whose source is the removed ids (or subjects) and whose
   action is ``DELETE`` rewrites every file that holds one of those rows without it
   (delta-rs, the ``deltalake`` package). A ``MERGE`` and not ``DELETE WHERE id IN (...)``:
   the commit's ``operationParameters`` keep the predicate for ever, and a ``MERGE``'s
   predicate names the join columns (``t.id = s.key``), never the ids.
2. **The old files.** ``VACUUM`` with retention zero deletes the files the merge replaced.
3. **The log.** Every commit of the ``_delta_log`` keeps, in its ``add`` actions, per-file
   column statistics: the minimum and maximum of each column, so the removed rows' ids and
   values when they were a file's extreme. A checkpoint at the new version summarises the
   live files only; the log entries before it are then expired (``delta.logRetentionDuration``
   set to zero for the cleanup, then restored).
4. **The change data feed.** With ``delta.enableChangeDataFeed``, the merge (and earlier
   updates) wrote the rows' old values to ``_change_data/``; files there that no remaining
   commit names are deleted.

After it, time travel to a version before the erasure is gone: that is what erasure means.

Order with the model removal (:func:`unlearn.spark.remove`): the model first, then the lake.
Both steps are idempotent by id (a second merge finds nothing, a second vacuum deletes
nothing), so a request whose lake step failed is retried whole; see that function.

A Delta table with deletion vectors or column mapping (written by Databricks or delta-spark
with the feature on) is refused by :func:`live_files` (a plain read of its files would see
rows a vector deleted, or columns by their physical names); such a cluster hands unlearn the
DataFrame delta-spark reads, and can run the erasure's steps in Spark SQL with delta-spark
(README, "Spark and the lake"). delta-rs (deltalake 1.6) merges into a table with deletion
vectors and honours the existing vectors; :func:`erase_from_delta` was not tested on such
tables here.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from ._certificate import _Record

# Delta's default for `delta.logRetentionDuration`, restored when the table had no value.
_DEFAULT_LOG_RETENTION = "interval 30 days"


@dataclass(frozen=True)
class LakeErasure(_Record):
    """What :func:`erase_from_delta` did to the table: versions and counts, no id or value.

    Safe to log and to keep next to a certificate (it names no row).

    Attributes
    ----------
    table : str
        The table's URI.
    version : int
        The table version whose snapshot first lacks the rows (the merge commit).
    rows_deleted : int
        Rows the merge deleted (0 on a retry that finds them gone).
    files_rewritten : int
        Data files the merge replaced (the ones that held the rows).
    files_vacuumed : int
        Data files the vacuum deleted from storage.
    log_files_expired : int
        Files of ``_delta_log`` deleted (commits and checkpoints before the new checkpoint).
    change_data_files_deleted : int
        Files of ``_change_data`` deleted.
    final_version : int
        The table version after the erasure (later than ``version``: the vacuum and the log
        retention changes are commits too).
    ledger_entry : str or None
        The digest of the ledger entry this erasure serves. The log keeps it in the
        ``commitInfo`` of the commit that closes the erasure (``unlearn.ledger_entry``, next
        to ``unlearn.erasure_version`` = ``version``): the merge commit itself is expired.
    """

    table: str
    version: int
    rows_deleted: int
    files_rewritten: int
    files_vacuumed: int
    log_files_expired: int
    change_data_files_deleted: int
    final_version: int
    ledger_entry: str | None


def _open(path: str, storage_options: dict[str, str] | None) -> Any:
    from deltalake import DeltaTable

    return DeltaTable(str(path), storage_options=storage_options)


#: The Delta reader features that leave a table's Parquet files meaning what a plain read
#: of them (what :func:`live_files` hands Spark) sees: timestamps without a time zone, and
#: the log's own layout. Any other reader feature, column mapping in any form (reader
#: version 2 without a feature list, as Databricks upgrades tables, or the listed
#: feature) and reader versions above 3 are refused: an allow-list, so that a feature
#: unknown here that hides rows (as deletion vectors do) is refused too (review 13,
#: finding F1).
PLAIN_READ_SAFE_FEATURES = frozenset({"timestampNtz", "v2Checkpoint", "vacuumProtocolCheck"})

# The Delta protocol's reader version that lists its features (table features).
_FEATURE_READER_VERSION = 3


def live_files(path: str, *, storage_options: dict[str, str] | None = None) -> list[str]:
    """Return the URIs of the Parquet files in the table's current snapshot.

    What Spark reads instead of the table (no delta-spark needed):
    ``spark.read.option("basePath", path).parquet(*live_files(path))``; files removed by
    later commits but not yet vacuumed are not among them.

    Parameters
    ----------
    path : str
        The table's path or URI.
    storage_options : dict, optional
        delta-rs storage options (credentials of an object store).

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        When a plain read of the table's files could differ from the table: a reader
        feature outside :data:`PLAIN_READ_SAFE_FEATURES` — deletion vectors (rows deleted
        or updated in place stay in the files, marked only in the vector; review 12,
        finding 1), column mapping (the files' column names are not the table's, so a
        dropped and re-added column reads its old values; review 13, finding F1), or one
        this version does not know — or a reader version above 3. Reading the files would
        train on erased rows or on the wrong columns.
    """
    table = _open(path, storage_options)
    unreadable = _plain_read_refusals(table)
    if unreadable:
        raise ValueError(
            f"{path}: the table uses {', '.join(unreadable)}, which a plain read of its "
            "Parquet files would ignore (rows deleted through a deletion vector would be "
            "read as live, or columns by their physical names); rewrite it without them "
            "(with delta-spark: REORG TABLE ... APPLY (PURGE), then ALTER TABLE ... DROP "
            "FEATURE) or copy it to a table without them and pass that, or pass fit/remove "
            "the DataFrame delta-spark reads"
        )
    return list(table.file_uris())


def _plain_read_refusals(table: Any) -> list[str]:
    """List what in the table's protocol and configuration a plain read of its files misses."""
    protocol = table.protocol()
    features = set(protocol.reader_features or ())
    refusals = [
        f"the Delta reader feature {feature}"
        for feature in sorted(features - PLAIN_READ_SAFE_FEATURES)
    ]
    mode = table.metadata().configuration.get("delta.columnMapping.mode", "none")
    if mode.lower() != "none" and "columnMapping" not in features:
        refusals.append(f"columnMapping (delta.columnMapping.mode = {mode})")
    if protocol.min_reader_version > _FEATURE_READER_VERSION:
        refusals.append(f"Delta reader version {protocol.min_reader_version}")
    return refusals


def _quote(column: str) -> str:
    """Quote a column name as a SQL identifier (DataFusion: double quotes, doubled inside)."""
    return '"' + column.replace('"', '""') + '"'


def _keys(table: Any, column: str, values: list[str], what: str) -> pa.Table:
    """Build the merge's source: ``values`` as one column ``key`` of the table column's type."""
    schema = pa.schema(table.schema().to_arrow())
    if column not in schema.names:
        raise KeyError(
            f"{table.table_uri}: no column '{column}' for the {what} (columns: "
            f"{', '.join(schema.names)}); name it with {what}_column=..."
        )
    kind = schema.field(column).type
    try:
        keys = pa.array(values, pa.string()).cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise ValueError(
            f"{table.table_uri}: the {what}s given do not convert to the type of column "
            f"'{column}', {kind} ({e})"
        ) from None
    return pa.table({"key": keys})


def _merge_delete(table: Any, column: str, keys: pa.Table) -> dict[str, Any]:
    """Delete the rows whose ``column`` is among ``keys``; the commit names no key."""
    merger = table.merge(
        source=keys,
        predicate=f"t.{_quote(column)} = s.key",
        source_alias="s",
        target_alias="t",
    )
    return merger.when_matched_delete().execute()


def _vacuum(table: Any, fs: pafs.FileSystem, root: str) -> int:
    """Vacuum with retention zero; return how many data files it deleted from storage.

    The vacuum's own list names every expired tombstone, including files an earlier
    vacuum already deleted (a checkpoint keeps tombstones for a week), so only the files
    that existed beforehand are counted.
    """
    candidates = table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=True)
    infos = fs.get_file_info([posixpath.join(root, c) for c in candidates])
    existing = sum(info.type == pafs.FileType.File for info in infos)
    table.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    return existing


def _log_files(fs: pafs.FileSystem, root: str, folder: str) -> list[str]:
    """Paths of the files under ``root/folder`` (none when it does not exist)."""
    selector = pafs.FileSelector(posixpath.join(root, folder), allow_not_found=True)
    return [f.path for f in fs.get_file_info(selector) if f.type == pafs.FileType.File]


def _expire_log(table: Any, fs: pafs.FileSystem, root: str, note: dict[str, str]) -> int:
    """Checkpoint the current version and delete every log entry before it.

    delta-rs expires log entries older than ``delta.logRetentionDuration``; the property is
    set to zero for the cleanup and restored after (to Delta's default of 30 days when the
    table had none), so later cleanups keep their usual horizon. The restoring commit, the
    last commit of the erasure, carries ``note`` in its ``commitInfo``.
    """
    from deltalake import CommitProperties

    before = set(_log_files(fs, root, "_delta_log"))
    previous = table.metadata().configuration.get("delta.logRetentionDuration")
    table.alter.set_table_properties(
        {"delta.logRetentionDuration": "interval 0 seconds"}, raise_if_not_exists=False
    )
    table.create_checkpoint()
    table.cleanup_metadata()
    table.alter.set_table_properties(
        {"delta.logRetentionDuration": previous or _DEFAULT_LOG_RETENTION},
        raise_if_not_exists=False,
        commit_properties=CommitProperties(custom_metadata=note),
    )
    return len(before - set(_log_files(fs, root, "_delta_log")))


def _sweep_change_data(fs: pafs.FileSystem, root: str) -> int:
    """Delete the files of ``_change_data`` that no remaining commit names.

    Run after :func:`_expire_log`: the commits that named the change files of the erased
    rows are gone, and so must those files be (a checkpoint never names change files).
    """
    named = set()
    for log in _log_files(fs, root, "_delta_log"):
        if not log.endswith(".json"):
            continue
        with fs.open_input_stream(log) as stream:
            for line in stream.read().decode().splitlines():
                action = json.loads(line) if line.strip() else {}
                if "cdc" in action:
                    named.add(posixpath.join(root, action["cdc"]["path"]))
    stale = [f for f in _log_files(fs, root, "_change_data") if f not in named]
    for f in stale:
        fs.delete_file(f)
    return len(stale)


def erase_from_delta(
    path: str,
    *,
    ids: Iterable[Any] | None = None,
    subjects: Iterable[Any] | None = None,
    id_column: str = "id",
    subject_column: str = "subject",
    ledger_entry: str | None = None,
    storage_options: dict[str, str] | None = None,
) -> LakeErasure:
    """Delete rows by id or by subject from a Delta table, and every copy of them on disk.

    The four steps of the module notes: merge-delete, vacuum with retention zero, log
    expiry at a fresh checkpoint, change data swept. Idempotent: a retry after a failure
    at any step finishes the erasure (a merge that finds no row deletes nothing).

    Readers of a snapshot older than the merge lose its files to the vacuum; run an
    erasure when no job reads the table at an old version (a concurrent appender is safe:
    the vacuum deletes only files the log has removed).

    Parameters
    ----------
    path : str
        The table's path or URI.
    ids, subjects : iterable, optional
        The rows to erase: their ids, and/or their subjects (every row of each). At least
        one must be given.
    id_column, subject_column : str
        The table's id and subject columns.
    ledger_entry : str, optional
        The digest of the certificate this erasure serves (recorded in the table's log).
    storage_options : dict, optional
        delta-rs storage options (credentials of an object store).

    Returns
    -------
    LakeErasure
        Versions and counts (no id, no value).

    Raises
    ------
    KeyError
        The table has no such column.
    ValueError
        Neither ids nor subjects, or they do not convert to the column's type.
    """
    targets = [
        (id_column, [str(i) for i in ids], "id") if ids is not None else None,
        (subject_column, [str(s) for s in subjects], "subject") if subjects is not None else None,
    ]
    targets = [t for t in targets if t is not None and t[1]]
    if not targets:
        raise ValueError(f"{path}: nothing to erase: give ids=[...] and/or subjects=[...]")
    table = _open(path, storage_options)
    fs, root = pafs.FileSystem.from_uri(table.table_uri)
    root = root.rstrip("/")
    deleted = rewritten = 0
    for column, values, what in targets:
        metrics = _merge_delete(table, column, _keys(table, column, values, what))
        deleted += metrics["num_target_rows_deleted"]
        rewritten += metrics["num_target_files_removed"]
    version = table.version()
    vacuumed = _vacuum(table, fs, root)
    note = {"unlearn.erasure_version": str(version)}
    if ledger_entry is not None:
        note["unlearn.ledger_entry"] = ledger_entry
    expired = _expire_log(table, fs, root, note)
    swept = _sweep_change_data(fs, root)
    return LakeErasure(
        table=table.table_uri,
        version=version,
        rows_deleted=deleted,
        files_rewritten=rewritten,
        files_vacuumed=vacuumed,
        log_files_expired=expired,
        change_data_files_deleted=swept,
        final_version=table.version(),
        ledger_entry=ledger_entry,
    )
