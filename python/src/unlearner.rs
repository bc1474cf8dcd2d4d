//! The `Unlearner` class: a trained model with its secret state and ledger, and the
//! functions that make one (`train`, `load`).
//!
//! Copies of the caller's data, stated because numpy users care (see [`crate::tables`]):
//! - `train` makes one copy of X: a numpy array is copied (and checked finite in the same
//!   pass) into the rows the secret state owns (it must own them: a removal deletes rows
//!   from it); a table read through the Arrow C stream interface was copied once when read
//!   and its buffer becomes those rows. A float64 C-contiguous array reaches the copy
//!   without any conversion before it (the Python layer converts other dtypes and layouts
//!   first, which is a second copy). With an intercept the core then builds the design
//!   matrix with its column (`Dataset::with_constant_feature`, a copy of its own).
//! - `scores` copies a numpy X into a dataset (a table's buffer is used as is) so that the
//!   model's recorded preprocessing (the clip norm) is applied exactly as the CLI applies it.
//!
//! Every long call (training, scoring, removal, verification, audit, store I/O) runs with
//! the GIL released.

use crate::backing::{self, Backing};
use crate::errors::{
    DurableCommitWarning, removal_error, store_error, train_error, unlearn_error, value_error,
};
use crate::given_rows::Given;
use crate::params::Params;
use crate::tables::{self, Input};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::{Path, PathBuf};
use unlearn::data::{Dataset, Declared, Preprocessing, TargetEncoding, Targets};
use unlearn::model::{self, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::requests::Erasure;
use unlearn::rows::RowSums;
use unlearn::store::{Access, FollowUp, Store, StoreError};
use unlearn::unlearner::Unlearner as Core;
use unlearn::unlearner::{RemovalError, batch_spec, refresh_query};

/// Name recorded as the target column of a model trained from Python.
const TARGET_COLUMN: &str = "y";

/// A trained model, its secret state and its ledger. Never pickled and never printed: its
/// repr shows counts only.
#[pyclass(module = "unlearn._unlearn", name = "Unlearner")]
pub struct Unlearner {
    pub(crate) inner: Core,
    /// The store the model continues (loaded from it or saved to it), where its removals
    /// are recorded before they return ([`crate::backing`]); `None` for a model trained
    /// here and never saved, or loaded with `record=False`.
    backing: Option<Backing>,
}

impl Unlearner {
    /// A model of no store (trained here): its releases are charged in its own ledger only,
    /// until it is saved.
    pub(crate) fn unbacked(inner: Core) -> Self {
        Self {
            inner,
            backing: None,
        }
    }
}

/// Trains a model: the rows `x` (n × d: a float64 C-contiguous numpy array or a
/// [`crate::tables::Table`]), encoded targets `y` (±1, class indices or real values, as
/// `encoding` says), one id per row, optionally one data subject per row (who the row is
/// about; a removal may name subjects), the feature names, the target encoding (the core's
/// `TargetEncoding` as a dict), whether the classes were declared, and the estimator's
/// parameters. A fresh secret noise key is drawn from the operating system.
#[pyfunction]
#[pyo3(signature = (x, y, ids, subjects, feature_names, encoding, classes_declared, params))]
#[allow(clippy::too_many_arguments)] // the rows and their description, as `fit` passes them
pub fn train(
    py: Python<'_>,
    x: &Bound<'_, PyAny>,
    y: PyReadonlyArray1<'_, f64>,
    ids: Vec<String>,
    subjects: Option<Vec<String>>,
    feature_names: Vec<String>,
    encoding: &Bound<'_, PyAny>,
    classes_declared: bool,
    params: Params,
) -> PyResult<Unlearner> {
    let hyper = params.hyperparameters().map_err(value_error)?;
    let encoding = self::encoding(encoding)?;
    let values = y.as_slice().map_err(value_error)?;
    let mut array = None;
    let (rows, _) = tables::input(x, &mut array)?;
    let clip_norm = params.clip_norm;
    py.detach(|| {
        let mut input = training_data(
            rows,
            values,
            ids,
            feature_names,
            encoding,
            classes_declared,
            clip_norm,
        )?;
        if let Some(subjects) = subjects {
            input.data = input.data.with_subjects(subjects).map_err(value_error)?;
        }
        let key = NoiseKey::generate().map_err(unlearn_error)?;
        let model = model::train(input, &hyper, key).map_err(train_error)?;
        Ok(Unlearner::unbacked(Core::from_trained(model)))
    })
}

/// The rows as the core trains on them: a dataset owning `rows` (n × d, row-major; see
/// [`Input::into_rows`] for the one copy) with encoded targets, clipped to `clip_norm` when
/// one is given (the Python estimators scale nothing: the caller's features are used as
/// given). scikit-learn's own finiteness check is skipped for the one in `into_rows` (a
/// fit at 12,000 × 784 then reads X once instead of three times).
pub fn training_data(
    rows: Input<'_>,
    values: &[f64],
    ids: Vec<String>,
    feature_names: Vec<String>,
    encoding: TargetEncoding,
    classes_declared: bool,
    clip_norm: Option<f64>,
) -> PyResult<TrainingData> {
    let targets = Targets {
        values: values.to_vec(),
        encoding,
    };
    let mut data = Dataset::new(ids, feature_names, rows.into_rows()?, Some(targets))
        .map_err(value_error)?
        .with_declared(Declared {
            classes: classes_declared,
            features: true,
        });
    let preprocessing = Preprocessing {
        clip_norm,
        ..Preprocessing::default()
    };
    // Without a clip norm the preprocessing is the identity: no pass over the rows.
    if clip_norm.is_some() {
        preprocessing.apply(&mut data).map_err(value_error)?;
    }
    Ok(TrainingData {
        data,
        preprocessing,
        target_column: TARGET_COLUMN.into(),
    })
}

/// Loads the store at `path` (the directory `unlearn train --out` writes), under its shared
/// lock. With `record` (the default) the model is backed by the store: each removal is
/// recorded in the store's release log before it returns ([`crate::backing`]); without it
/// the model is a copy whose releases are charged in its own ledger only, until it is saved.
#[pyfunction]
#[pyo3(signature = (path, record=true))]
pub fn load(py: Python<'_>, path: PathBuf, record: bool) -> PyResult<Unlearner> {
    let inner = py.detach(|| load_store(&path)).map_err(store_error)?;
    let external = inner.model.secret.rows.is_external();
    Ok(Unlearner {
        inner,
        backing: record.then(|| Backing::new(path, external)),
    })
}

/// Reads a store: the one place the Python package reads the store format.
fn load_store(path: &Path) -> Result<Core, StoreError> {
    Store::open(path, Access::Read)?.load()
}

/// Writes a store: the one place the Python package writes the store format. A new path
/// gets a new store; an existing store is brought up to date by one transaction when the
/// model continues its history (removals since it was saved or loaded), and refused
/// otherwise ([`StoreError::Diverged`]: another model's store is never overwritten).
/// Returns what a durable commit left undone ([`FollowUp`]: a WAL checkpoint or the
/// `model.json` rewrite), for the caller to warn about; the store's close retries it.
///
/// A model backed by the store at `path` that recorded removals commits them through the
/// handle that recorded them (not recorded twice), which then lets go of the writer lock
/// ([`Backing::commit`]). With `rebind`, a successful save makes `path` the model's store:
/// later removals are recorded there (a lock still held on the previous store is let go:
/// that store's next writer charges the releases recorded there and applies their
/// removals). Python shows a removal's certificate before `save()`, so the store is not told
/// to withhold (`Store::withhold_until_commit`): a save that fails after the records leaves
/// the releases charged. External rows: the rows the removals queued in the caches are
/// folded in first (the store's commit does it), so none is written apart.
fn save_store(
    path: &Path,
    unlearner: &mut Core,
    backing: &mut Option<Backing>,
    rebind: bool,
) -> Result<Vec<FollowUp>, StoreError> {
    if let Some(held) = backing.as_mut().filter(|b| same_directory(b.path(), path))
        && let Some(committed) = held.commit(unlearner)
    {
        return committed;
    }
    let no_wait = std::time::Duration::ZERO;
    let mut store = match Store::open(path, Access::Write { wait: no_wait }) {
        Ok(mut store) => {
            store.commit(unlearner)?;
            store
        }
        Err(StoreError::NotAStore { .. }) => Store::create(path, unlearner, false, no_wait)?,
        Err(e) => return Err(e),
    };
    if rebind {
        let external = unlearner.model.secret.rows.is_external();
        *backing = Some(Backing::new(path.to_path_buf(), external));
    }
    Ok(store.take_follow_ups())
}

/// Warns with [`DurableCommitWarning`] about what a durable commit left undone. The commit
/// stands, so the call that made it returns normally: a warning that the caller's filters
/// turn into an exception is reported as unraisable instead of raised, so that no caller
/// takes a durable commit for a failed one.
fn warn_follow_ups(py: Python<'_>, follow_ups: Vec<FollowUp>) {
    for follow_up in follow_ups {
        let message = std::ffi::CString::new(follow_up.to_string())
            .unwrap_or_else(|_| c"a durable commit left work undone".to_owned());
        let category = py.get_type::<DurableCommitWarning>();
        if let Err(raised) = PyErr::warn(py, &category, &message, 1) {
            raised.write_unraisable(py, None);
        }
    }
}

/// Whether two paths name the same directory (the same path if either cannot be resolved).
fn same_directory(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A serialisable value of the core as Python dicts, lists and scalars, with the field
/// names of its JSON form.
pub fn to_python<'py>(
    py: Python<'py>,
    value: &impl serde::Serialize,
) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, value).map_err(unlearn_error)
}

