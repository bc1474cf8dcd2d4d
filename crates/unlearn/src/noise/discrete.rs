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
//! rejecting values ≥ n (`Below`, with the mask computed once per n), so every
//! Bernoulli(n/d) is exact. The acceptance exponent (|Y|·t − s²)²/(2s²t²) has
//! the denominator 2s²t² < 2¹²⁶ for s ≤ [`MAX_SCALE`]; its numerator a² is one
//! 64×64-bit product whenever a = ||Y|·t − s²| < 2⁶⁴. Beyond that (|Y| ≳ 2⁶⁴/t;
//! for s ≤ 2²⁵, the range [`super::LatticeNoise::for_sigma`] uses, a
//! discrete-Laplace draw of probability below exp(−2⁶⁴/t²) < exp(−2¹³)) the
//! same exponent is computed exactly with `num_bigint::BigUint`: never
//! approximated, never a panic. The counters K and V are `u64`; reaching 2⁶⁴
//! would take more loop iterations than can run, so they and
//! X = U + t·V < 2⁹⁶ cannot overflow.
//!
//! # Stream: four samplers
//!
//! Algorithms 1–3 are written once, generic over the coins they consume ([`Coins`]); a
//! [`Sampler`] says how the coins are read from the generator (or, for the comparison
//! sampler, which rearrangement of Algorithm 3 runs), and the release record names it so
//! that a release regenerates bit for bit.
//!
//! * [`Sampler::Words`] (every release before the field): each coin takes whole 64-bit
//!   words, as described above. The sequence of `next_u64` calls is a fixed function of the
//!   generator's output (no `rand` distribution is involved), so a seed determines the
//!   integers on every platform and with every `rand` version that keeps ChaCha20's
//!   stream; the precomputed constants and `u64` fast paths change how each integer is
//!   computed, never which words are read: the draws are the ones pinned in
//!   `tests/sampler_golden.rs`, generated before they were written. A draw at s ≈ 2²⁴
//!   reads about 24 words.
//! * [`Sampler::Bits`]: the coins of [`super::bits`] read the same stream a few bits at a
//!   time (≈ 2.5 words a draw at s ≈ 2²⁴), pinned in `tests/sampler_bits_golden.rs`.
//! * [`Sampler::Compare`]: the same target by a rearranged Algorithm 3
//!   ([`DiscreteGaussian::round_compare`]) whose every exponential coin is one exact
//!   comparison of a uniform with e^{−γ} ([`super::compare`]); pinned in
//!   `tests/sampler_compare_golden.rs`.
//! * [`Sampler::CompareV4`] (new releases): the same rearrangement with t = 4⌈s/4⌉ and a
//!   Laplace block of t/4 (u below t/4, P[V ≥ v] = e^{−v/4}; Algorithm 3 is exact for any
//!   t), ≈ 1.49 rounds a draw instead of 2.08; pinned in `tests/sampler_compare4_golden.rs`.
//!
//! Proof and tests: `proofs/lattice_release.md`.

use super::bits::BitStream;
use super::compare::{self, Reciprocal, Uniform};
use super::lookahead;
use num_bigint::BigUint;
use rand::Rng;
use serde::{Deserialize, Serialize};
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

/// How a release reads its coin flips from the keyed ChaCha20 stream: a field of the release
/// record ([`crate::model::ReleaseRecord::sampler`]) and of every certificate
/// ([`crate::certificate::Certificate::release_sampler`]), absent (serde default) for
/// [`Sampler::Words`] so that every release and certificate written before the field keeps
/// its bytes and regenerates bit for bit. All draw N_ℤ(0, s²) exactly (CKS 2020, Algorithms
/// 1–3; the comparison sampler with the discrete Laplace's rejection moved into the final
/// acceptance); they differ in which bits of the stream each coin uses, so a release's noise
/// is a function of its record's sampler and stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Sampler {
    /// Every uniform draw and Bernoulli trial takes whole 64-bit words (≈ 24 words a draw at
    /// s ≈ 2²⁴): the format of every release before the field.
    #[default]
    #[serde(rename = "cks-words-v1")]
    Words,
    /// A bit buffer over the same stream (`BitStream`): uniform draws by Lemire's
    /// multiply-and-reject on ⌈log₂ n⌉ + 16 bits, Bernoulli(n/d) by comparing a lazily read
    /// uniform with n/d's binary expansion 8 bits at a time (≈ 3 words a draw).
    #[serde(rename = "cks-bits-v2")]
    Bits,
    /// The same bit stream, with CKS's discrete Laplace rejection folded into the Gaussian
    /// acceptance and every Bernoulli(e^{−γ}) decided by one exact comparison of a 64-bit
    /// uniform with a fixed-point bracket of e^{−γ} (`noise::compare`; ≈ 2.1 rounds of
    /// four coins a draw at s ≈ 2²⁴).
    #[serde(rename = "cks-compare-v3")]
    Compare,
    /// The comparison sampler with a Laplace block of t/4 (t = 4⌈s/4⌉): u uniform below t/4,
    /// P[V ≥ v] = e^{−v/4}, x = u + (t/4)·V, so that u's share of the acceptance,
    /// e^{−u/t}, averages 4(1 − e^{−1/4}) ≈ 0.88 instead of 0.63 (≈ 1.49 rounds a draw at
    /// s ≈ 2²⁴ instead of 2.08); the same coins otherwise.
    #[serde(rename = "cks-compare-v4")]
    CompareV4,
}

