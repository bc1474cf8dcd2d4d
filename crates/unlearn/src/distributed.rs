//! Newton's method on a driver that never sees the rows: each iteration asks for one pass
//! over the partitions ([`DistributedFit::query`] → [`crate::partials::PartialSums`] per
//! batch → merged → [`DistributedFit::absorb`]), and every decision — the step, the line
//! search, the stopping test — is the in-process solver's own ([`solver::stopping_test`],
//! [`solver::LineSearch`], [`solver::cholesky_direction`], [`solver::ConjugateGradient`]).
//!
//! # One pass per iteration
//! A pass evaluates every class model at its *candidate* point w + t·p: value, gradient and
//! (below [`HESSIAN_FREE_DIMENSION`]) Hessian together. If the line search accepts the
//! candidate, the same sums give the next stopping test and the next step, so a Newton
//! iteration whose full step is accepted (all of them near the optimum) costs exactly one
//! pass; a rejected candidate costs one more pass per halving. The first pass also sums the
//! Gram matrix (it does not depend on w) for the certified ‖X‖₂ bound.
//!
//! # From d ≥ 2048: Hessian-vector products
//! Below [`HESSIAN_FREE_DIMENSION`] the step is a Cholesky solve with the summed Hessian,
//! whatever [`crate::solver::StepSolver`] says: in process the conjugate-gradient solver
//! saves flops, here passes are what costs, and the Hessian comes with the gradient's pass
//! for O(d²) more bytes per partial. From [`HESSIAN_FREE_DIMENSION`] on a d×d partial
//! (32 MiB at d = 2048) would dominate the shuffle, so the step is the in-process truncated
//! Newton step — preconditioned conjugate gradient to the forcing term
//! ([`solver::forcing_term`]) — with each product H·v one pass that returns O(d) sums per
//! partial. Conjugate gradient is sequential (each direction depends on the previous
//! product), so a block of directions per pass would need an s-step variant, numerically
//! fragile without re-orthogonalisation; one pass per product is the simple, stable choice,
//! and the forcing term keeps the count small (3 Newton iterations at 12,000×784 in
//! process).
//!
//! # What comes out
//! [`DistributedFit::finish`] returns the [`Totals`] at the final weights (gradient and its
//! rounding bound, Hessian and its bound, the Gram matrix's certified ‖X‖₂ bound, R, class
//! counts), the weights and a [`SolveReport`] per model. The report's gradient norm is the
//! same guaranteed bound on the exact ‖∇L_b(w)‖ as in process
//! (proofs/training_residual.md, Lemma 3; the sums' bounds hold for any merge order,
//! proofs/distributed_sums.md), so the distributed fit and an in-process fit on the same
//! rows are within (ĝ_dist + ĝ_local)/Λ of each other, whatever the partitioning.

use crate::data::TargetEncoding;
use crate::mechanism::Mechanism;
use crate::model::Hyperparameters;
use crate::partials::{
    BatchSpec, HESSIAN_FREE_DIMENSION, ModelQuery, ModelTotals, PartialSums, PartialsError, Query,
    Totals,
};
use crate::solver::{self, ConjugateGradient, LineSearch, SolveReport, SolverError};
use nalgebra::DVector;

/// Why a distributed fit failed.
#[derive(Debug, thiserror::Error)]
pub enum DistributedError {
    /// The spec, a blob or a total is unusable or answers another pass.
    #[error(transparent)]
    Partials(#[from] PartialsError),
    /// The solver failed for one class model.
    #[error("training {context}: {source}")]
    Solver {
        /// Which model failed.
        context: String,
        /// The solver's error.
        source: SolverError,
    },
    /// The hyperparameters are unusable for a distributed fit.
    #[error("{0}")]
    Invalid(String),
    /// The rows changed between passes (a partition lost, duplicated or rewritten).
    #[error(
        "the rows changed between passes: pass {pass} summed {rows} rows ({classes:?} per \
         class), the first pass {first_rows} ({first_classes:?}); every pass must read the \
         same table (cache or snapshot it)"
    )]
    RowsChanged {
        /// The pass that saw other rows.
        pass: usize,
        /// Rows it summed.
        rows: usize,
        /// Its class counts.
        classes: Vec<u64>,
        /// Rows of the first pass.
        first_rows: usize,
        /// Class counts of the first pass.
        first_classes: Vec<u64>,
    },
    /// `finish` before convergence, or `absorb` after it.
    #[error("{0}")]
    State(&'static str),
}

