//! Predictions, class probabilities and evaluation metrics of a model on new rows.
//!
//! New rows go through the model's recorded preprocessing (the same constants and clip
//! norm as in training), get the intercept feature if the model has one, and are scored
//! with each weight vector: a binary model predicts the positive label when wᵀx ≥ 0, a
//! one-vs-rest model the class with the largest score, a regression model wᵀx.
//!
//! All of it is done by a [`Predictor`], a view of what prediction needs; it comes from a
//! [`PublishedModel`] ([`PublishedModel::predictor`]) or from the JSON `unlearn export`
//! prints ([`ExportedModel`], read back without a store), so a service or a script that only
//! holds the export predicts with the same code.

use crate::data::{DataError, Dataset, Preprocessing, TargetEncoding};
use crate::linalg;
use crate::loss::LossKind;
use crate::model::{INTERCEPT_FEATURE, PublishedModel, weights_digest};
use crate::noise::NoiseSpec;
use crate::objective::Regularization;
use crate::privacy::PrivacyTarget;
use serde::{Deserialize, Serialize};

/// One prediction: a label for classification, a value for regression.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// A class label of the training file.
    Label(String),
    /// A regression value.
    Value(f64),
}

impl std::fmt::Display for Prediction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Prediction::Label(l) => f.write_str(l),
            Prediction::Value(v) => write!(f, "{v}"),
        }
    }
}

/// Evaluation metrics: accuracy for classification, RMSE and R² for regression.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Metrics {
    /// Fraction of rows whose predicted label equals the true label.
    Classification {
        /// Number of rows evaluated.
        rows: usize,
        /// Accuracy in [0, 1].
        accuracy: f64,
    },
    /// Root mean squared error and coefficient of determination.
    Regression {
        /// Number of rows evaluated.
        rows: usize,
        /// √(mean (ŷ − y)²).
        rmse: f64,
        /// 1 − Σ(ŷ − y)² / Σ(y − ȳ)².
        r2: f64,
    },
}

/// An error predicting: bad rows, a question the model cannot answer, or an exported model
/// that does not hold together.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// The rows could not be prepared (preprocessing).
    #[error(transparent)]
    Data(#[from] DataError),
    /// Class probabilities of a model that has none.
    #[error(
        "class probabilities need a logistic model; this model ({loss} loss) predicts a \
         real-valued target, so ask for predictions instead"
    )]
    NoProbabilities {
        /// The model's loss.
        loss: LossKind,
    },
    /// An exported model whose parts do not fit together.
    #[error("the exported model is inconsistent: {0}; export it again from its store")]
    Export(String),
}

/// What prediction needs of a model, borrowed: features, preprocessing, encoding, weights.
#[derive(Debug, Clone, Copy)]
pub struct Predictor<'a> {
    /// Feature columns the model reads, in order (without the intercept).
    pub feature_names: &'a [String],
    /// The preprocessing applied before the model.
    pub preprocessing: &'a Preprocessing,
    /// How labels map to targets.
    pub target: &'a TargetEncoding,
    /// The loss the model was trained with.
    pub loss: LossKind,
    /// Whether each weight vector ends with the intercept.
    pub intercept: bool,
    /// One weight vector per model (one for binary and regression, one per class for
    /// one-vs-rest).
    pub weights: &'a [Vec<f64>],
}

