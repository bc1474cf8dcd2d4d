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
//! the keyed tags of the ids it removed and of the data subjects it erased. No row, id,
//! subject name or secret weight.
//!
//! **Crash safety.** The record is durable before the commit that makes its release visible
//! (the database commit, then `model.json`), so no release is ever visible without its
//! record. When the commit (or the record's own append) fails and its caller withheld the
//! entries until the commit returned ([`Store::withhold_until_commit`]: the CLI, the deletion
//! engine), the writer appends a line `{"abandoned": DIGEST}` for each of its entries and
//! syncs it ([`LogLine::Abandoned`]): nothing of an entry whose commit failed was visible —
//! readers see only committed transactions, `model.json` and receipts come after the
//! commit, and the caller showed nothing before — so its record is
//! skipped by reconciliation and by [`check`]: its removal is not applied (its requester was
//! told it failed) and its release is not charged. A caller that did not withhold them (a
//! library caller that showed the certificate before committing) may have shown the
//! release: its writer appends `{"failed": DIGEST}` instead ([`LogLine::Failed`]), and the
//! record's release is charged like a release of another branch, its removal still not
//! applied (a store whose rows are external could not re-apply it, and its caller was told
//! it failed). Either mark is best effort: if it
//! cannot be written either (the disk that failed the commit may fail it too), or the
//! writer stopped between the record and its commit, the record stays, looks like a
//! release of another branch and is charged as one — over-charging, which only spends
//! budget — and its removal is applied by the next writer like a lost one: the error is on
//! the side of erasure (a store whose rows are external cannot apply it: its writer opens,
//! and refuses every commit that does not remove those ids — [`Store::commit`]). A caller
//! that shows an entry before committing records it first ([`Store::record_before_showing`]):
//! without a record, a release shown before a commit whose first write (the record) failed
//! cannot be charged. Such a record is never marked: the entry was shown, so its removal
//! counts as acknowledged, and if its commit fails (or is diverged) the next writer charges
//! its release and applies its removal, as when the process stops before committing
//! (review 9a, finding 1). A caller whose commit is refused as diverged and that did not
//! withhold has its new entries the log does not name recorded and marked failed in one
//! append. A reconciliation entry replaced by a retried commit ([`Store::commit`]) keeps its
//! record, unmarked: it names no release and no removal, so it charges and applies nothing. Every append is all or
//! nothing ([`append_lines`]), so marks never outlive the records written with them. An entry can be abandoned and still reach the database (SQLite
//! reported the commit failed, e.g. on a failed `fsync`, but the frames it wrote are
//! recovered when the database is next opened): the last line about an entry decides, so
//! the next writer finds that entry of its ledger unrecorded and records it again. The
//! writer holds the store's lock from its records to their marks, so an abandonment directly
//! follows the records it abandons; one anywhere else was appended later (by hand or forged)
//! and is not honoured — the records count — and [`check`] fails. A line torn by a crash
//! during the append is dropped at the next append (its commit had not started).
//!
//! **Lineages.** Records carry their training run (the lineage: the digest of ledger entry
//! 0). A store retrained in the same directory (`train --force`) starts a new lineage whose
//! records follow every record of the old one; a record of another lineage *after* this
//! store's place in the log (the last line, record or abandonment, about its lineage or one
//! of its ledger entries) means the database was replaced by an older one (a backup from
//! before a retrain, or a copy of another store): the newer run's releases and acknowledged
//! removals belong to other training data and cannot be settled here, so every writer
//! refuses the store ([`StoreError::Superseded`]) and [`check`] fails, until the newer
//! database is put back or the store is retrained. A training record of this lineage that
//! repeats (a retrain that reproduced the same training entry: same data, same `--seed`)
//! starts the lineage afresh: the records before it belong to the earlier run.
//!
//! **Reconciliation** ([`reconcile`], run by every [`Store::open`] for writing). Records of
//! this lineage whose entry is not in the store's ledger come from a branch of the history
//! that a restore (or a copy of the store) left behind. Their releases, unless a
//! reconciliation entry already charged them, are charged to the transcript through one
//! reconciliation ledger entry ([`crate::unlearner::Unlearner::charge_foreign_releases`];
//! proofs/transcript_accounting.md, "Forked histories"); their removals that this store has
//! not applied (acknowledged to their requesters, lost by the restore) are re-applied — the
//! rows are found by their keyed tags, each lost entry's rows as one request — so that
//! nothing acknowledged is lost; then the whole is committed before any other request,
//! withheld (nothing of it is shown before the opening returns: a failed reconciliation
//! abandons its own records, and the next opening settles the lost ones again). A store
//! whose rows are external cannot re-apply them: it records their subject erasures again
//! (pending, not done) and refuses every commit until a request removes those ids and
//! erases those subjects again ([`Store::commit`]). Ledger entries missing from the log (a store that predates it, or a log deleted or
//! restored with the database) are added to it then; releases it never recorded cannot be
//! charged, which [`check`] reports (failed) until the entries are added.
//!
//! The log protects against a restore of the database only: restore `unlearn.db` (and
//! `model.json`), never `releases.jsonl`, and never serve a copy of the store with its own
//! log (two logs, two transcripts that no one accounts together).

