//! The end-to-end benchmark behind `unlearn bench`: train a certified model on seeded
//! synthetic data, remove rows one at a time, then [`BATCHES`] batches of [`BATCH_ROWS`]
//! fresh rows, each in one request,
//! retrain from scratch on the remaining rows, and compare time, accounting, accuracy and
//! memory, against the memory floor of a step measured in the same run ([`floor_seconds`]);
//! and the training-time curve over n ([`training_curve`]).
//!
//! Memory: the rows are generated straight into the training and test buffers
//! ([`generate_split`]), moved into the model without a copy, and the retraining runs in
//! place on the unlearner's remaining rows ([`SecretState::train_from_scratch`]). The peak
//! is then the 8·n·d bytes of the training rows, 8·m·d bytes of the m test rows, the ids
//! and a few vectors of n values, plus O(d²) for the Hessian: [`BenchReport::peak_rss_over_data`]
//! measures it.

mod curve;
mod floor;

pub use curve::{CurvePoint, LinearFit, TrainingCurve, training_curve};
pub use floor::floor_seconds;

use crate::data::Dataset;
use crate::hessian_cache::CacheEvents;
use crate::loss::LossKind;
use crate::mechanism::Mechanism;
use crate::model::{self, Hyperparameters, PublishedModel, SecretState, TrainingData};
use crate::noise::NoiseKey;
use crate::noise::{NoiseFamily, NoiseSpec};
use crate::objective::Regularization;
use crate::predict::Metrics;
use crate::privacy::{self, GaussianCalibration};
use crate::solver::NewtonOptions;
use crate::synthetic::{SyntheticSpec, generate_split};
use crate::unlearner::Unlearner;
use serde::Serialize;
use std::time::Instant;

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchSpec {
    /// Training rows n.
    pub rows: usize,
    /// Held-out test rows m, generated from the same hyperplane (0: no test set, and no
    /// test accuracies).
    pub test_rows: usize,
    /// Features d.
    pub features: usize,
    /// Rows removed, one at a time (at most n − 1).
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
    /// The Newton solver's gradient-norm tolerance τ (it must exceed the certified rounding
    /// bound of the gradient, which grows with n: at n = 10⁶ the default 10⁻⁷ is below it).
    pub tolerance: f64,
}

impl BenchSpec {
    /// λ of `unlearn bench` (per-sample), Guo et al.'s MNIST setting.
    pub const DEFAULT_LAMBDA: f64 = 1e-3;
    /// σ of `unlearn bench`, Guo et al.'s MNIST setting.
    pub const DEFAULT_SIGMA: f64 = 10.0;
    /// ε of each certificate of `unlearn bench`.
    pub const DEFAULT_EPSILON: f64 = 1.0;
    /// δ of each certificate of `unlearn bench`.
    pub const DEFAULT_DELTA: f64 = 1e-4;

    /// `unlearn bench`'s settings (per-sample λ, σ = 10, ε = 1, δ = 10⁻⁴, output perturbation,
    /// the solver's default tolerance) on `rows` × `features` seeded rows, with no test set and
    /// no removals: the spec the benches and tests that time or pin a removal start from.
    pub fn defaults(rows: usize, features: usize, seed: u64) -> Self {
        Self {
            rows,
            test_rows: 0,
            features,
            removals: 0,
            lambda: Self::DEFAULT_LAMBDA,
            regularization: Regularization::PerSample,
            noise: BenchNoise::Sigma(Self::DEFAULT_SIGMA),
            epsilon: Self::DEFAULT_EPSILON,
            delta: Self::DEFAULT_DELTA,
            mechanism: Mechanism::OutputPerturbation,
            seed,
            tolerance: NewtonOptions::default().tolerance,
        }
    }
}

/// How the benchmark's noise is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BenchNoise {
    /// A given σ; the budget is what it affords for (ε, δ).
    Sigma(f64),
    /// A given budget ε′; σ is calibrated for it.
    Budget(f64),
}

