//! Statistical and calibration tests of `unlearn::noise`.
//!
//! # How the tolerances are derived
//!
//! Every statistical check compares a sample statistic with its exact
//! expectation, with a tolerance of 5 standard errors of that statistic,
//! computed from the distribution (not tuned to the seed):
//!
//! * sample mean of N i.i.d. draws with variance v: standard error √(v/N);
//! * sample variance s² of N i.i.d. draws with variance v and excess kurtosis
//!   κ: Var(s²) = v²·(2/(N−1) + κ/N) (κ = 0 for a Gaussian, 6/d for Gamma(d)),
//!   so the standard error is v·√(2/(N−1) + κ/N).
//!
//! At N = 20 000 these statistics are normal to a good approximation, so a
//! 5-standard-error deviation has probability about 5.7e-7 < 1e-6 per check.
//! (Chebyshev's inequality would give the distribution-free 1/25.) The
//! Kolmogorov–Smirnov checks use the Dvoretzky–Kiefer–Wolfowitz inequality
//! with Massart's constant, P(sup|F_N − F| > t) ≤ 2·exp(−2Nt²), valid for every
//! N (not only asymptotically): the critical value at level α = 1e-4 is
//! t = √(ln(2/α)/(2N)).
//!
//! The seeds are fixed, so the tests are deterministic; the probabilities say
//! how unlucky a seed would have to be for a correct sampler to fail.

use nalgebra::DVector;
use proptest::prelude::*;
use unlearn::noise::{
    CalibrationError, NoiseFamily, NoiseSpec, analytic_gaussian_budget, analytic_gaussian_delta,
    analytic_gaussian_sigma, budget_guo2020, gamma_norm_budget, gamma_norm_rate,
    gaussian_sigma_guo2020, noise_rng, sample, std_normal_cdf,
};

/// Number of standard errors allowed in the moment checks.
const Z: f64 = 5.0;
/// Number of draws in each statistical test.
const N: usize = 20_000;
/// Significance level of the Kolmogorov–Smirnov checks.
const KS_ALPHA: f64 = 1e-4;

fn draws(spec: NoiseSpec, dim: usize, seed: u64) -> Vec<DVector<f64>> {
    let mut rng = noise_rng(seed);
    (0..N)
        .map(|_| sample(&spec, dim, &mut rng).unwrap())
        .collect()
}

/// Sample mean and (unbiased) sample variance.
fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

/// The Kolmogorov–Smirnov statistic sup|F_N − F| of `xs` against `cdf`.
fn ks_statistic(xs: &[f64], cdf: impl Fn(f64) -> f64) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / n).max((i + 1) as f64 / n - f)
        })
        .fold(0.0, f64::max)
}

/// DKW–Massart critical value: P(D > t) ≤ 2 exp(−2 n t²) = α.
fn ks_critical(n: usize, alpha: f64) -> f64 {
    ((2.0 / alpha).ln() / (2.0 * n as f64)).sqrt()
}

/// The regularized lower incomplete gamma function P(a, x) for integer
/// a ≥ 1: the CDF of Gamma(shape a, scale 1) at x. Series for x < a + 1,
/// modified-Lentz continued fraction for Q = 1 − P otherwise (Numerical
/// Recipes §6.2); ln Γ(a) = Σ_{k<a} ln k is exact enough for integer a.
fn gamma_p(a: usize, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let af = a as f64;
    let ln_gamma_a: f64 = (1..a).map(|k| (k as f64).ln()).sum();
    let prefactor = (af * x.ln() - x - ln_gamma_a).exp();
    if x < af + 1.0 {
        // P = e^{-x} x^a / Γ(a+1) · Σ_n x^n / ((a+1)…(a+n))
        let (mut term, mut sum, mut ap) = (1.0 / af, 1.0 / af, af);
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        sum * prefactor
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - af;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - af);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        1.0 - prefactor * h
    }
}