use super::{DB_FILE, MODEL_FILE, Store, StoreError, db_error, short, sync_dir};
use crate::certificate::{Certificate, EntryKind, ForeignRelease};
use crate::unlearner::Unlearner;
use crate::verify::Check;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File name of the release log inside a store.
pub const RELEASE_LOG_FILE: &str = "releases.jsonl";

/// The name of the check `check` reports.
pub const RELEASE_LOG_CHECK: &str = "release log";

/// The record of one ledger entry in the release log: its public facts.
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
    /// Keyed tags of the data subjects the entry erased (its certificate's
    /// `erased_subject_tags`: HMAC under the store's key, never the subject), so that a
    /// restore that loses the entry re-applies the erasure as a subject erasure (the
    /// release log's reconciliation at a writer's opening). Absent when empty: records of
    /// entries that erased no subject, and every record written before the field
    /// existed, read and serialise as they did (a record carries no digest of its own; the
    /// entry's digest it names is the certificate's, which this field does not enter).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erased_subject_tags: Vec<String>,
}

impl LogRecord {
    /// The record of a ledger entry of the history whose training entry is `lineage` (the
    /// line a commit appends before the entry becomes visible).
    pub fn of(lineage: &str, entry: &Certificate) -> Self {
        Self {
            lineage: lineage.to_string(),
            step: entry.step,
            entry: entry.digest.clone(),
            release: entry.published.then_some(entry.release),
            charge: entry.distance.filter(|_| entry.published),
            weights: entry.digest_after.clone(),
            removed_id_tags: entry.removed_id_tags.clone(),
            erased_subject_tags: entry.erased_subject_tags.clone(),
        }
    }
}

/// One line of the release log.
#[derive(Debug, Clone, PartialEq)]
pub enum LogLine {
    /// The record of a ledger entry, appended and synced before the commit that makes it
    /// visible.
    Record(LogRecord),
    /// The digest of an entry whose commit failed after its record was written: nothing of
    /// it became visible. Written as `{"abandoned": DIGEST}`.
    Abandoned(String),
    /// The digest of an entry whose commit failed after its record was written, although its
    /// caller may have shown it (it did not withhold it: [`Store::withhold_until_commit`]):
    /// its release counts as published and is charged; its removal is not applied (its
    /// caller was told it failed). Written as `{"failed": DIGEST}`.
    Failed(String),
}

impl LogLine {
    /// The digest of the ledger entry the line is about.
    pub(super) fn entry(&self) -> &str {
        match self {
            LogLine::Record(record) => &record.entry,
            LogLine::Abandoned(entry) | LogLine::Failed(entry) => entry,
        }
    }
}

/// Path of the release log of the store at `root`.
pub fn release_log_path(root: &Path) -> PathBuf {
    root.join(RELEASE_LOG_FILE)
}

/// Reads the release log of the store at `root` (none yet: empty). A final line without its
/// newline that does not parse was torn by a crash during its append and is skipped; any
/// other line that is neither a record nor an abandonment is [`StoreError::Corrupt`],
/// naming the line.
pub fn read_release_log(root: &Path) -> Result<Vec<LogLine>, StoreError> {
    let path = release_log_path(root);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(StoreError::Io { path, source }),
    };
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut parsed = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match parse_line(line) {
            Ok(line) => parsed.push(line),
            Err(_) if i + 1 == lines.len() && !complete => {}
            Err(what) => {
                return Err(StoreError::Corrupt {
                    path,
                    reason: format!(
                        "line {}: {what}; the release log is written only by unlearn and only appended to: put back the file as it was",
                        i + 1
                    ),
                });
            }
        }
    }
    Ok(parsed)
}

/// A mark on the records of a failed commit as written: `{"abandoned": DIGEST}` or
/// `{"failed": DIGEST}`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
enum MarkLine {
    /// [`LogLine::Abandoned`].
    Abandoned(String),
    /// [`LogLine::Failed`].
    Failed(String),
}

