//! The audits that train their own models: membership inference (`unlearn
//! audit-membership`) on the caller's rows, and empirical ε (`unlearn audit-epsilon`) on
//! the core's scenarios. Both return the core's report as dicts; the Python layer
//! (`unlearn.audit`) turns it into dataclasses.

use crate::errors::{unlearn_error, value_error};
use crate::params::Params;
use crate::tables;
use crate::unlearner::{encoding as target_encoding, to_python, training_data};
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use unlearn::empirical_epsilon::AuditOptions;
use unlearn::empirical_epsilon::scenario::{Scenario, ScenarioKind, audit_scenario};
use unlearn::membership::{MembershipError, MembershipSpec, run as run_membership};

/// Runs the membership-inference audit on the population `x` (a numpy array or a table,
/// as in `train`), `y` (encoded as in `train`) with the estimator's parameters; the report.
#[pyfunction]
#[pyo3(signature = (x, y, ids, feature_names, encoding, params, never_seen, removed, canaries, sequential, shadows, bootstrap, seed))]
#[allow(clippy::too_many_arguments)] // one argument per keyword of `unlearn.audit.membership`
pub fn membership<'py>(
    py: Python<'py>,
    x: &Bound<'_, PyAny>,
    y: PyReadonlyArray1<'_, f64>,
    ids: Vec<String>,
    feature_names: Vec<String>,
    encoding: &Bound<'_, PyAny>,
    params: Params,
    never_seen: f64,
    removed: usize,
    canaries: bool,
    sequential: bool,
    shadows: usize,
    bootstrap: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let hyper = params.hyperparameters().map_err(value_error)?;
    let encoding = target_encoding(encoding)?;
    let values = y.as_slice().map_err(value_error)?;
    let mut array = None;
    let (rows, _) = tables::input(x, &mut array)?;
    let spec = MembershipSpec {
        never_seen,
        removed,
        canaries,
        sequential,
        shadows,
        bootstrap,
        seed,
    };
    let report = py.detach(|| {
        let population = training_data(
            rows,
            values,
            ids,
            feature_names,
            encoding,
            false,
            params.clip_norm,
        )?;
        run_membership(&population, &hyper, &spec).map_err(|e| match e {
            e @ (MembershipError::Invalid(_) | MembershipError::Setting { .. }) => value_error(e),
            e => unlearn_error(e),
        })
    })?;
    to_python(py, &report)
}

/// Runs the empirical-ε audit of a scenario ("digits" or "guo2020-counterexample") with
/// `removed` rows in `releases` requests, publishing with `sigma` instead of the calibrated
/// noise when given; the report.
#[pyfunction]
#[pyo3(signature = (scenario, removed, releases, trials, confidence, seed, sigma))]
#[allow(clippy::too_many_arguments)] // one argument per keyword of `unlearn.audit.epsilon`
pub fn epsilon<'py>(
    py: Python<'py>,
    scenario: &str,
    removed: usize,
    releases: usize,
    trials: usize,
    confidence: f64,
    seed: u64,
    sigma: Option<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    let kind: ScenarioKind = scenario.parse().map_err(value_error)?;
    let report = py.detach(|| {
        let mut scenario = Scenario::of_kind(kind, removed)
            .and_then(|s| s.with_releases(releases))
            .map_err(value_error)?;
        if let Some(sigma) = sigma {
            scenario = scenario.with_release_sigma(sigma).map_err(value_error)?;
        }
        let options = AuditOptions {
            trials,
            confidence,
            delta: scenario.delta(),
            seed,
        };
        audit_scenario(&scenario, &options).map_err(value_error)
    })?;
    to_python(py, &report)
}
