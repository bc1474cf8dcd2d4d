//! Parquet reader (the `parquet` feature): the same roles as the CSV reader, read from
//! typed columns instead of text by the Arrow batch reader ([`super::arrow`], which says
//! which column types serve which role).
//!
//! Rows without an id column are numbered `"0"`, `"1"`, … in file order; only the columns
//! in use are decoded. Errors name the file, the column, the row group (0-based) and the
//! row of the file (1-based); where a message would give a line of a text file (a target
//! label's), it gives that row.
//!
//! The dense size (rows × features, from the file's metadata) is checked against
//! [`super::libsvm::MAX_DENSE_VALUES`] before anything is allocated. Codecs other than
//! Snappy and uncompressed are not built in (see Cargo.toml); such a file is refused with
//! the Parquet reader's message naming the codec.

use std::fs::File;
use std::path::Path;

use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::arrow::{BatchReader, Origin};
use super::csv::CsvOptions;
use super::libsvm::MAX_DENSE_VALUES;
use super::text::io_error;
use super::{DataError, Dataset};

/// Reads a Parquet file (see the module docs).
pub fn read_parquet(path: &Path, opts: &CsvOptions) -> Result<Dataset, DataError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| io_error(&name, e))?;
    let parquet_error = |e: parquet::errors::ParquetError| DataError::Parquet {
        file: name.clone(),
        message: e.to_string(),
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_error)?;
    let metadata = builder.metadata().clone();
    // Row group boundaries, to say where a bad value sits.
    let mut row_group_ends = Vec::with_capacity(metadata.num_row_groups());
    let mut end = 0usize;
    for group in metadata.row_groups() {
        end += usize::try_from(group.num_rows()).unwrap_or(0);
        row_group_ends.push(end);
    }
    let origin = Origin::Parquet {
        file: name.clone(),
        row_group_ends,
    };
    let mut rows = BatchReader::new(origin, &builder.schema().clone(), opts)?;
    let n_rows = usize::try_from(metadata.file_metadata().num_rows()).unwrap_or(usize::MAX);
    let d = rows.n_features();
    if n_rows
        .checked_mul(d)
        .is_none_or(|cells| cells > MAX_DENSE_VALUES)
    {
        return Err(DataError::TooLarge {
            file: name,
            rows: n_rows,
            columns: d,
            limit: MAX_DENSE_VALUES,
        });
    }
    rows.reserve(n_rows);
    let mask = ProjectionMask::roots(builder.parquet_schema(), rows.used_columns());
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(parquet_error)?;
    for batch in reader {
        rows.push(&batch.map_err(|e| DataError::Parquet {
            file: name.clone(),
            message: e.to_string(),
        })?)?;
    }
    rows.finish(opts)
}