/// Parses one line of the log: a record (with a finite non-negative charge) or a mark
/// (records, by far the most lines, are parsed first and directly).
fn parse_line(line: &str) -> Result<LogLine, String> {
    let record = match serde_json::from_str::<LogRecord>(line) {
        Ok(record) => record,
        Err(e) => {
            return match serde_json::from_str::<MarkLine>(line) {
                Ok(MarkLine::Abandoned(entry)) => Ok(LogLine::Abandoned(entry)),
                Ok(MarkLine::Failed(entry)) => Ok(LogLine::Failed(entry)),
                Err(_) => Err(format!("not a release record ({e})")),
            };
        }
    };
    if record.charge.is_some_and(|c| !(c.is_finite() && c >= 0.0)) {
        return Err(format!(
            "the charge {:?} is not a finite non-negative number",
            record.charge
        ));
    }
    Ok(LogLine::Record(record))
}

/// Appends `lines` (serialised, each ending in a newline) and syncs them (`fdatasync`: the
/// data and the new length), the directory too when the file is new. A torn last line is
/// cut first. All or nothing: if the write or the sync fails, the file is cut back to its
/// length before the append (best effort: if that fails too, the torn last line is cut at
/// the next append), so that the lines of one call — an abandonment and the records that
/// follow it — are never kept in part. Nothing to do when there are no lines.
pub(super) fn append_lines(root: &Path, lines: &[u8]) -> Result<(), StoreError> {
    if lines.is_empty() {
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
    let start = file.stream_position().map_err(io)?;
    if let Err(e) = file.write_all(lines).and_then(|()| file.sync_data()) {
        if file.set_len(start).is_ok() {
            let _ = file.sync_data();
        }
        return Err(io(e));
    }
    if created {
        sync_dir(root)?;
    }
    Ok(())
}

/// Serialises each value as one line.
fn jsonl<T: Serialize>(values: impl IntoIterator<Item = T>) -> Vec<u8> {
    let mut lines = Vec::new();
    for value in values {
        lines.extend(serde_json::to_vec(&value).expect("a log line serialises"));
        lines.push(b'\n');
    }
    lines
}

/// The serialised records of `entries` (of the history whose training entry is `lineage`).
pub(super) fn records<'a>(
    lineage: &str,
    entries: impl IntoIterator<Item = &'a Certificate>,
) -> Vec<u8> {
    jsonl(entries.into_iter().map(|e| LogRecord::of(lineage, e)))
}

/// The serialised marks of `entries` whose commit failed: abandoned when their caller
/// withheld them ([`LogLine::Abandoned`]), failed otherwise ([`LogLine::Failed`]: charged,
/// not applied).
pub(super) fn marks<'a>(
    entries: impl IntoIterator<Item = &'a Certificate>,
    withheld: bool,
) -> Vec<u8> {
    jsonl(entries.into_iter().map(|e| {
        if withheld {
            MarkLine::Abandoned(e.digest.clone())
        } else {
            MarkLine::Failed(e.digest.clone())
        }
    }))
}

/// For a commit refused as [`StoreError::Diverged`] or [`StoreError::Reconciliation`], of a
/// caller that did not withhold: appends the records of the unlearner's `entries` that
/// neither the store's ledger nor its release log names, each marked failed, in one append
/// — the caller may have shown their releases, so the next writer charges them as releases
/// of another branch; their removals are not applied (the caller is told the commit
/// failed). An entry the log already names keeps the fate its lines give it (committed on a
/// branch a restore lost, marked, or recorded before it was shown: acknowledged, so charged
/// and applied). Nothing when `entries` are of another training run. Returns how many
/// entries it recorded.
pub(super) fn record_diverged(store: &Store, entries: &[Certificate]) -> Result<usize, StoreError> {
    let digests = strings(store, "SELECT digest FROM ledger ORDER BY step")?;
    let in_ledger: HashSet<&str> = digests.iter().map(String::as_str).collect();
    let Some(lineage) = entries
        .first()
        .filter(|e| e.step == 0 && in_ledger.contains(e.digest.as_str()))
        .map(|e| e.digest.as_str())
    else {
        return Ok(0);
    };
    let log = read_release_log(&store.root)?;
    let logged: HashSet<&str> = log.iter().map(LogLine::entry).collect();
    let new: Vec<&Certificate> = entries
        .iter()
        .filter(|e| !in_ledger.contains(e.digest.as_str()) && !logged.contains(e.digest.as_str()))
        .collect();
    let mut lines = records(lineage, new.iter().copied());
    lines.extend(marks(new.iter().copied(), false));
    append_lines(&store.root, &lines)?;
    Ok(new.len())
}

