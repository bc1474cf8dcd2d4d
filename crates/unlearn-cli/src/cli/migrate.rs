//! `unlearn migrate`: convert a store of the previous format (files) to the SQLite store.

use super::CliResult;
use super::args::WaitArg;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;

/// Arguments of `unlearn migrate`.
#[derive(Debug, Args)]
#[command(
    after_help = "The store of the previous format (model.json, secret/state.bin,
secret/ledger.jsonl) is read under its old lock and must pass `unlearn verify`; it is then
written as the current store (unlearn.db, model.json) in the same directory, with the same
rows, ledger and published model, and the old files are removed.

Example:
  unlearn migrate --store digits.store"
)]
pub struct MigrateArgs {
    /// The store of the previous format to convert (a directory).
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
    #[command(flatten)]
    pub wait: WaitArg,
    /// Print one JSON object {"store", "rows", "ledger_entries"}.
    #[arg(long)]
    pub json: bool,
}

/// Runs `unlearn migrate`.
pub fn run(args: &MigrateArgs) -> CliResult {
    let done = unlearn::store::migrate(&args.store, args.wait.duration())?;
    if args.json {
        say!(
            "{}",
            json!({"store": args.store, "rows": done.rows, "ledger_entries": done.ledger_entries})
        );
    } else {
        say!(
            "migrated {}: {} rows, {} ledger entries",
            args.store.display(),
            done.rows,
            done.ledger_entries
        );
    }
    Ok(())
}
