//! Training: the published model, the secret state, and the trainer that makes both.
//!
//! A trained [`Model`] has two halves kept strictly apart:
//! - [`PublishedModel`]: what may be released — weights, hyperparameters, the data-independent
//!   preprocessing, the label encoding, a digest of the weights;
//! - [`SecretState`]: what must never be released — the preprocessed training rows, the
//!   objective-perturbation noise vectors b (one per class model) and the noise key behind
//!   every draw. Whoever knows b (or the key) can undo the perturbation; whoever holds the
//!   rows holds the data a deletion request asks to forget.
//!
//! The intercept, when enabled, is an ordinary weight on a constant feature of value 1
//! appended after preprocessing (after clipping), and it is regularised like every other
//! weight: ‖w‖² includes it. Rows then have norm at most √(R² + 1) for clip norm R.
//! (scikit-learn's `LogisticRegression(fit_intercept=False)` on the same augmented matrix
//! minimises the same objective.)
//!
//! Multiclass is one-vs-rest: class k's model is a binary logistic model with targets +1
//! for rows of class k and −1 otherwise, and its own independent noise vector b_k.

use crate::bounds;
use crate::data::{Dataset, Declared, Preprocessing, TargetEncoding};
use crate::loss::{LossKind, Squared};
use crate::mechanism::Mechanism;
use crate::noise::{self, NoiseKey, NoiseSpec};
use crate::objective::{Objective, Regularization, Rows};
use crate::privacy::PrivacyTarget;
use crate::removal;
use crate::rows::TrainingRows;
use crate::solver::{self, NewtonOptions, SolveReport, SolverError};
use crate::transcript::{self, Transcript};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Name of the constant feature that carries the intercept.
pub const INTERCEPT_FEATURE: &str = "(intercept)";

/// Version of the published model's JSON format.
pub const MODEL_FORMAT_VERSION: u32 = 1;

/// Everything that determines a training run, other than the data and the noise draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hyperparameters {
    /// The loss ℓ.
    pub loss: LossKind,
    /// The regularisation parameter as given: Λ (total) or λ (per-sample).
    pub lambda: f64,
    /// How `lambda` becomes the total strength Λ.
    pub regularization: Regularization,
    /// Whether a constant feature carries an intercept.
    pub intercept: bool,
    /// The noise distribution of b.
    pub noise: NoiseSpec,
    /// The removal guarantee the noise was calibrated for, if the user stated one.
    pub privacy: Option<PrivacyTarget>,
    /// How removals are certified (and so where the noise goes: see [`Mechanism`]).
    pub mechanism: Mechanism,
    /// The solver's stopping rule.
    pub newton: NewtonOptions,
}

impl Hyperparameters {
    /// Checks the values a user can get wrong.
    pub fn validate(&self) -> Result<(), TrainError> {
        if !(self.lambda.is_finite() && self.lambda > 0.0) {
            return Err(TrainError::Invalid(format!(
                "lambda must be a finite number > 0 (got {}); the objective must be strongly convex",
                self.lambda
            )));
        }
        if !(self.noise.scale.is_finite() && self.noise.scale >= 0.0) {
            return Err(TrainError::Invalid(format!(
                "the noise scale must be finite and ≥ 0 (got {})",
                self.noise.scale
            )));
        }
        let tol = self.newton.tolerance;
        if !(tol.is_finite() && tol > 0.0) {
            return Err(TrainError::Invalid(format!(
                "the tolerance must be finite and > 0 (got {tol})"
            )));
        }
        Ok(())
    }
}

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A hyperparameter or the data is unusable.
    #[error("{0}")]
    Invalid(String),
    /// The solver failed (for class `class`, if multiclass).
    #[error("training {context}: {source}")]
    Solver {
        /// Which model failed.
        context: String,
        /// The solver's error.
        source: SolverError,
    },
}

