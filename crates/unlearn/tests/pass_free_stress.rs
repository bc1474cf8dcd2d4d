//! The adversarial stress test of the pass-free step's tracked bound (issue 13, last target;
//! proofs/pass_free_step.md) and the lazy ‖Xv‖ rule exercised through the unlearner.
//!
//! # The adversary
//!
//! The tracked bound e′ = e + ‖r̂‖-rounding + increment grows with what the step cannot see
//! without a pass over the rows: the drift of the curvature γ‖v‖·‖Xv‖·R and the Hessian's
//! own downdate error. The data here push each of those terms:
//!
//! - near-separable logistic rows with large margins and a tiny Λ (1e-4 in total): the
//!   secret weights are long, so σ'(z) ≈ 0 on most rows and the Hessian is nearly Λ·I in
//!   every direction the bulk does not cover; a step moves the margins of the rows it
//!   passes by a lot;
//! - high-leverage rows: norm ≈ R = 4 (the bulk has norm ≈ 1), along the last feature, in
//!   which the bulk has a spread of 10⁻³ — the Hessian's smallest eigenvector (checked
//!   below, not assumed). Half of them carry the label the bulk's direction contradicts, so
//!   their loss derivative is large; they are removed one after another, first;
//! - duplicated rows: each leverage row is present twice (distinct ids), so the first
//!   removal leaves its twin, and the second removes the same curvature again;
//! - one-vs-rest with three classes, and ridge (γ = 0) on the same rows with wild targets
//!   on the leverage rows.
//!
//! # What is checked, and the tolerance
//!
//! After every removal, for every class model k, the gradient of the objective on the
//! remaining rows at the secret weights is computed twice:
//!
//! - by [`unlearn::objective::gradient_with_error_bound`] (the function the refresh policy
//!   measures a residual with), which returns ĝ and a rigorous err ≥ ‖ĝ − ∇L_b(w)‖ for any
//!   summation order;
//! - independently of the library's objective code, in double-double
//!   ([`independent_gradient`], its error bound T derived there; 1–16 % of the library's
//!   err on these rows, median 5 %, so it resolves residuals the library's check cannot).
//!
//! The true residual is at least ‖ĝ‖ − err and at least the double-double norm − T, so the
//! test asserts both are ≤ bound_k (the step's recorded `exact_residual`): it fails exactly
//! when the rows prove the bound wrong, never because of the check's own rounding.
//!
//! The charge: Λ′-strong convexity gives ‖w − w*‖ ≤ ‖∇L_b(w)‖/Λ′ for any w. A retrain w_f
//! (the library's solver, tolerance 1e-7) is within (‖ĝ(w_f)‖ + err)/Λ′ of w*, so the true
//! distance of the secret weights is at least ‖w − w_f‖(1 − 2γ_{d+2}) − (‖ĝ(w_f)‖ + err)/Λ′
//! (the computed norm of the difference rounds by at most γ_{d+2} relative), combined over
//! the class models in L2; it must not exceed the distance the release was charged.
//!
//! # What the stress found (no violation)
//!
//! On the logistic cases the tracked bound held at every step, 200–500× above the true
//! residual's lower bound (`cargo test --release -p unlearn --test pass_free_stress --
//! --nocapture` prints the worst ratios); the charged distance came within 1–2 % of the true
//! distance on measured steps (along the leverage direction the Hessian is nearly Λ′·I, so
//! strong convexity is nearly tight there). Ridge pass-free steps stay at rounding level: the
//! residual is below what either check resolves, so there the check is only that nothing
//! above rounding appears. Removing the drift and remainder terms from
//! `bounds::pass_free_step_increment` makes the logistic tests fail at the first pass-free
//! step (residual 6e-3 against a bound of 4e-11).

mod common;

