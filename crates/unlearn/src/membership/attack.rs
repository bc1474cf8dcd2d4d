//! The two attacks: what an attacker computes from the published weights for one row.
//!
//! Both see only a released model and the row (features and label), never the secret
//! state. A score is "higher means more likely a training row".
//!
//! **Loss threshold** (Yeom, Giacomelli, Fredrikson, Jha, "Privacy risk in machine
//! learning", CSF 2018): score = −ℓ(x, y), summed over the class models of one-vs-rest.
//! Training rows tend to have a lower loss.
//!
//! **Likelihood ratio, online** (LiRA: Carlini, Chien, Nasr, Song, Terzis, Tramèr,
//! "Membership inference attacks from first principles", IEEE S&P 2022, Algorithm 1).
//! N shadow models are trained, with the target's own hyperparameters and noise, on random
//! subsets of the population that mimic the attacked model's training set: each row is IN
//! for exactly round(q·N) shadows (a random set per row, as in the paper's code) and OUT
//! for the rest, where q is the share of the population the attacked model was trained on
//! (the paper's q = ½: random halves). Each shadow then trains on q·|population| rows on
//! average, as many as the target did; shadows trained on more rows than the target would
//! memorise less than it, and the fitted distributions would not describe it. For each row the statistic φ of every
//! shadow is split into IN and OUT samples, a Gaussian is fitted to each, and the score of
//! the row under the attacked model is the log-likelihood ratio
//!
//!   Λ(x) = log N(φ; μ_in, σ²_in) − log N(φ; μ_out, σ²_out).
//!
//! The paper's φ is the logit of the model's confidence in the true label,
//! log(p/(1−p)); for logistic regression p = s(y·wᵀx), so φ = y·wᵀx, the signed margin,
//! exactly (summed over the class models of one-vs-rest). For ridge regression
//! φ = wᵀx − y, the residual. Both are linear in w, so under Gaussian output noise they are
//! Gaussian given the training set, which is what the fit assumes. Variances are per row
//! (the paper's choice from 64 shadows on); a row whose sample variance is 0 on a side
//! falls back to the mean variance of that side over all rows (the paper's "global
//! variance").
//!
//! Shadow training is cheap here (a convex model, Newton's method, d in the tens), and the
//! shadows are independent: they are trained in parallel.

use crate::data::Dataset;
use crate::loss::Loss;
use crate::model::{self, Hyperparameters, PublishedModel, TrainError, TrainingData};
use crate::noise::NoiseKey;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde::Serialize;

/// Which attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attack {
    /// Score −loss (Yeom et al. 2018).
    LossThreshold,
    /// Online likelihood ratio with shadow models (Carlini et al. 2022).
    Lira,
}

impl std::fmt::Display for Attack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Attack::LossThreshold => "loss threshold",
            Attack::Lira => "likelihood ratio (LiRA, online)",
        })
    }
}

/// Per-row quantities of one released model on labelled, preprocessed rows.
#[derive(Debug, Clone, PartialEq)]
pub struct RowStatistics {
    /// ℓ(wᵀx, y), summed over the class models.
    pub loss: Vec<f64>,
    /// φ: the signed margin y·wᵀx (logistic) or the residual wᵀx − y (squared loss),
    /// summed over the class models.
    pub phi: Vec<f64>,
}

/// The per-row loss and φ of a published model on preprocessed rows (without the
/// intercept column) carrying targets in the model's encoding.
pub fn row_statistics(model: &PublishedModel, rows: &Dataset) -> RowStatistics {
    let loss_kind = model.hyperparameters.loss;
    let values = &rows
        .targets()
        .expect("population rows carry targets")
        .values;
    let mut loss = vec![0.0; rows.n_rows()];
    let mut phi = vec![0.0; rows.n_rows()];
    for (k, margins) in model.scores_preprocessed(rows).iter().enumerate() {
        let y = model::model_targets(&model.target, values, k);
        for i in 0..rows.n_rows() {
            loss[i] += loss_kind.value(margins[i], y[i]);
            phi[i] += if loss_kind.is_classification() {
                y[i] * margins[i]
            } else {
                margins[i] - y[i]
            };
        }
    }
    RowStatistics { loss, phi }
}

/// Per-row Gaussian fits of φ over shadow models trained with (IN) and without (OUT)
/// each row of the population.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowFit {
    /// Number of shadow models.
    pub shadows: usize,
    /// μ_in per row.
    pub in_mean: Vec<f64>,
    /// σ²_in per row.
    pub in_var: Vec<f64>,
    /// μ_out per row.
    pub out_mean: Vec<f64>,
    /// σ²_out per row.
    pub out_var: Vec<f64>,
}

