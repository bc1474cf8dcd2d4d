//! `unlearn train`: load, preprocess, calibrate the noise, train, save the store.

use super::CliResult;
use super::args::{RowsArgs, WaitArg};
use super::progress::Progress;
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;
use unlearn::data::{self, DataFormat, PreprocessReport, Preprocessing, ScaleWarning, TargetSpec};
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::model::{self, Hyperparameters, PublishPolicy, TrainingData};
use unlearn::noise::{NoiseFamily, NoiseKey, NoiseSpec};
use unlearn::objective::Regularization;
use unlearn::privacy::{self, GaussianCalibration, NoiseParam, NoiseRequest, PrivacyTarget};
use unlearn::solver::{NewtonOptions, StepSolver};
use unlearn::store::Store;
use unlearn::unlearner::Unlearner;

/// Arguments of `unlearn train`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  unlearn train --data builtin:digits --labels 3,8 --positive 8 --loss logistic \\
      --lambda 1e-3 --regularization per-sample --preprocess recommended \\
      --epsilon 1 --delta 1e-5 --budget 0.05 --out digits.store
  unlearn train --data rows.csv --target y --id id --loss squared --lambda 1 \\
      --clip-norm 1 --sigma 0 --out ridge.store
  unlearn train --data rows.svm --features 300 --classes 1,2,3 --loss logistic \\
      --lambda 1 --clip-norm 1 --epsilon 1 --delta 1e-5 --budget 0.05 --out svm.store")]
pub struct TrainArgs {
    /// The training rows.
    #[command(flatten)]
    pub rows: RowsArgs,
    /// Data-subject column of a CSV or Parquet file: who each row is about (a person may own many
    /// rows; `remove --subject S` then removes all of them in one step). Not a feature.
    #[arg(long, value_name = "COL")]
    pub subject: Option<String>,
    /// Target column of a CSV or Parquet file (required there; builtin datasets carry
    /// theirs, and a LIBSVM file's target is the first token of each line, so --target is
    /// refused for it).
    #[arg(long, value_name = "COL")]
    pub target: Option<String>,
    /// Loss: logistic (classification, one-vs-rest beyond two classes) or squared (ridge).
    #[arg(long)]
    pub loss: LossKind,
    /// The label that becomes +1 in binary classification.
    #[arg(long)]
    pub positive: Option<String>,
    /// Keep only rows with these labels (comma-separated), e.g. --labels 3,8.
    #[arg(long, value_delimiter = ',')]
    pub labels: Option<Vec<String>>,
    /// Declare the classes up front (comma-separated), in encoding order, e.g.
    /// --classes a,b,c: the published classes are these whatever rows remain, so removing
    /// the last row of a class stays certifiable. A row with another label is an error; a
    /// class without rows trains a one-vs-rest model on targets that are all −1. With two
    /// classes the second is +1 unless --positive says otherwise.
    #[arg(long, value_delimiter = ',', conflicts_with = "labels")]
    pub classes: Option<Vec<String>>,
    /// Declare the number of features of a LIBSVM file (default: the largest index present,
    /// which a removal can change, so such removals are not certified); an index above N is
    /// an error.
    #[arg(long, value_name = "N")]
    pub features: Option<usize>,
    /// Regularisation λ (> 0): the total Λ, or per row (Λ = λ·n) with --regularization per-sample.
    #[arg(long)]
    pub lambda: f64,
    /// total (Λ = λ, scikit-learn's C = 1/Λ) or per-sample (Λ = λ·n, Guo et al. 2020).
    #[arg(long, default_value = "total")]
    pub regularization: Regularization,
    /// Do not add an intercept (a regularised weight on a constant feature 1).
    #[arg(long)]
    pub no_intercept: bool,
    /// Multiply every feature by this constant (chosen from domain knowledge, never from the data).
    #[arg(long)]
    pub scale: Option<f64>,
    /// Multiply one feature by a constant: NAME=VALUE (repeatable; overrides --scale).
    #[arg(long = "feature-scale", value_parser = parse_feature_scale)]
    pub feature_scales: Vec<(String, f64)>,
    /// Clip every row to Euclidean norm at most R (after scaling).
    #[arg(long)]
    pub clip_norm: Option<f64>,
    /// `recommended`: use the builtin dataset's documented constant scaling and clip norm.
    #[arg(long, value_parser = ["recommended"])]
    pub preprocess: Option<String>,
    /// Noise scale: σ for Gaussian noise, 1/α for the gamma-norm density. 0 = no noise
    /// (the model is then not certifiable).
    #[arg(long, conflicts_with = "budget")]
    pub sigma: Option<f64>,
    /// Target ε of each removal certificate (with --budget or --sigma, and --delta for
    /// Gaussian noise).
    #[arg(long)]
    pub epsilon: Option<f64>,
    /// Target δ of each removal certificate (Gaussian noise).
    #[arg(long, requires = "epsilon")]
    pub delta: Option<f64>,
    /// ε′: the total gradient-residual norm the noise must hide.
    #[arg(long, requires = "epsilon")]
    pub budget: Option<f64>,
    /// Noise family: gaussian (an (ε, δ) guarantee) or gamma-norm (an (ε, 0) guarantee).
    #[arg(long, default_value = "gaussian")]
    pub noise: NoiseFamily,
    /// Gaussian calibration: analytic (Balle & Wang 2018; the default with
    /// output-perturbation) or guo2020 (closed form, ε ≤ 1; the default with guo2020).
    #[arg(long)]
    pub calibration: Option<GaussianCalibration>,
    /// Removal mechanism: output-perturbation (sound; the default) or guo2020 (the paper's
    /// objective perturbation, for reproduction: its certificates list unproven assumptions).
    #[arg(long, default_value = "output-perturbation")]
    pub mechanism: Mechanism,
    /// Reproducible noise for experiments: the noise key is derived from SEED, so whoever
    /// knows it knows the noise, and the store's certificates say `certified: false`.
    /// Default (and the only certified choice): a 256-bit key from the OS.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Publish a release after every N removal requests (1: after each). Requests in between
    /// are served on the secret state and reach the published model at the next release or
    /// `unlearn publish`; fewer releases spend the lifetime budget more slowly.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub publish_every: u64,
    /// How Newton steps are solved: cholesky (forms the d×d Hessian), conjugate-gradient
    /// (Hessian-free, O(n·d) per product), or auto (conjugate gradient from d = 200).
    #[arg(long, default_value = "auto", value_parser = parse_step_solver)]
    pub step_solver: StepSolver,
    /// Stop Newton's method when ‖∇L_b‖ ≤ TOL.
    #[arg(long, default_value_t = NewtonOptions::default().tolerance)]
    pub tol: f64,
    /// The model store to create (a directory).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing store at --out (its rows, removals and ledger are lost; the old
    /// rows are securely deleted with it). Without it, an existing store is refused.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub wait: WaitArg,
    /// Print a JSON summary instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_step_solver(s: &str) -> Result<StepSolver, String> {
    match s {
        "cholesky" => Ok(StepSolver::Cholesky),
        "conjugate-gradient" => Ok(StepSolver::ConjugateGradient),
        "auto" => Ok(StepSolver::Auto),
        other => Err(format!(
            "unknown step solver '{other}': expected cholesky, conjugate-gradient or auto"
        )),
    }
}

