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
use crate::hessian_cache::{GramCache, HessianCache};
use crate::linalg::{self, LinalgError};
use crate::loss::Loss;
use crate::objective::Objective;
pub use crate::objective::{
    gradient_norm_upper_bound, gradient_with_error_bound, residual_upper_bound, row_norm_bound,
};
use nalgebra::{Cholesky, DMatrix, DVector, Dyn};

/// From this dimension on, training takes conjugate-gradient steps, ‖X‖₂ is bounded by
/// ‖X‖_F (one pass; the certified bound's d×d Gram matrix and its factorisations are not
/// formed), and a removal forms a d×d Hessian only to seed the pass-free path's cache when
/// that fits ([`cached_path_fits`]); otherwise its steps are Hessian-free
/// ([`hessian_free_removal_step`]).
pub const HESSIAN_FREE_DIMENSION: usize = 2048;

/// Bytes the pass-free path's d×d matrices may take (512 MiB).
pub const CACHE_MEMORY_BYTES: u64 = 512 << 20;

/// Whether the pass-free path's matrices fit [`CACHE_MEMORY_BYTES`]: Ĥ₀ and its factor per
/// class model and one shared Gram matrix, 8·(2k + 1)·d² bytes for k class models (one
/// model: 3·8d², 100 MB at d = 2048, 403 MB at d = 4096, up to d = 4729). Beyond, removal
/// steps are Hessian-free.
pub fn cached_path_fits(dim: usize, models: usize) -> bool {
    let bytes = 8 * (2 * models as u128 + 1) * (dim as u128).pow(2);
    bytes <= u128::from(CACHE_MEMORY_BYTES)
}

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
    factored_newton_removal_step(objective, w).map(|f| f.step)
}

/// An exact Newton step with the Hessian it formed and that Hessian's factor (which seed
/// the fast path's cache, see [`crate::hessian_cache`]).
#[derive(Debug, Clone)]
pub struct FactoredStep {
    /// The step.
    pub step: RemovalStep,
    /// ∇²L_b(w; D′) as formed.
    pub hessian: DMatrix<f64>,
    /// Its Cholesky factor.
    pub factor: Cholesky<f64, Dyn>,
}

/// [`newton_removal_step`], also returning the Hessian and its factor.
pub fn factored_newton_removal_step<L: Loss + ?Sized>(
    objective: &Objective<'_, L>,
    w: &DVector<f64>,
) -> Result<FactoredStep, LinalgError> {
    let (gradient, hessian) = objective.gradient_and_hessian(w);
    let factor = linalg::cholesky(hessian.clone())?;
    let step = step_with(&factor, w, gradient)?;
    Ok(FactoredStep {
        step,
        hessian,
        factor,
    })
}

/// The outcome of a [`pass_free_removal_step`].
#[derive(Debug, Clone, PartialEq)]
pub struct PassFreeStep {
    /// w⁻ = fl(w − v).
    pub weights: DVector<f64>,
    /// An upper bound on ‖∇L_b(w⁻; D′)‖: ‖r̂‖ enlarged for its rounding, plus the tracked
    /// error e′.
    pub residual_bound: f64,
    /// What this step added to the tracked error ([`bounds::pass_free_step_increment`]).
    pub increment: f64,
    /// Iterative refinements of the solve the step took (each O(d²)).
    pub refinements: usize,
    /// What [`PassFreeStep::tighten`] needs, while the step's ‖Xv‖ is still the spectral
    /// bound S·‖v‖ (γ > 0 and no Gram matrix consulted yet).
    tightening: Option<Tightening>,
}

/// The parts of a pass-free step's bound that a sharper ‖Xv‖ recomputes.
#[derive(Debug, Clone, PartialEq)]
struct Tightening {
    /// The step v actually applied.
    step: DVector<f64>,
    /// The increment's inputs, with ‖Xv‖ ≤ S·‖v‖.
    inputs: bounds::PassFreeStepInputs,
    /// The tracked error the step carried in (before its increment).
    carried_error: f64,
}

impl PassFreeStep {
    /// Replaces the step's ‖Xv‖ ≤ S·‖v‖ by min(`gram`'s bound, S·‖v‖) (one pass over Ĝ):
    /// the increment, the residual bound and `cache`'s tracked error shrink to what
    /// [`pass_free_removal_step`] with that Gram matrix gives, bit for bit. Both are upper
    /// bounds on the same step's residual (proofs/pass_free_step.md, "Lazy ‖Xv‖"), so the
    /// unlearner evaluates the Gram form only when the cheap bound would miss the budget.
    /// `cache` must be the one the step was taken on, untouched since. Does nothing when the
    /// step already used a Gram matrix or γ = 0.
    pub fn tighten(&mut self, cache: &mut HessianCache, gram: &GramCache) {
        let Some(t) = self.tightening.take() else {
            return;
        };
        let x_step_norm = gram.product_norm_bound(&t.step).min(t.inputs.x_step_norm);
        let inputs = bounds::PassFreeStepInputs {
            x_step_norm,
            ..t.inputs
        };
        let increment = bounds::pass_free_step_increment(&inputs);
        let (error, residual_bound) = step_error(t.carried_error, increment, cache.gradient().0);
        cache.set_gradient_error(error);
        (self.increment, self.residual_bound) = (increment, residual_bound);
    }
}

