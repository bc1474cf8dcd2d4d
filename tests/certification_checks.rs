//! The two places where a store's numbers decide `certified`, driven to both outcomes:
//! the training certificate of `Unlearner::from_trained` (within the budget, and over it),
//! and `verify`'s "exact residual within the recorded bound" check (a state where it must
//! fail). A check that is never made to fail cannot be told from one that always passes
//! (issue 10 item 7).

mod common;

use common::with_budget;
use unlearn::accounting::distance_bound;
use unlearn::data::Preprocessing;
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::model::{self, Hyperparameters, TrainingData, weights_digest};
use unlearn::noise::{NoiseFamily, NoiseSpec};
use unlearn::objective::Regularization;
use unlearn::solver::NewtonOptions;
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::Unlearner;
use unlearn::verify::{Verification, verify};

/// Λ (total regularisation) of every model here.
const LAMBDA: f64 = 0.5;

/// The verify check under test.
const RESIDUAL_CHECK: &str = "exact residual within the recorded bound";

/// A logistic model on 60 synthetic rows (d = 4), output perturbation with the analytic
/// Gaussian σ for (ε, δ) = (1, 10⁻⁵) and budget ε′, Newton stopped at ‖∇L_b‖ ≤ τ.
fn trained(budget: f64, tolerance: f64) -> Unlearner {
    let hyper = Hyperparameters {
        loss: LossKind::Logistic,
        lambda: LAMBDA,
        regularization: Regularization::Total,
        intercept: false,
        noise: NoiseSpec {
            family: NoiseFamily::Gaussian,
            scale: 0.0,
        },
        privacy: None,
        mechanism: Mechanism::OutputPerturbation,
        newton: NewtonOptions {
            tolerance,
            ..NewtonOptions::default()
        },
    };
    let hyper = with_budget(hyper, budget);
    let input = TrainingData {
        data: generate(&SyntheticSpec {
            rows: 60,
            features: 4,
            flip: 0.1,
            regression: false,
            seed: 3,
        }),
        preprocessing: Preprocessing::default(),
        target_column: "y".into(),
    };
    Unlearner::from_trained(model::train(input, &hyper, 17).unwrap())
}

/// The distance the training certificate must charge: (‖u‖ + τ)/Λ from the residual
/// bounds of the secret state.
fn training_distance(u: &Unlearner) -> f64 {
    let hyper = &u.model.published.hyperparameters;
    distance_bound(
        &u.model.secret.residual_bounds(hyper),
        hyper.newton.tolerance,
        LAMBDA,
        hyper.noise.family,
    )
}

/// Within budget: ε′ = 10⁻² against a distance of about τ/Λ = 2·10⁻¹⁰. The certificate is
/// certified, without a reason, and charges exactly the distance (never less than τ/Λ).
/// Kills the mutants of `accounting::certification` that make a within-budget training
/// certificate uncertified (`used > budget && kind == Training` ↦ `||`, the guard ↦
/// `true`, the last arm ↦ `false`), and a zero or τ-free charge.
#[test]
fn a_training_residual_within_the_budget_is_certified() {
    let u = trained(1e-2, 1e-10);
    let certificate = u.ledger.last().unwrap();
    assert!(
        certificate.certified,
        "not certified: {:?}",
        certificate.reason
    );
    assert_eq!(certificate.reason, None);
    // The budget is what the noise affords, a hair below the target's ε′ at most.
    let budget = certificate.budget.unwrap();
    assert!(budget <= 1e-2 && budget > 0.99e-2, "{budget:e}");
    assert_eq!(certificate.budget_used, training_distance(&u));
    assert!(certificate.budget_used >= 1e-10 / LAMBDA);
    assert!(verify(&u).passed(), "{:?}", verify(&u).checks);
}

