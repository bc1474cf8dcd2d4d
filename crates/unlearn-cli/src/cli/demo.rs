//! `unlearn demo`: certified training on the embedded datasets, with a summary table.
//!
//! Each task holds out every fifth row (by position in the file: a split that does not
//! depend on the values) as a test set, trains a certified model (noise calibrated for
//! ε = 1, δ = 1e-5 and a residual budget ε′) next to the same model without noise, and
//! prints their test metrics side by side.

use super::CliResult;
use super::progress::Progress;
use crate::report::write_report;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use unlearn::data::{self, Dataset, TargetSpec, csv::CsvOptions};
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::model::PublishedModel;
use unlearn::model::{self, Hyperparameters, TrainingData};
use unlearn::noise::NoiseFamily;
use unlearn::noise::NoiseKey;
use unlearn::objective::Regularization;
use unlearn::predict::Metrics;
use unlearn::privacy::{self, GaussianCalibration};
use unlearn::solver::NewtonOptions;
use unlearn::store::Store;
use unlearn::unlearner::Unlearner;
use unlearn::verify::verify;

/// Arguments of `unlearn demo`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  unlearn demo
  unlearn demo --quick
  unlearn demo --out /tmp/unlearn-demo --json")]
pub struct DemoArgs {
    /// Seed of the comparison models' noise (the retrained and the noiseless baselines). The
    /// certified stores' noise keys always come from the OS: a seeded key is never certified.
    #[arg(long, default_value_t = 2020)]
    pub seed: u64,
    /// Where to write each task's store and report (plots, summary).
    #[arg(long, default_value = "target/unlearn-demo", value_name = "DIR")]
    pub out: PathBuf,
    /// Print one JSON object per task instead of the table: task, rows, budget, sigma,
    /// removed, budget_share, retrainings, test metrics (unlearned, retrained, no_noise),
    /// ms_per_removal, ms_retrain, speedup, store, report.
    #[arg(long)]
    pub json: bool,
    /// A smaller run: 10 single requests and a batch of 5 per task instead of every third
    /// training row.
    #[arg(long)]
    pub quick: bool,
}

/// Every this-many-th training row is a deletion request.
const REQUEST_STRIDE: usize = 3;
/// The size of the final batch request.
const BATCH: usize = 20;
/// Single requests and batch size of `--quick`.
const QUICK: (usize, usize) = (10, 5);
/// Progress steps of one task besides its single removals: training, the batch, the
/// retrained and the noiseless comparison models.
const STEPS_BESIDES_SINGLES: usize = 4;

/// One demo task.
struct Task {
    title: &'static str,
    slug: &'static str,
    dataset: &'static str,
    labels: Option<&'static [&'static str]>,
    positive: Option<&'static str>,
    loss: LossKind,
    lambda: f64,
    regularization: Regularization,
    budget: f64,
}

const TASKS: &[Task] = &[
    Task {
        title: "digits 3 vs 8 (logistic)",
        slug: "digits-3v8",
        dataset: "digits",
        labels: Some(&["3", "8"]),
        positive: Some("8"),
        loss: LossKind::Logistic,
        lambda: 1.0,
        regularization: Regularization::Total,
        budget: 0.01,
    },
    Task {
        title: "digits 0-9 (one-vs-rest)",
        slug: "digits-ovr",
        dataset: "digits",
        labels: None,
        positive: None,
        loss: LossKind::Logistic,
        lambda: 1.0,
        regularization: Regularization::Total,
        budget: 0.01,
    },
    Task {
        title: "breast cancer (logistic)",
        slug: "breast-cancer",
        dataset: "breast_cancer",
        labels: None,
        positive: Some("malignant"),
        loss: LossKind::Logistic,
        lambda: 0.1,
        regularization: Regularization::Total,
        budget: 0.01,
    },
    Task {
        title: "diabetes (ridge)",
        slug: "diabetes-ridge",
        dataset: "diabetes",
        labels: None,
        positive: None,
        loss: LossKind::Squared,
        lambda: 1.0,
        regularization: Regularization::Total,
        budget: 0.01,
    },
];

