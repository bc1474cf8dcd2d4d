//! External rows (issue 14, item 3): an unlearner that keeps no rows, given the removed
//! rows, against the held-rows unlearner removing the same rows; the "needs a full pass"
//! outcome and the refresh; the store round trip.

mod common;

use std::path::Path;
use std::time::Duration;
use unlearn::bounds::rounding_gamma;
use unlearn::certificate::Certificate;
use unlearn::data::{Dataset, Targets};
use unlearn::distributed::DistributedFit;
use unlearn::hessian_cache::CachesRecord;
use unlearn::loss::LossKind;
use unlearn::model::{self, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::partials::PartialSums;
use unlearn::requests::Erasure;
use unlearn::rows::{
    ADOPTED_DIGEST_EXTERNAL_ROWS_ASSUMPTIONS, EXTERNAL_ROWS_ASSUMPTIONS, GivenRows, RowSums,
    TrainingRows, UNDIGESTED_EXTERNAL_ROWS_ASSUMPTIONS,
};
use unlearn::store::{
    Access, DB_FILE, EXTERNAL_ROWS_FORMAT_VERSION, LogLine, MODEL_FILE, RELEASE_LOG_FILE, Store,
    StoreError, read_release_log,
};
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::{PassNeeded, RemovalError, Unlearner};
use unlearn::verify::verify;

/// The raw training rows: 400 seeded rows of 12 features (norm ≤ 1), binary targets, each
/// row of subject `p{i % 9}`.
fn rows() -> Dataset {
    let data = generate(&SyntheticSpec {
        rows: 400,
        features: 12,
        flip: 0.1,
        regression: false,
        seed: 11,
    });
    let owners = (0..400).map(|i| format!("p{}", i % 9)).collect();
    data.with_subjects(owners).unwrap()
}

/// A certified logistic model (output perturbation, lifetime budget 2) on [`rows`].
fn trained() -> Unlearner {
    let hyper = common::certified(LossKind::Logistic, 1e-3, 2.0);
    let input = TrainingData {
        data: rows(),
        preprocessing: Default::default(),
        target_column: "y".into(),
    };
    Unlearner::from_trained(model::train(input, &hyper, NoiseKey::from_seed(3)).unwrap())
}

/// A request for these ids and subjects, given the raw rows with these ids (in this order,
/// with their subject column) as a caller would fetch them from its table.
fn fetched(rows_of: &[&str], ids: &[&str], subjects: &[&str]) -> GivenRows {
    let all = rows();
    let owners = all.subjects().unwrap();
    let data = common::rows_of(&all, rows_of)
        .with_subjects(
            rows_of
                .iter()
                .map(|id| owners[all.position(id).unwrap()].clone())
                .collect(),
        )
        .unwrap();
    GivenRows {
        rows: data,
        ids: self::ids(ids),
        subjects: self::ids(subjects),
    }
}

/// A request for these ids (and subjects), given exactly their rows.
fn given(ids: &[&str], subjects: &[&str]) -> GivenRows {
    fetched(ids, ids, subjects)
}

/// The given rows without their subject column.
fn without_subject_column(mut request: GivenRows) -> GivenRows {
    request.rows = strip_subjects(&request.rows);
    request
}

/// The rows without their subject column.
fn strip_subjects(rows: &Dataset) -> Dataset {
    Dataset::new(
        rows.ids().to_vec(),
        rows.feature_names().to_vec(),
        rows.features().to_vec(),
        rows.targets().cloned(),
    )
    .unwrap()
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A held unlearner after one exact removal (which seeds its caches), and the same
/// unlearner over external rows.
fn pair() -> (Unlearner, Unlearner) {
    let mut held = trained();
    held.remove(&ids(&["s7"])).unwrap();
    let mut external = held.clone();
    external.detach_rows().unwrap();
    assert!(external.model.secret.rows.is_external());
    (held, external)
}

/// An external-rows certificate as the held unlearner would have written it: without the
/// external-rows assumptions (which it must list after the mechanism's), digest recomputed.
fn as_held(mut certificate: Certificate) -> Certificate {
    let listed = certificate.unproven_assumptions.len();
    let external = EXTERNAL_ROWS_ASSUMPTIONS.len();
    assert!(listed >= external);
    assert_eq!(
        certificate.unproven_assumptions[listed - external..],
        EXTERNAL_ROWS_ASSUMPTIONS.map(String::from)
    );
    certificate.unproven_assumptions.truncate(listed - external);
    certificate.digest = certificate.compute_digest();
    certificate
}

/// With the caches an exact step seeded, a removal over external rows takes the pass-free
/// step the held unlearner takes on the same rows — the same arithmetic in the same order
/// (the given rows subtracted from the caches in the order the held unlearner deletes them:
/// highest position first) — so the certificates are equal field for field, bits included:
/// for one row, and for a batch — but for the assumptions the external certificate adds
/// (and so its digest).
#[test]
fn a_pass_free_removal_over_external_rows_is_the_held_one_bit_for_bit() {
    let (mut held, mut external) = pair();
    let single = held.remove(&ids(&["s120"])).unwrap();
    let outside = external.remove_external(&given(&["s120"], &[]), 1).unwrap();
    assert!(
        single.bounds.cached_hessian.iter().all(|&c| c),
        "a pass-free step"
    );
    assert_eq!(single, as_held(outside));
    assert_eq!(held.model.published, external.model.published);

    let (mut held, mut external) = pair();
    // Positions 300 > 42 > 5 (no re-solve has reordered the rows).
    let batch = held.remove(&ids(&["s300", "s42", "s5"])).unwrap();
    let outside = external
        .remove_external(&given(&["s300", "s42", "s5"], &[]), 1)
        .unwrap();
    assert_eq!(batch, as_held(outside));
    assert_eq!(held.model.secret.weights, external.model.secret.weights);
    assert_eq!(external.model.secret.n_rows(), 400 - 4);
}

/// Over several removals the two take the same steps bit for bit: external removals queue
/// their rows in the caches' matrices as held ones do (Ĥ₀ up to 32 rows, the Gram matrix up
/// to its own count, the queued products' rounding charged), folded by the store's commit
/// rather than after every step — so the bounds and the secret weights stay equal request
/// after request, not just for the first (folding after every step, as external removals did
/// before, could move ‖Xv‖'s bound in its last bits, which this test then allowed for).
/// And each tracked bound is a bound: at the external weights, the exact
/// residual on the remaining rows (the held unlearner has them) is at least ‖fl(∇L)‖ − e,
/// with e the gradient's rounding bound, and that lower end never exceeds the tracked bound.
#[test]
fn tracked_bounds_over_external_rows_bound_the_exact_residual() {
    let (mut held, mut external) = pair();
    let hyper = held.model.published.hyperparameters.clone();
    for id in ["s120", "s9", "s333", "s71"] {
        let from_held = held.remove(&ids(&[id])).unwrap();
        let certificate = external.remove_external(&given(&[id], &[]), 1).unwrap();
        assert!(certificate.bounds.cached_hessian.iter().all(|&c| c));
        // The same step: the bounds and the secret weights bit for bit (the releases differ
        // from the second removal on: each entry's noise is keyed by the ledger, whose
        // external entries list the external assumptions).
        assert_eq!(from_held.bounds, certificate.bounds, "{id}");
        assert_eq!(
            held.model.secret.weights, external.model.secret.weights,
            "{id}"
        );
        let mut probe = held.clone();
        probe.model.secret.weights = external.model.secret.weights.clone();
        let secret = &probe.model.secret;
        let sums = RowSums::of_held(&hyper, secret);
        for (k, m) in sums.models.iter().enumerate() {
            // ‖∇L‖ ≥ ‖ĝ‖ − e, and the computed norm is at most (1 + γ_{d+2})‖ĝ‖.
            let d = m.gradient.len() as f64;
            let lower = m.gradient.norm() / (1.0 + rounding_gamma(d + 2.0)) - m.gradient_error;
            assert!(
                lower <= certificate.bounds.exact_residual[k],
                "{id}: exact residual ≥ {lower:e} above the tracked bound {:e}",
                certificate.bounds.exact_residual[k]
            );
        }
    }
}

/// A refused request (an id removed before, rows that do not fit, ids alone) leaves the
/// external unlearner exactly as it was, and names what is wrong.
#[test]
fn rows_that_cannot_be_the_training_rows_are_refused() {
    let (_, mut external) = pair();
    let before = external.clone();
    let refused = |u: &mut Unlearner, g: GivenRows| u.remove_external(&g, 1).unwrap_err();
    assert!(matches!(
        refused(&mut external, given(&["s7"], &[])),
        RemovalError::UnknownId(id) if id == "s7"
    ));
    let mut far = given(&["s8"], &[]);
    let width = far.rows.n_features();
    let scaled: Vec<f64> = far.rows.row(0).iter().map(|v| v * 100.0).collect();
    far.rows = Dataset::new(
        ids(&["s8"]),
        far.rows.feature_names().to_vec(),
        scaled,
        far.rows.targets().cloned(),
    )
    .unwrap();
    assert!(
        matches!(refused(&mut external, far), RemovalError::GivenRows(m) if m.contains("norm"))
    );
    let mut narrow = given(&["s8"], &[]);
    narrow.rows = Dataset::new(
        ids(&["s8"]),
        narrow.rows.feature_names()[..width - 1].to_vec(),
        narrow.rows.row(0)[..width - 1].to_vec(),
        narrow.rows.targets().cloned(),
    )
    .unwrap();
    assert!(
        matches!(refused(&mut external, narrow), RemovalError::GivenRows(m) if m.contains("columns"))
    );
    assert!(matches!(
        refused(&mut external, given(&["s8"], &["p4"])),
        RemovalError::GivenRows(m) if m.contains("p4")
    ));
    assert!(matches!(
        external.remove(&ids(&["s8"])).unwrap_err(),
        RemovalError::RowsMode(_)
    ));
    assert_eq!(external, before);
    assert_eq!(external.caches.record(), before.caches.record());
    let mut held = trained();
    assert!(matches!(
        held.remove_external(&given(&["s8"], &[]), 1).unwrap_err(),
        RemovalError::RowsMode(_)
    ));
}

/// Without a cache the step needs a pass: the outcome says so and nothing changed. The
/// refresh from sums over the remaining rows at re-solved weights then serves the request:
/// the weights are the re-solved ones bit for bit, the residual is the one the sums bound,
/// the subject is recorded as erased, and sums over the wrong rows are refused.
#[test]
fn a_request_that_needs_a_pass_is_finished_by_a_refresh() {
    let (held, mut external) = pair();
    external.caches.clear();
    let before = external.clone();
    let request = given(&["s13", "s22", "s31"], &["p4"]);
    assert!(matches!(
        external.remove_external(&request, 1).unwrap_err(),
        RemovalError::NeedsFullPass(PassNeeded::NoCache)
    ));
    assert_eq!(external, before);

    // The pass: the rows deleted from the table, a warm re-solve, sums at its weights.
    let hyper = held.model.published.hyperparameters.clone();
    let mut table = held.clone();
    table.remove(&ids(&["s13", "s22", "s31"])).unwrap();
    table.model.secret.solve(&hyper, true).unwrap();
    let secret = &table.model.secret;
    let sums = RowSums::of_held(&hyper, secret);

    let mut wrong = sums.clone();
    wrong.n_rows += 1;
    assert!(matches!(
        external.refresh_external(&request, 1, wrong).unwrap_err(),
        RemovalError::Sums(m) if m.contains("rows")
    ));
    let mut wrong = sums.clone();
    wrong.label_counts.swap(0, 1);
    assert!(matches!(
        external.refresh_external(&request, 1, wrong).unwrap_err(),
        RemovalError::Sums(m) if m.contains("label counts")
    ));
    // Review 6: a remaining row beyond the training rows' bound R (by a relative 10⁻⁹, far
    // more than the norm computation's rounding γ_{d+6} ≈ 2·10⁻¹⁵) is refused; R′ within
    // γ_{d+4} of R (what two computations of one row's norm can differ by) is not, and R
    // becomes the sums' R′, which bounds every remaining row.
    let stored = external.model.secret.row_norm_bound;
    let d = external.model.secret.n_features() as f64;
    let mut wrong = sums.clone();
    wrong.row_norm_bound = stored * (1.0 + 1e-9);
    assert!(matches!(
        external.refresh_external(&request, 1, wrong).unwrap_err(),
        RemovalError::Sums(m) if m.contains("row-norm bound") && m.contains(&format!("{stored:.6e}"))
    ));
    assert_eq!(external, before);
    let mut rounded = sums.clone();
    rounded.row_norm_bound = stored * (1.0 + rounding_gamma(d + 4.0));
    let mut edge = external.clone();
    edge.refresh_external(&request, 1, rounded.clone()).unwrap();
    assert_eq!(edge.model.secret.row_norm_bound, rounded.row_norm_bound);

    let certificate = external.refresh_external(&request, 1, sums).unwrap();
    assert_eq!(external.model.secret.weights, table.model.secret.weights);
    assert_eq!(
        certificate.bounds.exact_residual,
        table.model.secret.residual_bounds(&hyper)
    );
    assert_eq!(certificate.rows_after, 400 - 4);
    assert_eq!(certificate.removed_id_tags.len(), 3);
    assert_eq!(
        certificate.erased_subject_tags,
        vec![external.model.secret.key.subject_tag("p4")]
    );
    // Published; not certified only because these tests draw the key from a seed.
    assert!(certificate.published);
    assert!(
        certificate
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("--seed"))
    );
    // The caches are back: the next removal is pass-free, and the erased subject is refused.
    let next = external.remove_external(&given(&["s50"], &[]), 1).unwrap();
    assert!(next.bounds.cached_hessian.iter().all(|&c| c));
    assert!(matches!(
        external
            .remove_external(&given(&["s58"], &["p4"]), 1)
            .unwrap_err(),
        RemovalError::SubjectAlreadyRemoved(_)
    ));
    assert!(unlearn::verify::verify(&external).passed());
}

/// A fresh empty directory for one test's store, removed when the guard drops.
fn scratch(name: &str) -> common::Scratch {
    common::scratch(&format!("external-{name}"))
}

/// An external-rows store holds no row, keeps the caches, and continues bit for bit: a
/// removal after a load certifies exactly what the same removal in memory certifies; the
/// store is of the external-rows format, passes its integrity checks and `verify`.
#[test]
fn an_external_store_round_trips_and_continues_bit_for_bit() {
    let (_, mut external) = pair();
    external.remove_external(&given(&["s2"], &[]), 1).unwrap();
    let dir = scratch("round-trip");
    let write = Access::Write {
        wait: Duration::ZERO,
    };
    drop(Store::create(&dir, &mut external, false, Duration::ZERO).unwrap());
    let mut store = Store::open(&dir, write).unwrap();
    let mut loaded = store.load().unwrap();
    assert_eq!(loaded, external);
    assert_eq!(loaded.caches.record(), external.caches.record());
    let in_memory = external.remove_external(&given(&["s99"], &[]), 1).unwrap();
    let after_load = loaded.remove_external(&given(&["s99"], &[]), 1).unwrap();
    assert_eq!(in_memory, after_load);
    store.commit(&mut loaded).unwrap();
    drop(store);

    let reader = Store::open(&dir, Access::Read).unwrap();
    assert!(reader.integrity().unwrap().iter().all(|c| c.passed));
    let reloaded = reader.load().unwrap();
    assert_eq!(reloaded, external);
    assert_eq!(reloaded.model.secret.n_rows(), 400 - 3);
    assert!(unlearn::verify::verify(&reloaded).passed());
    let db = rusqlite::Connection::open(dir.join(unlearn::store::DB_FILE)).unwrap();
    let held_rows: i64 = db
        .query_row("SELECT count(*) FROM rows", [], |r| r.get(0))
        .unwrap();
    let format: String = db
        .query_row(
            "SELECT value FROM meta WHERE key = 'format_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(held_rows, 0);
    assert_eq!(format, EXTERNAL_ROWS_FORMAT_VERSION.to_string());
}

/// External-rows removals leave their rows queued in the caches (which then cannot be
/// recorded), and the store's commit folds them before writing: the caches the state row
/// holds after the commit are the folded caches — the same values as an independent fold of
/// a copy taken before the commit — and the unlearner continues with exactly them; none of
/// the removed rows' feature values appears anywhere in the state row.
#[test]
fn a_commit_writes_the_caches_folded_and_no_removed_row() {
    let (_, mut external) = pair();
    let dir = scratch("fold-at-commit");
    let mut store = Store::create(&dir, &mut external, false, Duration::ZERO).unwrap();
    let removed = ["s2", "s99", "s150"];
    for id in removed {
        external.remove_external(&given(&[id], &[]), 1).unwrap();
    }
    assert_eq!(
        external.caches.record(),
        None,
        "the removed rows wait in the caches' queues until the commit"
    );
    let mut copy = external.clone();
    copy.fold_queued_rows();
    let folded = copy.caches.record().expect("nothing queued after a fold");
    store.commit(&mut external).unwrap();
    drop(store);

    let db = rusqlite::Connection::open(dir.join(unlearn::store::DB_FILE)).unwrap();
    let (secret, blob): (String, Vec<u8>) = db
        .query_row(
            "SELECT secret, (SELECT blob FROM caches) FROM state",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let dim = external.model.secret.n_features();
    assert_eq!(
        blob,
        folded.to_bytes(dim),
        "the caches written are the folded ones"
    );
    assert_eq!(CachesRecord::from_bytes(&blob, dim).unwrap(), folded);
    assert_eq!(external.caches.record(), Some(folded));
    // Every removed row's feature values (seeded floats with many digits, so a match by
    // chance is out of the question): neither their 8 bytes in the blob nor their text in
    // the state's JSON.
    for id in removed {
        let request = given(&[id], &[]);
        for value in request.rows.row(0) {
            let text = serde_json::to_string(value).unwrap();
            assert!(text.len() > 8, "{id}: {text} is too short to search for");
            assert!(
                !secret.contains(&text),
                "{id}'s value {text} is in the state row"
            );
            let bytes = value.to_le_bytes();
            assert!(
                !blob.windows(8).any(|w| w == bytes),
                "{id}'s value {text} is in the caches blob"
            );
        }
    }
    let reloaded = Store::open(&dir, Access::Read).unwrap().load().unwrap();
    assert_eq!(reloaded, external);
    assert_eq!(reloaded.caches.record(), external.caches.record());
}

/// SHA-256 (hex) of the state row's two JSON texts as the store checksums them: a domain
/// label, then each text length-prefixed (store/codec.rs, `state_checksum`) — what a
/// format-5 store's writer wrote, re-derived here to make one.
fn state_checksum(secret: &str, published: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"unlearn/store-state/v1");
    for part in [secret, published] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    unlearn::certificate::hex(&h.finalize())
}

/// Format 6 keeps the caches as a blob of little-endian f64 in the `caches` table, bound by
/// its SHA-256 in the state row (whose JSON no longer holds a matrix); a format-5 store (the
/// caches in the state row's JSON, no `caches` table) still opens, loads the same caches and
/// continues bit for bit, and its next commit migrates it to format 6. A blob changed by
/// one bit fails the integrity check and is not loaded.
#[test]
fn a_format_5_store_opens_and_its_next_commit_writes_format_6() {
    let (_, mut external) = pair();
    let dir = scratch("format-5");
    drop(Store::create(&dir, &mut external, false, Duration::ZERO).unwrap());
    let db_path = dir.join(unlearn::store::DB_FILE);
    let db = rusqlite::Connection::open(&db_path).unwrap();
    let read_secret = |db: &rusqlite::Connection| -> (String, String) {
        db.query_row("SELECT secret, published FROM state", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap()
    };
    let (secret, published) = read_secret(&db);
    let state: serde_json::Value = serde_json::from_str(&secret).unwrap();
    assert!(
        state["external"].get("caches").is_none(),
        "no matrix in the JSON"
    );
    assert_eq!(
        state["external"]["caches_digest"].as_str().unwrap().len(),
        64
    );

    // The same store as format 5 wrote it.
    let mut state = state;
    let record = serde_json::to_value(external.caches.record().unwrap()).unwrap();
    let fields = state["external"].as_object_mut().unwrap();
    fields.remove("caches_digest");
    fields.insert("caches".into(), record);
    let old_secret = serde_json::to_string(&state).unwrap();
    db.execute_batch(
        "DROP TABLE caches; UPDATE meta SET value = '5' WHERE key = 'format_version';",
    )
    .unwrap();
    db.execute(
        "UPDATE state SET secret = ?1, checksum = ?2",
        rusqlite::params![old_secret, state_checksum(&old_secret, &published)],
    )
    .unwrap();
    drop(db);

    let reader = Store::open(&dir, Access::Read).unwrap();
    assert!(reader.integrity().unwrap().iter().all(|c| c.passed));
    let old = reader.load().unwrap();
    drop(reader);
    assert_eq!(old, external);
    assert_eq!(old.caches.record(), external.caches.record());

    let write = Access::Write {
        wait: Duration::ZERO,
    };
    let mut store = Store::open(&dir, write).unwrap();
    let mut loaded = store.load().unwrap();
    let in_memory = external.remove_external(&given(&["s99"], &[]), 1).unwrap();
    assert_eq!(
        loaded.remove_external(&given(&["s99"], &[]), 1).unwrap(),
        in_memory
    );
    store.commit(&mut loaded).unwrap();
    drop(store);
    let db = rusqlite::Connection::open(&db_path).unwrap();
    let format: String = db
        .query_row(
            "SELECT value FROM meta WHERE key = 'format_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(format, EXTERNAL_ROWS_FORMAT_VERSION.to_string());
    assert_eq!(EXTERNAL_ROWS_FORMAT_VERSION, 6);
    let (secret, _) = read_secret(&db);
    assert!(
        !secret.contains("\"hessian\""),
        "the matrices left the JSON"
    );
    let reloaded = Store::open(&dir, Access::Read).unwrap().load().unwrap();
    external.fold_queued_rows();
    assert_eq!(reloaded, external);
    assert_eq!(reloaded.caches.record(), external.caches.record());

    // One bit of the blob flipped: the state no longer vouches for it.
    let mut blob: Vec<u8> = db
        .query_row("SELECT blob FROM caches", [], |r| r.get(0))
        .unwrap();
    let middle = blob.len() / 2;
    blob[middle] ^= 1;
    db.execute("UPDATE caches SET blob = ?1", rusqlite::params![blob])
        .unwrap();
    drop(db);
    let reader = Store::open(&dir, Access::Read).unwrap();
    let checks = reader.integrity().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| !c.passed && c.detail.contains("caches blob")),
        "{checks:?}"
    );
    assert!(reader.load().is_err());
}

/// The contract with the distributed fit (issue 14): a fit driven over two partitions'
/// partial sums hands its output to `Unlearner::from_distributed`, and that unlearner
/// removes rows like the in-process one. Both secret weights are within r/Λ′ of the one
/// exact minimiser on the remaining rows (r: each certificate's residual bound; L is
/// Λ′-strongly convex), so they are within the sum of the two of each other.
#[test]
fn an_unlearner_from_a_distributed_fit_removes_like_the_in_process_one() {
    let mut held = trained();
    let hyper = held.model.published.hyperparameters.clone();
    let spec = unlearn::unlearner::batch_spec(&held.model.published);
    let design = held.model.secret.design();
    let targets = &held.model.secret.targets().values;
    let (d, half) = (spec.dim(), design.n_rows() / 2);
    let mut fit = DistributedFit::new(spec.clone(), hyper).unwrap();
    loop {
        let query = fit.query();
        let (first, second) = design.features().split_at(half * d);
        let mut total = PartialSums::of_rows(&spec, &query, second, &targets[half..]);
        total
            .merge(&PartialSums::of_rows(
                &spec,
                &query,
                first,
                &targets[..half],
            ))
            .unwrap();
        if fit.absorb(&total).unwrap() {
            break;
        }
    }
    let output = fit.finish().unwrap();
    let declared = held.model.published.declared;
    let mut external =
        Unlearner::from_distributed(output, declared, true, NoiseKey::from_seed(3)).unwrap();
    assert_eq!(external.model.secret.n_rows(), 400);
    assert_eq!(
        external.model.published.feature_names,
        held.model.published.feature_names
    );

    let ours = external
        .remove_external(&given(&["s120", "s4"], &[]), 1)
        .unwrap();
    let theirs = held.remove(&ids(&["s120", "s4"])).unwrap();
    assert!(ours.bounds.cached_hessian.iter().all(|&c| c) && ours.published);
    assert_eq!(ours.rows_after, theirs.rows_after);
    let distance = (&external.model.secret.weights[0] - &held.model.secret.weights[0]).norm();
    let bound =
        (ours.bounds.exact_residual[0] + theirs.bounds.exact_residual[0]) / ours.effective_lambda;
    assert!(distance <= bound, "{distance:e} > {bound:e}");
    assert!(unlearn::verify::verify(&external).passed());
}

/// Review 4, finding B2: a refresh that fails after its checks (RefreshOverBudget) changes
/// nothing — in particular not the row-norm bound R, which the refresh lowers to the sums' R
/// before the budget check: the removed rows are back, so R must still bound them, and a
/// retry of the same request must not be refused for a row norm above a lowered R.
#[test]
fn review4_a_refresh_over_budget_changes_nothing() {
    let (held, mut external) = pair();
    external.caches.clear();
    let request = given(&["s13", "s22", "s31"], &[]);
    assert!(matches!(
        external.remove_external(&request, 1).unwrap_err(),
        RemovalError::NeedsFullPass(_)
    ));
    let before = external.clone();
    let hyper = held.model.published.hyperparameters.clone();
    let mut table = held.clone();
    table.remove(&ids(&["s13", "s22", "s31"])).unwrap();
    let mut sums = RowSums::of_held(&hyper, &table.model.secret);
    // Weights far from the optimum (a re-solve that stopped early): a large residual.
    for m in &mut sums.models {
        m.gradient *= 1e6;
    }
    sums.row_norm_bound *= 0.5;
    assert!(matches!(
        external.refresh_external(&request, 1, sums).unwrap_err(),
        RemovalError::RefreshOverBudget { .. }
    ));
    assert_eq!(
        external.model.secret.row_norm_bound, before.model.secret.row_norm_bound,
        "R was lowered by a refresh that failed"
    );
    assert_eq!(external, before);
    // The retry is checked against the R of the training rows, as the first attempt was.
    assert!(matches!(
        external.remove_external(&request, 1).unwrap_err(),
        RemovalError::NeedsFullPass(_)
    ));
}

/// Review 4, finding B4: the given rows must be exactly the rows the request names — the
/// requested ids' rows and rows of the subjects it erases, which need the subject column —
/// else the request is refused naming the row, id or column, before the transaction: the
/// unlearner and its in-memory caches are as they were.
#[test]
fn review4_given_rows_must_be_exactly_the_requested_rows() {
    let (mut table, mut external) = pair();
    let before = external.clone();
    let refused = |u: &mut Unlearner, g: GivenRows| u.remove_external(&g, 1).unwrap_err();
    let message = |e: RemovalError| match e {
        RemovalError::GivenRows(m) => m,
        other => panic!("not a given-rows refusal: {other}"),
    };
    // A row nobody asked for (s9) would be removed silently.
    let extra = message(refused(&mut external, fetched(&["s8", "s9"], &["s8"], &[])));
    assert!(
        extra.contains("'s9'") && extra.contains("neither"),
        "{extra}"
    );
    // A requested id whose row is missing.
    let missing = message(refused(
        &mut external,
        fetched(&["s8"], &["s8", "s10"], &[]),
    ));
    assert!(missing.contains("'s10'"), "{missing}");
    // Subject p4 erased from a file that also holds p5's row s14: p4 recorded erased, p5's
    // row removed (`remove --subject alice --rows bob.csv`).
    let other = message(refused(
        &mut external,
        fetched(&["s13", "s14"], &[], &["p4"]),
    ));
    assert!(other.contains("'s14'") && other.contains("p5"), "{other}");
    // A subject erasure whose rows carry no subject column cannot be checked.
    let blind = without_subject_column(fetched(&["s13", "s22"], &[], &["p4"]));
    let blind = message(refused(&mut external, blind));
    assert!(
        blind.contains("subject column") && blind.contains("p4"),
        "{blind}"
    );
    assert!(matches!(
        refused(&mut external, fetched(&["s8"], &["s8", "s8"], &[])),
        RemovalError::DuplicateId(id) if id == "s8"
    ));
    assert_eq!(external, before);
    assert_eq!(external.caches.record(), before.caches.record());

    // The subject's rows alone (no ids), carrying its subject: served, the subject erased.
    let p4: Vec<String> = (0..400)
        .filter(|i| i % 9 == 4 && *i != 7)
        .map(|i| format!("s{i}"))
        .collect();
    let p4: Vec<&str> = p4.iter().map(String::as_str).collect();
    // 44 rows: the tracked bound needs the residual measured, so the pass, then the refresh
    // (whose sums count exactly the rows the subject's removal leaves).
    let request = fetched(&p4, &[], &["p4"]);
    assert!(matches!(
        external.remove_external(&request, 1).unwrap_err(),
        RemovalError::NeedsFullPass(_)
    ));
    let hyper = table.model.published.hyperparameters.clone();
    table.remove(&ids(&p4)).unwrap();
    table.model.secret.solve(&hyper, true).unwrap();
    let sums = RowSums::of_held(&hyper, &table.model.secret);
    let certificate = external.refresh_external(&request, 1, sums).unwrap();
    assert_eq!(certificate.removed_id_tags.len(), p4.len());
    assert_eq!(
        certificate.erased_subject_tags,
        vec![external.model.secret.key.subject_tag("p4")]
    );
    assert_eq!(external.model.secret.n_rows(), 399 - p4.len());
}

/// Review 4, finding B3: every certificate over external rows — the training certificate
/// from sums, a removal's — lists what external rows assume besides the mechanism's
/// assumptions; a held-rows certificate lists only the mechanism's.
#[test]
fn review4_external_certificates_state_the_external_rows_assumptions() {
    let external_lists = |c: &Certificate| {
        EXTERNAL_ROWS_ASSUMPTIONS
            .iter()
            .all(|a| c.unproven_assumptions.iter().any(|u| u == a))
    };
    let (mut held, mut external) = pair();
    let mechanism = held.model.published.hyperparameters.mechanism;
    let only_mechanism: Vec<String> = mechanism
        .unproven_assumptions()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let removal = external.remove_external(&given(&["s120"], &[]), 1).unwrap();
    assert!(
        external_lists(&removal),
        "{:?}",
        removal.unproven_assumptions
    );
    let held_removal = held.remove(&ids(&["s120"])).unwrap();
    assert_eq!(held_removal.unproven_assumptions, only_mechanism);
    assert!(
        held.ledger
            .entries
            .iter()
            .all(|c| c.unproven_assumptions == only_mechanism)
    );

    let hyper = held.model.published.hyperparameters.clone();
    let sums = RowSums::of_held(&hyper, &trained().model.secret);
    let training = unlearn::unlearner::ExternalTraining {
        hyperparameters: hyper,
        feature_names: held.model.published.feature_names.clone(),
        preprocessing: held.model.published.preprocessing.clone(),
        target_column: held.model.published.target_column.clone(),
        encoding: held.model.published.target.clone(),
        declared: held.model.published.declared,
        subjects: true,
        training: held.model.secret.training.clone(),
    };
    let seeded = Unlearner::from_sums(training, sums, NoiseKey::from_seed(3)).unwrap();
    let first = &seeded.ledger.entries[0];
    assert!(external_lists(first), "{:?}", first.unproven_assumptions);
    assert!(first.unproven_assumptions[..only_mechanism.len()] == only_mechanism[..]);
}

/// Review 4, finding B1: an external-rows store restored from a backup taken before an
/// acknowledged, unpublished removal. Its `rows` table is empty, so the other branch's
/// removal must be found missing from the ledger (not from the rows). The store cannot
/// re-apply it without the rows, so (review 6, finding 3) it opens but refuses every commit
/// that does not apply it, and a new removal of the same rows settles it: it never commits
/// anything with the removal dropped, and it is never refused for ever.
#[test]
fn a_restored_external_store_refuses_rather_than_drop_an_acknowledged_removal() {
    let (_, mut external) = pair();
    // A publish policy: requests are served (committed, acknowledged) but not released at once.
    external.model.published.publish = unlearn::model::PublishPolicy { every: 10 };
    let (dir, backup) = backed_up(&mut external, "review4-restore");
    // An acknowledged removal of s2, committed, not published.
    let mut store = Store::open(&dir, WRITE).unwrap();
    let mut loaded = store.load().unwrap();
    let certificate = loaded.remove_external(&given(&["s2"], &[]), 1).unwrap();
    assert!(!certificate.published, "the policy defers the release");
    store.commit(&mut loaded).unwrap();
    drop(store);
    let tag = certificate.removed_id_tags[0].clone();
    restore(&backup, &dir);
    // The next writer opens, but commits nothing that drops the removal of s2 ...
    let mut store = Store::open(&dir, WRITE).expect("the store opens");
    let mut restored = store.load().unwrap();
    let other = restored.remove_external(&given(&["s3"], &[]), 1).unwrap();
    match store.commit(&mut restored) {
        Err(e) => assert!(
            e.to_string()
                .contains("cannot re-apply that removal itself"),
            "the refusal names the cause and the remedy: {e}"
        ),
        Ok(()) => panic!(
            "the removal of s3 ({}) committed with the acknowledged removal of s2 dropped",
            other.step
        ),
    }
    // ... until the same rows are removed again: then it commits.
    let mut redone = store.load().unwrap();
    let again = redone.remove_external(&given(&["s2"], &[]), 1).unwrap();
    assert!(
        again.removed_id_tags.contains(&tag),
        "the same id, the same keyed tag"
    );
    store
        .commit(&mut redone)
        .expect("a removal of the lost rows settles the store");
    drop(store);
    let settled = Store::open(&dir, WRITE).unwrap();
    let check = settled.release_log_check().unwrap();
    assert!(check.passed, "{}", check.detail);
    assert!(
        !check.detail.contains("not applied yet"),
        "{}",
        check.detail
    );
}

/// How the restore tests open a store for writing (no waiting for the lock).
const WRITE: Access = Access::Write {
    wait: Duration::ZERO,
};

/// A new store of `model` in a scratch directory named `name`, and its backup as an
/// operator takes it (`unlearn.db` and `model.json`, the store closed) in `name-backup`:
/// their guards.
fn backed_up(model: &mut Unlearner, name: &str) -> (common::Scratch, common::Scratch) {
    let dir = scratch(name);
    drop(Store::create(&dir, model, false, Duration::ZERO).unwrap());
    let backup = scratch(&format!("{name}-backup"));
    std::fs::create_dir_all(&backup).unwrap();
    for f in [DB_FILE, MODEL_FILE] {
        std::fs::copy(dir.join(f), backup.join(f)).unwrap();
    }
    (dir, backup)
}

/// Puts the backup back as the README says: only `unlearn.db` and `model.json`, no WAL; the
/// release log stays.
fn restore(backup: &Path, dir: &Path) {
    for f in ["unlearn.db-wal", "unlearn.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    for f in [DB_FILE, MODEL_FILE] {
        std::fs::copy(backup.join(f), dir.join(f)).unwrap();
    }
}

/// Review 8, finding 2: a restore that loses a subject erasure of an external-rows store
/// keeps the subject erased. The erasure's release-log record carries the subject's keyed
/// tag (never the subject), and the next writer records the erasure again (one
/// reconciliation entry), so the restored store refuses a refresh over a table that still
/// holds one of the subject's rows under an id no request named. Before the record carried
/// the tag, the restored ledger forgot the subject and the refresh was accepted.
///
/// Review 10, finding 6: that erasure is pending, not done — its rows are still in the
/// model until they are removed again, which the writer demands (it cannot re-apply the
/// removal without the rows). A request naming the subject again is therefore not answered
/// "already removed" (it was, before: a requester told "done" while the rows were in the
/// model); the store refuses to record it unless it removes the lost rows; a removal of the
/// lost rows that does not erase the subject again is refused too; the one that does settles
/// the store, and only then is the subject "already removed".
#[test]
fn a_restored_external_store_keeps_a_lost_subject_erasure() {
    let (_, mut external) = pair();
    let (dir, backup) = backed_up(&mut external, "restore-subject");
    // p5 erased (its row s14 given), committed, acknowledged.
    let mut store = Store::open(&dir, WRITE).unwrap();
    let mut loaded = store.load().unwrap();
    let erasure = loaded
        .remove_external(&given(&["s14"], &["p5"]), 1)
        .unwrap();
    store.commit(&mut loaded).unwrap();
    drop(store);
    let p5 = loaded.model.secret.key.subject_tag("p5");
    assert_eq!(erasure.erased_subject_tags, vec![p5.clone()]);
    let recorded = read_release_log(&dir)
        .unwrap()
        .into_iter()
        .find_map(|line| match line {
            LogLine::Record(r) if r.entry == erasure.digest => Some(r),
            _ => None,
        })
        .expect("the erasure is recorded");
    assert_eq!(recorded.erased_subject_tags, vec![p5.clone()]);
    let log = std::fs::read_to_string(dir.join(RELEASE_LOG_FILE)).unwrap();
    assert!(!log.contains("\"p5\""), "the log names the subject");

    restore(&backup, &dir);
    let pending = Store::open(&dir, Access::Read)
        .unwrap()
        .release_log_check()
        .unwrap();
    assert!(
        pending
            .detail
            .contains("1 data subject(s) erased outside this ledger"),
        "{}",
        pending.detail
    );
    let mut store = Store::open(&dir, WRITE).unwrap();
    let erased_again: Vec<&String> = store
        .reconciled()
        .iter()
        .flat_map(|e| &e.erased_subject_tags)
        .collect();
    assert_eq!(erased_again, vec![&p5]);
    let note = store.reconciliation_note().unwrap();
    assert!(
        note.contains("1 data subject erasure(s) pending"),
        "the opening reports the erasure as pending: {note}"
    );
    let mut restored = store.load().unwrap();
    // (a) The erasure is pending: a request naming p5 is not "already removed", and the
    // store records nothing that leaves the lost rows (s14) in the model.
    let mut without_s14 = restored.clone();
    if let Err(e) = without_s14.remove_external(&given(&["s23"], &["p5"]), 1) {
        panic!("a request erasing p5 again is refused as if it were done: {e}");
    }
    match store.record_before_showing(&without_s14) {
        Err(StoreError::Reconciliation { reason, .. }) => {
            assert!(reason.contains("pending"), "{reason}")
        }
        other => panic!("a request erasing p5 without s14 was not refused: {other:?}"),
    }
    // (b) A refresh over a table that still holds p5's rows is refused, naming the first.
    match restored
        .sums_over_remaining(&given(&["s13"], &[]), rows_without(&["s7", "s13", "s14"]))
        .unwrap_err()
    {
        RemovalError::ErasedSubjectRemains {
            id,
            subject,
            removal,
        } => assert_eq!(
            (id.as_str(), subject.as_str(), removal),
            ("s5", "p5", "an earlier removal erased")
        ),
        e => panic!("refused for another reason: {e}"),
    }
    // (c) The lost removal of s14 without p5's erasure leaves the erasure pending: refused.
    // This caller shows nothing before its commit returns, so the refused entry is not
    // recorded (one that may have shown it would have its release charged: review 10,
    // finding 8).
    store.withhold_until_commit();
    let mut ids_only = restored.clone();
    ids_only.remove_external(&given(&["s14"], &[]), 1).unwrap();
    match store.commit(&mut ids_only) {
        Err(StoreError::Reconciliation { reason, .. }) => assert!(
            reason.contains("1 data subject(s) whose erasure is pending")
                && reason.contains("naming the same subjects"),
            "{reason}"
        ),
        other => panic!("a commit leaving p5's erasure pending was accepted: {other:?}"),
    }
    // The lost removal of s14 with p5's erasure, demanded by the writer, settles the store.
    let settling = restored
        .remove_external(&given(&["s14"], &["p5"]), 1)
        .unwrap();
    assert_eq!(settling.erased_subject_tags, vec![p5.clone()]);
    store.commit(&mut restored).unwrap();
    drop(store);
    // Now it is done: a request naming p5 is "already removed".
    let mut reloaded = Store::open(&dir, Access::Read).unwrap().load().unwrap();
    match reloaded.remove_external(&given(&["s23"], &["p5"]), 1) {
        Err(RemovalError::SubjectAlreadyRemoved(subject)) => assert_eq!(subject, "p5"),
        other => panic!("a request erasing p5 again was not refused: {other:?}"),
    }
    let settled = Store::open(&dir, WRITE).unwrap();
    assert!(settled.reconciled().is_empty());
    let check = settled.release_log_check().unwrap();
    assert!(check.passed, "{}", check.detail);
    for pending in ["not applied yet", "not recorded as erased"] {
        assert!(!check.detail.contains(pending), "{}", check.detail);
    }
}

/// A store that holds its rows re-applies a lost subject erasure by removing the subject's
/// rows again, which erases the subject as the lost branch did: the restored store counts
/// it erased once (no reconciliation entry repeats it) and verifies.
#[test]
fn a_restored_store_that_holds_its_rows_erases_a_lost_subject_once() {
    let (dir, backup) = backed_up(&mut trained(), "restore-subject-held");
    let mut store = Store::open(&dir, WRITE).unwrap();
    let mut loaded = store.load().unwrap();
    let erasure = loaded.erase(&Erasure::Subject("p5".into())).unwrap();
    store.commit(&mut loaded).unwrap();
    drop(store);
    restore(&backup, &dir);

    let store = Store::open(&dir, WRITE).unwrap();
    let p5 = loaded.model.secret.key.subject_tag("p5");
    let restored = store.load().unwrap();
    let erasing: Vec<u64> = restored
        .ledger
        .entries
        .iter()
        .filter(|e| e.erased_subject_tags.contains(&p5))
        .map(|e| e.step)
        .collect();
    assert_eq!(erasing.len(), 1, "p5 erased by entries {erasing:?}");
    let reapplied = store.reconciled().last().unwrap();
    assert_eq!(reapplied.step, erasing[0]);
    assert_eq!(reapplied.removed_id_tags, erasure.removed_id_tags);
    assert!(matches!(
        restored.resolve(&Erasure::Subject("p5".into())),
        Err(RemovalError::SubjectAlreadyRemoved(s)) if s == "p5"
    ));
    let report = verify(&restored);
    assert!(report.passed(), "{:?}", report.checks);
}

/// [`rows`] less the rows with these ids (the remaining rows of a table they were deleted
/// from), with the subject column.
fn rows_without(gone: &[&str]) -> Dataset {
    let all = rows();
    let owners = all.subjects().unwrap();
    let targets = all.targets().unwrap();
    let kept: Vec<usize> = (0..all.n_rows())
        .filter(|&i| !gone.contains(&all.ids()[i].as_str()))
        .collect();
    Dataset::new(
        kept.iter().map(|&i| all.ids()[i].clone()).collect(),
        all.feature_names().to_vec(),
        kept.iter().flat_map(|&i| all.row(i).to_vec()).collect(),
        Some(Targets {
            values: kept.iter().map(|&i| targets.values[i]).collect(),
            encoding: targets.encoding.clone(),
        }),
    )
    .unwrap()
    .with_subjects(kept.iter().map(|&i| owners[i].clone()).collect())
    .unwrap()
}

/// Sums re-solved over remaining rows that still hold a row this request removes, or one an
/// earlier removal took out (`pair` removed s7), are refused naming that row, before any
/// pass: the counts alone would pass with another row deleted in its place.
#[test]
fn sums_over_remaining_rows_that_hold_a_removed_row_are_refused() {
    let (_, external) = pair();
    let request = given(&["s13"], &[]);
    let refused = |gone: &[&str]| match external
        .sums_over_remaining(&request, rows_without(gone))
        .unwrap_err()
    {
        RemovalError::RemovedRowRemains { id, removal } => (id, removal),
        e => panic!("refused for another reason: {e}"),
    };
    assert_eq!(
        refused(&["s7", "s21"]),
        ("s13".into(), "this request removes")
    );
    assert_eq!(
        refused(&["s13", "s21"]),
        ("s7".into(), "an earlier removal took out")
    );
    let sums = external
        .sums_over_remaining(&request, rows_without(&["s7", "s13"]))
        .unwrap();
    assert_eq!(sums.n_rows, 398);
}

/// Review 6: remaining rows that still hold a row of a subject this request erases, or one
/// an earlier removal erased, under an id no request named, are refused naming the row and
/// the subject (the id check alone passes them; the weights would be refitted on the
/// subject's row while the ledger records it erased); rows without their subject column
/// cannot be checked and are refused too, when the model records subjects.
#[test]
fn sums_over_remaining_rows_that_hold_an_erased_subject_are_refused() {
    let (_, mut external) = pair();
    // s14 is p5's: p5 erased pass-free, its other rows (s23, …) left in the table.
    external
        .remove_external(&given(&["s14"], &["p5"]), 1)
        .unwrap();
    let p5: Vec<String> = (0..400)
        .filter(|i| i % 9 == 5)
        .map(|i| format!("s{i}"))
        .collect();
    let refused = |request: &GivenRows, gone: &[&str]| match external
        .sums_over_remaining(request, rows_without(gone))
        .unwrap_err()
    {
        RemovalError::ErasedSubjectRemains {
            id,
            subject,
            removal,
        } => (id, subject, removal),
        e => panic!("refused for another reason: {e}"),
    };
    // s13 is p4's; s22 is p4's too and still in the table.
    let erasing = given(&["s13"], &["p4"]);
    let mut gone: Vec<&str> = p5.iter().map(String::as_str).collect();
    gone.extend(["s7", "s13"]);
    assert_eq!(
        refused(&erasing, &gone),
        ("s4".into(), "p4".into(), "this request erases")
    );
    let by_id = given(&["s13"], &[]);
    assert_eq!(
        refused(&by_id, &["s7", "s13", "s14"]),
        ("s5".into(), "p5".into(), "an earlier removal erased")
    );
    let unlabelled = strip_subjects(&rows_without(&gone));
    assert!(matches!(
        external.sums_over_remaining(&by_id, unlabelled).unwrap_err(),
        RemovalError::Resolve(m) if m.contains("--rows-subject")
    ));
    let sums = external
        .sums_over_remaining(&by_id, rows_without(&gone))
        .unwrap();
    assert_eq!(sums.n_rows, 400 - 2 - p5.len());
}

/// [`rows_without`]`(gone)` with the row of id `at` given the values and target of another
/// remaining row of the same label, under the id `id` (`at` again: a row swapped for a copy
/// of another; a new id: a row replaced by a copy of another under a new id). The count,
/// the label counts, R (the values are a training row's), the ids and the subjects all pass.
fn tampered(gone: &[&str], at: &str, id: &str) -> Dataset {
    let rest = rows_without(gone);
    let targets = rest.targets().unwrap();
    let i = rest.position(at).unwrap();
    let j = (0..rest.n_rows())
        .find(|&j| j != i && targets.values[j] == targets.values[i])
        .unwrap();
    let d = rest.n_features();
    let mut ids = rest.ids().to_vec();
    ids[i] = id.to_string();
    let mut features = rest.features().to_vec();
    features.copy_within(j * d..(j + 1) * d, i * d);
    Dataset::new(
        ids,
        rest.feature_names().to_vec(),
        features,
        Some(targets.clone()),
    )
    .unwrap()
    .with_subjects(rest.subjects().unwrap().to_vec())
    .unwrap()
}

/// What a digest mismatch must say: what it means (each way the rows can differ) and what
/// to do.
const MISMATCH: &[&str] = &[
    "not the training rows less the removed ones",
    "swapped",
    "copied under a new id",
    "given at an earlier removal",
    "Restore the table's training rows",
    "retrain",
];

/// Asserts that a refresh from `sums` is refused by the row digest, with a message that
/// holds every one of `needles`, and changes nothing.
fn refused_by_the_digest(
    external: &Unlearner,
    request: &GivenRows,
    sums: RowSums,
    needles: &[&str],
) {
    let mut attempt = external.clone();
    match attempt.refresh_external(request, 1, sums).unwrap_err() {
        RemovalError::Sums(m) => assert!(
            m.contains("row digest") && needles.iter().all(|n| m.contains(n)),
            "{m}"
        ),
        e => panic!("refused for another reason: {e}"),
    }
    assert_eq!(attempt.model, external.model);
    assert_eq!(attempt.ledger, external.ledger);
}

/// The row digest (`unlearn::row_digest`): remaining rows with one row swapped for a copy
/// of another training row of the same label, or replaced by such a copy under a new id,
/// pass every other check (count, label counts, R, removed ids, erased subjects) and were
/// refreshed from before the digest; now the refresh is refused, saying what it means and
/// what to do, and nothing changes. Sums without a digest are refused too. The true
/// remaining rows then refresh.
#[test]
fn a_refresh_over_swapped_or_copied_rows_is_refused_by_the_row_digest() {
    let (_, external) = pair();
    let request = given(&["s13"], &[]);
    let gone = ["s7", "s13"];
    for id in ["s40", "copy-of-a-row"] {
        let sums = external
            .sums_over_remaining(&request, tampered(&gone, "s40", id))
            .unwrap();
        assert_eq!(sums.n_rows, 398);
        refused_by_the_digest(&external, &request, sums, MISMATCH);
    }
    let mut sums = external
        .sums_over_remaining(&request, rows_without(&gone))
        .unwrap();
    let digest = sums.digest.take();
    refused_by_the_digest(&external, &request, sums.clone(), &["carry no row digest"]);
    sums.digest = digest;
    let mut clean = external.clone();
    let certificate = clean.refresh_external(&request, 1, sums).unwrap();
    assert_eq!(certificate.rows_after, 398);
    assert!(unlearn::verify::verify(&clean).passed());
}

/// Given rows whose values are not the training row's (here halved: within R, of the
/// model's width and encoding, so the removal cannot tell) are taken out of the digest in
/// place of the true row's; the next refresh over the true remaining rows is refused.
#[test]
fn given_rows_that_are_not_the_training_rows_are_caught_at_the_next_refresh() {
    let (_, mut external) = pair();
    let mut altered = given(&["s13"], &[]);
    let rows = &altered.rows;
    let halved = Dataset::new(
        rows.ids().to_vec(),
        rows.feature_names().to_vec(),
        rows.features().iter().map(|v| v * 0.5).collect(),
        rows.targets().cloned(),
    )
    .unwrap()
    .with_subjects(rows.subjects().unwrap().to_vec())
    .unwrap();
    altered.rows = halved;
    external.remove_external(&altered, 1).unwrap();
    let request = given(&["s21"], &[]);
    let sums = external
        .sums_over_remaining(&request, rows_without(&["s7", "s13", "s21"]))
        .unwrap();
    refused_by_the_digest(&external, &request, sums, MISMATCH);
}

/// A model saved before the row digest (its external rows keep none) refreshes as before,
/// its certificate carrying the old assumptions; the refresh adopts the sums' digest, so
/// from then on a swapped row is refused, and certificates say the digest pins the table as
/// it was at that refresh, not the training rows (review 9a, finding 5: they claimed the
/// training rows' check); a store keeps that through a save and a load.
#[test]
fn a_model_from_before_the_row_digest_says_so_and_adopts_one_at_its_next_refresh() {
    let (_, mut external) = pair();
    let TrainingRows::External(rows) = &mut external.model.secret.rows else {
        panic!("external rows")
    };
    rows.digest = None;
    let request = given(&["s13"], &[]);
    let sums = external
        .sums_over_remaining(&request, tampered(&["s7", "s13"], "s40", "s40"))
        .unwrap();
    let first = external.refresh_external(&request, 1, sums).unwrap();
    let lists = |c: &Certificate, texts: &[&str]| {
        texts
            .iter()
            .all(|t| c.unproven_assumptions.iter().any(|u| u == t))
    };
    assert!(lists(&first, &UNDIGESTED_EXTERNAL_ROWS_ASSUMPTIONS));
    assert!(!lists(&first, &EXTERNAL_ROWS_ASSUMPTIONS[2..]));
    let request = given(&["s21"], &[]);
    let gone = ["s7", "s13", "s21"];
    let sums = external
        .sums_over_remaining(&request, tampered(&gone, "s50", "s50"))
        .unwrap();
    refused_by_the_digest(&external, &request, sums, MISMATCH);
    assert_eq!(
        external.model.secret.rows.assumptions(),
        &ADOPTED_DIGEST_EXTERNAL_ROWS_ASSUMPTIONS
    );
    let next = external.remove_external(&request, 1).unwrap();
    assert!(lists(&next, &ADOPTED_DIGEST_EXTERNAL_ROWS_ASSUMPTIONS));
    assert!(!lists(&next, &EXTERNAL_ROWS_ASSUMPTIONS[2..]));

    let dir = scratch("adopted-digest");
    drop(Store::create(&dir, &mut external, false, Duration::ZERO).unwrap());
    let loaded = Store::open(&dir, Access::Read).unwrap().load().unwrap();
    assert_eq!(
        loaded.model.secret.rows.assumptions(),
        &ADOPTED_DIGEST_EXTERNAL_ROWS_ASSUMPTIONS
    );
}

/// Review 10, finding 1: the caller that holds a subject erasure E of an external-rows
/// store, recorded before it was shown and never committed (Python: `est.remove(...,
/// subjects=...)` then a `save()` whose commit fails), retries its commit. The next opening
/// charged E's release in a reconciliation entry R1 and recorded E's subject erasure again
/// in a second one, R2 (`Unlearner::record_lost_erasures`). The retry rule (`store::behind`)
/// replaced only entries that erase nothing, so the retry was `Diverged` for good and the
/// store refused every commit until E's ids were removed again. Now an entry whose erasures
/// the retried entries make themselves is replaceable too.
#[test]
fn a_retried_subject_erasure_replaces_the_entries_that_charged_and_re_erased_it() {
    let (_, mut model) = pair();
    let dir = common::scratch("review10-subject-retry");
    drop(Store::create(&dir, &mut model, false, Duration::ZERO).unwrap());

    // The holder erases p5 (its row s14 given), records before showing, and its commit never
    // lands: the records stay bare (review 9a finding 1: a failed save leaves them so).
    let mut store = Store::open(
        &dir,
        Access::Write {
            wait: Duration::ZERO,
        },
    )
    .unwrap();
    let mut holder = store.load().unwrap();
    let shown = holder
        .remove_external(&given(&["s14"], &["p5"]), 1)
        .unwrap();
    assert!(shown.published, "the erasure published a release");
    assert_eq!(shown.erased_subject_tags.len(), 1);
    store.record_before_showing(&holder).unwrap();
    drop(store);

    // The retry (Python: save() again) opens the store: its opening charges E's release.
    let mut store = Store::open(
        &dir,
        Access::Write {
            wait: Duration::ZERO,
        },
    )
    .unwrap();
    assert!(
        store
            .reconciled()
            .iter()
            .any(|e| e.foreign_releases.iter().any(|f| f.entry == shown.digest)),
        "the opening charged E"
    );
    let retried = store.commit(&mut holder);
    assert!(
        retried.is_ok(),
        "the caller holding E cannot commit it: {}",
        retried.err().map(|e| e.to_string()).unwrap_or_default()
    );
    drop(store);

    let ledger = stored_ledger(&dir);
    assert!(ledger.entries.iter().any(|e| e.digest == shown.digest));
    let foreign = ledger
        .entries
        .iter()
        .flat_map(|e| &e.foreign_releases)
        .filter(|f| f.entry == shown.digest)
        .count();
    assert_eq!(foreign, 0, "E charges its own release, once");
    let p5 = holder.model.secret.key.subject_tag("p5");
    assert!(
        ledger
            .entries
            .iter()
            .any(|e| e.erased_subject_tags.contains(&p5)),
        "p5 is recorded erased"
    );
    common::assert_release_log_checks(&dir);
    let next = Store::open(
        &dir,
        Access::Write {
            wait: Duration::ZERO,
        },
    )
    .unwrap();
    assert!(
        next.reconciled().is_empty() && next.reconciliation_note().is_none(),
        "the store is settled: {:?}",
        next.reconciliation_note()
    );
}

/// Review 9a, finding 2: a request rolled back by `Unlearner::confirmed` (Python: the
/// release-log record could not be appended) clears an external-rows unlearner's caches,
/// which cannot be rebuilt without a pass over the user's table. Its ledger is still the
/// store's committed one, so the store's caches are its own: a commit writes them back
/// (before, it wrote the empty caches over the store's, and every later load's removals
/// needed a pass until a refresh), and `Store::reseed_caches` gives them back in memory, so
/// the next removal is pass-free and the same, bit for bit, as without the rolled-back
/// request.
#[test]
fn a_rolled_back_request_keeps_the_stored_caches_and_is_reseeded_from_them() {
    let (_, mut external) = pair();
    let dir = scratch("review9a-rollback");
    let mut store = Store::create(&dir, &mut external, false, Duration::ZERO).unwrap();
    let mut control = Store::open(&dir, Access::Read).unwrap().load().unwrap();
    let expected = control.remove_external(&given(&["s99"], &[]), 1).unwrap();
    let refused: Result<Certificate, RemovalError> = external.confirmed(
        |u| u.remove_external(&given(&["s2"], &[]), 1),
        |_| Err(RemovalError::Empty),
    );
    assert!(refused.is_err());
    let count = external.model.secret.model_count();
    assert!(
        !external.caches.complete(count),
        "precondition: the rollback cleared the caches"
    );

    // The commit of the rolled-back unlearner keeps the store's caches.
    store.commit(&mut external).unwrap();
    let mut reloaded = Store::open(&dir, Access::Read).unwrap().load().unwrap();
    let after = reloaded.remove_external(&given(&["s99"], &[]), 1);
    assert_eq!(
        after.map(|c| c.digest).map_err(|e| e.to_string()),
        Ok(expected.digest.clone()),
        "the store's caches were overwritten"
    );

    // In memory: a second rollback, then the store reseeds the caches.
    let refused: Result<Certificate, RemovalError> = external.confirmed(
        |u| u.remove_external(&given(&["s2"], &[]), 1),
        |_| Err(RemovalError::Empty),
    );
    assert!(refused.is_err());
    assert!(store.reseed_caches(&mut external).unwrap());
    let next = external.remove_external(&given(&["s99"], &[]), 1).unwrap();
    assert_eq!(
        next.digest, expected.digest,
        "pass-free, as without the rollback"
    );
    // With a removal the store has not committed, its caches are not the unlearner's.
    let refused: Result<Certificate, RemovalError> = external.confirmed(
        |u| u.remove_external(&given(&["s2"], &[]), 1),
        |_| Err(RemovalError::Empty),
    );
    assert!(refused.is_err());
    assert!(!store.reseed_caches(&mut external).unwrap());
}

/// Review 11, finding 3: a subject erasure E that publishes nothing (publish every 10
/// requests), recorded before it was shown, whose save failed: the next opening has no
/// release to charge, and only records p5's erasure again (an erasure-only reconciliation
/// entry R2) and demands s14. The retry of E replaces R2 and commits E. Before, the retry
/// rule wanted a charged release among the entries it replaces, and the retry was Diverged.
#[test]
fn a_retried_unpublished_subject_erasure_replaces_the_entry_that_re_erased_it() {
    let mut model = trained();
    model.model.published.publish = unlearn::model::PublishPolicy { every: 10 };
    model.remove(&ids(&["s7"])).unwrap();
    model.detach_rows().unwrap();
    let dir = scratch("review11-unpublished-erasure-retry");
    drop(Store::create(&dir, &mut model, false, Duration::ZERO).unwrap());
    let mut store = Store::open(&dir, WRITE).unwrap();
    let mut holder = store.load().unwrap();
    let shown = holder
        .remove_external(&given(&["s14"], &["p5"]), 1)
        .unwrap();
    assert!(
        !shown.published,
        "precondition: the erasure publishes nothing"
    );
    store.record_before_showing(&holder).unwrap();
    drop(store);

    let mut store = Store::open(&dir, WRITE).unwrap();
    let reconciled = store.reconciled();
    assert!(reconciled.iter().all(|e| e.foreign_releases.is_empty()));
    assert!(reconciled.iter().any(|e| !e.erased_subject_tags.is_empty()));
    let retried = store.commit(&mut holder);
    assert!(retried.is_ok(), "the retry is refused: {retried:?}");
    drop(store);
    let ledger = stored_ledger(&dir);
    assert_eq!(ledger.entries.last().unwrap().digest, shown.digest);
    common::assert_release_log_checks(&dir);
    let next = Store::open(&dir, WRITE).unwrap();
    assert!(next.reconciliation_note().is_none(), "the store is settled");
}

/// The ledger of the store at `dir`, as a reader loads it.
fn stored_ledger(dir: &Path) -> unlearn::certificate::Ledger {
    Store::open(dir, Access::Read)
        .unwrap()
        .load()
        .unwrap()
        .ledger
}
