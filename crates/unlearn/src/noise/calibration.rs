//! Calibration between the privacy parameters (ε, δ), the noise scale and
//! the gradient-residual budget ε′ (the largest ‖u‖ a removal may leave,
//! equivalently the L2 sensitivity Δ of the shift b ↦ b − u).
//!
//! Three calibrations, each with its inverse:
//!
//! * [`gaussian_sigma_guo2020`] / [`budget_guo2020`]: σ = c·ε′/ε with
//!   c = √(2 ln(1.5/δ)) (Guo et al. 2020, Theorem 3; the classical Gaussian
//!   mechanism, Dwork & Roth 2014, Theorem A.1), valid for ε ≤ 1 only;
//! * [`analytic_gaussian_sigma`] / [`analytic_gaussian_budget`] /
//!   [`analytic_gaussian_delta`]: the exact (ε, δ) curve of the Gaussian
//!   mechanism (Balle & Wang 2018, Theorem 8), solved by bisection; valid for
//!   every ε > 0 and tighter than the closed form;
//! * [`gamma_norm_rate`] / [`gamma_norm_budget`]: α = ε/ε′ for the density
//!   p(b) ∝ exp(−α‖b‖) (Guo et al. 2020, Theorem 3, δ = 0).
//!
//! Every result is rounded to the safe side: σ up, α down, budgets down, δ up.
//! Proofs: `proofs/noise_calibration.md`.

use super::special::{erfcx_nonneg, exp_neg_half_sq, std_normal_cdf};
use std::f64::consts::FRAC_1_SQRT_2;
use thiserror::Error;

/// The smallest δ the analytic calibration accepts. Below it the terms of
/// δ(σ) underflow and the bound could no longer be verified in `f64`.
pub const MIN_DELTA: f64 = 1e-300;

/// Relative outward rounding for the closed forms. The longest,
/// √(2 ln(1.5/δ))·ε′/ε, is six operations, each correctly rounded or (ln, a
/// libm call) within about one ulp; the rounding of 1.5/δ is amplified by at
/// most 1/ln 1.5 < 2.5 through the logarithm and halved by the square root. The
/// total relative error stays below 8·2⁻⁵² (the unit roundoff is 2⁻⁵³).
const ROUND_UP: f64 = 1.0 + 8.0 * f64::EPSILON;
/// See [`ROUND_UP`].
const ROUND_DOWN: f64 = 1.0 - 8.0 * f64::EPSILON;

/// Errors of the calibration functions: invalid inputs, or a calibration
/// applied outside its proven range.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CalibrationError {
    /// ε must be finite and > 0.
    #[error("epsilon must be finite and > 0, got {0}")]
    InvalidEpsilon(f64),
    /// δ must be finite and in (0, 1) (in [MIN_DELTA, 1) for the analytic calibration).
    #[error("delta must be in [{min:e}, 1), got {value}")]
    InvalidDelta {
        /// The rejected value.
        value: f64,
        /// The smallest accepted value.
        min: f64,
    },
    /// The residual budget ε′ (or sensitivity Δ) must be finite and > 0.
    #[error("budget (sensitivity) must be finite and > 0, got {0}")]
    InvalidBudget(f64),
    /// σ (or another noise scale) must be finite and ≥ 0.
    #[error("noise scale must be finite and >= 0, got {0}")]
    InvalidScale(f64),
    /// The zCDP parameter ρ must be finite and ≥ 0.
    #[error("zCDP rho must be finite and >= 0, got {0}")]
    InvalidRho(f64),
    /// A Rényi order α must be finite and > 1.
    #[error("Renyi order alpha must be finite and > 1, got {0}")]
    InvalidOrder(f64),
    /// The Gamma-norm rate α must be finite and > 0.
    #[error("gamma-norm rate alpha must be finite and > 0, got {0}")]
    InvalidRate(f64),
    /// The classical closed form σ = c·ε′/ε is only proven for ε ≤ 1.
    #[error(
        "the closed-form Gaussian calibration of Guo et al. (Theorem 3) is valid only for \
         epsilon <= 1, got {0}; use analytic_gaussian_sigma (Balle & Wang 2018) instead"
    )]
    EpsilonTooLarge(f64),
    /// The bisection could not bracket a solution in `f64` (extreme inputs).
    #[error("no f64 solution found for epsilon = {epsilon}, delta = {delta}")]
    NoSolution {
        /// The ε asked for.
        epsilon: f64,
        /// The δ asked for.
        delta: f64,
    },
}

pub(super) fn check_epsilon(epsilon: f64) -> Result<(), CalibrationError> {
    if epsilon.is_finite() && epsilon > 0.0 {
        Ok(())
    } else {
        Err(CalibrationError::InvalidEpsilon(epsilon))
    }
}

