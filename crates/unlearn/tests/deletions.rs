//! The deletion engine (`unlearn::deletions`): check → remove → persist → receipt, the
//! removed-id set, requesters' references, the publish policy, and what a failed write leaves.

mod common;

use std::path::Path;
use std::time::Duration;
use unlearn::data::Preprocessing;
use unlearn::deletions::{DeletionError, DeletionRequest, Deletions, ErrorKind, PublishTimer};
use unlearn::loss::LossKind;
use unlearn::model::{self, PublishPolicy, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::requests::Erasure;
use unlearn::store::{Access, REFS_JOURNAL_FILE, STORE_FORMAT_VERSION, Store, StoreError};
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::{RemovalError, Unlearner};
use unlearn::verify::verify;

/// A certified store of 300 synthetic rows (ids s0…s299) publishing every `every` requests;
/// its directory (removed when the guard drops).
fn store(name: &str, every: u64) -> common::Scratch {
    let dir = common::scratch(&format!("deletions-{name}"));
    let data = generate(&SyntheticSpec {
        rows: 300,
        features: 5,
        flip: 0.1,
        regression: false,
        seed: 3,
    });
    let input = TrainingData {
        data,
        preprocessing: Preprocessing::default(),
        target_column: "y".into(),
    };
    let hyper = common::certified(LossKind::Logistic, 1e-2, 0.05);
    let mut model = model::train(input, &hyper, NoiseKey::from_secret_bytes([5; 32])).unwrap();
    model.published.publish = PublishPolicy { every };
    Store::create(
        &dir,
        &mut Unlearner::from_trained(model),
        false,
        Duration::ZERO,
    )
    .unwrap();
    dir
}

/// The store at `dir`, open for writing (what the engine takes).
fn writable(dir: &Path) -> Store {
    Store::open(
        dir,
        Access::Write {
            wait: Duration::ZERO,
        },
    )
    .unwrap()
}

/// The store's last commit, read as `unlearn verify` reads it.
fn committed(dir: &Path) -> Unlearner {
    Store::open(dir, Access::Read).unwrap().load().unwrap()
}

/// Makes every ledger insert of the store at `dir` fail, behind the engine's back (a trigger
/// that aborts it: a write failure the engine must survive); drop the trigger `refuse` on
/// the returned connection to end it.
fn refuse_ledger_inserts(dir: &Path) -> rusqlite::Connection {
    let db = rusqlite::Connection::open(dir.join("unlearn.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON ledger BEGIN SELECT RAISE(ABORT, 'refused'); END;",
    )
    .unwrap();
    db
}

/// Whether the engine's rows still hold `id`.
fn holds(engine: &Deletions, id: &str) -> bool {
    engine
        .unlearner()
        .model
        .secret
        .design()
        .position(id)
        .is_some()
}

fn ids(ids: &[&str], reference: Option<&str>) -> DeletionRequest {
    DeletionRequest {
        erasure: Erasure::Ids(ids.iter().map(|s| s.to_string()).collect()),
        reference: reference.map(String::from),
    }
}

/// An id served before is "already removed" (409), an id never trained on is unknown
/// (404), a reused reference is refused, a subject is refused on a store without subjects;
/// none of these changes the ledger.
#[test]
fn refusals_are_classified_and_change_nothing() {
    let store = store("refusals", 1);
    let mut engine = Deletions::open(writable(&store)).unwrap();
    let first = engine.delete(&ids(&["s1", "s2"], Some("t-1"))).unwrap();
    assert_eq!(first.certificate.removed_id_tags.len(), 2);
    let entries = engine.unlearner().ledger.entries.len();
    let cases = [
        (
            ids(&["s3", "s2"], None),
            ErrorKind::Conflict,
            "already removed",
        ),
        (ids(&["nope"], None), ErrorKind::NotFound, "not among"),
        (ids(&["s4"], Some("t-1")), ErrorKind::Conflict, "t-1"),
        (
            ids(&["s4", "s4"], None),
            ErrorKind::Invalid,
            "more than once",
        ),
        (
            DeletionRequest {
                erasure: Erasure::Subject("alice".into()),
                reference: None,
            },
            ErrorKind::Invalid,
            "record no data subjects",
        ),
        (ids(&["s4"], Some("")), ErrorKind::Invalid, "empty"),
    ];
    for (request, kind, words) in cases {
        let e = engine.delete(&request).unwrap_err();
        assert_eq!(e.kind(), kind, "{request:?}: {e}");
        assert!(e.to_string().contains(words), "{e}");
    }
    assert!(matches!(
        engine.delete(&ids(&["s2"], None)),
        Err(DeletionError::AlreadyRemoved(id)) if id == "s2"
    ));
    assert_eq!(engine.unlearner().ledger.entries.len(), entries);
    assert!(verify(&committed(&store)).passed());
}

/// With a release every 3 requests, the first two receipts name the coming release and
/// say it is not out; the third publishes it, and from then on the earlier receipts (looked
/// up by ref or by ledger digest) say it is out. The published model seen by readers
/// changes exactly at the release.
#[test]
fn receipts_name_the_release_that_carries_them() {
    let store = store("policy", 3);
    let mut engine = Deletions::open(writable(&store)).unwrap();
    let reader = engine.reader();
    let digest0 = reader.model().digest.clone();
    let releases0 = reader.status().releases;
    let a = engine.delete(&ids(&["s10"], Some("a"))).unwrap().receipt;
    let b = engine.delete(&ids(&["s11"], None)).unwrap().receipt;
    for r in [&a, &b] {
        assert!(!r.published, "{r:?}");
        assert_eq!(r.release, releases0 + 1);
    }
    assert_eq!(reader.model().digest, digest0, "no release yet");
    assert_eq!(reader.status().pending, 2);
    let c = engine.delete(&ids(&["s12"], Some("c"))).unwrap().receipt;
    assert!(c.published);
    assert_eq!(c.release, releases0 + 1);
    assert_ne!(reader.model().digest, digest0);
    let a_now = reader.receipt("a").unwrap();
    assert!(a_now.published && a_now.release == releases0 + 1);
    assert_eq!(
        reader.receipt(&b.ledger_entry).unwrap().ledger_entry,
        b.ledger_entry
    );
    assert!(reader.receipt(&b.ledger_entry).unwrap().published);
    assert_eq!(reader.receipt("zzz"), None);
    // On demand: one more request, then publish() releases it.
    let d = engine.delete(&ids(&["s13"], Some("d"))).unwrap().receipt;
    assert!(!d.published);
    let release = engine.publish().unwrap().expect("one request pending");
    assert!(release.published);
    assert!(reader.receipt("d").unwrap().published);
    assert_eq!(engine.publish().unwrap(), None, "nothing pending");
}

/// The timer: with requests pending, a release is due `interval` after the latest one, and
/// `publish_if_due` makes it then (not before).
#[test]
fn the_timer_publishes_pending_requests_when_due() {
    let store = store("timer", 100);
    let mut engine = Deletions::open(writable(&store)).unwrap();
    let interval = std::time::Duration::from_secs(3600);
    engine.set_publish_timer(PublishTimer {
        interval: Some(interval),
    });
    assert_eq!(engine.next_release_due(), None, "nothing pending");
    let receipt = engine.delete(&ids(&["s20"], Some("x"))).unwrap().receipt;
    assert!(!receipt.published);
    let due = engine.next_release_due().expect("a request is pending");
    assert_eq!(engine.publish_if_due(due - interval / 2).unwrap(), None);
    assert!(engine.publish_if_due(due).unwrap().is_some());
    assert!(engine.reader().receipt("x").unwrap().published);
    assert_eq!(engine.next_release_due(), None);
}

/// References live in the store, committed with their entries: they survive a restart, a
/// retry with the same reference after the restart is "already removed" (idempotent), a new
/// request cannot reuse it, and no journal file is written beside the database.
#[test]
fn references_are_committed_with_their_entries_and_survive_a_restart() {
    let store = store("refs", 1);
    let mut engine = Deletions::open(writable(&store)).unwrap();
    let served = engine.delete(&ids(&["s30"], Some("kept"))).unwrap().receipt;
    drop(engine);
    assert!(!store.join(REFS_JOURNAL_FILE).exists());
    let read = Store::open(&store, Access::Read).unwrap();
    assert_eq!(
        read.refs().unwrap().get("kept"),
        Some(&served.ledger_entry),
        "the reference names its ledger entry"
    );
    let mut engine = Deletions::open(writable(&store)).unwrap();
    assert_eq!(engine.reader().receipt("kept").unwrap(), served);
    assert!(matches!(
        engine.delete(&ids(&["s30"], Some("kept"))),
        Err(DeletionError::AlreadyRemoved(_))
    ));
    assert!(matches!(
        engine.delete(&ids(&["s31"], Some("kept"))),
        Err(DeletionError::ReferenceInUse(_))
    ));
    assert!(verify(&committed(&store)).passed());
}

/// A store of format 3 kept its references in a journal beside the database: the first
/// writer adopts the lines whose entry is a committed removal — dropping one whose entry
/// never committed (a crash between the journal's sync and the transaction) and a line torn
/// by a crash —, raises the format to 4, and deletes the journal. Readers before that see no
/// references; `verify` passes before and after.
#[test]
fn a_format_3_store_adopts_its_references_journal() {
    let store = store("refs-migration", 1);
    let mut engine = Deletions::open(writable(&store)).unwrap();
    let served = engine.delete(&ids(&["s30"], Some("kept"))).unwrap().receipt;
    drop(engine);
    // Back to format 3: no refs table, the journal as format 3 wrote it.
    let db = rusqlite::Connection::open(store.join("unlearn.db")).unwrap();
    db.execute_batch("DROP TABLE refs; UPDATE meta SET value = '3' WHERE key = 'format_version';")
        .unwrap();
    drop(db);
    let training = committed(&store).ledger.entries[0].digest.clone();
    std::fs::write(
        store.join(REFS_JOURNAL_FILE),
        format!(
            "{{\"ref\":\"kept\",\"entry\":\"{}\"}}\n\
             {{\"ref\":\"dangling\",\"entry\":\"00ff\"}}\n\
             {{\"ref\":\"training\",\"entry\":\"{training}\"}}\n\
             {{\"ref\":\"torn\",\"en",
            served.ledger_entry
        ),
    )
    .unwrap();
    let read = Store::open(&store, Access::Read).unwrap();
    assert!(
        read.refs().unwrap().is_empty(),
        "format 3 has no refs table"
    );
    assert!(verify(&read.load().unwrap()).passed());
    drop(read);

    let mut engine = Deletions::open(writable(&store)).unwrap();
    let reader = engine.reader();
    assert_eq!(reader.receipt("kept").unwrap(), served);
    assert_eq!(reader.receipt("dangling"), None);
    assert!(!store.join(REFS_JOURNAL_FILE).exists(), "journal deleted");
    let refs = Store::open(&store, Access::Read).unwrap().refs().unwrap();
    assert_eq!(
        refs.len(),
        1,
        "only the committed removal's reference: {refs:?}"
    );
    let version: String = rusqlite::Connection::open(store.join("unlearn.db"))
        .unwrap()
        .query_row(
            "SELECT value FROM meta WHERE key = 'format_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, STORE_FORMAT_VERSION.to_string());
    // The removed set is rebuilt from the ledger: s30 is already removed.
    assert!(matches!(
        engine.delete(&ids(&["s30"], None)),
        Err(DeletionError::AlreadyRemoved(_))
    ));
    // A dropped reference is free again.
    assert!(engine.delete(&ids(&["s31"], Some("dangling"))).is_ok());
    assert!(verify(&committed(&store)).passed());
}

/// A write that fails leaves the engine on what the store holds: the request is refused as
/// unavailable, its rows are all still there and its reference was not recorded (reference
/// and entry are one transaction), and once the cause is gone the same request is served.
/// The failure: a trigger that aborts every ledger insert, added behind the engine's back.
#[test]
fn a_failed_write_is_not_acknowledged_and_leaves_the_store_as_it_was() {
    let store = store("failed-write", 1);
    let mut engine = Deletions::open(writable(&store)).unwrap();
    let rows = engine.unlearner().model.secret.n_rows();
    let db = refuse_ledger_inserts(&store);
    let e = engine.delete(&ids(&["s40"], Some("r"))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert_eq!(engine.unlearner().model.secret.n_rows(), rows);
    assert_eq!(committed(&store).model.secret.n_rows(), rows);
    assert_eq!(engine.reader().status().deletions, 0);
    assert_eq!(engine.reader().receipt("r"), None);
    let read = Store::open(&store, Access::Read).unwrap();
    assert!(
        read.refs().unwrap().is_empty(),
        "no reference without its entry"
    );
    db.execute_batch("DROP TRIGGER refuse;").unwrap();
    let receipt = engine.delete(&ids(&["s40"], Some("r"))).unwrap().receipt;
    assert_eq!(engine.reader().receipt("r").unwrap(), receipt);
    assert_eq!(read.refs().unwrap().get("r"), Some(&receipt.ledger_entry));
    assert!(verify(&committed(&store)).passed());
}

/// A request that shares an id (or a reference) with an earlier request of its group is not
/// told "already removed" (or "reference in use") when that earlier request was not
/// committed: with every ledger insert refused, A {s40, s41} is unavailable, and B {s41}
/// must not be answered as if s41 were gone — it is still in the rows, and a client that
/// takes 409 for "done" would never retry (review of the grouped engine, finding 1). Once
/// the cause is gone, the same group serves A and tells B truthfully that s41 is removed.
#[test]
fn a_request_that_waits_for_a_failed_one_in_its_group_is_not_told_already_removed() {
    let store = store("group-claimant-fails", 1);
    let mut engine = Deletions::open(writable(&store)).unwrap();
    let db = refuse_ledger_inserts(&store);
    let group = [ids(&["s40", "s41"], Some("a")), ids(&["s41"], Some("a"))];
    let outcomes = engine.delete_group(&group);
    assert!(holds(&engine, "s41"));
    for outcome in &outcomes {
        let e = outcome.as_ref().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    }
    db.execute_batch("DROP TRIGGER refuse;").unwrap();
    let outcomes = engine.delete_group(&group);
    assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
    assert!(
        matches!(outcomes[1], Err(DeletionError::AlreadyRemoved(_))),
        "{:?}",
        outcomes[1]
    );
    assert!(!holds(&engine, "s41"));
}

/// A ref shaped like a ledger-entry digest is refused: receipts are found by ref or by
/// digest, and every request of a group knows its entry's digest, so such a ref would let
/// one requester shadow the receipt the others look up by that digest (review finding 3).
#[test]
fn a_ref_shaped_like_a_ledger_digest_is_refused() {
    let store = store("digest-ref", 1);
    let mut engine = Deletions::open(writable(&store)).unwrap();
    let outcomes = engine.delete_group(&[ids(&["s60"], Some("a")), ids(&["s61"], Some("b"))]);
    let entry = outcomes[0].as_ref().unwrap().receipt.ledger_entry.clone();
    let e = engine.delete(&ids(&["s62"], Some(&entry))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid, "{e}");
    assert!(e.to_string().contains("digest"), "{e}");
    assert_eq!(engine.reader().receipt(&entry).unwrap().ledger_entry, entry);
    assert!(holds(&engine, "s62"));
}

/// `Store::commit_with_refs` refuses a reference that names no entry of the commit, and
/// writes nothing then (the unlearner's new entry is not committed either).
#[test]
fn a_reference_to_an_entry_the_commit_does_not_append_is_refused() {
    let dir = store("refs-diverged", 1);
    let mut handle = writable(&dir);
    let mut unlearner = handle.load().unwrap();
    let certificate = unlearner.remove(&["s50".to_string()]).unwrap();
    let training = unlearner.ledger.entries[0].digest.clone();
    let e = handle
        .commit_with_refs(&mut unlearner, &[("t", training.as_str())])
        .unwrap_err();
    assert!(matches!(e, StoreError::Diverged { .. }), "{e}");
    assert!(handle.refs().unwrap().is_empty());
    assert_eq!(committed(&dir).ledger.entries.len(), 1);
    handle
        .commit_with_refs(&mut unlearner, &[("t", certificate.digest.as_str())])
        .unwrap();
    assert_eq!(handle.refs().unwrap()["t"], certificate.digest);
}

/// Requests that arrive together are one step and one transaction: the ones that pass their
/// checks share one ledger entry (one certificate with all their ids' tags) and one release,
/// each with its own receipt and reference; each refused one fails alone — an unknown id, an
/// id an earlier request of the group removes, a reference an earlier request of the group
/// uses — and the group is committed as if served one by one (rows, refs, `verify`).
#[test]
fn a_group_is_one_step_and_each_request_fails_alone() {
    let store = store("group", 1);
    let mut engine = Deletions::open(writable(&store)).unwrap();
    let rows = engine.unlearner().model.secret.n_rows();
    let outcomes = engine.delete_group(&[
        ids(&["s1"], Some("a")),
        ids(&["s2", "s3"], Some("b")),
        ids(&["nope"], Some("c")),
        ids(&["s1"], Some("d")),
        ids(&["s4"], Some("a")),
        ids(&["s5"], None),
    ]);
    assert_eq!(outcomes.len(), 6);
    let kinds: Vec<Option<ErrorKind>> = outcomes
        .iter()
        .map(|o| o.as_ref().err().map(DeletionError::kind))
        .collect();
    assert_eq!(
        kinds,
        [
            None,
            None,
            Some(ErrorKind::NotFound),
            Some(ErrorKind::Conflict),
            Some(ErrorKind::Conflict),
            None
        ]
    );
    assert!(matches!(outcomes[3], Err(DeletionError::AlreadyRemoved(_))));
    assert!(matches!(outcomes[4], Err(DeletionError::ReferenceInUse(_))));
    let served: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    let entry = &served[0].receipt.ledger_entry;
    assert!(served.iter().all(|d| &d.receipt.ledger_entry == entry));
    assert_eq!(
        served
            .iter()
            .map(|d| d.receipt.reference.as_deref())
            .collect::<Vec<_>>(),
        [Some("a"), Some("b"), None]
    );
    assert_eq!(served[0].certificate.removed_id_tags.len(), 4);
    assert!(
        served
            .iter()
            .all(|d| d.receipt.published && d.receipt.release == 2)
    );
    let reader = engine.reader();
    assert_eq!(reader.status().deletions, 1, "one step for the group");
    assert_eq!(reader.status().releases, 2, "one release for the group");
    assert_eq!(reader.receipt("b").unwrap(), served[1].receipt);
    assert_eq!(reader.receipt("c"), None);
    // Looked up by the shared entry's digest, the receipt shows no requester's reference.
    assert_eq!(reader.receipt(entry).unwrap().reference, None);
    let committed = committed(&store);
    assert_eq!(committed.ledger.entries.len(), 2);
    assert_eq!(committed.model.secret.n_rows(), rows - 4);
    let refs = Store::open(&store, Access::Read).unwrap().refs().unwrap();
    assert_eq!(refs.len(), 2);
    assert!(refs.values().all(|e| e == entry));
    assert!(verify(&committed).passed());
    // The same after a restart (the view rebuilt from the store).
    drop(engine);
    let reader = Deletions::open(writable(&store)).unwrap().reader();
    assert_eq!(reader.receipt("a").unwrap(), served[0].receipt);
    assert_eq!(reader.receipt(entry).unwrap().reference, None);
}

/// The publish policy counts every request of a group: with a release every 3 requests, a
/// group of two publishes nothing (both pending, carried by the next release), and the next
/// request makes the release that carries all three.
#[test]
fn the_publish_policy_counts_each_request_of_a_group() {
    let store = store("group-policy", 3);
    let mut engine = Deletions::open(writable(&store)).unwrap();
    let outcomes = engine.delete_group(&[ids(&["s1"], Some("a")), ids(&["s2"], Some("b"))]);
    for outcome in &outcomes {
        let receipt = &outcome.as_ref().unwrap().receipt;
        assert!(!receipt.published);
        assert_eq!(receipt.release, 2);
    }
    assert_eq!(engine.reader().status().pending, 2);
    let third = engine.delete(&ids(&["s3"], Some("c"))).unwrap();
    assert!(third.certificate.published);
    assert_eq!(engine.reader().status().pending, 0);
    for reference in ["a", "b", "c"] {
        let receipt = engine.reader().receipt(reference).unwrap();
        assert!(receipt.published && receipt.release == 2, "{reference}");
    }
    assert!(verify(&committed(&store)).passed());
}

/// Empty requests are refused by the unlearner's own check, classified as invalid.
#[test]
fn an_empty_request_is_invalid() {
    let dir = store("empty", 1);
    let mut engine = Deletions::open(writable(&dir)).unwrap();
    let e = engine.delete(&ids(&[], None)).unwrap_err();
    assert!(matches!(e, DeletionError::Removal(RemovalError::Empty)));
    assert_eq!(e.kind(), ErrorKind::Invalid);
}
