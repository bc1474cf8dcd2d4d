//! `unlearn bench`: the end-to-end benchmark on synthetic data (see `unlearn::bench`).

use super::CliResult;
use super::progress::Progress;
use clap::Args;
use clap::error::ErrorKind;
use serde_json::json;
use std::path::PathBuf;
use unlearn::bench::{self, BenchNoise, BenchProgress, BenchSpec};
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::objective::Regularization;
use unlearn::solver::NewtonOptions;

/// Arguments of `unlearn bench`.
#[derive(Debug, Args)]
#[command(
    after_help = "Speed: under output perturbation with a budget, a removal after the first is pass-free
(O(d²) from cached d×d matrices) while those fit 512 MiB: 8·(2k + 1)·d² bytes for k class
models (one model: up to d = 4729); beyond, every step is Hessian-free (O(n·d) per
conjugate-gradient product).

Examples:
  unlearn bench --n 2000 --d 50 --removals 20
  unlearn bench --json                                  # issue 4's defaults, ~1 min
  unlearn bench --series --plot bench-plots --json      # per-removal series and plots
  unlearn bench --no-ridge --n 1000000 --d 100 --removals 10 --no-test-set --json
  unlearn bench --no-logistic --ridge-n 100000 --ridge-d 500 --ridge-removals 1000 --json
  unlearn bench --curve 10000,30000,100000,300000,1000000 --d 100 --plot curve --json
  unlearn bench --mechanism guo2020 --removals 400 --json   # Guo et al.'s MNIST-scale setting"
)]
pub struct BenchArgs {
    /// Training rows.
    #[arg(long, default_value_t = 12_000, value_parser = at_least_2)]
    pub n: usize,
    /// Features.
    #[arg(long, default_value_t = 784, value_parser = at_least_1)]
    pub d: usize,
    /// Rows removed one at a time (below --n).
    #[arg(long, default_value_t = 100)]
    pub removals: usize,
    /// Training rows of the ridge run (default: --n).
    #[arg(long, value_parser = at_least_2)]
    pub ridge_n: Option<usize>,
    /// Features of the ridge run (default: --d).
    #[arg(long, value_parser = at_least_1)]
    pub ridge_d: Option<usize>,
    /// Removals of the ridge run (default: --removals).
    #[arg(long)]
    pub ridge_removals: Option<usize>,
    /// No held-out rows (by default n/5 further rows are the test set); the test
    /// accuracies are then null. For memory measurements.
    #[arg(long)]
    pub no_test_set: bool,
    /// λ.
    #[arg(long, default_value_t = BenchSpec::DEFAULT_LAMBDA)]
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
    #[arg(long, default_value_t = BenchSpec::DEFAULT_EPSILON)]
    pub epsilon: f64,
    /// δ of each certificate.
    #[arg(long, default_value_t = BenchSpec::DEFAULT_DELTA)]
    pub delta: f64,
    /// output-perturbation or guo2020.
    #[arg(long, default_value = "output-perturbation")]
    pub mechanism: Mechanism,
    /// Seed of the data and the noise.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Skip the logistic run (the JSON then holds only the "ridge" key).
    #[arg(long, conflicts_with = "no_ridge")]
    pub no_logistic: bool,
    /// Skip the ridge run.
    #[arg(long)]
    pub no_ridge: bool,
    /// Add every removal (latency, budget used fraction, retrained) under "series".
    #[arg(long)]
    pub series: bool,
    /// Write the per-removal plots (removals-logistic, removals-ridge; SVG and PNG) into
    /// this directory; with --curve, the training curve's CSV and plot.
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,
    /// Instead of the removal benchmark, time logistic training at each of these n
    /// (comma-separated; d from --d) and fit time = a + b·n.
    #[arg(long, value_delimiter = ',', value_parser = at_least_2, value_name = "N,N,…")]
    pub curve: Option<Vec<usize>>,
    /// The Newton solver's gradient-norm tolerance (as `train --tol`): at a million rows the
    /// default is below what floating point can certify, and training says which to give.
    #[arg(long, default_value_t = NewtonOptions::default().tolerance)]
    pub tol: f64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn at_least(min: usize, s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(v) if v >= min => Ok(v),
        _ => Err(format!("expected a whole number ≥ {min}, got '{s}'")),
    }
}

fn at_least_1(s: &str) -> Result<usize, String> {
    at_least(1, s)
}

