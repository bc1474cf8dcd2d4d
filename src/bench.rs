//! The end-to-end benchmark behind `unlearn bench`: train a certified model on seeded
//! synthetic data, remove rows one at a time, retrain from scratch on the remaining rows,
//! and compare time, accounting and accuracy.

use crate::data::Dataset;
use crate::loss::LossKind;
use crate::mechanism::Mechanism;
use crate::model::{self, Hyperparameters, TrainingData};
use crate::noise::{NoiseFamily, NoiseSpec};
use crate::objective::Regularization;
use crate::predict::Metrics;
use crate::privacy::{self, GaussianCalibration};
use crate::solver::NewtonOptions;
use crate::synthetic::{SyntheticSpec, generate};
use crate::unlearner::{RemovalError, Unlearner};
use serde::Serialize;
use std::time::Instant;

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchSpec {
    /// Training rows n (a further n/5 rows are generated as a test set).
    pub rows: usize,
    /// Features d.
    pub features: usize,
    /// Rows removed, one at a time.
    pub removals: usize,
    /// λ (per-sample convention unless `regularization` says otherwise).
    pub lambda: f64,
    /// The regularisation convention.
    pub regularization: Regularization,
    /// Noise scale σ, or how to derive it.
    pub noise: BenchNoise,
    /// ε of each certificate.
    pub epsilon: f64,
    /// δ of each certificate.
    pub delta: f64,
    /// The removal mechanism.
    pub mechanism: Mechanism,
    /// Seed of the data and of the noise.
    pub seed: u64,
}

/// How the benchmark's noise is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BenchNoise {
    /// A given σ; the budget is what it affords for (ε, δ).
    Sigma(f64),
    /// A given budget ε′; σ is calibrated for it.
    Budget(f64),
}

/// Figures of one model family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// Training rows.
    pub n: usize,
    /// Features.
    pub d: usize,
    /// Mechanism used.
    pub mechanism: Mechanism,
    /// σ of the noise.
    pub sigma: f64,
    /// The budget the noise affords (mechanism's unit).
    pub budget: f64,
    /// Seconds to train on all rows.
    pub train_seconds: f64,
    /// Seconds to retrain from scratch on the remaining rows.
    pub retrain_seconds: f64,
    /// Median seconds per removal.
    pub removal_seconds_median: f64,
    /// 95th percentile of seconds per removal.
    pub removal_seconds_p95: f64,
    /// Removals served.
    pub removals: usize,
    /// Removals served before the first retraining (all of them if none retrained).
    pub removals_before_first_retraining: usize,
    /// budget_used / budget after the last removal.
    pub budget_used_fraction: f64,
    /// Removal steps that retrained.
    pub retrainings: usize,
    /// Largest exact residual of a removal step (max over class models).
    pub max_exact_residual: f64,
    /// Largest data-dependent bound of a removal step.
    pub max_data_dependent_bound: f64,
    /// Test metric of the unlearned model's published weights.
    pub test_accuracy_unlearned: f64,
    /// Test metric of the model retrained from scratch on the remaining rows.
    pub test_accuracy_retrained: f64,
    /// Peak resident memory of the process so far (Linux), in bytes.
    pub peak_rss_bytes: Option<u64>,
}

