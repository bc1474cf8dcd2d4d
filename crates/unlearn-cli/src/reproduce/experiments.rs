//! The experiments: the (λ, σ) sweep of Guo et al.'s Fig. 1, the bounds-vs-removals trace
//! of their Fig. 2, and the accuracy of certified models on the embedded datasets.

use super::ReproduceError;
use super::tasks::{Task, hyperparameters, output_perturbation_for_budget};
use serde::Serialize;
use unlearn::accounting::budget_of;
use unlearn::certificate::Certificate;
use unlearn::mechanism::Mechanism;
use unlearn::model::Hyperparameters;
use unlearn::unlearner::Unlearner;

/// One (mechanism, λ, σ) point of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    /// The removal mechanism.
    pub mechanism: Mechanism,
    /// Per-sample λ.
    pub lambda: f64,
    /// The noise scale σ (objective noise under guo2020, release noise under output
    /// perturbation).
    pub sigma: f64,
    /// The budget σ affords for (ε, δ), in the mechanism's unit.
    pub budget: f64,
    /// Test accuracy of the trained (removal-enabled) model's published weights.
    pub test_accuracy: f64,
    /// Removals served one at a time in the probe.
    pub probe_removals: usize,
    /// Probe removals that retrained (guo2020: fresh noise; output perturbation: re-solve).
    pub retrainings: usize,
    /// Mean over the probe's steps of the step's residual charge: the data-dependent bound
    /// (guo2020) or the distance bound (‖u‖ + τ)/Λ′ (output perturbation).
    pub mean_step_charge: f64,
    /// Removals supported per retraining: budget / mean data-dependent bound (guo2020,
    /// Guo et al.'s "expected number of supported removals": the bounds are summed), or
    /// probe removals / retrainings in the probe (output perturbation: residuals are not
    /// summed, a removal retrains only when its own distance exceeds the budget).
    pub supported_removals: f64,
    /// Whether `supported_removals` is only a lower bound (no retraining in the probe).
    pub censored: bool,
}

/// The sweep of one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sweep {
    /// The task's slug.
    pub task: String,
    /// The task's title.
    pub title: String,
    /// Training rows.
    pub n_train: usize,
    /// Test rows.
    pub n_test: usize,
    /// Features (without the intercept).
    pub features: usize,
    /// Every point, mechanism by mechanism, λ by λ, σ by σ.
    pub points: Vec<SweepPoint>,
}

/// Runs the sweep: for each mechanism, λ and σ, trains, measures test accuracy and serves
/// `probe` removals one at a time.
pub fn sweep(
    task: &Task,
    lambdas: &[f64],
    sigmas: &[f64],
    probe: usize,
    seed: u64,
) -> Result<Sweep, ReproduceError> {
    let ids = task.removal_ids(probe);
    let mut points = Vec::new();
    for mechanism in [Mechanism::Guo2020, Mechanism::OutputPerturbation] {
        for &lambda in lambdas {
            for &sigma in sigmas {
                let hyper = hyperparameters(mechanism, lambda, sigma, task.intercept)?;
                let budget = budget_of(&hyper).unwrap_or(0.0);
                let model = task.train(&hyper, seed)?;
                let test_accuracy = task.accuracy(&model);
                let mut unlearner = Unlearner::from_trained(model);
                let steps = unlearner.remove_sequential(&ids)?;
                let retrainings = steps.iter().filter(|c| c.retrained).count();
                let charges: Vec<f64> = steps.iter().map(|c| step_charge(c, &hyper)).collect();
                let mean_step_charge = charges.iter().sum::<f64>() / charges.len().max(1) as f64;
                let (supported_removals, censored) = match mechanism {
                    Mechanism::Guo2020 => (budget / mean_step_charge, false),
                    Mechanism::OutputPerturbation if retrainings == 0 => (steps.len() as f64, true),
                    Mechanism::OutputPerturbation => {
                        (steps.len() as f64 / retrainings as f64, false)
                    }
                };
                points.push(SweepPoint {
                    mechanism,
                    lambda,
                    sigma,
                    budget,
                    test_accuracy,
                    probe_removals: steps.len(),
                    retrainings,
                    mean_step_charge,
                    supported_removals,
                    censored,
                });
            }
        }
    }
    Ok(Sweep {
        task: task.slug.to_string(),
        title: task.title.clone(),
        n_train: task.n_train(),
        n_test: task.test.n_rows(),
        features: task.train.n_features(),
        points,
    })
}

