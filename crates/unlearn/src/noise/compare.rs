//! The comparison samplers' coin ([`super::Sampler::Compare`], [`super::Sampler::CompareV4`]):
//! whether a uniform W ∈ [0, 1) lies below e^{−γ} for a rational γ ≥ 0, decided exactly with
//! integers only, and the geometric V built from it (P[V ≥ v] = e^{−v/q}, [`Geometric`], step
//! q = 1 for the third format and 4 for the fourth).
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
//!
//! # The coarse bracket
//!
//! The fast bracket's chain of products is needed only when W's first byte c does not
//! already decide: on that byte it decides true when (c + 1)·2⁵⁶ ≤ L and false when
//! c·2⁵⁶ ≥ H, which, L and H being within a relative 2⁻⁵² of e^{−X_hi/2⁶⁴}·2⁶⁴, is a
//! comparison of X_hi with two thresholds of c, about 2⁶⁴·ln(256/(c + 1)) and
//! 2⁶⁴·ln(256/c). [`coarse_thresholds`] computes them once per process, by bisection over the
//! fast bracket itself, each certified at its own point so that X_hi below the first implies
//! (c + 1)·2⁵⁶ ≤ L and X_hi at or above the second implies c·2⁵⁶ ≥ H. An acceptance
//! comparison is then the reciprocal product, one byte of W, one table row and two `u128`
//! comparisons; the chain runs for the one byte in about 256 that lies across e^{−γ}. The
//! coarse bracket decides only where the fast one decides on the same byte, and as it does:
//! the answers and the digits read are the fast bracket's, and so are the draws. V's
//! geometric likewise starts from a table of what W₁'s first byte decides
//! ([`Geometric::by_byte`]): one lookup instead of a loop of comparisons, except on the
//! 6 bytes of 256 that lie across a threshold e^{−v} (20 for the thresholds e^{−v/4}).

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

/// The shift of a [`Reciprocal`] that gives no interval ([`Reciprocal::fixed`] is `None`).
const NO_INTERVAL: u32 = u32::MAX;

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
    more: Digits,
}

/// W's digits past its first 64, read only by the exact path (about 2⁻⁵¹ of the
/// comparisons): they are noise, so the words are zeroed before their buffer is freed —
/// when it grows into a new one and when it is dropped (review 12 finding 6, review 13
/// finding F5). Empty, it never allocated and its drop zeroes nothing, so the fast path's
/// `Uniform`s pay one capacity test, as the `Vec`'s own drop does (a `Drop` on `Uniform`
/// itself, zeroing its first digits too, made releases 4.4× slower: proofs/lattice_release.md).
#[derive(Default)]
pub(super) struct Digits(Vec<u64>);

impl Digits {
    /// Appends a word; a full buffer moves into one twice as large and is zeroed first.
    fn push(&mut self, word: u64) {
        if self.0.len() == self.0.capacity() {
            let mut grown = Vec::with_capacity((2 * self.0.capacity()).max(4));
            grown.extend_from_slice(&self.0);
            wipe(&mut self.0);
            self.0 = grown;
        }
        self.0.push(word);
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn iter(&self) -> std::slice::Iter<'_, u64> {
        self.0.iter()
    }
}

impl From<Vec<u64>> for Digits {
    fn from(words: Vec<u64>) -> Self {
        Digits(words)
    }
}

impl Drop for Digits {
    fn drop(&mut self) {
        if self.0.capacity() != 0 {
            wipe(&mut self.0);
        }
    }
}

/// Zeroes the words in place (kept from being optimised away).
fn wipe(words: &mut [u64]) {
    words.fill(0);
    std::hint::black_box(words);
}

