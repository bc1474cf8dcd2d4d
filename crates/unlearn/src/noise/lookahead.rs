//! The comparison samplers' rounds read ahead ([`super::Sampler::Compare`],
//! [`super::Sampler::CompareV4`]): the same rounds on the same bits as
//! `DiscreteGaussian::round_compare`, many in one pass with no branch on their outcomes.
//!
//! # The stream is a sequence of rounds
//!
//! A draw is its rounds up to the first accepted one, and the next draw's first round starts
//! at the next bit: the stream is read as one sequence of rounds, whatever the draws. In all
//! but about 8 % of the rounds at s ≈ 2²⁴ a round reads exactly L + 17 bits, L =
//! [`lemire_bits`]`(B)`: u below B from L bits (Lemire's first test decides), W₁'s first byte
//! (V from it, [`compare::Geometric::on_byte`]), the sign bit, W₂'s first byte (the coarse
//! bracket decides, [`compare::less_than_exp_neg_on_byte`]). Such a round is a fixed
//! sequence of reads at known offsets ([`peek`]), so [`rounds_ahead`] runs them one after
//! another over the bit buffer: each round's ±x is written to the next output slot whatever
//! the acceptance, and the slot index advances by the acceptance bit. Read coin by coin, the
//! same round pays an unpredictable accept/reject branch (mispredicted about one round in
//! three) and the buffer's refill test at each of its four reads.
//!
//! # Where a pass stops
//!
//! At the first bit of the first round that would read otherwise: u in Lemire's rejection
//! region (m mod 2ᴸ < B: the coin-by-coin test may still keep it), V or the acceptance not
//! decided by its first byte, the round rejected for −0 (it reads no W₂), an exponent beyond
//! `u128` or beyond the fast bracket (X_hi ≥ 45·2⁶⁴), num = 0 (accepted without reading).
//! The caller runs that round coin by coin from that bit (`DiscreteGaussian::round_compare`,
//! which reads the same bits and decides the same way: each check above is exactly the
//! condition under which its coin-by-coin counterpart goes past its first test), then starts
//! another pass. So the draws, and the bits each round reads, are those of the coin-by-coin
//! sampler: the formats' streams are unchanged (proofs/lattice_release.md, "Rounds read
//! ahead").
//!
//! # Which words
//!
//! The pass reads ahead in the generator's stream, and must not pull a word the coin-by-coin
//! sampler would not pull (the generator's position after a release is part of its stream:
//! the golden tests pin it). Every round reads at least L + 9 bits (u, W₁'s first byte, the
//! sign), and n draws still to make take at least n rounds, so whatever the stream at least
//! n·(L + 9) more bits are read: the pass reserves no more ([`BitStream::ahead`]). Since a
//! fast round reads L + 17 > L + 9 bits, a pass runs fewer than n rounds and accepts fewer
//! than n draws: it never writes past `out`.

use super::bits::{BitStream, lemire_bits, peek};
use super::compare::{self, Geometric, Tables};
use super::discrete::Rounds;
use rand::Rng;

/// Runs the rounds of the format `rounds` (V's thresholds `geometric`) from the stream's
/// position while each reads its L + 17 bits and decides on their first bytes (module docs),
/// writing the accepted draws to `out` in order; returns how many it wrote (< `out.len()`,
/// 0 for an empty `out` or a block B = 1, where u reads no bit). `bits` is left at the first
/// bit of the round that stopped the pass (or after the last round the reserve covered).
#[inline]
pub(super) fn rounds_ahead<R: Rng + ?Sized>(
    rounds: &Rounds,
    tables: &Tables,
    geometric: &Geometric,
    bits: &mut BitStream<'_, R>,
    out: &mut [i128],
) -> usize {
    if rounds.block <= 1 || out.is_empty() {
        return 0;
    }
    let lemire = lemire_bits(rounds.block);
    let least = (lemire as usize + 9).saturating_mul(out.len());
    let length = lemire as usize + 17;
    let (words, start, end) = bits.ahead(least);
    let mut pos = start;
    let mut filled = 0;
    while pos + length <= end {
        let Some((z, accept)) = round(rounds, tables, geometric, lemire, words, pos) else {
            break;
        };
        // Fewer than out.len() rounds fit in `least` bits, so filled < out.len() here.
        out[filled] = z;
        filled += usize::from(accept);
        pos += length;
    }
    bits.advance(pos);
    filled
}

/// One round from bit `pos` of `words` (L = `lemire` bits for u), when it reads exactly
/// L + 17 bits: (±x, accepted); `None` where the coin-by-coin round would read otherwise.
#[inline(always)]
fn round(
    rounds: &Rounds,
    tables: &Tables,
    geometric: &Geometric,
    lemire: u32,
    words: &[u64],
    pos: usize,
) -> Option<(i128, bool)> {
    let block = u128::from(rounds.block);
    // BitStream::below's first test: m mod 2ᴸ ≥ B keeps ⌊m/2ᴸ⌋ (< B ≤ 2³¹ + 1).
    let m = u128::from(peek(words, pos, lemire)) * block;
    if m & ((1u128 << lemire) - 1) < block {
        return None;
    }
    let u = (m >> lemire) as u64;
    // V ≤ 45·4 from the byte table, B ≤ 2³¹ + 1: x < 2³⁹.
    let v = geometric.on_byte(peek(words, pos + lemire as usize, 8))?;
    let x = u + rounds.block * v;
    let negative = peek(words, pos + lemire as usize + 8, 1) == 1;
    // `&`, not `&&`: the sign is a coin, and a branch on it would be mispredicted half the
    // time; the (−, 0) case itself is rare.
    if negative & (x == 0) {
        return None;
    }
    let num = rounds.numerator(u128::from(x), u)?;
    let c = peek(words, pos + lemire as usize + 9, 8);
    let accept = compare::less_than_exp_neg_on_byte(tables, num, &rounds.recip_den, c)?;
    let magnitude = i128::from(x);
    Some((if negative { -magnitude } else { magnitude }, accept))
}
