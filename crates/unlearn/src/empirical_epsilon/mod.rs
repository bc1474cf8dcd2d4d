//! Empirical ε: a statistical lower bound on the ε a removal mechanism actually achieves.
//!
//! A removal is (ε, δ)-indistinguishable from retraining when, for every set S of outputs,
//! P(A ∈ S) ≤ e^ε P(B ∈ S) + δ and P(B ∈ S) ≤ e^ε P(A ∈ S) + δ, where A is the release
//! after unlearning S_rows from D and B a release of a model retrained on D′ = D ∖ S_rows.
//! Over K removal requests, A is the transcript of the K releases the unlearner publishes
//! and B the retrain world's, which retrains from scratch before each release
//! (proofs/transcript_accounting.md); the certificates state ε for that pair.
//! Any test that says "retrained" when the output falls in S has false-positive rate
//! FPR = P(A ∈ S) and false-negative rate FNR = P(B ∉ S), and the two inequalities (for S
//! and its complement) give (Kairouz, Oh & Viswanath 2015, Theorem 2.1)
//!
//! ε ≥ ln((1 − δ − FPR)/FNR) and ε ≥ ln((1 − δ − FNR)/FPR).
//!
//! The audit ([`audit`]) draws T independent trials, each one unlearned transcript and one
//! retrained transcript with their own seeds, reduces each to a real statistic (a
//! projection of the weights, see [`scenario`]), chooses the test region S on the first
//! half of the trials and counts its errors on the second half. With Clopper–Pearson upper
//! bounds FPR⁺, FNR⁺ ([`crate::stats::clopper_pearson`], each two-sided at the confidence
//! c, so each upper end fails with probability ≤ (1 − c)/2) the reported
//!
//! ε_lower = max(0, ln((1 − δ − FPR⁺)/FNR⁺), ln((1 − δ − FNR⁺)/FPR⁺))
//!
//! is below the true ε with probability at least c (proofs/empirical_epsilon.md). With m
//! evaluation trials it can never exceed ln((1 − δ − u)/u) with u = 1 − ((1 − c)/2)^{1/m},
//! the value of a test that makes no error at all ([`max_reportable_epsilon`]): about
//! ln(m/3.7) at c = 0.95.
//!
//! The test regions are the intervals [e_i, e_j) between cut points e_0 = −∞ < … < e_K = +∞
//! (quantiles of the first half's pooled statistics) and their complements. The region
//! chosen is the one whose bound, computed on the first half with Wilson upper bounds
//! made simultaneous over the candidates (cheap, and only a choice: nothing reported
//! depends on their coverage), is largest.
//! One-sided thresholds are intervals with an infinite end, so a shift in one direction is
//! caught as well as a density ratio that peaks in the middle (the Guo counterexample).

pub mod counterexample;
pub mod scenario;

use crate::stats::{self, Proportion};
use rand::RngExt;
use rayon::prelude::*;
use serde::Serialize;

/// How an audit samples and how confident its bound is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AuditOptions {
    /// Number of trials T (one unlearned and one retrained transcript each); at least
    /// [`MIN_TRIALS`]. The first ⌊T/2⌋ choose the test, the rest evaluate it.
    pub trials: usize,
    /// Confidence c ∈ (0, 1) of the lower bound.
    pub confidence: f64,
    /// δ of the guarantee being audited.
    pub delta: f64,
    /// Seed from which every trial's seeds are derived ([`trial_seed`]).
    pub seed: u64,
}

/// Fewest trials an audit accepts: ten per side in each half.
pub const MIN_TRIALS: usize = 20;

/// Most cut points between test regions (so at most about K²/2 intervals are scored).
pub const MAX_CUTS: usize = 8192;

/// Why an audit could not run.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An option is out of range; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// A trial failed (training or removal), with the trial's number.
    #[error("trial {trial}: {message}")]
    Trial {
        /// The trial's index (0-based).
        trial: usize,
        /// What failed.
        message: String,
    },
}

