//! Arguments several commands share, documented once and flattened into each command.

use clap::Args;
use std::path::PathBuf;
use unlearn::data::{self, DataError, Dataset, TargetSpec, csv::CsvOptions};
use unlearn::store::{LockMode, Store, StoreError, StoreLock};

/// `--store DIR`: the model store a command reads or changes.
#[derive(Debug, Args)]
pub struct StoreArg {
    /// The model store: a directory written by `unlearn train --out DIR`.
    #[arg(long, value_name = "DIR")]
    pub store: PathBuf,
}

impl StoreArg {
    /// The store, locked (`Exclusive` to change it, `Shared` to read it). It must exist:
    /// only `unlearn train` creates a store, so a mistyped path is refused without leaving
    /// a directory behind.
    pub fn open(&self, mode: LockMode) -> Result<(Store, StoreLock), StoreError> {
        let store = Store::at(&self.store);
        if !store.model_path().exists() {
            return Err(StoreError::NotAStore {
                path: self.store.clone(),
            });
        }
        let lock = store.lock(mode)?;
        Ok((store, lock))
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
            spec,
            features,
        };
        data::load_data(&self.data, &options)
    }
}