#[test]
fn incomplete_gamma_helper_matches_reference_values() {
    // Closed forms: P(1, x) = 1 − e^{−x}; P(2, x) = 1 − e^{−x}(1 + x).
    for x in [0.1, 1.0, 2.5, 7.0] {
        assert!((gamma_p(1, x) - (1.0 - (-x).exp())).abs() < 1e-14);
        assert!((gamma_p(2, x) - (1.0 - (-x).exp() * (1.0 + x))).abs() < 1e-14);
    }
    // mpmath: gammainc(a, 0, x, regularized=True), 50 digits.
    for (a, x, want) in [
        (10, 10.0, 0.5420702855281478),
        (10, 3.0, 0.0011024881301154798),
        (10, 20.0, 0.9950045876916924),
        (3, 0.5, 0.014387677966970687),
        (50, 40.0, 0.07033506665939496),
    ] {
        let got = gamma_p(a, x);
        assert!(
            (got - want).abs() < 1e-12,
            "P({a}, {x}) = {got}, want {want}"
        );
    }
}

// ---------------------------------------------------------------- Gaussian

#[test]
fn gaussian_coordinates_have_the_right_mean_variance_and_distribution() {
    let sigma = 2.5;
    let dim = 8;
    let spec = NoiseSpec::new(NoiseFamily::Gaussian, sigma).unwrap();
    let bs = draws(spec, dim, 20_200_101);
    let v = sigma * sigma;
    let se_mean = (v / N as f64).sqrt();
    let se_var = v * (2.0 / (N as f64 - 1.0)).sqrt();
    for j in 0..dim {
        let xs: Vec<f64> = bs.iter().map(|b| b[j]).collect();
        let (m, s2) = mean_var(&xs);
        assert!(m.abs() < Z * se_mean, "coordinate {j}: mean {m}");
        assert!((s2 - v).abs() < Z * se_var, "coordinate {j}: variance {s2}");
    }
    let xs: Vec<f64> = bs.iter().map(|b| b[0]).collect();
    let d = ks_statistic(&xs, |x| std_normal_cdf(x / sigma));
    let crit = ks_critical(N, KS_ALPHA);
    assert!(d < crit, "KS statistic {d} >= critical value {crit}");
}

// ---------------------------------------------------------------- Gamma-norm

#[test]
fn gamma_norm_radius_is_gamma_and_direction_is_uniform() {
    let theta = 0.5; // scale 1/α with α = 2
    let dim = 10;
    let d = dim as f64;
    let spec = NoiseSpec::new(NoiseFamily::GammaNorm, theta).unwrap();
    let bs = draws(spec, dim, 20_200_102);
    let norms: Vec<f64> = bs.iter().map(|b| b.norm()).collect();

    // ‖b‖ ~ Gamma(d, θ): mean dθ, variance dθ², excess kurtosis 6/d.
    let (m, s2) = mean_var(&norms);
    let v = d * theta * theta;
    let se_mean = (v / N as f64).sqrt();
    let se_var = v * (2.0 / (N as f64 - 1.0) + 6.0 / (d * N as f64)).sqrt();
    assert!((m - d * theta).abs() < Z * se_mean, "mean norm {m}");
    assert!((s2 - v).abs() < Z * se_var, "norm variance {s2}");

    let ks = ks_statistic(&norms, |r| gamma_p(dim, r / theta));
    let crit = ks_critical(N, KS_ALPHA);
    assert!(ks < crit, "KS statistic {ks} >= critical value {crit}");

    // u = b/‖b‖ is uniform on the sphere: each coordinate has mean 0 and
    // variance 1/d (Σ uᵢ² = 1 and symmetry), so the sample mean of a
    // coordinate has standard error 1/√(dN).
    let se_dir = 1.0 / (d * N as f64).sqrt();
    for j in 0..dim {
        let mean_u = bs.iter().map(|b| b[j] / b.norm()).sum::<f64>() / N as f64;
        assert!(
            mean_u.abs() < Z * se_dir,
            "direction coordinate {j}: mean {mean_u}"
        );
    }
}

