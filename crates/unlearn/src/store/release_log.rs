//! The release log: what observers and requesters have been shown, kept where a restore of
//! the database does not roll it back.
//!
//! A restore of `unlearn.db` from a backup forgets the ledger entries committed since the
//! backup, but not what they made visible: an observer has seen their releases, and their
//! requesters hold receipts. So before a commit makes a ledger entry visible, one line per
//! entry is appended to `releases.jsonl` in the store directory (owner-only, append-only,
//! fsynced before the database commits) — [`LogRecord`]: the lineage (the digest of the
//! training entry), the entry's position and digest (the ledger head once it is committed),
//! the release count and charge Δ_j when it published, the published weights' digest, and
//! the keyed tags of the ids it removed. No row, id, subject name or secret weight.
//!
//! **Crash safety.** The record is durable before the commit that makes its release visible
//! (the database commit, then `model.json`), so no release is ever visible without its
//! record. A record whose commit never happened (a crash or a failed write in between) looks
//! like a release of another branch and is charged as one: over-charging, which only spends
//! budget; its removal (a request that was made but whose commit did not complete, and so
//! was not acknowledged) is applied by the next writer like a lost one — the two cannot be
//! told apart, and the error is on the side of erasure. A line torn by a crash during the append is dropped at the next append (its
//! commit had not started).
//!
//! **Reconciliation** ([`reconcile`], run by every [`Store::open`] for writing). Records of
//! this lineage whose entry is not in the store's ledger come from a branch of the history
//! that a restore (or a copy of the store) left behind. Their releases, unless a
//! reconciliation entry already charged them, are charged to the transcript through one
//! reconciliation ledger entry ([`crate::unlearner::Unlearner::charge_foreign_releases`];
//! proofs/transcript_accounting.md, "Forked histories"); their removals that this store has
//! not applied (acknowledged to their requesters, lost by the restore) are re-applied — the
//! rows are found by their keyed tags, each lost entry's rows as one request — so that
//! nothing acknowledged is lost; then the whole is committed before any other request.
//! Ledger entries missing from the log (a store that predates it, or a log deleted or
//! restored with the database) are added to it then; releases it never recorded cannot be
//! charged, which [`check`] reports (failed) until the entries are added.
//!
//! The log protects against a restore of the database only: restore `unlearn.db` (and
//! `model.json`), never `releases.jsonl`, and never serve a copy of the store with its own
//! log (two logs, two transcripts that no one accounts together).

use super::{Store, StoreError, db_error, short, sync_dir};
use crate::certificate::{Certificate, ForeignRelease};
use crate::unlearner::Unlearner;
use crate::verify::Check;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File name of the release log inside a store.
pub const RELEASE_LOG_FILE: &str = "releases.jsonl";

/// The name of the check [`check`] reports.
pub const RELEASE_LOG_CHECK: &str = "release log";

/// One line of the release log: the public facts of one ledger entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Digest of the training entry (ledger entry 0): the same for every branch of one
    /// training run's history, so a store retrained in the same directory starts afresh.
    pub lineage: String,
    /// The entry's position in its ledger.
    pub step: u64,
    /// The entry's digest: the ledger head once it is committed.
    pub entry: String,
    /// When the entry published: its release count (training is release 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<u64>,
    /// When the entry published: the charge c_j of its release (its certificate's `distance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge: Option<f64>,
    /// Digest of the published weights after the entry.
    pub weights: String,
    /// Keyed tags of the ids the entry removed (HMAC under the store's key; not the ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_id_tags: Vec<String>,
}

impl LogRecord {
    /// The record of a ledger entry of the history whose training entry is `lineage`.
    fn of(lineage: &str, entry: &Certificate) -> Self {
        Self {
            lineage: lineage.to_string(),
            step: entry.step,
            entry: entry.digest.clone(),
            release: entry.published.then_some(entry.release),
            charge: entry.distance.filter(|_| entry.published),
            weights: entry.digest_after.clone(),
            removed_id_tags: entry.removed_id_tags.clone(),
        }
    }
}

/// Path of the release log of the store at `root`.
pub fn release_log_path(root: &Path) -> PathBuf {
    root.join(RELEASE_LOG_FILE)
}