/// The releasable half of a trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedModel {
    /// [`MODEL_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// Training hyperparameters.
    pub hyperparameters: Hyperparameters,
    /// Feature columns the model reads, in order (without the intercept).
    pub feature_names: Vec<String>,
    /// The data-independent preprocessing applied before the model.
    pub preprocessing: Preprocessing,
    /// The target column's name in the training file.
    pub target_column: String,
    /// How labels map to targets.
    pub target: TargetEncoding,
    /// Which of the classes and feature columns were declared rather than inferred from the
    /// rows (absent from older model.json: nothing declared, so every removal is checked).
    #[serde(default)]
    pub declared: Declared,
    /// Number of rows the current weights were trained (or unlearned) on.
    pub n_rows: usize,
    /// One weight vector per model (one for binary and regression, one per class for
    /// one-vs-rest), each with the intercept last when enabled.
    pub weights: Vec<Vec<f64>>,
    /// [`weights_digest`] of `weights`.
    pub digest: String,
    /// The grid every published number is an integer multiple of (lattice releases only).
    #[serde(default)]
    pub release_grid: Option<f64>,
    /// When removals reach the published model.
    #[serde(default)]
    pub publish: PublishPolicy,
}

/// The secret half: training rows, secret weights, noise, noise key, transcript, solver reports.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretState {
    /// The training rows: held (preprocessed, with the intercept column, ids and encoded
    /// targets), or external with what the unlearner keeps about them ([`crate::rows`]).
    pub rows: TrainingRows,
    /// The secret weights w̃, one vector per model: the minimisers of L_b that removals
    /// update. Under objective perturbation they are also what is published.
    pub weights: Vec<DVector<f64>>,
    /// One objective-noise vector b per model (zero under output perturbation).
    pub noise: Vec<DVector<f64>>,
    /// The secret key behind every noise draw and removed-id tag (proofs/noise_keys.md).
    pub key: NoiseKey,
    /// How many times the objective noise has been drawn (1 + retrainings with fresh noise).
    pub noise_draws: u64,
    /// The releases made since training and their joint charge (proofs/transcript_accounting.md).
    pub transcript: Transcript,
    /// The latest release: what regenerates it (`unlearn verify`).
    pub last_release: ReleaseRecord,
    /// Removal requests served since the latest release (the publish policy's counter).
    pub pending_requests: u64,
    /// The solver's report for each model at the last (re)training.
    pub training: Vec<SolveReport>,
    /// What each release has spent of the budget, in the mechanism's unit: under output
    /// perturbation one value, the current distance bound; under guo2020 one summed
    /// residual bound per model.
    pub spent: Vec<f64>,
    /// An upper bound on every training row's norm (with the intercept column), valid for
    /// any subset of the rows.
    pub row_norm_bound: f64,
    /// A guaranteed upper bound on ‖X‖₂ of the rows, computed (O(n·d²)) at the first
    /// removal that needs it: removing rows cannot raise λ_max(XᵀX), so it stays an upper
    /// bound for the remaining rows ever after.
    pub spectral_bound: Option<f64>,
}

/// What regenerates the latest release bit for bit: the secret weights it released, the ledger
/// head it was keyed with, and its index ([`SecretState::released_weights`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReleaseRecord {
    /// Digest of the newest ledger entry before the release ("" for the training release).
    pub head: String,
    /// The release's index (0 for the training release).
    pub index: u64,
    /// The secret weights it released, one vector per model.
    pub weights: Vec<Vec<f64>>,
    /// How the release's discrete Gaussian noise reads its keyed stream
    /// ([`noise::Sampler`]): absent from the JSON for the word sampler, which every record
    /// written before the field used, so those records regenerate bit for bit.
    #[serde(default, skip_serializing_if = "noise::Sampler::is_words")]
    pub sampler: noise::Sampler,
}

/// When the published model is refreshed: after every `every` removal requests (1: every
/// request). Fewer releases spend the transcript's budget on fewer shifts
/// (proofs/transcript_accounting.md); requests in between are served on the secret state and
/// reach the published model at the next release. Public: it does not depend on the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishPolicy {
    /// Requests per release (≥ 1).
    pub every: u64,
}

impl Default for PublishPolicy {
    fn default() -> Self {
        Self { every: 1 }
    }
}

/// A trained model: the published half and the secret half.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// What may be released.
    pub published: PublishedModel,
    /// What must stay secret.
    pub secret: SecretState,
}

