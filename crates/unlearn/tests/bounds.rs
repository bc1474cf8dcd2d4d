//! The residual bounds of `unlearn::bounds` against exact residuals of real removal steps.
//!
//! Each case trains a logistic (or ridge) model to ‖∇L_b‖ ≤ 1e-10, removes rows, takes the
//! Newton removal step and evaluates the residual u = ∇L_b(w⁻; D′). Every comparison
//! allows for rounding with the crate's own rounding bounds (never a hand-picked epsilon):
//! u = (Δ − Hv̂) + (Taylor remainder), so ‖û‖ ≤ remainder bound + solve residual bound +
//! the error of the computed û (proofs/squared_loss_exactness.md).

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use unlearn::bounds::{self, GradientRoundingInputs};
use unlearn::linalg;
use unlearn::loss::{LOGISTIC_GAMMA, Logistic, Loss, LossKind};
use unlearn::objective::{Objective, Regularization, Rows};
use unlearn::removal::{RemovalStep, newton_removal_step};
use unlearn::solver::{self, NewtonOptions};

/// A random problem: n rows of d features with ‖x_i‖ ≤ R, ±1 labels, noise b, λ.
#[derive(Debug, Clone)]
struct Problem {
    dim: usize,
    features: Vec<f64>,
    targets: Vec<f64>,
    noise: Vec<f64>,
    r: f64,
    lambda: f64,
    regularization: Regularization,
    removed: usize,
}

prop_compose! {
    fn problem()(dim in 1usize..5, n in 8usize..40)(
        dim in Just(dim),
        raw in prop::collection::vec(-1.0..1.0f64, n * dim),
        radii in prop::collection::vec(0.0..1.0f64, n),
        labels in prop::collection::vec(any::<bool>(), n),
        noise in prop::collection::vec(-1.0..1.0f64, dim),
        sigma in 0.0..3.0f64,
        r in 0.5..2.5f64,
        lambda in 0.05..2.0f64,
        per_sample in any::<bool>(),
        removed in 1usize..4,
    ) -> Problem {
        let mut features = raw;
        for (row, rho) in features.chunks_mut(dim).zip(&radii) {
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-300);
            row.iter_mut().for_each(|v| *v *= r * rho / norm);
        }
        let targets = labels.iter().map(|&l| if l { 1.0 } else { -1.0 }).collect();
        let noise = noise.iter().map(|v| v * sigma).collect();
        let regularization = if per_sample { Regularization::PerSample } else { Regularization::Total };
        // The per-sample λ is per row: scale it so Λ stays comparable.
        let lambda = if per_sample { lambda / 8.0 } else { lambda };
        Problem { dim, features, targets, noise, r, lambda, regularization, removed }
    }
}

fn rows<'a>(p: &'a Problem, keep: usize) -> Rows<'a> {
    Rows {
        features: &p.features[..keep * p.dim],
        targets: &p.targets[..keep],
        dim: p.dim,
    }
}

fn objective<'a, L: Loss>(
    loss: &'a L,
    p: &'a Problem,
    keep: usize,
    b: &'a DVector<f64>,
) -> Objective<'a, L> {
    Objective {
        loss,
        rows: rows(p, keep),
        lambda: p.regularization.effective_lambda(p.lambda, keep),
        noise: b,
    }
}

/// Upper bound on the rounding error of `objective.gradient(w)`.
fn gradient_error<L: Loss>(objective: &Objective<'_, L>, w: &DVector<f64>, r: f64) -> f64 {
    let z = linalg::margins(objective.rows.features, w);
    let s: f64 = z
        .iter()
        .zip(objective.rows.targets)
        .map(|(&zi, &yi)| objective.loss.derivative(zi, yi).abs())
        .sum();
    bounds::gradient_rounding_bound(&GradientRoundingInputs {
        rows: objective.rows.len(),
        dim: objective.rows.dim,
        row_norm_bound: r,
        curvature_bound: objective.loss.second_derivative_bound(),
        derivative_abs_sum: s,
        weight_norm: w.norm() * (1.0 + 1e-15),
        lambda_total: objective.lambda,
        noise_norm: objective.noise.norm() * (1.0 + 1e-15),
    })
}

