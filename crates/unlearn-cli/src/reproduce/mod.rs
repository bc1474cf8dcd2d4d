//! `unlearn reproduce`: the shapes of Guo et al.'s figures (Guo, Goldstein, Hannun, van der
//! Maaten, "Certified Data Removal from Machine Learning Models", ICML 2020,
//! arXiv:1911.03030), regenerated on the embedded digits 3 vs 8 and on synthetic data at
//! MNIST 3-vs-8 scale, with unlearn's mechanisms side by side.
//!
//! - **(a) Fig. 1:** test accuracy against λ and σ, and the removals supported per
//!   retraining, for `guo2020` (objective noise; Guo's "expected number of supported
//!   removals" = budget σε/c divided by the mean data-dependent bound of a step, since the
//!   bounds are summed) and for the default output perturbation (release noise; residuals
//!   are not summed, so the count is removals per re-solve in a probe of single removals).
//! - **(b) Fig. 2:** per removal, the worst-case bound, the data-dependent bound and the
//!   true residual ‖∇L_b‖ recorded in the certificates ([`unlearn::certificate::StepBounds`]),
//!   under `guo2020` at λ = 1e-3, σ = 10 (their MNIST setting), with the summed charge
//!   against the budget.
//! - **Certified vs unperturbed accuracy** on the embedded classification datasets at
//!   ε = 1, δ = 1e-4: σ = 0, guo2020 at σ = 10, and output perturbation with σ calibrated
//!   for a weight-distance budget ε′ (and the trade-off of ε′).
//!
//! Every run is seeded; rows are held out by position, never by value. [`write()`] draws the
//! plots (SVG and PNG, [`crate::report`]'s helpers) and a Markdown summary with the
//! comparison against what the paper reports.

mod experiments;
mod figures;
mod summary;
mod tasks;

pub use experiments::{
    AccuracyRange, AccuracyRow, BoundTrace, BudgetChoice, GUO_SIGMA, Sweep, SweepPoint, TraceStep,
    accuracy_row, bound_trace, budget_tradeoff, sweep,
};
pub use tasks::{DELTA, EPSILON, HOLDOUT_EVERY, Task, hyperparameters};

use crate::report::{ReportError, figure_png, figure_svg};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;
use unlearn::data::DataError;
use unlearn::model::TrainError;
use unlearn::privacy::PrivacyError;
use unlearn::store::write_atomic;
use unlearn::unlearner::RemovalError;

