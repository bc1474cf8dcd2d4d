//! `unlearn export`, `predict` and `evaluate`, and the training summary printer.

use super::args::{RowsArgs, StoreArg};
use super::{CliError, CliResult};
use clap::Args;
use serde_json::json;
use std::path::{Path, PathBuf};
use unlearn::data::preprocess::PreprocessReport;
use unlearn::data::{self, DataError, DataFormat, Dataset, TargetEncoding, TargetSpec};
use unlearn::model::{Model, PublishedModel};
use unlearn::predict::{ExportedModel, ImportedModel, Metrics, Prediction, Predictor};
use unlearn::store::StoreError;

/// Arguments of `unlearn export`.
#[derive(Debug, Args)]
#[command(
    after_help = "The output is one JSON object: weights (per class under one-vs-rest)
without the intercept, the intercept apart, classes, hyperparameters, preprocessing
constants, feature names and the weights' digests. Only published values: no rows, no
seed. `unlearn predict --model` and `unlearn evaluate --model` read it back without a store.

Example:
  unlearn export --store digits.store > model.json"
)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// Accepted like every command's --json: the output is JSON in any case.
    #[arg(long)]
    pub json: bool,
}

/// `--store DIR` or `--model FILE`: the model `predict` and `evaluate` use.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ModelArg {
    /// The model store: a directory written by `unlearn train --out DIR`.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Instead of a store: a model exported as JSON by `unlearn export` (its weights are
    /// checked against their digest).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
}

/// A model to predict with, from a store or an export.
enum Loaded {
    Published(Box<PublishedModel>),
    Imported(Box<ImportedModel>),
}

impl Loaded {
    fn predictor(&self) -> Predictor<'_> {
        match self {
            Self::Published(m) => m.predictor(),
            Self::Imported(m) => m.predictor(),
        }
    }

    fn target_column(&self) -> &str {
        match self {
            Self::Published(m) => &m.target_column,
            Self::Imported(m) => &m.export().target_column,
        }
    }
}

impl ModelArg {
    /// Reads the model: the published model of the store (its last commit), or the
    /// export file, checked.
    fn load(&self) -> Result<Loaded, CliError> {
        if let Some(store) = &self.store {
            let store = StoreArg {
                store: store.clone(),
            };
            return Ok(Loaded::Published(Box::new(load_published(&store)?)));
        }
        let path = self
            .model
            .as_ref()
            .expect("clap requires --store or --model");
        let name = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{name}: cannot read the model: {e}"))?;
        let export: ExportedModel = serde_json::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|e| format!("{name}: not a model exported by `unlearn export`: {e}"))?;
        let model = export.import().map_err(|e| format!("{name}: {e}"))?;
        Ok(Loaded::Imported(Box::new(model)))
    }
}

/// `--target COL --labels L,…`: which rows a model trained on some classes applies to.
#[derive(Debug, Args)]
pub struct LabelArgs {
    /// Target column (default: the column the model was trained on, if the rows have it;
    /// a LIBSVM file's target is its first token).
    #[arg(long, value_name = "COL")]
    pub target: Option<String>,
    /// Keep only rows with these labels (comma-separated), each one of the model's classes.
    /// Default: every class of the model, so a digits 3-vs-8 model on builtin:digits sees
    /// only the 3s and 8s; rows with other labels are skipped and counted.
    #[arg(long, value_delimiter = ',')]
    pub labels: Option<Vec<String>>,
}

impl LabelArgs {
    /// The rows to predict or evaluate on, read with the model's features, and the number
    /// of rows skipped. A classifier's rows are restricted to its classes (or --labels)
    /// when their labels are known: a LIBSVM file's first tokens, --target, or the model's
    /// own target column when the rows have it. `required`: the rows must carry targets
    /// (evaluation).
    fn load(
        &self,
        rows: &RowsArgs,
        model: &Loaded,
        required: bool,
    ) -> Result<(Dataset, usize), CliError> {
        let predictor = model.predictor();
        let features = Some(predictor.feature_names.to_vec());
        let libsvm = rows.read.format_of(&rows.data)? == Some(DataFormat::Libsvm);
        let (column, explicit) = match (&self.target, libsvm) {
            (Some(t), _) => (Some(t.clone()), true),
            (None, true) => (None, true),
            (None, false) => (Some(model.target_column().to_string()), required),
        };
        if let TargetEncoding::Regression = predictor.target {
            if self.labels.is_some() {
                return Err(
                    "--labels selects classes; this model predicts a real-valued target".into(),
                );
            }
            return Ok(if required {
                (
                    rows.load(column, TargetSpec::Regression, features, None)?,
                    0,
                )
            } else {
                (rows.load(None, TargetSpec::None, features, None)?, 0)
            });
        }
        match rows.load(column, TargetSpec::AnyLabels, features.clone(), None) {
            Ok(read) => Ok(data::select::keep_model_labels(
                read,
                &rows.data,
                predictor.target,
                self.labels.as_deref(),
            )?),
            // Rows without the model's target column: nothing to select by.
            Err(e) if !explicit && is_missing_target(&e) => {
                if self.labels.is_some() {
                    return Err(format!(
                        "{}: --labels needs the rows' label column: name it with --target COL",
                        rows.data
                    )
                    .into());
                }
                Ok((rows.load(None, TargetSpec::None, features, None)?, 0))
            }
            Err(e) => Err(e),
        }
    }
}