/// n′·γ·γ_d·R³·‖w‖: how much the rounded margins can move the Hessian's weights ℓ''.
fn margin_curvature_error<L: Loss>(objective: &Objective<'_, L>, w: &DVector<f64>, r: f64) -> f64 {
    let d = objective.rows.dim;
    objective.rows.len() as f64
        * objective.loss.second_derivative_lipschitz()
        * bounds::rounding_gamma(d as f64)
        * r.powi(3)
        * w.norm()
        * norm_up(d)
}

/// Outward factor for a computed Euclidean norm of `len` values (γ_{len+2}).
fn norm_up(len: usize) -> f64 {
    1.0 + bounds::rounding_gamma(len as f64 + 2.0)
}

/// What a removal step produced, with the rounding allowance of its residual.
struct Outcome {
    step: RemovalStep,
    /// v̂ = w − w⁻, the step actually applied.
    applied: DVector<f64>,
    /// ‖û‖, the computed residual norm.
    residual: f64,
    /// ‖Δ − Hv̂‖ bound + error of Δ̂ + error of û.
    allowance: f64,
}

fn remove<L: Loss>(objective: &Objective<'_, L>, w: &DVector<f64>, r: f64) -> Outcome {
    let step = newton_removal_step(objective, w).expect("removal step");
    let applied = w - &step.weights;
    let u = objective.gradient(&step.weights);
    let hessian = objective.hessian(w);
    let d = objective.rows.dim;
    let allowance = bounds::newton_solve_residual_bound(
        objective.rows.len(),
        d,
        hessian.trace(),
        margin_curvature_error(objective, w, r),
        step.step.norm() * norm_up(d),
        step.weights.norm() * norm_up(d),
    ) + gradient_error(objective, w, r)
        + gradient_error(objective, &step.weights, r);
    Outcome {
        residual: u.norm(),
        applied,
        step,
        allowance,
    }
}

/// Exact-arithmetic remainder bound `bound` holds for the computed residual.
fn holds(o: &Outcome, bound: f64, d: usize) -> bool {
    o.residual / norm_up(d) <= bound + o.allowance
}

fn train<L: Loss>(objective: &Objective<'_, L>) -> (DVector<f64>, f64) {
    let (w, report) = solver::newton(
        objective,
        DVector::zeros(objective.rows.dim),
        &NewtonOptions::default(),
    )
    .expect("training converges");
    (w, report.gradient_norm * norm_up(objective.rows.dim))
}

