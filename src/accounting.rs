//! The accounts of a release: the budget the noise affords, the distance a release must
//! hide, whether it is certified, and the retraining schedule of each mechanism.
//!
//! These are the quantities the certificate states; proofs/output_perturbation_certificate.md,
//! proofs/one_vs_rest_composition.md and proofs/retraining_schedule.md justify them.

use crate::certificate::EntryKind;
use crate::mechanism::Mechanism;
use crate::model::Hyperparameters;
use crate::noise::NoiseFamily;
use crate::privacy;

/// The budget ε′ in the mechanism's unit, if a privacy target was set.
///
/// The recorded target is not trusted: the budget is the smaller of the target's ε′ and the
/// budget the noise scale actually affords for (ε, δ) (which calibration rounding can leave
/// a hair below ε′). A noise scale that affords nothing gives a budget of 0.
pub fn budget_of(hyper: &Hyperparameters) -> Option<f64> {
    let target = hyper.privacy?;
    let delta = (hyper.noise.family == NoiseFamily::Gaussian).then_some(target.delta);
    let calibration = target
        .calibration
        .unwrap_or(privacy::GaussianCalibration::Analytic);
    let afforded = privacy::target_for_scale(hyper.noise, target.epsilon, delta, calibration)
        .map_or(0.0, |t| t.budget);
    Some(target.budget.min(afforded))
}

/// A bound on the distance between the concatenated secret weights and the weights a
/// retraining from scratch on the remaining rows would produce, in the norm the release
/// noise's guarantee is stated in.
///
/// Per class model, Λ′-strong convexity puts the secret weights within ‖u_k‖/Λ′ of the exact
/// minimiser, and a retraining (Newton to ‖∇L_b‖ ≤ τ, the solver tolerance) within τ/Λ′ of
/// it (proofs/output_perturbation_certificate.md). The K class models are released with
/// independent noise: Gaussian noise on R^{Kd} is a Gaussian mechanism with L2 sensitivity
/// √Σ_k Δ_k²; the Gamma-norm density, drawn per class, has joint density ∝ exp(−αΣ_k‖ξ_k‖),
/// so the shift it hides is Σ_k Δ_k (proofs/one_vs_rest_composition.md). Rounded up.
pub fn distance_bound(residuals: &[f64], tolerance: f64, lambda: f64, family: NoiseFamily) -> f64 {
    let per_class = residuals.iter().map(|u| (u + tolerance) / lambda);
    let combined = match family {
        NoiseFamily::Gaussian => per_class.map(|d| d * d).sum::<f64>().sqrt(),
        NoiseFamily::GammaNorm => per_class.sum::<f64>(),
    };
    combined * (1.0 + 4.0 * f64::EPSILON * (residuals.len() as f64 + 4.0))
}

/// Whether a release is certified, and why not.
pub fn certification(
    hyper: &Hyperparameters,
    kind: EntryKind,
    budget: Option<f64>,
    used: f64,
) -> (bool, Option<String>) {
    if hyper.noise.scale == 0.0 {
        return (
            false,
            Some("the model has no noise (σ = 0): nothing hides the residual".into()),
        );
    }
    let Some(budget) = budget else {
        return (
            false,
            Some(
                "no privacy target: train with --epsilon and --delta (and --budget or --sigma)"
                    .into(),
            ),
        );
    };
    if !hyper
        .privacy
        .is_some_and(|target| privacy::scale_meets_target(hyper.noise, &target))
    {
        return (
            false,
            Some("the noise scale does not afford the recorded privacy target".into()),
        );
    }
    match hyper.mechanism {
        Mechanism::Guo2020 => (
            false,
            Some(format!(
                "guo2020 reproduces the paper's accounting (budget {}within it), but its guarantee rests on unproven assumptions (see unproven_assumptions)",
                if used <= budget { "" } else { "NOT " }
            )),
        ),
        Mechanism::OutputPerturbation if used > budget && kind == EntryKind::Training => (
            false,
            Some(format!(
                "the training residual's distance bound {used:.3e} exceeds the budget {budget:.3e}: lower --tol or raise --budget"
            )),
        ),
        Mechanism::OutputPerturbation if used > budget => (
            false,
            Some(format!(
                "even after retraining the distance bound {used:.3e} exceeds the budget {budget:.3e}: lower --tol or raise --budget"
            )),
        ),
        Mechanism::OutputPerturbation => (true, None),
    }
}

/// The retraining schedule of a mechanism and what its timing reveals.
pub fn schedule(mechanism: Mechanism) -> &'static str {
    match mechanism {
        Mechanism::OutputPerturbation => {
            "step with the cached Hessian factor; if the distance bound (‖u‖ + τ)/Λ′ (L2 over class models for Gaussian noise, summed for Gamma-norm) exceeds the budget, redo the step with fresh Hessians, and if it still does, re-solve on the remaining rows (same noise); the decision depends on the data (not on the release noise), so observable retraining times can reveal that a removal was expensive to certify (proofs/retraining_schedule.md)"
        }
        Mechanism::Guo2020 => {
            "retrain with fresh noise when the summed data-dependent bound would exceed σε/c; the decision depends on the noise b and the data (unproven, see proofs/guo2020_repairs.md)"
        }
    }
}