/// What a removal step charges before any retraining: under guo2020 the largest
/// data-dependent bound over the class models (Guo et al. sum these); under output
/// perturbation the distance bound of the step's exact residuals. A step that retrained
/// records the residuals after retraining, so its charge is recomputed from the
/// data-dependent bound, which is taken before retraining (an upper bound of the residual
/// the step would have left).
fn step_charge(c: &Certificate, hyper: &Hyperparameters) -> f64 {
    let dd_max = c.bounds.data_dependent.iter().copied().fold(0.0, f64::max);
    match hyper.mechanism {
        Mechanism::Guo2020 => dd_max,
        Mechanism::OutputPerturbation => {
            let residuals = if c.retrained {
                &c.bounds.data_dependent
            } else {
                &c.bounds.exact_residual
            };
            unlearn::accounting::distance_bound(
                residuals,
                hyper.newton.tolerance,
                c.effective_lambda,
                hyper.noise.family,
            )
        }
    }
}

/// One removal step of the bounds trace (class model 0; the traces are binary tasks).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceStep {
    /// Removals so far (1-based).
    pub removals: usize,
    /// The worst-case (data-independent) bound of the step, where one is finite.
    pub worst_case: Option<f64>,
    /// The data-dependent bound of the step (taken before any retraining).
    pub data_dependent: f64,
    /// The exact gradient residual after the step (rounded outward).
    pub exact_residual: f64,
    /// Whether the step retrained with fresh noise (then `exact_residual` is the retrained
    /// model's).
    pub retrained: bool,
    /// Guo et al.'s charge after the step: the data-dependent bounds summed since the last
    /// (re)training.
    pub budget_used: f64,
}

/// The bounds of `removals` single removals under guo2020.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundTrace {
    /// The task's slug.
    pub task: String,
    /// The task's title.
    pub title: String,
    /// Training rows.
    pub n_train: usize,
    /// Per-sample λ.
    pub lambda: f64,
    /// σ of the objective noise.
    pub sigma: f64,
    /// The budget σε/c.
    pub budget: f64,
    /// Test accuracy of the trained model.
    pub test_accuracy: f64,
    /// One entry per removal.
    pub steps: Vec<TraceStep>,
}

impl BoundTrace {
    /// Removal steps that retrained.
    pub fn retrainings(&self) -> usize {
        self.steps.iter().filter(|s| s.retrained).count()
    }

    /// Removals served before the first retraining (all of them if none retrained).
    pub fn before_first_retraining(&self) -> usize {
        self.steps
            .iter()
            .position(|s| s.retrained)
            .unwrap_or(self.steps.len())
    }

    /// The median over steps of worst-case / data-dependent, where both exist.
    pub fn median_worst_over_data_dependent(&self) -> Option<f64> {
        median(
            self.steps
                .iter()
                .filter_map(|s| s.worst_case.map(|w| w / s.data_dependent)),
        )
    }

    /// The median over steps that did not retrain of data-dependent / exact residual.
    pub fn median_data_dependent_over_exact(&self) -> Option<f64> {
        median(
            self.steps
                .iter()
                .filter(|s| !s.retrained && s.exact_residual > 0.0)
                .map(|s| s.data_dependent / s.exact_residual),
        )
    }
}

fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// Trains a guo2020 model (per-sample λ, objective noise σ) and removes `removals` rows
/// one at a time, recording each step's worst-case and data-dependent bounds and exact
/// residual.
pub fn bound_trace(
    task: &Task,
    lambda: f64,
    sigma: f64,
    removals: usize,
    seed: u64,
) -> Result<BoundTrace, ReproduceError> {
    let hyper = hyperparameters(Mechanism::Guo2020, lambda, sigma, task.intercept)?;
    let model = task.train(&hyper, seed)?;
    let test_accuracy = task.accuracy(&model);
    let mut unlearner = Unlearner::from_trained(model);
    let certificates = unlearner.remove_sequential(&task.removal_ids(removals))?;
    let steps = certificates
        .iter()
        .enumerate()
        .map(|(k, c)| TraceStep {
            removals: k + 1,
            worst_case: c.bounds.worst_case.first().copied().flatten(),
            data_dependent: c.bounds.data_dependent[0],
            exact_residual: c.bounds.exact_residual[0],
            retrained: c.retrained,
            budget_used: c.budget_used,
        })
        .collect();
    Ok(BoundTrace {
        task: task.slug.to_string(),
        title: task.title.clone(),
        n_train: task.n_train(),
        lambda,
        sigma,
        budget: budget_of(&hyper).unwrap_or(0.0),
        test_accuracy,
        steps,
    })
}

