//! The privacy target of a training run and the noise it calls for.
//!
//! A user either fixes the noise scale directly (σ) or states a target: a removal
//! certificate of (ε, δ) for a gradient-residual budget ε′. [`noise_for`] is the one rule
//! that turns what a front end was given (the CLI's `--sigma --epsilon --delta --budget`,
//! the Python estimators' `sigma`, `epsilon`, `delta`, `budget`) into noise and a target;
//! its errors name parameters through [`NoiseParam`], which each front end spells its own
//! way. The noise is then calibrated (see `proofs/noise_calibration.md`):
//! - Gaussian, lattice (the default of output perturbation): the release is the exact
//!   discrete Gaussian on a public grid (proofs/lattice_release.md), and ε′ is the lifetime
//!   L2 sensitivity of the whole transcript of releases (proofs/transcript_accounting.md):
//!   the smallest σ for which ρ = ε′²/(2σ²)-zCDP implies (ε, δ)-DP, with the lattice's own
//!   σ = s·g (never below it);
//! - Gaussian, analytic: the smallest σ for which the continuous Gaussian mechanism with
//!   L2 sensitivity ε′ is (ε, δ)-DP (Balle & Wang 2018, Theorem 8), valid for every ε > 0;
//! - Gaussian, `guo2020`: σ = c·ε′/ε with c = √(2 ln(1.5/δ)) (Guo et al. 2020,
//!   Theorem 3), valid only for ε ≤ 1 and looser;
//! - Gamma-norm density p(b) ∝ exp(−α‖b‖): α = ε/ε′, an (ε, 0) guarantee.

use crate::mechanism::Mechanism;
use crate::noise::{self, LatticeNoise, NoiseFamily, NoiseSpec};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a Gaussian σ is derived from (ε, δ, ε′).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GaussianCalibration {
    /// The discrete Gaussian on a public grid with zCDP accounting (output perturbation).
    Lattice,
    /// Balle & Wang (2018), solved numerically (continuous Gaussian).
    Analytic,
    /// Guo et al. (2020) Theorem 3's closed form, valid for ε ≤ 1.
    Guo2020,
}

impl FromStr for GaussianCalibration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lattice" => Ok(Self::Lattice),
            "analytic" => Ok(Self::Analytic),
            "guo2020" => Ok(Self::Guo2020),
            other => Err(format!(
                "unknown calibration '{other}': expected 'lattice', 'analytic' or 'guo2020'"
            )),
        }
    }
}

impl fmt::Display for GaussianCalibration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Lattice => "lattice",
            Self::Analytic => "analytic",
            Self::Guo2020 => "guo2020",
        })
    }
}

impl GaussianCalibration {
    /// The calibration of a mechanism's Gaussian noise: the lattice (the only one whose
    /// releases are certified) for output perturbation, the paper's closed form for guo2020.
    pub fn default_for(mechanism: Mechanism) -> Self {
        match mechanism {
            Mechanism::OutputPerturbation => Self::Lattice,
            Mechanism::Guo2020 => Self::Guo2020,
        }
    }
}

/// The largest transcript sensitivity S whose zCDP guarantee ρ = S²/(2σ²) on `lattice`
/// (σ = s·g) implies (ε, δ)-DP, rounded down (proofs/transcript_accounting.md).
pub fn lattice_sensitivity(
    lattice: &LatticeNoise,
    epsilon: f64,
    delta: f64,
) -> Result<f64, PrivacyError> {
    let rho = noise::zcdp_rho_for(epsilon, delta).map_err(calibration_error)?;
    Ok(((2.0 * rho).sqrt() * lattice.sigma()).next_down() * (1.0 - 4.0 * f64::EPSILON))
}

/// The lattice noise that affords sensitivity `budget` at (ε, δ): σ from the zCDP conversion,
/// enlarged by 2⁻²³ so that the grid's rounding of s = σ/g to an integer in [2²⁴, 2²⁵]
/// (a relative change of at most 2⁻²⁵) cannot take it below.
fn lattice_for(epsilon: f64, delta: f64, budget: f64) -> Result<LatticeNoise, PrivacyError> {
    let sigma = noise::sigma_for(epsilon, delta, budget).map_err(calibration_error)?
        * (1.0 + f64::powi(2.0, -23));
    LatticeNoise::for_sigma(sigma).map_err(|e| PrivacyError(e.to_string()))
}

/// A requested removal guarantee: (ε, δ) for a total gradient-residual budget ε′.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrivacyTarget {
    /// ε of the removal certificate.
    pub epsilon: f64,
    /// δ of the removal certificate (0 for the Gamma-norm density).
    pub delta: f64,
    /// ε′: the total gradient-residual norm the noise can hide.
    pub budget: f64,
    /// How σ was derived (Gaussian noise only).
    pub calibration: Option<GaussianCalibration>,
}

