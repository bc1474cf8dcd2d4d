//! Review 8, finding 1 (release log, availability): a retried save that fails a second time
//! could never be retried again. The retry-replacement of `Store::commit` (review 5, finding
//! 2) only replaced a reconciliation entry that *this handle's* opening committed
//! (`reconciliation_is_last`, set from `reconcile`'s return). After the retry's own commit
//! failed, the reconciliation entry R (charging E) was still the store's newest entry, still
//! charged only releases, and the caller still held E — but the next handle's opening found
//! the store settled (or only re-recorded R), committed nothing, so `reconciled` was empty
//! and the third `commit(&mut unlearner)` was `Diverged` for ever: the caller had to reload
//! and redo the removal (a second release, charged again), although nothing was wrong with
//! the store. Now replaceability is decided from the ledger (`Store::commit`): the first
//! three tests (the reviewer's, `review8_retry_twice.rs`) failed with `Diverged` before.
//!
//! Then the retry's own failure points (its append, its database commit with and without
//! the failed mark — the last as a process killed between the append and the commit leaves
//! the log), a retry that may not replace (R charges a release the caller does not hold), a
//! retry through `Store::record_before_showing` (Python's `remove()` after a failed `save()`),
//! and review 8, finding 3: a diverged commit marks failed what its handle recorded before
//! showing, as it marks the records it appends itself.
//!
//! Failures are injected with a process-wide file-size limit (tests/common's
//! `with_file_limit`), so the tests here take one lock.

#![cfg(unix)]

mod common;

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;
use unlearn::certificate::Certificate;
use unlearn::store::{Access, LogLine, LogRecord, Store, StoreError, read_release_log};
use unlearn::unlearner::Unlearner;

const WRITE: Access = Access::Write {
    wait: Duration::ZERO,
};

static LIMIT: Mutex<()> = Mutex::new(());

/// Removes `id` from `unlearner` (given as a row when its rows are external).
fn remove(unlearner: &mut Unlearner, id: &str) -> Certificate {
    if unlearner.model.secret.rows.is_external() {
        unlearner
            .remove_external(&common::given_row(id), 1)
            .unwrap()
    } else {
        unlearner.remove(&[id.to_string()]).unwrap()
    }
}

/// An external-rows store at a fresh `name` whose caller removed s5 and recorded it before
/// showing it (Python's `remove()`): the store's handle, the caller and the shown entry.
fn recorded_s5(name: &str) -> (common::Scratch, Store, Unlearner, Certificate) {
    let root = common::synthetic_store(name, true);
    let mut store = Store::open(&root, WRITE).unwrap();
    let mut holder = store.load().unwrap();
    let shown = remove(&mut holder, "s5");
    store.record_before_showing(&holder).unwrap();
    (root, store, holder, shown)
}

/// The store at `root` opened for writing by the next writer after [`recorded_s5`]'s caller
/// stopped: it cannot re-apply the removal of s5 (its rows are external) and says so; the
/// handle and the model it loads.
fn unsettled(root: &std::path::Path) -> (Store, Unlearner) {
    let store = Store::open(root, WRITE).unwrap();
    assert!(
        store
            .reconciliation_note()
            .unwrap_or_default()
            .contains("cannot re-apply")
    );
    let model = store.load().unwrap();
    (store, model)
}

/// A Python-like caller (no withholding) removes s5 from the store at `root` and saves; the
/// save fails after the record (the file-size limit leaves room for the record and its
/// failed mark, not for the database's WAL frames). Returns the unlearner it holds and E.
fn failed_save(root: &Path) -> (Unlearner, Certificate) {
    let mut store = Store::open(root, WRITE).unwrap();
    let mut unlearner = store.load().unwrap();
    let seen = remove(&mut unlearner, "s5");
    let first = common::with_file_limit(common::release_log_len(root) + 2048, || {
        store.commit(&mut unlearner)
    });
    assert!(first.is_err());
    (unlearner, seen)
}

