//! The comparison sampler's coin ([`super::Sampler::Compare`]): whether a uniform W ∈ [0, 1)
//! lies below e^{−γ} for a rational γ ≥ 0, decided exactly with integers only.
//!
//! # The decision (proofs/lattice_release.md, item 1, "The comparison sampler")
//!
//! W's binary digits are read from the bit stream lazily ([`Uniform`]): [`DIGITS`] at a time,
//! most significant first, up to its first 64 (w = ⌊W·2⁶⁴⌋), then 64 at a time. A *fast
//! bracket* L ≤ e^{−γ}·2⁶⁴ ≤ H ([`exp_neg_fast`], u64 and u128 arithmetic, H − L ≤
//! 2 + L·2⁻⁵²) decides as soon as the digits read so far put every completion w below L
//! (true: W < (w + 1)/2⁶⁴ ≤ L/2⁶⁴) or every completion at or above H (false), usually after
//! the first 8 digits. Only when all of w lies in the window (probability below 2⁻⁵¹) does
//! the *exact path*
//! ([`exp_neg_bracket_big`], `BigUint`) bracket e^{−γ} ever more finely against ever more
//! of W's digits. The answer is the event [W < e^{−γ}] of the stream whichever bracket
//! decided it, so it has probability e^{−γ}, and since everything is integer arithmetic the
//! same bits give the same answer and read the same bits on every machine.
//!
//! # The fast bracket
//!
//! γ·2⁶⁴ is bracketed by [X_lo, X_hi] through a reciprocal of the denominator computed once
//! ([`Reciprocal`]); e^{−X_hi/2⁶⁴} is the product of e^{−n} (n = ⌊X_hi/2⁶⁴⌋ ≤ 44) and of
//! e^{−i/2⁸}, e^{−j/2¹⁶}, e^{−l/2²⁴} for the fraction's three leading bytes (tables of lower
//! bounds computed once per process by the exact path, [`tables`]), times a quadratic lower
//! bound of e^{−δ} for the rest δ < 2⁻²⁴; every factor a lower bound and every product
//! floored, so the result L is a lower bound, short by less than a relative 2⁻⁵⁸ (the proof
//! counts each step); H adds that deficit and the width of [X_lo, X_hi].

use super::bits::BitStream;
use num_bigint::BigUint;
use rand::Rng;
use std::sync::OnceLock;

/// γ ≥ [`FAST_LIMIT`]·2⁶⁴/2⁶⁴ = 45 gives e^{−γ}·2⁶⁴ < e^{−44.5}·2⁶⁴ < 0.87: the fast bracket is
/// [0, 1] (the tables cover n ≤ 44).
const FAST_LIMIT: u128 = 45 << 64;

/// The number of integer exponents n = 0, …, 44 the tables cover.
const WHOLE: usize = 45;

/// W's digits read per step while its first 64 are incomplete: a step decides unless W's
/// interval so far meets the window [L − 1, H), so about 8 digits a comparison are read,
/// where a whole word would be 64.
const DIGITS: u32 = 8;

/// Guard bits of the exact path: a bracket asked at 2ᴾ is computed at 2^{P+64}.
const GUARD: u32 = 64;

/// Extra bits the tables are computed with before they are floored: a bracket of width
/// ≤ 2⁸ at 2^{63+8} gives a table entry E with E ≤ e^{−·}·2⁶³ < E + 2.
const TABLE_EXTRA: u32 = 8;

/// A uniform W ∈ [0, 1) whose binary digits are the stream's bits, read only as far as the
/// comparisons need: `first` holds the `known` leading digits of ⌊W·2⁶⁴⌋, left-aligned (the
/// rest zero; each read of [`DIGITS`] bits, [`BitStream::take`]'s integer, supplies the next
/// digits, its most significant bit first), `more` the next words of digits, read only by
/// the exact path (the first of them the most significant).
pub(super) struct Uniform {
    first: u64,
    known: u32,
    more: Vec<u64>,
}

impl Uniform {
    /// A fresh uniform with no digit read yet (no allocation: `more` starts empty).
    #[inline]
    pub(super) fn new() -> Self {
        Uniform {
            first: 0,
            known: 0,
            more: Vec::new(),
        }
    }

    /// Reads the next [`DIGITS`] digits of ⌊W·2⁶⁴⌋ (`known` < 64).
    #[inline]
    fn read_digits<R: Rng + ?Sized>(&mut self, bits: &mut BitStream<'_, R>) {
        self.first |= bits.take(DIGITS) << (64 - self.known - DIGITS);
        self.known += DIGITS;
    }

