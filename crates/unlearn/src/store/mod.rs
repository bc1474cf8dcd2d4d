//! The model store: one directory, one SQLite database holding the secret state, and a copy
//! of the published model for readers without SQLite.
//!
//! ```text
//! STORE/              (0700)
//!   unlearn.db        (0600) rows, ledger, small secret state, published model (schema.rs)
//!   unlearn.db-wal    the write-ahead log while the database is open (emptied after deletions)
//!   unlearn.db-shm    the WAL index (page numbers, no row data)
//!   writer.lock       the writer lock (lock.rs)
//!   model.json        the published model with its digest, rewritten after each commit that
//!                     changes it — releasable; the database is authoritative
//!   releases.jsonl    (0600) the release log: one line per ledger entry, appended before its
//!                     commit; never restored from a backup (release_log.rs)
//! ```
//!
//! **Backups.** Back up `unlearn.db` with the store closed (or with SQLite's online backup)
//! and `model.json`. To restore, put back those two (and delete `unlearn.db-wal` and
//! `unlearn.db-shm`), never `releases.jsonl`: the next [`Store::open`] for writing finds the
//! releases published since the backup in the log, charges them to the transcript and
//! re-applies the removals they carried (proofs/transcript_accounting.md, "Forked
//! histories"). A backup from before a retrain into the same directory is refused by every
//! writer ([`StoreError::Superseded`]): the log's newer records belong to another training
//! run.
//!
//! **Requesters' references** (a ticket number a deletion request carries) are rows of the
//! `refs` table, inserted by [`Store::commit_with_refs`] in the transaction that appends the
//! request's ledger entry: a reference exists exactly when its deletion is committed, with
//! no journal and no sync of its own. Format 3 kept them in a `refs.jsonl` journal beside the
//! database, synced before the transaction; the first writer to open such a store adopts the
//! journal's references whose entry is a committed removal, in one transaction that also
//! raises the format to 4, then deletes the journal.
//!
//! **One transaction per request.** [`Store::commit`] writes what a request changed and
//! nothing else: it deletes the rows its new certificates name (found by their keyed tags),
//! appends those certificates, and replaces the small state and the published model — writes
//! proportional to the request and the model, not to the data — and returns only after
//! `COMMIT` is durable (`synchronous = FULL`). The bulky caches (Hessians, Gram matrix) are
//! never written: they are rebuilt from the rows after a load, as they always were.
//!
//! **The retry rule.** A caller whose commit failed after its release-log records were
//! written (marked failed: Python's `est.save()` on a full disk) still holds the unlearner,
//! while the next writer's opening has charged those releases in a reconciliation entry R.
//! [`Store::commit`] (and [`Store::record_before_showing`]) accept that unlearner when the
//! store's entries after the newest one it holds are reconciliation entries that only charge
//! releases, every one of them a release of the unlearner's new entries, or record again
//! erasures those entries make (review 10, finding 1; review 11, finding 3): the commit deletes
//! them and appends the unlearner's entries in one transaction. It is decided from the
//! ledger, not from which handle committed R, so a retry that failed again, or that another
//! writer's opening preceded, is accepted too (review 8, finding 1). It is sound because
//! those entries removed nothing and changed neither rows nor model (deleting them loses no
//! removal), and each release they charged is charged again by its own entry, now committed
//! (deleting them loses no charge, and none is counted twice); R's record stays in the log,
//! where it names no release and no removal. The extra read (the ledger's newest entries,
//! back to the unlearner's) is made only when a commit does not continue the newest entry.
//!
//! **Erasure on disk.** `secure_delete` zeroes deleted rows in their pages, and after every
//! commit that deletes rows the WAL is checkpointed into the database file and truncated, so
//! the removed rows' bytes are left neither in free pages nor in the log. A reader that still
//! holds a snapshot from before the deletion delays the truncation until the next commit or
//! until the writer closes (the row is in its snapshot until it finishes).
//! [`Store::set_checkpoint_every`] trades this for throughput: the checkpoint is most of a
//! deletion's cost, and an interval of N leaves a removed row's bytes on disk for up to N − 1
//! further deletions.
//!
//! **Concurrency.** Readers ([`Access::Read`]) read the last commit in one snapshot and never
//! block each other or the writer; one writer ([`Access::Write`]) at a time holds the writer
//! lock for as long as it holds the handle, waiting up to its `wait` for another writer.
//!
//! **Integrity** ([`Store::integrity`], checked by every [`Store::load`]): the state row is
//! checksummed and binds the rest — the rows (count and an order-free digest), the ledger
//! (length and newest digest; the entries are hash-chained), and the published model's
//! digest over every published field ([`crate::model::model_digest`]). `model.json` must hold
//! that model (or the one before it, when a writer stopped between its commit and the file's
//! rewrite; the next writer rewrites it). An emptied or truncated ledger, an edited state row,
//! a changed row or an edited `model.json` is named by `integrity` and refused by `load`.
//!
//! Stores of the previous format (a directory with `secret/state.bin`) are refused with
//! [`StoreError::OldFormat`]; [`migrate`] converts one.

mod codec;
mod integrity;
mod legacy;
mod lock;
mod release_log;
mod schema;

pub use legacy::{Migration, migrate};
pub use lock::WRITER_LOCK_FILE;
pub use release_log::{
    LogLine, LogRecord, RELEASE_LOG_CHECK, RELEASE_LOG_FILE, Supersession, read_release_log,
    release_log_path,
};
pub use schema::{EXTERNAL_ROWS_FORMAT_VERSION, STORE_FORMAT_VERSION};

use crate::certificate::{CERTIFICATE_FORMAT_VERSION, Certificate, EntryKind, Ledger};
use crate::data::{Dataset, Targets};
use crate::hessian_cache::HessianCaches;
use crate::model::{MODEL_FORMAT_VERSION, Model, PublishedModel, model_digest};
use crate::rows::{ExternalRows, TrainingRows};
use crate::unlearner::Unlearner;
use crate::verify::Check;
use codec::{Bindings, RowsDigest, StateRecord, features_blob, row_hash, state_checksum};
use lock::WriterLock;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File name of the database inside a store.
pub const DB_FILE: &str = "unlearn.db";
/// File name of the published model inside a store.
pub const MODEL_FILE: &str = "model.json";
/// The key of `model.json` that holds [`model_digest`] of the rest of the file.
pub const MODEL_DIGEST_KEY: &str = "model_digest";
/// The secret state of the previous store format, whose presence marks such a store.
pub const LEGACY_SECRET_FILE: &str = "secret/state.bin";
/// The requesters' references journal of format 3 (one `{"ref", "entry"}` JSON line per
/// reference), adopted into the `refs` table by the first writer of format 4.
pub const REFS_JOURNAL_FILE: &str = "refs.jsonl";

/// Errors reading or writing a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The database reported an error (a full disk, a damaged file, …).
    #[error("{path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A file exists but its content is not valid.
    #[error("{path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file was written by a newer unlearn.
    #[error(
        "{path}: format version {found} is newer than this unlearn supports ({supported}); upgrade unlearn"
    )]
    NewerFormat {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// Another writer holds the store.
    #[error(
        "{path} is in use by another unlearn process that is changing it (its writer lock is held{}); wait for that command to finish, or retry with --wait SECONDS",
        if waited.is_zero() { String::new() } else { format!(" after waiting {:.1} s", waited.as_secs_f64()) }
    )]
    Locked {
        /// The store.
        path: PathBuf,
        /// How long this process waited for the lock.
        waited: Duration,
    },
    /// The path is not a store.
    #[error(
        "{path} is not an unlearn store (no {DB_FILE}); create one with `unlearn train --out {path}`"
    )]
    NotAStore {
        /// The path given.
        path: PathBuf,
    },
    /// A store exists where a new one was to be created.
    #[error(
        "{path} already holds an unlearn store{}; replacing it loses its removals and ledger: pass --force to replace it, or choose another directory",
        match entries { Some(n) => format!(" with {n} ledger entries"), None => String::new() }
    )]
    Exists {
        /// The store.
        path: PathBuf,
        /// Its ledger's length, if it is of the current format.
        entries: Option<u64>,
    },
    /// A store of the previous format (files, `secret/state.bin`).
    #[error(
        "{path} is a store of an earlier unlearn format ({LEGACY_SECRET_FILE}); convert it with `unlearn migrate --store {path}` (or retrain with `unlearn train --out {path} --force`)"
    )]
    OldFormat {
        /// The store.
        path: PathBuf,
    },
    /// The store failed its integrity checks ([`Store::integrity`]).
    #[error(
        "{path}: the store failed its integrity checks: {}. It was damaged or changed outside unlearn: do not publish from it; restore its {DB_FILE} from a backup (keep the current {RELEASE_LOG_FILE}: the next writer charges what was published since the backup) or retrain",
        problems.join("; ")
    )]
    Integrity {
        /// The store.
        path: PathBuf,
        /// Each failed check: its name and what is wrong.
        problems: Vec<String>,
    },
    /// The unlearner to commit does not continue what the store holds.
    #[error("{path}: {reason}; load the store again and repeat the request")]
    Diverged {
        /// The store.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// The store's release log records ledger entries of another branch of its history (a
    /// restore from a backup, or a copy), and settling them failed.
    #[error("{path}: {reason}")]
    Reconciliation {
        /// The store.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The store's release log holds records of another training run written after the
    /// store's last record: its database was replaced by an older one (a backup from before
    /// a retrain into the same directory). Every writer refuses it.
    #[error("{path}: {found}")]
    Superseded {
        /// The store.
        path: PathBuf,
        /// What the log holds after the store's last record.
        found: Supersession,
    },
    /// A commit through a handle opened for reading.
    #[error("{path} was opened for reading; open it with Access::Write to commit")]
    ReadOnly {
        /// The store.
        path: PathBuf,
    },
}

/// Work a durable commit left undone ([`Store::follow_ups`]): the commit stands; this is a
/// warning for the operator, naming the file, what failed and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    /// The file the work is about (`unlearn.db` for a checkpoint, `model.json`).
    pub path: PathBuf,
    /// Which work was left.
    pub kind: FollowUpKind,
    /// The error it met.
    pub problem: String,
}