/// Runs the benchmark for one loss (logistic: accuracy; squared: R² in the accuracy fields).
pub fn run(spec: &BenchSpec, loss: LossKind) -> Result<BenchReport, Box<dyn std::error::Error>> {
    let regression = loss == LossKind::Squared;
    let all = generate(&SyntheticSpec {
        rows: spec.rows + spec.rows / 5,
        features: spec.features,
        flip: 0.1,
        regression,
        seed: spec.seed,
    });
    let mut train = all.clone();
    train.retain_rows(|i| i < spec.rows);
    let mut test = all;
    test.retain_rows(|i| i >= spec.rows);

    let calibration = match spec.mechanism {
        Mechanism::OutputPerturbation => GaussianCalibration::Analytic,
        Mechanism::Guo2020 => GaussianCalibration::Guo2020,
    };
    let (noise, target) = match spec.noise {
        BenchNoise::Sigma(sigma) => {
            let noise = NoiseSpec {
                family: NoiseFamily::Gaussian,
                scale: sigma,
            };
            let target =
                privacy::target_for_scale(noise, spec.epsilon, Some(spec.delta), calibration)?;
            (noise, target)
        }
        BenchNoise::Budget(budget) => privacy::calibrate(
            NoiseFamily::Gaussian,
            spec.epsilon,
            Some(spec.delta),
            budget,
            calibration,
        )?,
    };
    let hyper = Hyperparameters {
        loss,
        lambda: spec.lambda,
        regularization: spec.regularization,
        intercept: false,
        noise,
        privacy: Some(target),
        mechanism: spec.mechanism,
        newton: NewtonOptions::default(),
    };
    let input = |data: Dataset| TrainingData {
        data,
        preprocessing: Default::default(),
        target_column: "y".into(),
    };
    let started = Instant::now();
    let mut unlearner =
        Unlearner::from_trained(model::train(input(train.clone()), &hyper, spec.seed)?);
    let train_seconds = started.elapsed().as_secs_f64();

    let ids: Vec<String> = removal_order(&train, spec.removals, spec.seed);
    let mut seconds = Vec::with_capacity(ids.len());
    let mut first_retrain = None;
    let (mut max_exact, mut max_bound) = (0.0f64, 0.0f64);
    for (k, id) in ids.iter().enumerate() {
        let started = Instant::now();
        let certificate = unlearner
            .remove(std::slice::from_ref(id))
            .map_err(|e: RemovalError| e.to_string())?;
        seconds.push(started.elapsed().as_secs_f64());
        if certificate.retrained && first_retrain.is_none() {
            first_retrain = Some(k);
        }
        max_exact = certificate
            .bounds
            .exact_residual
            .iter()
            .copied()
            .fold(max_exact, f64::max);
        max_bound = certificate
            .bounds
            .data_dependent
            .iter()
            .copied()
            .fold(max_bound, f64::max);
    }

    let mut remaining = train;
    let removed: std::collections::HashSet<&String> = ids.iter().collect();
    let keep: Vec<bool> = remaining
        .ids()
        .iter()
        .map(|id| !removed.contains(id))
        .collect();
    remaining.retain_rows(|i| keep[i]);
    let started = Instant::now();
    let retrained = model::train(input(remaining), &hyper, spec.seed ^ 0x5eed)?;
    let retrain_seconds = started.elapsed().as_secs_f64();

    let last = unlearner
        .ledger
        .last()
        .expect("a ledger has its training entry");
    let budget = last.budget.unwrap_or(f64::NAN);
    Ok(BenchReport {
        n: spec.rows,
        d: spec.features,
        mechanism: spec.mechanism,
        sigma: noise.scale,
        budget,
        train_seconds,
        retrain_seconds,
        removal_seconds_median: quantile(&seconds, 0.5),
        removal_seconds_p95: quantile(&seconds, 0.95),
        removals: ids.len(),
        removals_before_first_retraining: first_retrain.unwrap_or(ids.len()),
        budget_used_fraction: last.budget_used / budget,
        retrainings: unlearner.ledger.retrainings(),
        max_exact_residual: max_exact,
        max_data_dependent_bound: max_bound,
        test_accuracy_unlearned: score(&unlearner.model.published.metrics(
            &unlearner.model.published.scores_preprocessed(&test),
            &test.targets().expect("generated rows have targets").values,
        )),
        test_accuracy_retrained: score(&retrained.published.metrics(
            &retrained.published.scores_preprocessed(&test),
            &test.targets().expect("generated rows have targets").values,
        )),
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// Accuracy, or R² for regression.
fn score(m: &Metrics) -> f64 {
    match m {
        Metrics::Classification { accuracy, .. } => *accuracy,
        Metrics::Regression { r2, .. } => *r2,
    }
}

/// `count` distinct ids in a seeded pseudo-random order (a multiplicative stride over the
/// row positions, co-prime with n).
fn removal_order(data: &Dataset, count: usize, seed: u64) -> Vec<String> {
    let n = data.n_rows();
    let mut stride = (seed as usize % n.max(1)) * 2 + 7919;
    while gcd(stride, n) != 1 {
        stride += 1;
    }
    (0..count.min(n.saturating_sub(1)))
        .map(|k| data.ids()[(k * stride + seed as usize) % n].clone())
        .collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The q-quantile (nearest rank) of a sample; NaN when empty.
fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// VmHWM from /proc/self/status (Linux only).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
