//! Embedding the library in a service: hold a store, read deletion requests one per line
//! (a bare id or `{"id": …, "ref": …}`), and commit each removal before reading the next.
//!
//! A refused request (unknown id, bad line) changes nothing: `Unlearner::remove` is a
//! transaction. A failed save leaves the previous commit on disk (`Store::save` stages,
//! marks, renames), so the service stops rather than serve from a state the disk lacks.
//!
//! ```sh
//! cargo run --release -- train --data builtin:breast_cancer --loss logistic --lambda 0.1 \
//!     --preprocess recommended --epsilon 1 --delta 1e-5 --budget 0.05 --out bc.store
//! printf 'b010\n{"id": "b011", "ref": "ticket-7"}\nno-such-row\n' |
//!     cargo run --release --example deletion_service -- bc.store
//! ```

use std::io::BufRead;
use unlearn::requests::parse_request;
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
        match unlearner.remove(std::slice::from_ref(&request.id)) {
            Ok(certificate) => {
                store.save(&unlearner)?; // the commit point of this request
                println!(
                    "line {number}: removed {} (ref {reference}): certified {}, budget used {:.1}%, retrained {}",
                    request.id,
                    certificate.certified,
                    100.0 * certificate.budget_used / certificate.budget.unwrap_or(f64::INFINITY),
                    certificate.retrained,
                );
            }
            Err(e) => eprintln!(
                "line {number}: {} refused, store unchanged: {e}",
                request.id
            ),
        }
    }
    Ok(())
}