/// Accuracy over several noise draws: mean, smallest, largest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AccuracyRange {
    /// Mean test accuracy.
    pub mean: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl AccuracyRange {
    fn of(values: &[f64]) -> Self {
        Self {
            mean: values.iter().sum::<f64>() / values.len() as f64,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// One task of the certified-vs-unperturbed comparison (issue 4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccuracyRow {
    /// The task's title.
    pub title: String,
    /// Training rows.
    pub n_train: usize,
    /// Test rows.
    pub n_test: usize,
    /// Per-sample λ.
    pub lambda: f64,
    /// Test accuracy without noise (σ = 0).
    pub unperturbed: f64,
    /// guo2020 with objective noise σ = [`GUO_SIGMA`], over the seeds.
    pub guo2020: AccuracyRange,
    /// Removals (of the probe) that retrained under guo2020.
    pub guo2020_retrainings: usize,
    /// The weight-distance budget ε′ of the output-perturbation model.
    pub budget: f64,
    /// The release noise σ calibrated for it.
    pub output_sigma: f64,
    /// Output perturbation at that σ, over the seeds.
    pub output_perturbation: AccuracyRange,
    /// Removals (of the probe) that re-solved under output perturbation.
    pub output_retrainings: usize,
    /// Removals in the probes.
    pub probe_removals: usize,
}

/// The σ of Guo et al.'s accounting at ε = 1, δ = 1e-4 in the comparison (their MNIST
/// setting).
pub const GUO_SIGMA: f64 = 10.0;

/// Test accuracy of the unperturbed model, of guo2020 at σ = [`GUO_SIGMA`] and of output
/// perturbation with σ calibrated for `budget`, the noisy ones averaged over `seeds` noise
/// draws; plus how many of `probe` single removals retrain under each.
pub fn accuracy_row(
    task: &Task,
    lambda: f64,
    budget: f64,
    seeds: u64,
    probe: usize,
    seed: u64,
) -> Result<AccuracyRow, ReproduceError> {
    let plain = hyperparameters(Mechanism::OutputPerturbation, lambda, 0.0, task.intercept)?;
    let unperturbed = task.accuracy(&task.train(&plain, seed)?);
    let guo = hyperparameters(Mechanism::Guo2020, lambda, GUO_SIGMA, task.intercept)?;
    let output = output_perturbation_for_budget(lambda, budget, task.intercept)?;
    let ids = task.removal_ids(probe);
    let (guo2020, guo2020_retrainings) = noisy_accuracy(task, &guo, &ids, seeds, seed)?;
    let (output_perturbation, output_retrainings) =
        noisy_accuracy(task, &output, &ids, seeds, seed)?;
    Ok(AccuracyRow {
        title: task.title.clone(),
        n_train: task.n_train(),
        n_test: task.test.n_rows(),
        lambda,
        unperturbed,
        guo2020,
        guo2020_retrainings,
        budget,
        output_sigma: output.noise.scale,
        output_perturbation,
        output_retrainings,
        probe_removals: ids.len(),
    })
}

/// Test accuracy of `hyper`'s model over `seeds` noise draws (seeds `seed`, `seed + 1`, …),
/// and how many of the removals `ids`, served one at a time from the first draw's model,
/// retrain.
fn noisy_accuracy(
    task: &Task,
    hyper: &Hyperparameters,
    ids: &[String],
    seeds: u64,
    seed: u64,
) -> Result<(AccuracyRange, usize), ReproduceError> {
    let mut accuracies = Vec::new();
    for s in 0..seeds.max(1) {
        accuracies.push(task.accuracy(&task.train(hyper, seed + s)?));
    }
    let mut unlearner = Unlearner::from_trained(task.train(hyper, seed)?);
    let retrainings = unlearner
        .remove_sequential(ids)?
        .iter()
        .filter(|c| c.retrained)
        .count();
    Ok((AccuracyRange::of(&accuracies), retrainings))
}

/// One choice of the output-perturbation budget ε′ on a task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetChoice {
    /// The weight-distance budget ε′.
    pub budget: f64,
    /// The release noise σ calibrated for it at (ε, δ).
    pub sigma: f64,
    /// Test accuracy over the seeds.
    pub accuracy: AccuracyRange,
    /// Removals (of the probe) that re-solved.
    pub retrainings: usize,
    /// Removals in the probe.
    pub probe_removals: usize,
}

/// The trade-off of ε′ under output perturbation: a larger budget hides a larger distance
/// to retraining (fewer re-solves) with more release noise (lower accuracy).
pub fn budget_tradeoff(
    task: &Task,
    lambda: f64,
    budgets: &[f64],
    seeds: u64,
    probe: usize,
    seed: u64,
) -> Result<Vec<BudgetChoice>, ReproduceError> {
    let ids = task.removal_ids(probe);
    budgets
        .iter()
        .map(|&budget| {
            let hyper = output_perturbation_for_budget(lambda, budget, task.intercept)?;
            let (accuracy, retrainings) = noisy_accuracy(task, &hyper, &ids, seeds, seed)?;
            Ok(BudgetChoice {
                budget,
                sigma: hyper.noise.scale,
                accuracy,
                retrainings,
                probe_removals: ids.len(),
            })
        })
        .collect()
}