/// SHA-256 (hex) of the published model's canonical serialisation — its compact JSON, fields
/// in declaration order, numbers in their shortest round-trip form — so it covers every
/// published field (target encoding, classes, feature names and scales, preprocessing,
/// privacy target, budget, grid, publish policy, weights…), not only the weights
/// ([`weights_digest`], which the ledger chains). The store binds it in its secret state and
/// writes it into `model.json`; a field edited, dropped or misspelled in the file parses to a
/// different model, hence a different digest.
pub fn model_digest(model: &PublishedModel) -> String {
    let json = serde_json::to_vec(model).expect("a published model serialises");
    crate::certificate::hex(&Sha256::digest(&json))
}

/// SHA-256 (hex) of the weights: each model's weights as little-endian f64, in order,
/// each preceded by its length as a little-endian u64.
pub fn weights_digest(weights: &[Vec<f64>]) -> String {
    let mut h = Sha256::new();
    for w in weights {
        h.update((w.len() as u64).to_le_bytes());
        crate::certificate::update_le_bytes(&mut h, w);
    }
    crate::certificate::hex(&h.finalize())
}

/// The ±1 targets of model `k`: the binary or regression targets themselves, or, for
/// one-vs-rest, +1 where the class index is k and −1 elsewhere.
pub fn model_targets(encoding: &TargetEncoding, values: &[f64], k: usize) -> Vec<f64> {
    match encoding {
        TargetEncoding::Multiclass { .. } => values
            .iter()
            .map(|&c| if c as usize == k { 1.0 } else { -1.0 })
            .collect(),
        _ => values.to_vec(),
    }
}

/// Number of separate weight vectors a target encoding needs.
pub fn model_count(encoding: &TargetEncoding) -> usize {
    match encoding {
        TargetEncoding::Multiclass { classes } => classes.len(),
        _ => 1,
    }
}

/// The inputs of [`train`] besides the hyperparameters.
#[derive(Debug, Clone)]
pub struct TrainingData {
    /// Rows after preprocessing (without the intercept column), with targets.
    pub data: Dataset,
    /// The preprocessing that was applied (recorded in the published model).
    pub preprocessing: Preprocessing,
    /// The target column's name.
    pub target_column: String,
}

/// Trains a model: draws the objective noise, minimises L_b for each model, and makes the
/// first release of the weights (see [`Mechanism`]).
pub fn train(
    input: TrainingData,
    hyper: &Hyperparameters,
    key: NoiseKey,
) -> Result<Model, TrainError> {
    train_with_progress(input, hyper, key, &mut || {})
}

/// [`train`], calling `on_model` each time one model is solved ([`model_count`] times: once
/// per class under one-vs-rest), for a progress display.
pub fn train_with_progress(
    input: TrainingData,
    hyper: &Hyperparameters,
    key: NoiseKey,
    on_model: &mut dyn FnMut(),
) -> Result<Model, TrainError> {
    hyper.validate()?;
    let TrainingData {
        data,
        preprocessing,
        target_column,
    } = input;
    let targets = data
        .targets()
        .ok_or_else(|| TrainError::Invalid("the training data has no target column".into()))?
        .clone();
    check_loss_matches_targets(hyper.loss, &targets.encoding)?;
    if data.n_rows() == 0 {
        return Err(TrainError::Invalid("the training data has no rows".into()));
    }
    let feature_names = data.feature_names().to_vec();
    let declared = data.declared();
    let design = if hyper.intercept {
        data.with_constant_feature(INTERCEPT_FEATURE, 1.0)
    } else {
        data
    };
    let row_norm_bound = removal::row_norm_bound(design.features(), design.n_features());
    let mut secret = SecretState {
        rows: TrainingRows::Held(design),
        weights: Vec::new(),
        noise: Vec::new(),
        key: key.clone(),
        noise_draws: 0,
        transcript: Transcript::default(),
        last_release: ReleaseRecord::default(),
        pending_requests: 0,
        training: Vec::new(),
        spent: Vec::new(),
        row_norm_bound,
        spectral_bound: None,
    };
    let weights = secret.train_from_scratch(hyper, key, on_model)?;
    let published = PublishedModel {
        format_version: MODEL_FORMAT_VERSION,
        hyperparameters: hyper.clone(),
        feature_names,
        preprocessing,
        target_column,
        target: targets.encoding,
        declared,
        n_rows: secret.n_rows(),
        digest: weights_digest(&weights),
        weights,
        release_grid: transcript::lattice_of(hyper).map(|l| l.grid()),
        publish: PublishPolicy::default(),
    };
    Ok(Model { published, secret })
}

