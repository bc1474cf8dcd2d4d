//! The removal engine against full retraining (proofs/output_perturbation_certificate.md,
//! proofs/retraining_schedule.md, proofs/one_vs_rest_composition.md).
//!
//! Every property compares the unlearner with quantities computed here independently of
//! the library's objective code: the gradient below is written out from the formula
//! ∇L_b(w) = Σ_i ℓ'(wᵀx_i, y_i)x_i + Λw + b with plain loops, and the squared-loss
//! minimiser is a dense nalgebra solve of the normal equations.
//!
//! # Floating-point tolerances
//!
//! With u = 2⁻⁵³ the unit roundoff and γ_k = k·u (first order), a computed gradient
//! ĝ = fl(Σ_i r_i x_i + Λw + b), r_i = ℓ'(fl(x_iᵀw), y_i), differs from the exact one by
//! (Higham, *Accuracy and Stability*, §3.1, valid for any summation order, so also for the
//! library's parallel reductions):
//! - the margins: |fl(x_iᵀw) − x_iᵀw| ≤ γ_d‖x_i‖‖w‖, and |ℓ''| ≤ 1 moves r_i by at most as
//!   much; summed through Xᵀ this is ≤ γ_d‖X‖_F²‖w‖;
//! - r_i's own evaluation (a few flops, exp/ln_1p to an ulp or two): ≤ 4u|r_i|;
//! - the sum over rows: componentwise ≤ γ_n Σ_i |x_ij||r_i|, in 2-norm ≤ γ_n‖X‖_F‖r‖;
//! - Λw + b: ≤ 2u(Λ‖w‖ + ‖b‖).
//!
//! Hence ‖ĝ − g‖ ≤ FLOOR := γ_{n+d+6}(‖X‖_F‖r‖ + ‖X‖_F²‖w‖ + Λ‖w‖ + ‖b‖), which
//! [`gradient_floor`] returns with a factor 4 of slack for the first-order terms.

mod common;

use common::with_budget;
use nalgebra::{DMatrix, DVector};
use proptest::prelude::*;
use unlearn::bounds;
use unlearn::certificate::Certificate;
use unlearn::data::{Dataset, Preprocessing, TargetEncoding, Targets};
use unlearn::loss::{Loss, LossKind};
use unlearn::mechanism::Mechanism;
use unlearn::model::{self, Hyperparameters, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::noise::{self, NoiseFamily, NoiseSpec};
use unlearn::objective::{Objective, Regularization, Rows};
use unlearn::removal::newton_removal_step;
use unlearn::solver::NewtonOptions;
use unlearn::store::{Access, Store};
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::{RemovalError, Unlearner};
use unlearn::verify::verify;

const U: f64 = f64::EPSILON / 2.0;

// ---------------------------------------------------------------------------------------
// Building models
// ---------------------------------------------------------------------------------------

/// A random problem: loss, convention, intercept, number of classes (1 = binary or
/// regression), shape and seed.
#[derive(Debug, Clone, Copy)]
struct Case {
    loss: LossKind,
    regularization: Regularization,
    intercept: bool,
    classes: usize,
    n: usize,
    d: usize,
    /// log10 of the user's λ (Λ itself under `Total`, Λ/n under `PerSample`).
    log_lambda: f64,
    seed: u64,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(1usize), Just(3usize), Just(4usize)],
        12usize..60,
        1usize..6,
        -1.5..0.5f64,
        0u64..10_000,
    )
        .prop_map(
            |(squared, per_sample, intercept, classes, n, d, log, seed)| {
                let loss = if squared {
                    LossKind::Squared
                } else {
                    LossKind::Logistic
                };
                let regularization = if per_sample {
                    Regularization::PerSample
                } else {
                    Regularization::Total
                };
                Case {
                    loss,
                    regularization,
                    intercept,
                    // Squared loss is regression: one model.
                    classes: if squared { 1 } else { classes },
                    n,
                    d,
                    // Per-sample λ is per row: Λ = λn lands in the same range.
                    log_lambda: if per_sample { log - 1.5 } else { log },
                    seed,
                }
            },
        )
}

/// Synthetic rows (‖x‖ ≤ 1) with regression, ±1 or class-index targets.
fn dataset(case: &Case) -> Dataset {
    let regression = case.loss == LossKind::Squared || case.classes > 1;
    let data = generate(&SyntheticSpec {
        rows: case.n,
        features: case.d,
        flip: 0.1,
        regression,
        seed: case.seed,
    });
    if case.classes <= 1 {
        return data;
    }
    // K classes by binning the real target w*ᵀx + noise (|w*ᵀx| ≤ 1).
    let k = case.classes as f64;
    let values: Vec<f64> = data
        .targets()
        .unwrap()
        .values
        .iter()
        .map(|t| ((t + 1.0) * k / 2.0).floor().clamp(0.0, k - 1.0))
        .collect();
    let classes = (0..case.classes).map(|c| format!("c{c}")).collect();
    Dataset::new(
        data.ids().to_vec(),
        data.feature_names().to_vec(),
        data.features().to_vec(),
        Some(Targets {
            values,
            encoding: TargetEncoding::Multiclass { classes },
        }),
    )
    .unwrap()
}

fn hyper(case: &Case, mechanism: Mechanism, noise: NoiseSpec) -> Hyperparameters {
    Hyperparameters {
        loss: case.loss,
        lambda: 10f64.powf(case.log_lambda),
        regularization: case.regularization,
        intercept: case.intercept,
        noise,
        privacy: None,
        mechanism,
        newton: NewtonOptions::default(),
    }
}

fn gaussian(sigma: f64) -> NoiseSpec {
    NoiseSpec {
        family: NoiseFamily::Gaussian,
        scale: sigma,
    }
}

/// A budget no step's distance comes near: every removal after the first is pass-free
/// (without a budget every removal is an exact step).
fn roomy_budget(h: Hyperparameters) -> Hyperparameters {
    with_budget(h, 1e3)
}