#[test]
fn gamma_norm_in_one_dimension_is_a_symmetric_laplace() {
    // d = 1: p(b) ∝ exp(−α|b|), so |b| ~ Exp(mean θ) and P(b > 0) = 1/2
    // (standard error 1/(2√N)).
    let theta = 3.0;
    let spec = NoiseSpec::new(NoiseFamily::GammaNorm, theta).unwrap();
    let bs = draws(spec, 1, 20_200_103);
    let abs: Vec<f64> = bs.iter().map(|b| b[0].abs()).collect();
    let ks = ks_statistic(&abs, |r| 1.0 - (-r / theta).exp());
    assert!(ks < ks_critical(N, KS_ALPHA), "KS statistic {ks}");
    let positive = bs.iter().filter(|b| b[0] > 0.0).count() as f64 / N as f64;
    assert!((positive - 0.5).abs() < Z * 0.5 / (N as f64).sqrt());
}

// ---------------------------------------------------------------- reproducibility

#[test]
fn same_seed_same_bits_different_seed_different_vector() {
    for family in [NoiseFamily::Gaussian, NoiseFamily::GammaNorm] {
        let spec = NoiseSpec::new(family, 1.7).unwrap();
        let a = sample(&spec, 33, &mut noise_rng(42)).unwrap();
        let b = sample(&spec, 33, &mut noise_rng(42)).unwrap();
        let c = sample(&spec, 33, &mut noise_rng(43)).unwrap();
        let bits = |v: &DVector<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&a),
            bits(&b),
            "{family}: same seed must give the same bits"
        );
        assert_ne!(bits(&a), bits(&c), "{family}: different seeds must differ");
    }
}

#[test]
fn zero_scale_gives_zeros_and_draws_nothing() {
    for family in [NoiseFamily::Gaussian, NoiseFamily::GammaNorm] {
        let zero = NoiseSpec::new(family, 0.0).unwrap();
        let one = NoiseSpec::new(family, 1.0).unwrap();
        let mut rng = noise_rng(5);
        let b = sample(&zero, 12, &mut rng).unwrap();
        assert_eq!(b, DVector::zeros(12));
        let after = sample(&one, 4, &mut rng).unwrap();
        let fresh = sample(&one, 4, &mut noise_rng(5)).unwrap();
        assert_eq!(
            after, fresh,
            "{family}: scale 0 must not consume randomness"
        );
        assert_eq!(sample(&one, 0, &mut rng).unwrap().len(), 0);
    }
}

#[test]
fn invalid_specs_are_errors() {
    let mut rng = noise_rng(0);
    for scale in [-0.5, f64::NAN, f64::INFINITY] {
        let spec = NoiseSpec {
            family: NoiseFamily::Gaussian,
            scale,
        };
        assert!(sample(&spec, 3, &mut rng).is_err());
    }
}

// ---------------------------------------------------------------- calibration

#[test]
fn guo_closed_form_at_known_inputs() {
    let sigma = gaussian_sigma_guo2020(1.0, 1e-4, 1.0).unwrap();
    let want = (2.0 * 15_000f64.ln()).sqrt();
    assert!(
        sigma >= want && (sigma - want) / want < 1e-14,
        "{sigma} vs {want}"
    );
    // σ scales linearly in ε′ and inversely in ε.
    let s2 = gaussian_sigma_guo2020(0.5, 1e-4, 3.0).unwrap();
    assert!((s2 / (6.0 * want) - 1.0).abs() < 1e-14);
}

#[test]
fn guo_closed_form_refuses_large_epsilon_and_bad_inputs() {
    assert_eq!(
        gaussian_sigma_guo2020(1.5, 1e-5, 1.0),
        Err(CalibrationError::EpsilonTooLarge(1.5))
    );
    assert!(gaussian_sigma_guo2020(0.0, 1e-5, 1.0).is_err());
    assert!(gaussian_sigma_guo2020(-1.0, 1e-5, 1.0).is_err());
    assert!(gaussian_sigma_guo2020(f64::NAN, 1e-5, 1.0).is_err());
    for delta in [0.0, 1.0, -1e-5, 2.0, f64::NAN] {
        assert!(
            gaussian_sigma_guo2020(1.0, delta, 1.0).is_err(),
            "δ = {delta}"
        );
    }
    for budget in [0.0, -1.0, f64::INFINITY] {
        assert!(gaussian_sigma_guo2020(1.0, 1e-5, budget).is_err());
    }
    assert!(budget_guo2020(2.0, 1e-5, 1.0).is_err());
    assert!(budget_guo2020(1.0, 1e-5, -1.0).is_err());
}