    /// ⌊W·2^{64·(1 + more.len())}⌋: every digit read so far.
    fn prefix(&self) -> BigUint {
        self.more
            .iter()
            .fold(BigUint::from(self.first), |acc, &word| {
                (acc << 64u32) + BigUint::from(word)
            })
    }
}

/// The denominator den ≥ 4 of the exponents γ = num/den a sampler compares with, and its
/// reciprocal R = ⌊2^{b+62}/den⌋ for 2^{b−1} ≤ den < 2ᵇ, so that R ≤ 2^{b+62}/den < R + 1
/// and R ∈ (2⁶², 2⁶³].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Reciprocal {
    den: u128,
    r: u64,
    /// sh = b − 2: γ·2⁶⁴ = num·2^{b+62}/den / 2^{sh}.
    shift: u32,
}

impl Reciprocal {
    /// The reciprocal of `den` (≥ 4: every sampler's den = 2s²t² ≥ 8), computed exactly.
    pub(super) fn new(den: u128) -> Self {
        let bits = 128 - den.leading_zeros();
        let r = (BigUint::from(1u8) << (bits + 62)) / BigUint::from(den);
        // R ≤ 2⁶³ (den ≥ 2^{b−1}): the conversion cannot fail; the fallback keeps it total.
        let r = u64::try_from(r).unwrap_or(1 << 63);
        Reciprocal {
            den,
            r,
            shift: bits.saturating_sub(2),
        }
    }

    /// [X_lo, X_hi] with X_lo ≤ (num/den)·2⁶⁴ < X_hi: X_lo = ⌊num·R/2^sh⌋ (the product in
    /// 192 bits) and X_hi = X_lo + ⌊num/2^sh⌋ + 2; `None` when either exceeds 2¹²⁸ (then
    /// γ > 2⁶³ and e^{−γ}·2⁶⁴ < 1).
    #[inline]
    fn fixed(&self, num: u128) -> Option<(u128, u128)> {
        let r = u128::from(self.r);
        // num·R = hi·2⁶⁴ + lo with lo < 2⁶⁴: both partial products are below 2¹²⁷.
        let low = u128::from(num as u64) * r;
        let hi = (num >> 64) * r + (low >> 64);
        let lo = low as u64;
        let x_lo = if self.shift >= 64 {
            hi >> (self.shift - 64)
        } else {
            let up = 64 - self.shift;
            if hi.leading_zeros() < up {
                return None;
            }
            (hi << up) | u128::from(lo >> self.shift)
        };
        let x_hi = x_lo.checked_add(num >> self.shift)?.checked_add(2)?;
        Some((x_lo, x_hi))
    }
}

/// Lower bounds of exponentials, computed once per process by the exact path.
pub(super) struct Tables {
    /// E₁[i] ≤ e^{−i/2⁸}·2⁶³ < E₁[i] + 2.
    e1: [u64; 256],
    /// E₂[j] ≤ e^{−j/2¹⁶}·2⁶³ < E₂[j] + 2.
    e2: [u64; 256],
    /// E₃[l] ≤ e^{−l/2²⁴}·2⁶³ < E₃[l] + 2.
    e3: [u64; 256],
    /// e^{−n} = (M_n + θ)·2^{−63−k_n}, M_n ∈ [2⁶³, 2⁶⁴), θ ∈ [0, 2), for n < 45.
    whole: [(u64, u32); WHOLE],
    /// (lo, hi) with lo ≤ e^{−v}·2⁶⁴ ≤ hi, for v < 45: the geometric V's thresholds.
    geometric: [(u128, u128); WHOLE],
}

