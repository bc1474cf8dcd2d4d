//! An exact sampler of the discrete Gaussian N_ℤ(0, s²) for an integer s ≥ 1:
//!
//! P[Z = z] = exp(−z²/(2s²)) / Σ_{y∈ℤ} exp(−y²/(2s²)),  z ∈ ℤ.
//!
//! # Algorithm
//!
//! Canonne, Kamath and Steinke, "The Discrete Gaussian for Differential
//! Privacy", NeurIPS 2020 (arXiv:2004.00010), §5, with σ² = s² and every
//! probability a ratio of integers:
//!
//! * **Algorithm 1**, Bernoulli(exp(−γ)) for a rational γ = n/d ∈ [0, 1]:
//!   K ← 1; while Bernoulli(γ/K): K ← K + 1; return [K is odd]. Since
//!   P[K > k] = γᵏ/k!, P[K odd] = Σ_k (−γ)ᵏ/k! = e^{−γ}. For γ > 1 it is
//!   ⌊γ⌋ independent Bernoulli(e^{−1}) followed by Bernoulli(e^{−(γ−⌊γ⌋)}), all
//!   of which must succeed. Bernoulli(γ/K) is drawn as Bernoulli(n/d) ∧
//!   Bernoulli(1/K), two independent events whose probability is the product
//!   γ/K, so d·K is never formed.
//! * **Algorithm 2**, the discrete Laplace P[Y = y] ∝ exp(−|y|/t) for an integer
//!   t ≥ 1: U uniform on {0, …, t−1}, kept with probability exp(−U/t); V the
//!   number of successes of Bernoulli(e^{−1}) before the first failure
//!   (P[V = v] ∝ e^{−v}); X = U + t·V (so P[X = x] ∝ e^{−x/t}); a fair sign bit
//!   B, rejecting (B = 1, X = 0) so that 0 is not counted twice; Y = ±X.
//! * **Algorithm 3**, the discrete Gaussian: t = ⌊s⌋ + 1 = s + 1; draw Y from
//!   the discrete Laplace of scale t and return it with probability
//!   exp(−(|Y| − s²/t)²/(2s²)) = exp(−(|Y|·t − s²)²/(2s²t²)); otherwise repeat.
//!   The output is exactly N_ℤ(0, s²) (CKS 2020, §5, with σ = s).
//!
//! # Exactness
//!
//! There is no floating point here. Uniform integers on {0, …, n−1} come from
//! the generator's 64-bit words by masking to the bit length of n − 1 and
//! rejecting values ≥ n ([`uniform_below`]), so every Bernoulli(n/d) is exact.
//! The acceptance exponent (|Y|·t − s²)²/(2s²t²) is computed in `u128` with
//! checked arithmetic: the denominator 2s²t² < 2¹²⁶ for s ≤ [`MAX_SCALE`], and
//! the numerator fits whenever ||Y|·t − s²| < 2⁶⁴. Beyond that (|Y| ≳ 2⁶⁴/t;
//! for s ≤ 2²⁵, the range [`super::LatticeNoise::for_sigma`] uses, a
//! discrete-Laplace draw of probability below exp(−2⁶⁴/t²) < exp(−2¹³)) the
//! same exponent is computed exactly with `num_bigint::BigUint`: never
//! approximated, never a panic. The counters K and V are `u128`; reaching 2⁶⁴,
//! let alone 2¹²⁸, would take more loop iterations than can run, so they and
//! X = U + t·V < 2⁹⁶ cannot overflow.
//!
//! # Stream
//!
//! The sequence of `next_u64` calls is a fixed function of the generator's
//! output (no `rand` distribution is involved), so a seed determines the
//! integers on every platform and with every `rand` version that keeps
//! ChaCha20's stream. Proof and tests: `proofs/lattice_release.md`.

use num_bigint::BigUint;
use rand::Rng;
use std::ops::AddAssign;
use thiserror::Error;

/// The largest parameter s accepted: 2³¹. It keeps the denominator 2s²(s+1)²
/// of the acceptance exponent below 2¹²⁶, inside `u128`.
pub const MAX_SCALE: u64 = 1 << 31;

/// A parameter s outside [1, [`MAX_SCALE`]].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error(
    "the discrete Gaussian parameter s must be an integer in [1, 2^31], got {0}; \
     choose the grid so that sigma / grid lies in that range"
)]
pub struct ScaleOutOfRange(pub u64);

/// The discrete Gaussian N_ℤ(0, s²) with an integer parameter s ∈ [1, 2³¹].
///
/// Its variance is slightly below s² (CKS 2020, §2) and it is
/// sub-Gaussian with variance proxy s²: E[e^{λZ}] ≤ e^{λ²s²/2}.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscreteGaussian {
    scale: u64,
}

