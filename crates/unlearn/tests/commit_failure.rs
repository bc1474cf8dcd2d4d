//! A commit that fails after its release-log record was written (review 4, A2): who may
//! abandon the record. A caller that showed the certificate before committing (a library
//! caller: `Unlearner::remove`, then `Store::commit`) must leave the record chargeable — it
//! is marked failed, and the next writer charges its release as possibly published without
//! applying its removal — and only a caller that withholds
//! everything until the commit returns (`Store::withhold_until_commit`: the CLI, the
//! deletion engine) may have it abandoned. Before the fix every failed commit abandoned its
//! records, so the plain case below found nothing charged (an observed release never
//! charged: the budget under-charged). The plain case runs on a store of external rows too:
//! its next writer must open it (a lost removal it cannot re-apply would make it refuse).
//! The plain case's caller can retry the failed commit (review 5, finding C1): the retry
//! commits the removal, its release charged once.
//!
//! The failure is injected in-process with a file-size limit (`RLIMIT_FSIZE`, `SIGXFSZ`
//! ignored so the write returns `EFBIG`): the store is opened first (the WAL index, 32 KiB,
//! exists by then and is written through its mapping), then the soft limit is set to the
//! release log's length plus 2 KiB — room for the removal's record (a few hundred bytes) and
//! its abandonment marks — while the commit's WAL needs its 32-byte header and at least one
//! 4,120-byte frame, which the limit cuts off. The test checks that the failure fell in that
//! window (the record is in the log). The limit is process-wide, so this file holds one test
//! and lifts the limit before anything else runs.

#![cfg(unix)]

mod common;

use std::path::Path;
use std::time::Duration;
use unlearn::certificate::{Certificate, EntryKind};
use unlearn::store::{
    Access, LogLine, RELEASE_LOG_FILE, Store, read_release_log, release_log_path,
};
use unlearn::unlearner::Unlearner;

const WRITE: Access = Access::Write {
    wait: Duration::ZERO,
};

/// A fresh store of 200 synthetic rows (ids s0…s199) in a scratch directory, holding its
/// rows or (`external`) only their sums, the rows staying in the caller's table.
fn new_store(name: &str, external: bool) -> common::Scratch {
    common::synthetic_store(&format!("commit-failure-{name}"), external)
}

/// Removes s5 from `unlearner`, giving its row as a caller fetches it from its table when
/// the rows are external.
fn remove_s5(unlearner: &mut Unlearner) -> Certificate {
    if !unlearner.model.secret.rows.is_external() {
        return unlearner.remove(&["s5".to_string()]).unwrap();
    }
    unlearner
        .remove_external(&common::given_row("s5"), 1)
        .unwrap()
}

/// Removes s5 through a writer (withholding its entries until the commit returns when
/// `withhold`), with the commit failing under the file-size limit; returns the certificate
/// the caller saw and the unlearner it tried to commit.
fn remove_with_failed_commit(root: &Path, withhold: bool) -> (Certificate, Unlearner) {
    let mut store = Store::open(root, WRITE).unwrap();
    if withhold {
        store.withhold_until_commit();
    }
    let mut unlearner = store.load().unwrap();
    let certificate = remove_s5(&mut unlearner);
    assert!(certificate.published, "the removal publishes a release");
    let log_len = std::fs::metadata(release_log_path(root)).unwrap().len();
    let committed = common::with_file_limit(log_len + 2048, || store.commit(&mut unlearner));
    let error = committed.expect_err("the commit's WAL frames exceed the file-size limit");
    let lines = read_release_log(root).unwrap();
    assert!(
        lines
            .iter()
            .any(|l| matches!(l, LogLine::Record(r) if r.entry == certificate.digest)),
        "the failure fell after the record's append ({error}); {RELEASE_LOG_FILE}: {lines:?}"
    );
    (certificate, unlearner)
}