/// Where one class model's Newton iteration stands.
#[derive(Debug, Clone)]
enum Phase {
    /// Waiting for the sums at `candidate` (the start point, or w + t·p of a line search).
    Evaluate {
        candidate: DVector<f64>,
        search: Option<(LineSearch, DVector<f64>)>,
    },
    /// Waiting for H·v at the current point for the conjugate-gradient step.
    Products(ConjugateGradient),
    /// Done: the report of the stopping test.
    Converged(SolveReport),
}

/// One class model's iteration: the accepted point with its sums, and the phase.
#[derive(Debug, Clone)]
struct ModelFit {
    current: Option<ModelTotals>,
    phase: Phase,
    iterations: usize,
}

/// The driver's side of a distributed Newton fit (see the module docs).
#[derive(Debug, Clone)]
pub struct DistributedFit {
    spec: BatchSpec,
    hyper: Hyperparameters,
    noise: Vec<DVector<f64>>,
    models: Vec<ModelFit>,
    /// The totals of the first pass (rows, class counts, Gram matrix, norms).
    first: Option<Totals>,
    passes: usize,
}

/// What a converged distributed fit hands on (to
/// [`crate::unlearner::Unlearner`]'s external-rows constructor).
#[derive(Debug, Clone)]
pub struct DistributedOutput {
    /// The spec every pass used.
    pub spec: BatchSpec,
    /// The hyperparameters.
    pub hyper: Hyperparameters,
    /// The secret weights, one vector per class model (intercept last).
    pub weights: Vec<DVector<f64>>,
    /// The objective noise b per model (zero under output perturbation).
    pub noise: Vec<DVector<f64>>,
    /// The stopping test's report per model.
    pub reports: Vec<SolveReport>,
    /// The sums at the final weights (each model's at its own final point), with the
    /// first pass's Gram matrix, ‖X‖_F and R.
    pub totals: Totals,
    /// A guaranteed upper bound on ‖X‖₂ ([`Totals::spectral_norm_bound`]).
    pub spectral_bound: f64,
    /// Passes over the rows taken.
    pub passes: usize,
}

/// The public shape of a converged fit: what it cost and the bounds it certified.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitSummary {
    /// Passes over the rows.
    pub passes: usize,
    /// Rows summed.
    pub rows: usize,
    /// Newton iterations per class model.
    pub iterations: Vec<usize>,
    /// The guaranteed bound on the exact ‖∇L_b‖ at each model's weights.
    pub gradient_bounds: Vec<f64>,
    /// The certified bound on ‖X‖₂.
    pub spectral_bound: f64,
    /// R ≥ every row's norm (intercept included).
    pub row_norm_bound: f64,
}

impl DistributedOutput {
    /// What the fit cost and certified.
    pub fn summary(&self) -> FitSummary {
        FitSummary {
            passes: self.passes,
            rows: self.totals.rows,
            iterations: self.reports.iter().map(|r| r.iterations).collect(),
            gradient_bounds: self.reports.iter().map(|r| r.gradient_norm).collect(),
            spectral_bound: self.spectral_bound,
            row_norm_bound: self.totals.row_norm_bound,
        }
    }
}

impl DistributedFit {
    /// Starts a fit from w = 0 for every class model. Output perturbation only: its
    /// objective has no noise (b = 0); Guo et al.'s objective perturbation would need b on
    /// the driver before the first pass and is refused.
    pub fn new(spec: BatchSpec, hyper: Hyperparameters) -> Result<Self, DistributedError> {
        let start = vec![DVector::zeros(spec.dim()); spec.model_count()];
        Self::starting_at(spec, hyper, start)
    }