/// Which work a durable commit left undone ([`FollowUp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpKind {
    /// The WAL checkpoint after a deletion failed: the removed rows' bytes may stay in the
    /// write-ahead log (`unlearn.db-wal`) until a checkpoint succeeds.
    Checkpoint,
    /// Rewriting `model.json` failed: it still holds the previous published model.
    ModelFile,
}

impl std::fmt::Display for FollowUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        match self.kind {
            FollowUpKind::Checkpoint => write!(
                f,
                "{path}: the commit is durable, but emptying its write-ahead log failed ({}): the removed rows' bytes may remain in {path}-wal until the next commit or the writer's close checkpoints it; free the disk or fix the error, then run any writing command (e.g. `unlearn publish`) or close the writer",
                self.problem
            ),
            FollowUpKind::ModelFile => write!(
                f,
                "{path}: the commit is durable, but rewriting this file failed ({}): it still holds the previous published model (the database holds the new one); fix the error (a full disk, a permission, something in the file's place), then the next writing command rewrites it",
                self.problem
            ),
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How a process opens a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read the last commit; never blocks, never blocked by the writer.
    Read,
    /// Change the store: hold its writer lock, waiting up to `wait` for another writer.
    Write {
        /// How long to wait for the writer lock (zero: refuse at once).
        wait: Duration,
    },
}

