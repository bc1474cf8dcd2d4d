//! The model store: exact round trips, per-request commits, erasure of removed rows from
//! every file, integrity checks against edits, format refusals, the writer lock, and
//! per-subject erasure through the store.

mod common;

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unlearn::loss::LossKind;
use unlearn::model::{self, Hyperparameters, TrainingData, model_digest};
use unlearn::noise::NoiseKey;
use unlearn::noise::{NoiseFamily, NoiseSpec};
use unlearn::objective::Regularization;
use unlearn::requests::Erasure;
use unlearn::solver::NewtonOptions;
use unlearn::store::{
    Access, DB_FILE, FollowUpKind, MODEL_FILE, Store, StoreError, read_model_file,
};
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::{RemovalError, Unlearner};

const WRITE: Access = Access::Write {
    wait: Duration::ZERO,
};

fn hyper(regression: bool) -> Hyperparameters {
    Hyperparameters {
        loss: if regression {
            LossKind::Squared
        } else {
            LossKind::Logistic
        },
        lambda: 0.5,
        regularization: Regularization::PerSample,
        intercept: true,
        noise: NoiseSpec {
            family: NoiseFamily::Gaussian,
            scale: 2.0,
        },
        privacy: None,
        mechanism: unlearn::mechanism::Mechanism::OutputPerturbation,
        newton: NewtonOptions::default(),
    }
}

/// 60 rows `s0`..`s59`; with `subjects`, row i belongs to subject `p{i % 7}`.
fn trained_with(regression: bool, subjects: bool) -> Unlearner {
    let mut data = generate(&SyntheticSpec {
        rows: 60,
        features: 4,
        flip: 0.1,
        regression,
        seed: 5,
    });
    if subjects {
        let owners = (0..60).map(|i| format!("p{}", i % 7)).collect();
        data = data.with_subjects(owners).unwrap();
    }
    let input = TrainingData {
        data,
        preprocessing: Default::default(),
        target_column: "y".into(),
    };
    Unlearner::from_trained(model::train(input, &hyper(regression), test_key(11)).unwrap())
}

fn trained(regression: bool) -> Unlearner {
    trained_with(regression, false)
}

/// A fresh empty directory for one test's store, removed when the guard drops.
fn scratch(name: &str) -> common::Scratch {
    common::scratch(&format!("store-{name}"))
}

/// A deterministic key that counts as secret (`NoiseKey::from_secret_bytes`): library tests
/// need reproducible noise and certified certificates; the CLI's `--seed` is never certified.
fn test_key(seed: u64) -> NoiseKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    NoiseKey::from_secret_bytes(bytes)
}

/// `u` with its rows in input order, as a store gives them back.
fn canonical(u: &Unlearner) -> Unlearner {
    let mut u = u.clone();
    u.model.secret.design_mut().restore_canonical_order();
    u
}

fn load(dir: &Path) -> Result<Unlearner, StoreError> {
    Store::open(dir, Access::Read)?.load()
}

/// Every file under `dir` with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn create_then_load_is_exact_with_owner_only_files() {
    for regression in [false, true] {
        // The store creates its own directory (under the 0700 scratch one), so the 0700
        // asserted below is the store's doing, not the scratch helper's.
        let parent = scratch(&format!("roundtrip-{regression}"));
        let dir = parent.join("store");
        let mut model = trained(regression);
        drop(Store::create(&dir, &mut model, false, Duration::ZERO).unwrap());
        // Bit-exact: weights, noise, key, rows (f64 BLOBs) and ledger survive.
        assert_eq!(load(&dir).unwrap(), model);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            for (path, _) in files(&dir) {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
            }
        }
    }
}

/// Requests committed one by one through one writer handle load back as the unlearner that
/// served them (rows in input order), and the store then verifies.
#[test]
fn commits_per_request_load_back_exactly() {
    let dir = scratch("commits");
    let mut u = trained(false);
    let mut store = Store::create(&dir, &mut u, false, Duration::ZERO).unwrap();
    for id in ["s3", "s10", "s41"] {
        u.remove(&[id.to_string()]).unwrap();
        store.commit(&mut u).unwrap();
    }
    u.remove_sequential(&["s7".to_string(), "s8".to_string()])
        .unwrap();
    store.commit(&mut u).unwrap();
    drop(store);
    let loaded = load(&dir).unwrap();
    assert!(loaded == canonical(&u));
    assert!(unlearn::verify::verify(&loaded).passed());
    // A writer that reopens the store continues from it.
    let mut store = Store::open(&dir, WRITE).unwrap();
    let mut again = store.load().unwrap();
    again.remove(&["s20".to_string()]).unwrap();
    store.commit(&mut again).unwrap();
    assert_eq!(load(&dir).unwrap().model.secret.n_rows(), 60 - 6);
}

