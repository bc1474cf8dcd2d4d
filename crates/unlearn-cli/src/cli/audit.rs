//! `unlearn audit`: compare the unlearned model with a model retrained from scratch.

use super::CliResult;
use super::args::{ReadArgs, StoreArg};
use super::progress::Progress;
use clap::Args;
use unlearn::audit::audit_against_retrain;
use unlearn::data::{TargetEncoding, TargetSpec, csv::CsvOptions};

/// Arguments of `unlearn audit`.
#[derive(Debug, Args)]
#[command(
    after_help = "The secret weights must lie within the distance the last certificate
charged from the retrained ones; the agreements show how far predictions moved.

Examples:
  unlearn audit --store digits.store --against-retrain --data builtin:digits
  unlearn audit --store ridge.store --against-retrain --holdout test.csv --id id --json"
)]
pub struct AuditArgs {
    /// The model store (read only).
    #[command(flatten)]
    pub store: StoreArg,
    /// Retrain from scratch on the remaining rows and compare (the audit this version
    /// runs; required, so that a later audit kind cannot be confused with it).
    #[arg(long, required = true)]
    pub against_retrain: bool,
    /// Raw rows that include the removed ones (for example the original training file):
    /// the rows whose ids were removed are used to compare predictions on them.
    #[arg(long)]
    pub data: Option<String>,
    /// Held-out labelled rows: accuracy (or RMSE and R²) of both models.
    #[arg(long)]
    pub holdout: Option<String>,
    /// Id column of --data and --holdout (default: the files' row numbers, or the builtin's).
    #[arg(long)]
    pub id: Option<String>,
    /// How to read --data and --holdout.
    #[command(flatten)]
    pub read: ReadArgs,
    /// Seed of the retrained model's noise.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON object: rows, secret_weight_distance, certified_distance,
    /// published_weight_distance, exact_residuals, agreements, holdout metrics.
    #[arg(long)]
    pub json: bool,
}

/// Runs `unlearn audit`.
pub fn run(args: &AuditArgs) -> CliResult {
    let unlearner = args.store.open()?.load()?;
    let model = &unlearner.model.published;
    let read = |source: &str, spec: TargetSpec, target: Option<String>| {
        args.read.load(
            source,
            CsvOptions {
                target,
                id: args.id.clone(),
                spec,
                features: Some(model.feature_names.clone()),
                ..CsvOptions::default()
            },
        )
    };
    let removed = args
        .data
        .as_deref()
        .map(|source| read(source, TargetSpec::None, None))
        .transpose()?;
    let spec = match &model.target {
        TargetEncoding::Regression => TargetSpec::Regression,
        encoding => TargetSpec::Encoded(encoding.clone()),
    };
    let holdout = args
        .holdout
        .as_deref()
        .map(|source| {
            let target = args.read.model_target(source, &model.target_column)?;
            read(source, spec.clone(), target)
        })
        .transpose()?;
    let progress = Progress::spinner(
        &format!(
            "retraining from scratch on {} rows",
            unlearner.model.secret.n_rows()
        ),
        args.json,
    );
    let audit = audit_against_retrain(&unlearner, args.seed, removed.as_ref(), holdout.as_ref())?;
    drop(progress);
    if args.json {
        say!("{}", serde_json::to_string(&audit)?);
    } else {
        say!(
            "audit against retraining from scratch on {} rows",
            audit.rows
        );
        say!(
            "  secret weights: distance {:.3e} (certificate charged {:.3e})",
            audit.secret_weight_distance,
            audit.certified_distance
        );
        say!(
            "  published weights: distance {:.3e}",
            audit.published_weight_distance
        );
        say!("  exact residual bounds: {:?}", audit.exact_residuals);
        say!(
            "  agreement on remaining rows: {:.4}",
            audit.remaining_agreement
        );
        if let Some(a) = audit.removed_agreement {
            say!(
                "  agreement on the {} removed rows: {a:.4}",
                audit.removed_rows_found
            );
        }
        if let Some((u, r)) = &audit.holdout {
            say!("  held-out: unlearned {u:?}, retrained {r:?}");
        }
    }
    Ok(())
}
