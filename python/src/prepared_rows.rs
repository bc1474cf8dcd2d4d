//! Rows read once and summed at every pass (issue 14): `prepare_rows` turns an Arrow batch
//! into the core's [`PreparedRows`] (read, preprocessed, intercept appended) as bytes that
//! Spark can cache between passes; `prepared_sums` takes a pass's partial sums from them,
//! equal bit for bit to `partial_sums` on the batch. The blobs hold secret rows: the caller
//! keeps them inside the job that caches them (Spark's memory store), never in a file.

use crate::partials::{DesignBuffer, batches, digest_request, partials_error, spec, with_threads};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use unlearn::partials::{PartialsError, PreparedRows, Query};

/// The rows of `batch` (a pyarrow RecordBatch or Table) as the sums read them under `spec`
/// (the dict `DistributedFit.spec()` returns): one bytes blob per record batch. With
/// `digest` (bytes of a digest request; the batch then holds its id column) each blob keeps
/// its rows' keyed digest, which every pass's sums of it carry.
#[pyfunction]
#[pyo3(signature = (batch, spec, digest=None))]
pub fn prepare_rows<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    spec: &Bound<'py, PyAny>,
    digest: Option<&[u8]>,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let spec = self::spec(spec)?;
    let batches = batches(batch)?;
    let blobs = py
        .detach(|| -> Result<Vec<Vec<u8>>, PartialsError> {
            let digest = digest_request(digest)?;
            let mut buffer = DesignBuffer::take();
            batches
                .iter()
                .map(|b| {
                    let design = std::mem::take(&mut buffer.0);
                    let rows = PreparedRows::of_batch_in(b, &spec, digest.as_ref(), design)?;
                    let bytes = rows.to_bytes();
                    buffer.0 = rows.into_design();
                    Ok(bytes)
                })
                .collect()
        })
        .map_err(partials_error)?;
    Ok(blobs.iter().map(|b| PyBytes::new(py, b)).collect())
}

/// The partial sums (bytes, as `partial_sums` returns) of prepared rows at the query in
/// `weights` (bytes from `DistributedFit.weights()`), under the `spec` they were prepared
/// with (rows of another spec are refused), on `threads` threads (as `partial_sums`).
#[pyfunction]
#[pyo3(signature = (rows, weights, spec, threads=None))]
pub fn prepared_sums<'py>(
    py: Python<'py>,
    rows: &[u8],
    weights: &[u8],
    spec: &Bound<'py, PyAny>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let spec = self::spec(spec)?;
    let bytes = py.detach(|| {
        with_threads(threads, || -> Result<Vec<u8>, PartialsError> {
            let query = Query::from_bytes(weights, "weights")?;
            let rows = PreparedRows::from_bytes(rows, "the prepared rows")?;
            Ok(rows.sums(&spec, &query)?.to_bytes())
        })
    })?;
    Ok(PyBytes::new(py, &bytes.map_err(partials_error)?))
}
