//! The library on one page: train a certified model on digits 3 vs 8, remove three
//! rows without retraining, print the certificate and verify the result.
//!
//! Run with `cargo run --release --example quickstart`.

use unlearn::data::{self, TargetSpec, builtin, csv::CsvOptions, select::keep_labels};
use unlearn::model::{self, Hyperparameters, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::privacy::{self, GaussianCalibration};
use unlearn::{loss::LossKind, mechanism::Mechanism, noise::NoiseFamily};
use unlearn::{objective::Regularization, solver::NewtonOptions};
use unlearn::{unlearner::Unlearner, verify::verify};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The embedded digits, rows labelled 3 or 8 (8 is the positive class), scaled by the
    // dataset's documented constants (never by statistics of the rows).
    let options = CsvOptions {
        spec: TargetSpec::Classify { positive: None },
        ..Default::default()
    };
    let raw = data::load_data("builtin:digits", &options)?;
    let mut rows = keep_labels(raw, "builtin:digits", &["3".into(), "8".into()], Some("8"))?;
    let preprocessing = builtin::builtin("digits")?.recommended_preprocessing();
    preprocessing.apply(&mut rows)?;

    // Every release, jointly, (ε, δ) = (1, 1e-5)-indistinguishable from retraining, for a
    // lifetime budget ε′ = 0.01 of joint distance (lattice noise, zCDP calibration).
    let (noise, target) = privacy::calibrate(
        NoiseFamily::Gaussian,
        1.0,
        Some(1e-5),
        0.01,
        GaussianCalibration::Lattice,
    )?;
    let hyper = Hyperparameters {
        loss: LossKind::Logistic,
        lambda: 1.0, // total: Σℓ + (Λ/2)‖w‖², scikit-learn's C = 1/Λ
        regularization: Regularization::Total,
        intercept: true,
        noise,
        privacy: Some(target),
        mechanism: Mechanism::OutputPerturbation,
        newton: NewtonOptions::default(),
    };
    let input = TrainingData {
        data: rows,
        preprocessing,
        target_column: "digit".into(),
    };
    let mut unlearner =
        Unlearner::from_trained(model::train(input, &hyper, NoiseKey::generate()?)?);

    let certificate = unlearner.remove(&["d0003".into(), "d0008".into(), "d0013".into()])?;
    println!("{}", serde_json::to_string_pretty(&certificate)?);
    let report = verify(&unlearner);
    println!(
        "certified: {}, verification passed: {}",
        certificate.certified,
        report.passed()
    );
    Ok(())
}