/// Why a target cannot be met.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct PrivacyError(pub String);

/// The δ a family's guarantee has: the user's δ for Gaussian noise (required), 0 for the
/// Gamma-norm density (which must not be given one).
fn guarantee_delta(family: NoiseFamily, delta: Option<f64>) -> Result<f64, PrivacyError> {
    delta_error(family, delta).map_or(Ok(delta.unwrap_or(0.0)), |e| {
        Err(PrivacyError(e.to_string()))
    })
}

/// What is wrong with δ for a target with this noise family, if anything.
fn delta_error(family: NoiseFamily, delta: Option<f64>) -> Option<NoiseRequestError> {
    match (family, delta) {
        (NoiseFamily::Gaussian, None) => Some(NoiseRequestError::NoDelta),
        (NoiseFamily::GammaNorm, Some(d)) if d != 0.0 => Some(NoiseRequestError::DeltaForGammaNorm),
        _ => None,
    }
}

/// A parameter of a noise request, as an error names it: each front end spells it its own
/// way (the CLI as a flag, `--sigma`; the Python estimators as an argument, `sigma`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseParam {
    /// The noise scale σ.
    Sigma,
    /// ε of the target.
    Epsilon,
    /// δ of the target.
    Delta,
    /// The budget ε′.
    Budget,
    /// The Gaussian calibration.
    Calibration,
}

impl NoiseParam {
    /// The neutral name: `sigma`, `epsilon`, `delta`, `budget`, `calibration`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sigma => "sigma",
            Self::Epsilon => "epsilon",
            Self::Delta => "delta",
            Self::Budget => "budget",
            Self::Calibration => "calibration",
        }
    }
}

/// What a user asked of the release noise, before any rule is applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseRequest {
    /// The noise family.
    pub family: NoiseFamily,
    /// A fixed scale (0: no noise).
    pub sigma: Option<f64>,
    /// ε of the target.
    pub epsilon: Option<f64>,
    /// δ of the target (Gaussian noise).
    pub delta: Option<f64>,
    /// ε′, the lifetime budget σ is calibrated for (when σ is not fixed).
    pub budget: Option<f64>,
    /// The Gaussian calibration; `None` is the mechanism's default.
    pub calibration: Option<GaussianCalibration>,
    /// The mechanism the noise serves.
    pub mechanism: Mechanism,
}

/// Why a [`NoiseRequest`] cannot be met. [`NoiseRequestError::message`] phrases it with a
/// front end's parameter names; `Display` uses the neutral ones ([`NoiseParam::name`]).
#[derive(Debug, Clone, PartialEq)]
pub enum NoiseRequestError {
    /// σ is negative, infinite or NaN.
    Sigma(f64),
    /// Neither σ nor a target to calibrate it for.
    NoNoise,
    /// ε without σ and without ε′.
    NoBudget,
    /// ε with σ = 0: no noise affords a target.
    ZeroSigmaTarget,
    /// A Gaussian target without δ.
    NoDelta,
    /// δ for the Gamma-norm density, whose guarantee is (ε, 0).
    DeltaForGammaNorm,
    /// A calibration other than the lattice for output perturbation's Gaussian noise.
    Calibration(GaussianCalibration),
    /// The numbers cannot be met (the calibration says why).
    Unmet(PrivacyError),
}

impl NoiseRequestError {
    /// The message, with each parameter spelled by `name`.
    pub fn message(&self, name: impl Fn(NoiseParam) -> String) -> String {
        use NoiseParam::*;
        let (sigma, epsilon, delta, budget) =
            (name(Sigma), name(Epsilon), name(Delta), name(Budget));
        match self {
            Self::Sigma(s) => {
                format!("{sigma} must be a finite number ≥ 0 (got {s}); 0 trains without noise")
            }
            Self::NoNoise => format!(
                "give the noise: {sigma} (0 for none; add {epsilon} and {delta} for a \
                 certificate), or {epsilon}, {delta} and {budget} to calibrate it"
            ),
            Self::NoBudget => format!(
                "{epsilon} needs {budget} (the lifetime distance ε′ the noise hides, e.g. \
                 0.01) to calibrate the noise, or a fixed {sigma}"
            ),
            Self::ZeroSigmaTarget => {
                format!("σ = 0 cannot meet a privacy target: give {sigma} > 0 or drop {epsilon}")
            }
            Self::NoDelta => {
                format!("Gaussian noise needs {delta} (a value in (0, 1), e.g. 1e-5)")
            }
            Self::DeltaForGammaNorm => {
                format!("the gamma-norm density gives an (ε, 0) guarantee: omit {delta}")
            }
            Self::Calibration(c) => {
                let calibration = name(Calibration);
                format!(
                    "{calibration} {c} does not fit output perturbation, whose releases are \
                     discrete Gaussian on a lattice: drop {calibration} (or give \
                     {calibration} lattice)"
                )
            }
            Self::Unmet(e) => e.to_string(),
        }
    }
}

