//! Helpers shared by the library's tests: certified privacy targets, a trained store's model,
//! scratch directories removed on drop ([`scratch`]).

#![allow(dead_code)] // each test file uses its own subset

mod scratch;
#[allow(unused_imports)]
// re-exported for the test files that use it, like the rest of this module
pub use scratch::{Scratch, scratch};

use unlearn::data::{Dataset, Preprocessing, Targets};
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::model::{self, Hyperparameters, TrainingData};
use unlearn::noise::{NoiseFamily, NoiseKey, NoiseSpec};
use unlearn::objective::Regularization;
use unlearn::privacy::{self, GaussianCalibration};
use unlearn::solver::NewtonOptions;
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::Unlearner;

/// Adds the (ε = 1, δ = 1e-5) target with lifetime budget ε′ and its lattice σ.
pub fn with_budget(mut h: Hyperparameters, budget: f64) -> Hyperparameters {
    let (noise, target) = privacy::calibrate(
        NoiseFamily::Gaussian,
        1.0,
        Some(1e-5),
        budget,
        GaussianCalibration::Lattice,
    )
    .unwrap();
    h.noise = noise;
    h.privacy = Some(target);
    h
}

/// Certified output-perturbation hyperparameters: per-sample λ, an intercept, the default
/// solver, and (ε, δ) = (1, 1e-5) for the lifetime budget ε′ ([`with_budget`]).
pub fn certified(loss: LossKind, lambda: f64, budget: f64) -> Hyperparameters {
    let uncalibrated = Hyperparameters {
        loss,
        lambda,
        regularization: Regularization::PerSample,
        intercept: true,
        noise: NoiseSpec {
            family: NoiseFamily::Gaussian,
            scale: 0.0,
        },
        privacy: None,
        mechanism: Mechanism::OutputPerturbation,
        newton: NewtonOptions::default(),
    };
    with_budget(uncalibrated, budget)
}

/// The 200 synthetic rows [`trained_synthetic`] trains on: ids s0…s199, features f0…f4,
/// binary target y.
pub fn synthetic_rows() -> Dataset {
    generate(&SyntheticSpec {
        rows: 200,
        features: 5,
        flip: 0.1,
        regression: false,
        seed: 41,
    })
}

/// The rows of `all` with these ids, in this order, with their targets (no subjects): the
/// removed rows an external-rows removal is given.
pub fn rows_of(all: &Dataset, ids: &[&str]) -> Dataset {
    let targets = all.targets().unwrap();
    let positions: Vec<usize> = ids.iter().map(|id| all.position(id).unwrap()).collect();
    Dataset::new(
        ids.iter().map(|s| s.to_string()).collect(),
        all.feature_names().to_vec(),
        positions
            .iter()
            .flat_map(|&i| all.row(i).to_vec())
            .collect(),
        Some(Targets {
            values: positions.iter().map(|&i| targets.values[i]).collect(),
            encoding: targets.encoding.clone(),
        }),
    )
    .unwrap()
}

/// [`synthetic_rows`] trained under the noise key
/// `[key; 32]`: the training entry (the lineage) differs between keys and repeats for one key.
pub fn trained_synthetic(key: u8) -> Unlearner {
    let input = TrainingData {
        data: synthetic_rows(),
        preprocessing: Preprocessing::default(),
        target_column: "y".into(),
    };
    let hyper = certified(LossKind::Logistic, 1e-2, 0.05);
    Unlearner::from_trained(
        model::train(input, &hyper, NoiseKey::from_secret_bytes([key; 32])).unwrap(),
    )
}