/// Why a reproduction failed.
#[derive(Debug, thiserror::Error)]
pub enum ReproduceError {
    /// The output directory cannot be created.
    #[error("--out {path}: cannot create the output directory: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An embedded dataset could not be loaded.
    #[error(transparent)]
    Data(#[from] DataError),
    /// Training failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A removal failed.
    #[error(transparent)]
    Removal(#[from] RemovalError),
    /// A noise scale could not be calibrated.
    #[error(transparent)]
    Privacy(#[from] PrivacyError),
    /// A plot or file could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// The sizes of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Whether this is the `--quick` run.
    pub quick: bool,
    /// The seed of the noise (the synthetic data use [`unlearn::synthetic::data_seed`] of it).
    pub seed: u64,
    /// Synthetic training rows.
    pub synthetic_rows: usize,
    /// Synthetic features.
    pub synthetic_features: usize,
    /// Per-sample λ values of the sweep.
    pub lambdas: Vec<f64>,
    /// σ values of the sweep.
    pub sigmas: Vec<f64>,
    /// Single removals in each sweep point's probe.
    pub probe_removals: usize,
    /// Single removals of the bounds trace on digits 3 vs 8.
    pub trace_removals_digits: usize,
    /// Single removals of the bounds trace on the synthetic data.
    pub trace_removals_synthetic: usize,
    /// Per-sample λ of the bounds trace (Guo et al.'s MNIST λ).
    pub lambda: f64,
    /// Per-sample λ values of the accuracy table (one row per dataset and λ); the first is
    /// also the trade-off table's.
    pub table_lambdas: Vec<f64>,
    /// Weight-distance budget ε′ of the output-perturbation models in the accuracy table.
    pub budget: f64,
    /// The ε′ values of the trade-off table.
    pub budgets: Vec<f64>,
    /// Noise draws averaged in the accuracy tables.
    pub seeds: u64,
    /// Single removals in the accuracy tables' probes.
    pub table_probe_removals: usize,
}

impl Settings {
    /// The full run (about 10 minutes on 2 cores at most) or the quick one (seconds).
    pub fn new(quick: bool, seed: u64) -> Self {
        let common = Self {
            quick,
            seed,
            synthetic_rows: 12_000,
            synthetic_features: 784,
            lambdas: vec![1e-4, 1e-3, 1e-2, 1e-1],
            sigmas: vec![0.01, 0.1, 1.0, 10.0, 100.0],
            probe_removals: 10,
            trace_removals_digits: 100,
            trace_removals_synthetic: 200,
            lambda: 1e-3,
            table_lambdas: vec![1e-4, 1e-3],
            budget: 0.01,
            budgets: vec![1e-3, 1e-2, 1e-1, 1.0],
            seeds: 10,
            table_probe_removals: 50,
        };
        if quick {
            Self {
                synthetic_rows: 1_000,
                synthetic_features: 50,
                sigmas: vec![0.1, 1.0, 10.0],
                probe_removals: 5,
                trace_removals_digits: 30,
                trace_removals_synthetic: 30,
                seeds: 3,
                table_probe_removals: 20,
                ..common
            }
        } else {
            common
        }
    }
}

/// Everything a run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reproduction {
    /// The sizes of the run.
    pub settings: Settings,
    /// The (λ, σ) sweeps: digits 3 vs 8, then synthetic.
    pub sweeps: Vec<Sweep>,
    /// The bounds traces: digits 3 vs 8, then synthetic.
    pub traces: Vec<BoundTrace>,
    /// Certified vs unperturbed accuracy on the embedded classification datasets.
    pub accuracy: Vec<AccuracyRow>,
    /// The ε′ trade-off on digits 3 vs 8.
    pub tradeoff: Vec<BudgetChoice>,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
}

/// Runs every experiment, calling `progress` with a line after each (for a terminal).
pub fn run(
    settings: &Settings,
    progress: &mut dyn FnMut(&str),
) -> Result<Reproduction, ReproduceError> {
    let started = Instant::now();
    let mut done = |what: String| {
        progress(&format!(
            "[{:6.1} s] {what}",
            started.elapsed().as_secs_f64()
        ))
    };
    let s = settings;
    let digits = Task::digits_3_vs_8()?;
    let synthetic = Task::synthetic(s.synthetic_rows, s.synthetic_features, s.seed)?;
    let mut sweeps = Vec::new();
    let mut traces = Vec::new();
    for (task, trace_removals) in [
        (&digits, s.trace_removals_digits),
        (&synthetic, s.trace_removals_synthetic),
    ] {
        sweeps.push(sweep(
            task,
            &s.lambdas,
            &s.sigmas,
            s.probe_removals,
            s.seed,
        )?);
        done(format!("Fig. 1 sweep: {}", task.title));
        traces.push(bound_trace(
            task,
            s.lambda,
            GUO_SIGMA,
            trace_removals,
            s.seed,
        )?);
        done(format!("Fig. 2 bounds trace: {}", task.title));
    }
    let mut accuracy = Vec::new();
    for task in [&digits, &Task::breast_cancer()?, &Task::digits_all()?] {
        for &lambda in &s.table_lambdas {
            accuracy.push(accuracy_row(
                task,
                lambda,
                s.budget,
                s.seeds,
                s.table_probe_removals,
                s.seed,
            )?);
            done(format!("accuracy table: {}, λ = {lambda:e}", task.title));
        }
    }
    let tradeoff = budget_tradeoff(
        &digits,
        s.table_lambdas[0],
        &s.budgets,
        s.seeds,
        s.table_probe_removals,
        s.seed,
    )?;
    Ok(Reproduction {
        settings: settings.clone(),
        sweeps,
        traces,
        accuracy,
        tradeoff,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The name of the Markdown summary in the output directory.
pub const SUMMARY_FILE: &str = "README.md";

/// The name of the JSON file with every number.
pub const RESULTS_FILE: &str = "results.json";

/// The plots of a reproduction, by file stem.
fn plots(rep: &Reproduction) -> Vec<(String, figures::Plot)> {
    let mut plots = Vec::new();
    for sweep in &rep.sweeps {
        let task = &sweep.task;
        plots.push((
            format!("accuracy_sigma_{task}"),
            figures::accuracy_against_sigma(sweep),
        ));
        plots.push((
            format!("accuracy_lambda_{task}"),
            figures::accuracy_against_lambda(sweep),
        ));
        plots.push((
            format!("removals_sigma_{task}"),
            figures::removals_against_sigma(sweep),
        ));
    }
    for trace in &rep.traces {
        plots.push((
            format!("bounds_{}", trace.task),
            figures::bounds_against_removals(trace),
        ));
    }
    plots
}

/// The stems of the plots a reproduction writes (each as `.svg` and `.png`).
pub fn plot_stems(rep: &Reproduction) -> Vec<String> {
    plots(rep).into_iter().map(|(stem, _)| stem).collect()
}

/// Creates `dir` (and its parents) if needed; the first thing a run does, so that a bad
/// `--out` fails before minutes of work.
pub fn prepare_dir(dir: &Path) -> Result<(), ReproduceError> {
    std::fs::create_dir_all(dir).map_err(|source| ReproduceError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes the plots (SVG and PNG), `results.json` and the Markdown summary into `dir`
/// (created if needed), each file atomically; returns the files written.
pub fn write(rep: &Reproduction, dir: &Path) -> Result<Vec<PathBuf>, ReproduceError> {
    prepare_dir(dir)?;
    let mut files = Vec::new();
    for (stem, plot) in plots(rep) {
        let svg = figure_svg(&plot, &stem)?;
        files.push(write_file(dir, &format!("{stem}.svg"), svg.as_bytes())?);
        let png = figure_png(&plot, &stem)?;
        files.push(write_file(dir, &format!("{stem}.png"), &png)?);
    }
    let json = serde_json::to_string_pretty(rep).expect("the results serialise");
    files.push(write_file(dir, RESULTS_FILE, json.as_bytes())?);
    files.push(write_file(
        dir,
        SUMMARY_FILE,
        summary::markdown(rep).as_bytes(),
    )?);
    Ok(files)
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, ReproduceError> {
    let path = dir.join(name);
    write_atomic(&path, bytes).map_err(ReportError::from)?;
    Ok(path)
}
