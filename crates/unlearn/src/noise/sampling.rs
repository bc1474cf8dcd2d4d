//! Seeded sampling of the noise vector b.
//!
//! # Why a cryptographically secure generator
//!
//! The certificate treats b as *unknown* to whoever inspects the model: the
//! argument is that the released weights would be nearly as likely under a
//! retrain from scratch, because b is random. If b can be predicted (a weak
//! generator whose state leaks through earlier outputs, or a guessable seed),
//! an observer can subtract bᵀw from the objective and the certificate is void.
//! ChaCha20 ([`ChaCha20Rng`]) is a stream cipher: its output does not reveal
//! its key or its other outputs.
//!
//! # The seed is secret state
//!
//! Whoever knows the seed knows b: store it like a key, never in the released
//! model or its certificate. [`noise_rng`] expands the 64-bit seed into the
//! 256-bit ChaCha20 key with rand_core's `seed_from_u64` (a PCG32 expansion),
//! so the secret has at most 64 bits of entropy; an adversary able to try
//! 2⁶⁴ seeds against the released model could in principle recover b. Draw the
//! seed from the operating system ([`fresh_seed`]) unless a reproducible run is
//! wanted.
//!
//! # Reproducibility
//!
//! The same seed, dimension and spec give the same vector bit for bit on the
//! same platform with the same versions of rand_chacha and rand_distr. Across
//! platforms this is not guaranteed: rand_distr's `exp`/`ln` come from
//! `num-traits`, which uses the platform's libm when its `std` feature is on (it
//! is, through nalgebra), and rand_distr may change its value streams between
//! minor versions. A certificate that must be re-checked later should therefore
//! store b itself (secretly), not only the seed.

use super::{NoiseError, NoiseFamily, NoiseSpec};
use nalgebra::DVector;
use rand::{RngExt, SeedableRng, TryRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::{Gamma, StandardNormal};

/// A ChaCha20 generator seeded from `seed` (rand_core's `seed_from_u64`).
///
/// Deterministic: the same seed gives the same stream. The seed is secret
/// state (see the module docs): whoever knows it knows the noise b.
pub fn noise_rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// A fresh 64-bit seed from the operating system's entropy source
/// (`rand::rngs::SysRng`, i.e. `getrandom`), for runs where the user gives no
/// seed.
///
/// # Errors
///
/// [`NoiseError::Entropy`] if the operating system cannot provide randomness
/// (rare outside early boot or sandboxes without `getrandom`).
pub fn fresh_seed() -> Result<u64, NoiseError> {
    rand::rngs::SysRng
        .try_next_u64()
        .map_err(|e| NoiseError::Entropy(e.to_string()))
}

/// Draws the noise vector b ∈ ℝ^dim for `spec` from `rng`.
///
/// * `Gaussian`, scale σ: bᵢ = σ·zᵢ with zᵢ i.i.d. standard normal
///   (rand_distr's `StandardNormal`, a ziggurat sampler), drawn in order
///   i = 0, …, dim − 1.
/// * `GammaNorm`, scale θ = 1/α: the density p(b) ∝ exp(−α‖b‖₂) factorises
///   in polar coordinates into a radius r ~ Gamma(shape d, scale θ) and a
///   direction uniform on the unit sphere (proof: `proofs/noise_calibration.md`,
///   part c). The direction is a standard Gaussian vector g normalised to
///   g/‖g‖, re-drawn in the (probability-zero) case ‖g‖ = 0; then r is drawn
///   with rand_distr's `Gamma` (Marsaglia–Tsang), and b = r·g/‖g‖.
/// * scale 0: b = 0, and nothing is drawn from `rng`.
/// * dim 0: the empty vector, nothing drawn.
///
/// # Errors
///
/// [`NoiseError::InvalidScale`] if `spec.scale` is negative or not finite.
pub fn sample(
    spec: &NoiseSpec,
    dim: usize,
    rng: &mut ChaCha20Rng,
) -> Result<DVector<f64>, NoiseError> {
    spec.validate()?;
    if spec.is_zero() || dim == 0 {
        return Ok(DVector::zeros(dim));
    }
    match spec.family {
        NoiseFamily::Gaussian => Ok(standard_normal_vector(dim, rng) * spec.scale),
        NoiseFamily::GammaNorm => {
            // Shape d ≥ 1 and a finite scale > 0 are valid Gamma parameters;
            // the error arm is unreachable but mapped rather than unwrapped.
            let radius = Gamma::new(dim as f64, spec.scale)
                .map_err(|_| NoiseError::InvalidScale(spec.scale))?;
            let direction = uniform_direction(dim, rng);
            let r: f64 = rng.sample(radius);
            Ok(direction * r)
        }
    }
}

/// dim i.i.d. standard normal draws, in index order.
fn standard_normal_vector(dim: usize, rng: &mut ChaCha20Rng) -> DVector<f64> {
    let values: Vec<f64> = (0..dim).map(|_| rng.sample(StandardNormal)).collect();
    DVector::from_vec(values)
}

/// A direction uniform on the unit sphere S^{dim−1}: a standard Gaussian
/// vector (rotation invariant) divided by its norm, re-drawn if the norm is 0.
fn uniform_direction(dim: usize, rng: &mut ChaCha20Rng) -> DVector<f64> {
    loop {
        let g = standard_normal_vector(dim, rng);
        let norm = g.norm();
        if norm > 0.0 && norm.is_finite() {
            return g / norm;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_unit_directions_have_unit_norm() {
        let mut rng = noise_rng(7);
        for dim in [1, 2, 5, 100] {
            let u = uniform_direction(dim, &mut rng);
            assert!((u.norm() - 1.0).abs() < 1e-14);
        }
    }

    #[test]
    fn noise_invalid_scale_is_an_error_not_a_panic() {
        let mut rng = noise_rng(1);
        let spec = NoiseSpec {
            family: NoiseFamily::GammaNorm,
            scale: -1.0,
        };
        assert_eq!(
            sample(&spec, 3, &mut rng),
            Err(NoiseError::InvalidScale(-1.0))
        );
    }

    #[test]
    fn noise_fresh_seeds_differ() {
        let a = fresh_seed().unwrap();
        let b = fresh_seed().unwrap();
        assert_ne!(a, b, "two OS seeds collided (probability 2^-64)");
    }
}