impl Sampler {
    /// The sampler of new releases.
    pub const NEW: Sampler = Sampler::CompareV4;

    /// The name the JSON gives it.
    pub fn name(self) -> &'static str {
        match self {
            Sampler::Words => "cks-words-v1",
            Sampler::Bits => "cks-bits-v2",
            Sampler::Compare => "cks-compare-v3",
            Sampler::CompareV4 => "cks-compare-v4",
        }
    }

    /// Whether this is the word sampler (the field is then left out of the JSON).
    pub fn is_words(&self) -> bool {
        *self == Sampler::Words
    }
}

/// The discrete Gaussian N_ℤ(0, s²) with an integer parameter s ∈ [1, 2³¹].
///
/// Its variance is slightly below s² (CKS 2020, §2) and it is
/// sub-Gaussian with variance proxy s²: E[e^{λZ}] ≤ e^{λ²s²/2}.
///
/// The constants every draw uses (t = s + 1, s², 2s²t² and the masks of the
/// uniform draws below t and below 2s²t²) are computed once, in [`DiscreteGaussian::new`];
/// they are functions of s, so two samplers with the same s are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscreteGaussian {
    scale: u64,
    /// t = s + 1 ≤ 2³¹ + 1, the discrete Laplace's scale.
    t: u64,
    /// s² ≤ 2⁶².
    s2: u64,
    /// Uniform on {0, …, t − 1}: U, and the Bernoulli(U/t) trials of Algorithm 1.
    below_t: Below,
    /// Uniform on {0, …, 2s²t² − 1}: the Bernoulli trials of the acceptance test.
    below_den: Below,
    /// The rounds of "cks-compare-v3": t = s + 1, block t.
    rounds_v3: Rounds,
    /// The rounds of "cks-compare-v4": t = 4⌈s/4⌉, block t/4.
    rounds_v4: Rounds,
}

/// The constants of one comparison-sampler format ([`DiscreteGaussian::round_compare`]): the
/// Laplace scale t, the block B (u is uniform below B and x = u + B·V, with P[V ≥ v] =
/// e^{−v·B/t}: B = t for "cks-compare-v3", B = t/4 for "cks-compare-v4") and the acceptance
/// exponent's numerator factor 2s²t and denominator 2s²t² with its reciprocal. Functions of
/// s alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rounds {
    /// t ≤ 2³¹ + 1.
    t: u64,
    /// B, with B | t.
    pub(super) block: u64,
    /// s² ≤ 2⁶².
    s2: u64,
    /// 2s²t ≤ 2⁹⁵: the exponent's numerator is 2s²t·u + (x·t − s²)².
    two_s2_t: u128,
    /// 2s²t² < 2¹²⁶ and its reciprocal.
    pub(super) recip_den: Reciprocal,
}

impl Rounds {
    /// The constants for s² = `s2`, scale t and block B = t/`blocks`.
    fn new(s2: u64, t: u64, blocks: u64) -> Self {
        // s ≤ 2³¹ and t ≤ 2³¹ + 1: 2s²t² < 2·2⁶²·(2³¹ + 1)² < 2¹²⁶.
        let den = 2 * u128::from(s2) * u128::from(t) * u128::from(t);
        Rounds {
            t,
            block: t / blocks,
            s2,
            two_s2_t: 2 * u128::from(s2) * u128::from(t),
            recip_den: Reciprocal::new(den),
        }
    }
}

impl Rounds {
    /// 2s²t·u + (x·t − s²)² when it fits `u128` (a = |x·t − s²| < 2⁶⁴ and no carry out;
    /// always for s ≤ 2²⁵ unless V ≥ 2¹³·t/B), else `None`.
    #[inline(always)]
    pub(super) fn numerator(&self, x: u128, u: u64) -> Option<u128> {
        // x ≥ 2⁶⁴ gives x·t ≥ 2⁶⁵ > 2⁶⁴ + s² (t ≥ 2, s² ≤ 2⁶²), so a ≥ 2⁶⁴: declining it first
        // declines nothing else, and below it x·t < 2⁹⁶ is one 64×64-bit product.
        let x = u64::try_from(x).ok()?;
        let a = (u128::from(x) * u128::from(self.t)).abs_diff(u128::from(self.s2));
        let a = u128::from(u64::try_from(a).ok()?);
        // 2s²t·u < 2⁹⁵·2³² = 2¹²⁷ (2s²t ≤ 2⁹⁵, u < t ≤ 2³¹ + 1): no overflow.
        (a * a).checked_add(self.two_s2_t * u128::from(u))
    }

