//! `unlearn synth`: write seeded synthetic data as CSV (for benchmarks and comparisons).

use super::CliResult;
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use unlearn::store::write_atomic;
use unlearn::synthetic::{SyntheticSpec, generate};

/// Arguments of `unlearn synth`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  unlearn synth --n 12000 --d 784 --seed 1 --out synth.csv     # the MNIST-scale benchmark problem
  unlearn synth --n 500 --d 5 --regression --out ridge.csv --json")]
pub struct SynthArgs {
    /// Number of rows.
    #[arg(long, default_value_t = 12_000)]
    pub n: usize,
    /// Number of features.
    #[arg(long, default_value_t = 784)]
    pub d: usize,
    /// Label-flip probability (or target noise with --regression).
    #[arg(long, default_value_t = 0.1)]
    pub flip: f64,
    /// Real targets instead of ±1 labels.
    #[arg(long)]
    pub regression: bool,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output CSV: header f0..f{d-1},y (no id column: ids are row numbers).
    #[arg(long)]
    pub out: PathBuf,
    /// Print one JSON object {"out", "rows", "features"} on standard output instead of a
    /// line of text on standard error.
    #[arg(long)]
    pub json: bool,
}

/// Runs `unlearn synth`.
pub fn run(args: &SynthArgs) -> CliResult {
    let data = generate(&SyntheticSpec {
        rows: args.n,
        features: args.d,
        flip: args.flip,
        regression: args.regression,
        seed: args.seed,
    });
    let mut csv = data.feature_names().join(",");
    csv.push_str(",y\n");
    let y = &data.targets().expect("generated data has targets").values;
    for (i, yi) in y.iter().enumerate() {
        for v in data.row(i) {
            write!(csv, "{v},")?;
        }
        writeln!(csv, "{yi}")?;
    }
    write_atomic(&args.out, csv.as_bytes())?;
    if args.json {
        say!(
            "{}",
            serde_json::json!({"out": args.out, "rows": args.n, "features": args.d})
        );
    } else {
        eprintln!(
            "wrote {} rows × {} features to {}",
            args.n,
            args.d,
            args.out.display()
        );
    }
    Ok(())
}
