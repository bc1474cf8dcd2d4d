//! Newton's method with backtracking line search, stopping on a bounded gradient norm.
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
//! The stopping rule is a theorem about the exact gradient, not about its floating-point
//! value: the solver stops when an *upper bound* on the exact ‖∇L_b(w)‖ is ≤ τ, namely
//! fl(‖û‖)·(1 + γ_{d+2}) + [`crate::bounds::gradient_rounding_bound`] for the computed
//! gradient û ([`objective::residual_upper_bound`]; proofs/training_residual.md). So a
//! retrain is within τ/Λ′ of the exact minimiser A*(D′; b) (strong convexity), whatever
//! the rounding. The bound's rounding part does not shrink as Newton converges (it grows
//! with n and ‖w‖); when it alone exceeds τ no computed point can be certified and the
//! solver fails with [`SolverError::RoundingFloor`] instead of iterating in vain.
//!
//! That bound g₀ is returned: w is the exact minimiser of the objective with noise
//! b − ∇L_b(w), ‖∇L_b(w)‖ ≤ g₀, and the removal budget must account for g₀.
//!
//! References: Nocedal & Wright, *Numerical Optimization* (2006), Algorithm 3.1 and §3.5.

use crate::linalg::{self, LinalgError};
use crate::loss::Loss;
use crate::objective::{self, Evaluation, HessianOperator, Objective};
use nalgebra::DVector;
use serde::{Deserialize, Serialize};

/// How each Newton step ∇²L_b(w)·p = −∇L_b(w) is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepSolver {
    /// Form the Hessian (O(n·d²)) and solve by Cholesky: exact steps, best for small d.
    Cholesky,
    /// Truncated Newton: preconditioned conjugate gradient on Hessian-vector products
    /// (O(n·d) each, the Hessian is never formed), to a relative residual
    /// η = min(10⁻⁴, √‖∇L_b‖) (a superlinear forcing sequence: Eisenstat & Walker 1996;
    /// Nocedal & Wright Algorithm 7.1; among caps 10⁻¹…10⁻⁶, 10⁻⁴ measured fastest on
    /// 12,000×784: 3 Newton iterations).
    ConjugateGradient,
    /// Cholesky for d < 200, conjugate gradient above.
    Auto,
}

impl StepSolver {
    /// Whether steps in dimension `dim` are solved by conjugate gradient.
    pub fn uses_conjugate_gradient(self, dim: usize) -> bool {
        match self {
            StepSolver::Cholesky => false,
            StepSolver::ConjugateGradient => true,
            StepSolver::Auto => dim >= AUTO_CG_DIMENSION,
        }
    }
}

/// Largest relative residual η a conjugate-gradient step may leave (see [`StepSolver`]).
const FORCING_CAP: f64 = 1e-4;

/// Dimension from which [`StepSolver::Auto`] uses conjugate gradient.
const AUTO_CG_DIMENSION: usize = 200;

/// Stopping rule, iteration cap and step solver of [`newton`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NewtonOptions {
    /// Stop when an upper bound on the exact ‖∇L_b(w)‖₂ is ≤ tolerance.
    pub tolerance: f64,
    /// Give up (with an error) after this many Newton iterations.
    pub max_iterations: usize,
    /// How each step is solved. The stopping rule is the same for every choice, so the
    /// result meets the same tolerance whichever is used.
    pub step_solver: StepSolver,
}

impl Default for NewtonOptions {
    /// tolerance 1e-7, at most 100 iterations, automatic step solver. The tolerance must
    /// exceed the guaranteed rounding bound of the gradient, which holds for any summation
    /// order and so grows like γ_n·Σ_i|ℓ'_i|·R ≈ n²·u: measured at the optimum of synthetic
    /// rows of norm ≤ 1 (λ = 1e-3 per sample), 2e-10 at 1,797×64, 4e-10 at 2,000×100,
    /// 1.6e-8 at 12,000×784 and 1.7e-6 at 200,000×20 (there, raise --tol). A retrain is
    /// then within τ/Λ′ of the exact minimiser: at Λ′ ≥ 1e-3 that is ≤ 1e-4, a percent of a
    /// typical budget ε′ = 0.01.
    fn default() -> Self {
        Self {
            tolerance: 1e-7,
            max_iterations: 100,
            step_solver: StepSolver::Auto,
        }
    }
}