/// The test the audit chose: say "retrained" when the statistic lies in [lower, upper)
/// (or outside it, when `complement`). An infinite end is written as JSON `null`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TestRegion {
    /// Lower end (−∞ allowed).
    pub lower: f64,
    /// Upper end (+∞ allowed).
    pub upper: f64,
    /// Whether the test says "retrained" outside the interval.
    pub complement: bool,
}

impl std::fmt::Display for TestRegion {
    /// The rule in words: `⟨M, U⟩ < c`, `⟨M, U⟩ ≥ c`, `⟨M, U⟩ in [a, b)` or `outside [a, b)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (lo, hi) = (self.lower, self.upper);
        match (lo.is_finite(), hi.is_finite(), self.complement) {
            (false, true, false) | (true, false, true) => {
                write!(f, "⟨M, U⟩ < {:.6e}", if hi.is_finite() { hi } else { lo })
            }
            (true, false, false) | (false, true, true) => {
                write!(f, "⟨M, U⟩ ≥ {:.6e}", if lo.is_finite() { lo } else { hi })
            }
            (_, _, complement) => write!(
                f,
                "⟨M, U⟩ {} [{lo:.6e}, {hi:.6e})",
                if complement { "outside" } else { "in" }
            ),
        }
    }
}

impl TestRegion {
    /// Whether the test says "retrained" for statistic `z`.
    pub fn says_retrained(&self, z: f64) -> bool {
        (self.lower <= z && z < self.upper) != self.complement
    }
}

/// The result of an audit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpsilonAudit {
    /// Trials T.
    pub trials: usize,
    /// Trials used to choose the test (the first ⌊T/2⌋).
    pub selection_trials: usize,
    /// Trials used to evaluate it (the rest).
    pub evaluation_trials: usize,
    /// Confidence c of the bound (and of each rate's interval).
    pub confidence: f64,
    /// δ of the audited guarantee.
    pub delta: f64,
    /// The chosen test.
    pub region: TestRegion,
    /// P(test says "retrained" | unlearned release), on the evaluation trials, with its
    /// Clopper–Pearson interval at confidence c.
    pub false_positive_rate: Proportion,
    /// P(test says "unlearned" | retrained release), likewise.
    pub false_negative_rate: Proportion,
    /// The lower bound on ε, valid with probability ≥ c.
    pub epsilon_lower: f64,
    /// The same formula with the point estimates instead of the upper bounds (no guarantee;
    /// what the bound tends to as the trials grow, for this test). Infinite (JSON `null`)
    /// when the test made no error.
    pub epsilon_estimate: f64,
    /// The largest value `epsilon_lower` can take with this many evaluation trials.
    pub max_reportable_epsilon: f64,
}

/// The seed of trial `t`'s unlearned (`side` 0) or retrained (`side` 1) run: the first
/// word of ChaCha20 stream 2t + side of `seed`. Distinct streams are independent for the
/// purposes of the audit (a collision of two derived 64-bit seeds has probability about
/// T²/2⁶⁴).
pub fn trial_seed(seed: u64, t: usize, side: u64) -> u64 {
    let mut rng = crate::noise::noise_rng(seed);
    rng.set_stream(2 * t as u64 + side);
    rng.random()
}

/// ε ≥ max(ln((1 − δ − fpr)/fnr), ln((1 − δ − fnr)/fpr)), clamped at 0 (with ln(x/0) = +∞
/// for x > 0).
pub fn epsilon_from_rates(fpr: f64, fnr: f64, delta: f64) -> f64 {
    log_ratio_bound(fpr, fnr, delta).max(0.0)
}

/// The same maximum without the clamp (−∞ when both numerators are ≤ 0), so that tests
/// that prove nothing are still ranked when the region is chosen.
fn log_ratio_bound(fpr: f64, fnr: f64, delta: f64) -> f64 {
    let one = |num: f64, den: f64| {
        if num <= 0.0 {
            f64::NEG_INFINITY
        } else {
            (num / den).ln()
        }
    };
    one(1.0 - delta - fpr, fnr).max(one(1.0 - delta - fnr, fpr))
}

