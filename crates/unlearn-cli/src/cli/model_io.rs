//! `unlearn export`, `predict` and `evaluate`, and the training summary printer.

use super::CliResult;
use super::args::{RowsArgs, StoreArg};
use clap::Args;
use serde_json::json;
use std::path::Path;
use unlearn::data::preprocess::PreprocessReport;
use unlearn::data::{TargetEncoding, TargetSpec};
use unlearn::model::{Model, PublishedModel};
use unlearn::predict::{Metrics, Prediction};
use unlearn::store::StoreError;

/// Arguments of `unlearn export`.
#[derive(Debug, Args)]
#[command(
    after_help = "The output is one JSON object: weights (per class under one-vs-rest)
without the intercept, the intercept apart, classes, hyperparameters, preprocessing
constants, feature names and the weights' digest. Only published values: no rows, no seed.

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

/// Arguments of `unlearn predict`.
#[derive(Debug, Args)]
#[command(
    after_help = "The rows need the model's feature columns (others are ignored).

Examples:
  unlearn predict --store digits.store --data builtin:digits | head
  unlearn predict --store ridge.store --data new_rows.csv --id id --json"
)]
pub struct PredictArgs {
    #[command(flatten)]
    pub store: StoreArg,
    #[command(flatten)]
    pub rows: RowsArgs,
    /// Print one JSON object per row, {"id": …, "prediction": …} (a label string, or a
    /// number for regression), instead of `id,prediction` CSV.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `unlearn evaluate`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  unlearn evaluate --store digits.store --data builtin:digits --json
  unlearn evaluate --store ridge.store --data test.csv --target y --id id")]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub store: StoreArg,
    #[command(flatten)]
    pub rows: RowsArgs,
    /// Target column (default: the column the model was trained on).
    #[arg(long, value_name = "COL")]
    pub target: Option<String>,
    /// Print one JSON object, {"rows", "accuracy"} or {"rows", "rmse", "r2"}.
    #[arg(long)]
    pub json: bool,
}

/// The published model in the export format: weights without the intercept, the
/// intercept apart, and the hyperparameters.
pub fn export_json(model: &PublishedModel) -> serde_json::Value {
    let intercept = model.hyperparameters.intercept;
    let split = |w: &Vec<f64>| -> (Vec<f64>, Option<f64>) {
        if intercept {
            (w[..w.len() - 1].to_vec(), w.last().copied())
        } else {
            (w.clone(), None)
        }
    };
    let parts: Vec<_> = model.weights.iter().map(split).collect();
    let (weights, intercepts, classes) = match &model.target {
        TargetEncoding::Multiclass { classes } => (
            json!(parts.iter().map(|p| &p.0).collect::<Vec<_>>()),
            if intercept {
                json!(parts.iter().map(|p| p.1).collect::<Vec<_>>())
            } else {
                serde_json::Value::Null
            },
            json!(classes),
        ),
        TargetEncoding::Binary { positive, negative } => (
            json!(parts[0].0),
            json!(parts[0].1),
            json!([negative, positive]),
        ),
        TargetEncoding::Regression => (
            json!(parts[0].0),
            json!(parts[0].1),
            serde_json::Value::Null,
        ),
    };
    let h = &model.hyperparameters;
    json!({
        "weights": weights,
        "intercept": intercepts,
        "classes": classes,
        "loss": h.loss,
        "lambda": h.lambda,
        "regularization": h.regularization,
        "noise": h.noise,
        "privacy": h.privacy,
        "feature_names": model.feature_names,
        "preprocessing": model.preprocessing,
        "target_column": model.target_column,
        "target": model.target,
        "n_rows": model.n_rows,
        "digest": model.digest,
        "release_grid": model.release_grid,
        "publish_every": model.publish.every,
    })
}

/// Reads the published model (the last commit's, checked against the state's digest).
fn load_published(store: &StoreArg) -> Result<PublishedModel, StoreError> {
    store.open()?.load_published()
}

/// Runs `unlearn export`.
pub fn export(args: &ExportArgs) -> CliResult {
    let model = load_published(&args.store)?;
    say!("{}", serde_json::to_string_pretty(&export_json(&model))?);
    Ok(())
}

/// Runs `unlearn predict`.
pub fn predict(args: &PredictArgs) -> CliResult {
    let model = load_published(&args.store)?;
    let features = Some(model.feature_names.clone());
    let rows = args.rows.load(None, TargetSpec::None, features)?;
    let predictions = model.predict(&rows)?;
    let mut out = String::new();
    if args.json {
        for (id, p) in rows.ids().iter().zip(predictions) {
            let prediction = match p {
                Prediction::Label(label) => json!(label),
                Prediction::Value(value) => json!(value),
            };
            out.push_str(&format!(
                "{}\n",
                json!({"id": id, "prediction": prediction})
            ));
        }
    } else {
        out.push_str("id,prediction\n");
        for (id, p) in rows.ids().iter().zip(predictions) {
            out.push_str(&format!("{id},{p}\n"));
        }
    }
    say!("{}", out.trim_end_matches('\n'));
    Ok(())
}

/// Runs `unlearn evaluate`.
pub fn evaluate(args: &EvaluateArgs) -> CliResult {
    let model = load_published(&args.store)?;
    let target = args
        .target
        .clone()
        .unwrap_or_else(|| model.target_column.clone());
    let spec = match &model.target {
        TargetEncoding::Regression => TargetSpec::Regression,
        encoding => TargetSpec::Encoded(encoding.clone()),
    };
    let rows = args
        .rows
        .load(Some(target), spec, Some(model.feature_names.clone()))?;
    let metrics = model.evaluate(&rows)?;
    if args.json {
        say!("{}", serde_json::to_string(&metrics)?);
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