/// True if `e` says the target column named is not in the file.
fn is_missing_target(e: &CliError) -> bool {
    matches!(
        e.downcast_ref::<DataError>(),
        Some(DataError::UnknownColumn { role: "target", .. })
    )
}

/// Arguments of `unlearn predict`.
#[derive(Debug, Args)]
#[command(
    after_help = "The rows need the model's feature columns (others are ignored). A
classifier predicts only rows labelled with one of its classes when the rows carry labels
(the builtin datasets, or a file with the model's target column): see --labels.

Examples:
  unlearn predict --store digits.store --data builtin:digits | head
  unlearn predict --store digits.store --data builtin:digits --proba --json
  unlearn export --store ridge.store > model.json
  unlearn predict --model model.json --data new_rows.csv --id id"
)]
pub struct PredictArgs {
    #[command(flatten)]
    pub model: ModelArg,
    #[command(flatten)]
    pub rows: RowsArgs,
    #[command(flatten)]
    pub labels: LabelArgs,
    /// Class probabilities instead of labels (logistic models): one column per class, in
    /// the order of the export's "classes"; one-vs-rest scores are normalised to sum to 1.
    #[arg(long)]
    pub proba: bool,
    /// Print one JSON object per row, {"id": …, "prediction": …} (a label string, or a
    /// number for regression) or {"id": …, "probabilities": {class: p, …}}, instead of CSV.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `unlearn evaluate`.
#[derive(Debug, Args)]
#[command(
    after_help = "A classifier is evaluated on the rows labelled with one of its classes
(or --labels); the rows with other labels are skipped and counted.

Examples:
  unlearn evaluate --store digits.store --data builtin:digits --json
  unlearn evaluate --store ridge.store --data test.csv --target y --id id
  unlearn evaluate --model model.json --data test.parquet --labels 3,8"
)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub model: ModelArg,
    #[command(flatten)]
    pub rows: RowsArgs,
    #[command(flatten)]
    pub labels: LabelArgs,
    /// Print one JSON object, {"rows", "accuracy", "skipped_rows"} or {"rows", "rmse", "r2",
    /// "skipped_rows"}.
    #[arg(long)]
    pub json: bool,
}

/// Reads the published model (the last commit's, checked against the state's digest).
fn load_published(store: &StoreArg) -> Result<PublishedModel, StoreError> {
    store.open()?.load_published()
}

/// Runs `unlearn export`.
pub fn export(args: &ExportArgs) -> CliResult {
    let model = load_published(&args.store)?;
    say!(
        "{}",
        serde_json::to_string_pretty(&ExportedModel::from(&model))?
    );
    Ok(())
}

/// Runs `unlearn predict`.
pub fn predict(args: &PredictArgs) -> CliResult {
    let model = args.model.load()?;
    let (rows, skipped) = args.labels.load(&args.rows, &model, false)?;
    let predictor = model.predictor();
    if skipped > 0 && !args.json {
        eprintln!(
            "note: {skipped} row(s) with labels outside the model's classes (or --labels) \
             were skipped"
        );
    }
    let mut out = String::new();
    if args.proba {
        let classes = predictor.target.classes().unwrap_or_default();
        let probabilities = predictor.probabilities(&rows)?;
        if !args.json {
            out.push_str(&format!("id,{}\n", classes.join(",")));
        }
        for (id, p) in rows.ids().iter().zip(probabilities) {
            if args.json {
                let by_class: serde_json::Map<String, serde_json::Value> = classes
                    .iter()
                    .zip(&p)
                    .map(|(c, v)| (c.clone(), json!(v)))
                    .collect();
                out.push_str(&format!(
                    "{}\n",
                    json!({"id": id, "probabilities": by_class})
                ));
            } else {
                // Shortest round-trip spelling, with an exponent for tiny values.
                let values: Vec<String> = p.iter().map(|v| json!(v).to_string()).collect();
                out.push_str(&format!("{id},{}\n", values.join(",")));
            }
        }
    } else {
        let predictions = predictor.predict(&rows)?;
        if !args.json {
            out.push_str("id,prediction\n");
        }
        for (id, p) in rows.ids().iter().zip(predictions) {
            if args.json {
                let prediction = match p {
                    Prediction::Label(label) => json!(label),
                    Prediction::Value(value) => json!(value),
                };
                out.push_str(&format!(
                    "{}\n",
                    json!({"id": id, "prediction": prediction})
                ));
            } else {
                out.push_str(&format!("{id},{p}\n"));
            }
        }
    }
    say!("{}", out.trim_end_matches('\n'));
    Ok(())
}

