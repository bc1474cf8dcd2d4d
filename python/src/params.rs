//! Estimator parameters → the core's [`Hyperparameters`].
//!
//! The Python estimators pass their parameters as a dict (`_core_params()`), already
//! translated to the core's convention: `lambda` is Λ (total) or λ (per-sample), i.e.
//! 1/C for the logistic estimator and `alpha` for ridge. The noise follows the core's one
//! rule ([`privacy::noise_for`], shared with the CLI), its messages naming the Python
//! parameters. One convention is the estimators' own: `epsilon` has a default (1.0), so
//! `sigma = 0` (no noise, never certified) drops it instead of asking the caller to.

use pyo3::prelude::*;
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::model::Hyperparameters;
use unlearn::noise::NoiseFamily;
use unlearn::objective::Regularization;
use unlearn::privacy::{self, NoiseRequest};
use unlearn::solver::NewtonOptions;

/// The parameters of a training run, as the Python estimators pass them.
#[derive(Debug, Clone, FromPyObject)]
#[pyo3(from_item_all)]
pub struct Params {
    /// "logistic" or "squared".
    pub loss: String,
    /// Λ (total) or λ (per-sample).
    pub lambda: f64,
    /// "total" or "per-sample".
    pub regularization: String,
    /// Whether a regularised constant feature carries the intercept.
    pub fit_intercept: bool,
    /// ε of the target (ignored when `sigma` is 0).
    pub epsilon: Option<f64>,
    /// δ of the target.
    pub delta: Option<f64>,
    /// The lifetime budget ε′ that σ is calibrated for (when `sigma` is None).
    pub budget: Option<f64>,
    /// The release noise σ, or None to calibrate it.
    pub sigma: Option<f64>,
    /// Rows are clipped to this norm (no clipping when None).
    pub clip_norm: Option<f64>,
    /// "output-perturbation" or "guo2020".
    pub mechanism: String,
    /// The solver's tolerance on ‖∇L_b‖.
    pub tol: f64,
}

impl Params {
    /// The core's hyperparameters, or a message naming the parameter that is wrong.
    pub fn hyperparameters(&self) -> Result<Hyperparameters, String> {
        let loss: LossKind = self.loss.parse()?;
        let regularization: Regularization = self
            .regularization
            .parse()
            .map_err(|e| format!("regularization: {e}"))?;
        let mechanism: Mechanism = self
            .mechanism
            .parse()
            .map_err(|e| format!("mechanism: {e}"))?;
        // The Python names are the core's neutral names: the error's Display spells them.
        let (noise, privacy) = privacy::noise_for(&NoiseRequest {
            family: NoiseFamily::Gaussian,
            sigma: self.sigma,
            epsilon: self.epsilon.filter(|_| self.sigma != Some(0.0)),
            delta: self.delta,
            budget: self.budget,
            calibration: None,
            mechanism,
        })
        .map_err(|e| e.to_string())?;
        let hyper = Hyperparameters {
            loss,
            lambda: self.lambda,
            regularization,
            intercept: self.fit_intercept,
            noise,
            privacy,
            mechanism,
            newton: NewtonOptions {
                tolerance: self.tol,
                ..NewtonOptions::default()
            },
        };
        hyper.validate().map_err(|e| e.to_string())?;
        Ok(hyper)
    }
}