use common::certified;
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use std::f64::consts::PI;
use unlearn::certificate::Certificate;
use unlearn::data::{Dataset, Preprocessing, TargetEncoding, Targets};
use unlearn::loss::{Loss, LossKind};
use unlearn::model::{self, Hyperparameters, ReleaseRecord, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::objective::{Objective, Regularization, Rows, gradient_with_error_bound};
use unlearn::removal::{PassFreeConstants, pass_free_removal_step, refinement_target};
use unlearn::transcript;
use unlearn::unlearner::Unlearner;
use unlearn::verify::verify;

const U: f64 = f64::EPSILON / 2.0;

/// The share of the allowance a lazy step's increment may take (`unlearner::LAZY_SHARE`,
/// private there; proofs/pass_free_step.md, "Lazy ‖Xv‖").
const LAZY_SHARE: f64 = 1e-3;

/// Bulk rows, features (excluding the intercept).
const BULK: usize = 120;
const FEATURES: usize = 5;
/// Distinct leverage rows (each present twice).
const LEVERAGE: usize = 4;

/// splitmix64: a fixed, seedable stream of uniforms in [0, 1).
struct Stream(u64);

impl Stream {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Which problem the rows encode.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Binary,
    ThreeClasses,
    Ridge,
}

/// One adversarial problem: the rows' kind and seed, the leverage rows' norm along the last
/// feature, and λ under its convention.
#[derive(Debug, Clone, Copy)]
struct Stressor {
    kind: Kind,
    seed: u64,
    leverage_norm: f64,
    lambda: f64,
    regularization: Regularization,
}

impl Stressor {
    /// The fixed cases: leverage rows of norm 4 (the bulk's is ≤ 1), Λ = 1e-4 in total.
    fn fixed(kind: Kind, seed: u64) -> Self {
        Self {
            kind,
            seed,
            leverage_norm: 4.0,
            lambda: 1e-4,
            regularization: Regularization::Total,
        }
    }
}

/// The adversarial rows of the module docs: `BULK` near-separable bulk rows (norm ≈ 1,
/// spread 1e-3 in the last feature), then `LEVERAGE` rows of norm ≈ `leverage_norm` along
/// the last feature, each twice. Ids "lev{i}a"/"lev{i}b" name the leverage rows, "r{i}" the bulk.
fn adversarial(case: &Stressor) -> Dataset {
    let kind = case.kind;
    let mut s = Stream(case.seed);
    let mut ids = Vec::new();
    let mut features = Vec::new();
    let mut values = Vec::new();
    for i in 0..BULK {
        // The class decides the direction in features 0 and 1 (three directions 120° apart
        // for three classes, ±e₀ for two); a margin of at least 0.6 along it.
        let class = i % if kind == Kind::ThreeClasses { 3 } else { 2 };
        let angle = class as f64 * 2.0 * PI / if kind == Kind::ThreeClasses { 3.0 } else { 2.0 };
        let r = 0.6 + 0.3 * s.uniform();
        // Spread 0.1 across the class direction too, so that the last feature (spread
        // 1e-3) is the bulk's weakest.
        let mut x = vec![r * angle.cos(), r * angle.sin() + 0.1 * (s.uniform() - 0.5)];
        x.extend((2..FEATURES - 1).map(|_| 0.1 * (s.uniform() - 0.5)));
        x.push(1e-3 * (s.uniform() - 0.5));
        values.push(match kind {
            Kind::Binary => {
                if class == 0 {
                    1.0
                } else {
                    -1.0
                }
            }
            Kind::ThreeClasses => class as f64,
            Kind::Ridge => 2.0 * x[0] - x[2] + 0.05 * (s.uniform() - 0.5),
        });
        ids.push(format!("r{i}"));
        features.extend(x);
    }
    for i in 0..LEVERAGE {
        // Along the last feature, slightly tilted into the bulk's directions; half of them
        // labelled against that tilt.
        let mut x = vec![0.0; FEATURES];
        x[0] = if i % 2 == 0 { 0.2 } else { -0.2 };
        x[1] = 0.1 * (s.uniform() - 0.5);
        x[FEATURES - 1] = case.leverage_norm * if i < LEVERAGE / 2 { 1.0 } else { -0.97 };
        let contradicts = i % 2 == 1;
        let value = match kind {
            Kind::Binary => {
                if (x[0] > 0.0) != contradicts {
                    1.0
                } else {
                    -1.0
                }
            }
            Kind::ThreeClasses => {
                if contradicts {
                    2.0
                } else {
                    0.0
                }
            }
            Kind::Ridge => {
                if contradicts {
                    -10.0
                } else {
                    10.0
                }
            }
        };
        for twin in ["a", "b"] {
            ids.push(format!("lev{i}{twin}"));
            features.extend_from_slice(&x);
            values.push(value);
        }
    }
    let encoding = match kind {
        Kind::Binary => TargetEncoding::Binary {
            positive: "pos".into(),
            negative: "neg".into(),
        },
        Kind::ThreeClasses => TargetEncoding::Multiclass {
            classes: vec!["a".into(), "b".into(), "c".into()],
        },
        Kind::Ridge => TargetEncoding::Regression,
    };
    let names = (0..FEATURES).map(|j| format!("f{j}")).collect();
    Dataset::new(ids, names, features, Some(Targets { values, encoding })).unwrap()
}

/// Output perturbation on the lattice with a budget (so removals take the pass-free path),
/// the case's λ and convention, an intercept ([`common::certified`]).
fn hyper(case: &Stressor, budget: f64) -> Hyperparameters {
    let loss = if case.kind == Kind::Ridge {
        LossKind::Squared
    } else {
        LossKind::Logistic
    };
    Hyperparameters {
        regularization: case.regularization,
        ..certified(loss, case.lambda, budget)
    }
}

fn train(case: &Stressor, budget: f64) -> Unlearner {
    let input = TrainingData {
        data: adversarial(case),
        preprocessing: Preprocessing::default(),
        target_column: "y".into(),
    };
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&case.seed.to_le_bytes());
    let key = NoiseKey::from_secret_bytes(bytes);
    Unlearner::from_trained(model::train(input, &hyper(case, budget), key).unwrap())
}