/// e′ = e + increment and the step's residual bound ‖r̂‖(1 + γ_{d+2}) + e′, each rounded up.
fn step_error(carried: f64, increment: f64, residual: &DVector<f64>) -> (f64, f64) {
    let error = (carried + increment) * (1.0 + 2.0 * f64::EPSILON);
    let bound = gradient_norm_upper_bound(residual, error) * (1.0 + 2.0 * f64::EPSILON);
    (error, bound)
}

/// The constants a pass-free step's bound needs (upper bounds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PassFreeConstants {
    /// γ, the Lipschitz constant of ℓ''.
    pub gamma: f64,
    /// β_ℓ ≥ sup ℓ''.
    pub curvature_bound: f64,
    /// R ≥ max ‖x_i‖.
    pub row_norm_bound: f64,
    /// S ≥ ‖X‖₂.
    pub x_spectral_bound: f64,
    /// Iterative refinement stops once ‖r̂‖ is at most this and at most the error e carried in
    /// (or at most e/10): what is left of r̂ becomes the next step's tracked gradient, which
    /// that step's solve corrects, so refining only lowers this step's charge; the unlearner
    /// passes a hundredth of what every charge counts besides ‖r̂‖ ([`refinement_target`]).
    pub refine_until: f64,
}

/// A removal step without any pass over the remaining rows, in O(d²)
/// (proofs/pass_free_step.md). The cache holds the tracked gradient ĝ ≈ ∇L_b(w; D′) (its
/// `remove_row` subtracted the deleted rows' terms) and Ĥ₀ ≈ ∇²L_b(w₀; D′) + (Λ₀ − Λ′)I at
/// an earlier point w₀, with the regularisation Λ₀ it was formed with:
///
/// ĝ ← ĝ − (Λ_ĝ − Λ′)·w  (per-sample convention: Λ dropped with the rows),
/// v = Ĥ₀⁻¹ĝ (the cached factor),  w⁻ = w − v,
/// r̂ = ĝ − Ĥ₀v + (Λ₀ − Λ′)·v  (the computed part of the new gradient, corrected next step),
///
/// and the cache's ĝ becomes r̂ with error e′ = e + [`bounds::pass_free_step_increment`].
/// `gram` bounds ‖Xv‖ (without it, ‖X‖₂·‖v‖ until [`PassFreeStep::tighten`]). When the factor solves Ĥ₀ poorly
/// (‖ĝ − Ĥ₀v‖ > [`REFACTOR_THRESHOLD`]·‖ĝ‖ after accumulated downdates) it is recomputed
/// from Ĥ₀ for the next step: that changes only the quality of later steps, never their
/// bound, which is measured against Ĥ₀.
pub fn pass_free_removal_step(
    cache: &mut HessianCache,
    gram: Option<&GramCache>,
    w: &DVector<f64>,
    lambda_after: f64,
    constants: PassFreeConstants,
) -> Result<PassFreeStep, LinalgError> {
    let d = w.len() as f64;
    let grow = |x: f64, k: f64| x * (1.0 + bounds::rounding_gamma(k));
    let weight_norm = grow(w.norm(), d + 2.0);
    let (tracked, gradient_lambda) = cache.gradient();
    let mut error = cache.gradient_error();
    let mut gradient = tracked.clone();
    let lambda_drop = gradient_lambda - lambda_after;
    if lambda_drop != 0.0 {
        error += bounds::rounding_gamma(4.0) * (gradient.norm() + lambda_drop.abs() * weight_norm);
        gradient.axpy(-lambda_drop, w, 1.0);
    }
    let lambda_shift = cache.lambda() - lambda_after;
    // The factor gets the pending rows in the forward solve's pass, Ĥ₀ in the product's.
    let mut step = gradient.clone();
    cache.solve(&mut step)?;
    let (mut residual, solve_residual) = system_residual(cache, &gradient, &step, lambda_shift)?;
    // Iterative refinement with the same factor (O(d²) each): it removes what the factor
    // and the per-sample shift Λ₀ − Λ′ leave of the computed residual, while it keeps
    // halving and matters. The recorded bound is ‖r̂‖ + e′, but r̂ is not lost: it is the next
    // step's tracked gradient, which that step's solve corrects. So refining stops once
    // ‖r̂‖ ≤ e/10 (e the error carried in: r̂ is under a tenth of the bound), or once
    // ‖r̂‖ ≤ min(e, `refine_until`): r̂ then adds under a hundredth to the charge, and at most
    // e to the bound, so the weights stay as close to the minimiser as the tracked error
    // already allows. Drift and remainder are not in r̂.
    let mut refinements = 0;
    for _ in 0..MAX_REFINEMENTS {
        if residual.norm() <= (0.1 * error).max(constants.refine_until.min(error)) {
            break;
        }
        let mut correction = residual.clone();
        cache.solve(&mut correction)?;
        let refined = &step + correction;
        let (r, _) = system_residual(cache, &gradient, &refined, lambda_shift)?;
        // Also stops on NaN (the comparison is false).
        let halved = r.norm() < 0.5 * residual.norm();
        if !halved {
            break;
        }
        (step, residual) = (refined, r);
        refinements += 1;
    }
    if step.iter().any(|v| !v.is_finite()) {
        return Err(LinalgError::NonFinite { dim: step.len() });
    }
    let step_norm = grow(step.norm(), d + 2.0);
    let gradient_norm = grow(gradient.norm(), d + 2.0);
    // The queued rows Ĥ₀'s product subtracted (none after a fold): m more terms per entry,
    // each through at most d + m + 4 roundings, charged as γ_{d+m+5}: the spare one covers
    // the computed Σ ŝ_k·R² falling short by a relative γ_{m+2} (proofs/pass_free_step.md,
    // "When the update is applied").
    let (queued, queued_weight) = cache.queued_rows();
    let queued_roundings = if queued == 0 {
        0.0
    } else {
        queued as f64 + 1.0
    };
    let system_error = cache.hessian_error() * step_norm
        + bounds::rounding_gamma(d + 4.0 + queued_roundings)
            * (gradient_norm
                + (cache.hessian_frobenius() + lambda_shift.abs() + queued_weight) * step_norm);
    let drift = grow((w - cache.point()).norm(), d + 2.0);
    let inputs = bounds::PassFreeStepInputs {
        gamma: constants.gamma,
        curvature_bound: constants.curvature_bound,
        row_norm_bound: constants.row_norm_bound,
        x_spectral_bound: constants.x_spectral_bound,
        step_norm,
        x_step_norm: constants.x_spectral_bound * step_norm,
        drift,
        weight_norm,
        lambda_after,
        system_error,
    };
    let increment = bounds::pass_free_step_increment(&inputs);
    let (carried_error, (error, residual_bound)) = (error, step_error(error, increment, &residual));
    let weights = w - &step;
    cache.set_gradient(residual, error, lambda_after);
    let mut taken = PassFreeStep {
        weights,
        residual_bound,
        increment,
        refinements,
        // ‖Xv‖ enters the increment only through γ.
        tightening: (constants.gamma > 0.0).then_some(Tightening {
            step,
            inputs,
            carried_error,
        }),
    };
    if let Some(g) = gram {
        taken.tighten(cache, g);
    }
    if solve_residual > REFACTOR_THRESHOLD * gradient.norm() {
        cache.refactor()?;
    }
    Ok(taken)
}

