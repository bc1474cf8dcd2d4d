//! Bounds on the gradient residual of a Newton removal step, one pure function per result.
//!
//! Notation (sum-form objective, as in [`crate::objective`]):
//!
//! L_b(w; D) = Σ_i ℓ(wᵀx_i, y_i) + (Λ/2)‖w‖² + bᵀw,
//!
//! with ‖x_i‖ ≤ R, |ℓ'| ≤ C, ℓ'' γ-Lipschitz and 0 ≤ ℓ'' ≤ β_ℓ (see [`crate::loss`]). D′ is
//! the remaining data (n′ rows, design matrix X), Λ′ its total regularisation. A removal
//! step from weights w applies v = w − w⁻ (the Newton step H⁻¹Δ with Δ = ∇L_b(w; D′),
//! H = ∇²L_b(w; D′), see [`crate::removal`]); its gradient residual is u = ∇L_b(w⁻; D′).
//!
//! In exact arithmetic u = (H − H̄)v with H̄ = ∫₀¹ ∇²L_b(w − tv; D′) dt, the *Taylor
//! remainder* of the step. The `worst_case_*` and `data_dependent*` functions bound it;
//! the proofs are in `proofs/worst_case_bounds.md` and `proofs/data_dependent_bound.md`. In
//! floating point u also contains the linear-solve residual Δ − Hv, bounded by
//! [`newton_solve_residual_bound`]; a computed gradient is within
//! [`gradient_rounding_bound`] of the exact one.
//!
//! Conventions of every function here:
//! - inputs are exact values or upper bounds of the quantities named (a norm bound may be
//!   larger than the norm, never smaller);
//! - results that are bounds are rounded *outward*: the formula is evaluated in f64 and
//!   multiplied by (1 + 4·ε_mach·k), with k at least the number of floating-point operations,
//!   so the returned value is ≥ the exact value of the formula (ε_mach = `f64::EPSILON` = 2u);
//! - no function panics; NaN inputs give NaN, which fails closed in any `residual <= bound`
//!   comparison.

use crate::linalg;
use nalgebra::{DMatrix, DVector};

/// The unit roundoff u = 2⁻⁵³ of IEEE binary64 with round-to-nearest.
pub const UNIT_ROUNDOFF: f64 = f64::EPSILON / 2.0;

/// Higham's γ_k = k·u / (1 − k·u) (Accuracy and Stability of Numerical Algorithms, 2nd ed.,
/// §3.1): k floating-point operations in a chain perturb a value by a relative error of at
/// most γ_k. Returns +∞ when k·u ≥ 1 (no bound).
pub fn rounding_gamma(k: f64) -> f64 {
    let ku = k * UNIT_ROUNDOFF;
    if ku.is_nan() {
        return f64::NAN;
    }
    if ku >= 1.0 {
        return f64::INFINITY;
    }
    // Both operations rounded up by the factor (1 + 4ε·2).
    ku / (1.0 - ku) * (1.0 + 8.0 * f64::EPSILON)
}

/// x·(1 + 4·ε_mach·ops): rounds a value computed with at most `ops` operations outward.
fn round_up(x: f64, ops: u32) -> f64 {
    x * (1.0 + 4.0 * f64::EPSILON * f64::from(ops + 1))
}

/// Worst-case bound on the Taylor remainder of a Newton step, given a bound on ‖Δ‖:
///
/// ‖u‖ ≤ (γ/2)·n′·R³·‖v‖²  with  ‖v‖ ≤ ‖Δ‖/Λ′,  i.e.  γ·n′·R³·‖Δ‖² / (2Λ′²).
///
/// Assumptions: n′ remaining rows with ‖x_i‖ ≤ R, ℓ'' γ-Lipschitz, Λ′ the total
/// regularisation on D′ (so H ⪰ Λ′I), `gradient_norm_bound` ≥ ‖Δ‖ = ‖∇L_b(w; D′)‖. It holds
/// for any starting w (exact minimiser or not) and does not depend on b. When γ = 0 the
/// remainder vanishes identically and 0 is returned, whatever the other inputs.
/// Proof: `proofs/worst_case_bounds.md`, Lemma 2.
pub fn newton_remainder_worst_case(
    gamma: f64,
    r: f64,
    lambda_remaining: f64,
    n_remaining: usize,
    gradient_norm_bound: f64,
) -> f64 {
    if gamma == 0.0 {
        return 0.0;
    }
    let step = gradient_norm_bound / lambda_remaining;
    round_up(
        0.5 * gamma * n_remaining as f64 * r * r * r * step * step,
        9,
    )
}

