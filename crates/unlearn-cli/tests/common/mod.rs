//! Helpers shared by the command-line tests: driving the `unlearn` binary.

#![allow(dead_code)] // each test file uses its own subset

use std::path::Path;
use std::process::{Command, Output};

/// The library tests' scratch-directory guard, one file for both test crates.
#[path = "../../../unlearn/tests/common/scratch.rs"]
mod scratch;
pub use scratch::Scratch;

/// Runs the binary with `args`.
pub fn unlearn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unlearn"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh scratch directory `unlearn-PREFIX-NAME-XXXXXX` for one test (`prefix` names the
/// test file), removed when the guard drops: bind it until every child given the path exited.
pub fn scratch(prefix: &str, name: &str) -> Scratch {
    scratch::scratch(&format!("{prefix}-{name}"))
}

/// A path as a command-line argument.
pub fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs the binary with a command line written as one string: words split on spaces, and a
/// word equal to one of `paths`' names replaced by that path (`STORE`, say).
pub fn run(line: &str, paths: &[(&str, &Path)]) -> Output {
    let args: Vec<&str> = line
        .split_whitespace()
        .map(|word| {
            paths
                .iter()
                .find(|(name, _)| *name == word)
                .map_or(word, |(_, p)| path(p))
        })
        .collect();
    unlearn(&args)
}

/// [`run`], asserting that the command succeeded (the message names the line and shows its
/// standard error).
pub fn run_ok(line: &str, paths: &[(&str, &Path)]) -> Output {
    let out = run(line, paths);
    assert!(out.status.success(), "{line}: {}", stderr(&out));
    out
}
