//! LIBSVM / SVMlight reader: `label index:value index:value … [# comment]`.
//!
//! Feature indices are 1-based and strictly increasing within a line; absent features are
//! 0. Blank lines and lines starting with `#` are skipped, text after `#` is a comment, and
//! `qid:` tokens (ranking groups) are ignored. Features are named `f1`..`fd`, where d is
//! [`LibsvmOptions::n_features`] or else the largest index seen; rows are numbered `"0"`,
//! `"1"`, … in file order. The label column is called `label` in messages.
//!
//! An inferred d depends on the rows (remove every row that mentions the last index and a
//! retrain reads fewer features), so the dataset records it as not declared
//! ([`super::Declared::features`]) and `shape::ShapeGuard` watches that column; a declared
//! d (`unlearn train --features N`) is data-independent.
//!
//! The file is sparse but the [`Dataset`] is dense, so the reader refuses indices above
//! [`MAX_COLUMNS`] and files whose dense size would exceed [`MAX_DENSE_VALUES`] before
//! allocating anything of that size.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use super::targets::{RawTarget, encode_targets};
use super::text::{Cell, MAX_COLUMNS, io_error, shorten, visit_reader, visit_text};
use super::{DataError, Dataset, Declared, TargetSpec};

/// Most values (rows × features) a LIBSVM file may expand to: 2²⁹, i.e. 4 GiB of f64.
pub const MAX_DENSE_VALUES: usize = 1 << 29;

/// Name of the label column in error messages.
const LABEL: &str = "label";

/// How to read a LIBSVM file.
#[derive(Debug, Clone, PartialEq)]
pub struct LibsvmOptions {
    /// How to encode the labels; [`TargetSpec::None`] ignores them.
    pub spec: TargetSpec,
    /// The number of features d; indices above it are an error. `None`: the largest index.
    pub n_features: Option<usize>,
}

/// Reads a LIBSVM file (see the module docs), one line at a time.
pub fn read_libsvm(path: &Path, opts: &LibsvmOptions) -> Result<Dataset, DataError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| io_error(&name, e))?;
    let mut parser = Parser::new(&name, opts)?;
    visit_reader(&name, BufReader::new(file), |n, line| parser.line(n, line))?;
    parser.finish()
}

/// Parses LIBSVM text; `file_name` is used in error messages.
pub fn parse_libsvm(
    file_name: &str,
    text: &str,
    opts: &LibsvmOptions,
) -> Result<Dataset, DataError> {
    let mut parser = Parser::new(file_name, opts)?;
    visit_text(file_name, text, |n, line| parser.line(n, line))?;
    parser.finish()
}

/// Incremental parser: collects sparse entries, densifies at the end.
struct Parser<'a> {
    file: &'a str,
    opts: &'a LibsvmOptions,
    /// Nonzero entries `(row, 0-based feature, value)`.
    entries: Vec<(usize, usize, f64)>,
    labels: Vec<RawTarget>,
    n_rows: usize,
    max_index: usize,
}

impl<'a> Parser<'a> {
    fn new(file: &'a str, opts: &'a LibsvmOptions) -> Result<Self, DataError> {
        if let Some(d) = opts.n_features.filter(|&d| d > MAX_COLUMNS) {
            return Err(DataError::Options {
                file: file.to_string(),
                reason: format!("{d} features declared; the reader accepts at most {MAX_COLUMNS}"),
            });
        }
        Ok(Self {
            file,
            opts,
            entries: Vec::new(),
            labels: Vec::new(),
            n_rows: 0,
            max_index: 0,
        })
    }

