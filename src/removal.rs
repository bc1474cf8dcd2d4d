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

use crate::bounds;
use crate::linalg::{self, LinalgError};
use crate::loss::Loss;
use crate::objective::Objective;
use nalgebra::{Cholesky, DVector, Dyn};

/// From this dimension on, removal never forms a d×d matrix: steps are Hessian-free
/// ([`hessian_free_removal_step`]) and ‖X‖₂ is bounded by ‖X‖_F (a d×d Gram matrix at
/// d = 2048 is 32 MiB per class model; the Frobenius bound is looser but costs one pass).
pub const HESSIAN_FREE_DIMENSION: usize = 2048;

/// Relative residual of the conjugate-gradient solve in a Hessian-free removal step: tight,
/// because the step's accuracy is paid for in its residual.
pub const HESSIAN_FREE_FORCING: f64 = 1e-10;

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
    factored_newton_removal_step(objective, w).map(|(step, _)| step)
}

/// [`newton_removal_step`], also returning the Cholesky factor of ∇²L_b(w; D′) it used
/// (to be cached for later steps, see [`crate::hessian_cache`]).
pub fn factored_newton_removal_step<L: Loss + ?Sized>(
    objective: &Objective<'_, L>,
    w: &DVector<f64>,
) -> Result<(RemovalStep, Cholesky<f64, Dyn>), LinalgError> {
    let (gradient, hessian) = objective.gradient_and_hessian(w);
    let factor = linalg::cholesky(hessian)?;
    let step = step_with(&factor, w, gradient)?;
    Ok((step, factor))
}

/// A step with the factor of an approximate Hessian H̃ (a cached one):
/// Δ = ∇L_b(w; D′), v = H̃⁻¹Δ, w⁻ = w − v. O(n·d) for Δ plus O(d²) for the solve.
pub fn cached_removal_step<L: Loss + ?Sized>(
    objective: &Objective<'_, L>,
    w: &DVector<f64>,
    factor: &Cholesky<f64, Dyn>,
) -> Result<RemovalStep, LinalgError> {
    step_with(factor, w, objective.gradient(w))
}

/// A Hessian-free step for large d: Δ = ∇L_b(w; D′), then v ≈ ∇²L_b(w; D′)⁻¹Δ by
/// Jacobi-preconditioned conjugate gradient on Hessian-vector products (O(n·d) each) to a
/// relative residual `forcing`; the d×d Hessian is never formed. The solve's inexactness
/// is part of the step's residual, which is measured exactly afterwards.
pub fn hessian_free_removal_step<L: Loss + ?Sized>(
    objective: &Objective<'_, L>,
    w: &DVector<f64>,
    forcing: f64,
) -> Result<RemovalStep, LinalgError> {
    let at_w = objective.evaluate(w);
    let hessian = objective.hessian_operator_from(at_w.curvatures);
    let step = crate::solver::conjugate_gradient(
        &hessian,
        &at_w.hessian_diagonal,
        &at_w.gradient,
        forcing,
    );
    if step.iter().any(|v| !v.is_finite()) {
        return Err(LinalgError::NonFinite { dim: step.len() });
    }
    Ok(RemovalStep {
        weights: w - &step,
        step,
        gradient: at_w.gradient,
    })
}

fn step_with(
    factor: &Cholesky<f64, Dyn>,
    w: &DVector<f64>,
    gradient: DVector<f64>,
) -> Result<RemovalStep, LinalgError> {
    let step = factor.solve(&gradient);
    if step.iter().any(|v| !v.is_finite()) {
        return Err(LinalgError::NonFinite { dim: step.len() });
    }
    Ok(RemovalStep {
        weights: w - &step,
        step,
        gradient,
    })
}

/// An upper bound on the exact gradient residual ‖∇L_b(w; D′)‖ from its floating-point
/// computation: ‖u‖ ≤ fl(‖û‖)·(1 + γ_{d+2}) + [`bounds::gradient_rounding_bound`]
/// (proofs/squared_loss_exactness.md, Lemma 1). `row_norm_bound` must bound every row's norm.
pub fn residual_upper_bound<L: Loss + ?Sized>(
    objective: &Objective<'_, L>,
    w: &DVector<f64>,
    row_norm_bound: f64,
) -> f64 {
    let rows = objective.rows;
    let z = linalg::margins(rows.features, w);
    let derivative_abs_sum: f64 = z
        .iter()
        .zip(rows.targets)
        .map(|(&zi, &yi)| objective.loss.derivative(zi, yi).abs())
        .sum();
    let computed = objective.gradient(w).norm();
    let rounding = bounds::gradient_rounding_bound(&bounds::GradientRoundingInputs {
        rows: rows.len(),
        dim: rows.dim,
        row_norm_bound,
        curvature_bound: objective.loss.second_derivative_bound(),
        // The sum itself is rounded: enlarge it by its own γ_n.
        derivative_abs_sum: derivative_abs_sum * (1.0 + bounds::rounding_gamma(rows.len() as f64)),
        weight_norm: w.norm() * (1.0 + bounds::rounding_gamma(rows.dim as f64 + 1.0)),
        lambda_total: objective.lambda,
        noise_norm: objective.noise.norm() * (1.0 + bounds::rounding_gamma(rows.dim as f64 + 1.0)),
    });
    computed * (1.0 + bounds::rounding_gamma(rows.dim as f64 + 2.0)) + rounding
}

/// max_i ‖x_i‖ over row-major rows, rounded up: a bound that stays valid after removals.
pub fn row_norm_bound(features: &[f64], dim: usize) -> f64 {
    use rayon::prelude::*;
    let largest = features
        .par_chunks(dim.max(1))
        .map(|x| linalg::dot(x, x))
        .reduce(|| 0.0, f64::max);
    largest.sqrt() * (1.0 + bounds::rounding_gamma(dim as f64 + 2.0))
}
