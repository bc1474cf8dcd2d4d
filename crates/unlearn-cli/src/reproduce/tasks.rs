//! The datasets of the reproduction, each split into training and held-out rows by
//! position (a split that does not look at the values), with data-independent
//! preprocessing, and the hyperparameters every experiment shares.

use super::ReproduceError;
use unlearn::data::{self, Dataset, Preprocessing, TargetSpec, csv::CsvOptions};
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::model::{self, Hyperparameters, Model, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::noise::{NoiseFamily, NoiseSpec};
use unlearn::objective::Regularization;
use unlearn::predict::Metrics;
use unlearn::privacy::{self, GaussianCalibration};
use unlearn::solver::NewtonOptions;
use unlearn::synthetic::{SyntheticSpec, generate};

/// ε of every certificate in the reproduction (Guo et al.'s MNIST setting).
pub const EPSILON: f64 = 1.0;

/// δ of every certificate in the reproduction (Guo et al.'s MNIST setting).
pub const DELTA: f64 = 1e-4;

/// Every `HOLDOUT_EVERY`-th row of the embedded datasets (by position in the file, from
/// the first) is held out for testing.
pub const HOLDOUT_EVERY: usize = 5;

/// One classification task: training and test rows after preprocessing.
#[derive(Debug, Clone)]
pub struct Task {
    /// Short name, used in file names (`digits`, `synthetic`, …).
    pub slug: &'static str,
    /// What the task is, for titles and tables.
    pub title: String,
    /// Training rows (preprocessed, with targets).
    pub train: Dataset,
    /// Held-out rows (preprocessed the same way).
    pub test: Dataset,
    /// The preprocessing applied (recorded in the models; its clip norm enters the
    /// worst-case bound).
    pub preprocessing: Preprocessing,
    /// Whether the models carry an intercept.
    pub intercept: bool,
}

impl Task {
    /// Digits 3 vs 8 from `builtin:digits` (8 is the positive class), scaled by the
    /// documented constant and clipped to norm 1; every fifth row held out.
    pub fn digits_3_vs_8() -> Result<Self, ReproduceError> {
        builtin_task(
            "digits",
            "digits 3 vs 8",
            "digits",
            Some((&["3", "8"], "8")),
            None,
        )
    }

    /// All ten digits of `builtin:digits`, one-vs-rest.
    pub fn digits_all() -> Result<Self, ReproduceError> {
        builtin_task(
            "digits-ovr",
            "digits 0–9 (one-vs-rest)",
            "digits",
            None,
            None,
        )
    }

    /// `builtin:breast_cancer`, malignant as the positive class.
    pub fn breast_cancer() -> Result<Self, ReproduceError> {
        builtin_task(
            "breast-cancer",
            "breast cancer",
            "breast_cancer",
            None,
            Some("malignant"),
        )
    }

    /// Seeded synthetic data at MNIST 3-vs-8 scale, drawn with the key [`unlearn::synthetic::data_seed`]`(seed)` ([`unlearn::synthetic`]: rows of norm
    /// ≤ 1, labels from a random hyperplane with 10 % flipped): `rows` training rows and
    /// `rows / 5` test rows after them, `features` columns, no intercept (the hyperplane
    /// passes through the origin). The clip norm 1 is recorded (clipping changes nothing:
    /// the rows already have norm ≤ 1) so that the worst-case bound applies.
    pub fn synthetic(rows: usize, features: usize, seed: u64) -> Result<Self, ReproduceError> {
        let mut all = generate(&SyntheticSpec {
            rows: rows + rows / 5,
            features,
            flip: 0.1,
            regression: false,
            seed: unlearn::synthetic::data_seed(seed),
        });
        let preprocessing = Preprocessing {
            clip_norm: Some(1.0),
            ..Preprocessing::default()
        };
        preprocessing.apply(&mut all)?;
        let mut train = all.clone();
        train.retain_rows(|i| i < rows);
        let mut test = all;
        test.retain_rows(|i| i >= rows);
        Ok(Self {
            slug: "synthetic",
            title: format!("synthetic n = {rows}, d = {features}"),
            train,
            test,
            preprocessing,
            intercept: false,
        })
    }

    /// Trains on the task's training rows.
    pub fn train(&self, hyper: &Hyperparameters, seed: u64) -> Result<Model, ReproduceError> {
        let input = TrainingData {
            data: self.train.clone(),
            preprocessing: self.preprocessing.clone(),
            target_column: String::new(),
        };
        Ok(model::train(input, hyper, NoiseKey::from_seed(seed))?)
    }

    /// Test accuracy of a model's published weights on the held-out rows.
    pub fn accuracy(&self, model: &Model) -> f64 {
        let published = &model.published;
        let truth = &self
            .test
            .targets()
            .expect("every task's rows have targets")
            .values;
        match published.metrics(&published.scores_preprocessed(&self.test), truth) {
            Metrics::Classification { accuracy, .. } => accuracy,
            Metrics::Regression { .. } => unreachable!("every task is a classification"),
        }
    }

    /// `count` removal requests spread evenly over the training rows (every k-th id by
    /// position, k = ⌊n / count⌋), in that order.
    pub fn removal_ids(&self, count: usize) -> Vec<String> {
        let n = self.train.n_rows();
        let count = count.min(n.saturating_sub(1));
        let stride = (n / count.max(1)).max(1);
        self.train
            .ids()
            .iter()
            .step_by(stride)
            .take(count)
            .cloned()
            .collect()
    }

    /// Training rows.
    pub fn n_train(&self) -> usize {
        self.train.n_rows()
    }
}

/// Loads `builtin:NAME`, keeps `labels` (re-encoding with the given positive class) or
/// uses `positive` as the binary positive class, applies the recommended preprocessing
/// and holds out every [`HOLDOUT_EVERY`]-th row.
fn builtin_task(
    slug: &'static str,
    title: &str,
    name: &str,
    labels: Option<(&[&str], &str)>,
    positive: Option<&str>,
) -> Result<Task, ReproduceError> {
    let source = format!("builtin:{name}");
    let options = CsvOptions {
        target: None,
        id: None,
        subject: None,
        spec: TargetSpec::Classify {
            positive: positive.map(String::from),
        },
        features: None,
        ..CsvOptions::default()
    };
    let mut all = data::load_data(&source, &options)?;
    if let Some((keep, positive)) = labels {
        let keep: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
        all = data::select::keep_labels(all, &source, &keep, Some(positive))?;
    }
    let preprocessing = data::builtin::builtin(name)?.recommended_preprocessing();
    preprocessing.apply(&mut all)?;
    let mut train = all.clone();
    train.retain_rows(|i| i % HOLDOUT_EVERY != 0);
    let mut test = all;
    test.retain_rows(|i| i % HOLDOUT_EVERY == 0);
    Ok(Task {
        slug,
        title: title.to_string(),
        train,
        test,
        preprocessing,
        intercept: true,
    })
}

/// The hyperparameters of a logistic model with per-sample regularisation λ (Guo et al.'s
/// convention: Λ = λn) under `mechanism` with Gaussian noise of scale `sigma`, certified
/// for (ε, δ) = ([`EPSILON`], [`DELTA`]) with the budget that σ affords: σε/c (Guo et al.'s
/// closed form, a gradient-residual budget) under guo2020, the analytic Gaussian
/// mechanism's weight-distance budget under output perturbation. σ = 0 trains without noise
/// and without a privacy target.
pub fn hyperparameters(
    mechanism: Mechanism,
    lambda: f64,
    sigma: f64,
    intercept: bool,
) -> Result<Hyperparameters, ReproduceError> {
    let noise = NoiseSpec {
        family: NoiseFamily::Gaussian,
        scale: sigma,
    };
    let calibration = GaussianCalibration::default_for(mechanism);
    let privacy = if sigma > 0.0 {
        Some(privacy::target_for_scale(
            noise,
            EPSILON,
            Some(DELTA),
            calibration,
        )?)
    } else {
        None
    };
    Ok(Hyperparameters {
        loss: LossKind::Logistic,
        lambda,
        regularization: Regularization::PerSample,
        intercept,
        noise,
        privacy,
        mechanism,
        newton: NewtonOptions::default(),
    })
}

/// Output-perturbation hyperparameters with σ calibrated (analytic Gaussian mechanism) for
/// (ε, δ) = ([`EPSILON`], [`DELTA`]) and a weight-distance budget ε′.
pub fn output_perturbation_for_budget(
    lambda: f64,
    budget: f64,
    intercept: bool,
) -> Result<Hyperparameters, ReproduceError> {
    let (noise, _) = privacy::calibrate(
        NoiseFamily::Gaussian,
        EPSILON,
        Some(DELTA),
        budget,
        GaussianCalibration::Lattice,
    )?;
    hyperparameters(
        Mechanism::OutputPerturbation,
        lambda,
        noise.scale,
        intercept,
    )
}