/// Removing one row from an exact minimiser, fixed total Λ:
///
/// ‖u‖ ≤ γ·n′·C²·R⁵ / (2Λ²)   (n′ = n − 1 remaining rows).
///
/// Δ = −ℓ'(wᵀx)·x for the removed row, so ‖Δ‖ ≤ C·R; independent of b.
/// Proof: `proofs/worst_case_bounds.md`, Theorem 1.
pub fn worst_case_single_total(
    gamma: f64,
    c: f64,
    r: f64,
    lambda_total: f64,
    n_remaining: usize,
) -> f64 {
    worst_case_batch_total(gamma, c, r, lambda_total, n_remaining, 1)
}

/// Removing m rows at once from an exact minimiser, fixed total Λ:
///
/// ‖u‖ ≤ γ·n′·m²·C²·R⁵ / (2Λ²)   (n′ = n − m remaining rows),
///
/// from ‖Δ‖ = ‖Σ_{i∈S} ℓ'_i·x_i‖ ≤ m·C·R. Independent of b.
/// Proof: `proofs/worst_case_bounds.md`, Theorem 1.
pub fn worst_case_batch_total(
    gamma: f64,
    c: f64,
    r: f64,
    lambda_total: f64,
    n_remaining: usize,
    m_removed: usize,
) -> f64 {
    let delta = round_up(m_removed as f64 * c * r, 2);
    newton_remainder_worst_case(gamma, r, lambda_total, n_remaining, delta)
}

/// Removing one row from an exact minimiser, per-sample convention (Λ = λn before,
/// Λ′ = λ(n − 1) after): the batch bound with m = 1.
/// Proof: `proofs/worst_case_bounds.md`, Theorem 2.
pub fn worst_case_single_per_sample(
    gamma: f64,
    c: f64,
    r: f64,
    lambda: f64,
    n_remaining: usize,
    weight_norm_bound: f64,
) -> f64 {
    worst_case_batch_per_sample(gamma, c, r, lambda, n_remaining, 1, weight_norm_bound)
}

/// Removing m rows at once from an exact minimiser, per-sample convention (Λ = λn before,
/// Λ′ = λ(n − m) after, n′ = n − m):
///
/// Δ = −Σ_{i∈S} ℓ'_i·x_i − λm·w,  ‖Δ‖ ≤ m·(C·R + λ·W),
/// ‖u‖ ≤ γ·n′·R³·m²·(C·R + λ·W)² / (2·(λn′)²),
///
/// with W = `weight_norm_bound` ≥ ‖w‖. W depends on the noise b (see [`weight_norm_bound`]):
/// a W valid only when ‖b‖ ≤ r_b makes this bound hold with the probability of that event.
/// Proof: `proofs/worst_case_bounds.md`, Theorem 2.
pub fn worst_case_batch_per_sample(
    gamma: f64,
    c: f64,
    r: f64,
    lambda: f64,
    n_remaining: usize,
    m_removed: usize,
    weight_norm_bound: f64,
) -> f64 {
    let delta = round_up(m_removed as f64 * (c * r + lambda * weight_norm_bound), 4);
    let lambda_remaining = lambda * n_remaining as f64;
    // Λ′ is rounded down by dividing the step by a value at most one rounding too small.
    let lambda_remaining = lambda_remaining * (1.0 - f64::EPSILON);
    newton_remainder_worst_case(gamma, r, lambda_remaining, n_remaining, delta)
}

