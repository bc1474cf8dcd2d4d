//! Predictions and evaluation metrics of a published model on new rows.
//!
//! New rows go through the model's recorded preprocessing (the same constants and clip
//! norm as in training), get the intercept feature if the model has one, and are scored
//! with each weight vector: a binary model predicts the positive label when wᵀx ≥ 0, a
//! one-vs-rest model the class with the largest score, a regression model wᵀx.

use crate::data::{DataError, Dataset, TargetEncoding};
use crate::linalg;
use crate::model::{INTERCEPT_FEATURE, PublishedModel};
use serde::Serialize;

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

impl PublishedModel {
    /// Scores of already-preprocessed rows (without the intercept column): one vector of
    /// n scores per weight vector.
    pub fn scores_preprocessed(&self, data: &Dataset) -> Vec<Vec<f64>> {
        if self.hyperparameters.intercept {
            self.scores_design(&data.with_constant_feature(INTERCEPT_FEATURE, 1.0))
        } else {
            self.scores_design(data)
        }
    }

    /// Applies the model's preprocessing to raw rows (whose features are the model's
    /// `feature_names`, in order) and returns one prediction per row.
    pub fn predict(&self, raw: &Dataset) -> Result<Vec<Prediction>, DataError> {
        let mut data = raw.clone();
        self.preprocessing.apply(&mut data)?;
        Ok(self.predict_preprocessed(&data))
    }

    /// Predictions for rows that are already preprocessed.
    pub fn predict_preprocessed(&self, data: &Dataset) -> Vec<Prediction> {
        let scores = self.scores_preprocessed(data);
        (0..data.n_rows())
            .map(|i| match &self.target {
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

    /// Metrics on rows that carry targets encoded with this model's encoding.
    pub fn evaluate(&self, raw: &Dataset) -> Result<Metrics, DataError> {
        let mut data = raw.clone();
        self.preprocessing.apply(&mut data)?;
        let truth = data
            .targets()
            .ok_or_else(|| DataError::Shape("the evaluation data has no target column".into()))?;
        Ok(self.metrics(&self.scores_preprocessed(&data), &truth.values))
    }

    /// Scores of design rows, which already carry the intercept column when the model has
    /// one (the secret training rows, for instance).
    pub fn scores_design(&self, design: &Dataset) -> Vec<Vec<f64>> {
        self.weights
            .iter()
            .map(|w| linalg::margins(design.features(), &nalgebra::DVector::from_column_slice(w)))
            .collect()
    }

    /// Metrics of scores (one vector per weight vector) against encoded targets.
    pub fn metrics(&self, scores: &[Vec<f64>], truth: &[f64]) -> Metrics {
        let n = truth.len();
        match &self.target {
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