/// An open store.
pub struct Store {
    root: PathBuf,
    db: PathBuf,
    conn: Connection,
    writer: Option<WriterLock>,
    /// Whether `model.json` may not hold the committed model (a write of it failed after its
    /// commit, or a checkpoint was held up): the writer repairs it before its next commit.
    model_file_stale: bool,
    /// Whether the WAL may still hold deleted rows (a checkpoint was held up by a reader, or
    /// the interval has not come round yet).
    checkpoint_due: bool,
    /// Checkpoint after every this many commits that delete rows ([`Store::set_checkpoint_every`]).
    checkpoint_every: u64,
    /// Commits that deleted rows since the last completed checkpoint.
    deletions_pending: u64,
    /// The ledger entries this handle committed when it opened, reconciling the store with
    /// its release log ([`Store::reconciled`]).
    reconciled: Vec<Certificate>,
    /// Whether the caller shows nothing of a commit's entries until the commit returns Ok
    /// ([`Store::withhold_until_commit`]): only then is a failed commit's release abandoned.
    withheld: bool,
    /// The digests of the entries [`Store::record_before_showing`] recorded since this
    /// handle's last commit, in order: the next commit does not record them again.
    recorded: Vec<String>,
    /// Removals of another branch that this external-rows store could not re-apply when it
    /// opened (it holds no row): every commit must apply them ([`Store::commit`]).
    unapplied: Vec<release_log::Unapplied>,
    /// What the last commit left to do although it is durable ([`Store::follow_ups`]).
    follow_ups: Vec<FollowUp>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.root)
            .field("writer", &self.writer.is_some())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Writes a new store for a freshly trained `unlearner` at `dir` (created 0700 if
    /// needed), and returns it open for writing. An existing store is replaced only with
    /// `overwrite` (in one transaction: the old rows are securely deleted with it); without
    /// it, [`StoreError::Exists`]. Waits up to `wait` for another writer of that store.
    /// External rows: the rows the caches queue are folded in first
    /// ([`Unlearner::fold_queued_rows`]), so no removed row waits in the caches written.
    pub fn create(
        dir: &Path,
        unlearner: &mut Unlearner,
        overwrite: bool,
        wait: Duration,
    ) -> Result<Store, StoreError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        restrict_permissions(dir)?;
        let legacy = dir.join(LEGACY_SECRET_FILE).exists();
        if legacy && !overwrite {
            return Err(StoreError::Exists {
                path: dir.to_path_buf(),
                entries: None,
            });
        }
        let writer = WriterLock::acquire(dir, wait)?;
        let db = dir.join(DB_FILE);
        ensure_owner_only_file(&db)?;
        let conn = schema::connect(&db).map_err(db_error(&db))?;
        let mut store = Store {
            root: dir.to_path_buf(),
            db,
            conn,
            writer: Some(writer),
            model_file_stale: true,
            checkpoint_due: true,
            checkpoint_every: 1,
            deletions_pending: 0,
            reconciled: Vec::new(),
            withheld: false,
            recorded: Vec::new(),
            unapplied: Vec::new(),
            follow_ups: Vec::new(),
        };
        unlearner.fold_queued_rows();
        store.write_new(unlearner, overwrite)?;
        store.finish_commit(&unlearner.model.published, true);
        if legacy {
            legacy::remove_files(dir)?;
        }
        // A replaced format-3 store's journal names entries of the ledger that is gone.
        remove_journal(dir)?;
        Ok(store)
    }

    /// [`StoreError::Exists`] if `dir` holds a store (of this format or the previous one),
    /// so that a command that would replace it can refuse before doing any work;
    /// [`Store::create`] checks again under the writer lock.
    pub fn refuse_existing(dir: &Path) -> Result<(), StoreError> {
        if dir.join(LEGACY_SECRET_FILE).exists() {
            return Err(StoreError::Exists {
                path: dir.to_path_buf(),
                entries: None,
            });
        }
        match Store::open(dir, Access::Read) {
            Ok(store) => {
                let entries: i64 = store
                    .conn
                    .query_row("SELECT count(*) FROM ledger", [], |r| r.get(0))
                    .map_err(db_error(&store.db))?;
                Err(StoreError::Exists {
                    path: dir.to_path_buf(),
                    entries: Some(entries as u64),
                })
            }
            Err(StoreError::NotAStore { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Opens the store at `dir` for reading or writing. A directory of the previous format is
    /// [`StoreError::OldFormat`]; one without a database (or whose creation never committed)
    /// is [`StoreError::NotAStore`]. A writer first refuses a database older than its
    /// release log ([`StoreError::Superseded`]: the log holds another training run's records
    /// after the store's last one) before it writes anything; it removes leftover temporary
    /// files and rewrites `model.json` if an interrupted writer left it one commit behind
    /// (an edited one is refused: [`StoreError::Integrity`]), then reconciles the store with
    /// its release log (`releases.jsonl`): releases an observer has seen that the ledger does
    /// not hold (the store was restored from a backup) are charged to the transcript, and
    /// removals they acknowledged are re-applied, in one commit before anything else
    /// ([`Store::reconciled`]). A store whose rows are external cannot re-apply a lost
    /// removal: it opens, and refuses every commit that does not apply it ([`Store::commit`]).
    pub fn open(dir: &Path, access: Access) -> Result<Store, StoreError> {
        let db = dir.join(DB_FILE);
        if !db.is_file() {
            return Err(if dir.join(LEGACY_SECRET_FILE).exists() {
                StoreError::OldFormat {
                    path: dir.to_path_buf(),
                }
            } else {
                StoreError::NotAStore {
                    path: dir.to_path_buf(),
                }
            });
        }
        let writer = match access {
            Access::Write { wait } => Some(WriterLock::acquire(dir, wait)?),
            Access::Read => None,
        };
        let conn = schema::connect(&db).map_err(db_error(&db))?;
        let mut store = Store {
            root: dir.to_path_buf(),
            db,
            conn,
            writer,
            model_file_stale: false,
            checkpoint_due: false,
            checkpoint_every: 1,
            deletions_pending: 0,
            reconciled: Vec::new(),
            withheld: false,
            recorded: Vec::new(),
            unapplied: Vec::new(),
            follow_ups: Vec::new(),
        };
        let version = store.check_format()?;
        if store.writer.is_some() {
            // A database older than its log is refused before anything is written.
            let log = read_release_log(&store.root)?;
            let ours = release_log::records_of_store(&store, &log)?;
            store.adopt_refs_journal(version)?;
            store.tidy()?;
            (store.reconciled, store.unapplied) = release_log::reconcile(&mut store, &ours)?;
        }
        Ok(store)
    }

    /// The ledger entries this handle committed when it opened for writing, reconciling the
    /// store with its release log: a reconciliation entry charging the releases of another
    /// branch of the history, then the re-applied removals it had acknowledged. Empty when
    /// the store and its log agreed, and after a commit that replaced them ([`Store::commit`]).
    pub fn reconciled(&self) -> &[Certificate] {
        &self.reconciled
    }

    /// What reconciling the store with its release log did, for the operator (none if
    /// nothing): which releases of the lost branch were charged, how many of its removals
    /// were re-applied (or, its rows being external, could not be), and how many data
    /// subjects the reconciled entries erase again. It names releases by
    /// index only: their charges depend on the data, and this note goes to standard error and
    /// service logs (`inspect` and `verify` on the 0600 store show the charges).
    pub fn reconciliation_note(&self) -> Option<String> {
        let charged: Vec<String> = self
            .reconciled
            .iter()
            .flat_map(|e| &e.foreign_releases)
            .map(|f| format!("release {}", f.release))
            .collect();
        let reapplied = self
            .reconciled
            .iter()
            .filter(|e| e.kind == EntryKind::Removal)
            .count();
        let erased: usize = self
            .reconciled
            .iter()
            .map(|e| e.erased_subject_tags.len())
            .sum();
        let pending: usize = self.unapplied.iter().map(|l| l.subjects.len()).sum();
        let unapplied = if self.unapplied.is_empty() {
            String::new()
        } else {
            format!(
                "; removals this store cannot re-apply (its rows are external): {}, with {pending} data subject erasure(s) pending (recorded, not done until their rows are removed again) — every commit that does not remove those rows again, erasing those subjects, is refused",
                self.unapplied.len()
            )
        };
        (!self.reconciled.is_empty() || !self.unapplied.is_empty()).then(|| {
            format!(
                "the store's release log holds entries its ledger does not (it was restored from a backup after it had published, or a writer stopped between a record and its commit); charged to the transcript: {}; removals of those entries re-applied: {reapplied}; data subjects recorded as erased again: {erased}{unapplied}",
                if charged.is_empty() {
                    "none".to_string()
                } else {
                    charged.join(", ")
                }
            )
        })
    }

    /// The release log against the ledger ([`RELEASE_LOG_CHECK`]): every ledger entry
    /// recorded, every release of another branch charged, every removal it acknowledged
    /// applied — and which releases were charged, by which entries.
    pub fn release_log_check(&self) -> Result<Check, StoreError> {
        let ledger = integrity::read(self)?
            .contents
            .map(|c| c.ledger)
            .unwrap_or_default();
        release_log::check(&self.root, &ledger)
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of the published model file.
    pub fn model_path(&self) -> PathBuf {
        self.root.join(MODEL_FILE)
    }

    /// Path of the database file.
    pub fn db_path(&self) -> &Path {
        &self.db
    }

    /// Reads the whole store in one snapshot, checks its integrity ([`Store::integrity`]) and
    /// returns the unlearner (caches empty: they are rebuilt on demand). The rows come back in
    /// input order ([`Dataset::restore_canonical_order`]'s order), whatever order removals had
    /// left them in memory. A failed check is [`StoreError::Integrity`].
    pub fn load(&self) -> Result<Unlearner, StoreError> {
        let snapshot = integrity::read(self)?;
        let problems: Vec<String> = snapshot
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        match snapshot.contents {
            Some(contents) if problems.is_empty() => self.assemble(contents),
            _ => Err(StoreError::Integrity {
                path: self.root.clone(),
                problems,
            }),
        }
    }

    /// The integrity checks of the store, each passed or failed with what is wrong: the state
    /// row's checksum, the ledger, the rows and the published model against what the state
    /// binds, and `model.json` against the published model. An error only when the store
    /// cannot be read at all.
    pub fn integrity(&self) -> Result<Vec<Check>, StoreError> {
        Ok(integrity::read(self)?.checks)
    }

    /// Reads the published model (from the database, checked against the digest the state
    /// binds): what `export`, `predict` and `evaluate` need, without reading the rows.
    pub fn load_published(&self) -> Result<PublishedModel, StoreError> {
        integrity::read_published(self)
    }

    /// The requesters' references: reference → digest of the ledger entry that served it,
    /// each committed with its entry ([`Store::commit_with_refs`]). Empty for a store of
    /// format 3 that no writer has opened since (its references are still in its journal).
    pub fn refs(&self) -> Result<HashMap<String, String>, StoreError> {
        let fail = db_error(&self.db);
        let mut select = match self.conn.prepare("SELECT ref, entry FROM refs") {
            Ok(select) => select,
            Err(rusqlite::Error::SqliteFailure(_, Some(ref m))) if m.contains("no such table") => {
                return Ok(HashMap::new());
            }
            Err(e) => return Err(fail(e)),
        };
        let rows = select
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(&fail)?;
        rows.collect::<Result<_, _>>().map_err(fail)
    }

    /// [`Store::commit`] with the references of the requests it commits: each
    /// `(reference, entry)` names the digest of one of the ledger entries this commit appends
    /// and is inserted in the same transaction (a reference already in the store, or one whose
    /// entry is not appended here, fails the whole commit: nothing is written).
    pub fn commit_with_refs(
        &mut self,
        unlearner: &mut Unlearner,
        refs: &[(&str, &str)],
    ) -> Result<(), StoreError> {
        if self.writer.is_none() {
            return Err(StoreError::ReadOnly {
                path: self.root.clone(),
            });
        }
        unlearner.fold_queued_rows();
        self.reseed_caches(unlearner)?;
        let recorded = std::mem::take(&mut self.recorded);
        let (model_changed, deleted) = match self.checked_write(unlearner, refs, &recorded) {
            Ok(written) => written,
            Err(e) => {
                // A retry through this handle must not record them again: they stand in
                // the log (bare, acknowledged) whatever this commit left.
                self.recorded = recorded;
                return Err(self.record_diverged(unlearner, e));
            }
        };
        self.unapplied.clear();
        if deleted {
            self.deletions_pending += 1;
            self.checkpoint_due |= self.deletions_pending >= self.checkpoint_every;
        }
        self.finish_commit(&unlearner.model.published, model_changed);
        Ok(())
    }

    /// Commits what `unlearner` changed since the store's last commit, in one transaction:
    /// deletes the rows its new ledger entries remove (by their keyed tags), appends those
    /// entries, replaces the small state and the published model. Returns once the commit is
    /// durable; then checkpoints the WAL if rows were deleted, and rewrites `model.json` if
    /// the published model changed. `unlearner` must continue the committed state (loaded
    /// from it, or committed through this handle): otherwise [`StoreError::Diverged`], and
    /// nothing is written. After [`StoreError::Diverged`] or [`StoreError::Reconciliation`],
    /// load the store again before the next request. After any other error (a full disk, an
    /// I/O error: nothing was committed) the same handle may commit the same unlearner again,
    /// once the cause is fixed: that retry commits its entries once, charging each release
    /// once, and does not record again what [`Store::record_before_showing`] recorded through
    /// this handle (review 10, finding 4). A new handle would instead open by reconciling
    /// the store with those records (a store that holds its rows re-applies their removals
    /// as another release), and the retry would be diverged.
    ///
    /// External rows: the rows the removals since the last commit queued in the caches are
    /// first folded into their matrices, in memory ([`Unlearner::fold_queued_rows`]), so the
    /// caches written hold no removed row apart and the unlearner continues with the very
    /// caches the store holds (a load continues bit for bit).
    ///
    /// One exception: a caller retrying a commit that failed after its release-log records
    /// were written (they are marked failed: Python's `est.save()` after a full disk) holds
    /// the unlearner it tried to commit, which continues the store as it was before a
    /// writer's opening charged those records' releases in a reconciliation entry. When the
    /// store's entries after the newest one the unlearner holds are all reconciliation
    /// entries that only charge releases (they re-applied no removal, changed neither rows nor
    /// model), and every release they charge is one of the unlearner's new entries, the
    /// commit replaces them: they are deleted and the unlearner's entries committed, each
    /// charging its own release once, in the same transaction (the "retry rule"; module docs).
    /// This is decided from the ledger alone, so a retry whose own commit failed again, or
    /// that another writer's opening preceded, is accepted all the same (review 8, finding 1).
    /// A replaced entry's record stays in the log, unmarked: it names no release and no
    /// removal, so as a record of another branch it charges and applies nothing
    /// (proofs/transcript_accounting.md, premise (iii)). When instead the next writer
    /// re-applied the unlearner's removals (their records were bare: recorded before they
    /// were shown), the commit is [`StoreError::Diverged`] and says that they are already
    /// applied: the model is loaded again, nothing is lost.
    ///
    /// A caller that did not withhold ([`Store::withhold_until_commit`]) and whose commit is
    /// refused as [`StoreError::Diverged`] (its unlearner was loaded before another writer
    /// committed, or disagrees with the store) may have shown its new entries' releases: those
    /// the log does not name yet are recorded in it and marked failed (charged by the next
    /// writer as releases of another branch, their removals not applied); the database is
    /// untouched. Entries recorded before they were shown ([`Store::record_before_showing`])
    /// are never marked, by a diverged commit or by a failed one: they were acknowledged, so
    /// the next writer charges their releases and applies their removals (review 9a,
    /// finding 1).
    ///
    /// A release shown before its record reached the log is charged only if the log could
    /// be written: a commit whose very first write — the append of its records — fails (a
    /// full disk), or a process that stops before committing, leaves nothing to charge it
    /// by. A caller that shows a certificate before committing records it first
    /// ([`Store::record_before_showing`]), or withholds it until the commit returns.
    ///
    /// An external-rows store that opened with removals of another branch it could not
    /// re-apply (a restore lost them, a removal recorded before it was shown was never
    /// committed, or a commit failed after its record and could not mark it) refuses, with
    /// [`StoreError::Reconciliation`], every commit whose ledger does not remove those ids
    /// and, by a request, erase again the subjects those removals erased (a reconciliation
    /// entry records such an erasure, but it is pending until then: review 10, finding 6): a
    /// retry by the caller that holds the entry, or a new removal of the same rows naming
    /// the same subjects, settles them. Such a refusal records a caller's shown entries as
    /// failed, as a diverged commit does.
    pub fn commit(&mut self, unlearner: &mut Unlearner) -> Result<(), StoreError> {
        self.commit_with_refs(unlearner, &[])
    }

    /// The checks and the transaction of [`Store::commit_with_refs`]; returns whether the
    /// published model changed and whether rows were deleted.
    fn checked_write(
        &mut self,
        unlearner: &Unlearner,
        refs: &[(&str, &str)],
        recorded: &[String],
    ) -> Result<(bool, bool), StoreError> {
        self.refuse_unapplied(unlearner)?;
        if self.model_file_stale {
            self.repair_model_file()?;
        }
        self.write_changes(unlearner, refs, recorded)
    }

    /// After a commit of `unlearner` failed with `error`: when the store refused it before
    /// writing anything — [`StoreError::Diverged`], or [`StoreError::Reconciliation`] (it
    /// drops a removal of another branch the store must apply: review 10, finding 8) — and
    /// the caller did not withhold ([`Store::withhold_until_commit`]), records its new
    /// entries that neither the ledger nor the log names, each marked failed, in one append
    /// ([`release_log::record_diverged`]): the caller may have shown their releases, so the
    /// next writer charges them; their removals are not applied (the caller is told the
    /// commit failed). Entries recorded before they were shown
    /// ([`Store::record_before_showing`]) are left as they are, bare records: their removals
    /// were acknowledged (the caller showed them), so the next writer charges their releases
    /// and applies them too. Returns `error`, a refusal saying what was written.
    fn record_diverged(&self, unlearner: &Unlearner, error: StoreError) -> StoreError {
        let (path, reason, diverged) = match error {
            StoreError::Diverged { path, reason } => (path, reason, true),
            StoreError::Reconciliation { path, reason } => (path, reason, false),
            error => return error,
        };
        let what = if self.withheld {
            "nothing was written".to_string()
        } else {
            match release_log::record_diverged(self, &unlearner.ledger.entries) {
                Ok(0) => "nothing was written".to_string(),
                Ok(n) => format!(
                    "its {n} new entries are recorded in {RELEASE_LOG_FILE} as failed (their releases may have been shown: the next writer charges them; their removals are not applied)"
                ),
                Err(e) => format!(
                    "nothing was written (recording its new entries as failed failed too: {e})"
                ),
            }
        };
        let reason = format!("{reason}; {what}");
        if diverged {
            StoreError::Diverged { path, reason }
        } else {
            StoreError::Reconciliation { path, reason }
        }
    }

    /// Gives `unlearner` the store's committed caches when its rows are external, its own
    /// caches are incomplete, and its ledger is the one the store committed; returns whether
    /// it did. A request rolled back by [`Unlearner::confirmed`] (its record could not be
    /// written) or that failed on its own clears an external-rows unlearner's caches, which
    /// it cannot rebuild without a pass over the user's table; but when the ledger is the
    /// committed one the secret state is too (the state row binds the ledger's length and
    /// newest digest), and the caches the store committed with that state are exactly the
    /// ones the unlearner had (review 9a, finding 2). [`Store::commit`] calls it first, so a
    /// commit after a rollback writes the store's caches back instead of empty ones; a
    /// store-backed caller calls it after a failed request (Python's removals do), so its
    /// next removal stays pass-free. Costs one read of the caches blob, only on that path:
    /// nothing is read while the unlearner's caches are complete or its rows held.
    pub fn reseed_caches(&self, unlearner: &mut Unlearner) -> Result<bool, StoreError> {
        let secret = &unlearner.model.secret;
        if !secret.rows.is_external() || unlearner.caches.complete(secret.model_count()) {
            return Ok(false);
        }
        let len = unlearner.ledger.entries.len() as u64;
        let Some((stored, dim)) = integrity::caches_at(self, len, &ledger_head(&unlearner.ledger))?
        else {
            return Ok(false);
        };
        unlearner.caches =
            HessianCaches::from_record(stored, dim).map_err(|reason| StoreError::Corrupt {
                path: self.db.clone(),
                reason,
            })?;
        Ok(true)
    }

    /// Declares that the caller shows nothing of a commit's entries — no certificate, receipt
    /// or published weights — until [`Store::commit`] (or [`Store::commit_with_refs`])
    /// returns Ok, and reports a failed commit as failed. Only then may a failed commit mark
    /// its release-log records abandoned (never charged, their removals never applied):
    /// nothing of them was observed. Without it — a library caller that shows the
    /// certificate [`Unlearner::remove`] returned before committing, or Python's
    /// `est.remove()` before `est.save()` — the records of a failed commit are marked failed
    /// instead: the next writer charges their releases as possibly published, and does not
    /// apply their removals (the caller was told the commit failed; it may retry)
    /// (proofs/transcript_accounting.md, premise (iii)). The CLI and the deletion engine
    /// ([`crate::deletions::Deletions::open`]) set it.
    pub fn withhold_until_commit(&mut self) {
        self.withheld = true;
    }

    /// Appends and syncs the release-log records of `unlearner`'s entries that the store has
    /// not committed (and this handle has not recorded yet), so that a caller may show them
    /// before [`Store::commit`]: their releases are charged whatever happens next, and their
    /// removals count as acknowledged. If the commit then fails (or is diverged), or nothing
    /// follows (the process stops), the records stay bare and the next writer takes them for
    /// a lost branch: it charges their releases and re-applies their removals (a store that
    /// holds its rows; an external-rows store refuses commits until they are applied:
    /// [`Store::commit`]). The next commit through this handle does not record them again.
    /// A retry of a failed commit (the retry rule of [`Store::commit`]) records its entries
    /// like any other. On error show nothing: [`StoreError::ReadOnly`] without the writer
    /// lock, [`StoreError::Diverged`] when `unlearner` does not continue the store's ledger,
    /// [`StoreError::Reconciliation`] when the store lost removals of another branch it cannot
    /// re-apply and `unlearner` does not apply them (the commit would refuse it: review 9a,
    /// finding 4); nothing is written.
    pub fn record_before_showing(&mut self, unlearner: &Unlearner) -> Result<(), StoreError> {
        if self.writer.is_none() {
            return Err(StoreError::ReadOnly {
                path: self.root.clone(),
            });
        }
        let (len, head): (i64, Option<String>) = self
            .conn
            .query_row(
                "SELECT count(*), (SELECT digest FROM ledger ORDER BY step DESC LIMIT 1) FROM ledger",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(db_error(&self.db))?;
        let entries = &unlearner.ledger.entries;
        let len = len as usize;
        let continues =
            len > 0 && entries.len() >= len && Some(&entries[len - 1].digest) == head.as_ref();
        // A retry of a failed commit continues the ledger below the reconciliation entries
        // its commit will replace ([`Store::commit`]): its entries from there are new.
        let base = if continues {
            len
        } else {
            match behind(&self.conn, &self.db, entries)? {
                Behind::Retry(base) => base,
                other => {
                    return Err(StoreError::Diverged {
                        path: self.root.clone(),
                        reason: format!(
                            "the unlearner's ledger ({} entries) does not continue the store's ({len} entries){}: nothing was recorded; show nothing of its new entries and load the model from the store again{}",
                            entries.len(),
                            other.note(),
                            if matches!(other, Behind::Applied) {
                                ""
                            } else {
                                " and redo the removal"
                            }
                        ),
                    });
                }
            }
        };
        let new = &entries[base..];
        let already = recorded_prefix(new, &self.recorded);
        if already == new.len() {
            return Ok(());
        }
        // A store that lost removals it cannot re-apply commits nothing that drops them:
        // record nothing it would refuse (the caller rolls the request back, shows nothing).
        // Checked only when there is something to record: a caller with nothing new (a
        // model opening the store before the request that settles it) is not refused.
        self.refuse_unapplied(unlearner)?;
        release_log::append_lines(
            &self.root,
            &release_log::records(&ledger_lineage(&unlearner.ledger), &new[already..]),
        )?;
        self.recorded = new.iter().map(|e| e.digest.clone()).collect();
        Ok(())
    }

    /// [`StoreError::Reconciliation`] unless `unlearner`'s ledger removes every id of the
    /// removals of another branch this external-rows store could not re-apply, and a
    /// request of it (not a reconciliation entry, which removed no row) erases every subject
    /// they erased: until then those erasures are pending, not done (review 10, finding 6).
    fn refuse_unapplied(&self, unlearner: &Unlearner) -> Result<(), StoreError> {
        use std::collections::HashSet;
        let entries = &unlearner.ledger.entries;
        let removed: HashSet<&str> = entries
            .iter()
            .flat_map(|e| e.removed_id_tags.iter().map(String::as_str))
            .collect();
        let erased: HashSet<&str> = entries
            .iter()
            .filter(|e| e.kind != EntryKind::Reconciliation)
            .flat_map(|e| e.erased_subject_tags.iter().map(String::as_str))
            .collect();
        let Some(lost) = self.unapplied.iter().find(|lost| {
            !lost.ids.iter().all(|t| removed.contains(t.as_str()))
                || !lost.subjects.iter().all(|t| erased.contains(t.as_str()))
        }) else {
            return Ok(());
        };
        let subjects = match lost.subjects.len() {
            0 => String::new(),
            n => format!(
                " and erased {n} data subject(s) whose erasure is pending here (recorded, not done: their rows are still in the model)"
            ),
        };
        let naming = if lost.subjects.is_empty() {
            ""
        } else {
            ", naming the same subjects (Python: subjects=...; Rust: GivenRows::subjects)"
        };
        Err(StoreError::Reconciliation {
            path: self.root.clone(),
            reason: format!(
                "ledger entry {} of another branch of this store's history (lost by a restore of {DB_FILE}, or recorded and shown before a save that failed or never came: an acknowledged removal) removed {} row(s) this store has not removed{subjects}, and its rows are external: it cannot re-apply that removal itself, and records or commits nothing that drops it. Apply that removal first: retry the commit with the model that holds the entry (Python: save() again), or remove the same rows again, giving them from your table{naming}, in a model loaded from this store (Python: est.remove(ids, X=rows, y=targets) with the ids acknowledged to the requester; Rust: Unlearner::remove_external), then save it; or put back the newest {DB_FILE}",
                short(&lost.entry),
                lost.ids.len()
            ),
        })
    }

    /// Checkpoints the WAL after every `deletions` commits that delete rows instead of after
    /// each one (1, the default; 0 counts as 1). The checkpoint is most of a deletion's cost
    /// (3 of its 4 syncs: BENCHMARKS.md); with an interval of N, a removed row's bytes may stay
    /// in the WAL and the database file until N − 1 further deletions have committed, or until
    /// this writer closes. Every commit is durable before it returns either way.
    pub fn set_checkpoint_every(&mut self, deletions: u64) {
        self.checkpoint_every = deletions.max(1);
    }

    /// What the last commit through this handle (or the reconciliation at its opening) left
    /// to do although it is durable: a WAL checkpoint or a rewrite of `model.json` that
    /// failed. Empty after a commit that finished everything. The commit stands — its
    /// removals are done, its certificates valid — so callers report success with these as
    /// warnings ([`FollowUp`] says which file and what to do); the next commit through this
    /// handle, its close, or the next writer to open the store retries them.
    pub fn follow_ups(&self) -> &[FollowUp] {
        &self.follow_ups
    }

    /// [`Store::follow_ups`], handed over once: a long-running writer (the deletion engine)
    /// warns about each once, not after every later request.
    pub fn take_follow_ups(&mut self) -> Vec<FollowUp> {
        std::mem::take(&mut self.follow_ups)
    }

    /// After a durable commit: empties the WAL if deleted rows may be in it, rewrites
    /// `model.json` if the model changed. A failure here is not a failure of the commit (it is
    /// durable: reporting it as failed would have a caller retry a removal that went
    /// through): it is recorded in [`Store::follow_ups`] and the work is marked for the next
    /// commit.
    fn finish_commit(&mut self, published: &PublishedModel, model_changed: bool) {
        self.follow_ups.clear();
        if self.checkpoint_due {
            match schema::checkpoint_now(&self.conn) {
                Ok(done) => {
                    self.checkpoint_due = !done;
                    if done {
                        self.deletions_pending = 0;
                    }
                }
                Err(e) => self.follow_ups.push(FollowUp {
                    path: self.db.clone(),
                    kind: FollowUpKind::Checkpoint,
                    problem: e.to_string(),
                }),
            }
        }
        if model_changed || self.model_file_stale {
            self.model_file_stale = true;
            match write_model_file(&self.model_path(), published) {
                Ok(()) => self.model_file_stale = false,
                Err(e) => self.follow_ups.push(FollowUp {
                    path: self.model_path(),
                    kind: FollowUpKind::ModelFile,
                    problem: e.to_string(),
                }),
            }
        }
    }

    /// Writes a new store's tables (replacing an existing store's content with `overwrite`).
    fn write_new(&mut self, unlearner: &Unlearner, overwrite: bool) -> Result<(), StoreError> {
        let db = self.db.clone();
        let fail = db_error(&db);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&fail)?;
        let has_schema: bool = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'state'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(&fail)?
            > 0;
        if has_schema {
            let committed: i64 = tx
                .query_row("SELECT count(*) FROM state", [], |r| r.get(0))
                .map_err(&fail)?;
            if committed > 0 && !overwrite {
                let entries: i64 = tx
                    .query_row("SELECT count(*) FROM ledger", [], |r| r.get(0))
                    .map_err(&fail)?;
                return Err(StoreError::Exists {
                    path: self.root.clone(),
                    entries: Some(entries as u64),
                });
            }
            tx.execute_batch(schema::REFS_TABLE).map_err(&fail)?;
            tx.execute_batch(schema::CACHES_TABLE).map_err(&fail)?;
            // The caches table goes (a held-rows store has none); its content is zeroed
            // first (secure_delete), like the rows'.
            tx.execute_batch(
                "DELETE FROM rows; DELETE FROM ledger; DELETE FROM state; DELETE FROM meta; \
                 DELETE FROM refs; DELETE FROM caches; DROP TABLE caches;",
            )
            .map_err(&fail)?;
        } else {
            tx.execute_batch(schema::SCHEMA).map_err(&fail)?;
        }
        let secret = &unlearner.model.secret;
        let format = match secret.rows {
            TrainingRows::Held(_) => STORE_FORMAT_VERSION,
            TrainingRows::External(_) => EXTERNAL_ROWS_FORMAT_VERSION,
        };
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('format_version', ?1)",
            params![format.to_string()],
        )
        .map_err(&fail)?;
        let no_targets = Targets {
            values: Vec::new(),
            encoding: secret.encoding().clone(),
        };
        let no_rows = Dataset::new(Vec::new(), Vec::new(), Vec::new(), Some(no_targets))
            .expect("an empty dataset is consistent");
        let (design, targets): (&Dataset, &[f64]) = match &secret.rows {
            TrainingRows::Held(design) => (design, &secret.targets().values),
            TrainingRows::External(_) => (&no_rows, &[]),
        };
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO rows (seq, id, subject, target, features, tag) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(&fail)?;
            for i in 0..design.n_rows() {
                let id = &design.ids()[i];
                insert
                    .execute(params![
                        design.sequence()[i] as i64,
                        id,
                        design.subjects().map(|s| &s[i]),
                        targets[i],
                        features_blob(design.row(i)),
                        secret.key.id_tag(id),
                    ])
                    .map_err(&fail)?;
            }
        }
        append_ledger(&tx, &unlearner.ledger.entries).map_err(&fail)?;
        let bindings = Bindings {
            ledger_len: unlearner.ledger.entries.len() as u64,
            ledger_head: ledger_head(&unlearner.ledger),
            rows: secret.n_rows() as u64,
            rows_digest: RowsDigest::of(design).hex(),
            model_digest: model_digest(&unlearner.model.published),
            previous_model_digest: None,
        };
        write_state(&tx, unlearner, bindings, true).map_err(&fail)?;
        // A failed creation is abandoned whoever the caller is: no store of this training
        // run exists to charge its release to, and the run's transcript is that one release,
        // which its budget admits.
        commit_logged(
            tx,
            &self.root,
            &db,
            &ledger_lineage(&unlearner.ledger),
            Logged {
                entries: &unlearner.ledger.entries,
                recorded: 0,
                withheld: true,
            },
        )
    }

    /// The transaction of [`Store::commit_with_refs`]; returns whether the published model
    /// changed and whether rows were deleted.
    fn write_changes(
        &mut self,
        unlearner: &Unlearner,
        refs: &[(&str, &str)],
        recorded: &[String],
    ) -> Result<(bool, bool), StoreError> {
        let db = self.db.clone();
        let root = self.root.clone();
        let fail = db_error(&db);
        let diverged = |reason: String| StoreError::Diverged {
            path: root.clone(),
            reason,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&fail)?;
        let secret_json: String = tx
            .query_row("SELECT secret FROM state WHERE one = 1", [], |r| r.get(0))
            .map_err(&fail)?;
        let record: StateRecord =
            serde_json::from_str(&secret_json).map_err(|e| StoreError::Corrupt {
                path: db.clone(),
                reason: format!("the state row is not valid: {e}"),
            })?;
        let mut old = record.bindings;
        let entries = &unlearner.ledger.entries;
        let mut len = old.ledger_len as usize;
        let continues =
            entries.len() >= len && len > 0 && entries[len - 1].digest == old.ledger_head;
        let standing = if continues {
            Behind::Diverged
        } else {
            behind(&tx, &db, entries)?
        };
        let retried = match standing {
            Behind::Retry(before) => Some(before),
            Behind::Applied | Behind::Diverged => None,
        };
        if let Some(before) = retried {
            // The reconciliation entries are replaced by the retried entries, which charge
            // the same releases themselves; they changed neither the rows nor the model.
            tx.execute(
                "DELETE FROM ledger WHERE step >= ?1",
                params![before as i64],
            )
            .map_err(&fail)?;
            len = before;
            old.ledger_len = before as u64;
            old.ledger_head = entries[before - 1].digest.clone();
        } else if !continues {
            return Err(diverged(format!(
                "the unlearner's ledger ({} entries) does not continue the store's ({len} entries, newest {}), nor retries a commit whose releases only the store's newest entries charge{}; load the model from the store again (its ledger is the record){}",
                entries.len(),
                short(&old.ledger_head),
                standing.note(),
                if matches!(standing, Behind::Applied) {
                    ""
                } else {
                    " and redo any removal it lacks"
                }
            )));
        }
        if record.external.is_some() != unlearner.model.secret.rows.is_external() {
            return Err(diverged(
                "the unlearner and the store disagree on where the rows live (held or external)"
                    .into(),
            ));
        }
        let external = record.external.is_some();
        let new_entries = &entries[len..];
        let mut digest =
            RowsDigest::parse(&old.rows_digest).ok_or_else(|| StoreError::Corrupt {
                path: db.clone(),
                reason: "the state row's rows digest is not 64 hex digits".into(),
            })?;
        let mut deleted = 0u64;
        {
            let mut select = tx
                .prepare_cached(
                    "SELECT seq, id, subject, target, features FROM rows WHERE tag = ?1",
                )
                .map_err(&fail)?;
            let mut delete = tx
                .prepare_cached("DELETE FROM rows WHERE tag = ?1")
                .map_err(&fail)?;
            for entry in new_entries {
                for tag in &entry.removed_id_tags {
                    if external {
                        // The rows are in the user's table: only their count is kept.
                        deleted += 1;
                        continue;
                    }
                    let row = select
                        .query_row(params![tag], |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, Option<String>>(2)?,
                                r.get::<_, f64>(3)?,
                                r.get::<_, Vec<u8>>(4)?,
                            ))
                        })
                        .optional()
                        .map_err(&fail)?;
                    let Some((seq, id, subject, target, features)) = row else {
                        return Err(diverged(format!(
                            "ledger entry {} removes a row the store does not hold",
                            entry.step
                        )));
                    };
                    digest.subtract(&row_hash(
                        seq as u64,
                        &id,
                        subject.as_deref(),
                        target,
                        &features,
                    ));
                    delete.execute(params![tag]).map_err(&fail)?;
                    deleted += 1;
                }
            }
        }
        let rows = old.rows - deleted;
        let remaining = unlearner.model.secret.n_rows() as u64;
        if rows != remaining {
            return Err(diverged(format!(
                "the store would keep {rows} rows after this commit, the unlearner has {remaining}"
            )));
        }
        append_ledger(&tx, new_entries).map_err(&fail)?;
        if !refs.is_empty() {
            let mut insert = tx
                .prepare_cached("INSERT INTO refs (ref, entry) VALUES (?1, ?2)")
                .map_err(&fail)?;
            for &(reference, entry) in refs {
                if !new_entries.iter().any(|e| e.digest == entry) {
                    return Err(diverged(format!(
                        "a reference names ledger entry {}, which this commit does not append",
                        short(entry)
                    )));
                }
                insert.execute(params![reference, entry]).map_err(&fail)?;
            }
        }
        let published = &unlearner.model.published;
        let new_digest = model_digest(published);
        let model_changed = new_digest != old.model_digest;
        let bindings = Bindings {
            ledger_len: entries.len() as u64,
            ledger_head: ledger_head(&unlearner.ledger),
            rows,
            rows_digest: digest.hex(),
            previous_model_digest: if model_changed {
                Some(old.model_digest)
            } else {
                old.previous_model_digest
            },
            model_digest: new_digest,
        };
        write_state(&tx, unlearner, bindings, false).map_err(&fail)?;
        // A replaced entry's record stays in the log, unmarked: it names no release and no
        // removal, so as a record of another branch it charges and applies nothing.
        commit_logged(
            tx,
            &root,
            &db,
            &ledger_lineage(&unlearner.ledger),
            Logged {
                entries: new_entries,
                recorded: recorded_prefix(new_entries, recorded),
                withheld: self.withheld,
            },
        )?;
        if let Some(before) = retried {
            self.reconciled.retain(|e| (e.step as usize) < before);
        }
        Ok((model_changed, deleted > 0))
    }

    /// Refuses a database of a newer format, or one whose creation never committed; returns
    /// its format version.
    fn check_format(&self) -> Result<u32, StoreError> {
        let fail = db_error(&self.db);
        let version: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'format_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .or_else(|e| match e {
                rusqlite::Error::SqliteFailure(_, Some(ref m)) if m.contains("no such table") => {
                    Ok(None)
                }
                e => Err(e),
            })
            .map_err(fail)?;
        let Some(version) = version else {
            return Err(StoreError::NotAStore {
                path: self.root.clone(),
            });
        };
        let found: u32 = version.parse().map_err(|_| StoreError::Corrupt {
            path: self.db.clone(),
            reason: format!("format version '{version}' is not a number"),
        })?;
        if found > EXTERNAL_ROWS_FORMAT_VERSION {
            return Err(StoreError::NewerFormat {
                path: self.db.clone(),
                found,
                supported: EXTERNAL_ROWS_FORMAT_VERSION,
            });
        }
        Ok(found)
    }

    /// A writer's migration of the references at open (see the module docs): a store of
    /// format 3 gets the `refs` table, the references of its journal whose entry is a
    /// committed removal (a line torn by a crash, or one whose entry never committed, is
    /// dropped, as format 3 dropped them at open), and format 4, in one transaction; then
    /// the journal is deleted. A journal left beside a format-4 store (a writer stopped
    /// between that transaction and the deletion) is adopted the same way: a reference
    /// already in the table is kept as it is.
    fn adopt_refs_journal(&mut self, version: u32) -> Result<(), StoreError> {
        let journal = self.root.join(REFS_JOURNAL_FILE);
        let text = match fs::read_to_string(&journal) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(StoreError::Io {
                    path: journal,
                    source,
                });
            }
        };
        if text.is_none() && version >= schema::REFS_FORMAT_VERSION {
            return Ok(());
        }
        let fail = db_error(&self.db);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&fail)?;
        tx.execute_batch(schema::REFS_TABLE).map_err(&fail)?;
        {
            let mut is_removal = tx
                .prepare(
                    "SELECT count(*) FROM ledger \
                     WHERE digest = ?1 AND json_extract(entry, '$.kind') = 'removal'",
                )
                .map_err(&fail)?;
            let mut insert = tx
                .prepare("INSERT OR IGNORE INTO refs (ref, entry) VALUES (?1, ?2)")
                .map_err(&fail)?;
            for line in text.as_deref().unwrap_or("").lines() {
                let Ok(line) = serde_json::from_str::<JournalLine>(line) else {
                    continue;
                };
                let committed: i64 = is_removal
                    .query_row(params![line.entry], |r| r.get(0))
                    .map_err(&fail)?;
                if committed > 0 {
                    insert
                        .execute(params![line.reference, line.entry])
                        .map_err(&fail)?;
                }
            }
        }
        if version < schema::REFS_FORMAT_VERSION {
            tx.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'format_version'",
                params![STORE_FORMAT_VERSION.to_string()],
            )
            .map_err(&fail)?;
        }
        tx.commit().map_err(&fail)?;
        remove_journal(&self.root)
    }

    /// A writer's housekeeping at open: removes temporary files an interrupted write left
    /// (they hold at most a published model), empties the WAL, and brings `model.json` up to
    /// the committed model if a writer stopped before rewriting it.
    fn tidy(&mut self) -> Result<(), StoreError> {
        let entries = fs::read_dir(&self.root).map_err(io_error(&self.root))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                let path = entry.path();
                fs::remove_file(&path).map_err(io_error(&path))?;
            }
        }
        self.checkpoint_due = !schema::checkpoint_now(&self.conn).map_err(db_error(&self.db))?;
        self.repair_model_file()
    }

    /// Rewrites `model.json` from the database if it is missing or one commit behind; an
    /// edited one is [`StoreError::Integrity`] (every writer refuses it).
    fn repair_model_file(&mut self) -> Result<(), StoreError> {
        let (published, status) = integrity::model_file_status(self)?;
        match status {
            integrity::ModelFile::Current => {}
            integrity::ModelFile::Missing | integrity::ModelFile::Previous => {
                write_model_file(&self.model_path(), &published)?;
            }
            integrity::ModelFile::Foreign(problem) => {
                return Err(StoreError::Integrity {
                    path: self.root.clone(),
                    problems: vec![format!("{MODEL_FILE}: {problem}")],
                });
            }
        }
        self.model_file_stale = false;
        Ok(())
    }

    /// Builds the unlearner from a snapshot that passed every check.
    fn assemble(&self, contents: integrity::Contents) -> Result<Unlearner, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            path: self.db.clone(),
            reason,
        };
        let integrity::Contents {
            mut record,
            published,
            ledger,
            rows,
        } = contents;
        if let Some(external) = record.external.take() {
            let dim = record.state.feature_names.len();
            let stored = external
                .caches
                .ok_or_else(|| corrupt("the external-rows state holds no caches".into()))?;
            let caches = HessianCaches::from_record(stored, dim).map_err(corrupt)?;
            let rows = TrainingRows::External(ExternalRows {
                n_rows: record.bindings.rows as usize,
                feature_names: record.state.feature_names.clone(),
                encoding: record.state.encoding.clone(),
                subjects: record.subjects,
                digest: external.row_digest,
                digest_adopted: external.row_digest_adopted,
            });
            let secret = record.state.into_secret(rows).map_err(corrupt)?;
            return Ok(Unlearner::from_external_parts(
                Model { published, secret },
                Ledger { entries: ledger },
                caches,
                &external.class_counts,
            ));
        }
        let targets = Targets {
            values: rows.targets,
            encoding: record.state.encoding.clone(),
        };
        let mut design = Dataset::new(
            rows.ids,
            record.state.feature_names.clone(),
            rows.features,
            Some(targets),
        )
        .and_then(|d| d.with_sequence(rows.sequence))
        .map_err(|e| corrupt(e.to_string()))?;
        if record.subjects {
            let subjects = rows
                .subjects
                .into_iter()
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| corrupt("a row has no subject".into()))?;
            design = design
                .with_subjects(subjects)
                .map_err(|e| corrupt(e.to_string()))?;
        }
        let design = design.with_declared(published.declared);
        let secret = record
            .state
            .into_secret(TrainingRows::Held(design))
            .map_err(corrupt)?;
        if secret.noise.len() != published.weights.len() {
            return Err(corrupt(
                "the number of noise vectors does not match the published model".into(),
            ));
        }
        Ok(Unlearner::from_parts(
            Model { published, secret },
            Ledger { entries: ledger },
        ))
    }
}