/// The tables, computed on first use (a few milliseconds of `BigUint` series).
pub(super) fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let one = BigUint::from(1u8);
        let entry = |num: u64, den_log2: u32| -> u64 {
            let (lo, _) =
                exp_neg_bracket_big(&BigUint::from(num), &(&one << den_log2), 63 + TABLE_EXTRA);
            u64::try_from(lo >> TABLE_EXTRA).unwrap_or(u64::MAX)
        };
        let whole = std::array::from_fn(|n| {
            // e^{−n}·2^{135} ≥ e^{−44}·2^{135} > 2⁷¹: at least 72 bits, the top 64 kept.
            let prec = 63 + 64 + TABLE_EXTRA;
            let (lo, _) = exp_neg_bracket_big(&BigUint::from(n), &one, prec);
            let bits = u32::try_from(lo.bits()).unwrap_or(u32::MAX);
            let m = u64::try_from(lo >> (bits - 64)).unwrap_or(u64::MAX);
            (m, prec + 1 - bits)
        });
        let geometric = std::array::from_fn(|v| {
            let (lo, hi) = exp_neg_bracket_big(&BigUint::from(v), &one, 64);
            (
                u128::try_from(lo).unwrap_or(0),
                u128::try_from(hi).unwrap_or(u128::MAX),
            )
        });
        Tables {
            e1: std::array::from_fn(|i| entry(i as u64, 8)),
            e2: std::array::from_fn(|j| entry(j as u64, 16)),
            e3: std::array::from_fn(|l| entry(l as u64, 24)),
            whole,
            geometric,
        }
    })
}

/// The fast bracket (L, H) of e^{−γ}·2⁶⁴ for γ·2⁶⁴ ∈ [X_hi − 182, X_hi] (the
/// [`Reciprocal::fixed`] interval when X_hi < 45·2⁶⁴): L ≤ e^{−γ}·2⁶⁴ ≤ H = L + 2 + ⌊L/2⁵²⌋
/// (proofs/lattice_release.md, "The fast bracket", which counts the error of each step).
/// [0, 1] when X_hi ≥ 45·2⁶⁴.
#[inline]
fn exp_neg_fast(tables: &Tables, x_hi: u128) -> (u128, u128) {
    if x_hi >= FAST_LIMIT {
        return (0, 1);
    }
    // x_hi < 45·2⁶⁴: n ≤ 44.
    let (m, k) = tables.whole[(x_hi >> 64) as usize];
    let f = x_hi as u64;
    let e1 = u128::from(tables.e1[(f >> 56) as usize]);
    let e2 = u128::from(tables.e2[((f >> 48) & 0xff) as usize]);
    let e3 = u128::from(tables.e3[((f >> 40) & 0xff) as usize]);
    // δ = r/2⁶⁴ < 2⁻²⁴: Q = 2⁶³ − ⌈r/2⌉ + ⌊r²/2⁶⁶⌋ − 1 ≤ e^{−δ}·2⁶³ < Q + 3.
    let r = u128::from(f & ((1 << 40) - 1));
    let q = (1u128 << 63) - r.div_ceil(2) + ((r * r) >> 66) - 1;
    // Each factor ≤ 2⁶³: every product below 2¹²⁷.
    let a = (e1 * e2) >> 63;
    let b = (a * e3) >> 63;
    let c = (b * q) >> 63;
    let low = (u128::from(m) * c) >> (62 + k);
    (low, low + 2 + (low >> 52))
}

