//! How well a membership score separates members from non-members: the area under the
//! ROC curve and the true-positive rate at a fixed false-positive rate, with percentile
//! bootstrap intervals.
//!
//! A score is "higher means more likely a member". With m member scores and n non-member
//! scores:
//! - AUC = (1/mn) Σ_{i,j} \[s_i > t_j\] + ½\[s_i = t_j\], the Mann–Whitney U statistic over
//!   m·n: the probability that a random member outscores a random non-member (0.5: no
//!   better than chance);
//! - TPR at FPR α (Carlini et al. 2022, "Membership inference attacks from first
//!   principles", §III): the share of members flagged by the lowest threshold t that flags
//!   at most ⌊α·n⌋ non-members (a row is flagged when its score is strictly above t). With
//!   fewer than 1/α non-members, ⌊α·n⌋ = 0: the figure is the TPR at zero false positives,
//!   the most a sample of that size can resolve.
//!
//! - the ROC curve: the (FPR, TPR) of every threshold, from flagging no row (0, 0) to
//!   flagging every row (1, 1); rows whose scores tie are flagged together, so a tie
//!   between a member and a non-member is a diagonal segment, and the trapezoidal area
//!   under the curve is the AUC above (ties counting ½).
//!
//! Intervals: members and non-members are resampled with replacement, each group on its
//! own (so both sizes stay fixed), B times; the interval is the percentiles (1−c)/2 and
//! (1+c)/2 of the B replicates (Efron & Tibshirani 1993, ch. 13). The replicates are
//! shared by every scorer evaluated on the same rows, so differences between scorers get
//! paired intervals.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde::Serialize;

/// The false-positive rates at which true-positive rates are reported: 1% and 0.1%.
pub const FPRS: [f64; 2] = [1e-2, 1e-3];

/// The coverage of every interval.
pub const CONFIDENCE: f64 = 0.95;

/// AUC and TPR at each of [`FPRS`] of one scorer on one set of rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RocPoint {
    /// Area under the ROC curve.
    pub auc: f64,
    /// True-positive rate at each false-positive rate of [`FPRS`].
    pub tpr: [f64; 2],
}

/// A point estimate with its bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// The statistic on the rows as they are.
    pub value: f64,
    /// Lower end of the [`CONFIDENCE`] interval.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

