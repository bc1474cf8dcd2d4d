//! The embedded datasets (`builtin:digits`, `builtin:breast_cancer`, `builtin:diabetes`),
//! as the CLI reads them, with their recommended data-independent preprocessing; and the
//! seeded synthetic data of `unlearn synth` and `unlearn bench`.

use crate::errors::{unlearn_error, value_error};
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;
use unlearn::data::{Dataset, Preprocessing, builtin};
use unlearn::synthetic::{SyntheticSpec, generate};

/// What `load_builtin` and `make_synthetic` return: features (n × d), encoded targets, the encoding,
/// ids, feature names, the recommended per-feature scales, the recommended clip norm and
/// the dataset's description and attribution.
type Builtin<'py> = (
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyAny>,
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
    let description = format!("{}\n\n{}", dataset.description, dataset.attribution);
    to_python(py, &data, &dataset.recommended_preprocessing(), description)
}

/// The seeded synthetic rows of `unlearn synth --seed SEED` (rows of norm at most 1; ±1
/// labels from a random hyperplane, each flipped with probability `flip`, or real targets
/// with noise of standard deviation `flip`). `unlearn bench --seed S` uses the seed
/// `unlearn::synthetic::data_seed(S)`.
#[pyfunction]
pub fn make_synthetic<'py>(
    py: Python<'py>,
    rows: usize,
    features: usize,
    flip: f64,
    regression: bool,
    seed: u64,
) -> PyResult<Builtin<'py>> {
    let spec = SyntheticSpec {
        rows,
        features,
        flip,
        regression,
        seed,
    };
    let data = py.detach(|| generate(&spec));
    let description = format!("synthetic: {rows} rows, {features} features, seed {seed}");
    to_python(py, &data, &Preprocessing::default(), description)
}

/// The parts of a dataset as Python values (see [`Builtin`]).
fn to_python<'py>(
    py: Python<'py>,
    data: &Dataset,
    preprocessing: &Preprocessing,
    description: String,
) -> PyResult<Builtin<'py>> {
    let targets = data
        .targets()
        .ok_or_else(|| unlearn_error("a dataset without targets"))?;
    let (n, d) = (data.n_rows(), data.n_features());
    let features = PyArray1::from_slice(py, data.features()).reshape([n, d])?;
    Ok((
        features,
        PyArray1::from_slice(py, &targets.values),
        crate::unlearner::to_python(py, &targets.encoding)?,
        data.ids().to_vec(),
        data.feature_names().to_vec(),
        PyArray1::from_vec(py, preprocessing.scales(data.feature_names())),
        preprocessing.clip_norm,
        description,
    ))
}