/// δ ∈ [min, 1), with min > 0.
pub(super) fn check_delta(delta: f64, min: f64) -> Result<(), CalibrationError> {
    if delta.is_finite() && delta >= min && delta < 1.0 {
        Ok(())
    } else {
        Err(CalibrationError::InvalidDelta { value: delta, min })
    }
}

pub(super) fn check_budget(budget: f64) -> Result<(), CalibrationError> {
    if budget.is_finite() && budget > 0.0 {
        Ok(())
    } else {
        Err(CalibrationError::InvalidBudget(budget))
    }
}

fn check_scale(scale: f64) -> Result<(), CalibrationError> {
    if scale.is_finite() && scale >= 0.0 {
        Ok(())
    } else {
        Err(CalibrationError::InvalidScale(scale))
    }
}

/// c = √(2 ln(1.5/δ)), the constant of Guo et al. (2020), Theorem 3, for
/// δ ∈ (0, 1), ε ∈ (0, 1].
fn guo_constant(epsilon: f64, delta: f64) -> Result<f64, CalibrationError> {
    check_epsilon(epsilon)?;
    check_delta(delta, f64::MIN_POSITIVE)?;
    if epsilon > 1.0 {
        return Err(CalibrationError::EpsilonTooLarge(epsilon));
    }
    Ok((2.0 * (1.5 / delta).ln()).sqrt())
}

/// The closed-form Gaussian noise scale of Guo et al. (2020), Theorem 3:
///
/// σ = c·ε′/ε,  c = √(2 ln(1.5/δ)),
///
/// so that b ~ N(0, σ²I) makes every shift b ↦ b − u with ‖u‖ ≤ ε′ = `budget`
/// (ε, δ)-indistinguishable. This is the classical Gaussian mechanism (Dwork &
/// Roth, "The Algorithmic Foundations of Differential Privacy", 2014,
/// Theorem A.1, which has the constant 1.25 where Guo et al. use 1.5), and it
/// is proven only for ε ≤ 1 (for ε = 10, δ = 1e-5 it misses the target δ; see
/// `proofs/noise_calibration.md`, part a). The result is rounded up by a
/// relative 8·2⁻⁵².
///
/// # Errors
///
/// ε ∉ (0, 1] ([`CalibrationError::EpsilonTooLarge`] above 1: use
/// [`analytic_gaussian_sigma`]), δ ∉ (0, 1), ε′ not finite and > 0.
pub fn gaussian_sigma_guo2020(
    epsilon: f64,
    delta: f64,
    budget: f64,
) -> Result<f64, CalibrationError> {
    let c = guo_constant(epsilon, delta)?;
    check_budget(budget)?;
    Ok(c * budget / epsilon * ROUND_UP)
}

/// The inverse of [`gaussian_sigma_guo2020`]: the largest residual budget a
/// given σ certifies at (ε, δ) by Guo et al. (2020), Theorem 3:
///
/// ε′ = σ·ε/c,  c = √(2 ln(1.5/δ)),  ε ≤ 1.
///
/// Rounded down by a relative 8·2⁻⁵². σ = 0 gives ε′ = 0.
///
/// # Errors
///
/// ε ∉ (0, 1], δ ∉ (0, 1), σ negative or not finite.
pub fn budget_guo2020(epsilon: f64, delta: f64, sigma: f64) -> Result<f64, CalibrationError> {
    let c = guo_constant(epsilon, delta)?;
    check_scale(sigma)?;
    Ok(sigma * epsilon / c * ROUND_DOWN)
}

