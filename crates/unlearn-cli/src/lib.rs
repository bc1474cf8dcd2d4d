//! The `unlearn` command-line tool and what only it needs: plots (`report`, the bench
//! figures) and the reproduction of the paper's experiments. The certified mathematics,
//! the store and the audits live in the core library crate `unlearn`; this crate is a thin
//! layer over it.

pub mod bench_plot;
pub mod cli;
pub mod report;
pub mod reproduce;
