//! The release on a public grid: g·(round(w/g) + Z) with Z exact discrete
//! Gaussian noise.
//!
//! # Why a grid
//!
//! A release fl(w + fl(σ·z)) with a floating-point z has a set of possible
//! outputs that depends on the low bits of the secret w (Mironov, "On
//! significance of the least significant bits for differential privacy", CCS
//! 2012): an adversary who recomputes the retrain's weights can test each
//! published coordinate for membership in that set. Here every output is an
//! exact integer multiple of g = 2ᵏ, and the integer n + Z is exact, so the
//! support of the release is gℤ^m whatever w is, and the release depends on w
//! only through the integers n = round(w/g).
//!
//! # The public rule
//!
//! [`LatticeNoise::for_sigma`] takes k = ⌊log₂ σ⌋ − 24 and s = round(σ/g), so
//! s ∈ [2²⁴, 2²⁵]: the grid is a function of σ alone (a public parameter),
//! the rounding of the weights costs at most g√m in the shift (about
//! 2⁻²⁴·√m·σ, a relative 6e-8·√m of the noise), and s² ≤ 2⁵⁰ keeps the
//! sampler's arithmetic in `u128`. The effective standard deviation is s·g,
//! within half a grid step of σ.
//!
//! Proof: `proofs/lattice_release.md`.

use super::discrete::{DiscreteGaussian, Sampler, ScaleOutOfRange};
use rand::CryptoRng;
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use thiserror::Error;

/// Bits of s below the leading one in [`LatticeNoise::for_sigma`]: s ∈ [2²⁴, 2²⁵].
const SCALE_BITS: i32 = 24;
/// The smallest grid exponent: g = 2⁻¹⁰²² is the smallest normal double, so
/// w/g and n·g stay exact.
const MIN_GRID_EXPONENT: i32 = -1022;
/// The largest grid exponent: |n + Z| < 2⁵³ then gives |output| < 2¹⁰²³.
const MAX_GRID_EXPONENT: i32 = 970;
/// 2⁵³: integers of smaller magnitude are exact in `f64`.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Errors of the lattice release.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum LatticeError {
    /// σ must be a finite positive normal number within the grid's range.
    #[error(
        "sigma must be finite and in [2^-998, 2^995) for a release on a power-of-two grid, got {0}"
    )]
    InvalidSigma(f64),
    /// The grid exponent k of g = 2ᵏ is outside [−1022, 970].
    #[error("grid exponent must be in [-1022, 970] (grid 2^k a normal double), got {0}")]
    GridExponentOutOfRange(i32),
    /// The integer parameter s of the discrete Gaussian is out of range.
    #[error(transparent)]
    Scale(#[from] ScaleOutOfRange),
    /// A weight is NaN or infinite. (No error names a weight's value: the weights are
    /// secret, and error messages reach logs.)
    #[error("weight {index} is not finite; nothing was released")]
    NonFiniteWeight {
        /// Coordinate.
        index: usize,
    },
    /// |round(w/g) + Z| ≥ 2⁵³: the released integer would not be exact in `f64`.
    #[error(
        "weight {index} is too large for the release grid {grid:e}: round(w/grid) plus the \
         noise reaches 2^53 grid steps, beyond which the release is not exact; nothing was \
         released; use a larger sigma (a coarser grid, for example a larger --budget) or a \
         stronger regularisation"
    )]
    WeightTooLargeForGrid {
        /// Coordinate.
        index: usize,
        /// The grid g.
        grid: f64,
    },
}

/// Release noise on the grid g = 2^`grid_exponent`: each coordinate is
/// published as g·(round(w/g) + Z) with Z ~ N_ℤ(0, s²), s = `scale`, so the
/// noise has standard deviation just below s·g.
///
/// The fields are public (they are public parameters, recorded with the
/// model); [`LatticeNoise::release`] validates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatticeNoise {
    /// k in g = 2ᵏ, in [−1022, 970].
    pub grid_exponent: i32,
    /// s, the discrete Gaussian's parameter in grid units, in [1, 2³¹].
    pub scale: u64,
}