/// Runs `unlearn evaluate`.
pub fn evaluate(args: &EvaluateArgs) -> CliResult {
    let model = args.model.load()?;
    let (rows, skipped) = args.labels.load(&args.rows, &model, true)?;
    let metrics = model.predictor().evaluate(&rows)?;
    if args.json {
        let mut value = serde_json::to_value(metrics)?;
        value["skipped_rows"] = json!(skipped);
        say!("{value}");
    } else if skipped > 0 {
        say!(
            "{} ({skipped} rows with other labels skipped)",
            describe_metrics(&metrics)
        );
    } else {
        say!("{}", describe_metrics(&metrics));
    }
    Ok(())
}

/// One line of human-readable metrics.
pub fn describe_metrics(m: &Metrics) -> String {
    match m {
        Metrics::Classification { rows, accuracy } => {
            format!("accuracy {accuracy:.4} on {rows} rows")
        }
        Metrics::Regression { rows, rmse, r2 } => {
            format!("RMSE {rmse:.4}, R² {r2:.4} on {rows} rows")
        }
    }
}

/// Prints what `unlearn train` did.
pub fn print_training_summary(
    model: &Model,
    report: &PreprocessReport,
    warnings: &[String],
    fit: Metrics,
    seconds: f64,
    store: &Path,
    as_json: bool,
) {
    let p = &model.published;
    let h = &p.hyperparameters;
    let gradient_norms: Vec<f64> = model
        .secret
        .training
        .iter()
        .map(|r| r.gradient_norm)
        .collect();
    let iterations: Vec<usize> = model.secret.training.iter().map(|r| r.iterations).collect();
    let lambda_total = h.regularization.effective_lambda(h.lambda, p.n_rows);
    let certifiable = h.noise.scale > 0.0;
    if as_json {
        let summary = json!({
            "store": store,
            "rows": p.n_rows,
            "features": p.feature_names.len(),
            "target": p.target,
            "loss": h.loss,
            "lambda": h.lambda,
            "regularization": h.regularization,
            "effective_lambda": lambda_total,
            "noise": h.noise,
            "privacy": h.privacy,
            "clipped_rows": report.rows_clipped,
            "warnings": warnings,
            "training_gradient_norms": gradient_norms,
            "newton_iterations": iterations,
            "training_fit": fit,
            "train_seconds": seconds,
            "certifiable": certifiable,
            "digest": p.digest,
        });
        say!("{summary}");
        return;
    }
    say!(
        "trained {} on {} rows × {} features",
        h.loss,
        p.n_rows,
        p.feature_names.len()
    );
    say!("  target: {}", p.target.describe());
    say!(
        "  regularization: {} λ = {} (Λ = {lambda_total}), intercept {}",
        h.regularization,
        h.lambda,
        if h.intercept {
            "on (regularized)"
        } else {
            "off"
        }
    );
    say!(
        "  preprocessing: {} rows clipped to the norm bound",
        report.rows_clipped
    );
    match &h.privacy {
        Some(t) => say!(
            "  noise: {} scale {:.6} calibrated for ε = {}, δ = {}, budget ε′ = {}",
            h.noise.family,
            h.noise.scale,
            t.epsilon,
            t.delta,
            t.budget
        ),
        None => say!("  noise: {} scale {}", h.noise.family, h.noise.scale),
    }
    say!(
        "  Newton: iterations {iterations:?}, final ‖∇L_b‖ {}",
        gradient_norms
            .iter()
            .map(|g| format!("{g:.2e}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    say!("  training fit: {}", describe_metrics(&fit));
    say!("  time: {seconds:.3} s");
    say!("  store: {} (digest {})", store.display(), &p.digest[..16]);
    if !certifiable {
        say!(
            "  note: this model has no noise (σ = 0): it is NOT certifiable. Removals will \
             still be served and bounded, with certified: false."
        );
    }
}
