//! The model store: exact round trips, and refusal of damaged or newer files.

use unlearn::loss::LossKind;
use unlearn::model::{self, Hyperparameters, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::noise::{NoiseFamily, NoiseSpec};
use unlearn::objective::Regularization;
use unlearn::solver::NewtonOptions;
use unlearn::store::{Store, StoreError};
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::Unlearner;

fn trained(classes_regression: bool) -> Unlearner {
    let data = generate(&SyntheticSpec {
        rows: 60,
        features: 4,
        flip: 0.1,
        regression: classes_regression,
        seed: 5,
    });
    let hyper = Hyperparameters {
        loss: if classes_regression {
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
    };
    let input = TrainingData {
        data,
        preprocessing: Default::default(),
        target_column: "y".into(),
    };
    Unlearner::from_trained(model::train(input, &hyper, test_key(11)).unwrap())
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("unlearn-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn save_then_load_is_exact_and_leaves_no_temporary_files() {
    for regression in [false, true] {
        let dir = scratch(&format!("roundtrip-{regression}"));
        let model = trained(regression);
        let store = Store::at(&dir);
        store.save(&model).unwrap();
        // Bit-exact: weights, noise and rows survive (serde_json's float_roundtrip and the
        // binary container).
        assert_eq!(store.load().unwrap(), model);
        let leftovers: Vec<_> = walk(&dir)
            .into_iter()
            .filter(|p| p.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

#[test]
fn a_flipped_byte_in_the_secret_state_is_detected() {
    let dir = scratch("flip");
    let store = Store::at(&dir);
    store.save(&trained(false)).unwrap();
    let path = store.secret_path();
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let err = store.load().unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("checksum"), "{err}");
}

#[test]
fn a_newer_format_is_refused_with_a_clear_message() {
    let dir = scratch("newer");
    let store = Store::at(&dir);
    store.save(&trained(true)).unwrap();
    let path = store.model_path();
    let mut model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    model["format_version"] = serde_json::json!(99);
    std::fs::write(&path, model.to_string()).unwrap();
    let err = store.load().unwrap_err();
    assert!(
        matches!(err, StoreError::NewerFormat { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade"), "{err}");
}

#[test]
fn a_truncated_secret_state_is_refused() {
    let dir = scratch("truncated");
    let store = Store::at(&dir);
    store.save(&trained(false)).unwrap();
    let path = store.secret_path();
    let bytes = std::fs::read(&path).unwrap();
    for keep in [0, 10, 40, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..keep]).unwrap();
        assert!(
            matches!(store.load(), Err(StoreError::Corrupt { .. })),
            "kept {keep} bytes"
        );
    }
}

/// Copies a store directory (files only, two levels), for building crash states.
fn copy_store(from: &std::path::Path, to: &std::path::Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to.join("secret")).unwrap();
    for sub in ["", "secret"] {
        for entry in std::fs::read_dir(from.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, to.join(sub).join(path.file_name().unwrap())).unwrap();
            }
        }
    }
}

/// A save interrupted at any point leaves, after recovery, exactly the old store or exactly
/// the new one — never a mix — and verification passes. Each crash point is rebuilt from a
/// saved old store and a saved new store: staged files (`NAME.staged`), the `COMMIT` marker,
/// files already renamed, and leftover temporary files.
#[test]
fn an_interrupted_save_recovers_to_the_old_or_the_new_store() {
    use unlearn::store::{COMMIT_FILE, LockMode};
    let old_dir = scratch("crash-old");
    let new_dir = scratch("crash-new");
    let old = trained(false);
    Store::at(&old_dir).save(&old).unwrap();
    let mut new = old.clone();
    new.remove(&["s3".to_string(), "s8".to_string()]).unwrap();
    Store::at(&new_dir).save(&new).unwrap();
    let files = ["secret/state.bin", "secret/ledger.jsonl", "model.json"];
    // (files staged, commit marker written, files already renamed into place)
    let crash_points: &[(usize, bool, usize, bool)] = &[
        (0, false, 0, true),
        (1, false, 0, false),
        (2, false, 0, true),
        (3, false, 0, false),
        (3, true, 0, false),
        (3, true, 1, true),
        (3, true, 2, false),
        (3, true, 3, false),
    ];
    for &(staged, committed, renamed, temp_left) in crash_points {
        let dir = scratch("crash");
        copy_store(&old_dir, &dir);
        for (i, file) in files.iter().enumerate() {
            let source = new_dir.join(file);
            if i < renamed {
                std::fs::copy(&source, dir.join(file)).unwrap();
            } else if i < staged {
                std::fs::copy(&source, dir.join(format!("{file}.staged"))).unwrap();
            }
        }
        if committed {
            std::fs::write(dir.join(COMMIT_FILE), "unlearn commit 1\n").unwrap();
        }
        if temp_left {
            std::fs::write(dir.join("secret/.state.bin.staged.999.tmp"), b"rows").unwrap();
        }
        let store = Store::at(&dir);
        let interrupted = staged > 0 || committed;
        if interrupted {
            assert!(matches!(store.load(), Err(StoreError::Interrupted { .. })));
        }
        drop(store.lock(LockMode::Shared).unwrap());
        let recovered = store.load().unwrap();
        let expected = if committed { &new } else { &old };
        assert!(
            recovered == *expected,
            "crash point {:?}: recovered the wrong state",
            (staged, committed, renamed, temp_left)
        );
        assert!(unlearn::verify::verify(&recovered).passed());
        let leftovers: Vec<String> = walk(&dir)
            .into_iter()
            .filter(|p| p.ends_with(".staged") || p.ends_with(".tmp") || p.ends_with(COMMIT_FILE))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

/// A deterministic key that counts as secret (`NoiseKey::from_secret_bytes`): library tests
/// need reproducible noise and certified certificates; the CLI's `--seed` is never certified.
fn test_key(seed: u64) -> NoiseKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    NoiseKey::from_secret_bytes(bytes)
}

/// The rows' sequence numbers survive a save and load after removals reordered the rows,
/// so a loaded store can still put its rows back in input order.
#[test]
fn row_sequence_numbers_survive_a_round_trip_after_removals() {
    let dir = scratch("sequence");
    let mut model = trained(false);
    model
        .remove(&["s3".to_string(), "s10".to_string()])
        .unwrap();
    let sequence = model.model.secret.design.sequence().to_vec();
    assert!(
        !sequence.is_sorted(),
        "swap_remove should have reordered the rows"
    );
    let store = Store::at(&dir);
    store.save(&model).unwrap();
    let mut design = store.load().unwrap().model.secret.design;
    assert_eq!(design.sequence(), sequence.as_slice());
    design.restore_canonical_order();
    let expected: Vec<u64> = (0..60).filter(|&i| i != 3 && i != 10).collect();
    assert_eq!(design.sequence(), expected.as_slice());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A format-1 secret state (releases off the lattice, noise from a 64-bit seed) is refused
/// with a message that says to retrain, not loaded with certificates that no longer hold.
#[test]
fn a_format_1_secret_state_is_refused_with_what_to_do() {
    use sha2::{Digest, Sha256};
    let dir = scratch("format1");
    let model = trained(false);
    let store = Store::at(&dir);
    store.save(&model).unwrap();
    let path = store.secret_path();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[16..20].copy_from_slice(&1u32.to_le_bytes());
    let body = bytes.len() - 32;
    let checksum = Sha256::digest(&bytes[..body]);
    bytes[body..].copy_from_slice(&checksum);
    std::fs::write(&path, bytes).unwrap();
    let err = store.load().unwrap_err().to_string();
    assert!(
        err.contains("format version 1") && err.contains("retrain"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