    /// The comparison sampler's exponent (2s²t·u + (x·t − s²)², 2s²t²) in `BigUint`.
    fn exponent_big(&self, x: u128, u: u64) -> (BigUint, BigUint) {
        let xt = BigUint::from(x) * BigUint::from(self.t);
        let s2 = BigUint::from(self.s2);
        let a = if xt >= s2 { xt - s2 } else { s2 - xt };
        let num = &a * &a + BigUint::from(self.two_s2_t) * BigUint::from(u);
        (num, BigUint::from(self.recip_den.den()))
    }
}

impl DiscreteGaussian {
    /// N_ℤ(0, s²) with s = `scale`.
    ///
    /// # Errors
    ///
    /// [`ScaleOutOfRange`] unless 1 ≤ s ≤ [`MAX_SCALE`].
    pub fn new(scale: u64) -> Result<Self, ScaleOutOfRange> {
        if !(1..=MAX_SCALE).contains(&scale) {
            return Err(ScaleOutOfRange(scale));
        }
        let t = scale + 1;
        let s2 = scale * scale;
        // 2s²t² < 2·2⁶²·(2³¹+1)² < 2¹²⁶ for s ≤ 2³¹.
        let den = 2 * u128::from(s2) * u128::from(t) * u128::from(t);
        Ok(DiscreteGaussian {
            scale,
            t,
            s2,
            below_t: Below::new(u128::from(t)),
            below_den: Below::new(den),
            rounds_v3: Rounds::new(s2, t, 1),
            // 4⌈s/4⌉ ≤ s + 3 ≤ 2³¹ for s ≤ 2³¹ (a multiple of 4 up to 2³¹).
            rounds_v4: Rounds::new(s2, scale.div_ceil(4) * 4, 4),
        })
    }

    /// The parameter s.
    pub fn scale(&self) -> u64 {
        self.scale
    }

