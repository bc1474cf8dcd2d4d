//! Arguments several commands share, documented once and flattened into each command.

use super::CliError;
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Duration;
use unlearn::data::{self, DataError, DataFormat, Dataset, TargetSpec, csv::CsvOptions};
use unlearn::store::{Access, Store, StoreError};

/// `--store DIR`: the model store a command reads.
#[derive(Debug, Args)]
pub struct StoreArg {
    /// The model store: a directory written by `unlearn train --out DIR`.
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
}

impl StoreArg {
    /// The store, open for reading: the last commit, read without waiting for (or holding
    /// up) a writer. It must exist: only `unlearn train` creates a store, so a mistyped path
    /// is refused without leaving a directory behind.
    pub fn open(&self) -> Result<Store, StoreError> {
        Store::open(&self.store, Access::Read)
    }
}

/// `--store DIR [--wait SECONDS]`: the model store a command changes.
#[derive(Debug, Args)]
pub struct WritableStoreArg {
    #[command(flatten)]
    pub store: StoreArg,
    #[command(flatten)]
    pub wait: WaitArg,
}

impl WritableStoreArg {
    /// The store, open for writing (its writer lock held until the command ends). If opening
    /// it reconciled the store with its release log (it was restored from a backup), says so
    /// on standard error: which releases of the lost branch were charged, and how many of its
    /// removals were re-applied.
    pub fn open(&self) -> Result<WritableStore, StoreError> {
        let mut store = Store::open(
            &self.store.store,
            Access::Write {
                wait: self.wait.duration(),
            },
        )?;
        if let Some(note) = store.reconciliation_note() {
            eprintln!("note: {note}");
        }
        warn_follow_ups(&mut store);
        // Every command prints a certificate or receipt only after its commit returned.
        store.withhold_until_commit();
        Ok(WritableStore(store))
    }
}

/// A store a command changes: it withholds every commit's entries until the commit returns
/// ([`Store::withhold_until_commit`]: a failed commit's release is abandoned, not charged),
/// and [`WritableStore::commit`] warns on standard error of what a durable commit left
/// undone. Everything else is the [`Store`]'s own.
pub struct WritableStore(Store);

impl WritableStore {
    /// [`Store::commit`], then a warning per follow-up ([`Store::follow_ups`]: a failed
    /// `model.json` rewrite or WAL checkpoint, naming the file and what to do): the commit is
    /// durable, so the command reports success.
    pub fn commit(
        &mut self,
        unlearner: &mut unlearn::unlearner::Unlearner,
    ) -> Result<(), StoreError> {
        self.0.commit(unlearner)?;
        warn_follow_ups(&mut self.0);
        Ok(())
    }

    /// The store itself (for the deletion engine, which warns through its own caller).
    pub fn into_inner(self) -> Store {
        self.0
    }
}

impl std::ops::Deref for WritableStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.0
    }
}

/// Prints what the store's last commit left undone although it is durable, one warning per
/// [`unlearn::store::FollowUp`] on standard error.
pub fn warn_follow_ups(store: &mut Store) {
    for follow_up in store.take_follow_ups() {
        eprintln!("warning: {follow_up}");
    }
}

/// `--wait SECONDS`: how long a writing command waits for another writer of the store.
#[derive(Debug, Args)]
pub struct WaitArg {
    /// Wait up to SECONDS for another command that is changing the store to finish
    /// (default 0: refuse at once). Readers never wait.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0, value_parser = parse_wait)]
    pub wait: f64,
}

impl WaitArg {
    /// The wait as a duration.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.wait)
    }
}

fn parse_wait(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=86_400.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "'{s}' is not a number of seconds between 0 and 86400"
        )),
    }
}

/// `--checkpoint-every N`: how often a long-running writer checkpoints the store's
/// write-ahead log.
#[derive(Debug, Args)]
pub struct CheckpointArg {
    /// Checkpoint the database's write-ahead log after every N requests that delete rows
    /// (default 1: after each, so a removed row's bytes leave every file of the store before
    /// the request is reported). A larger N serves more requests per second (the checkpoint
    /// is most of a request's cost) but leaves removed rows' bytes in the log and the
    /// database file until the next checkpoint (at most N − 1 requests later, or when the
    /// run ends). Every request is durable before it is reported either way.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: u64,
}

