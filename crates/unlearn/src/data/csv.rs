//! CSV reader: a header row, comma-separated fields, one row per line.
//!
//! Fields are trimmed of surrounding whitespace and may be double-quoted (a quote inside
//! a quoted field is written `""`); a quoted field may not span lines, so line numbers in
//! errors are always physical lines. Fully blank lines are skipped, CRLF line endings, a
//! UTF-8 byte-order mark and a missing final newline are accepted.
//!
//! Column roles: the optional target column is encoded per [`TargetSpec`]; the optional
//! id column gives the row ids (else rows are numbered `"0"`, `"1"`, … in file order);
//! every other column is a numeric feature, except the [`CsvOptions::ignore`]d ones,
//! unless [`CsvOptions::features`] names the features, in which case exactly those
//! columns are read, in that order, and the rest are ignored — this is how a trained
//! model reads the data it predicts on.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use super::columns::Header;
use super::targets::{RawTarget, encode_targets};
use super::text::{Cell, MAX_COLUMNS, io_error, shorten, visit_reader, visit_text};
use super::{DataError, Dataset, Declared, TargetSpec};

/// How to read a CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    /// Name of the target column, if any. Ignored (not read as a feature) when `spec` is
    /// [`TargetSpec::None`].
    pub target: Option<String>,
    /// Name of the id column, if any; without one rows are numbered from 0.
    pub id: Option<String>,
    /// Name of the data-subject column, if any: who each row is about (a person may own
    /// many rows; an erasure request can name them). Not a feature.
    pub subject: Option<String>,
    /// How to encode the target column.
    pub spec: TargetSpec,
    /// The feature columns, in order; `None` means every column but the target, the id
    /// and the ignored ones.
    pub features: Option<Vec<String>>,
    /// Columns to skip (text, dates, free comments): read neither as features nor as
    /// anything else. Each must exist, and none may be the target, the id or a named
    /// feature.
    pub ignore: Vec<String>,
}

impl Default for CsvOptions {
    /// No target, no id column, every column a feature.
    fn default() -> Self {
        Self {
            target: None,
            id: None,
            subject: None,
            spec: TargetSpec::None,
            features: None,
            ignore: Vec::new(),
        }
    }
}

/// Reads a CSV file (see the module docs), one line at a time.
pub fn read_csv(path: &Path, opts: &CsvOptions) -> Result<Dataset, DataError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| io_error(&name, e))?;
    let mut parser = Parser::new(&name, opts);
    visit_reader(&name, BufReader::new(file), |n, line| parser.line(n, line))?;
    parser.finish()
}

/// Parses CSV text; `file_name` is used in error messages.
pub fn parse_csv(file_name: &str, text: &str, opts: &CsvOptions) -> Result<Dataset, DataError> {
    let mut parser = Parser::new(file_name, opts);
    visit_text(file_name, text, |n, line| parser.line(n, line))?;
    parser.finish()
}

/// Which columns play which role, resolved from the header.
struct Layout {
    names: Vec<String>,
    id: Option<usize>,
    subject: Option<usize>,
    /// Index of the target column when its values are read.
    target: Option<usize>,
    features: Vec<usize>,
}

/// Incremental CSV parser: the header, then one data line at a time.
struct Parser<'a> {
    file: &'a str,
    opts: &'a CsvOptions,
    layout: Option<Layout>,
    rows: Rows,
}

/// The data rows read so far.
#[derive(Default)]
struct Rows {
    ids: Vec<String>,
    /// Line where each id was first seen.
    first_seen: HashMap<String, usize>,
    features: Vec<f64>,
    targets: Vec<RawTarget>,
    subjects: Vec<String>,
}

impl<'a> Parser<'a> {
    fn new(file: &'a str, opts: &'a CsvOptions) -> Self {
        Self {
            file,
            opts,
            layout: None,
            rows: Rows::default(),
        }
    }

