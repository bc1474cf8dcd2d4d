//! Losses ℓ(z, y) of the margin z = wᵀx, with the constants the certificates need.
//!
//! The removal bounds of Guo et al. (2020, Theorem 1 and Corollary 1) use two constants of
//! the loss: γ, a Lipschitz constant of ℓ'' in z, and C, a bound on |ℓ'| (the gradient of
//! one row is ℓ'·x, so its norm is at most C·‖x‖). [`Loss::second_derivative_lipschitz`]
//! and [`Loss::derivative_bound`] return them; `proofs/loss_constants.md` derives them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A convex, twice differentiable loss of the margin `z` for a target `y`.
pub trait Loss: Send + Sync {
    /// ℓ(z, y).
    fn value(&self, z: f64, y: f64) -> f64;
    /// ∂ℓ/∂z at (z, y).
    fn derivative(&self, z: f64, y: f64) -> f64;
    /// ∂²ℓ/∂z² at (z, y); never negative (the loss is convex).
    fn second_derivative(&self, z: f64, y: f64) -> f64;
    /// γ: a Lipschitz constant of z ↦ ℓ''(z, y), uniform in y.
    fn second_derivative_lipschitz(&self) -> f64;
    /// sup |ℓ''|, uniform in y.
    fn second_derivative_bound(&self) -> f64;
    /// C: sup over z of |ℓ'(z, y)|, uniform in y, if it is finite.
    fn derivative_bound(&self) -> Option<f64>;
}

/// Logistic loss for y ∈ {−1, +1}: ℓ(z, y) = log(1 + e^{−yz}).
///
/// ℓ' = −y·s(−yz) with s the sigmoid, so |ℓ'| < 1 (C = 1); ℓ'' = s(z)(1 − s(z)) ≤ 1/4;
/// ℓ''' = s(1 − s)(1 − 2s), whose largest magnitude is 1/(6√3) ≈ 0.0962, attained at
/// s = 1/2 ± 1/(2√3). Guo et al. (2020) use the looser γ = 1/4.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Logistic;

/// Squared loss ℓ(z, y) = (z − y)²/2: ℓ' = z − y (unbounded), ℓ'' = 1, γ = 0.
///
/// γ = 0 makes the Newton-step removal exact: removal equals retraining.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Squared;

/// The exact Lipschitz constant of the logistic ℓ'': 1/(6√3).
pub const LOGISTIC_GAMMA: f64 = 0.096_225_044_864_937_63;

/// The sigmoid 1/(1 + e^{−t}), evaluated without overflow for any t.
pub fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^t), evaluated without overflow or cancellation for any t.
fn softplus(t: f64) -> f64 {
    t.max(0.0) + (-t.abs()).exp().ln_1p()
}

impl Loss for Logistic {
    fn value(&self, z: f64, y: f64) -> f64 {
        softplus(-y * z)
    }
    fn derivative(&self, z: f64, y: f64) -> f64 {
        -y * sigmoid(-y * z)
    }
    fn second_derivative(&self, z: f64, _y: f64) -> f64 {
        // s(z)(1 − s(z)) = s(z)·s(−z), both factors computed stably.
        sigmoid(z) * sigmoid(-z)
    }
    fn second_derivative_lipschitz(&self) -> f64 {
        LOGISTIC_GAMMA
    }
    fn second_derivative_bound(&self) -> f64 {
        0.25
    }
    fn derivative_bound(&self) -> Option<f64> {
        Some(1.0)
    }
}

impl Loss for Squared {
    fn value(&self, z: f64, y: f64) -> f64 {
        0.5 * (z - y) * (z - y)
    }
    fn derivative(&self, z: f64, y: f64) -> f64 {
        z - y
    }
    fn second_derivative(&self, _z: f64, _y: f64) -> f64 {
        1.0
    }
    fn second_derivative_lipschitz(&self) -> f64 {
        0.0
    }
    fn second_derivative_bound(&self) -> f64 {
        1.0
    }
    fn derivative_bound(&self) -> Option<f64> {
        None
    }
}

/// The losses unlearn ships, as a serialisable choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// [`Logistic`], for classification (binary, or one-vs-rest).
    Logistic,
    /// [`Squared`], for (ridge) regression.
    Squared,
}

impl LossKind {
    /// Whether targets are class labels (true) or real values (false).
    pub fn is_classification(self) -> bool {
        matches!(self, LossKind::Logistic)
    }
}

impl Loss for LossKind {
    fn value(&self, z: f64, y: f64) -> f64 {
        match self {
            LossKind::Logistic => Logistic.value(z, y),
            LossKind::Squared => Squared.value(z, y),
        }
    }
    fn derivative(&self, z: f64, y: f64) -> f64 {
        match self {
            LossKind::Logistic => Logistic.derivative(z, y),
            LossKind::Squared => Squared.derivative(z, y),
        }
    }
    fn second_derivative(&self, z: f64, y: f64) -> f64 {
        match self {
            LossKind::Logistic => Logistic.second_derivative(z, y),
            LossKind::Squared => Squared.second_derivative(z, y),
        }
    }
    fn second_derivative_lipschitz(&self) -> f64 {
        match self {
            LossKind::Logistic => Logistic.second_derivative_lipschitz(),
            LossKind::Squared => Squared.second_derivative_lipschitz(),
        }
    }
    fn second_derivative_bound(&self) -> f64 {
        match self {
            LossKind::Logistic => Logistic.second_derivative_bound(),
            LossKind::Squared => Squared.second_derivative_bound(),
        }
    }
    fn derivative_bound(&self) -> Option<f64> {
        match self {
            LossKind::Logistic => Logistic.derivative_bound(),
            LossKind::Squared => Squared.derivative_bound(),
        }
    }
}

impl fmt::Display for LossKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LossKind::Logistic => "logistic",
            LossKind::Squared => "squared",
        })
    }
}

impl FromStr for LossKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "logistic" => Ok(LossKind::Logistic),
            "squared" => Ok(LossKind::Squared),
            other => Err(format!(
                "unknown loss '{other}': expected 'logistic' or 'squared'"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_gamma_is_one_over_six_root_three() {
        assert_eq!(LOGISTIC_GAMMA, 1.0 / (6.0 * 3f64.sqrt()));
    }

    #[test]
    fn logistic_is_stable_at_extreme_margins() {
        for z in [-800.0, -40.0, 0.0, 40.0, 800.0] {
            for y in [-1.0, 1.0] {
                let l = Logistic;
                assert!(l.value(z, y).is_finite());
                assert!(l.derivative(z, y).abs() <= 1.0);
                let h = l.second_derivative(z, y);
                assert!((0.0..=0.25).contains(&h));
            }
        }
        // log(1 + e^{-40}) ≈ e^{-40}: no cancellation to 0.
        assert!((Logistic.value(40.0, 1.0) / (-40f64).exp() - 1.0).abs() < 1e-15);
    }
}