/// Computed δ(σ) of the Gaussian mechanism (Balle & Wang 2018, Theorem 8)
/// together with an upper bound on it that covers floating-point error.
///
/// With m = Δ/(2σ), k = εσ/Δ, a = m − k, b = −m − k, the exact value is
/// δ = Φ(a) − e^ε·Φ(b). Since b² − a² = 4mk = 2ε, e^ε·Φ(b) = ½·erfcx(−b/√2)·e^{−a²/2}
/// exactly, which avoids the overflow of e^ε and the underflow of Φ(b):
///
/// * a < 0: δ = ½·e^{−a²/2}·(erfcx(−a/√2) − erfcx(−b/√2));
/// * a ≥ 0: δ = Φ(a) − ½·erfcx(−b/√2)·e^{−a²/2}.
///
/// Error model (first order, with margin): the two terms T₁, T₂ have relative
/// error at most 32·2⁻⁵²·(1 + b²) each (the rounding of the arguments a, b,
/// whose magnitudes are at most |b| = m + k, perturbs e^{−a²/2} and erfcx by
/// a relative |b|²·2⁻⁵² to first order; Φ and erfcx themselves are
/// accurate to about 1e-15, measured),
/// so the difference has relative error η = 32·2⁻⁵²·(1 + b²)·(T₁ + T₂)/(T₁ − T₂).
/// The bound returned is min(δ̂·(1 + η), Φ(a)·(1 + η₀), 1), using δ ≤ Φ(a).
fn delta_upper(epsilon: f64, sigma: f64, sensitivity: f64) -> f64 {
    if sensitivity == 0.0 {
        return 0.0;
    }
    if sigma == 0.0 {
        return 1.0;
    }
    let m = sensitivity / (2.0 * sigma);
    let k = epsilon * sigma / sensitivity;
    let a = m - k;
    let b = -m - k;
    let unit = 32.0 * f64::EPSILON * (1.0 + b * b);
    let v = -b * FRAC_1_SQRT_2;
    let (t1, t2) = if a < 0.0 {
        let scale = 0.5 * exp_neg_half_sq(a);
        (
            scale * erfcx_nonneg(-a * FRAC_1_SQRT_2),
            scale * erfcx_nonneg(v),
        )
    } else {
        (
            std_normal_cdf(a),
            0.5 * erfcx_nonneg(v) * exp_neg_half_sq(a),
        )
    };
    // δ ≤ Φ(a) = T₁ always holds (the subtracted term is ≥ 0).
    let crude = std_normal_cdf(a) * (1.0 + unit);
    let diff = t1 - t2;
    let refined = if diff > 0.0 {
        let eta = unit * (t1 + t2) / diff;
        diff * (1.0 + eta)
    } else {
        f64::INFINITY
    };
    refined.min(crude).min(1.0)
}

/// The δ of the Gaussian mechanism with noise N(0, σ²I) and L2 sensitivity
/// Δ at privacy level ε, by Balle & Wang, "Improving the Gaussian Mechanism
/// for Differential Privacy: Analytical Calibration and Optimal Denoising",
/// ICML 2018, Theorem 8:
///
/// δ(σ) = Φ(Δ/(2σ) − εσ/Δ) − e^ε·Φ(−Δ/(2σ) − εσ/Δ).
///
/// This is the smallest δ for which the mechanism is (ε, δ)-DP. The value
/// returned is an upper bound that includes the floating-point error of the
/// evaluation (relative margin 32·2⁻⁵²·(1 + b²)·(T₁ + T₂)/(T₁ − T₂), see
/// `proofs/noise_calibration.md`, part b), capped at 1. Δ = 0 gives 0; σ = 0
/// with Δ > 0 gives 1.
///
/// # Errors
///
/// ε not finite and > 0; σ or Δ negative or not finite.
pub fn analytic_gaussian_delta(
    epsilon: f64,
    sigma: f64,
    sensitivity: f64,
) -> Result<f64, CalibrationError> {
    check_epsilon(epsilon)?;
    check_scale(sigma)?;
    if !(sensitivity.is_finite() && sensitivity >= 0.0) {
        return Err(CalibrationError::InvalidBudget(sensitivity));
    }
    Ok(delta_upper(epsilon, sigma, sensitivity))
}

/// Bisection between `lo` (predicate false) and `hi` (predicate true) down to
/// adjacent `f64` values; returns the final (lo, hi).
pub(super) fn bisect(mut lo: f64, mut hi: f64, pred: impl Fn(f64) -> bool) -> (f64, f64) {
    loop {
        let mid = lo + 0.5 * (hi - lo);
        if mid <= lo || mid >= hi {
            return (lo, hi);
        }
        if pred(mid) { hi = mid } else { lo = mid }
    }
}

