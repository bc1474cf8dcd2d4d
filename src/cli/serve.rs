//! `unlearn serve-requests`: serve a stream of deletion requests, one committed store
//! write per request, safe to interrupt and resume.

use super::CliResult;
use super::args::StoreArg;
use super::progress::Progress;
use clap::Args;
use serde_json::{Value, json};
use std::io::BufRead;
use unlearn::requests::parse_request;
use unlearn::store::LockMode;

/// Arguments of `unlearn serve-requests`.
#[derive(Debug, Args)]
#[command(
    after_help = "Requests: one per line, a bare id or {\"id\": \"…\", \"ref\": \"…\"}; blank
lines and # comments are skipped. Each request is applied and committed (store and
ledger) before the next is read, so an interrupted run can be resumed with the same
input: requests already served are reported as such and skipped. A refused request (bad
line, unknown id) changes nothing; the run goes on and exits with status 1 at the end.

Examples:
  unlearn serve-requests --store digits.store --requests requests.txt
  tail -f requests.jsonl | unlearn serve-requests --store digits.store --requests - --json"
)]
pub struct ServeArgs {
    /// The model store (held exclusively while serving).
    #[command(flatten)]
    pub store: StoreArg,
    /// The request file, or - for standard input (read line by line as requests arrive).
    #[arg(long, value_name = "FILE")]
    pub requests: String,
    /// Print one JSON object per request: {"line", "id", "ref", "status": "removed" |
    /// "already-removed" | "refused", "certificate" or "error"}.
    #[arg(long)]
    pub json: bool,
}

/// One line of text for a request's outcome (the JSON form has every field).
fn describe(outcome: &Value) -> String {
    let line = &outcome["line"];
    let id = outcome["id"].as_str().unwrap_or("-");
    let reference = match outcome["ref"].as_str() {
        Some(r) => format!(" (ref {r})"),
        None => String::new(),
    };
    match outcome["status"].as_str() {
        Some("removed") => {
            let c = &outcome["certificate"];
            let used = match (c["budget_used"].as_f64(), c["budget"].as_f64()) {
                (Some(used), Some(budget)) => {
                    format!("{:.1}% of the budget", 100.0 * used / budget)
                }
                _ => "no budget".into(),
            };
            format!(
                "line {line}: {id}{reference} removed: {}, {used}{}",
                if c["certified"] == true {
                    "certified"
                } else {
                    "not certified"
                },
                if c["retrained"] == true {
                    ", retrained"
                } else {
                    ""
                }
            )
        }
        Some("already-removed") => format!("line {line}: {id}{reference} already removed"),
        _ => format!(
            "line {line}: refused: {}",
            outcome["error"].as_str().unwrap_or("")
        ),
    }
}

/// Runs `unlearn serve-requests`; exits with status 1 at the end if any request was refused.
pub fn run(args: &ServeArgs) -> CliResult {
    let (store, _lock) = args.store.open(LockMode::Exclusive)?;
    let mut unlearner = store.load()?;
    let reader: Box<dyn BufRead> = if args.requests == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(&args.requests)
            .map_err(|e| format!("{}: cannot read the requests: {e}", args.requests))?;
        Box::new(std::io::BufReader::new(file))
    };
    let progress = Progress::spinner("serving requests", args.json);
    let report = |outcome: Value| {
        progress.suspend(|| {
            if args.json {
                say!("{outcome}");
            } else {
                say!("{}", describe(&outcome));
            }
        });
    };
    let (mut served, mut refused) = (0usize, 0usize);
    for (index, line) in reader.lines().enumerate() {
        let line_number = index + 1;
        let line = line.map_err(|e| format!("{}: line {line_number}: {e}", args.requests))?;
        let request = match parse_request(&line) {
            None => continue,
            Some(Ok(request)) => request,
            Some(Err(problem)) => {
                refused += 1;
                report(json!({"line": line_number, "status": "refused", "error": problem}));
                continue;
            }
        };
        let served_before = unlearner
            .ledger
            .entries
            .iter()
            .any(|c| c.removed_ids.contains(&request.id));
        if served_before {
            report(
                json!({"line": line_number, "id": request.id, "ref": request.reference,
                          "status": "already-removed"}),
            );
            continue;
        }
        match unlearner.remove(std::slice::from_ref(&request.id)) {
            Ok(certificate) => {
                store.save(&unlearner)?;
                served += 1;
                progress.set_message(format!("serving requests: {served} removed"));
                report(
                    json!({"line": line_number, "id": request.id, "ref": request.reference,
                              "status": "removed", "certificate": certificate}),
                );
            }
            Err(e) => {
                refused += 1;
                report(
                    json!({"line": line_number, "id": request.id, "ref": request.reference,
                              "status": "refused", "error": e.to_string()}),
                );
            }
        }
    }
    if refused > 0 {
        return Err(format!(
            "{refused} request(s) refused (see the refused lines; they changed nothing): \
             fix or drop them, then run again on the same input (served requests are skipped)"
        )
        .into());
    }
    Ok(())
}
