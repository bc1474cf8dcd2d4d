//! X as the extension reads it: a float64 C-contiguous numpy array, or a table (pandas,
//! polars, pyarrow) handed over through the Arrow C stream interface.
//!
//! The Arrow path: the Python layer calls the table's `__arrow_c_stream__()` and passes the
//! PyCapsule to [`read_table`], which moves the `ArrowArrayStream` out of it and reads every
//! batch with the core's Arrow reader (`unlearn::data::arrow`, the one the Parquet reader
//! uses) into a row-major buffer: one pass over the table, one copy, every value checked
//! (a text column is refused naming the column, a null or a NaN naming the column and the
//! row). The [`Table`] holds that buffer until `train`, `scores` or the membership audit
//! takes it by value: the rows the core then owns are that same buffer, not a copy of it.
//!
//! The numpy path: [`Input::into_rows`] copies the array into the buffer the core owns (it
//! must own it: a removal deletes rows from it) in one parallel pass that also checks that
//! every value is finite.

use crate::errors::value_error;
use numpy::{PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use rayon::prelude::*;
use unlearn::data::arrow::{Origin, read_batches};
use unlearn::data::{CsvOptions, Dataset};

/// The name of the PyCapsule that `__arrow_c_stream__` returns (Arrow PyCapsule interface).
const STREAM_CAPSULE: &std::ffi::CStr = c"arrow_array_stream";

/// The rows of a table read through the Arrow C stream interface, until one call takes
/// them (a table is read for one call: the buffer moves into the core).
#[pyclass(module = "unlearn._unlearn", name = "Table")]
pub struct Table {
    /// Row-major values, `None` once taken.
    rows: Option<Vec<f64>>,
    n_rows: usize,
    feature_names: Vec<String>,
}

#[pymethods]
impl Table {
    /// Rows read.
    #[getter]
    fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// The features' names: the table's column names (`x[k]` for element k of a
    /// fixed-size list column `x`).
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.feature_names.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "<unlearn Table: {} rows × {} features{}>",
            self.n_rows,
            self.feature_names.len(),
            if self.rows.is_some() { "" } else { ", taken" }
        )
    }
}

/// Reads the table behind an `arrow_array_stream` PyCapsule (from `__arrow_c_stream__()`),
/// with the GIL released; errors call the data `name` (e.g. "X").
#[pyfunction]
pub fn read_table(py: Python<'_>, capsule: &Bound<'_, PyCapsule>, name: String) -> PyResult<Table> {
    let data = read_dataset(py, capsule, name, &CsvOptions::default())?;
    Ok(Table {
        n_rows: data.n_rows(),
        feature_names: data.feature_names().to_vec(),
        rows: Some(data.into_features()),
    })
}

/// Reads the table behind an `arrow_array_stream` PyCapsule into a dataset with the column
/// roles of `opts` (ids, target, subjects, features), with the GIL released; errors call
/// the data `name`.
pub fn read_dataset(
    py: Python<'_>,
    capsule: &Bound<'_, PyCapsule>,
    name: String,
    opts: &CsvOptions,
) -> PyResult<Dataset> {
    let pointer = capsule.pointer_checked(Some(STREAM_CAPSULE))?;
    // SAFETY: a capsule named "arrow_array_stream" holds an `ArrowArrayStream` (the Arrow
    // PyCapsule interface). `from_raw` moves the stream out and leaves a released one in
    // its place, so the capsule's destructor does not release it a second time.
    let stream =
        unsafe { arrow_array::ffi_stream::FFI_ArrowArrayStream::from_raw(pointer.as_ptr().cast()) };
    py.detach(|| {
        let reader = arrow_array::ffi_stream::RecordBatchStreamReader::try_new(stream)
            .map_err(|e| value_error(format!("{name}: cannot read its Arrow stream: {e}")))?;
        let schema = arrow_array::RecordBatchReader::schema(&reader);
        read_batches(Origin::Memory { name }, &schema, reader, opts).map_err(value_error)
    })
}

/// X as a call received it, before the core owns it.
pub enum Input<'a> {
    /// A float64 C-contiguous numpy array's values (row-major) and its number of columns.
    Borrowed(&'a [f64], usize),
    /// A table's values, already checked.
    Owned(Vec<f64>),
}

impl Input<'_> {
    /// The row-major values the core will own: a table's buffer as is, or the array's
    /// values copied in one parallel pass that checks each is finite (a NaN or an infinity
    /// is a `ValueError` naming its row and column).
    pub fn into_rows(self) -> PyResult<Vec<f64>> {
        let (values, d) = match self {
            Input::Owned(rows) => return Ok(rows),
            Input::Borrowed(values, d) => (values, d.max(1)),
        };
        // Blocks of 32 KiB: copied and checked while in the cache, so X is read once.
        const BLOCK: usize = 4096;
        let mut rows = vec![0.0; values.len()];
        let bad = rows
            .par_chunks_mut(BLOCK)
            .zip(values.par_chunks(BLOCK))
            .enumerate()
            .find_map_first(|(b, (to, from))| {
                to.copy_from_slice(from);
                to.iter()
                    .position(|v| !v.is_finite())
                    .map(|k| b * BLOCK + k)
            });
        match bad {
            Some(k) => Err(value_error(format!(
                "X contains NaN or infinity (row {}, column {}); unlearn trains on finite values",
                k / d,
                k % d
            ))),
            None => Ok(rows),
        }
    }
}

/// X for one call: `x` is a float64 C-contiguous 2-D numpy array (borrowed into `array`)
/// or a [`Table`] (its rows taken). Returns the input and its number of rows.
pub fn input<'a, 'py>(
    x: &Bound<'py, PyAny>,
    array: &'a mut Option<PyReadonlyArray2<'py, f64>>,
) -> PyResult<(Input<'a>, usize)> {
    if let Ok(table) = x.cast::<Table>() {
        let mut table = table.borrow_mut();
        let rows = table.rows.take().ok_or_else(|| {
            value_error("this Table was already used (a table is read for one call)")
        })?;
        return Ok((Input::Owned(rows), table.n_rows));
    }
    let view = array.insert(x.extract::<PyReadonlyArray2<'py, f64>>()?);
    let (n, d) = (view.shape()[0], view.shape()[1]);
    let values = view.as_slice().map_err(|_| {
        value_error("X must be a C-contiguous float64 array (use numpy.ascontiguousarray)")
    })?;
    Ok((Input::Borrowed(values, d), n))
}