/// How many times the store charges the release of ledger entry `digest`: once if the
/// entry is in its ledger (it charges its own release), once per entry that charges it as
/// a release of another branch.
fn charges_of(root: &Path, digest: &str) -> usize {
    let ledger = Store::open(root, Access::Read)
        .unwrap()
        .load()
        .unwrap()
        .ledger;
    let own = ledger.entries.iter().filter(|e| e.digest == digest).count();
    let foreign = ledger
        .entries
        .iter()
        .flat_map(|e| &e.foreign_releases)
        .filter(|f| f.entry == digest)
        .count();
    own + foreign
}

/// Whether the store at `root` still holds the row `id` (a store that holds its rows).
fn holds(root: &Path, id: &str) -> bool {
    let unlearner = Store::open(root, Access::Read).unwrap().load().unwrap();
    unlearner
        .model
        .secret
        .rows
        .held()
        .unwrap()
        .position(id)
        .is_some()
}

/// `second_room`: bytes the second attempt may add to the log (0: its append fails, as in
/// release_log_failures.rs; large: its append succeeds and the database commit fails).
fn retry_twice_then_once_more(name: &str, second_room: u64) {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let root = common::synthetic_store(name, false);
    let (mut unlearner, seen) = failed_save(&root);

    // Second save: the opening commits R (charging E); the retry fails again.
    let mut retry = Store::open(&root, WRITE).unwrap();
    assert_eq!(retry.reconciled().len(), 1);
    let second = common::with_file_limit(common::release_log_len(&root) + second_room, || {
        retry.commit(&mut unlearner)
    });
    assert!(second.is_err(), "the disk is still full");
    drop(retry);

    // Third save, the disk freed: R is still the newest entry and only charges E, which the
    // caller holds — the same situation the second save was allowed to settle.
    let mut third = Store::open(&root, WRITE).unwrap();
    let outcome = third.commit(&mut unlearner);
    assert!(
        outcome.is_ok(),
        "the caller holding E cannot retry a third time: {}",
        outcome.err().map(|e| e.to_string()).unwrap_or_default()
    );
    drop(third);
    let reopened = Store::open(&root, WRITE).unwrap();
    let ledger = reopened.load().unwrap().ledger;
    assert!(ledger.entries.iter().any(|e| e.digest == seen.digest));
    let charges = ledger
        .entries
        .iter()
        .flat_map(|e| &e.foreign_releases)
        .filter(|f| f.entry == seen.digest)
        .count();
    assert_eq!(charges, 0, "E charges its own release; R was replaced");
    drop(reopened);
    common::assert_release_log_checks(&root);
}

#[test]
fn a_retry_whose_append_failed_can_be_retried_again() {
    retry_twice_then_once_more("review8-retry-append-failed", 0);
}

#[test]
fn a_retry_whose_database_commit_failed_can_be_retried_again() {
    retry_twice_then_once_more("review8-retry-commit-failed", 4096);
}

/// The same without a second failure: any writer that opens the store between the failed
/// save and its retry (a CLI command, a cron job, `Store::open` for writing in another
/// process) commits R on its opening and exits; the retry's handle then finds the store
/// settled, its `reconciled` is empty, and the caller holding E is `Diverged` for good.
#[test]
fn a_retry_after_another_writer_opened_is_accepted() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let root = common::synthetic_store("review8-retry-after-open", false);
    let (mut unlearner, seen) = failed_save(&root);

    // Another writer opens (its opening commits R, charging E) and closes.
    let other = Store::open(&root, WRITE).unwrap();
    assert_eq!(other.reconciled().len(), 1);
    drop(other);

    let mut retry = Store::open(&root, WRITE).unwrap();
    let outcome = retry.commit(&mut unlearner);
    assert!(
        outcome.is_ok(),
        "the caller holding E cannot retry once another writer has opened: {}",
        outcome.err().map(|e| e.to_string()).unwrap_or_default()
    );
    drop(retry);
    let ledger = Store::open(&root, WRITE).unwrap().load().unwrap().ledger;
    assert!(ledger.entries.iter().any(|e| e.digest == seen.digest));
    common::assert_release_log_checks(&root);
}