impl Predictor<'_> {
    /// Scores of already-preprocessed rows (without the intercept column): one vector of
    /// n scores per weight vector.
    pub fn scores_preprocessed(&self, data: &Dataset) -> Vec<Vec<f64>> {
        if self.intercept {
            self.scores_design(&data.with_constant_feature(INTERCEPT_FEATURE, 1.0))
        } else {
            self.scores_design(data)
        }
    }

    /// Scores of design rows, which already carry the intercept column when the model has
    /// one (the secret training rows, for instance).
    pub fn scores_design(&self, design: &Dataset) -> Vec<Vec<f64>> {
        self.weights
            .iter()
            .map(|w| linalg::margins(design.features(), &nalgebra::DVector::from_column_slice(w)))
            .collect()
    }

    /// Raw rows (whose features are the model's `feature_names`, in order) preprocessed.
    fn prepare(&self, raw: &Dataset) -> Result<Dataset, DataError> {
        let mut data = raw.clone();
        self.preprocessing.apply(&mut data)?;
        Ok(data)
    }

    /// Applies the model's preprocessing to raw rows and returns one prediction per row.
    pub fn predict(&self, raw: &Dataset) -> Result<Vec<Prediction>, DataError> {
        Ok(self.predict_preprocessed(&self.prepare(raw)?))
    }

    /// Predictions for rows that are already preprocessed.
    pub fn predict_preprocessed(&self, data: &Dataset) -> Vec<Prediction> {
        let scores = self.scores_preprocessed(data);
        (0..data.n_rows())
            .map(|i| match self.target {
                TargetEncoding::Regression => Prediction::Value(scores[0][i]),
                TargetEncoding::Binary { positive, negative } => Prediction::Label(
                    if scores[0][i] >= 0.0 {
                        positive
                    } else {
                        negative
                    }
                    .clone(),
                ),
                TargetEncoding::Multiclass { classes } => {
                    Prediction::Label(classes[argmax(scores.iter().map(|s| s[i]))].clone())
                }
            })
            .collect()
    }

    /// Class probabilities of raw rows, one vector per row in [`TargetEncoding::classes`] order
    /// (logistic models only).
    ///
    /// Binary: P(+1 | x) = σ(wᵀx), the logistic model's own probability, and 1 − σ(wᵀx).
    /// One-vs-rest: each class model's σ(w_kᵀx), normalised to sum to 1 (scikit-learn's
    /// one-vs-rest `predict_proba`): a ranking of the classes, not a calibrated multinomial
    /// probability. The largest probability is the predicted class, as in
    /// [`Predictor::predict`] (σ is increasing).
    pub fn probabilities(&self, raw: &Dataset) -> Result<Vec<Vec<f64>>, PredictError> {
        if self.loss != LossKind::Logistic {
            return Err(PredictError::NoProbabilities { loss: self.loss });
        }
        let scores = self.scores_preprocessed(&self.prepare(raw)?);
        Ok((0..raw.n_rows())
            .map(|i| match self.target {
                TargetEncoding::Multiclass { .. } => {
                    let p: Vec<f64> = scores.iter().map(|s| sigmoid(s[i])).collect();
                    let total: f64 = p.iter().sum();
                    p.iter().map(|v| v / total).collect()
                }
                _ => {
                    let positive = sigmoid(scores[0][i]);
                    vec![sigmoid(-scores[0][i]), positive]
                }
            })
            .collect())
    }

    /// Metrics on raw rows that carry targets encoded with this model's encoding.
    pub fn evaluate(&self, raw: &Dataset) -> Result<Metrics, DataError> {
        let data = self.prepare(raw)?;
        let truth = data
            .targets()
            .ok_or_else(|| DataError::Shape("the evaluation data has no target column".into()))?;
        Ok(self.metrics(&self.scores_preprocessed(&data), &truth.values))
    }

    /// Metrics of scores (one vector per weight vector) against encoded targets.
    pub fn metrics(&self, scores: &[Vec<f64>], truth: &[f64]) -> Metrics {
        let n = truth.len();
        match self.target {
            TargetEncoding::Regression => {
                let mean = truth.iter().sum::<f64>() / n as f64;
                let sse: f64 = scores[0]
                    .iter()
                    .zip(truth)
                    .map(|(p, y)| (p - y).powi(2))
                    .sum();
                let sst: f64 = truth.iter().map(|y| (y - mean).powi(2)).sum();
                Metrics::Regression {
                    rows: n,
                    rmse: (sse / n as f64).sqrt(),
                    r2: 1.0 - sse / sst,
                }
            }
            TargetEncoding::Binary { .. } => {
                let correct = scores[0]
                    .iter()
                    .zip(truth)
                    .filter(|(s, y)| (**s >= 0.0) == (**y > 0.0))
                    .count();
                Metrics::Classification {
                    rows: n,
                    accuracy: correct as f64 / n as f64,
                }
            }
            TargetEncoding::Multiclass { .. } => {
                let correct = (0..n)
                    .filter(|&i| argmax(scores.iter().map(|s| s[i])) == truth[i] as usize)
                    .count();
                Metrics::Classification {
                    rows: n,
                    accuracy: correct as f64 / n as f64,
                }
            }
        }
    }
}

/// σ(s) = 1/(1 + e^(−s)), without overflow for large |s|.
fn sigmoid(s: f64) -> f64 {
    if s >= 0.0 {
        1.0 / (1.0 + (-s).exp())
    } else {
        let e = s.exp();
        e / (1.0 + e)
    }
}

