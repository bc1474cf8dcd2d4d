//! Golden draws of the bit sampler (`Sampler::Bits`, the release format "cks-bits-v2"):
//! every release made with it is a pure function of its keyed ChaCha20 stream (`unlearn
//! verify` and `reproduce` regenerate it bit for bit from the release record), so the
//! integers it draws and the bits it reads are part of the format. These digests were
//! generated from the sampler as first written (the commit that added this file) and are
//! never regenerated: a test here that fails means a draw of that format changed.
//!
//! As tests/sampler_golden.rs pins the word sampler: each case draws 100,000 values in
//! calls of 785 (`DiscreteGaussian::sample_into`, as a release of 785 coordinates; each call
//! drops the unread bits of its last word) from a ChaCha20 stream with fixed key bytes and
//! pins (1) SHA-256 of the draws as 16-byte little-endian `i128`s, (2) the stream's word
//! position afterwards (how many 32-bit words they consumed) and (3) the first draws. The
//! cases are the word sampler's s (1 to 2³¹; at 2³¹ the acceptance test takes the `BigUint`
//! branch for |Y|·t − s² ≥ 2⁶⁴ and compares 1 bit per round, since its 2s²t² > 2¹¹⁹).

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use unlearn::certificate::hex;
use unlearn::noise::{DiscreteGaussian, LatticeNoise, MAX_SCALE, NoiseKey, Sampler};

/// Draws per case.
const DRAWS: usize = 100_000;

/// Draws per `sample_into` call.
const CALL: usize = 785;

/// Fixed ChaCha20 key bytes of case `case` (not a secret: a test vector; other bytes than
/// tests/sampler_golden.rs uses).
fn key_bytes(case: u8) -> [u8; 32] {
    std::array::from_fn(|i| (i as u8).wrapping_mul(53).wrapping_add(case ^ 0x5a))
}

/// One case: s, SHA-256 of the draws, the word position after them, the first draws.
type Golden = (u64, &'static str, u128, [i128; 6]);

const CASES: [Golden; 7] = [
    (
        1,
        "67242bcbcd5358681ee030c4595b8539cf72e6aadcbfeb37f16c9b49d19b54dc",
        455890,
        [1, 1, 0, -1, 1, 0],
    ),
    (
        2,
        "eda05bd53679e0317e88675f92fb1677c0a9fba6dd07a85f16294b219b788e39",
        383586,
        [2, -1, 2, 1, 0, -2],
    ),
    (
        3,
        "04e2ed35302969f02eaafd515584c062bf1838729bf5b3c7a65858ece00db846",
        362644,
        [4, 4, 0, -3, 2, 1],
    ),
    (
        1 << 24,
        "cb9c098a23e6f26681e5e7ef0cedc48f9d312afbbd5f9a48ca9f76d6ecf839d3",
        494156,
        [11682600, -6508526, -17347181, 25554099, 4164276, 3847611],
    ),
    (
        (1 << 24) + 4_660_987,
        "8eed8da974ba972c8c8a43c8e7670517a31434885f1bb6911765205c0715a315",
        498064,
        [17754532, -12332004, 7764823, -3261656, 8079334, 6381894],
    ),
    (
        1 << 25,
        "0c8bab2e1e66a75111034660d86c6469e7b3f40f0c3d267a9086ffcf04698b51",
        500418,
        [-40015276, 68960149, 60550845, -26384508, 5289655, 35223582],
    ),
    (
        MAX_SCALE,
        "804f71a7eceb852177a486ae65e711d8fa1350ce6eb3d14ed8d8397e839cebe8",
        517348,
        [
            1843887616,
            -1252535452,
            2431419005,
            -3454256028,
            -508085386,
            5778811338,
        ],
    ),
];

/// The draws of the bit sampler in `CASES` order, as what they pin.
fn drawn() -> Vec<(u64, String, u128, [i128; 6])> {
    (0u8..)
        .zip(&CASES)
        .map(|(case, &(scale, ..))| {
            let dg = DiscreteGaussian::new(scale).unwrap();
            let mut rng = ChaCha20Rng::from_seed(key_bytes(case));
            let mut draws = vec![0i128; DRAWS];
            draws
                .chunks_mut(CALL)
                .for_each(|chunk| dg.sample_into(Sampler::Bits, &mut rng, chunk));
            let bytes: Vec<u8> = draws.iter().flat_map(|z| z.to_le_bytes()).collect();
            let first = std::array::from_fn(|i| draws[i]);
            let digest = hex(&Sha256::digest(&bytes));
            (scale, digest, rng.get_word_pos(), first)
        })
        .collect()
}

#[test]
fn bit_sampler_draws_match_the_golden_sequences() {
    let pinned: Vec<_> = CASES
        .iter()
        .map(|&(scale, digest, word_pos, first)| (scale, digest.to_string(), word_pos, first))
        .collect();
    assert_eq!(drawn(), pinned, "the bit sampler's draws changed");
}

/// The release path end to end with the bit sampler: `NoiseKey::release_rng` and
/// `LatticeNoise::release_with(Sampler::Bits, …)` of 785 coordinates at σ = 0.5
/// (s ∈ [2²⁴, 2²⁵]), 20 releases, pinned by the SHA-256 of the released bits; and the word
/// sampler's release of the same record differs (the two formats are different streams).
#[test]
fn a_keyed_bit_sampler_release_matches_its_golden_bits() {
    let key = NoiseKey::from_secret_bytes(key_bytes(99));
    let w: Vec<f64> = (0..785).map(|i| (i as f64 * 0.37).sin()).collect();
    let noise = LatticeNoise::for_sigma(0.5).unwrap();
    let weights = [nalgebra::DVector::from_column_slice(&w)];
    let release = |sampler, index| {
        let mut rng = key.release_rng("golden-head", index, &weights);
        noise.release_with(sampler, &w, &mut rng).unwrap()
    };
    let released: Vec<u8> = (0..20u64)
        .flat_map(|index| {
            let bits = release(Sampler::Bits, index);
            assert_ne!(bits, release(Sampler::Words, index), "release {index}");
            bits
        })
        .flat_map(|v| v.to_bits().to_le_bytes())
        .collect();
    assert_eq!(
        hex(&Sha256::digest(&released)),
        "107bc94462fd17e70b10921be6b368a8672edd6ecf75e4d69bb2dae5ee2c3fcb"
    );
}
