//! The store a Python model continues, and the recording of its releases there before
//! Python sees them.
//!
//! A model is **store-backed** once it was loaded from a store (`load`) or saved to one
//! (`save`): [`Backing`] remembers that store's directory (a path, not a secret; a pickle
//! never holds a handle: `__getstate__` saves a copy of the store, which does not become
//! this model's store, and pickles the copy's path). Its removals
//! are shown the moment they return — a certificate in a notebook, weights in a service —
//! so each is charged in that store's release log before it returns: [`request`] runs the
//! removal, then `Store::record_before_showing` appends and syncs the records of the
//! model's entries the store has not committed, and only then does the certificate reach
//! Python. A process killed right after `remove()` returned, or a `save()` that then fails
//! (a full disk, a refused commit), leaves the release charged for the store's next writer
//! (proofs/transcript_accounting.md, premise (iii)).
//!
//! Design choices:
//! - **The writer handle is kept** from the first recording removal until the next
//!   successful `save()` to that store (a failed one keeps it for the retry, so that the
//!   retry commits each removal once: [`Backing::commit`]) or `close()`
//!   ([`Backing::close`]: the end of a `with` block too), or until the model is dropped
//!   (the handle closes with it, releasing the lock; a removal that opened it and failed
//!   lets it go at once). Only one
//!   handle may append to the log and commit (the writer lock), and a commit through the
//!   handle that recorded does not record again (no double charge). Opening per removal
//!   instead would leave the next writer's opening to reconcile the recorded entries as a
//!   lost branch (charge them, re-apply their removals) before `save()` could commit them,
//!   which `save()` would then see as diverged.
//!   Holding the lock also makes a second writer wait instead of branching the history:
//!   another model or process (`unlearn serve`, a CLI command) is refused with
//!   `Locked` while this model has removals it has not saved — it cannot commit first and
//!   turn this model's `save()` into a diverged one.
//! - **The lock is taken before the removal.** A store that cannot be opened for writing
//!   (another writer holds it, the directory is gone, a read-only file system) or that this
//!   model no longer continues (another writer committed since it was loaded or saved, or
//!   the opening settled releases of a process that stopped before saving) refuses the
//!   removal before anything changes. A record that cannot be appended after the removal (a
//!   full disk) rolls the removal back ([`unlearn::unlearner::Unlearner::confirmed`]): in
//!   every case the removal raises, nothing was shown, and the model is as it was.
//! - **A handle belongs to the process that opened it.** A forked child (`multiprocessing`
//!   on Linux, `os.fork`) inherits the handle and its SQLite connection, but not the
//!   writer lock (an fcntl lock belongs to a process), and SQLite forbids using a
//!   connection across a fork. The handle remembers its process: in any other, it is
//!   forgotten without being closed (closing it there could checkpoint and delete the
//!   parent's write-ahead log) and the store is opened afresh ([`Backing::writer`],
//!   [`Backing::commit`], `Drop`). That open is refused while the parent holds the lock —
//!   and, since SQLite keeps its own record of the inherited lock in the child, also after
//!   the parent let go (review 10, finding 5): a child should not write the parent's store;
//!   use the `spawn` start method, or load with `record=False` in the child.
//! - **The rows stay where the store keeps them.** A model backed by a store that holds its
//!   rows and then detached (`detach_rows`) can never be committed there (the store refuses
//!   a model whose rows live elsewhere), so its removals are refused before anything changes
//!   — nothing recorded that no save could ever commit — until it is saved to a store of its
//!   own (`save(new_path)`, which then backs it), and `detach_rows` itself is refused while
//!   the model holds removals it has not saved ([`Backing::holds_lock`]).
//! - **No opt-out per removal.** A store-backed model always records; a caller who wants a
//!   model that is not backed loads it with `record=False` (an experiment on a copy: its
//!   releases are charged in its in-memory ledger only, and it never takes the lock). A
//!   model trained in Python and never saved has no store to charge either.

use crate::errors::{removal_error, unlearn_error};
use pyo3::PyErr;
use pyo3::exceptions::PyOSError;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use unlearn::store::{Access, FollowUp, Store, StoreError};
use unlearn::unlearner::{RemovalError, Unlearner as Core};

/// Removals never wait for the writer lock: a held lock means another writer is changing
/// the store (or another model holds removals it has not saved), which waiting would not
/// settle in time for an interactive call.
const WRITE_NOW: Access = Access::Write {
    wait: Duration::ZERO,
};

/// The store a model continues: its directory, where it keeps the rows, and, while the
/// model holds releases the store has recorded but not committed, the store's writer handle.
pub struct Backing {
    path: PathBuf,
    /// Whether the store's rows are external (the model's were when it loaded or saved it).
    external: bool,
    writer: Option<Handle>,
}