fn parse_feature_scale(s: &str) -> Result<(String, f64), String> {
    let (name, value) = s
        .rsplit_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got '{s}'"))?;
    let value: f64 = value
        .parse()
        .map_err(|_| format!("'{value}' is not a number in '{s}'"))?;
    Ok((name.to_string(), value))
}

/// The preprocessing the flags ask for.
fn preprocessing(args: &TrainArgs) -> Result<Preprocessing, Box<dyn std::error::Error>> {
    let mut p = match args.preprocess.as_deref() {
        Some(_) => {
            let name = args.rows.data.strip_prefix("builtin:").ok_or(
                "--preprocess recommended needs a builtin dataset (--data builtin:NAME); \
                 for your own data give --scale, --feature-scale and --clip-norm",
            )?;
            data::builtin::builtin(name)?.recommended_preprocessing()
        }
        None => Preprocessing::default(),
    };
    if let Some(s) = args.scale {
        p.default_scale = s;
    }
    let overrides: BTreeMap<String, f64> = args.feature_scales.iter().cloned().collect();
    p.feature_scales.extend(overrides);
    if args.clip_norm.is_some() {
        p.clip_norm = args.clip_norm;
    }
    Ok(p)
}

/// The noise distribution and privacy target the flags ask for ([`privacy::noise_for`]'s
/// rule; its errors name the flags).
fn noise_choice(args: &TrainArgs) -> Result<(NoiseSpec, Option<PrivacyTarget>), String> {
    privacy::noise_for(&NoiseRequest {
        family: args.noise,
        sigma: args.sigma,
        epsilon: args.epsilon,
        delta: args.delta,
        budget: args.budget,
        calibration: args.calibration,
        mechanism: args.mechanism,
    })
    .map_err(|e| e.message(flag))
}

/// A noise parameter as the CLI spells it: its flag.
pub fn flag(param: NoiseParam) -> String {
    format!("--{}", param.name())
}

