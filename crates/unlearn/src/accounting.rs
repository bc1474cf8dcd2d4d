//! The accounts of a release: the budget the noise affords, the distance a release must
//! hide, whether it is certified, and the retraining schedule of each mechanism.
//!
//! These are the quantities the certificate states; proofs/output_perturbation_certificate.md,
//! proofs/one_vs_rest_composition.md and proofs/retraining_schedule.md justify them.

use crate::mechanism::Mechanism;
use crate::model::Hyperparameters;
use crate::noise::NoiseFamily;
use crate::privacy::{self, GaussianCalibration};
use crate::transcript::{self, Transcript};

/// The budget ε′ in the mechanism's unit, if a privacy target was set.
///
/// Output perturbation with Gaussian noise: the cap on the transcript's joint sensitivity
/// S = √(Σ_j c_j²) ([`transcript::sensitivity_cap`]: the target's ε′, or less if the lattice
/// noise affords less). Otherwise the per-release budget: the smaller of the target's ε′ and
/// what the noise scale affords for (ε, δ). The recorded target is never trusted: a noise
/// scale that affords nothing gives a budget of 0.
pub fn budget_of(hyper: &Hyperparameters) -> Option<f64> {
    let target = hyper.privacy?;
    if hyper.mechanism == Mechanism::OutputPerturbation
        && hyper.noise.family == NoiseFamily::Gaussian
    {
        return Some(transcript::sensitivity_cap(hyper).unwrap_or(0.0));
    }
    let delta = (hyper.noise.family == NoiseFamily::Gaussian).then_some(target.delta);
    let calibration = target
        .calibration
        .unwrap_or(GaussianCalibration::default_for(hyper.mechanism));
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

/// What certification needs to know besides the hyperparameters.
#[derive(Debug, Clone, Copy)]
pub struct Standing<'a> {
    /// The releases so far and their joint charge, this entry's release included.
    pub transcript: &'a Transcript,
    /// Whether the noise key was derived from a seed (its noise is then public).
    pub reproducible_key: bool,
    /// Why the published shape is not what a retrain on the remaining rows would give, if it
    /// is not (proofs/published_shape.md).
    pub shape: Option<&'a str>,
    /// guo2020 only: the summed residual bound charged so far.
    pub guo_used: f64,
}

/// Whether the published model carries the stated (ε, δ) guarantee, and why not.
///
/// Under output perturbation with Gaussian noise the guarantee is about the whole transcript
/// of releases (proofs/transcript_accounting.md): certified while its joint sensitivity is
/// within [`budget_of`], the noise key is secret and unpredictable (proofs/noise_keys.md) and
/// the published shape is what the remaining rows would give.
pub fn certification(hyper: &Hyperparameters, standing: &Standing<'_>) -> (bool, Option<String>) {
    let refuse = |reason: String| (false, Some(reason));
    if hyper.noise.scale == 0.0 {
        return refuse("the model has no noise (σ = 0): nothing hides the residual".into());
    }
    let Some(budget) = budget_of(hyper) else {
        return refuse(
            "no privacy target: train with --epsilon and --delta (and --budget or --sigma)".into(),
        );
    };
    if !hyper
        .privacy
        .is_some_and(|target| privacy::scale_meets_target(hyper.noise, &target))
    {
        return refuse("the noise scale does not afford the recorded privacy target".into());
    }
    if hyper.mechanism == Mechanism::Guo2020 {
        return refuse(format!(
            "guo2020 reproduces the paper's accounting (budget {}within it), but its guarantee rests on unproven assumptions (see unproven_assumptions)",
            if standing.guo_used <= budget {
                ""
            } else {
                "NOT "
            }
        ));
    }
    if hyper.noise.family == NoiseFamily::GammaNorm {
        return refuse(
            "gamma-norm release noise is continuous floating point, whose support leaks the secret weights' low bits (Mironov 2012): only Gaussian noise is released on a lattice and certified".into(),
        );
    }
    if transcript::lattice_of(hyper).is_none() {
        return refuse(format!(
            "sigma {} has no release grid (a power-of-two grid needs sigma in [2^-998, 2^995)): the release is floating point, whose support leaks the secret weights' low bits (Mironov 2012); retrain with a sigma in that range",
            hyper.noise.scale
        ));
    }
    if standing.reproducible_key {
        return refuse(
            "the noise key was derived from --seed: reproducible noise is public noise; train without --seed to certify".into(),
        );
    }
    if let Some(shape) = standing.shape {
        return refuse(shape.to_string());
    }
    let sensitivity = standing.transcript.sensitivity();
    // A NaN sensitivity refuses too.
    if sensitivity.is_nan() || sensitivity > budget {
        return refuse(format!(
            "the transcript of {} releases has joint sensitivity {sensitivity:.3e}, past the lifetime budget {budget:.3e}",
            standing.transcript.releases
        ));
    }
    (true, None)
}

/// The retraining schedule of a mechanism and what its timing reveals.
pub fn schedule(mechanism: Mechanism) -> &'static str {
    match mechanism {
        Mechanism::OutputPerturbation => {
            "step with the cached Hessian factor; a release is charged its distance bound (‖u‖ + τ)/Λ′ (L2 over class models) plus the grid rounding; if that would take the transcript's joint sensitivity past the lifetime budget, measure the residual, then redo the step with fresh Hessians, and if it still would, re-solve from zero on the remaining rows in their original order, which is the reference retrain bit for bit and is charged 0; the decision depends on the data (not on the release noise), so observable request times can reveal that a removal was expensive to certify (proofs/retraining_schedule.md)"
        }
        Mechanism::Guo2020 => {
            "retrain with fresh noise when the summed data-dependent bound would exceed σε/c; the decision depends on the noise b and the data (unproven, see proofs/guo2020_repairs.md)"
        }
    }
}
