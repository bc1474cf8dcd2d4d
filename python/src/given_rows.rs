//! The removed rows an external-rows removal is given (issue 14, item 3), in either form:
//!
//! - **a table** ([`given_table`]): pandas, polars or pyarrow through the Arrow C stream
//!   interface, read with the model's columns (its feature columns by name, its target
//!   column encoded as the model encodes it, the id column, the subject column if given) —
//!   what `unlearn.spark.remove` hands over after its filter job, since Spark returns a
//!   pyarrow table;
//! - **numpy arrays** ([`given_arrays`]): X (m × d, float64, the columns in the fit's feature
//!   order), the targets as fit took them, and the rows' ids (and subjects). No Arrow
//!   import: at 100 features the table form pays ≈ 80 µs importing 102 column arrays
//!   through the C data interface, and ≈ 45 µs resolving the columns' roles, before the
//!   core's step starts (BENCHMARKS.md, "Where the driver's 0.4 ms goes"); the arrays are
//!   read in place (numpy's buffer) and copied once into the rows the request owns.
//!
//! Both give the core a [`GivenRows`] that `Unlearner::remove_external` checks the same way
//! (exactly the rows of the request, ids never removed before, the published width, targets
//! of the published encoding, finite values, row norms within the training rows' bound R).
//! The array form checks its own shapes here, so that an error names the argument (X, y,
//! row_ids, row_subjects), the row and what to give instead.

use crate::errors::value_error;
use crate::tables;
use crate::unlearner::Unlearner;
use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use unlearn::data::targets::encode_targets;
use unlearn::data::{CsvOptions, Dataset, TargetEncoding, TargetSpec, Targets};
use unlearn::echo::echo;
use unlearn::rows::GivenRows;

/// The removed rows of one request, as [`given_table`] or [`given_arrays`] made them, for
/// `Unlearner.remove_given` (and, after `NeedsFullPass`, `refresh_given`). They are secret
/// rows: never printed (the repr shows counts only) and never pickled (no `__reduce__`).
#[pyclass(module = "unlearn._unlearn", name = "GivenRows", frozen)]
pub struct Given {
    rows: GivenRows,
}

impl Given {
    fn new(rows: GivenRows) -> Self {
        Self { rows }
    }

    /// The rows, for the core.
    pub fn rows(&self) -> &GivenRows {
        &self.rows
    }
}

#[pymethods]
impl Given {
    fn __repr__(&self) -> String {
        format!(
            "<unlearn GivenRows: {} rows for {} ids and {} subjects>",
            self.rows.rows.n_rows(),
            self.rows.ids.len(),
            self.rows.subjects.len()
        )
    }
}

/// The removed rows of a request (its `ids` and `subjects`) on `unlearner`, a model whose
/// rows are external, read from the table behind the `arrow_array_stream` PyCapsule `rows`
/// with the model's columns: its feature columns, its target column encoded as the model
/// encodes it, `id_column`, and `subject_column` if given.
#[pyfunction]
#[pyo3(signature = (unlearner, rows, ids, subjects, id_column, subject_column=None))]
pub fn given_table(
    py: Python<'_>,
    unlearner: PyRef<'_, Unlearner>,
    rows: &Bound<'_, PyCapsule>,
    ids: Vec<String>,
    subjects: Vec<String>,
    id_column: String,
    subject_column: Option<String>,
) -> PyResult<Given> {
    let published = &unlearner.inner.model.published;
    let opts = CsvOptions {
        target: Some(published.target_column.clone()),
        id: Some(id_column),
        subject: subject_column,
        spec: TargetSpec::Encoded(published.target.clone()),
        features: Some(published.feature_names.clone()),
        ignore: Vec::new(),
    };
    let rows = tables::read_dataset(py, rows, "rows".into(), &opts)?;
    // The unlearner checks that they are exactly the rows of `ids` and `subjects`.
    Ok(Given::new(GivenRows {
        rows,
        ids,
        subjects,
    }))
}

