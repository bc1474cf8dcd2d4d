//! The privacy target of a training run and the noise it calls for.
//!
//! A user either fixes the noise scale directly (`--sigma`) or states a target: a removal
//! certificate of (ε, δ) for a gradient-residual budget ε′ (`--epsilon --delta --budget`).
//! The noise is then calibrated (see `proofs/noise_calibration.md`):
//! - Gaussian, analytic (default): the smallest σ for which the Gaussian mechanism with
//!   L2 sensitivity ε′ is (ε, δ)-DP (Balle & Wang 2018, Theorem 8), valid for every ε > 0;
//! - Gaussian, `guo2020`: σ = c·ε′/ε with c = √(2 ln(1.5/δ)) (Guo et al. 2020,
//!   Theorem 3), valid only for ε ≤ 1 and looser;
//! - Gamma-norm density p(b) ∝ exp(−α‖b‖): α = ε/ε′, an (ε, 0) guarantee.

use crate::noise::{self, NoiseFamily, NoiseSpec};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How a Gaussian σ is derived from (ε, δ, ε′).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GaussianCalibration {
    /// Balle & Wang (2018), solved numerically.
    Analytic,
    /// Guo et al. (2020) Theorem 3's closed form, valid for ε ≤ 1.
    Guo2020,
}

impl FromStr for GaussianCalibration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "analytic" => Ok(Self::Analytic),
            "guo2020" => Ok(Self::Guo2020),
            other => Err(format!(
                "unknown calibration '{other}': expected 'analytic' or 'guo2020'"
            )),
        }
    }
}

impl fmt::Display for GaussianCalibration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Analytic => "analytic",
            Self::Guo2020 => "guo2020",
        })
    }
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
    let calibration = target.calibration.unwrap_or(GaussianCalibration::Analytic);
    target_for_scale(spec, target.epsilon, delta, calibration)
        .is_ok_and(|afforded| afforded.budget >= target.budget * (1.0 - 1e-12))
}