fn check_logistic(p: Problem) -> Result<(), TestCaseError> {
    let n = p.targets.len();
    let (d, r, m) = (p.dim, p.r, p.removed);
    let b = DVector::from_vec(p.noise.clone());
    let full = objective(&Logistic, &p, n, &b);
    let (w, g) = train(&full);
    let keep = n - m; // the removed rows are the last m
    let rest = objective(&Logistic, &p, keep, &b);
    let o = remove(&rest, &w, r);
    let (gamma, c) = (LOGISTIC_GAMMA, 1.0);
    // The bounds assume an exact minimiser; ‖Δ‖ grows by at most ‖g‖ (Lemma 2 of
    // worst_case_bounds.md), which scales the quadratic bound by this factor.
    let total_bound = match p.regularization {
        Regularization::Total => {
            let delta = m as f64 * c * r;
            let factor = ((delta + g) / delta).powi(2) * (1.0 + 1e-15);
            let bound = if m == 1 {
                bounds::worst_case_single_total(gamma, c, r, p.lambda, keep)
            } else {
                bounds::worst_case_batch_total(gamma, c, r, p.lambda, keep, m)
            };
            bound * factor
        }
        Regularization::PerSample => {
            let weight = bounds::weight_norm_bound(n, c, r, b.norm() * norm_up(d), g, full.lambda);
            let delta = m as f64 * (c * r + p.lambda * weight);
            let factor = ((delta + g) / delta).powi(2) * (1.0 + 1e-15);
            let bound = if m == 1 {
                bounds::worst_case_single_per_sample(gamma, c, r, p.lambda, keep, weight)
            } else {
                bounds::worst_case_batch_per_sample(gamma, c, r, p.lambda, keep, m, weight)
            };
            prop_assert!(w.norm() <= weight, "‖w‖ = {} > bound {weight}", w.norm());
            bound * factor
        }
    };
    prop_assert!(
        holds(&o, total_bound, d),
        "worst case: {} > {}",
        o.residual,
        total_bound
    );

    let (corollary, elementwise) = data_dependent_bounds(&rest, &o.applied, r);
    prop_assert!(
        holds(&o, corollary, d),
        "Corollary 1: {} > {}",
        o.residual,
        corollary
    );
    prop_assert!(
        holds(&o, elementwise, d),
        "elementwise: {} > {}",
        o.residual,
        elementwise
    );
    prop_assert!(elementwise <= corollary, "{elementwise} > {corollary}");

    // Distance to retraining with the same b: ‖w⁻ − w°‖ ≤ ‖u‖/Λ′ and ‖w_re − w°‖ ≤ ‖g_re‖/Λ′.
    let (w_re, g_re) = train(&rest);
    let u_up = o.residual * norm_up(d) + gradient_error(&rest, &o.step.weights, r);
    let distance = bounds::strong_convexity_distance(u_up, rest.lambda)
        + bounds::training_residual_distance(g_re, rest.lambda);
    let actual = (&o.step.weights - &w_re).norm() / norm_up(d);
    prop_assert!(actual <= distance, "‖w⁻ − w_re‖ = {actual} > {distance}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Worst-case (both conventions, single and batch), data-dependent and elementwise bounds
    /// hold for real removal steps; elementwise ≤ Corollary 1; distance to retraining.
    #[test]
    fn bounds_hold_for_logistic_removals(p in problem()) {
        check_logistic(p)?;
    }

    /// The certified spectral norm is above the SVD's largest singular value and within 1%.
    #[test]
    fn spectral_bound_is_guaranteed_and_tight(
        dim in 1usize..12,
        n in 20usize..200,
        seed in prop::collection::vec(-1.0..1.0f64, 2400),
    ) {
        let x = &seed[..n * dim];
        let bound = bounds::spectral_norm_upper_bound(x, dim);
        let svd = DMatrix::from_row_slice(n, dim, x).singular_values().max();
        // nalgebra's SVD is backward stable: its σ_max is within a small multiple of
        // (n + d)·u·‖X‖ of the true one; 64 is a generous multiple.
        let svd_up = svd * (1.0 + 64.0 * (n + dim) as f64 * bounds::UNIT_ROUNDOFF);
        prop_assert!(bound >= svd_up * (1.0 - 128.0 * (n + dim) as f64 * bounds::UNIT_ROUNDOFF));
        prop_assert!(bound >= svd, "bound {bound} < σ_max {svd}");
        prop_assert!(bound <= 1.01 * svd, "bound {bound} > 1.01·σ_max {svd}");
        prop_assert!(bound <= bounds::frobenius_norm_upper_bound(x));
    }

    /// Squared loss: γ = 0, so the removal residual is at rounding level and removal equals
    /// retraining within ‖u‖/Λ′.
    #[test]
    fn squared_loss_removal_is_exact_up_to_rounding(p in problem()) {
        let n = p.targets.len();
        let (d, r) = (p.dim, p.r);
        let b = DVector::from_vec(p.noise.clone());
        let loss = LossKind::Squared;
        let keep = n - p.removed;
        let full = objective(&loss, &p, n, &b);
        let (w, _) = solver::newton(&full, solver::ridge_closed_form(&squared(&p, n, &b)).unwrap().0, &NewtonOptions::default()).unwrap();
        let rest = objective(&loss, &p, keep, &b);
        let o = remove(&rest, &w, r);
        prop_assert!(holds(&o, 0.0, d), "‖u‖ = {} > rounding allowance {}", o.residual, o.allowance);
        prop_assert!(o.allowance < 1e-9);
        let w_re = solver::ridge_closed_form(&squared(&p, keep, &b)).unwrap().0;
        let g_re = rest.gradient(&w_re).norm() * norm_up(d) + gradient_error(&rest, &w_re, r);
        let u_up = o.residual * norm_up(d) + gradient_error(&rest, &o.step.weights, r);
        let distance = bounds::strong_convexity_distance(u_up + g_re, rest.lambda);
        prop_assert!((&o.step.weights - &w_re).norm() / norm_up(d) <= distance);
    }
}

/// The Corollary-1 and elementwise bounds for step v̂ on `objective`'s rows, with ‖X‖₂
/// from the certified spectral bound and |x_iᵀv̂| enlarged by its rounding error.
fn data_dependent_bounds<L: Loss>(
    objective: &Objective<'_, L>,
    applied: &DVector<f64>,
    r: f64,
) -> (f64, f64) {
    let (x, d) = (objective.rows.features, objective.rows.dim);
    let gamma = objective.loss.second_derivative_lipschitz();
    let spectral = bounds::spectral_norm_upper_bound(x, d);
    let v_norm = applied.norm() * norm_up(d);
    let mut xv = linalg::margins(x, applied);
    let margin_error = bounds::rounding_gamma(d as f64) * r * v_norm;
    xv.iter_mut().for_each(|a| *a = a.abs() + margin_error);
    let xv_norm = DVector::from_column_slice(&xv).norm() * norm_up(xv.len());
    (
        bounds::data_dependent(gamma, r, spectral, v_norm, xv_norm),
        bounds::data_dependent_elementwise(gamma, spectral, &xv),
    )
}

fn rest_bound_elementwise(
    objective: &Objective<'_, Logistic>,
    applied: &DVector<f64>,
    r: f64,
) -> f64 {
    data_dependent_bounds(objective, applied, r).1
}

fn squared<'a>(
    p: &'a Problem,
    keep: usize,
    b: &'a DVector<f64>,
) -> Objective<'a, unlearn::loss::Squared> {
    objective(&unlearn::loss::Squared, p, keep, b)
}

