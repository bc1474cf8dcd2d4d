//! The objective's gradient, Hessian and Hessian-vector product against central finite
//! differences, over random data, both losses, both conventions and random noise vectors.

use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use unlearn::loss::{Loss, LossKind};
use unlearn::objective::{Objective, Regularization, Rows};

/// A random problem: n rows of d features in [-1, 1], targets in [-2, 2] (their signs for
/// logistic), a point w, noise b and λ.
#[derive(Debug, Clone)]
struct Problem {
    d: usize,
    features: Vec<f64>,
    raw_targets: Vec<f64>,
    w: Vec<f64>,
    b: Vec<f64>,
    lambda: f64,
    logistic: bool,
    per_sample: bool,
}

prop_compose! {
    fn problem()(d in 1usize..6, n in 1usize..25)(
        d in Just(d),
        features in prop::collection::vec(-1.0..1.0f64, n * d),
        raw_targets in prop::collection::vec(-2.0..2.0f64, n),
        w in prop::collection::vec(-3.0..3.0f64, d),
        b in prop::collection::vec(-1.0..1.0f64, d),
        lambda in 1e-3..2.0f64,
        logistic in any::<bool>(),
        per_sample in any::<bool>(),
    ) -> Problem {
        Problem { d, features, raw_targets, w, b, lambda, logistic, per_sample }
    }
}

fn check(p: Problem) -> Result<(), TestCaseError> {
    let Problem {
        d,
        features,
        raw_targets,
        w,
        b,
        lambda,
        logistic,
        per_sample,
    } = p;
    let loss = if logistic {
        LossKind::Logistic
    } else {
        LossKind::Squared
    };
    let targets: Vec<f64> = if logistic {
        raw_targets
            .iter()
            .map(|t| if *t >= 0.0 { 1.0 } else { -1.0 })
            .collect()
    } else {
        raw_targets
    };
    let reg = if per_sample {
        Regularization::PerSample
    } else {
        Regularization::Total
    };
    let noise = DVector::from_vec(b);
    let objective = Objective {
        loss: &loss,
        rows: Rows {
            features: &features,
            targets: &targets,
            dim: d,
        },
        lambda: reg.effective_lambda(lambda, targets.len()),
        noise: &noise,
    };
    let w = DVector::from_vec(w);
    let g = objective.gradient(&w);
    let h = objective.hessian(&w);
    // Central differences have truncation error h²/6·|f'''| and rounding error u·|f|/h.
    // With |w| ≤ 3, |x| ≤ 1, d ≤ 5, n ≤ 24: |f| ≤ 24·(1+15)²/2 + … ≈ 3e3 and third
    // derivatives of the loss are ≤ 0.1 per row times ‖x‖³ ≤ 11, so with h = 1e-5:
    // truncation ≤ 1e-10·24·0.1·11/6 ≈ 5e-10 and rounding ≤ 2.2e-16·3e3/1e-5 ≈ 7e-8.
    // The tolerance 1e-6·(1 + |value|) covers both with a margin.
    let step = 1e-5;
    let mut fd_hessian = DMatrix::zeros(d, d);
    for j in 0..d {
        let mut plus = w.clone();
        plus[j] += step;
        let mut minus = w.clone();
        minus[j] -= step;
        let fd = (objective.value(&plus) - objective.value(&minus)) / (2.0 * step);
        prop_assert!(
            (fd - g[j]).abs() <= 1e-6 * (1.0 + g[j].abs()),
            "gradient {j}: {fd} vs {}",
            g[j]
        );
        let column = (objective.gradient(&plus) - objective.gradient(&minus)) / (2.0 * step);
        fd_hessian.set_column(j, &column);
    }
    for (a, e) in fd_hessian.iter().zip(h.iter()) {
        prop_assert!(
            (a - e).abs() <= 1e-6 * (1.0 + e.abs()),
            "hessian: {a} vs {e}"
        );
    }
    // The Hessian is symmetric and its smallest eigenvalue is at least Λ.
    prop_assert!((&h - h.transpose()).amax() <= 1e-12 * (1.0 + h.amax()));
    let min_eig = h.clone().symmetric_eigenvalues().min();
    prop_assert!(min_eig >= objective.lambda * (1.0 - 1e-10) - 1e-12);
    // Hessian-vector products agree with the matrix to rounding (sums of ≤ 25·5 terms).
    let v = DVector::from_fn(d, |j, _| (j as f64 + 1.0).cos());
    let hv = objective.hessian_vector(&w, &v);
    prop_assert!((hv - &h * &v).amax() <= 1e-10 * (1.0 + h.amax()));
    // The fused one-pass evaluation agrees with the separate value and gradient (the same
    // sums in a different order: within n·u·Σ|terms|, covered by 1e-10·(1 + |value|)).
    let at_w = objective.evaluate(&w);
    prop_assert!((at_w.value - objective.value(&w)).abs() <= 1e-10 * (1.0 + at_w.value.abs()));
    prop_assert!((&at_w.gradient - &g).amax() <= 1e-10 * (1.0 + g.amax()));
    prop_assert!(
        (objective.hessian_from(&at_w.curvatures) - &h).amax() <= 1e-10 * (1.0 + h.amax())
    );
    // The loss is convex: ℓ'' ≥ 0 everywhere.
    prop_assert!(
        features
            .iter()
            .all(|&z| loss.second_derivative(z * 40.0, 1.0) >= 0.0)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn derivatives_match_finite_differences(p in problem()) {
        check(p)?;
    }
}
