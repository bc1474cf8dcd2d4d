//! Target encoding: regression values, binary labels as ±1, multiclass labels as class indices.

use serde::{Deserialize, Serialize};

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