/// The Taylor remainder of a step v from w on `objective`'s rows, computed per row from the
/// loss alone: Σ_i x_i·(a_i·ℓ''(z_i) − ℓ'(z_i) + ℓ'(z_i − a_i)) with z = Xw, a = Xv; plus an
/// upper bound on its rounding error (each term: ≤ 8 roundings of values ≤ β|a_i| + 2C).
fn taylor_remainder(
    objective: &Objective<'_, Logistic>,
    w: &DVector<f64>,
    v: &DVector<f64>,
    r: f64,
) -> (DVector<f64>, f64) {
    let x = objective.rows.features;
    let z = linalg::margins(x, w);
    let a = linalg::margins(x, v);
    let ys = objective.rows.targets;
    let l = objective.loss;
    let coef: Vec<f64> = (0..ys.len())
        .map(|i| {
            a[i] * l.second_derivative(z[i], ys[i]) - l.derivative(z[i], ys[i])
                + l.derivative(z[i] - a[i], ys[i])
        })
        .collect();
    let err: f64 = a
        .iter()
        .zip(&z)
        .map(|(ai, zi)| 16.0 * bounds::UNIT_ROUNDOFF * r * (2.0 + ai.abs() + zi.abs()))
        .sum::<f64>()
        * (1.0 + bounds::rounding_gamma(ys.len() as f64 + objective.rows.dim as f64));
    (linalg::transpose_times(x, objective.rows.dim, &coef), err)
}

