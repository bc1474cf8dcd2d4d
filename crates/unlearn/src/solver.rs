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
use nalgebra::{DMatrix, DVector};
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
            if let Some(report) = stopping_test(&gradient, floor, tolerance, iteration)? {
                return Ok((w, report));
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

/// The stopping rule of [`newton`], shared with the distributed Newton iteration
/// ([`crate::distributed`]): for a computed gradient û with ‖û − ∇L_b(w)‖ ≤ `floor`, stop
/// (with the report) when the bound fl(‖û‖)·(1 + γ_{d+2}) + `floor` on the exact gradient
/// norm is ≤ τ; fail with [`SolverError::RoundingFloor`] when `floor` alone reaches τ (no
/// computed point can be certified); otherwise continue (`None`).
pub fn stopping_test(
    gradient: &DVector<f64>,
    floor: f64,
    tolerance: f64,
    iterations: usize,
) -> Result<Option<SolveReport>, SolverError> {
    let bound = objective::gradient_norm_upper_bound(gradient, floor);
    if bound <= tolerance {
        return Ok(Some(SolveReport {
            iterations,
            gradient_norm: bound,
        }));
    }
    if floor >= tolerance {
        return Err(SolverError::RoundingFloor {
            floor,
            tolerance,
            suggested: 10f64.powf((2.0 * floor).log10().ceil()),
        });
    }
    Ok(None)
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
        let hessian = objective.hessian_operator_from(at_w.curvatures.clone());
        Ok(-conjugate_gradient(
            &hessian,
            &at_w.hessian_diagonal,
            g,
            forcing_term(g),
        ))
    } else {
        cholesky_direction(objective.hessian_from(&at_w.curvatures), g)
    }
}

/// The Newton direction −H⁻¹g by Cholesky (never an explicit inverse).
pub fn cholesky_direction(
    hessian: DMatrix<f64>,
    g: &DVector<f64>,
) -> Result<DVector<f64>, SolverError> {
    Ok(-linalg::cholesky(hessian)?.solve(g))
}

/// The relative residual η = min(10⁻⁴, √‖g‖) a conjugate-gradient step may leave (see
/// [`StepSolver::ConjugateGradient`]).
pub fn forcing_term(g: &DVector<f64>) -> f64 {
    g.norm().sqrt().min(FORCING_CAP)
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
    let mut cg = ConjugateGradient::new(diagonal, g, eta);
    while let Some(direction) = cg.direction() {
        let product = h.apply(direction);
        cg.absorb(&product);
    }
    cg.solution()
}

/// The iteration of [`conjugate_gradient`] as a state machine: the caller multiplies
/// [`ConjugateGradient::direction`] by H however it can (in process, or one distributed
/// pass per product: [`crate::distributed`]) and hands the product to
/// [`ConjugateGradient::absorb`], until no direction is left.
#[derive(Debug, Clone)]
pub struct ConjugateGradient {
    inverse_diagonal: DVector<f64>,
    g: DVector<f64>,
    target: f64,
    p: DVector<f64>,
    r: DVector<f64>,
    direction: DVector<f64>,
    rz: f64,
    iterations_left: usize,
    done: bool,
}

impl ConjugateGradient {
    /// Starts from p = 0 for H·p = g, preconditioner diag H, relative residual η.
    pub fn new(diagonal: &DVector<f64>, g: &DVector<f64>, eta: f64) -> Self {
        let inverse_diagonal = diagonal.map(|v| 1.0 / v);
        let z = g.component_mul(&inverse_diagonal);
        let mut cg = Self {
            target: eta * g.norm(),
            p: DVector::zeros(g.len()),
            r: g.clone(),
            rz: g.dot(&z),
            direction: z,
            iterations_left: 2 * g.len() + 10,
            inverse_diagonal,
            g: g.clone(),
            done: false,
        };
        cg.done = cg.r.norm() <= cg.target;
        cg
    }

    /// The vector to multiply by H next, or `None` when the iteration is over.
    pub fn direction(&self) -> Option<&DVector<f64>> {
        (!self.done).then_some(&self.direction)
    }

    /// Takes H·d for the current direction d and advances one iteration.
    pub fn absorb(&mut self, hd: &DVector<f64>) {
        let curvature = self.direction.dot(hd);
        if curvature <= 0.0 || !curvature.is_finite() {
            self.done = true;
            return;
        }
        let alpha = self.rz / curvature;
        self.p.axpy(alpha, &self.direction, 1.0);
        self.r.axpy(-alpha, hd, 1.0);
        let z = self.r.component_mul(&self.inverse_diagonal);
        let rz_next = self.r.dot(&z);
        self.direction = &z + &self.direction * (rz_next / self.rz);
        self.rz = rz_next;
        self.iterations_left -= 1;
        self.done = self.iterations_left == 0 || self.r.norm() <= self.target;
    }

    /// p ≈ H⁻¹g (the preconditioned gradient if the iteration produced nothing usable).
    pub fn solution(&self) -> DVector<f64> {
        if self.p.iter().all(|v| v.is_finite()) && self.p.norm() > 0.0 {
            self.p.clone()
        } else {
            self.g.component_mul(&self.inverse_diagonal)
        }
    }
}

/// Backtracking from t = 1; returns the accepted point and its evaluation.
fn line_search<L: Loss + ?Sized>(
    objective: &Objective<'_, L>,
    w: &DVector<f64>,
    at_w: &Evaluation,
    step: &DVector<f64>,
) -> Option<(DVector<f64>, Evaluation)> {
    let mut search = LineSearch::new(at_w.value, &at_w.gradient, step);
    loop {
        let candidate = w + step * search.t;
        let at_candidate = objective.evaluate(&candidate);
        if search.accepts(at_candidate.value, at_candidate.gradient.norm()) {
            return Some((candidate, at_candidate));
        }
        if !search.backtrack() {
            return None;
        }
    }
}

/// The acceptance rule of the backtracking line search along a step p from w, shared with
/// the distributed Newton iteration ([`crate::distributed`]): accept w + t·p when
/// L_b(w + t·p) ≤ L_b(w) + c·t·∇L_bᵀp (Armijo), or, once that decrease is below the
/// objective's resolution 64·ε·max(|L_b|, 1), when the gradient norm decreases; else halve t
/// down to 10⁻¹².
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineSearch {
    /// The step length being tried.
    pub t: f64,
    value: f64,
    slope: f64,
    gradient_norm: f64,
    resolution: f64,
}

impl LineSearch {
    /// A search from a point with objective `value` and gradient `gradient` along `step`,
    /// starting at t = 1.
    pub fn new(value: f64, gradient: &DVector<f64>, step: &DVector<f64>) -> Self {
        Self {
            t: 1.0,
            value,
            slope: gradient.dot(step),
            gradient_norm: gradient.norm(),
            resolution: 64.0 * f64::EPSILON * value.abs().max(1.0),
        }
    }

    /// Whether the point at the current t, with this objective value and gradient norm,
    /// is accepted.
    pub fn accepts(&self, value: f64, gradient_norm: f64) -> bool {
        if !value.is_finite() {
            return false;
        }
        let decrease = -ARMIJO_C * self.t * self.slope;
        if decrease > self.resolution {
            value <= self.value - decrease
        } else {
            // Below the objective's resolution: accept on gradient decrease.
            gradient_norm < self.gradient_norm
        }
    }

    /// Halves t; false when it fell below the smallest step (the search failed).
    pub fn backtrack(&mut self) -> bool {
        self.t *= 0.5;
        self.t >= MIN_STEP
    }
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
