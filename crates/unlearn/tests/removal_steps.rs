//! The Hessian-free removal step (`removal::hessian_free_removal_step`, used from
//! `removal::HESSIAN_FREE_DIMENSION` features on) checked directly on a small problem, where
//! the Cholesky step is its reference. `audit::hessian_free_removal_at_large_dimension` takes
//! the same path end to end at d = 2098; this one runs in milliseconds, also at opt-level 0,
//! so that mutation runs can afford it (TESTING.md, the cargo-mutants run on removal.rs).

use nalgebra::DVector;
use unlearn::loss::Squared;
use unlearn::objective::{Objective, Rows};
use unlearn::removal::{hessian_free_removal_step, newton_removal_step};

/// Ridge (squared loss, Λ = 1) on 40 rows of 6 deterministic features in [−1, 1] with a
/// noise vector b: the objective is quadratic, so one exact Newton step from any w lands on
/// its minimiser. The Hessian-free step solves Hv = ∇L(w) by conjugate gradient to a
/// relative residual 10⁻¹² and must return Δ = ∇L(w), v and w⁻ = w − v, with w⁻ the
/// minimiser: ∇L(w⁻) = ∇L(w) − Hv exactly for a quadratic, so ‖∇L(w⁻)‖ ≤ 10⁻¹²‖∇L(w)‖
/// plus the rounding of the gradient evaluation and of w − v (a few hundred u relative at
/// n = 40, d = 6, ‖X‖²/Λ ≤ 40: ≈ 10⁻¹⁴); the test allows 10⁻⁹‖∇L(w)‖ (measured: 1.7·10⁻¹⁵).
/// It also agrees with the Cholesky step, to κ(H)·10⁻¹² relative with κ ≤ 1 + ‖X‖²/Λ ≤ 41
/// (allowed 10⁻⁹; measured 1.7·10⁻¹⁵). A step off by its own size moves both by ≈ 1. Kills
/// the step's finiteness check inverted (every step an error) and w − v made w + v.
#[test]
fn hessian_free_step_reaches_the_ridge_minimiser() {
    let (n, d) = (40, 6);
    let features: Vec<f64> = (0..n * d)
        .map(|k| ((k * 37 % 101) as f64 / 50.0) - 1.0)
        .collect();
    let targets: Vec<f64> = (0..n).map(|i| ((i * 13 % 7) as f64) - 3.0).collect();
    let noise = DVector::from_fn(d, |j, _| 0.1 * j as f64 - 0.2);
    let objective = Objective {
        loss: &Squared,
        rows: Rows {
            features: &features,
            targets: &targets,
            dim: d,
        },
        lambda: 1.0,
        noise: &noise,
    };
    let w = DVector::from_fn(d, |j, _| 0.5 - 0.3 * j as f64);
    let gradient = objective.gradient(&w);
    assert!(gradient.norm() > 1.0, "the start is far from the minimiser");

    let free = hessian_free_removal_step(&objective, &w, 1e-12).unwrap();
    assert_eq!(free.gradient, gradient);
    assert_eq!(free.weights, &w - &free.step);
    let after = objective.gradient(&free.weights).norm();
    assert!(
        after <= 1e-9 * gradient.norm(),
        "‖∇L(w⁻)‖ = {after:e} from {:e}",
        gradient.norm()
    );
    let exact = newton_removal_step(&objective, &w).unwrap();
    assert!((&free.weights - &exact.weights).norm() <= 1e-9 * exact.weights.norm());
}
