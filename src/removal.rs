//! The Newton removal step (Guo et al. 2020, §3.1, with the full perturbed gradient).
//!
//! Given the current weights w and the remaining rows D′ = D ∖ S (S already deleted from
//! the rows the objective sees):
//!
//! Δ = ∇L_b(w; D′),   H = ∇²L_b(w; D′),   w⁻ = w − H⁻¹Δ   (Cholesky solve)
//!
//! Δ is the *whole* perturbed gradient on the remaining rows, not only the removed rows'
//! contribution: whatever residual w carried (the training residual, or earlier steps')
//! is corrected by the same step, so residuals do not compound (proofs/sequential_steps.md).
//! When w is the exact minimiser on D this Δ equals −Σ_{i∈S} ∇ℓ_i(w) (fixed Λ), plus
//! −(Λ_D − Λ_{D′})·w under the per-sample convention. For the squared loss the objective is
//! quadratic and w⁻ is its exact minimiser on D′ (proofs/squared_loss_exactness.md).

use crate::linalg::{self, LinalgError};
use crate::loss::Loss;
use crate::objective::Objective;
use nalgebra::DVector;

/// The result of one Newton removal step.
#[derive(Debug, Clone, PartialEq)]
pub struct RemovalStep {
    /// w⁻ = w − v.
    pub weights: DVector<f64>,
    /// The step v = H⁻¹Δ.
    pub step: DVector<f64>,
    /// Δ = ∇L_b(w; D′), the gradient the step corrects.
    pub gradient: DVector<f64>,
}

/// One Newton step on `objective` (the remaining rows) from `w`.
pub fn newton_removal_step<L: Loss + ?Sized>(
    objective: &Objective<'_, L>,
    w: &DVector<f64>,
) -> Result<RemovalStep, LinalgError> {
    let (gradient, hessian) = objective.gradient_and_hessian(w);
    let step = linalg::cholesky(hessian)?.solve(&gradient);
    if step.iter().any(|v| !v.is_finite()) {
        return Err(LinalgError::NonFinite { dim: step.len() });
    }
    Ok(RemovalStep {
        weights: w - &step,
        step,
        gradient,
    })
}