    /// Starts a fit from `start` (one vector of d weights per class model, intercept last):
    /// a warm start. The iteration and its stopping test are the same as from zero — the
    /// certified bound at the end does not depend on where Newton began — but from a point
    /// near the optimum (the secret weights before a removal of a few rows, whose optimum
    /// moves by O(removed/Λ)) the first pass's sums often pass the stopping test already,
    /// or one full Newton step does: 1–2 passes instead of 4–5. The start point is sent to
    /// the executors as the first pass's query, as every iterate is.
    pub fn starting_at(
        spec: BatchSpec,
        hyper: Hyperparameters,
        start: Vec<DVector<f64>>,
    ) -> Result<Self, DistributedError> {
        spec.validate()?;
        hyper
            .validate()
            .map_err(|e| DistributedError::Invalid(e.to_string()))?;
        if hyper.loss != spec.loss {
            return Err(DistributedError::Invalid(
                "the spec's loss and the hyperparameters' loss differ".into(),
            ));
        }
        if hyper.intercept != spec.intercept {
            return Err(DistributedError::Invalid(
                "the spec's intercept and the hyperparameters' intercept differ".into(),
            ));
        }
        if hyper.mechanism != Mechanism::OutputPerturbation {
            return Err(DistributedError::Invalid(
                "a distributed fit supports the output-perturbation mechanism (the default) \
                 only; guo2020's objective noise is not drawn on a driver"
                    .into(),
            ));
        }
        let (d, k) = (spec.dim(), spec.model_count());
        if start.len() != k || start.iter().any(|w| w.len() != d) {
            return Err(DistributedError::Invalid(format!(
                "the start point has {} weight vectors of lengths {:?}; this fit has {k} class \
                 models of {d} weights each (the features, then the intercept)",
                start.len(),
                start.iter().map(DVector::len).collect::<Vec<_>>()
            )));
        }
        if start.iter().any(|w| !w.iter().all(|v| v.is_finite())) {
            return Err(DistributedError::Invalid(
                "the start point has a non-finite weight: start from finite weights".into(),
            ));
        }
        let models = start
            .into_iter()
            .map(|candidate| ModelFit {
                current: None,
                phase: Phase::Evaluate {
                    candidate,
                    search: None,
                },
                iterations: 0,
            })
            .collect();
        Ok(Self {
            noise: vec![DVector::zeros(d); k],
            models,
            spec,
            hyper,
            first: None,
            passes: 0,
        })
    }

    /// The spec every executor applies.
    pub fn spec(&self) -> &BatchSpec {
        &self.spec
    }

    /// Passes absorbed so far.
    pub fn passes(&self) -> usize {
        self.passes
    }

    /// Whether every class model has converged.
    pub fn converged(&self) -> bool {
        self.models
            .iter()
            .all(|m| matches!(m.phase, Phase::Converged(_)))
    }

    /// What the next pass must evaluate: per model its candidate weights (or its current
    /// weights and a conjugate-gradient direction), the Hessians while any model needs a
    /// step below [`HESSIAN_FREE_DIMENSION`], the Gram matrix on the first pass.
    pub fn query(&self) -> Query {
        let small = self.spec.dim() < HESSIAN_FREE_DIMENSION;
        let models = self
            .models
            .iter()
            .map(|m| match &m.phase {
                Phase::Evaluate { candidate, .. } => ModelQuery {
                    weights: candidate.as_slice().to_vec(),
                    direction: None,
                },
                Phase::Products(cg) => ModelQuery {
                    weights: m
                        .current
                        .as_ref()
                        .expect("a step has a point")
                        .weights
                        .as_slice()
                        .to_vec(),
                    direction: cg.direction().map(|v| v.as_slice().to_vec()),
                },
                Phase::Converged(_) => ModelQuery {
                    weights: m
                        .current
                        .as_ref()
                        .expect("converged at a point")
                        .weights
                        .as_slice()
                        .to_vec(),
                    direction: None,
                },
            })
            .collect();
        Query {
            models,
            hessian: small
                && self
                    .models
                    .iter()
                    .any(|m| matches!(m.phase, Phase::Evaluate { .. })),
            gram: small && self.first.is_none(),
        }
    }

