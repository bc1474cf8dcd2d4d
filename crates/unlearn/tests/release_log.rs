//! The release log (`releases.jsonl`): what observers and requesters were shown survives a
//! restore of the database, and the next writer charges it (proofs/transcript_accounting.md,
//! "Forked histories"). The store-level restore test that failed before the log existed is
//! `review_findings.rs::restoring_a_backup_keeps_the_charges_of_releases_already_published`;
//! the engine-level one is `the_deletion_engine_on_a_restored_store_counts_every_release`.
//! A database older than its log across a retrain is refused
//! (`a_restore_across_a_retrain_is_refused_until_the_newer_database_is_back`, review finding
//! 2); a record whose commit failed is abandoned, never applied or charged
//! (`an_abandoned_record_is_neither_applied_nor_charged`; the injected failure is
//! `store_cli.rs::a_commit_that_fails_after_its_record_is_abandoned_not_applied_later`,
//! review finding 4).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;
use unlearn::certificate::EntryKind;
use unlearn::deletions::{DeletionRequest, Deletions};
use unlearn::requests::Erasure;
use unlearn::store::{
    Access, DB_FILE, LogLine, LogRecord, MODEL_FILE, RELEASE_LOG_FILE, Store, StoreError,
    read_release_log,
};
use unlearn::transcript::Transcript;
use unlearn::verify::verify;

const WRITE: Access = Access::Write {
    wait: Duration::ZERO,
};

/// A scratch directory holding a certified store of 200 synthetic rows (ids s0…s199) at
/// `store/` and an empty `backup/`: the directory's guard (bind it for the test), store, backup.
fn setup(name: &str) -> (common::Scratch, PathBuf, PathBuf) {
    let dir = common::scratch(&format!("release-log-{name}"));
    std::fs::create_dir_all(dir.join("backup")).unwrap();
    let root = dir.join("store");
    drop(
        Store::create(
            &root,
            &mut common::trained_synthetic(9),
            false,
            Duration::ZERO,
        )
        .unwrap(),
    );
    let backup = dir.join("backup");
    (dir, root, backup)
}

/// Copies what an operator backs up (the closed store's database and published model).
fn back_up(root: &Path, backup: &Path) {
    for f in [DB_FILE, MODEL_FILE] {
        std::fs::copy(root.join(f), backup.join(f)).unwrap();
    }
}

/// Puts the backup back as the restore instructions say: the database and the published
/// model, no WAL; the release log stays.
fn restore(backup: &Path, root: &Path) {
    for f in [DB_FILE, MODEL_FILE] {
        std::fs::copy(backup.join(f), root.join(f)).unwrap();
    }
    for f in ["unlearn.db-wal", "unlearn.db-shm"] {
        let _ = std::fs::remove_file(root.join(f));
    }
}

/// The lineage of the store at `root`: the digest of its training entry.
fn lineage_of(root: &Path) -> String {
    Store::open(root, Access::Read)
        .unwrap()
        .load()
        .unwrap()
        .ledger
        .entries[0]
        .digest
        .clone()
}

/// The release-log check of the store at `root`, as a reader sees it.
fn read_check(root: &Path) -> unlearn::verify::Check {
    Store::open(root, Access::Read)
        .unwrap()
        .release_log_check()
        .unwrap()
}

/// Removes `ids` through a writer and commits; returns the certificate.
fn remove(root: &Path, ids: &[&str]) -> unlearn::certificate::Certificate {
    let mut store = Store::open(root, WRITE).unwrap();
    let mut u = store.load().unwrap();
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    let c = u.remove(&ids).unwrap();
    store.commit(&mut u).unwrap();
    c
}

/// Trains again (under another key) into the store at `root`, overwriting it in place as
/// `unlearn train --force` does: a new lineage.
fn retrain_in_place(root: &Path) {
    let mut retrained = common::trained_synthetic(6);
    drop(Store::create(root, &mut retrained, true, Duration::ZERO).unwrap());
}