/// Every way the retry's own commit can fail, at every place its writes can stop: its
/// append (nothing of it stays), the database commit with the failed mark written after
/// it, or without the mark (the log a process killed between the append and the commit
/// leaves: the retried record bare). After each, before any writer opens, the release-log
/// check passes; then the next writer opens and the caller retries once more. E's release
/// is charged exactly once in the end, and no acknowledged removal is lost: the retry
/// succeeds — or, only where the bare record made the next writer re-apply the removal (a
/// store that holds its rows), it is diverged with s5 already removed.
#[test]
fn every_failure_point_of_a_retry_keeps_one_charge_and_a_way_forward() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    for external in [false, true] {
        // Where the retry's writes can stop: nothing of its append (E's record) fits, all of
        // it but not E's failed mark after the failed commit, or both; each in a fresh store.
        for point in 0..6 {
            let name = format!("review8-failure-point-{external}-{point}");
            let root = common::synthetic_store(&name, external);
            let (mut unlearner, seen) = failed_save(&root);
            let lineage = &unlearner.ledger.entries[0].digest;
            let record = serde_json::to_vec(&LogRecord::of(lineage, &seen))
                .unwrap()
                .len() as u64
                + 1;
            let mark = format!("{{\"failed\":\"{}\"}}\n", seen.digest).len() as u64;
            let room = [
                0,
                record - 1,
                record,
                record + mark - 1,
                record + mark,
                4096,
            ][point];
            let mut retry = Store::open(&root, WRITE).unwrap();
            assert_eq!(retry.reconciled().len(), 1, "R charges E");
            let second = common::with_file_limit(common::release_log_len(&root) + room, || {
                retry.commit(&mut unlearner)
            });
            assert!(second.is_err(), "room {room}: the WAL frames do not fit");
            drop(retry);
            let bare = matches!(
                common::last_line_about(&root, &seen.digest),
                Some(LogLine::Record(_))
            );
            assert_eq!(
                bare,
                (record..record + mark).contains(&room),
                "room {room}: the retried record is bare exactly when its mark did not fit"
            );
            common::assert_release_log_checks(&root);

            let mut third = Store::open(&root, WRITE).unwrap();
            let outcome = third.commit(&mut unlearner);
            drop(third);
            match outcome {
                Ok(()) => assert_eq!(charges_of(&root, &seen.digest), 1, "room {room}"),
                Err(StoreError::Diverged { .. }) if bare && !external => {
                    assert!(
                        !holds(&root, "s5"),
                        "room {room}: the removal was re-applied"
                    );
                    assert_eq!(charges_of(&root, &seen.digest), 1, "room {room}: by R");
                }
                Err(e) => panic!("room {room}, external {external}: the retry is refused: {e}"),
            }
            common::assert_release_log_checks(&root);
        }
    }
}

/// Soundness: a retry replaces reconciliation entries only when every release they charge
/// is one of its own entries. Two callers' saves failed from the same base (E1, then E2,
/// diverged); the reconciliation entries charge both, so neither caller may replace them:
/// deleting them would drop the other's charge.
#[test]
fn a_retry_does_not_replace_charges_of_releases_it_does_not_hold() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let root = common::synthetic_store("review8-two-callers", false);
    let mut second = Store::open(&root, Access::Read).unwrap().load().unwrap();
    let (mut first, e1) = failed_save(&root);
    // The second caller removes s6 and saves after the first's failure was charged.
    let e2 = remove(&mut second, "s6");
    let mut store = Store::open(&root, WRITE).unwrap();
    assert_eq!(store.reconciled().len(), 1, "R1 charges E1");
    assert!(matches!(
        store.commit(&mut second),
        Err(StoreError::Diverged { .. })
    ));
    drop(store);
    let mut store = Store::open(&root, WRITE).unwrap();
    assert_eq!(store.reconciled().len(), 1, "R2 charges E2");
    for unlearner in [&mut first, &mut second] {
        assert!(matches!(
            store.commit(unlearner),
            Err(StoreError::Diverged { .. })
        ));
    }
    drop(store);
    assert_eq!(charges_of(&root, &e1.digest), 1);
    assert_eq!(charges_of(&root, &e2.digest), 1);
    assert!(
        holds(&root, "s5") && holds(&root, "s6"),
        "neither removal acknowledged"
    );
    common::assert_release_log_checks(&root);
}