impl Drop for Store {
    /// A writer whose WAL may still hold deleted rows (a reader held an older snapshot, the
    /// checkpoint interval had not come round, or a checkpoint failed) checkpoints once more
    /// before it closes, and one whose `model.json` rewrite failed tries it once more (best
    /// effort: the next writer repairs it at open either way).
    fn drop(&mut self) {
        if self.writer.is_some() && (self.checkpoint_due || self.deletions_pending > 0) {
            let _ = schema::checkpoint_now(&self.conn);
        }
        if self.writer.is_some() && self.model_file_stale {
            let _ = self.repair_model_file();
        }
    }
}

/// One line of a format-3 references journal ([`REFS_JOURNAL_FILE`]).
#[derive(serde::Deserialize)]
struct JournalLine {
    #[serde(rename = "ref")]
    reference: String,
    entry: String,
}

/// Deletes a references journal ([`REFS_JOURNAL_FILE`]) in `dir`, if there is one.
fn remove_journal(dir: &Path) -> Result<(), StoreError> {
    let journal = dir.join(REFS_JOURNAL_FILE);
    match fs::remove_file(&journal) {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Io {
            path: journal,
            source,
        }),
    }
}

/// What [`commit_logged`] writes to the release log.
struct Logged<'a> {
    /// The entries the transaction appends to the ledger.
    entries: &'a [Certificate],
    /// How many of them (the first) [`Store::record_before_showing`] already recorded.
    recorded: usize,
    /// Whether the caller withholds the entries until the commit returns.
    withheld: bool,
}