/// One record per ledger entry, in order, with the entry's digest, release count and charge;
/// the file is owner-only and names no id (only keyed tags).
#[test]
fn the_log_records_every_entry_with_its_charge_and_no_id() {
    let (_dir, root, _) = setup("records");
    remove(&root, &["s1", "s7"]);
    remove(&root, &["s3"]);
    let u = Store::open(&root, Access::Read).unwrap().load().unwrap();
    let records = read_release_log(&root).unwrap();
    assert_eq!(records.len(), u.ledger.entries.len());
    for (record, entry) in records.iter().zip(&u.ledger.entries) {
        let expected = LogLine::Record(LogRecord {
            lineage: u.ledger.entries[0].digest.clone(),
            step: entry.step,
            entry: entry.digest.clone(),
            release: Some(entry.release),
            charge: entry.distance,
            weights: entry.digest_after.clone(),
            removed_id_tags: entry.removed_id_tags.clone(),
            erased_subject_tags: entry.erased_subject_tags.clone(),
        });
        assert_eq!(record, &expected);
    }
    let text = std::fs::read_to_string(root.join(RELEASE_LOG_FILE)).unwrap();
    for id in ["\"s1\"", "\"s7\"", "\"s3\""] {
        assert!(!text.contains(id), "the log names {id}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.join(RELEASE_LOG_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let check = read_check(&root);
    assert!(check.passed, "{}", check.detail);
}

/// A restored store: a reader is told the lost branch's release is not charged yet; the
/// first writer charges it (one reconciliation entry, then the lost removal re-applied) and
/// says so; a second writer does nothing more; and the store verifies.
#[test]
fn a_restored_store_is_reconciled_once_by_the_first_writer() {
    let (_dir, root, backup) = setup("once");
    back_up(&root, &backup);
    let lost = remove(&root, &["s5"]);
    restore(&backup, &root);

    let check = read_check(&root);
    assert!(
        check.passed,
        "nothing new is published before a writer settles it"
    );
    assert!(check.detail.contains("not charged yet"), "{}", check.detail);
    assert!(
        check.detail.contains("release 2 of entry"),
        "{}",
        check.detail
    );

    let store = Store::open(&root, WRITE).unwrap();
    let reconciled = store.reconciled().to_vec();
    assert_eq!(reconciled.len(), 2, "{reconciled:#?}");
    assert_eq!(reconciled[0].kind, EntryKind::Reconciliation);
    assert_eq!(reconciled[0].foreign_releases.len(), 1);
    let foreign = &reconciled[0].foreign_releases[0];
    assert_eq!(foreign.entry, lost.digest);
    assert_eq!(foreign.charge, lost.distance.unwrap());
    assert_eq!(reconciled[0].transcript.releases, 2);
    assert_eq!(reconciled[1].kind, EntryKind::Removal);
    assert_eq!(reconciled[1].removed_id_tags, lost.removed_id_tags);
    assert_eq!(reconciled[1].transcript.releases, 3);
    // The operator's note (standard error, service logs) names the release, never its
    // data-dependent charge.
    let note = store.reconciliation_note().unwrap();
    assert!(
        note.contains(&format!("release {}", foreign.release)),
        "{note}"
    );
    assert!(!note.contains(&format!("{:.3e}", foreign.charge)), "{note}");
    drop(store);

    let again = Store::open(&root, WRITE).unwrap();
    assert!(again.reconciled().is_empty());
    let check = again.release_log_check().unwrap();
    assert!(check.passed, "{}", check.detail);
    assert!(check.detail.contains("1 by entry 1"), "{}", check.detail);
    let u = again.load().unwrap();
    assert!(u.model.secret.design().position("s5").is_none());
    assert!(verify(&u).passed(), "{:?}", verify(&u).checks);
}

/// A record whose entry never reached the ledger — a commit that failed or crashed after its
/// record was written, or a branch the log saw — is charged as a release with its recorded
/// charge: over-charging, never under-charging (also the fallback when its abandonment could
/// not be written). Records of an earlier training run in the directory (before this store's
/// first record) are ignored.
#[test]
fn a_record_outside_the_ledger_is_charged_and_another_lineage_ignored() {
    let (_dir, root, _) = setup("phantom");
    let u = Store::open(&root, Access::Read).unwrap().load().unwrap();
    let lineage = u.ledger.entries[0].digest.clone();
    let phantom = |lineage: &str, entry: &str, charge: f64| LogRecord {
        lineage: lineage.to_string(),
        step: 1,
        entry: entry.to_string(),
        release: Some(2),
        charge: Some(charge),
        weights: "0".repeat(64),
        removed_id_tags: Vec::new(),
        erased_subject_tags: Vec::new(),
    };
    let ours = std::fs::read_to_string(root.join(RELEASE_LOG_FILE)).unwrap();
    let line = |record: LogRecord| serde_json::to_string(&record).unwrap() + "\n";
    let text = line(phantom(&"b".repeat(64), &"c".repeat(64), 0.5))
        + &ours
        + &line(phantom(&lineage, &"a".repeat(64), 0.0125));
    std::fs::write(root.join(RELEASE_LOG_FILE), text).unwrap();
    let store = Store::open(&root, WRITE).unwrap();
    let [entry] = store.reconciled() else {
        panic!("{:#?}", store.reconciled())
    };
    assert_eq!(entry.foreign_releases.len(), 1);
    let expected = Transcript::default().after(0.0).after(0.0125);
    assert_eq!(entry.transcript.releases, 2);
    assert_eq!(entry.transcript.sensitivity, expected.sensitivity());
    assert!(verify(&store.load().unwrap()).passed());
}

/// A line torn by a crash during its append (no newline, not JSON) is skipped when read and
/// cut by the next append; any other line that is not a record is refused, naming the file
/// and the line, before the store is written.
#[test]
fn a_torn_last_line_is_cut_and_a_damaged_line_refused() {
    let (_dir, root, _) = setup("torn");
    let path = root.join(RELEASE_LOG_FILE);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("{\"lineage\":\"ab");
    std::fs::write(&path, &text).unwrap();
    assert_eq!(read_release_log(&root).unwrap().len(), 1);
    remove(&root, &["s2"]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert_eq!(read_release_log(&root).unwrap().len(), 2);

    std::fs::write(&path, format!("not json\n{text}")).unwrap();
    match Store::open(&root, WRITE) {
        Err(StoreError::Corrupt { path: p, reason }) => {
            assert_eq!(p, path);
            assert!(reason.starts_with("line 1:"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// Through the deletion engine: a restored store serves the next request with a certificate
/// that counts the releases the observer saw on the lost branch.
#[test]
fn the_deletion_engine_on_a_restored_store_counts_every_release() {
    let (_dir, root, backup) = setup("engine");
    back_up(&root, &backup);
    let request = |id: &str| DeletionRequest {
        erasure: Erasure::Ids(vec![id.to_string()]),
        reference: None,
    };
    let mut engine = Deletions::open(Store::open(&root, WRITE).unwrap()).unwrap();
    let first = engine.delete(&request("s1")).unwrap().certificate;
    let second = engine.delete(&request("s4")).unwrap().certificate;
    drop(engine);
    restore(&backup, &root);

    let mut engine = Deletions::open(Store::open(&root, WRITE).unwrap()).unwrap();
    let served = engine.delete(&request("s9")).unwrap().certificate;
    // Training, s1, s4 (the lost branch), s1 and s4 re-applied, s9.
    let history = &engine.unlearner().ledger.entries;
    let this_branch: Vec<f64> = history
        .iter()
        .filter(|e| e.kind == EntryKind::Removal)
        .filter_map(|e| e.distance)
        .collect();
    assert_eq!(this_branch.len(), 3);
    let mut observed = Transcript::default()
        .after(0.0)
        .after(first.distance.unwrap())
        .after(second.distance.unwrap());
    for charge in this_branch {
        observed = observed.after(charge);
    }
    assert_eq!(served.transcript.releases, 6);
    assert_eq!(served.transcript.releases, observed.releases);
    assert_eq!(served.transcript.sensitivity, observed.sensitivity());
    assert!(verify(engine.unlearner()).passed());
}

/// A log that lacks ledger entries (deleted, restored with the database, or older than the
/// log) fails the check — what it never recorded cannot be charged — until a writer adds the
/// entries from the ledger.
#[test]
fn a_log_missing_ledger_entries_fails_the_check_until_a_writer_adds_them() {
    let (_dir, root, _) = setup("missing");
    remove(&root, &["s6"]);
    std::fs::remove_file(root.join(RELEASE_LOG_FILE)).unwrap();
    let check = read_check(&root);
    assert!(!check.passed);
    assert!(
        check.detail.starts_with("2 ledger entries"),
        "{}",
        check.detail
    );
    let store = Store::open(&root, WRITE).unwrap();
    assert!(store.reconciled().is_empty());
    assert!(store.release_log_check().unwrap().passed);
    assert_eq!(read_release_log(&root).unwrap().len(), 2);
}

/// Review finding 2: train, back up, retrain in the same directory (`train --force`: a new
/// lineage), acknowledge the removal of s40, then restore the backup. Reconciliation looked
/// only at the restored lineage's records, so s40 came back silently and the check passed.
/// Now every writer refuses the store, naming both lineages and what to do, without writing
/// anything; the check fails; putting back the newer database (or retraining) ends it.
#[test]
fn a_restore_across_a_retrain_is_refused_until_the_newer_database_is_back() {
    let (_dir, root, backup) = setup("across-retrain");
    back_up(&root, &backup);
    let old_lineage = lineage_of(&root);
    retrain_in_place(&root);
    let mut engine = Deletions::open(Store::open(&root, WRITE).unwrap()).unwrap();
    let request = DeletionRequest {
        erasure: Erasure::Ids(vec!["s40".into()]),
        reference: Some("t1".into()),
    };
    let acknowledged = engine.delete(&request).unwrap().certificate;
    let new_lineage = engine.unlearner().ledger.entries[0].digest.clone();
    drop(engine);
    let newer = backup.join("newer");
    std::fs::create_dir_all(&newer).unwrap();
    back_up(&root, &newer);
    restore(&backup, &root);
    let log_before = std::fs::read(root.join(RELEASE_LOG_FILE)).unwrap();

    let found = match Store::open(&root, WRITE) {
        Err(StoreError::Superseded { path, found }) => {
            assert_eq!(path, root);
            found
        }
        other => panic!("a writer served the older database: {other:?}"),
    };
    assert_eq!(found.lineage, old_lineage);
    assert_eq!(found.last_step, Some(0));
    assert_eq!(found.newer_lineage, new_lineage);
    assert_eq!((found.newer_step, found.newer_records), (0, 2));
    assert_eq!(found.newer_removed_ids, acknowledged.removed_id_tags.len());
    let message = found.to_string();
    for needle in [
        &new_lineage[..12],
        &old_lineage[..12],
        DB_FILE,
        "train --force",
    ] {
        assert!(message.contains(needle), "{needle} not in: {message}");
    }
    assert_eq!(
        std::fs::read(root.join(RELEASE_LOG_FILE)).unwrap(),
        log_before,
        "a refused writer wrote to the log"
    );
    let check = read_check(&root);
    assert!(!check.passed, "{}", check.detail);
    assert_eq!(check.detail, message);

    // The newer database back: it continues, s40 still erased.
    restore(&newer, &root);
    let store = Store::open(&root, WRITE).unwrap();
    assert!(store.reconciled().is_empty());
    assert!(store.release_log_check().unwrap().passed);
    assert!(
        store
            .load()
            .unwrap()
            .model
            .secret
            .design()
            .position("s40")
            .is_none()
    );
    drop(store);
    // Or a retrain: a new lineage after every record.
    restore(&backup, &root);
    drop(
        Store::create(
            &root,
            &mut common::trained_synthetic(7),
            true,
            Duration::ZERO,
        )
        .unwrap(),
    );
    let store = Store::open(&root, WRITE).unwrap();
    assert!(store.reconciled().is_empty());
    assert!(store.release_log_check().unwrap().passed);
}

/// The legitimate retrains: a new lineage continues normally after a retrain in place (the
/// old lineage's records all come before it), and a retrain that reproduces the training
/// entry (same rows, same key) starts its lineage afresh. Before, the reproduced lineage
/// took the earlier run's removal of s1 for a branch a restore had lost and re-applied it.
#[test]
fn a_retrain_in_place_continues_and_a_reproduced_training_starts_afresh() {
    let (_dir, root, _) = setup("retrain");
    remove(&root, &["s1"]);
    retrain_in_place(&root);
    remove(&root, &["s2"]);
    let store = Store::open(&root, WRITE).unwrap();
    assert!(store.reconciled().is_empty());
    assert!(store.release_log_check().unwrap().passed);
    drop(store);

    let first = read_release_log(&root).unwrap();
    drop(
        Store::create(
            &root,
            &mut common::trained_synthetic(9),
            true,
            Duration::ZERO,
        )
        .unwrap(),
    );
    let again = read_release_log(&root).unwrap();
    assert_eq!(again.last(), first.first(), "the training entry repeats");
    let store = Store::open(&root, WRITE).unwrap();
    assert!(store.reconciled().is_empty(), "{:#?}", store.reconciled());
    let check = store.release_log_check().unwrap();
    assert!(check.passed, "{}", check.detail);
    let u = store.load().unwrap();
    assert!(u.model.secret.design().position("s1").is_some());
    assert_eq!(u.ledger.entries.len(), 1);
}

/// Appends raw lines to the store's release log, as a writer would.
fn append_lines(root: &Path, lines: &[String]) {
    let mut text = std::fs::read_to_string(root.join(RELEASE_LOG_FILE)).unwrap();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(root.join(RELEASE_LOG_FILE), text).unwrap();
}

/// Review finding 4, in the log: a record whose commit failed (here: the removal of s3
/// recorded, its database then put back as it was before) followed by its abandonment is
/// skipped — s3 stays, no release is charged, the check passes and counts it.
#[test]
fn an_abandoned_record_is_neither_applied_nor_charged() {
    let (_dir, root, backup) = setup("abandoned");
    back_up(&root, &backup);
    let failed = remove(&root, &["s3"]);
    restore(&backup, &root);
    append_lines(&root, &[format!("{{\"abandoned\":\"{}\"}}", failed.digest)]);
    assert_eq!(
        read_release_log(&root).unwrap().last(),
        Some(&LogLine::Abandoned(failed.digest.clone()))
    );

    let check = read_check(&root);
    assert!(check.passed, "{}", check.detail);
    assert!(check.detail.contains("1 abandoned"), "{}", check.detail);
    assert!(
        !check.detail.contains("not charged yet"),
        "{}",
        check.detail
    );
    let store = Store::open(&root, WRITE).unwrap();
    assert!(store.reconciled().is_empty(), "{:#?}", store.reconciled());
    let u = store.load().unwrap();
    assert!(u.model.secret.design().position("s3").is_some());
    assert_eq!(u.ledger.entries.len(), 1);
    drop(store);
    // The retry is served as the first removal: release 2, nothing else charged.
    let retried = remove(&root, &["s3"]);
    assert_eq!(retried.transcript.releases, 2);
}

/// An entry marked abandoned that nevertheless reached the database (SQLite reported the
/// commit failed, then recovered its frames): the last line about an entry decides, so the
/// check fails until a writer records the entry again, and then passes.
#[test]
fn an_abandoned_entry_that_committed_is_recorded_again() {
    let (_dir, root, _) = setup("revived");
    let committed = remove(&root, &["s4"]);
    append_lines(
        &root,
        &[format!("{{\"abandoned\":\"{}\"}}", committed.digest)],
    );
    let check = read_check(&root);
    assert!(!check.passed);
    assert!(check.detail.contains("abandoned"), "{}", check.detail);
    let store = Store::open(&root, WRITE).unwrap();
    assert!(store.reconciled().is_empty());
    assert!(store.release_log_check().unwrap().passed);
    match read_release_log(&root).unwrap().last() {
        Some(LogLine::Record(r)) => assert_eq!(r.entry, committed.digest),
        other => panic!("{other:?}"),
    }
}

/// Review 4, finding A1: a retrain whose training record was marked abandoned although its
/// commit reached the database. The earlier run's records come *before* the store's place in
/// the log (its abandon line), so they are not newer: the writer opens the store and records
/// the training entry again.
#[test]
fn a_retrain_whose_commit_was_reported_failed_but_recovered_is_not_refused() {
    let (_dir, root, _) = setup("review4-step0");
    remove(&root, &["s1"]); // the first training run has records
    retrain_in_place(&root); // train --force
    let retrained = lineage_of(&root);
    // SQLite reported the retrain's COMMIT as failed (a failed fsync) and the writer marked
    // its training entry abandoned; the WAL frames were recovered at the next open.
    append_lines(&root, &[format!("{{\"abandoned\":\"{retrained}\"}}")]);
    let store = Store::open(&root, WRITE)
        .expect("the newest database is refused as superseded by the run it replaced");
    assert!(store.release_log_check().unwrap().passed);
}

/// Review 4, finding A3: an abandonment appended later, away from its record (here after the
/// record of the next removal), would make writers skip a lost branch's release and removal.
/// It is not honoured: the check fails naming the line, and the writer charges the release
/// and re-applies the removal of s3 as for any lost branch.
#[test]
fn an_abandonment_away_from_its_record_is_not_honoured() {
    let (_dir, root, backup) = setup("stray-abandon");
    back_up(&root, &backup);
    let lost = remove(&root, &["s3"]);
    remove(&root, &["s4"]);
    restore(&backup, &root);
    append_lines(&root, &[format!("{{\"abandoned\":\"{}\"}}", lost.digest)]);

    let check = read_check(&root);
    assert!(!check.passed);
    assert!(
        check.detail.contains("line 4") && check.detail.contains("does not directly follow"),
        "{}",
        check.detail
    );
    let store = Store::open(&root, WRITE).unwrap();
    let reconciled = store.reconciled().to_vec();
    assert_eq!(reconciled[0].kind, EntryKind::Reconciliation);
    assert!(
        reconciled[0]
            .foreign_releases
            .iter()
            .any(|f| f.entry == lost.digest),
        "{reconciled:#?}"
    );
    let u = store.load().unwrap();
    assert!(u.model.secret.design().position("s3").is_none());
    assert!(u.model.secret.design().position("s4").is_none());
}