impl Uniform {
    /// A fresh uniform with no digit read yet (no allocation: `more` starts empty).
    #[inline]
    pub(super) fn new() -> Self {
        Uniform {
            first: 0,
            known: 0,
            more: Digits::default(),
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
        // The shift b − 2 needs b ≥ 2; every sampler's den is at least 8.
        debug_assert!(
            den >= 4,
            "the exponent's denominator 2s²t² is at least 8, got {den}"
        );
        let bits = 128 - den.leading_zeros();
        let r = (BigUint::from(1u8) << (bits + 62)) / BigUint::from(den.max(1));
        match u64::try_from(r) {
            // R ≤ 2^{b+62}/2^{b−1} = 2⁶³ for every den ≥ 1.
            Ok(r) if bits >= 2 => Reciprocal {
                den,
                r,
                shift: bits - 2,
            },
            // Unreachable (den ≥ 4): no interval, so that every comparison takes the exact
            // path, the direction that stays sound.
            _ => Reciprocal {
                den,
                r: 0,
                shift: NO_INTERVAL,
            },
        }
    }

    /// The denominator.
    pub(super) fn den(&self) -> u128 {
        self.den
    }

    /// [X_lo, X_hi] with X_lo ≤ (num/den)·2⁶⁴ < X_hi: X_lo = ⌊num·R/2^sh⌋ (the product in
    /// 192 bits) and X_hi = X_lo + ⌊num/2^sh⌋ + 2; `None` when either exceeds 2¹²⁸ (then
    /// γ > 2⁶³ and e^{−γ}·2⁶⁴ < 1) or for the unreachable [`NO_INTERVAL`].
    #[inline]
    fn fixed(&self, num: u128) -> Option<(u128, u128)> {
        let r = u128::from(self.r);
        // num·R = hi·2⁶⁴ + lo with lo < 2⁶⁴: both partial products are below 2¹²⁷.
        let low = u128::from(num as u64) * r;
        let hi = (num >> 64) * r + (low >> 64);
        let lo = low as u64;
        let x_lo = if self.shift >= 64 {
            // None only for NO_INTERVAL: a reachable shift is b − 2 ≤ 124.
            hi.checked_shr(self.shift - 64)?
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
    /// V's thresholds e^{−v} ("cks-compare-v3": P[V ≥ v] = e^{−v}).
    pub(super) unit: Geometric,
    /// V's thresholds e^{−v/4} ("cks-compare-v4": P[V ≥ v] = e^{−v/4}).
    pub(super) quarter: Geometric,
    /// The coarse bracket ([`coarse_thresholds`]): for W's first byte c, (below, above) with
    /// X < below ⟹ (c + 1)·2⁵⁶ ≤ L(X) and X ≥ above ⟹ c·2⁵⁶ ≥ H(X) for every X < 45·2⁶⁴,
    /// (L, H) = [`exp_neg_fast`]`(X)`.
    coarse: [(u128, u128); 256],
}

/// The tables, computed on first use (a few milliseconds of `BigUint` series, then the
/// coarse thresholds by bisection over the fast bracket).
pub(super) fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        let one = BigUint::from(1u8);
        let entry = |num: u64, den_log2: u32| -> u64 {
            let (lo, _) =
                exp_neg_bracket_big(&BigUint::from(num), &(&one << den_log2), 63 + TABLE_EXTRA);
            lower_u64(lo >> TABLE_EXTRA)
        };
        let whole = std::array::from_fn(|n| {
            // e^{−n}·2^{135} ≥ e^{−44}·2^{135} > 2⁷¹ and lo ≤ 2^{135}: 72 to 136 bits, the
            // top 64 kept.
            let prec = 63 + 64 + TABLE_EXTRA;
            let (lo, _) = exp_neg_bracket_big(&BigUint::from(n), &one, prec);
            let bits = lo.bits();
            debug_assert!(
                (72..=u64::from(prec) + 1).contains(&bits),
                "e^-{n}: {bits} bits"
            );
            let m = lower_u64(lo >> bits.saturating_sub(64));
            let k = u32::try_from((u64::from(prec) + 1).saturating_sub(bits)).unwrap_or(0);
            (m, k)
        });
        let mut tables = Tables {
            e1: std::array::from_fn(|i| entry(i as u64, 8)),
            e2: std::array::from_fn(|j| entry(j as u64, 16)),
            e3: std::array::from_fn(|l| entry(l as u64, 24)),
            whole,
            unit: Geometric::new(1),
            quarter: Geometric::new(4),
            // Never decides, until computed from the tables above.
            coarse: [(0, u128::MAX); 256],
        };
        tables.coarse = coarse_thresholds(&tables);
        tables
    })
}

/// What [`decide`] answers from W's first byte c alone, given a bracket (lo, hi) of
/// e^{−γ}·2⁶⁴: true when every w with that byte is below lo ((c + 1)·2⁵⁶ ≤ lo), false when
/// every one is at or above hi (c·2⁵⁶ ≥ hi), `None` when the byte's interval meets the window.
fn on_first_byte((lo, hi): (u128, u128), c: u128) -> Option<bool> {
    if (c + 1) << 56 <= lo {
        Some(true)
    } else if c << 56 >= hi {
        Some(false)
    } else {
        None
    }
}

/// What the coarse bracket decides at X_hi = x (< 45·2⁶⁴) on W's first byte c: true below
/// the byte's first threshold, false at or above its second, `None` between.
#[inline]
fn coarse_on_first_byte(tables: &Tables, x: u128, c: u128) -> Option<bool> {
    let (below, above) = tables.coarse[c as usize];
    if x < below {
        Some(true)
    } else if x >= above {
        Some(false)
    } else {
        None
    }
}