/// Python's `remove()` after a failed `save()`: the store-backed estimator opens the store
/// (its opening charges E in R) and records its new removal before showing it. Before, the
/// recording was refused (the model did not continue R) and the following `save()` was
/// diverged for good; now the retry is accepted at the recording, and the commit through
/// the same handle replaces R without recording again.
#[test]
fn a_removal_recorded_after_a_failed_save_is_a_retry() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let root = common::synthetic_store("review8-record-retry", false);
    let (mut unlearner, seen) = failed_save(&root);
    let mut store = Store::open(&root, WRITE).unwrap();
    assert_eq!(store.reconciled().len(), 1, "R charges E");
    let shown = remove(&mut unlearner, "s6");
    store
        .record_before_showing(&unlearner)
        .expect("the caller holding E may record its next removal");
    let lines = read_release_log(&root).unwrap().len();
    store.commit(&mut unlearner).expect("the retry commits");
    assert_eq!(
        read_release_log(&root).unwrap().len(),
        lines,
        "the commit recorded nothing again"
    );
    drop(store);
    assert_eq!(charges_of(&root, &seen.digest), 1);
    assert_eq!(charges_of(&root, &shown.digest), 1);
    assert!(!holds(&root, "s5") && !holds(&root, "s6"));
    common::assert_release_log_checks(&root);
}

/// Review 9a, finding 1 (which reverses review 8's finding 3): a removal recorded before it
/// was shown (Python's `remove()` returned its certificate: acknowledged) whose save then
/// fails at the database commit stays a bare record — it is not marked failed — so the next
/// writer charges its release and applies the removal, exactly as when the process stops
/// before saving. Before, the failed commit marked it failed (the mark fits in the room
/// left here), and the acknowledged removal was never applied. The caller's retry is then
/// diverged, saying the removal is already applied; an external-rows store, which cannot
/// re-apply it, accepts the retry instead.
#[test]
fn a_removal_recorded_before_a_failed_save_is_applied_by_the_next_writer() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    for external in [false, true] {
        let name = format!("review9a-recorded-failed-save-{external}");
        let root = common::synthetic_store(&name, external);
        let mut store = Store::open(&root, WRITE).unwrap();
        let mut unlearner = store.load().unwrap();
        let shown = remove(&mut unlearner, "s5");
        store.record_before_showing(&unlearner).unwrap();
        let saved = common::with_file_limit(common::release_log_len(&root) + 600, || {
            store.commit(&mut unlearner)
        });
        assert!(saved.is_err(), "the WAL frames do not fit");
        drop(store);
        assert!(
            matches!(
                common::last_line_about(&root, &shown.digest),
                Some(LogLine::Record(_))
            ),
            "the acknowledged entry is not marked"
        );
        common::assert_release_log_checks(&root);

        let mut next = Store::open(&root, WRITE).unwrap();
        let retried = next.commit(&mut unlearner);
        drop(next);
        assert_eq!(charges_of(&root, &shown.digest), 1, "charged once");
        if external {
            retried.expect("the caller holding the entry applies it");
            let ledger = Store::open(&root, Access::Read)
                .unwrap()
                .load()
                .unwrap()
                .ledger;
            assert!(ledger.entries.iter().any(|e| e.digest == shown.digest));
        } else {
            assert!(!holds(&root, "s5"), "the next writer applied the removal");
            match retried {
                Err(StoreError::Diverged { reason, .. }) => {
                    assert!(reason.contains("already applied"), "{reason}")
                }
                other => panic!("expected Diverged, got {other:?}"),
            }
        }
        common::assert_release_log_checks(&root);
    }
}

