//! Embedding the library in a service: open a store for writing, read deletion requests one
//! per line (a bare id, `{"id": …, "ref": …}` or `{"subject": …, "ref": …}`), and serve each
//! through the deletion engine ([`unlearn::deletions::Deletions`]): check, remove, commit
//! (one database transaction, durable before the receipt), receipt, before the next.
//!
//! A refused request (unknown or already removed id or subject, bad line) changes nothing. A
//! failed write leaves the previous commit on disk and the engine back on it, so the request
//! is reported as not served; the service stops rather than guess. Readers (`unlearn
//! verify`, `inspect`, `export`) keep working while it runs.
//!
//! ```sh
//! cargo run --release -- train --data builtin:breast_cancer --loss logistic --lambda 0.1 \
//!     --preprocess recommended --epsilon 1 --delta 1e-5 --budget 0.05 --out bc.store
//! printf 'b010\n{"id": "b011", "ref": "ticket-7"}\nno-such-row\n' |
//!     cargo run --release --example deletion_service -- bc.store
//! ```

use std::io::BufRead;
use std::path::Path;
use std::time::Duration;
use unlearn::deletions::{DeletionRequest, Deletions, ErrorKind};
use unlearn::requests::parse_request;
use unlearn::store::{Access, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), source) = (args.next(), args.next()) else {
        return Err(
            "usage: deletion_service STORE [REQUESTS|-]  (requests default to stdin)".into(),
        );
    };
    // One writer while the service runs; wait up to 5 s for another one to finish.
    let access = Access::Write {
        wait: Duration::from_secs(5),
    };
    let mut engine = Deletions::open(Store::open(Path::new(&dir), access)?)?;
    let input: Box<dyn BufRead> = match source.as_deref() {
        None | Some("-") => Box::new(std::io::stdin().lock()),
        Some(path) => Box::new(std::io::BufReader::new(std::fs::File::open(path)?)),
    };
    for (number, line) in (1..).zip(input.lines()) {
        let request = match parse_request(&line?) {
            None => continue, // blank line or # comment
            Some(Err(problem)) => {
                eprintln!("line {number}: refused: {problem}");
                continue;
            }
            Some(Ok(request)) => request,
        };
        let named = request.named().to_string();
        let deletion = DeletionRequest {
            erasure: request.erasure,
            reference: request.reference,
        };
        match engine.delete(&deletion) {
            Ok(served) => {
                let receipt = &served.receipt;
                println!(
                    "line {number}: removed {}: certified {}, carried by release {} ({}), ledger entry {}",
                    named,
                    receipt.certified,
                    receipt.release,
                    if receipt.published { "out" } else { "coming" },
                    &receipt.ledger_entry[..16],
                );
            }
            Err(e) if e.kind() == ErrorKind::Unavailable => return Err(e.into()),
            Err(e) => eprintln!("line {number}: {named} refused, store unchanged: {e}"),
        }
    }
    Ok(())
}
