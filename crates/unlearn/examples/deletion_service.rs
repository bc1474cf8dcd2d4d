//! Embedding the library in a service: hold a store, read deletion requests one per line
//! (a bare id or `{"id": …, "ref": …}`), and serve each through the deletion engine
//! ([`unlearn::deletions::Deletions`]): check, remove, commit, receipt, before the next.
//!
//! A refused request (unknown or already removed id, bad line) changes nothing. A failed
//! write leaves the previous commit on disk and the engine back on it, so the request is
//! reported as not served; the service stops rather than guess.
//!
//! ```sh
//! cargo run --release -- train --data builtin:breast_cancer --loss logistic --lambda 0.1 \
//!     --preprocess recommended --epsilon 1 --delta 1e-5 --budget 0.05 --out bc.store
//! printf 'b010\n{"id": "b011", "ref": "ticket-7"}\nno-such-row\n' |
//!     cargo run --release --example deletion_service -- bc.store
//! ```

use std::io::BufRead;
use unlearn::deletions::{DeletionRequest, Deletions, ErrorKind};
use unlearn::requests::{Erasure, parse_request};
use unlearn::store::{LockMode, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), source) = (args.next(), args.next()) else {
        return Err(
            "usage: deletion_service STORE [REQUESTS|-]  (requests default to stdin)".into(),
        );
    };
    let store = Store::at(&dir);
    let _lock = store.lock(LockMode::Exclusive)?; // one writer while the service runs
    let mut engine = Deletions::open(store)?;
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
        let deletion = DeletionRequest {
            erasure: Erasure::Ids(vec![request.id.clone()]),
            reference: request.reference,
        };
        match engine.delete(&deletion) {
            Ok(served) => {
                let receipt = &served.receipt;
                println!(
                    "line {number}: removed {}: certified {}, carried by release {} ({}), ledger entry {}",
                    request.id,
                    receipt.certified,
                    receipt.release,
                    if receipt.published { "out" } else { "coming" },
                    &receipt.ledger_entry[..16],
                );
            }
            Err(e) if e.kind() == ErrorKind::Unavailable => return Err(e.into()),
            Err(e) => eprintln!(
                "line {number}: {} refused, store unchanged: {e}",
                request.id
            ),
        }
    }
    Ok(())
}
