//! The exact discrete Gaussian sampler, the release on a public grid and its zCDP
//! accounting (proofs/lattice_release.md).
//!
//! Statistical tests use a fixed seed, so they are deterministic; each states the
//! false-alarm rate its tolerance would have for a random seed.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::Deserialize;
use unlearn::noise::{
    DiscreteGaussian, LatticeError, LatticeNoise, MAX_SCALE, NoiseFamily, NoiseSpec, Sampler,
    ScaleOutOfRange, analytic_gaussian_delta, noise_rng, sample, sigma_for, std_normal_cdf,
    zcdp_epsilon, zcdp_epsilon_at, zcdp_rho_for,
};

/// The unit roundoff 2⁻⁵³.
const U: f64 = f64::EPSILON / 2.0;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// `n` draws from the seeded stream with the word sampler (`DiscreteGaussian::sample`, one
/// call per draw, as every release before the sampler field) or the bit or comparison
/// sampler (one `sample_into` call of 785 draws at a time, as a release of 785 coordinates).
fn draws(sampler: Sampler, scale: u64, n: usize, seed: u64) -> Vec<i128> {
    let dg = DiscreteGaussian::new(scale).unwrap();
    let mut r = rng(seed);
    match sampler {
        Sampler::Words => (0..n).map(|_| dg.sample(&mut r)).collect(),
        Sampler::Bits | Sampler::Compare | Sampler::CompareV4 => {
            let mut out = vec![0i128; n];
            for chunk in out.chunks_mut(785) {
                dg.sample_into(sampler, &mut r, chunk);
            }
            out
        }
    }
}

/// Every sampler: each distribution test runs against each (a false-alarm rate α per
/// sampler, 4α for the test).
const SAMPLERS: [Sampler; 4] = [
    Sampler::Words,
    Sampler::Bits,
    Sampler::Compare,
    Sampler::CompareV4,
];

