//! `unlearn._unlearn`: the Rust side of the `unlearn` Python package (distribution
//! `unlearn-certified`).
//!
//! The extension is deliberately thin: it turns Python arguments into the core's types,
//! runs the core with the GIL released, and hands results back as numpy arrays or as the
//! Python form (dicts, lists, scalars; `pythonize`) of the core's serialisable reports.
//! Everything scikit-learn-shaped (parameters, label handling, validation, fitted
//! attributes) lives in the Python package `python/unlearn/`; every number is computed in
//! the core library `crates/unlearn`.
//!
//! - [`errors`]: the exception classes and the mapping of core errors onto them;
//! - [`params`]: estimator parameters → [`unlearn::model::Hyperparameters`];
//! - [`unlearner`]: the `Unlearner` class (train, scores, remove, certificates, verify,
//!   audit, save and load through the store);
//! - [`backing`]: the store a loaded or saved model continues, where its removals are
//!   recorded before they return;
//! - [`given_rows`]: the removed rows an external-rows removal is given, as a table or as
//!   numpy arrays;
//! - [`audits`]: the membership-inference and empirical-ε audits;
//! - [`datasets`]: the embedded datasets and the seeded synthetic data;
//! - [`partials`]: partial sums of Arrow batches for distributed training, and their merge;
//! - [`distributed_warm`]: a distributed fit started at a fitted model's secret weights;
//! - [`prepared_rows`]: batches read once and summed at every pass (Spark's cache);
//! - [`tables`]: X from numpy, or from pandas, polars and pyarrow through the Arrow C
//!   stream interface.

// The module list above is for maintainers: it links the extension's private modules.
#![allow(rustdoc::private_intra_doc_links)]

mod audits;
mod backing;
mod datasets;
mod distributed_warm;
mod errors;
mod given_rows;
mod params;
mod partials;
mod prepared_rows;
mod tables;
mod unlearner;

use pyo3::prelude::*;

/// The extension module `unlearn._unlearn`.
#[pymodule]
fn _unlearn(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<unlearner::Unlearner>()?;
    m.add_class::<tables::Table>()?;
    m.add_class::<given_rows::Given>()?;
    m.add_class::<partials::DistributedFit>()?;
    m.add_function(wrap_pyfunction!(tables::read_table, m)?)?;
    m.add_function(wrap_pyfunction!(given_rows::given_table, m)?)?;
    m.add_function(wrap_pyfunction!(given_rows::given_arrays, m)?)?;
    m.add_function(wrap_pyfunction!(unlearner::train, m)?)?;
    m.add_function(wrap_pyfunction!(unlearner::load, m)?)?;
    m.add_function(wrap_pyfunction!(audits::membership, m)?)?;
    m.add_function(wrap_pyfunction!(audits::epsilon, m)?)?;
    m.add_function(wrap_pyfunction!(datasets::load_builtin, m)?)?;
    m.add_function(wrap_pyfunction!(datasets::make_synthetic, m)?)?;
    m.add_function(wrap_pyfunction!(partials::partial_sums, m)?)?;
    m.add_function(wrap_pyfunction!(partials::merge_partials, m)?)?;
    m.add_function(wrap_pyfunction!(distributed_warm::warm_fit, m)?)?;
    m.add_function(wrap_pyfunction!(prepared_rows::prepare_rows, m)?)?;
    m.add_function(wrap_pyfunction!(prepared_rows::prepared_sums, m)?)?;
    m.add(
        "DEFAULT_TOL",
        unlearn::solver::NewtonOptions::default().tolerance,
    )?;
    m.add("VERSION", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