/// Where a run is, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchProgress {
    /// Generating the data and training on all rows.
    Training {
        /// The model family.
        loss: LossKind,
    },
    /// `done` of `total` removals served.
    Removing {
        /// The model family.
        loss: LossKind,
        /// Removals served so far.
        done: usize,
        /// Removals to serve.
        total: usize,
    },
    /// Retraining from scratch on the remaining rows.
    Retraining {
        /// The model family.
        loss: LossKind,
    },
    /// `done` of `total` sizes of a training curve timed.
    Curve {
        /// Sizes timed so far.
        done: usize,
        /// Sizes to time.
        total: usize,
    },
}

/// One removal of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RemovalPoint {
    /// How many removals have been served, this one included (1 = the first).
    pub removal: usize,
    /// Seconds the removal took (`Unlearner::remove` of one id, retraining included when
    /// it retrained).
    pub seconds: f64,
    /// Of `seconds`, what was not linear algebra ([`Unlearner::arithmetic_time`]): the
    /// transaction's snapshot, id tags, the release (noise, digest), the certificate and its
    /// seal.
    pub bookkeeping_seconds: f64,
    /// Of `bookkeeping_seconds`, the release's noise draw ([`Unlearner::release_time`]).
    pub release_noise_seconds: f64,
    /// Iterative refinements of the removal's pass-free solves ([`Unlearner::refinements`]).
    pub refinements: usize,
    /// budget_used / budget after the removal.
    pub budget_used_fraction: f64,
    /// Whether the removal retrained.
    pub retrained: bool,
}