fn train(case: &Case, h: &Hyperparameters) -> Unlearner {
    let input = TrainingData {
        data: dataset(case),
        preprocessing: Preprocessing::default(),
        target_column: "y".into(),
    };
    Unlearner::from_trained(model::train(input, h, test_key(case.seed ^ 0x5eed)).unwrap())
}

/// `m` distinct ids of `u`'s rows, chosen by `pick` (m < n).
fn choose_ids(u: &Unlearner, m: usize, pick: u64) -> Vec<String> {
    let ids = u.model.secret.design().ids();
    let n = ids.len();
    let mut chosen: Vec<usize> = Vec::new();
    let mut state = pick.wrapping_mul(6364136223846793005).wrapping_add(1);
    while chosen.len() < m.min(n - 1) {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let i = (state >> 33) as usize % n;
        if !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    chosen.into_iter().map(|i| ids[i].clone()).collect()
}

// ---------------------------------------------------------------------------------------
// Independent numerics
// ---------------------------------------------------------------------------------------

/// The rows of `design` whose ids are not in `removed`, in order (what the unlearner keeps).
fn remaining(design: &Dataset, removed: &[String]) -> Dataset {
    let mut out = design.clone();
    let keep: Vec<bool> = design
        .ids()
        .iter()
        .map(|id| !removed.contains(id))
        .collect();
    out.retain_rows(|i| keep[i]);
    out
}

/// Whether two datasets hold the same rows (id, features, target), in any order: removal
/// deletes rows by swapping the last row into the hole, so row order is not preserved.
fn same_rows(a: &Dataset, b: &Dataset) -> bool {
    let rows = |d: &Dataset| {
        let targets = &d.targets().unwrap().values;
        let mut rows: Vec<(String, Vec<u64>, u64)> = (0..d.n_rows())
            .map(|i| {
                let bits = d.row(i).iter().map(|v| v.to_bits()).collect();
                (d.ids()[i].clone(), bits, targets[i].to_bits())
            })
            .collect();
        rows.sort();
        rows
    };
    rows(a) == rows(b)
}

/// Model k's targets, written out from the encoding: ±1 one-vs-rest, or the values.
fn targets_of(design: &Dataset, k: usize) -> Vec<f64> {
    let t = design.targets().unwrap();
    match &t.encoding {
        TargetEncoding::Multiclass { .. } => t
            .values
            .iter()
            .map(|&c| if c == k as f64 { 1.0 } else { -1.0 })
            .collect(),
        _ => t.values.clone(),
    }
}

fn dloss(loss: LossKind, z: f64, y: f64) -> f64 {
    match loss {
        LossKind::Squared => z - y,
        // d/dz ln(1 + e^{−yz}) = −y/(1 + e^{yz})
        LossKind::Logistic => -y / (1.0 + (y * z).exp()),
    }
}

/// What a gradient evaluation needs.
struct Problem<'a> {
    loss: LossKind,
    design: &'a Dataset,
    y: Vec<f64>,
    lambda: f64,
    b: &'a DVector<f64>,
}

impl<'a> Problem<'a> {
    fn new(u: &'a Unlearner, design: &'a Dataset, k: usize) -> Self {
        let h = &u.model.published.hyperparameters;
        Problem {
            loss: h.loss,
            design,
            y: targets_of(design, k),
            lambda: h.regularization.effective_lambda(h.lambda, design.n_rows()),
            b: &u.model.secret.noise[k],
        }
    }

    fn derivatives(&self, w: &DVector<f64>) -> Vec<f64> {
        (0..self.design.n_rows())
            .map(|i| {
                let z: f64 = self
                    .design
                    .row(i)
                    .iter()
                    .zip(w.iter())
                    .map(|(a, b)| a * b)
                    .sum();
                dloss(self.loss, z, self.y[i])
            })
            .collect()
    }

    /// ∇L_b(w) = Σ_i ℓ'(x_iᵀw, y_i)x_i + Λw + b, with plain loops.
    fn gradient(&self, w: &DVector<f64>) -> DVector<f64> {
        let r = self.derivatives(w);
        let mut g = w * self.lambda + self.b;
        for (i, ri) in r.iter().enumerate() {
            for (gj, xj) in g.iter_mut().zip(self.design.row(i)) {
                *gj += ri * xj;
            }
        }
        g
    }

    fn frobenius(&self) -> f64 {
        self.design
            .features()
            .iter()
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt()
    }

    /// The bound FLOOR of the module docs on ‖fl(∇L_b(w)) − ∇L_b(w)‖, with slack 4.
    fn gradient_floor(&self, w: &DVector<f64>) -> f64 {
        let (n, d) = (self.design.n_rows(), self.design.n_features());
        let r = DVector::from_vec(self.derivatives(w)).norm();
        let f = self.frobenius();
        4.0 * (n + d + 6) as f64
            * U
            * (f * r + f * f * w.norm() + self.lambda * w.norm() + self.b.norm())
    }

    /// An upper bound on ‖∇²L_b‖: ‖X‖²·max ℓ'' + Λ.
    fn hessian_norm_bound(&self) -> f64 {
        let curvature = match self.loss {
            LossKind::Squared => 1.0,
            LossKind::Logistic => 0.25,
        };
        self.frobenius().powi(2) * curvature + self.lambda
    }