impl DiscreteGaussian {
    /// N_ℤ(0, s²) with s = `scale`.
    ///
    /// # Errors
    ///
    /// [`ScaleOutOfRange`] unless 1 ≤ s ≤ [`MAX_SCALE`].
    pub fn new(scale: u64) -> Result<Self, ScaleOutOfRange> {
        if (1..=MAX_SCALE).contains(&scale) {
            Ok(DiscreteGaussian { scale })
        } else {
            Err(ScaleOutOfRange(scale))
        }
    }

    /// The parameter s.
    pub fn scale(&self) -> u64 {
        self.scale
    }

    /// One exact draw of N_ℤ(0, s²) (CKS 2020, Algorithm 3), using only
    /// integer arithmetic on `rng`'s 64-bit words.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i128 {
        let s = u128::from(self.scale);
        let t = s + 1;
        let s2 = s * s;
        // 2s²t² < 2·2⁶²·(2³¹+1)² < 2¹²⁶ for s ≤ 2³¹.
        let den = 2 * s2 * t * t;
        loop {
            let y = discrete_laplace(t, rng);
            let x = y.unsigned_abs();
            let accept = match x
                .checked_mul(t)
                .map(|xt| xt.abs_diff(s2))
                .and_then(|a| a.checked_mul(a))
            {
                Some(num) => bernoulli_exp_neg(&(num / den), num % den, den, rng),
                None => bernoulli_exp_neg_big(x, t, s2, den, rng),
            };
            if accept {
                return y;
            }
        }
    }
}

/// Uniform on {0, …, n − 1} for n ≥ 1: the low ⌈log₂ n⌉ bits of one or two
/// 64-bit words, rejected while ≥ n (each attempt succeeds with probability
/// > 1/2). n = 1 draws nothing.
fn uniform_below<R: Rng + ?Sized>(n: u128, rng: &mut R) -> u128 {
    let bits = 128 - (n.saturating_sub(1)).leading_zeros();
    if bits == 0 {
        return 0;
    }
    let mask = u128::MAX >> (128 - bits);
    loop {
        let word = if bits <= 64 {
            u128::from(rng.next_u64())
        } else {
            (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())
        };
        let candidate = word & mask;
        if candidate < n {
            return candidate;
        }
    }
}

/// Bernoulli(num/den) for 0 ≤ num ≤ den, den ≥ 1.
fn bernoulli_ratio<R: Rng + ?Sized>(num: u128, den: u128, rng: &mut R) -> bool {
    uniform_below(den, rng) < num
}

/// Bernoulli(exp(−num/den)) for 0 ≤ num ≤ den, den ≥ 1 (CKS Algorithm 1).
fn bernoulli_exp_neg_fraction<R: Rng + ?Sized>(num: u128, den: u128, rng: &mut R) -> bool {
    let mut k: u128 = 1;
    // Bernoulli(γ/K) as Bernoulli(γ) ∧ Bernoulli(1/K).
    while bernoulli_ratio(num, den, rng) && uniform_below(k, rng) == 0 {
        k += 1;
    }
    k % 2 == 1
}

/// Bernoulli(e^{−1}).
fn bernoulli_exp_minus_one<R: Rng + ?Sized>(rng: &mut R) -> bool {
    bernoulli_exp_neg_fraction(1, 1, rng)
}

/// Bernoulli(exp(−γ)) for γ = whole + rem/den with 0 ≤ rem < den: `whole`
/// independent Bernoulli(e^{−1}) (stopping at the first failure) and then
/// Bernoulli(e^{−rem/den}); the product of their probabilities is e^{−γ}.
/// Generic over the counter so that the exact `BigUint` branch shares it.
fn bernoulli_exp_neg<N, R>(whole: &N, rem: u128, den: u128, rng: &mut R) -> bool
where
    N: PartialOrd + From<u8> + AddAssign,
    R: Rng + ?Sized,
{
    let mut done = N::from(0);
    while done < *whole {
        if !bernoulli_exp_minus_one(rng) {
            return false;
        }
        done += N::from(1);
    }
    bernoulli_exp_neg_fraction(rem, den, rng)
}