/// The removal order: every leverage row (first copy of each, then the twins), then bulk
/// rows spread over the classes.
fn adversarial_order() -> Vec<String> {
    let mut ids: Vec<String> = (0..LEVERAGE).map(|i| format!("lev{i}a")).collect();
    ids.extend((0..LEVERAGE).map(|i| format!("lev{i}b")));
    ids.extend((0..6).map(|i| format!("r{}", 7 * i + 1)));
    ids
}

fn lambda_after(u: &Unlearner) -> f64 {
    let h = &u.model.published.hyperparameters;
    h.regularization
        .effective_lambda(h.lambda, u.model.secret.n_rows())
}

/// ĝ and err ≥ ‖ĝ − ∇L_b(w)‖ for class model k on `u`'s remaining rows.
fn measured_gradient(u: &Unlearner, k: usize, w: &DVector<f64>) -> (f64, f64) {
    let secret = &u.model.secret;
    let hyper = &u.model.published.hyperparameters;
    let design = secret.design();
    let targets = secret.model_targets(k);
    let objective = Objective {
        loss: &hyper.loss,
        rows: Rows {
            features: design.features(),
            targets: &targets,
            dim: design.n_features(),
        },
        lambda: lambda_after(u),
        noise: &secret.noise[k],
    };
    let (g, err) = gradient_with_error_bound(&objective, w, secret.row_norm_bound);
    (g.norm(), err)
}

/// An unevaluated sum hi + lo of two doubles (double-double arithmetic).
#[derive(Debug, Clone, Copy, Default)]
struct Dd {
    hi: f64,
    lo: f64,
}