/// exp(−z²/(2s²)) / Σ_y exp(−y²/(2s²)) for |z| ≤ 60s: the terms left out of the sum are
/// below e^{−1800}, far under f64 resolution.
fn exact_pmf(scale: u64) -> (i64, Vec<f64>) {
    let s = scale as f64;
    let half = 60 * scale as i64;
    let weights: Vec<f64> = (-half..=half)
        .map(|z| (-(z as f64).powi(2) / (2.0 * s * s)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    (half, weights.into_iter().map(|w| w / total).collect())
}

/// Bernstein's inequality for a binomial count X ~ Bin(n, p): P(|X − np| ≥ t) ≤
/// 2·exp(−t²/(2(np(1−p) + t/3))). With a union bound over `cells` cells at total
/// false-alarm rate `alpha`, each cell may deviate by t = L/3 + √(L²/9 + 2vL),
/// L = ln(2·cells/alpha), v = np(1−p).
fn bernstein_tolerance(n: usize, p: f64, cells: usize, alpha: f64) -> f64 {
    let l = (2.0 * cells as f64 / alpha).ln();
    let v = n as f64 * p * (1.0 - p);
    l / 3.0 + (l * l / 9.0 + 2.0 * v * l).sqrt()
}

/// Every cell count within its Bernstein tolerance (false-alarm rate `alpha` in all).
fn assert_counts_match(label: &str, counts: &[usize], probs: &[f64], n: usize, alpha: f64) {
    assert_eq!(
        counts.iter().sum::<usize>(),
        n,
        "{label}: cells must partition"
    );
    for (i, (&c, &p)) in counts.iter().zip(probs).enumerate() {
        let tol = bernstein_tolerance(n, p, counts.len(), alpha);
        let expected = n as f64 * p;
        assert!(
            (c as f64 - expected).abs() <= tol,
            "{label}: cell {i} has {c} draws, expected {expected:.1} ± {tol:.1}"
        );
    }
}

/// Small s: each integer in [−6s, 6s] is a cell, plus the two tails; counts of 200,000
/// draws against the exact pmf, false-alarm rate 1e-6 (Bernstein + union bound). s = 1 to 7
/// covers every rounding of the fourth format's t = 4⌈s/4⌉ (t − s = 3, 2, 1, 0 and block
/// t/4 = 1 and 2, where u is constant or one bit).
#[test]
fn discrete_gaussian_matches_its_exact_pmf_for_small_scales() {
    let n = 200_000;
    for scale in 1u64..=7 {
        let (half, pmf) = exact_pmf(scale);
        let edge = 6 * scale as i64;
        let cells = (2 * edge + 3) as usize;
        let cell_of = |z: i128| -> usize {
            if z < -(edge as i128) {
                0
            } else if z > edge as i128 {
                cells - 1
            } else {
                (z + edge as i128 + 1) as usize
            }
        };
        let mut probs = vec![0.0; cells];
        for (i, p) in pmf.iter().enumerate() {
            probs[cell_of(i as i128 - half as i128)] += p;
        }
        for sampler in SAMPLERS {
            let mut counts = vec![0usize; cells];
            for z in draws(sampler, scale, n, 100 + scale) {
                counts[cell_of(z)] += 1;
            }
            let label = format!("{sampler:?}, s = {scale}");
            assert_counts_match(&label, &counts, &probs, n, 1e-6);
        }
    }
}

/// Kolmogorov–Smirnov against the exact distribution function F(z) = Σ_{y≤z} pmf(y): by
/// the Dvoretzky–Kiefer–Wolfowitz inequality with Massart's constant, which holds for every
/// distribution function, discrete ones included, P(sup_z |F_n(z) − F(z)| > ε) ≤ 2e^{−2nε²},
/// so ε = √(ln(2/α)/(2n)) has false-alarm rate α = 1e-6 per sampler and scale. F is
/// summed in f64 from `exact_pmf` (relative error below 10⁻¹² over ≤ 10⁵ terms, far under
/// ε ≈ 0.0047 at n = 200,000). Scales: 1 to 8 (every rounding of the fourth format's
/// t = 4⌈s/4⌉ and blocks 1 and 2), 13 and 1000.
#[test]
fn discrete_gaussian_passes_kolmogorov_smirnov_against_its_exact_cdf() {
    let n = 200_000;
    let alpha: f64 = 1e-6;
    let epsilon = ((2.0 / alpha).ln() / (2.0 * n as f64)).sqrt();
    for scale in (1u64..=8).chain([13, 1000]) {
        let (half, pmf) = exact_pmf(scale);
        for sampler in SAMPLERS {
            let mut zs = draws(sampler, scale, n, 500 + scale);
            zs.sort_unstable();
            // Walk the integers −half..=half; F_n(z) = #{draws ≤ z}/n.
            let (mut below, mut cdf, mut worst) = (0usize, 0.0f64, 0.0f64);
            for (i, p) in pmf.iter().enumerate() {
                let z = i as i128 - half as i128;
                while below < n && zs[below] <= z {
                    below += 1;
                }
                cdf += p;
                worst = worst.max((below as f64 / n as f64 - cdf).abs());
            }
            // Draws beyond ±60s have probability below e^{−1800}: none.
            assert_eq!(below, n, "{sampler:?}, s = {scale}: a draw beyond ±60s");
            assert!(
                worst <= epsilon,
                "{sampler:?}, s = {scale}: sup |F_n − F| = {worst} > {epsilon}"
            );
        }
    }
}

/// s = 2²⁴: 100,000 draws in 14 cells of width s/2 (and the two tails beyond ±3s), against
/// the Gaussian CDF at the half-integer boundaries. At this s the discrete and continuous
/// cell masses differ by the midpoint rule's error, ∫|f''|/(24N) < 1/(6s²) ≈ 6e-16 per
/// cell, and the normalisers by 2e^{−2π²s²}: both far below the Bernstein tolerance
/// (false-alarm rate 1e-6), so the continuous masses stand in for the exact ones.
#[test]
fn discrete_gaussian_has_the_gaussian_shape_at_large_scale() {
    let scale = 1u64 << 24;
    let n = 100_000;
    let s = scale as f64;
    let half_width = (scale / 2) as i128;
    // Cell k ∈ 0..14 holds [−3s + (k−1)·s/2, −3s + k·s/2) for 1 ≤ k ≤ 12; 0 and 13 the tails.
    let low = -6 * half_width;
    let cell_of = |z: i128| -> usize {
        if z < low {
            0
        } else {
            (((z - low) / half_width) as usize + 1).min(13)
        }
    };
    let cdf = |k: i64| std_normal_cdf(((low + k as i128 * half_width) as f64 - 0.5) / s);
    let mut probs = vec![cdf(0)];
    probs.extend((1..13).map(|k| cdf(k) - cdf(k - 1)));
    probs.push(1.0 - cdf(12));
    for sampler in SAMPLERS {
        let mut counts = vec![0usize; 14];
        for z in draws(sampler, scale, n, 7) {
            counts[cell_of(z)] += 1;
        }
        assert_counts_match(&format!("{sampler:?}, s = 2^24"), &counts, &probs, n, 1e-6);
    }
}

/// Mean and variance of 100,000 draws, each bound holding with probability ≥ 1 − 1e-6
/// for a random seed:
/// - mean: Z is sub-Gaussian with proxy s² (CKS 2020, §2), so
///   P(|Z̄| ≥ t) ≤ 2exp(−nt²/(2s²)): t = s√(2 ln(2/α)/n);
/// - upper tail of Σ Z²: E e^{λZ²} ≤ (1 − 2λs²)^{−1/2} (Gaussian mixture of the
///   sub-Gaussian bound), the χ²_n moment generating function, so Laurent–Massart gives
///   P(Σ Z²/s² ≥ n + 2√(nx) + 2x) ≤ e^{−x};
/// - lower tail: Σ Z² of non-negative terms with E[Z⁴] = m₄ satisfies
///   P(Σ Z² ≤ n·v − t) ≤ exp(−t²/(2n·m₄)) (Maurer 2003), with v and m₄ the exact
///   moments from the pmf (v is slightly below s² for small s).
#[test]
fn discrete_gaussian_has_mean_zero_and_the_exact_variance() {
    let n = 100_000;
    let alpha: f64 = 1e-6;
    for scale in [1u64, 2, 3, 1 << 24] {
        let s = scale as f64;
        let (v, m4) = if scale <= 3 {
            let (half, pmf) = exact_pmf(scale);
            let moment = |k: i32| -> f64 {
                pmf.iter()
                    .enumerate()
                    .map(|(i, p)| p * ((i as i64 - half) as f64).powi(k))
                    .sum()
            };
            (moment(2), moment(4))
        } else {
            // At s = 2²⁴ the discrete moments equal the continuous ones s², 3s⁴ to within
            // a relative e^{−2π²s²} (Poisson summation): far below the tolerances here.
            (s * s, 3.0 * s.powi(4))
        };
        // CKS 2020, §2: the variance is below s² (here by a relative e^{−2π²s²}, so
        // the f64 sum may round up to s² + a few ulps).
        assert!(
            v <= s * s * (1.0 + 8.0 * U),
            "s = {scale}: variance {v} above s²"
        );
        for sampler in SAMPLERS {
            let zs = draws(sampler, scale, n, 1000 + scale);
            let mean = zs.iter().map(|&z| z as f64).sum::<f64>() / n as f64;
            let mean_tol = s * (2.0 * (2.0 / alpha).ln() / n as f64).sqrt();
            assert!(
                mean.abs() <= mean_tol,
                "{sampler:?}, s = {scale}: mean {mean} beyond {mean_tol}"
            );
            let sum_sq: f64 = zs.iter().map(|&z| (z as f64).powi(2)).sum();
            let x = (1.0 / alpha).ln();
            let nf = n as f64;
            let upper = s * s * (nf + 2.0 * (nf * x).sqrt() + 2.0 * x);
            let lower = nf * v - (2.0 * nf * m4 * x).sqrt();
            assert!(
                sum_sq <= upper && sum_sq >= lower,
                "{sampler:?}, s = {scale}: Σz²/n = {} outside [{}, {}] (exact variance {v})",
                sum_sq / nf,
                lower / nf,
                upper / nf
            );
        }
    }
}

/// The same seed gives the same integers; another seed gives others. The first draws of
/// seed 42 at s = 3 are pinned: the sampler reads only `next_u64` words, so these values
/// change only if the algorithm or ChaCha20's stream does (then regenerate deliberately).
#[test]
fn same_seed_gives_the_same_integers() {
    for sampler in SAMPLERS {
        let draws = |n, seed| draws(sampler, 1 << 24, n, seed);
        assert_eq!(draws(1000, 5), draws(1000, 5));
        assert_ne!(draws(1000, 5), draws(1000, 6));
    }
    assert_eq!(draws(Sampler::Words, 3, 12, 42), PINNED_S3_SEED42);
}

/// See `same_seed_gives_the_same_integers`.
const PINNED_S3_SEED42: [i128; 12] = [0, 2, -1, 1, -3, 6, -2, 6, 1, -1, -3, 4];

#[test]
fn scale_out_of_range_is_an_error() {
    assert_eq!(DiscreteGaussian::new(0), Err(ScaleOutOfRange(0)));
    // The accepted ends of the range keep their parameter (kills `scale` ↦ 0, 1).
    for s in [1, 3, MAX_SCALE] {
        assert_eq!(DiscreteGaussian::new(s).unwrap().scale(), s);
    }
    assert_eq!(
        DiscreteGaussian::new(MAX_SCALE + 1),
        Err(ScaleOutOfRange(MAX_SCALE + 1))
    );
    // The largest s works (its acceptance test runs through the wide-integer branch
    // whenever |Y|·t − s² ≥ 2⁶⁴, which at s = 2³¹ is a common event).
    let dg = DiscreteGaussian::new(MAX_SCALE).unwrap();
    let mut r = rng(1);
    let zs: Vec<i128> = (0..200).map(|_| dg.sample(&mut r)).collect();
    // |Z| ≤ 8s for all 200 draws fails with probability < 200·2e^{−32} < 1e-11.
    assert!(
        zs.iter()
            .all(|z| z.unsigned_abs() <= 8 * u128::from(MAX_SCALE))
    );
    assert!(zs.iter().any(|&z| z != zs[0]));
}

/// The public rule: g = 2^(⌊log₂σ⌋ − 24), s = round(σ/g) ∈ [2²⁴, 2²⁵], |s·g − σ| ≤ g/2.
#[test]
fn lattice_rule_for_sigma() {
    for sigma in [1e-6, 0.01, 0.3, 1.0, 1.5, 2.0 - 1e-16, 7.25, 1e6, 1e290] {
        let noise = LatticeNoise::for_sigma(sigma).unwrap();
        let g = noise.grid();
        assert_eq!(g, 2f64.powi(noise.grid_exponent), "σ = {sigma}");
        assert_eq!(
            noise.grid_exponent,
            sigma.log2().floor() as i32 - 24,
            "σ = {sigma}"
        );
        assert!((1 << 24..=1 << 25).contains(&noise.scale), "σ = {sigma}");
        assert!((noise.sigma() - sigma).abs() <= g / 2.0, "σ = {sigma}");
        assert_eq!(noise.sigma(), noise.scale as f64 * g);
        let json = serde_json::to_string(&noise).unwrap();
        assert_eq!(serde_json::from_str::<LatticeNoise>(&json).unwrap(), noise);
    }
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-310, 1e-301, f64::MAX] {
        assert_eq!(
            LatticeNoise::for_sigma(bad).map_err(|e| matches!(e, LatticeError::InvalidSigma(_))),
            Err(true),
            "σ = {bad}"
        );
    }
}

/// Every released number is an exact integer multiple of g, with a multiplier below 2⁵³.
#[test]
fn release_outputs_are_integer_multiples_of_the_grid() {
    let noise = LatticeNoise::for_sigma(0.37).unwrap();
    let g = noise.grid();
    let w: Vec<f64> = sample(
        &NoiseSpec::new(NoiseFamily::Gaussian, 3.0).unwrap(),
        785,
        &mut noise_rng(9),
    )
    .unwrap()
    .iter()
    .copied()
    .chain([0.0, -0.0, 1e-300, -5e-324, g / 2.0, -g / 2.0, 1.5 * g])
    .collect();
    let out = noise.release(&w, &mut rng(10)).unwrap();
    assert_eq!(out.len(), w.len());
    for (i, &y) in out.iter().enumerate() {
        let k = y / g;
        assert_eq!(k, k.trunc(), "output {i} = {y} is not a multiple of g");
        assert!(k.abs() < 2f64.powi(53));
        assert_eq!(k * g, y);
    }
    // The noise is there: the outputs differ from the rounded weights by about σ.
    let moved = w
        .iter()
        .zip(&out)
        .filter(|(a, b)| (*a - *b).abs() > g)
        .count();
    assert!(moved > w.len() / 2);
}

/// The Mironov property: two weight vectors with the same integers round(w/g) — here
/// they differ in their low bits, by less than g/2 — give bit-identical releases from
/// the same generator state, so the release reveals nothing about the low bits.
///
/// Today's continuous release fl(w + fl(σz)) fails this: with the same z the two
/// releases differ (asserted below on `noise::sample`'s Gaussian draw), which is the
/// distinguisher of issue 10, item 1. The lattice release passes it.
#[test]
fn release_depends_only_on_the_rounded_integers() {
    let noise = LatticeNoise::for_sigma(0.5).unwrap();
    let g = noise.grid();
    let a: Vec<f64> = (0..50)
        .map(|i| (i as f64 - 25.0) * 0.0371 + 0.001)
        .collect();
    let b: Vec<f64> = a
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let n = (x / g).round_ties_even();
            // Another point in the same rounding cell, strictly inside it.
            let offset = (i as f64 / 50.0 - 0.5) * 0.9 * g;
            n * g + offset
        })
        .collect();
    assert!(a.iter().zip(&b).any(|(x, y)| x != y), "the inputs differ");
    let ra = noise.release(&a, &mut rng(77)).unwrap();
    let rb = noise.release(&b, &mut rng(77)).unwrap();
    assert_eq!(
        ra.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        rb.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    // The continuous release of today separates them.
    let spec = NoiseSpec::new(NoiseFamily::Gaussian, noise.sigma()).unwrap();
    let z = sample(&spec, a.len(), &mut noise_rng(77)).unwrap();
    let continuous_a: Vec<f64> = a.iter().zip(z.iter()).map(|(x, e)| x + e).collect();
    let continuous_b: Vec<f64> = b.iter().zip(z.iter()).map(|(x, e)| x + e).collect();
    assert_ne!(continuous_a, continuous_b);
}