impl SecretState {
    /// The held rows.
    ///
    /// # Panics
    /// On external rows ([`TrainingRows::External`]): the paths that read rows (training,
    /// exact steps, measured residuals, audits) check [`TrainingRows::held`] first.
    pub fn design(&self) -> &Dataset {
        self.rows
            .held()
            .expect("a path that reads the rows is reached only with held rows")
    }

    /// The held rows, to change ([`SecretState::design`]; same panic).
    pub fn design_mut(&mut self) -> &mut Dataset {
        self.rows
            .held_mut()
            .expect("a path that changes the rows is reached only with held rows")
    }

    /// n, the remaining training rows (held or external).
    pub fn n_rows(&self) -> usize {
        self.rows.n_rows()
    }

    /// d, the width of a design row (with the intercept column).
    pub fn n_features(&self) -> usize {
        self.rows.n_features()
    }

    /// How the labels are encoded.
    pub fn encoding(&self) -> &TargetEncoding {
        self.rows
            .encoding()
            .expect("a trained model's rows have targets")
    }

    /// The encoded targets of the held rows ([`SecretState::design`]; same panic).
    pub fn targets(&self) -> &crate::data::Targets {
        self.design().targets().expect("training rows have targets")
    }

    /// Number of weight vectors (one per class model).
    pub fn model_count(&self) -> usize {
        model_count(self.encoding())
    }

    /// Draws fresh objective noise b for every model: zero under output perturbation,
    /// the configured distribution under Guo et al.'s objective perturbation.
    pub fn draw_objective_noise(&mut self, hyper: &Hyperparameters) -> Result<(), TrainError> {
        let dim = self.n_features();
        let count = self.model_count();
        self.noise = match hyper.mechanism {
            Mechanism::OutputPerturbation => vec![DVector::zeros(dim); count],
            Mechanism::Guo2020 => {
                let mut rng = self.key.objective_rng(self.noise_draws);
                (0..count)
                    .map(|_| noise::sample(&hyper.noise, dim, &mut rng))
                    .collect::<Result<_, _>>()
                    .map_err(|e| TrainError::Invalid(e.to_string()))?
            }
        };
        self.noise_draws += 1;
        Ok(())
    }

    /// Trains from zero on the current rows as [`train`] does with `key` (and is what
    /// [`train`] runs): the counters and the transcript reset, fresh objective noise (zero
    /// under output perturbation), Newton from zero, then the first release (charged 0: it is
    /// the reference retrain itself), which is returned. Audits and `unlearn bench` retrain
    /// with it in place, without copying the rows. `on_model` is called after each model is
    /// solved, as in [`SecretState::solve_with_progress`].
    pub fn train_from_scratch(
        &mut self,
        hyper: &Hyperparameters,
        key: NoiseKey,
        on_model: &mut dyn FnMut(),
    ) -> Result<Vec<Vec<f64>>, TrainError> {
        self.key = key;
        self.noise_draws = 0;
        self.transcript = Transcript::default();
        self.pending_requests = 0;
        self.draw_objective_noise(hyper)?;
        self.solve_with_progress(hyper, false, on_model)?;
        self.release(hyper, "", 0.0)
    }

    /// Minimises L_b on the current rows for every model, from the current secret weights
    /// (`warm`) or from zero, and records the solver reports.
    pub fn solve(&mut self, hyper: &Hyperparameters, warm: bool) -> Result<(), TrainError> {
        self.solve_with_progress(hyper, warm, &mut || {})
    }

    /// [`SecretState::solve`], calling `on_model` after each model is solved.
    pub fn solve_with_progress(
        &mut self,
        hyper: &Hyperparameters,
        warm: bool,
        on_model: &mut dyn FnMut(),
    ) -> Result<(), TrainError> {
        let count = self.model_count();
        let mut weights = Vec::with_capacity(count);
        let mut training = Vec::with_capacity(count);
        for k in 0..count {
            let start = warm.then(|| self.weights[k].clone());
            let y = self.model_targets(k);
            let (w, report) =
                fit_from(hyper, self.design(), &y, &self.noise[k], start).map_err(|source| {
                    TrainError::Solver {
                        context: model_label(self.encoding(), k),
                        source,
                    }
                })?;
            weights.push(w);
            training.push(report);
            on_model();
        }
        self.weights = weights;
        self.training = training;
        Ok(())
    }