/// A writer handle and the process that opened it (see the module's documentation).
struct Handle {
    /// The handle; a `Mutex` only so that the Python class is `Sync` (the handle is used
    /// through `&mut` and never locked concurrently).
    store: Mutex<Store>,
    /// `std::process::id()` when it was opened.
    pid: u32,
}

impl Handle {
    /// The handle, if this process opened it; a handle inherited across a fork is forgotten
    /// (`std::mem::forget`): never closed here, never used.
    fn of_this_process(self) -> Option<Store> {
        if self.pid == std::process::id() {
            Some(
                self.store
                    .into_inner()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            )
        } else {
            std::mem::forget(self);
            None
        }
    }
}

impl Drop for Backing {
    /// Closes the handle (releasing the lock) in the process that opened it only.
    fn drop(&mut self) {
        if let Some(handle) = self.writer.take() {
            drop(handle.of_this_process());
        }
    }
}

impl Backing {
    /// A model continuing the store at `path`, whose rows are `external` or held (as the
    /// model's are when it loads or saves it), not holding its lock. The path is made
    /// absolute (when it resolves), so that a later change of the working directory (a
    /// notebook's `os.chdir`) does not point the model at another directory.
    pub fn new(path: PathBuf, external: bool) -> Self {
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        Self {
            path,
            external,
            writer: None,
        }
    }