impl LatticeNoise {
    /// The public rule: k = ⌊log₂ σ⌋ − 24, g = 2ᵏ, s = round(σ/g) (ties to
    /// even). σ/g ∈ [2²⁴, 2²⁵) is exact (a power-of-two scaling), so s ∈
    /// [2²⁴, 2²⁵] and |s·g − σ| ≤ g/2 = 2⁻²⁵·2^⌊log₂ σ⌋ ≤ 2⁻²⁵σ.
    ///
    /// # Errors
    ///
    /// [`LatticeError::InvalidSigma`] unless σ is finite and 2⁻⁹⁹⁸ ≤ σ < 2⁹⁹⁵
    /// (the grid must be a normal double and n·g must not overflow).
    pub fn for_sigma(sigma: f64) -> Result<Self, LatticeError> {
        if !(sigma.is_normal() && sigma > 0.0) {
            return Err(LatticeError::InvalidSigma(sigma));
        }
        // The biased exponent of a positive normal double is ⌊log₂ σ⌋ + 1023
        // (11 bits, so the cast is exact).
        let biased = ((sigma.to_bits() >> 52) & 0x7ff) as i32;
        let grid_exponent = biased - 1023 - SCALE_BITS;
        if !(MIN_GRID_EXPONENT..=MAX_GRID_EXPONENT).contains(&grid_exponent) {
            return Err(LatticeError::InvalidSigma(sigma));
        }
        let scaled = sigma / power_of_two(grid_exponent);
        // scaled ∈ [2²⁴, 2²⁵): its rounding is an exact integer below 2⁵³.
        let scale = scaled.round_ties_even() as u64;
        Ok(LatticeNoise {
            grid_exponent,
            scale,
        })
    }

    /// Checks the grid exponent and s; returns the sampler.
    ///
    /// [`DiscreteGaussian::new`] divides in big integers (the reciprocal of 2s²t², a few
    /// allocations), and every release and every [`LatticeNoise::rho`] of a model asks for
    /// the same s: the last sampler built is kept per thread. Its constants are functions of
    /// s alone, so the kept one equals a fresh one whenever its s is this s.
    fn sampler(&self) -> Result<DiscreteGaussian, LatticeError> {
        thread_local! {
            static LAST: Cell<Option<DiscreteGaussian>> = const { Cell::new(None) };
        }
        if !(MIN_GRID_EXPONENT..=MAX_GRID_EXPONENT).contains(&self.grid_exponent) {
            return Err(LatticeError::GridExponentOutOfRange(self.grid_exponent));
        }
        if let Some(kept) = LAST.get().filter(|kept| kept.scale() == self.scale) {
            return Ok(kept);
        }
        let fresh = DiscreteGaussian::new(self.scale)?;
        LAST.set(Some(fresh));
        Ok(fresh)
    }

    /// The grid g = 2ᵏ (exact; 0 or ∞ outside the valid exponent range).
    pub fn grid(&self) -> f64 {
        power_of_two(self.grid_exponent)
    }

    /// s·g, the parameter of the noise in weight units (exact: s < 2⁵³ and g
    /// a power of two). The standard deviation of the noise is just below it.
    pub fn sigma(&self) -> f64 {
        self.scale as f64 * self.grid()
    }

    /// The release g·(round(w_i/g) + Z_i), Z_i ~ N_ℤ(0, s²) i.i.d., drawn from
    /// `rng` in coordinate order with the word sampler ([`Sampler::Words`], the format of
    /// every release before the sampler field): [`LatticeNoise::release_with`].
    ///
    /// # Errors
    ///
    /// As [`LatticeNoise::release_with`].
    pub fn release<R: CryptoRng + ?Sized>(
        &self,
        w: &[f64],
        rng: &mut R,
    ) -> Result<Vec<f64>, LatticeError> {
        self.release_with(Sampler::Words, w, rng)
    }

