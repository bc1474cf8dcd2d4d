//! Target encoding: regression values, binary labels as ±1, multiclass labels as class indices.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::DataError;
use super::text::{Cell, shorten};

/// How the target column's text maps to numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TargetEncoding {
    /// Real-valued targets, stored as they are.
    Regression,
    /// Two labels: `positive` is stored as +1, `negative` as −1.
    Binary { positive: String, negative: String },
    /// Three or more labels: label `classes[k]` is stored as `k as f64`.
    Multiclass { classes: Vec<String> },
}

/// Encoded targets of a dataset, one value per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// One value per row: the real target, ±1, or a class index (see [`TargetEncoding`]).
    pub values: Vec<f64>,
    /// How `values` encode the labels of the file.
    pub encoding: TargetEncoding,
}

/// What a reader should do with the target column.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetSpec {
    /// There is no target column (for example data to predict on).
    None,
    /// A real-valued target.
    Regression,
    /// Class labels, encoding inferred from the file; `positive` picks the +1 label when
    /// there are two labels.
    Classify { positive: Option<String> },
    /// Labels or values encoded with a known encoding (a trained model's), for evaluation.
    Encoded(TargetEncoding),
}

impl TargetSpec {
    /// The target a loss trains on: real values for regression; class labels otherwise,
    /// `positive` naming the +1 class of a binary problem — unless labels are being
    /// selected (`--labels`), in which case the selection re-encodes them and picks it.
    pub fn for_training(
        classification: bool,
        selecting_labels: bool,
        positive: Option<String>,
    ) -> Self {
        if !classification {
            Self::Regression
        } else if selecting_labels {
            Self::Classify { positive: None }
        } else {
            Self::Classify { positive }
        }
    }
}

/// Most class names [`TargetEncoding::describe`] spells out.
const DESCRIBED_CLASSES: usize = 12;

impl TargetEncoding {
    /// A one-line human summary, e.g. `binary: "malignant" → +1, "benign" → −1`.
    pub fn describe(&self) -> String {
        match self {
            Self::Regression => "regression: real-valued target".to_string(),
            Self::Binary { positive, negative } => {
                format!("binary: \"{positive}\" → +1, \"{negative}\" → −1")
            }
            Self::Multiclass { classes } => {
                let mut parts: Vec<String> = classes
                    .iter()
                    .take(DESCRIBED_CLASSES)
                    .enumerate()
                    .map(|(k, c)| format!("\"{c}\" → {k}"))
                    .collect();
                if classes.len() > DESCRIBED_CLASSES {
                    parts.push(format!("… ({} more)", classes.len() - DESCRIBED_CLASSES));
                }
                format!("{} classes: {}", classes.len(), parts.join(", "))
            }
        }
    }
}

/// A raw target cell: its 1-based line number and its (trimmed) text.
pub type RawTarget = (usize, String);

/// Encodes the raw target cells of column `column` of `file` under `spec`.
///
/// * [`TargetSpec::None`] gives `None`.
/// * [`TargetSpec::Regression`] parses finite numbers.
/// * [`TargetSpec::Classify`] infers the classes: numerically ordered if every label is a
///   number (labels equal as numbers, like `1` and `1.0`, are one class, spelled as first
///   seen), lexicographically otherwise. Two classes give [`TargetEncoding::Binary`] with
///   the given positive label, or else the larger class (scikit-learn's `classes_[1]`)
///   as +1; three or more give [`TargetEncoding::Multiclass`].
/// * [`TargetSpec::Encoded`] maps labels with a known encoding; an unknown label is an
///   error naming its line.
pub fn encode_targets(
    file: &str,
    column: &str,
    raw: &[RawTarget],
    spec: &TargetSpec,
) -> Result<Option<Targets>, DataError> {
    let ctx = Column { file, column };
    let encoding = match spec {
        TargetSpec::None => return Ok(None),
        TargetSpec::Regression => TargetEncoding::Regression,
        TargetSpec::Classify { positive } => ctx.infer(raw, positive.as_deref())?,
        TargetSpec::Encoded(encoding) => encoding.clone(),
    };
    let values = ctx.encode_all(raw, &encoding)?;
    Ok(Some(Targets { values, encoding }))
}