/// Trains `count` shadow models on random subsets of `population` (its rows preprocessed,
/// without the intercept column) with `hyper`, in parallel, each row in a share `inclusion`
/// of them, and fits the per-row Gaussians.
/// The halves and each shadow's noise seed come from a ChaCha20 generator seeded with
/// `seed`, so the fit does not depend on the number of threads.
pub fn train_shadows(
    population: &TrainingData,
    hyper: &Hyperparameters,
    count: usize,
    inclusion: f64,
    seed: u64,
) -> Result<ShadowFit, TrainError> {
    let in_count = (inclusion * count as f64).round() as usize;
    if in_count < 2 || count < in_count + 2 {
        return Err(TrainError::Invalid(format!(
            "LiRA needs at least 2 shadow models with and 2 without each row: {count} shadows \
             with each row in a share {inclusion:.3} of them give {in_count} with"
        )));
    }
    let n = population.data.n_rows();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    // member[i][s]: row i is in shadow s's training set. Each row gets its own random set of
    // `in_count` shadows.
    let mut order: Vec<usize> = (0..count).collect();
    let member: Vec<Vec<bool>> = (0..n)
        .map(|_| {
            order.shuffle(&mut rng);
            let mut row = vec![false; count];
            order[..in_count].iter().for_each(|&s| row[s] = true);
            row
        })
        .collect();
    let seeds: Vec<u64> = (0..count).map(|_| rng.random()).collect();
    let phis: Vec<Vec<f64>> = seeds
        .par_iter()
        .enumerate()
        .map(|(s, &seed)| {
            let mut data = population.data.clone();
            data.retain_rows(|i| member[i][s]);
            let shadow = model::train(
                TrainingData {
                    data,
                    preprocessing: population.preprocessing.clone(),
                    target_column: population.target_column.clone(),
                },
                hyper,
                NoiseKey::from_seed(seed),
            )?;
            Ok(row_statistics(&shadow.published, &population.data).phi)
        })
        .collect::<Result<_, TrainError>>()?;
    let side = |inside: bool| -> (Vec<f64>, Vec<f64>) {
        (0..n)
            .map(|i| {
                let sample: Vec<f64> = (0..count)
                    .filter(|&s| member[i][s] == inside)
                    .map(|s| phis[s][i])
                    .collect();
                mean_and_variance(&sample)
            })
            .unzip()
    };
    let (in_mean, in_var) = side(true);
    let (out_mean, out_var) = side(false);
    Ok(ShadowFit {
        shadows: count,
        in_mean,
        in_var: with_global_fallback(in_var),
        out_mean,
        out_var: with_global_fallback(out_var),
    })
}

impl ShadowFit {
    /// The online LiRA score of each row given its φ under the attacked model.
    pub fn scores(&self, phi: &[f64]) -> Vec<f64> {
        phi.iter()
            .enumerate()
            .map(|(i, &x)| {
                log_normal_density(x, self.in_mean[i], self.in_var[i])
                    - log_normal_density(x, self.out_mean[i], self.out_var[i])
            })
            .collect()
    }
}

/// Sample mean and unbiased sample variance.
fn mean_and_variance(sample: &[f64]) -> (f64, f64) {
    let n = sample.len() as f64;
    let mean = sample.iter().sum::<f64>() / n;
    let var = sample.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

/// Replaces variances that are 0 (every shadow agreed) by the mean variance of the others.
fn with_global_fallback(mut var: Vec<f64>) -> Vec<f64> {
    let positive: Vec<f64> = var.iter().copied().filter(|v| *v > 0.0).collect();
    let global = if positive.is_empty() {
        f64::MIN_POSITIVE
    } else {
        positive.iter().sum::<f64>() / positive.len() as f64
    };
    for v in &mut var {
        if v.is_nan() || *v <= 0.0 {
            *v = global;
        }
    }
    var
}

/// log N(x; μ, σ²) up to the constant −½ log 2π, which cancels in the ratio.
fn log_normal_density(x: f64, mean: f64, var: f64) -> f64 {
    -0.5 * ((x - mean).powi(2) / var + var.ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ratio is positive where the IN Gaussian is likelier: at μ_in with equal
    /// variances it is (μ_in − μ_out)²/(2σ²), here 2²/2 = 2; at the midpoint it is 0.
    #[test]
    fn lira_score_is_the_gaussian_log_likelihood_ratio() {
        let fit = ShadowFit {
            shadows: 4,
            in_mean: vec![3.0, 3.0],
            in_var: vec![1.0, 1.0],
            out_mean: vec![1.0, 1.0],
            out_var: vec![1.0, 1.0],
        };
        assert_eq!(fit.scores(&[3.0, 2.0]), vec![2.0, 0.0]);
    }

    /// A zero variance (all shadows agreed) takes the mean of the positive ones.
    #[test]
    fn zero_variance_falls_back_to_the_global_one() {
        assert_eq!(
            with_global_fallback(vec![0.0, 1.0, 3.0]),
            vec![2.0, 1.0, 3.0]
        );
    }
}