/// Figures of one model family. The first twelve fields are those issue 4 asks for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// Training rows.
    pub n: usize,
    /// Features.
    pub d: usize,
    /// Seconds to train on all rows.
    pub train_seconds: f64,
    /// Seconds to retrain from scratch on the remaining rows.
    pub retrain_seconds: f64,
    /// Median seconds per removal.
    pub removal_seconds_median: f64,
    /// 95th percentile of seconds per removal.
    pub removal_seconds_p95: f64,
    /// Median seconds per removal spent outside linear algebra (the series'
    /// `bookkeeping_seconds`).
    pub bookkeeping_seconds_median: f64,
    /// Median seconds per removal spent drawing the release noise (the series'
    /// `release_noise_seconds`; part of the bookkeeping).
    pub release_noise_seconds_median: f64,
    /// Mean iterative refinements per removal (0 where no step was pass-free).
    pub refinements_per_removal: f64,
    /// Removals served.
    pub removals: usize,
    /// budget_used / budget after the last single removal (the batches left out).
    pub budget_used_fraction: f64,
    /// Removal steps that retrained (the batches left out).
    pub retrainings: usize,
    /// Test metric of the unlearned model's published weights (accuracy; R² for ridge);
    /// none without a test set.
    pub test_accuracy_unlearned: Option<f64>,
    /// Test metric of the model retrained from scratch on the remaining rows.
    pub test_accuracy_retrained: Option<f64>,
    /// Peak resident memory during this run, in bytes (Linux `VmHWM`, reset at the start of
    /// the run through `/proc/self/clear_refs`; if the kernel refuses, the process's peak).
    pub peak_rss_bytes: Option<u64>,
    /// The memory floor of a step, measured in the same run: median seconds to read the
    /// lower triangle of one d×d f64 matrix twice ([`floor_seconds`], what any solve with
    /// the cached factor reads).
    pub floor_seconds: f64,
    /// removal_seconds_median / floor_seconds.
    pub removal_over_floor: f64,
    /// Median over the [`BATCHES`] batches served after the single removals of the seconds
    /// of one `Unlearner::remove` of [`BATCH_ROWS`] fresh rows (one step), divided by the
    /// rows in it; none when fewer rows remain than one batch.
    pub batch_seconds_per_row: Option<f64>,
    /// The fastest of the batches, per row (the spread of `batch_seconds_per_row`).
    pub batch_seconds_per_row_min: Option<f64>,
    /// The slowest of the batches, per row.
    pub batch_seconds_per_row_max: Option<f64>,
    /// Batches timed (at most [`BATCHES`]).
    pub batches: usize,
    /// Batches whose step was not pass-free alone: it measured its residual from the rows
    /// (O(n·d)), took an exact step (O(n·d²)) or re-solved, because the tracked bound
    /// missed the allowance; such a batch is timed with that work.
    pub batches_not_pass_free: usize,
    /// batch_seconds_per_row / removal_seconds_median: what a batch of 10 costs against
    /// ten single removals.
    pub batch_over_single: Option<f64>,
    /// Factor recomputations from Ĥ₀ (O(d³)) over the batches ([`BatchPoint`]).
    pub batch_refactorisations: usize,
    /// Every batch, in order: what made a slow one slow.
    pub batch_series: Vec<BatchPoint>,
    /// The loss: "logistic" or "squared" (ridge).
    pub loss: LossKind,
    /// Mechanism used.
    pub mechanism: Mechanism,
    /// σ of the noise.
    pub sigma: f64,
    /// The budget the noise affords (mechanism's unit).
    pub budget: f64,
    /// Held-out test rows.
    pub test_rows: usize,
    /// The f64 size of the training rows, 8·n·d bytes.
    pub data_bytes: u64,
    /// peak_rss_bytes / data_bytes.
    pub peak_rss_over_data: Option<f64>,
    /// retrain_seconds / removal_seconds_median: how many times faster a removal is than
    /// retraining.
    pub speedup_vs_retrain: f64,
    /// max over class models of ‖w̃_unlearned − w̃_retrained‖ / ‖w̃_retrained‖ on the
    /// secret weights after the last removal, both minimising the same objective (under
    /// guo2020 the retrained model is re-solved with the unlearned model's noise b for
    /// this comparison); release noise does not enter.
    pub max_relative_weight_difference_vs_retrain: f64,
    /// max over class models of ‖w̃_unlearned − w̃_retrained‖ (same comparison, absolute):
    /// under output perturbation at most the certified distance, budget_used.
    pub max_weight_difference_vs_retrain: f64,
    /// Removals served before the first retraining (all of them if none retrained).
    pub removals_before_first_retraining: usize,
    /// Largest exact residual of a removal step (max over class models).
    pub max_exact_residual: f64,
    /// Largest data-dependent bound of a removal step.
    pub max_data_dependent_bound: f64,
    /// Every removal, in order (left out of the JSON; `unlearn bench --series` adds it).
    #[serde(skip)]
    pub series: Vec<RemovalPoint>,
}

/// Rows of each batch request a run serves after its single removals.
pub const BATCH_ROWS: usize = 10;

/// One batch request of a run ([`BenchReport::batch_series`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchPoint {
    /// Wall seconds of the request (and of the two reads of its run-queue wait), divided by
    /// its rows.
    pub seconds_per_row: f64,
    /// Of the request's wall seconds, those in linear algebra
    /// ([`Unlearner::arithmetic_time`]).
    pub arithmetic_seconds: f64,
    /// Of the request's wall seconds, those the thread spent runnable but waiting for a
    /// CPU (Linux `/proc/thread-self/schedstat`; none elsewhere): time the machine took,
    /// not the request.
    pub waiting_seconds: Option<f64>,
    /// What the caches did beyond a step's passes: factor recomputations and folds of the
    /// queued rows into Ĥ₀ and the Gram matrix.
    pub cache_events: CacheEvents,
}

/// Batch requests a run serves after its single removals, each on fresh rows: the median of
/// five is reported, so that one batch slowed by the machine (or by the step that folds the
/// queued rows into Ĥ₀, every [`crate::hessian_cache::HESSIAN_FOLD_ROWS`] rows) does not
/// decide the figure, and the spread is printed beside it.
pub const BATCHES: usize = 5;