    /// The release g·(round(w_i/g) + Z_i), Z_i ~ N_ℤ(0, s²) i.i.d., the m = `w.len()`
    /// draws made in coordinate order by one [`DiscreteGaussian::sample_into`] call with
    /// `sampler` (the generator borrowed once), into a buffer the thread keeps between
    /// releases; the output is the one allocation.
    ///
    /// w_i/g is exact (a power-of-two scaling; when it underflows, |w_i/g| <
    /// 2⁻¹⁰²² and both it and the true quotient round to 0), the rounding is
    /// ties-to-even, n_i + Z_i is exact integer arithmetic, and the product
    /// with g is exact while |n_i + Z_i| < 2⁵³. So every output is an exact
    /// integer multiple of g, and two inputs with the same integers n give
    /// the same output from the same generator state.
    ///
    /// # Errors
    ///
    /// Invalid parameters ([`LatticeError::GridExponentOutOfRange`],
    /// [`LatticeError::Scale`]); a non-finite weight
    /// ([`LatticeError::NonFiniteWeight`], checked for every coordinate before any noise is
    /// drawn); |n_i + Z_i| ≥ 2⁵³ ([`LatticeError::WeightTooLargeForGrid`]). Nothing is
    /// returned on error.
    pub fn release_with<R: CryptoRng + ?Sized>(
        &self,
        sampler: Sampler,
        w: &[f64],
        rng: &mut R,
    ) -> Result<Vec<f64>, LatticeError> {
        let dg = self.sampler()?;
        let grid = self.grid();
        let too_large = |index| LatticeError::WeightTooLargeForGrid { index, grid };
        // The output holds n_i first (|n_i| < 2⁵³, so exact in f64 and back), then the release:
        // one allocation of its final size, no intermediate vector.
        let mut out = Vec::with_capacity(w.len());
        for (index, &value) in w.iter().enumerate() {
            if !value.is_finite() {
                return Err(LatticeError::NonFiniteWeight { index });
            }
            let n = (value / grid).round_ties_even();
            if n.abs() >= EXACT_INTEGER_LIMIT {
                return Err(too_large(index));
            }
            out.push(n);
        }
        let added = with_noise_buffer(w.len(), |noise| {
            dg.sample_into(sampler, rng, noise);
            for (index, (released, &z)) in out.iter_mut().zip(noise.iter()).enumerate() {
                // |n| < 2⁵³: the conversion is exact, and n + z is exact in i128.
                let point = *released as i128 + z;
                if point.unsigned_abs() >= 1 << 53 {
                    return Err(too_large(index));
                }
                // |point| < 2⁵³ is exact in f64; times 2ᵏ with k ≤ 970 is exact.
                *released = point as f64 * grid;
            }
            Ok(())
        });
        if let Err(error) = added {
            // The coordinates before the failing one hold n_i + Z_i: noise, not returned, so
            // zeroed before the vector is freed (review 11, finding 5).
            out.fill(0.0);
            std::hint::black_box(&mut out);
            return Err(error);
        }
        Ok(out)
    }

    /// An upper bound, in weight units, on g·‖round(a/g) − round(b/g)‖₂ for
    /// weight vectors a, b with m = `coords` coordinates and ‖a − b‖₂ ≤ Δ =
    /// `distance`: Δ + g√m, rounded up. Per coordinate the rounding moves a
    /// value by at most 1/2 grid step, so the two roundings differ by at most
    /// one step more than a/g − b/g, and the triangle inequality gives
    /// ‖round(a/g) − round(b/g)‖ ≤ Δ/g + √m.
    ///
    /// `distance = 0.0` means a and b are equal, so their integers are
    /// identical and the bound is 0. A negative or non-finite distance gives
    /// +∞ (no bound: fails closed).
    pub fn grid_shift_bound(&self, distance: f64, coords: usize) -> f64 {
        if !(distance.is_finite() && distance >= 0.0) {
            return f64::INFINITY;
        }
        if distance == 0.0 {
            return 0.0;
        }
        // √m and the sum round by u each; g·√m is exact. (1 + 2u)² < 1 + 4ε.
        (distance + self.grid() * (coords as f64).sqrt()) * (1.0 + 4.0 * f64::EPSILON)
    }

    /// ρ = (shift/g)²/(2s²), rounded up: the zCDP of this release when the
    /// integers of the two worlds differ by `shift_weight_units`/g in L2
    /// norm (see `noise::renyi`: D_α ≤ αρ for every α > 1). `shift/g` is
    /// exact, the division by s, the square and the halving round by at most
    /// three units u; the factor 1 + 8ε covers them and its own rounding.
    /// A negative or non-finite shift gives +∞ (fails closed); so do invalid
    /// parameters (those [`LatticeNoise::release`] refuses).
    pub fn rho(&self, shift_weight_units: f64) -> f64 {
        if !(shift_weight_units.is_finite() && shift_weight_units >= 0.0) || self.sampler().is_err()
        {
            return f64::INFINITY;
        }
        let steps = shift_weight_units / self.grid() / self.scale as f64;
        steps * steps / 2.0 * (1.0 + 8.0 * f64::EPSILON)
    }
}