/// The largest `epsilon_lower` with `m` evaluation trials per side at confidence c: both
/// rates observed as 0, whose Clopper–Pearson upper end is 1 − ((1 − c)/2)^{1/m}.
pub fn max_reportable_epsilon(m: usize, confidence: f64, delta: f64) -> f64 {
    let u = stats::clopper_pearson(0, m, confidence).map_or(1.0, |p| p.upper);
    epsilon_from_rates(u, u, delta)
}

/// Runs `trials` trials in parallel: `unlearned(seed)` and `retrained(seed)` return the
/// statistic of one transcript each. Returns the statistics in trial order.
fn sample<E: std::fmt::Display>(
    options: &AuditOptions,
    unlearned: &(impl Fn(u64) -> Result<f64, E> + Sync),
    retrained: &(impl Fn(u64) -> Result<f64, E> + Sync),
) -> Result<(Vec<f64>, Vec<f64>), AuditError> {
    let pairs: Vec<(f64, f64)> = (0..options.trials)
        .into_par_iter()
        .map(|t| {
            let fail = |e: E| AuditError::Trial {
                trial: t,
                message: e.to_string(),
            };
            let a = unlearned(trial_seed(options.seed, t, 0)).map_err(fail)?;
            let b = retrained(trial_seed(options.seed, t, 1)).map_err(fail)?;
            if a.is_finite() && b.is_finite() {
                Ok((a, b))
            } else {
                Err(AuditError::Trial {
                    trial: t,
                    message: format!("a statistic is not finite ({a}, {b})"),
                })
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(pairs.into_iter().unzip())
}

/// Checks the options a user can get wrong.
fn validate(options: &AuditOptions) -> Result<(), AuditError> {
    if options.trials < MIN_TRIALS {
        return Err(AuditError::Invalid(format!(
            "--trials must be at least {MIN_TRIALS} (got {}): half choose the test, half evaluate it",
            options.trials
        )));
    }
    if !(options.confidence > 0.0 && options.confidence < 1.0) {
        return Err(AuditError::Invalid(format!(
            "--confidence must be in (0, 1), e.g. 0.95 (got {})",
            options.confidence
        )));
    }
    if !(0.0..1.0).contains(&options.delta) {
        return Err(AuditError::Invalid(format!(
            "δ must be in [0, 1) (got {})",
            options.delta
        )));
    }
    Ok(())
}

/// The audit: sample, choose the region on the first half, bound ε on the second.
///
/// `unlearned(seed)` must run the unlearning mechanism with its randomness drawn from
/// `seed` and return the statistic of its releases; `retrained(seed)` the same for the
/// retrain world on the same requests. Both must be deterministic functions of the seed.
pub fn audit<E: std::fmt::Display>(
    options: &AuditOptions,
    unlearned: impl Fn(u64) -> Result<f64, E> + Sync,
    retrained: impl Fn(u64) -> Result<f64, E> + Sync,
) -> Result<EpsilonAudit, AuditError> {
    validate(options)?;
    let (a, b) = sample(options, &unlearned, &retrained)?;
    let half = options.trials / 2;
    let region = choose_region(&a[..half], &b[..half], options);
    let m = options.trials - half;
    let false_positives = a[half..]
        .iter()
        .filter(|&&z| region.says_retrained(z))
        .count();
    let false_negatives = b[half..]
        .iter()
        .filter(|&&z| !region.says_retrained(z))
        .count();
    let interval = |k: usize| {
        stats::clopper_pearson(k, m, options.confidence)
            .expect("m ≥ 10 trials and a confidence in (0, 1) were checked")
    };
    let (fpr, fnr) = (interval(false_positives), interval(false_negatives));
    Ok(EpsilonAudit {
        trials: options.trials,
        selection_trials: half,
        evaluation_trials: m,
        confidence: options.confidence,
        delta: options.delta,
        region,
        false_positive_rate: fpr,
        false_negative_rate: fnr,
        epsilon_lower: epsilon_from_rates(fpr.upper, fnr.upper, options.delta),
        epsilon_estimate: epsilon_from_rates(fpr.estimate, fnr.estimate, options.delta),
        max_reportable_epsilon: max_reportable_epsilon(m, options.confidence, options.delta),
    })
}

/// The cut points: −∞, the midpoints between consecutive sorted pooled values at (up to)
/// [`MAX_CUTS`] evenly spaced ranks, skipping ranks inside runs of equal values, and +∞.
fn cut_points(pooled: &mut [f64]) -> Vec<f64> {
    pooled.sort_by(f64::total_cmp);
    let n = pooled.len();
    let wanted = MAX_CUTS.min(n - 1);
    let mut cuts = vec![f64::NEG_INFINITY];
    for j in 1..=wanted {
        // The first rank at or after the j-th quantile where the value changes.
        let mut i = j * (n - 1) / (wanted + 1);
        while i + 1 < n && pooled[i] == pooled[i + 1] {
            i += 1;
        }
        if i + 1 < n {
            let mid = pooled[i] + 0.5 * (pooled[i + 1] - pooled[i]);
            if mid > *cuts.last().expect("starts with −∞") {
                cuts.push(mid);
            }
        }
    }
    cuts.push(f64::INFINITY);
    cuts
}

/// For sorted `values` and increasing `cuts`, the number of values below each cut.
fn counts_below(values: &mut [f64], cuts: &[f64]) -> Vec<usize> {
    values.sort_by(f64::total_cmp);
    cuts.iter()
        .map(|&c| values.partition_point(|&v| v < c))
        .collect()
}

/// The region whose ε bound on the selection trials is largest (the first such in the
/// scan order on ties), with Wilson upper bounds at confidence 1 − (1 − c)/N for the N
/// candidate regions (Bonferroni): without the correction the search over N ≈ K² regions
/// picks narrow intervals whose first-half counts are high by chance, and the second half
/// then finds little (on the Laplace pair of tests/empirical_epsilon.rs, true ε = 1: bounds
/// of 0, 0.05 and 0.43 on three seeds without it; 0.54, 0.76, 0.64 with it).
fn choose_region(a: &[f64], b: &[f64], options: &AuditOptions) -> TestRegion {
    let m = a.len();
    let mut pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    let cuts = cut_points(&mut pooled);
    let below_a = counts_below(&mut a.to_vec(), &cuts);
    let below_b = counts_below(&mut b.to_vec(), &cuts);
    // Bonferroni over the candidates (two orientations of each interval): a region wins
    // only if it is good beyond the chance fluctuations of a search over all of them.
    let candidates = (cuts.len() * (cuts.len() - 1)) as f64;
    let z = stats::normal_quantile(1.0 - (1.0 - options.confidence) / (2.0 * candidates));
    let upper: Vec<f64> = (0..=m).map(|k| stats::wilson_upper(k, m, z)).collect();
    let mut best = (
        f64::NEG_INFINITY,
        TestRegion {
            lower: f64::NEG_INFINITY,
            upper: f64::INFINITY,
            complement: false,
        },
    );
    for i in 0..cuts.len() {
        for j in i + 1..cuts.len() {
            let in_a = below_a[j] - below_a[i];
            let in_b = below_b[j] - below_b[i];
            // Inside: FPR = in_a/m, FNR = (m − in_b)/m; complement: the other way round.
            for (complement, fp, fn_) in [(false, in_a, m - in_b), (true, m - in_a, in_b)] {
                let score = log_ratio_bound(upper[fp], upper[fn_], options.delta);
                if score > best.0 {
                    best = (
                        score,
                        TestRegion {
                            lower: cuts[i],
                            upper: cuts[j],
                            complement,
                        },
                    );
                }
            }
        }
    }
    best.1
}