/// Commits `tx`, which appends `logged.entries` to the ledger of training entry `lineage`,
/// after their records (those not already recorded) are appended to the release log in one
/// all-or-nothing append, and synced: no release is visible
/// without its record. If the append or the commit fails, the records that are in the log
/// are marked (best effort) and the failure is returned: abandoned when the caller withheld
/// the entries (it showed nothing of them: [`Store::withhold_until_commit`]; nothing of them
/// became visible, so no writer may apply or charge them), failed otherwise (the caller may
/// have shown the certificate or the new weights before committing: the next writer charges
/// the release, and does not apply the removal, whose caller was told it failed;
/// proofs/transcript_accounting.md, premise (iii)). When the append itself failed, nothing
/// of it stayed and only the entries recorded beforehand are marked (failed: they were
/// recorded to be shown). If the marks cannot be written either, the records are treated as
/// possibly published and their removals applied, as for a writer that stopped between a
/// record and its commit.
fn commit_logged(
    tx: rusqlite::Transaction<'_>,
    root: &Path,
    db: &Path,
    lineage: &str,
    logged: Logged<'_>,
) -> Result<(), StoreError> {
    let Logged {
        entries,
        recorded,
        withheld,
    } = logged;
    let appended =
        release_log::append_lines(root, &release_log::records(lineage, &entries[recorded..]));
    // Only what this append wrote is marked: the entries recorded before they were shown
    // were acknowledged, and stay bare records (charged and applied by the next writer).
    let in_log: &[Certificate] = if appended.is_ok() {
        &entries[recorded..]
    } else {
        &[]
    };
    let committed = appended.and_then(|()| tx.commit().map_err(db_error(db)));
    if committed.is_err() {
        // Nor what another handle recorded before showing (acknowledged: a retry through a
        // new handle appends its record again). Marks are honoured only directly after their
        // records, so only the records after the last acknowledged one are marked (review
        // 11, finding 1: a mark between two records would be taken for a forged line). If
        // the log cannot be read, nothing is marked: bare records are applied by the next
        // writer, erring toward erasure.
        let first = match release_log::acknowledged_before(root, in_log) {
            Ok(acknowledged) => in_log
                .iter()
                .rposition(|e| acknowledged.contains(&e.digest))
                .map_or(0, |last| last + 1),
            Err(_) => in_log.len(),
        };
        let to_mark = &in_log[first..];
        // The commit's own error is the one to report; a failed mark changes nothing else.
        let _ = release_log::append_lines(
            root,
            &release_log::marks(to_mark, withheld && recorded == 0),
        );
    }
    committed
}

