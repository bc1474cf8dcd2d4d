//! Partial sums for distributed training (issue 14): the executor side (`partial_sums`,
//! `merge_partials`) and the driver side (`DistributedFit`), over the core's
//! [`unlearn::partials`] and [`unlearn::distributed`].
//!
//! Spark's `mapInArrow` yields pyarrow record batches; [`partial_sums`] reads one through the
//! Arrow PyCapsule interface (`__arrow_c_stream__`, or `__arrow_c_array__` for a single
//! batch) with the core's Arrow reader, and returns the sums as bytes (the core's
//! versioned, checksummed encoding); a tree reduction calls [`merge_partials`] on pairs.
//! Every numeric call runs with the GIL released, on `threads` threads when the caller says
//! how many cores it holds ([`with_threads`]: a Spark task holds `spark.task.cpus`). The
//! blobs are sums over secret rows: the caller keeps them inside the job (never logged,
//! never written to a file).

use crate::errors::{train_error, unlearn_error, value_error};
use crate::params::Params;
use arrow_array::{Array, RecordBatch, StructArray};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyTuple};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use unlearn::data::{Declared, Preprocessing};
use unlearn::distributed::{self, DistributedError, DistributedFit as Core, DistributedOutput};
use unlearn::noise::NoiseKey;
use unlearn::partials::{BatchSpec, DigestRequest, PartialSums, PartialsError, Query};
use unlearn::unlearner::Unlearner;

/// The PyCapsule names of the Arrow PyCapsule interface.
const STREAM_CAPSULE: &std::ffi::CStr = c"arrow_array_stream";
const SCHEMA_CAPSULE: &std::ffi::CStr = c"arrow_schema";
const ARRAY_CAPSULE: &std::ffi::CStr = c"arrow_array";

/// A core error about partials: bad input (a spec, a batch, a blob) is `ValueError`.
pub fn partials_error(e: PartialsError) -> PyErr {
    value_error(e)
}

/// The spec as the core reads it, from the dict the Python layer builds (see
/// `unlearn::partials::BatchSpec`: loss, encoding, feature_names, target_column,
/// preprocessing, intercept), checked.
pub fn spec(value: &Bound<'_, PyAny>) -> PyResult<BatchSpec> {
    let spec: BatchSpec =
        pythonize::depythonize(value).map_err(|e| value_error(format!("spec: {e}")))?;
    spec.validate().map_err(partials_error)?;
    Ok(spec)
}

/// The record batches of `batch`: an object with `__arrow_c_stream__` (a table, a record
/// batch reader, a recent pyarrow RecordBatch) or `__arrow_c_array__` (a RecordBatch).
pub(crate) fn batches(batch: &Bound<'_, PyAny>) -> PyResult<Vec<RecordBatch>> {
    if batch.hasattr("__arrow_c_stream__")? {
        let capsule = batch.call_method0("__arrow_c_stream__")?;
        let capsule = capsule.cast::<PyCapsule>()?;
        let pointer = capsule.pointer_checked(Some(STREAM_CAPSULE))?;
        // SAFETY: a capsule named "arrow_array_stream" holds an `ArrowArrayStream` (the
        // Arrow PyCapsule interface); `from_raw` moves it out and leaves a released stream
        // behind, so the capsule's destructor does not release it twice.
        let stream = unsafe {
            arrow_array::ffi_stream::FFI_ArrowArrayStream::from_raw(pointer.as_ptr().cast())
        };
        let reader = arrow_array::ffi_stream::RecordBatchStreamReader::try_new(stream)
            .map_err(|e| value_error(format!("the batch: cannot read its Arrow stream: {e}")))?;
        return reader
            .map(|b| b.map_err(|e| value_error(format!("the batch: {e}"))))
            .collect();
    }
    if batch.hasattr("__arrow_c_array__")? {
        let pair = batch.call_method0("__arrow_c_array__")?;
        let pair = pair.cast::<PyTuple>()?;
        let schema = pair.get_item(0)?;
        let array = pair.get_item(1)?;
        let schema = schema.cast::<PyCapsule>()?;
        let array = array.cast::<PyCapsule>()?;
        let schema_pointer = schema.pointer_checked(Some(SCHEMA_CAPSULE))?;
        let array_pointer = array.pointer_checked(Some(ARRAY_CAPSULE))?;
        // SAFETY: capsules named "arrow_schema" / "arrow_array" hold an `ArrowSchema` and an
        // `ArrowArray` (the Arrow PyCapsule interface). The schema is borrowed; the array is
        // moved out (`from_raw` leaves a released array, so the capsule does not release it
        // again).
        let data = unsafe {
            let schema = &*schema_pointer
                .as_ptr()
                .cast::<arrow_array::ffi::FFI_ArrowSchema>();
            let array = arrow_array::ffi::FFI_ArrowArray::from_raw(array_pointer.as_ptr().cast());
            arrow_array::ffi::from_ffi(array, schema)
        }
        .map_err(|e| value_error(format!("the batch: cannot import its Arrow array: {e}")))?;
        let array = arrow_array::make_array(data);
        let Some(columns) = array.as_any().downcast_ref::<StructArray>() else {
            return Err(value_error(format!(
                "the batch: its Arrow array has type {}; a record batch (struct) was expected",
                array.data_type()
            )));
        };
        return Ok(vec![RecordBatch::from(columns.clone())]);
    }
    Err(value_error(
        "the batch has neither __arrow_c_stream__ nor __arrow_c_array__: pass a pyarrow \
         RecordBatch or Table (what mapInArrow yields)",
    ))
}