/// Review 9a, finding 4: an external-rows store that opened with a removal it could not
/// re-apply refuses to record a removal that does not apply it (before, it recorded and
/// charged it, and every later save was refused): the caller rolls the request back and
/// shows nothing. The caller holding the lost entry may still record and commit.
#[test]
fn a_store_with_unapplied_removals_records_nothing_that_drops_them() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let (root, store, mut holder, lost) = recorded_s5("review9a-record-unapplied");
    drop(store); // the process stops before saving: the record is bare
    let (mut store, mut other) = unsettled(&root);
    remove(&mut other, "s6");
    let lines = read_release_log(&root).unwrap().len();
    match store.record_before_showing(&other) {
        Err(StoreError::Reconciliation { reason, .. }) => {
            assert!(reason.contains("X=rows"), "{reason}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        read_release_log(&root).unwrap().len(),
        lines,
        "nothing recorded"
    );
    let next = remove(&mut holder, "s6");
    store.record_before_showing(&holder).unwrap();
    store.commit(&mut holder).unwrap();
    drop(store);
    assert_eq!(charges_of(&root, &lost.digest), 1);
    assert_eq!(charges_of(&root, &next.digest), 1);
    common::assert_release_log_checks(&root);
}

/// Review 10, finding 2: a retried save through a new handle appended the acknowledged
/// entry's record again and, when that commit failed too, marked it failed (charged, not
/// applied): the removal was lost.
#[test]
fn a_retried_save_that_fails_again_keeps_an_acknowledged_removal() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    // Python's remove(): recorded before it is shown (acknowledged); save() fails at the
    // database commit (room for marks, not for the WAL frames).
    let (root, mut store, mut holder, shown) = recorded_s5("review10-retry-marks-acknowledged");
    let first = common::with_file_limit(common::release_log_len(&root) + 600, || {
        store.commit(&mut holder)
    });
    assert!(first.is_err());
    drop(store); // the backing lets go of its handle after a failed commit
    assert!(
        matches!(
            common::last_line_about(&root, &shown.digest),
            Some(LogLine::Record(_))
        ),
        "review 9a finding 1: the acknowledged entry stays bare"
    );

    // save() again, the disk still full: a new handle (its opening charges E in R), the
    // retried commit appends E's record again and fails at the database commit.
    let mut retry = Store::open(&root, WRITE).unwrap();
    let second = common::with_file_limit(common::release_log_len(&root) + 4096, || {
        retry.commit(&mut holder)
    });
    assert!(second.is_err(), "the WAL frames still do not fit");
    drop(retry);
    assert!(
        !matches!(
            common::last_line_about(&root, &shown.digest),
            Some(LogLine::Failed(_))
        ),
        "the retry marked the acknowledged removal failed: it will never be applied"
    );

    // The process gives up. The next writer must still demand the removal of s5 (the store
    // cannot re-apply it: its rows are external) rather than commit a removal that drops it.
    let mut next = Store::open(&root, WRITE).unwrap();
    let mut other = next.load().unwrap();
    other.remove_external(&common::given_row("s6"), 1).unwrap();
    match next.commit(&mut other) {
        Err(StoreError::Reconciliation { .. }) => {}
        other => panic!("the acknowledged removal of s5 was dropped: {other:?}"),
    }
}

/// Review 10, finding 3: an estimator's opening check (`record_before_showing` of the
/// model before its removal, nothing new to record) refused the store that lost a removal,
/// so the settling removal the error asks for could not be made from Python.
#[test]
fn a_python_estimator_can_settle_an_unapplied_removal_by_removing_the_rows_again() {
    // Not while another test of this file limits the process's file size.
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    // A removal of s5 recorded before it was shown; its process stops before saving.
    let (root, store, _holder, _) = recorded_s5("review10-settle-from-python");
    drop(store);

    // A new estimator loads the store (Estimator.load) and, told so by the store's message,
    // removes s5 again giving its row. Backing::open: open for writing, then check that the
    // model continues the store (record_before_showing of the model before the removal).
    let (mut store, mut settler) = unsettled(&root);
    store
        .record_before_showing(&settler)
        .expect("opening the store for the settling removal is refused");
    // Backing::request: the removal, recorded before it is shown, then save().
    settler
        .remove_external(&common::given_row("s5"), 1)
        .unwrap();
    store.record_before_showing(&settler).unwrap();
    store.commit(&mut settler).unwrap();
    drop(store);
    let settled = Store::open(&root, WRITE).unwrap();
    assert!(settled.reconciliation_note().is_none());
    drop(settled);
    common::assert_release_log_checks(&root);
}