/// A commit of an unlearner that does not continue the store (another branch of requests,
/// or a stale copy) is refused and writes nothing.
#[test]
fn a_diverged_unlearner_is_not_committed() {
    let dir = scratch("diverged");
    let mut base = trained(false);
    let mut store = Store::create(&dir, &mut base, false, Duration::ZERO).unwrap();
    let mut first = base.clone();
    first.remove(&["s1".to_string()]).unwrap();
    store.commit(&mut first).unwrap();
    let mut other = base.clone();
    other.remove(&["s2".to_string()]).unwrap();
    let err = store.commit(&mut other).unwrap_err();
    assert!(matches!(err, StoreError::Diverged { .. }), "{err}");
    // The message says what to do next (a retried save after two failures ends here too).
    assert!(
        err.to_string()
            .contains("load the model from the store again"),
        "{err}"
    );
    assert!(load(&dir).unwrap() == canonical(&first));
    // A reader cannot commit.
    let mut reader = Store::open(&dir, Access::Read).unwrap();
    assert!(matches!(
        reader.commit(&mut first),
        Err(StoreError::ReadOnly { .. })
    ));
}

/// After a commit that removes rows, with the writer still open (so the WAL and its index
/// exist), no file of the store holds the removed rows' feature bytes, ids or subjects —
/// and before the removal the database did hold them (the check can fail).
#[test]
fn removed_rows_leave_no_bytes_in_any_file_while_the_store_is_open() {
    let dir = scratch("erased");
    let mut u = trained_with(false, true);
    let mut store = Store::create(&dir, &mut u, false, Duration::ZERO).unwrap();
    // A reader connection keeps the WAL files in existence across the commit.
    let reader = Store::open(&dir, Access::Read).unwrap();
    let design = u.model.secret.design().clone();
    let removed = ["s17", "s23", "s44"];
    let row_bytes = |id: &str| -> Vec<u8> {
        design
            .row(design.position(id).unwrap())
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect()
    };
    let before: Vec<u8> = files(&dir).into_iter().flat_map(|(_, b)| b).collect();
    for id in removed {
        assert!(contains(&before, &row_bytes(id)), "{id} not stored before");
    }
    assert!(contains(&before, b"p3"));
    // p3 owns s3, s10, s17, …: erase it whole, plus two single rows.
    let subject_rows: Vec<String> = u.resolve(&Erasure::Subject("p3".into())).unwrap();
    assert!(subject_rows.contains(&"s17".to_string()));
    u.erase(&Erasure::Subject("p3".into())).unwrap();
    store.commit(&mut u).unwrap();
    u.remove(&["s23".to_string(), "s44".to_string()]).unwrap();
    store.commit(&mut u).unwrap();
    let names: Vec<String> = files(&dir)
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with("-wal")), "{names:?}");
    let mut gone: Vec<String> = subject_rows.clone();
    gone.extend(["s23".to_string(), "s44".to_string()]);
    for (path, content) in files(&dir) {
        for id in &gone {
            assert!(
                !contains(&content, &row_bytes(id)),
                "row {id} survives in {}",
                path.display()
            );
        }
        // The subject's name, as text anywhere (no remaining row has a subject p3…).
        assert!(
            !contains(&content, b"p3"),
            "subject p3 in {}",
            path.display()
        );
    }
    drop(reader);
    drop(store);
    assert!(unlearn::verify::verify(&load(&dir).unwrap()).passed());
}

/// Opens the database directly, as someone editing it outside unlearn would.
fn raw(dir: &Path) -> Connection {
    Connection::open(dir.join(DB_FILE)).unwrap()
}