    /// One exact draw of N_ℤ(0, s²) (CKS 2020, Algorithm 3) with the word sampler
    /// ([`Sampler::Words`]), using only integer arithmetic on `rng`'s 64-bit words.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> i128 {
        self.draw(&mut Words(rng))
    }

    /// `out.len()` exact draws of N_ℤ(0, s²), in order, with `sampler`: for
    /// [`Sampler::Words`] the same integers and the same words as that many calls of
    /// [`DiscreteGaussian::sample`]; for [`Sampler::Bits`] and the comparison samplers one
    /// `BitStream` over `rng` for the whole call (the bits of its last word that no draw
    /// used are dropped).
    pub fn sample_into<R: Rng + ?Sized>(&self, sampler: Sampler, rng: &mut R, out: &mut [i128]) {
        match sampler {
            Sampler::Words => {
                let mut coins = Words(rng);
                out.iter_mut().for_each(|z| *z = self.draw(&mut coins));
            }
            Sampler::Bits => {
                let mut coins = BitStream::new(rng);
                out.iter_mut().for_each(|z| *z = self.draw(&mut coins));
            }
            Sampler::Compare => {
                let tables = compare::tables();
                Self::fill_compare(&self.rounds_v3, tables, &tables.unit, rng, out);
            }
            Sampler::CompareV4 => {
                let tables = compare::tables();
                Self::fill_compare(&self.rounds_v4, tables, &tables.quarter, rng, out);
            }
        }
    }

    /// `out.len()` draws of the comparison sampler with the constants `rounds` and V's
    /// thresholds `geometric`, from one `BitStream` over `rng`: passes of rounds read ahead
    /// ([`lookahead::rounds_ahead`]), each followed by one round coin by coin
    /// ([`DiscreteGaussian::round_compare`], the round that stopped the pass). The rounds,
    /// the bits each reads and so the draws are those of `round_compare` run from the first
    /// bit to the last accepted draw (proofs/lattice_release.md, "Rounds read ahead").
    fn fill_compare<R: Rng + ?Sized>(
        rounds: &Rounds,
        tables: &compare::Tables,
        geometric: &compare::Geometric,
        rng: &mut R,
        out: &mut [i128],
    ) {
        let mut bits = BitStream::new(rng);
        let mut filled = 0;
        while filled < out.len() {
            filled +=
                lookahead::rounds_ahead(rounds, tables, geometric, &mut bits, &mut out[filled..]);
            if let Some(slot) = out.get_mut(filled)
                && let Some(z) = Self::round_compare(rounds, tables, geometric, &mut bits)
            {
                *slot = z;
                filled += 1;
            }
        }
    }

    /// One round of the comparison sampler (proofs/lattice_release.md, "The comparison
    /// sampler" and "The fourth format") with the constants `rounds` (t, block B) and V's
    /// thresholds `geometric` (P[V ≥ v] = e^{−v·B/t}: step 1 for B = t, 1/4 for B = t/4),
    /// coin by coin: the accepted ±x, or `None` for a rejected round; a draw is the rounds up
    /// to the first accepted one.
    /// The round: u uniform below B; V = max{v : W₁ < e^{−v·B/t}}; x = u + B·V; a fair sign,
    /// the round rejected for −0; ±x accepted when W₂ < e^{−γ},
    /// γ = (2s²t·u + (x·t − s²)²)/(2s²t²) = u/t + (|y| − s²/t)²/(2s²). The pair (u, V) has
    /// weight e^{−V·B/t}, so an accepted ±x has weight e^{−(u + B·V)/t}·e^{−(x − s²/t)²/(2s²)}
    /// = e^{−x/t}·e^{−(x − s²/t)²/(2s²)} ∝ e^{−x²/(2s²)}: CKS Algorithm 3 with Algorithm 2's
    /// e^{−u/t} rejection moved into the acceptance.
    #[inline(never)]
    fn round_compare<R: Rng + ?Sized>(
        rounds: &Rounds,
        tables: &compare::Tables,
        geometric: &compare::Geometric,
        bits: &mut BitStream<'_, R>,
    ) -> Option<i128> {
        let u = bits.below(rounds.block);
        let v = compare::geometric(geometric, bits);
        // u < B ≤ t ≤ 2³¹ + 1 and v < 2⁶⁴: x < 2⁹⁶.
        let x = u128::from(u) + u128::from(rounds.block) * u128::from(v);
        let negative = bits.take(1) == 1;
        if negative && x == 0 {
            return None;
        }
        let mut w = Uniform::new();
        let accept = match rounds.numerator(x, u) {
            Some(num) => compare::less_than_exp_neg(tables, &mut w, bits, num, &rounds.recip_den),
            None => {
                let (num, den) = rounds.exponent_big(x, u);
                compare::less_than_exp_neg_exact(&mut w, bits, &num, &den)
            }
        };
        let magnitude = x as i128;
        accept.then_some(if negative { -magnitude } else { magnitude })
    }

    /// CKS Algorithm 3 on the coins `coins`.
    #[inline]
    fn draw<C: Coins>(&self, coins: &mut C) -> i128 {
        loop {
            let y = self.discrete_laplace(coins);
            let x = y.unsigned_abs();
            let accept = match self.exponent(x) {
                Some((whole, rem)) => bernoulli_exp_neg(&whole, rem, &self.below_den, coins),
                None => {
                    let (whole, rem) = self.exponent_big(x);
                    bernoulli_exp_neg(&whole, rem, &self.below_den, coins)
                }
            };
            if accept {
                return y;
            }
        }
    }

    /// The discrete Laplace P[Y = y] ∝ exp(−|y|/t) (CKS Algorithm 2 with scale t/1).
    #[inline]
    fn discrete_laplace<C: Coins>(&self, coins: &mut C) -> i128 {
        loop {
            // u < t ≤ 2³¹ + 1.
            let u = coins.uniform(&self.below_t);
            if !exp_neg_fraction(coins, u, &self.below_t) {
                continue;
            }
            // A u64 counter: reaching 2⁶⁴ would take more loop rounds than can run.
            let mut v: u64 = 0;
            while exp_minus_one(coins) {
                v += 1;
            }
            // u < 2³², t ≤ 2³¹ + 1 and v < 2⁶⁴: x < 2⁹⁶, exact in u128 and i128.
            let x = u + u128::from(self.t) * u128::from(v);
            let negative = coins.fair();
            if negative && x == 0 {
                continue;
            }
            let magnitude = x as i128;
            return if negative { -magnitude } else { magnitude };
        }
    }

    /// The acceptance exponent (x·t − s²)²/(2s²t²) as (whole part, remainder) when
    /// a = |x·t − s²| < 2⁶⁴, so that a² < 2¹²⁸ is one 64×64-bit product; `None` otherwise
    /// (then [`Self::exponent_big`]). The whole part is found by comparison when a² < 2·den
    /// (the common case: |Y| < 3s or so) and by one `u128` division otherwise; both give
    /// ⌊a²/den⌋ and a² mod den exactly.
    fn exponent(&self, x: u128) -> Option<(u128, u128)> {
        let a = x
            .checked_mul(u128::from(self.t))?
            .abs_diff(u128::from(self.s2));
        let a = u64::try_from(a).ok()?;
        let num = u128::from(a) * u128::from(a);
        let den = self.below_den.n;
        Some(if num < den {
            (0, num)
        } else if num - den < den {
            (1, num - den)
        } else {
            (num / den, num % den)
        })
    }

    /// The same exponent in `BigUint`, for a = |x·t − s²| ≥ 2⁶⁴. The remainder is < den
    /// < 2¹²⁶, so it fits `u128`.
    fn exponent_big(&self, x: u128) -> (BigUint, u128) {
        let den = self.below_den.n;
        let xt = BigUint::from(x) * BigUint::from(self.t);
        let s2 = BigUint::from(self.s2);
        let a = if xt >= s2 { xt - s2 } else { s2 - xt };
        let num = &a * &a;
        let den_big = BigUint::from(den);
        let whole = &num / &den_big;
        // num mod den < den < 2¹²⁶: the conversion cannot fail; the fallback
        // keeps the function total without a panic path.
        let rem = u128::try_from(num % den_big).unwrap_or(den - 1);
        (whole, rem)
    }
}

