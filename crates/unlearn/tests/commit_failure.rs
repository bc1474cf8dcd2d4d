//! A commit that fails after its release-log record was written (review 4, A2): who may
//! abandon the record. A caller that showed the certificate before committing (a library
//! caller: `Unlearner::remove`, then `Store::commit`) must leave the record chargeable — the
//! next writer charges its release as possibly published — and only a caller that withholds
//! everything until the commit returns (`Store::withhold_until_commit`: the CLI, the
//! deletion engine) may have it abandoned. Before the fix every failed commit abandoned its
//! records, so the plain case below found nothing charged (an observed release never
//! charged: the budget under-charged).
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

use std::path::{Path, PathBuf};
use std::time::Duration;
use unlearn::certificate::{Certificate, EntryKind};
use unlearn::store::{
    Access, LogLine, RELEASE_LOG_FILE, Store, read_release_log, release_log_path,
};

const WRITE: Access = Access::Write {
    wait: Duration::ZERO,
};

/// A fresh store of 200 synthetic rows (ids s0…s199) in a scratch directory.
fn new_store(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "unlearn-commit-failure-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    drop(Store::create(&dir, &common::trained_synthetic(9), false, Duration::ZERO).unwrap());
    dir
}

/// Sets the soft file-size limit (the hard one is left alone, so it can be raised again).
fn set_file_limit(bytes: libc::rlim_t) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a valid, owned struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit), 0);
        limit.rlim_cur = bytes.min(limit.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

/// Removes s5 through a writer (withholding its entries until the commit returns when
/// `withhold`), with the commit failing under the file-size limit; returns the certificate
/// the caller saw.
fn remove_with_failed_commit(root: &Path, withhold: bool) -> Certificate {
    let mut store = Store::open(root, WRITE).unwrap();
    if withhold {
        store.withhold_until_commit();
    }
    let mut unlearner = store.load().unwrap();
    let certificate = unlearner.remove(&["s5".to_string()]).unwrap();
    assert!(certificate.published, "the removal publishes a release");
    let log_len = std::fs::metadata(release_log_path(root)).unwrap().len();
    set_file_limit(log_len + 2048);
    let committed = store.commit(&unlearner);
    set_file_limit(libc::RLIM_INFINITY);
    let error = committed.expect_err("the commit's WAL frames exceed the file-size limit");
    let lines = read_release_log(root).unwrap();
    assert!(
        lines
            .iter()
            .any(|l| matches!(l, LogLine::Record(r) if r.entry == certificate.digest)),
        "the failure fell after the record's append ({error}); {RELEASE_LOG_FILE}: {lines:?}"
    );
    certificate
}

#[test]
fn a_failed_commit_is_abandoned_only_when_its_caller_withheld_it() {
    // SAFETY: ignoring a signal; no handler runs.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };

    // A library caller that saw the certificate: the next writer charges its release.
    let plain = new_store("plain");
    let seen = remove_with_failed_commit(&plain, false);
    let store = Store::open(&plain, WRITE).expect("the store still opens for writing");
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
    // Its removal is applied (the error is on the side of erasure), and the log agrees.
    let unlearner = store.load().unwrap();
    assert_eq!(unlearner.model.secret.n_rows(), 199);
    assert!(store.release_log_check().unwrap().passed);
    drop(store);

    // A caller that withheld it (the CLI, the engine): abandoned, neither charged nor applied.
    let withheld = new_store("withheld");
    remove_with_failed_commit(&withheld, true);
    let store = Store::open(&withheld, WRITE).expect("the store still opens for writing");
    assert!(store.reconciled().is_empty(), "{:?}", store.reconciled());
    assert_eq!(store.load().unwrap().model.secret.n_rows(), 200);
    let check = store.release_log_check().unwrap();
    assert!(
        check.passed && check.detail.contains("1 abandoned"),
        "{}",
        check.detail
    );
}