#[test]
fn release_refuses_non_finite_and_too_large_weights() {
    let noise = LatticeNoise::for_sigma(1.0).unwrap();
    let g = noise.grid();
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(matches!(
            noise.release(&[0.0, bad], &mut rng(1)),
            Err(LatticeError::NonFiniteWeight { index: 1, .. })
        ));
    }
    let huge = 2f64.powi(53) * g;
    let err = noise.release(&[1.0, huge], &mut rng(1)).unwrap_err();
    assert!(matches!(
        err,
        LatticeError::WeightTooLargeForGrid { index: 1, .. }
    ));
    assert!(err.to_string().contains("larger sigma"), "{err}");
    let invalid = LatticeNoise {
        grid_exponent: 0,
        scale: 0,
    };
    assert!(matches!(
        invalid.release(&[1.0], &mut rng(1)),
        Err(LatticeError::Scale(_))
    ));
    let invalid = LatticeNoise {
        grid_exponent: 2000,
        scale: 5,
    };
    assert!(matches!(
        invalid.release(&[1.0], &mut rng(1)),
        Err(LatticeError::GridExponentOutOfRange(2000))
    ));
    assert_eq!(invalid.rho(1.0), f64::INFINITY);
}

/// g·‖round(a/g) − round(b/g)‖ ≤ grid_shift_bound(‖a − b‖, m) on random pairs, including
/// pairs much closer than a grid step (where the √m term is what covers the rounding);
/// identical vectors shift by nothing.
#[test]
fn grid_shift_bound_holds() {
    let noise = LatticeNoise::for_sigma(2f64.powi(20)).unwrap(); // g = 1/16
    let g = noise.grid();
    let spec = NoiseSpec::new(NoiseFamily::Gaussian, 1.0).unwrap();
    let mut r = noise_rng(3);
    for (m, spread) in [(1, 0.01), (10, 0.05), (100, 1.0), (785, 0.001)] {
        for _ in 0..50 {
            let a = sample(&spec, m, &mut r).unwrap();
            let b = &a + sample(&spec, m, &mut r).unwrap() * spread;
            let distance = (&a - &b).norm();
            let shift = a
                .iter()
                .zip(b.iter())
                .map(|(x, y)| ((x / g).round_ties_even() - (y / g).round_ties_even()).powi(2))
                .sum::<f64>()
                .sqrt()
                * g;
            assert!(shift <= noise.grid_shift_bound(distance, m), "m = {m}");
        }
    }
    assert_eq!(noise.grid_shift_bound(0.0, 785), 0.0);
    assert_eq!(noise.grid_shift_bound(-1.0, 3), f64::INFINITY);
    assert_eq!(noise.grid_shift_bound(f64::NAN, 3), f64::INFINITY);
}

