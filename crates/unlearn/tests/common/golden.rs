//! What the comparison samplers' golden tests pin (tests/sampler_compare_golden.rs,
//! tests/sampler_compare4_golden.rs): 10⁵ draws at one s, and 20 keyed releases.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use unlearn::certificate::hex;
use unlearn::noise::{DiscreteGaussian, LatticeNoise, NoiseKey, Sampler};

/// Asserts that [`draws_pin`] of `sampler` at each pinned s, with the key bytes `key` of
/// the case's index, gives the pinned (s, digest, word position, Σz²).
pub fn assert_draws_pinned(
    sampler: Sampler,
    pinned: &[(u64, &str, u128, u128)],
    key: impl Fn(u8) -> [u8; 32],
) {
    let drawn: Vec<(u64, String, u128, u128)> = (0u8..)
        .zip(pinned)
        .map(|(case, &(scale, ..))| draws_pin(sampler, scale, key(case)))
        .collect();
    let pinned: Vec<_> = pinned
        .iter()
        .map(|&(s, digest, words, squares)| (s, digest.to_string(), words, squares))
        .collect();
    assert_eq!(drawn, pinned, "the draws of {sampler:?} changed");
}

/// 100,000 draws of N_ℤ(0, s²) with `sampler`, in `DiscreteGaussian::sample_into` calls of
/// 785 (a release's size) from the ChaCha20 stream of key bytes `key`: (s, SHA-256 of the
/// draws as 16-byte little-endian `i128`s, the stream's 32-bit word position afterwards,
/// Σz²).
fn draws_pin(sampler: Sampler, scale: u64, key: [u8; 32]) -> (u64, String, u128, u128) {
    let dg = DiscreteGaussian::new(scale).unwrap();
    let mut rng = ChaCha20Rng::from_seed(key);
    let mut draws = vec![0i128; 100_000];
    for call in draws.chunks_mut(785) {
        dg.sample_into(sampler, &mut rng, call);
    }
    let squares = draws.iter().map(|z| z.unsigned_abs().pow(2)).sum();
    let bytes: Vec<u8> = draws.iter().flat_map(|z| z.to_le_bytes()).collect();
    let digest = hex(&Sha256::digest(&bytes));
    (scale, digest, rng.get_word_pos(), squares)
}

/// The release path end to end: `NoiseKey::release_rng` (secret `key`, release label
/// `label`) and `LatticeNoise::release_with(sampler, …)` of 785 coordinates at σ = 0.5
/// (s ∈ [2²⁴, 2²⁵]), 20 releases: SHA-256 of the released doubles' bits. Each release must
/// differ from `other`'s release of the same record (another stream format).
pub fn release_pin(sampler: Sampler, other: Sampler, key: [u8; 32], label: &str) -> String {
    let secret = NoiseKey::from_secret_bytes(key);
    let w: Vec<f64> = (0..785).map(|i| (i as f64 * 0.21).cos()).collect();
    let noise = LatticeNoise::for_sigma(0.5).unwrap();
    let weights = [nalgebra::DVector::from_column_slice(&w)];
    let mut hasher = Sha256::new();
    for index in 0..20u64 {
        let with = |sampler| {
            let mut rng = secret.release_rng(label, index, &weights);
            noise.release_with(sampler, &w, &mut rng).unwrap()
        };
        let released = with(sampler);
        assert_ne!(released, with(other), "release {index}");
        released
            .iter()
            .for_each(|v| hasher.update(v.to_bits().to_le_bytes()));
    }
    hex(&hasher.finalize())
}
