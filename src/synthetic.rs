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
    let (n, d) = (spec.rows, spec.features);
    let mut rng = ChaCha20Rng::seed_from_u64(spec.seed);
    let mut direction = || -> Vec<f64> {
        let v: Vec<f64> = (0..d)
            .map(|_| rng.sample::<f64, _>(StandardNormal))
            .collect();
        let norm = v
            .iter()
            .map(|x| x * x)
            .sum::<f64>()
            .sqrt()
            .max(f64::MIN_POSITIVE);
        v.into_iter().map(|x| x / norm).collect()
    };
    let truth = direction();
    let mut features = Vec::with_capacity(n * d);
    let mut rows = Vec::with_capacity(n);
    for _ in 0..n {
        rows.push(direction());
    }
    let mut targets = Vec::with_capacity(n);
    for row in rows {
        let radius: f64 = rng.random();
        let x: Vec<f64> = row.iter().map(|v| v * radius).collect();
        let margin: f64 = x.iter().zip(&truth).map(|(a, b)| a * b).sum();
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
        features.extend(x);
    }
    let encoding = if spec.regression {
        TargetEncoding::Regression
    } else {
        TargetEncoding::Binary {
            positive: "1".into(),
            negative: "-1".into(),
        }
    };
    Dataset::new(
        (0..n).map(|i| format!("s{i}")).collect(),
        (0..d).map(|j| format!("f{j}")).collect(),
        features,
        Some(Targets {
            values: targets,
            encoding,
        }),
    )
    .expect("generated ids are unique and shapes consistent")
}