/// The hyperparameters of a benchmark run: no intercept, the default Newton options, the
/// noise given or calibrated for the budget with the mechanism's calibration.
pub fn hyperparameters(
    spec: &BenchSpec,
    loss: LossKind,
) -> Result<Hyperparameters, Box<dyn std::error::Error>> {
    let calibration = GaussianCalibration::default_for(spec.mechanism);
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
    Ok(Hyperparameters {
        loss,
        lambda: spec.lambda,
        regularization: spec.regularization,
        intercept: false,
        noise,
        privacy: Some(target),
        mechanism: spec.mechanism,
        newton: NewtonOptions {
            tolerance: spec.tolerance,
            ..NewtonOptions::default()
        },
    })
}

/// The seeded training and test rows of a run (labels for logistic, real targets for
/// ridge), each in its own buffer.
fn bench_data(spec: &BenchSpec, loss: LossKind) -> (Dataset, Dataset) {
    generate_split(
        &SyntheticSpec {
            rows: spec.rows,
            features: spec.features,
            flip: 0.1,
            regression: loss == LossKind::Squared,
            seed: crate::synthetic::data_seed(spec.seed),
        },
        spec.test_rows,
    )
}

/// Synthetic rows as training input (already preprocessed: rows of norm ≤ 1).
fn training_data(data: Dataset) -> TrainingData {
    TrainingData {
        data,
        preprocessing: Default::default(),
        target_column: "y".into(),
    }
}

