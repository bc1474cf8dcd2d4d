//! `unlearn report`: plots and a Markdown summary of a store's ledger.

use super::CliResult;
use super::args::StoreArg;
use crate::report::write_report;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `unlearn report`.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  unlearn report --store digits.store --out digits-report

Writes budget, residuals and rows plots (SVG and PNG) and report.md. The numbers come from
the operator-only ledger: they are data-dependent, do not publish them.")]
pub struct ReportArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// The report directory (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print one JSON object (files written and summary numbers) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `unlearn report`.
pub fn run(args: &ReportArgs) -> CliResult {
    let report = {
        let unlearner = args.store.open()?.load()?;
        write_report(&unlearner.ledger, &args.store.store, &args.out)?
    };
    if args.json {
        say!(
            "{}",
            json!({
                "dir": report.dir,
                "files": report.files,
                "summary": report.summary,
            })
        );
    } else {
        say!("report written to {}", report.dir.display());
        for f in &report.files {
            say!("  {}", f.display());
        }
    }
    Ok(())
}