/// Runs `fill` on a buffer of `len` noise integers that this thread keeps between releases:
/// a release of d coordinates needs 16·d bytes of draws, which a fresh vector would allocate
/// (and fault in) at every release. The buffer grows to the largest release the thread has
/// made and stays there (zeroed: the entries a call used are zeroed when it ends, by a
/// guard, so also when `fill` unwinds — a panicking generator — and no noise outlives its
/// release). Only a generator that itself releases (from
/// inside its `next_u64`) could find the buffer taken: that call gets a fresh one.
fn with_noise_buffer<T>(len: usize, fill: impl FnOnce(&mut [i128]) -> T) -> T {
    thread_local! {
        static NOISE: RefCell<Vec<i128>> = const { RefCell::new(Vec::new()) };
    }
    let run = |buffer: &mut Vec<i128>| {
        if buffer.len() < len {
            buffer.resize(len, 0);
        }
        /// Zeroes the noise when dropped: on return and on unwind alike.
        struct Zeroed<'a>(&'a mut [i128]);
        impl Drop for Zeroed<'_> {
            fn drop(&mut self) {
                self.0.fill(0);
            }
        }
        let noise = Zeroed(&mut buffer[..len]);
        fill(noise.0)
    };
    NOISE.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => run(&mut buffer),
        Err(_) => run(&mut Vec::new()),
    })
}

/// 2ᵏ as an `f64`, exact for k ∈ [−1074, 1023]; 0 below, +∞ above.
fn power_of_two(k: i32) -> f64 {
    match k {
        ..-1074 => 0.0,
        -1074..=-1023 => f64::from_bits(1u64 << (k + 1074)),
        -1022..=1023 => f64::from_bits(((k + 1023) as u64) << 52),
        _ => f64::INFINITY,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_of_two_is_exact() {
        for k in [-1022, -1, 0, 1, 52, 1023] {
            assert_eq!(power_of_two(k), 2f64.powi(k), "2^{k}");
        }
        assert_eq!(power_of_two(-1074), f64::from_bits(1));
        assert_eq!(power_of_two(-1023), f64::MIN_POSITIVE / 2.0);
        assert_eq!(power_of_two(-1075), 0.0);
        assert_eq!(power_of_two(1024), f64::INFINITY);
    }

    /// A CryptoRng that panics after `left` words (as `rand::rngs::UnwrapErr<OsRng>` does when
    /// the OS generator fails), else a ChaCha20 stream.
    struct PanicsAfter {
        left: u32,
        inner: rand_chacha::ChaCha20Rng,
    }
    impl rand::TryRng for PanicsAfter {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            assert!(self.left > 0, "the generator failed");
            self.left -= 1;
            Ok(rand::Rng::next_u64(&mut self.inner))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for b in dst {
                *b = self.try_next_u64()? as u8;
            }
            Ok(())
        }
    }
    impl rand::TryCryptoRng for PanicsAfter {}

    /// Review 9b, finding 1: the buffer was zeroed only when the release returned, so a
    /// generator that panicked mid-release left its noise for the next user of the thread.
    #[test]
    fn a_panicking_release_leaves_no_noise_in_the_thread_buffer() {
        use rand::SeedableRng;
        let noise = LatticeNoise::for_sigma(1000.0).unwrap();
        let w = vec![0.0; 4096];
        let mut rng = PanicsAfter {
            left: 2000,
            inner: rand_chacha::ChaCha20Rng::seed_from_u64(9),
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            noise.release_with(Sampler::Compare, &w, &mut rng)
        }));
        assert!(
            outcome.is_err(),
            "the generator was meant to panic mid-release"
        );
        // The next user of this thread's buffer (any later release, of any model or key).
        let left_over =
            with_noise_buffer(w.len(), |buffer| buffer.iter().filter(|&&z| z != 0).count());
        assert_eq!(
            left_over, 0,
            "{left_over} noise integers of the panicked release survive"
        );
    }
}
