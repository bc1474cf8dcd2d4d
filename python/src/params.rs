//! Estimator parameters → the core's [`Hyperparameters`].
//!
//! The Python estimators pass their parameters as a dict (`_core_params()`), already
//! translated to the core's convention: `lambda` is Λ (total) or λ (per-sample), i.e.
//! 1/C for the logistic estimator and `alpha` for ridge. The noise follows the CLI's
//! rules, with messages naming the Python parameters:
//! - `sigma = 0`: no noise, no privacy target, never certified (whatever `epsilon` says);
//! - `sigma > 0` with `epsilon`: the target is the budget that σ affords at (ε, δ)
//!   ([`privacy::target_for_scale`]; `budget` is then not used);
//! - `sigma = None`: σ is calibrated for (ε, δ, budget) ([`privacy::calibrate`]).

use pyo3::prelude::*;
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::model::Hyperparameters;
use unlearn::noise::{NoiseFamily, NoiseSpec};
use unlearn::objective::Regularization;
use unlearn::privacy::{self, GaussianCalibration, PrivacyTarget};
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
        let (noise, privacy) = self.noise(mechanism)?;
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

    /// The release noise and the privacy target (see the module docs).
    fn noise(&self, mechanism: Mechanism) -> Result<(NoiseSpec, Option<PrivacyTarget>), String> {
        let family = NoiseFamily::Gaussian;
        let calibration = GaussianCalibration::default_for(mechanism);
        let fixed = |scale: f64| NoiseSpec { family, scale };
        match (self.sigma, self.epsilon) {
            (Some(sigma), _) if !(sigma.is_finite() && sigma >= 0.0) => Err(format!(
                "sigma must be a finite number ≥ 0 (got {sigma}); 0 trains without noise"
            )),
            (Some(0.0), _) | (Some(_), None) => Ok((fixed(self.sigma.unwrap_or(0.0)), None)),
            (Some(sigma), Some(epsilon)) => {
                let target =
                    privacy::target_for_scale(fixed(sigma), epsilon, self.delta, calibration)
                        .map_err(|e| format!("sigma = {sigma}, epsilon = {epsilon}: {e}"))?;
                Ok((fixed(sigma), Some(target)))
            }
            (None, Some(epsilon)) => {
                let budget = self.budget.ok_or(
                    "give budget (the lifetime distance ε′ the noise hides, e.g. 0.01) or sigma",
                )?;
                privacy::calibrate(family, epsilon, self.delta, budget, calibration)
                    .map(|(spec, target)| (spec, Some(target)))
                    .map_err(|e| format!("epsilon = {epsilon}, budget = {budget}: {e}"))
            }
            (None, None) => Err(
                "give the noise: sigma (0 for none), or epsilon, delta and budget to calibrate it"
                    .into(),
            ),
        }
    }
}
