//! Golden draws of the exact discrete Gaussian sampler: every published release is a pure
//! function of its keyed ChaCha20 stream (`unlearn verify` and `reproduce` regenerate it bit
//! for bit), so a faster sampler must return the same integers from the same words. These
//! digests were generated from the sampler as it stood before any speed work (commit
//! 962f82e) and are never regenerated: a test here that fails means a draw changed.
//!
//! Each case draws 100,000 values from a ChaCha20 stream with fixed key bytes and pins
//! (1) SHA-256 of the draws as 16-byte little-endian `i128`s, (2) the stream's word position
//! afterwards (how many 32-bit words the draws consumed: a sampler that returned the same
//! values but read the stream differently would shift every later release coordinate), and
//! (3) the first draws, to make a failure readable. s = 2³¹ exercises the `BigUint` branch
//! of the acceptance test: about 0.7 % of its proposals have |Y|·t − s² ≥ 2⁶⁴ (|Y| > 5s
//! from a discrete Laplace of scale ≈ s, probability ≈ e⁻⁵).

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};
use unlearn::noise::{DiscreteGaussian, LatticeNoise, MAX_SCALE, NoiseKey};

/// Draws per case.
const DRAWS: usize = 100_000;

/// Fixed ChaCha20 key bytes of case `case` (not a secret: a test vector).
fn key_bytes(case: u8) -> [u8; 32] {
    std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(case))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Golden {
    scale: u64,
    digest: &'static str,
    word_pos: u128,
    first: [i128; 6],
}

const CASES: [Golden; 7] = [
    Golden {
        scale: 1,
        digest: "d7e620920a723e13848e2931a3fe6e525974ce96c76d7b2b049a93e1275972d8",
        word_pos: 3953526,
        first: [0, 0, 0, 0, 3, 1],
    },
    Golden {
        scale: 2,
        digest: "3a48a5c64a850ea6f0442bba5d4d47bc7e14179b1b040be90ce3a0683ea9184d",
        word_pos: 3871386,
        first: [-3, 0, -2, 0, 4, 1],
    },
    Golden {
        scale: 3,
        digest: "ba387c6f9da3dba8e17a8ca32595fa12da312b798c5dd3a2843f1e8505c33872",
        word_pos: 3253014,
        first: [-3, 2, 3, -1, 0, 5],
    },
    Golden {
        scale: 1 << 24,
        digest: "794c82235978cf81f1db9164560107e7a1a2b00895033080d375865799f91421",
        word_pos: 4880464,
        first: [
            51026874, -15921147, -35296710, 15431779, -17590264, -28635123,
        ],
    },
    Golden {
        scale: (1 << 24) + 4_660_987,
        digest: "d50bfda9bd22aa4fce59f4c9799bc204e447a09f5ab223cb4681ca165ba866b5",
        word_pos: 4071184,
        first: [-21796792, -44970190, -19467739, -6006197, 7430618, 27909509],
    },
    Golden {
        scale: 1 << 25,
        digest: "017e14be7616fd15decfb8013b8d901618208b4d588937783a700aa42267c50d",
        word_pos: 4882020,
        first: [-7432640, 12293612, -1920581, -17152881, -10325863, 18951503],
    },
    Golden {
        scale: MAX_SCALE,
        digest: "61fb12a5fba38b38ff92271ab3704f8ae104bbc936028f51ab968912b42f5a58",
        word_pos: 4884102,
        first: [
            -713180125, 133447742, 1068697626, 554404096, -959016373, -57658507,
        ],
    },
];

#[test]
fn draws_match_the_golden_sequences() {
    let (mut report, mut changed) = (Vec::new(), Vec::new());
    for (case, golden) in CASES.iter().enumerate() {
        let dg = DiscreteGaussian::new(golden.scale).unwrap();
        let mut rng = ChaCha20Rng::from_seed(key_bytes(case as u8));
        let mut hash = Sha256::new();
        let mut first = [0i128; 6];
        for i in 0..DRAWS {
            let z = dg.sample(&mut rng);
            if i < first.len() {
                first[i] = z;
            }
            hash.update(z.to_le_bytes());
        }
        let digest = hex(&hash.finalize());
        let word_pos = rng.get_word_pos();
        report.push(format!(
            "s = {}: digest {digest}, word_pos {word_pos}, first {first:?}",
            golden.scale
        ));
        if (digest.as_str(), word_pos, first) != (golden.digest, golden.word_pos, golden.first) {
            changed.push(format!(
                "s = {}: expected digest {}, word_pos {}, first {:?}",
                golden.scale, golden.digest, golden.word_pos, golden.first
            ));
        }
    }
    assert!(
        changed.is_empty(),
        "the draws changed:\n{}\ngot:\n{}",
        changed.join("\n"),
        report.join("\n")
    );
}

/// The release path end to end: `NoiseKey::release_rng` (HMAC-SHA256 → ChaCha20 key) and
/// `LatticeNoise::release` of 785 coordinates at σ = 0.5 (s ∈ [2²⁴, 2²⁵]), as a store
/// publishes them; the released bits are pinned by their SHA-256.
#[test]
fn a_keyed_release_matches_its_golden_bits() {
    let key = NoiseKey::from_secret_bytes(key_bytes(99));
    let w: Vec<f64> = (0..785).map(|i| (i as f64 * 0.37).sin()).collect();
    let noise = LatticeNoise::for_sigma(0.5).unwrap();
    let weights = [nalgebra::DVector::from_column_slice(&w)];
    let mut hash = Sha256::new();
    for release in 0..20u64 {
        let mut rng = key.release_rng("golden-head", release, &weights);
        for v in noise.release(&w, &mut rng).unwrap() {
            hash.update(v.to_bits().to_le_bytes());
        }
    }
    assert_eq!(
        hex(&hash.finalize()),
        "5bf5a7d536d2d10cd1ac2bb1ee22e7d72bd6d2e56303d8daa7e76409f52eb31a"
    );
}

/// `weights_digest` (the published model's digest, which every certificate records before
/// and after its step) of two weight vectors, pinned before its hashing was batched: the
/// digest must stay SHA-256 of the same bytes.
#[test]
fn the_weights_digest_is_pinned() {
    let weights: Vec<Vec<f64>> = (0..2)
        .map(|k| {
            (0..785)
                .map(|i| ((i + 1000 * k) as f64 * 0.37).sin())
                .collect()
        })
        .collect();
    assert_eq!(
        unlearn::model::weights_digest(&weights),
        "264efc3dc1b49a5b2ff652c5511eb9d3718d1398805f6ba48e33e60a53eb3955"
    );
}
