//! Newton training: the stopping rule, the ridge closed form, noise, and failures.

use nalgebra::DVector;
use proptest::prelude::*;
use unlearn::data::Dataset;
use unlearn::loss::{LossKind, Squared};
use unlearn::model::{self, Hyperparameters};
use unlearn::noise::{NoiseFamily, NoiseSpec};
use unlearn::objective::{self, Objective, Regularization, Rows};
use unlearn::solver::{self, NewtonOptions, SolverError};
use unlearn::synthetic::{SyntheticSpec, generate};

fn hyper(
    loss: LossKind,
    lambda: f64,
    regularization: Regularization,
    sigma: f64,
) -> Hyperparameters {
    Hyperparameters {
        loss,
        lambda,
        regularization,
        intercept: true,
        noise: NoiseSpec {
            family: NoiseFamily::Gaussian,
            scale: sigma,
        },
        privacy: None,
        mechanism: unlearn::mechanism::Mechanism::OutputPerturbation,
        newton: NewtonOptions::default(),
    }
}

fn synthetic(rows: usize, features: usize, regression: bool, seed: u64) -> Dataset {
    generate(&SyntheticSpec {
        rows,
        features,
        flip: 0.1,
        regression,
        seed,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The returned weights meet the stopping rule, recomputed independently of the solver.
    #[test]
    fn newton_meets_its_stopping_rule(
        n in 5usize..200, d in 1usize..20, seed in 0u64..1000,
        log_lambda in -4.0..1.0f64, sigma in 0.0..5.0f64,
        per_sample in any::<bool>(), regression in any::<bool>(),
    ) {
        let data = synthetic(n, d, regression, seed);
        let loss = if regression { LossKind::Squared } else { LossKind::Logistic };
        let reg = if per_sample { Regularization::PerSample } else { Regularization::Total };
        let h = hyper(loss, 10f64.powf(log_lambda), reg, sigma);
        let y = data.targets().unwrap().values.clone();
        let b = DVector::from_fn(d, |j, _| sigma * ((j as f64) * 1.7).sin());
        let (w, report) = model::fit(&h, &data, &y, &b).unwrap();
        let objective = Objective {
            loss: &loss,
            rows: Rows { features: data.features(), targets: &y, dim: d },
            lambda: reg.effective_lambda(h.lambda, n),
            noise: &b,
        };
        let g = objective.gradient(&w).norm();
        prop_assert!(g <= h.newton.tolerance, "‖∇L_b‖ = {g:e}");
        // The report is an upper bound on the exact norm, so at least the computed one.
        prop_assert!(g <= report.gradient_norm && report.gradient_norm <= h.newton.tolerance,
            "computed {g:e}, reported bound {:e}", report.gradient_norm);
    }

    /// For the squared loss the closed form (XᵀX + ΛI)⁻¹(Xᵀy − b) and Newton's method from
    /// zero agree. Both are within ‖∇L‖/Λ of the optimum (strong convexity), so they differ
    /// by at most 2·tol/Λ, plus the closed form's own rounding error, which its recorded
    /// gradient norm bounds the same way.
    #[test]
    fn ridge_closed_form_equals_newton(
        n in 5usize..200, d in 1usize..20, seed in 0u64..1000, log_lambda in -3.0..1.0f64,
    ) {
        let data = synthetic(n, d, true, seed);
        let y = data.targets().unwrap().values.clone();
        let lambda = 10f64.powf(log_lambda);
        let b = DVector::from_fn(d, |j, _| (j as f64).cos());
        let rows = Rows { features: data.features(), targets: &y, dim: d };
        let quadratic = Objective { loss: &Squared, rows, lambda, noise: &b };
        let (closed, closed_report) = solver::ridge_closed_form(&quadratic).unwrap();
        let newton_objective = Objective { loss: &LossKind::Squared, rows, lambda, noise: &b };
        let (newton, report) = solver::newton(
            &newton_objective, DVector::zeros(d), &NewtonOptions::default()).unwrap();
        let bound = (closed_report.gradient_norm + report.gradient_norm) / lambda;
        prop_assert!((&closed - &newton).norm() <= bound * (1.0 + 1e-9) + 1e-15,
            "‖closed − newton‖ = {:e} > {bound:e}", (&closed - &newton).norm());
    }
}

/// The noise enters the optimum through the optimality condition ∇L(w) = −b: a model
/// trained with noise satisfies it, and its weights differ from the noiseless ones.
#[test]
fn noise_perturbs_the_optimum_as_the_objective_says() {
    let data = synthetic(300, 10, false, 7);
    let y = data.targets().unwrap().values.clone();
    let h = hyper(LossKind::Logistic, 1.0, Regularization::Total, 1.0);
    let b = DVector::from_fn(10, |j, _| (j as f64) - 4.5);
    let (w_noisy, _) = model::fit(&h, &data, &y, &b).unwrap();
    let (w_plain, _) = model::fit(&h, &data, &y, &DVector::zeros(10)).unwrap();
    let zero = DVector::zeros(10);
    let plain = Objective {
        loss: &LossKind::Logistic,
        rows: Rows {
            features: data.features(),
            targets: &y,
            dim: 10,
        },
        lambda: 1.0,
        noise: &zero,
    };
    // ∇L(w_noisy) + b = ∇L_b(w_noisy), whose norm the stopping rule bounds.
    assert!((plain.gradient(&w_noisy) + &b).norm() <= h.newton.tolerance);
    // ‖w_noisy − w_plain‖ ≥ (‖b‖ − 2·tol)/(‖H‖) > 0: the difference is far from rounding.
    assert!((&w_noisy - &w_plain).norm() > 1e-3);
}

/// The logistic objective on `data` with targets `y`, λ = 1e-3 per sample and noise `b`.
fn logistic<'a>(data: &'a Dataset, y: &'a [f64], b: &'a DVector<f64>) -> Objective<'a, LossKind> {
    Objective {
        loss: &LossKind::Logistic,
        rows: Rows {
            features: data.features(),
            targets: y,
            dim: data.n_features(),
        },
        lambda: 1e-3 * data.n_rows() as f64,
        noise: b,
    }
}