/// Whether W < e^{−γ}, given a fast bracket (lo, hi) of e^{−γ}·2⁶⁴ and, for the rare window
/// between, γ = p/q for the exact path (`exact`, called only then).
#[inline]
fn decide<R, F>(w: &mut Uniform, bits: &mut BitStream<'_, R>, fast: (u128, u128), exact: F) -> bool
where
    R: Rng + ?Sized,
    F: FnOnce() -> (BigUint, BigUint),
{
    loop {
        // w ∈ [low, low + span) whatever the digits not read yet.
        let low = u128::from(w.first);
        let span = 1u128 << (64 - w.known);
        if low + span <= fast.0 {
            // W < (w + 1)/2⁶⁴ ≤ lo/2⁶⁴ ≤ e^{−γ}.
            return true;
        }
        if low >= fast.1 {
            // W ≥ w/2⁶⁴ ≥ hi/2⁶⁴ ≥ e^{−γ}.
            return false;
        }
        if w.known == 64 {
            let (p, q) = exact();
            return less_than_exp_neg_exact(w, bits, &p, &q);
        }
        w.read_digits(bits);
    }
}

/// Whether W < e^{−num/den} for den = `recip.den`: the fast bracket, the exact path in its
/// window.
#[inline]
pub(super) fn less_than_exp_neg<R: Rng + ?Sized>(
    tables: &Tables,
    w: &mut Uniform,
    bits: &mut BitStream<'_, R>,
    num: u128,
    recip: &Reciprocal,
) -> bool {
    if num == 0 {
        return true;
    }
    let fast = match recip.fixed(num) {
        Some((_, x_hi)) => exp_neg_fast(tables, x_hi),
        None => (0, 1),
    };
    decide(w, bits, fast, || {
        (BigUint::from(num), BigUint::from(recip.den))
    })
}

/// V = max{v ≥ 0 : W < e^{−v}} for a fresh uniform W: P[V ≥ v] = e^{−v}, the number of
/// successes of Bernoulli(e^{−1}) before the first failure.
#[inline]
pub(super) fn geometric<R: Rng + ?Sized>(tables: &Tables, bits: &mut BitStream<'_, R>) -> u64 {
    let mut w = Uniform::new();
    let mut v: u64 = 0;
    loop {
        let next = v + 1;
        // e^{−45}·2⁶⁴ < 1: [0, 1] beyond the table.
        let fast = usize::try_from(next)
            .ok()
            .and_then(|i| tables.geometric.get(i).copied())
            .unwrap_or((0, 1));
        if !decide(&mut w, bits, fast, || {
            (BigUint::from(next), BigUint::from(1u8))
        }) {
            return v;
        }
        v = next;
    }
}

/// Whether W < e^{−p/q} (q ≥ 1), by the exact path alone: W's first 64 digits completed,
/// then its first B = 64·(1 + words read) digits against the bracket of e^{−p/q}·2^{B+64},
/// reading one more word of W while W's interval [w_B, w_B + 1)·2⁶⁴ meets the bracket.
/// γ = 0 is true without reading.
pub(super) fn less_than_exp_neg_exact<R: Rng + ?Sized>(
    w: &mut Uniform,
    bits: &mut BitStream<'_, R>,
    p: &BigUint,
    q: &BigUint,
) -> bool {
    if p.bits() == 0 {
        return true;
    }
    while w.known < 64 {
        w.read_digits(bits);
    }
    loop {
        let digits = 64 * (1 + w.more.len() as u32);
        let (lo, hi) = exp_neg_bracket_big(p, q, digits + 64);
        let prefix = w.prefix();
        if (&prefix + 1u8) << 64u32 <= lo {
            return true;
        }
        if prefix << 64u32 >= hi {
            return false;
        }
        w.more.push(bits.take(64));
    }
}

/// ⌈a/b⌉ for b ≥ 1.
fn ceil_div(a: &BigUint, b: &BigUint) -> BigUint {
    (a + b - 1u8) / b
}

/// a − b, or 0 when b > a (only a lower bound is ever clamped so).
fn sub_or_zero(a: BigUint, b: &BigUint) -> BigUint {
    if a >= *b { a - b } else { BigUint::ZERO }
}

/// (lo, hi) with lo ≤ e^{−p/q}·2^prec ≤ hi (q ≥ 1), a few units apart: n = ⌊p/q⌋ and
/// f = p/q − n ∈ [0, 1); e^{−f} by its alternating Taylor series and e^{−n} by powering
/// e^{−1}'s bracket, each at 2^{prec + 64}, every rounding directed (floors in the lower
/// bound, ceilings in the upper); e^{−n}·2^{prec+64} < 1 for n ≥ prec + 64 (then [0, 1]).
pub(super) fn exp_neg_bracket_big(p: &BigUint, q: &BigUint, prec: u32) -> (BigUint, BigUint) {
    let g = prec + GUARD;
    let n = p / q;
    let (f_lo, f_hi) = exp_neg_series(&(p % q), q, g);
    let (n_lo, n_hi) = match u32::try_from(&n) {
        Ok(n) if n < g => {
            let (e_lo, e_hi) = exp_neg_series(&BigUint::from(1u8), &BigUint::from(1u8), g);
            power(&e_lo, &e_hi, n, g)
        }
        _ => (BigUint::ZERO, BigUint::from(1u8)),
    };
    let unit = BigUint::from(1u8) << (g + GUARD);
    let lo = (n_lo * f_lo) >> (g + GUARD);
    let hi = ceil_div(&(n_hi * f_hi), &unit);
    (lo, hi)
}

/// (lo, hi) with lo ≤ e^{−f}·2ᵍ ≤ hi for f = fp/q ∈ [0, 1]: Σ_k (−1)ᵏ t_k, t_k = fᵏ/k!
/// non-increasing, so the sum to N is within t_{N+1} of the limit. Each t_k is bracketed by
/// floor and ceiling of the previous bracket times f/k; the series stops at the first term
/// whose upper bracket is ≤ 1, which bounds the remainder.
fn exp_neg_series(fp: &BigUint, q: &BigUint, g: u32) -> (BigUint, BigUint) {
    let one = BigUint::from(1u8) << g;
    let (mut t_lo, mut t_hi) = (one.clone(), one.clone());
    let (mut even_lo, mut even_hi) = (one.clone(), one);
    let (mut odd_lo, mut odd_hi) = (BigUint::ZERO, BigUint::ZERO);
    let mut k: u32 = 1;
    let tail = loop {
        let d = q * k;
        t_lo = (&t_lo * fp) / &d;
        t_hi = ceil_div(&(&t_hi * fp), &d);
        if t_hi <= BigUint::from(1u8) {
            break t_hi;
        }
        if k % 2 == 1 {
            odd_lo += &t_lo;
            odd_hi += &t_hi;
        } else {
            even_lo += &t_lo;
            even_hi += &t_hi;
        }
        k += 1;
    };
    let lo = sub_or_zero(even_lo, &(odd_hi + &tail));
    // cosh f ≥ sinh f: the even terms' sum is at least the odd ones'.
    let hi = sub_or_zero(even_hi + tail, &odd_lo);
    (lo, hi)
}

/// (lo, hi) with lo ≤ (base)ⁿ·2ᵍ ≤ hi given lo₁ ≤ base·2ᵍ ≤ hi₁: powering by squaring,
/// floors for lo and ceilings for hi (products of non-negative bounds stay bounds).
fn power(base_lo: &BigUint, base_hi: &BigUint, n: u32, g: u32) -> (BigUint, BigUint) {
    let unit = BigUint::from(1u8) << g;
    let (mut lo, mut hi) = (unit.clone(), unit.clone());
    let (mut b_lo, mut b_hi) = (base_lo.clone(), base_hi.clone());
    let mut e = n;
    while e > 0 {
        if e & 1 == 1 {
            lo = (&lo * &b_lo) >> g;
            hi = ceil_div(&(&hi * &b_hi), &unit);
        }
        e >>= 1;
        if e > 0 {
            b_lo = (&b_lo * &b_lo) >> g;
            b_hi = ceil_div(&(&b_hi * &b_hi), &unit);
        }
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// The denominators 2s²t² (t = s + 1) of the scales the samplers are tested at.
    fn dens() -> Vec<u128> {
        [
            1u64,
            3,
            1000,
            1 << 24,
            (1 << 24) + 4_660_987,
            1 << 25,
            1 << 31,
        ]
        .iter()
        .map(|&s| 2 * u128::from(s * s) * u128::from(s + 1) * u128::from(s + 1))
        .collect()
    }

    /// The exact bracket of e^{−p/q}·2^prec at 64 more bits, against which a claim at 2^prec
    /// is checked: (lo, hi) at 2^{prec+64}.
    fn finer(p: u128, q: u128, prec: u32) -> (BigUint, BigUint) {
        exp_neg_bracket_big(&BigUint::from(p), &BigUint::from(q), prec + 64)
    }

    /// Every table entry is what the fast bracket's proof assumes, checked against the exact
    /// path at 64 more bits: E ≤ e^{−·}·2⁶³ < E + 2 (E₁, E₂, E₃), M_n ∈ [2⁶³, 2⁶⁴) with
    /// M_n ≤ e^{−n}·2^{63+k_n} < M_n + 2, and lo ≤ e^{−v}·2⁶⁴ ≤ hi for V's thresholds.
    #[test]
    fn tables_hold_the_bounds_the_proof_uses() {
        let t = tables();
        let shifted = |e: u128, by: u32| BigUint::from(e) << by;
        for (table, den_log2) in [(&t.e1, 8), (&t.e2, 16), (&t.e3, 24)] {
            for (i, &e) in table.iter().enumerate() {
                let (lo, hi) = finer(i as u128, 1 << den_log2, 63);
                assert!(
                    shifted(e.into(), 64) <= lo,
                    "2^-{den_log2} table, entry {i}"
                );
                assert!(
                    hi < shifted(u128::from(e) + 2, 64),
                    "2^-{den_log2}, entry {i}"
                );
            }
        }
        for (n, &(m, k)) in t.whole.iter().enumerate() {
            assert!(m >= 1 << 63, "e^-{n}: mantissa {m}");
            let (lo, hi) = finer(n as u128, 1, 63 + k);
            assert!(shifted(m.into(), 64) <= lo, "e^-{n}");
            assert!(hi < shifted(u128::from(m) + 2, 64), "e^-{n}");
        }
        for (v, &(lo64, hi64)) in t.geometric.iter().enumerate() {
            let (lo, hi) = finer(v as u128, 1, 64);
            assert!(shifted(lo64, 64) <= lo && hi <= shifted(hi64, 64), "e^-{v}");
            assert!(hi64 - lo64 <= 2, "e^-{v}: width {}", hi64 - lo64);
        }
    }

    /// The fast bracket holds the exact value: for every tested denominator and γ from 0 to
    /// 50 (random numerators, plus the table edges: γ with fraction bytes 0x00 and 0xff and
    /// γ ≈ 44.5 to 45.5 around the [0, 1] cut), L·2⁶⁴ ≤ the exact lower bound and the exact
    /// upper bound ≤ H·2⁶⁴ at 2¹²⁸, and H − L ≤ 2 + ⌊L/2⁵²⌋.
    #[test]
    fn fast_bracket_contains_the_exact_value() {
        let t = tables();
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        for den in dens() {
            let recip = Reciprocal::new(den);
            // γ = num/den: 300 random values on [0, 50) (the f64 only chooses the cases),
            // and the edges of whole parts 0, 1, 44, 45 and γ = 44.5 (where they fit u128).
            let mut nums: Vec<u128> = (0..300)
                .map(|_| {
                    let gamma = (rng.next_u64() >> 11) as f64 * 50.0 / (1u64 << 53) as f64;
                    (den as f64 * gamma) as u128
                })
                .collect();
            for whole in [0u128, 1, 44, 45] {
                let edges = [
                    den.checked_mul(whole),
                    den.checked_mul(whole).and_then(|n| n.checked_add(den / 2)),
                    den.checked_mul(whole + 1).map(|n| n - 1),
                ];
                nums.extend(edges.into_iter().flatten());
            }
            nums.extend((den / 2).checked_mul(89));
            for num in nums {
                let Some((_, x_hi)) = recip.fixed(num) else {
                    continue;
                };
                let (l, h) = exp_neg_fast(t, x_hi);
                assert!(h - l <= 2 + (l >> 52), "den {den}, num {num}: {l}..{h}");
                let (lo, hi) = finer(num, den, 64);
                assert!(
                    BigUint::from(l) << 64u32 <= lo,
                    "den {den}, num {num}: L = {l}"
                );
                assert!(
                    hi <= BigUint::from(h) << 64u32,
                    "den {den}, num {num}: H = {h}"
                );
            }
        }
    }

    /// `Reciprocal::fixed` brackets γ·2⁶⁴ (X_lo ≤ γ·2⁶⁴ < X_hi, checked exactly in
    /// `BigUint`) for small and large den, shifts below and above 64.
    #[test]
    fn reciprocal_brackets_the_exponent() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        for den in dens().into_iter().chain([4, 5, 1 << 70, (1 << 100) + 7]) {
            let recip = Reciprocal::new(den);
            for _ in 0..200 {
                let num = u128::from(rng.next_u64()) * u128::from(rng.next_u64() >> 20);
                let Some((x_lo, x_hi)) = recip.fixed(num) else {
                    continue;
                };
                let scaled = BigUint::from(num) << 64u32;
                assert!(BigUint::from(x_lo) * den <= scaled, "den {den}, num {num}");
                assert!(scaled < BigUint::from(x_hi) * den, "den {den}, num {num}");
            }
        }
    }

    /// The exact path's decision for a W whose first word is `first` and whose further
    /// digits come from `stream`, and how many further words it read.
    fn exact_from(first: u64, stream: &mut ChaCha20Rng, p: &BigUint, q: &BigUint) -> (bool, usize) {
        let mut w = Uniform {
            first,
            known: 64,
            more: Vec::new(),
        };
        let less = less_than_exp_neg_exact(&mut w, &mut BitStream::new(stream), p, q);
        (less, w.more.len())
    }

    /// The lazy digit-by-digit decision is the fast bracket's decision on W's whole first
    /// word, and the exact path decides as the fast bracket wherever that decides (200
    /// uniforms a γ, γ over [0, 3] at the release's s); in the fast window it gives the
    /// answer a bracket at 512 bits gives against W's first 448 digits: W's first word is
    /// placed in [L − 1, H] (where the fast bracket cannot decide) and its further digits
    /// come from a seeded stream.
    #[test]
    fn exact_path_decides_as_the_fast_one() {
        let t = tables();
        let den = 2 * (1u128 << 48) * ((1u128 << 24) + 1) * ((1u128 << 24) + 1);
        let recip = Reciprocal::new(den);
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let mut windows = 0;
        for step in 0..60u128 {
            let num = den * step / 20 + step;
            let (_, x_hi) = recip.fixed(num).unwrap();
            let (l, h) = exp_neg_fast(t, x_hi);
            let (p, q) = (BigUint::from(num), BigUint::from(den));
            for _ in 0..200 {
                // The lazy decision, then W's first word completed from the same digits.
                let mut lazy = Uniform::new();
                let mut bits = BitStream::new(&mut rng);
                let fast = decide(&mut lazy, &mut bits, (l, h), || {
                    unreachable!("the window has probability below 2^-51")
                });
                while lazy.known < 64 {
                    lazy.read_digits(&mut bits);
                }
                let first = lazy.first;
                let full = u128::from(first);
                assert_eq!(fast, full < l, "num {num}, W's word {first}");
                assert!(full < l || full >= h, "num {num}: decided in the window");
                let (exact, words) = exact_from(first, &mut rng.clone(), &p, &q);
                assert_eq!(fast, exact, "num {num}, W's word {first}");
                assert_eq!(words, 0, "the exact path read more than it needed");
            }
            // Twelve points across the window [L − 1, H] (its ends included).
            let (start, width) = (l.saturating_sub(1), h + 1 - l.saturating_sub(1));
            let points = (0..12u128)
                .map(|k| start + width * k / 11)
                .map(|v| v.min(h));
            for first in points.filter_map(|v| u64::try_from(v).ok()) {
                windows += 1;
                let seed = u64::try_from(step).unwrap() ^ first;
                let (exact, _) = exact_from(first, &mut ChaCha20Rng::seed_from_u64(seed), &p, &q);
                let mut digits = ChaCha20Rng::seed_from_u64(seed);
                let mut bits = BitStream::new(&mut digits);
                let long = Uniform {
                    first,
                    known: 64,
                    more: (0..6).map(|_| bits.take(64)).collect(),
                };
                let (lo, hi) = exp_neg_bracket_big(&p, &q, 512);
                let prefix = long.prefix() << 64u32;
                let below = (long.prefix() + 1u8) << 64u32 <= lo;
                assert!(below || prefix >= hi, "512 bits did not decide num {num}");
                assert_eq!(exact, below, "num {num}, W's word {first}");
            }
        }
        assert!(windows > 500, "only {windows} window cases");
    }

    /// Frequencies: W < e^{−γ} for 10⁵ uniforms at γ ∈ {0.01, 0.5, 1, 2.7, 9} (s = 2²⁴'s den)
    /// and V's tail P[V ≥ v] = e^{−v} for v = 1, 2, 3, 5; the Hoeffding bound
    /// √(ln(2/α)/(2n)) at α = 10⁻⁹ is 0.0102.
    #[test]
    fn comparisons_have_the_right_frequencies() {
        let t = tables();
        let den = 2 * (1u128 << 48) * ((1u128 << 24) + 1) * ((1u128 << 24) + 1);
        let recip = Reciprocal::new(den);
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let mut bits = BitStream::new(&mut rng);
        let n = 100_000;
        for gamma in [0.01f64, 0.5, 1.0, 2.7, 9.0] {
            let num = (den as f64 * gamma) as u128;
            let hits = (0..n)
                .filter(|_| {
                    let mut w = Uniform::new();
                    less_than_exp_neg(t, &mut w, &mut bits, num, &recip)
                })
                .count();
            let freq = hits as f64 / n as f64;
            assert!(
                (freq - (-gamma).exp()).abs() < 0.0102,
                "γ = {gamma}: {freq}"
            );
        }
        let vs: Vec<u64> = (0..n).map(|_| geometric(t, &mut bits)).collect();
        for v in [1u64, 2, 3, 5] {
            let freq = vs.iter().filter(|&&x| x >= v).count() as f64 / n as f64;
            assert!(
                (freq - (-(v as f64)).exp()).abs() < 0.0102,
                "P[V ≥ {v}] = {freq}"
            );
        }
    }

    /// A generator whose first words are scripted, then a seeded ChaCha20 stream.
    struct Scripted {
        words: std::collections::VecDeque<u64>,
        rest: ChaCha20Rng,
    }

    impl rand::TryRng for Scripted {
        type Error = std::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(self.try_next_u64()? as u32)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(self
                .words
                .pop_front()
                .unwrap_or_else(|| self.rest.next_u64()))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for b in dst {
                *b = self.try_next_u64()? as u8;
            }
            Ok(())
        }
    }

    /// A stream whose W (read by `Uniform`: 8 `take(8)`s, each byte most significant digit
    /// first, then whole words) has first word `first`, then the words of seed `seed`.
    fn scripted(first: u64, seed: u64) -> Scripted {
        Scripted {
            // take(8) reads the word's low byte first and puts it in W's top byte.
            words: [first.swap_bytes()].into_iter().collect(),
            rest: ChaCha20Rng::seed_from_u64(seed),
        }
    }

    /// [W < e^{-p/q}] by a 512-bit bracket against W's first 448 digits (first word `first`,
    /// then six words of seed `seed`).
    fn reference(first: u64, seed: u64, p: u128, q: u128) -> bool {
        let mut rest = ChaCha20Rng::seed_from_u64(seed);
        let w = Uniform {
            first,
            known: 64,
            more: (0..6).map(|_| rest.next_u64()).collect(),
        };
        let (lo, hi) = exp_neg_bracket_big(&BigUint::from(p), &BigUint::from(q), 512);
        let below = (w.prefix() + 1u8) << 64u32 <= lo;
        assert!(
            below || w.prefix() << 64u32 >= hi,
            "512 bits did not decide"
        );
        below
    }

    /// W's first word scripted into the fast bracket's window, for the acceptance at the
    /// release's s = 2²⁴ and for V's thresholds: the closures `less_than_exp_neg` and
    /// `geometric` hand to the exact path must decide [W < e^{−γ}] as a 512-bit bracket
    /// does (the window has probability ≈ 2⁻⁵¹, so no other test reaches it; review 7).
    #[test]
    fn the_window_is_decided_by_the_exact_path_through_the_real_closures() {
        let t = tables();
        // The acceptance: less_than_exp_neg's closure (num, den) at the release's s = 2^24.
        let s: u128 = 1 << 24;
        let den = 2 * s * s * (s + 1) * (s + 1);
        let recip = Reciprocal::new(den);
        let mut cases = 0;
        for step in 1..80u128 {
            let num = den * step / 25 + 7 * step;
            let (_, x_hi) = recip.fixed(num).unwrap();
            let (l, h) = exp_neg_fast(t, x_hi);
            // Every w in the window [L, H - 1] leaves the fast bracket undecided.
            for first in [l, (l + h) / 2, h - 1] {
                let Ok(first) = u64::try_from(first) else {
                    continue;
                };
                let seed = (step as u64) << 8 ^ first;
                let mut rng = scripted(first, seed);
                let mut bits = BitStream::new(&mut rng);
                let mut w = Uniform::new();
                let got = less_than_exp_neg(t, &mut w, &mut bits, num, &recip);
                assert_eq!(
                    w.known, 64,
                    "num {num}: the fast bracket decided in its window"
                );
                assert_eq!(
                    got,
                    reference(first, seed, num, den),
                    "num {num}, w {first}"
                );
                cases += 1;
            }
        }
        // V: geometric's closure (next, 1). W's first word in e^{-v}'s window (v ≤ 44), or 0
        // (v ≥ 45, where the fast bracket is [0, 1]); V must be the reference's.
        for v in 1..=44usize {
            let (lo, hi) = t.geometric[v];
            for first in [lo, hi - 1] {
                let Ok(first) = u64::try_from(first) else {
                    continue;
                };
                for seed in 0..4u64 {
                    let mut rng = scripted(first, seed);
                    let got = geometric(t, &mut BitStream::new(&mut rng));
                    let mut want = 0u64;
                    while reference(first, seed, u128::from(want + 1), 1) {
                        want += 1;
                    }
                    assert_eq!(got, want, "v {v}, w {first}, seed {seed}");
                    assert!(got + 1 >= v as u64 && got <= v as u64, "v {v}: V = {got}");
                    cases += 1;
                }
            }
        }
        for seed in 0..8u64 {
            let mut rng = scripted(0, seed);
            let got = geometric(t, &mut BitStream::new(&mut rng));
            let mut want = 0u64;
            while reference(0, seed, u128::from(want + 1), 1) {
                want += 1;
            }
            assert_eq!(got, want, "w = 0, seed {seed}");
            assert!(got >= 44, "w = 0: V = {got}");
        }
        assert!(cases > 300, "{cases}");
    }
}