impl PublishedModel {
    /// The published model as a [`Predictor`].
    pub fn predictor(&self) -> Predictor<'_> {
        Predictor {
            feature_names: &self.feature_names,
            preprocessing: &self.preprocessing,
            target: &self.target,
            loss: self.hyperparameters.loss,
            intercept: self.hyperparameters.intercept,
            weights: &self.weights,
        }
    }

    /// [`Predictor::scores_preprocessed`] of this model.
    pub fn scores_preprocessed(&self, data: &Dataset) -> Vec<Vec<f64>> {
        self.predictor().scores_preprocessed(data)
    }

    /// [`Predictor::predict`] of this model.
    pub fn predict(&self, raw: &Dataset) -> Result<Vec<Prediction>, DataError> {
        self.predictor().predict(raw)
    }

    /// [`Predictor::predict_preprocessed`] of this model.
    pub fn predict_preprocessed(&self, data: &Dataset) -> Vec<Prediction> {
        self.predictor().predict_preprocessed(data)
    }

    /// [`Predictor::evaluate`] of this model.
    pub fn evaluate(&self, raw: &Dataset) -> Result<Metrics, DataError> {
        self.predictor().evaluate(raw)
    }

    /// [`Predictor::scores_design`] of this model.
    pub fn scores_design(&self, design: &Dataset) -> Vec<Vec<f64>> {
        self.predictor().scores_design(design)
    }

    /// [`Predictor::metrics`] of this model.
    pub fn metrics(&self, scores: &[Vec<f64>], truth: &[f64]) -> Metrics {
        self.predictor().metrics(scores, truth)
    }
}

/// Weights in the export format: one vector, or one per class (one-vs-rest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ExportedWeights {
    /// One vector per class.
    PerClass(Vec<Vec<f64>>),
    /// One vector (binary or regression).
    One(Vec<f64>),
}

/// Intercepts in the export format: one, or one per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ExportedIntercept {
    /// One per class.
    PerClass(Vec<f64>),
    /// One (binary or regression).
    One(f64),
}

/// The published model as `unlearn export` prints it: weights without the intercept, the
/// intercept apart, the classes, the hyperparameters, preprocessing constants and feature
/// names — only published values, no rows and no key. Read back (unknown keys refused, so
/// a misspelled key is an error rather than a silently missing value), it predicts
/// ([`ExportedModel::import`], then [`ImportedModel::predictor`]) without the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedModel {
    /// The weights without the intercept.
    pub weights: ExportedWeights,
    /// The intercept(s), if the model has them.
    pub intercept: Option<ExportedIntercept>,
    /// The classes: `[negative, positive]` for a binary model, the one-vs-rest classes, or
    /// none for regression.
    pub classes: Option<Vec<String>>,
    /// The loss.
    pub loss: LossKind,
    /// λ as given at training.
    pub lambda: f64,
    /// How λ scales with n.
    pub regularization: Regularization,
    /// The release noise.
    pub noise: NoiseSpec,
    /// The privacy target the noise was calibrated for, if any.
    pub privacy: Option<PrivacyTarget>,
    /// Feature columns the model reads, in order.
    pub feature_names: Vec<String>,
    /// The preprocessing applied before the model.
    pub preprocessing: Preprocessing,
    /// The target column's name in the training file.
    pub target_column: String,
    /// How labels map to targets.
    pub target: TargetEncoding,
    /// Rows the weights were trained (or unlearned) on.
    pub n_rows: usize,
    /// The published model's digest (see `unlearn verify`).
    pub digest: String,
    /// [`weights_digest`] of the full weight vectors (intercept last), checked when the
    /// export is read back.
    pub weights_digest: String,
    /// The release grid, if the releases are on a lattice.
    pub release_grid: Option<f64>,
    /// Removal requests per release.
    pub publish_every: u64,
}

