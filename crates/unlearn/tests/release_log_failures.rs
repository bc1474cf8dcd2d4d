//! Review 6, findings 1–3: failures around a commit's release-log records.
//!
//! 1. A release shown before its commit must be charged even if the commit fails: a caller
//!    that records first (`Store::record_before_showing`) is charged when the commit then
//!    fails on a full disk (before, the record's append was the commit's first write, and a
//!    failure there left nothing to charge), and a caller whose commit is refused as
//!    `Diverged` (loaded before another writer committed) has its releases recorded as
//!    failed (before, nothing was written: an observed release never charged).
//! 2. A retried save that fails again leaves a log whose check passes: the abandonment of
//!    the replaced reconciliation entry and the retried records are appended together or
//!    not at all (before, the abandonment stayed, the writer's own failed mark followed it,
//!    and the check reported both as forged, for ever).
//! 3. An external-rows store whose commit stopped after its record (neither committed nor
//!    marked) opens for writing, and the caller holding the entry can retry it (before,
//!    every writer was refused for ever).
//!
//! Failures are injected in-process with a file-size limit (`RLIMIT_FSIZE`, `SIGXFSZ`
//! ignored so writes return `EFBIG`), as in tests/commit_failure.rs: the limit is
//! process-wide, so the tests here take one lock and lift the limit before releasing it.

#![cfg(unix)]

mod common;

use std::sync::Mutex;
use std::time::Duration;
use unlearn::store::{Access, LogLine, LogRecord, Store, StoreError, read_release_log};

const WRITE: Access = Access::Write {
    wait: Duration::ZERO,
};

/// Serialises the tests of this file: the file-size limit is process-wide.
static LIMIT: Mutex<()> = Mutex::new(());

#[test]
fn a_release_recorded_before_it_was_shown_is_charged_when_the_commit_fails() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let root = common::synthetic_store("review6-record-first", false);

    // A library / Python caller: no withholding; it records the entry, then shows it.
    let mut store = Store::open(&root, WRITE).unwrap();
    let mut unlearner = store.load().unwrap();
    let releases_before = unlearner.model.secret.transcript.releases;
    let seen = unlearner.remove(&["s5".to_string()]).unwrap();
    assert!(seen.published, "the removal publishes a release");
    store.record_before_showing(&unlearner).unwrap();
    assert_eq!(
        common::records_of(&root, &seen.digest),
        1,
        "recorded before it is shown"
    );
    // The disk is full at the log's current length: nothing more fits anywhere (the
    // commit's WAL frame, 4,120 bytes, exceeds the limit too, so the commit fails).
    let committed = common::with_file_limit(common::release_log_len(&root), || {
        store.commit(&mut unlearner)
    });
    assert!(committed.is_err(), "the commit fails");
    drop(store);
    let lines = read_release_log(&root).unwrap();
    assert!(
        matches!(lines.last(), Some(LogLine::Record(r)) if r.entry == seen.digest),
        "precondition: the record stands, unmarked: {:?}",
        lines.last()
    );

    // The next writer charges the seen release (and, the rows being held, re-applies the
    // removal: the record looks like a lost branch's, and the error is on erasure's side).
    let next = Store::open(&root, WRITE).expect("the store opens");
    let charged = next
        .reconciled()
        .iter()
        .flat_map(|e| &e.foreign_releases)
        .filter(|f| f.entry == seen.digest)
        .count();
    assert_eq!(charged, 1, "the seen release is charged once");
    let after = next.load().unwrap();
    assert!(after.model.secret.transcript.releases > releases_before);
    assert!(
        after
            .model
            .secret
            .rows
            .held()
            .unwrap()
            .position("s5")
            .is_none(),
        "s5 is removed"
    );
}

#[test]
fn a_commit_after_recording_first_does_not_record_again() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let root = common::synthetic_store("review6-record-once", false);
    let mut store = Store::open(&root, WRITE).unwrap();
    let mut unlearner = store.load().unwrap();
    let first = unlearner.remove(&["s5".to_string()]).unwrap();
    store.record_before_showing(&unlearner).unwrap();
    let second = unlearner.remove(&["s6".to_string()]).unwrap();
    store.record_before_showing(&unlearner).unwrap();
    store.commit(&mut unlearner).unwrap();
    assert_eq!(common::records_of(&root, &first.digest), 1);
    assert_eq!(common::records_of(&root, &second.digest), 1);
    drop(store);
    common::assert_release_log_checks(&root);
    // Recording needs the writer lock, as every append to the log does.
    let mut read = Store::open(&root, Access::Read).unwrap();
    assert!(matches!(
        read.record_before_showing(&unlearner),
        Err(StoreError::ReadOnly { .. })
    ));
}

