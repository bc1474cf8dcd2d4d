//! The one-dimensional counterexample to Guo et al.'s Theorem 3 (SOUNDNESS.md point 1,
//! proofs/guo2020_repairs.md): its data, its calibration, and the exact divergence between
//! the output densities of removal and retraining.
//!
//! Five rows x_i = 1 with y_i = +1, logistic loss, fixed total Λ = 0.02, no intercept; the
//! last row is removed. Guo's mechanism trains w* = A*(D; b) with p(b) ∝ exp(−α|b|) and
//! releases one Newton step on the four remaining rows; α = ε/ε′ with ε = 1 and ε′ the
//! worst-case residual bound (`bounds::worst_case_single_total`, 481.125), which holds for
//! every b. The true max-divergence is 2.0147, not 1.

use crate::bounds;
use crate::loss::{LOGISTIC_GAMMA, Logistic, Loss, sigmoid};

/// Rows of the counterexample (all x_i = 1, y_i = +1); the last one is removed.
pub const ROWS: usize = 5;
/// Fixed total Λ (the worst-case bound then holds for every b).
pub const LAMBDA: f64 = 0.02;
/// The claimed ε the noise is calibrated for.
pub const CLAIMED_EPSILON: f64 = 1.0;

/// ε′: the worst-case residual bound of removing one row (C = R = 1), which Guo's
/// calibration uses; α = ε/ε′.
pub fn budget() -> f64 {
    bounds::worst_case_single_total(LOGISTIC_GAMMA, 1.0, 1.0, LAMBDA, ROWS - 1)
}

/// L′(w; D) = Σ ℓ'(w·1, +1) + Λw over `rows` rows (without b), with L″ and L‴.
fn derivatives(w: f64, rows: usize) -> (f64, f64, f64) {
    let k = rows as f64;
    let s = sigmoid(w);
    (
        k * Logistic.derivative(w, 1.0) + LAMBDA * w,
        k * Logistic.second_derivative(w, 1.0) + LAMBDA,
        k * s * (1.0 - s) * (1.0 - 2.0 * s),
    )
}

/// ln p_removal(w⁻) − ln p_retrain(w⁻) at w⁻ = φ(w*), and φ′(w*), for p(b) ∝ exp(−α|b|).
///
/// Removal: b = −L′(w*; D) has density p, so w* has density p(−L′(w*; D))·L″(w*; D), and
/// w⁻ = φ(w*) = w* + ℓ'(w*)/L″(w*; D′) (the Newton step with Δ = −ℓ'(w*)) has that density
/// divided by φ′(w*) where φ′ > 0. Retraining: w = A*(D′; b′) iff b′ = −L′(w; D′), with
/// density p(−L′(w; D′))·L″(w; D′). The normalising constant of p cancels.
pub fn log_density_ratio(w_star: f64, alpha: f64) -> (f64, f64) {
    let (d1_full, d2_full, _) = derivatives(w_star, ROWS);
    let (_, h, h3) = derivatives(w_star, ROWS - 1);
    let g = Logistic.derivative(w_star, 1.0);
    let phi = removal_output(w_star);
    let dphi = 1.0 + (Logistic.second_derivative(w_star, 1.0) * h - g * h3) / (h * h);
    let (d1_re, d2_re, _) = derivatives(phi, ROWS - 1);
    let log_removal = -alpha * d1_full.abs() + d2_full.ln() - dphi.ln();
    let log_retrain = -alpha * d1_re.abs() + d2_re.ln();
    (log_removal - log_retrain, dphi)
}

/// The extremes of ln(p_removal/p_retrain) over a grid of w*.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Divergence {
    /// max ln(p_removal/p_retrain) and the w* where it is reached.
    pub removal_over_retrain: (f64, f64),
    /// max ln(p_retrain/p_removal) and the w* where it is reached.
    pub retrain_over_removal: (f64, f64),
    /// Whether φ′ > 0 at every grid point (each w⁻ has one preimage, so the ratio is the
    /// density ratio of the outputs).
    pub monotone: bool,
}

impl Divergence {
    /// The max-divergence: the larger of the two directions.
    pub fn max(&self) -> f64 {
        self.removal_over_retrain.0.max(self.retrain_over_removal.0)
    }
}

/// φ(w*) = w* + ℓ'(w*)/L″(w*; D′): the removal output at a training output w*.
pub fn removal_output(w_star: f64) -> f64 {
    w_star + Logistic.derivative(w_star, 1.0) / derivatives(w_star, ROWS - 1).1
}

/// The log density ratio on the grid w* = −200 + k·h, k = 0..=400/h, for noise rate α.
/// With h = 1e-3 and α = 1/`budget()`: 1.060175 at w* = −2.547 and 2.014741 (retrain over
/// removal) at w* = −6.120, i.e. w⁻ = −40.82 (proofs/guo2020_repairs.md).
pub fn exact_divergence(alpha: f64, h: f64) -> Divergence {
    let steps = (400.0 / h).round() as usize;
    let mut out = Divergence {
        removal_over_retrain: (f64::NEG_INFINITY, 0.0),
        retrain_over_removal: (f64::NEG_INFINITY, 0.0),
        monotone: true,
    };
    for k in 0..=steps {
        let w = -200.0 + h * k as f64;
        let (f, dphi) = log_density_ratio(w, alpha);
        out.monotone &= dphi > 0.0;
        if f > out.removal_over_retrain.0 {
            out.removal_over_retrain = (f, w);
        }
        if -f > out.retrain_over_removal.0 {
            out.retrain_over_removal = (-f, w);
        }
    }
    out
}