    /// The squared-loss minimiser (XᵀX + ΛI)⁻¹(Xᵀy − b) by a dense Cholesky solve, and the
    /// bound on its error derived in the comment.
    fn ridge_dense(&self) -> (DVector<f64>, f64) {
        let (n, d) = (self.design.n_rows(), self.design.n_features());
        let x = DMatrix::from_row_slice(n, d, self.design.features());
        let y = DVector::from_column_slice(&self.y);
        let a = x.transpose() * &x + DMatrix::identity(d, d) * self.lambda;
        let c = x.transpose() * &y - self.b;
        let w = a
            .clone()
            .cholesky()
            .expect("XᵀX + ΛI is positive definite")
            .solve(&c);
        // Error of ŵ: forming A and c in floating point perturbs them by
        // ‖δA‖ ≤ γ_n‖X‖_F² + u·Λ and ‖δc‖ ≤ γ_n‖X‖_F‖y‖ + u‖b‖; the Cholesky solve is
        // backward stable, (A + E)ŵ = c with ‖E‖ ≤ γ_{3d+1}·d·‖A‖ (Higham Thm 10.4 with
        // ‖|R̂ᵀ||R̂|‖ ≤ d‖A‖). Subtracting A w* = c and using ‖A⁻¹‖ ≤ 1/Λ (A ⪰ ΛI exactly):
        // ‖ŵ − w*‖ ≤ ((‖δA‖ + ‖E‖)‖ŵ‖ + ‖δc‖)/Λ — a κ(A)·n·u·‖w‖-type bound, since
        // ‖A‖/Λ = κ(A). Slack 4 for the first-order terms.
        let f = self.frobenius();
        let norm_a = f * f + self.lambda;
        let perturbation =
            (n as f64 * f * f + ((3 * d + 1) * d) as f64 * norm_a + self.lambda) * U * w.norm()
                + (n as f64 * f * y.norm() + self.b.norm()) * U;
        (w, 4.0 * perturbation / self.lambda)
    }
}

/// The exact minimiser on the rows of `p` to the solver's tolerance (library solver, from
/// zero), with its independently recomputed gradient norm.
fn retrain(u: &Unlearner, p: &Problem<'_>) -> (DVector<f64>, f64) {
    let h = &u.model.published.hyperparameters;
    let (w, _) = model::fit(h, p.design, &p.y, p.b).unwrap();
    let g = p.gradient(&w).norm();
    (w, g)
}

fn lambda_after(u: &Unlearner) -> f64 {
    let h = &u.model.published.hyperparameters;
    h.regularization
        .effective_lambda(h.lambda, u.model.secret.n_rows())
}