/// What the solver did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SolveReport {
    /// Newton iterations taken.
    pub iterations: usize,
    /// An upper bound on the exact ‖∇L_b(w)‖₂ at the returned w: the computed norm rounded
    /// outward plus the gradient's rounding bound ([`objective::residual_upper_bound`]).
    /// [`newton`] returns only points where it is ≤ the tolerance.
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
    /// The gradient's guaranteed rounding error alone exceeds the tolerance: no computed
    /// point can be certified to have ‖∇L_b‖ ≤ τ.
    #[error(
        "the tolerance {tolerance:.1e} is below what floating point can certify here: the \
         gradient's rounding error bound is {floor:.2e} (it grows with the number of rows and \
         the size of the weights); raise --tol to at least {suggested:.0e}"
    )]
    RoundingFloor {
        /// The gradient's rounding error bound at the last iterate.
        floor: f64,
        /// Tolerance asked for.
        tolerance: f64,
        /// A tolerance that clears the floor: the next power of ten above 2·floor.
        suggested: f64,
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
    let row_norm_bound = objective::row_norm_bound(objective.rows.features, objective.rows.dim);
    let tolerance = options.tolerance;
    let mut w = w0;
    let mut at_w = objective.evaluate(&w);
    for iteration in 0..=options.max_iterations {
        let gradient_norm = at_w.gradient.norm();
        if !gradient_norm.is_finite() || !at_w.value.is_finite() {
            return Err(SolverError::NonFinite { iteration });
        }
        // The computed norm is a cheap filter; the stopping test is on the bound.
        if gradient_norm <= tolerance {
            let (gradient, floor) =
                objective::gradient_with_error_bound(objective, &w, row_norm_bound);
            let bound = objective::gradient_norm_upper_bound(&gradient, floor);
            if bound <= tolerance {
                return Ok((
                    w,
                    SolveReport {
                        iterations: iteration,
                        gradient_norm: bound,
                    },
                ));
            }
            if floor >= tolerance {
                return Err(SolverError::RoundingFloor {
                    floor,
                    tolerance,
                    suggested: 10f64.powf((2.0 * floor).log10().ceil()),
                });
            }
        }
        if iteration == options.max_iterations {
            break;
        }
        let step = newton_step(objective, &w, &at_w, options.step_solver)?;
        match line_search(objective, &w, &at_w, &step) {
            Some((next, at_next)) => {
                w = next;
                at_w = at_next;
            }
            None => {
                return Err(SolverError::NotConverged {
                    iterations: iteration,
                    gradient_norm,
                    tolerance,
                });
            }
        }
    }
    Err(SolverError::NotConverged {
        iterations: options.max_iterations,
        gradient_norm: at_w.gradient.norm(),
        tolerance,
    })
}

/// The Newton direction p ≈ −∇²L_b(w)⁻¹∇L_b(w) by the chosen solver.
fn newton_step<L: Loss + ?Sized>(
    objective: &Objective<'_, L>,
    w: &DVector<f64>,
    at_w: &Evaluation,
    solver: StepSolver,
) -> Result<DVector<f64>, SolverError> {
    let g = &at_w.gradient;
    if solver.uses_conjugate_gradient(w.len()) {
        let forcing = g.norm().sqrt().min(FORCING_CAP);
        let hessian = objective.hessian_operator_from(at_w.curvatures.clone());
        Ok(-conjugate_gradient(
            &hessian,
            &at_w.hessian_diagonal,
            g,
            forcing,
        ))
    } else {
        Ok(-linalg::cholesky(objective.hessian_from(&at_w.curvatures))?.solve(g))
    }
}

/// Solves H·p = g approximately by conjugate gradient with a Jacobi preconditioner
/// (`diagonal` = diag H), until ‖H·p − g‖ ≤ η·‖g‖ or 2d + 10 iterations. H is symmetric
/// positive definite (⪰ ΛI), so every iterate is a descent direction for −p (Nocedal &
/// Wright, Theorem 7.1 and §7.1).
pub fn conjugate_gradient(
    h: &HessianOperator<'_>,
    diagonal: &DVector<f64>,
    g: &DVector<f64>,
    eta: f64,
) -> DVector<f64> {
    let inverse_diagonal = diagonal.map(|v| 1.0 / v);
    let target = eta * g.norm();
    let mut p = DVector::zeros(g.len());
    let mut r = g.clone();
    let mut z = r.component_mul(&inverse_diagonal);
    let mut direction = z.clone();
    let mut rz = r.dot(&z);
    for _ in 0..2 * g.len() + 10 {
        if r.norm() <= target {
            break;
        }
        let hd = h.apply(&direction);
        let curvature = direction.dot(&hd);
        if curvature <= 0.0 || !curvature.is_finite() {
            break;
        }
        let alpha = rz / curvature;
        p.axpy(alpha, &direction, 1.0);
        r.axpy(-alpha, &hd, 1.0);
        z = r.component_mul(&inverse_diagonal);
        let rz_next = r.dot(&z);
        direction = &z + &direction * (rz_next / rz);
        rz = rz_next;
    }
    if p.iter().all(|v| v.is_finite()) && p.norm() > 0.0 {
        p
    } else {
        g.component_mul(&inverse_diagonal)
    }
}

/// Backtracking from t = 1; returns the accepted point and its evaluation.
fn line_search<L: Loss + ?Sized>(
    objective: &Objective<'_, L>,
    w: &DVector<f64>,
    at_w: &Evaluation,
    step: &DVector<f64>,
) -> Option<(DVector<f64>, Evaluation)> {
    let slope = at_w.gradient.dot(step);
    let gradient_norm = at_w.gradient.norm();
    let resolution = 64.0 * f64::EPSILON * at_w.value.abs().max(1.0);
    let mut t = 1.0;
    while t >= MIN_STEP {
        let candidate = w + step * t;
        let at_candidate = objective.evaluate(&candidate);
        if at_candidate.value.is_finite() {
            let decrease = -ARMIJO_C * t * slope;
            let accept = if decrease > resolution {
                at_candidate.value <= at_w.value - decrease
            } else {
                // Below the objective's resolution: accept on gradient decrease.
                at_candidate.gradient.norm() < gradient_norm
            };
            if accept {
                return Some((candidate, at_candidate));
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
/// returned report carries an upper bound on the exact gradient norm at the computed w
/// ([`objective::residual_upper_bound`]), with no stopping test ([`newton`] from this
/// point applies one).
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
    let gradient_norm = objective::residual_upper_bound(
        objective,
        &w,
        objective::row_norm_bound(rows.features, rows.dim),
    );
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