/// Uniform on {0, …, n − 1} for 1 ≤ n < 2¹²⁸ by mask and reject: the low b = ⌈log₂ n⌉
/// bits of one 64-bit word (b ≤ 64) or of two (b > 64, the first word the high half),
/// rejected while ≥ n (each attempt succeeds with probability > 1/2). n = 1 draws nothing.
/// The mask and the word count are computed once per n.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Below {
    pub(super) n: u128,
    /// 2ᵇ − 1; 0 when n = 1.
    mask: u128,
    /// b > 64.
    two_words: bool,
}

impl Below {
    pub(super) fn new(n: u128) -> Self {
        let bits = 128 - n.saturating_sub(1).leading_zeros();
        Below {
            n,
            mask: if bits == 0 {
                0
            } else {
                u128::MAX >> (128 - bits)
            },
            two_words: bits > 64,
        }
    }

    #[inline]
    fn draw<R: Rng + ?Sized>(&self, rng: &mut R) -> u128 {
        if self.mask == 0 {
            return 0;
        }
        loop {
            let word = if self.two_words {
                (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())
            } else {
                u128::from(rng.next_u64())
            };
            let candidate = word & self.mask;
            if candidate < self.n {
                return candidate;
            }
        }
    }
}

/// The coin flips CKS's algorithms consume, and how they are read from the generator: the
/// word sampler ([`Words`], the stream of every release before the [`Sampler`] field) or the
/// bit sampler ([`BitStream`]). Each method is exact: its output has the stated
/// distribution and is independent of every earlier output (proofs/lattice_release.md).
pub(super) trait Coins {
    /// Uniform on {0, …, n − 1}, n = `below.n`.
    fn uniform(&mut self, below: &Below) -> u128;
    /// Bernoulli(n/d) for 0 ≤ n ≤ d = `below.n`.
    fn bernoulli(&mut self, n: u128, below: &Below) -> bool;
    /// Bernoulli(1/k) for k ≥ 1: the Bernoulli(1/K) of Algorithm 1.
    fn one_in(&mut self, k: u64) -> bool;
    /// Bernoulli(n/(d·k)), d = `below.n`: Algorithm 1's Bernoulli(γ/K) for γ = n/d. By
    /// default Bernoulli(n/d) ∧ Bernoulli(1/k), in that order, the second drawn only when
    /// the first succeeds (the word sampler's stream); the product of the probabilities is
    /// n/(dk).
    #[inline]
    fn bernoulli_and_one_in(&mut self, n: u128, below: &Below, k: u64) -> bool {
        self.bernoulli(n, below) && self.one_in(k)
    }
    /// A fair coin: the discrete Laplace's sign.
    fn fair(&mut self) -> bool;
}

/// The word sampler: whole 64-bit words of the generator, in the order and number the
/// releases made before [`Sampler::Bits`] read them (pinned by tests/sampler_golden.rs).
struct Words<'a, R: ?Sized>(&'a mut R);

impl<R: Rng + ?Sized> Coins for Words<'_, R> {
    #[inline]
    fn uniform(&mut self, below: &Below) -> u128 {
        below.draw(self.0)
    }

    /// A uniform draw below d compared with n (d = 1 reads no word).
    #[inline]
    fn bernoulli(&mut self, n: u128, below: &Below) -> bool {
        below.draw(self.0) < n
    }

    /// Whether a uniform draw on {0, …, k − 1} is 0. It consumes exactly the words
    /// `Below::new(k).draw` would (the low ⌈log₂ k⌉ bits of one word per attempt, none for
    /// k = 1), computed in `u64` since k is a loop counter far below 2⁶⁴.
    #[inline]
    fn one_in(&mut self, k: u64) -> bool {
        if k <= 1 {
            return true;
        }
        let mask = u64::MAX >> (k - 1).leading_zeros();
        loop {
            let candidate = self.0.next_u64() & mask;
            if candidate < k {
                return candidate == 0;
            }
        }
    }

    /// The low bit of one word.
    #[inline]
    fn fair(&mut self) -> bool {
        self.0.next_u64() & 1 == 1
    }
}

/// The Bernoulli(1) of γ = 1 in [`exp_minus_one`]: a uniform draw below 1 is 0 < 1 and
/// reads nothing.
const ONE: Below = Below {
    n: 1,
    mask: 0,
    two_words: false,
};

