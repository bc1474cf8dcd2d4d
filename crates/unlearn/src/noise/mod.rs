//! Secret noise for objective perturbation, and its calibration.
//!
//! The training objective of certified removal (Guo, Goldstein, Hannun and
//! van der Maaten, "Certified Data Removal from Machine Learning Models",
//! ICML 2020, arXiv:1911.03030) is
//!
//! L_b(w) = Σᵢ ℓ(wᵀxᵢ, yᵢ) + (Λ/2)‖w‖² + bᵀw,
//!
//! with a secret noise vector b. This module provides
//!
//! * the two noise families of Guo et al. ([`NoiseFamily`], [`NoiseSpec`]):
//!   Gaussian b ~ N(0, σ²I), and the "Gamma-norm" density p(b) ∝ exp(−α‖b‖₂);
//! * seeded, reproducible sampling from a cryptographically secure generator
//!   ([`noise_rng`], [`sample`], [`fresh_seed`]);
//! * calibration between the privacy parameters (ε, δ), the noise scale and the
//!   gradient-residual budget ε′ ([`gaussian_sigma_guo2020`],
//!   [`analytic_gaussian_sigma`], [`gamma_norm_rate`] and their inverses);
//! * the standard normal CDF [`std_normal_cdf`], accurate deep in the tail;
//! * the release on a public power-of-two grid ([`LatticeNoise`]) with exact
//!   discrete Gaussian noise ([`DiscreteGaussian`], integer arithmetic only)
//!   and its zCDP accounting ([`LatticeNoise::rho`], [`zcdp_epsilon`],
//!   [`zcdp_rho_for`], [`sigma_for`]); proof in `proofs/lattice_release.md`.
//!
//! The derivations, with every step, are in `proofs/noise_calibration.md`.
//!
//! # Scope
//!
//! The calibrations here are for a *fixed* shift of the noise: they say how
//! far apart two noise vectors b and b − u may be (‖u‖ ≤ ε′, or sensitivity Δ)
//! for their distributions to be (ε, δ)-close. Whether a removal mechanism is
//! such a shift (the shift may depend on b, and the change of variables may
//! carry a Jacobian) is argued where the certificate is built, not here.

mod bits;
mod calibration;
mod compare;
mod discrete;
mod key;
mod lattice;
mod lookahead;
mod renyi;
mod sampling;
mod special;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

pub use calibration::{
    CalibrationError, MIN_DELTA, analytic_gaussian_budget, analytic_gaussian_delta,
    analytic_gaussian_sigma, budget_guo2020, gamma_norm_budget, gamma_norm_rate,
    gaussian_sigma_guo2020,
};
pub use discrete::{DiscreteGaussian, MAX_SCALE, Sampler, ScaleOutOfRange};
pub use key::NoiseKey;
pub use lattice::{LatticeError, LatticeNoise};
pub use renyi::{sigma_for, zcdp_epsilon, zcdp_epsilon_at, zcdp_rho_for};
pub use sampling::{fresh_seed, noise_rng, sample};
pub use special::std_normal_cdf;

/// The distribution family of the objective-perturbation noise b.
///
/// * `Gaussian`: b ~ N(0, σ²I); certifies (ε, δ) (Guo et al. 2020, Theorem 3).
/// * `GammaNorm`: density p(b) ∝ exp(−α‖b‖₂); certifies (ε, 0) (Guo et al.
///   2020, Theorem 3). Its norm is Gamma(d, 1/α)-distributed and its direction
///   uniform on the sphere.
///
/// Parsed from and printed as `"gaussian"` and `"gamma-norm"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoiseFamily {
    /// b ~ N(0, σ²I).
    Gaussian,
    /// p(b) ∝ exp(−α‖b‖₂).
    GammaNorm,
}

impl NoiseFamily {
    /// The name used by [`fmt::Display`], [`FromStr`] and serde.
    pub fn as_str(self) -> &'static str {
        match self {
            NoiseFamily::Gaussian => "gaussian",
            NoiseFamily::GammaNorm => "gamma-norm",
        }
    }
}

