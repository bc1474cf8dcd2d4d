//! `unlearn serve-requests`: serve a stream of deletion requests through the deletion
//! engine ([`unlearn::deletions`]), one store transaction per request (its rows deleted, its
//! certificate appended, the small state updated), safe to interrupt and resume.

use super::CliResult;
use super::args::{CheckpointArg, WritableStoreArg};
use super::progress::Progress;
use clap::Args;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use unlearn::deletions::{
    Deletion, DeletionError, DeletionRequest, Deletions, ErrorKind, MAX_GROUP, Receipt,
};
use unlearn::echo::echo;
use unlearn::requests::{Erasure, Request, parse_request};
use unlearn::unlearner::RemovalError;

/// Arguments of `unlearn serve-requests`.
#[derive(Debug, Args)]
#[command(
    after_help = "Requests: one per line, a bare id, {\"id\": \"…\", \"ref\": \"…\"} or
{\"subject\": \"…\", \"ref\": \"…\"} (every row of a data subject, in one step); blank lines
and # comments are skipped. Requests that arrived together (complete lines already read
in, up to 64) are served as one group: one removal step and one transaction (their rows
deleted, one certificate appended, their refs recorded), each reported on its own line
once the transaction is durable. An interrupted run can be resumed with the same input:
requests already served are reported as such and skipped. A refused request (bad line, unknown id) changes nothing; the run
goes on and exits with status 1 at the end. Readers (verify, inspect, export, predict)
keep working while it runs; another writer waits (--wait) or is refused.

Examples:
  unlearn serve-requests --store digits.store --requests requests.txt
  tail -f requests.jsonl | unlearn serve-requests --store digits.store --requests - --json"
)]
pub struct ServeArgs {
    /// The model store (its writer lock held while serving).
    #[command(flatten)]
    pub store: WritableStoreArg,
    /// The request file, or - for standard input (read line by line as requests arrive).
    #[arg(long, value_name = "FILE")]
    pub requests: String,
    #[command(flatten)]
    pub checkpoint: CheckpointArg,
    /// Print one JSON object per request: {"line", "id", "ref", "status": "removed" |
    /// "already-removed" | "refused", "receipt" (for the requester: no data-dependent numbers)
    /// and "certificate" (operator-only), or "error"}.
    #[arg(long)]
    pub json: bool,
}

/// A served request's receipt as printed: the core [`Receipt`] (no data-dependent number,
/// no id) with what the request named beside it, for the operator's log. The `certificate`
/// next to it in `--json` output is for the operator only.
fn receipt(request: &Request, receipt: &Receipt) -> Value {
    let mut value = serde_json::to_value(receipt).expect("a receipt serialises");
    for (k, v) in named(request) {
        value[k] = v;
    }
    value
}

/// `{"id": …}` or `{"subject": …}`: what the request named, quoted capped (a refused
/// request may name anything the requester sent).
fn named(request: &Request) -> serde_json::Map<String, Value> {
    let (key, value) = match &request.erasure {
        Erasure::Subject(subject) => ("subject", subject.as_str()),
        Erasure::Ids(_) => ("id", request.named()),
    };
    let mut map = serde_json::Map::new();
    map.insert(key.into(), json!(echo(value)));
    map
}

/// The outcome line of a request: what it named, its reference, and `fields`.
fn outcome(line: usize, request: &Request, fields: Value) -> Value {
    let mut out = Value::Object(named(request));
    out["line"] = json!(line);
    out["ref"] = json!(request.reference.as_deref().map(echo));
    for (k, v) in fields.as_object().expect("an object") {
        out[k] = v.clone();
    }
    out
}

fn describe(outcome: &Value) -> String {
    let line = &outcome["line"];
    let id = outcome["id"]
        .as_str()
        .map(String::from)
        .or_else(|| outcome["subject"].as_str().map(|s| format!("subject {s}")))
        .unwrap_or_else(|| "-".into());
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
    let mut store = args.store.open()?.into_inner();
    store.set_checkpoint_every(args.checkpoint.checkpoint_every);
    let mut engine = Deletions::open(store)?;
    let source: Box<dyn std::io::Read> = if args.requests == "-" {
        Box::new(std::io::stdin())
    } else {
        let file = std::fs::File::open(&args.requests)
            .map_err(|e| format!("{}: cannot read the requests: {e}", args.requests))?;
        Box::new(file)
    };
    let mut reader = BufReader::new(source);
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
    let mut line_number = 0usize;
    let mut text = String::new();
    loop {
        // One group: the next line (waiting for it), then every complete line already
        // buffered — requests that arrived together — up to MAX_GROUP.
        let mut group: Vec<(usize, Result<Request, String>)> = Vec::new();
        loop {
            if !group.is_empty() && (group.len() >= MAX_GROUP || !reader.buffer().contains(&b'\n'))
            {
                break;
            }
            text.clear();
            let read = reader
                .read_line(&mut text)
                .map_err(|e| format!("{}: line {}: {e}", args.requests, line_number + 1))?;
            if read == 0 {
                break;
            }
            line_number += 1;
            if let Some(request) = parse_request(text.trim_end_matches(['\n', '\r'])) {
                group.push((line_number, request));
            }
        }
        if group.is_empty() {
            break; // the end of the input
        }
        let deletions: Vec<DeletionRequest> = group
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .map(|request| DeletionRequest {
                erasure: request.erasure.clone(),
                reference: request.reference.clone(),
            })
            .collect();
        let mut outcomes = engine.delete_group(&deletions).into_iter();
        for follow_up in engine.take_follow_ups() {
            progress.suspend(|| eprintln!("warning: {follow_up}"));
        }
        for (line, request) in group {
            let request = match request {
                Ok(request) => request,
                Err(problem) => {
                    refused += 1;
                    report(json!({"line": line, "status": "refused", "error": problem}));
                    continue;
                }
            };
            match outcomes.next().expect("one outcome per request") {
                Ok(Deletion {
                    receipt: served_receipt,
                    certificate,
                }) => {
                    served += 1;
                    progress.set_message(format!("serving requests: {served} removed"));
                    let receipt = receipt(&request, &served_receipt);
                    report(outcome(
                        line,
                        &request,
                        json!({"status": "removed", "receipt": receipt, "certificate": certificate}),
                    ));
                }
                Err(
                    DeletionError::AlreadyRemoved(_)
                    | DeletionError::Removal(RemovalError::SubjectAlreadyRemoved(_)),
                ) => report(outcome(
                    line,
                    &request,
                    json!({"status": "already-removed"}),
                )),
                Err(e) if e.kind() == ErrorKind::Unavailable => return Err(e.into()),
                Err(e) => {
                    refused += 1;
                    report(outcome(
                        line,
                        &request,
                        json!({"status": "refused", "error": e.to_string()}),
                    ));
                }
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