/// The smallest σ for which the Gaussian mechanism N(0, σ²I) with L2
/// sensitivity Δ is (ε, δ)-DP, by Balle & Wang (ICML 2018), Theorem 8: the
/// smallest σ with
///
/// Φ(Δ/(2σ) − εσ/Δ) − e^ε·Φ(−Δ/(2σ) − εσ/Δ) ≤ δ.
///
/// δ(σ) is strictly decreasing in σ (its derivative is −φ(a)·Δ/σ², proof in
/// `proofs/noise_calibration.md`, part b), so bisection applies. The bisection
/// keeps an upper end that satisfies the condition *verified with the
/// floating-point error bound of [`analytic_gaussian_delta`]* and shrinks to
/// adjacent doubles; the returned σ is that verified upper end (safe side).
/// Valid for every ε > 0 (unlike [`gaussian_sigma_guo2020`]). With Δ = ε′ it
/// replaces Guo et al.'s closed form.
///
/// # Errors
///
/// ε not finite and > 0; δ ∉ [[`MIN_DELTA`], 1); Δ not finite and > 0;
/// [`CalibrationError::NoSolution`] if no finite σ can be verified.
pub fn analytic_gaussian_sigma(
    epsilon: f64,
    delta: f64,
    sensitivity: f64,
) -> Result<f64, CalibrationError> {
    check_epsilon(epsilon)?;
    check_delta(delta, MIN_DELTA)?;
    check_budget(sensitivity)?;
    let safe = |sigma: f64| delta_upper(epsilon, sigma, sensitivity) <= delta;
    let no_solution = CalibrationError::NoSolution { epsilon, delta };
    // Bracket: hi safe, lo unsafe, hi = 2·lo.
    let mut hi = sensitivity;
    while !safe(hi) {
        hi *= 2.0;
        if !hi.is_finite() {
            return Err(no_solution);
        }
    }
    let mut lo = hi;
    loop {
        lo *= 0.5;
        if lo == 0.0 {
            return Err(no_solution);
        }
        if !safe(lo) {
            break;
        }
        hi = lo;
    }
    let (_, hi) = bisect(lo, hi, safe);
    Ok(hi)
}

/// The inverse of [`analytic_gaussian_sigma`]: the largest L2 sensitivity Δ
/// (residual budget ε′) for which noise N(0, σ²I) is (ε, δ)-DP by Balle &
/// Wang (ICML 2018), Theorem 8, i.e. the largest Δ with
///
/// Φ(Δ/(2σ) − εσ/Δ) − e^ε·Φ(−Δ/(2σ) − εσ/Δ) ≤ δ.
///
/// δ depends on Δ only through σ/Δ and decreases in σ/Δ, so it increases in
/// Δ; bisection keeps a lower end verified safe (with the floating-point error
/// bound of [`analytic_gaussian_delta`]) and returns it. σ = 0 gives 0.
///
/// # Errors
///
/// ε not finite and > 0; δ ∉ [[`MIN_DELTA`], 1); σ negative or not finite;
/// [`CalibrationError::NoSolution`] if no positive Δ can be verified.
pub fn analytic_gaussian_budget(
    epsilon: f64,
    delta: f64,
    sigma: f64,
) -> Result<f64, CalibrationError> {
    check_epsilon(epsilon)?;
    check_delta(delta, MIN_DELTA)?;
    check_scale(sigma)?;
    if sigma == 0.0 {
        return Ok(0.0);
    }
    let safe = |sens: f64| delta_upper(epsilon, sigma, sens) <= delta;
    let no_solution = CalibrationError::NoSolution { epsilon, delta };
    // Bracket: lo safe, hi unsafe, hi = 2·lo.
    let mut lo = sigma;
    while !safe(lo) {
        lo *= 0.5;
        if lo == 0.0 {
            return Err(no_solution);
        }
    }
    let mut hi = lo;
    loop {
        hi *= 2.0;
        if !hi.is_finite() {
            return Err(no_solution);
        }
        if !safe(hi) {
            break;
        }
        lo = hi;
    }
    // The predicate "unsafe" is true at hi, false at lo.
    let (lo, _) = bisect(lo, hi, |sens| !safe(sens));
    Ok(lo)
}

/// The rate α of the Gamma-norm density p(b) ∝ exp(−α‖b‖₂) that makes every
/// shift with ‖u‖ ≤ ε′ = `budget` (ε, 0)-indistinguishable (Guo et al. 2020,
/// Theorem 3):
///
/// α = ε/ε′,
///
/// because log p(b)/p(b − u) = α(‖b − u‖ − ‖b‖) ≤ α‖u‖ (triangle inequality).
/// Rounded down by a relative 8·2⁻⁵² (less concentrated noise is the safe
/// side). The [`NoiseSpec`](super::NoiseSpec) scale is 1/α.
///
/// # Errors
///
/// ε or ε′ not finite and > 0.
pub fn gamma_norm_rate(epsilon: f64, budget: f64) -> Result<f64, CalibrationError> {
    check_epsilon(epsilon)?;
    check_budget(budget)?;
    Ok(epsilon / budget * ROUND_DOWN)
}

/// The inverse of [`gamma_norm_rate`]: the residual budget certified at
/// privacy level ε by the rate α (Guo et al. 2020, Theorem 3):
///
/// ε′ = ε/α,
///
/// rounded down by a relative 8·2⁻⁵².
///
/// # Errors
///
/// ε or α not finite and > 0.
pub fn gamma_norm_budget(epsilon: f64, rate: f64) -> Result<f64, CalibrationError> {
    check_epsilon(epsilon)?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(CalibrationError::InvalidRate(rate));
    }
    Ok(epsilon / rate * ROUND_DOWN)
}