/// The integrity checks name what was changed outside unlearn, `load` refuses it, and a
/// writer refuses to open over an edited model.json.
#[test]
fn edits_outside_unlearn_are_named_and_refused() {
    let pristine = scratch("integrity-pristine");
    let mut u = trained(false);
    let mut store = Store::create(&pristine, &mut u, false, Duration::ZERO).unwrap();
    u.remove(&["s5".to_string()]).unwrap();
    store.commit(&mut u).unwrap();
    drop(store);
    let copy = |name: &str| -> common::Scratch {
        let dir = scratch(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (path, bytes) in files(&pristine) {
            std::fs::write(dir.join(path.file_name().unwrap()), bytes).unwrap();
        }
        dir
    };
    type Edit = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "emptied-ledger",
            Box::new(|d| {
                raw(d).execute("DELETE FROM ledger", []).unwrap();
            }),
            "ledger bound by the state",
        ),
        (
            "truncated-ledger",
            Box::new(|d| {
                raw(d)
                    .execute("DELETE FROM ledger WHERE step = 1", [])
                    .unwrap();
            }),
            "ledger bound by the state",
        ),
        (
            "state-row",
            Box::new(|d| {
                raw(d)
                    .execute(
                        "UPDATE state SET secret = replace(secret, '\"pending_requests\":0', '\"pending_requests\":1')",
                        [],
                    )
                    .unwrap();
            }),
            "store state",
        ),
        (
            "row-features",
            Box::new(|d| {
                raw(d)
                    .execute("UPDATE rows SET target = -target WHERE seq = 9", [])
                    .unwrap();
            }),
            "rows bound by the state",
        ),
        (
            "row-deleted",
            Box::new(|d| {
                raw(d)
                    .execute("DELETE FROM rows WHERE seq = 9", [])
                    .unwrap();
            }),
            "rows bound by the state",
        ),
        (
            "model-json-target",
            Box::new(|d| edit_model_json(d, |m| m["target"]["positive"] = "zzz".into())),
            MODEL_FILE,
        ),
        (
            "model-json-scale",
            Box::new(|d| edit_model_json(d, |m| m["preprocessing"]["default_scale"] = 2.0.into())),
            MODEL_FILE,
        ),
        (
            // A misspelled key is dropped by the parser: the model it parses to differs.
            "model-json-misspelled",
            Box::new(|d| {
                edit_model_json(d, |m| {
                    let lambda = m["hyperparameters"]["lambda"].take();
                    m["hyperparameters"]["lamda"] = lambda;
                    m["hyperparameters"]
                        .as_object_mut()
                        .unwrap()
                        .remove("lambda");
                })
            }),
            MODEL_FILE,
        ),
        (
            // Recomputing the file's own digest does not help: the state binds the model.
            "model-json-redigested",
            Box::new(|d| {
                let path = d.join(MODEL_FILE);
                let (mut model, _) = unlearn::store::read_model_file(&path).unwrap();
                model.publish.every = 5;
                unlearn::store::write_model_file(&path, &model).unwrap();
            }),
            MODEL_FILE,
        ),
    ];
    for (name, edit, failing) in cases {
        let dir = copy(name);
        assert!(load(&dir).is_ok(), "{name}: the copy loads before the edit");
        edit(&dir);
        let store = Store::open(&dir, Access::Read).unwrap();
        let checks = store.integrity().unwrap();
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name)
            .collect();
        assert!(failed.contains(&failing), "{name}: failed {failed:?}");
        let err = store.load().unwrap_err();
        assert!(
            matches!(&err, StoreError::Integrity { .. }) && err.to_string().contains(failing),
            "{name}: {err}"
        );
        if failing == MODEL_FILE {
            let err = Store::open(&dir, WRITE).unwrap_err();
            assert!(matches!(err, StoreError::Integrity { .. }), "{name}: {err}");
        }
    }
}

fn edit_model_json(dir: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let path = dir.join(MODEL_FILE);
    let mut model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut model);
    std::fs::write(&path, serde_json::to_vec_pretty(&model).unwrap()).unwrap();
}