fn at_least_2(s: &str) -> Result<usize, String> {
    at_least(2, s)
}

/// Exits with status 2 and a usage message (a combination of flags that cannot run).
fn usage_error(message: String) -> ! {
    clap::Error::raw(ErrorKind::ValueValidation, message + "\n").exit()
}

/// Runs `unlearn bench`.
pub fn run(args: &BenchArgs) -> CliResult {
    let spec = BenchSpec {
        rows: args.n,
        test_rows: if args.no_test_set { 0 } else { args.n / 5 },
        features: args.d,
        removals: args.removals,
        lambda: args.lambda,
        regularization: args.regularization,
        noise: match args.budget {
            Some(b) => BenchNoise::Budget(b),
            None => BenchNoise::Sigma(args.sigma.unwrap_or(BenchSpec::DEFAULT_SIGMA)),
        },
        epsilon: args.epsilon,
        delta: args.delta,
        mechanism: args.mechanism,
        seed: args.seed,
        tolerance: args.tol,
    };
    let spinner = Progress::spinner("bench", args.json);
    let mut progress = |step: BenchProgress| {
        spinner.set_message(match step {
            BenchProgress::Training { loss } => format!("{loss}: training"),
            BenchProgress::Removing { loss, done, total } => {
                format!("{loss}: removal {done}/{total}")
            }
            BenchProgress::Retraining { loss } => format!("{loss}: retraining from scratch"),
            BenchProgress::Curve { done, total } => format!("training curve: size {done}/{total}"),
        })
    };
    if let Some(sizes) = &args.curve {
        return curve(args, &spec, sizes, &mut progress);
    }
    let ridge_rows = args.ridge_n.unwrap_or(args.n);
    let ridge = BenchSpec {
        rows: ridge_rows,
        test_rows: if args.no_test_set { 0 } else { ridge_rows / 5 },
        features: args.ridge_d.unwrap_or(args.d),
        removals: args.ridge_removals.unwrap_or(args.removals),
        ..spec
    };
    let mut runs: Vec<(BenchSpec, LossKind)> = Vec::new();
    if !args.no_logistic {
        runs.push((spec, LossKind::Logistic));
    }
    if !args.no_ridge {
        runs.push((ridge, LossKind::Squared));
    }
    for (s, loss) in &runs {
        if s.removals >= s.rows {
            let (removals, n) = match loss {
                LossKind::Logistic => ("--removals", "--n"),
                LossKind::Squared => ("--ridge-removals (or --removals)", "--ridge-n (or --n)"),
            };
            usage_error(format!(
                "{removals} {} must be below {n} {}: at least one row must remain",
                s.removals, s.rows
            ));
        }
    }
    let mut logistic = None;
    let mut ridge = None;
    for (s, loss) in &runs {
        let report = bench::run(s, *loss, &mut progress)?;
        if let Some(dir) = &args.plot {
            for file in crate::bench_plot::write_removal_plot(dir, &report)? {
                eprintln!("wrote {}", file.display());
            }
        }
        let mut value = serde_json::to_value(&report)?;
        if args.series {
            value["series"] = serde_json::to_value(&report.series)?;
        }
        match loss {
            LossKind::Logistic => logistic = Some(value),
            LossKind::Squared => ridge = Some(value),
        }
    }
    // The logistic figures at the top level (none with --no-logistic), ridge's under
    // "ridge" (null with --no-ridge).
    let mut report = logistic.unwrap_or_else(|| json!({}));
    report["ridge"] = ridge.unwrap_or(json!(null));
    print(args, &report)
}

/// `unlearn bench --curve`.
fn curve(
    args: &BenchArgs,
    spec: &BenchSpec,
    sizes: &[usize],
    progress: &mut dyn FnMut(BenchProgress),
) -> CliResult {
    let curve = bench::training_curve(spec, LossKind::Logistic, sizes, progress)?;
    if let Some(dir) = &args.plot {
        for file in crate::bench_plot::write_curve_plot(dir, &curve)? {
            eprintln!("wrote {}", file.display());
        }
    }
    print(args, &serde_json::to_value(&curve)?)
}

fn print(args: &BenchArgs, report: &serde_json::Value) -> CliResult {
    if args.json {
        say!("{report}");
    } else {
        say!("{}", serde_json::to_string_pretty(report)?);
    }
    Ok(())
}
