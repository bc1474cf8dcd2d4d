//! Python exceptions and the mapping of the core's errors onto them.
//!
//! - `ValueError`: bad input (a parameter, the data, a removal request that is malformed),
//!   with the core's message;
//! - `KeyError`: an id that is not among the training rows;
//! - `OSError`: a file operation of the store failed;
//! - `unlearn.UnlearnError`: everything else the core reports (a solver failure, a store
//!   that is corrupt, newer or locked); `unlearn.NotCertified` (a removal whose release is
//!   not certified, when the caller required it) and its subclass `unlearn.BudgetExhausted`
//!   (the transcript used more than the budget) derive from it. Those two are raised by the
//!   Python layer from a certificate, never by the core. `unlearn.NeedsFullPass` (an
//!   `UnlearnError` too): a removal over external rows needs a pass over the remaining
//!   rows; nothing changed.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyKeyError, PyOSError, PyUserWarning, PyValueError};
use pyo3::prelude::*;
use unlearn::model::TrainError;
use unlearn::store::StoreError;
use unlearn::unlearner::RemovalError;

create_exception!(
    _unlearn,
    UnlearnError,
    PyException,
    "Base class of the errors unlearn reports (other than bad input, unknown ids and I/O)."
);
create_exception!(
    _unlearn,
    NotCertified,
    UnlearnError,
    "A removal was served but its release is not certified (the removal is not undone)."
);
create_exception!(
    _unlearn,
    NeedsFullPass,
    UnlearnError,
    "A removal over external rows needs a pass over the remaining rows (a measured residual, an exact step or a re-solve); nothing was changed: delete the rows from the table, compute fresh sums over the rest and finish the request with the refresh."
);
create_exception!(
    _unlearn,
    BudgetExhausted,
    NotCertified,
    "A removal was served but the transcript of releases used more than the budget."
);
create_exception!(
    _unlearn,
    DurableCommitWarning,
    PyUserWarning,
    "save() committed durably (the removal is in the store), but work after the commit failed: emptying the write-ahead log or rewriting model.json; the message names the file and what to do. Never a failed save."
);

/// Adds the exception and warning classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("UnlearnError", py.get_type::<UnlearnError>())?;
    m.add("NotCertified", py.get_type::<NotCertified>())?;
    m.add("BudgetExhausted", py.get_type::<BudgetExhausted>())?;
    m.add("NeedsFullPass", py.get_type::<NeedsFullPass>())?;
    m.add(
        "DurableCommitWarning",
        py.get_type::<DurableCommitWarning>(),
    )?;
    Ok(())
}

/// A training error: bad hyperparameters or data are `ValueError`, a solver failure is
/// `UnlearnError`.
pub fn train_error(e: TrainError) -> PyErr {
    match e {
        TrainError::Invalid(message) => PyValueError::new_err(message),
        e @ TrainError::Solver { .. } => UnlearnError::new_err(e.to_string()),
    }
}

/// A removal error: an unknown id or subject is `KeyError`; a malformed request
/// `ValueError`; a failed step or retraining `UnlearnError`.
pub fn removal_error(e: RemovalError) -> PyErr {
    match e {
        RemovalError::UnknownId(_) | RemovalError::UnknownSubject(_) => {
            PyKeyError::new_err(e.to_string())
        }
        RemovalError::DuplicateId(_)
        | RemovalError::Empty
        | RemovalError::WouldRemoveAll(_)
        | RemovalError::SubjectAlreadyRemoved(_)
        | RemovalError::NoSubjects(_)
        | RemovalError::RowsMode(_)
        | RemovalError::GivenRows(_)
        | RemovalError::Sums(_)
        | RemovalError::RemovedRowRemains { .. }
        | RemovalError::ErasedSubjectRemains { .. }
        | RemovalError::Resolve(_) => PyValueError::new_err(e.to_string()),
        RemovalError::Retrain(e) => train_error(e),
        e @ RemovalError::NeedsFullPass(_) => NeedsFullPass::new_err(format!(
            "{e}: unlearn.spark.remove(est, ids, source=table) runs that pass and finishes the \
             request; by hand, delete the rows from the table, compute partial sums over the \
             rest at re-solved weights and call est._refresh_from_partials(partials, weights, \
             ids, rows=rows) with the same request (README, \"External rows\")"
        )),
        e @ (RemovalError::Linalg(_) | RemovalError::RefreshOverBudget { .. }) => {
            UnlearnError::new_err(e.to_string())
        }
    }
}

/// A store error: I/O is `OSError`, anything else `UnlearnError`.
pub fn store_error(e: StoreError) -> PyErr {
    match e {
        e @ StoreError::Io { .. } => PyOSError::new_err(e.to_string()),
        e => UnlearnError::new_err(e.to_string()),
    }
}

/// Any error whose message says what was wrong with the input.
pub fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A failure of the core that is not about the input.
pub fn unlearn_error(e: impl std::fmt::Display) -> PyErr {
    UnlearnError::new_err(e.to_string())
}