/// True if `label` names `class`: the same text, or both numbers of equal value.
fn same_label(class: &str, label: &str) -> bool {
    class == label || matches!((as_number(class), as_number(label)), (Some(a), Some(b)) if a == b)
}

/// The label as a finite number, if it is one (`-0` is read as `0`).
fn as_number(label: &str) -> Option<f64> {
    label
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| v + 0.0)
}

/// Constant-time lookup of a label's code: by exact text, else by numeric value.
struct LabelIndex<'a> {
    exact: HashMap<&'a str, f64>,
    numeric: HashMap<u64, f64>,
}

impl<'a> LabelIndex<'a> {
    /// Indexes `labels[k]` → `codes[k]`; the first of equal labels wins.
    fn new(labels: &'a [String], codes: &[f64]) -> Self {
        let mut exact = HashMap::new();
        let mut numeric = HashMap::new();
        for (label, &code) in labels.iter().zip(codes) {
            exact.entry(label.as_str()).or_insert(code);
            if let Some(v) = as_number(label) {
                numeric.entry(v.to_bits()).or_insert(code);
            }
        }
        Self { exact, numeric }
    }

    /// The code of `label`, if it names one of the labels.
    fn get(&self, label: &str) -> Option<f64> {
        self.exact
            .get(label)
            .copied()
            .or_else(|| as_number(label).and_then(|v| self.numeric.get(&v.to_bits()).copied()))
    }
}

/// The target column of a file, for error messages.
struct Column<'a> {
    file: &'a str,
    column: &'a str,
}

impl Column<'_> {
    /// Infers a classification encoding from the labels.
    fn infer(
        &self,
        raw: &[RawTarget],
        positive: Option<&str>,
    ) -> Result<TargetEncoding, DataError> {
        for (line, text) in raw {
            if text.is_empty() {
                return Err(self.missing(*line));
            }
        }
        let classes = ordered_classes(raw);
        match (classes.as_slice(), positive) {
            ([], _) => Err(DataError::Empty {
                file: self.file.to_string(),
                what: "no data rows",
            }),
            ([only], _) => Err(DataError::SingleClass {
                file: self.file.to_string(),
                column: self.column.to_string(),
                label: only.clone(),
            }),
            ([a, b], Some(p)) => self.binary_with_positive(a, b, p),
            ([a, b], None) => Ok(TargetEncoding::Binary {
                positive: b.clone(),
                negative: a.clone(),
            }),
            (_, Some(p)) => Err(DataError::PositiveWithMulticlass {
                file: self.file.to_string(),
                column: self.column.to_string(),
                positive: p.to_string(),
                n_classes: classes.len(),
            }),
            (_, None) => Ok(TargetEncoding::Multiclass { classes }),
        }
    }

    /// The binary encoding whose +1 class is `positive`, one of `a` and `b`.
    fn binary_with_positive(
        &self,
        a: &str,
        b: &str,
        positive: &str,
    ) -> Result<TargetEncoding, DataError> {
        let (positive, negative) = if same_label(a, positive) {
            (a, b)
        } else if same_label(b, positive) {
            (b, a)
        } else {
            return Err(DataError::PositiveNotFound {
                file: self.file.to_string(),
                column: self.column.to_string(),
                positive: positive.to_string(),
                labels: vec![a.to_string(), b.to_string()],
            });
        };
        Ok(TargetEncoding::Binary {
            positive: positive.to_string(),
            negative: negative.to_string(),
        })
    }

    /// Encodes every label (or value) under `encoding`.
    fn encode_all(
        &self,
        raw: &[RawTarget],
        encoding: &TargetEncoding,
    ) -> Result<Vec<f64>, DataError> {
        let (labels, codes): (Vec<String>, Vec<f64>) = match encoding {
            TargetEncoding::Regression => {
                return raw.iter().map(|(l, t)| self.number(*l, t)).collect();
            }
            TargetEncoding::Binary { positive, negative } => {
                (vec![positive.clone(), negative.clone()], vec![1.0, -1.0])
            }
            TargetEncoding::Multiclass { classes } => (
                classes.clone(),
                (0..classes.len()).map(|k| k as f64).collect(),
            ),
        };
        let index = LabelIndex::new(&labels, &codes);
        raw.iter()
            .map(|(line, text)| match index.get(text) {
                Some(code) => Ok(code),
                None if text.is_empty() => Err(self.missing(*line)),
                None => Err(self.unknown(*line, text, &labels)),
            })
            .collect()
    }

    /// Parses a regression target.
    fn number(&self, line: usize, text: &str) -> Result<f64, DataError> {
        let cell = Cell {
            file: self.file,
            line,
            column: self.column,
        };
        cell.number(text)
    }

    fn missing(&self, line: usize) -> DataError {
        DataError::MissingValue {
            file: self.file.to_string(),
            line,
            column: self.column.to_string(),
        }
    }

    fn unknown(&self, line: usize, label: &str, known: &[String]) -> DataError {
        DataError::UnknownLabel {
            file: self.file.to_string(),
            line,
            column: self.column.to_string(),
            label: shorten(label),
            known: known.to_vec(),
        }
    }
}