#[test]
fn guo_budget_round_trips_on_the_safe_side() {
    for (eps, delta, budget) in [(1.0, 1e-4, 1.0), (0.1, 1e-6, 0.03), (0.5, 0.05, 7.0)] {
        let sigma = gaussian_sigma_guo2020(eps, delta, budget).unwrap();
        let back = budget_guo2020(eps, delta, sigma).unwrap();
        assert!(back <= budget && (budget - back) / budget < 1e-13);
    }
    assert_eq!(budget_guo2020(1.0, 1e-5, 0.0).unwrap(), 0.0);
}

/// Exact δ(σ) for Δ = 1 from mpmath at 50 digits:
/// `ncdf(1/(2s) − e·s) − exp(e)·ncdf(−1/(2s) − e·s)`.
const EXACT_DELTA: [(f64, f64, f64); 8] = [
    (0.01, 500.0, 1.0745921569149026e-10),
    (0.1, 40.0, 1.8777674174731037e-07),
    (1.0, 4.0, 2.924272104856407e-06),
    (1.0, 0.5, 0.5098616600546702),
    (10.0, 0.4882, 1.863615458169823e-05),
    (20.0, 1.0, 2.6647067053654977e-86),
    (0.5, 10.0, 6.856582455838726e-09),
    (100.0, 0.05, 0.9999996146685565),
];

#[test]
fn analytic_delta_is_an_upper_bound_close_to_the_exact_value() {
    for (eps, s, exact) in EXACT_DELTA {
        let got = analytic_gaussian_delta(eps, s, 1.0).unwrap();
        assert!(
            got >= exact,
            "δ({eps}, {s}) = {got:e} below exact {exact:e}"
        );
        assert!(
            got <= exact * (1.0 + 1e-8),
            "δ({eps}, {s}) = {got:e} vs {exact:e}"
        );
    }
    assert_eq!(analytic_gaussian_delta(1.0, 0.0, 1.0).unwrap(), 1.0);
    assert_eq!(analytic_gaussian_delta(1.0, 2.0, 0.0).unwrap(), 0.0);
    assert!(analytic_gaussian_delta(0.0, 1.0, 1.0).is_err());
    assert!(analytic_gaussian_delta(1.0, -1.0, 1.0).is_err());
    for sensitivity in [f64::NAN, f64::INFINITY, -1.0] {
        assert!(
            analytic_gaussian_delta(1.0, 1.0, sensitivity).is_err(),
            "Δ = {sensitivity}"
        );
    }
}

/// (ε, σ, T₁, T₂) for Δ = 1, T₁ = Φ(a) and T₂ = e^ε·Φ(b) with a = 1/(2σ) − εσ,
/// b = −1/(2σ) − εσ, from mpmath at 60 digits on the doubles ε, σ (so δ = T₁ − T₂).
/// Chosen so that the margin of [`analytic_gaussian_delta`] is resolved: both branches
/// (a < 0, a ≥ 0), b² from 0.02 to 62 500, and in the last row T₂ < unit·T₁, where the
/// refined bound is the minimum by less than its margin (a crude bound Φ(a)·(1 − unit)
/// would fall below δ there).
const DELTA_TERMS: [(f64, f64, f64, f64); 5] = [
    (0.5, 10.0, 3.71067407963333e-07, 3.6421082550749426e-07),
    (20.0, 1.0, 5.48911547566041e-85, 5.22264480512386e-85),
    (1.0, 0.1, 0.9999995208167234, 4.616369432713582e-07),
    (0.01, 5.0, 0.5199388058383725, 0.44480822340234805),
    (
        31232.0,
        0.00390625,
        0.9999999990134123,
        2.4303142561454373e-11,
    ),
];