    /// Consumes one line: the header if none was seen yet, else a data row.
    fn line(&mut self, number: usize, line: &str) -> Result<(), DataError> {
        if line.trim().is_empty() {
            return Ok(());
        }
        let fields = split_fields(line).map_err(|e| e.into_error(self.file, number))?;
        match &self.layout {
            None => {
                self.layout = Some(self.header(number, fields)?);
                Ok(())
            }
            Some(layout) => self.rows.push(self.file, layout, number, &fields),
        }
    }

    /// Reads the header and resolves the column roles.
    fn header(&self, number: usize, fields: Vec<Cow<str>>) -> Result<Layout, DataError> {
        let names: Vec<String> = fields.into_iter().map(Cow::into_owned).collect();
        let mut index = HashMap::with_capacity(names.len());
        for (k, name) in names.iter().enumerate() {
            if name.is_empty() {
                return Err(DataError::EmptyColumnName {
                    file: self.file.to_string(),
                    line: number,
                    column_number: k + 1,
                });
            }
            if index.insert(name.as_str(), k).is_some() {
                return Err(DataError::DuplicateColumn {
                    file: self.file.to_string(),
                    line: number,
                    column: name.clone(),
                });
            }
        }
        let header = Header::new(self.file, &names);
        let roles = header.roles(self.opts)?;
        let features = match &self.opts.features {
            Some(wanted) => wanted
                .iter()
                .map(|name| {
                    let k = header.find(name, "feature")?;
                    header.check_feature(k, &roles)?;
                    Ok(k)
                })
                .collect::<Result<Vec<usize>, DataError>>()?,
            None => (0..names.len()).filter(|&k| !roles.taken(k)).collect(),
        };
        let (id, subject, target) = (roles.id, roles.subject, roles.target);
        Ok(Layout {
            names,
            id,
            subject,
            target,
            features,
        })
    }

    /// Builds the dataset once every line has been read.
    fn finish(self) -> Result<Dataset, DataError> {
        let empty = |what| DataError::Empty {
            file: self.file.to_string(),
            what,
        };
        let layout = self.layout.ok_or_else(|| empty("no header row"))?;
        let rows = self.rows;
        if rows.ids.is_empty() {
            return Err(empty("no data rows"));
        }
        let targets = match layout.target {
            Some(t) => encode_targets(self.file, &layout.names[t], &rows.targets, &self.opts.spec)?,
            None => None,
        };
        let feature_names = layout
            .features
            .iter()
            .map(|&k| layout.names[k].clone())
            .collect();
        let declared = Declared {
            classes: self.opts.spec.declares_classes(),
            features: true,
        };
        let data =
            Dataset::new(rows.ids, feature_names, rows.features, targets)?.with_declared(declared);
        match layout.subject {
            Some(_) => data.with_subjects(rows.subjects),
            None => Ok(data),
        }
    }
}

impl Rows {
    /// Reads one data row.
    fn push(
        &mut self,
        file: &str,
        layout: &Layout,
        number: usize,
        fields: &[Cow<str>],
    ) -> Result<(), DataError> {
        if fields.len() != layout.names.len() {
            return Err(DataError::Ragged {
                file: file.to_string(),
                line: number,
                expected: layout.names.len(),
                found: fields.len(),
            });
        }
        for &k in &layout.features {
            let cell = Cell {
                file,
                line: number,
                column: &layout.names[k],
            };
            self.features.push(cell.number(&fields[k])?);
        }
        if let Some(t) = layout.target {
            self.targets.push((number, fields[t].to_string()));
        }
        if let Some(k) = layout.subject {
            if fields[k].is_empty() {
                return Err(DataError::MissingValue {
                    file: file.to_string(),
                    line: number,
                    column: layout.names[k].clone(),
                });
            }
            self.subjects.push(fields[k].to_string());
        }
        let id = match layout.id {
            Some(k) => self.checked_id(file, number, &layout.names[k], &fields[k])?,
            None => self.ids.len().to_string(),
        };
        self.ids.push(id);
        Ok(())
    }