/// D_α(N_ℤ(μ, s²) ‖ N_ℤ(0, s²)) ≤ α·ρ with ρ = `LatticeNoise::rho` of the shift μ·g,
/// computed from the pmf: (1/(α−1))·ln Σ_z p(z − μ)^α p(z)^{1−α}, summed in log space
/// over |z| ≤ 60s + |μ| (the rest is below e^{−1000}). Allowance: the f64 sums and
/// logarithms, 1e-12 absolute. μ is in the coordinates of one dimension; the
/// multivariate bound is the sum over coordinates (independence).
#[test]
fn renyi_divergence_is_at_most_alpha_rho() {
    for scale in [1u64, 2, 3] {
        let s = scale as f64;
        let noise = LatticeNoise {
            grid_exponent: -3,
            scale,
        };
        let ln_norm = (-(60 * scale as i64)..=60 * scale as i64)
            .map(|z| (-(z as f64).powi(2) / (2.0 * s * s)).exp())
            .sum::<f64>()
            .ln();
        let ln_p = |z: i64| -(z as f64).powi(2) / (2.0 * s * s) - ln_norm;
        for mu in [1i64, 2, 5] {
            let rho = noise.rho(mu as f64 * noise.grid());
            // Exact value μ²/(2s²) (a few roundings), rounded up by the factor 1 + 8ε.
            let exact = (mu as f64).powi(2) / (2.0 * s * s);
            assert!(rho >= exact && rho <= exact * (1.0 + 24.0 * U));
            for alpha in [1.5, 2.0, 5.0, 20.0] {
                let range = 60 * scale as i64 + mu;
                let terms: Vec<f64> = (-range..=range)
                    .map(|z| alpha * ln_p(z - mu) + (1.0 - alpha) * ln_p(z))
                    .collect();
                let max = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let ln_sum = max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln();
                let divergence = ln_sum / (alpha - 1.0);
                assert!(
                    divergence <= alpha * rho + 1e-12,
                    "s = {scale}, μ = {mu}, α = {alpha}: D = {divergence} > αρ = {}",
                    alpha * rho
                );
            }
        }
    }
}