/// 2,000×100 synthetic rows, their ±1 targets, the Newton optimum w* of [`logistic`] on
/// them (no noise), and the gradient's rounding bound (the floor) there.
fn floor_case() -> (Dataset, Vec<f64>, DVector<f64>, f64) {
    let data = synthetic(2_000, 100, false, 21);
    let y = data.targets().unwrap().values.clone();
    let h = hyper(LossKind::Logistic, 1e-3, Regularization::PerSample, 0.0);
    let b = DVector::zeros(data.n_features());
    let (w, _) = model::fit(&h, &data, &y, &b).unwrap();
    let r = objective::row_norm_bound(data.features(), data.n_features());
    let (_, floor) = objective::gradient_with_error_bound(&logistic(&data, &y, &b), &w, r);
    (data, y, w, floor)
}

/// The stopping rule is on the bounded residual, not on the computed norm: with τ = 1.5·e
/// (e the rounding floor), from a start whose computed ‖∇L_b‖ is e (≤ τ) but whose bound
/// ‖ĝ‖(1 + γ) + e ≈ 2·e is not, Newton keeps iterating, and stops only where the bound is
/// ≤ τ (one step brings ‖ĝ‖ to ~1e-14, the bound to ≈ e; e moves by far less than 50 %
/// between such nearby points). (The solver that stopped on the computed norm returned the start, after zero
/// iterations, with the computed norm as its report.)
#[test]
fn newton_stops_on_the_bounded_residual_not_the_computed_norm() {
    let (data, y, w_star, floor) = floor_case();
    let d = w_star.len();
    let b = DVector::zeros(d);
    let objective = Objective {
        loss: &LossKind::Logistic,
        rows: Rows {
            features: data.features(),
            targets: &y,
            dim: d,
        },
        lambda: 1e-3 * data.n_rows() as f64,
        noise: &b,
    };
    // ∇L(w* + t·e₀) ≈ t·H·e₀ (w* has gradient ~1e-14 ≪ e): pick t for ‖ĝ‖ = e.
    let direction = DVector::from_fn(d, |j, _| if j == 0 { 1.0 } else { 0.0 });
    let curvature = objective.hessian(&w_star) * &direction;
    let start = &w_star + &direction * (floor / curvature.norm());
    let tolerance = 1.5 * floor;
    let r = objective::row_norm_bound(data.features(), d);
    let computed = objective.gradient(&start).norm();
    let bound = objective::residual_upper_bound(&objective, &start, r);
    assert!(
        computed <= tolerance && bound > tolerance,
        "precondition: computed {computed:e} ≤ τ = {tolerance:e} < bound {bound:e}"
    );
    let options = NewtonOptions {
        tolerance,
        ..NewtonOptions::default()
    };
    let (w, report) = solver::newton(&objective, start, &options).unwrap();
    assert!(
        report.iterations >= 1,
        "stopped at the start on the computed norm"
    );
    assert!(
        report.gradient_norm <= tolerance,
        "reported bound {:e}",
        report.gradient_norm
    );
    let recomputed = objective::residual_upper_bound(&objective, &w, r);
    assert!(
        recomputed <= tolerance,
        "bound at the result {recomputed:e} > τ"
    );
}