/// Sequential removals from a deliberately inexact start: with the full gradient
/// Δ_k = ∇L_b(w_k; D_{k+1}) the residual after step k+1 is that step's Taylor remainder only;
/// with Guo's removed-rows-only Δ the residuals add, u_K = u_0 + Σ r_k, and u_0 stays.
#[test]
fn sequential_residuals_do_not_compound_with_the_full_gradient() {
    let p = Problem {
        dim: 4,
        features: unlearn::synthetic::generate(&unlearn::synthetic::SyntheticSpec {
            rows: 60,
            features: 4,
            flip: 0.1,
            regression: false,
            seed: 7,
        })
        .features()
        .to_vec(),
        targets: Vec::new(),
        noise: vec![0.3, -0.2, 0.1, 0.5],
        r: 1.0,
        lambda: 1.0,
        regularization: Regularization::Total,
        removed: 0,
    };
    let p = Problem {
        targets: (0..60)
            .map(|i| {
                if p.features[4 * i] + 0.3 * p.features[4 * i + 1] >= 0.0 {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect(),
        ..p
    };
    let b = DVector::from_vec(p.noise.clone());
    let (w_star, _) = train(&objective(&Logistic, &p, 60, &b));
    let start = &w_star + DVector::from_vec(vec![0.05, -0.04, 0.03, 0.02]);
    let u0 = objective(&Logistic, &p, 60, &b).gradient(&start);
    let steps = 30;
    let (mut full_w, mut guo_w) = (start.clone(), start.clone());
    let mut guo_sum = u0.clone();
    let mut guo_tol = gradient_error(&objective(&Logistic, &p, 60, &b), &start, p.r);
    let mut last = (0.0, 0.0);
    for k in 0..steps {
        let keep = 60 - 1 - k;
        let rest = objective(&Logistic, &p, keep, &b);
        // Full perturbed gradient: u_{k+1} = r_k.
        let o = remove(&rest, &full_w, p.r);
        let (r_k, err) = taylor_remainder(&rest, &full_w, &o.applied, p.r);
        let u = rest.gradient(&o.step.weights);
        assert!(
            (&u - &r_k).norm() <= o.allowance + err,
            "step {k}: ‖u − r_k‖ = {:e}",
            (&u - &r_k).norm()
        );
        full_w = o.step.weights;
        // Guo: Δ from the removed row only.
        let removed = objective(&Logistic, &p, keep + 1, &b);
        // Δ = −ℓ'(wᵀx)·x of the removed row (Λ is fixed, so Λw and b cancel).
        let delta = rest.gradient(&guo_w) - removed.gradient(&guo_w);
        let hessian = rest.hessian(&guo_w);
        let v = linalg::cholesky(hessian.clone()).unwrap().solve(&delta);
        let next = &guo_w - &v;
        let (r_g, err) = taylor_remainder(&rest, &guo_w, &(&guo_w - &next), p.r);
        guo_tol +=
            err + bounds::newton_solve_residual_bound(
                keep,
                4,
                hessian.trace(),
                margin_curvature_error(&rest, &guo_w, p.r),
                v.norm() * norm_up(4),
                next.norm() * norm_up(4),
            ) + gradient_error(&rest, &guo_w, p.r)
                + gradient_error(&removed, &guo_w, p.r);
        guo_sum += r_g;
        guo_w = next;
        last = (
            o.allowance + err,
            rest_bound_elementwise(&rest, &o.applied, p.r),
        );
    }
    let final_rest = objective(&Logistic, &p, 60 - steps, &b);
    let full_u = final_rest.gradient(&full_w).norm();
    let guo_u = final_rest.gradient(&guo_w);
    let guo_tol = guo_tol + gradient_error(&final_rest, &guo_w, p.r);
    assert!(
        (&guo_u - &guo_sum).norm() <= guo_tol,
        "Guo: u_K ≠ u_0 + Σ r_k ({:e} > {guo_tol:e})",
        (&guo_u - &guo_sum).norm()
    );
    assert!(
        guo_u.norm() >= 0.5 * u0.norm(),
        "Guo keeps the training residual"
    );
    // The full-gradient residual is bounded by the last step's own remainder bound alone.
    let (allowance, last_bound) = last;
    assert!(
        full_u <= last_bound + allowance,
        "full gradient: {full_u:e} > last step's bound {last_bound:e}"
    );
    assert!(
        last_bound < 1e-2 * u0.norm(),
        "the last step's bound {last_bound:e} is small next to ‖u_0‖"
    );
    println!(
        "after {steps} steps: full-gradient ‖u‖ = {full_u:.3e}, Guo ‖u‖ = {:.3e}, ‖u_0‖ = {:.3e}",
        guo_u.norm(),
        u0.norm()
    );
}

/// SOUNDNESS.md point 1: Guo et al.'s Theorem 3 needs a Jacobian term. With ε′ the
/// worst-case bound (so ‖u(b)‖ ≤ ε′ for every b) and α = ε/ε′, ε = 1, the output densities of
/// removal and retraining differ by a factor e^{2.0147} at w⁻ = −40.82 (and e^{1.0602} the
/// other way at w⁻ = −5.751): the max-divergence is 2.0147 > ε = 1. The densities are
/// `unlearn::empirical_epsilon::counterexample::log_density_ratio`.
#[test]
fn guo2020_theorem3_counterexample() {
    use unlearn::empirical_epsilon::counterexample::{
        LAMBDA, ROWS, exact_divergence, log_density_ratio,
    };
    let eps_prime = bounds::worst_case_single_total(LOGISTIC_GAMMA, 1.0, 1.0, LAMBDA, ROWS - 1);
    // γ·4/(2·0.02²) = 481.1252243246881, rounded up by the function by < 1e-12 relative.
    assert!((eps_prime / 481.125_224_324_688_1 - 1.0).abs() < 1e-12);
    let alpha = 1.0 / eps_prime;
    let divergence = exact_divergence(alpha, 1e-3);
    assert!(
        divergence.monotone,
        "φ is increasing, so each w⁻ has one preimage"
    );
    let (max, min) = (
        divergence.removal_over_retrain,
        divergence.retrain_over_removal,
    );
    // Each grid value is an exact density ratio (up to ~1e-13 of rounding), so the grid
    // extrema are lower bounds of the sup; at the smooth extrema they are within
    // ½·|f''|·(h/2)² ≈ 1.3e-7 of the values found on a 1e-6 grid (|f''| ≈ 1).
    assert!((max.0 - 1.060_174_942).abs() < 1e-6, "max {max:?}");
    assert!((min.0 - 2.014_741_302).abs() < 1e-6, "min {min:?}");
    assert!((max.1 + 2.547).abs() < 2e-3 && (min.1 + 6.120).abs() < 2e-3);
    // The tails contribute nothing: removal is exact as ℓ'' → 0.
    assert!(
        log_density_ratio(-200.0, alpha).0.abs() < 1e-6
            && log_density_ratio(200.0, alpha).0.abs() < 1e-6
    );
    assert!(min.0 > 1.0 && max.0 > 1.0, "both directions exceed ε = 1");
    println!(
        "ε′ = {eps_prime}, max ln(p_rm/p_re) = {:.6} at w* = {:.3}, max ln(p_re/p_rm) = {:.6} at w* = {:.3}",
        max.0, max.1, min.0, min.1
    );
}

/// Lemmas 4 and 5 of worst_case_bounds.md: the radii are valid upper quantiles, checked
/// against closed-form tails (d = 1, 2), and not wildly loose.
#[test]
fn norm_tail_bounds_are_valid_quantiles() {
    use unlearn::noise::std_normal_cdf;
    for delta in [0.5, 0.1, 1e-3, 1e-6, 1e-12] {
        for scale in [0.1, 1.0, 7.0] {
            // Gaussian, d = 1: P(σ|g| > r) = 2Φ(−r/σ); d = 2: P(‖σg‖ > r) = exp(−r²/(2σ²)).
            let r1 = bounds::gaussian_norm_tail_bound(scale, 1, delta);
            assert!(2.0 * std_normal_cdf(-r1 / scale) <= delta);
            let r2 = bounds::gaussian_norm_tail_bound(scale, 2, delta);
            let t2 = (-(r2 / scale).powi(2) / 2.0).exp();
            assert!(t2 <= delta, "d = 2: {t2} > {delta}");
            // Gamma(1, θ): P(G > t) = e^{−t/θ}; Gamma(2, θ): (1 + t/θ)e^{−t/θ}.
            let g1 = bounds::gamma_norm_tail_bound(scale, 1, delta);
            assert!((-g1 / scale).exp() <= delta);
            let exact1 = -delta.ln() * scale;
            assert!(
                g1 <= 3.0 * exact1 + 3.0 * scale,
                "Gamma(1): {g1} vs exact {exact1}"
            );
            let g2 = bounds::gamma_norm_tail_bound(scale, 2, delta);
            assert!((1.0 + g2 / scale) * (-g2 / scale).exp() <= delta);
        }
    }
    assert_eq!(bounds::gaussian_norm_tail_bound(1.0, 3, 1.0), 0.0);
    assert_eq!(bounds::gamma_norm_tail_bound(1.0, 3, 0.0), f64::INFINITY);
    assert!(bounds::gamma_norm_tail_bound(1.0, 3, f64::NAN).is_nan());
    // Larger d: the Chernoff radius exceeds the mean dθ and grows with ln(1/δ).
    let a = bounds::gamma_norm_tail_bound(1.0, 100, 1e-3);
    let b = bounds::gamma_norm_tail_bound(1.0, 100, 1e-9);
    assert!(100.0 < a && a < b && b < 200.0, "{a} {b}");
}
