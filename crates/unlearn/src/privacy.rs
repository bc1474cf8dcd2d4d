//! The privacy target of a training run and the noise it calls for.
//!
//! A user either fixes the noise scale directly (`--sigma`) or states a target: a removal
//! certificate of (ε, δ) for a gradient-residual budget ε′ (`--epsilon --delta --budget`).
//! The noise is then calibrated (see `proofs/noise_calibration.md`):
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
    match (family, delta) {
        (NoiseFamily::Gaussian, Some(delta)) => Ok(delta),
        (NoiseFamily::Gaussian, None) => Err(PrivacyError(
            "Gaussian noise needs --delta (a value in (0, 1), e.g. 1e-5)".into(),
        )),
        (NoiseFamily::GammaNorm, None | Some(0.0)) => Ok(0.0),
        (NoiseFamily::GammaNorm, Some(_)) => Err(PrivacyError(
            "the gamma-norm density gives an (ε, 0) guarantee: omit --delta".into(),
        )),
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
        return Err(PrivacyError(
            "σ = 0 cannot meet a privacy target: give --sigma > 0 or drop --epsilon".into(),
        ));
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