    /// Reads one line: skips blanks and comments, else a label and `index:value` tokens.
    fn line(&mut self, number: usize, line: &str) -> Result<(), DataError> {
        let content = line.split_once('#').map_or(line, |(before, _)| before);
        let mut tokens = content.split_whitespace();
        let Some(label) = tokens.next() else {
            return Ok(());
        };
        if label.contains(':') {
            return Err(self.bad_token(number, label, "a line must start with its label"));
        }
        self.labels.push((number, label.to_string()));
        let mut previous = 0;
        for token in tokens.filter(|t| !t.starts_with("qid:")) {
            let (index, value) = self.entry(number, token)?;
            if index <= previous {
                return Err(DataError::LibsvmOrder {
                    file: self.file.to_string(),
                    line: number,
                    index,
                    previous,
                });
            }
            previous = index;
            if value != 0.0 {
                self.entries.push((self.n_rows, index - 1, value));
            }
        }
        self.max_index = self.max_index.max(previous);
        self.n_rows += 1;
        Ok(())
    }

    /// Parses one `index:value` token and checks the index range.
    fn entry(&self, number: usize, token: &str) -> Result<(usize, f64), DataError> {
        let (index, value) = token
            .split_once(':')
            .ok_or_else(|| self.bad_token(number, token, "expected index:value"))?;
        let index: usize = index
            .parse()
            .map_err(|_| self.bad_token(number, token, "the index must be a positive integer"))?;
        if index == 0 {
            return Err(self.bad_token(number, token, "feature indices start at 1"));
        }
        if let Some(n_features) = self.opts.n_features.filter(|&d| index > d) {
            return Err(DataError::LibsvmIndexRange {
                file: self.file.to_string(),
                line: number,
                index,
                n_features,
            });
        }
        if index > MAX_COLUMNS {
            return Err(DataError::TooManyColumns {
                file: self.file.to_string(),
                line: number,
                limit: MAX_COLUMNS,
            });
        }
        let column = format!("f{index}");
        let cell = Cell {
            file: self.file,
            line: number,
            column: &column,
        };
        Ok((index, cell.number(value)?))
    }

    fn bad_token(&self, line: usize, token: &str, reason: &'static str) -> DataError {
        DataError::LibsvmToken {
            file: self.file.to_string(),
            line,
            token: shorten(token),
            reason,
        }
    }

    /// Builds the dense dataset once every line has been read.
    fn finish(self) -> Result<Dataset, DataError> {
        if self.n_rows == 0 {
            return Err(DataError::Empty {
                file: self.file.to_string(),
                what: "no data rows",
            });
        }
        let d = self.opts.n_features.unwrap_or(self.max_index);
        if self
            .n_rows
            .checked_mul(d)
            .is_none_or(|cells| cells > MAX_DENSE_VALUES)
        {
            return Err(DataError::TooLarge {
                file: self.file.to_string(),
                rows: self.n_rows,
                columns: d,
                limit: MAX_DENSE_VALUES,
            });
        }
        let mut features = vec![0.0; self.n_rows * d];
        for (row, col, value) in self.entries {
            features[row * d + col] = value;
        }
        let targets = encode_targets(self.file, LABEL, &self.labels, &self.opts.spec)?;
        let ids = (0..self.n_rows).map(|i| i.to_string()).collect();
        let names = (1..=d).map(|j| format!("f{j}")).collect();
        let declared = Declared {
            classes: self.opts.spec.declares_classes(),
            features: self.opts.n_features.is_some(),
        };
        Ok(Dataset::new(ids, names, features, targets)?.with_declared(declared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qid_tokens_and_zero_values_are_ignored() {
        let opts = LibsvmOptions {
            spec: TargetSpec::Regression,
            n_features: None,
        };
        let data = parse_libsvm("t", "2.5 qid:3 1:0 3:4\n", &opts).expect("valid");
        assert_eq!(data.features(), &[0.0, 0.0, 4.0]);
        assert_eq!(data.targets().map(|t| t.values.clone()), Some(vec![2.5]));
    }

    #[test]
    fn dense_size_is_checked_before_allocating() {
        let opts = LibsvmOptions {
            spec: TargetSpec::None,
            n_features: None,
        };
        let line = format!("1 {MAX_COLUMNS}:1\n");
        let text = line.repeat(MAX_DENSE_VALUES / MAX_COLUMNS + 1);
        let err = parse_libsvm("t", &text, &opts).expect_err("too large");
        assert!(matches!(err, DataError::TooLarge { .. }));
    }
}
