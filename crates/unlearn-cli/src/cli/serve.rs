//! `unlearn serve-requests`: serve a stream of deletion requests, one committed store
//! write per request, safe to interrupt and resume.

use super::CliResult;
use super::args::StoreArg;
use super::progress::Progress;
use clap::Args;
use serde_json::{Value, json};
use std::io::BufRead;
use unlearn::certificate::Certificate;
use unlearn::echo::echo;
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
    /// "already-removed" | "refused", "receipt" (for the requester: no data-dependent numbers)
    /// and "certificate" (operator-only), or "error"}.
    #[arg(long)]
    pub json: bool,
}

/// One line of text for a request's outcome (the JSON form has every field).
/// What the requester may be told: the request, whether it was served, certified and
/// published, and which ledger entry records it — no data-dependent number (distances,
/// residuals, budget used, timings), which would describe the remaining rows. The
/// `certificate` next to it in `--json` output is for the operator only.
fn receipt(id: &str, reference: Option<&str>, c: &Certificate) -> Value {
    json!({
        "id": id,
        "ref": reference,
        "certified": c.certified,
        "epsilon": c.epsilon,
        "delta": c.delta,
        "published": c.published,
        "release": if c.published { Some(c.release) } else { None },
        "ledger_entry": c.digest,
    })
}

fn describe(outcome: &Value) -> String {
    let line = &outcome["line"];
    let id = outcome["id"].as_str().unwrap_or("-");
    let reference = match outcome["ref"].as_str() {
        Some(r) => format!(" (ref {r})"),
        None => String::new(),
    };
    match outcome["status"].as_str() {
        Some("removed") => {
            let r = &outcome["receipt"];
            format!(
                "line {line}: {id}{reference} removed: {}, {}",
                if r["certified"] == true {
                    "certified"
                } else {
                    "not certified"
                },
                if r["published"] == true {
                    format!("published in release {}", r["release"])
                } else {
                    "reaches the published model at the next release".into()
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
        let tag = unlearner.model.secret.key.id_tag(&request.id);
        let served_before = unlearner
            .ledger
            .entries
            .iter()
            .any(|c| c.removed_id_tags.contains(&tag));
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
                let receipt = receipt(&request.id, request.reference.as_deref(), &certificate);
                report(
                    json!({"line": line_number, "id": request.id, "ref": request.reference,
                              "status": "removed", "receipt": receipt, "certificate": certificate}),
                );
            }
            Err(e) => {
                refused += 1;
                // A refused id may be anything the requester sent: quote it capped.
                report(json!({"line": line_number, "id": echo(&request.id),
                              "ref": request.reference.as_deref().map(echo),
                              "status": "refused", "error": e.to_string()}));
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
