//! `unlearn reproduce`: Guo et al.'s figures regenerated on the embedded and synthetic data.

use super::CliResult;
use crate::reproduce::{self, Settings};
use clap::Args;
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `unlearn reproduce`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  unlearn reproduce --out docs/reproduction          # the full run (minutes)
  unlearn reproduce --quick --out /tmp/repro --json  # a small run (seconds)

Writes, for digits 3 vs 8 and synthetic data at MNIST scale: test accuracy against σ and λ
and removals supported per retraining (accuracy_sigma_*, accuracy_lambda_*, removals_sigma_*),
bounds against removals (bounds_*), each as SVG and PNG; results.json; and README.md, which
compares them with what Guo et al. (ICML 2020) report and tabulates certified against
unperturbed test accuracy on the embedded datasets at ε = 1, δ = 1e-4.")]
pub struct ReproduceArgs {
    /// The output directory (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// A small run: synthetic n = 1,000, d = 50, fewer σ values and removals.
    #[arg(long)]
    pub quick: bool,
    /// Seed of every noise draw (and, through a fixed derivation, of the synthetic data).
    #[arg(long, default_value_t = 2020)]
    pub seed: u64,
    /// Print one JSON object (files written and the accuracy table) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `unlearn reproduce`.
pub fn run(args: &ReproduceArgs) -> CliResult {
    reproduce::prepare_dir(&args.out)?;
    let rep = reproduce::run(&Settings::new(args.quick, args.seed), &mut |line| {
        eprintln!("{line}")
    })?;
    let files = reproduce::write(&rep, &args.out)?;
    if args.json {
        say!(
            "{}",
            json!({
                "dir": args.out,
                "files": files,
                "seconds": rep.seconds,
                "accuracy": rep.accuracy,
            })
        );
        return Ok(());
    }
    say!(
        "certified vs unperturbed test accuracy at ε = {}, δ = {:e} (mean over {} noise draws)",
        reproduce::EPSILON,
        reproduce::DELTA,
        rep.settings.seeds
    );
    say!(
        "{:<26} {:>6} {:>8} {:>14} {:>22}",
        "dataset",
        "λ",
        "σ = 0",
        format!("guo2020 σ={}", reproduce::GUO_SIGMA),
        format!("output ε′={}", rep.settings.budget)
    );
    for r in &rep.accuracy {
        say!(
            "{:<26} {:>6.0e} {:>8.3} {:>14.3} {:>13.3} (σ={:.3})",
            r.title,
            r.lambda,
            r.unperturbed,
            r.guo2020.mean,
            r.output_perturbation.mean,
            r.output_sigma
        );
    }
    say!(
        "\n{} files written to {} in {:.1} s (summary: {})",
        files.len(),
        args.out.display(),
        rep.seconds,
        args.out.join(reproduce::SUMMARY_FILE).display()
    );
    Ok(())
}