/// ‖w‖ ≤ (n·C·R + ‖b‖ + ‖g‖) / Λ for weights w with gradient g = ∇L_b(w; D) on n rows.
///
/// From Xᵀℓ'(Xw) + Λw + b = g: Λ‖w‖ ≤ ‖Xᵀℓ'‖ + ‖b‖ + ‖g‖ ≤ nCR + ‖b‖ + ‖g‖. The familiar
/// ‖w‖ ≤ C·R·n/Λ (C/λ in mean form) ignores b and fails under objective perturbation
/// (SOUNDNESS point 6). Proof: `proofs/worst_case_bounds.md`, Lemma 3.
pub fn weight_norm_bound(
    n: usize,
    c: f64,
    r: f64,
    noise_norm: f64,
    gradient_norm: f64,
    lambda_total: f64,
) -> f64 {
    round_up(
        (n as f64 * c * r + noise_norm + gradient_norm) / lambda_total,
        6,
    )
}

/// A radius r with P(‖b‖ > r) ≤ δ_R for b ~ N(0, σ²I_d):
///
/// r = σ·(√d + √(2·ln(1/δ_R))).
///
/// ‖b‖ = σ‖g‖ is a σ-Lipschitz function of g ~ N(0, I_d), E‖g‖ ≤ √d, and Gaussian
/// concentration gives P(‖g‖ ≥ E‖g‖ + s) ≤ exp(−s²/2). Returns 0 for δ_R ≥ 1 and +∞ for
/// δ_R ≤ 0. Proof: `proofs/worst_case_bounds.md`, Lemma 4.
pub fn gaussian_norm_tail_bound(sigma: f64, dim: usize, delta_r: f64) -> f64 {
    if let Some(trivial) = trivial_tail(delta_r) {
        return trivial;
    }
    let log_term = (2.0 * -delta_r.ln()).sqrt();
    round_up(sigma * ((dim as f64).sqrt() + log_term), 8)
}