    /// The guaranteed upper bound on ‖X‖₂ of the current rows, computed once and kept.
    ///
    /// From [`removal::HESSIAN_FREE_DIMENSION`] features on, the Frobenius norm (one pass)
    /// stands in for the certified spectral bound, whose d×d Gram matrix would not fit.
    pub fn spectral_bound(&mut self) -> f64 {
        *self.spectral_bound.get_or_insert_with(|| {
            let design = self
                .rows
                .held()
                .expect("an external state's bound is set when seeded");
            let (features, dim) = (design.features(), design.n_features());
            if dim >= removal::HESSIAN_FREE_DIMENSION {
                bounds::frobenius_norm_upper_bound(features)
            } else {
                bounds::spectral_norm_upper_bound(features, dim)
            }
        })
    }

    /// For each model, an upper bound on the exact residual ‖∇L_b(w̃_k; D)‖ of the secret
    /// weights on the current rows ([`removal::residual_upper_bound`]).
    pub fn residual_bounds(&self, hyper: &Hyperparameters) -> Vec<f64> {
        let lambda = hyper
            .regularization
            .effective_lambda(hyper.lambda, self.n_rows());
        (0..self.model_count())
            .map(|k| {
                let y = self.model_targets(k);
                let objective = self.objective(hyper, k, &y, lambda);
                removal::residual_upper_bound(&objective, &self.weights[k], self.row_norm_bound)
            })
            .collect()
    }

    /// Model `k`'s objective L_b(w) = Σ ℓ(wᵀx_i, y_i) + (Λ/2)‖w‖² + b_kᵀw on the held rows,
    /// with Λ = `lambda` and `targets` = [`SecretState::model_targets`]`(k)` (the caller owns
    /// them: the objective borrows them).
    ///
    /// # Panics
    /// On external rows (there are none to sum).
    pub fn objective<'a>(
        &'a self,
        hyper: &'a Hyperparameters,
        k: usize,
        targets: &'a [f64],
        lambda: f64,
    ) -> Objective<'a, LossKind> {
        let design = self.design();
        Objective {
            loss: &hyper.loss,
            rows: Rows {
                features: design.features(),
                targets,
                dim: design.n_features(),
            },
            lambda,
            noise: &self.noise[k],
        }
    }

    /// The ±1 (or real) targets of model `k` on the current rows.
    pub fn model_targets(&self, k: usize) -> Vec<f64> {
        let t = self.targets();
        model_targets(&t.encoding, &t.values, k)
    }

    /// Publishes the current secret weights as the next release, keyed after the ledger head
    /// `head` and charged `charge` in the transcript (proofs/transcript_accounting.md);
    /// returns the published weights and records what regenerates them.
    pub fn release(
        &mut self,
        hyper: &Hyperparameters,
        head: &str,
        charge: f64,
    ) -> Result<Vec<Vec<f64>>, TrainError> {
        let record = ReleaseRecord {
            head: head.to_string(),
            index: self.transcript.releases,
            weights: self.weights.iter().map(|w| w.as_slice().to_vec()).collect(),
            // Only a lattice release draws discrete Gaussian noise; the others keep the
            // field absent, as before it existed.
            sampler: if transcript::lattice_of(hyper).is_some() {
                noise::Sampler::NEW
            } else {
                noise::Sampler::Words
            },
        };
        let released = self.released_weights(hyper, &record)?;
        self.transcript = self.transcript.after(charge);
        self.last_release = record;
        self.pending_requests = 0;
        Ok(released)
    }

    /// The published weights of a release: the secret weights themselves under objective
    /// perturbation or without noise (σ = 0, not certified); under output perturbation with
    /// Gaussian noise, g·(round(w̃/g) + Z) with Z exact discrete Gaussian on the public grid g
    /// (proofs/lattice_release.md); with Gamma-norm noise, w̃ + ξ in floating point (not
    /// certified). The noise is drawn from [`NoiseKey::release_rng`] of the record, the
    /// lattice noise with the record's [`noise::Sampler`], so the same record always gives
    /// the same bits.
    pub fn released_weights(
        &self,
        hyper: &Hyperparameters,
        record: &ReleaseRecord,
    ) -> Result<Vec<Vec<f64>>, TrainError> {
        let secret: Vec<DVector<f64>> = record
            .weights
            .iter()
            .map(|w| DVector::from_column_slice(w))
            .collect();
        let invalid = |e: &dyn std::fmt::Display| TrainError::Invalid(e.to_string());
        if hyper.mechanism == Mechanism::Guo2020 || hyper.noise.is_zero() {
            return Ok(record.weights.clone());
        }
        let mut rng = self.key.release_rng(&record.head, record.index, &secret);
        match transcript::lattice_of(hyper) {
            Some(lattice) => secret
                .iter()
                .map(|w| lattice.release_with(record.sampler, w.as_slice(), &mut rng))
                .collect::<Result<_, _>>()
                .map_err(|e| invalid(&e)),
            None => {
                let dim = self.n_features();
                secret
                    .iter()
                    .map(|w| {
                        noise::sample(&hyper.noise, dim, &mut rng)
                            .map(|xi| (w + xi).as_slice().to_vec())
                    })
                    .collect::<Result<_, _>>()
                    .map_err(|e| invalid(&e))
            }
        }
    }
}

