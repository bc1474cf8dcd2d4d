//! Loading data from a source string: `builtin:NAME`, a LIBSVM file, or a CSV file.

use std::path::Path;

use super::builtin::builtin;
use super::csv::{CsvOptions, read_csv};
use super::libsvm::{LibsvmOptions, read_libsvm};
use super::{DataError, Dataset};

/// File extensions (case-insensitive) read as LIBSVM.
pub const LIBSVM_EXTENSIONS: &[&str] = &["svm", "libsvm", "svmlight", "txt"];

/// Loads a dataset from `source`:
///
/// * `builtin:NAME` — an embedded dataset; `opts.target` and `opts.id` default to the
///   dataset's target and id columns (with [`super::TargetSpec::None`] the target column
///   is then ignored rather than read as a feature).
/// * a path ending in `.svm`, `.libsvm`, `.svmlight` or `.txt` — LIBSVM, with the labels
///   encoded per `opts.spec`. `opts.target` is ignored (the label is the first token);
///   `opts.id` is an error (rows are numbered from 0); `opts.features`, if given, must be
///   `f1`..`fd` and fixes d.
/// * any other path — CSV, read with `opts`.
pub fn load_data(source: &str, opts: &CsvOptions) -> Result<Dataset, DataError> {
    if let Some(name) = source.strip_prefix("builtin:") {
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
    if is_libsvm(path) {
        read_libsvm(path, &libsvm_options(source, opts)?)
    } else {
        read_csv(path, opts)
    }
}

/// True if the path's extension marks a LIBSVM file.
fn is_libsvm(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| LIBSVM_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Translates CSV options to LIBSVM options, rejecting those LIBSVM cannot honour.
fn libsvm_options(file: &str, opts: &CsvOptions) -> Result<LibsvmOptions, DataError> {
    let options_error = |reason: String| DataError::Options {
        file: file.to_string(),
        reason,
    };
    if let Some(id) = &opts.id {
        return Err(options_error(format!(
            "LIBSVM files have no id column (rows are numbered from 0), so \"{id}\" cannot \
             be the id; drop the id option or convert the file to CSV"
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
                    "LIBSVM features are named f1, f2, …; feature {j} is named \"{name}\""
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