/// The outward margin of `analytic_gaussian_delta` pinned (proofs/noise_calibration.md,
/// part b): the returned bound is δ̂ + unit·(T₁ + T₂) with unit = 32·2⁻⁵²·(1 + b²), i.e.
/// δ̂·(1 + η), η = unit·(T₁ + T₂)/(T₁ − T₂). It must exceed the exact δ = T₁ − T₂ by that
/// margin, up to the evaluation error of δ̂ itself: the rounding of a and b (each within
/// u·|b|, u = 2⁻⁵³) moves e^{−a²/2}, e^{−b²/2} by a relative ≤ 2u·b², and Φ and erfcx are
/// within 1e-15 relative (`noise::special`, measured), so |δ̂ − δ| ≤ (4u(1 + b²) +
/// 2e-15)·(T₁ + T₂): at most 34 % of the margin on these rows (7 % where b² > 25). A
/// margin without its (1 + b²), with 1·b², with another constant, with T₁ − T₂ for
/// T₁ + T₂, or a crude bound rounded inward, is outside that.
#[test]
fn analytic_delta_carries_its_error_margin() {
    let u = f64::EPSILON / 2.0;
    for (eps, s, t1, t2) in DELTA_TERMS {
        let got = analytic_gaussian_delta(eps, s, 1.0).unwrap();
        let b = -1.0 / (2.0 * s) - eps * s;
        let margin = 32.0 * f64::EPSILON * (1.0 + b * b) * (t1 + t2);
        let tolerance = (4.0 * u * (1.0 + b * b) + 2e-15) * (t1 + t2);
        let excess = got - (t1 - t2);
        assert!(
            (excess - margin).abs() <= tolerance,
            "δ({eps}, {s}): returned δ + {excess:e}, margin {margin:e} ± {tolerance:e}"
        );
    }
}

#[test]
fn analytic_sigma_is_safe_and_tight() {
    for eps in [0.01, 0.1, 1.0, 5.0, 10.0, 50.0] {
        for delta in [1e-12, 1e-6, 1e-3, 0.3] {
            let sigma = analytic_gaussian_sigma(eps, delta, 1.0).unwrap();
            let at = analytic_gaussian_delta(eps, sigma, 1.0).unwrap();
            let below = analytic_gaussian_delta(eps, sigma * (1.0 - 1e-6), 1.0).unwrap();
            assert!(at <= delta, "ε={eps} δ={delta}: δ(σ) = {at:e}");
            assert!(below > delta, "ε={eps} δ={delta}: not tight, {below:e}");
        }
    }
}

#[test]
fn analytic_sigma_beats_guo_at_epsilon_one() {
    for delta in [1e-4, 1e-5, 1e-6] {
        let analytic = analytic_gaussian_sigma(1.0, delta, 1.0).unwrap();
        let guo = gaussian_sigma_guo2020(1.0, delta, 1.0).unwrap();
        // Measured: 3.186 vs 4.385 (δ = 1e-4), 3.731 vs 4.882, 4.225 vs 5.333.
        assert!(analytic < guo, "δ = {delta}: {analytic} vs {guo}");
        // And Guo's σ is safe there (proofs/noise_calibration.md, part a).
        assert!(analytic_gaussian_delta(1.0, guo, 1.0).unwrap() <= delta);
    }
}

#[test]
fn guo_closed_form_fails_at_epsilon_ten() {
    // The function refuses ε > 1, so apply the formula directly.
    let (eps, delta) = (10.0, 1e-5);
    let sigma = (2.0 * (1.5f64 / delta).ln()).sqrt() / eps;
    let true_delta = analytic_gaussian_delta(eps, sigma, 1.0).unwrap();
    // Measured: 1.8607e-5, i.e. 1.86× the target (mpmath: 1.8607452458021859e-5).
    assert!(true_delta > delta);
    assert!((true_delta / delta - 1.8607).abs() < 1e-3, "{true_delta:e}");
}

#[test]
fn analytic_sigma_scales_with_sensitivity() {
    let s1 = analytic_gaussian_sigma(2.0, 1e-6, 1.0).unwrap();
    let s3 = analytic_gaussian_sigma(2.0, 1e-6, 3.0).unwrap();
    assert!((s3 / (3.0 * s1) - 1.0).abs() < 1e-12);
}