impl Dd {
    /// self + a·b: a·b exactly as p + e (fma), p added exactly as s + t (TwoSum, Knuth),
    /// the low parts summed in f64 (their error is of order u² of the sum of |terms|).
    fn add_product(self, a: f64, b: f64) -> Dd {
        let p = a * b;
        let e = a.mul_add(b, -p);
        let s = self.hi + p;
        let v = s - self.hi;
        let t = (self.hi - (s - v)) + (p - v);
        let lo = self.lo + e + t;
        let hi = s + lo;
        Dd {
            hi,
            lo: lo - (hi - s),
        }
    }

    fn value(self) -> f64 {
        self.hi + self.lo
    }
}

/// ‖∇L_b(w)‖ of class model k on `u`'s remaining rows, computed here independently of the
/// library's objective code, in double-double, with a bound T on its error.
///
/// The margins z_i = Σ_j x_ij w_j and the gradient Σ_i r_i x_i + Λw + b are summed in
/// double-double: each is then within 2(n + d + 2)u²·(sum of |terms|) of the exact sum
/// before its final rounding to a double (u|·| more). The loss derivative r_i = ℓ'(z_i) is
/// evaluated in f64 from the rounded margin: the rounding of z_i moves it by at most
/// β_ℓ·u|z_i| (|ℓ''| ≤ β_ℓ), and its own evaluation (ln/exp to an ulp, a division, an
/// addition) by at most 5u|r_i|. Propagated through Σ_i r_i x_i (‖x_i‖ ≤ R) and the final
/// roundings of the d components and of the norm:
///
/// T = R·Σ_i (5u|r_i| + β_ℓu|z_i|) + (d + 2)u‖ĝ‖ + 2(n + d + 2)u²·√d·(R·Σ_i |r_i| +
///     Λ‖w‖₁ + ‖b‖₁ + R‖w‖·Σ_i β_ℓ R),
///
/// doubled to cover the second-order terms left out of this first-order account.
fn independent_gradient(u: &Unlearner, k: usize, w: &DVector<f64>) -> (f64, f64) {
    let secret = &u.model.secret;
    let loss = u.model.published.hyperparameters.loss;
    let design = secret.design();
    let (n, d) = (design.n_rows(), design.n_features());
    let targets = secret.model_targets(k);
    let lambda = lambda_after(u);
    let (beta, r_norm) = (
        if loss == LossKind::Squared { 1.0 } else { 0.25 },
        secret.row_norm_bound,
    );
    let mut g: Vec<Dd> = (0..d)
        .map(|j| {
            Dd::default()
                .add_product(lambda, w[j])
                .add_product(1.0, secret.noise[k][j])
        })
        .collect();
    let (mut first_order, mut r_sum) = (0.0, 0.0);
    for (i, &y) in targets.iter().enumerate() {
        let x = design.row(i);
        let z = x
            .iter()
            .zip(w.iter())
            .fold(Dd::default(), |acc, (a, b)| acc.add_product(*a, *b))
            .value();
        let r = match loss {
            LossKind::Squared => z - y,
            // d/dz ln(1 + e^{−yz}) = −y/(1 + e^{yz})
            LossKind::Logistic => -y / (1.0 + (y * z).exp()),
        };
        first_order += r_norm * (5.0 * U * r.abs() + beta * U * z.abs());
        r_sum += r.abs();
        for (gj, xj) in g.iter_mut().zip(x) {
            *gj = gj.add_product(r, *xj);
        }
    }
    let g = DVector::from_iterator(d, g.into_iter().map(Dd::value));
    let norm = g.norm();
    let second_order = 2.0
        * (n + d + 2) as f64
        * U
        * U
        * (d as f64).sqrt()
        * (r_norm * r_sum
            + lambda * w.lp_norm(1)
            + secret.noise[k].lp_norm(1)
            + r_norm * w.norm() * n as f64 * beta * r_norm);
    let tolerance = 2.0 * (first_order + (d + 2) as f64 * U * norm + second_order);
    (norm, tolerance)
}