    /// Takes the merged partial sums of the pass [`DistributedFit::query`] asked for and
    /// advances every model; true when all have converged.
    pub fn absorb(&mut self, total: &PartialSums) -> Result<bool, DistributedError> {
        if self.converged() {
            return Err(DistributedError::State(
                "the fit has converged: call finish instead of another pass",
            ));
        }
        let query = self.query();
        let totals = total.finish(&self.spec, &query, &self.hyper, &self.noise)?;
        self.passes += 1;
        match &self.first {
            None => self.first = Some(totals.clone()),
            Some(first)
                if first.rows != totals.rows || first.class_counts != totals.class_counts =>
            {
                return Err(DistributedError::RowsChanged {
                    pass: self.passes,
                    rows: totals.rows,
                    classes: totals.class_counts,
                    first_rows: first.rows,
                    first_classes: first.class_counts.clone(),
                });
            }
            Some(_) => {}
        }
        let options = self.hyper.newton;
        for (k, (fit, at)) in self.models.iter_mut().zip(totals.models).enumerate() {
            fit.advance(at, &options)
                .map_err(|source| DistributedError::Solver {
                    context: model_label(&self.spec.encoding, k),
                    source,
                })?;
        }
        Ok(self.converged())
    }

    /// The converged fit: weights, reports, and the totals at the final weights.
    pub fn finish(self) -> Result<DistributedOutput, DistributedError> {
        if !self.converged() {
            return Err(DistributedError::State(
                "the fit has not converged: absorb more passes before finish",
            ));
        }
        let mut first = self.first.expect("a converged fit absorbed a pass");
        let mut weights = Vec::with_capacity(self.models.len());
        let mut reports = Vec::with_capacity(self.models.len());
        let mut finals = Vec::with_capacity(self.models.len());
        for m in self.models {
            let Phase::Converged(report) = m.phase else {
                unreachable!("checked converged")
            };
            let at = m.current.expect("converged at a point");
            weights.push(at.weights.clone());
            reports.push(report);
            finals.push(at);
        }
        first.models = finals;
        let spectral_bound = first.spectral_norm_bound();
        Ok(DistributedOutput {
            spec: self.spec,
            hyper: self.hyper,
            weights,
            noise: self.noise,
            reports,
            totals: first,
            spectral_bound,
            passes: self.passes,
        })
    }
}

impl ModelFit {
    /// One model's move on the sums `at` of the point it asked for.
    fn advance(
        &mut self,
        at: ModelTotals,
        options: &solver::NewtonOptions,
    ) -> Result<(), SolverError> {
        let next = match &mut self.phase {
            Phase::Converged(_) => return Ok(()),
            // The start point: nothing to accept.
            Phase::Evaluate { search: None, .. } => None,
            Phase::Evaluate {
                search: Some((search, step)),
                ..
            } => {
                if search.accepts(at.value, at.gradient.norm()) {
                    self.iterations += 1;
                    None
                } else if search.backtrack() {
                    let w = &self.current.as_ref().expect("a search has a base").weights;
                    Some(Phase::Evaluate {
                        candidate: w + &*step * search.t,
                        search: Some((*search, step.clone())),
                    })
                } else {
                    return Err(SolverError::NotConverged {
                        iterations: self.iterations,
                        gradient_norm: self
                            .current
                            .as_ref()
                            .map_or(f64::NAN, |c| c.gradient.norm()),
                        tolerance: options.tolerance,
                    });
                }
            }
            Phase::Products(cg) => {
                cg.absorb(at.hessian_vector.as_ref().expect("a product was asked for"));
                if cg.direction().is_some() {
                    return Ok(());
                }
                let step = -cg.solution();
                Some(self.line_search(step))
            }
        };
        self.phase = match next {
            Some(phase) => phase,
            None => {
                self.current = Some(at);
                self.decide(options)?
            }
        };
        Ok(())
    }

