//! Golden draws of the comparison sampler (`Sampler::Compare`, the release format
//! "cks-compare-v3"): a release made with it is a pure function of its keyed ChaCha20 stream
//! (`unlearn verify` and `reproduce` regenerate it bit for bit from the release record), so
//! the integers it draws and the bits it reads are part of the format. The pins were
//! generated from the sampler as first written (the commit that added this file) and are
//! never regenerated: a failure here means a draw of that format changed.
//!
//! Per scale s (the other samplers' golden scales, 1 to 2³¹; at 2³¹ the acceptance exponent's
//! numerator overflows `u128` whenever V ≥ 2 and the exact `BigUint` path decides alone):
//! 100,000 draws in `DiscreteGaussian::sample_into` calls of 785 from a ChaCha20 stream with
//! fixed key bytes, pinned by SHA-256 of the draws (16-byte little-endian `i128`s), the
//! stream's 32-bit word position afterwards, and the sum of the draws' squares (a readable
//! check of the variance: ≈ 10⁵·s²).

mod common;

use common::golden;
use unlearn::noise::{MAX_SCALE, Sampler};

/// Fixed ChaCha20 key bytes of case `case` (a test vector, not a secret; other bytes than
/// the other golden files use).
fn key(case: u8) -> [u8; 32] {
    std::array::from_fn(|i| (i as u8).wrapping_mul(29).wrapping_add(case ^ 0xc3))
}

/// s, then the pins: SHA-256 of the draws, the word position, Σz².
const PINNED: [(u64, &str, u128, u128); 7] = [
    (
        1,
        "b12b4f6bc64c23ba7b1977eceea31bba52be72ef921208c09351f58a8066e859",
        295662,
        99786,
    ),
    (
        2,
        "8d0b5071ad5682bb648745f69de7e1d349f44b833d79631e1b25b1520fa0403d",
        252760,
        397100,
    ),
    (
        3,
        "aa519cf66bca11270c28e9d94c1a268b669b75d6d0084a7ec6ff7cb9bbba38ac",
        241108,
        893262,
    ),
    (
        1 << 24,
        "48a40aadc9866efa0b698c2422e6ae3ac414fcbd5a997d7a84a76e3cb5820064",
        377632,
        27932949667696362914,
    ),
    (
        (1 << 24) + 4_660_987,
        "50b4aec60e1b9785fd33f88b3e1d0f2b1ad3204ed47fa7936b25860145306307",
        379530,
        46117948688653681663,
    ),
    (
        1 << 25,
        "a344fb7dc955fa69ee6740feb3acabbe6be9a164dc9e92fbcbe46affe3ea31ac",
        386402,
        112706627250014393041,
    ),
    (
        MAX_SCALE,
        "7deecd5676bbb8ff0232bdcf6cc0d5f3f16bed1797b6833c9029f85c1d2cb325",
        426526,
        460221786275240323597199,
    ),
];

#[test]
fn comparison_sampler_draws_match_the_golden_sequences() {
    golden::assert_draws_pinned(Sampler::Compare, &PINNED, key);
}

/// The release path end to end: `NoiseKey::release_rng` and
/// `LatticeNoise::release_with(Sampler::Compare, …)` of 785 coordinates at σ = 0.5
/// (s ∈ [2²⁴, 2²⁵]), 20 releases, pinned by SHA-256 of the released doubles' bits; each
/// differs from the bit sampler's release of the same record (another stream format).
#[test]
fn a_keyed_comparison_sampler_release_matches_its_golden_bits() {
    assert_eq!(
        golden::release_pin(Sampler::Compare, Sampler::Bits, key(77), "golden-compare"),
        "7d2002f6f65f390349bca0b5d7c134e4077c391b8668679ab7707be0c7a4251b"
    );
}