/// `model.json` one commit behind (a writer stopped after its commit) or missing passes, and
/// the next writer rewrites it; a reader never writes it.
#[test]
fn a_stale_model_file_is_accepted_and_rewritten_by_the_next_writer() {
    let dir = scratch("stale");
    let mut u = trained(false);
    let mut store = Store::create(&dir, &mut u, false, Duration::ZERO).unwrap();
    let before = std::fs::read(dir.join(MODEL_FILE)).unwrap();
    u.remove(&["s5".to_string()]).unwrap();
    store.commit(&mut u).unwrap();
    drop(store);
    let current = std::fs::read(dir.join(MODEL_FILE)).unwrap();
    assert_ne!(before, current);
    std::fs::write(dir.join(MODEL_FILE), &before).unwrap();
    let reader = Store::open(&dir, Access::Read).unwrap();
    assert!(reader.integrity().unwrap().iter().all(|c| c.passed));
    assert!(reader.load().is_ok());
    assert_eq!(std::fs::read(dir.join(MODEL_FILE)).unwrap(), before);
    drop(Store::open(&dir, WRITE).unwrap());
    assert_eq!(std::fs::read(dir.join(MODEL_FILE)).unwrap(), current);
    std::fs::remove_file(dir.join(MODEL_FILE)).unwrap();
    assert!(load(&dir).is_ok());
    drop(Store::open(&dir, WRITE).unwrap());
    assert_eq!(std::fs::read(dir.join(MODEL_FILE)).unwrap(), current);
}

/// A commit is durable before `model.json` is rewritten: a failed rewrite is not a failed
/// commit (before, `commit` returned the error, so a caller reported a removal that went
/// through as failed, and might retry it). It is a follow-up naming the file; the removal
/// stands, and the next commit rewrites the file. The rewrite is made to fail by a non-empty
/// directory in `model.json`'s place (the rename onto it fails, for root too).
#[test]
fn a_failed_model_file_rewrite_after_a_durable_commit_is_a_follow_up_not_an_error() {
    let dir = scratch("follow-up");
    let mut u = trained(false);
    let mut store = Store::create(&dir, &mut u, false, Duration::ZERO).unwrap();
    let model_file = dir.join(MODEL_FILE);
    std::fs::remove_file(&model_file).unwrap();
    std::fs::create_dir(&model_file).unwrap();
    std::fs::write(model_file.join("occupied"), b"x").unwrap();
    u.remove(&["s5".to_string()]).unwrap();
    store
        .commit(&mut u)
        .expect("the commit is durable: not an error");
    let follow_ups = store.follow_ups().to_vec();
    assert_eq!(follow_ups.len(), 1, "{follow_ups:?}");
    assert_eq!(follow_ups[0].kind, FollowUpKind::ModelFile);
    assert_eq!(follow_ups[0].path, model_file);
    let warning = follow_ups[0].to_string();
    assert!(
        warning.contains(MODEL_FILE) && warning.contains("durable"),
        "{warning}"
    );

    std::fs::remove_dir_all(&model_file).unwrap();
    let committed = load(&dir).unwrap();
    assert_eq!(committed.ledger.entries.len(), u.ledger.entries.len());
    assert_eq!(committed.model.secret.n_rows(), u.model.secret.n_rows());

    u.remove(&["s6".to_string()]).unwrap();
    store.commit(&mut u).unwrap();
    assert!(store.follow_ups().is_empty(), "{:?}", store.follow_ups());
    let (_, digest) = read_model_file(&model_file).unwrap();
    assert_eq!(digest, model_digest(&u.model.published));
}