impl fmt::Display for NoiseFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NoiseFamily {
    type Err = NoiseError;

    /// Accepts exactly `"gaussian"` and `"gamma-norm"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "gaussian" => Ok(NoiseFamily::Gaussian),
            "gamma-norm" => Ok(NoiseFamily::GammaNorm),
            other => Err(NoiseError::UnknownFamily(other.to_string())),
        }
    }
}

/// Errors of noise specification and sampling.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum NoiseError {
    /// The noise scale must be finite and non-negative.
    #[error("noise scale must be finite and >= 0, got {0}")]
    InvalidScale(f64),
    /// A family name other than `gaussian` or `gamma-norm`.
    #[error("unknown noise family {0:?} (expected \"gaussian\" or \"gamma-norm\")")]
    UnknownFamily(String),
    /// The operating system's entropy source failed.
    #[error("cannot read a seed from the operating system's entropy source: {0}")]
    Entropy(String),
}

/// A noise distribution: family and scale.
///
/// * `Gaussian`: `scale` is σ, b ~ N(0, σ²I).
/// * `GammaNorm`: `scale` is 1/α for the density p(b) ∝ exp(−α‖b‖₂), so that
///   ‖b‖ ~ Gamma(shape d, scale 1/α), E‖b‖ = d/α, Var‖b‖ = d/α², and b/‖b‖ is
///   uniform on the unit sphere.
///
/// `scale = 0` means no noise (b = 0), which certifies nothing. The fields are
/// public; [`NoiseSpec::new`] and [`NoiseSpec::validate`] check that the scale
/// is finite and ≥ 0, and [`sample`] refuses an invalid spec.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoiseSpec {
    /// The distribution family.
    pub family: NoiseFamily,
    /// σ for `Gaussian`, 1/α for `GammaNorm`.
    pub scale: f64,
}

impl NoiseSpec {
    /// A validated spec: `scale` must be finite and ≥ 0.
    pub fn new(family: NoiseFamily, scale: f64) -> Result<Self, NoiseError> {
        let spec = NoiseSpec { family, scale };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks that `scale` is finite and ≥ 0 (−0.0 is accepted as 0).
    pub fn validate(&self) -> Result<(), NoiseError> {
        if self.scale.is_finite() && self.scale >= 0.0 {
            Ok(())
        } else {
            Err(NoiseError::InvalidScale(self.scale))
        }
    }

    /// True when the spec draws b = 0 (scale 0).
    pub fn is_zero(&self) -> bool {
        self.scale == 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_family_round_trips_through_strings_and_serde() {
        for fam in [NoiseFamily::Gaussian, NoiseFamily::GammaNorm] {
            assert_eq!(fam.to_string().parse::<NoiseFamily>(), Ok(fam));
            let json = serde_json::to_string(&fam).unwrap();
            assert_eq!(json, format!("\"{fam}\""));
            assert_eq!(serde_json::from_str::<NoiseFamily>(&json).unwrap(), fam);
        }
        assert!(matches!(
            "Gaussian".parse::<NoiseFamily>(),
            Err(NoiseError::UnknownFamily(_))
        ));
    }

    #[test]
    fn noise_spec_validation() {
        assert!(
            NoiseSpec::new(NoiseFamily::Gaussian, 0.0)
                .unwrap()
                .is_zero()
        );
        assert!(NoiseSpec::new(NoiseFamily::GammaNorm, 2.5).is_ok());
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(NoiseSpec::new(NoiseFamily::Gaussian, bad).is_err());
        }
        let spec = NoiseSpec::new(NoiseFamily::GammaNorm, 0.5).unwrap();
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(json, r#"{"family":"gamma-norm","scale":0.5}"#);
        assert_eq!(serde_json::from_str::<NoiseSpec>(&json).unwrap(), spec);
    }
}