// ---------------------------------------------------------------------------------------
// Properties against retraining
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Squared loss: the Newton step on a quadratic is exact, so after `remove` the secret
    /// weights are the minimiser on the remaining rows up to rounding.
    ///
    /// Tolerance. Let w be the weights before, v = H⁻¹ĝ the exact step for the computed
    /// gradient ĝ, v̂ the computed step and w⁻ = fl(w − v̂). For a quadratic w − H⁻¹g = w*
    /// exactly, so ‖w⁻ − w*‖ ≤ ‖H⁻¹(ĝ − g)‖ + ‖v̂ − v‖ + u‖w⁻‖ with
    /// ‖H⁻¹(ĝ − g)‖ ≤ FLOOR(w)/Λ′ and, as for the dense solve (forming H: γ_n‖X‖_F²; the
    /// Cholesky solve: γ_{3d+1}·d·‖H‖), ‖v̂ − v‖ ≤ (γ_n‖X‖_F² + γ_{3d+1}d‖H‖)‖v̂‖/Λ′.
    /// The reference ŵ carries its own bound from [`Problem::ridge_dense`]; the two add.
    #[test]
    fn squared_loss_removal_is_the_exact_minimiser(
        case in case_strategy(), m in 1usize..5, pick in any::<u64>(), guo in any::<bool>(),
    ) {
        let case = Case { loss: LossKind::Squared, classes: 1, ..case };
        let mechanism = if guo { Mechanism::Guo2020 } else { Mechanism::OutputPerturbation };
        // Under guo2020 the objective noise b ≠ 0: the step must keep the same b.
        let mut u = train(&case, &hyper(&case, mechanism, gaussian(0.5)));
        let ids = choose_ids(&u, m, pick);
        let w_before = u.model.secret.weights[0].clone();
        let design_before = u.model.secret.design().clone();
        let cert = u.remove(&ids).unwrap();
        prop_assert!(!cert.retrained);
        let rest = remaining(&design_before, &ids);
        prop_assert!(same_rows(u.model.secret.design(), &rest));
        let p = Problem::new(&u, &rest, 0);
        let (reference, reference_error) = p.ridge_dense();
        let w = &u.model.secret.weights[0];
        let (n, d) = (rest.n_rows(), rest.n_features());
        let f = p.frobenius();
        let step = (&w_before - w).norm();
        let step_error = 4.0 * (n as f64 * f * f
            + ((3 * d + 1) * d) as f64 * p.hessian_norm_bound()) * U * step / p.lambda;
        let tolerance = p.gradient_floor(&w_before) / p.lambda + step_error
            + U * w.norm() + reference_error;
        let gap = (w - &reference).norm();
        prop_assert!(gap <= tolerance,
            "‖w⁻ − w*‖ = {gap:e} > {tolerance:e} (step {step:e})");
    }

    /// Logistic (and squared): the secret weights after a removal are within ‖u‖/Λ′ of the
    /// exact minimiser, with u the exact residual; compared with a retrained model whose own
    /// residual g is counted the same way: ‖w̃⁻ − w_retrained‖ ≤ (‖u‖ + ‖g‖)/Λ′ (each is
    /// within its residual/Λ′ of A*(D′)). The residuals are recomputed here; each carries
    /// at most FLOOR of rounding, which is added. Also: the certificate's exact residuals
    /// agree with the recomputed ones, and each is at most the step's data-dependent bound
    /// (plus the rounding of the step, below).
    #[test]
    fn removal_is_within_the_residual_distance_of_retraining(
        case in case_strategy(), m in 1usize..5, pick in any::<u64>(),
    ) {
        let mut u = train(&case, &hyper(&case, Mechanism::OutputPerturbation, gaussian(1.0)));
        let ids = choose_ids(&u, m, pick);
        let design_before = u.model.secret.design().clone();
        let w_before = u.model.secret.weights.clone();
        let cert = u.remove(&ids).unwrap();
        let spectral = u.model.secret.spectral_bound.expect("computed by the removal");
        prop_assert!(!cert.retrained, "no budget: never retrains");
        let rest = remaining(&design_before, &ids);
        let lambda = lambda_after(&u);
        let (mut squared_distances, mut squared_floors) = (0.0, 0.0);
        for (k, w_prev) in w_before.iter().enumerate() {
            let p = Problem::new(&u, &rest, k);
            prop_assert_eq!(p.lambda, lambda);
            let w = &u.model.secret.weights[k];
            let residual = p.gradient(w).norm();
            let floor = p.gradient_floor(w);
            let recorded = cert.bounds.exact_residual[k];
            prop_assert!((recorded - residual).abs() <= 2.0 * floor,
                "class {k}: recorded ‖u‖ = {recorded:e}, recomputed {residual:e}");
            let (w_ret, g_ret) = retrain(&u, &p);
            let distance = (w - &w_ret).norm();
            let allowed = (residual + g_ret + floor + p.gradient_floor(&w_ret)) / lambda
                * (1.0 + 4.0 * U) + U * (w.norm() + w_ret.norm());
            prop_assert!(distance <= allowed,
                "class {k}: ‖w̃⁻ − w_retrained‖ = {distance:e} > {allowed:e}");
            // Each class's distance also counts the retraining tolerance τ: the reference is a
            // retraining to ‖∇L_b‖ ≤ τ (proofs/output_perturbation_certificate.md).
            let tau = u.model.published.hyperparameters.newton.tolerance;
            squared_distances += ((residual + tau) / lambda).powi(2);
            squared_floors += (2.0 * floor / lambda).powi(2);

            // The step's residual is the Taylor remainder, bounded by the data-dependent
            // bound for the exact step w − v. The computed w⁻ differs from it by the error
            // of v̂ (as in the squared-loss test), which moves the gradient by at most
            // ‖H‖ times it: κ·(FLOOR(w) + (γ_n‖X‖_F² + γ_{3d+1}d‖H‖)‖v‖).
            let v = w_prev - w;
            let xv: f64 = (0..rest.n_rows())
                .map(|i| rest.row(i).iter().zip(v.iter()).map(|(a, b)| a * b).sum::<f64>().powi(2))
                .sum::<f64>()
                .sqrt();
            let gamma = case.loss.second_derivative_lipschitz();
            let dd = bounds::data_dependent(gamma, u.model.secret.row_norm_bound, spectral, v.norm(), xv);
            // ‖v‖ and ‖Xv‖ recomputed from w − w⁻ carry the cancellation error of that
            // difference, relative 2u(‖w‖ + ‖w⁻‖)/‖v‖ each.
            let cancellation = 4.0 * U * (w_prev.norm() + w.norm()) / v.norm();
            prop_assert!((cert.bounds.data_dependent[k] - dd).abs()
                    <= (1e-9 + 2.0 * cancellation) * dd + 1e-300,
                "class {k}: recorded data-dependent bound {:e}, recomputed {dd:e}",
                cert.bounds.data_dependent[k]);
            let (n, d) = (rest.n_rows(), rest.n_features());
            let h_norm = p.hessian_norm_bound();
            let f = p.frobenius();
            let step_rounding = h_norm / lambda
                * (p.gradient_floor(w_prev)
                    + 4.0 * (n as f64 * f * f + ((3 * d + 1) * d) as f64 * h_norm) * U * v.norm())
                + floor;
            prop_assert!(residual <= dd + step_rounding,
                "class {k}: exact residual {residual:e} > data-dependent {dd:e} + {step_rounding:e}");
        }
        // The certificate charges √Σ((‖u_k‖ + τ)/Λ′)² for the K class models released together
        // (not, say, the largest class alone): equal to the recomputed value up to the two
        // computations' rounding (√Σ(2·FLOOR_k/Λ′)² by the triangle inequality in ℝ^K).
        let charged = cert.residual_bound;
        let recomputed = squared_distances.sqrt();
        let slack = 1e-9 * recomputed + squared_floors.sqrt();
        prop_assert!((charged - recomputed).abs() <= slack,
            "charged {charged:e}, recomputed distance {recomputed:e} ± {slack:e}");
    }

    /// Removing S as one batch or one id at a time: each ends within its own distance bound
    /// (√Σ(‖u_k‖/Λ′)², recomputed) of the exact minimiser on D ∖ S, hence within the sum of
    /// the two bounds of each other. Both ledgers verify; the sequential one has |S| steps.
    #[test]
    fn batch_and_sequential_removals_agree_within_their_bounds(
        case in case_strategy(), m in 2usize..5, pick in any::<u64>(),
    ) {
        let base = train(
            &case,
            &roomy_budget(hyper(&case, Mechanism::OutputPerturbation, gaussian(1.0))),
        );
        let ids = choose_ids(&base, m, pick);
        let rest = remaining(base.model.secret.design(), &ids);
        let mut batch = base.clone();
        batch.remove(&ids).unwrap();
        let mut sequential = base.clone();
        let certs = sequential.remove_sequential(&ids).unwrap();
        prop_assert_eq!(certs.len(), ids.len());
        prop_assert_eq!(sequential.ledger.entries.len(), 1 + ids.len());
        prop_assert!(same_rows(batch.model.secret.design(), sequential.model.secret.design()));
        prop_assert!(verify(&batch).passed());
        prop_assert!(verify(&sequential).passed());
        let lambda = lambda_after(&batch);
        let tau = batch.model.published.hyperparameters.newton.tolerance;
        let (mut bound_b, mut bound_s, mut floor, mut gap) = (0.0, 0.0, 0.0, 0.0);
        for k in 0..base.model.secret.weights.len() {
            let p = Problem::new(&batch, &rest, k);
            let (wb, ws) = (&batch.model.secret.weights[k], &sequential.model.secret.weights[k]);
            bound_b += (p.gradient(wb).norm() / lambda).powi(2);
            bound_s += ((p.gradient(ws).norm() + tau) / lambda).powi(2);
            floor += ((p.gradient_floor(wb) + p.gradient_floor(ws)) / lambda).powi(2);
            gap += (wb - ws).norm_squared();
        }
        let (bound_b, bound_s, floor, gap) =
            (bound_b.sqrt(), bound_s.sqrt(), floor.sqrt(), gap.sqrt());
        prop_assert!(gap <= (bound_b + bound_s + floor) * (1.0 + 1e-9),
            "‖w_batch − w_seq‖ = {gap:e} > {bound_b:e} + {bound_s:e} + {floor:e}");
        // The last certificate charges at least the distance recomputed from the exact
        // residual: exactly it for an exact step, an upper bound after pass-free steps
        // (their residual is tracked, not recomputed).
        let last = certs.last().unwrap();
        prop_assert!(last.residual_bound >= bound_s * (1.0 - 1e-9) - 2.0 * floor,
            "last certificate {:e} below the recomputed {bound_s:e}", last.residual_bound);
    }

    /// The output-perturbation schedule: re-solve exactly when the pre-retraining distance
    /// √Σ((‖u_k‖ + τ)/Λ′)² of the Newton step exceeds the budget. The Newton step is recomputed
    /// here with `newton_removal_step` and its residual with the independent gradient; the
    /// budget is then set just below and just above it (η relative, at least 4× the
    /// rounding floor of the distance, so that the recomputation cannot land on the wrong
    /// side). Training does not depend on the budget (b = 0), so both runs start alike.
    #[test]
    fn output_perturbation_retrains_exactly_when_over_budget(
        case in case_strategy(), m in 1usize..5, pick in any::<u64>(),
    ) {
        let probe = train(&case, &hyper(&case, Mechanism::OutputPerturbation, gaussian(1.0)));
        let ids = choose_ids(&probe, m, pick);
        let rest = remaining(probe.model.secret.design(), &ids);
        let h = hyper(&case, Mechanism::OutputPerturbation, gaussian(1.0));
        let lambda = h.regularization.effective_lambda(h.lambda, rest.n_rows());
        let (mut distance, mut floor) = (0.0f64, 0.0f64);
        for k in 0..probe.model.secret.weights.len() {
            let p = Problem::new(&probe, &rest, k);
            let objective = Objective {
                loss: &case.loss,
                rows: Rows { features: rest.features(), targets: &p.y, dim: rest.n_features() },
                lambda,
                noise: &probe.model.secret.noise[k],
            };
            let step = newton_removal_step(&objective, &probe.model.secret.weights[k]).unwrap();
            distance += ((p.gradient(&step.weights).norm() + h.newton.tolerance) / lambda).powi(2);
            floor += (p.gradient_floor(&step.weights) / lambda).powi(2);
        }
        let (distance, floor) = (distance.sqrt(), floor.sqrt());
        // The release is charged the distance plus the grid rounding g·√(K·d), with
        // g ≤ σ·2⁻²⁴ and σ = budget·sigma_for(1, 1e-5, 1): that share joins the margin.
        let coords = (probe.model.secret.weights.len() * probe.model.secret.n_features()) as f64;
        let grid_share = noise::sigma_for(1.0, 1e-5, 1.0).unwrap() * 2f64.powi(-24) * coords.sqrt();
        let eta = (1e-6f64).max(4.0 * floor / distance) + 2.0 * grid_share;
        prop_assume!(eta < 0.1, "the step is at the rounding floor");
        // The lattice release is exact only while |w|/g < 2⁵³, g ≤ σ·2⁻²⁴: a budget so small
        // that σ is below |w|·2⁻²⁷ makes the release refuse (a clear error, tested in
        // tests/discrete_gaussian.rs), so such cases say nothing about the schedule.
        let largest = probe.model.secret.weights.iter().flat_map(|w| w.iter()).fold(0.0f64, |m, v| m.max(v.abs()));
        let sigma_low = distance * (1.0 - eta) * noise::sigma_for(1.0, 1e-5, 1.0).unwrap();
        prop_assume!(largest < sigma_low * 2f64.powi(27), "σ too small for the release grid");
        for (budget, expect) in [(distance * (1.0 - eta), true), (distance * (1.0 + eta), false)] {
            let mut u = train(&case, &with_budget(h.clone(), budget));
            let cert = u.remove(&ids).unwrap();
            prop_assert_eq!(cert.retrained, expect,
                "budget {:e}, distance {:e}: retrained = {}", budget, distance, cert.retrained);
            if expect {
                // The re-solve reached the tolerance on D′ with the same b (zero here).
                let residuals = &cert.bounds.training_residual;
                prop_assert_eq!(residuals.len(), u.model.secret.weights.len());
                prop_assert!(residuals.iter().all(|&g| g <= h.newton.tolerance));
                prop_assert!(u.model.secret.noise.iter().all(|b| b.norm() == 0.0));
                // A re-solve is the reference retrain (charged 0), so only the published
                // shape can stop it being certified: a class left without rows.
                let shape = cert.reason.as_deref().is_some_and(|r| r.contains("no remaining rows"));
                prop_assert_eq!(cert.certified, cert.budget_used <= budget && !shape);
            } else {
                let shape = cert.reason.as_deref().is_some_and(|r| r.contains("no remaining rows"));
                prop_assert!(cert.certified || shape, "{:?}", cert.reason);
                prop_assert!(cert.bounds.training_residual.is_empty());
            }
            prop_assert!(cert.budget_used <= cert.budget.unwrap() || !cert.certified);
            prop_assert!(verify(&u).passed(), "{:?}", verify(&u).checks);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Ledger
// ---------------------------------------------------------------------------------------

fn logistic_case(classes: usize, intercept: bool) -> Case {
    Case {
        loss: LossKind::Logistic,
        regularization: Regularization::Total,
        intercept,
        classes,
        n: 80,
        d: 4,
        log_lambda: -1.0,
        seed: 11,
    }
}

/// The chain verifies after every removal, batch or sequential, with and without
/// retrainings; editing, resealing, dropping or reordering entries, or the published
/// weights, is detected.
#[test]
fn ledger_verifies_after_every_removal_and_detects_tampering() {
    let case = logistic_case(3, true);
    let h = with_budget(
        hyper(&case, Mechanism::OutputPerturbation, gaussian(1.0)),
        1e-3,
    );
    let mut u = train(&case, &h);
    assert!(verify(&u).passed());
    let ids: Vec<String> = (0..12).map(|i| format!("s{}", 3 * i)).collect();
    for chunk in ids.chunks(4) {
        u.remove(&chunk[..2]).unwrap();
        assert!(verify(&u).passed(), "{:?}", verify(&u).checks);
        u.remove_sequential(&chunk[2..]).unwrap();
        assert!(verify(&u).passed(), "{:?}", verify(&u).checks);
    }
    assert_eq!(u.ledger.entries.len(), 1 + 3 * 3);
    assert!(
        u.ledger.retrainings() > 0,
        "a budget of 1e-3 forces some re-solves"
    );

    let chain_fails = |t: &Unlearner| {
        let report = verify(t);
        !report.passed() && !report.checks[0].passed
    };
    // Edit an entry's content.
    let mut t = u.clone();
    t.ledger.entries[3].rows_after += 1;
    assert!(chain_fails(&t));
    // Edit and reseal it: the next entry's link breaks.
    let mut t = u.clone();
    t.ledger.entries[3].certified = !t.ledger.entries[3].certified;
    let previous = t.ledger.entries[2].clone();
    t.ledger.entries[3] = t.ledger.entries[3].clone().seal(Some(&previous));
    assert!(chain_fails(&t));
    // Drop the last entry: the chain no longer ends at the published digest.
    let mut t = u.clone();
    t.ledger.entries.pop();
    assert!(chain_fails(&t));
    // Drop a middle entry.
    let mut t = u.clone();
    t.ledger.entries.remove(4);
    assert!(chain_fails(&t));
    // Swap two entries.
    let mut t = u.clone();
    t.ledger.entries.swap(2, 3);
    assert!(chain_fails(&t));
    // Change the published weights (and their digest): the release check fails.
    let mut t = u.clone();
    t.model.published.weights[0][0] += 1e-9;
    t.model.published.digest = unlearn::model::weights_digest(&t.model.published.weights);
    assert!(!verify(&t).passed());
    // A secret row that a certificate says was removed.
    let mut t = u.clone();
    let last = t.ledger.entries.len() - 1;
    let kept = t.model.secret.design().ids()[0].clone();
    let tag = t.model.secret.key.id_tag(&kept);
    t.ledger.entries[last].removed_id_tags.push(tag);
    let previous = t.ledger.entries[last - 1].clone();
    t.ledger.entries[last] = t.ledger.entries[last].clone().seal(Some(&previous));
    assert!(!verify(&t).passed());
}

// ---------------------------------------------------------------------------------------
// Refused requests
// ---------------------------------------------------------------------------------------

fn refused_requests(u: &Unlearner) -> Vec<(Vec<String>, &'static str)> {
    let all: Vec<String> = u.model.secret.design().ids().to_vec();
    vec![
        (vec!["no-such-id".into()], "unknown"),
        (vec!["s1".into(), "no-such-id".into()], "unknown"),
        (vec!["s1".into(), "s2".into(), "s1".into()], "duplicate"),
        (vec!["s0".into()], "already removed"),
        (all, "all rows"),
        (vec![], "empty"),
    ]
}

/// Every refused request leaves the unlearner exactly as it was, batch or sequential.
#[test]
fn refused_removals_leave_the_unlearner_unchanged() {
    for (classes, mechanism) in [
        (1, Mechanism::OutputPerturbation),
        (3, Mechanism::OutputPerturbation),
        (1, Mechanism::Guo2020),
    ] {
        let case = logistic_case(classes, true);
        let mut u = train(&case, &hyper(&case, mechanism, gaussian(1.0)));
        u.remove(&["s0".to_string()]).unwrap();
        for (ids, what) in refused_requests(&u) {
            let before = u.clone();
            let err = u.remove(&ids).unwrap_err();
            assert!(u == before, "{what}: batch changed the unlearner");
            let err_seq = u.remove_sequential(&ids).unwrap_err();
            assert!(u == before, "{what}: sequential changed the unlearner");
            assert!(u.check_request(&ids).is_err());
            let expected = |e: &RemovalError| match what {
                "unknown" | "already removed" => matches!(e, RemovalError::UnknownId(_)),
                "duplicate" => matches!(e, RemovalError::DuplicateId(_)),
                "all rows" => matches!(e, RemovalError::WouldRemoveAll(_)),
                _ => matches!(e, RemovalError::Empty),
            };
            assert!(expected(&err), "{what}: {err}");
            assert!(expected(&err_seq), "{what}: {err_seq}");
        }
    }
}

/// A store round trip keeps the unlearner exactly (rows in input order), so the CLI's
/// load–remove–commit path removes what the library removes.
#[test]
fn store_round_trip_after_removals_is_exact() {
    let dir = common::scratch("removal-roundtrip");
    let store = dir.join("store");
    let case = logistic_case(3, false);
    let mut u = train(&case, &hyper(&case, Mechanism::Guo2020, gaussian(0.3)));
    u.remove(&["s3".to_string(), "s9".to_string()]).unwrap();
    Store::create(&store, &mut u, false, std::time::Duration::ZERO).unwrap();
    let loaded = Store::open(&store, Access::Read).unwrap().load().unwrap();
    // The store gives the rows back in input order (what a re-solve would put them in).
    let mut expected = u.clone();
    expected.model.secret.design_mut().restore_canonical_order();
    assert!(loaded == expected);
    let certificate: &Certificate = loaded.ledger.last().unwrap();
    let key = &loaded.model.secret.key;
    assert_eq!(
        certificate.removed_id_tags,
        vec![key.id_tag("s3"), key.id_tag("s9")]
    );
}

/// A recorded exact residual is documented as rounded outward by the floating-point error
/// bound of its computation: it must be an upper bound on the true ‖∇L_b(w̃⁻; D′)‖. The
/// exact minimiser of a generic problem is not representable in f64, so the true residual
/// of any f64 vector is positive; for this squared-loss removal the computed norm is tiny
/// (or 0), and recording it unrounded would claim that w̃⁻ is the exact minimiser.
#[test]
fn recorded_residuals_are_rounded_outward() {
    let case = Case {
        loss: LossKind::Squared,
        regularization: Regularization::PerSample,
        intercept: false,
        classes: 1,
        n: 26,
        d: 1,
        log_lambda: -1.5,
        seed: 1590,
    };
    let mut u = train(
        &case,
        &hyper(&case, Mechanism::OutputPerturbation, gaussian(1.0)),
    );
    let ids = choose_ids(&u, 1, 1909741800431165319);
    let cert = u.remove(&ids).unwrap();
    let rest = u.model.secret.design().clone();
    let p = Problem::new(&u, &rest, 0);
    let w = &u.model.secret.weights[0];
    let computed = p.gradient(w).norm();
    let recorded = cert.bounds.exact_residual[0];
    // The recorded value must be the computed norm enlarged by the rounding bound of its
    // computation: strictly above it, and never 0 (the unrounded norm is 0 for this case).
    assert!(
        recorded > computed && recorded > 0.0,
        "recorded ‖u‖ = {recorded:e}, recomputed {computed:e}"
    );
    // ... but by no more than this test's own (looser) rounding floor: the outward rounding
    // is a rounding bound, not an arbitrary inflation.
    assert!(
        recorded <= computed + p.gradient_floor(w),
        "recorded ‖u‖ = {recorded:e}"
    );
    assert!(cert.budget_used > 0.0);
}

/// A removal that fails after rows were deleted (here: the retraining it triggers cannot
/// converge in zero iterations) rolls back: the rows return in their exact order and every
/// other part of the state is restored, for a batch and for a sequence.
#[test]
fn a_removal_that_fails_midway_rolls_everything_back() {
    for classes in [1, 3] {
        let case = logistic_case(classes, true);
        // A budget far below any step's distance forces a retraining at the first step (and
        // still leaves the release grid fine enough for the weights: |w|/σ < 2²⁹).
        let h = with_budget(
            hyper(&case, Mechanism::OutputPerturbation, gaussian(1.0)),
            1e-8,
        );
        let mut u = train(&case, &h);
        u.model.published.hyperparameters.newton.max_iterations = 0;
        let before = u.clone();
        let ids = choose_ids(&u, 3, 42);
        let err = u.remove(&ids).unwrap_err();
        assert!(matches!(err, RemovalError::Retrain(_)), "{err}");
        assert!(u == before, "batch: state changed by a failed removal");
        let err = u.remove_sequential(&ids).unwrap_err();
        assert!(matches!(err, RemovalError::Retrain(_)), "{err}");
        assert!(u == before, "sequence: state changed by a failed removal");
        // The same request succeeds once retraining can converge: the failure was real.
        u.model.published.hyperparameters.newton.max_iterations = 100;
        assert!(u.remove(&ids).unwrap().retrained);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Removals one after another under output perturbation: the first is an exact step,
    /// which seeds the cache; every later one is pass-free (O(d²), no pass over the rows)
    /// and records a tracked bound on its residual (proofs/pass_free_step.md). That bound
    /// must cover the exact residual, recomputed here independently from the rows (within
    /// its rounding floor), at every step of the sequence — the error it tracks accumulates,
    /// so a missing term shows up as the sequence goes on.
    #[test]
    fn pass_free_steps_stay_within_their_tracked_bound(
        case in case_strategy(), pick in any::<u64>(),
    ) {
        let h = roomy_budget(hyper(&case, Mechanism::OutputPerturbation, gaussian(1.0)));
        let mut u = train(&case, &h);
        let ids = choose_ids(&u, 8, pick);
        prop_assume!(ids.len() == 8);
        for (step, id) in ids.iter().enumerate() {
            let c = u.remove(std::slice::from_ref(id)).unwrap();
            prop_assert!(!c.retrained, "no budget: never retrains");
            let rest = u.model.secret.design().clone();
            for k in 0..c.bounds.exact_residual.len() {
                prop_assert_eq!(c.bounds.cached_hessian[k], step > 0,
                    "step {} model {}: pass-free = {}", step, k, c.bounds.cached_hessian[k]);
                let p = Problem::new(&u, &rest, k);
                let w = &u.model.secret.weights[k];
                let (residual, floor) = (p.gradient(w).norm(), p.gradient_floor(w));
                let bound = c.bounds.exact_residual[k];
                prop_assert!(residual <= bound + floor,
                    "step {step} model {k}: residual {residual:e} > tracked {bound:e} + {floor:e}");
            }
        }
        prop_assert!(verify(&u).passed());
    }
}

/// Ridge at O(d²) per row: after the first (exact) removal every step is pass-free, and for
/// the squared loss the only error a pass-free step adds is rounding (γ = 0: no drift, no
/// remainder; proofs/pass_free_step.md). After 80 sequential removals the weights are
///
/// - within the tracked bound's distance of the exact minimiser computed here independently
///   (dense normal equations, `ridge_dense`, with its own error bound): the tracked bound
///   really covers the accumulated rounding;
/// - equal to it within 1e-9 relative — issue 4's ridge target. The tracked bound is a sum
///   of γ_k-scaled norms, about 80·d·u·κ(H)·‖w‖ ≈ 1e-11 relative here (κ ≤ ‖X‖²/Λ′ + 1 <
///   10³), so 1e-9 fails only if rounding accumulates far beyond what the bound tracks.
#[test]
fn ridge_pass_free_removals_match_retraining() {
    let case = Case {
        loss: LossKind::Squared,
        regularization: Regularization::PerSample,
        intercept: true,
        classes: 1,
        n: 400,
        d: 12,
        log_lambda: -2.0,
        seed: 11,
    };
    let mut u = train(
        &case,
        &roomy_budget(hyper(&case, Mechanism::OutputPerturbation, gaussian(1.0))),
    );
    let ids = choose_ids(&u, 80, 2024);
    let certs = u.remove_sequential(&ids).unwrap();
    assert!(certs.iter().all(|c| !c.retrained));
    assert!(
        certs[1..].iter().all(|c| c.bounds.cached_hessian == [true]),
        "every removal after the first is pass-free"
    );
    let rest = u.model.secret.design().clone();
    let p = Problem::new(&u, &rest, 0);
    let (exact, exact_error) = p.ridge_dense();
    let w = &u.model.secret.weights[0];
    let tracked = certs.last().unwrap().bounds.exact_residual[0];
    let lambda = lambda_after(&u);
    let distance = (w - &exact).norm();
    assert!(
        distance <= tracked / lambda * (1.0 + 4.0 * U) + exact_error,
        "‖w − w*‖ = {distance:e} > tracked {:e} + {exact_error:e}",
        tracked / lambda
    );
    assert!(
        distance <= 1e-9 * exact.norm(),
        "relative difference {:e}",
        distance / exact.norm()
    );
    assert!(verify(&u).passed());
}

/// The middle tier of the refresh policy (proofs/pass_free_step.md): a pass-free step whose
/// tracked bound misses the budget, but whose residual measured from the rows fits, is kept
/// — same weights as the pass-free step — with the measured residual recorded; the ledger
/// verifies. The budget is set between the two charged distances, found on a probe run
/// without a budget (training and exact steps do not depend on the budget under output
/// perturbation, b = 0).
#[test]
fn a_pass_free_step_over_budget_is_measured_before_it_is_redone() {
    let case = Case {
        n: 400,
        ..logistic_case(1, true)
    };
    let h = hyper(&case, Mechanism::OutputPerturbation, gaussian(1.0));
    let mut probe = train(&case, &roomy_budget(h.clone()));
    let ids = choose_ids(&probe, 2, 7);
    let first = probe.remove(&ids[..1]).unwrap();
    let tracked = probe.remove(&ids[1..]).unwrap();
    assert_eq!(tracked.bounds.cached_hessian, [true]);
    assert_eq!(tracked.bounds.residual_measured, [false]);
    let rest = probe.model.secret.design().clone();
    let p = Problem::new(&probe, &rest, 0);
    let w = probe.model.secret.weights[0].clone();
    let actual = p.gradient(&w).norm() + p.gradient_floor(&w);
    let (lambda, tau) = (lambda_after(&probe), h.newton.tolerance);
    // The budget must let the first (exact) step and the measured residual through.
    let needed = first.budget_used.max((actual + tau) / lambda);
    assert!(
        needed < 0.25 * tracked.budget_used,
        "the tracked bound {:e} must be loose enough to test the tier (needed {needed:e})",
        tracked.budget_used
    );
    let budget = (needed * tracked.budget_used).sqrt();

    let mut u = train(&case, &with_budget(h, budget));
    assert!(!u.remove(&ids[..1]).unwrap().retrained);
    let c = u.remove(&ids[1..]).unwrap();
    assert!(!c.retrained);
    assert_eq!(
        c.bounds.cached_hessian,
        [true],
        "the pass-free step is kept"
    );
    assert_eq!(
        c.bounds.residual_measured,
        [true],
        "its residual was measured"
    );
    assert_eq!(
        u.model.secret.weights[0], w,
        "same weights as the pass-free step"
    );
    let recomputed = p.gradient(&w).norm();
    assert!((c.bounds.exact_residual[0] - recomputed).abs() <= 2.0 * p.gradient_floor(&w));
    assert!(c.budget_used <= budget);
    assert!(verify(&u).passed());
}

/// Without a privacy target nothing decides when a pass-free step's tracked bound has grown
/// too far, so every removal is an exact step (a membership-inference audit measured the
/// drift of unbudgeted pass-free steps from retraining).
#[test]
fn without_a_budget_every_removal_is_an_exact_step() {
    let case = logistic_case(2, true);
    let mut u = train(
        &case,
        &hyper(&case, Mechanism::OutputPerturbation, gaussian(1.0)),
    );
    let ids = choose_ids(&u, 5, 3);
    for c in u.remove_sequential(&ids).unwrap() {
        assert_eq!(c.bounds.cached_hessian, [false, false]);
        assert_eq!(c.bounds.residual_measured, [true, true]);
    }
}

/// A cache that cannot step — here its tracked gradient is NaN, so the solve is not finite —
/// is dropped and the removal taken as an exact step instead of failing: the request
/// succeeds, is certified, reseeds the cache, and the ledger verifies.
#[test]
fn a_cache_that_cannot_step_falls_back_to_an_exact_step() {
    use unlearn::hessian_cache::{CacheSeed, HessianCache, RowBounds};
    let case = logistic_case(1, true);
    let h = roomy_budget(hyper(&case, Mechanism::OutputPerturbation, gaussian(1.0)));
    let mut u = train(&case, &h);
    let ids = choose_ids(&u, 3, 5);
    u.remove(&ids[..1]).unwrap();
    let d = u.model.secret.n_features();
    let broken = HessianCache::new(
        CacheSeed {
            hessian: DMatrix::identity(d, d),
            factor: nalgebra::Cholesky::new(DMatrix::identity(d, d)).unwrap(),
            point: u.model.secret.weights[0].clone(),
            lambda: lambda_after(&u),
            gradient: DVector::from_element(d, f64::NAN),
            gradient_error: 0.0,
        },
        RowBounds {
            rows: u.model.secret.n_rows(),
            row_norm: u.model.secret.row_norm_bound,
            gamma: case.loss.second_derivative_lipschitz(),
        },
    );
    u.caches.set(0, broken);
    let c = u.remove(&ids[1..2]).unwrap();
    assert_eq!(c.bounds.cached_hessian, [false], "redone as an exact step");
    assert!(c.certified && !c.retrained);
    let next = u.remove(&ids[2..]).unwrap();
    assert_eq!(
        next.bounds.cached_hessian,
        [true],
        "the exact step reseeded the cache"
    );
    assert!(verify(&u).passed());
}

/// A deterministic key that counts as secret (`NoiseKey::from_secret_bytes`): library tests
/// need reproducible noise and certified certificates; the CLI's `--seed` is never certified.
fn test_key(seed: u64) -> NoiseKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    NoiseKey::from_secret_bytes(bytes)
}
