//! The output-perturbation mechanism and the guo2020 mode, checked where they can fail
//! (proofs/output_perturbation_certificate.md, proofs/one_vs_rest_composition.md,
//! proofs/retraining_schedule.md).
//!
//! Statistical tolerances: every sampling check below uses fixed seeds, so its outcome is
//! deterministic; the thresholds are set at ≥ 5 standard deviations of the statistic under
//! the hypothesis being tested (or the KS quantile for α = 1e-6), so that a correct
//! implementation passes for all but a ~1e-6 fraction of seeds while a wrong scale, a
//! shifted mean or reused noise fails by many standard deviations.

use nalgebra::DVector;
use unlearn::data::{Dataset, Preprocessing, TargetEncoding, Targets};
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::model::{self, Hyperparameters, ReleaseRecord, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::noise::{self, NoiseFamily, NoiseSpec};
use unlearn::objective::{Objective, Regularization, Rows};
use unlearn::privacy::{self, GaussianCalibration, PrivacyTarget};
use unlearn::solver::NewtonOptions;
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::Unlearner;
use unlearn::verify::verify;

/// n rows, d features, `classes` one-vs-rest classes (1 = binary).
fn data(n: usize, d: usize, classes: usize, seed: u64) -> Dataset {
    let base = generate(&SyntheticSpec {
        rows: n,
        features: d,
        flip: 0.1,
        regression: classes > 1,
        seed,
    });
    if classes == 1 {
        return base;
    }
    let k = classes as f64;
    let values = base
        .targets()
        .unwrap()
        .values
        .iter()
        .map(|t| ((t + 1.0) * k / 2.0).floor().clamp(0.0, k - 1.0))
        .collect();
    Dataset::new(
        base.ids().to_vec(),
        base.feature_names().to_vec(),
        base.features().to_vec(),
        Some(Targets {
            values,
            encoding: TargetEncoding::Multiclass {
                classes: (0..classes).map(|c| format!("c{c}")).collect(),
            },
        }),
    )
    .unwrap()
}

fn hyper(
    mechanism: Mechanism,
    noise: NoiseSpec,
    privacy: Option<PrivacyTarget>,
) -> Hyperparameters {
    Hyperparameters {
        loss: LossKind::Logistic,
        lambda: 0.1,
        regularization: Regularization::Total,
        intercept: true,
        noise,
        privacy,
        mechanism,
        newton: NewtonOptions::default(),
    }
}

fn calibrated(family: NoiseFamily, budget: f64) -> (NoiseSpec, PrivacyTarget) {
    let delta = (family == NoiseFamily::Gaussian).then_some(1e-5);
    privacy::calibrate(family, 1.0, delta, budget, GaussianCalibration::Lattice).unwrap()
}

fn train(data: Dataset, h: &Hyperparameters, seed: u64) -> Unlearner {
    let input = TrainingData {
        data,
        preprocessing: Preprocessing::default(),
        target_column: "y".into(),
    };
    Unlearner::from_trained(model::train(input, h, test_key(seed)).unwrap())
}

fn ids(list: &[usize]) -> Vec<String> {
    list.iter().map(|i| format!("s{i}")).collect()
}

/// ‖∇L_b(w_k; D)‖ of every class model of the current secret state.
fn residuals(u: &Unlearner) -> Vec<f64> {
    let h = &u.model.published.hyperparameters;
    let s = &u.model.secret;
    let lambda = h
        .regularization
        .effective_lambda(h.lambda, s.design().n_rows());
    (0..s.weights.len())
        .map(|k| {
            let y = s.model_targets(k);
            Objective {
                loss: &h.loss,
                rows: Rows {
                    features: s.design().features(),
                    targets: &y,
                    dim: s.design().n_features(),
                },
                lambda,
                noise: &s.noise[k],
            }
            .gradient(&s.weights[k])
            .norm()
        })
        .collect()
}

/// A release record of the current secret weights with index `r` (after an empty head), drawn
/// with the store's sampler.
fn record(u: &Unlearner, r: u64) -> ReleaseRecord {
    ReleaseRecord {
        head: String::new(),
        index: r,
        sampler: u.model.secret.last_release.sampler,
        weights: u
            .model
            .secret
            .weights
            .iter()
            .map(|w| w.as_slice().to_vec())
            .collect(),
    }
}

/// The release noise ξ_r = released_weights(record r) − w̃, concatenated over the class
/// models (each index keys independent noise: proofs/noise_keys.md).
fn release_noise(u: &Unlearner, r: u64) -> Vec<f64> {
    let h = &u.model.published.hyperparameters;
    let released = u.model.secret.released_weights(h, &record(u, r)).unwrap();
    released
        .iter()
        .zip(&u.model.secret.weights)
        .flat_map(|(p, w)| {
            p.iter()
                .zip(w.iter())
                .map(|(a, b)| a - b)
                .collect::<Vec<_>>()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// (i) The release noise is N(0, σ²I) with the calibrated σ
// ---------------------------------------------------------------------------------------

/// With σ from `privacy::calibrate`, released weights minus secret weights over M releases
/// (after a removal, K = 3 class models of dimension 4) are i.i.d. N(0, σ²):
/// - each coordinate's mean: |x̄| ≤ 5σ/√M (x̄ ~ N(0, σ²/M));
/// - each coordinate's variance: |s²/σ² − 1| ≤ 5√(2/(M − 1)) (Var s² = 2σ⁴/(M − 1));
/// - correlations between coordinates of one release (across class models) and of
///   consecutive releases: |ρ̂| ≤ 5/√M (sd of ρ̂ under independence ≈ 1/√M);
/// - the pooled standardised values against Φ: KS statistic ≤ 2.7/√N (α ≈ 1e-6).
///
/// These also show the rounding of w̃ + ξ (relative u·|w̃|/σ ≈ 1e-16 here) is invisible at
/// this sample size — the sampler's discreteness is a separate caveat (the proof).
#[test]
fn release_noise_is_gaussian_with_the_calibrated_sigma() {
    let (spec, target) = calibrated(NoiseFamily::Gaussian, 0.05);
    // σ is the lattice calibration: the budget is afforded at σ, not at 0.99σ.
    let afforded = |s: f64| {
        let lattice = noise::LatticeNoise::for_sigma(s).unwrap();
        privacy::lattice_sensitivity(&lattice, 1.0, 1e-5).unwrap()
    };
    assert!(afforded(spec.scale) >= 0.05 && afforded(0.99 * spec.scale) < 0.05);
    let h = hyper(Mechanism::OutputPerturbation, spec, Some(target));
    let mut u = train(data(120, 3, 3, 5), &h, 99);
    u.remove(&ids(&[4, 17])).unwrap();
    let sigma = spec.scale;
    let m = 4000usize;
    let samples: Vec<Vec<f64>> = (0..m as u64).map(|r| release_noise(&u, r)).collect();
    let dim = samples[0].len();
    assert_eq!(dim, 3 * 4);
    let mf = m as f64;
    let column = |j: usize| samples.iter().map(|s| s[j]).collect::<Vec<_>>();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for j in 0..dim {
        let c = column(j);
        let mu = mean(&c);
        let var = c.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (mf - 1.0);
        assert!(
            mu.abs() <= 5.0 * sigma / mf.sqrt(),
            "coordinate {j}: mean {mu:e}"
        );
        assert!(
            (var / (sigma * sigma) - 1.0).abs() <= 5.0 * (2.0 / (mf - 1.0)).sqrt(),
            "coordinate {j}: variance {var:e} vs σ² = {:e}",
            sigma * sigma
        );
    }
    let correlation = |a: &[f64], b: &[f64]| {
        let (ma, mb) = (mean(a), mean(b));
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    };
    for (j, l) in [(0, 4), (0, 8), (1, 5), (3, 11), (0, 1)] {
        let rho = correlation(&column(j), &column(l));
        assert!(
            rho.abs() <= 5.0 / mf.sqrt(),
            "coordinates {j}, {l}: ρ = {rho}"
        );
    }
    for j in [0, 7] {
        let c = column(j);
        let rho = correlation(&c[..m - 1], &c[1..]);
        assert!(
            rho.abs() <= 5.0 / mf.sqrt(),
            "consecutive releases, {j}: ρ = {rho}"
        );
    }
    let mut pooled: Vec<f64> = samples.iter().flatten().map(|x| x / sigma).collect();
    pooled.sort_by(f64::total_cmp);
    let nf = pooled.len() as f64;
    let ks = pooled
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = noise::std_normal_cdf(x);
            (f - i as f64 / nf)
                .abs()
                .max(((i + 1) as f64 / nf - f).abs())
        })
        .fold(0.0, f64::max);
    assert!(ks <= 2.7 / nf.sqrt(), "KS statistic {ks}");
}

/// Gamma-norm release noise: each class model's ξ_k has ‖ξ_k‖ ~ Gamma(d, 1/α) with
/// α = ε/ε′: mean of ‖ξ‖α is d (sd √(d/M)), variance d (sd of s² ≈ √((2d² + 6d)/M),
/// Gamma excess kurtosis 6/d). Also the mean direction is ≈ 0.
#[test]
fn gamma_norm_release_noise_has_the_calibrated_rate() {
    let (spec, target) = calibrated(NoiseFamily::GammaNorm, 0.05);
    let alpha = 1.0 / spec.scale;
    assert!((alpha - 1.0 / 0.05).abs() <= 1e-12 * alpha, "α = ε/ε′");
    let h = hyper(Mechanism::OutputPerturbation, spec, Some(target));
    let u = train(data(60, 3, 1, 2), &h, 3);
    let d = 4.0; // 3 features and the intercept
    let m = 4000usize;
    let norms: Vec<f64> = (0..m as u64)
        .map(|r| alpha * DVector::from_vec(release_noise(&u, r)).norm())
        .collect();
    let mf = m as f64;
    let mean = norms.iter().sum::<f64>() / mf;
    let var = norms.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (mf - 1.0);
    assert!(
        (mean - d).abs() <= 5.0 * (d / mf).sqrt(),
        "mean ‖ξ‖α = {mean}"
    );
    assert!(
        (var - d).abs() <= 5.0 * ((2.0 * d * d + 6.0 * d) / mf).sqrt(),
        "var ‖ξ‖α = {var}"
    );
}

// ---------------------------------------------------------------------------------------
// (ii) What is published is the release the secret state implies
// ---------------------------------------------------------------------------------------

/// After each removal the published weights are exactly the release its record implies, bit
/// for bit; every other release index or ledger head gives other weights; the noise is fresh
/// at each release (ξ after ≠ ξ before), and the certificate names the release count.
#[test]
fn published_weights_are_the_latest_release_bit_for_bit() {
    let (spec, target) = calibrated(NoiseFamily::Gaussian, 0.05);
    let h = hyper(Mechanism::OutputPerturbation, spec, Some(target));
    let mut u = train(data(100, 3, 3, 8), &h, 21);
    assert_eq!(u.model.secret.transcript.releases, 1);
    assert_eq!(
        u.model.published.weights,
        u.model
            .secret
            .released_weights(&h, &u.model.secret.last_release)
            .unwrap()
    );
    let mut noises = vec![release_noise(&u, 0)];
    for (step, batch) in [&[1usize, 2][..], &[3], &[10, 11, 12]].iter().enumerate() {
        let cert = u.remove(&ids(batch)).unwrap();
        let s = &u.model.secret;
        let r = s.transcript.releases;
        assert_eq!(r, step as u64 + 2);
        assert_eq!(cert.release, r, "the certificate counts releases");
        assert_eq!(s.last_release.index, r - 1);
        assert_eq!(
            s.last_release.head,
            u.ledger.entries[u.ledger.entries.len() - 2].digest,
            "keyed after the ledger head before the release"
        );
        let latest = s.released_weights(&h, &s.last_release).unwrap();
        let bits =
            |w: &[Vec<f64>]| -> Vec<u64> { w.iter().flatten().map(|v| v.to_bits()).collect() };
        assert_eq!(bits(&u.model.published.weights), bits(&latest));
        for other in [0, r - 2, r, r + 7] {
            let moved = ReleaseRecord {
                index: other,
                ..s.last_release.clone()
            };
            assert_ne!(
                u.model.published.weights,
                s.released_weights(&h, &moved).unwrap(),
                "release {other}"
            );
        }
        let other_head = ReleaseRecord {
            head: "another head".into(),
            ..s.last_release.clone()
        };
        assert_ne!(
            u.model.published.weights,
            s.released_weights(&h, &other_head).unwrap()
        );
        let secret: Vec<Vec<f64>> = s.weights.iter().map(|w| w.as_slice().to_vec()).collect();
        assert_ne!(u.model.published.weights, secret, "noise was added");
        let xi = release_noise(&u, r - 1);
        assert!(noises.iter().all(|old| old != &xi), "release noise reused");
        noises.push(xi);
        assert!(verify(&u).passed());
    }
}

// ---------------------------------------------------------------------------------------
// (iii) No noise or no target: never certified
// ---------------------------------------------------------------------------------------

#[test]
fn without_noise_or_target_nothing_is_certified() {
    let (spec, target) = calibrated(NoiseFamily::Gaussian, 0.05);
    let zero = NoiseSpec {
        family: NoiseFamily::Gaussian,
        scale: 0.0,
    };
    let cases = [
        (
            hyper(Mechanism::OutputPerturbation, zero, Some(target)),
            "σ = 0",
        ),
        (hyper(Mechanism::OutputPerturbation, zero, None), "σ = 0"),
        (
            hyper(Mechanism::OutputPerturbation, spec, None),
            "no privacy target",
        ),
    ];
    for (h, needle) in cases {
        let mut u = train(data(50, 2, 1, 4), &h, 1);
        let certs = [
            u.ledger.entries[0].clone(),
            u.remove(&ids(&[0, 1])).unwrap(),
            u.remove_sequential(&ids(&[2])).unwrap().remove(0),
        ];
        for c in certs {
            assert!(!c.certified, "{needle}: certified");
            let reason = c.reason.unwrap_or_default();
            assert!(reason.contains(needle), "{needle}: reason {reason:?}");
        }
        if h.noise.scale == 0.0 {
            // σ = 0 publishes the secret weights themselves.
            let secret: Vec<Vec<f64>> = u
                .model
                .secret
                .weights
                .iter()
                .map(|w| w.as_slice().to_vec())
                .collect();
            assert_eq!(u.model.published.weights, secret);
        }
    }
    // The same model with σ and a target is certified (the checks above can fail).
    let mut u = train(
        data(50, 2, 1, 4),
        &hyper(Mechanism::OutputPerturbation, spec, Some(target)),
        1,
    );
    let c = u.remove(&ids(&[0, 1])).unwrap();
    assert!(c.certified && c.reason.is_none(), "{:?}", c.reason);
}

/// A privacy target whose budget the noise does not meet must not certify: here σ is ten
/// times smaller than `calibrate` gives for (ε, δ, ε′). The library trusts
/// `Hyperparameters::privacy` without checking it against `Hyperparameters::noise`, and
/// `verify` does not recompute it either, so a store whose model.json was edited (the
/// digest covers only the weights) or a library caller that built the hyperparameters by
/// hand gets a certified release with a tenth of the noise.
#[test]
fn a_target_the_noise_does_not_meet_is_not_certified() {
    let (mut spec, target) = calibrated(NoiseFamily::Gaussian, 0.05);
    spec.scale /= 10.0;
    let mut u = train(
        data(50, 2, 1, 4),
        &hyper(Mechanism::OutputPerturbation, spec, Some(target)),
        1,
    );
    let c = u.remove(&ids(&[0, 1])).unwrap();
    assert!(!c.certified, "certified with σ/10");
    assert!(!verify(&u).passed());
}

// ---------------------------------------------------------------------------------------
// One-vs-rest with the Gamma-norm density
// ---------------------------------------------------------------------------------------

/// With the Gamma-norm density each class model gets its own ξ_k with density
/// ∝ exp(−α‖ξ_k‖), so the joint density on ℝ^{Kd} is ∝ exp(−α Σ_k‖ξ_k‖): the privacy loss
/// of a shift (s_1, …, s_K) is bounded by α Σ_k‖s_k‖, not α√Σ_k‖s_k‖²
/// (proofs/one_vs_rest_composition.md). The budget charged must therefore be
/// Σ_k ‖u_k‖/Λ′ for this family; the unlearner charges √Σ_k(‖u_k‖/Λ′)², up to √K too little.
#[test]
fn gamma_norm_one_vs_rest_charges_the_sum_of_class_distances() {
    let (spec, target) = calibrated(NoiseFamily::GammaNorm, 1.0);
    let h = hyper(Mechanism::OutputPerturbation, spec, Some(target));
    let mut u = train(data(120, 3, 3, 5), &h, 7);
    let c = u.remove(&ids(&[0, 1, 2, 3])).unwrap();
    let lambda = c.effective_lambda;
    let sum: f64 = residuals(&u).iter().map(|r| r / lambda).sum();
    assert!(
        c.budget_used >= sum * (1.0 - 1e-9),
        "charged {:e} < Σ_k ‖u_k‖/Λ′ = {sum:e}",
        c.budget_used
    );
}

// ---------------------------------------------------------------------------------------
// (iv) guo2020
// ---------------------------------------------------------------------------------------

/// guo2020 certificates list their unproven assumptions and are never certified; the
/// published weights are the secret minimiser of L_b (no output noise).
#[test]
fn guo2020_certificates_say_they_are_not_proven() {
    let (spec, target) = calibrated(NoiseFamily::Gaussian, 0.05);
    let h = hyper(Mechanism::Guo2020, spec, Some(target));
    let mut u = train(data(80, 3, 3, 6), &h, 12);
    let mut certs = vec![u.ledger.entries[0].clone()];
    certs.push(u.remove(&ids(&[5, 6])).unwrap());
    certs.extend(u.remove_sequential(&ids(&[7, 8])).unwrap());
    for c in &certs {
        assert!(!c.unproven_assumptions.is_empty());
        assert!(
            c.unproven_assumptions
                .iter()
                .any(|a| a.contains("Jacobian"))
        );
        assert!(!c.certified);
        assert!(c.reason.as_deref().unwrap_or("").contains("unproven"));
        assert_eq!(c.budget_unit, "gradient-residual");
    }
    let secret: Vec<Vec<f64>> = u
        .model
        .secret
        .weights
        .iter()
        .map(|w| w.as_slice().to_vec())
        .collect();
    assert_eq!(u.model.published.weights, secret);
    assert!(u.model.secret.noise.iter().all(|b| b.norm() > 0.0));
    assert!(verify(&u).passed());
}

/// A guo2020 removal that re-solves (its data-dependent bound over a tiny budget) draws fresh
/// objective noise and new solver reports; when its confirmation is refused, the rollback
/// puts back the noise, its draw count and the reports with everything else (the request
/// replaced them, and its rollback keeps the old ones only from that point: `Replaced`).
#[test]
fn a_refused_guo2020_resolve_gets_its_noise_back() {
    let (spec, target) = calibrated(NoiseFamily::Gaussian, 0.05);
    let h = hyper(Mechanism::Guo2020, spec, Some(target));
    let mut u = train(data(80, 3, 2, 6), &h, 12);
    u.remove(&ids(&[5])).unwrap();
    u.model
        .published
        .hyperparameters
        .privacy
        .as_mut()
        .unwrap()
        .budget = 1e-12;
    let before = u.clone();
    let refused: Result<_, unlearn::unlearner::RemovalError> = u.confirmed(
        |u| u.remove(&ids(&[6])),
        |changed: &Unlearner| {
            let secret = &changed.model.secret;
            assert!(
                changed.ledger.last().unwrap().retrained,
                "the removal re-solved"
            );
            assert_ne!(secret.noise, before.model.secret.noise, "with fresh noise");
            assert_ne!(secret.training, before.model.secret.training);
            Err(unlearn::unlearner::RemovalError::Empty)
        },
    );
    assert!(refused.is_err());
    // Everything but the rows' order (the re-solve put them in canonical order, which the
    // rollback keeps: `a_failed_resolve_rolls_back_to_a_state_that_verifies`).
    let (secret, old) = (&u.model.secret, &before.model.secret);
    assert_eq!(secret.noise, old.noise);
    assert_eq!(secret.noise_draws, old.noise_draws);
    assert_eq!(secret.training, old.training);
    assert_eq!(secret.weights, old.weights);
    assert_eq!(secret.spent, old.spent);
    assert_eq!(secret.transcript, old.transcript);
    assert_eq!(secret.last_release, old.last_release);
    assert_eq!(u.model.published, before.model.published);
    assert_eq!(u.ledger, before.ledger);
}

/// `verify`'s residual check on a guo2020 store, driven to both outcomes by what it reads
/// besides the residual: the last certificate's budget and its claim. guo2020 never
/// certifies, so a store the code writes only takes the uncertified branch. The training
/// certificate with its budget lowered to half the recomputed residual (resealed): while
/// uncertified it claims nothing about the budget and must verify; forged to say
/// `certified: true` it must fail that check, and only it. Kills the mutants of the check's
/// guo2020 budget clause `!last.certified || measured ≤ b` (`!` dropped, `≤` ↦ `>`, `||` ↦
/// `&&`), which no store the code writes reaches.
#[test]
fn verify_holds_a_guo2020_entry_to_its_budget_only_when_it_claims_certified() {
    let (spec, target) = calibrated(NoiseFamily::Gaussian, 0.05);
    let h = hyper(Mechanism::Guo2020, spec, Some(target));
    let u = train(data(80, 3, 3, 6), &h, 12);
    let measured = verify(&u)
        .exact_residuals
        .iter()
        .copied()
        .fold(0.0, f64::max);
    assert!(measured > 0.0);
    let with_entry = |certified: bool| {
        let mut t = u.clone();
        let mut entry = t.ledger.entries.pop().unwrap();
        assert!(!entry.certified, "guo2020 never certifies");
        entry.budget = Some(measured / 2.0);
        entry.certified = certified;
        t.ledger.entries.push(entry.seal(None));
        verify(&t)
    };
    let uncertified = with_entry(false);
    assert!(uncertified.passed(), "{:?}", uncertified.checks);
    let forged = with_entry(true);
    for check in &forged.checks {
        assert_eq!(
            check.passed,
            check.name != "exact residual within the recorded bound",
            "{}: {}",
            check.name,
            check.detail
        );
    }
}

/// guo2020 retrains exactly when some class's summed bound, spent_k + data-dependent_k,
/// exceeds the budget ε′ (the recorded values of a probe run decide it; the budget is set
/// on the trained model, so the noise b is the same in every run). A retraining draws
/// fresh objective noise from stream 2·(draws) of the seed, re-solves from zero on D′,
/// and resets the accounts to the training residuals.
#[test]
fn guo2020_retrains_with_fresh_noise_exactly_when_over_budget() {
    let (spec, target) = calibrated(NoiseFamily::Gaussian, 0.05);
    let h = hyper(Mechanism::Guo2020, spec, Some(target));
    let base = train(data(80, 3, 3, 6), &h, 12);
    let request = ids(&[5, 6, 9]);
    let mut probe = base.clone();
    probe.model.published.hyperparameters.privacy = None;
    let c = probe.remove(&request).unwrap();
    assert!(!c.retrained);
    let summed = base
        .model
        .secret
        .spent
        .iter()
        .zip(&c.bounds.data_dependent)
        .map(|(s, b)| s + b)
        .fold(0.0, f64::max);
    assert!(summed > 0.0);
    for (budget, expect) in [
        (summed * (1.0 - 1e-9), true),
        (summed * (1.0 + 1e-9), false),
    ] {
        let mut u = base.clone();
        // A consistent store: the noise scale is calibrated for the budget set here (the
        // already drawn b stays; only later draws use the new σ).
        let (spec_b, target_b) = calibrated(NoiseFamily::Gaussian, budget);
        u.model.published.hyperparameters.noise = spec_b;
        u.model.published.hyperparameters.privacy = Some(target_b);
        let noise_before = u.model.secret.noise.clone();
        let c = u.remove(&request).unwrap();
        assert_eq!(c.retrained, expect, "budget {budget:e}, summed {summed:e}");
        let s = &u.model.secret;
        if expect {
            assert_eq!(s.noise_draws, 2);
            let mut rng = s.key.objective_rng(1);
            for (k, b) in s.noise.iter().enumerate() {
                assert_ne!(b, &noise_before[k], "class {k}: noise not redrawn");
                let fresh = noise::sample(&spec_b, b.len(), &mut rng).unwrap();
                assert_eq!(b, &fresh, "class {k}: not the seed's second draw");
            }
            for (k, r) in residuals(&u).iter().enumerate() {
                assert!(*r <= h.newton.tolerance, "class {k}: residual {r:e}");
            }
            // Guo's sum restarts from the new weights' residual bound (outward-rounded).
            assert_eq!(s.spent, c.bounds.exact_residual);
        } else {
            assert_eq!(s.noise_draws, 1);
            assert_eq!(s.noise, noise_before);
            assert!(c.budget_used <= budget);
        }
        assert!(verify(&u).passed());
    }
}

/// After a guo2020 retraining, the certificate's exact residuals must describe the secret
/// weights it leaves (those re-solved with the fresh noise, residual ≤ tolerance), as
/// `StepBounds::exact_residual` documents; the unlearner keeps the residuals of the
/// discarded Newton step (computed with the old noise).
#[test]
fn guo2020_retraining_certificate_describes_the_new_weights() {
    let (spec, target) = calibrated(NoiseFamily::Gaussian, 1e-9);
    let h = hyper(Mechanism::Guo2020, spec, Some(target));
    let mut u = train(data(80, 3, 3, 6), &h, 12);
    let c = u.remove(&ids(&[5, 6, 9])).unwrap();
    assert!(c.retrained);
    for (k, (recorded, actual)) in c
        .bounds
        .exact_residual
        .iter()
        .zip(residuals(&u))
        .enumerate()
    {
        // The recorded value is the outward-rounded bound of the computed norm: at least the
        // computed norm, and above it by at most the rounding bound γ_{n+2}(R·Σ|ℓ'| + Λ‖w‖ +
        // ‖b‖) + … of proofs/squared_loss_exactness.md, Lemma 1, which for 77 rows of norm
        // ≤ 2, Σ|ℓ'| ≤ 77, Λ‖w‖ ≲ 10 and ‖b‖ ≲ 1 is below 1e-12. The discarded step's residual
        // (≈ 1.7e-3 here) is far outside that window.
        assert!(
            *recorded >= actual && *recorded <= actual + 1e-12,
            "class {k}: recorded {recorded:e}, secret weights have {actual:e}"
        );
    }
}

/// A deterministic key that counts as secret (`NoiseKey::from_secret_bytes`): library tests
/// need reproducible noise and certified certificates; the CLI's `--seed` is never certified.
fn test_key(seed: u64) -> NoiseKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    NoiseKey::from_secret_bytes(bytes)
}

/// The release format's sampler field (proofs/lattice_release.md, "The bit sampler", "The
/// comparison sampler", "The fourth format"): a new lattice release records the comparison
/// sampler's fourth format in its release record and in every certificate
/// (`"release_sampler":"cks-compare-v4"` in the sealed JSON), `verify` regenerates it with
/// that sampler and passes; the same record read with the word sampler or with the third
/// format ("cks-compare-v3") gives other weights, so
/// `verify` fails when the secret record's sampler is flipped; flipping the certificate's
/// field breaks the ledger chain (the field is under the digest) and, resealed, disagrees
/// with the record. A store without output-perturbation noise keeps the field absent.
#[test]
fn the_release_sampler_is_recorded_sealed_and_checked() {
    let (spec, target) = calibrated(NoiseFamily::Gaussian, 0.05);
    let h = hyper(Mechanism::OutputPerturbation, spec, Some(target));
    let mut u = train(data(100, 3, 1, 8), &h, 21);
    u.remove(&ids(&[4])).unwrap();
    let s = &u.model.secret;
    assert_eq!(s.last_release.sampler, noise::Sampler::CompareV4);
    for entry in &u.ledger.entries {
        assert_eq!(entry.release_sampler, noise::Sampler::CompareV4);
        let json = serde_json::to_string(entry).unwrap();
        assert!(
            json.contains(r#""release_sampler":"cks-compare-v4""#),
            "{json}"
        );
    }
    assert!(verify(&u).passed());
    let with_sampler = |sampler| ReleaseRecord {
        sampler,
        ..s.last_release.clone()
    };
    for other in [noise::Sampler::Words, noise::Sampler::Compare] {
        let regenerated = s.released_weights(&h, &with_sampler(other)).unwrap();
        assert_ne!(u.model.published.weights, regenerated, "{other:?}");
    }

    let mut flipped_record = u.clone();
    flipped_record.model.secret.last_release.sampler = noise::Sampler::Words;
    let check = verify(&flipped_record);
    assert!(!check.passed());
    assert!(
        check
            .checks
            .iter()
            .any(|c| c.name == "published weights" && !c.passed)
    );

    let mut flipped_entry = u.clone();
    let last = flipped_entry.ledger.entries.last_mut().unwrap();
    last.release_sampler = noise::Sampler::Words;
    assert_ne!(
        last.compute_digest(),
        last.digest,
        "the field is under the digest"
    );
    assert!(
        flipped_entry
            .ledger
            .verify_chain(&flipped_entry.model.published.digest)
            .is_err()
    );
    // Resealed (a forger who rewrites the digest): the chain replays, the sampler check fails.
    let mut resealed = u.clone();
    let mut entry = resealed.ledger.entries.pop().unwrap();
    entry.release_sampler = noise::Sampler::Words;
    resealed.ledger.append(entry);
    let check = verify(&resealed);
    let weights = check
        .checks
        .iter()
        .find(|c| c.name == "published weights")
        .unwrap();
    assert!(
        !weights.passed && weights.detail.contains("cks-words-v1"),
        "{weights:?}"
    );

    let none = hyper(
        Mechanism::OutputPerturbation,
        NoiseSpec {
            family: NoiseFamily::Gaussian,
            scale: 0.0,
        },
        None,
    );
    let plain = train(data(60, 3, 1, 9), &none, 22);
    assert_eq!(
        plain.model.secret.last_release.sampler,
        noise::Sampler::Words
    );
    let json = serde_json::to_string(&plain.ledger.entries[0]).unwrap();
    assert!(!json.contains("release_sampler"));
}