impl fmt::Display for NoiseRequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(|p| p.name().to_string()))
    }
}

impl std::error::Error for NoiseRequestError {}

/// The noise and the privacy target a request calls for:
/// - σ fixed without ε: that noise, no target (σ = 0: no noise, never certified);
/// - σ fixed with ε: the target is the budget σ affords at (ε, δ) ([`target_for_scale`];
///   ε′ is not used);
/// - no σ: σ is calibrated for (ε, δ, ε′) ([`calibrate`]).
///
/// Output perturbation's Gaussian releases are certified on the lattice only, so another
/// calibration is refused for it.
pub fn noise_for(
    request: &NoiseRequest,
) -> Result<(NoiseSpec, Option<PrivacyTarget>), NoiseRequestError> {
    let family = request.family;
    let calibration = request
        .calibration
        .unwrap_or(GaussianCalibration::default_for(request.mechanism));
    if request.mechanism == Mechanism::OutputPerturbation
        && family == NoiseFamily::Gaussian
        && calibration != GaussianCalibration::Lattice
    {
        return Err(NoiseRequestError::Calibration(calibration));
    }
    if let Some(sigma) = request.sigma
        && !(sigma.is_finite() && sigma >= 0.0)
    {
        return Err(NoiseRequestError::Sigma(sigma));
    }
    let Some(epsilon) = request.epsilon else {
        return match request.sigma {
            Some(scale) => Ok((NoiseSpec { family, scale }, None)),
            None => Err(NoiseRequestError::NoNoise),
        };
    };
    if request.sigma == Some(0.0) {
        return Err(NoiseRequestError::ZeroSigmaTarget);
    }
    if let Some(e) = delta_error(family, request.delta) {
        return Err(e);
    }
    match (request.sigma, request.budget) {
        (Some(scale), _) => {
            let spec = NoiseSpec { family, scale };
            let target = target_for_scale(spec, epsilon, request.delta, calibration)
                .map_err(NoiseRequestError::Unmet)?;
            Ok((spec, Some(target)))
        }
        (None, Some(budget)) => calibrate(family, epsilon, request.delta, budget, calibration)
            .map(|(spec, target)| (spec, Some(target)))
            .map_err(NoiseRequestError::Unmet),
        (None, None) => Err(NoiseRequestError::NoBudget),
    }
}

fn calibration_error(e: noise::CalibrationError) -> PrivacyError {
    PrivacyError(e.to_string())
}

/// The noise that meets a target (ε, δ, ε′) with the given family.
pub fn calibrate(
    family: NoiseFamily,
    epsilon: f64,
    delta: Option<f64>,
    budget: f64,
    calibration: GaussianCalibration,
) -> Result<(NoiseSpec, PrivacyTarget), PrivacyError> {
    let delta = guarantee_delta(family, delta)?;
    let (scale, calibration) = match family {
        NoiseFamily::Gaussian => {
            let sigma = match calibration {
                GaussianCalibration::Lattice => Ok(lattice_for(epsilon, delta, budget)?.sigma()),
                GaussianCalibration::Analytic => {
                    noise::analytic_gaussian_sigma(epsilon, delta, budget)
                }
                GaussianCalibration::Guo2020 => {
                    noise::gaussian_sigma_guo2020(epsilon, delta, budget)
                }
            };
            (sigma.map_err(calibration_error)?, Some(calibration))
        }
        NoiseFamily::GammaNorm => {
            let rate = noise::gamma_norm_rate(epsilon, budget).map_err(calibration_error)?;
            (1.0 / rate, None)
        }
    };
    Ok((
        NoiseSpec { family, scale },
        PrivacyTarget {
            epsilon,
            delta,
            budget,
            calibration,
        },
    ))
}

/// The budget a given noise scale affords for (ε, δ): the inverse of [`calibrate`].
pub fn target_for_scale(
    spec: NoiseSpec,
    epsilon: f64,
    delta: Option<f64>,
    calibration: GaussianCalibration,
) -> Result<PrivacyTarget, PrivacyError> {
    if spec.scale == 0.0 {
        return Err(PrivacyError(NoiseRequestError::ZeroSigmaTarget.to_string()));
    }
    let delta = guarantee_delta(spec.family, delta)?;
    let (budget, calibration) = match spec.family {
        NoiseFamily::Gaussian => {
            let budget = match calibration {
                GaussianCalibration::Lattice => {
                    let lattice = LatticeNoise::for_sigma(spec.scale)
                        .map_err(|e| PrivacyError(e.to_string()))?;
                    Ok(lattice_sensitivity(&lattice, epsilon, delta)?)
                }
                GaussianCalibration::Analytic => {
                    noise::analytic_gaussian_budget(epsilon, delta, spec.scale)
                }
                GaussianCalibration::Guo2020 => noise::budget_guo2020(epsilon, delta, spec.scale),
            };
            (budget.map_err(calibration_error)?, Some(calibration))
        }
        NoiseFamily::GammaNorm => (
            noise::gamma_norm_budget(epsilon, 1.0 / spec.scale).map_err(calibration_error)?,
            None,
        ),
    };
    Ok(PrivacyTarget {
        epsilon,
        delta,
        budget,
        calibration,
    })
}