/// How many of `entries`, from the first, are the entries `recorded` names, in order.
fn recorded_prefix(entries: &[Certificate], recorded: &[String]) -> usize {
    entries
        .iter()
        .zip(recorded)
        .take_while(|(e, d)| e.digest == **d)
        .count()
}

/// How an unlearner's ledger that does not continue the store's newest entry stands to the
/// store's ledger ([`behind`]).
enum Behind {
    /// A retry ([`Store::commit`]): a commit of the unlearner may replace every entry of the
    /// store's ledger after this length.
    Retry(usize),
    /// The store's entries after the newest one the unlearner holds have removed every id its
    /// new entries remove (the next writer re-applied them from the release log, where they
    /// were recorded before they were shown): nothing of the unlearner is lost.
    Applied,
    /// Neither: the unlearner diverged from the store.
    Diverged,
}

impl Behind {
    /// What a [`StoreError::Diverged`] adds about it.
    fn note(&self) -> &'static str {
        match self {
            Behind::Applied => {
                ": every removal of its new entries is already applied in the store (the next writer re-applied them from the release log, where they were recorded before they were shown), so nothing is lost and, once the model is loaded again, there is no removal to repeat"
            }
            Behind::Retry(_) | Behind::Diverged => "",
        }
    }
}

/// How `entries` — which do not continue the store's newest entry — stand to the store's
/// ledger ([`Behind`]). It reads the ledger's newest entries back to the newest one `entries`
/// hold (hash-chained, so every older one matches too), decoding those in between; an
/// ordinary commit continues the newest entry and never calls this. A [`Behind::Retry`]
/// needs some of them, all reconciliation entries that only charge releases or record
/// erasures the new entries make too (they removed nothing and changed neither the rows nor
/// the model), every release they charge to be
/// one of the new entries of `entries` (none of them committed), and some new entry:
/// deleting them then drops no charge — each of those releases is charged by its own entry
/// instead — and no removal. Decided from the ledger alone, whichever handle (or process)
/// committed them: a retry whose own commit failed, or that another writer's opening
/// preceded, is accepted all the same.
fn behind(conn: &Connection, db: &Path, entries: &[Certificate]) -> Result<Behind, StoreError> {
    let fail = db_error(db);
    let mut newest = conn
        .prepare_cached("SELECT step, digest, entry FROM ledger ORDER BY step DESC")
        .map_err(&fail)?;
    let mut rows = newest.query([]).map_err(&fail)?;
    let mut newer: Vec<Certificate> = Vec::new();
    while let Some(row) = rows.next().map_err(&fail)? {
        let step = row.get::<_, i64>(0).map_err(&fail)? as usize;
        let digest: String = row.get(1).map_err(&fail)?;
        if entries.get(step).is_some_and(|e| e.digest == digest) {
            let base = step + 1;
            let new = &entries[base..];
            // An entry that records erasures again (a restore's or an opening's
            // `record_lost_erasures`) may go only if the new entries erase those subjects
            // themselves: the same commit records them again (review 10, finding 1).
            let erased: std::collections::HashSet<&str> = new
                .iter()
                .flat_map(|e| e.erased_subject_tags.iter().map(String::as_str))
                .collect();
            let charges_only = newer.iter().all(|e| {
                e.kind == EntryKind::Reconciliation
                    && e.removed_id_tags.is_empty()
                    && e.erased_subject_tags
                        .iter()
                        .all(|t| erased.contains(t.as_str()))
            });
            // Some newer entry, and nothing else: an entry that only records erasures again
            // (no release to charge: a request that published nothing, `PublishPolicy`) is
            // replaceable too (review 11, finding 3).
            let retry = charges_only
                && !new.is_empty()
                && !newer.is_empty()
                && newer
                    .iter()
                    .flat_map(|e| &e.foreign_releases)
                    .all(|f| new.iter().any(|e| e.digest == f.entry));
            let removed: std::collections::HashSet<&str> = newer
                .iter()
                .flat_map(|e| e.removed_id_tags.iter().map(String::as_str))
                .collect();
            let mut tags = new.iter().flat_map(|e| &e.removed_id_tags).peekable();
            let applied = tags.peek().is_some() && tags.all(|t| removed.contains(t.as_str()));
            return Ok(if retry {
                Behind::Retry(base)
            } else if applied {
                Behind::Applied
            } else {
                Behind::Diverged
            });
        }
        let json: String = row.get(2).map_err(&fail)?;
        newer.push(
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                path: db.to_path_buf(),
                reason: format!("ledger entry {step} is not a certificate: {e}"),
            })?,
        );
    }
    Ok(Behind::Diverged)
}