/// Over budget: τ = 10⁻³ alone puts the distance at ≥ τ/Λ = 2·10⁻³, above ε′ = 10⁻³. The
/// certificate is not certified and says why (the training residual, with the remedy).
/// Kills the mutants that certify it (`used > budget` ↦ `<=` or `false` in both
/// output-perturbation arms) and the one that lets it fall through to the removal arm's
/// reason (the training guard ↦ `false`); `verify` still passes (nothing was claimed).
/// A removal from it cannot do better (a re-solve stops at τ too): not certified, with the
/// removal arm's reason — kills that arm's guard ↦ `false`, which would certify it.
#[test]
fn a_training_residual_over_the_budget_is_not_certified() {
    let u = trained(1e-3, 1e-3);
    let certificate = u.ledger.last().unwrap();
    assert!(!certificate.certified);
    assert!(certificate.budget_used >= 1e-3 / LAMBDA);
    assert_eq!(certificate.budget_used, training_distance(&u));
    let reason = certificate.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("training residual") && reason.contains("exceeds the budget"),
        "{reason}"
    );
    assert!(verify(&u).passed(), "{:?}", verify(&u).checks);

    let mut u = u;
    let removal = u.remove(&["s7".to_string()]).unwrap();
    assert!(!removal.certified);
    assert!(removal.budget_used >= 1e-3 / LAMBDA);
    let reason = removal.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("even after retraining"), "{reason}");
    assert!(verify(&u).passed(), "{:?}", verify(&u).checks);
}

/// Adds `shift` to the first secret weight and makes everything else consistent with it:
/// the published weights are regenerated from the secret state (release noise included),
/// their digest recomputed, and the training certificate (optionally with `budget_used`
/// replaced) resealed to end at that digest. Only the residual of the secret weights —
/// and what the certificate recorded for it — is left to tell the state is wrong.
fn tampered(u: &Unlearner, shift: f64, budget_used: Option<f64>) -> Unlearner {
    let mut t = u.clone();
    t.model.secret.weights[0][0] += shift;
    let hyper = t.model.published.hyperparameters.clone();
    let release = t.model.secret.releases - 1;
    let weights = t.model.secret.released_weights(&hyper, release).unwrap();
    t.model.published.digest = weights_digest(&weights);
    t.model.published.weights = weights;
    assert_eq!(t.ledger.entries.len(), 1, "only the training certificate");
    let mut entry = t.ledger.entries.pop().unwrap();
    entry.digest_after = t.model.published.digest.clone();
    if let Some(used) = budget_used {
        entry.budget_used = used;
    }
    t.ledger.entries.push(entry.seal(None));
    t
}

/// Asserts the residual check alone fails.
fn only_the_residual_check_fails(report: &Verification) {
    for check in &report.checks {
        assert_eq!(
            check.passed,
            check.name != RESIDUAL_CHECK,
            "{}: {}",
            check.name,
            check.detail
        );
    }
    assert!(report.checks.iter().any(|c| c.name == RESIDUAL_CHECK));
}

/// Secret weights moved by 0.1 after their certificate was written: their exact residual
/// (of order H·0.1 ≥ Λ·0.1) is far above the ≈ 2·10⁻¹⁰ the certificate recorded. Every
/// other check is satisfied (chain, published weights regenerated bit for bit, rows, noise),
/// so `verify` must fail on that check and that check only. Kills the mutant that makes
/// the check always pass (`passed: within && within_budget` ↦ `true`), `<=` ↦ `>` in
/// `within`, and a recomputation that ignores the residuals.
#[test]
fn verify_fails_when_the_secret_residual_exceeds_the_recorded_bound() {
    let u = trained(1e-2, 1e-10);
    assert!(verify(&u).passed());
    let t = tampered(&u, 0.1, None);
    let report = verify(&t);
    only_the_residual_check_fails(&report);
}

/// A certified entry whose recorded charge (edited to 1, then resealed) covers the
/// measured distance but the budget ε′ = 10⁻² does not: the shift is chosen so the
/// measured distance lies between the two. Within the recorded bound, yet the claim
/// "certified" is false: the check must fail. Kills `within && within_budget` ↦ `within`
/// or `||`, and `!last.certified` ↦ `last.certified`.
#[test]
fn verify_fails_when_a_certified_entry_is_over_its_budget() {
    let u = trained(1e-2, 1e-10);
    let hyper = u.model.published.hyperparameters.clone();
    // The distance grows with the shift (about Λ′·shift/Λ′ = shift for small shifts):
    // double it from 10⁻⁴ until the measured distance is above the budget.
    let mut shift = 1e-4;
    let t = loop {
        let t = tampered(&u, shift, Some(1.0));
        let measured = distance_bound(
            &t.model.secret.residual_bounds(&hyper),
            hyper.newton.tolerance,
            LAMBDA,
            hyper.noise.family,
        );
        if measured > 1e-2 {
            assert!(measured < 1.0, "the shift overshot: {measured:e}");
            break t;
        }
        shift *= 2.0;
    };
    assert!(t.ledger.last().unwrap().certified);
    only_the_residual_check_fails(&verify(&t));
}
