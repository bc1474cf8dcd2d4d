//! The store loader against damaged files: random byte flips, truncations and insertions in
//! the database file or in model.json must give an error, or a store that fails `verify`,
//! or exactly the original store (damage in unused bytes) — never a panic, never a store
//! that loads with different contents and verifies. (SQLite reports damaged pages; the state
//! row's checksum, the bindings of rows, ledger and model catch changed values; the ledger's
//! hash chain catches a changed entry at `verify`.)

mod common;

use proptest::prelude::*;
use std::path::Path;
use std::sync::OnceLock;
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::model::{self, Hyperparameters, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::noise::{NoiseFamily, NoiseSpec};
use unlearn::objective::Regularization;
use unlearn::solver::NewtonOptions;
use unlearn::store::{Access, Store};
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::Unlearner;

const FILES: [&str; 2] = ["model.json", "unlearn.db"];

/// The bytes of [`FILES`] of a small valid store (with one removal in its ledger), built once
/// per process in a scratch directory that is removed once they are read.
fn pristine() -> &'static [Vec<u8>; 2] {
    static PRISTINE: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
    PRISTINE.get_or_init(|| {
        let dir = common::scratch("fuzz-pristine");
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
        drop(Store::create(&dir, &mut u, false, std::time::Duration::ZERO).unwrap());
        FILES.map(|f| std::fs::read(dir.join(f)).unwrap())
    })
}

/// A fresh scratch directory holding `files` as [`FILES`] (a store's files).
fn store_of(name: &str, files: &[Vec<u8>; 2]) -> common::Scratch {
    let dir = common::scratch(name);
    for (file, bytes) in FILES.iter().zip(files) {
        std::fs::write(dir.join(file), bytes).unwrap();
    }
    dir
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
        file in 0usize..2, damages in prop::collection::vec(damage(), 1..4),
    ) {
        let mut files = pristine().clone();
        for d in &damages {
            apply(&mut files[file], d);
        }
        let dir = store_of("fuzz", &files);
        let load = |dir: &Path| Store::open(dir, Access::Read).and_then(|s| s.load());
        let loaded = std::panic::catch_unwind(|| load(&dir));
        prop_assert!(loaded.is_ok(), "the loader panicked on {damages:?} in {}", FILES[file]);
        if let Ok(Ok(u)) = loaded {
            let original = load(&store_of("fuzz-original", pristine())).unwrap();
            prop_assert!(
                u == original || !unlearn::verify::verify(&u).passed(),
                "{damages:?} in {} loaded as a different store that verifies",
                FILES[file]
            );
        }
    }
}

/// A deterministic key that counts as secret (`NoiseKey::from_secret_bytes`): library tests
/// need reproducible noise and certified certificates; the CLI's `--seed` is never certified.
fn test_key(seed: u64) -> NoiseKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    NoiseKey::from_secret_bytes(bytes)
}