/// What the coarse bracket decides about [W < e^{−num/den}] (den = `recip.den`) from W's
/// first byte `c` alone, as [`less_than_exp_neg`] does after reading that byte: `None`
/// wherever [`less_than_exp_neg`] would read more digits or none (num = 0, no interval,
/// X_hi ≥ 45·2⁶⁴, or c across e^{−γ}), so that `Some` is its answer and says it read one
/// byte (the look-ahead's round, [`super::lookahead`]).
#[inline(always)]
pub(super) fn less_than_exp_neg_on_byte(
    tables: &Tables,
    num: u128,
    recip: &Reciprocal,
    c: u64,
) -> Option<bool> {
    if num == 0 {
        return None;
    }
    let (_, x_hi) = recip.fixed(num)?;
    if x_hi >= FAST_LIMIT {
        return None;
    }
    // `coarse_on_first_byte` with no branch on the answer (a coin: a branch on it is
    // mispredicted about one round in three), only on the rare open byte.
    let (below, above) = tables.coarse[(c & 0xff) as usize];
    let (yes, no) = (x_hi < below, x_hi >= above);
    if !(yes | no) {
        return None;
    }
    Some(yes)
}

/// The thresholds of a geometric V with P[V ≥ v] = e^{−v/q} for a step q ∈ {1, 4}:
/// V = max{v ≥ 0 : W < e^{−v/q}} for a uniform W ([`geometric`]).
pub(super) struct Geometric {
    /// q.
    step: u8,
    /// (lo, hi) with lo ≤ e^{−v/q}·2⁶⁴ ≤ hi (width ≤ 2) for v < 45q, from the exact path; for
    /// v ≥ 45q, e^{−v/q}·2⁶⁴ ≤ e^{−45}·2⁶⁴ < 1 and the bracket is [0, 1] ([`Geometric::bracket`]).
    brackets: Vec<(u128, u128)>,
    /// V from W's first byte c ([`geometric_by_byte`]): (v, true) when the byte alone gives
    /// V = v, (v, false) when it shows W < e^{−v/q} and leaves e^{−(v+1)/q} to more digits.
    by_byte: [(u8, bool); 256],
}

impl Geometric {
    /// The thresholds of step q = `step` (≥ 1), computed by the exact path.
    fn new(step: u8) -> Self {
        let q = BigUint::from(step);
        let brackets: Vec<(u128, u128)> = (0..WHOLE * usize::from(step))
            .map(|v| {
                let (lo, hi) = exp_neg_bracket_big(&BigUint::from(v), &q, 64);
                // e^{−v/q}·2⁶⁴ ≤ 2⁶⁴ and hi ≤ lo + a few: both fit; the fallbacks widen.
                (
                    u128::try_from(lo).unwrap_or(0),
                    u128::try_from(hi).unwrap_or(u128::MAX),
                )
            })
            .collect();
        let by_byte = geometric_by_byte(&brackets);
        Geometric {
            step,
            brackets,
            by_byte,
        }
    }

    /// V from W's first byte `c` alone, as [`geometric`] gives it after reading that byte:
    /// `None` where [`geometric`] reads more digits.
    #[inline(always)]
    pub(super) fn on_byte(&self, c: u64) -> Option<u64> {
        let (v, decided) = self.by_byte[(c & 0xff) as usize];
        decided.then_some(u64::from(v))
    }

    /// The bracket of e^{−v/q}·2⁶⁴: the table's for v < 45q, [0, 1] beyond.
    #[inline]
    fn bracket(&self, v: u64) -> (u128, u128) {
        usize::try_from(v)
            .ok()
            .and_then(|i| self.brackets.get(i).copied())
            .unwrap_or((0, 1))
    }
}

/// [`Geometric::by_byte`]: for each first byte c, the loop of [`geometric_from`] run on
/// that byte alone: v climbs while the byte puts W below e^{−(v+1)/q}'s bracket; then
/// (v, true) if it puts W at or above it, (v, false) if the byte's interval meets its window.
/// v stays below 45q ≤ 180 (it fits a byte): no byte puts W below [0, 1], e^{−45}'s bracket.
fn geometric_by_byte(brackets: &[(u128, u128)]) -> [(u8, bool); 256] {
    std::array::from_fn(|c| {
        let mut v: u8 = 0;
        loop {
            let bracket = brackets.get(usize::from(v) + 1).copied().unwrap_or((0, 1));
            match on_first_byte(bracket, c as u128) {
                Some(true) => v += 1,
                Some(false) => return (v, true),
                None => return (v, false),
            }
        }
    })
}