/// A newer format is refused with a clear message; a store of the previous format (files,
/// `secret/state.bin`) is refused with how to migrate; a directory that is no store is named.
#[test]
fn newer_older_and_missing_stores_are_refused_with_what_to_do() {
    let dir = scratch("newer");
    drop(Store::create(&dir, &mut trained(true), false, Duration::ZERO).unwrap());
    raw(&dir)
        .execute(
            "UPDATE meta SET value = '99' WHERE key = 'format_version'",
            [],
        )
        .unwrap();
    let err = load(&dir).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerFormat { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade"), "{err}");

    let old = scratch("old-format");
    std::fs::create_dir_all(old.join("secret")).unwrap();
    std::fs::write(old.join("secret/state.bin"), b"UNLEARN-SECRET\0\0").unwrap();
    std::fs::write(old.join("model.json"), b"{}").unwrap();
    let err = load(&old).unwrap_err();
    assert!(matches!(err, StoreError::OldFormat { .. }), "{err}");
    assert!(err.to_string().contains("unlearn migrate"), "{err}");

    let empty = scratch("not-a-store");
    std::fs::create_dir_all(&empty).unwrap();
    let err = load(&empty).unwrap_err();
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
}

/// Creating over an existing store is refused unless `overwrite` (the data-loss scenario of
/// issue 11: a store with removals was silently replaced and a removed row came back).
#[test]
fn create_refuses_an_existing_store_unless_told_to_replace_it() {
    let dir = scratch("exists");
    let mut u = trained(false);
    let mut store = Store::create(&dir, &mut u, false, Duration::ZERO).unwrap();
    u.remove(&["s5".to_string()]).unwrap();
    store.commit(&mut u).unwrap();
    drop(store);
    let mut fresh = trained(false);
    let err = Store::create(&dir, &mut fresh, false, Duration::ZERO).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Exists {
                entries: Some(2),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("--force"), "{err}");
    let kept = load(&dir).unwrap();
    assert_eq!(kept.ledger.entries.len(), 2);
    assert!(kept.model.secret.design().position("s5").is_none());
    drop(Store::create(&dir, &mut fresh, true, Duration::ZERO).unwrap());
    assert_eq!(load(&dir).unwrap(), fresh);
}

/// One writer at a time: a second is refused at once without a wait, gets the store once
/// the first lets go within its wait; readers open and load while a writer holds it.
#[test]
fn one_writer_at_a_time_and_readers_alongside() {
    let dir = scratch("writers");
    let mut u = trained(false);
    let writer = Store::create(&dir, &mut u, false, Duration::ZERO).unwrap();
    let err = Store::open(&dir, WRITE).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("--wait"), "{err}");
    assert_eq!(
        load(&dir).unwrap(),
        u,
        "a reader reads while the writer holds the store"
    );
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(writer);
    });
    let second = Store::open(
        &dir,
        Access::Write {
            wait: Duration::from_secs(30),
        },
    );
    release.join().unwrap();
    assert!(second.is_ok(), "{:?}", second.err());
}

/// Per-subject erasure: one step and one certificate for all of a subject's rows, a keyed
/// tag (not the name) in the ledger, "already removed" afterwards — also when the subject's
/// rows were removed by id — and an unknown subject named as such. Subjects survive the
/// store.
#[test]
fn a_subject_is_erased_in_one_step_and_named_only_by_a_keyed_tag() {
    let dir = scratch("subjects");
    let mut u = trained_with(false, true);
    let mut store = Store::create(&dir, &mut u, false, Duration::ZERO).unwrap();
    let ids = u.resolve(&Erasure::Subject("p2".into())).unwrap();
    let expected: Vec<String> = (0..60)
        .filter(|i| i % 7 == 2)
        .map(|i| format!("s{i}"))
        .collect();
    assert_eq!(ids, expected);
    let entries = u.ledger.entries.len();
    let certificate = u.erase(&Erasure::Subject("p2".into())).unwrap();
    assert_eq!(u.ledger.entries.len(), entries + 1);
    assert_eq!(certificate.removed_id_tags.len(), expected.len());
    let key = u.model.secret.key.clone();
    assert_eq!(certificate.erased_subject_tags, vec![key.subject_tag("p2")]);
    let json = serde_json::to_string(&certificate).unwrap();
    assert!(!json.contains("\"p2\""), "{json}");
    store.commit(&mut u).unwrap();
    // Subject p4's rows by id, one of them left: p4 is not erased until the last goes.
    let p4 = u.resolve(&Erasure::Subject("p4".into())).unwrap();
    let (last, rest) = p4.split_last().unwrap();
    let c = u.remove(rest).unwrap();
    assert!(c.erased_subject_tags.is_empty());
    let c = u.remove(std::slice::from_ref(last)).unwrap();
    assert_eq!(c.erased_subject_tags, vec![key.subject_tag("p4")]);
    store.commit(&mut u).unwrap();
    drop(store);
    let loaded = load(&dir).unwrap();
    assert!(loaded == canonical(&u));
    for subject in ["p2", "p4"] {
        assert!(matches!(
            loaded.resolve(&Erasure::Subject(subject.into())),
            Err(RemovalError::SubjectAlreadyRemoved(_))
        ));
    }
    assert!(matches!(
        loaded.resolve(&Erasure::Subject("nobody".into())),
        Err(RemovalError::UnknownSubject(_))
    ));
    assert_eq!(
        loaded
            .resolve(&Erasure::Subject("p0".into()))
            .unwrap()
            .len(),
        (0..60).filter(|i| i % 7 == 0).count()
    );
    assert!(unlearn::verify::verify(&loaded).passed());
    // A store without subjects says so.
    assert!(matches!(
        trained(false).resolve(&Erasure::Subject("p0".into())),
        Err(RemovalError::NoSubjects(_))
    ));
}