/// The conversion is monotone in ρ; it is at least the exact (ε, δ) curve of the
/// Gaussian mechanism with the same ρ = S²/(2σ²) (Balle & Wang, via
/// `analytic_gaussian_delta`: at our ε, the exact δ is at most δ, since ρ-zCDP implies
/// (ε(ρ), δ)-DP and the Gaussian is ρ-zCDP); and it is at most the closed form
/// ρ + 2√(ρ ln(1/δ)) (our formula at that closed form's α minus non-negative terms).
#[test]
fn zcdp_epsilon_is_monotone_and_between_the_exact_gaussian_and_the_closed_form() {
    for delta in [1e-3, 1e-5, 1e-9] {
        let mut previous = 0.0;
        for i in 0..60 {
            let rho = 1e-4 * 1.25f64.powi(i);
            let eps = zcdp_epsilon(rho, delta).unwrap();
            assert!(eps > previous, "ρ = {rho}, δ = {delta}: {eps} ≤ {previous}");
            previous = eps;
            let closed = rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt();
            assert!(
                eps <= closed,
                "ρ = {rho}, δ = {delta}: {eps} > closed form {closed}"
            );
            // σ = 1, S = √(2ρ).
            let exact_delta = analytic_gaussian_delta(eps, 1.0, (2.0 * rho).sqrt()).unwrap();
            assert!(
                exact_delta <= delta,
                "ρ = {rho}: the Gaussian needs δ = {exact_delta} > {delta} at ε = {eps}"
            );
        }
    }
    assert_eq!(zcdp_epsilon(0.0, 1e-5).unwrap(), 0.0);
    assert!(zcdp_epsilon(-1.0, 1e-5).is_err());
    assert!(zcdp_epsilon(f64::NAN, 1e-5).is_err());
    assert!(zcdp_epsilon(0.1, 0.0).is_err());
    assert!(zcdp_epsilon(0.1, 1.0).is_err());
    assert!(zcdp_epsilon_at(0.1, 1e-5, 1.0).is_err());
}

/// Small ρ (a transcript's first releases) needs large orders: the best α is near
/// 1 + √(ln(1/δ)/ρ), ≈ 3.4·10⁶ at ρ = 10⁻¹², δ = 10⁻⁵, inside the scan's α − 1 ≤ e³⁰. The
/// conversion must stay below the closed form ρ + 2√(ρ ln(1/δ)) there as everywhere (our
/// ε(α) at the closed form's α minus the non-negative −ln((α−1)/α) + ln α/(α−1)), and no
/// lower than the exact Gaussian's: its δ at our ε (at ε = 0, its total variation
/// 2Φ(S/2σ) − 1, which is below 10⁻⁵ for ρ ≤ 10⁻¹⁰: ε = 0 is then true and is what the
/// conversion returns) is at most δ. A scan that stops early (the scan's step count
/// (30 − (−12))/¼ made (30 + (−12))/¼, which ends it near α − 1 = e⁶ ≈ 403) states
/// ε ≈ 0.01 at ρ = 10⁻¹², thousands of times the closed form: sound but a budget wasted,
/// and a mutant that survived the cargo-mutants run, whose other tests start at ρ = 10⁻⁴.
#[test]
fn zcdp_epsilon_finds_large_orders_for_small_rho() {
    for delta in [1e-5, 1e-9] {
        for rho in [1e-12, 1e-10, 1e-8, 1e-6] {
            let eps = zcdp_epsilon(rho, delta).unwrap();
            let closed = rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt();
            assert!(
                eps >= 0.0 && eps <= closed,
                "ρ = {rho}, δ = {delta}: {eps} vs closed form {closed}"
            );
            // σ = 1, S = √(2ρ); at ε = 0 the Gaussian's δ is its total variation 2Φ(S/2) − 1.
            let shift = (2.0 * rho).sqrt();
            let exact_delta = if eps == 0.0 {
                2.0 * std_normal_cdf(shift / 2.0) - 1.0
            } else {
                analytic_gaussian_delta(eps, 1.0, shift).unwrap()
            };
            assert!(
                exact_delta <= delta,
                "ρ = {rho}, δ = {delta}: {exact_delta}"
            );
        }
    }
}

