//! A distributed fit started at a fitted model's secret weights (issue 14: the re-solve a
//! removal asks for). The weights go from the `Unlearner` to the driver's `DistributedFit`
//! inside the extension; like every iterate of a fit, they then reach Python as the pass's
//! query (`DistributedFit.weights()`, bytes on the driver) and the executors in the tasks'
//! closures: secret, as the README's "What the executors see" says.

use crate::params::Params;
use crate::partials::{DistributedFit, distributed_error, fit_inputs};
use crate::unlearner::Unlearner;
use pyo3::prelude::*;
use unlearn::distributed::DistributedFit as Core;

/// A `DistributedFit` (as `DistributedFit(params, feature_names, encoding,
/// target_column)`) whose Newton iteration starts at `start`'s secret weights instead of
/// zero: near the new optimum after a removal of a few rows, so it converges in fewer
/// passes to the same certified stopping test. `start` must have the fit's class models
/// and weights per model (same features, encoding and intercept).
#[pyfunction]
#[pyo3(signature = (params, feature_names, encoding, target_column, start))]
pub fn warm_fit(
    params: Params,
    feature_names: Vec<String>,
    encoding: &Bound<'_, PyAny>,
    target_column: String,
    start: PyRef<'_, Unlearner>,
) -> PyResult<DistributedFit> {
    let (spec, hyper) = fit_inputs(params, feature_names, encoding, target_column)?;
    let weights = start.inner.model.secret.weights.clone();
    DistributedFit::running(Core::starting_at(spec, hyper, weights).map_err(distributed_error)?)
}