/// The digests of `appended` — whose records a failed commit has just appended, the log's
/// last lines — whose last honoured line ([`honoured`]) before this append is a record:
/// entries some handle recorded before they were shown ([`Store::record_before_showing`]),
/// so acknowledged, whatever older marks about them say (a record after a mark supersedes
/// it: the last line decides; review 11, finding 1). A failed mark would turn them into
/// "charged, not applied" and lose the removal (review 10, finding 2: a retried save
/// through a new handle that fails again); left bare, the next writer charges and applies
/// them. Read only on a failed commit.
pub(super) fn acknowledged_before(
    root: &Path,
    appended: &[Certificate],
) -> Result<HashSet<String>, StoreError> {
    let wanted: HashSet<&str> = appended.iter().map(|e| e.digest.as_str()).collect();
    let log = read_release_log(root)?;
    let honoured = honoured(&log);
    let before = log.len().saturating_sub(appended.len());
    let mut last_is_record: HashMap<&str, bool> = HashMap::new();
    for (line, _) in log[..before]
        .iter()
        .zip(&honoured)
        .filter(|(_, honoured)| **honoured)
    {
        if wanted.contains(line.entry()) {
            last_is_record.insert(line.entry(), matches!(line, LogLine::Record(_)));
        }
    }
    Ok(last_is_record
        .into_iter()
        .filter(|&(_, record)| record)
        .map(|(entry, _)| entry.to_string())
        .collect())
}

/// Records of another training run written after a store's last record: its database is
/// older than its release log ([`StoreError::Superseded`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Supersession {
    /// The store's lineage (the digest of its training entry).
    pub lineage: String,
    /// The step of the store's last record in the log (none: the log holds no record of it).
    pub last_step: Option<u64>,
    /// The lineage of the first record of another training run after it.
    pub newer_lineage: String,
    /// That record's step.
    pub newer_step: u64,
    /// How many records of other training runs follow the store's last one.
    pub newer_records: usize,
    /// How many distinct ids those records removed (erasures acknowledged to their
    /// requesters).
    pub newer_removed_ids: usize,
}

impl std::fmt::Display for Supersession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ours = match self.last_step {
            Some(step) => format!(
                "after this store's last record (lineage {}, step {step})",
                short(&self.lineage)
            ),
            None => format!(
                "and none of this store's (lineage {})",
                short(&self.lineage)
            ),
        };
        write!(
            f,
            "{RELEASE_LOG_FILE} holds {} record(s) of another training run (lineage {}, the first at step {}) written {ours}: {DB_FILE} was replaced by an older database (a backup from before a retrain into this directory, a copy of another store, or a retrain that stopped before it committed). Serving it would undo what the newer run published and the {} erasure(s) it acknowledged, which cannot be re-applied to other training data. Put back the newer run's {DB_FILE} and {MODEL_FILE} (lineage {}; `unlearn inspect` shows a store's lineage), or retrain into this directory (train --force) on data without the rows erased since",
            self.newer_records,
            short(&self.newer_lineage),
            self.newer_step,
            self.newer_removed_ids,
            short(&self.newer_lineage),
        )
    }
}

/// Which lines of the log are honoured: every record, and an abandonment only where its
/// writer put it. The writer holds the store's lock from its records to their abandonment,
/// so its marks directly follow its records: a run of abandonment lines D_0..D_{k-1} names
/// the entries of one failed commit in order, and the j of them that have a record before
/// the run (all, or fewer when the append of the records itself failed) are the j lines
/// just before it. An abandonment elsewhere (appended later, by hand or by a forger) is not
/// honoured: the records it names stay and count, and [`check`] fails.
fn honoured(lines: &[LogLine]) -> Vec<bool> {
    let mut honoured = vec![true; lines.len()];
    let mut recorded: HashSet<&str> = HashSet::new();
    let mut i = 0;
    while i < lines.len() {
        if let LogLine::Record(r) = &lines[i] {
            recorded.insert(&r.entry);
            i += 1;
            continue;
        }
        let end = (i..lines.len())
            .find(|&e| matches!(lines[e], LogLine::Record(_)))
            .unwrap_or(lines.len());
        let run: Vec<&str> = lines[i..end].iter().map(LogLine::entry).collect();
        let j = run.iter().filter(|d| recorded.contains(*d)).count();
        let adjacent = j <= i
            && run[..j]
                .iter()
                .zip(&lines[i - j..i])
                .all(|(d, line)| matches!(line, LogLine::Record(r) if r.entry == *d));
        if !adjacent {
            honoured[i..end].fill(false);
        }
        i = end;
    }
    honoured
}