/// `zcdp_epsilon` is exactly its documented search, re-done here through the public
/// `zcdp_epsilon_at` alone: the smallest of ε(α) at α = 1 + e^x for x = −12 + i/4,
/// i = 0, …, 168 (the first smallest on ties), and of the 62 evaluations of a 60-iteration
/// golden section on [x* − 1/4, x* + 1/4] around it, clamped at 0. Bit for bit: the search
/// keeps the scan's terms that depend on δ in a table per thread (the δ of the latest call),
/// and a certificate's ε must not move when the table is reused, rebuilt for another δ or
/// met for the first time — so the δs alternate, and each (ρ, δ) is asked twice.
#[test]
fn zcdp_epsilon_is_its_documented_search_bit_for_bit() {
    let documented = |rho: f64, delta: f64| -> f64 {
        let at = |x: f64| zcdp_epsilon_at(rho, delta, 1.0 + x.exp()).unwrap();
        let (mut best_i, mut best) = (0, f64::INFINITY);
        for i in 0..=168 {
            let value = at(-12.0 + f64::from(i) * 0.25);
            if value < best {
                (best_i, best) = (i, value);
            }
        }
        let best_x = -12.0 + f64::from(best_i) * 0.25;
        let ratio = (5f64.sqrt() - 1.0) / 2.0;
        let (mut a, mut b) = (best_x - 0.25, best_x + 0.25);
        let mut c = b - ratio * (b - a);
        let mut d = a + ratio * (b - a);
        let (mut fc, mut fd) = (at(c), at(d));
        for _ in 0..60 {
            best = best.min(fc).min(fd);
            if fc < fd {
                (b, d, fd) = (d, c, fc);
                c = b - ratio * (b - a);
                fc = at(c);
            } else {
                (a, c, fc) = (c, d, fd);
                d = a + ratio * (b - a);
                fd = at(d);
            }
        }
        best.min(fc).min(fd).max(0.0)
    };
    for i in 0..40 {
        let rho = 1e-12 * 2.1f64.powi(i);
        for delta in [1e-5, 1e-9, 1e-5, 0.3] {
            let expected = documented(rho, delta);
            for _ in 0..2 {
                let got = zcdp_epsilon(rho, delta).unwrap();
                assert_eq!(
                    got.to_bits(),
                    expected.to_bits(),
                    "ρ = {rho:e}, δ = {delta:e}: {got:e} vs {expected:e}"
                );
            }
        }
    }
}

/// The outward rounding of `zcdp_epsilon_at` pinned where the formula
/// ε(α) = αρ + ln((α−1)/α) − (ln δ + ln α)/(α−1) is known in closed form and evaluates
/// with few roundings: (ρ, δ, α) = (1, 1/2, 2) gives ε = 2 − ln 2 and (1, 1/4, 4) gives
/// ε = 4 + ln(3/4) (ln δ + ln α = 0 in both). The value returned must exceed ε by the
/// documented error term 16u·(|αρ| + |ln((α−1)/α)| + (|ln δ| + |ln α|)/(α − 1) + 2) =
/// 16u·(4 + 3 ln 2) ≈ 97.3u and 16u·(6 + ln(4/3) + (4/3)·ln 2) ≈ 115.4u, up to the
/// evaluation's own rounding: three `ln` within an ulp each and four rounded operations, on
/// magnitudes below 2 (ulp 2u) and below 4 (ulp 4u): at most 7u and 14u, and the test's
/// reference values round by ≤ u and ≤ 3u: allowed 8u and 18u.
/// A term of the error dropped or its sign flipped moves the value by ≥ 22u (ln 2·32u),
/// (…)/(α − 1) made (…)·(α − 1) by 118u at α = 4, the error subtracted by ≈ 200u; each is
/// a mutant that survived the cargo-mutants run with the dp-accounting cross-check, whose
/// tolerance is 32u·(…) (TESTING.md).
#[test]
fn zcdp_epsilon_at_carries_its_error_term() {
    let ln2 = std::f64::consts::LN_2;
    for (delta, alpha, exact, terms, allowed) in [
        (0.5, 2.0, 2.0 - ln2, 4.0 + 3.0 * ln2, 8.0 * U),
        (
            0.25,
            4.0,
            4.0 + 0.75f64.ln(),
            6.0 + (4.0f64 / 3.0).ln() + 4.0 * ln2 / 3.0,
            18.0 * U,
        ),
    ] {
        let got = zcdp_epsilon_at(1.0, delta, alpha).unwrap();
        let margin = 16.0 * U * terms;
        assert!(
            (got - exact - margin).abs() <= allowed,
            "α = {alpha}: ε + {:.1}u, expected ε + {:.1}u",
            (got - exact) / U,
            margin / U
        );
    }
}