/// How the target column is encoded: declared classes (`--classes`), or as
/// [`TargetSpec::for_training`] infers them.
fn target_spec(args: &TrainArgs) -> Result<TargetSpec, String> {
    match &args.classes {
        Some(_) if !args.loss.is_classification() => Err(
            "--classes declares class labels; drop it for --loss squared (a real-valued target)"
                .into(),
        ),
        Some(classes) => Ok(TargetSpec::Declared {
            classes: classes.clone(),
            positive: args.positive.clone(),
        }),
        None => Ok(TargetSpec::for_training(
            args.loss.is_classification(),
            args.labels.is_some(),
            args.positive.clone(),
        )),
    }
}

/// The feature columns `--features N` declares for a LIBSVM file: f1..fN.
fn declared_features(args: &TrainArgs, is_libsvm: bool) -> Result<Option<Vec<String>>, String> {
    match args.features {
        None => Ok(None),
        Some(_) if !is_libsvm => Err(format!(
            "{}: --features declares the width of a LIBSVM file; a CSV header, a Parquet \
             schema or a builtin dataset names its features already, so drop --features",
            args.rows.data
        )),
        Some(0) => Err("--features must be at least 1".into()),
        Some(n) => Ok(Some((1..=n).map(|j| format!("f{j}")).collect())),
    }
}

/// The warning `train` gives when the rows do not fit the preprocessing constants (see
/// [`PreprocessReport::scale_warning`]), with the flags that fix it.
fn scale_warning(report: &PreprocessReport, preprocessing: &Preprocessing) -> Option<String> {
    let warning = report.scale_warning(preprocessing.clip_norm)?;
    let fix = match warning {
        ScaleWarning::FarBeyondClipNorm { .. } => {
            "scale the features into range with --scale or --feature-scale NAME=VALUE \
             (constants from domain knowledge, never from the data), or raise --clip-norm"
        }
        ScaleWarning::Unclipped { .. } => {
            "bound the rows with --clip-norm R and scale the features with --scale or \
             --feature-scale NAME=VALUE (for a builtin dataset: --preprocess recommended)"
        }
    };
    Some(format!("{warning}. To fix: {fix}"))
}

/// Runs `unlearn train`.
pub fn run(args: &TrainArgs) -> CliResult {
    if !args.force {
        // Refused before any work; checked again under the writer lock when writing.
        Store::refuse_existing(&args.out)?;
    }
    let spec = target_spec(args)?;
    let source = &args.rows.data;
    let format = args.rows.read.format_of(source)?;
    let is_libsvm = format == Some(DataFormat::Libsvm);
    if args.target.is_none() && format.is_some() && !is_libsvm {
        return Err(format!(
            "{source}: name the target column with --target COL (every other column except \
             --id and --ignore is a feature)"
        )
        .into());
    }
    let features = declared_features(args, is_libsvm)?;
    let mut data = args
        .rows
        .load(args.target.clone(), spec, features, args.subject.clone())?;
    if let Some(labels) = &args.labels {
        data = data::select::keep_labels(data, source, labels, args.positive.as_deref())?;
    }
    let preprocessing = preprocessing(args)?;
    let report = preprocessing.apply(&mut data)?;
    let warnings: Vec<String> = scale_warning(&report, &preprocessing).into_iter().collect();
    if !args.json {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
    }
    let (noise, privacy) = noise_choice(args)?;
    let hyper = Hyperparameters {
        loss: args.loss,
        lambda: args.lambda,
        regularization: args.regularization,
        intercept: !args.no_intercept,
        noise,
        privacy,
        mechanism: args.mechanism,
        newton: NewtonOptions {
            tolerance: args.tol,
            step_solver: args.step_solver,
            ..NewtonOptions::default()
        },
    };
    let key = match args.seed {
        Some(seed) => NoiseKey::from_seed(seed),
        None => NoiseKey::generate()?,
    };
    let target_column = args
        .target
        .clone()
        .or_else(|| data::default_target(source))
        .unwrap_or_else(|| "target".into());
    let models = data
        .targets()
        .map_or(1, |t| model::model_count(&t.encoding));
    let progress = Progress::bar(models as u64, "models", args.json);
    let started = Instant::now();
    let trained = model::train_with_progress(
        TrainingData {
            data,
            preprocessing,
            target_column,
        },
        &hyper,
        key,
        &mut || progress.inc(1),
    )?;
    drop(progress);
    let seconds = started.elapsed().as_secs_f64();
    let mut trained = trained;
    trained.published.publish = PublishPolicy {
        every: args.publish_every,
    };
    let mut trained = Unlearner::from_trained(trained);
    let mut store = Store::create(&args.out, &mut trained, args.force, args.wait.duration())?;
    super::args::warn_follow_ups(&mut store);
    drop(store);
    let trained = trained.model;
    let design = trained.secret.design();
    let truth = &design.targets().expect("training rows have targets").values;
    let fit = trained
        .published
        .metrics(&trained.published.scores_design(design), truth);
    super::model_io::print_training_summary(
        &trained, &report, &warnings, fit, seconds, &args.out, args.json,
    );
    Ok(())
}