    /// Whether the model holds the store's writer lock, that is removals recorded in the
    /// store and not saved (in this process).
    pub fn holds_lock(&self) -> bool {
        self.writer
            .as_ref()
            .is_some_and(|handle| handle.pid == std::process::id())
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The writer handle, opened (taking the lock) on first use — or in a forked child,
    /// whose inherited handle is forgotten — after checking that the model continues what
    /// the store committed (recording, through the same call, any uncommitted entry it
    /// holds). On error the handle is not kept.
    fn writer(&mut self, unlearner: &Core) -> Result<&mut Store, PyErr> {
        let store = match self.writer.take().and_then(Handle::of_this_process) {
            Some(store) => store,
            None => self.open(unlearner)?,
        };
        Ok(self.keep(store))
    }

    /// Opens the store for writing and checks that `unlearner` continues its ledger — and
    /// keeps its rows where the store does (a model detached from a store that holds its
    /// rows can never be committed there: refused before the store is opened).
    fn open(&self, unlearner: &Core) -> Result<Store, PyErr> {
        if unlearner.model.secret.rows.is_external() != self.external {
            return Err(unlearn_error(format!(
                "the removal was not made, nothing was shown and the model is unchanged: the model's rows were detached (detach_rows) after it was loaded from or saved to {}, which holds its rows, so that store can never take this model's removals. Save the model to a store of its own first (est.save(new_path): its removals are then recorded there), or load a copy that no store backs (Estimator.load(path, record=False))",
                self.path.display()
            )));
        }
        let mut store = Store::open(&self.path, WRITE_NOW)
            .map_err(|e| refused(&self.path, "opening it for writing failed", e))?;
        // An opening that settled releases of another branch (a process that removed and
        // stopped before saving) committed an entry this model lacks: say so.
        let note = store.reconciliation_note();
        store.record_before_showing(unlearner).map_err(|e| {
            let cause = match &note {
                Some(note) => format!("opening it for writing settled its release log: {note}"),
                None => "checking that this model continues it failed".into(),
            };
            refused(&self.path, &cause, e)
        })?;
        Ok(store)
    }

    /// Lets go of the store: commits `unlearner`'s recorded, unsaved removals through the
    /// handle that recorded them ([`Backing::commit`]) and releases the writer lock, so that
    /// other writers (`unlearn serve`, the CLI, another model) need not wait for a `save()`
    /// or the garbage collector. Committing rather than only dropping the handle: the
    /// removals were shown when they returned, and the records already charge them, so the
    /// store's next writer would otherwise re-apply them as a lost branch (a second release
    /// of each, and a store this model no longer continues: its later `remove()` and
    /// `save()` refused). Committed, the model still continues the store: a later removal
    /// takes the lock again ([`request`]). Nothing to do, and no follow-up, when no handle is
    /// held. After an error the handle is let go too (unlike after a failed `save()`, which
    /// keeps it for the retry): the model no longer holds the lock.
    pub fn close(&mut self, unlearner: &mut Core) -> Result<Vec<FollowUp>, StoreError> {
        let closed = self.commit(unlearner).unwrap_or(Ok(Vec::new()));
        self.writer = None;
        closed
    }

    /// Commits `unlearner` to this store through the handle that recorded its releases
    /// (they are not recorded again), then lets go of the lock. `None` when no handle is
    /// held (nothing was recorded: the caller saves as for any path).
    ///
    /// After a failed commit the handle and its lock are kept (review 10, finding 4), unless
    /// the store refused the model ([`StoreError::Diverged`], [`StoreError::Reconciliation`]:
    /// no retry of it can commit, and the error says to load the store again): the
    /// records stand, unmarked — the removals were shown, so they count as acknowledged —
    /// and the retried `save()` commits through the same handle, each entry once, each
    /// release charged once (`Store::commit`'s retry through one handle). Dropping it
    /// instead would have the retry open the store afresh, and that opening would settle the
    /// records as a lost branch: a store that holds its rows re-applies the removals (a
    /// second release of each) and the retried `save()` is refused as diverged. The model
    /// keeps the lock until that retry, `close()`, or its end (the handle then closes, and
    /// the next writer settles the records as before).
    pub fn commit(&mut self, unlearner: &mut Core) -> Option<Result<Vec<FollowUp>, StoreError>> {
        let mut store = self.writer.take()?.of_this_process()?;
        let committed = store.commit(unlearner).map(|()| store.take_follow_ups());
        if committed.as_ref().is_err_and(retryable) {
            self.keep(store);
        }
        Some(committed)
    }

    /// Keeps `store` as this process's writer handle.
    fn keep(&mut self, store: Store) -> &mut Store {
        let handle = self.writer.insert(Handle {
            store: Mutex::new(store),
            pid: std::process::id(),
        });
        handle
            .store
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Whether a commit that failed with `e` may be retried through the same handle: anything
/// but the store refusing the model (it does not continue the store, or drops a removal the
/// store must apply), which a retry of the same model cannot change.
fn retryable(e: &StoreError) -> bool {
    !matches!(
        e,
        StoreError::Diverged { .. } | StoreError::Reconciliation { .. }
    )
}

/// Why a request of a store-backed model failed: the removal itself, or the store.
enum Failure {
    Removal(RemovalError),
    Store(StoreError),
}

impl From<RemovalError> for Failure {
    fn from(e: RemovalError) -> Self {
        Failure::Removal(e)
    }
}

/// Runs a removal `request` on `unlearner` (the model's ids, given rows or refresh) and, when
/// the model is store-backed, records its release in the store's log before returning (see
/// the module's documentation). On any error nothing changed: the removal raised, and its
/// result must not be shown.
pub fn request<T>(
    backing: Option<&mut Backing>,
    unlearner: &mut Core,
    request: impl FnOnce(&mut Core) -> Result<T, RemovalError>,
) -> Result<T, PyErr> {
    let Some(backing) = backing else {
        return request(unlearner).map_err(removal_error);
    };
    let path = backing.path.clone();
    let opened_here = backing.writer.is_none();
    let store = backing.writer(unlearner)?;
    let result = unlearner.confirmed(request, |changed| {
        store.record_before_showing(changed).map_err(Failure::Store)
    });
    if result.is_err() {
        // The rollback cleared an external-rows model's caches; when it holds no unsaved
        // removal they are the store's, read back so that its next removal needs no pass
        // (review 9a, finding 2). Best effort: the request's error is the one to report, and
        // without them the next removal asks for the pass, as it did before.
        let _ = store.reseed_caches(unlearner);
        if opened_here {
            // A failed request leaves the lock as it found it: a mistyped id does not keep
            // other writers out of the store.
            backing.writer = None;
        }
    }
    result.map_err(|failure| match failure {
        Failure::Removal(e) => removal_error(e),
        Failure::Store(e) => refused(
            &path,
            "recording the release in its log failed, so the removal was rolled back",
            e,
        ),
    })
}

/// The error of a removal that a store-backed model could not record: the store's own
/// message (which names the path), what happened, and that nothing changed.
fn refused(path: &Path, what: &str, e: StoreError) -> PyErr {
    // The core's message for a held lock names the CLI's flag; say it for Python.
    let problem = match &e {
        StoreError::Locked { .. } => {
            "another writer holds its writer lock (another model of this process that \
             removed and has not saved, `unlearn serve`, a CLI command)"
                .to_string()
        }
        e => e.to_string(),
    };
    let message = format!(
        "the removal was not made, nothing was shown and the model is unchanged: a model \
         loaded from or saved to {} records each release in that store's log before it \
         returns, and {what}: {problem}. {}",
        path.display(),
        next_step(&e)
    );
    match e {
        StoreError::Io { .. } => PyOSError::new_err(message),
        _ => unlearn_error(message),
    }
}

/// What the caller can do about a store that refused to record.
fn next_step(e: &StoreError) -> &'static str {
    match e {
        StoreError::Locked { .. } => {
            "Save (est.save(path)) or delete the other model, or wait for the other process \
             to finish, then retry; or load a copy not backed by the store \
             (Estimator.load(path, record=False)), whose releases are charged only in its own \
             ledger"
        }
        // Their messages say to load the store again and repeat the removal.
        StoreError::Diverged { .. } | StoreError::Reconciliation { .. } => "",
        StoreError::NotAStore { .. } => {
            "The store is gone: save this model to a store (est.save(path)) before removing"
        }
        _ => "Fix the store (free the disk, restore its permissions), then retry",
    }
}