/// The acceptance test of Algorithm 3 when (x·t − s²)² overflows `u128`:
/// the same exponent in `BigUint`. The remainder is < den < 2¹²⁶, so it fits.
fn bernoulli_exp_neg_big<R: Rng + ?Sized>(
    x: u128,
    t: u128,
    s2: u128,
    den: u128,
    rng: &mut R,
) -> bool {
    let xt = BigUint::from(x) * BigUint::from(t);
    let s2 = BigUint::from(s2);
    let a = if xt >= s2 { xt - s2 } else { s2 - xt };
    let num = &a * &a;
    let den_big = BigUint::from(den);
    let whole = &num / &den_big;
    // num mod den < den < 2¹²⁶: the conversion cannot fail; the fallback
    // keeps the function total without a panic path.
    let rem = u128::try_from(num % den_big).unwrap_or(den - 1);
    bernoulli_exp_neg(&whole, rem, den, rng)
}

/// The discrete Laplace P[Y = y] ∝ exp(−|y|/t) for t ≥ 1 (CKS Algorithm 2
/// with scale t/1).
fn discrete_laplace<R: Rng + ?Sized>(t: u128, rng: &mut R) -> i128 {
    loop {
        let u = uniform_below(t, rng);
        if !bernoulli_exp_neg_fraction(u, t, rng) {
            continue;
        }
        let mut v: u128 = 0;
        while bernoulli_exp_minus_one(rng) {
            v += 1;
        }
        // t ≤ 2³¹ + 1 and v < 2⁶⁴ in any run that can happen: x < 2⁹⁶.
        let x = u + t * v;
        let negative = rng.next_u64() & 1 == 1;
        if negative && x == 0 {
            continue;
        }
        // x < 2⁹⁶ (above), so the conversion is exact.
        let magnitude = x as i128;
        return if negative { -magnitude } else { magnitude };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn uniform_below_stays_in_range_and_hits_every_value() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for n in [1u128, 2, 3, 5, 7, 1 << 64, (1 << 64) + 3] {
            let mut seen_small = [false; 7];
            for _ in 0..2000 {
                let v = uniform_below(n, &mut rng);
                assert!(v < n, "uniform_below({n}) gave {v}");
                if v < 7 {
                    seen_small[v as usize] = true;
                }
            }
            if n <= 7 {
                // 2000 draws miss a given value with probability ≤ (6/7)^2000 < 1e-130.
                assert!(seen_small[..n as usize].iter().all(|&s| s));
            }
        }
    }

    /// The BigUint branch and the u128 branch compute the same exponent: with
    /// the same generator state they make the same decision where both apply. At
    /// s = 1000 the exponent (xt − s²)²/(2s²t²) is ≈ 1/2 for x = 0 and x = 2000
    /// (xt > s²), where each decision is a coin of bias e^{−1/2} ≈ 0.61, ≈ 1/4 for
    /// x = 300 (0 < xt < s²) and ≈ 8 for x = 5000: a branch that decides otherwise (a
    /// wrong exponent, |xt − s²| as a sum, or always `false`) disagrees in dozens of the
    /// 200 draws. That both outcomes occur at x = 0 and 2000 is checked (fewer than 20 of
    /// either has probability below 10⁻⁶⁰).
    #[test]
    fn big_branch_agrees_with_the_u128_branch() {
        let s = 1000u128;
        let (t, s2) = (s + 1, s * s);
        let den = 2 * s2 * t * t;
        for x in [0u128, 300, 2000, 5000] {
            let a = (x * t).abs_diff(s2);
            let num = a * a;
            let mut accepted = 0;
            for seed in 0..200 {
                let mut fast = ChaCha20Rng::seed_from_u64(seed);
                let mut big = fast.clone();
                let decision = bernoulli_exp_neg(&(num / den), num % den, den, &mut fast);
                assert_eq!(
                    decision,
                    bernoulli_exp_neg_big(x, t, s2, den, &mut big),
                    "x = {x}, seed {seed}"
                );
                accepted += usize::from(decision);
            }
            if x == 0 || x == 2000 {
                assert!((20..=180).contains(&accepted), "x = {x}: {accepted} of 200");
            }
        }
    }

    /// Bernoulli(exp(−n/d)) frequencies: 10⁵ draws, the Hoeffding bound
    /// √(ln(2/α)/(2n)) at α = 1e-9 is 0.0102.
    #[test]
    fn bernoulli_exp_neg_has_the_right_frequency() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let n = 100_000;
        for (whole, rem, den) in [(0u128, 1u128, 3u128), (0, 2, 2), (1, 1, 2), (2, 0, 1)] {
            let hits = (0..n)
                .filter(|_| bernoulli_exp_neg(&whole, rem, den, &mut rng))
                .count();
            let gamma = whole as f64 + rem as f64 / den as f64;
            let freq = hits as f64 / n as f64;
            assert!(
                (freq - (-gamma).exp()).abs() < 0.0102,
                "γ = {gamma}: {freq}"
            );
        }
    }
}