    /// At an accepted point: the stopping test, else the next step.
    fn decide(&self, options: &solver::NewtonOptions) -> Result<Phase, SolverError> {
        let at = self.current.as_ref().expect("decide at a point");
        if !at.value.is_finite() || !at.gradient.iter().all(|v| v.is_finite()) {
            return Err(SolverError::NonFinite {
                iteration: self.iterations,
            });
        }
        if let Some(report) = solver::stopping_test(
            &at.gradient,
            at.gradient_error,
            options.tolerance,
            self.iterations,
        )? {
            return Ok(Phase::Converged(report));
        }
        if self.iterations == options.max_iterations {
            return Err(SolverError::NotConverged {
                iterations: self.iterations,
                gradient_norm: at.gradient.norm(),
                tolerance: options.tolerance,
            });
        }
        match &at.hessian {
            Some(h) => Ok(self.line_search(solver::cholesky_direction(h.clone(), &at.gradient)?)),
            None => {
                let cg = ConjugateGradient::new(
                    &at.hessian_diagonal,
                    &at.gradient,
                    solver::forcing_term(&at.gradient),
                );
                Ok(if cg.direction().is_some() {
                    Phase::Products(cg)
                } else {
                    self.line_search(-cg.solution())
                })
            }
        }
    }

    /// Starts a line search along `step` from the current point: the candidate w + p.
    fn line_search(&self, step: DVector<f64>) -> Phase {
        let at = self.current.as_ref().expect("a search has a base");
        let search = LineSearch::new(at.value, &at.gradient, &step);
        Phase::Evaluate {
            candidate: &at.weights + &step,
            search: Some((search, step)),
        }
    }
}

/// "the model" or "the model of class c" for errors.
fn model_label(encoding: &TargetEncoding, k: usize) -> String {
    match encoding {
        TargetEncoding::Multiclass { classes } => format!("the model of class \"{}\"", classes[k]),
        _ => "the model".into(),
    }
}

/// How far a distributed fit's weights are from an in-process fit's on the same rows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitComparison {
    /// ‖w_dist − w_local‖₂ per class model.
    pub distances: Vec<f64>,
    /// (ĝ_dist + ĝ_local)/Λ per class model: both fits are within ĝ/Λ of the one exact
    /// minimiser (proofs/training_residual.md, Lemma 1, with the guaranteed gradient bounds
    /// ĝ of their stopping tests), so the distance between them is at most the sum.
    pub bounds: Vec<f64>,
}

/// Compares a distributed fit with an in-process fit (its secret weights and solve reports)
/// on the same rows: an audit, like [`crate::audit`]'s comparison with a retrain.
pub fn compare(
    output: &DistributedOutput,
    secret: &crate::model::SecretState,
) -> Result<FitComparison, DistributedError> {
    let rows = secret.n_rows();
    if rows != output.totals.rows || secret.weights.len() != output.weights.len() {
        return Err(DistributedError::Invalid(format!(
            "the in-process fit has {rows} rows and {} models, the distributed fit {} rows and \
             {} models: compare fits of the same rows",
            secret.weights.len(),
            output.totals.rows,
            output.weights.len()
        )));
    }
    let lambda = output.totals.lambda_total;
    let (distances, bounds) = output
        .weights
        .iter()
        .zip(&output.reports)
        .zip(secret.weights.iter().zip(&secret.training))
        .map(|((w_dist, r_dist), (w_local, r_local))| {
            let residuals = (r_dist.gradient_norm + r_local.gradient_norm) * (1.0 + f64::EPSILON);
            (
                (w_dist - w_local).norm(),
                crate::bounds::strong_convexity_distance(residuals, lambda),
            )
        })
        .unzip();
    Ok(FitComparison { distances, bounds })
}