/// Thread pools by size, built on first use and kept for the process (a Spark worker sums
/// many batches; building a pool per call would start and stop its threads every time).
/// One pool per distinct `threads=` a process was given: a Spark worker sees one value
/// (`spark.task.cpus`), so the map stays at one or two entries; a caller passing many
/// distinct counts keeps that many pools' threads (idle, parked) for the process's life.
static POOLS: Mutex<BTreeMap<usize, Arc<rayon::ThreadPool>>> = Mutex::new(BTreeMap::new());

/// Runs `f` on a pool of `threads` threads, or on rayon's global pool (one thread per core)
/// when `threads` is None.
///
/// Why: a Spark executor runs one task per `spark.task.cpus` cores at once, each in its own
/// Python worker; on the global pool every task's sums would start one thread per core of
/// the machine (local[2] on 2 cores: 4 threads on 2 cores), so the tasks' GEMMs would
/// preempt each other. The sums are the same bits at any thread count (their summation
/// order is fixed by constant block sizes: `unlearn::linalg`, "Same bits for any thread
/// count"), so this changes only where they run.
pub(crate) fn with_threads<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    let Some(threads) = threads else {
        return Ok(f());
    };
    if threads == 0 {
        return Err(value_error(
            "threads = 0: give at least 1 (the cores a task holds), or None for all",
        ));
    }
    let pool = {
        let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
        match pools.get(&threads) {
            Some(pool) => Arc::clone(pool),
            None => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .map_err(|e| unlearn_error(format!("cannot start {threads} threads: {e}")))?;
                let pool = Arc::new(pool);
                pools.insert(threads, Arc::clone(&pool));
                pool
            }
        }
    };
    Ok(pool.install(f))
}

/// The design buffer `partial_sums` (or `prepare_rows`) read its last batch into, kept for
/// the next call: a Spark worker sums batch after batch of one size (65,536 rows × 101
/// values: 53 MB), and a fresh buffer of that size is fresh pages that the kernel faults in
/// and zeroes every batch (`unlearn::partials::PreparedRows::of_batch_in`; BENCHMARKS.md,
/// "5,000,000 × 100, round 4"). It holds the last batch's rows (secret, as any memory the
/// process freed does) and stays in this process.
static DESIGN_BUFFER: Mutex<Vec<f64>> = Mutex::new(Vec::new());

/// The buffer taken from [`DESIGN_BUFFER`] for one call, returned when dropped (also on an
/// error). A call that finds it taken (another thread of the process summing at the same
/// time) starts an empty one; the larger of the two is kept.
pub(crate) struct DesignBuffer(pub(crate) Vec<f64>);

impl DesignBuffer {
    pub(crate) fn take() -> Self {
        let kept = DESIGN_BUFFER
            .try_lock()
            .map(|mut b| std::mem::take(&mut *b));
        Self(kept.unwrap_or_default())
    }
}

impl Drop for DesignBuffer {
    fn drop(&mut self) {
        if let Ok(mut kept) = DESIGN_BUFFER.try_lock()
            && kept.capacity() < self.0.capacity()
        {
            *kept = std::mem::take(&mut self.0);
        }
    }
}

/// The digest request of `bytes` (from `DistributedFit.digest_request` or
/// `Unlearner.digest_request`), if given.
pub(crate) fn digest_request(bytes: Option<&[u8]>) -> Result<Option<DigestRequest>, PartialsError> {
    bytes
        .map(|b| DigestRequest::from_bytes(b, "the digest request"))
        .transpose()
}

