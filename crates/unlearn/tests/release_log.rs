//! The release log (`releases.jsonl`): what observers and requesters were shown survives a
//! restore of the database, and the next writer charges it (proofs/transcript_accounting.md,
//! "Forked histories"). The store-level restore test that failed before the log existed is
//! `review_findings.rs::restoring_a_backup_keeps_the_charges_of_releases_already_published`;
//! the engine-level one is `the_deletion_engine_on_a_restored_store_counts_every_release`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;
use unlearn::certificate::EntryKind;
use unlearn::data::Preprocessing;
use unlearn::deletions::{DeletionRequest, Deletions};
use unlearn::loss::LossKind;
use unlearn::model::{self, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::requests::Erasure;
use unlearn::store::{
    Access, DB_FILE, LogRecord, MODEL_FILE, RELEASE_LOG_FILE, Store, StoreError, read_release_log,
};
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::transcript::Transcript;
use unlearn::unlearner::Unlearner;
use unlearn::verify::verify;

const WRITE: Access = Access::Write {
    wait: Duration::ZERO,
};

/// A scratch directory holding a certified store of 200 synthetic rows (ids s0…s199) at
/// `store/` and an empty `backup/`.
fn setup(name: &str) -> (PathBuf, PathBuf) {
    let dir =
        std::env::temp_dir().join(format!("unlearn-release-log-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("backup")).unwrap();
    let root = dir.join("store");
    drop(Store::create(&root, &trained(), false, Duration::ZERO).unwrap());
    (root, dir.join("backup"))
}

fn trained() -> Unlearner {
    let data = generate(&SyntheticSpec {
        rows: 200,
        features: 5,
        flip: 0.1,
        regression: false,
        seed: 41,
    });
    let input = TrainingData {
        data,
        preprocessing: Preprocessing::default(),
        target_column: "y".into(),
    };
    let hyper = common::certified(LossKind::Logistic, 1e-2, 0.05);
    Unlearner::from_trained(
        model::train(input, &hyper, NoiseKey::from_secret_bytes([9; 32])).unwrap(),
    )
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

/// Removes `ids` through a writer and commits; returns the certificate.
fn remove(root: &Path, ids: &[&str]) -> unlearn::certificate::Certificate {
    let mut store = Store::open(root, WRITE).unwrap();
    let mut u = store.load().unwrap();
    let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    let c = u.remove(&ids).unwrap();
    store.commit(&u).unwrap();
    c
}

/// One record per ledger entry, in order, with the entry's digest, release count and charge;
/// the file is owner-only and names no id (only keyed tags).
#[test]
fn the_log_records_every_entry_with_its_charge_and_no_id() {
    let (root, _) = setup("records");
    remove(&root, &["s1", "s7"]);
    remove(&root, &["s3"]);
    let u = Store::open(&root, Access::Read).unwrap().load().unwrap();
    let records = read_release_log(&root).unwrap();
    assert_eq!(records.len(), u.ledger.entries.len());
    for (record, entry) in records.iter().zip(&u.ledger.entries) {
        let expected = LogRecord {
            lineage: u.ledger.entries[0].digest.clone(),
            step: entry.step,
            entry: entry.digest.clone(),
            release: Some(entry.release),
            charge: entry.distance,
            weights: entry.digest_after.clone(),
            removed_id_tags: entry.removed_id_tags.clone(),
        };
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
    let check = Store::open(&root, Access::Read)
        .unwrap()
        .release_log_check()
        .unwrap();
    assert!(check.passed, "{}", check.detail);
}

/// A restored store: a reader is told the lost branch's release is not charged yet; the
/// first writer charges it (one reconciliation entry, then the lost removal re-applied) and
/// says so; a second writer does nothing more; and the store verifies.
#[test]
fn a_restored_store_is_reconciled_once_by_the_first_writer() {
    let (root, backup) = setup("once");
    back_up(&root, &backup);
    let lost = remove(&root, &["s5"]);
    restore(&backup, &root);

    let check = Store::open(&root, Access::Read)
        .unwrap()
        .release_log_check()
        .unwrap();
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
/// charge: over-charging, never under-charging. Records of another training run are ignored.
#[test]
fn a_record_outside_the_ledger_is_charged_and_another_lineage_ignored() {
    let (root, _) = setup("phantom");
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
    };
    let mut text = std::fs::read_to_string(root.join(RELEASE_LOG_FILE)).unwrap();
    for record in [
        phantom(&lineage, &"a".repeat(64), 0.0125),
        phantom(&"b".repeat(64), &"c".repeat(64), 0.5),
    ] {
        text.push_str(&serde_json::to_string(&record).unwrap());
        text.push('\n');
    }
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
    let (root, _) = setup("torn");
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
    let (root, backup) = setup("engine");
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
    let (root, _) = setup("missing");
    remove(&root, &["s6"]);
    std::fs::remove_file(root.join(RELEASE_LOG_FILE)).unwrap();
    let check = Store::open(&root, Access::Read)
        .unwrap()
        .release_log_check()
        .unwrap();
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