/// Loads a builtin dataset with its recommended preprocessing, split 4:1 by position.
fn load(
    task: &Task,
) -> Result<(Dataset, Dataset, data::Preprocessing), Box<dyn std::error::Error>> {
    let spec = TargetSpec::for_training(
        task.loss.is_classification(),
        task.labels.is_some(),
        task.positive.map(String::from),
    );
    let source = format!("builtin:{}", task.dataset);
    let options = CsvOptions {
        target: None,
        id: None,
        subject: None,
        spec,
        features: None,
        ..CsvOptions::default()
    };
    let mut all = data::load_data(&source, &options)?;
    if let Some(labels) = task.labels {
        let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        all = data::select::keep_labels(all, &source, &labels, task.positive)?;
    }
    let preprocessing = data::builtin::builtin(task.dataset)?.recommended_preprocessing();
    preprocessing.apply(&mut all)?;
    let mut train = all.clone();
    train.retain_rows(|i| i % 5 != 0);
    let mut test = all;
    test.retain_rows(|i| i % 5 == 0);
    Ok((train, test, preprocessing))
}

/// The deletion requests of one task: every [`REQUEST_STRIDE`]-th training row, served one
/// at a time except the last [`BATCH`], served as one batch (with `--quick`, [`QUICK`]).
struct Requests {
    singles: Vec<String>,
    batch: Vec<String>,
}

impl Requests {
    fn of(train: &Dataset, quick: bool) -> Self {
        let ids: Vec<String> = train
            .ids()
            .iter()
            .step_by(REQUEST_STRIDE)
            .cloned()
            .collect();
        let (singles, batch) = if quick {
            QUICK
        } else {
            (ids.len().saturating_sub(BATCH), BATCH)
        };
        let mut ids = ids.into_iter();
        let singles: Vec<String> = ids.by_ref().take(singles).collect();
        Self {
            singles,
            batch: ids.take(batch).collect(),
        }
    }
}

/// A task with its data loaded and its requests chosen.
struct Plan {
    task: &'static Task,
    train: Dataset,
    test: Dataset,
    preprocessing: data::Preprocessing,
    requests: Requests,
}

/// Runs `unlearn demo`.
pub fn run(args: &DemoArgs) -> CliResult {
    let plans = TASKS
        .iter()
        .map(|task| {
            let (train, test, preprocessing) = load(task)?;
            let requests = Requests::of(&train, args.quick);
            Ok(Plan {
                task,
                train,
                test,
                preprocessing,
                requests,
            })
        })
        .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
    if !args.json {
        print_header();
    }
    let steps: usize = plans
        .iter()
        .map(|p| p.requests.singles.len() + STEPS_BESIDES_SINGLES)
        .sum();
    let progress = Progress::bar(steps as u64, "steps", args.json);
    for plan in plans {
        progress.set_message(plan.task.title);
        let row = run_task(plan, args, &progress)?;
        progress.suspend(|| say!("{row}"));
    }
    drop(progress);
    if !args.json {
        let (singles, batch) = if args.quick {
            (format!("{}", QUICK.0), QUICK.1)
        } else {
            (
                format!("every {REQUEST_STRIDE}rd training row but the last {BATCH}"),
                BATCH,
            )
        };
        say!(
            "\nremoved: {singles} one at a time, then a batch of {batch}; budget: the share of \
             the lifetime ε′ the transcript of all releases used (re-solves are charged 0); \
             unlearned/retrained/no noise: test accuracy (R² for \
             ridge) of the certified unlearned model, a certified model retrained from scratch \
             without the rows, and a noiseless one.\nStores and reports (certificates, ledger, \
             plots): {}\nRows are held out by position (every fifth row); features are scaled \
             by documented constants and clipped to norm 1, never by statistics of the rows.",
            args.out.display()
        );
    }
    Ok(())
}

/// The title and the table's header.
fn print_header() {
    say!(
        "unlearn demo: certified removal on the embedded datasets\n\
         mechanism output-perturbation: every release of a store, jointly, is (ε, δ) = (1, 1e-5) \
         against retraining; lattice noise σ calibrated (zCDP) for the lifetime budget ε′\n"
    );
    say!(
        "{:<26} {:>5} {:>7} {:>8} {:>8} {:>7} {:>7}  {:>10} {:>10} {:>10}  {:>9} {:>9} {:>8}",
        "task",
        "rows",
        "ε′",
        "σ",
        "removed",
        "budget",
        "retrain",
        "unlearned",
        "retrained",
        "no noise",
        "ms/remove",
        "ms/train",
        "speed-up"
    );
}