#[test]
fn a_failed_commit_is_abandoned_only_when_its_caller_withheld_it() {
    for external in [false, true] {
        let name = if external { "plain-external" } else { "plain" };
        a_plain_failed_commit_is_charged_and_not_applied(&new_store(name, external));
    }

    // A caller that withheld it (the CLI, the engine): abandoned, neither charged nor applied.
    let withheld = new_store("withheld", false);
    remove_with_failed_commit(&withheld, true);
    let store = Store::open(&withheld, WRITE).expect("the store still opens for writing");
    assert!(store.reconciled().is_empty(), "{:?}", store.reconciled());
    unapplied_and_noted(&store, "1 abandoned");

    a_failed_save_can_be_retried(&new_store("retry", false));
}

/// Review 5, finding C1: the caller of a plain failed commit retries it (Python's
/// `est.save()`: a new writer, then the commit of the same unlearner). The new writer's
/// opening charges the failed release in a reconciliation entry; the retry replaces it and
/// commits the removal, whose release its own entry then charges, once. Before the fix the
/// retry was refused (`StoreError::Diverged`) on every attempt and the removal whose
/// certificate was shown was never applied.
fn a_failed_save_can_be_retried(root: &Path) {
    let (seen, mut unlearner) = remove_with_failed_commit(root, false);
    let mut retry = Store::open(root, WRITE).expect("the store opens");
    assert_eq!(
        retry.reconciled().len(),
        1,
        "the opening charged the failed release"
    );
    let saved = retry.commit(&mut unlearner);
    assert!(
        saved.is_ok(),
        "retrying the failed commit: {:?}",
        saved.err()
    );
    drop(retry);
    let store = Store::open(root, Access::Read).unwrap();
    let reloaded = store.load().unwrap();
    assert_eq!(reloaded.model.secret.n_rows(), 199, "s5 was not removed");
    assert_eq!(reloaded.ledger.entries.last().unwrap().digest, seen.digest);
    let charged_again: Vec<_> = reloaded
        .ledger
        .entries
        .iter()
        .flat_map(|e| &e.foreign_releases)
        .collect();
    assert!(charged_again.is_empty(), "charged twice: {charged_again:?}");
    assert_eq!(
        reloaded.model.secret.transcript,
        unlearner.model.secret.transcript
    );
    let check = store.release_log_check().unwrap();
    assert!(check.passed, "{}", check.detail);
    drop(store);
    assert!(Store::open(root, WRITE).unwrap().reconciled().is_empty());
}

/// A library caller that saw the certificate of a failed commit: the next writer opens the
/// store (one whose rows are external too: it need not re-apply the removal) and charges the
/// release once; the removal is not applied (its caller was told it failed).
fn a_plain_failed_commit_is_charged_and_not_applied(root: &Path) {
    let (seen, _) = remove_with_failed_commit(root, false);
    let store = Store::open(root, WRITE).expect("the store still opens for writing");
    let charged: Vec<_> = store
        .reconciled()
        .iter()
        .filter(|e| e.kind == EntryKind::Reconciliation)
        .flat_map(|e| &e.foreign_releases)
        .collect();
    assert_eq!(charged.len(), 1, "{:?}", store.reconciled());
    assert_eq!(charged[0].entry, seen.digest);
    assert_eq!(charged[0].release, seen.release);
    assert_eq!(Some(charged[0].charge), seen.distance);
    unapplied_and_noted(&store, "1 failed");
    drop(store);
    assert!(Store::open(root, WRITE).unwrap().reconciled().is_empty());
}

/// The store still holds s5 (the failed removal was not applied) and its release-log check
/// passes, noting the failed commit's mark.
fn unapplied_and_noted(store: &Store, note: &str) {
    assert_eq!(store.load().unwrap().model.secret.n_rows(), 200);
    let check = store.release_log_check().unwrap();
    assert!(
        check.passed && check.detail.contains(note),
        "{}",
        check.detail
    );
}
