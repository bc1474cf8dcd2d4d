//! `unlearn serve-requests`: serve a stream of deletion requests, one committed store
//! write per request, safe to interrupt and resume.

use super::CliResult;
use clap::Args;
use serde_json::json;
use std::io::BufRead;
use std::path::PathBuf;
use unlearn::requests::parse_request;
use unlearn::store::{LockMode, Store};

/// Arguments of `unlearn serve-requests`.
#[derive(Debug, Args)]
#[command(
    after_help = "Requests: one per line, a bare id or {\"id\": \"…\", \"ref\": \"…\"}; blank
lines and # comments are skipped. Each request is applied and committed (store and
ledger) before the next is read, so an interrupted run can be resumed with the same
input: requests already served are reported as such and skipped.

Examples:
  unlearn serve-requests --store digits.store --requests requests.txt
  tail -f requests.jsonl | unlearn serve-requests --store digits.store --requests -"
)]
pub struct ServeArgs {
    /// The model store (held exclusively while serving).
    #[arg(long)]
    pub store: PathBuf,
    /// The request file, or - for standard input (read line by line as requests arrive).
    #[arg(long)]
    pub requests: String,
}

/// Runs `unlearn serve-requests`. Prints one JSON line per request:
/// `{"line", "id", "ref", "status": "removed" | "already-removed" | "refused", ...}`; exits
/// with status 1 at the end if any request was refused.
pub fn run(args: &ServeArgs) -> CliResult {
    let store = Store::at(&args.store);
    let _lock = store.lock(LockMode::Exclusive)?;
    let mut unlearner = store.load()?;
    let reader: Box<dyn BufRead> = if args.requests == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(&args.requests)
            .map_err(|e| format!("{}: cannot read the requests: {e}", args.requests))?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut refused = 0usize;
    for (index, line) in reader.lines().enumerate() {
        let line_number = index + 1;
        let line = line.map_err(|e| format!("{}: line {line_number}: {e}", args.requests))?;
        let request = match parse_request(&line) {
            None => continue,
            Some(Ok(request)) => request,
            Some(Err(problem)) => {
                refused += 1;
                say!(
                    "{}",
                    json!({"line": line_number, "status": "refused", "error": problem})
                );
                continue;
            }
        };
        let served_before = unlearner
            .ledger
            .entries
            .iter()
            .any(|c| c.removed_ids.contains(&request.id));
        if served_before {
            say!(
                "{}",
                json!({"line": line_number, "id": request.id, "ref": request.reference, "status": "already-removed"})
            );
            continue;
        }
        match unlearner.remove(std::slice::from_ref(&request.id)) {
            Ok(certificate) => {
                store.save(&unlearner)?;
                say!(
                    "{}",
                    json!({"line": line_number, "id": request.id, "ref": request.reference,
                           "status": "removed", "certificate": certificate})
                );
            }
            Err(e) => {
                refused += 1;
                say!(
                    "{}",
                    json!({"line": line_number, "id": request.id, "ref": request.reference,
                           "status": "refused", "error": e.to_string()})
                );
            }
        }
    }
    if refused > 0 {
        return Err(format!("{refused} request(s) refused (see the \"refused\" lines)").into());
    }
    Ok(())
}