/// A tolerance below the gradient's rounding floor cannot be certified: the solver says so
/// and names the flag to raise, rather than iterating (or, before, stopping on a computed
/// norm that rounding had pushed below τ).
#[test]
fn a_tolerance_below_the_rounding_floor_is_refused_with_a_hint() {
    let (data, y, _, floor) = floor_case();
    let mut h = hyper(LossKind::Logistic, 1e-3, Regularization::PerSample, 0.0);
    h.newton.tolerance = floor / 10.0;
    let err = model::fit(&h, &data, &y, &DVector::zeros(data.n_features())).unwrap_err();
    assert!(matches!(err, SolverError::RoundingFloor { .. }), "{err}");
    assert!(err.to_string().contains("raise --tol"), "{err}");
}

/// A solver that cannot reach the tolerance returns an error, never weights.
#[test]
fn solver_reports_non_convergence() {
    let data = synthetic(200, 5, false, 3);
    let y = data.targets().unwrap().values.clone();
    let mut h = hyper(LossKind::Logistic, 1e-3, Regularization::Total, 0.0);
    h.newton = NewtonOptions {
        tolerance: 1e-10,
        max_iterations: 1,
        ..NewtonOptions::default()
    };
    let err = model::fit(&h, &data, &y, &DVector::zeros(5)).unwrap_err();
    assert!(
        matches!(err, SolverError::NotConverged { iterations: 1, .. }),
        "{err}"
    );
}

/// Huge feature values make the objective overflow: an error, not NaN weights.
#[test]
fn solver_refuses_non_finite_problems() {
    let data = Dataset::new(
        vec!["a".into(), "b".into()],
        vec!["x".into()],
        vec![1e308, -1e308],
        Some(unlearn::data::Targets {
            values: vec![1e308, -1e308],
            encoding: unlearn::data::TargetEncoding::Regression,
        }),
    )
    .unwrap();
    let y = data.targets().unwrap().values.clone();
    let h = hyper(LossKind::Squared, 1.0, Regularization::Total, 0.0);
    assert!(model::fit(&h, &data, &y, &DVector::zeros(1)).is_err());
}

/// Invalid hyperparameters are refused before any work.
#[test]
fn invalid_hyperparameters_are_refused() {
    for lambda in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let h = hyper(LossKind::Logistic, lambda, Regularization::Total, 0.0);
        assert!(h.validate().is_err(), "λ = {lambda}");
    }
    let h = hyper(LossKind::Logistic, 1.0, Regularization::Total, -1.0);
    assert!(h.validate().is_err());
}

/// The two step solvers reach the same optimum: both stop at ‖∇L_b‖ ≤ tol, so by
/// Λ-strong convexity each is within tol/Λ of the minimiser and they differ by at most
/// (g_cholesky + g_cg)/Λ. d = 240 ≥ the automatic switch, so `Auto` takes the CG path.
#[test]
fn conjugate_gradient_and_cholesky_steps_reach_the_same_optimum() {
    use unlearn::solver::StepSolver;
    let (n, d) = (600, 240);
    let data = synthetic(n, d, false, 17);
    let y = data.targets().unwrap().values.clone();
    let b = DVector::from_fn(d, |j, _| ((j as f64) * 0.3).sin());
    let mut results = Vec::new();
    for step_solver in [
        StepSolver::Cholesky,
        StepSolver::ConjugateGradient,
        StepSolver::Auto,
    ] {
        let mut h = hyper(LossKind::Logistic, 1e-2, Regularization::PerSample, 1.0);
        h.intercept = false;
        h.newton.step_solver = step_solver;
        let (w, report) = model::fit(&h, &data, &y, &b).unwrap();
        assert!(
            report.gradient_norm <= h.newton.tolerance,
            "{step_solver:?}"
        );
        results.push((w, report.gradient_norm));
    }
    let lambda = 1e-2 * n as f64;
    for (w, g) in &results[1..] {
        let bound = (results[0].1 + g) / lambda;
        let gap = (w - &results[0].0).norm();
        assert!(
            gap <= bound * (1.0 + 1e-9) + 1e-15,
            "gap {gap:e} > {bound:e}"
        );
    }
}