/// The partial sums of one Arrow batch (or of every batch of a table) at the query in
/// `weights` (bytes from `DistributedFit.weights()`), under `spec` (a dict: the features,
/// target column, encoding, loss, fixed preprocessing, intercept), on `threads` threads
/// (None: one per core; see [`with_threads`]). With `digest` (bytes of a digest request:
/// the key and the id column, which the batch must then hold), the sums carry the rows'
/// keyed digest. Returns the sums' bytes.
#[pyfunction]
#[pyo3(signature = (batch, weights, spec, digest=None, threads=None))]
pub fn partial_sums<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    weights: &[u8],
    spec: &Bound<'py, PyAny>,
    digest: Option<&[u8]>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let spec = self::spec(spec)?;
    let batches = batches(batch)?;
    let bytes = py.detach(|| {
        with_threads(threads, || -> Result<Vec<u8>, PartialsError> {
            let query = Query::from_bytes(weights, "weights")?;
            query.validate(&spec)?;
            let digest = digest_request(digest)?;
            let mut total = PartialSums::empty(&spec, &query);
            let mut buffer = DesignBuffer::take();
            for batch in &batches {
                let sums =
                    PartialSums::of_batch_in(batch, &spec, &query, digest.as_ref(), &mut buffer.0)?;
                total.merge(&sums)?;
            }
            Ok(total.to_bytes())
        })
    })?;
    Ok(PyBytes::new(py, &bytes.map_err(partials_error)?))
}

/// The merged sums of two partials of one pass (any order: the bounds cover every order).
#[pyfunction]
pub fn merge_partials<'py>(py: Python<'py>, a: &[u8], b: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = py.detach(|| -> Result<Vec<u8>, PartialsError> {
        let mut total = PartialSums::from_bytes(a, "a")?;
        total.merge(&PartialSums::from_bytes(b, "b")?)?;
        Ok(total.to_bytes())
    });
    Ok(PyBytes::new(py, &bytes.map_err(partials_error)?))
}

/// The driver of a distributed fit: asks for passes (`weights()`), takes their merged sums
/// (`absorb`), and once converged holds the secret weights and the totals at them (never
/// exposed to Python: only their summary, the comparison audit, and `finish`, which turns
/// them into an external-rows `Unlearner`).
#[pyclass(module = "unlearn._unlearn", name = "DistributedFit")]
pub struct DistributedFit {
    /// The iteration, until it converges.
    fit: Option<Core>,
    /// The converged fit.
    output: Option<DistributedOutput>,
    /// The fitted model's noise key, drawn before the first pass so that the passes can
    /// digest the rows under its row-digest key (`digest_request`); `finish` hands it on
    /// (once: two models must never share a key).
    key: Option<NoiseKey>,
}

/// The spec and hyperparameters of a fit from the estimator's parameters (a dict, as
/// `train` takes them), the feature names, the target encoding (a dict) and the target
/// column's name.
pub(crate) fn fit_inputs(
    params: Params,
    feature_names: Vec<String>,
    encoding: &Bound<'_, PyAny>,
    target_column: String,
) -> PyResult<(BatchSpec, unlearn::model::Hyperparameters)> {
    let hyper = params.hyperparameters().map_err(value_error)?;
    let spec = BatchSpec {
        loss: hyper.loss,
        encoding: crate::unlearner::encoding(encoding)?,
        feature_names,
        target_column,
        preprocessing: Preprocessing {
            clip_norm: params.clip_norm,
            ..Preprocessing::default()
        },
        intercept: hyper.intercept,
    };
    Ok((spec, hyper))
}

impl DistributedFit {
    /// A fit that has not absorbed a pass yet, with a fresh noise key from the operating
    /// system.
    pub(crate) fn running(fit: Core) -> PyResult<Self> {
        Ok(Self {
            fit: Some(fit),
            output: None,
            key: Some(NoiseKey::generate().map_err(unlearn_error)?),
        })
    }

    fn key(&self) -> PyResult<&NoiseKey> {
        self.key.as_ref().ok_or_else(|| {
            unlearn_error("the fit was finished: it gave its model its noise key, which no other model may share")
        })
    }

    fn output(&self) -> PyResult<&DistributedOutput> {
        self.output
            .as_ref()
            .ok_or_else(|| unlearn_error("the fit has not converged: absorb more passes"))
    }
}

#[pymethods]
impl DistributedFit {
    /// A fit from w = 0 for the estimator's parameters (a dict, as `train` takes them), the
    /// feature names (columns of the batches, `x[k]` for element k of a list column `x`),
    /// the target encoding (a dict) and the target column's name.
    #[new]
    #[pyo3(signature = (params, feature_names, encoding, target_column))]
    fn new(
        params: Params,
        feature_names: Vec<String>,
        encoding: &Bound<'_, PyAny>,
        target_column: String,
    ) -> PyResult<Self> {
        let (spec, hyper) = fit_inputs(params, feature_names, encoding, target_column)?;
        Self::running(Core::new(spec, hyper).map_err(distributed_error)?)
    }