/// `--format FORMAT --ignore COL`: how to read a data file, for every command that reads
/// one.
#[derive(Debug, Clone, Default, Args)]
pub struct ReadArgs {
    /// File format: csv, libsvm or parquet. Default: from the extension (.csv; .svm,
    /// .libsvm, .svmlight; .parquet, .pq), else sniffed (a first line with commas is CSV,
    /// `label index:value …` is LIBSVM, Parquet by its magic bytes); a file that fits none
    /// is refused, never guessed.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<DataFormat>,
    /// Columns of a CSV or Parquet file to skip (text, dates, comments): repeatable or
    /// comma-separated, e.g. --ignore name,notes.
    #[arg(long, value_name = "COL", value_delimiter = ',')]
    pub ignore: Vec<String>,
}

impl ReadArgs {
    /// The format `source` is read in: `None` for a builtin dataset, else the declared or
    /// detected one.
    pub fn format_of(&self, source: &str) -> Result<Option<DataFormat>, CliError> {
        if source.starts_with("builtin:") {
            return Ok(None);
        }
        match self.format {
            Some(f) => Ok(Some(f)),
            None => data::detect_format(Path::new(source))
                .map(Some)
                .map_err(with_flag_hints),
        }
    }

    /// Reads `source` with `options` (their columns to ignore taken from --ignore). A
    /// target column named for a LIBSVM file is refused: its target is the first token.
    pub fn load(&self, source: &str, options: CsvOptions) -> Result<Dataset, CliError> {
        let format = self.format_of(source)?;
        if let (Some(DataFormat::Libsvm), Some(target)) = (format, &options.target) {
            return Err(format!(
                "{source}: a LIBSVM file's target is the first token of each line, so \
                 --target {} cannot apply: drop --target (or, if the file is CSV, give \
                 --format csv)",
                unlearn::echo::echo(target)
            )
            .into());
        }
        let options = CsvOptions {
            ignore: self.ignore.clone(),
            ..options
        };
        data::load_data_as(source, format, &options).map_err(with_flag_hints)
    }

    /// The target column to read from `source` to evaluate a model trained on `column`:
    /// none for a LIBSVM file (its label is the first token of each line).
    pub fn model_target(&self, source: &str, column: &str) -> Result<Option<String>, CliError> {
        Ok(match self.format_of(source)? {
            Some(DataFormat::Libsvm) => None,
            _ => Some(column.to_string()),
        })
    }
}

/// A data error, with the flag that fixes it named where there is one.
fn with_flag_hints(e: DataError) -> CliError {
    match e {
        DataError::UnknownFormat { .. } => format!("{e} with --format").into(),
        DataError::NotNumeric { ref column, .. } => {
            format!("{e} with --ignore {}", unlearn::echo::echo(column)).into()
        }
        e => e.into(),
    }
}

/// `--data SOURCE [--id COL] [--format F] [--ignore COL]`: rows to read.
#[derive(Debug, Args)]
pub struct RowsArgs {
    /// Rows: a CSV file with a header row, a LIBSVM file, a Parquet file (see --format),
    /// or builtin:digits, builtin:breast_cancer, builtin:diabetes.
    #[arg(long, value_name = "SOURCE")]
    pub data: String,
    /// Id column of a CSV or Parquet file (default: the 0-based row numbers; the builtin
    /// datasets carry their own ids: d0000…, b000…, p000…).
    #[arg(long, value_name = "COL")]
    pub id: Option<String>,
    #[command(flatten)]
    pub read: ReadArgs,
}

impl RowsArgs {
    /// Reads the rows: `target` is the target column, encoded as `spec`; `features`, if
    /// given, are exactly the feature columns to read (a stored model's), else every other
    /// column but the ignored ones; `subject`, if given, the data-subject column (training
    /// only: no other command has a use for it, so no other command takes the flag).
    pub fn load(
        &self,
        target: Option<String>,
        spec: TargetSpec,
        features: Option<Vec<String>>,
        subject: Option<String>,
    ) -> Result<Dataset, CliError> {
        let options = CsvOptions {
            target,
            id: self.id.clone(),
            subject,
            spec,
            features,
            ..CsvOptions::default()
        };
        self.read.load(&self.data, options)
    }
}