/// zcdp_rho_for is the largest verified ρ: its ε meets the target and a ρ larger by a
/// relative 1e-9 does not (ε(ρ) has slope ≥ 1 in ρ, so the step raises ε by ≥ 1e-9·ρ,
/// far above the optimiser's ~1e-13 relative jitter); sigma_for's σ, rounded to the grid
/// by `LatticeNoise::for_sigma`, is re-checked with the actual s as the lead will do, and
/// σ exceeds S/√(2ρ) by its outward factor only (σ·(1 + 4ε) made σ + (1 + 4ε), or the
/// factor 1 + 4 + ε or 1 + 4/ε, survived the cargo-mutants run: sound, but more noise).
#[test]
fn zcdp_rho_for_inverts_zcdp_epsilon_and_sigma_for_meets_the_target() {
    for (epsilon, delta) in [(0.1, 1e-5), (1.0, 1e-5), (1.0, 1e-9), (8.0, 1e-3)] {
        let rho = zcdp_rho_for(epsilon, delta).unwrap();
        assert!(zcdp_epsilon(rho, delta).unwrap() <= epsilon);
        assert!(zcdp_epsilon(rho * (1.0 + 1e-9), delta).unwrap() > epsilon);
        let sensitivity = 0.02;
        let sigma = sigma_for(epsilon, delta, sensitivity).unwrap();
        assert!(sensitivity * sensitivity / (2.0 * sigma * sigma) <= rho);
        // No more than the outward factor: σ = S/√(2ρ)·(1 + 4ε), whose √, division and
        // product round by u each (and the test's two by u each): within (1 + 8ε).
        assert!(sigma <= sensitivity / (2.0 * rho).sqrt() * (1.0 + 8.0 * f64::EPSILON));
        let noise = LatticeNoise::for_sigma(sigma).unwrap();
        // s·g may fall below σ by g/2 ≤ 2⁻²⁵σ: ρ grows by at most a relative 2⁻²³.
        let actual = noise.rho(sensitivity);
        assert!(actual <= rho * (1.0 + 2f64.powi(-23)));
        assert!(zcdp_epsilon(actual, delta).unwrap() <= epsilon * (1.0 + 2f64.powi(-22)));
    }
    assert!(zcdp_rho_for(0.0, 1e-5).is_err());
    assert!(sigma_for(1.0, 1e-5, 0.0).is_err());
}

/// At a large δ the conversion can state ε(ρ) ≤ ρ (at ρ = ε = 0.01, δ = 1/2 it is 0: the
/// Gaussian's total variation, 2Φ(√0.02/2) − 1 ≈ 0.056, is below δ), so `zcdp_rho_for` must
/// grow its bracket above ε before it bisects; in every other test ε(ε) > ε and that loop
/// never runs. The answer is the largest verified ρ, as there: its ε meets the target and
/// a ρ larger by a relative 10⁻⁶ does not (ρ ≈ 0.39, where ε(ρ) rises by ≈ 7·10⁻⁷ over that
/// step against the optimiser's ~10⁻¹³ jitter). Kills the bracket's doubling made halving (a stall) and its
/// finiteness check inverted (an error at once), survivors of the cargo-mutants run.
#[test]
fn zcdp_rho_for_grows_its_bracket_at_large_delta() {
    let (epsilon, delta) = (0.01, 0.5);
    assert!(zcdp_epsilon(epsilon, delta).unwrap() <= epsilon);
    let rho = zcdp_rho_for(epsilon, delta).unwrap();
    assert!(rho > epsilon, "ρ = {rho}");
    assert!(zcdp_epsilon(rho, delta).unwrap() <= epsilon);
    assert!(zcdp_epsilon(rho * (1.0 + 1e-6), delta).unwrap() > epsilon);
}

#[derive(Deserialize)]
struct Fixture {
    orders: Vec<f64>,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    rho: f64,
    delta: f64,
    epsilon: f64,
    optimal_order: f64,
    closed_form: f64,
}

/// Upper bound on f''(α) over [p, q] for f(α) = ε(α) at ln δ = `ln_delta` (requires
/// q < 1/δ):
///
/// f'' = −1/(α−1)² + 1/α² + (2α−1)/(α²(α−1)²) + 1/(α(α−1)²) + 2(−ln δ − ln α)/(α−1)³;
///
/// the positive terms decrease in α (evaluated at p), the negative one is largest at q.
fn second_derivative_bound(ln_delta: f64, p: f64, q: f64) -> f64 {
    let (p1, q1) = (p - 1.0, q - 1.0);
    -1.0 / (q1 * q1)
        + 1.0 / (p * p)
        + (2.0 * p - 1.0) / (p * p * p1 * p1)
        + 1.0 / (p * p1 * p1)
        + 2.0 * (-ln_delta - p.ln()) / p1.powi(3)
}

