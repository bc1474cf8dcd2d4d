//! Newton's method with backtracking line search, stopping on the gradient norm.
//!
//! Each iteration solves ∇²L_b(w)·p = −∇L_b(w) by Cholesky (never an explicit inverse),
//! then halves the step t from 1 until the Armijo condition
//! L_b(w + t·p) ≤ L_b(w) + c·t·∇L_b(w)ᵀp holds (c = 1e-4). The objective is strongly
//! convex (Λ > 0) with a Lipschitz Hessian, so the iteration converges globally and
//! quadratically near the optimum (Boyd & Vandenberghe, *Convex Optimization*, §9.5).
//!
//! Near the optimum the decrease c·t·∇Lᵀp falls below the rounding error of L_b itself
//! (about 1e-16·|L_b|), so Armijo can no longer be evaluated; the step is then accepted
//! when it reduces the gradient norm, the quantity the stopping rule measures.
//!
//! The final gradient norm g₀ = ‖∇L_b(w)‖ is returned: w is the exact minimiser of the
//! objective with noise b − ∇L_b(w), and the removal budget must account for g₀.
//!
//! References: Nocedal & Wright, *Numerical Optimization* (2006), Algorithm 3.1 and §3.5.

use crate::linalg::{self, LinalgError};
use crate::loss::Loss;
use crate::objective::Objective;
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// Stopping rule and iteration cap of [`newton`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NewtonOptions {
    /// Stop when ‖∇L_b(w)‖₂ ≤ tolerance.
    pub tolerance: f64,
    /// Give up (with an error) after this many Newton iterations.
    pub max_iterations: usize,
}

impl Default for NewtonOptions {
    /// tolerance 1e-10, at most 100 iterations. At n = 12,000 the gradient's own rounding
    /// error is about n·u ≈ 1e-12, so 1e-10 is reachable yet far below what the removal
    /// bounds add per step.
    fn default() -> Self {
        Self {
            tolerance: 1e-10,
            max_iterations: 100,
        }
    }
}

/// What the solver did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SolveReport {
    /// Newton iterations taken.
    pub iterations: usize,
    /// ‖∇L_b(w)‖₂ at the returned w.
    pub gradient_norm: f64,
}

/// Why the solver failed. It never returns NaN weights.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum SolverError {
    /// The Hessian could not be factorised.
    #[error("Newton's method met a Hessian it cannot factorise: {0}")]
    Linalg(#[from] LinalgError),
    /// The gradient norm did not reach the tolerance.
    #[error(
        "Newton's method did not converge: ‖∇L‖ = {gradient_norm:.3e} after {iterations} \
         iterations, tolerance {tolerance:.1e} (raise --tol, or check the data for huge values)"
    )]
    NotConverged {
        /// Iterations taken.
        iterations: usize,
        /// Gradient norm reached.
        gradient_norm: f64,
        /// Tolerance asked for.
        tolerance: f64,
    },
    /// The objective or its gradient became NaN or infinite.
    #[error("the objective became non-finite at iteration {iteration}")]
    NonFinite {
        /// Iteration at which it happened.
        iteration: usize,
    },
}

/// Armijo sufficient-decrease constant.
const ARMIJO_C: f64 = 1e-4;
/// Smallest step before the line search gives up.
const MIN_STEP: f64 = 1e-12;

/// Minimises a strongly convex objective by Newton's method from `w0`.
pub fn newton<L: Loss + ?Sized>(
    objective: &Objective<'_, L>,
    w0: DVector<f64>,
    options: &NewtonOptions,
) -> Result<(DVector<f64>, SolveReport), SolverError> {
    let mut w = w0;
    let mut value = objective.value(&w);
    for iteration in 0..=options.max_iterations {
        // The Hessian, the O(n·d²) part, is formed only once the gradient says a step is due.
        let g = objective.gradient(&w);
        let gradient_norm = g.norm();
        if !gradient_norm.is_finite() || !value.is_finite() {
            return Err(SolverError::NonFinite { iteration });
        }
        if gradient_norm <= options.tolerance {
            return Ok((
                w,
                SolveReport {
                    iterations: iteration,
                    gradient_norm,
                },
            ));
        }
        if iteration == options.max_iterations {
            break;
        }
        let step = -linalg::cholesky(objective.hessian(&w))?.solve(&g);
        let slope = g.dot(&step);
        match line_search(objective, &w, value, &step, slope, gradient_norm) {
            Some((next, next_value)) => {
                w = next;
                value = next_value;
            }
            None => {
                return Err(SolverError::NotConverged {
                    iterations: iteration,
                    gradient_norm,
                    tolerance: options.tolerance,
                });
            }
        }
    }
    Err(SolverError::NotConverged {
        iterations: options.max_iterations,
        gradient_norm: objective.gradient(&w).norm(),
        tolerance: options.tolerance,
    })
}

/// Backtracking from t = 1; returns the accepted point and its objective value.
fn line_search<L: Loss + ?Sized>(
    objective: &Objective<'_, L>,
    w: &DVector<f64>,
    value: f64,
    step: &DVector<f64>,
    slope: f64,
    gradient_norm: f64,
) -> Option<(DVector<f64>, f64)> {
    let resolution = 64.0 * f64::EPSILON * value.abs().max(1.0);
    let mut t = 1.0;
    while t >= MIN_STEP {
        let candidate = w + step * t;
        let candidate_value = objective.value(&candidate);
        if candidate_value.is_finite() {
            let decrease = -ARMIJO_C * t * slope;
            if decrease > resolution {
                if candidate_value <= value - decrease {
                    return Some((candidate, candidate_value));
                }
            } else if objective.gradient(&candidate).norm() < gradient_norm {
                // Below the objective's resolution: accept on gradient decrease.
                return Some((candidate, candidate_value));
            }
        }
        t *= 0.5;
    }
    None
}

/// The exact minimiser for the squared loss, in closed form:
/// (XᵀX + ΛI)·w = Xᵀy − b, solved by Cholesky.
///
/// This is the Newton step from w = 0 (the squared-loss objective is quadratic); the
/// returned report carries the gradient norm actually achieved in floating point.
pub fn ridge_closed_form(
    objective: &Objective<'_, crate::loss::Squared>,
) -> Result<(DVector<f64>, SolveReport), SolverError> {
    let rows = objective.rows;
    let ones = vec![1.0; rows.len()];
    let mut a = linalg::weighted_gram(rows.features, rows.dim, &ones);
    for j in 0..rows.dim {
        a[(j, j)] += objective.lambda;
    }
    let rhs = linalg::transpose_times(rows.features, rows.dim, rows.targets) - objective.noise;
    let w = linalg::cholesky(a)?.solve(&rhs);
    let gradient_norm = objective.gradient(&w).norm();
    if !gradient_norm.is_finite() {
        return Err(SolverError::NonFinite { iteration: 1 });
    }
    Ok((
        w,
        SolveReport {
            iterations: 1,
            gradient_norm,
        },
    ))
}
