//! `unlearn remove`, `verify` and `inspect`.

use super::CliResult;
use super::args::{StoreArg, WritableStoreArg};
use super::progress::Progress;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use unlearn::certificate::{Certificate, EntryKind};
use unlearn::data::{self, CsvOptions, TargetSpec};
use unlearn::requests::Erasure;
use unlearn::rows::GivenRows;
use unlearn::unlearner::{RemovalError, Unlearner};
use unlearn::verify::{Verification, verify};

/// Arguments of `unlearn remove`.
#[derive(Debug, Args)]
#[command(
    after_help = "All ids are checked first; if any id is unknown or any step fails,
nothing is removed and the store is unchanged. The removal is committed (durable) before
the command reports it.

Speed: under output perturbation with a budget, a removal after the first is pass-free
(O(d²) from cached d×d matrices) while those fit 512 MiB: 8·(2k + 1)·d² bytes for k class
models (one model: up to d = 4729); beyond, every step is Hessian-free (O(n·d) per
conjugate-gradient product).

Examples:
  unlearn remove --store digits.store --ids d0012,d0040          # one batch, one certificate
  unlearn remove --store digits.store --ids-file ids.txt --sequential --json
  unlearn remove --store people.store --subject alice --wait 5   # all of alice's rows
  unlearn remove --store lake.store --ids r17 --rows removed.parquet  # external rows
  unlearn remove --store lake.store --subject alice --rows alice.csv --rows-subject owner"
)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub store: WritableStoreArg,
    /// Ids to remove, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        required_unless_present_any = ["ids_file", "subject"],
        conflicts_with_all = ["ids_file", "subject"]
    )]
    pub ids: Vec<String>,
    /// Remove every remaining row of this data subject (a store trained with --subject COL),
    /// in one step with one certificate.
    #[arg(long, value_name = "SUBJECT", conflicts_with_all = ["ids_file", "sequential"])]
    pub subject: Option<String>,
    /// A file with one id per line (blank lines and lines starting with # are skipped).
    #[arg(long)]
    pub ids_file: Option<PathBuf>,
    /// Remove the ids one at a time (one Newton step and one certificate each) instead of
    /// as one batch; only the last step publishes (when the publish policy says so).
    #[arg(long, conflicts_with = "rows")]
    pub sequential: bool,
    /// A store whose rows are external (they live in your table): a CSV or Parquet file
    /// holding exactly the removed rows, fetched from the table by id or by subject, with
    /// the model's feature columns, its target column and the id column (--rows-id): the
    /// rows of --ids and no other; with --subject, all of the subject's rows and no other,
    /// with their subject column (--rows-subject). The store cannot check that they are the
    /// training rows with those ids, nor that a subject has no other rows.
    #[arg(long, value_name = "FILE")]
    pub rows: Option<PathBuf>,
    /// The id column of --rows.
    #[arg(long, value_name = "COL", default_value = "id", requires = "rows")]
    pub rows_id: String,
    /// The subject column of --rows: needed with --subject, so that every given row is
    /// checked to be the subject's.
    #[arg(long, value_name = "COL", requires = "rows")]
    pub rows_subject: Option<String>,
    /// Print each step's certificate as one line of JSON (the ledger entry: removed_id_tags,
    /// published, distance, transcript, certified, epsilon, delta, budget_used, budget,
    /// retrained, bounds, digests, …).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `unlearn publish`.
#[derive(Debug, Args)]
#[command(
    after_help = "With `--publish-every N` at training, removal requests between releases are
served on the secret state only; `publish` releases them now (one release, charged once to
the lifetime budget). Nothing happens when no request is pending.

Examples:
  unlearn publish --store digits.store
  unlearn publish --store digits.store --json"
)]
pub struct PublishArgs {
    #[command(flatten)]
    pub store: WritableStoreArg,
    /// Print the release's certificate as one line of JSON (or {\"pending_requests\": 0}).
    #[arg(long)]
    pub json: bool,
}

/// Runs `unlearn publish`.
pub fn publish(args: &PublishArgs) -> CliResult {
    let mut store = args.store.open()?;
    let mut unlearner = store.load()?;
    match unlearner
        .publish()
        .map_err(|e| format!("{e}; nothing was published, the store is unchanged"))?
    {
        Some(certificate) => {
            store.commit(&mut unlearner)?;
            if args.json {
                say!("{}", serde_json::to_string(&certificate)?);
            } else {
                print_certificate(&certificate);
            }
        }
        None if args.json => say!("{}", json!({"pending_requests": 0})),
        None => say!("nothing to publish: no removal request is pending"),
    }
    Ok(())
}

/// Arguments of `unlearn verify` and `unlearn inspect`.
#[derive(Debug, Args)]
#[command(after_help = "verify exits with status 1 if any check fails.

Examples:
  unlearn verify --store digits.store
  unlearn inspect --store digits.store --json")]