/// A radius t with P(‖b‖ > t) ≤ δ_R when ‖b‖ ~ Gamma(shape d, scale θ) (the Gamma-norm
/// density p(b) ∝ exp(−‖b‖/θ)).
///
/// Chernoff: for t = dθ·x with x > 1, P(G ≥ t) ≤ exp(−d·(x − 1 − ln x)). The equation
/// d·(x − 1 − ln x) = ln(1/δ_R) is solved for x > 1 by bisection on y = x − 1, accepting
/// only points where a rigorous lower bound of the computed exponent reaches ln(1/δ_R).
/// Returns 0 for δ_R ≥ 1 or d = 0 and +∞ for δ_R ≤ 0.
/// Proof: `proofs/worst_case_bounds.md`, Lemma 5.
pub fn gamma_norm_tail_bound(scale: f64, dim: usize, delta_r: f64) -> f64 {
    if let Some(trivial) = trivial_tail(delta_r) {
        return trivial;
    }
    if dim == 0 {
        return 0.0;
    }
    let d = dim as f64;
    let target = -delta_r.ln();
    let reaches = |y: f64| chernoff_exponent_lower(y, d) >= target;
    let mut hi = 1.0;
    while !reaches(hi) {
        hi *= 2.0;
        if !hi.is_finite() {
            return f64::INFINITY;
        }
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if reaches(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    round_up(d * scale * (1.0 + hi), 3)
}

/// A lower bound of d·(y − ln(1 + y)), the Chernoff exponent at x = 1 + y, valid in
/// floating point: `ln_1p` is within 1 ulp (relative 2u), the subtraction and the product
/// add 2u each, so the computed value exceeds the exact one by at most 4u·y + 4u·value.
fn chernoff_exponent_lower(y: f64, d: f64) -> f64 {
    let h = y - y.ln_1p();
    d * (h - 4.0 * f64::EPSILON * y) * (1.0 - 4.0 * f64::EPSILON)
}

/// The trivial radii: 0 when δ_R ≥ 1, +∞ when δ_R ≤ 0, NaN for NaN.
fn trivial_tail(delta_r: f64) -> Option<f64> {
    if delta_r.is_nan() {
        Some(f64::NAN)
    } else if delta_r >= 1.0 {
        Some(0.0)
    } else if delta_r <= 0.0 {
        Some(f64::INFINITY)
    } else {
        None
    }
}

/// Data-dependent bound (Guo et al. 2020, Corollary 1, with the integral factor 1/2 and
/// the row-norm bound R made explicit):
///
/// ‖u‖ ≤ (γ/2)·‖X‖₂·R·‖v‖·‖Xv‖,
///
/// X the remaining rows (‖x_i‖ ≤ R), v the step actually applied (single row or batch: the
/// formula is the same, with v the batch step). Guo et al. state it with R = 1 implicit;
/// rows with an intercept column have R > 1. Pass upper bounds for ‖X‖₂
/// ([`spectral_norm_upper_bound`]), ‖v‖ and ‖Xv‖.
/// Proof: `proofs/data_dependent_bound.md`, Theorem 1.
pub fn data_dependent(
    gamma: f64,
    r: f64,
    x_spectral_bound: f64,
    step_norm: f64,
    x_step_norm: f64,
) -> f64 {
    round_up(
        0.5 * gamma * x_spectral_bound * r * step_norm * x_step_norm,
        5,
    )
}

/// What [`pass_free_step_increment`] needs to know about one pass-free step (all upper
/// bounds, already enlarged for their own rounding).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PassFreeStepInputs {
    /// γ, the Lipschitz constant of ℓ''.
    pub gamma: f64,
    /// β_ℓ ≥ sup ℓ''.
    pub curvature_bound: f64,
    /// R ≥ max ‖x_i‖.
    pub row_norm_bound: f64,
    /// S ≥ ‖X‖₂ (the certified bound of the rows at training; valid for every subset).
    pub x_spectral_bound: f64,
    /// ‖v‖ of the computed step.
    pub step_norm: f64,
    /// ‖Xv‖ (from the maintained Gram matrix, or S·‖v‖).
    pub x_step_norm: f64,
    /// ‖w − w₀‖, the drift of the weights from where the curvatures were taken.
    pub drift: f64,
    /// ‖w‖ before the step.
    pub weight_norm: f64,
    /// Λ′ of the remaining rows.
    pub lambda_after: f64,
    /// ‖r − r̂‖: the error of the computed system residual r̂ = fl(ĝ − Ĥ₀v + (Λ₀ − Λ′)v)
    /// against r = ĝ − H′₀v (η‖v‖ plus the rounding of the product and the sums).
    pub system_error: f64,
}

/// The residual a pass-free step adds to the tracked bound (proofs/pass_free_step.md,
/// Theorem 1): with ĝ the tracked gradient (error e), v the computed step, w⁻ = fl(w − v),
///
/// ‖∇L_b(w⁻; D′) − r̂‖ ≤ e + ‖r − r̂‖ + γ·R·S·‖Xv‖·(‖w − w₀‖ + ‖v‖/2) + (β·S² + Λ′)·u·(‖w‖ + ‖v‖),
///
/// the terms being the error carried in, the system residual's error, the curvature drift
/// from w₀ to w, the Taylor remainder along the step (the data-dependent bound), and the
/// rounding of w − v moved through the Hessian (‖∇²L‖ ≤ β·S² + Λ′). This returns all but e.
pub fn pass_free_step_increment(inputs: &PassFreeStepInputs) -> f64 {
    let PassFreeStepInputs {
        gamma,
        curvature_bound,
        row_norm_bound: r,
        x_spectral_bound: s,
        step_norm,
        x_step_norm,
        drift,
        weight_norm,
        lambda_after,
        system_error,
    } = *inputs;
    let drift_term = gamma * r * s * x_step_norm * drift;
    let remainder = data_dependent(gamma, r, s, step_norm, x_step_norm);
    let subtraction =
        (curvature_bound * s * s + lambda_after) * UNIT_ROUNDOFF * (weight_norm + step_norm);
    round_up(system_error + drift_term + remainder + subtraction, 8)
}

/// The sharper elementwise bound: with a = Xv,
///
/// ‖u‖ ≤ (γ/2)·‖X‖₂·‖a∘a‖₂ = (γ/2)·‖X‖₂·(Σ_i a_i⁴)^{1/2}.
///
/// It is never larger than [`data_dependent`]: ‖a∘a‖₂ ≤ ‖a‖_∞·‖a‖₂ ≤ R‖v‖·‖Xv‖, and also
/// ‖a∘a‖₂ ≤ ‖a‖₂². `xv` must hold values with |xv_i| ≥ |x_iᵀv| (a computed margin fl(x_iᵀv)
/// may be enlarged by γ_d·‖x_i‖·‖v‖ to make it so).
/// Proof: `proofs/data_dependent_bound.md`, Theorem 2.
pub fn data_dependent_elementwise(gamma: f64, x_spectral_bound: f64, xv: &[f64]) -> f64 {
    let fourth: f64 = xv.iter().map(|a| (a * a) * (a * a)).sum();
    // Σ of n non-negative terms, each with 3 roundings: relative error ≤ γ_{n+3}.
    let fourth = fourth * (1.0 + rounding_gamma(xv.len() as f64 + 3.0));
    round_up(0.5 * gamma * x_spectral_bound * fourth.sqrt(), 5)
}

/// A guaranteed upper bound on ‖X‖_F = (Σ x_ij²)^{1/2}, hence on ‖X‖₂.
///
/// Rounding: a sum of N squares has relative error ≤ γ_{N+1} (Higham Thm 3.1 / §3.1), so
/// the exact value is at most fl(Σ)·(1 + 2γ_{N+1}); the square root adds one rounding.
/// Proof: `proofs/spectral_norm_bound.md`, Lemma 1.
pub fn frobenius_norm_upper_bound(features: &[f64]) -> f64 {
    let sum: f64 = features.iter().map(|x| x * x).sum();
    let sum = sum * (1.0 + 2.0 * rounding_gamma(features.len() as f64 + 1.0));
    round_up(sum.sqrt(), 2)
}

/// A guaranteed upper bound on ‖X‖₂ for `features` holding row-major rows of `dim` values.
///
/// 1. Â = fl(XᵀX) ([`linalg::weighted_gram`], unit weights), symmetrised from its lower
///    triangle; ‖Â − XᵀX‖₂ ≤ γ_n·‖X‖_F².
/// 2. ρ ≈ λ_max(Â) by power iteration (an under-estimate, used only as a starting point).
/// 3. Certify t: for t = ρ(1 + 10⁻⁴) + (tiny), ×(1 + 10⁻³) until the Cholesky factorisation
///    of fl(tI − Â) succeeds. A completed floating-point Cholesky of a symmetric M gives
///    R̂ᵀR̂ = M + F with ‖F‖₂ ≤ γ_{d+1}·trace(M)/(1 − γ_{d+1}) (Higham Thm 10.3), and R̂ᵀR̂ ⪰ 0,
///    so λ_max(Â) ≤ t + u·max_j|t − â_jj| + γ_{d+1}·trace(M)/(1 − γ_{d+1}).
/// 4. ‖X‖₂² = λ_max(XᵀX) ≤ that + γ_n·‖X‖_F²; return the smaller of its square root and
///    [`frobenius_norm_upper_bound`].
///
/// Removing rows keeps the result valid: XᵀX − Σ x xᵀ ⪯ XᵀX, so a bound
/// computed once stays valid after removals. Proof: `proofs/spectral_norm_bound.md`.
pub fn spectral_norm_upper_bound(features: &[f64], dim: usize) -> f64 {
    let frobenius = frobenius_norm_upper_bound(features);
    if dim == 0 || frobenius == 0.0 || !frobenius.is_finite() {
        return frobenius;
    }
    let n = features.len() / dim;
    let gram = symmetric_gram(&features[..n * dim], dim);
    let gram_error = round_up(rounding_gamma(n as f64) * frobenius * frobenius, 2);
    spectral_norm_from_gram(&gram, gram_error, frobenius)
}

/// A guaranteed upper bound on ‖X‖₂ from a computed symmetric Gram matrix Â with
/// ‖Â − XᵀX‖₂ ≤ `gram_error` and `frobenius` ≥ ‖X‖_F: steps 2–4 of
/// [`spectral_norm_upper_bound`], for a Gram matrix summed elsewhere (merged partial sums,
/// [`crate::partials::Totals::spectral_norm_bound`]). Proof: `proofs/spectral_norm_bound.md`.
pub fn spectral_norm_from_gram(gram: &DMatrix<f64>, gram_error: f64, frobenius: f64) -> f64 {
    if gram.nrows() == 0 || frobenius == 0.0 || !frobenius.is_finite() {
        return frobenius;
    }
    match certified_lambda_max(gram, frobenius) {
        Some(lambda_max) => round_up((lambda_max + gram_error).sqrt(), 3).min(frobenius),
        None => frobenius,
    }
}

/// fl(XᵀX) with its upper triangle overwritten by the lower one (exactly symmetric).
fn symmetric_gram(features: &[f64], dim: usize) -> DMatrix<f64> {
    let ones = vec![1.0; features.len() / dim];
    let mut a = linalg::weighted_gram(features, dim, &ones);
    for j in 0..dim {
        for i in 0..j {
            a[(i, j)] = a[(j, i)];
        }
    }
    a
}

/// Power-iteration estimate of λ_max of a symmetric PSD matrix (an under-estimate).
fn power_iteration_estimate(a: &DMatrix<f64>) -> f64 {
    let d = a.nrows();
    let mut v = DVector::from_fn(d, |j, _| 1.0 + (j as f64 * 0.618_033_988_7).fract());
    let mut estimate = 0.0;
    for _ in 0..300 {
        let norm = v.norm();
        if !(norm > 0.0 && norm.is_finite()) {
            break;
        }
        v /= norm;
        let av = a * &v;
        let next = v.dot(&av);
        let converged = (next - estimate).abs() <= 1e-12 * next.abs();
        estimate = next;
        v = av;
        if converged {
            break;
        }
    }
    estimate
}

/// A certified upper bound on λ_max(Â), or None if no candidate could be certified.
fn certified_lambda_max(a: &DMatrix<f64>, frobenius: f64) -> Option<f64> {
    let d = a.nrows();
    let floor = frobenius * frobenius * f64::EPSILON * d as f64;
    let mut t = power_iteration_estimate(a).max(0.0) * (1.0 + 1e-4) + floor;
    for _ in 0..2_000 {
        if !t.is_finite() {
            return None;
        }
        if let Some(bound) = cholesky_certificate(a, t) {
            return Some(bound);
        }
        t *= 1.0 + 1e-3;
    }
    None
}

/// If the Cholesky factorisation of fl(tI − Â) completes, an upper bound on λ_max(Â).
fn cholesky_certificate(a: &DMatrix<f64>, t: f64) -> Option<f64> {
    let d = a.nrows();
    let mut m = -a.clone();
    let mut max_diag = 0.0_f64;
    for j in 0..d {
        m[(j, j)] += t;
        max_diag = max_diag.max((t - a[(j, j)]).abs());
    }
    let trace: f64 = (0..d).map(|j| m[(j, j)]).sum();
    linalg::cholesky(m).ok()?;
    let g = rounding_gamma(d as f64 + 1.0);
    // trace(M) summed from d non-negative terms: exact ≤ fl·(1 + 2γ_d).
    let trace = trace.max(0.0) * (1.0 + 2.0 * rounding_gamma(d as f64));
    let slack = UNIT_ROUNDOFF * max_diag * (1.0 + f64::EPSILON) + g * trace / (1.0 - g);
    Some(round_up(t + slack, 4))
}

/// ‖w − A*(D; b)‖ ≤ ‖∇L_b(w; D)‖ / Λ for training output w with gradient norm ‖g‖.
///
/// w is exactly A*(D; b − g) with g = ∇L_b(w; D) (it is a stationary point of L_{b−g},
/// which is strictly convex), and Λ-strong convexity bounds the distance to A*(D; b).
/// Proof: `proofs/training_residual.md`.
pub fn training_residual_distance(gradient_norm: f64, lambda_total: f64) -> f64 {
    strong_convexity_distance(gradient_norm, lambda_total)
}

/// ‖w − argmin L_b(·; D′)‖ ≤ ‖u‖ / Λ′ for any w with residual u = ∇L_b(w; D′), Λ′ the
/// strong-convexity constant of L_b(·; D′) (its total regularisation).
/// Proof: `proofs/training_residual.md`, Lemma 1.
pub fn strong_convexity_distance(residual_norm: f64, lambda_total: f64) -> f64 {
    round_up(residual_norm / lambda_total, 1)
}

/// What [`gradient_rounding_bound`] needs to know about one gradient evaluation
/// ∇L_b(w; D) = Xᵀℓ'(Xw) + Λw + b computed by [`crate::objective::Objective::gradient`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradientRoundingInputs {
    /// n, the number of rows summed.
    pub rows: usize,
    /// d, the number of features.
    pub dim: usize,
    /// R ≥ max_i ‖x_i‖.
    pub row_norm_bound: f64,
    /// β_ℓ ≥ sup ℓ'' (1/4 logistic, 1 squared), to propagate the error of the margins.
    pub curvature_bound: f64,
    /// Σ_i |r̂_i|, the sum of the computed loss derivatives ℓ'(fl(x_iᵀw)) (an upper bound).
    pub derivative_abs_sum: f64,
    /// ‖w‖ (an upper bound).
    pub weight_norm: f64,
    /// Λ.
    pub lambda_total: f64,
    /// ‖b‖ (an upper bound).
    pub noise_norm: f64,
}