    /// The digest request (bytes, for `partial_sums` or `prepare_rows`) under which the
    /// passes digest the training rows, reading their ids from `id_column`: the row-digest
    /// key of the key `finish` gives the model. A secret, like the weights: send it to the
    /// executors inside the job, never log it. One pass that carries the digest suffices
    /// (the first: the driver keeps the first pass's totals).
    fn digest_request<'py>(
        &self,
        py: Python<'py>,
        id_column: String,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let request = DigestRequest {
            key: self.key()?.row_digest_key(),
            id_column,
        };
        Ok(PyBytes::new(py, &request.to_bytes()))
    }

    /// The spec every executor passes to `partial_sums` (a dict).
    fn spec<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let spec = match (&self.fit, &self.output) {
            (Some(fit), _) => fit.spec(),
            (None, Some(output)) => &output.spec,
            (None, None) => {
                return Err(unlearn_error("the fit was finished: its spec went with it"));
            }
        };
        pythonize::pythonize(py, spec).map_err(unlearn_error)
    }

    /// What the next pass evaluates (bytes for `partial_sums`).
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let fit = self
            .fit
            .as_ref()
            .ok_or_else(|| unlearn_error("the fit has converged: no further pass is needed"))?;
        Ok(PyBytes::new(py, &fit.query().to_bytes()))
    }

    /// Takes the merged partial sums of the pass `weights()` asked for; True once every
    /// class model has converged.
    fn absorb(&mut self, py: Python<'_>, total: &[u8]) -> PyResult<bool> {
        let fit = self
            .fit
            .as_mut()
            .ok_or_else(|| unlearn_error("the fit has converged: no further pass is needed"))?;
        let converged = py
            .detach(|| {
                let total = PartialSums::from_bytes(total, "the total")?;
                fit.absorb(&total)
            })
            .map_err(distributed_error)?;
        if converged {
            let fit = self.fit.take().expect("checked above");
            self.output = Some(fit.finish().map_err(distributed_error)?);
        }
        Ok(converged)
    }

    /// Passes absorbed so far.
    #[getter]
    fn passes(&self) -> usize {
        match (&self.fit, &self.output) {
            (Some(fit), _) => fit.passes(),
            (None, Some(output)) => output.passes,
            (None, None) => 0,
        }
    }

    /// The converged fit's cost and bounds (a dict: passes, rows, iterations,
    /// gradient_bounds, spectral_bound, row_norm_bound).
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        pythonize::pythonize(py, &self.output()?.summary()).map_err(unlearn_error)
    }

    /// Audit: the distance between this fit's secret weights and an in-process fit's on the
    /// same rows, per class model, with the bound (ĝ_dist + ĝ_local)/Λ it must meet (a dict:
    /// distances, bounds).
    fn compare<'py>(
        &self,
        py: Python<'py>,
        unlearner: PyRef<'py, crate::unlearner::Unlearner>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let comparison = distributed::compare(self.output()?, &unlearner.inner.model.secret)
            .map_err(distributed_error)?;
        pythonize::pythonize(py, &comparison).map_err(unlearn_error)
    }

    /// The fitted model over external rows (they stay in the caller's table): the converged
    /// fit's weights, reports and totals (with the rows' digest, when the first pass carried
    /// one) handed to the core's `Unlearner::from_distributed`, with the fit's noise key
    /// (fresh from the operating system when the fit began) and the first release. Once: a
    /// second call is an error (two models must never share a noise key). `classes_declared`: the encoding was declared rather than inferred
    /// from the labels; `subjects`: the rows record data subjects.
    #[pyo3(signature = (classes_declared=false, subjects=false))]
    fn finish(
        &mut self,
        py: Python<'_>,
        classes_declared: bool,
        subjects: bool,
    ) -> PyResult<crate::unlearner::Unlearner> {
        let output = self.output()?.clone();
        let declared = Declared {
            classes: classes_declared,
            features: true,
        };
        let key = self.key()?.clone();
        let inner = py
            .detach(|| Unlearner::from_distributed(output, declared, subjects, key))
            .map_err(train_error)?;
        // The key is the model's now: a second finish must not give it to another model.
        self.key = None;
        Ok(crate::unlearner::Unlearner::unbacked(inner))
    }

    fn __repr__(&self) -> String {
        format!(
            "<unlearn DistributedFit: {} passes, {}>",
            self.passes(),
            if self.output.is_some() {
                "converged"
            } else {
                "running"
            }
        )
    }
}

/// A distributed-fit error: bad input is `ValueError`, a solver failure `UnlearnError`.
pub(crate) fn distributed_error(e: DistributedError) -> PyErr {
    match e {
        DistributedError::Partials(e) => partials_error(e),
        DistributedError::Invalid(message) => value_error(message),
        e => unlearn_error(e),
    }
}