pub struct StoreArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// Print one JSON object: verify {"passed", "report": {"checks": [{"name", "passed",
    /// "detail"}]}}; inspect {"rows", "removals", "budget_used", "budget_left", …}.
    #[arg(long)]
    pub json: bool,
}

/// What the command line asks to erase.
pub(super) fn erasure(args: &RemoveArgs) -> Result<Erasure, Box<dyn std::error::Error>> {
    match &args.subject {
        Some(subject) => Ok(Erasure::Subject(subject.clone())),
        None => Ok(Erasure::Ids(read_ids(args)?)),
    }
}

/// The ids of the request: --ids (empty pieces dropped, so `--ids ""` is no id rather than
/// the empty id), or the lines of --ids-file (a UTF-8 byte-order mark, blank lines and `#`
/// comments dropped). A request with no id is refused here, naming the flag.
fn read_ids(args: &RemoveArgs) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let ids: Vec<String> = match &args.ids_file {
        None => args
            .ids
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("{}: cannot read the ids file: {e}", path.display()))?;
            text.trim_start_matches('\u{feff}')
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect()
        }
    };
    if ids.is_empty() {
        return Err(match &args.ids_file {
            None => "--ids names no ids: give the ids to remove, comma-separated (--ids d0012,d0040), or --ids-file FILE".into(),
            Some(path) => format!(
                "{}: the ids file holds no ids (blank lines and # comments are skipped); put one id per line",
                path.display()
            )
            .into(),
        });
    }
    Ok(ids)
}

/// Runs `unlearn remove`: the store is written only if every step succeeded.
pub fn remove(args: &RemoveArgs) -> CliResult {
    let erasure = erasure(args)?;
    let mut store = args.store.open()?;
    let mut unlearner = store.load()?;
    let unchanged = |e| format!("{e}; nothing was removed, the store is unchanged");
    if unlearner.model.secret.rows.is_external() || args.rows.is_some() {
        let given = given_rows(args, &unlearner, erasure)?;
        let certificate = unlearner
            .remove_external(&given, 1)
            .map_err(|e| match e {
                RemovalError::NeedsFullPass(_) => format!(
                    "{e}; nothing was removed, the store is unchanged. To finish the request: delete the removed rows from your table, export the rows that remain (CSV or Parquet, the model's columns and the id column), and run `unlearn refresh` with the same arguments plus --remaining FILE"
                ),
                e => unchanged(e),
            })?;
        store.commit(&mut unlearner)?;
        return report(args, &[certificate]);
    }
    let ids = unlearner.resolve(&erasure).map_err(unchanged)?;
    unlearner.check_request(&ids).map_err(unchanged)?;
    let certificates = if args.sequential {
        // One step per id, as `Unlearner::remove_sequential` takes them, counted for the
        // progress bar; the store is written only after the last one succeeded.
        let progress = Progress::bar(ids.len() as u64, "removals", args.json);
        unlearner
            .remove_sequential_with_progress(&ids, &mut || progress.inc(1))
            .map_err(unchanged)?
    } else {
        vec![unlearner.remove(&ids).map_err(unchanged)?]
    };
    store.commit(&mut unlearner)?;
    report(args, &certificates)
}

/// Prints the certificates of a removal.
pub(super) fn report(args: &RemoveArgs, certificates: &[Certificate]) -> CliResult {
    for c in certificates {
        if args.json {
            say!("{}", serde_json::to_string(c)?);
        } else {
            print_certificate(c);
        }
    }
    Ok(())
}

/// The removed rows of a store whose rows are external, read from --rows with the model's
/// columns (its feature columns, its target column encoded as the model encodes it, the
/// subject column of --rows-subject), with the request's ids or subject.
pub(super) fn given_rows(
    args: &RemoveArgs,
    unlearner: &Unlearner,
    erasure: Erasure,
) -> Result<GivenRows, Box<dyn std::error::Error>> {
    let Some(path) = &args.rows else {
        return Err("this store's rows are external (they live in your table): give the removed rows with --rows FILE (CSV or Parquet: the model's feature and target columns and an id column); nothing was removed, the store is unchanged".into());
    };
    let published = &unlearner.model.published;
    let options = CsvOptions {
        target: Some(published.target_column.clone()),
        id: Some(args.rows_id.clone()),
        subject: args.rows_subject.clone(),
        spec: TargetSpec::Encoded(published.target.clone()),
        features: Some(published.feature_names.clone()),
        ignore: Vec::new(),
    };
    let rows = data::load_data(&path.to_string_lossy(), &options)?;
    let (ids, subjects) = match erasure {
        Erasure::Subject(subject) => (Vec::new(), vec![subject]),
        Erasure::Ids(ids) => (ids, Vec::new()),
    };
    // The unlearner checks that they are exactly the rows of the ids and the subject.
    Ok(GivenRows {
        rows,
        ids,
        subjects,
    })
}

