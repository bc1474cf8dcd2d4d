//! The store loader against damaged files: random byte flips, truncations and insertions in
//! each of the store's files must give an error or a valid store — never a panic. (Flips
//! in the secret state are caught by its checksum; in model.json by the JSON parser or the
//! weights digest; in the ledger by the parser or, at `verify`, by the hash chain.)

use proptest::prelude::*;
use std::path::{Path, PathBuf};
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::model::{self, Hyperparameters, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::noise::{NoiseFamily, NoiseSpec};
use unlearn::objective::Regularization;
use unlearn::solver::NewtonOptions;
use unlearn::store::Store;
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::Unlearner;

const FILES: [&str; 3] = ["model.json", "secret/state.bin", "secret/ledger.jsonl"];

/// A small valid store (with one removal in its ledger), saved once per process.
fn pristine() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("unlearn-fuzz-pristine-{}", std::process::id()));
    if !dir.join("model.json").exists() {
        let data = generate(&SyntheticSpec {
            rows: 40,
            features: 3,
            flip: 0.1,
            regression: false,
            seed: 2,
        });
        let hyper = Hyperparameters {
            loss: LossKind::Logistic,
            lambda: 0.5,
            regularization: Regularization::Total,
            intercept: true,
            noise: NoiseSpec {
                family: NoiseFamily::Gaussian,
                scale: 0.1,
            },
            privacy: None,
            mechanism: Mechanism::OutputPerturbation,
            newton: NewtonOptions::default(),
        };
        let input = TrainingData {
            data,
            preprocessing: Default::default(),
            target_column: "y".into(),
        };
        let mut u = Unlearner::from_trained(model::train(input, &hyper, test_key(1)).unwrap());
        u.remove(&["s4".to_string()]).unwrap();
        Store::at(&dir).save(&u).unwrap();
    }
    dir
}

fn copy(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to.join("secret")).unwrap();
    for file in FILES {
        std::fs::copy(from.join(file), to.join(file)).unwrap();
    }
}

#[derive(Debug, Clone)]
enum Damage {
    Flip { at: usize, bits: u8 },
    Truncate { keep: usize },
    Insert { at: usize, bytes: Vec<u8> },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(at, bits)| Damage::Flip { at, bits }),
        any::<usize>().prop_map(|keep| Damage::Truncate { keep }),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Damage::Insert { at, bytes }),
    ]
}

fn apply(bytes: &mut Vec<u8>, damage: &Damage) {
    match damage {
        Damage::Flip { at, bits } => {
            let i = at % bytes.len().max(1);
            if let Some(b) = bytes.get_mut(i) {
                *b ^= bits;
            }
        }
        Damage::Truncate { keep } => bytes.truncate(keep % (bytes.len() + 1)),
        Damage::Insert { at, bytes: extra } => {
            let i = at % (bytes.len() + 1);
            bytes.splice(i..i, extra.iter().copied());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn damaged_stores_are_refused_or_valid_never_a_panic(
        file in 0usize..3, damages in prop::collection::vec(damage(), 1..4), case in any::<u32>(),
    ) {
        let dir = std::env::temp_dir().join(format!("unlearn-fuzz-{}-{case}", std::process::id()));
        copy(&pristine(), &dir);
        let path = dir.join(FILES[file]);
        let mut bytes = std::fs::read(&path).unwrap();
        for d in &damages {
            apply(&mut bytes, d);
        }
        std::fs::write(&path, &bytes).unwrap();
        let loaded = std::panic::catch_unwind(|| Store::at(&dir).load().map(|u| unlearn::verify::verify(&u)));
        prop_assert!(loaded.is_ok(), "the loader panicked on {damages:?} in {}", FILES[file]);
        if file == 1 {
            // Any change to the secret state is caught by its checksum.
            prop_assert!(loaded.unwrap().is_err(), "a damaged secret state was accepted");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// A deterministic key that counts as secret (`NoiseKey::from_secret_bytes`): library tests
/// need reproducible noise and certified certificates; the CLI's `--seed` is never certified.
fn test_key(seed: u64) -> NoiseKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    NoiseKey::from_secret_bytes(bytes)
}
