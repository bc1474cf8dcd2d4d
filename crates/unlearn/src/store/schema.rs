//! The database file: its tables, its format version, and the settings every connection
//! runs with.
//!
//! ```sql
//! meta(key TEXT PRIMARY KEY, value TEXT)                -- format_version
//! rows(seq INTEGER PRIMARY KEY, id TEXT, subject TEXT,  -- the secret training rows
//!      target REAL, features BLOB, tag TEXT UNIQUE)     --   tag = NoiseKey::id_tag(id)
//! ledger(step INTEGER PRIMARY KEY, digest TEXT, entry TEXT)  -- one certificate per row
//! state(one INTEGER PRIMARY KEY CHECK (one = 1),        -- the small secret state, the
//!       secret TEXT, published TEXT, checksum TEXT)     --   published model, their checksum
//! refs(ref TEXT PRIMARY KEY, entry TEXT)                -- requesters' references → the
//!                                                       --   digest of their ledger entry
//! caches(one INTEGER PRIMARY KEY CHECK (one = 1),       -- external rows only (format 6):
//!        blob BLOB)                                     --   the caches, little-endian f64
//! ```
//!
//! A request's reference is written in the same transaction as its ledger entry, so the two
//! are committed together or not at all (format 4; format 3 kept them in a `refs.jsonl`
//! journal, synced before the transaction: [`REFS_TABLE`] and `Store::open` migrate it).
//!
//! A row is found for deletion by its keyed tag, the same tag the ledger records: the rows a
//! commit deletes are exactly those its new certificates name, so the two cannot disagree.
//!
//! Settings ([`configure`]): `journal_mode = WAL` (readers see the last commit and never
//! block the writer or each other), `synchronous = FULL` (a commit is on disk when it
//! returns: a deletion is acknowledged only once durable), `secure_delete = ON` (deleted
//! rows are overwritten with zeros in their pages, free pages included), and a busy timeout
//! for SQLite's short internal locks. After a deletion the writer checkpoints the WAL and
//! truncates it ([`checkpoint`]), so the removed rows' bytes survive neither in free pages
//! nor in the log.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// Version of the store format (the database file). 4: the requesters' references in the
/// `refs` table; 3: the SQLite store with its references in `refs.jsonl` (migrated by the
/// first writer that opens it); 2 and 1 were directories of files (`secret/state.bin`).
pub const STORE_FORMAT_VERSION: u32 = 4;

/// The format of a store whose rows are external ([`crate::rows`]): format 4 with no rows
/// in the `rows` table, and the caches as one blob of little-endian f64 in the `caches`
/// table, bound by its SHA-256 in the state row. Only external-rows
/// stores are written in it, so a held-rows store stays readable by builds that know
/// format 4; a build that does not know it refuses it as newer instead of misreading it.
/// 6; format 5 kept the caches in the state row as JSON (≈ 1.2 s per commit at d = 784),
/// and is still read: its next commit migrates it.
pub const EXTERNAL_ROWS_FORMAT_VERSION: u32 = 6;

/// The table of an external-rows store's caches (format 6: [`EXTERNAL_ROWS_FORMAT_VERSION`]),
/// one row; created by the commit that first writes it.
pub(super) const CACHES_TABLE: &str = "CREATE TABLE IF NOT EXISTS caches \
     (one INTEGER PRIMARY KEY CHECK (one = 1), blob BLOB NOT NULL);";

/// The first format with the `refs` table; a writer opening an older SQLite store adds it.
pub(super) const REFS_FORMAT_VERSION: u32 = 4;

/// The table of requesters' references (in [`SCHEMA`]; added to a format-3 store).
pub(super) const REFS_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS refs (ref TEXT PRIMARY KEY, entry TEXT NOT NULL);";

/// The tables of a new store.
pub(super) const SCHEMA: &str = "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE rows (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        subject TEXT,
        target REAL NOT NULL,
        features BLOB NOT NULL,
        tag TEXT NOT NULL UNIQUE
    );
    CREATE TABLE ledger (step INTEGER PRIMARY KEY, digest TEXT NOT NULL, entry TEXT NOT NULL);
    CREATE TABLE state (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        secret TEXT NOT NULL,
        published TEXT NOT NULL,
        checksum TEXT NOT NULL
    );
    CREATE TABLE refs (ref TEXT PRIMARY KEY, entry TEXT NOT NULL);
";

/// How long a connection waits for SQLite's own short locks (a reader's closing checkpoint,
/// the WAL index) before reporting the database busy. The writer lock, which a whole command
/// holds, has its own wait (`--wait`).
const INTERNAL_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the database file (which must exist) with the store's settings.
pub(super) fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    configure(&conn)?;
    Ok(conn)
}

/// The settings of every connection (see the module docs).
pub(super) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(INTERNAL_BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!(
                "the database would not switch to write-ahead logging (journal mode {mode})"
            )),
        ));
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;")
}

/// Copies every committed page from the WAL into the database file and truncates the WAL to
/// zero bytes, without waiting: returns false if a reader still holding an older snapshot
/// kept it from completing (the log is then emptied at a later checkpoint — the next
/// commit's, or when the writer closes — instead of holding the writer up).
pub(super) fn checkpoint_now(conn: &Connection) -> rusqlite::Result<bool> {
    conn.busy_timeout(Duration::ZERO)?;
    let result = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
    conn.busy_timeout(INTERNAL_BUSY_TIMEOUT)?;
    match result {
        Ok(busy) => Ok(busy == 0),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => Ok(false),
        Err(e) => Err(e),
    }
}