/// The distinct labels in class order: by value if all are numbers, else lexicographic.
fn ordered_classes(raw: &[RawTarget]) -> Vec<String> {
    let numeric: Option<Vec<f64>> = raw.iter().map(|(_, t)| as_number(t)).collect();
    match numeric {
        Some(values) => {
            // Sort by value, first-seen first among equal values, then keep the first.
            let mut classes: Vec<(f64, &str)> = values
                .into_iter()
                .zip(raw.iter().map(|(_, t)| t.as_str()))
                .collect();
            classes.sort_by(|a, b| a.0.total_cmp(&b.0));
            classes.dedup_by(|later, first| later.0 == first.0);
            classes.into_iter().map(|(_, t)| t.to_string()).collect()
        }
        None => {
            let set: BTreeSet<&str> = raw.iter().map(|(_, t)| t.as_str()).collect();
            set.into_iter().map(str::to_string).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(labels: &[&str]) -> Vec<RawTarget> {
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| (i + 2, l.to_string()))
            .collect()
    }

    fn classify(labels: &[&str], positive: Option<&str>) -> Result<Option<Targets>, DataError> {
        let spec = TargetSpec::Classify {
            positive: positive.map(str::to_string),
        };
        encode_targets("f.csv", "y", &raw(labels), &spec)
    }

    #[test]
    fn numeric_labels_order_by_value_and_merge_spellings() {
        let t = classify(&["10", "9", "1.0", "1", "9"], None).ok().flatten();
        let t = t.expect("three classes");
        assert_eq!(
            t.encoding,
            TargetEncoding::Multiclass {
                classes: vec!["1.0".into(), "9".into(), "10".into()]
            }
        );
        assert_eq!(t.values, vec![2.0, 1.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn binary_defaults_to_the_larger_class() {
        let t = classify(&["-1", "+1", "-1"], None)
            .ok()
            .flatten()
            .expect("binary");
        assert_eq!(t.values, vec![-1.0, 1.0, -1.0]);
        assert_eq!(t.encoding.describe(), "binary: \"+1\" → +1, \"-1\" → −1");
    }

    #[test]
    fn encoded_targets_map_known_labels_and_reject_others() {
        let enc = TargetEncoding::Multiclass {
            classes: vec!["a".into(), "b".into(), "c".into()],
        };
        let spec = TargetSpec::Encoded(enc);
        let t = encode_targets("f", "y", &raw(&["c", "a"]), &spec)
            .ok()
            .flatten();
        assert_eq!(t.map(|t| t.values), Some(vec![2.0, 0.0]));
        let err = encode_targets("f", "y", &raw(&["a", "z"]), &spec).expect_err("unknown");
        assert!(matches!(err, DataError::UnknownLabel { line: 3, .. }));
    }

    #[test]
    fn describe_multiclass_truncates() {
        let classes: Vec<String> = (0..15).map(|k| k.to_string()).collect();
        let text = TargetEncoding::Multiclass { classes }.describe();
        assert!(text.starts_with("15 classes: \"0\" → 0, \"1\" → 1"));
        assert!(text.ends_with("… (3 more)"));
    }
}