/// Review 10, finding 4: a commit that failed on a full disk is retried through the handle
/// that tried it (Python's `save()` again: the model keeps the handle and its lock after a
/// failed save). The retry commits the removal once — one record, one charge, the row
/// deleted once, no reconciliation entry — whether the caller recorded it before showing
/// it (Python's `remove()`: the first commit appended nothing) or the commit appended the
/// record and then failed (marked failed). Before, the handle forgot what it had recorded
/// before showing once its commit failed, and the retry appended that record a second time.
#[test]
fn a_failed_commit_retried_through_its_handle_commits_once() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    for record_first in [true, false] {
        let root = common::synthetic_store(&format!("review10-same-handle-{record_first}"), false);
        let mut store = Store::open(&root, WRITE).unwrap();
        let mut holder = store.load().unwrap();
        let shown = remove(&mut holder, "s5");
        // Room for the record and its failed mark, not for the database's WAL frames.
        let room = if record_first {
            store.record_before_showing(&holder).unwrap();
            0
        } else {
            2048
        };
        let full = common::release_log_len(&root) + room;
        let first = common::with_file_limit(full, || store.commit(&mut holder));
        assert!(first.is_err(), "the commit fails on the full disk");
        assert_eq!(common::records_of(&root, &shown.digest), 1);
        store.commit(&mut holder).unwrap();
        drop(store);

        // Recorded before it was shown: the handle does not record it again. Recorded by
        // the failed commit itself and marked failed there: the retry records it again, as
        // a retry through a new handle does, so that the record after the mark is bare.
        assert_eq!(
            common::records_of(&root, &shown.digest),
            if record_first { 1 } else { 2 },
            "record_first: {record_first}"
        );
        assert_eq!(charges_of(&root, &shown.digest), 1, "charged once");
        assert!(!holds(&root, "s5"), "s5 is removed");
        let ledger = Store::open(&root, Access::Read)
            .unwrap()
            .load()
            .unwrap()
            .ledger;
        assert_eq!(ledger.entries.len(), 2, "training, then the removal");
        assert_eq!(ledger.entries[1].digest, shown.digest);
        common::assert_release_log_checks(&root);
        let next = Store::open(&root, WRITE).unwrap();
        assert!(
            next.reconciliation_note().is_none(),
            "{:?}",
            next.reconciliation_note()
        );
    }
}

/// Review 10, finding 8 (first half): a library caller that showed a removal without
/// recording it (no `record_before_showing`, no withholding) and whose commit the store
/// refuses because it drops a removal of another branch the store cannot re-apply
/// (`StoreError::Reconciliation`) has its release recorded, marked failed, as a diverged
/// commit's is: the next writer charges it. Before, nothing was written and a shown
/// release was charged nowhere.
#[test]
fn a_commit_refused_for_an_unapplied_removal_records_its_shown_release_as_failed() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let (root, store, holder, _) = recorded_s5("review10-refused-unapplied");
    drop((store, holder));
    let (mut store, mut model) = unsettled(&root);
    let shown = remove(&mut model, "s9");
    assert!(shown.published, "the removal publishes a release");
    match store.commit(&mut model) {
        Err(StoreError::Reconciliation { reason, .. }) => {
            assert!(reason.contains("recorded in"), "{reason}")
        }
        other => panic!("the commit dropping s5's removal was not refused: {other:?}"),
    }
    assert!(
        matches!(
            common::last_line_about(&root, &shown.digest),
            Some(LogLine::Failed(_))
        ),
        "{:?}",
        common::last_line_about(&root, &shown.digest)
    );
    drop(store);
    let next = Store::open(&root, WRITE).unwrap();
    assert!(
        next.reconciled()
            .iter()
            .any(|e| e.foreign_releases.iter().any(|f| f.entry == shown.digest)),
        "the next writer charges the shown release"
    );
}