/// The refinement target of a pass-free step ([`PassFreeConstants::refine_until`]):
/// (τ + Λ′·G/√K)/100, where G = g√(K·d) is the grid rounding every lattice charge adds
/// (0 without a lattice) and K the class models. A release of K models is charged
/// c = √Σ_k((b_k + τ)/Λ′)² + G with b_k ≥ ‖r̂_k‖ + e′_k; leaving each ‖r̂_k‖ at most this adds
/// at most √K·(τ/Λ′ + G/√K)/100 ≤ c/100 to c: the charge is within 1 % of what an exact solve
/// (r̂ = 0) would be charged (proofs/pass_free_step.md, "Refinement").
pub fn refinement_target(
    tolerance: f64,
    lambda_after: f64,
    grid_rounding: f64,
    models: usize,
) -> f64 {
    (tolerance + lambda_after * grid_rounding / (models.max(1) as f64).sqrt()) / 100.0
}

/// r̂(v) = ĝ − Ĥ₀v + (Λ₀ − Λ′)v, with Ĥ₀v from the lower triangle (the pending rows applied
/// in the same pass), and ‖ĝ − Ĥ₀v‖. Each entry of Ĥ₀v is a sum of d products (γ_d in any
/// order), the subtraction and the shift round twice more: within the γ_{d+4} of the step's
/// system error.
fn system_residual(
    cache: &mut HessianCache,
    gradient: &DVector<f64>,
    v: &DVector<f64>,
    lambda_shift: f64,
) -> Result<(DVector<f64>, f64), LinalgError> {
    let mut r = gradient - cache.hessian_times(v)?;
    let solve_residual = r.norm();
    r.axpy(lambda_shift, v, 1.0);
    Ok((r, solve_residual))
}

/// At most this many refinement iterations per pass-free step (each halves the computed
/// residual or stops the loop: 30 reach 2⁻³⁰ ≈ 10⁻⁹ of the first one).
pub const MAX_REFINEMENTS: usize = 30;

/// The relative solve residual ‖ĝ − Ĥ₀v‖/‖ĝ‖ above which the cached factor is recomputed
/// from Ĥ₀. A fresh Cholesky solve leaves about κ·d·u (backward stable, Higham Thm 10.4):
/// below 10⁻¹⁰ for the condition numbers of regularised models (κ ≤ ‖X‖₂²/(4Λ′) + 1,
/// under 10⁴ in the benchmarks); 10⁻⁸ means accumulated downdates have cost the factor two
/// digits, and the next step would correct the known residual only to that accuracy.
pub const REFACTOR_THRESHOLD: f64 = 1e-8;

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