/// A lower bound its caller has shown to be below 2⁶⁴, or 0 (the sound direction for a lower
/// bound) if it ever were not.
fn lower_u64(lo: BigUint) -> u64 {
    debug_assert!(
        lo.bits() <= 64,
        "a table's lower bound has {} bits",
        lo.bits()
    );
    u64::try_from(lo).unwrap_or(0)
}

/// The coarse bracket's thresholds (proofs/lattice_release.md, "The coarse bracket"): for W's
/// first byte c, below = x_c + 1 for the x_c found by [`bisect`] with
/// L(x_c) − ⌊L(x_c)/2⁵⁸⌋ − 2 ≥ (c + 1)·2⁵⁶ (0 if X = 0 fails it), and above = the y_c found
/// with H(y_c) + ⌊H(y_c)/2⁵²⌋ + 2 ≤ c·2⁵⁶ (`u128::MAX` if 45·2⁶⁴ − 1 fails it), (L, H) =
/// [`exp_neg_fast`]. Each threshold is certified at its own point, so the bisection need
/// not be monotone: by the fast bracket's two bounds L(X) ≤ e^{−X/2⁶⁴}·2⁶⁴ ≤ H(X) and
/// e^{−X/2⁶⁴}·2⁶⁴ ≤ (L(X) + 1)/(1 − 2⁻⁵⁸), every X ≤ x_c has L(X) ≥ (c + 1)·2⁵⁶ and every
/// X ∈ [y_c, 45·2⁶⁴) has H(X) ≤ c·2⁵⁶.
fn coarse_thresholds(tables: &Tables) -> [(u128, u128); 256] {
    let low = |x: u128| exp_neg_fast(tables, x).0;
    let high = |x: u128| exp_neg_fast(tables, x).1;
    std::array::from_fn(|c| {
        let c = c as u128;
        let true_at = |x: u128| {
            let l = low(x);
            l.saturating_sub(l >> 58).saturating_sub(2) >= (c + 1) << 56
        };
        let false_at = |x: u128| {
            let h = high(x);
            h + (h >> 52) + 2 <= c << 56
        };
        let below = if true_at(0) {
            bisect(0, FAST_LIMIT, true_at) + 1
        } else {
            0
        };
        let top = FAST_LIMIT - 1;
        let above = if false_at(top) {
            bisect(top, 0, false_at)
        } else {
            u128::MAX
        };
        (below, above)
    })
}

