//! The model store: exact round trips, and refusal of damaged or newer files.

use unlearn::loss::LossKind;
use unlearn::model::{self, Hyperparameters, TrainingData};
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
    Unlearner::from_trained(model::train(input, &hyper, 11).unwrap())
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
