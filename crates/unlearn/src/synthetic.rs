//! Seeded synthetic classification and regression data, for benchmarks and tests.
//!
//! Rows are Gaussian directions scaled to a norm drawn uniformly from [0, 1], so every row
//! has ‖x‖ ≤ 1 as the certificates assume. Labels come from a random unit hyperplane
//! w* (y = sign(w*ᵀx), each flipped with probability `flip`); regression targets are
//! w*ᵀx plus Gaussian noise of standard deviation `flip`.

use crate::data::{Dataset, TargetEncoding, Targets};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::StandardNormal;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyntheticSpec {
    /// Number of rows n.
    pub rows: usize,
    /// Number of features d.
    pub features: usize,
    /// Label-flip probability (classification) or target noise (regression).
    pub flip: f64,
    /// Real targets (true) or ±1 labels (false).
    pub regression: bool,
    /// Generator seed.
    pub seed: u64,
}

/// Generates a dataset; ids are "s0", "s1", …, features "f0", "f1", ….
pub fn generate(spec: &SyntheticSpec) -> Dataset {
    generate_split(spec, 0).0
}

/// Generates `spec.rows` rows and a further `held_out` rows of the same problem (the same
/// hyperplane w*) as a second dataset, e.g. a test set. The rows are those of
/// [`generate`] with `spec.rows + held_out` rows, split after row `spec.rows` (ids
/// continue: the held-out rows are "s{n}", "s{n+1}", …), but each part is written straight
/// into its own buffer: n·d + m·d values in all, with no intermediate copy (what lets
/// `unlearn bench` keep its peak memory near the size of the data at n = 10⁶).
pub fn generate_split(spec: &SyntheticSpec, held_out: usize) -> (Dataset, Dataset) {
    let d = spec.features;
    let mut rng = ChaCha20Rng::seed_from_u64(spec.seed);
    let mut truth = vec![0.0; d];
    unit_direction(&mut rng, &mut truth);
    // Every row's direction first, then radii and targets: the stream order of the
    // generator, kept so that a seed names the same data as before.
    let counts = [spec.rows, held_out];
    let mut features = counts.map(|m| vec![0.0; m * d]);
    for (part, m) in features.iter_mut().zip(counts) {
        for i in 0..m {
            unit_direction(&mut rng, &mut part[i * d..(i + 1) * d]);
        }
    }
    let mut targets = counts.map(Vec::with_capacity);
    for ((part, targets), m) in features.iter_mut().zip(&mut targets).zip(counts) {
        for i in 0..m {
            let row = &mut part[i * d..(i + 1) * d];
            let radius: f64 = rng.random();
            row.iter_mut().for_each(|v| *v *= radius);
            let margin: f64 = row.iter().zip(&truth).map(|(a, b)| a * b).sum();
            targets.push(if spec.regression {
                margin + spec.flip * rng.sample::<f64, _>(StandardNormal)
            } else {
                let y = if margin >= 0.0 { 1.0 } else { -1.0 };
                if rng.random::<f64>() < spec.flip {
                    -y
                } else {
                    y
                }
            });
        }
    }
    let encoding = if spec.regression {
        TargetEncoding::Regression
    } else {
        TargetEncoding::Binary {
            positive: "1".into(),
            negative: "-1".into(),
        }
    };
    let [train_x, held_x] = features;
    let [train_y, held_y] = targets;
    let dataset = |offset: usize, features: Vec<f64>, values: Vec<f64>| {
        Dataset::new(
            (offset..offset + values.len())
                .map(|i| format!("s{i}"))
                .collect(),
            (0..d).map(|j| format!("f{j}")).collect(),
            features,
            Some(Targets {
                values,
                encoding: encoding.clone(),
            }),
        )
        .expect("generated ids are unique and shapes consistent")
    };
    (
        dataset(0, train_x, train_y),
        dataset(spec.rows, held_x, held_y),
    )
}

/// Fills `out` with a uniformly random unit direction: Gaussian coordinates divided by
/// their norm.
fn unit_direction(rng: &mut ChaCha20Rng, out: &mut [f64]) {
    out.iter_mut()
        .for_each(|v| *v = rng.sample::<f64, _>(StandardNormal));
    let norm = out
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    out.iter_mut().for_each(|v| *v /= norm);
}

/// The generator key of the synthetic data for a run whose noise is seeded with `seed`.
/// They must differ: the objective noise is stream 0 of the ChaCha20 key `seed`
/// ([`crate::noise::NoiseKey::objective_rng`]), exactly the stream [`generate`] draws the labelling
/// hyperplane from first, so with one key guo2020's b would be a multiple of that hyperplane
/// and the model would learn its opposite (test accuracy near the label-flip rate).
pub fn data_seed(seed: u64) -> u64 {
    seed ^ 0xda7a_5eed_da7a_5eed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The split is the same data as one generation of n + m rows cut after row n: the
    /// same seed names the same rows whichever way they are asked for.
    #[test]
    fn a_split_is_the_whole_cut_in_two() {
        for regression in [false, true] {
            let spec = SyntheticSpec {
                rows: 30,
                features: 4,
                flip: 0.1,
                regression,
                seed: 9,
            };
            let (train, test) = generate_split(&spec, 7);
            let whole = generate(&SyntheticSpec { rows: 37, ..spec });
            let (mut head, mut tail) = (whole.clone(), whole);
            head.retain_rows(|i| i < 30);
            tail.retain_rows(|i| i >= 30);
            assert_eq!(train, head);
            // The test rows are an input of their own: numbered from 0, not from 30.
            assert_eq!(test, tail.with_sequence((0..7).collect()).unwrap());
            assert!((0..37).all(|i| {
                let row = if i < 30 {
                    train.row(i)
                } else {
                    test.row(i - 30)
                };
                row.iter().map(|v| v * v).sum::<f64>() <= 1.0
            }));
        }
    }
}