impl From<&PublishedModel> for ExportedModel {
    fn from(model: &PublishedModel) -> Self {
        let intercept = model.hyperparameters.intercept;
        let split = |w: &Vec<f64>| -> (Vec<f64>, Option<f64>) {
            match w.split_last() {
                Some((last, rest)) if intercept => (rest.to_vec(), Some(*last)),
                _ => (w.clone(), None),
            }
        };
        let parts: Vec<(Vec<f64>, Option<f64>)> = model.weights.iter().map(split).collect();
        let (weights, intercepts) = match &model.target {
            TargetEncoding::Multiclass { .. } => (
                ExportedWeights::PerClass(parts.iter().map(|p| p.0.clone()).collect()),
                intercept.then(|| {
                    ExportedIntercept::PerClass(parts.iter().filter_map(|p| p.1).collect())
                }),
            ),
            _ => (
                ExportedWeights::One(parts[0].0.clone()),
                parts[0].1.map(ExportedIntercept::One),
            ),
        };
        let h = &model.hyperparameters;
        Self {
            weights,
            intercept: intercepts,
            classes: model.target.classes(),
            loss: h.loss,
            lambda: h.lambda,
            regularization: h.regularization,
            noise: h.noise,
            privacy: h.privacy,
            feature_names: model.feature_names.clone(),
            preprocessing: model.preprocessing.clone(),
            target_column: model.target_column.clone(),
            target: model.target.clone(),
            n_rows: model.n_rows,
            digest: model.digest.clone(),
            weights_digest: weights_digest(&model.weights),
            release_grid: model.release_grid,
            publish_every: model.publish.every,
        }
    }
}

/// An [`ExportedModel`] checked and put back in the published layout (intercept last in
/// each weight vector), ready to predict.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedModel {
    export: ExportedModel,
    weights: Vec<Vec<f64>>,
}

impl ExportedModel {
    /// Checks that the parts fit together — one weight vector per class model, each as long
    /// as the feature list, intercepts present for all or none, every number finite, the
    /// classes those of the encoding, the preprocessing valid and [`weights_digest`]
    /// matching — and returns the model ready to predict.
    pub fn import(self) -> Result<ImportedModel, PredictError> {
        let bad = |m: String| PredictError::Export(m);
        let d = self.feature_names.len();
        let vectors: Vec<Vec<f64>> = match (&self.weights, &self.target) {
            (ExportedWeights::PerClass(w), TargetEncoding::Multiclass { classes }) => {
                if w.len() != classes.len() {
                    return Err(bad(format!(
                        "{} weight vectors for {} classes",
                        w.len(),
                        classes.len()
                    )));
                }
                w.clone()
            }
            (
                ExportedWeights::One(w),
                TargetEncoding::Binary { .. } | TargetEncoding::Regression,
            ) => {
                vec![w.clone()]
            }
            _ => {
                return Err(bad(
                    "the weights' shape (one vector or one per class) does not fit the target"
                        .into(),
                ));
            }
        };
        let intercepts: Option<Vec<f64>> = match &self.intercept {
            None => None,
            Some(ExportedIntercept::One(b)) => Some(vec![*b]),
            Some(ExportedIntercept::PerClass(b)) => Some(b.clone()),
        };
        if let Some(b) = &intercepts
            && b.len() != vectors.len()
        {
            return Err(bad(format!(
                "{} intercepts for {} weight vectors",
                b.len(),
                vectors.len()
            )));
        }
        let mut weights = Vec::with_capacity(vectors.len());
        for (k, mut w) in vectors.into_iter().enumerate() {
            if w.len() != d {
                return Err(bad(format!(
                    "weight vector {k} has {} values for {d} features",
                    w.len()
                )));
            }
            w.extend(intercepts.as_ref().map(|b| b[k]));
            if w.iter().any(|v| !v.is_finite()) {
                return Err(bad(format!(
                    "weight vector {k} has a value that is not finite"
                )));
            }
            weights.push(w);
        }
        if self.classes != self.target.classes() {
            return Err(bad("the classes do not match the target encoding".into()));
        }
        self.preprocessing.validate(&self.feature_names)?;
        if weights_digest(&weights) != self.weights_digest {
            return Err(bad(
                "the weights do not match their digest (weights_digest): the file was changed"
                    .into(),
            ));
        }
        Ok(ImportedModel {
            export: self,
            weights,
        })
    }
}

impl ImportedModel {
    /// The exported fields.
    pub fn export(&self) -> &ExportedModel {
        &self.export
    }

    /// The model as a [`Predictor`].
    pub fn predictor(&self) -> Predictor<'_> {
        Predictor {
            feature_names: &self.export.feature_names,
            preprocessing: &self.export.preprocessing,
            target: &self.export.target,
            loss: self.export.loss,
            intercept: self.export.intercept.is_some(),
            weights: &self.weights,
        }
    }
}

/// Index of the largest value (the first one on ties).
fn argmax(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (k, v) in values.enumerate() {
        if v > best.1 {
            best = (k, v);
        }
    }
    best.0
}