impl Estimate {
    /// Whether `x` lies in the interval (ends included).
    pub fn covers(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// AUC and TPR at [`FPRS`] of member scores against non-member scores.
pub fn roc_point(members: &[f64], non_members: &[f64]) -> RocPoint {
    let mut sorted = non_members.to_vec();
    sorted.sort_by(f64::total_cmp);
    RocPoint {
        auc: auc_sorted(members, &sorted),
        tpr: FPRS.map(|alpha| tpr_at_fpr_sorted(members, &sorted, alpha)),
    }
}

/// A ROC curve: the points (`fpr[i]`, `tpr[i]`), both non-decreasing, from (0, 0) to
/// (1, 1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RocCurve {
    /// False-positive rates.
    pub fpr: Vec<f64>,
    /// True-positive rates.
    pub tpr: Vec<f64>,
}

/// The ROC curve of member scores against non-member scores (module docs): one point per
/// distinct score, thresholds from the highest score down. Empty if either group is.
pub fn roc_curve(members: &[f64], non_members: &[f64]) -> RocCurve {
    let mut curve = RocCurve {
        fpr: Vec::new(),
        tpr: Vec::new(),
    };
    if members.is_empty() || non_members.is_empty() {
        return curve;
    }
    // Every score with whether it is a member's, highest first.
    let mut all: Vec<(f64, bool)> = members
        .iter()
        .map(|&s| (s, true))
        .chain(non_members.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (m, n) = (members.len() as f64, non_members.len() as f64);
    let (mut tp, mut fp) = (0usize, 0usize);
    curve.fpr.push(0.0);
    curve.tpr.push(0.0);
    let mut i = 0;
    while i < all.len() {
        let score = all[i].0;
        while i < all.len() && all[i].0.total_cmp(&score).is_eq() {
            if all[i].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        curve.fpr.push(fp as f64 / n);
        curve.tpr.push(tp as f64 / m);
    }
    curve
}

/// The Mann–Whitney AUC against non-member scores sorted ascending: per member, the
/// non-members strictly below count 1 and ties ½ (two binary searches).
fn auc_sorted(members: &[f64], sorted: &[f64]) -> f64 {
    if members.is_empty() || sorted.is_empty() {
        return f64::NAN;
    }
    let wins: f64 = members
        .iter()
        .map(|&s| {
            let below = sorted.partition_point(|&t| t < s);
            let up_to = sorted.partition_point(|&t| t <= s);
            below as f64 + 0.5 * (up_to - below) as f64
        })
        .sum();
    wins / (members.len() as f64 * sorted.len() as f64)
}

/// TPR at FPR `alpha` against non-member scores sorted ascending: the threshold is the
/// (⌊α·n⌋+1)-th largest non-member score, and members strictly above it are flagged.
fn tpr_at_fpr_sorted(members: &[f64], sorted: &[f64], alpha: f64) -> f64 {
    if members.is_empty() || sorted.is_empty() {
        return f64::NAN;
    }
    let n = sorted.len();
    let allowed = (alpha * n as f64).floor() as usize;
    if allowed >= n {
        return 1.0;
    }
    let threshold = sorted[n - 1 - allowed];
    members.iter().filter(|&&s| s > threshold).count() as f64 / members.len() as f64
}

/// Scores of several scorers on the same members and non-members (`members[k][i]` is
/// scorer k's score of member i), resampled together: `replicates[b][k]` is scorer k's
/// [`RocPoint`] on bootstrap replicate b. Replicate b draws from ChaCha20 stream b of
/// `seed`, so the result does not depend on the number of threads.
pub fn bootstrap(
    members: &[Vec<f64>],
    non_members: &[Vec<f64>],
    replicates: usize,
    seed: u64,
) -> Vec<Vec<RocPoint>> {
    let m = members.first().map_or(0, Vec::len);
    let n = non_members.first().map_or(0, Vec::len);
    (0..replicates as u64)
        .into_par_iter()
        .map(|b| {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            rng.set_stream(b);
            let pick_m: Vec<usize> = (0..m).map(|_| rng.random_range(0..m)).collect();
            let pick_n: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            members
                .iter()
                .zip(non_members)
                .map(|(pos, neg)| {
                    let pos: Vec<f64> = pick_m.iter().map(|&i| pos[i]).collect();
                    let neg: Vec<f64> = pick_n.iter().map(|&j| neg[j]).collect();
                    roc_point(&pos, &neg)
                })
                .collect()
        })
        .collect()
}

/// The point estimate `value` with the percentile interval of `replicates`.
pub fn estimate(value: f64, replicates: impl IntoIterator<Item = f64>) -> Estimate {
    let mut r: Vec<f64> = replicates.into_iter().filter(|x| !x.is_nan()).collect();
    r.sort_by(f64::total_cmp);
    let quantile = |q: f64| match r.len() {
        0 => f64::NAN,
        len => r[((len - 1) as f64 * q).round() as usize],
    };
    Estimate {
        value,
        low: quantile((1.0 - CONFIDENCE) / 2.0),
        high: quantile((1.0 + CONFIDENCE) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Perfect separation gives AUC 1 and full TPR; identical scores give exactly ½ (every
    /// pair a tie) and no member strictly above the threshold.
    #[test]
    fn auc_and_tpr_at_the_extremes() {
        let p = roc_point(&[3.0, 4.0], &[1.0, 2.0]);
        assert_eq!(p.auc, 1.0);
        assert_eq!(p.tpr, [1.0, 1.0]);
        let p = roc_point(&[1.0; 3], &[1.0; 5]);
        assert_eq!(p.auc, 0.5);
        assert_eq!(p.tpr, [0.0, 0.0]);
    }

    /// A hand-counted case: members {1, 3, 5}, non-members {2, 3, 4, 0}: member 1 beats one
    /// (0), member 3 beats two (0, 2) and ties one, member 5 beats four: (1 + 2.5 + 4)/12.
    /// With 4 non-members ⌊0.01·4⌋ = 0 false positives are allowed: the threshold is the
    /// largest non-member score 4, above which only member 5 lies.
    #[test]
    fn auc_counts_ties_as_half() {
        let p = roc_point(&[1.0, 3.0, 5.0], &[2.0, 3.0, 4.0, 0.0]);
        assert!((p.auc - 7.5 / 12.0).abs() < 1e-15);
        assert_eq!(p.tpr, [1.0 / 3.0, 1.0 / 3.0]);
    }

    /// With 200 non-members, FPR 1% allows two false positives: the threshold is the third
    /// largest non-member score (197 of 0..199), so members 198 and 199.5 are flagged but
    /// not 197; FPR 0.1% allows none: only 199.5, above the largest (199).
    #[test]
    fn tpr_threshold_allows_floor_alpha_n_false_positives() {
        let neg: Vec<f64> = (0..200).map(f64::from).collect();
        let p = roc_point(&[197.0, 198.0, 199.5, -1.0], &neg);
        assert_eq!(p.tpr, [0.5, 0.25]);
    }

    /// The curve runs from (0, 0) to (1, 1) with both rates non-decreasing, and its
    /// trapezoidal area is the Mann–Whitney AUC with ties counting ½ (module docs): checked
    /// on the hand-counted case above (7.5/12, with a member–non-member tie at 3) and on
    /// scores with many ties. The areas are sums of a few multiples of 1/(mn), exact in
    /// f64 up to rounding of the order of 1e-16.
    #[test]
    fn curve_spans_the_unit_square_and_its_area_is_the_auc() {
        let cases: [(Vec<f64>, Vec<f64>); 2] = [
            (vec![1.0, 3.0, 5.0], vec![2.0, 3.0, 4.0, 0.0]),
            (
                (0..30).map(|i| f64::from(i % 4)).collect(),
                (0..50).map(|i| f64::from(i % 3)).collect(),
            ),
        ];
        for (pos, neg) in cases {
            let curve = roc_curve(&pos, &neg);
            assert_eq!((curve.fpr[0], curve.tpr[0]), (0.0, 0.0));
            assert_eq!(
                (*curve.fpr.last().unwrap(), *curve.tpr.last().unwrap()),
                (1.0, 1.0)
            );
            assert!(curve.fpr.windows(2).all(|w| w[0] <= w[1]), "{curve:?}");
            assert!(curve.tpr.windows(2).all(|w| w[0] <= w[1]), "{curve:?}");
            let area: f64 = (1..curve.fpr.len())
                .map(|k| {
                    (curve.fpr[k] - curve.fpr[k - 1]) * (curve.tpr[k] + curve.tpr[k - 1]) / 2.0
                })
                .sum();
            let auc = roc_point(&pos, &neg).auc;
            assert!((area - auc).abs() < 1e-12, "area {area}, AUC {auc}");
        }
        let empty = roc_curve(&[], &[1.0]);
        assert!(empty.fpr.is_empty() && empty.tpr.is_empty());
    }

    /// The bootstrap is reproducible from its seed, and the interval of a statistic brackets
    /// its point estimate when the two groups are well separated.
    #[test]
    fn bootstrap_is_seeded_and_brackets_the_estimate() {
        let pos: Vec<f64> = (0..40).map(|i| f64::from(i) * 0.1 + 1.0).collect();
        let neg: Vec<f64> = (0..60).map(|i| f64::from(i) * 0.1).collect();
        let (pos, neg) = ([pos], [neg]);
        let a = bootstrap(&pos, &neg, 200, 5);
        let b = bootstrap(&pos, &neg, 200, 5);
        assert_eq!(a, b);
        let point = roc_point(&pos[0], &neg[0]);
        let e = estimate(point.auc, a.iter().map(|r| r[0].auc));
        assert!(e.low < point.auc && point.auc < e.high, "{e:?}");
    }
}