/// Whether noise of this scale actually affords the target's budget: the target recorded
/// with a model is checked against its noise, never trusted (a model file whose target was
/// edited, or whose σ was lowered, must not certify).
pub fn scale_meets_target(spec: NoiseSpec, target: &PrivacyTarget) -> bool {
    let delta = (spec.family == NoiseFamily::Gaussian).then_some(target.delta);
    let calibration = target.calibration.unwrap_or(GaussianCalibration::Lattice);
    target_for_scale(spec, target.epsilon, delta, calibration)
        .is_ok_and(|afforded| afforded.budget >= target.budget * (1.0 - 1e-12))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each branch of [`noise_for`]'s rule, and a front end's spelling of the parameters.
    #[test]
    fn noise_requests_follow_one_rule() {
        let request = |sigma, epsilon, budget| NoiseRequest {
            family: NoiseFamily::Gaussian,
            sigma,
            epsilon,
            delta: Some(1e-5),
            budget,
            calibration: None,
            mechanism: Mechanism::OutputPerturbation,
        };
        // A fixed σ without ε: that noise, no target; σ = 0 is no noise.
        assert_eq!(noise_for(&request(Some(0.5), None, None)).unwrap().1, None);
        assert_eq!(
            noise_for(&request(Some(0.0), None, None)).unwrap().0.scale,
            0.0
        );
        // σ with ε: the budget σ affords; no σ: calibrated for the budget, and the two agree.
        let (spec, calibrated) = noise_for(&request(None, Some(1.0), Some(0.01))).unwrap();
        let (_, afforded) = noise_for(&request(Some(spec.scale), Some(1.0), None)).unwrap();
        assert!(afforded.unwrap().budget >= calibrated.unwrap().budget);
        for (r, expected) in [
            (request(None, None, Some(0.01)), NoiseRequestError::NoNoise),
            (request(None, Some(1.0), None), NoiseRequestError::NoBudget),
            (
                request(Some(0.0), Some(1.0), None),
                NoiseRequestError::ZeroSigmaTarget,
            ),
            (
                request(Some(-1.0), None, None),
                NoiseRequestError::Sigma(-1.0),
            ),
            (
                NoiseRequest {
                    delta: None,
                    ..request(None, Some(1.0), Some(0.01))
                },
                NoiseRequestError::NoDelta,
            ),
            (
                NoiseRequest {
                    calibration: Some(GaussianCalibration::Analytic),
                    ..request(Some(1.0), None, None)
                },
                NoiseRequestError::Calibration(GaussianCalibration::Analytic),
            ),
        ] {
            assert_eq!(noise_for(&r).unwrap_err(), expected, "{r:?}");
        }
        assert!(matches!(
            noise_for(&request(None, Some(-1.0), Some(0.01))),
            Err(NoiseRequestError::Unmet(_))
        ));
        let flag = |p: NoiseParam| format!("--{}", p.name());
        let message = NoiseRequestError::ZeroSigmaTarget.message(flag);
        assert!(
            message.contains("give --sigma > 0 or drop --epsilon"),
            "{message}"
        );
        let message = NoiseRequestError::NoDelta.to_string();
        assert!(
            message.contains("needs delta (") && !message.contains("--"),
            "{message}"
        );
    }

    /// The lattice calibration and its inverse agree: the σ `calibrate` chooses affords the
    /// budget it was asked for, so a freshly trained store's target is met (a mismatch here
    /// made every lattice store "not afford" its own target).
    #[test]
    fn lattice_calibration_affords_its_own_budget() {
        for (epsilon, delta, budget) in [(1.0, 1e-5, 0.01), (0.5, 1e-6, 1e-3), (4.0, 1e-5, 0.2)] {
            let (spec, target) = calibrate(
                NoiseFamily::Gaussian,
                epsilon,
                Some(delta),
                budget,
                GaussianCalibration::Lattice,
            )
            .unwrap();
            let afforded =
                target_for_scale(spec, epsilon, Some(delta), GaussianCalibration::Lattice).unwrap();
            assert!(
                afforded.budget >= budget,
                "σ = {} affords {} < {budget}",
                spec.scale,
                afforded.budget
            );
            assert!(scale_meets_target(spec, &target));
        }
    }
}
