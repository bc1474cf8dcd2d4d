//! `unlearn bench`: the end-to-end benchmark on synthetic data (see `unlearn::bench`).

use super::CliResult;
use clap::Args;
use serde_json::json;
use unlearn::bench::{self, BenchNoise, BenchSpec};
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::objective::Regularization;

/// Arguments of `unlearn bench`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  unlearn bench --n 2000 --d 50 --removals 20
  unlearn bench --mechanism guo2020 --removals 400 --json   # Guo et al.'s MNIST-scale setting")]
pub struct BenchArgs {
    /// Training rows (a further n/5 rows are the test set).
    #[arg(long, default_value_t = 12_000)]
    pub n: usize,
    /// Features.
    #[arg(long, default_value_t = 784)]
    pub d: usize,
    /// Rows removed one at a time.
    #[arg(long, default_value_t = 100)]
    pub removals: usize,
    /// λ.
    #[arg(long, default_value_t = 1e-3)]
    pub lambda: f64,
    /// total or per-sample.
    #[arg(long, default_value = "per-sample")]
    pub regularization: Regularization,
    /// Noise scale σ (default 10, Guo et al.'s MNIST setting).
    #[arg(long, conflicts_with = "budget")]
    pub sigma: Option<f64>,
    /// Calibrate σ for this budget ε′ instead of giving σ.
    #[arg(long)]
    pub budget: Option<f64>,
    /// ε of each certificate.
    #[arg(long, default_value_t = 1.0)]
    pub epsilon: f64,
    /// δ of each certificate.
    #[arg(long, default_value_t = 1e-4)]
    pub delta: f64,
    /// output-perturbation or guo2020.
    #[arg(long, default_value = "output-perturbation")]
    pub mechanism: Mechanism,
    /// Seed of the data and the noise.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Skip the ridge run.
    #[arg(long)]
    pub no_ridge: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs `unlearn bench`.
pub fn run(args: &BenchArgs) -> CliResult {
    let spec = BenchSpec {
        rows: args.n,
        features: args.d,
        removals: args.removals,
        lambda: args.lambda,
        regularization: args.regularization,
        noise: match args.budget {
            Some(b) => BenchNoise::Budget(b),
            None => BenchNoise::Sigma(args.sigma.unwrap_or(10.0)),
        },
        epsilon: args.epsilon,
        delta: args.delta,
        mechanism: args.mechanism,
        seed: args.seed,
    };
    let logistic = bench::run(&spec, LossKind::Logistic)?;
    let ridge = if args.no_ridge {
        None
    } else {
        Some(bench::run(&spec, LossKind::Squared)?)
    };
    let mut report = serde_json::to_value(&logistic)?;
    report["ridge"] = json!(ridge);
    if args.json {
        say!("{report}");
    } else {
        say!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}