/// Runs the benchmark for one loss (logistic: accuracy; squared: R² in the accuracy
/// fields), reporting where it is through `progress`.
pub fn run(
    spec: &BenchSpec,
    loss: LossKind,
    progress: &mut dyn FnMut(BenchProgress),
) -> Result<BenchReport, Box<dyn std::error::Error>> {
    reset_peak_rss();
    progress(BenchProgress::Training { loss });
    let hyper = hyperparameters(spec, loss)?;
    let (train, test) = bench_data(spec, loss);
    let mut ids = removal_order(&train, spec.removals + BATCHES * BATCH_ROWS, spec.seed);
    let batch_ids = ids.split_off(spec.removals.min(ids.len()));
    let started = Instant::now();
    let mut unlearner = Unlearner::from_trained(model::train(
        training_data(train),
        &hyper,
        NoiseKey::from_seed(spec.seed),
    )?);
    let train_seconds = started.elapsed().as_secs_f64();
    let budget = unlearner
        .ledger
        .last()
        .and_then(|c| c.budget)
        .unwrap_or(f64::NAN);

    let mut series = Vec::with_capacity(ids.len());
    let (mut max_exact, mut max_bound) = (0.0f64, 0.0f64);
    for (k, id) in ids.iter().enumerate() {
        let started = Instant::now();
        let certificate = unlearner
            .remove(std::slice::from_ref(id))
            .map_err(|e| e.to_string())?;
        let seconds = started.elapsed().as_secs_f64();
        let bookkeeping_seconds = seconds - unlearner.arithmetic_time().as_secs_f64();
        let bounds = &certificate.bounds;
        max_exact = bounds
            .exact_residual
            .iter()
            .copied()
            .fold(max_exact, f64::max);
        max_bound = bounds
            .data_dependent
            .iter()
            .copied()
            .fold(max_bound, f64::max);
        series.push(RemovalPoint {
            removal: k + 1,
            seconds,
            bookkeeping_seconds,
            release_noise_seconds: unlearner.release_time().as_secs_f64(),
            refinements: unlearner.refinements(),
            budget_used_fraction: certificate.budget_used / budget,
            retrained: certificate.retrained,
        });
        progress(BenchProgress::Removing {
            loss,
            done: k + 1,
            total: ids.len(),
        });
    }
    let retrainings = unlearner.ledger.retrainings();
    let budget_used_fraction = unlearner.ledger.last().map_or(0.0, |c| c.budget_used) / budget;
    let batches = time_batches(&mut unlearner, &batch_ids)?;
    let batch_seconds_per_row = batches.quantile(0.5);
    let floor_seconds = floor_seconds(spec.features);
    let Unlearner {
        model: model::Model {
            published: unlearned,
            secret,
        },
        ..
    } = unlearner;

    progress(BenchProgress::Retraining { loss });
    let retrain = retrain_in_place(secret, &hyper, spec.seed ^ 0x5eed)?;
    let seconds: Vec<f64> = series.iter().map(|p| p.seconds).collect();
    let removal_seconds_median = quantile(&seconds, 0.5);
    let bookkeeping: Vec<f64> = series.iter().map(|p| p.bookkeeping_seconds).collect();
    let noise: Vec<f64> = series.iter().map(|p| p.release_noise_seconds).collect();
    let peak_rss_bytes = peak_rss_bytes();
    let data_bytes = (8 * spec.rows * spec.features) as u64;
    Ok(BenchReport {
        n: spec.rows,
        d: spec.features,
        train_seconds,
        retrain_seconds: retrain.seconds,
        removal_seconds_median,
        removal_seconds_p95: quantile(&seconds, 0.95),
        bookkeeping_seconds_median: quantile(&bookkeeping, 0.5),
        release_noise_seconds_median: quantile(&noise, 0.5),
        refinements_per_removal: series.iter().map(|p| p.refinements as f64).sum::<f64>()
            / series.len().max(1) as f64,
        removals: ids.len(),
        budget_used_fraction,
        retrainings,
        test_accuracy_unlearned: test_score(&unlearned, &test),
        test_accuracy_retrained: test_score(
            &PublishedModel {
                n_rows: retrain.secret.n_rows(),
                digest: model::weights_digest(&retrain.released),
                weights: retrain.released,
                ..unlearned.clone()
            },
            &test,
        ),
        peak_rss_bytes,
        floor_seconds,
        removal_over_floor: removal_seconds_median / floor_seconds,
        batch_seconds_per_row,
        batch_seconds_per_row_min: batches.quantile(0.0),
        batch_seconds_per_row_max: batches.quantile(1.0),
        batches: batches.points.len(),
        batches_not_pass_free: batches.not_pass_free,
        batch_over_single: batch_seconds_per_row.map(|b| b / removal_seconds_median),
        batch_refactorisations: batches
            .points
            .iter()
            .map(|p| p.cache_events.refactorisations)
            .sum(),
        loss,
        mechanism: spec.mechanism,
        sigma: hyper.noise.scale,
        budget,
        test_rows: test.n_rows(),
        data_bytes,
        peak_rss_over_data: peak_rss_bytes.map(|b| b as f64 / data_bytes as f64),
        speedup_vs_retrain: retrain.seconds / removal_seconds_median,
        max_relative_weight_difference_vs_retrain: retrain.max_relative_difference,
        max_weight_difference_vs_retrain: retrain.max_difference,
        removals_before_first_retraining: series
            .iter()
            .position(|p| p.retrained)
            .unwrap_or(series.len()),
        max_exact_residual: max_exact,
        max_data_dependent_bound: max_bound,
        batch_series: batches.points,
        series,
    })
}

/// The batches of a run ([`time_batches`]).
struct BatchTimes {
    /// Each batch, in order.
    points: Vec<BatchPoint>,
    /// Batches whose step was not pass-free alone.
    not_pass_free: usize,
}

impl BatchTimes {
    /// The q-quantile of the per-row seconds; none without a batch.
    fn quantile(&self, q: f64) -> Option<f64> {
        let per_row: Vec<f64> = self.points.iter().map(|p| p.seconds_per_row).collect();
        (!per_row.is_empty()).then(|| quantile(&per_row, q))
    }
}

/// Nanoseconds this thread has spent waiting on a run queue (the second field of Linux's
/// `/proc/thread-self/schedstat`); none where that file is missing or unreadable.
fn run_queue_wait_nanos() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().nth(1)?.parse().ok()
}

