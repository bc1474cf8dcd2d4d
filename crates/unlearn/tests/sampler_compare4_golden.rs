//! Golden draws of the comparison sampler's fourth format (`Sampler::CompareV4`, the release
//! format "cks-compare-v4", new releases: a Laplace block of t/4, proofs/lattice_release.md
//! "The fourth format"): a release made with it is a pure function of its keyed ChaCha20
//! stream (`unlearn verify` and `reproduce` regenerate it bit for bit from the release record),
//! so the integers it draws and the bits it reads are part of the format. The pins were
//! generated from the sampler as first written (the commit that added this file) and are
//! never regenerated: a failure here means a draw of that format changed.
//!
//! Per scale s (the other samplers' golden scales, 1 to 2³¹, plus 5 and 7, where t = 4⌈s/4⌉
//! rounds s up by 3 and 1; at 2³¹ the acceptance exponent's numerator overflows `u128` once
//! x·t − s² ≥ 2⁶⁴ and the exact `BigUint` path decides alone): 100,000 draws in
//! `DiscreteGaussian::sample_into` calls of 785 from a ChaCha20 stream with fixed key bytes,
//! pinned by SHA-256 of the draws (16-byte little-endian `i128`s), the stream's 32-bit word
//! position afterwards, and the sum of the draws' squares (a readable check of the variance:
//! ≈ 10⁵·s²).

mod common;

use common::golden;
use unlearn::noise::{MAX_SCALE, Sampler};

/// Fixed ChaCha20 key bytes of case `case` (a test vector, not a secret; other bytes than
/// the other golden files use).
fn key(case: u8) -> [u8; 32] {
    std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(case ^ 0x5a))
}

/// s, then the pins: SHA-256 of the draws, the word position, Σz².
const PINNED: [(u64, &str, u128, u128); 9] = [
    (
        1,
        "c8c04db99ce8b7526c6a31ee235dec6441bb983999c7086577570ebb6a386e6a",
        194980,
        100189,
    ),
    (
        2,
        "0534ac3ae8c6d39501dd10915597e163d60ff039220a08c4536474ab17893807",
        98370,
        396288,
    ),
    (
        3,
        "c3513add0f9655ae93acfc76d7c061026be0cb03ed3c3700c8efde998b349f36",
        83670,
        893889,
    ),
    (
        5,
        "5e2242d050394a87a7aa7930dd8f48146ba86d6f11f2a549907b48a634f8f510",
        187526,
        2505487,
    ),
    (
        7,
        "12c659b4597288b74ed16d9f0d1178cdfec45b371c305cd7a59da2f70b7f58aa",
        161864,
        4939097,
    ),
    (
        1 << 24,
        "c2ed795bb1809303602d21de295750376ee874b7f87ed7b6ce2b32689f559c65",
        258496,
        28277507427080057023,
    ),
    (
        (1 << 24) + 4_660_987,
        "d843d01f566eca36208ccafb2121f5e8ba495924fd89e3c7a44bd0345caf74bc",
        262726,
        46129558079247614920,
    ),
    (
        1 << 25,
        "a9e8e4cfb5ae7af7698cce1ec10685b7b17d581ac4378d35a30fd7eeafe5b009",
        264304,
        111716454467954614478,
    ),
    (
        MAX_SCALE,
        "44e33e247eaece30ae73a6731d2835dbff759f5db7b1703fc1e119732ad04b8c",
        292540,
        459524115240795066039162,
    ),
];

#[test]
fn fourth_format_draws_match_the_golden_sequences() {
    golden::assert_draws_pinned(Sampler::CompareV4, &PINNED, key);
}

/// The release path end to end: `NoiseKey::release_rng` and
/// `LatticeNoise::release_with(Sampler::CompareV4, …)` of 785 coordinates at σ = 0.5
/// (s ∈ [2²⁴, 2²⁵]), 20 releases, pinned by SHA-256 of the released doubles' bits; each
/// differs from the third format's release of the same record (another stream format).
#[test]
fn a_keyed_fourth_format_release_matches_its_golden_bits() {
    assert_eq!(
        golden::release_pin(
            Sampler::CompareV4,
            Sampler::Compare,
            key(78),
            "golden-compare4"
        ),
        "7b9d9ed787aced8c1b36b077d7164929b0a693739e2659fdcfa0cbce9bddd770"
    );
}