/// Review 10, finding 8 (second half): the reconciliation an opening commits is shown to
/// no one before it returns, so it is withheld whatever the opener declares later. When
/// that commit fails (a full disk), its own records — a re-applied removal's release that
/// was never published — are abandoned, not marked failed, and the next opening settles the
/// lost record again: the lost release is charged once and nothing else is. Before, the
/// failed opening's re-applied removal was marked failed and the next writer charged its
/// unpublished release too.
#[test]
fn a_failed_reconciliation_charges_nothing_it_never_published() {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let root = common::synthetic_store("review10-failed-reconciliation", false);
    let mut store = Store::open(&root, WRITE).unwrap();
    let mut holder = store.load().unwrap();
    let lost = remove(&mut holder, "s5");
    store.record_before_showing(&holder).unwrap();
    drop((store, holder));

    // Room for the opening's records and marks, not for the database's WAL frames; a
    // reader keeps the WAL index (32 KiB, past the limit) from being created anew.
    let reader = Store::open(&root, Access::Read).unwrap();
    let room = common::release_log_len(&root) + 4096;
    let failed = common::with_file_limit(room, || Store::open(&root, WRITE));
    drop(reader);
    let error = failed.expect_err("the opening's reconciliation commit fails");
    let abandoned = read_release_log(&root)
        .unwrap()
        .into_iter()
        .filter(|l| matches!(l, LogLine::Abandoned(_)))
        .count();
    assert!(
        abandoned > 0,
        "the failed reconciliation abandons its records ({error})"
    );

    let settled = Store::open(&root, WRITE).unwrap();
    drop(settled);
    assert_eq!(charges_of(&root, &lost.digest), 1, "the lost release, once");
    let ledger = Store::open(&root, Access::Read)
        .unwrap()
        .load()
        .unwrap()
        .ledger;
    let charged: Vec<&str> = ledger
        .entries
        .iter()
        .flat_map(|e| &e.foreign_releases)
        .map(|f| f.entry.as_str())
        .collect();
    assert_eq!(
        charged,
        vec![lost.digest.as_str()],
        "nothing else is charged"
    );
    assert!(!holds(&root, "s5"), "the lost removal is re-applied");
    common::assert_release_log_checks(&root);
}

/// Review 11, finding 1 (the reviewer's `review11_ack_after_failed_mark.rs`): a library
/// caller that neither withholds nor records first commits E (remove s5, external rows) and
/// the commit fails after E's record: E is marked failed. It then retries the right way — a
/// new handle records E before showing it (and, with `second`, a further removal F of s6):
/// E's record is bare again, acknowledged. Its `save()` through another new handle fails
/// again, disk still full. Before, that failure marked E failed once more because of the
/// first mark (the acknowledged removal of s5 was then never demanded: lost), and with F
/// the mark of E alone, not directly after E's record, was a line the check calls forged,
/// for good. Now the last honoured line before the append decides: E stays bare, the check
/// passes, and the next writer still demands the removal of s5.
fn a_failed_mark_is_superseded_by_a_later_record(name: &str, second: bool) {
    let _serial = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let root = common::synthetic_store(name, true);
    let mut store = Store::open(&root, WRITE).unwrap();
    let mut holder = store.load().unwrap();
    let e = remove(&mut holder, "s5");
    let room = common::release_log_len(&root) + 2048;
    assert!(common::with_file_limit(room, || store.commit(&mut holder)).is_err());
    drop(store);
    assert!(matches!(
        common::last_line_about(&root, &e.digest),
        Some(LogLine::Failed(_))
    ));

    let mut store = Store::open(&root, WRITE).unwrap();
    if second {
        remove(&mut holder, "s6");
    }
    store.record_before_showing(&holder).unwrap();
    drop(store);
    assert!(matches!(
        common::last_line_about(&root, &e.digest),
        Some(LogLine::Record(_))
    ));

    let mut retry = Store::open(&root, WRITE).unwrap();
    let room = common::release_log_len(&root) + 4096;
    assert!(common::with_file_limit(room, || retry.commit(&mut holder)).is_err());
    drop(retry);
    assert!(
        !matches!(
            common::last_line_about(&root, &e.digest),
            Some(LogLine::Failed(_))
        ),
        "the failed retry marked the acknowledged E failed"
    );
    common::assert_release_log_checks(&root);

    let mut next = Store::open(&root, WRITE).unwrap();
    let mut other = next.load().unwrap();
    remove(&mut other, "s6");
    match next.commit(&mut other) {
        Err(StoreError::Reconciliation { .. }) => {}
        outcome => panic!("the acknowledged removal of s5 was dropped: {outcome:?}"),
    }
}

#[test]
fn a_failed_retry_does_not_mark_a_removal_recorded_before_showing_after_an_old_mark() {
    a_failed_mark_is_superseded_by_a_later_record("review11-ack-after-failed-mark-1", false);
}

#[test]
fn a_failed_retry_of_two_entries_writes_no_mark_its_check_calls_forged() {
    a_failed_mark_is_superseded_by_a_later_record("review11-ack-after-failed-mark-2", true);
}
