//! `unlearn refresh`: finishes an external-rows removal that needs a pass over the
//! remaining rows, from those rows in a file.
//!
//! A store whose rows are external (they live in the user's table) answers a removal whose
//! schedule needs an exact step or a re-solve with "needs a full pass", and nothing
//! changes. The user then deletes the removed rows from the table, exports what remains
//! (CSV or Parquet, the model's columns) and runs this command with the same request as
//! `unlearn remove` (--ids / --ids-file / --subject, --rows with the removed rows) plus
//! `--remaining FILE`: the file is checked to hold none of the removed rows (by keyed id
//! tag: this request's and every earlier removal's) and, when the model records subjects,
//! no row of an erased subject (by keyed subject tag, read from the --rows-subject column),
//! their keyed row digest is taken ([`unlearn::row_digest`]: compared with the store's at
//! the refresh, so swapped, copied or altered rows are refused), the weights are re-solved
//! over the
//! remaining rows in process ([`unlearn::unlearner::Unlearner::sums_over_remaining`]) and the request is finished by
//! [`unlearn::unlearner::Unlearner::refresh_external`], which reseeds the caches from the
//! sums and charges the new weights by their measured residual.
//!
//! Why the rows and not partial sums: a CLI user holds files, and sums are only valid at
//! the re-solved weights, which need a Newton loop over the rows; the library and Python
//! (`unlearn.spark.remove`, `est._refresh_from_partials`) take sums from a cluster instead.

use super::CliResult;
use super::removal::{RemoveArgs, erasure, given_rows, report};
use clap::Args;
use std::path::PathBuf;
use unlearn::data::{self, CsvOptions, Dataset, TargetSpec};
use unlearn::unlearner::RemovalError;

/// Arguments of `unlearn refresh`.
#[derive(Debug, Args)]
#[command(
    after_help = "Run it after `unlearn remove` on a store whose rows are external answered
\"needs a full pass over the remaining rows\": delete the removed rows from your table,
export what remains, and give the same request again with --remaining. The weights are
re-solved over the remaining rows (a few passes over the file, in memory), the caches
reseeded from them, and the request recorded with one certificate. Nothing changes if any
check fails: the remaining rows must hold no removed row (by id: this request's or an
earlier removal's), no row of an erased subject (by subject, when the model records them:
give --rows-subject), no row whose norm after the model's preprocessing exceeds the bound R
of the training rows, and count n − m rows with the label counts the removal leaves; the
refreshed weights' measured residual must fit what is left of the budget; and the keyed
digest of the rows' ids, values and targets must be the one the store keeps (the training
rows' less every removed row's): a row swapped for another, copied under a new id or
altered, or rows given at an earlier removal that were not the training rows, are refused.

Examples:
  unlearn refresh --store lake.store --ids r17 --rows removed.parquet --remaining rest.parquet
  unlearn refresh --store lake.store --subject alice --rows alice.csv --rows-subject owner \\
      --remaining rest.csv"
)]
pub struct RefreshArgs {
    /// The request, exactly as `unlearn remove` was given it.
    #[command(flatten)]
    pub request: RemoveArgs,
    /// The remaining rows (every training row but the removed ones): a CSV or Parquet file
    /// with the model's feature columns, its target column, the id column (--rows-id; ids
    /// unique, so that no row is counted twice) and, when the model records data subjects,
    /// the subject column (--rows-subject, then required); other columns are not read.
    #[arg(long, value_name = "FILE")]
    pub remaining: PathBuf,
}

/// Runs `unlearn refresh`: the store is written only if the refresh succeeded.
pub fn refresh(args: &RefreshArgs) -> CliResult {
    let request = &args.request;
    let erasure = erasure(request)?;
    let mut store = request.store.open()?;
    let mut unlearner = store.load()?;
    if !unlearner.model.secret.rows.is_external() {
        return Err("this store holds its training rows: `unlearn remove` takes every exact step and re-solve over them itself; `unlearn refresh` is for stores whose rows are external".into());
    }
    let given = given_rows(request, &unlearner, erasure)?;
    let remaining = remaining_rows(args, &unlearner.model)?;
    let file = args.remaining.display();
    let refused = |e: RemovalError| match e {
        RemovalError::Sums(_) => format!(
            "{file}: {e}; --remaining must hold every training row but the removed ones (delete the removed rows from the table first); nothing was removed, the store is unchanged"
        ),
        RemovalError::RemovedRowRemains { .. }
        | RemovalError::ErasedSubjectRemains { .. }
        | RemovalError::Resolve(_) => {
            format!("{file}: {e}; nothing was removed, the store is unchanged")
        }
        e => format!("{e}; nothing was removed, the store is unchanged"),
    };
    let sums = unlearner
        .sums_over_remaining(&given, remaining)
        .map_err(refused)?;
    let certificate = unlearner
        .refresh_external(&given, 1, sums)
        .map_err(refused)?;
    store.commit(&mut unlearner)?;
    report(request, &[certificate])
}

/// The rows of --remaining, read with the model's columns, the request's id column and,
/// when the model records subjects, its subject column (--rows-subject).
fn remaining_rows(
    args: &RefreshArgs,
    model: &unlearn::model::Model,
) -> Result<Dataset, Box<dyn std::error::Error>> {
    let published = &model.published;
    let subject = match (
        &args.request.rows_subject,
        model.secret.rows.records_subjects(),
    ) {
        (_, false) => None,
        (Some(column), true) => Some(column.clone()),
        (None, true) => {
            return Err(format!(
                "{}: the model records data subjects, so the remaining rows are checked to hold no erased subject's row: give their subject column with --rows-subject COL (the column of --rows and --remaining); nothing was removed, the store is unchanged",
                args.remaining.display()
            )
            .into());
        }
    };
    let options = CsvOptions {
        target: Some(published.target_column.clone()),
        id: Some(args.request.rows_id.clone()),
        subject,
        spec: TargetSpec::Encoded(published.target.clone()),
        features: Some(published.feature_names.clone()),
        ignore: Vec::new(),
    };
    Ok(data::load_data(&args.remaining.to_string_lossy(), &options)
        .map_err(|e| format!("--remaining: {e}"))?)
}
