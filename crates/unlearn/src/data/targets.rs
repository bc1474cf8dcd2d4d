//! Target encoding: regression values, binary labels as ±1, multiclass labels as class indices.
//!
//! Everything an encoding publishes is a function of the label *set* (or of a declaration),
//! never of which row came first: a number is spelled [`canonical_label`], classes are
//! ordered by [`compare_labels`]. A retrain on the remaining rows D′ then infers the same
//! encoding whenever every class keeps a row (what `shape::ShapeGuard` checks), and with
//! [`TargetSpec::Declared`] it infers nothing at all.

use std::cmp::Ordering;
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
    /// Class labels with the classes declared up front (`unlearn train --classes`): the
    /// encoding is `classes` in the given order (numbers spelled [`canonical_label`]),
    /// whatever rows the file holds. A row whose label is not declared is an error; a
    /// declared class without rows is allowed (its one-vs-rest model trains on targets that
    /// are all −1). Two classes are binary, `positive` (else the second declared class)
    /// being +1.
    Declared {
        /// The classes, in encoding order; at least two, no two naming the same class.
        classes: Vec<String>,
        /// The +1 class of a binary declaration.
        positive: Option<String>,
    },
    /// Labels or values encoded with a known encoding (a trained model's), for evaluation.
    Encoded(TargetEncoding),
    /// Class labels as they are: every distinct label a class, in [`compare_labels`]
    /// order, as [`TargetEncoding::Multiclass`] whatever their number (one included). For
    /// selecting rows by label before a model's encoding is applied
    /// ([`super::select::keep_model_labels`]), never for training.
    AnyLabels,
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

    /// True if the classes are declared rather than inferred from the rows.
    pub fn declares_classes(&self) -> bool {
        matches!(self, Self::Declared { .. })
    }
}

/// Most class names [`TargetEncoding::describe`] spells out.
const DESCRIBED_CLASSES: usize = 12;

impl TargetEncoding {
    /// The class labels in code order — a binary encoding's −1 class, then its +1 class;
    /// the one-vs-rest classes — or `None` for a real-valued target.
    pub fn classes(&self) -> Option<Vec<String>> {
        match self {
            Self::Binary { positive, negative } => Some(vec![negative.clone(), positive.clone()]),
            Self::Multiclass { classes } => Some(classes.clone()),
            Self::Regression => None,
        }
    }

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
/// * [`TargetSpec::Classify`] infers the classes: the distinct labels, numbers spelled
///   [`canonical_label`] (so `1` and `1.0` are one class, spelled `1`), in [`compare_labels`]
///   order (numbers by value, then other labels by their text). Two classes give
///   [`TargetEncoding::Binary`] with the given positive label, or else the larger class
///   (scikit-learn's `classes_[1]`) as +1; three or more give
///   [`TargetEncoding::Multiclass`].
/// * [`TargetSpec::Declared`] uses the declared classes (see there); a label that is not
///   declared is an error naming its line.
/// * [`TargetSpec::Encoded`] maps labels with a known encoding; an unknown label is an
///   error naming its line.
/// * [`TargetSpec::AnyLabels`] makes every distinct label a class.
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
        TargetSpec::Declared { classes, positive } => ctx.declared(classes, positive.as_deref())?,
        TargetSpec::Encoded(encoding) => encoding.clone(),
        TargetSpec::AnyLabels => ctx.any_labels(raw)?,
    };
    let values = ctx.encode_all(raw, &encoding)?;
    Ok(Some(Targets { values, encoding }))
}

/// True if `label` names `class`: the same text, or both numbers of equal value.
fn same_label(class: &str, label: &str) -> bool {
    class == label || matches!((as_number(class), as_number(label)), (Some(a), Some(b)) if a == b)
}

/// The spelling a label is published under: a finite number is written as Rust's shortest
/// round-trip decimal of its value (`1.0`, `+1` and `1e0` are all `1`; `-0` is `0`), any
/// other label as it is. A function of the label's value only, so the spelling never depends
/// on which row was read first.
pub fn canonical_label(label: &str) -> String {
    match as_number(label) {
        Some(v) => v.to_string(),
        None => label.to_string(),
    }
}