/// Checks one removal's certificate against the rows (module docs): every class model's
/// true residual ≤ its recorded bound (by the library's error-bounded gradient and by the
/// independent double-double one), and the true distance to the retrained optimum ≤ the
/// distance charged. Returns the worst ratio of the residual's lower bound to its bound.
fn check_step(u: &Unlearner, c: &Certificate, label: &str) -> (f64, f64) {
    let hyper = &u.model.published.hyperparameters;
    let lambda = lambda_after(u);
    let d = u.model.secret.n_features() as f64;
    let (mut worst, mut distance_squared) = (0.0f64, 0.0);
    for k in 0..u.model.secret.model_count() {
        let w = &u.model.secret.weights[k];
        let bound = c.bounds.exact_residual[k];
        let (g, err) = measured_gradient(u, k, w);
        let (exact, tolerance) = independent_gradient(u, k, w);
        assert!(
            g - err <= bound && exact - tolerance <= bound,
            "{label} model {k}: residual ≥ {:e} (library) / {:e} (double-double) > certified \
             {bound:e} (pass-free: {}, measured: {})",
            g - err,
            exact - tolerance,
            c.bounds.cached_hessian[k],
            c.bounds.residual_measured[k]
        );
        worst = worst.max((g - err).max(exact - tolerance) / bound);
        let y = u.model.secret.model_targets(k);
        let (retrained, _) =
            model::fit(hyper, u.model.secret.design(), &y, &u.model.secret.noise[k]).unwrap();
        let (g_f, err_f) = measured_gradient(u, k, &retrained);
        let gap = (w - &retrained).norm() * (1.0 - 2.0 * (d + 2.0) * U);
        let lower = (gap - (g_f + err_f) / lambda).max(0.0);
        distance_squared += lower * lower;
    }
    let charged = c.distance.expect("every removal publishes");
    let distance = distance_squared.sqrt();
    assert!(
        distance <= charged,
        "{label}: distance to the optimum ≥ {distance:e} > charged {charged:e}"
    );
    (worst, distance / charged)
}

/// The Hessian of model 0 at its secret weights, formed here (Σ ℓ''·x xᵀ + Λ′I), and the
/// unit eigenvector of its smallest eigenvalue.
fn smallest_eigenvector(u: &Unlearner) -> DVector<f64> {
    let secret = &u.model.secret;
    let design = secret.design();
    let d = design.n_features();
    let y = secret.model_targets(0);
    let w = &secret.weights[0];
    let mut h = DMatrix::identity(d, d) * lambda_after(u);
    for (i, yi) in y.iter().enumerate() {
        let x = DVector::from_column_slice(design.row(i));
        let curvature = match u.model.published.hyperparameters.loss {
            LossKind::Squared => 1.0,
            LossKind::Logistic => {
                let p = 1.0 / (1.0 + (-yi * x.dot(w)).exp());
                p * (1.0 - p)
            }
        };
        h += &x * x.transpose() * curvature;
    }
    let eigen = h.symmetric_eigen();
    eigen
        .eigenvectors
        .column(eigen.eigenvalues.imin())
        .into_owned()
}

/// What a stress run saw: how many steps kept their tracked (pass-free, unmeasured) bound,
/// were measured, or retrained; the worst ratio of the true residual's lower bound to its
/// certified bound over the tracked steps (a measured bound is ≈ 1 by construction); the
/// worst ratio of the true distance's lower bound to the charged distance.
#[derive(Debug, Default)]
struct Tally {
    tracked: Vec<usize>,
    measured: usize,
    retrained: usize,
    worst_tracked_residual: f64,
    worst_distance: f64,
}