#[test]
fn a_release_shown_before_a_diverged_save_is_charged() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let root = common::synthetic_store("review6-diverged", false);

    // A Python estimator loads the store (read access, as unlearn.load does).
    let mut notebook = Store::open(&root, Access::Read).unwrap().load().unwrap();
    // Meanwhile another writer serves a request.
    let mut other = Store::open(&root, WRITE).unwrap();
    other.withhold_until_commit();
    let mut served = other.load().unwrap();
    let first = served.remove(&["s6".to_string()]).unwrap();
    other.commit(&mut served).unwrap();
    drop(other);
    // The notebook removes s5 and shows the certificate (est.remove()), then saves.
    let shown = notebook.remove(&["s5".to_string()]).unwrap();
    assert!(shown.published && first.published);
    let mut save = Store::open(&root, WRITE).unwrap();
    match save.commit(&mut notebook) {
        Err(StoreError::Diverged { reason, .. }) => assert!(
            reason.contains("recorded") && reason.contains("as failed"),
            "the error says what was written: {reason}"
        ),
        other => panic!("expected Diverged, got {other:?}"),
    }
    drop(save);

    let next = Store::open(&root, WRITE).unwrap();
    let after = next.load().unwrap();
    assert_eq!(
        after.model.secret.transcript.releases, 3,
        "training, s6's release and the shown s5 release are all charged"
    );
    assert!(
        after
            .model
            .secret
            .rows
            .held()
            .unwrap()
            .position("s5")
            .is_some(),
        "the failed removal is not applied: its caller was told it failed"
    );
    drop(next);
    common::assert_release_log_checks(&root);
}

#[test]
fn a_retry_that_fails_again_leaves_a_check_that_passes() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let root = common::synthetic_store("review6-retry-again", false);

    // First save fails after the record (as in tests/commit_failure.rs): marked failed.
    let mut store = Store::open(&root, WRITE).unwrap();
    let mut unlearner = store.load().unwrap();
    let seen = unlearner.remove(&["s5".to_string()]).unwrap();
    let first = common::with_file_limit(common::release_log_len(&root) + 2048, || {
        store.commit(&mut unlearner)
    });
    assert!(first.is_err());
    drop(store);

    // The retry (Python's second est.save()): its opening commits R charging E.
    let mut retry = Store::open(&root, WRITE).unwrap();
    assert_eq!(retry.reconciled().len(), 1);
    let r = retry.reconciled()[0].digest.clone();
    // Room for the abandonment of R and one failed mark of E, not for E's record: the
    // abandonment and E's record, appended together, do not fit.
    let abandon = format!("{{\"abandoned\":\"{r}\"}}\n").len() as u64;
    let failed = format!("{{\"failed\":\"{}\"}}\n", seen.digest).len() as u64;
    let before = common::release_log_len(&root);
    let second =
        common::with_file_limit(before + abandon + failed, || retry.commit(&mut unlearner));
    assert!(second.is_err(), "the disk is still full");
    drop(retry);

    let lines = read_release_log(&root).unwrap();
    assert!(
        !lines.contains(&LogLine::Abandoned(r.clone())),
        "the abandonment of R was not kept without the retried record: {:?}",
        &lines[lines.len().saturating_sub(4)..]
    );
    // The next writer opens; R still charges E, once ...
    let next = Store::open(&root, WRITE).expect("opens");
    let ledger = next.load().unwrap().ledger;
    let charges = ledger
        .entries
        .iter()
        .flat_map(|e| &e.foreign_releases)
        .filter(|f| f.entry == seen.digest)
        .count();
    assert_eq!(charges, 1, "E's release is charged once");
    drop(next);
    // ... and the check passes.
    common::assert_release_log_checks(&root);
}

#[test]
fn an_external_store_whose_commit_died_after_its_record_still_opens() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let root = common::synthetic_store("review6-external-wedge", true);

    let mut store = Store::open(&root, WRITE).unwrap();
    let mut unlearner = store.load().unwrap();
    let entry = unlearner
        .remove_external(&common::given_row("s5"), 1)
        .unwrap();
    // The record's exact line, so that the limit leaves room for it and nothing more.
    let record = LogRecord::of(&unlearner.ledger.entries[0].digest, &entry);
    let line = serde_json::to_vec(&record).unwrap().len() as u64 + 1;
    let committed = common::with_file_limit(common::release_log_len(&root) + line, || {
        store.commit(&mut unlearner)
    });
    assert!(committed.is_err());
    drop(store);
    let lines = read_release_log(&root).unwrap();
    assert!(
        matches!(lines.last(), Some(LogLine::Record(r)) if r.entry == entry.digest),
        "precondition: a bare record ends the log: {:?}",
        lines.last()
    );

    let reopened = Store::open(&root, WRITE);
    assert!(
        reopened.is_ok(),
        "the store opens for writing: {}",
        reopened.err().map(|e| e.to_string()).unwrap_or_default()
    );
    let mut reopened = reopened.unwrap();
    let note = reopened.reconciliation_note().unwrap_or_default();
    assert!(
        note.contains("cannot re-apply"),
        "the operator is told: {note}"
    );
    // A commit that drops the acknowledged removal is refused, naming the way out ...
    let mut other = reopened.load().unwrap();
    match reopened.commit(&mut other) {
        Err(StoreError::Reconciliation { reason, .. }) => {
            assert!(reason.contains("remove the same rows again"), "{reason}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // ... and the caller holding the entry can retry it (Python's save() again: the
    // handle's reconciliation entry, charging E, is replaced by E itself).
    reopened
        .commit(&mut unlearner)
        .expect("the caller holding the entry can retry it");
    drop(reopened);
    let settled = Store::open(&root, WRITE).unwrap();
    assert!(settled.reconciled().is_empty(), "nothing left to settle");
    let ledger = settled.load().unwrap().ledger;
    assert!(ledger.entries.iter().any(|e| e.digest == entry.digest));
    let check = settled.release_log_check().unwrap();
    assert!(check.passed, "{}", check.detail);
}