#[test]
fn analytic_budget_round_trips_on_the_safe_side() {
    for (eps, delta, sens) in [(1.0, 1e-5, 1.0), (0.1, 1e-8, 0.02), (8.0, 1e-3, 40.0)] {
        let sigma = analytic_gaussian_sigma(eps, delta, sens).unwrap();
        let back = analytic_gaussian_budget(eps, delta, sigma).unwrap();
        assert!((back / sens - 1.0).abs() < 1e-9, "{back} vs {sens}");
        assert!(analytic_gaussian_delta(eps, sigma, back).unwrap() <= delta);
        assert!(analytic_gaussian_delta(eps, sigma, back * (1.0 + 1e-6)).unwrap() > delta);
    }
    assert_eq!(analytic_gaussian_budget(1.0, 1e-5, 0.0).unwrap(), 0.0);
}

#[test]
fn analytic_calibration_rejects_bad_inputs() {
    assert!(analytic_gaussian_sigma(0.0, 1e-5, 1.0).is_err());
    assert!(analytic_gaussian_sigma(f64::INFINITY, 1e-5, 1.0).is_err());
    assert!(analytic_gaussian_sigma(1.0, 0.0, 1.0).is_err());
    assert!(analytic_gaussian_sigma(1.0, 1e-320, 1.0).is_err());
    assert!(analytic_gaussian_sigma(1.0, 1.0, 1.0).is_err());
    assert!(analytic_gaussian_sigma(1.0, 1e-5, 0.0).is_err());
    assert!(analytic_gaussian_budget(1.0, 1e-5, -2.0).is_err());
    assert!(analytic_gaussian_budget(1.0, 1e-5, f64::NAN).is_err());
}

#[test]
fn gamma_norm_rate_and_budget() {
    let alpha = gamma_norm_rate(1.0, 0.5).unwrap();
    assert!(alpha <= 2.0 && (2.0 - alpha) / 2.0 < 1e-14);
    let back = gamma_norm_budget(1.0, alpha).unwrap();
    assert!(back <= 0.5 && (0.5 - back) / 0.5 < 1e-14);
    // The certified ε = α·ε′ never exceeds the target.
    for (eps, budget) in [(0.3, 0.07), (1.0, 1e-3), (25.0, 3.0)] {
        let alpha = gamma_norm_rate(eps, budget).unwrap();
        assert!(alpha * budget <= eps);
    }
    assert!(gamma_norm_rate(0.0, 1.0).is_err());
    assert!(gamma_norm_rate(1.0, 0.0).is_err());
    assert!(gamma_norm_budget(1.0, 0.0).is_err());
    assert!(gamma_norm_budget(1.0, f64::NAN).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Over ε ∈ (0.01, 20), δ ∈ (1e-10, 0.1) (log-uniform): the analytic σ
    /// is safe, decreasing in ε and in δ.
    #[test]
    fn analytic_sigma_is_monotone_and_safe(
        log_eps in (0.01f64).ln()..(20.0f64).ln(),
        log_delta in (1e-10f64).ln()..(0.1f64).ln(),
    ) {
        let (eps, delta) = (log_eps.exp(), log_delta.exp());
        let sigma = analytic_gaussian_sigma(eps, delta, 1.0).unwrap();
        prop_assert!(analytic_gaussian_delta(eps, sigma, 1.0).unwrap() <= delta);
        let more_eps = analytic_gaussian_sigma(eps * 1.25, delta, 1.0).unwrap();
        let more_delta = analytic_gaussian_sigma(eps, delta * 2.0, 1.0).unwrap();
        prop_assert!(more_eps < sigma);
        prop_assert!(more_delta < sigma);
        if eps <= 1.0 {
            // Part (a) of the proof: Guo's closed form is safe for ε ≤ 1 and
            // looser than the analytic σ.
            let guo = gaussian_sigma_guo2020(eps, delta, 1.0).unwrap();
            prop_assert!(sigma < guo);
            prop_assert!(analytic_gaussian_delta(eps, guo, 1.0).unwrap() <= delta);
        }
    }
}
