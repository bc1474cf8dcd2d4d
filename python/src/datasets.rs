//! The embedded datasets (`builtin:digits`, `builtin:breast_cancer`, `builtin:diabetes`),
//! as the CLI reads them, with their recommended data-independent preprocessing.

use crate::errors::{unlearn_error, value_error};
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use unlearn::data::builtin;

/// What `load_builtin` returns: features (n × d), encoded targets, the encoding as JSON,
/// ids, feature names, the recommended per-feature scales, the recommended clip norm and
/// the dataset's description and attribution.
type Builtin<'py> = (
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray1<f64>>,
    String,
    Vec<String>,
    Vec<String>,
    Bound<'py, PyArray1<f64>>,
    Option<f64>,
    String,
);

/// The embedded dataset `name`, raw (unscaled), with its recommended constants.
#[pyfunction]
pub fn load_builtin<'py>(py: Python<'py>, name: &str) -> PyResult<Builtin<'py>> {
    let dataset = builtin::builtin(name).map_err(value_error)?;
    let data = dataset
        .load(&dataset.default_options())
        .map_err(unlearn_error)?;
    let targets = data
        .targets()
        .ok_or_else(|| unlearn_error("an embedded dataset without targets"))?;
    let preprocessing = dataset.recommended_preprocessing();
    let (n, d) = (data.n_rows(), data.n_features());
    let features = PyArray1::from_slice(py, data.features()).reshape([n, d])?;
    let description = format!("{}\n\n{}", dataset.description, dataset.attribution);
    Ok((
        features,
        PyArray1::from_slice(py, &targets.values),
        serde_json::to_string(&targets.encoding).map_err(unlearn_error)?,
        data.ids().to_vec(),
        data.feature_names().to_vec(),
        PyArray1::from_vec(py, preprocessing.scales(data.feature_names())),
        preprocessing.clip_norm,
        description,
    ))
}
