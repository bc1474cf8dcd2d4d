//! The distributed Newton iteration (issue 14, item 2): driven over partial sums of batches
//! merged in different orders, it meets the in-process fit within the recorded bound, below
//! and above the Hessian-free dimension, and it refuses rows that change between passes.
//!
//! The tolerance of every comparison is the one [`unlearn::distributed::compare`] records:
//! both fits stop only when a guaranteed bound ĝ on the exact gradient norm of the same
//! Λ-strongly convex objective is ≤ τ, so each is within ĝ/Λ of the exact minimiser and they
//! are within (ĝ_dist + ĝ_local)/Λ of each other (proofs/training_residual.md, Lemma 1;
//! proofs/distributed_sums.md for the merged sums' bounds).

mod common;

use nalgebra::DVector;
use unlearn::data::{Dataset, Preprocessing, TargetEncoding, Targets};
use unlearn::distributed::{self, DistributedError, DistributedFit, DistributedOutput};
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::model::{self, Hyperparameters, Model, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::partials::{BatchSpec, PartialSums};
use unlearn::synthetic::{self, SyntheticSpec};

/// Synthetic rows (norm ≤ 1) with `classes` classes (0: regression), as a dataset and as
/// the preprocessed design with its intercept column.
fn data(n: usize, d: usize, classes: usize, seed: u64) -> Dataset {
    let mut data = synthetic::generate(&SyntheticSpec {
        rows: n,
        features: d,
        flip: 0.1,
        regression: classes == 0,
        seed,
    });
    if classes > 2 {
        // One-vs-rest labels from the row index: every class has rows.
        let values = (0..n).map(|i| (i % classes) as f64).collect();
        let encoding = TargetEncoding::Multiclass {
            classes: (0..classes).map(|c| c.to_string()).collect(),
        };
        data.set_targets(Targets { values, encoding }).unwrap();
    }
    data
}

fn hyper(loss: LossKind) -> Hyperparameters {
    common::certified(loss, 1e-3, 0.5)
}

fn spec(data: &Dataset, hyper: &Hyperparameters) -> BatchSpec {
    BatchSpec {
        loss: hyper.loss,
        encoding: data.targets().unwrap().encoding.clone(),
        feature_names: data.feature_names().to_vec(),
        target_column: "y".into(),
        preprocessing: Preprocessing::default(),
        intercept: hyper.intercept,
    }
}

fn in_process(data: &Dataset, hyper: &Hyperparameters) -> Model {
    let input = TrainingData {
        data: data.clone(),
        preprocessing: Preprocessing::default(),
        target_column: "y".into(),
    };
    model::train(input, hyper, NoiseKey::from_seed(1)).unwrap()
}

/// Runs a fit to convergence, each pass summing batches of `batch` rows and merging them
/// front to back (`reverse` = false) or back to front.
fn run(data: &Dataset, hyper: &Hyperparameters, batch: usize, reverse: bool) -> DistributedOutput {
    let fit = DistributedFit::new(spec(data, hyper), hyper.clone()).unwrap();
    run_fit(fit, data, batch, reverse)
}

/// Drives `fit` to convergence over `data` (as [`run`] does).
fn run_fit(
    mut fit: DistributedFit,
    data: &Dataset,
    batch: usize,
    reverse: bool,
) -> DistributedOutput {
    let design = data.with_constant_feature(model::INTERCEPT_FEATURE, 1.0);
    let d = design.n_features();
    let targets = &data.targets().unwrap().values;
    let spec = fit.spec().clone();
    for _ in 0..2_000 {
        let query = fit.query();
        let mut parts: Vec<PartialSums> = targets
            .chunks(batch)
            .zip(design.features().chunks(batch * d))
            .map(|(y, x)| PartialSums::of_rows(&spec, &query, x, y))
            .collect();
        if reverse {
            parts.reverse();
        }
        let mut total = PartialSums::empty(&spec, &query);
        for p in &parts {
            total.merge(p).unwrap();
        }
        if fit.absorb(&total).unwrap() {
            return fit.finish().unwrap();
        }
    }
    panic!("no convergence");
}

fn assert_within_bound(output: &DistributedOutput, model: &Model) {
    let comparison = distributed::compare(output, &model.secret).unwrap();
    for (distance, bound) in comparison.distances.iter().zip(&comparison.bounds) {
        assert!(distance <= bound, "{distance:e} > {bound:e}");
    }
}

#[test]
fn the_distributed_fit_meets_the_in_process_fit_within_the_recorded_bound() {
    for (loss, classes) in [
        (LossKind::Logistic, 2),
        (LossKind::Logistic, 4),
        (LossKind::Squared, 0),
    ] {
        let data = data(3_000, 15, classes, 40 + classes as u64);
        let hyper = hyper(loss);
        let model = in_process(&data, &hyper);
        let a = run(&data, &hyper, 128, false);
        let b = run(&data, &hyper, 1_000, true);
        for output in [&a, &b] {
            assert_within_bound(output, &model);
            assert!(
                output
                    .reports
                    .iter()
                    .all(|r| r.gradient_norm <= hyper.newton.tolerance)
            );
            // One pass per Newton iteration when full steps are accepted, plus the first.
            let iterations = output.reports.iter().map(|r| r.iterations).max().unwrap();
            assert!(
                output.passes <= 2 * iterations + 2,
                "{} passes",
                output.passes
            );
            // The certificate's inputs: the Hessian at the final weights and ‖X‖₂ certified
            // from the merged Gram matrix, within the Frobenius norm.
            assert!(output.totals.models.iter().all(|m| m.hessian.is_some()));
            assert!(output.spectral_bound <= output.totals.frobenius_bound);
            assert_eq!(output.totals.rows, 3_000);
        }
        assert_eq!(a.totals.class_counts, b.totals.class_counts);
    }
}

#[test]
fn from_the_hessian_free_dimension_steps_use_one_pass_per_hessian_vector_product() {
    let d = unlearn::partials::HESSIAN_FREE_DIMENSION;
    let data = data(300, d, 2, 77);
    let hyper = hyper(LossKind::Logistic);
    let spec = spec(&data, &hyper);
    let fit = DistributedFit::new(spec, hyper.clone()).unwrap();
    let first = fit.query();
    assert!(!first.hessian && !first.gram, "no d×d matrix is summed");
    let output = run(&data, &hyper, 64, true);
    assert!(output.totals.models[0].hessian.is_none() && output.totals.gram.is_none());
    assert_eq!(output.spectral_bound, output.totals.frobenius_bound);
    // More passes than Newton iterations: the conjugate-gradient products.
    assert!(output.passes > output.reports[0].iterations + 1);
    assert_within_bound(&output, &in_process(&data, &hyper));
}

#[test]
fn rows_that_change_between_passes_and_misuse_are_clear_errors() {
    let data = data(500, 5, 2, 9);
    let hyper = hyper(LossKind::Logistic);
    let spec = spec(&data, &hyper);
    let design = data.with_constant_feature(model::INTERCEPT_FEATURE, 1.0);
    let targets = &data.targets().unwrap().values;
    let mut fit = DistributedFit::new(spec.clone(), hyper.clone()).unwrap();
    let q = fit.query();
    assert!(
        !fit.absorb(&PartialSums::of_rows(&spec, &q, design.features(), targets))
            .unwrap()
    );
    // The next pass lost the last row (a partition dropped, or the table rewritten).
    let q = fit.query();
    let lost = PartialSums::of_rows(&spec, &q, &design.features()[..499 * 6], &targets[..499]);
    let error = fit.absorb(&lost).unwrap_err();
    assert!(matches!(
        error,
        DistributedError::RowsChanged {
            rows: 499,
            first_rows: 500,
            ..
        }
    ));
    // A total of an earlier pass is refused.
    let mut fit = DistributedFit::new(spec.clone(), hyper.clone()).unwrap();
    let q0 = fit.query();
    let stale = PartialSums::of_rows(&spec, &q0, design.features(), targets);
    fit.absorb(&stale).unwrap();
    assert!(matches!(
        fit.absorb(&stale),
        Err(DistributedError::Partials(_))
    ));
    assert!(matches!(fit.finish(), Err(DistributedError::State(_))));
    // Guo et al.'s objective noise is not drawn on a driver.
    let guo = Hyperparameters {
        mechanism: Mechanism::Guo2020,
        ..hyper
    };
    assert!(matches!(
        DistributedFit::new(spec, guo),
        Err(DistributedError::Invalid(_))
    ));
}

#[test]
fn a_warm_start_at_the_weights_before_a_removal_needs_fewer_passes_for_the_same_bound() {
    // The secret weights of a fit on every row are near the optimum without a few of them
    // (it moves by O(removed / Λ)): started there, the re-solve over the remaining rows
    // converges in fewer passes than from zero, to the same certified stopping test, and
    // within the recorded bound of an in-process fit on the remaining rows.
    for (loss, classes) in [(LossKind::Logistic, 2), (LossKind::Logistic, 3)] {
        let all = data(3_000, 15, classes, 60 + classes as u64);
        let hyper = hyper(loss);
        let before = in_process(&all, &hyper);
        let mut remaining = all.clone();
        remaining.retain_rows(|i| i >= 5);
        let cold = run(&remaining, &hyper, 500, false);
        let start = before.secret.weights.clone();
        let warm = DistributedFit::starting_at(spec(&remaining, &hyper), hyper.clone(), start);
        let warm = run_fit(warm.unwrap(), &remaining, 500, false);
        assert!(
            warm.passes < cold.passes,
            "warm {} passes, cold {}",
            warm.passes,
            cold.passes
        );
        let tolerance = hyper.newton.tolerance;
        assert!(warm.reports.iter().all(|r| r.gradient_norm <= tolerance));
        assert_within_bound(&warm, &in_process(&remaining, &hyper));
    }
    // A start point of the wrong shape is refused with what was expected.
    let all = data(200, 4, 2, 3);
    let hyper = hyper(LossKind::Logistic);
    let start = vec![DVector::zeros(3)];
    let message = DistributedFit::starting_at(spec(&all, &hyper), hyper, start)
        .unwrap_err()
        .to_string();
    assert!(message.contains("1 class models of 5 weights"), "{message}");
}