/// Removes the adversarial sequence from `case`'s model under `budget`, checking every step
/// ([`check_step`]) whatever path it took. With `weakest`, also asserts that the leverage
/// rows lay along the weakest direction of the Hessian of the rows that remain once they
/// are gone: its smallest eigenvector within acos(0.85) ≈ 32° of the leverage feature.
fn stress(case: &Stressor, budget: f64, weakest: bool) -> Tally {
    let mut u = train(case, budget);
    let lever_column = {
        let design = u.model.secret.design();
        let row = design.ids().iter().position(|id| id == "lev0a").unwrap();
        let x = design.row(row);
        (0..x.len())
            .max_by(|&a, &b| x[a].abs().total_cmp(&x[b].abs()))
            .unwrap()
    };
    let mut tally = Tally::default();
    for (step, id) in adversarial_order().iter().enumerate() {
        let c = u.remove(std::slice::from_ref(id)).unwrap();
        let label = format!("{case:?} budget {budget:e} step {step} ({id})");
        let (residual, distance) = check_step(&u, &c, &label);
        tally.worst_distance = tally.worst_distance.max(distance);
        if c.retrained {
            tally.retrained += 1;
        } else if c.bounds.residual_measured.iter().any(|&m| m) {
            tally.measured += 1;
        } else {
            assert!(c.bounds.cached_hessian.iter().all(|&p| p), "{label}");
            tally.tracked.push(step);
            tally.worst_tracked_residual = tally.worst_tracked_residual.max(residual);
        }
        if weakest && step + 1 == 2 * LEVERAGE {
            let v = smallest_eigenvector(&u);
            assert!(
                v[lever_column].abs() > 0.85,
                "{label}: the leverage direction is not the Hessian's weakest: {v}"
            );
        }
    }
    assert!(verify(&u).passed());
    tally
}

/// A budget the leverage removals' tracked bounds stay below (their distances reach ≈ 10⁸–
/// 10⁹ at Λ = 1e-4): each removal of a leverage row after the first keeps its pass-free
/// step with the tracked bound unmeasured — the bound alone certifies the step, so it must
/// hold however far it has grown. (After them the bulk removals' increments grow past even
/// this budget, ≈ 10¹³ as distances: those steps are measured.)
const KEEP_TRACKED: f64 = 1e10;

/// A budget the leverage removals' tracked bounds miss (their increments are ≈ 10⁵–10⁶ as
/// distances at Λ = 1e-4): the refresh policy measures and retrains, and every certified
/// bound it records must hold too.
const REFRESHING: f64 = 1e3;

/// Runs the stress for the fixed cases of `kind` on `seeds` under both budgets; under
/// [`KEEP_TRACKED`] every leverage removal after the first must keep its tracked bound (else
/// the stress never reached it).
fn stress_both(kind: Kind, seeds: &[u64]) {
    for &seed in seeds {
        let case = Stressor::fixed(kind, seed);
        let kept = stress(&case, KEEP_TRACKED, true);
        assert!(
            (1..2 * LEVERAGE).all(|step| kept.tracked.contains(&step)),
            "{case:?}: the leverage removals must keep their tracked bound: {kept:?}"
        );
        let refreshed = stress(&case, REFRESHING, true);
        eprintln!("{kind:?} seed {seed}: kept {kept:?}; refreshing {refreshed:?}");
    }
}

#[test]
fn binary_near_separable_rows_with_leverage_stay_within_their_bound() {
    stress_both(Kind::Binary, &[1, 2, 3]);
}

#[test]
fn one_vs_rest_with_leverage_stays_within_its_bound() {
    stress_both(Kind::ThreeClasses, &[4, 5]);
}

#[test]
fn ridge_with_leverage_stays_within_its_bound() {
    stress_both(Kind::Ridge, &[6, 7]);
}

fn stressor_strategy() -> impl Strategy<Value = Stressor> {
    (
        prop_oneof![
            Just(Kind::Binary),
            Just(Kind::ThreeClasses),
            Just(Kind::Ridge)
        ],
        0u64..100_000,
        1.0..8.0f64,
        -6.0..-1.0f64,
        any::<bool>(),
    )
        .prop_map(
            |(kind, seed, leverage_norm, log_lambda, per_sample)| Stressor {
                kind,
                seed,
                leverage_norm,
                // Per sample, λ·n lands in the same range (n = 128).
                lambda: 10f64.powf(log_lambda) / if per_sample { 128.0 } else { 1.0 },
                regularization: if per_sample {
                    Regularization::PerSample
                } else {
                    Regularization::Total
                },
            },
        )
}