/// The digest of the newest ledger entry ("" for an empty ledger).
fn ledger_head(ledger: &Ledger) -> String {
    ledger.last().map(|c| c.digest.clone()).unwrap_or_default()
}

/// The digest of the training entry (ledger entry 0): the lineage of the release log's
/// records ("" for an empty ledger).
fn ledger_lineage(ledger: &Ledger) -> String {
    ledger
        .entries
        .first()
        .map(|c| c.digest.clone())
        .unwrap_or_default()
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}

fn db_error(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Database {
        path: path.to_path_buf(),
        source,
    }
}

/// Appends ledger entries (their step numbers are their positions).
fn append_ledger(tx: &Connection, entries: &[Certificate]) -> rusqlite::Result<()> {
    let mut insert =
        tx.prepare_cached("INSERT INTO ledger (step, digest, entry) VALUES (?1, ?2, ?3)")?;
    for entry in entries {
        let json = serde_json::to_string(entry).expect("a certificate serialises");
        insert.execute(params![entry.step as i64, entry.digest, json])?;
    }
    Ok(())
}

/// Writes the state row: the small secret state with its bindings, the published model, and
/// their checksum; for external rows the caches blob too, and the format that holds it.
fn write_state(
    tx: &Connection,
    unlearner: &Unlearner,
    bindings: Bindings,
    insert: bool,
) -> rusqlite::Result<()> {
    let (record, caches) = StateRecord::of(unlearner, bindings).ok_or_else(|| {
        rusqlite::Error::ToSqlConversionFailure(
            "the caches of an external-rows unlearner still queue removed rows".into(),
        )
    })?;
    if let Some(blob) = caches {
        // Format 6: the caches as a blob the state binds; a format-5 store is migrated by
        // this commit (its JSON caches go with the state row replaced below).
        tx.execute_batch(schema::CACHES_TABLE)?;
        tx.prepare_cached("INSERT OR REPLACE INTO caches (one, blob) VALUES (1, ?1)")?
            .execute(params![blob])?;
        tx.prepare_cached("UPDATE meta SET value = ?1 WHERE key = 'format_version'")?
            .execute(params![EXTERNAL_ROWS_FORMAT_VERSION.to_string()])?;
    }
    let secret = serde_json::to_string(&record).expect("the state serialises");
    let published =
        serde_json::to_string(&unlearner.model.published).expect("the model serialises");
    let checksum = state_checksum(&secret, &published);
    let sql = if insert {
        "INSERT INTO state (one, secret, published, checksum) VALUES (1, ?1, ?2, ?3)"
    } else {
        "UPDATE state SET secret = ?1, published = ?2, checksum = ?3 WHERE one = 1"
    };
    tx.prepare_cached(sql)?
        .execute(params![secret, published, checksum])?;
    Ok(())
}