/// An upper bound on ‖fl(∇L_b(w; D)) − ∇L_b(w; D)‖₂ for the computed gradient:
///
/// γ_{n+2}·(R·S + Λ‖w‖ + ‖b‖) + R·γ₆/(1 − γ₆)·S + n·β_ℓ·γ_d·R²·‖w‖,
///
/// with S = Σ|r̂_i|. Terms: the row sum of n products plus Λw_j and b_j (Higham §3.1: any
/// order, |fl(Σ) − Σ| ≤ γ_{n+2}·Σ|terms|); the evaluation of ℓ' (relative ≤ γ₆, assuming
/// `exp` within 1 ulp); the margins fl(x_iᵀw) (|error| ≤ γ_d·‖x_i‖·‖w‖, times ℓ'' ≤ β_ℓ).
/// A computed ‖û‖ then gives ‖u‖ ≤ fl(‖û‖)·(1 + γ_{d+2}) + this bound.
/// Proof: `proofs/squared_loss_exactness.md`, Lemma 1.
pub fn gradient_rounding_bound(inputs: &GradientRoundingInputs) -> f64 {
    let GradientRoundingInputs {
        rows,
        dim,
        row_norm_bound: r,
        curvature_bound,
        derivative_abs_sum: s,
        weight_norm,
        lambda_total,
        noise_norm,
    } = *inputs;
    let sum_terms =
        rounding_gamma(rows as f64 + 2.0) * (r * s + lambda_total * weight_norm + noise_norm);
    let g6 = rounding_gamma(6.0);
    let derivative = r * g6 / (1.0 - g6) * s;
    let margins = rows as f64 * curvature_bound * rounding_gamma(dim as f64) * r * r * weight_norm;
    round_up(sum_terms + derivative + margins, 16)
}

