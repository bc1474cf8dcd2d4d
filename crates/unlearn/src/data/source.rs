//! Loading data from a source string: `builtin:NAME`, or a CSV, LIBSVM or Parquet file.
//!
//! The format of a file is the one the caller declares, else the one its extension names
//! unambiguously (`.csv`; `.svm`, `.libsvm`, `.svmlight`; `.parquet`, `.pq`), else it is
//! *sniffed* ([`detect_format`]): the Parquet magic bytes, or a first line with commas
//! (CSV), or `label index:value …` tokens (LIBSVM). A file that fits none of these is
//! refused with a request to declare the format: guessing wrong silently drops the
//! target (a CSV read as LIBSVM has no features and a meaningless label column).

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use super::builtin::builtin;
use super::csv::{CsvOptions, read_csv};
use super::libsvm::{LibsvmOptions, read_libsvm};
use super::text::{io_error, shorten};
use super::{DataError, Dataset};

/// A file format the readers understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataFormat {
    /// A header row, then comma-separated fields ([`super::csv`]).
    Csv,
    /// `label index:value …` lines ([`super::libsvm`]).
    Libsvm,
    /// Apache Parquet ([`super::parquet`], with the `parquet` feature).
    Parquet,
}

impl DataFormat {
    /// The names [`DataFormat::from_str`] accepts, in order.
    pub const NAMES: [&'static str; 3] = ["csv", "libsvm", "parquet"];

    /// The file extensions (case-insensitive) that name this format.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::Csv => &["csv"],
            Self::Libsvm => LIBSVM_EXTENSIONS,
            Self::Parquet => &["parquet", "pq"],
        }
    }
}

impl fmt::Display for DataFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Csv => "csv",
            Self::Libsvm => "libsvm",
            Self::Parquet => "parquet",
        })
    }
}

impl FromStr for DataFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Self::Csv),
            "libsvm" | "svmlight" => Ok(Self::Libsvm),
            "parquet" => Ok(Self::Parquet),
            _ => Err(format!(
                "unknown format '{s}': expected one of {}",
                Self::NAMES.join(", ")
            )),
        }
    }
}

/// File extensions (case-insensitive) read as LIBSVM. `.txt` is not one of them: text
/// files are as often CSV, so they are sniffed ([`detect_format`]).
pub const LIBSVM_EXTENSIONS: &[&str] = &["svm", "libsvm", "svmlight"];

/// How many bytes [`detect_format`] reads to decide.
const SNIFF_BYTES: u64 = 64 << 10;

/// Loads a dataset from `source`, detecting the format of a file ([`load_data_as`] with no
/// declared format).
pub fn load_data(source: &str, opts: &CsvOptions) -> Result<Dataset, DataError> {
    load_data_as(source, None, opts)
}

/// Loads a dataset from `source`:
///
/// * `builtin:NAME` — an embedded dataset; `opts.target` and `opts.id` default to the
///   dataset's target and id columns (with [`super::TargetSpec::None`] the target column
///   is then ignored rather than read as a feature). `format` may only be CSV (it is
///   embedded as CSV).
/// * a file, in `format` if given, else in the format [`detect_format`] finds:
///   - CSV and Parquet are read with `opts`;
///   - LIBSVM has its labels encoded per `opts.spec`; its target is the first token of a
///     line, so `opts.target` is refused, as are `opts.id` (rows are numbered from 0) and
///     `opts.ignore` (there are no named columns); `opts.features`, if given, must be
///     `f1`..`fd` and fixes d.
pub fn load_data_as(
    source: &str,
    format: Option<DataFormat>,
    opts: &CsvOptions,
) -> Result<Dataset, DataError> {
    if let Some(name) = source.strip_prefix("builtin:") {
        if let Some(f) = format.filter(|&f| f != DataFormat::Csv) {
            return Err(DataError::Options {
                file: source.to_string(),
                reason: format!(
                    "the builtin datasets are embedded as CSV; they cannot be read as {f}"
                ),
            });
        }
        let data = builtin(name)?;
        let opts = CsvOptions {
            target: opts
                .target
                .clone()
                .or_else(|| Some(data.target.to_string())),
            id: opts.id.clone().or_else(|| Some(data.id.to_string())),
            ..opts.clone()
        };
        return data.load(&opts);
    }
    let path = Path::new(source);
    let format = match format {
        Some(f) => f,
        None => detect_format(path)?,
    };
    match format {
        DataFormat::Csv => read_csv(path, opts),
        DataFormat::Libsvm => read_libsvm(path, &libsvm_options(source, opts)?),
        DataFormat::Parquet => read_parquet(path, opts),
    }
}

#[cfg(feature = "parquet")]
fn read_parquet(path: &Path, opts: &CsvOptions) -> Result<Dataset, DataError> {
    super::parquet::read_parquet(path, opts)
}

#[cfg(not(feature = "parquet"))]
fn read_parquet(path: &Path, _opts: &CsvOptions) -> Result<Dataset, DataError> {
    Err(DataError::Options {
        file: path.display().to_string(),
        reason: "this build reads no Parquet (the `parquet` feature of the unlearn crate is \
                 off); convert the file to CSV or rebuild with the feature"
            .into(),
    })
}

