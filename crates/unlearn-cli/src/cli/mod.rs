//! The command-line interface: parse arguments, call the library, print.
//!
//! Exit codes ([`EXIT_CODES`], printed by every `--help`): 0 success; 1 the command failed
//! (bad input data, a store that cannot be read, a solver that did not converge — the
//! message says which and what to do); 2 the command line itself is invalid (unknown flag,
//! missing argument).

/// `println!` to standard output that ends the process quietly when the reader has gone
/// away (a closed pipe, as in `unlearn predict … | head`) instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::emit(format_args!($($arg)*))
    };
}

mod args;
mod audit;
mod bench;
mod demo;
mod epsilon;
mod ids;
mod membership;
mod migrate;
mod model_io;
mod progress;
mod refresh;
mod removal;
mod report;
mod reproduce;
mod serve;
mod service;
mod synth;
mod train;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

/// The exit codes, appended to the help of the tool and of every subcommand.
pub const EXIT_CODES: &str = r#"Exit codes:
  0  success
  1  the command failed: the message names the file (with line and column), the flag or the
     store, what was expected and what to do next; no store is ever left half-changed
  2  the command line is invalid (unknown command or flag, missing or malformed value)
With --json, a failure prints one JSON object on standard error (standard output keeps only
results): {"error": {"message": "…", "kind": "failed" or "usage", "exit_code": 1 or 2}}"#;

/// Certified machine unlearning for convex models.
#[derive(Debug, Parser)]
#[command(
    name = "unlearn",
    version,
    about,
    long_about = None,
    after_help = "Start with `unlearn demo`; `unlearn COMMAND --help` shows each command's flags and examples."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train certified models on the embedded datasets and print a summary.
    Demo(demo::DemoArgs),
    /// Train a certified model (noise calibrated for a privacy target) and write a model store.
    Train(Box<train::TrainArgs>),
    /// Print the published model as JSON.
    Export(model_io::ExportArgs),
    /// Predict with a stored model: prints `id,prediction` lines.
    Predict(model_io::PredictArgs),
    /// Evaluate a stored model: accuracy, or RMSE and R².
    Evaluate(model_io::EvaluateArgs),
    /// Remove rows by id without retraining; prints the certificate of each step.
    Remove(removal::RemoveArgs),
    /// Publish a release of the removals served since the last one (with --publish-every N).
    Publish(removal::PublishArgs),
    /// Finish an external-rows removal that needs a pass, from the remaining rows in a file.
    Refresh(Box<refresh::RefreshArgs>),
    /// Serve a stream of deletion requests (a file or -), committing each before the next.
    ServeRequests(serve::ServeArgs),
    /// Run the HTTP deletion service (deletions, receipts, model, predict, metrics) on a store.
    Serve(service::ServeHttpArgs),
    /// Replay the ledger and recompute the exact residual from the secret state.
    Verify(removal::StoreArgs),
    /// Rows left, removals, budget used and left, retrainings, hyperparameters.
    Inspect(removal::StoreArgs),
    /// List the remaining ids or data subjects, or the tags of removed ones (operator-only).
    Ids(ids::IdsArgs),
    /// Convert a store of the previous format (secret/state.bin) to the current one.
    Migrate(migrate::MigrateArgs),
    /// Retrain from scratch on the remaining rows and compare with the unlearned model.
    Audit(audit::AuditArgs),
    /// Membership-inference attacks on removed rows: original vs unlearned vs retrained.
    AuditMembership(Box<membership::MembershipArgs>),
    /// Lower-bound the ε a removal achieves by testing unlearned against retrained releases.
    AuditEpsilon(epsilon::EpsilonArgs),
    /// Plots and a Markdown summary of the ledger (budget, residuals, rows) for the operator.
    Report(report::ReportArgs),
    /// Regenerate Guo et al.'s figures (accuracy vs λ and σ, bounds vs removals) as plots.
    Reproduce(reproduce::ReproduceArgs),
    /// Benchmark training, removal and retraining on seeded synthetic data.
    Bench(bench::BenchArgs),
    /// Write seeded synthetic data (rows of norm ≤ 1) as CSV, for benchmarks.
    Synth(synth::SynthArgs),
}

/// Writes one line to standard output; exits with status 0 if the pipe is closed.
pub fn emit(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// An error to print before exiting with status 1.
pub type CliError = Box<dyn std::error::Error>;

/// The outcome of a command.
pub type CliResult = Result<(), CliError>;

/// Runs the command line and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let with_exit_codes = |help: Option<&clap::builder::StyledStr>| match help {
        Some(help) => format!("{help}\n\n{EXIT_CODES}"),
        None => EXIT_CODES.to_string(),
    };
    let mut command = Cli::command().mut_subcommands(|c| {
        let help = with_exit_codes(c.get_after_help());
        c.after_help(help)
    });
    command = command
        .clone()
        .after_help(with_exit_codes(command.get_after_help()));
    let matches = match command.try_get_matches() {
        Ok(matches) => matches,
        Err(e) => return usage_error(e),
    };
    let json = matches
        .subcommand()
        .and_then(|(_, sub)| sub.try_get_one::<bool>("json").ok().flatten().copied())
        .unwrap_or(false);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Export(args) => model_io::export(&args),
        Command::Predict(args) => model_io::predict(&args),
        Command::Evaluate(args) => model_io::evaluate(&args),
        Command::Remove(args) => removal::remove(&args),
        Command::Publish(args) => removal::publish(&args),
        Command::Refresh(args) => refresh::refresh(&args),
        Command::ServeRequests(args) => serve::run(&args),
        Command::Serve(args) => service::run(&args),
        Command::Verify(args) => removal::verify_store(&args),
        Command::Inspect(args) => removal::inspect(&args),
        Command::Ids(args) => ids::run(&args),
        Command::Migrate(args) => migrate::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::AuditMembership(args) => membership::run(&args),
        Command::AuditEpsilon(args) => epsilon::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Reproduce(args) => reproduce::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Synth(args) => synth::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if json => {
            eprintln!("{}", error_json(&e.to_string(), "failed", 1));
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The JSON object a failure prints under `--json` (see [`EXIT_CODES`]).
fn error_json(message: &str, kind: &str, exit_code: u8) -> serde_json::Value {
    serde_json::json!({"error": {"message": message, "kind": kind, "exit_code": exit_code}})
}

/// Exits on a command line clap refused: help and version as clap prints them; a usage
/// error as JSON when `--json` is among the arguments, else as clap prints it.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let informational = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if informational || !std::env::args_os().any(|a| a == "--json") {
        e.exit();
    }
    let rendered = e.render().to_string();
    let message = rendered.trim().trim_start_matches("error: ");
    eprintln!("{}", error_json(message, "usage", 2));
    ExitCode::from(2)
}