/// A failed removal of a subject's rows rolls back the subject index with the rows.
#[test]
fn a_refused_subject_erasure_changes_nothing() {
    let mut u = trained_with(false, true);
    let before = u.clone();
    // Erasing every subject at once would leave no rows.
    let all: Vec<String> = (0..60).map(|i| format!("s{i}")).collect();
    assert!(matches!(
        u.remove(&all),
        Err(RemovalError::WouldRemoveAll(_))
    ));
    assert!(u == before);
    assert_eq!(u.resolve(&Erasure::Subject("p1".into())).unwrap().len(), 9);
}

/// A store of the previous format (the committed fixture, written by the earlier unlearn:
/// a training run and one removal) migrates in place: the same rows, ledger and published
/// weights, a store that verifies, no old files left; the removal stays removed.
#[test]
fn a_store_of_the_previous_format_migrates_in_place() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legacy_store");
    let dir = scratch("migrate");
    std::fs::create_dir_all(dir.join("secret")).unwrap();
    for file in ["model.json", "secret/state.bin", "secret/ledger.jsonl"] {
        std::fs::copy(fixture.join(file), dir.join(file)).unwrap();
    }
    let published_before: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap();
    assert!(matches!(load(&dir), Err(StoreError::OldFormat { .. })));
    let migration = unlearn::store::migrate(&dir, Duration::ZERO).unwrap();
    assert_eq!(migration.rows, 38);
    assert_eq!(migration.ledger_entries, 2);
    let u = load(&dir).unwrap();
    assert!(unlearn::verify::verify(&u).passed());
    assert_eq!(
        serde_json::to_value(&u.model.published.weights).unwrap(),
        published_before["weights"]
    );
    for id in ["r3", "r7"] {
        assert!(u.model.secret.design().position(id).is_none());
    }
    assert!(!dir.join("secret").exists());
    assert!(!dir.join(".lock").exists());
    // A second migration has nothing to do.
    assert!(unlearn::store::migrate(&dir, Duration::ZERO).is_err());
    // A damaged old store is refused, not laundered into a new one.
    let damaged = scratch("migrate-damaged");
    std::fs::create_dir_all(damaged.join("secret")).unwrap();
    for file in ["model.json", "secret/state.bin", "secret/ledger.jsonl"] {
        std::fs::copy(fixture.join(file), damaged.join(file)).unwrap();
    }
    let ledger = std::fs::read_to_string(damaged.join("secret/ledger.jsonl")).unwrap();
    let first_line = ledger.lines().next().unwrap().to_string();
    std::fs::write(damaged.join("secret/ledger.jsonl"), first_line + "\n").unwrap();
    assert!(unlearn::store::migrate(&damaged, Duration::ZERO).is_err());
    assert!(damaged.join("secret/state.bin").exists());
}

/// With a checkpoint interval of 3, a removed row's bytes are still on disk after its own
/// commit (the trade the interval makes, so this can fail) and gone after the third deletion
/// commit; every commit is loaded back by a reader meanwhile (durable).
#[test]
fn a_checkpoint_interval_delays_erasure_on_disk_by_at_most_the_interval() {
    let dir = scratch("interval");
    let mut u = trained(false);
    let mut store = Store::create(&dir, &mut u, false, Duration::ZERO).unwrap();
    store.set_checkpoint_every(3);
    let reader = Store::open(&dir, Access::Read).unwrap();
    let design = u.model.secret.design().clone();
    let bytes: Vec<u8> = design
        .row(design.position("s11").unwrap())
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let on_disk = || files(&dir).iter().any(|(_, b)| contains(b, &bytes));
    for (k, id) in ["s11", "s12", "s13"].iter().enumerate() {
        u.remove(&[id.to_string()]).unwrap();
        store.commit(&mut u).unwrap();
        assert_eq!(reader.load().unwrap().model.secret.n_rows(), 59 - k);
        assert_eq!(on_disk(), k < 2, "after deletion {}", k + 1);
    }
}
