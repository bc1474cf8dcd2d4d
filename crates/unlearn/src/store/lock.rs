//! The writer lock: one process (and one [`super::Store`] handle) at a time may change a
//! store, for as long as it holds the handle — a whole `serve-requests` run, say — while
//! readers go on reading the last commit (they never take this lock).
//!
//! The lock is SQLite's own exclusive lock on a small side database, `STORE/writer.lock`,
//! taken with `BEGIN EXCLUSIVE` and held until the handle is dropped. SQLite locks with POSIX
//! `fcntl` record locks, which belong to a process and are not inherited by a child: a
//! `fork` in another thread between `fork` and `exec` cannot keep the lock alive after its
//! holder let go (as an `flock` on an inherited descriptor can), and SQLite arbitrates
//! between connections of one process itself. Waiting is SQLite's busy timeout.

use super::StoreError;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// File name of the writer lock inside a store.
pub const WRITER_LOCK_FILE: &str = "writer.lock";

/// A held writer lock, released on drop.
pub(super) struct WriterLock {
    _conn: Connection,
}

impl std::fmt::Debug for WriterLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriterLock")
    }
}

impl WriterLock {
    /// Takes the writer lock of the store at `root`, waiting up to `wait` for another writer
    /// to finish; [`StoreError::Locked`] if it is still held then.
    pub(super) fn acquire(root: &Path, wait: Duration) -> Result<Self, StoreError> {
        let path = root.join(WRITER_LOCK_FILE);
        let io = |e: rusqlite::Error| StoreError::Database {
            path: path.clone(),
            source: e,
        };
        super::ensure_owner_only_file(&path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags).map_err(io)?;
        conn.busy_timeout(wait).map_err(io)?;
        match conn.execute_batch("BEGIN EXCLUSIVE") {
            Ok(()) => Ok(Self { _conn: conn }),
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {
                Err(StoreError::Locked {
                    path: root.to_path_buf(),
                    waited: wait,
                })
            }
            Err(e) => Err(io(e)),
        }
    }
}