    /// Checks that an id is present and not seen before.
    fn checked_id(
        &mut self,
        file: &str,
        number: usize,
        column: &str,
        id: &str,
    ) -> Result<String, DataError> {
        if id.is_empty() {
            return Err(DataError::MissingValue {
                file: file.to_string(),
                line: number,
                column: column.to_string(),
            });
        }
        if let Some(&first_line) = self.first_seen.get(id) {
            return Err(DataError::DuplicateId {
                file: file.to_string(),
                line: number,
                column: column.to_string(),
                id: shorten(id),
                first_line,
            });
        }
        self.first_seen.insert(id.to_string(), number);
        Ok(id.to_string())
    }
}

/// A malformed line, before the file name and line number are attached.
#[derive(Debug, PartialEq)]
enum SplitError {
    /// A quoted field is unterminated or followed by text (1-based field position).
    Quote(usize),
    /// More than [`MAX_COLUMNS`] fields.
    TooManyColumns,
}

impl SplitError {
    fn into_error(self, file: &str, line: usize) -> DataError {
        match self {
            Self::Quote(column_number) => DataError::Quote {
                file: file.to_string(),
                line,
                column_number,
            },
            Self::TooManyColumns => DataError::TooManyColumns {
                file: file.to_string(),
                line,
                limit: MAX_COLUMNS,
            },
        }
    }
}

/// Splits a line into trimmed fields, unquoting double-quoted ones.
fn split_fields(line: &str) -> Result<Vec<Cow<'_, str>>, SplitError> {
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        if fields.len() == MAX_COLUMNS {
            return Err(SplitError::TooManyColumns);
        }
        let (field, after) = next_field(rest).ok_or(SplitError::Quote(fields.len() + 1))?;
        fields.push(field);
        match after {
            Some(after) => rest = after,
            None => return Ok(fields),
        }
    }
}

/// The first field of `text` and the text after its comma (`None` at the end of the line);
/// `None` overall if the field is a malformed quoted field.
fn next_field(text: &str) -> Option<(Cow<'_, str>, Option<&str>)> {
    let text = text.trim_start();
    let Some(quoted) = text.strip_prefix('"') else {
        return Some(match text.split_once(',') {
            Some((field, after)) => (Cow::Borrowed(field.trim_end()), Some(after)),
            None => (Cow::Borrowed(text.trim_end()), None),
        });
    };
    let (field, after) = unquote(quoted)?;
    let after = after.trim_start();
    match after.strip_prefix(',') {
        Some(after) => Some((field, Some(after))),
        None if after.is_empty() => Some((field, None)),
        None => None,
    }
}

/// Reads a quoted field's content up to its closing quote (the opening one removed).
fn unquote(text: &str) -> Option<(Cow<'_, str>, &str)> {
    let mut owned: Option<String> = None;
    let mut start = 0;
    loop {
        let close = start + text[start..].find('"')?;
        if text[close + 1..].starts_with('"') {
            owned
                .get_or_insert_with(String::new)
                .push_str(&text[start..=close]);
            start = close + 2;
            continue;
        }
        let field = match owned {
            Some(mut s) => {
                s.push_str(&text[start..close]);
                Cow::Owned(s)
            }
            None => Cow::Borrowed(&text[..close]),
        };
        return Some((field, &text[close + 1..]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Result<Vec<String>, SplitError> {
        split_fields(line).map(|f| f.into_iter().map(Cow::into_owned).collect())
    }

    #[test]
    fn splits_trimmed_and_quoted_fields() {
        assert_eq!(
            split(" a , b ,c").ok(),
            Some(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            split(r#""x, ""y""" , " z ",,"#).ok(),
            Some(vec![r#"x, "y""#.into(), " z ".into(), "".into(), "".into()])
        );
    }

    #[test]
    fn rejects_malformed_quotes() {
        assert_eq!(split(r#"a,"open"#), Err(SplitError::Quote(2)));
        assert_eq!(split(r#""a"b,c"#), Err(SplitError::Quote(1)));
    }

    #[test]
    fn refuses_too_many_columns() {
        let line = ",".repeat(MAX_COLUMNS);
        assert_eq!(split(&line), Err(SplitError::TooManyColumns));
        assert_eq!(split(&line[1..]).map(|f| f.len()), Ok(MAX_COLUMNS));
    }
}