/// Reads the release log of the store at `root` (none yet: empty). A final line without its
/// newline that does not parse was torn by a crash during its append and is skipped; any
/// other line that is not a record is [`StoreError::Corrupt`], naming the line.
pub fn read_release_log(root: &Path) -> Result<Vec<LogRecord>, StoreError> {
    let path = release_log_path(root);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(StoreError::Io { path, source }),
    };
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut records = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let corrupt = |what: String| StoreError::Corrupt {
            path: path.clone(),
            reason: format!(
                "line {}: {what}; the release log is written only by unlearn and only appended to: put back the file as it was",
                i + 1
            ),
        };
        match serde_json::from_str::<LogRecord>(line) {
            Ok(record) => {
                if record.charge.is_some_and(|c| !(c.is_finite() && c >= 0.0)) {
                    return Err(corrupt(format!(
                        "the charge {:?} is not a finite non-negative number",
                        record.charge
                    )));
                }
                records.push(record);
            }
            Err(_) if i + 1 == lines.len() && !complete => {}
            Err(e) => return Err(corrupt(format!("not a release record ({e})"))),
        }
    }
    Ok(records)
}

/// Appends the records of `entries` (of the history whose training entry is `lineage`) and
/// syncs them (`fdatasync`: the data and the new length), the directory too when the file is
/// new. A torn last line is cut first.
pub(super) fn append(
    root: &Path,
    lineage: &str,
    entries: &[Certificate],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let path = release_log_path(root);
    let io = |source| StoreError::Io {
        path: path.clone(),
        source,
    };
    let created = !path.exists();
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(io)?;
    let len = file.seek(SeekFrom::End(0)).map_err(io)?;
    if len > 0 {
        let mut last = [0u8];
        file.seek(SeekFrom::End(-1)).map_err(io)?;
        file.read_exact(&mut last).map_err(io)?;
        if last[0] != b'\n' {
            let mut bytes = Vec::new();
            file.seek(SeekFrom::Start(0)).map_err(io)?;
            file.read_to_end(&mut bytes).map_err(io)?;
            let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            file.set_len(keep as u64).map_err(io)?;
        }
        file.seek(SeekFrom::End(0)).map_err(io)?;
    }
    let mut lines = Vec::new();
    for entry in entries {
        let record = LogRecord::of(lineage, entry);
        lines.extend(serde_json::to_vec(&record).expect("a log record serialises"));
        lines.push(b'\n');
    }
    file.write_all(&lines).map_err(io)?;
    file.sync_data().map_err(io)?;
    if created {
        sync_dir(root)?;
    }
    Ok(())
}

/// How the release log and a ledger differ.
#[derive(Debug, Default)]
struct Divergence<'a> {
    /// Releases of other branches that no reconciliation entry of the ledger charges.
    foreign: Vec<ForeignRelease>,
    /// Removals of other branches this ledger has not applied: each entry's digest and the
    /// tags of its ids still to remove.
    lost: Vec<(&'a str, Vec<String>)>,
    /// Ledger entries the log does not record.
    unlogged: Vec<&'a Certificate>,
    /// Releases of other branches already charged, with the steps of the entries that did.
    charged: Vec<(u64, usize)>,
}

/// Compares the log with a ledger (its records of other training runs are ignored).
fn compare<'a>(records: &'a [LogRecord], ledger: &'a [Certificate]) -> Divergence<'a> {
    let Some(training) = ledger.first() else {
        return Divergence::default();
    };
    let lineage = training.digest.as_str();
    let in_ledger: HashSet<&str> = ledger.iter().map(|e| e.digest.as_str()).collect();
    let charged: HashSet<&str> = ledger
        .iter()
        .flat_map(|e| e.foreign_releases.iter().map(|f| f.entry.as_str()))
        .collect();
    let removed: HashSet<&str> = ledger
        .iter()
        .flat_map(|e| e.removed_id_tags.iter().map(String::as_str))
        .collect();
    let ours = records.iter().filter(|r| r.lineage == lineage);
    let logged: HashSet<&str> = ours.clone().map(|r| r.entry.as_str()).collect();
    let mut divergence = Divergence {
        unlogged: ledger
            .iter()
            .filter(|e| !logged.contains(e.digest.as_str()))
            .collect(),
        charged: ledger
            .iter()
            .filter(|e| !e.foreign_releases.is_empty())
            .map(|e| (e.step, e.foreign_releases.len()))
            .collect(),
        ..Divergence::default()
    };
    let mut seen = HashSet::new();
    let mut scheduled = HashSet::new();
    for record in ours.filter(|r| !in_ledger.contains(r.entry.as_str())) {
        if !seen.insert(record.entry.as_str()) {
            continue;
        }
        if let (Some(release), Some(charge)) = (record.release, record.charge)
            && !charged.contains(record.entry.as_str())
        {
            divergence.foreign.push(ForeignRelease {
                entry: record.entry.clone(),
                release,
                charge,
            });
        }
        let tags: Vec<String> = record
            .removed_id_tags
            .iter()
            .filter(|t| !removed.contains(t.as_str()) && scheduled.insert(t.as_str()))
            .cloned()
            .collect();
        if !tags.is_empty() {
            divergence.lost.push((record.entry.as_str(), tags));
        }
    }
    divergence
}