/// Runs one task: trains, serves the requests, verifies, saves the store and its report,
/// retrains for comparison; returns the table row (or JSON line).
fn run_task(
    plan: Plan,
    args: &DemoArgs,
    progress: &Progress,
) -> Result<String, Box<dyn std::error::Error>> {
    let Plan {
        task,
        train,
        test,
        preprocessing,
        requests: Requests { singles, batch },
    } = plan;
    let (noise, target) = privacy::calibrate(
        NoiseFamily::Gaussian,
        1.0,
        Some(1e-5),
        task.budget,
        GaussianCalibration::Lattice,
    )?;
    let hyper = Hyperparameters {
        loss: task.loss,
        lambda: task.lambda,
        regularization: task.regularization,
        intercept: true,
        noise,
        privacy: Some(target),
        mechanism: Mechanism::OutputPerturbation,
        newton: NewtonOptions::default(),
    };
    let input = |data: Dataset| TrainingData {
        data,
        preprocessing: preprocessing.clone(),
        target_column: String::new(),
    };
    let mut unlearner = Unlearner::from_trained(model::train(
        input(train.clone()),
        &hyper,
        NoiseKey::generate()?,
    )?);
    progress.inc(1);
    let started = Instant::now();
    for id in &singles {
        unlearner.remove(std::slice::from_ref(id))?;
        progress.inc(1);
    }
    unlearner.remove(&batch)?;
    progress.inc(1);
    let per_removal = started.elapsed().as_secs_f64() / (singles.len() + 1) as f64;
    if !verify(&unlearner).passed() {
        return Err(format!("{}: the store failed verification", task.title).into());
    }
    let store_dir = args.out.join(task.slug).join("store");
    // The demo's own output directory: a rerun replaces its stores.
    Store::create(&store_dir, &mut unlearner, true, std::time::Duration::ZERO)?;
    write_report(
        &unlearner.ledger,
        &store_dir,
        &args.out.join(task.slug).join("report"),
    )?;
    let mut remaining = train;
    let gone: std::collections::HashSet<&String> = singles.iter().chain(&batch).collect();
    let keep: Vec<bool> = remaining
        .ids()
        .iter()
        .map(|id| !gone.contains(id))
        .collect();
    remaining.retain_rows(|i| keep[i]);
    let started = Instant::now();
    let retrained = model::train(
        input(remaining.clone()),
        &hyper,
        NoiseKey::from_seed(args.seed + 1),
    )?;
    let retrain_seconds = started.elapsed().as_secs_f64();
    progress.inc(1);
    let mut plain_hyper = hyper.clone();
    plain_hyper.noise.scale = 0.0;
    plain_hyper.privacy = None;
    let plain = model::train(
        input(remaining),
        &plain_hyper,
        NoiseKey::from_seed(args.seed),
    )?;
    progress.inc(1);
    let metrics = |m: &PublishedModel| {
        let truth = &test.targets().expect("test rows have targets").values;
        m.metrics(&m.scores_preprocessed(&test), truth)
    };
    let (unlearned, retrained, plain) = (
        metrics(&unlearner.model.published),
        metrics(&retrained.published),
        metrics(&plain.published),
    );
    let last = unlearner.ledger.last().expect("the ledger has entries");
    // The transcript's joint sensitivity only grows: the last entry's is the most used.
    let most_used = last.budget_used;
    if args.json {
        return Ok(json!({
            "task": task.slug,
            "rows": last.rows_after,
            "budget": task.budget,
            "sigma": hyper.noise.scale,
            "removed": singles.len() + batch.len(),
            "budget_share": most_used / task.budget,
            "retrainings": unlearner.ledger.retrainings(),
            "unlearned": unlearned,
            "retrained": retrained,
            "no_noise": plain,
            "ms_per_removal": 1e3 * per_removal,
            "ms_retrain": 1e3 * retrain_seconds,
            "speedup": retrain_seconds / per_removal,
            "store": store_dir,
            "report": args.out.join(task.slug).join("report"),
        })
        .to_string());
    }
    Ok(format!(
        "{:<26} {:>5} {:>7} {:>8.1e} {:>8} {:>6.1}% {:>7}  {:>10} {:>10} {:>10}  {:>9.2} {:>9.2} {:>7.1}×",
        task.title,
        last.rows_after,
        task.budget,
        hyper.noise.scale,
        singles.len() + batch.len(),
        100.0 * most_used / task.budget,
        unlearner.ledger.retrainings(),
        short_metric(&unlearned),
        short_metric(&retrained),
        short_metric(&plain),
        1e3 * per_removal,
        1e3 * retrain_seconds,
        retrain_seconds / per_removal,
    ))
}

/// Accuracy or R², four decimals.
fn short_metric(m: &Metrics) -> String {
    match m {
        Metrics::Classification { accuracy, .. } => format!("{accuracy:.4}"),
        Metrics::Regression { r2, .. } => format!("R² {r2:.3}"),
    }
}