/// The format of the file at `path`: the one its extension names, else sniffed from its
/// first bytes — `PAR1` is Parquet; otherwise the first line that is neither blank nor a
/// `#` comment decides: with a comma it is CSV, as `label index:value …` (at least one
/// `index:value` token) it is LIBSVM. Anything else (one bare word, tabs or semicolons)
/// is an [`DataError::UnknownFormat`] asking for the format to be declared.
pub fn detect_format(path: &Path) -> Result<DataFormat, DataError> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let by_extension = [DataFormat::Csv, DataFormat::Libsvm, DataFormat::Parquet]
        .into_iter()
        .find(|f| {
            f.extensions()
                .iter()
                .any(|x| x.eq_ignore_ascii_case(extension))
        });
    if let Some(format) = by_extension {
        return Ok(format);
    }
    let name = path.display().to_string();
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(SNIFF_BYTES).read_to_end(&mut head))
        .map_err(|e| io_error(&name, e))?;
    sniff(&name, &head)
}

/// Decides the format from a file's first bytes (see [`detect_format`]).
fn sniff(file: &str, head: &[u8]) -> Result<DataFormat, DataError> {
    if head.starts_with(b"PAR1") {
        return Ok(DataFormat::Parquet);
    }
    let unknown = |reason: String| DataError::UnknownFormat {
        file: file.to_string(),
        reason,
    };
    let head = head.strip_prefix("\u{feff}".as_bytes()).unwrap_or(head);
    // The last line may be cut at SNIFF_BYTES; judge only whole lines when there are some.
    let whole = match head.iter().rposition(|&b| b == b'\n') {
        Some(end) => &head[..end],
        None => head,
    };
    let text = String::from_utf8_lossy(whole);
    let Some(line) = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
    else {
        return Err(unknown("it has no data line".into()));
    };
    if line.contains(',') {
        return Ok(DataFormat::Csv);
    }
    let content = line.split_once('#').map_or(line, |(before, _)| before);
    let mut tokens = content.split_whitespace();
    let label = tokens.next().unwrap_or("");
    let entries: Vec<&str> = tokens.filter(|t| !t.starts_with("qid:")).collect();
    let is_entry = |t: &&str| {
        t.split_once(':')
            .is_some_and(|(i, v)| i.parse::<usize>().is_ok() && v.parse::<f64>().is_ok())
    };
    if !label.contains(':') && !entries.is_empty() && entries.iter().all(is_entry) {
        return Ok(DataFormat::Libsvm);
    }
    Err(unknown(format!(
        "its first line \"{}\" is neither CSV (no comma) nor LIBSVM (label index:value …)",
        shorten(line)
    )))
}

/// Translates CSV options to LIBSVM options, rejecting those LIBSVM cannot honour.
fn libsvm_options(file: &str, opts: &CsvOptions) -> Result<LibsvmOptions, DataError> {
    let options_error = |reason: String| DataError::Options {
        file: file.to_string(),
        reason,
    };
    if let Some(target) = &opts.target {
        return Err(options_error(format!(
            "a LIBSVM file's target is the first token of each line, so no column \"{}\" \
             can be the target; drop the target column (or, if this is really a CSV file, \
             declare the format csv)",
            shorten(target)
        )));
    }
    if let Some(id) = &opts.id {
        return Err(options_error(format!(
            "LIBSVM files have no id column (rows are numbered from 0), so \"{}\" cannot \
             be the id; drop the id option or convert the file to CSV",
            shorten(id)
        )));
    }
    if !opts.ignore.is_empty() {
        return Err(options_error(format!(
            "LIBSVM files have no named columns to ignore (\"{}\"); drop the ignore option",
            shorten(&opts.ignore.join(","))
        )));
    }
    if let Some(subject) = &opts.subject {
        return Err(options_error(format!(
            "LIBSVM files have no subject column (a line is a label and index:value pairs), \
             so \"{subject}\" cannot name the data subjects; drop the subject option or \
             convert the file to CSV with a subject column"
        )));
    }
    let n_features = match &opts.features {
        Some(names) => {
            let misnamed = (1..).zip(names).find(|(j, name)| **name != format!("f{j}"));
            if let Some((j, name)) = misnamed {
                return Err(options_error(format!(
                    "LIBSVM features are named f1, f2, …; feature {j} is named \"{}\"",
                    shorten(name)
                )));
            }
            Some(names.len())
        }
        None => None,
    };
    Ok(LibsvmOptions {
        spec: opts.spec.clone(),
        n_features,
    })
}

/// The target column a source implies when the user names none: the builtin dataset's
/// target for `builtin:NAME`, none otherwise.
pub fn default_target(source: &str) -> Option<String> {
    let name = source.strip_prefix("builtin:")?;
    builtin(name).ok().map(|b| b.target.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_tells_csv_libsvm_and_parquet_apart_or_refuses() {
        let sniffed = |text: &[u8]| sniff("f", text);
        assert_eq!(sniffed(b"x,y,label\n1,2,a\n").ok(), Some(DataFormat::Csv));
        assert_eq!(
            sniffed(b"\xEF\xBB\xBF# comment\n\n+1 1:0.5 3:2 # c\n").ok(),
            Some(DataFormat::Libsvm)
        );
        assert_eq!(sniffed(b"2 qid:1 4:1e-3\n").ok(), Some(DataFormat::Libsvm));
        assert_eq!(sniffed(b"PAR1\x15\x04").ok(), Some(DataFormat::Parquet));
        for ambiguous in [&b"x;y;label\n1;2;a\n"[..], b"label\n1\n", b"", b"a b c\n"] {
            assert!(
                matches!(sniffed(ambiguous), Err(DataError::UnknownFormat { .. })),
                "{}",
                String::from_utf8_lossy(ambiguous)
            );
        }
    }

    #[test]
    fn format_names_round_trip() {
        for name in DataFormat::NAMES {
            assert_eq!(
                name.parse::<DataFormat>().map(|f| f.to_string()),
                Ok(name.into())
            );
        }
        assert!("tsv".parse::<DataFormat>().is_err());
    }
}