/// An upper bound on ‖Δ − H·v̂‖ for the step v̂ = w − w⁻ actually applied, excluding the
/// error of the computed Δ itself (add [`gradient_rounding_bound`] at w on D′):
///
/// (γ_{n′+d+16} + 2γ_{3d+1})·T·‖v‖ + E_m·‖v‖ + u·T·‖w⁻‖,   T = trace(Ĥ)/(1 − γ_{n′+d+16}),
///
/// covering the formation of Ĥ = fl(Xᵀdiag(ℓ'')X + Λ′I) and of its trace (≤ γ_{n′+d+16}·T
/// in 2-norm), the effect of the rounded margins on ℓ'' (E_m = `margin_curvature_error`
/// ≥ Σ_i |ℓ''(fl(x_iᵀw)) − ℓ''(x_iᵀw)|·‖x_i‖², e.g. n′·γ·γ_d·R³·‖w‖), the Cholesky solve's
/// backward error (Higham Thm 10.4, ≤ γ_{3d+1}·T/(1 − γ_{d+1})) and the final subtraction
/// w⁻ = fl(w − v) (|v̂ − v| ≤ u·|w⁻| componentwise). Exact arithmetic gives 0.
/// Proof: `proofs/squared_loss_exactness.md`, Lemma 2.
pub fn newton_solve_residual_bound(
    n_remaining: usize,
    dim: usize,
    hessian_trace: f64,
    margin_curvature_error: f64,
    step_norm: f64,
    weights_norm: f64,
) -> f64 {
    let form = rounding_gamma((n_remaining + dim) as f64 + 16.0);
    let solve = 2.0 * rounding_gamma(3.0 * dim as f64 + 1.0);
    let trace = hessian_trace / (1.0 - form);
    let step_terms = ((form + solve) * trace + margin_curvature_error) * step_norm;
    round_up(step_terms + UNIT_ROUNDOFF * trace * weights_norm, 12)
}