/// Cross-check against dp-accounting 0.6 (tests/fixtures/accounting/zcdp.json, written by
/// scripts/dp_accounting_fixture.py): its RdpAccountant with a GaussianDpEvent converts
/// α/(2z²) with the same formula (CKS Prop. 12) minimised over its default grid of orders.
/// - At their optimal order our `zcdp_epsilon_at` equals their ε up to our outward
///   rounding, 32u·(|A| + |B| + (|ln δ| + ln α)/(α − 1) + 2) (the formula agrees).
/// - Our continuous optimum is ≤ theirs up to the same rounding allowance (theirs is a
///   grid point; we optimise α continuously).
/// - Ours is ≥ theirs − M·h²/2: the true optimum α* lies between the neighbours p < α_g < q
///   of their optimal order (ε(α) is unimodal), f′(α*) = 0, so
///   f(α_g) − f(α*) ≤ M·(α_g − α*)²/2 with M ≥ f'' on [p, q] and h = max(α_g − p, q − α_g).
/// - Ours ≤ the closed form ρ + 2√(ρ ln(1/δ)).
#[test]
fn zcdp_conversion_matches_dp_accounting() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/accounting/zcdp.json"
    );
    let fixture: Fixture = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(fixture.cases.len() >= 20);
    for case in &fixture.cases {
        let (rho, delta, alpha) = (case.rho, case.delta, case.optimal_order);
        let ln_delta = delta.ln();
        let terms = alpha * rho
            + (1.0 - 1.0 / alpha).ln().abs()
            + (ln_delta.abs() + alpha.ln()) / (alpha - 1.0)
            + 2.0;
        let rounding = 32.0 * U * terms;
        let at = zcdp_epsilon_at(rho, delta, alpha).unwrap();
        assert!(
            (at - case.epsilon).abs() <= rounding,
            "ρ = {rho}, δ = {delta}, α = {alpha}: ours {at} vs dp-accounting {}",
            case.epsilon
        );
        let ours = zcdp_epsilon(rho, delta).unwrap();
        assert!(
            ours <= case.epsilon + rounding,
            "ρ = {rho}, δ = {delta}: {ours}"
        );
        let index = fixture.orders.iter().position(|&a| a == alpha).unwrap();
        let (p, q) = (fixture.orders[index - 1], fixture.orders[index + 1]);
        let h = (alpha - p).max(q - alpha);
        let margin = second_derivative_bound(ln_delta, p, q) * h * h / 2.0;
        assert!(
            ours >= case.epsilon - margin - rounding,
            "ρ = {rho}, δ = {delta}: ours {ours} below dp-accounting {} − {margin}",
            case.epsilon
        );
        assert!(ours <= case.closed_form);
    }
}

/// The rounding charge Δ + g√m is enlarged by its outward factor 1 + 4ε, no less (it covers
/// the rounding of √m and of the sum) and no more than needed: on dyadic inputs whose exact
/// value is representable (σ = 1: g = 2⁻²⁴; Δ = 1/2, m = 4: Δ + 2g exactly), the returned
/// bound is within [exact·(1 + 2ε), exact·(1 + 6ε)]. Kills the factor dropped, its sign
/// flipped, or 4·ε ↦ 4/ε or 4 + ε, and `rho` accepting a negative shift (mutants that
/// survived the cargo-mutants run).
#[test]
fn the_grid_shift_bound_carries_its_outward_factor() {
    let lattice = LatticeNoise::for_sigma(1.0).unwrap();
    assert_eq!(lattice.grid(), 2f64.powi(-24));
    let exact = 0.5 + 2.0 * lattice.grid();
    let bound = lattice.grid_shift_bound(0.5, 4);
    assert!(
        bound >= exact * (1.0 + 2.0 * f64::EPSILON),
        "{bound:e} vs {exact:e}"
    );
    assert!(
        bound <= exact * (1.0 + 6.0 * f64::EPSILON),
        "{bound:e} vs {exact:e}"
    );
    assert_eq!(
        lattice.grid_shift_bound(0.0, 4),
        0.0,
        "identical weights shift nothing"
    );
    // Invalid shifts fail closed (no finite ρ for a negative or non-finite shift).
    for bad in [-1e-3, f64::NAN, f64::INFINITY] {
        assert_eq!(lattice.rho(bad), f64::INFINITY, "{bad}");
        assert_eq!(lattice.grid_shift_bound(bad, 4), f64::INFINITY, "{bad}");
    }
}

/// The (ρ, δ) pairs of `zcdp_epsilon_bits_are_pinned`: ρ from 10⁻⁶ to 100 (orders α from
/// ≈ 10⁴ down to ≈ 1), δ from 10⁻⁴ to 10⁻¹².
const PINNED_RHO: [f64; 9] = [1e-6, 1e-3, 0.01, 0.1, 0.5, 1.0, 3.0, 10.0, 100.0];
const PINNED_DELTA: [f64; 3] = [1e-4, 1e-9, 1e-12];

/// ε of every certificate's transcript is `zcdp_epsilon(ρ, δ)`, and certificates are sealed
/// by their bytes: the bits it returns are pinned (generated before its order grid was
/// tabulated), so a faster optimiser that moved any of them would be noticed.
#[test]
fn zcdp_epsilon_bits_are_pinned() {
    let got: Vec<u64> = PINNED_RHO
        .iter()
        .flat_map(|&rho| {
            PINNED_DELTA
                .iter()
                .map(move |&delta| zcdp_epsilon(rho, delta).unwrap().to_bits())
        })
        .collect();
    assert_eq!(got, PINNED_EPSILON_BITS, "{got:#x?}");
}

/// See `zcdp_epsilon_bits_are_pinned`; ρ-major order.
const PINNED_EPSILON_BITS: [u64; 27] = [
    0x3f6120c64bb96ee7,
    0x3f7bde932b61d637,
    0x3f8180f781f6a1fb,
    0x3fc051bf52564c8e,
    0x3fcf6011557fff08,
    0x3fd2e320c918d8e8,
    0x3fdd5be7d0625fc2,
    0x3fe9ecf3017172fb,
    0x3feed7c888f8fb09,
    0x3ffa83eed7839a31,
    0x4005b94e91431a77,
    0x400982c210015240,
    0x4010b416f38b7ab2,
    0x4019e5729c8c2333,
    0x401e0f8194f1bd05,
    0x40193a99722bdd82,
    0x40230afd4950ccb5,
    0x4025f7e4c836536b,
    0x4028ef5e1db26f97,
    0x4031f2f5b24d4e94,
    0x40347573e27f03ae,
    0x403bc42647f350de,
    0x4042d198142eed90,
    0x40451705516c459a,
    0x4063cb85228b0882,
    0x4067a1c7e8984ff0,
    0x406968433ba36e8b,
];