/// The class order: numbers by value, before every other label, those by their text.
///
/// A total order on all labels, so the order of any set of classes is the restriction of
/// this one order: removing a class never reorders the others.
pub fn compare_labels(a: &str, b: &str) -> Ordering {
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
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
    /// Every distinct label a class, in order (see [`TargetSpec::AnyLabels`]).
    fn any_labels(&self, raw: &[RawTarget]) -> Result<TargetEncoding, DataError> {
        if let Some((line, _)) = raw.iter().find(|(_, text)| text.is_empty()) {
            return Err(self.missing(*line));
        }
        Ok(TargetEncoding::Multiclass {
            classes: ordered_classes(raw),
        })
    }

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
        match classes.as_slice() {
            [] => Err(DataError::Empty {
                file: self.file.to_string(),
                what: "no data rows",
            }),
            [only] => Err(DataError::SingleClass {
                file: self.file.to_string(),
                column: self.column.to_string(),
                label: only.clone(),
            }),
            _ => self.encoding_of(classes, positive),
        }
    }

    /// The encoding of `classes` (two or more, in order): two are binary with `positive`,
    /// else the second, as +1; more are one-vs-rest, where `positive` is an error.
    fn encoding_of(
        &self,
        classes: Vec<String>,
        positive: Option<&str>,
    ) -> Result<TargetEncoding, DataError> {
        match (classes.as_slice(), positive) {
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

    /// The encoding of declared classes: canonical spellings in the declared order, at least
    /// two and no two alike; `positive` as in [`Column::encoding_of`] (default: the second
    /// declared class).
    fn declared(
        &self,
        classes: &[String],
        positive: Option<&str>,
    ) -> Result<TargetEncoding, DataError> {
        let labels_error = |message: String| DataError::Labels {
            file: self.file.to_string(),
            message,
        };
        let classes: Vec<String> = classes.iter().map(|c| canonical_label(c.trim())).collect();
        if classes.iter().any(String::is_empty) {
            return Err(labels_error("a declared class is empty".into()));
        }
        let mut seen = BTreeSet::new();
        if let Some(twice) = classes.iter().find(|c| !seen.insert(c.as_str())) {
            return Err(labels_error(format!(
                "class '{twice}' is declared twice (numbers are compared by value)"
            )));
        }
        if classes.len() < 2 {
            return Err(labels_error(format!(
                "declare at least two classes (got {})",
                classes.join(", ")
            )));
        }
        self.encoding_of(classes, positive)
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

/// The distinct labels, spelled [`canonical_label`], in [`compare_labels`] order: a function
/// of the set of labels present, not of their order in the file.
fn ordered_classes(raw: &[RawTarget]) -> Vec<String> {
    let set: BTreeSet<String> = raw.iter().map(|(_, t)| canonical_label(t)).collect();
    let mut classes: Vec<String> = set.into_iter().collect();
    classes.sort_by(|a, b| compare_labels(a, b));
    classes
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

    /// Numbers are ordered by value and spelled canonically: `1.0` and `1` are the class `1`.
    #[test]
    fn numeric_labels_order_by_value_and_merge_spellings() {
        let t = classify(&["10", "9", "1.0", "1", "9"], None).ok().flatten();
        let t = t.expect("three classes");
        assert_eq!(
            t.encoding,
            TargetEncoding::Multiclass {
                classes: vec!["1".into(), "9".into(), "10".into()]
            }
        );
        assert_eq!(t.values, vec![2.0, 1.0, 0.0, 0.0, 1.0]);
    }

    /// Issue 10 item 1: the published spelling is a function of the label set, not of the
    /// first row. Before canonical spelling, D = [1.0, 1, 2] published "1.0" and D′ = D
    /// without its first row published "1": a certain distinguisher.
    #[test]
    fn spelling_does_not_depend_on_the_first_row() {
        let encoding = |labels: &[&str]| classify(labels, None).ok().flatten().map(|t| t.encoding);
        let d = encoding(&["1.0", "1", "+2", "2e0"]);
        assert_eq!(d, encoding(&["1", "2"]));
        assert_eq!(
            d,
            Some(TargetEncoding::Binary {
                positive: "2".into(),
                negative: "1".into()
            })
        );
        assert_eq!(canonical_label("-0"), "0");
        assert_eq!(canonical_label("0.50"), "0.5");
        assert_eq!(
            canonical_label(" a "),
            " a ",
            "text labels are kept as they are"
        );
    }

    /// Mixed labels: numbers first by value, then text; a subset keeps the order of its
    /// superset, so losing a class never reorders the others.
    #[test]
    fn class_order_is_one_total_order_on_labels() {
        let classes = |labels: &[&str]| match classify(labels, None).ok().flatten() {
            Some(Targets {
                encoding: TargetEncoding::Multiclass { classes },
                ..
            }) => classes,
            other => panic!("expected multiclass, got {other:?}"),
        };
        assert_eq!(classes(&["b", "10", "9", "a"]), ["9", "10", "a", "b"]);
        assert_eq!(classes(&["b", "10", "9"]), ["9", "10", "b"]);
        assert_eq!(classes(&["b", "10", "a"]), ["10", "a", "b"]);
    }

    fn declared(
        labels: &[&str],
        classes: &[&str],
        positive: Option<&str>,
    ) -> Result<Option<Targets>, DataError> {
        let spec = TargetSpec::Declared {
            classes: classes.iter().map(|c| c.to_string()).collect(),
            positive: positive.map(str::to_string),
        };
        encode_targets("f.csv", "y", &raw(labels), &spec)
    }

    /// Declared classes: the given order, a class without rows kept, numbers canonical.
    #[test]
    fn declared_classes_fix_the_encoding_whatever_the_rows() {
        let t = declared(&["a", "c", "a"], &["c", "a", "b"], None)
            .ok()
            .flatten()
            .expect("declared");
        assert_eq!(
            t.encoding,
            TargetEncoding::Multiclass {
                classes: vec!["c".into(), "a".into(), "b".into()]
            }
        );
        assert_eq!(t.values, vec![1.0, 0.0, 1.0]);
        let t = declared(&["2.0", "2"], &["2", "1.0"], None)
            .ok()
            .flatten()
            .expect("binary");
        assert_eq!(
            t.encoding,
            TargetEncoding::Binary {
                positive: "1".into(),
                negative: "2".into()
            },
            "the second declared class is +1 by default, spelled canonically"
        );
        assert_eq!(t.values, vec![-1.0, -1.0]);
        let t = declared(&["x", "y"], &["x", "y"], Some("x")).ok().flatten();
        assert_eq!(t.map(|t| t.values), Some(vec![1.0, -1.0]));
    }

    /// A label that was not declared is an error naming file, line and label; bad
    /// declarations are refused.
    #[test]
    fn declared_classes_refuse_other_labels_and_bad_declarations() {
        let err = declared(&["a", "b", "d"], &["a", "b", "c"], None).expect_err("d");
        assert!(
            matches!(&err, DataError::UnknownLabel { line: 4, label, .. } if label == "d"),
            "{err}"
        );
        assert!(err.to_string().starts_with("f.csv:4:"), "{err}");
        let err = declared(&["1"], &["1", "1.0"], None).expect_err("twice");
        assert!(
            err.to_string().contains("class '1' is declared twice"),
            "{err}"
        );
        let err = declared(&["a"], &["a"], None).expect_err("one class");
        assert!(err.to_string().contains("at least two classes"), "{err}");
        let err = declared(&["a"], &["a", "b", "c"], Some("a")).expect_err("positive");
        assert!(matches!(err, DataError::PositiveWithMulticlass { .. }));
        let err = declared(&["a"], &["a", "b"], Some("z")).expect_err("positive");
        assert!(matches!(err, DataError::PositiveNotFound { .. }));
    }

    /// Two classes: the larger is +1, spelled canonically (`+1` is `1`).
    #[test]
    fn binary_defaults_to_the_larger_class() {
        let t = classify(&["-1", "+1", "-1"], None)
            .ok()
            .flatten()
            .expect("binary");
        assert_eq!(t.values, vec![-1.0, 1.0, -1.0]);
        assert_eq!(t.encoding.describe(), "binary: \"1\" → +1, \"-1\" → −1");
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