/// The records of `lineage` that count, in log order, or the [`Supersession`] that makes
/// the store unusable. A record counts unless the last honoured line about its entry
/// ([`honoured`]) is an abandonment, or a later training record of the same lineage (a
/// retrain that reproduced this training entry) started the lineage afresh. Records of
/// other lineages are ignored, unless one that counts comes after the store's place in the
/// log: the last line (a record or an abandonment) about the store's lineage or about one
/// of its ledger entries `digests` — an abandoned entry that nevertheless committed still
/// places the store after the records written before it. A store nothing in the log is about
/// comes before every record.
fn ours<'a>(
    lines: &'a [LogLine],
    lineage: &str,
    digests: &HashSet<&str>,
) -> Result<Vec<Counted<'a>>, Supersession> {
    let honoured = honoured(lines);
    let mut last_mention: HashMap<&str, usize> = HashMap::new();
    for (i, line) in lines.iter().enumerate().filter(|&(i, _)| honoured[i]) {
        last_mention.insert(line.entry(), i);
    }
    let live: Vec<(usize, &LogRecord)> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, line)| match line {
            LogLine::Record(r)
                if !matches!(lines[last_mention[r.entry.as_str()]], LogLine::Abandoned(_)) =>
            {
                Some((i, r))
            }
            _ => None,
        })
        .collect();
    let start = live
        .iter()
        .rev()
        .find(|(_, r)| r.lineage == lineage && r.step == 0)
        .map_or(0, |&(i, _)| i);
    let ours: Vec<(usize, &LogRecord)> = live
        .iter()
        .copied()
        .filter(|&(i, r)| i >= start && r.lineage == lineage)
        .collect();
    let place = lines.iter().enumerate().rposition(|(i, line)| {
        honoured[i]
            && (line.entry() == lineage
                || digests.contains(line.entry())
                || matches!(line, LogLine::Record(r) if r.lineage == lineage))
    });
    let newer: Vec<&LogRecord> = live
        .iter()
        .filter(|&&(i, r)| r.lineage != lineage && place.is_none_or(|p| i > p))
        .map(|&(_, r)| r)
        .collect();
    match newer.first() {
        None => Ok(ours
            .into_iter()
            .map(|(_, record)| Counted {
                record,
                apply: !matches!(
                    lines[last_mention[record.entry.as_str()]],
                    LogLine::Failed(_)
                ),
            })
            .collect()),
        Some(first) => Err(Supersession {
            lineage: lineage.to_string(),
            last_step: ours.last().map(|&(_, r)| r.step),
            newer_lineage: first.lineage.clone(),
            newer_step: first.step,
            newer_records: newer.len(),
            newer_removed_ids: newer
                .iter()
                .flat_map(|r| &r.removed_id_tags)
                .collect::<HashSet<_>>()
                .len(),
        }),
    }
}

/// A record that counts ([`ours`]): its release is charged, and its removal applied unless
/// its commit is marked failed ([`LogLine::Failed`]: its caller was told the request failed).
#[derive(Debug, Clone, Copy)]
pub(super) struct Counted<'a> {
    /// The record.
    pub(super) record: &'a LogRecord,
    /// Whether its removal is to be applied.
    apply: bool,
}

impl<'a> Counted<'a> {
    /// The record, when its removal is to be applied — the ids it removed and the subjects
    /// it erased: none for a failed commit (its caller was told it failed).
    fn applied(&self) -> Option<&'a LogRecord> {
        self.apply.then_some(self.record)
    }

    /// The keyed tags of the ids whose removal is to be applied ([`Counted::applied`]).
    fn removal_tags(&self) -> &'a [String] {
        self.applied().map_or(&[], |r| &r.removed_id_tags)
    }

    /// The keyed tags of the subjects whose erasure is to be applied ([`Counted::applied`]).
    fn erasure_tags(&self) -> &'a [String] {
        self.applied().map_or(&[], |r| &r.erased_subject_tags)
    }
}

/// A writer's first reading of the release log, before it writes anything: the records of
/// the store's lineage that count ([`ours`]), or [`StoreError::Superseded`].
pub(super) fn records_of_store<'a>(
    store: &Store,
    lines: &'a [LogLine],
) -> Result<Vec<Counted<'a>>, StoreError> {
    // The ledger's digests, oldest first (a cheap read: no entry is decoded).
    let digests = strings(store, "SELECT digest FROM ledger ORDER BY step")?;
    let Some(lineage) = digests.first() else {
        return Ok(Vec::new());
    };
    let mentioned: HashSet<&str> = digests.iter().map(String::as_str).collect();
    ours(lines, lineage, &mentioned).map_err(|found| StoreError::Superseded {
        path: store.root.clone(),
        found,
    })
}