/// Serves `ids` as batch requests of [`BATCH_ROWS`] rows each (a last, partial batch is
/// left out), timing each `Unlearner::remove`.
fn time_batches(
    unlearner: &mut Unlearner,
    ids: &[String],
) -> Result<BatchTimes, Box<dyn std::error::Error>> {
    let mut times = BatchTimes {
        points: Vec::new(),
        not_pass_free: 0,
    };
    for batch in ids.chunks_exact(BATCH_ROWS) {
        let events = unlearner.caches.events();
        // The wait is read inside the timed span (two reads of a small file, a few µs), so
        // that it is part of the wall time it explains.
        let started = Instant::now();
        let waited = run_queue_wait_nanos();
        let certificate = unlearner.remove(batch).map_err(|e| e.to_string());
        let waited = waited.zip(run_queue_wait_nanos());
        let seconds = started.elapsed().as_secs_f64();
        let certificate = certificate?;
        times.points.push(BatchPoint {
            seconds_per_row: seconds / BATCH_ROWS as f64,
            arithmetic_seconds: unlearner.arithmetic_time().as_secs_f64(),
            waiting_seconds: waited
                .map(|(before, after)| after.saturating_sub(before) as f64 * 1e-9),
            cache_events: unlearner.caches.events().since(events),
        });
        let bounds = &certificate.bounds;
        let pass_free = bounds.cached_hessian.iter().all(|&c| c)
            && !bounds.residual_measured.iter().any(|&m| m);
        if certificate.retrained || !pass_free {
            times.not_pass_free += 1;
        }
    }
    Ok(times)
}

/// A retraining from scratch on the unlearned model's remaining rows.
struct Retrain {
    /// Seconds it took.
    seconds: f64,
    /// Its first release.
    released: Vec<Vec<f64>>,
    /// max over class models of ‖w̃_unlearned − w̃_retrained‖ / ‖w̃_retrained‖.
    max_relative_difference: f64,
    /// max over class models of ‖w̃_unlearned − w̃_retrained‖.
    max_difference: f64,
    /// The retrained secret state.
    secret: SecretState,
}

/// Retrains `secret` (the unlearned model's) from zero with `seed`, in place: the rows are
/// not copied. The unlearned secret weights are kept for the comparison; under guo2020 the
/// retraining draws fresh objective noise, so the comparison re-solves with the unlearned
/// model's b: both sides then minimise the same objective on the same rows, and their
/// distance is the unlearning error alone.
fn retrain_in_place(
    mut secret: SecretState,
    hyper: &Hyperparameters,
    seed: u64,
) -> Result<Retrain, Box<dyn std::error::Error>> {
    let (unlearned, noise) = (secret.weights.clone(), secret.noise.clone());
    let started = Instant::now();
    let released = secret.train_from_scratch(hyper, NoiseKey::from_seed(seed), &mut || {})?;
    let seconds = started.elapsed().as_secs_f64();
    if secret.noise != noise {
        secret.noise = noise;
        secret.solve(hyper, false)?;
    }
    let (mut max_difference, mut max_relative_difference) = (0.0f64, 0.0f64);
    for (u, r) in unlearned.iter().zip(&secret.weights) {
        let difference = (u - r).norm();
        max_difference = max_difference.max(difference);
        max_relative_difference = max_relative_difference.max(difference / r.norm());
    }
    Ok(Retrain {
        seconds,
        released,
        max_relative_difference,
        max_difference,
        secret,
    })
}

/// The model's test metric (accuracy, or R² for regression); none without test rows.
fn test_score(model: &PublishedModel, test: &Dataset) -> Option<f64> {
    let truth = &test.targets()?.values;
    if truth.is_empty() {
        return None;
    }
    Some(
        match model.metrics(&model.scores_preprocessed(test), truth) {
            Metrics::Classification { accuracy, .. } => accuracy,
            Metrics::Regression { r2, .. } => r2,
        },
    )
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

/// Resets VmHWM to the current resident size (writing 5 to /proc/self/clear_refs, Linux ≥
/// 4.0), so that [`peak_rss_bytes`] measures from here on. Best effort: elsewhere the peak
/// stays the process's.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