/// The removed rows of a request (its `ids` and `subjects`) on `unlearner`, a model whose
/// rows are external, given as arrays: `x` (m × d, the model's feature columns in order,
/// before its preprocessing, any memory layout), `y` (the m targets as `fit` took them:
/// class labels spelled as text for a classifier — the core maps them as it maps a table's
/// labels, `1` and `1.0` alike — or a float64 array for a regression), `row_ids` (each
/// row's id) and `row_subjects` (each row's data subject, needed when the request erases
/// subjects). Shapes and values are checked here, errors naming the argument and the row.
#[pyfunction]
#[pyo3(signature = (unlearner, x, y, row_ids, row_subjects, ids, subjects))]
pub fn given_arrays(
    unlearner: PyRef<'_, Unlearner>,
    x: PyReadonlyArray2<'_, f64>,
    y: &Bound<'_, PyAny>,
    row_ids: Vec<String>,
    row_subjects: Option<Vec<String>>,
    ids: Vec<String>,
    subjects: Vec<String>,
) -> PyResult<Given> {
    let published = &unlearner.inner.model.published;
    let names = &published.feature_names;
    let (m, d) = (x.shape()[0], x.shape()[1]);
    if d != names.len() {
        return Err(value_error(format!(
            "X has {d} columns, but the model reads {} features ([{}], in that order): give the removed rows' features in the fit's order",
            names.len(),
            echo(&names.join(", "))
        )));
    }
    let counted = |argument: &str, count: usize, what: &str| {
        if count == m {
            return Ok(());
        }
        Err(value_error(format!(
            "{argument} has {count} entries for the {m} rows of X: give one {what} per row of X, in the same order"
        )))
    };
    counted("row_ids", row_ids.len(), "id")?;
    if let Some(owners) = &row_subjects {
        counted("row_subjects", owners.len(), "data subject")?;
    }
    let view = x.as_array();
    let values: Vec<f64> = match view.as_slice() {
        Some(values) => values.to_vec(),
        None => view.iter().copied().collect(),
    };
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        let (i, j) = (k / d, k % d);
        return Err(value_error(format!(
            "X row {i} (id '{}'), column {j} ('{}') is {}: give the removed rows exactly as they were trained on (finite values)",
            echo(&row_ids[i]),
            echo(&names[j]),
            values[k]
        )));
    }
    let targets = self::targets(&published.target, &published.target_column, y, m)?;
    let rows = Dataset::new(row_ids, names.clone(), values, Some(targets))
        .map_err(|e| value_error(format!("row_ids: {e}: give each removed row once")))?;
    let rows = match row_subjects {
        Some(owners) => rows
            .with_subjects(owners)
            .map_err(|e| value_error(format!("row_subjects: {e}")))?,
        None => rows,
    };
    Ok(Given::new(GivenRows {
        rows,
        ids,
        subjects,
    }))
}

/// The targets of `m` given rows under the model's `encoding`: a regression's float64 array
/// (each finite), or a classifier's labels as text encoded with the core's label matching
/// (what a table's target column goes through), an unknown label naming its row of y.
fn targets(
    encoding: &TargetEncoding,
    column: &str,
    y: &Bound<'_, PyAny>,
    m: usize,
) -> PyResult<Targets> {
    let count = |n: usize| {
        if n == m {
            return Ok(());
        }
        Err(value_error(format!(
            "y has {n} entries for the {m} rows of X: give each removed row's target, in the rows' order"
        )))
    };
    let values = if *encoding == TargetEncoding::Regression {
        let y: PyReadonlyArray1<'_, f64> = y.extract()?;
        let values = y.as_array().to_vec();
        count(values.len())?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(value_error(format!(
                "y row {i} is {}: give the removed rows' targets exactly as they were trained on (finite values)",
                values[i]
            )));
        }
        values
    } else {
        let labels: Vec<String> = y.extract()?;
        count(labels.len())?;
        // Rows numbered from 0 in the messages, as a table's rows are.
        let raw: Vec<(usize, String)> = labels.into_iter().enumerate().collect();
        let spec = TargetSpec::Encoded(encoding.clone());
        encode_targets("y", column, &raw, &spec)
            .map_err(|e| value_error(format!("{e}: give the labels the model was fitted with")))?
            .map(|t| t.values)
            .unwrap_or_default()
    };
    Ok(Targets {
        values,
        encoding: encoding.clone(),
    })
}