/// Minimises L_b on `design` with targets `y` and noise `b` from zero: Newton's method for
/// the logistic loss; for the squared loss, the closed form polished by Newton steps (which,
/// for a quadratic, are iterative refinement of the linear solve).
pub fn fit(
    hyper: &Hyperparameters,
    design: &Dataset,
    y: &[f64],
    b: &DVector<f64>,
) -> Result<(DVector<f64>, SolveReport), SolverError> {
    fit_from(hyper, design, y, b, None)
}

/// [`fit`] from a given starting point (a warm start, for retraining after removals).
pub fn fit_from(
    hyper: &Hyperparameters,
    design: &Dataset,
    y: &[f64],
    b: &DVector<f64>,
    start: Option<DVector<f64>>,
) -> Result<(DVector<f64>, SolveReport), SolverError> {
    let rows = Rows {
        features: design.features(),
        targets: y,
        dim: design.n_features(),
    };
    let lambda = hyper
        .regularization
        .effective_lambda(hyper.lambda, rows.len());
    let objective = Objective {
        loss: &hyper.loss,
        rows,
        lambda,
        noise: b,
    };
    // The closed form forms XᵀX (d×d); with Hessian-free steps, Newton starts from zero.
    let hessian_free = hyper.newton.step_solver.uses_conjugate_gradient(rows.dim);
    let (start, closed_form) = match (start, hyper.loss) {
        (Some(w), _) => (w, false),
        (None, LossKind::Logistic) => (DVector::zeros(rows.dim), false),
        (None, LossKind::Squared) if hessian_free => (DVector::zeros(rows.dim), false),
        (None, LossKind::Squared) => {
            let quadratic = Objective {
                loss: &Squared,
                rows,
                lambda,
                noise: b,
            };
            (solver::ridge_closed_form(&quadratic)?.0, true)
        }
    };
    let (w, mut report) = solver::newton(&objective, start, &hyper.newton)?;
    if closed_form {
        report.iterations += 1; // the closed-form solve
    }
    Ok((w, report))
}

fn model_label(encoding: &TargetEncoding, k: usize) -> String {
    match encoding {
        TargetEncoding::Multiclass { classes } => {
            format!("the one-vs-rest model of class '{}'", classes[k])
        }
        _ => "the model".to_string(),
    }
}

pub(crate) fn check_loss_matches_targets(
    loss: LossKind,
    encoding: &TargetEncoding,
) -> Result<(), TrainError> {
    let ok = match encoding {
        TargetEncoding::Regression => loss == LossKind::Squared,
        TargetEncoding::Binary { .. } | TargetEncoding::Multiclass { .. } => {
            loss == LossKind::Logistic
        }
    };
    if ok {
        Ok(())
    } else {
        Err(TrainError::Invalid(format!(
            "loss '{loss}' does not fit a {} target: use --loss logistic for class labels and --loss squared for real values",
            match encoding {
                TargetEncoding::Regression => "real-valued",
                _ => "class-label",
            }
        )))
    }
}
