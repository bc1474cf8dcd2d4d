//! Embedding the library in a service: open a store for writing, read deletion requests one
//! per line (a bare id, `{"id": …, "ref": …}` or `{"subject": …, "ref": …}`), and commit
//! each erasure before reading the next.
//!
//! A refused request (unknown id or subject, bad line) changes nothing: `Unlearner::erase`
//! is a transaction. `Store::commit` writes one database transaction per request (the rows
//! deleted, the certificate appended, the small state replaced) and returns once it is
//! durable; if it fails, the store holds the previous commit and the service stops rather
//! than serve from a state the disk lacks. Readers (`unlearn verify`, `inspect`, `export`)
//! keep working while it runs.
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
    let mut store = Store::open(Path::new(&dir), access)?;
    let mut unlearner = store.load()?;
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
        let reference = request.reference.as_deref().unwrap_or("-");
        match unlearner.erase(&request.erasure) {
            Ok(certificate) => {
                store.commit(&unlearner)?; // the request's transaction: durable from here
                println!(
                    "line {number}: removed {} (ref {reference}): certified {}, budget used {:.1}%, retrained {}",
                    request.named(),
                    certificate.certified,
                    100.0 * certificate.budget_used / certificate.budget.unwrap_or(f64::INFINITY),
                    certificate.retrained,
                );
            }
            Err(e) => eprintln!(
                "line {number}: {} refused, store unchanged: {e}",
                request.named()
            ),
        }
    }
    Ok(())
}
