//! `Unlearner::confirmed`: a request followed by a confirmation (Python's store-backed models
//! record the release in the store's log before they show it) is rolled back exactly when the
//! confirmation fails — the unlearner equal to what it was, and the same request afterwards
//! the same bits as on an unlearner that never tried it.

mod common;

use std::time::Duration;
use unlearn::rows::GivenRows;
use unlearn::store::{Access, Store, StoreError};
use unlearn::unlearner::{RemovalError, Unlearner};

/// Why a confirmed request failed, in these tests.
#[derive(Debug)]
enum Failure {
    Removal(RemovalError),
    Store(StoreError),
    Refused,
}

impl From<RemovalError> for Failure {
    fn from(e: RemovalError) -> Self {
        Failure::Removal(e)
    }
}

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// The training rows of these ids, as an external-rows removal is given them.
fn given(names: &[&str]) -> GivenRows {
    GivenRows {
        rows: common::rows_of(&common::synthetic_rows(), names),
        ids: ids(names),
        subjects: Vec::new(),
    }
}

#[test]
fn a_refused_confirmation_rolls_a_removal_back() {
    let mut unlearner = common::trained_synthetic(3);
    // A first removal (kept) so that the rolled-back one downdates caches and follows an
    // entry: the rollback must restore all of it.
    unlearner.remove(&ids(&["s1"])).unwrap();
    let before = unlearner.clone();
    let mut seen = None;
    let refused = unlearner.confirmed(
        |u| u.remove(&ids(&["s7", "s8"])),
        |changed: &Unlearner| {
            seen = Some((changed.ledger.entries.len(), changed.model.secret.n_rows()));
            Err(Failure::Refused)
        },
    );
    assert!(matches!(refused, Err(Failure::Refused)));
    assert_eq!(
        seen,
        Some((
            before.ledger.entries.len() + 1,
            before.model.secret.n_rows() - 2
        )),
        "the confirmation sees the changed unlearner"
    );
    assert_eq!(
        unlearner, before,
        "rolled back: rows, weights, noise, ledger, accounts"
    );
    // The same request now is the one the untouched unlearner makes, bit for bit (the
    // rollback dropped the caches: they are rebuilt from the rows, as after a load).
    let mut untouched = before.clone();
    untouched.caches.clear();
    let again = unlearner.remove(&ids(&["s7", "s8"])).unwrap();
    assert_eq!(again, untouched.remove(&ids(&["s7", "s8"])).unwrap());
    assert_eq!(unlearner, untouched);
}

#[test]
fn an_accepted_confirmation_keeps_the_request() {
    let mut unlearner = common::trained_synthetic(3);
    let mut plain = unlearner.clone();
    let confirmed = unlearner
        .confirmed(
            |u| u.remove(&ids(&["s2"])),
            |_: &Unlearner| Ok::<(), Failure>(()),
        )
        .unwrap();
    assert_eq!(confirmed, plain.remove(&ids(&["s2"])).unwrap());
    assert_eq!(unlearner, plain);
    // Nothing is held after the confirmation: a later failed confirmation rolls back only
    // its own request.
    let kept = unlearner.clone();
    assert!(
        unlearner
            .confirmed(
                |u| u.remove(&ids(&["s3"])),
                |_: &Unlearner| Err(Failure::Refused)
            )
            .is_err()
    );
    assert_eq!(unlearner, kept);
}

#[test]
fn a_failed_request_is_not_confirmed() {
    let mut unlearner = common::trained_synthetic(3);
    let before = unlearner.clone();
    let mut asked = false;
    let failed = unlearner.confirmed(
        |u| u.remove(&ids(&["no-such-row"])),
        |_: &Unlearner| {
            asked = true;
            Ok::<(), Failure>(())
        },
    );
    assert!(matches!(
        failed,
        Err(Failure::Removal(RemovalError::UnknownId(_)))
    ));
    assert!(!asked, "nothing to confirm");
    assert_eq!(unlearner, before);
}

#[test]
fn an_external_rows_removal_rolls_back_too() {
    let mut unlearner = common::trained_synthetic(4);
    unlearner.detach_rows().unwrap();
    let before = unlearner.clone();
    let refused = unlearner.confirmed(
        |u| u.remove_external(&given(&["s9"]), 1),
        |changed: &Unlearner| {
            assert_eq!(changed.model.secret.n_rows(), 199);
            Err(Failure::Refused)
        },
    );
    assert!(matches!(refused, Err(Failure::Refused)));
    assert_eq!(
        unlearner, before,
        "the row count, shape guard and accounts are back"
    );
}

/// The use it is for: record before showing, through a handle that cannot write (a
/// read-only handle stands for a store that refuses the append) — the removal is undone.
#[test]
fn a_release_that_cannot_be_recorded_is_not_kept() {
    let root = common::scratch("confirmed-record");
    let mut trained = common::trained_synthetic(5);
    drop(Store::create(&root, &mut trained, false, Duration::ZERO).unwrap());
    let mut read = Store::open(&root, Access::Read).unwrap();
    let mut unlearner = read.load().unwrap();
    let before = unlearner.clone();
    let refused = unlearner.confirmed(
        |u| u.remove(&ids(&["s11"])),
        |changed: &Unlearner| read.record_before_showing(changed).map_err(Failure::Store),
    );
    assert!(matches!(
        refused,
        Err(Failure::Store(StoreError::ReadOnly { .. }))
    ));
    assert_eq!(unlearner, before);

    let mut write = Store::open(
        &root,
        Access::Write {
            wait: Duration::ZERO,
        },
    )
    .unwrap();
    let shown = unlearner
        .confirmed(
            |u| u.remove(&ids(&["s11"])),
            |changed: &Unlearner| write.record_before_showing(changed).map_err(Failure::Store),
        )
        .unwrap();
    write.commit(&mut unlearner).unwrap();
    let committed = write.load().unwrap();
    assert_eq!(committed.ledger.last().unwrap().digest, shown.digest);
}