/// Bernoulli(exp(−γ)) for γ = n/d ∈ [0, 1], d = `below.n` (CKS Algorithm 1): K ← 1; while
/// Bernoulli(γ/K) ([`Coins::bernoulli_and_one_in`]), K ← K + 1; return [K odd].
/// K is a `u64`: reaching 2⁶⁴ would take more loop rounds than can run.
#[inline]
fn exp_neg_fraction<C: Coins>(coins: &mut C, n: u128, below: &Below) -> bool {
    let mut k: u64 = 1;
    while coins.bernoulli_and_one_in(n, below, k) {
        k += 1;
    }
    k % 2 == 1
}

/// Bernoulli(e^{−1}): Algorithm 1 with γ = 1/1, whose Bernoulli(γ) trial succeeds without
/// drawing.
#[inline]
fn exp_minus_one<C: Coins>(coins: &mut C) -> bool {
    exp_neg_fraction(coins, 1, &ONE)
}

/// Bernoulli(exp(−γ)) for γ = whole + rem/den with 0 ≤ rem < den = `below_den.n`:
/// `whole` independent Bernoulli(e^{−1}) (stopping at the first failure) and then
/// Bernoulli(e^{−rem/den}); the product of their probabilities is e^{−γ}.
/// Generic over the counter so that the exact `BigUint` branch shares it.
fn bernoulli_exp_neg<N, C>(whole: &N, rem: u128, below_den: &Below, coins: &mut C) -> bool
where
    N: PartialOrd + From<u8> + AddAssign,
    C: Coins,
{
    let mut done = N::from(0);
    while done < *whole {
        if !exp_minus_one(coins) {
            return false;
        }
        done += N::from(1);
    }
    exp_neg_fraction(coins, rem, below_den)
}

