//! Errors of the data layer.
//!
//! Every error about a file names it (its path, or `builtin:NAME` for embedded data) and,
//! where it applies, the 1-based line and the column, says what was expected, and where
//! the fix is obvious, what to do next. Line numbers count physical lines of the file,
//! including the header, blank lines and comments, so they match what an editor shows.

use std::fmt::Write as _;

/// How many names an error message lists before summarising the rest.
const LISTED_NAMES: usize = 20;

/// An error reading or preparing data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Inconsistent shapes or ids passed to [`super::Dataset::new`].
    #[error("inconsistent dataset: {0}")]
    Shape(String),

    /// A label selection (`--labels`, `--positive`) does not fit the data.
    #[error("{file}: {message}")]
    Labels {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },

    /// The file could not be opened or read.
    #[error("{file}: cannot read the file: {source}")]
    Io {
        /// The file.
        file: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// The file has no header row or no data rows.
    #[error("{file}: the file is empty: {what}")]
    Empty {
        /// The file.
        file: String,
        /// What is missing, e.g. "no header row".
        what: &'static str,
    },

    /// A line is not valid UTF-8.
    #[error("{file}:{line}: the line is not valid UTF-8; save the file as UTF-8")]
    NotUtf8 {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
    },

    /// A line is longer than the reader accepts.
    #[error(
        "{file}:{line}: the line is longer than {limit} bytes; refusing to read it \
         (is this really a text data file?)"
    )]
    LineTooLong {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The limit in bytes.
        limit: usize,
    },

    /// A line has more columns (or a LIBSVM index is larger) than the reader accepts.
    #[error("{file}:{line}: more than {limit} columns; refusing to read the file")]
    TooManyColumns {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The limit on the number of columns.
        limit: usize,
    },

    /// A sparse file would need too many values once stored densely.
    #[error(
        "{file}: {rows} rows × {columns} features is more than {limit} values to store \
         densely; refusing to allocate (split the file or reduce the feature indices)"
    )]
    TooLarge {
        /// The file.
        file: String,
        /// Number of data rows.
        rows: usize,
        /// Number of features.
        columns: usize,
        /// The limit on rows × features.
        limit: usize,
    },

    /// A double-quoted field is not closed, or text follows its closing quote.
    #[error(
        "{file}:{line}: malformed quoted field in column {column_number}: expected a closing \
         '\"' followed by ',' or the end of the line (write a quote inside a field as \"\")"
    )]
    Quote {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// 1-based column position.
        column_number: usize,
    },

    /// The header has an empty column name.
    #[error("{file}:{line}: column {column_number} of the header has no name; name every column")]
    EmptyColumnName {
        /// The file.
        file: String,
        /// 1-based line number of the header.
        line: usize,
        /// 1-based column position.
        column_number: usize,
    },

    /// The header names a column twice.
    #[error(
        "{file}:{line}: the header names column \"{column}\" twice; column names must be unique"
    )]
    DuplicateColumn {
        /// The file.
        file: String,
        /// 1-based line number of the header.
        line: usize,
        /// The repeated name.
        column: String,
    },

    /// A requested column does not exist.
    #[error(
        "{file}: no column named \"{column}\" ({role}); available columns: {}",
        list_names(available)
    )]
    UnknownColumn {
        /// The file.
        file: String,
        /// The requested column.
        column: String,
        /// What the column was wanted for: "target", "id", "feature" or "column to ignore".
        role: &'static str,
        /// The columns of the file.
        available: Vec<String>,
    },

    /// One column was asked to play two roles (e.g. id and target).
    #[error("{file}: column \"{column}\" cannot be both the {first} and the {second}")]
    ColumnRole {
        /// The file.
        file: String,
        /// The column.
        column: String,
        /// Its first role.
        first: &'static str,
        /// Its second role.
        second: &'static str,
    },

    /// A target encoding was requested but no target column was named.
    #[error("{file}: the task needs a target column but none was named; name the target column")]
    NoTargetColumn {
        /// The file.
        file: String,
    },

    /// The file's format was neither declared nor recognisable.
    #[error("{file}: cannot tell the file's format: {reason}; declare it (csv, libsvm or parquet)")]
    UnknownFormat {
        /// The file.
        file: String,
        /// What was seen.
        reason: String,
    },

    /// A Parquet file could not be read (corrupt, an unsupported codec or type).
    #[error("{file}: cannot read the Parquet file: {message}")]
    Parquet {
        /// The file.
        file: String,
        /// The Parquet reader's message.
        message: String,
    },

    /// A value of a Parquet column cannot be used.
    #[error("{file}: row group {row_group}, row {row}: column \"{column}\": {reason}")]
    ParquetValue {
        /// The file.
        file: String,
        /// 0-based row group.
        row_group: usize,
        /// 1-based row of the file.
        row: usize,
        /// The column (with `[k]` for an element of a list column).
        column: String,
        /// What is wrong and what to do.
        reason: String,
    },

    /// An in-memory Arrow table (a DataFrame handed over through the Arrow C data
    /// interface) could not be read: a column of the wrong type, a stream that failed.
    #[error("{source_name}: {message}")]
    Arrow {
        /// What the data is called (e.g. "X").
        source_name: String,
        /// What is wrong and what to do.
        message: String,
    },

    /// A value of an in-memory Arrow table cannot be used.
    #[error("{source_name}: row {row} (counting from 0): column \"{column}\": {reason}")]
    ArrowValue {
        /// What the data is called (e.g. "X").
        source_name: String,
        /// 0-based row, as the caller's DataFrame counts it.
        row: usize,
        /// The column (with `[k]` for an element of a list column).
        column: String,
        /// What is wrong and what to do.
        reason: String,
    },

    /// The options do not fit the file format.
    #[error("{file}: {reason}")]
    Options {
        /// The file.
        file: String,
        /// What is wrong and what to do.
        reason: String,
    },

    /// A data row has a different number of fields from the header.
    #[error(
        "{file}:{line}: expected {expected} fields (as in the header) but found {found}; \
         check for missing or extra commas"
    )]
    Ragged {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// Fields in the header.
        expected: usize,
        /// Fields on this line.
        found: usize,
    },

    /// A cell is empty.
    #[error("{file}:{line}: column \"{column}\": missing value; fill it in or remove the row")]
    MissingValue {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The column.
        column: String,
    },

    /// A cell that must be a number is not one.
    #[error(
        "{file}:{line}: column \"{column}\": expected a number, found \"{value}\"; if this text \
         column is not a feature, ignore it"
    )]
    NotNumeric {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The column.
        column: String,
        /// The offending text.
        value: String,
    },

    /// A cell is NaN or infinite (written literally, or overflowing f64).
    #[error(
        "{file}:{line}: column \"{column}\": expected a finite number, found \"{value}\"; \
         NaN and infinite values are not allowed, remove or replace them"
    )]
    NotFinite {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The column.
        column: String,
        /// The offending text.
        value: String,
    },

    /// Two rows have the same id.
    #[error(
        "{file}:{line}: column \"{column}\": duplicate id \"{id}\" (first seen on line \
         {first_line}); ids must be unique so that removal requests name one row"
    )]
    DuplicateId {
        /// The file.
        file: String,
        /// 1-based line number of the repeat.
        line: usize,
        /// The id column.
        column: String,
        /// The repeated id.
        id: String,
        /// 1-based line number where the id first appeared.
        first_line: usize,
    },

    /// A classification target has only one class.
    #[error(
        "{file}: column \"{column}\": every row has the label \"{label}\"; classification \
         needs at least two classes"
    )]
    SingleClass {
        /// The file.
        file: String,
        /// The target column.
        column: String,
        /// The only label.
        label: String,
    },

    /// The requested positive label is not one of the two labels of the file.
    #[error(
        "{file}: column \"{column}\": the positive label \"{positive}\" is not one of the \
         labels {}; choose one of them",
        quote_names(labels)
    )]
    PositiveNotFound {
        /// The file.
        file: String,
        /// The target column.
        column: String,
        /// The requested positive label.
        positive: String,
        /// The two labels of the file.
        labels: Vec<String>,
    },

    /// A positive label was given but the target has three or more classes.
    #[error(
        "{file}: column \"{column}\": a positive label (\"{positive}\") only applies to two \
         classes, but the column has {n_classes}; drop the positive label"
    )]
    PositiveWithMulticlass {
        /// The file.
        file: String,
        /// The target column.
        column: String,
        /// The requested positive label.
        positive: String,
        /// Number of classes found.
        n_classes: usize,
    },

    /// A label is not one of the labels of a given encoding.
    #[error(
        "{file}:{line}: column \"{column}\": unknown label \"{label}\"; the model knows {}",
        quote_names(known)
    )]
    UnknownLabel {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The target column.
        column: String,
        /// The unknown label.
        label: String,
        /// The labels of the encoding.
        known: Vec<String>,
    },

    /// A LIBSVM token is malformed.
    #[error("{file}:{line}: bad token \"{token}\": {reason}")]
    LibsvmToken {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The token.
        token: String,
        /// What was expected.
        reason: &'static str,
    },

    /// LIBSVM feature indices are not strictly increasing.
    #[error(
        "{file}:{line}: feature index {index} follows index {previous}; indices must be \
         strictly increasing within a line"
    )]
    LibsvmOrder {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The offending index.
        index: usize,
        /// The index before it.
        previous: usize,
    },

    /// A LIBSVM feature index exceeds the declared number of features.
    #[error(
        "{file}:{line}: feature index {index} is above the declared number of features \
         {n_features}"
    )]
    LibsvmIndexRange {
        /// The file.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The offending index.
        index: usize,
        /// The declared number of features.
        n_features: usize,
    },

    /// A scale constant is not a finite positive number.
    #[error("preprocessing: the scale for {feature} is {value}; scales must be finite and > 0")]
    BadScale {
        /// The feature ("the default" for the default scale).
        feature: String,
        /// The offending value.
        value: f64,
    },

    /// The clip norm is not a finite positive number.
    #[error("preprocessing: the clip norm is {value}; it must be finite and > 0")]
    BadClipNorm {
        /// The offending value.
        value: f64,
    },

    /// A scale was given for a feature the data does not have.
    #[error(
        "preprocessing: a scale is given for \"{feature}\", which is not a feature; \
         features: {}",
        list_names(available)
    )]
    UnknownScaleFeature {
        /// The unknown feature.
        feature: String,
        /// The features of the data.
        available: Vec<String>,
    },

    /// Scaling made a value overflow.
    #[error(
        "preprocessing: row \"{id}\", feature \"{feature}\" is not finite after scaling; \
         use a smaller scale"
    )]
    ScaledNotFinite {
        /// The row id.
        id: String,
        /// The feature.
        feature: String,
    },

    /// No embedded dataset has this name.
    #[error(
        "no builtin dataset named \"{name}\"; available: {}",
        list_names(available)
    )]
    UnknownBuiltin {
        /// The requested name.
        name: String,
        /// The embedded datasets.
        available: Vec<String>,
    },
}

/// Lists names for a message, comma separated, truncated after [`LISTED_NAMES`].
fn list_names(names: &[String]) -> String {
    let mut out = names
        .iter()
        .take(LISTED_NAMES)
        .map(|n| crate::echo::echo(n))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LISTED_NAMES {
        // Writing to a String cannot fail.
        let _ = write!(out, ", … ({} more)", names.len() - LISTED_NAMES);
    }
    if names.is_empty() {
        out.push_str("(none)");
    }
    out
}

/// Lists labels for a message, each in double quotes.
fn quote_names(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    list_names(&quoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_truncated() {
        let names: Vec<String> = (0..25).map(|i| format!("c{i}")).collect();
        let listed = list_names(&names);
        assert!(listed.starts_with("c0, c1"));
        assert!(listed.ends_with("… (5 more)"));
        assert_eq!(list_names(&[]), "(none)");
    }
}
