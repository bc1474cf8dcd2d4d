//! Arguments several commands share, documented once and flattened into each command.

use clap::Args;
use std::path::PathBuf;
use std::time::Duration;
use unlearn::data::{self, DataError, Dataset, TargetSpec, csv::CsvOptions};
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
    /// The store, open for writing (its writer lock held until the command ends).
    pub fn open(&self) -> Result<Store, StoreError> {
        Store::open(
            &self.store.store,
            Access::Write {
                wait: self.wait.duration(),
            },
        )
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

/// `--data SOURCE [--id COL]`: rows to read.
#[derive(Debug, Args)]
pub struct RowsArgs {
    /// Rows: a CSV file with a header row, a LIBSVM file (.svm, .libsvm, .svmlight, .txt),
    /// or builtin:digits, builtin:breast_cancer, builtin:diabetes.
    #[arg(long, value_name = "SOURCE")]
    pub data: String,
    /// Id column of a CSV file (default: the 0-based row numbers; the builtin datasets
    /// carry their own ids: d0000…, b000…, p000…).
    #[arg(long, value_name = "COL")]
    pub id: Option<String>,
    /// Data-subject column of a CSV file: who each row is about (a person may own many
    /// rows; `remove --subject S` then removes all of them in one step). Not a feature.
    #[arg(long, value_name = "COL")]
    pub subject: Option<String>,
}

impl RowsArgs {
    /// Reads the rows: `target` is the target column, encoded as `spec`; `features`, if
    /// given, are exactly the feature columns to read (a stored model's), else every other
    /// column.
    pub fn load(
        &self,
        target: Option<String>,
        spec: TargetSpec,
        features: Option<Vec<String>>,
    ) -> Result<Dataset, DataError> {
        let options = CsvOptions {
            target,
            id: self.id.clone(),
            subject: self.subject.clone(),
            spec,
            features,
        };
        data::load_data(&self.data, &options)
    }
}