/// The tolerance of a frequency test: the mean of n independent indicators strays from their
/// probability by t or more with probability at most 2e^{−2nt²} (Hoeffding), which is the
/// false-alarm rate α at t = √(ln(2/α)/(2n)).
#[cfg(test)]
pub(super) fn hoeffding_tolerance(n: usize, alpha: f64) -> f64 {
    ((2.0 / alpha).ln() / (2.0 * n as f64)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// The tolerance at 10⁵ trials and α = 10⁻⁹ is √(ln(2·10⁹)/(2·10⁵)) = 0.010348… (the
    /// frequency tests wrote 0.0102 before, a slip on the tight side: their false-alarm rate
    /// was 2e^{−2·10⁵·0.0102²} ≈ 1.8·10⁻⁹, not 10⁻⁹).
    #[test]
    fn hoeffding_tolerance_is_its_formula() {
        let t = hoeffding_tolerance(100_000, 1e-9);
        assert!((0.010348..0.010349).contains(&t), "{t}");
        // Quadrupling n halves it.
        let ratio = hoeffding_tolerance(25_000, 1e-9) / t;
        assert!((ratio - 2.0).abs() < 1e-12, "{ratio}");
    }

    #[test]
    fn uniform_below_stays_in_range_and_hits_every_value() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for n in [1u128, 2, 3, 5, 7, 1 << 64, (1 << 64) + 3] {
            let below = Below::new(n);
            let mut seen_small = [false; 7];
            for _ in 0..2000 {
                let v = below.draw(&mut rng);
                assert!(v < n, "uniform below {n} gave {v}");
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

    /// `Words::one_in(k)` reads the words `Below::new(k).draw` reads and answers whether
    /// that draw is 0: for every k up to 300 (masks of 1 to 9 bits, powers of two and
    /// their neighbours), 50 seeds each, the two leave their generators in the same state
    /// and agree.
    #[test]
    fn one_in_reads_the_same_words_as_a_uniform_draw() {
        for k in 1u64..=300 {
            for seed in 0..50 {
                let mut fast = ChaCha20Rng::seed_from_u64(seed);
                let mut wide = fast.clone();
                assert_eq!(
                    Words(&mut fast).one_in(k),
                    Below::new(u128::from(k)).draw(&mut wide) == 0,
                    "k = {k}, seed {seed}"
                );
                assert_eq!(fast.get_word_pos(), wide.get_word_pos(), "k = {k}");
            }
        }
    }

    /// The scales the exponent tests walk: tiny ones (den below 2⁶⁴, one-word uniforms), the
    /// release's range [2²⁴, 2²⁵] and the largest.
    const SCALES: [u64; 8] = [
        1,
        2,
        3,
        1000,
        1 << 24,
        (1 << 24) + 4_660_987,
        1 << 25,
        MAX_SCALE,
    ];

    /// `exponent` (one 64×64-bit square, the whole part by comparison or by division) and
    /// `exponent_big` (`BigUint`) give the same (⌊a²/den⌋, a² mod den) wherever the first
    /// applies, and the first declines exactly when a = |x·t − s²| ≥ 2⁶⁴. The x walked cover
    /// whole parts 0, 1 and ≥ 2 (x ∈ {0, s, 2s, 2.5s, 3s, 5s, 40s}), a = 0 (x·t = s² needs
    /// t | s², which never holds for t = s + 1 > 1, so x = ⌊s²/t⌋ and its neighbour give the
    /// smallest a) and the 2⁶⁴ edge.
    #[test]
    fn fast_exponent_agrees_with_the_big_one() {
        let mut branches = [0usize; 3];
        for scale in SCALES {
            let dg = DiscreteGaussian::new(scale).unwrap();
            let (s, t, s2) = (u128::from(scale), u128::from(dg.t), u128::from(dg.s2));
            let edge = ((1u128 << 64) + s2).div_ceil(t);
            let mut xs = vec![
                0,
                s2 / t,
                s2 / t + 1,
                s,
                2 * s,
                5 * s / 2,
                3 * s,
                5 * s,
                40 * s,
            ];
            xs.extend((edge.saturating_sub(3))..edge + 3);
            for x in xs {
                let a_big = {
                    let xt = BigUint::from(x) * BigUint::from(t);
                    let s2 = BigUint::from(s2);
                    if xt >= s2 { xt - s2 } else { s2 - xt }
                };
                let fits = a_big < BigUint::from(1u128 << 64);
                match dg.exponent(x) {
                    Some((whole, rem)) => {
                        assert!(fits, "s = {scale}, x = {x}: a ≥ 2⁶⁴ took the fast path");
                        assert_eq!(
                            (BigUint::from(whole), rem),
                            dg.exponent_big(x),
                            "s = {scale}, x = {x}"
                        );
                        branches[whole.min(2) as usize] += 1;
                    }
                    None => assert!(!fits, "s = {scale}, x = {x}: a < 2⁶⁴ was refused"),
                }
            }
        }
        assert!(
            branches.iter().all(|&n| n > 0),
            "branches hit: {branches:?}"
        );
    }

    /// The acceptance decision is the same with a `u128` and a `BigUint` counter of the
    /// whole part, from the same generator state (the sampler uses the first below 2⁶⁴ and
    /// the second above). At s = 1000 the exponent is ≈ 1/2 for x = 0 and x = 2000 (each
    /// decision a coin of bias e^{−1/2} ≈ 0.61), ≈ 1/4 for x = 300 and ≈ 8 for x = 5000;
    /// that both outcomes occur at x = 0 and 2000 is checked (fewer than 20 of either in
    /// 200 has probability below 10⁻⁶⁰).
    #[test]
    fn big_counter_decides_as_the_u128_counter() {
        let dg = DiscreteGaussian::new(1000).unwrap();
        for x in [0u128, 300, 2000, 5000] {
            let (whole, rem) = dg.exponent(x).unwrap();
            let mut accepted = 0;
            for seed in 0..200 {
                let mut fast = ChaCha20Rng::seed_from_u64(seed);
                let mut big = fast.clone();
                let decision = bernoulli_exp_neg(&whole, rem, &dg.below_den, &mut Words(&mut fast));
                assert_eq!(
                    decision,
                    bernoulli_exp_neg(
                        &BigUint::from(whole),
                        rem,
                        &dg.below_den,
                        &mut Words(&mut big)
                    ),
                    "x = {x}, seed {seed}"
                );
                accepted += usize::from(decision);
            }
            if x == 0 || x == 2000 {
                assert!((20..=180).contains(&accepted), "x = {x}: {accepted} of 200");
            }
        }
    }

    /// Bernoulli(exp(−n/d)) frequencies: 10⁵ draws each within [`hoeffding_tolerance`] at a
    /// false-alarm rate of 10⁻⁹.
    #[test]
    fn bernoulli_exp_neg_has_the_right_frequency() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let n = 100_000;
        for (whole, rem, den) in [(0u128, 1u128, 3u128), (0, 2, 2), (1, 1, 2), (2, 0, 1)] {
            let below = Below::new(den);
            let hits = (0..n)
                .filter(|_| bernoulli_exp_neg(&whole, rem, &below, &mut Words(&mut rng)))
                .count();
            let gamma = whole as f64 + rem as f64 / den as f64;
            let freq = hits as f64 / n as f64;
            assert!(
                (freq - (-gamma).exp()).abs() < hoeffding_tolerance(n, 1e-9),
                "γ = {gamma}: {freq}"
            );
        }
    }

    /// The comparison samplers' BigUint exponent 2s²t·u + (xt − s²)² against its definition
    /// and against the u128 one wherever both apply (the only path at s = 2³¹ once V ≥ 2;
    /// review 7), for both formats' constants (v3: t = s + 1, B = t; v4: t = 4⌈s/4⌉, the
    /// multiple of 4 in [s, s + 3], B = t/4); the u128 one declines exactly when a ≥ 2⁶⁴ or
    /// the sum exceeds `u128` (which path runs decides which bits the comparison reads),
    /// x ≥ 2⁶⁴ included.
    #[test]
    fn the_comparison_samplers_big_exponent_is_its_definition_and_the_u128_one() {
        use num_bigint::BigUint;
        let mut checked = 0;
        for s in [1u64, 3, 1000, 1 << 24, (1 << 25) - 1, MAX_SCALE] {
            let dg = DiscreteGaussian::new(s).unwrap();
            assert_eq!((dg.rounds_v3.t, dg.rounds_v3.block), (s + 1, s + 1));
            let v4 = dg.rounds_v4;
            assert!(
                v4.t.is_multiple_of(4) && (s..s + 4).contains(&v4.t),
                "s {s}: t = {}",
                v4.t
            );
            assert_eq!(v4.block * 4, v4.t);
            for rounds in [dg.rounds_v3, v4] {
                let (t, block) = (u128::from(rounds.t), rounds.block);
                for v in [0u128, 1, 2, 3, 7, 100, 5000, 1 << 33, 1 << 40] {
                    let us = [0u64, 1, block / 2, block - 1].into_iter();
                    for u in us.filter(|&u| u < block) {
                        let x = u128::from(u) + u128::from(block) * v;
                        let (num, den) = rounds.exponent_big(x, u);
                        assert_eq!(den, BigUint::from(2 * u128::from(dg.s2) * t * t));
                        // The exponent's definition, independently: 2s²t·u + (xt − s²)².
                        let xt = BigUint::from(x) * BigUint::from(t);
                        let s2 = BigUint::from(dg.s2);
                        let a = if xt >= s2 { &xt - &s2 } else { &s2 - &xt };
                        let want = &a * &a
                            + BigUint::from(2u8) * &s2 * BigUint::from(t) * BigUint::from(u);
                        assert_eq!(num, want, "s {s}, t {t}, x {x}, u {u}");
                        // The u128 path declines exactly when a ≥ 2⁶⁴ or the sum does not fit.
                        let fits = a < BigUint::from(1u128 << 64) && num.bits() <= 128;
                        match rounds.numerator(x, u) {
                            Some(small) => {
                                assert_eq!(BigUint::from(small), num, "s {s}, x {x}, u {u}");
                                checked += 1;
                            }
                            None => assert!(!fits, "s {s}, x {x}, u {u}: declined a fitting one"),
                        }
                    }
                }
            }
        }
        assert!(checked > 200, "{checked}");
    }

    /// `fill_compare` (passes of rounds read ahead, each followed by one round coin by coin)
    /// gives the draws `round_compare` alone gives and leaves the generator at the same word,
    /// for both comparison formats at s = 1 (B = 1 in the fourth: no pass), 2, 3, 5, 7, 1000,
    /// 2²⁴ + 1 and 2³¹ (u128 exponents declined), every length 0 to 40 (the passes' end,
    /// where n·(L + 9) bits leave room for few rounds) and 785; and the passes do run.
    #[test]
    fn rounds_ahead_are_the_rounds_coin_by_coin() {
        let tables = compare::tables();
        for s in [1u64, 2, 3, 5, 7, 1000, (1 << 24) + 1, MAX_SCALE] {
            let dg = DiscreteGaussian::new(s).unwrap();
            let formats = [
                (&dg.rounds_v3, &tables.unit),
                (&dg.rounds_v4, &tables.quarter),
            ];
            for (rounds, geometric) in formats {
                for (seed, len) in (0..=40).chain([785]).enumerate() {
                    let mut rng = ChaCha20Rng::seed_from_u64(seed as u64);
                    let mut fast = vec![0i128; len];
                    DiscreteGaussian::fill_compare(rounds, tables, geometric, &mut rng, &mut fast);
                    let mut coin_rng = ChaCha20Rng::seed_from_u64(seed as u64);
                    let mut bits = BitStream::new(&mut coin_rng);
                    let by_coin: Vec<i128> = (0..len)
                        .map(|_| {
                            loop {
                                let round = DiscreteGaussian::round_compare(
                                    rounds, tables, geometric, &mut bits,
                                );
                                if let Some(z) = round {
                                    break z;
                                }
                            }
                        })
                        .collect();
                    drop(bits);
                    assert_eq!(fast, by_coin, "s {s}, block {}, len {len}", rounds.block);
                    assert_eq!(
                        rng.get_word_pos(),
                        coin_rng.get_word_pos(),
                        "s {s}, block {}, len {len}",
                        rounds.block
                    );
                }
            }
        }
        let dg = DiscreteGaussian::new(1 << 24).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut out = vec![0i128; 785];
        let mut bits = BitStream::new(&mut rng);
        let ahead =
            lookahead::rounds_ahead(&dg.rounds_v4, tables, &tables.quarter, &mut bits, &mut out);
        // The passes are exercised: with this seed the first one writes draws (were it to
        // write none, the comparison above would be of the coin-by-coin path with itself).
        assert!(ahead > 0, "the first pass wrote nothing");
    }
}
