//! Helpers shared by the library's tests: certified privacy targets.

#![allow(dead_code)] // each test file uses its own subset

use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::model::Hyperparameters;
use unlearn::noise::{NoiseFamily, NoiseSpec};
use unlearn::objective::Regularization;
use unlearn::privacy::{self, GaussianCalibration};
use unlearn::solver::NewtonOptions;

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
