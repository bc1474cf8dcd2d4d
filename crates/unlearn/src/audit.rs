//! Auditing a removal from outside the certificate: retrain from scratch and compare.
//!
//! `unlearn audit --against-retrain` re-solves the model on the remaining rows from zero
//! (same hyperparameters; under guo2020 with fresh objective noise, as retraining would),
//! releases it with fresh noise, and reports how far the unlearned model is from it: the
//! distance between the secret weights (which the certificate bounds under output
//! perturbation by `budget_used`), the exact residual, and how often the two published
//! models agree on the remaining rows and, when the caller supplies them, on the removed
//! rows and on held-out rows.

use crate::data::Dataset;
use crate::model::{PublishedModel, TrainError, weights_digest};
use crate::noise::NoiseKey;
use crate::predict::{Metrics, Prediction};
use crate::unlearner::Unlearner;
use serde::Serialize;

/// What an audit against retraining found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetrainAudit {
    /// Rows the models were trained on.
    pub rows: usize,
    /// ‖W̃_unlearned − W̃_retrained‖ over the concatenated secret weights.
    pub secret_weight_distance: f64,
    /// The distance the last certificate charged (`budget_used`); under output perturbation
    /// `secret_weight_distance` must not exceed it (both compare with a retrain to the
    /// solver tolerance).
    pub certified_distance: f64,
    /// ‖W_unlearned − W_retrained‖ over the concatenated published weights (noise included).
    pub published_weight_distance: f64,
    /// Upper bounds on the exact residuals ‖∇L_b(w̃_k; D′)‖ of the unlearned secret weights.
    pub exact_residuals: Vec<f64>,
    /// Fraction of remaining rows on which the two published models predict the same
    /// label (classification) or, for regression, the RMS difference of their predictions.
    pub remaining_agreement: f64,
    /// The same on the removed rows, when given.
    pub removed_agreement: Option<f64>,
    /// Number of removed rows found in the given data.
    pub removed_rows_found: usize,
    /// Metrics of the unlearned and retrained published models on held-out rows.
    pub holdout: Option<(Metrics, Metrics)>,
    /// The retrained model's published digest.
    pub retrained_digest: String,
}

/// Retrains from scratch on the unlearner's remaining rows with the seed `seed` (for the
/// objective noise under guo2020 and the release noise) and compares. `removed` holds raw
/// rows that include the removed ones (matched by id), `holdout` raw labelled rows.
pub fn audit_against_retrain(
    unlearner: &Unlearner,
    seed: u64,
    removed: Option<&Dataset>,
    holdout: Option<&Dataset>,
) -> Result<RetrainAudit, TrainError> {
    let model = &unlearner.model;
    if model.secret.rows.is_external() {
        return Err(TrainError::Invalid(
            "the training rows are external (they live in the user's table): an audit \
             against retraining retrains on them; run it where the rows are"
                .into(),
        ));
    }
    let hyper = &model.published.hyperparameters;
    let mut secret = model.secret.clone();
    let released = secret.train_from_scratch(hyper, NoiseKey::from_seed(seed), &mut || {})?;
    let retrained = PublishedModel {
        n_rows: secret.n_rows(),
        digest: weights_digest(&released),
        weights: released,
        ..model.published.clone()
    };
    let secret_weight_distance = model
        .secret
        .weights
        .iter()
        .zip(&secret.weights)
        .map(|(a, b)| (a - b).norm_squared())
        .sum::<f64>()
        .sqrt();
    let published_weight_distance = model
        .published
        .weights
        .iter()
        .flatten()
        .zip(retrained.weights.iter().flatten())
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    let unlearned = &model.published;
    let remaining_agreement = agreement(
        &unlearned.predict_preprocessed(&without_intercept(unlearned, model.secret.design())),
        &retrained.predict_preprocessed(&without_intercept(unlearned, model.secret.design())),
    );
    let removed_tags: std::collections::HashSet<&str> = unlearner
        .ledger
        .entries
        .iter()
        .flat_map(|c| c.removed_id_tags.iter().map(String::as_str))
        .collect();
    let key = &model.secret.key;
    let (removed_agreement, removed_rows_found) = match removed {
        Some(data) => {
            let mut rows = data.clone();
            let keep: Vec<bool> = rows
                .ids()
                .iter()
                .map(|id| removed_tags.contains(key.id_tag(id).as_str()))
                .collect();
            rows.retain_rows(|i| keep[i]);
            let found = rows.n_rows();
            let agreement = (found > 0)
                .then(|| -> Result<f64, TrainError> {
                    let a = unlearned
                        .predict(&rows)
                        .map_err(|e| TrainError::Invalid(e.to_string()))?;
                    let b = retrained
                        .predict(&rows)
                        .map_err(|e| TrainError::Invalid(e.to_string()))?;
                    Ok(agreement(&a, &b))
                })
                .transpose()?;
            (agreement, found)
        }
        None => (None, 0),
    };
    let holdout = holdout
        .map(|rows| -> Result<(Metrics, Metrics), TrainError> {
            let invalid = |e: crate::data::DataError| TrainError::Invalid(e.to_string());
            Ok((
                unlearned.evaluate(rows).map_err(invalid)?,
                retrained.evaluate(rows).map_err(invalid)?,
            ))
        })
        .transpose()?;
    Ok(RetrainAudit {
        rows: secret.n_rows(),
        secret_weight_distance,
        certified_distance: unlearner.ledger.last().map_or(f64::NAN, |c| c.budget_used),
        published_weight_distance,
        exact_residuals: model.secret.residual_bounds(hyper),
        remaining_agreement,
        removed_agreement,
        removed_rows_found,
        holdout,
        retrained_digest: retrained.digest,
    })
}

/// The secret design rows without the intercept column (the form predictions take).
fn without_intercept(model: &PublishedModel, design: &Dataset) -> Dataset {
    if !model.hyperparameters.intercept {
        return design.clone();
    }
    let d = design.n_features() - 1;
    let features: Vec<f64> = (0..design.n_rows())
        .flat_map(|i| design.row(i)[..d].to_vec())
        .collect();
    Dataset::new(
        design.ids().to_vec(),
        design.feature_names()[..d].to_vec(),
        features,
        design.targets().cloned(),
    )
    .expect("a subset of a valid dataset's columns")
}

/// Share of equal labels, or for regression the RMS difference of the values.
fn agreement(a: &[Prediction], b: &[Prediction]) -> f64 {
    let n = a.len().max(1) as f64;
    match (a.first(), b.first()) {
        (Some(Prediction::Value(_)), _) => {
            let sum: f64 = a
                .iter()
                .zip(b)
                .map(|(x, y)| match (x, y) {
                    (Prediction::Value(x), Prediction::Value(y)) => (x - y) * (x - y),
                    _ => f64::NAN,
                })
                .sum();
            (sum / n).sqrt()
        }
        _ => a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / n,
    }
}