/// How the release log and a ledger differ.
#[derive(Debug, Default)]
struct Divergence<'a> {
    /// Releases of other branches that no reconciliation entry of the ledger charges.
    foreign: Vec<ForeignRelease>,
    /// Removals of other branches this ledger has not applied.
    lost: Vec<Unapplied>,
    /// The keyed tags of the subjects other branches erased and this ledger has not, sorted
    /// and distinct.
    erased: Vec<String>,
    /// Ledger entries the log does not record.
    unlogged: Vec<&'a Certificate>,
    /// Releases of other branches already charged, with the steps of the entries that did.
    charged: Vec<(u64, usize)>,
}

/// Compares the records of the ledger's lineage that count ([`ours`]) with the ledger.
fn compare<'a>(ours: &[Counted<'a>], ledger: &'a [Certificate]) -> Divergence<'a> {
    if ledger.is_empty() {
        return Divergence::default();
    }
    let in_ledger: HashSet<&str> = ledger.iter().map(|e| e.digest.as_str()).collect();
    let charged: HashSet<&str> = ledger
        .iter()
        .flat_map(|e| e.foreign_releases.iter().map(|f| f.entry.as_str()))
        .collect();
    let removed: HashSet<&str> = ledger
        .iter()
        .flat_map(|e| e.removed_id_tags.iter().map(String::as_str))
        .collect();
    let erased: HashSet<&str> = erased_subjects(ledger);
    // A reconciliation entry's erasures removed no row: a lost removal's subject counts as
    // erased again only once a request erased it (review 10, finding 6).
    let erased_by_requests: HashSet<&str> = ledger
        .iter()
        .filter(|e| e.kind != EntryKind::Reconciliation)
        .flat_map(|e| e.erased_subject_tags.iter().map(String::as_str))
        .collect();
    let logged: HashSet<&str> = ours.iter().map(|c| c.record.entry.as_str()).collect();
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
    for counted in ours
        .iter()
        .copied()
        .filter(|c| !in_ledger.contains(c.record.entry.as_str()))
    {
        let record = counted.record;
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
        let tags: Vec<String> = counted
            .removal_tags()
            .iter()
            .filter(|t| !removed.contains(t.as_str()) && scheduled.insert(t.as_str()))
            .cloned()
            .collect();
        if !tags.is_empty() {
            divergence.lost.push(Unapplied {
                entry: record.entry.clone(),
                ids: tags,
                subjects: counted
                    .erasure_tags()
                    .iter()
                    .filter(|t| !erased_by_requests.contains(t.as_str()))
                    .cloned()
                    .collect(),
            });
        }
        divergence.erased.extend(
            counted
                .erasure_tags()
                .iter()
                .filter(|t| !erased.contains(t.as_str()))
                .cloned(),
        );
    }
    divergence.erased.sort_unstable();
    divergence.erased.dedup();
    divergence
}