/// Prints a certificate for the operator.
pub fn print_certificate(c: &Certificate) {
    say!(
        "step {}: removed {} row(s); {}",
        c.step,
        c.removed_id_tags.len(),
        match c.distance {
            Some(d) => format!("published release {} (charged {d:.3e})", c.release),
            None =>
                "nothing published: the removal reaches the published model at the next release"
                    .into(),
        }
    );
    say!(
        "  {}: {}",
        if c.certified {
            "CERTIFIED"
        } else {
            "not certified"
        },
        match (c.epsilon, c.delta) {
            (Some(e), Some(d)) if c.certified => format!(
                "the transcript of {} releases is (ε = {}, δ = {d}) against retraining, target ε = {e}, by {}",
                c.transcript.releases,
                c.transcript
                    .epsilon
                    .map_or("-".into(), |x| format!("{x:.4}")),
                c.mechanism
            ),
            _ => c.reason.clone().unwrap_or_default(),
        }
    );
    say!(
        "  budget used {:.3e} of {} ({}); {}",
        c.budget_used,
        c.budget.map_or("none".to_string(), |b| format!("{b:.3e}")),
        c.budget_unit,
        if c.retrained {
            "RETRAINED on the remaining rows"
        } else {
            "Newton step"
        }
    );
    say!(
        "  residual: exact {:?}, data-dependent bound {:?}",
        c.bounds
            .exact_residual
            .iter()
            .map(|v| format!("{v:.2e}"))
            .collect::<Vec<_>>(),
        c.bounds
            .data_dependent
            .iter()
            .map(|v| format!("{v:.2e}"))
            .collect::<Vec<_>>()
    );
    say!(
        "  rows left {}, weights {} → {}",
        c.rows_after,
        short(c.digest_before.as_deref()),
        short(Some(&c.digest_after))
    );
}

fn short(digest: Option<&str>) -> &str {
    digest.map_or("-", |d| &d[..d.len().min(12)])
}

/// Runs `unlearn verify`: the store's integrity checks, then (if they pass) every check of
/// the certificates against the secret state; exit status 1 if any check fails.
pub fn verify_store(args: &StoreArgs) -> CliResult {
    let store = args.store.open()?;
    let mut checks = store.integrity()?;
    let mut exact_residuals = Vec::new();
    if checks.iter().all(|c| c.passed) {
        let verification = verify(&store.load()?);
        checks.extend(verification.checks);
        exact_residuals = verification.exact_residuals;
    }
    checks.push(store.release_log_check()?);
    let report = Verification {
        checks,
        exact_residuals,
    };
    if args.json {
        say!(
            "{}",
            serde_json::to_string(&json!({"passed": report.passed(), "report": report}))?
        );
    } else {
        for c in &report.checks {
            say!(
                "{} {}: {}",
                if c.passed { "ok  " } else { "FAIL" },
                c.name,
                c.detail
            );
        }
    }
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name)
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "verification failed: {}. The store is damaged or was changed outside unlearn: \
             do not publish from it; restore its unlearn.db from a backup (keep the current \
             releases.jsonl and refs.jsonl) or retrain",
            failed.join("; ")
        )
        .into())
    }
}

/// Runs `unlearn inspect`.
pub fn inspect(args: &StoreArgs) -> CliResult {
    let store = args.store.open()?;
    let unlearner = store.load()?;
    let release_log = store.release_log_check()?;
    let reconciliations: Vec<_> = unlearner
        .ledger
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Reconciliation)
        .map(|e| json!({"step": e.step, "foreign_releases": e.foreign_releases}))
        .collect();
    let model = &unlearner.model;
    let h = &model.published.hyperparameters;
    let last = unlearner
        .ledger
        .last()
        .ok_or("the store's ledger is empty")?;
    let summary = json!({
        "rows": model.secret.n_rows(),
        "features": model.published.feature_names.len(),
        "removals": unlearner.ledger.removals(),
        "removed_rows": unlearner.ledger.entries.iter().map(|e| e.removed_id_tags.len()).sum::<usize>(),
        "retrainings": unlearner.ledger.retrainings(),
        "budget_used": last.budget_used,
        "budget": last.budget,
        "budget_left": last.budget.map(|b| (b - last.budget_used).max(0.0)),
        "budget_unit": last.budget_unit,
        "transcript": last.transcript,
        "pending_requests": model.secret.pending_requests,
        "publish_every": model.published.publish.every,
        "release_grid": model.published.release_grid,
        "certified": last.certified,
        "mechanism": h.mechanism,
        "loss": h.loss,
        "lambda": h.lambda,
        "regularization": h.regularization,
        "effective_lambda": last.effective_lambda,
        "intercept": h.intercept,
        "noise": h.noise,
        "privacy": h.privacy,
        "target": model.published.target,
        "releases": model.secret.transcript.releases,
        "digest": model.published.digest,
        "lineage": unlearner.ledger.entries[0].digest,
        "release_log": {"passed": release_log.passed, "detail": release_log.detail},
        "restores_reconciled": reconciliations,
    });
    if args.json {
        say!("{summary}");
    } else {
        for (k, v) in summary.as_object().expect("an object") {
            say!("{k:>18}: {v}");
        }
    }
    Ok(())
}