/// The text column a one-column query returns, in order.
fn strings(store: &Store, sql: &str) -> Result<Vec<String>, StoreError> {
    let fail = db_error(&store.db);
    let mut select = store.conn.prepare(sql).map_err(&fail)?;
    let values = select
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(&fail)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(&fail)?;
    Ok(values)
}

/// Whether the log and the store agree, read cheaply (no row and no ordinary entry is
/// decoded): every ledger entry is in the log, every release of another branch of this
/// lineage is charged by a reconciliation entry, and no row removed by another branch is in
/// the store.
fn settled(store: &Store, records: &[LogRecord], digests: &[String]) -> Result<bool, StoreError> {
    let lineage = &digests[0];
    let in_ledger: HashSet<&str> = digests.iter().map(String::as_str).collect();
    let ours: Vec<&LogRecord> = records.iter().filter(|r| &r.lineage == lineage).collect();
    let logged: HashSet<&str> = ours.iter().map(|r| r.entry.as_str()).collect();
    if !digests.iter().all(|d| logged.contains(d.as_str())) {
        return Ok(false);
    }
    let foreign: Vec<&LogRecord> = ours
        .into_iter()
        .filter(|r| !in_ledger.contains(r.entry.as_str()))
        .collect();
    if foreign.is_empty() {
        return Ok(true);
    }
    // Only reconciliation entries carry charged releases; their JSON names their kind.
    let reconciliations = strings(
        store,
        "SELECT entry FROM ledger WHERE entry LIKE '%\"kind\":\"reconciliation\"%'",
    )?;
    let mut charged = HashSet::new();
    for json in &reconciliations {
        let entry: Certificate = serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
            path: store.db.clone(),
            reason: format!("a reconciliation entry is not a certificate: {e}"),
        })?;
        charged.extend(entry.foreign_releases.into_iter().map(|f| f.entry));
    }
    if foreign
        .iter()
        .any(|r| r.release.is_some() && !charged.contains(&r.entry))
    {
        return Ok(false);
    }
    let fail = db_error(&store.db);
    let mut present = store
        .conn
        .prepare_cached("SELECT count(*) FROM rows WHERE tag = ?1")
        .map_err(&fail)?;
    for tag in foreign.iter().flat_map(|r| &r.removed_id_tags) {
        let count: i64 = present
            .query_row(params![tag], |r| r.get(0))
            .map_err(&fail)?;
        if count > 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Reconciles the store with its release log (see the module documentation): adds the
/// ledger entries the log lacks, charges the releases of other branches, re-applies their
/// lost removals, and commits. Cheap when there is nothing to do (the ledger's digests and
/// the log are compared before anything is decoded). Returns the ledger entries it
/// committed.
pub(super) fn reconcile(store: &mut Store) -> Result<Vec<Certificate>, StoreError> {
    let records = read_release_log(&store.root)?;
    // The ledger's digests, oldest first (a cheap read: no entry is decoded).
    let digests = strings(store, "SELECT digest FROM ledger ORDER BY step")?;
    let Some(lineage) = digests.first() else {
        return Ok(Vec::new());
    };
    if settled(store, &records, &digests)? {
        return Ok(Vec::new());
    }
    let mut unlearner = store.load()?;
    let before = unlearner.ledger.entries.len();
    let (foreign, lost) = {
        let divergence = compare(&records, &unlearner.ledger.entries);
        let unlogged: Vec<Certificate> = divergence.unlogged.into_iter().cloned().collect();
        append(&store.root, lineage, &unlogged)?;
        let lost: Vec<(String, Vec<String>)> = divergence
            .lost
            .into_iter()
            .map(|(entry, tags)| (entry.to_string(), tags))
            .collect();
        (divergence.foreign, lost)
    };
    if foreign.is_empty() && lost.is_empty() {
        return Ok(Vec::new());
    }
    if !foreign.is_empty() {
        unlearner.charge_foreign_releases(foreign);
    }
    for (entry, tags) in &lost {
        reapply(store, &mut unlearner, entry, tags)?;
    }
    store.commit(&unlearner)?;
    Ok(unlearner.ledger.entries.split_off(before))
}

/// Re-applies a removal of another branch (ledger entry `entry` there) that the store lost:
/// the remaining rows whose keyed tags it names, removed as one request.
fn reapply(
    store: &Store,
    unlearner: &mut Unlearner,
    entry: &str,
    tags: &[String],
) -> Result<(), StoreError> {
    if unlearner.model.secret.rows.is_external() && !tags.is_empty() {
        // The store holds no row to re-apply them with: refusing beats dropping a removal
        // an observer saw acknowledged.
        return Err(StoreError::Reconciliation {
            path: store.root.clone(),
            reason: format!(
                "ledger entry {} of another branch (lost by a restore) removed {} row(s), and this store's rows are external: it cannot re-apply those removals without their rows; restore the store's newest unlearn.db instead",
                short(entry),
                tags.len()
            ),
        });
    }
    let fail = db_error(&store.db);
    let mut select = store
        .conn
        .prepare_cached("SELECT seq, id FROM rows WHERE tag = ?1")
        .map_err(&fail)?;
    let mut rows = Vec::new();
    for tag in tags {
        let found = select
            .query_map(params![tag], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(&fail)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&fail)?;
        rows.extend(found);
    }
    if rows.is_empty() {
        return Ok(());
    }
    rows.sort_unstable();
    let ids: Vec<String> = rows.into_iter().map(|(_, id)| id).collect();
    unlearner
        .remove(&ids)
        .map(drop)
        .map_err(|e| StoreError::Reconciliation {
            path: store.root.clone(),
            reason: format!(
                "re-applying the {} removal(s) of ledger entry {} of another branch (lost by a restore) failed: {e}",
                ids.len(),
                short(entry)
            ),
        })
}

/// The release log against the store's ledger, as `verify` reports it. Failed when a ledger
/// entry is missing from the log (the store predates it, or the log was deleted or restored
/// with the database: what it never recorded cannot be charged). Passed otherwise, saying
/// which releases of other branches were charged and by which entries, and which are still
/// pending: a restored store (or one whose writer stopped between a record and its commit —
/// the two look alike) is settled by the next writer before it publishes anything, and until
/// then it publishes nothing new, so its certificates are true of everything it has published.
pub fn check(root: &Path, ledger: &[Certificate]) -> Result<Check, StoreError> {
    let records = read_release_log(root)?;
    let divergence = compare(&records, ledger);
    if let Some(first) = divergence.unlogged.first() {
        return Ok(Check {
            name: RELEASE_LOG_CHECK,
            passed: false,
            detail: format!(
                "{} ledger entries (the first is step {}) are not in {RELEASE_LOG_FILE}: the store predates the release log, or the log was deleted or restored from a backup; releases the log never recorded cannot be charged. The next command that opens the store for writing adds the entries",
                divergence.unlogged.len(),
                first.step
            ),
        });
    }
    let mut notes = vec![format!("{} records", records.len())];
    if divergence.charged.is_empty() {
        notes.push("no release outside this ledger charged".into());
    } else {
        let by: Vec<String> = divergence
            .charged
            .iter()
            .map(|(step, n)| format!("{n} by entry {step}"))
            .collect();
        notes.push(format!(
            "a restore was detected and the other branch's releases charged ({})",
            by.join(", ")
        ));
    }
    if !divergence.foreign.is_empty() {
        let releases: Vec<String> = divergence
            .foreign
            .iter()
            .map(|f| format!("release {} of entry {}", f.release, short(&f.entry)))
            .collect();
        notes.push(format!(
            "a restore from a backup (or a writer stopped between a record and its commit) was detected: {} release(s) outside this ledger are not charged yet ({}); the next command that opens the store for writing charges them before it publishes",
            releases.len(),
            releases.join(", ")
        ));
    }
    if !divergence.lost.is_empty() {
        notes.push(format!(
            "{} removal(s) outside this ledger ({} ids) are not applied yet; the next command that opens the store for writing re-applies them",
            divergence.lost.len(),
            divergence.lost.iter().map(|(_, t)| t.len()).sum::<usize>()
        ));
    }
    Ok(Check {
        name: RELEASE_LOG_CHECK,
        passed: true,
        detail: notes.join("; "),
    })
}