/// The keyed tags of the subjects `ledger`'s entries erased.
fn erased_subjects(ledger: &[Certificate]) -> HashSet<&str> {
    ledger
        .iter()
        .flat_map(|e| e.erased_subject_tags.iter().map(String::as_str))
        .collect()
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
/// lineage is charged by a reconciliation entry, and every id removed and every subject
/// erased by another branch is removed, or erased, by this ledger too.
fn settled<'a>(
    store: &Store,
    ours: &[Counted<'a>],
    digests: &[String],
) -> Result<bool, StoreError> {
    let in_ledger: HashSet<&str> = digests.iter().map(String::as_str).collect();
    let logged: HashSet<&str> = ours.iter().map(|c| c.record.entry.as_str()).collect();
    if !digests.iter().all(|d| logged.contains(d.as_str())) {
        return Ok(false);
    }
    let foreign: Vec<Counted<'a>> = ours
        .iter()
        .copied()
        .filter(|c| !in_ledger.contains(c.record.entry.as_str()))
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
        .any(|c| c.record.release.is_some() && !charged.contains(&c.record.entry))
    {
        return Ok(false);
    }
    // A removal of another branch is applied when this ledger removed the same ids: the
    // rule `compare` judges lost removals by. Looking for the rows instead would say
    // "applied" for every tag of an external-rows store, whose `rows` table is empty, and
    // drop an acknowledged removal; for a store that holds its rows the two agree (within a
    // lineage only a removal of this ledger deletes a row).
    // Subjects likewise, by the ledger's erased-subject tags (an entry without any has no
    // such field: `json_each` of a missing path is empty).
    let applied = |tags: fn(&Counted<'a>) -> &'a [String], sql: &str| -> Result<bool, StoreError> {
        if foreign.iter().all(|c| tags(c).is_empty()) {
            return Ok(true);
        }
        let done: HashSet<String> = strings(store, sql)?.into_iter().collect();
        Ok(foreign.iter().flat_map(tags).all(|tag| done.contains(tag)))
    };
    Ok(applied(
        Counted::removal_tags,
        "SELECT tag.value FROM ledger, json_each(ledger.entry, '$.removed_id_tags') AS tag",
    )? && applied(
        Counted::erasure_tags,
        "SELECT tag.value FROM ledger, json_each(ledger.entry, '$.erased_subject_tags') AS tag",
    )?)
}

/// A removal of another branch that the ledger has not applied — one an external-rows store
/// cannot re-apply (it holds no row) and leaves to a request that removes the same rows
/// again ([`Store::commit`]).
#[derive(Debug, Clone)]
pub(super) struct Unapplied {
    /// The digest of its ledger entry there.
    pub(super) entry: String,
    /// The keyed tags of its ids still to remove.
    pub(super) ids: Vec<String>,
    /// The keyed tags of the subjects it erased that no request of the ledger has erased
    /// since: a reconciliation entry records them as erased (so that a refresh keeping one
    /// of their rows is refused), but their rows are in the model until a request erases
    /// them again, so their erasure is pending (review 10, finding 6).
    pub(super) subjects: Vec<String>,
}

/// Reconciles the store with its release log (see the module documentation), given the
/// records of its lineage that count ([`records_of_store`]): adds the ledger entries the
/// log lacks, charges the releases of other branches, re-applies their lost removals and
/// subject erasures ([`reerase`]), and commits. Cheap when there is nothing to do (the
/// ledger's digests and the log are compared before anything is decoded). Returns the ledger entries it committed, and the
/// lost removals it left unapplied because the store's rows are external: the store's
/// writer refuses every commit that does not apply them ([`Store::commit`]).
pub(super) fn reconcile(
    store: &mut Store,
    ours: &[Counted],
) -> Result<(Vec<Certificate>, Vec<Unapplied>), StoreError> {
    // The ledger's digests, oldest first (a cheap read: no entry is decoded).
    let digests = strings(store, "SELECT digest FROM ledger ORDER BY step")?;
    let Some(lineage) = digests.first() else {
        return Ok((Vec::new(), Vec::new()));
    };
    if settled(store, ours, &digests)? {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut unlearner = store.load()?;
    let before = unlearner.ledger.entries.len();
    let (foreign, lost, erased) = {
        let divergence = compare(ours, &unlearner.ledger.entries);
        let unlogged: Vec<Certificate> = divergence.unlogged.into_iter().cloned().collect();
        append_lines(&store.root, &records(lineage, &unlogged))?;
        (divergence.foreign, divergence.lost, divergence.erased)
    };
    // An external-rows store holds no row to re-apply a lost removal with: it is left to a
    // commit that removes those ids (the caller that still holds the entry retrying it, or
    // a new request for the same rows), and until then no other commit is accepted.
    let (lost, unapplied) = if unlearner.model.secret.rows.is_external() {
        (Vec::new(), lost)
    } else {
        (lost, Vec::new())
    };
    if foreign.is_empty() && lost.is_empty() && erased.is_empty() {
        return Ok((Vec::new(), unapplied));
    }
    if !foreign.is_empty() {
        unlearner.charge_foreign_releases(foreign);
    }
    for removal in &lost {
        reapply(store, &mut unlearner, &removal.entry, &removal.ids)?;
    }
    reerase(&mut unlearner, erased);
    // Nothing of this commit is shown before it returns (the opening has not returned; the
    // new model reaches `model.json` only after it): withheld, whatever the opener declares
    // later, so a failed commit abandons its own records instead of marking them failed —
    // a re-applied removal's release would otherwise be charged although never published.
    // The lost records it settles stay as they are: the next writer settles them again
    // (review 10, finding 8).
    let withheld = std::mem::replace(&mut store.withheld, true);
    let committed = store.commit(&mut unlearner);
    store.withheld = withheld;
    committed?;
    Ok((unlearner.ledger.entries.split_off(before), unapplied))
}

/// Re-applies the subject erasures of other branches that the store lost (`erased`: their
/// keyed tags, sorted and distinct) as subject erasures, after their removals were
/// re-applied ([`reapply`]). A re-applied removal of a store that holds its rows erases
/// every subject whose last rows it removes — within one lineage the same rows remain as
/// in the lost branch once its removals are re-applied in order, so these are the subjects
/// it erased; the erasures the ledger still lacks — every one, in a store whose rows are
/// external (it re-applies no removal) — are recorded by one reconciliation entry
/// ([`Unlearner::record_lost_erasures`]). Without this, a restored store would no longer
/// count the subject as erased: a later request naming it, or a refresh over a table that
/// still holds one of its rows under another id, would not be refused.
fn reerase(unlearner: &mut Unlearner, erased: Vec<String>) {
    let missing: Vec<String> = {
        let done = erased_subjects(&unlearner.ledger.entries);
        erased
            .into_iter()
            .filter(|t| !done.contains(t.as_str()))
            .collect()
    };
    if !missing.is_empty() {
        unlearner.record_lost_erasures(missing);
    }
}

/// Re-applies a removal of another branch (ledger entry `entry` there) that the store lost:
/// the remaining rows whose keyed tags it names, removed as one request (a store that holds
/// its rows: [`reconcile`] leaves an external-rows store's lost removals unapplied).
fn reapply(
    store: &Store,
    unlearner: &mut Unlearner,
    entry: &str,
    tags: &[String],
) -> Result<(), StoreError> {
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

/// The release log against the store's ledger, as `verify` reports it. Failed when the log
/// holds records of another training run after the store's last record (its database was
/// replaced by an older one: [`Supersession`]), or when a ledger entry is missing from the
/// log (the store predates it, or the log was deleted or restored with the database: what it
/// never recorded cannot be charged). Passed otherwise, saying which releases of other
/// branches were charged and by which entries, and which are still pending: a restored
/// store (or one whose writer stopped between a record and its commit — the two look alike)
/// is settled by the next writer before it publishes anything, and until then it publishes
/// nothing new, so its certificates are true of everything it has published. Abandoned
/// records (their commit failed) are not counted; an abandonment that does not directly
/// follow its record ([`honoured`]) fails the check.
pub fn check(root: &Path, ledger: &[Certificate]) -> Result<Check, StoreError> {
    let lines = read_release_log(root)?;
    let failed = |detail: String| Check {
        name: RELEASE_LOG_CHECK,
        passed: false,
        detail,
    };
    let lineage = ledger.first().map_or("", |e| e.digest.as_str());
    let digests: HashSet<&str> = ledger.iter().map(|e| e.digest.as_str()).collect();
    let ours = match ours(&lines, lineage, &digests) {
        Ok(ours) => ours,
        Err(found) if !ledger.is_empty() => return Ok(failed(found.to_string())),
        Err(_) => Vec::new(),
    };
    if let Some(stray) = honoured(&lines).iter().position(|&h| !h) {
        return Ok(failed(format!(
            "line {} of {RELEASE_LOG_FILE} marks entry {} abandoned or failed but does not directly follow its record, where the writer whose commit failed puts it: it was appended later (by hand, or forged), so it is not honoured and the record counts as published and applied. Remove the line if you did not write it deliberately",
            stray + 1,
            short(lines[stray].entry())
        )));
    }
    let divergence = compare(&ours, ledger);
    if let Some(first) = divergence.unlogged.first() {
        return Ok(failed(format!(
            "{} ledger entries (the first is step {}) are not in {RELEASE_LOG_FILE}, or are marked there as abandoned although they committed: the store predates the release log, the log was deleted or restored from a backup, or a commit reported as failed reached the database; releases the log never recorded cannot be charged. The next command that opens the store for writing records the entries",
            divergence.unlogged.len(),
            first.step
        )));
    }
    let abandoned = lines
        .iter()
        .filter(|l| matches!(l, LogLine::Abandoned(_)))
        .count();
    let failed_commits = lines
        .iter()
        .filter(|l| matches!(l, LogLine::Failed(_)))
        .count();
    let mut notes = vec![format!(
        "{} records",
        lines.len() - abandoned - failed_commits
    )];
    if abandoned > 0 {
        notes.push(format!(
            "{abandoned} abandoned (their commits failed: never visible, not charged, their removals not applied)"
        ));
    }
    if failed_commits > 0 {
        notes.push(format!(
            "{failed_commits} failed after their caller may have shown them (charged as published, their removals not applied)"
        ));
    }
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
            "{} removal(s) outside this ledger ({} ids, {} subject erasure(s) pending) are not applied yet; the next command that opens the store for writing re-applies them (a store whose rows are external refuses every commit that does not remove those ids and erase those subjects, until they are removed again)",
            divergence.lost.len(),
            divergence.lost.iter().map(|l| l.ids.len()).sum::<usize>(),
            divergence.lost.iter().map(|l| l.subjects.len()).sum::<usize>()
        ));
    }
    if !divergence.erased.is_empty() {
        notes.push(format!(
            "{} data subject(s) erased outside this ledger are not recorded as erased here yet; the next command that opens the store for writing records them",
            divergence.erased.len()
        ));
    }
    Ok(Check {
        name: RELEASE_LOG_CHECK,
        passed: true,
        detail: notes.join("; "),
    })
}
