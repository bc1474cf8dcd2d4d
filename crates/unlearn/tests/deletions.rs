//! The deletion engine (`unlearn::deletions`): check → remove → persist → receipt, the
//! removed-id set, requesters' references, the publish policy, and what a failed write leaves.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;
use unlearn::data::Preprocessing;
use unlearn::deletions::{
    DeletionError, DeletionRequest, Deletions, ErrorKind, PublishTimer, REFS_FILE,
};
use unlearn::loss::LossKind;
use unlearn::model::{self, PublishPolicy, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::requests::Erasure;
use unlearn::store::{Access, Store};
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::{RemovalError, Unlearner};
use unlearn::verify::verify;

/// A certified store of 300 synthetic rows (ids s0…s299) publishing every `every` requests;
/// its directory.
fn store(name: &str, every: u64) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("unlearn-deletions-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
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
    Store::create(&dir, &Unlearner::from_trained(model), false, Duration::ZERO).unwrap();
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

/// References survive a restart; one whose entry never reached the ledger (a crash between
/// the two writes) and a torn last line are dropped when the engine opens.
#[test]
fn references_survive_a_restart_and_dangling_ones_are_dropped() {
    let store = store("refs", 1);
    let mut engine = Deletions::open(writable(&store)).unwrap();
    let served = engine.delete(&ids(&["s30"], Some("kept"))).unwrap().receipt;
    drop(engine);
    let refs = store.join(REFS_FILE);
    let mut text = std::fs::read_to_string(&refs).unwrap();
    text.push_str("{\"ref\":\"dangling\",\"entry\":\"00ff\"}\n{\"ref\":\"torn\",\"en");
    std::fs::write(&refs, text).unwrap();
    let mut engine = Deletions::open(writable(&store)).unwrap();
    let reader = engine.reader();
    assert_eq!(reader.receipt("kept").unwrap(), served);
    assert_eq!(reader.receipt("dangling"), None);
    assert_eq!(std::fs::read_to_string(&refs).unwrap().lines().count(), 1);
    // The removed set is rebuilt from the ledger: s30 is already removed.
    assert!(matches!(
        engine.delete(&ids(&["s30"], None)),
        Err(DeletionError::AlreadyRemoved(_))
    ));
    // A dropped reference is free again.
    assert!(engine.delete(&ids(&["s31"], Some("dangling"))).is_ok());
}

/// A write that fails leaves the engine on what the store holds: the request is refused as
/// unavailable, the rows are all still there, and once the cause is gone the same request
/// is served.
#[test]
fn a_failed_write_is_not_acknowledged_and_leaves_the_store_as_it_was() {
    let store = store("failed-write", 1);
    let mut engine = Deletions::open(writable(&store)).unwrap();
    let rows = engine.unlearner().model.secret.design.n_rows();
    let refs = store.join(REFS_FILE);
    std::fs::create_dir(&refs).unwrap(); // appending to a directory fails
    let e = engine.delete(&ids(&["s40"], Some("r"))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert_eq!(engine.unlearner().model.secret.design.n_rows(), rows);
    assert_eq!(committed(&store).model.secret.design.n_rows(), rows);
    assert_eq!(engine.reader().status().deletions, 0);
    std::fs::remove_dir(&refs).unwrap();
    let receipt = engine.delete(&ids(&["s40"], Some("r"))).unwrap().receipt;
    assert_eq!(engine.reader().receipt("r").unwrap(), receipt);
    assert!(verify(&committed(&store)).passed());
}

/// Empty requests are refused by the unlearner's own check, classified as invalid.
#[test]
fn an_empty_request_is_invalid() {
    let mut engine = Deletions::open(writable(&store("empty", 1))).unwrap();
    let e = engine.delete(&ids(&[], None)).unwrap_err();
    assert!(matches!(e, DeletionError::Removal(RemovalError::Empty)));
    assert_eq!(e.kind(), ErrorKind::Invalid);
}