/// The published model as `model.json` holds it: its fields with [`MODEL_DIGEST_KEY`] (the
/// digest of every published field). What a service serves as the model, too.
pub fn model_file_json(model: &PublishedModel) -> serde_json::Value {
    let mut value = serde_json::to_value(model).expect("the model serialises");
    value[MODEL_DIGEST_KEY] = serde_json::Value::String(model_digest(model));
    value
}

/// Writes `model.json` atomically: [`model_file_json`].
pub fn write_model_file(path: &Path, model: &PublishedModel) -> Result<(), StoreError> {
    let json = serde_json::to_vec_pretty(&model_file_json(model)).expect("a JSON value serialises");
    write_atomic(path, &json)
}

/// Reads a published model file (`model.json`) and checks it against its own digest
/// ([`MODEL_DIGEST_KEY`]: every published field) and its weights against theirs: a field
/// edited, dropped or misspelled is refused. Returns the model and its digest.
pub fn read_model_file(path: &Path) -> Result<(PublishedModel, String), StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = fs::read(path).map_err(io_error(path))?;
    let mut value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("not valid JSON: {e}")))?;
    let version = value
        .get("format_version")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    if version > u64::from(MODEL_FORMAT_VERSION) {
        return Err(StoreError::NewerFormat {
            path: path.to_path_buf(),
            found: u32::try_from(version).unwrap_or(u32::MAX),
            supported: MODEL_FORMAT_VERSION,
        });
    }
    let recorded = match value
        .as_object_mut()
        .and_then(|o| o.remove(MODEL_DIGEST_KEY))
    {
        Some(serde_json::Value::String(d)) => d,
        _ => return Err(corrupt(format!("no \"{MODEL_DIGEST_KEY}\" string"))),
    };
    let model: PublishedModel = serde_json::from_value(value)
        .map_err(|e| corrupt(format!("not a published model: {e}")))?;
    if crate::model::weights_digest(&model.weights) != model.digest {
        return Err(corrupt(
            "the weights do not match the recorded weights digest".into(),
        ));
    }
    let digest = model_digest(&model);
    if digest != recorded {
        return Err(corrupt(format!(
            "the model does not match its recorded {MODEL_DIGEST_KEY} (a field was edited, dropped or misspelled)"
        )));
    }
    Ok((model, digest))
}

/// Checks a certificate's format version.
fn check_certificate_version(path: &Path, entry: &Certificate) -> Result<(), StoreError> {
    if entry.format_version > CERTIFICATE_FORMAT_VERSION {
        return Err(StoreError::NewerFormat {
            path: path.to_path_buf(),
            found: entry.format_version,
            supported: CERTIFICATE_FORMAT_VERSION,
        });
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, directory fsync. The
/// file is readable by its owner only (0600 on Unix): stores and reports are operator-only.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    // A bare file name has the empty parent "", which cannot be opened to fsync: use ".".
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = owner_only_file(&tmp)?;
        file.write_all(bytes).map_err(io_error(&tmp))?;
        file.sync_all().map_err(io_error(&tmp))?;
        drop(file);
        fs::rename(&tmp, path).map_err(io_error(path))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

/// Creates (truncating) a file readable and writable by its owner only.
fn owner_only_file(path: &Path) -> Result<fs::File, StoreError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(io_error(path))
}

/// Creates `path` empty and owner-only (0600) if it does not exist; SQLite gives its WAL and
/// index files the database file's permissions.
fn ensure_owner_only_file(path: &Path) -> Result<(), StoreError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop).map_err(io_error(path))
}

/// Makes a directory accessible to its owner only (0700 on Unix).
#[cfg(unix)]
pub fn restrict_permissions(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_error(dir))
}

/// Makes a directory accessible to its owner only (a no-op off Unix).
#[cfg(not(unix))]
pub fn restrict_permissions(_dir: &Path) -> Result<(), StoreError> {
    Ok(())
}
