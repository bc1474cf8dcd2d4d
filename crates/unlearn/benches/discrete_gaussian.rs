//! The exact discrete Gaussian sampler and the lattice release:
//! - `sample`: one draw of N_ℤ(0, s²) at s = 1, 3, 2²⁴ and 2²⁵ (the range
//!   `LatticeNoise::for_sigma` uses) and at the largest s, 2³¹;
//! - `release_785/{words,bits,compare,compare4}`: one `LatticeNoise::release_with` of 785
//!   coordinates (digits with an intercept; a one-vs-rest model draws this K times), σ = 0.5,
//!   with the word sampler (every release before the sampler field), the bit sampler, the
//!   comparison sampler ("cks-compare-v3") and its fourth format ("cks-compare-v4", new
//!   releases);
//! - `draws_785/{words,bits,compare,compare4}`: 785 draws at s = 2²⁴ in one
//!   `DiscreteGaussian::sample_into` call (per draw: the time / 785);
//! - `chacha20_word`: one `next_u64` of the ChaCha20 stream alone. A draw at s ≈ 2²⁴ reads
//!   24.4 words on average (tests/sampler_golden.rs: 4,880,464 32-bit words for 10⁵ draws),
//!   so 24.4 times this is the least any sampler that reads the same stream can take.
//!
//! Run with `cargo bench --bench discrete_gaussian` (under a minute).

use criterion::{Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::hint::black_box;
use std::time::Duration;
use unlearn::noise::{DiscreteGaussian, LatticeNoise, MAX_SCALE, Sampler};

/// Every release format, oldest first.
const SAMPLERS: [(&str, Sampler); 4] = [
    ("words", Sampler::Words),
    ("bits", Sampler::Bits),
    ("compare", Sampler::Compare),
    ("compare4", Sampler::CompareV4),
];

fn sample(c: &mut Criterion) {
    let mut group = c.benchmark_group("discrete_gaussian/sample");
    for (label, scale) in [
        ("s=1", 1),
        ("s=3", 3),
        ("s=2^24", 1 << 24),
        ("s=2^25", 1 << 25),
        ("s=2^31", MAX_SCALE),
    ] {
        let dg = DiscreteGaussian::new(scale).expect("scale in range");
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        group.bench_function(label, |b| b.iter(|| black_box(dg.sample(&mut rng))));
    }
    group.finish();
}

fn release(c: &mut Criterion) {
    let noise = LatticeNoise::for_sigma(0.5).expect("valid sigma");
    let w: Vec<f64> = (0..785).map(|i| (i as f64 * 0.37).sin()).collect();
    let mut group = c.benchmark_group("discrete_gaussian/release_785");
    for (label, sampler) in SAMPLERS {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        group.bench_function(label, |b| {
            b.iter(|| {
                black_box(
                    noise
                        .release_with(sampler, black_box(&w), &mut rng)
                        .expect("release"),
                )
            })
        });
    }
    group.finish();
}

fn draws(c: &mut Criterion) {
    let dg = DiscreteGaussian::new(1 << 24).expect("scale in range");
    let mut group = c.benchmark_group("discrete_gaussian/draws_785");
    for (label, sampler) in SAMPLERS {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let mut out = vec![0i128; 785];
        group.bench_function(label, |b| {
            b.iter(|| {
                dg.sample_into(sampler, &mut rng, &mut out);
                black_box(&out);
            })
        });
    }
    group.finish();
}

fn chacha20_word(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    c.bench_function("discrete_gaussian/chacha20_word", |b| {
        b.iter(|| black_box(rng.next_u64()))
    });
}

criterion_group! {
    name = benches;
    // No HTML plots: criterion's plotters backend needs system fonts the machine may lack.
    config = Criterion::default().without_plots().measurement_time(Duration::from_secs(3));
    targets = sample, release, draws, chacha20_word
}
criterion_main!(benches);