/// A point where `holds` was checked true, next to `no` or to a point where it was checked
/// false, by bisection between `yes` (where it holds) and `no` (where it does not, or the end
/// of the range, never evaluated) in either order. `holds` need not be monotone.
fn bisect(mut yes: u128, mut no: u128, holds: impl Fn(u128) -> bool) -> u128 {
    while yes.abs_diff(no) > 1 {
        let mid = yes.min(no) + yes.abs_diff(no) / 2;
        if holds(mid) {
            yes = mid;
        } else {
            no = mid;
        }
    }
    yes
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

/// Whether W < e^{−num/den} for den = `recip.den` and a fresh W (no digit read): the coarse
/// bracket on W's first byte, the fast bracket where that does not decide, the exact path in
/// the fast bracket's window. The coarse bracket decides only where the fast one decides on
/// the same byte, and as it does, so the answer and the digits read are the fast bracket's
/// (proofs/lattice_release.md, "The coarse bracket").
#[inline]
pub(super) fn less_than_exp_neg<R: Rng + ?Sized>(
    tables: &Tables,
    w: &mut Uniform,
    bits: &mut BitStream<'_, R>,
    num: u128,
    recip: &Reciprocal,
) -> bool {
    debug_assert_eq!(w.known, 0, "the comparison needs a fresh uniform");
    if num == 0 {
        return true;
    }
    let exact = || (BigUint::from(num), BigUint::from(recip.den));
    let Some((_, x_hi)) = recip.fixed(num) else {
        return decide(w, bits, (0, 1), exact);
    };
    if x_hi < FAST_LIMIT {
        // No bracket decides on zero digits (L ≤ e^{−2/2⁶⁴}·2⁶⁴ < 2⁶⁴ and H ≥ 2), so the
        // first byte is read whichever bracket decides.
        w.read_digits(bits);
        if let Some(answer) = coarse_on_first_byte(tables, x_hi, u128::from(w.first >> 56)) {
            return answer;
        }
    }
    decide(w, bits, exp_neg_fast(tables, x_hi), exact)
}

/// V = max{v ≥ 0 : W < e^{−v/q}} for a fresh uniform W and the step q of `geometric`:
/// P[V ≥ v] = e^{−v/q}. W's first byte, by [`Geometric::by_byte`], gives V whenever it
/// decides every threshold up to the first that W is not below; otherwise [`geometric_from`]
/// goes on from there. Either way V and the digits read are those of [`geometric_from`] from
/// 0 (proofs/lattice_release.md, "V from its first byte").
#[inline]
pub(super) fn geometric<R: Rng + ?Sized>(
    geometric: &Geometric,
    bits: &mut BitStream<'_, R>,
) -> u64 {
    let mut w = Uniform::new();
    // No threshold decides on zero digits (lo ≤ e^{−1/q}·2⁶⁴ < 2⁶⁴ and hi ≥ 1), so the loop
    // reads the first byte first too.
    w.read_digits(bits);
    let (v, decided) = geometric.by_byte[(w.first >> 56) as usize];
    if decided {
        return u64::from(v);
    }
    geometric_from(geometric, &mut w, bits, u64::from(v))
}

/// V's definition as a loop: from v (W < e^{−v/q} already known), while `decide` finds
/// W < e^{−(v+1)/q}, v + 1; the first failure gives V.
fn geometric_from<R: Rng + ?Sized>(
    geometric: &Geometric,
    w: &mut Uniform,
    bits: &mut BitStream<'_, R>,
    mut v: u64,
) -> u64 {
    loop {
        let next = v + 1;
        let exact = || (BigUint::from(next), BigUint::from(geometric.step));
        if !decide(w, bits, geometric.bracket(next), exact) {
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
    use super::super::discrete::hoeffding_tolerance;
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// W's further digits keep their order across the growths that zero and free the old
    /// buffer (4, 8, 16 words).
    #[test]
    fn digits_keep_their_order_when_their_buffer_grows() {
        let mut digits = Digits::default();
        for word in 1..=17u64 {
            digits.push(word * 0x9e37_79b9);
        }
        let words: Vec<u64> = digits.iter().copied().collect();
        assert_eq!(
            words,
            (1..=17u64).map(|w| w * 0x9e37_79b9).collect::<Vec<_>>()
        );
        assert_eq!(digits.len(), 17);
    }

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
        for geometric in [&t.unit, &t.quarter] {
            let q = geometric.step;
            assert_eq!(geometric.brackets.len(), WHOLE * usize::from(q));
            for (v, &(lo64, hi64)) in geometric.brackets.iter().enumerate() {
                let (lo, hi) = finer(v as u128, q.into(), 64);
                assert!(
                    shifted(lo64, 64) <= lo && hi <= shifted(hi64, 64),
                    "e^-{v}/{q}"
                );
                assert!(hi64 - lo64 <= 2, "e^-{v}/{q}: width {}", hi64 - lo64);
            }
            // Beyond the table, [0, 1] holds: e^{−45}·2⁶⁴ < 1 (checked at 64 more bits).
            let (_, hi) = finer(WHOLE as u128, 1, 64);
            assert!(hi <= BigUint::from(1u8) << 64u32, "e^-45");
            assert_eq!(geometric.bracket(WHOLE as u64 * u64::from(q)), (0, 1));
        }
    }

    /// ⌊e⁻¹·2¹²⁸⌋ from outside this code: Python's exact fractions, 2¹²⁸ over e's partial
    /// sum to 80 terms and over that sum plus its remainder bound 2/80!, both giving this floor
    /// (the hexadecimal digits of 1/e, 0.5E2D58D8B3BCDF1ABADEC7829054F90D…).
    const E_INVERSE_2_128: u128 = 0x5e2d_58d8_b3bc_df1a_bade_c782_9054_f90d;

    /// (lo, hi) with lo ≤ e^{−p/q}·2^prec ≤ hi by a route that shares nothing with
    /// [`exp_neg_bracket_big`]: e^x = Σ xᵏ/k! (positive terms) to N = 4⌈x⌉ + 120 as one exact
    /// fraction S = A/D, D = q^{N+1}·(N+1)!; since N + 2 ≥ 2x each later term is at most half
    /// the one before, so the remainder is at most twice the term N + 1, 2p^{N+1}/D; then
    /// e^{−x}·2^prec = 2^prec/e^x, floored against S + remainder and ceiled against S.
    fn independent_exp_neg(p: u64, q: u64, prec: u32) -> (BigUint, BigUint) {
        let n = 4 * p.div_ceil(q) + 120;
        let (p, q) = (BigUint::from(p), BigUint::from(q));
        // A = Σ_{k=0}^{N} p^k·q^{N+1−k}·(N+1)!/k!, accumulated from k = N + 1 down.
        let mut factorial_ratio = BigUint::from(1u8); // (N+1)!/k!
        let mut a = BigUint::ZERO;
        for k in (0..=n).rev() {
            factorial_ratio *= k + 1;
            a += p.pow(k as u32) * q.pow((n + 1 - k) as u32) * &factorial_ratio;
        }
        let d = q.pow(n as u32 + 1) * &factorial_ratio;
        let remainder = p.pow(n as u32 + 1) * 2u8;
        let scaled = d << prec;
        let lo = &scaled / (&a + remainder);
        let hi = ceil_div(&scaled, &a);
        (lo, hi)
    }

    /// The outside constant and every table the fast and coarse brackets rest on, against the
    /// independent bracket above (review 7): ⌊e⁻¹·2¹²⁸⌋ lies in both exact brackets and gives
    /// M₁; E₁, E₂, E₃ and M_n hold E ≤ e^{−·}·2^{63(+k)} < E + 2 and V's thresholds hold e^{−v}
    /// at 2⁶⁴, all checked at 64 more bits.
    #[test]
    fn the_tables_rest_on_an_independent_exponential() {
        let f = BigUint::from(E_INVERSE_2_128);
        for (lo, hi) in [
            independent_exp_neg(1, 1, 128),
            exp_neg_bracket_big(&BigUint::from(1u8), &BigUint::from(1u8), 128),
        ] {
            assert!(lo <= f && f < hi, "{lo} ≤ ⌊e⁻¹·2¹²⁸⌋ < {hi}");
        }
        let t = tables();
        let (m, k) = t.whole[1];
        // M₁ ≤ e⁻¹·2^{63+k₁} < M₁ + 2, read at 2¹²⁸.
        let at = |v: u128| BigUint::from(v) << (65 - k);
        let m = u128::from(m);
        assert!(at(m) <= f && f < at(m + 2), "M₁ = {m}, k₁ = {k}");
        let check = |e: u64, p: u64, q: u64, prec: u32, what: &str| {
            let (lo, hi) = independent_exp_neg(p, q, prec + 64);
            assert!(BigUint::from(e) << 64u32 <= lo, "{what}: {e}");
            assert!(
                hi < BigUint::from(u128::from(e) + 2) << 64u32,
                "{what}: {e}"
            );
        };
        for (table, den_log2) in [(&t.e1, 8), (&t.e2, 16), (&t.e3, 24)] {
            for (i, &e) in table.iter().enumerate() {
                check(
                    e,
                    i as u64,
                    1 << den_log2,
                    63,
                    &format!("e^-{i}/2^{den_log2}"),
                );
            }
        }
        for (n, &(m, k)) in t.whole.iter().enumerate() {
            check(m, n as u64, 1, 63 + k, &format!("e^-{n}"));
        }
        for geometric in [&t.unit, &t.quarter] {
            let q = geometric.step;
            for (v, &(lo64, hi64)) in geometric.brackets.iter().enumerate() {
                let (lo, hi) = independent_exp_neg(v as u64, q.into(), 128);
                assert!(BigUint::from(lo64) << 64u32 <= lo, "e^-{v}/{q}");
                assert!(hi <= BigUint::from(hi64) << 64u32, "e^-{v}/{q}");
            }
        }
    }

    /// The coarse bracket decides only where the fast bracket decides on the same byte, and
    /// as it does, for every byte c and X_hi at every threshold and its neighbours, at random
    /// points of [0, 45·2⁶⁴) and at the X_hi of the tested scales; and it is tight: it leaves
    /// at most two bytes undecided at any X_hi (the fast bracket's window, of width below
    /// 2⁵⁶, meets at most two of the bytes' intervals), and each threshold pair leaves a gap
    /// no wider than its byte's interval ln((c + 1)/c)·2⁶⁴ plus 2¹⁶: L and H are within a
    /// relative 2⁻⁵¹ of e^{−X/2⁶⁴}·2⁶⁴, and so are the certificates' margins (⌊L/2⁵⁸⌋ + 2,
    /// ⌊H/2⁵²⌋ + 2), which moves each threshold by at most 2⁻⁵⁰·2⁶⁴ = 2¹⁴ from its ideal
    /// value, and the f64 width is within 2⁻⁵²·2⁶⁴ = 2¹² of ln's.
    #[test]
    fn the_coarse_bracket_decides_as_the_fast_one() {
        let t = tables();
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let mut xs: Vec<u128> = Vec::new();
        for &(below, above) in t.coarse.iter() {
            for edge in [below, above] {
                xs.extend(
                    (edge.saturating_sub(2)..edge.saturating_add(2)).filter(|&x| x < FAST_LIMIT),
                );
            }
        }
        xs.extend((0..3000).map(|_| {
            ((u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())) % FAST_LIMIT
        }));
        for den in dens() {
            let recip = Reciprocal::new(den);
            for _ in 0..200 {
                let wide = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
                if let Some((_, x)) = recip.fixed(wide % den.saturating_mul(46)) {
                    xs.push(x);
                }
            }
        }
        let mut decided = 0usize;
        for x in xs.into_iter().filter(|&x| x < FAST_LIMIT) {
            let (l, h) = exp_neg_fast(t, x);
            let mut open = 0;
            for c in 0..256u128 {
                match coarse_on_first_byte(t, x, c) {
                    Some(v) => {
                        assert_eq!(on_first_byte((l, h), c), Some(v), "X_hi {x}, byte {c}");
                        decided += 1;
                    }
                    None => open += 1,
                }
            }
            assert!(open <= 2, "X_hi {x}: {open} bytes undecided");
        }
        assert!(decided > 500_000, "{decided}");
        for (c, &(below, above)) in t.coarse.iter().enumerate().skip(1).take(254) {
            let c = c as f64;
            let width = ((c + 1.0) / c).ln() * 2f64.powi(64);
            let gap = above.saturating_sub(below) as f64;
            assert!(gap <= width + 65536.0, "byte {c}: {gap} > {width}");
        }
        assert_eq!(
            t.coarse[0].1,
            u128::MAX,
            "byte 0 can never be decided false"
        );
        assert_eq!(t.coarse[255].0, 0, "byte 255 can never be decided true");
    }

    /// Two copies of the stream of `seed`, for two ways of drawing to read side by side.
    fn twin(seed: u64) -> (ChaCha20Rng, ChaCha20Rng) {
        let rng = ChaCha20Rng::seed_from_u64(seed);
        (rng.clone(), rng)
    }

    /// The two copies' bit streams are at the same bit: their next 64 bits agree (at
    /// different bits of a ChaCha20 stream they would agree only by chance, 2⁻⁶⁴).
    fn assert_same_bit(a: &mut BitStream<'_, ChaCha20Rng>, b: &mut BitStream<'_, ChaCha20Rng>) {
        assert_eq!(a.take(64), b.take(64), "the streams diverged");
    }

    /// `geometric` (V from W's first byte, the loop only where the byte does not decide)
    /// draws what the loop of `decide`s alone draws and reads the same digits, for both steps
    /// q: 10⁵ draws from two copies of a stream (each byte is W's first about 390 times), the
    /// same values and the streams at the same bit after. The bytes the table leaves to the
    /// loop are exactly 0 and ⌊e^{−v/q}·256⌋ for the v ≥ 1 with e^{−v/q}·256 ≥ 1, the bytes
    /// across a threshold: for q = 1 the 6 bytes 0, 1, 4, 12, 34, 94; for q = 4 the 20 bytes
    /// of v = 1, …, 22 (two and three thresholds share bytes 2 and 1). None of e^{−v/q}·256
    /// is within 0.01 of an integer (asserted), so the f64 choosing them is safe.
    #[test]
    fn geometric_by_byte_draws_what_the_loop_draws() {
        let t = tables();
        for (geometric, count) in [(&t.unit, 6), (&t.quarter, 20)] {
            let q = f64::from(geometric.step);
            let open: Vec<u128> = (0..256)
                .filter(|&c| !geometric.by_byte[c as usize].1)
                .collect();
            let points: Vec<f64> = (1..)
                .map(|v| (-(v as f64) / q).exp() * 256.0)
                .take_while(|&x| x >= 1.0)
                .collect();
            assert!(points.iter().all(|x| (x - x.round()).abs() > 0.01));
            let mut want: Vec<u128> = points.iter().map(|&x| x as u128).chain([0]).collect();
            want.sort_unstable();
            want.dedup();
            assert_eq!(open, want, "the bytes the table leaves open, step 1/{q}");
            assert_eq!(open.len(), count);
            let (mut table_rng, mut loop_rng) = twin(12);
            let mut table_bits = BitStream::new(&mut table_rng);
            let mut loop_bits = BitStream::new(&mut loop_rng);
            for _ in 0..100_000 {
                let got = super::geometric(geometric, &mut table_bits);
                let want = geometric_from(geometric, &mut Uniform::new(), &mut loop_bits, 0);
                assert_eq!(got, want);
            }
            assert_same_bit(&mut table_bits, &mut loop_bits);
        }
    }

    /// `less_than_exp_neg` (coarse, then fast, then exact) answers as the fast bracket's
    /// `decide` alone and reads the same digits: two copies of a stream, 300 comparisons a γ,
    /// γ over [0, 50) at every tested scale; the uniforms end with the same digits and the
    /// streams at the same bit.
    #[test]
    fn the_coarse_bracket_reads_what_the_fast_one_reads() {
        let t = tables();
        let mut choose = ChaCha20Rng::seed_from_u64(10);
        let (mut coarse_rng, mut fast_rng) = twin(11);
        let mut coarse_bits = BitStream::new(&mut coarse_rng);
        let mut fast_bits = BitStream::new(&mut fast_rng);
        for den in dens() {
            let recip = Reciprocal::new(den);
            for _ in 0..20 {
                // The f64 only chooses the case.
                let gamma = (choose.next_u64() >> 11) as f64 * 50.0 / (1u64 << 53) as f64;
                let num = (den as f64 * gamma) as u128;
                let fast = match recip.fixed(num) {
                    Some((_, x_hi)) => exp_neg_fast(t, x_hi),
                    None => (0, 1),
                };
                for _ in 0..300 {
                    let mut w = Uniform::new();
                    let got = less_than_exp_neg(t, &mut w, &mut coarse_bits, num, &recip);
                    let mut reference = Uniform::new();
                    let want = if num == 0 {
                        true
                    } else {
                        decide(&mut reference, &mut fast_bits, fast, || {
                            (BigUint::from(num), BigUint::from(den))
                        })
                    };
                    assert_eq!(got, want, "den {den}, num {num}");
                    assert_eq!((w.first, w.known), (reference.first, reference.known));
                }
            }
        }
        assert_same_bit(&mut coarse_bits, &mut fast_bits);
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
            more: Digits::default(),
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
                drop(bits);
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
                    more: Digits::from((0..6).map(|_| bits.take(64)).collect::<Vec<_>>()),
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
    /// and V's tail P[V ≥ v] = e^{−v} for v = 1, 2, 3, 5, each within
    /// [`hoeffding_tolerance`] at a false-alarm rate of 10⁻⁹.
    #[test]
    fn comparisons_have_the_right_frequencies() {
        let t = tables();
        let den = 2 * (1u128 << 48) * ((1u128 << 24) + 1) * ((1u128 << 24) + 1);
        let recip = Reciprocal::new(den);
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let mut bits = BitStream::new(&mut rng);
        let n = 100_000;
        let tolerance = hoeffding_tolerance(n, 1e-9);
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
                (freq - (-gamma).exp()).abs() < tolerance,
                "γ = {gamma}: {freq}"
            );
        }
        for (geometric, tails) in [(&t.unit, [1u64, 2, 3, 5]), (&t.quarter, [1, 3, 8, 21])] {
            let q = f64::from(geometric.step);
            let vs: Vec<u64> = (0..n)
                .map(|_| super::geometric(geometric, &mut bits))
                .collect();
            for v in tails {
                let freq = vs.iter().filter(|&&x| x >= v).count() as f64 / n as f64;
                assert!(
                    (freq - (-(v as f64) / q).exp()).abs() < tolerance,
                    "P[V ≥ {v}] = {freq} at step 1/{q}"
                );
            }
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
            more: Digits::from((0..6).map(|_| rest.next_u64()).collect::<Vec<_>>()),
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
        // V: geometric's closure (next, q), for both steps. W's first word in e^{-v/q}'s
        // window (v < 45q), or 0 (beyond the table, where the fast bracket is [0, 1]); V must
        // be the reference's.
        for geometric in [&t.unit, &t.quarter] {
            let q = geometric.step;
            let v_of = |first: u64, seed: u64| {
                let mut want = 0u64;
                while reference(first, seed, u128::from(want + 1), q.into()) {
                    want += 1;
                }
                want
            };
            for (v, &(lo, hi)) in geometric.brackets.iter().enumerate().skip(1) {
                for first in [lo, hi - 1] {
                    let Ok(first) = u64::try_from(first) else {
                        continue;
                    };
                    for seed in 0..4u64 {
                        let mut rng = scripted(first, seed);
                        let got = super::geometric(geometric, &mut BitStream::new(&mut rng));
                        assert_eq!(got, v_of(first, seed), "v {v}/{q}, w {first}, seed {seed}");
                        // Where W's interval [w, w + 1)·2⁻⁶⁴ lies between the neighbouring
                        // thresholds' brackets, V is v − 1 or v.
                        let next_hi = geometric.bracket(v as u64 + 1).1;
                        let prev_lo = geometric.brackets[v - 1].0;
                        if u128::from(first) >= next_hi && u128::from(first) < prev_lo {
                            assert!(got + 1 >= v as u64 && got <= v as u64, "v {v}: V = {got}");
                        }
                        cases += 1;
                    }
                }
            }
            for seed in 0..8u64 {
                let mut rng = scripted(0, seed);
                let got = super::geometric(geometric, &mut BitStream::new(&mut rng));
                assert_eq!(got, v_of(0, seed), "w = 0, seed {seed}, step 1/{q}");
                // W < 2⁻⁶⁴ < e^{−44}: V ≥ 44q.
                assert!(got >= 44 * u64::from(q), "w = 0: V = {got}");
            }
        }
        assert!(cases > 300, "{cases}");
    }
}