/// The target encoding from its Python form (`{"kind": "binary", "positive": …}`).
pub fn encoding(value: &Bound<'_, PyAny>) -> PyResult<TargetEncoding> {
    pythonize::depythonize(value).map_err(value_error)
}

#[pymethods]
impl Unlearner {
    /// The published weights (K × d′): one row per class model, the intercept last when
    /// enabled.
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        PyArray2::from_vec2(py, &self.inner.model.published.weights).map_err(unlearn_error)
    }

    /// The published model (what `model.json` holds: weights, hyperparameters, feature
    /// names, target encoding, digest). Public by construction.
    fn published<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.model.published)
    }

    /// Remaining training rows.
    fn n_rows(&self) -> usize {
        self.inner.model.secret.n_rows()
    }

    /// Whether the training rows are external (they live in the caller's table).
    fn external(&self) -> bool {
        self.inner.model.secret.rows.is_external()
    }

    /// Lets go of the rows (`Unlearner::detach_rows`): from now on a removal must be given
    /// the removed rows, and a request that needs a pass raises `NeedsFullPass`. A model
    /// backed by a store (which holds the rows) then removes nothing until it is saved to a
    /// store of its own ([`crate::backing`]); refused while it holds removals recorded in
    /// that store and not saved (they could never be committed after it).
    fn detach_rows(&mut self, py: Python<'_>) -> PyResult<()> {
        if let Some(backing) = self.backing.as_ref().filter(|b| b.holds_lock()) {
            return Err(unlearn_error(format!(
                "the rows were not detached: this model holds removals recorded in {} and not saved, which that store (it holds the rows) could not take once the rows are detached. Save them first (est.save(path), or est.close()), then detach",
                backing.path().display()
            )));
        }
        let inner = &mut self.inner;
        py.detach(|| inner.detach_rows()).map_err(train_error)
    }

    /// Removes the given rows (from `given_table` or `given_arrays`) from a model whose rows
    /// are external, as one batch: exactly the rows of the request's ids and of its subjects,
    /// which are erased (all their rows are among them, with their subjects to check that
    /// each is theirs; any other row is refused with `ValueError`). Raises `NeedsFullPass`
    /// (nothing changed) when the step needs a pass over the remaining rows: then delete the
    /// rows from the table and call `refresh_given` with the same rows.
    fn remove_given<'py>(
        &mut self,
        py: Python<'py>,
        given: PyRef<'py, Given>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let given = given.rows();
        let (inner, backing) = (&mut self.inner, self.backing.as_mut());
        let certificate = py
            .detach(|| backing::request(backing, inner, |inner| inner.remove_external(given, 1)))?;
        to_python(py, &certificate)
    }

    /// Finishes a request that `remove_given` answered with `NeedsFullPass`: the same given
    /// rows, plus `partials` (merged partial sums over the remaining rows — the removed ones
    /// deleted from the table — at `weights`, K × d, one row per class model: a re-solve's
    /// result, with the Hessians and the Gram matrix).
    fn refresh_given<'py>(
        &mut self,
        py: Python<'py>,
        given: PyRef<'py, Given>,
        partials: &[u8],
        weights: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let given = given.rows();
        let weights = matrix_rows(&weights);
        let (inner, backing) = (&mut self.inner, self.backing.as_mut());
        let certificate = py.detach(|| {
            backing::request(backing, inner, |inner| {
                let sums = RowSums::from_partials(&inner.model, partials, &weights)
                    .map_err(RemovalError::Sums)?;
                inner.refresh_external(given, 1, sums)
            })
        })?;
        to_python(py, &certificate)
    }

    /// The scores wᵀx of every row of `x` for every class model (n × K), after the model's
    /// recorded preprocessing, with the published weights.
    fn scores<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let published = &self.inner.model.published;
        let d = published.feature_names.len();
        let mut array = None;
        let (rows, n) = tables::input(x, &mut array)?;
        let flat = py.detach(|| -> PyResult<Vec<f64>> {
            let rows = rows.into_rows()?;
            if rows.len() != n * d {
                return Err(value_error(format!(
                    "X has {} features, but the model was trained on {d}",
                    rows.len().checked_div(n).unwrap_or(0)
                )));
            }
            let ids = (0..n).map(|i| i.to_string()).collect();
            let mut data = Dataset::new(ids, published.feature_names.clone(), rows, None)
                .map_err(value_error)?;
            published
                .preprocessing
                .apply(&mut data)
                .map_err(value_error)?;
            let scores = published.scores_preprocessed(&data);
            let k = scores.len();
            let mut flat = vec![0.0; n * k];
            for (j, column) in scores.iter().enumerate() {
                for (i, s) in column.iter().enumerate() {
                    flat[i * k + j] = *s;
                }
            }
            Ok(flat)
        })?;
        let k = published.weights.len();
        PyArray1::from_vec(py, flat).reshape([n, k])
    }

    /// Removes the rows with these ids and every remaining row of these data subjects as one
    /// batch (one step, one certificate) and returns the certificate, recorded first in the
    /// model's store if it has one ([`crate::backing`]). If the removal fails, nothing
    /// changed.
    #[pyo3(signature = (ids, subjects=Vec::new()))]
    fn remove<'py>(
        &mut self,
        py: Python<'py>,
        mut ids: Vec<String>,
        subjects: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        for subject in subjects {
            let rows = self.inner.resolve(&Erasure::Subject(subject));
            ids.extend(rows.map_err(removal_error)?);
        }
        let (inner, backing) = (&mut self.inner, self.backing.as_mut());
        let certificate =
            py.detach(|| backing::request(backing, inner, |inner| inner.remove(&ids)))?;
        to_python(py, &certificate)
    }

    /// The spec every batch of the model's rows is read with (the dict `partial_sums`
    /// takes): feature columns, target column, encoding, loss, preprocessing, intercept.
    fn batch_spec<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &batch_spec(&self.inner.model.published))
    }

    /// The query (bytes, as `partial_sums` takes it) of the pass a refresh needs at `weights`
    /// (K × d, one row per class model): gradients, Hessians and the Gram matrix.
    fn refresh_query<'py>(
        &self,
        py: Python<'py>,
        weights: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let published = &self.inner.model.published;
        let query = refresh_query(published, &matrix_rows(&weights));
        query
            .validate(&batch_spec(published))
            .map_err(value_error)?;
        Ok(PyBytes::new(py, &query.to_bytes()))
    }

    /// The digest request (bytes, for `partial_sums`) under which a refresh pass digests the
    /// remaining rows, reading their ids from `id_column`: the model's row-digest key (a
    /// secret, like the weights: send it to the executors inside the job, never log it).
    fn digest_request<'py>(&self, py: Python<'py>, id_column: &str) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.digest_request(id_column).to_bytes())
    }

    /// The ledger: training first, then every removal and release.
    fn certificates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inner.ledger.entries)
    }

    /// Runs every check of `unlearn verify` and returns the report.
    fn verify<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inner = &self.inner;
        let report = py.detach(|| unlearn::verify::verify(inner));
        to_python(py, &report)
    }

    /// Retrains from scratch on the remaining rows (noise from `seed`) and compares, as
    /// `unlearn audit --against-retrain`; the report.
    fn audit_against_retrain<'py>(
        &self,
        py: Python<'py>,
        seed: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = &self.inner;
        let audit = py
            .detach(|| unlearn::audit::audit_against_retrain(inner, seed, None, None))
            .map_err(train_error)?;
        to_python(py, &audit)
    }

    /// Writes the store at `path` (created if needed; the secret directory owner-only) and,
    /// with `rebind` (the default; pickling passes False), makes it the model's store.
    #[pyo3(signature = (path, rebind=true))]
    fn save(&mut self, py: Python<'_>, path: PathBuf, rebind: bool) -> PyResult<()> {
        let (inner, backing) = (&mut self.inner, &mut self.backing);
        let follow_ups = py
            .detach(|| save_store(&path, inner, backing, rebind))
            .map_err(store_error)?;
        warn_follow_ups(py, follow_ups);
        Ok(())
    }

    /// Lets go of the model's store ([`Backing::close`]): commits the removals it recorded
    /// there and has not saved, through the handle that recorded them, and releases the
    /// writer lock. Nothing to do when no lock is held (a model of no store, loaded with
    /// `record=False`, saved since its last removal, or closed already). A later removal
    /// takes the lock again; a later save works as for any model of that store. If the
    /// commit fails the lock is let go all the same and the error is raised: the records
    /// stand unmarked (acknowledged), so the store's next writer charges them and applies
    /// the removals (a store that holds its rows re-applies them; one of external rows
    /// refuses commits until they are removed again with their rows).
    fn close(&mut self, py: Python<'_>) -> PyResult<()> {
        let (inner, backing) = (&mut self.inner, self.backing.as_mut());
        let Some(backing) = backing else {
            return Ok(());
        };
        let follow_ups = py.detach(|| backing.close(inner)).map_err(store_error)?;
        warn_follow_ups(py, follow_ups);
        Ok(())
    }

    /// `with` support: the model itself.
    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// `with` support: [`Unlearner::close`] on leaving the block, also on an exception
    /// (which it never suppresses).
    fn __exit__(
        &mut self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _traceback: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let held = if self.external() { " (external)" } else { "" };
        let ledger = &self.inner.ledger;
        format!(
            "<unlearn Unlearner: {} rows{held}, {} removals, {} ledger entries>",
            self.n_rows(),
            ledger.removals(),
            ledger.entries.len()
        )
    }
}

/// The rows of a 2-D array, one vector each.
fn matrix_rows(weights: &PyReadonlyArray2<'_, f64>) -> Vec<Vec<f64>> {
    weights
        .as_array()
        .rows()
        .into_iter()
        .map(|w| w.to_vec())
        .collect()
}