proptest! {
    // 24 cases, each two runs of 14 removals with a retrain per step for the distance
    // check: well under a second in release.
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The same checks on random adversarial geometries: leverage norm 1–8 (R up to 8× the
    /// bulk's), Λ from 1e-6 to 1e-1 under either convention, all three kinds, both
    /// budgets. Every certified bound — tracked, measured or after a retrain — holds.
    #[test]
    fn random_adversarial_geometries_stay_within_their_bounds(case in stressor_strategy()) {
        stress(&case, KEEP_TRACKED, false);
        stress(&case, REFRESHING, false);
    }
}

// ---------------------------------------------------------------------------------------
// The lazy ‖Xv‖ through the unlearner
// ---------------------------------------------------------------------------------------

/// What the unlearner's next removal of `id` must give, computed here from a copy of its
/// caches with the library's pass-free step: per class model, the step with the Gram bound
/// from the start (eager) and the step with ‖Xv‖ ≤ S‖v‖ (lazy, never tightened).
fn reference_steps(
    u: &Unlearner,
    id: &str,
) -> Vec<(
    unlearn::removal::PassFreeStep,
    unlearn::removal::PassFreeStep,
)> {
    let hyper = &u.model.published.hyperparameters;
    let secret = &u.model.secret;
    let design = secret.design();
    let row = design.ids().iter().position(|i| i == id).unwrap();
    let value = secret.targets().values[row];
    let count = secret.model_count();
    let targets: Vec<f64> = (0..count)
        .map(|k| model::model_targets(secret.encoding(), &[value], k)[0])
        .collect();
    let mut caches = u.caches.clone();
    caches.remove_row(
        &hyper.loss,
        design.row(row),
        &targets,
        &secret.weights,
        secret.row_norm_bound,
    );
    let lambda = hyper
        .regularization
        .effective_lambda(hyper.lambda, secret.n_rows() - 1);
    let grid = transcript::lattice_of(hyper).map_or(0.0, |l| {
        l.grid() * ((count * secret.n_features()) as f64).sqrt()
    });
    let constants = PassFreeConstants {
        gamma: hyper.loss.second_derivative_lipschitz(),
        curvature_bound: hyper.loss.second_derivative_bound(),
        row_norm_bound: secret.row_norm_bound,
        x_spectral_bound: secret.spectral_bound.expect("set by the first removal"),
        refine_until: refinement_target(hyper.newton.tolerance, lambda, grid, count),
    };
    (0..count)
        .map(|k| {
            let mut lazy_caches = caches.clone();
            let (cache, gram) = caches.step_parts(k).unwrap();
            let eager =
                pass_free_removal_step(cache, gram, &secret.weights[k], lambda, constants).unwrap();
            let (cache, _) = lazy_caches.step_parts(k).unwrap();
            let lazy =
                pass_free_removal_step(cache, None, &secret.weights[k], lambda, constants).unwrap();
            (eager, lazy)
        })
        .collect()
}

/// Asserts that the unlearner's removal of `id` took the eager (`tightened`) or the lazy
/// step of [`reference_steps`], bit for bit, that its certified bounds hold on the rows, and
/// that the published weights are the release of the eager step's weights.
fn removal_matches_reference(u: &mut Unlearner, id: &str, tightened: bool) {
    let reference = reference_steps(u, id);
    let c = u.remove(&[id.to_string()]).unwrap();
    assert!(c.bounds.cached_hessian.iter().all(|&p| p), "pass-free");
    for (k, (eager, lazy)) in reference.iter().enumerate() {
        // (c) the step, hence the secret weights, do not depend on the choice.
        assert_eq!(
            eager.weights, lazy.weights,
            "model {k}: same step either way"
        );
        assert_eq!(
            u.model.secret.weights[k], eager.weights,
            "model {k}: weights"
        );
        // (b) the charge is the eager one exactly when the Gram pass was triggered.
        let taken = if tightened { eager } else { lazy };
        assert_eq!(
            c.bounds.data_dependent[k].to_bits(),
            taken.increment.to_bits(),
            "model {k}: increment (tightened = {tightened})"
        );
        assert_eq!(
            c.bounds.exact_residual[k].to_bits(),
            taken.residual_bound.to_bits(),
            "model {k}: residual bound (tightened = {tightened})"
        );
        // The Gram bound is strictly sharper here, so the two cases are distinguishable.
        assert!(
            eager.increment < lazy.increment,
            "model {k}: {eager:?} vs {lazy:?}"
        );
    }
    // (a) the bound that was recorded holds on the rows.
    check_step(u, &c, &format!("lazy rule, tightened = {tightened}"));
    // (c) the release: the published weights are the release of the eager step's weights
    // under the same record (key, ledger head, index), whatever bound was charged.
    let secret = &u.model.secret;
    let record = ReleaseRecord {
        weights: reference
            .iter()
            .map(|(eager, _)| eager.weights.as_slice().to_vec())
            .collect(),
        ..secret.last_release.clone()
    };
    let released = secret
        .released_weights(&u.model.published.hyperparameters, &record)
        .unwrap();
    assert_eq!(u.model.published.weights, released);
}

/// The lazy rule at both of its outcomes, on the adversarial binary rows: a bulk row
/// removed first (an exact step, which seeds the cache), then a bulk row and a leverage row
/// pass-free. A probe under [`KEEP_TRACKED`] (where both steps stay lazy: their increments
/// are far below 10⁻³ of it) records each step's lazy increment as a distance,
/// D_s = max_k increment_k/Λ′ (D₁ ≈ 10⁻³, D₂ ≈ 3·10⁵ here); then
///
/// - under a budget of 10⁴·max D/LAZY_SHARE neither step's increment comes near its 10⁻³
///   share, nor its charge near the allowance: the unlearner keeps S‖v‖ in both and records
///   the lazy steps' increments and bounds, bit for bit;
/// - under a budget of D₂/(5·LAZY_SHARE) the first step still stays lazy (D₁ is far below
///   the share) while the second's increment exceeds its share five times over (its
///   tightened charge, below D₂, fits): the Gram pass is taken for it, and it records the
///   eager step's increment and bound, bit for bit.
///
/// In every step the recorded bound holds on the rows, and the secret and published weights
/// are those of the eager step (the laziness changes only the charge).
#[test]
fn the_lazy_rule_changes_the_charge_only_when_triggered_and_never_the_release() {
    let kind = Kind::Binary;
    let (seed, first, order) = (9, "r3", ["r10", "lev1a"]);
    let case = Stressor::fixed(kind, seed);
    let mut probe = train(&case, KEEP_TRACKED);
    probe.remove(&[first.to_string()]).unwrap();
    let mut distances = Vec::new();
    for id in order {
        let lazy = reference_steps(&probe, id);
        distances.push(
            lazy.iter()
                .map(|(_, lazy)| lazy.increment)
                .fold(0.0, f64::max)
                / lambda_after(&probe),
        );
        removal_matches_reference(&mut probe, id, false);
    }
    let tight = distances[1] / (5.0 * LAZY_SHARE);
    assert!(
        distances[0] < 1e-3 * LAZY_SHARE * tight,
        "the first step must stay lazy under the tight budget: {distances:?}"
    );
    let roomy = 1e4 * distances[1].max(distances[0]) / LAZY_SHARE;
    for (budget, tightened) in [(roomy, [false, false]), (tight, [false, true])] {
        let mut u = train(&case, budget);
        u.remove(&[first.to_string()]).unwrap();
        for (id, tightened) in order.into_iter().zip(tightened) {
            removal_matches_reference(&mut u, id, tightened);
        }
        assert!(verify(&u).passed());
    }
}
