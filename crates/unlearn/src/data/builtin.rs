//! The three embedded datasets (`builtin:digits`, `builtin:breast_cancer`,
//! `builtin:diabetes`), with their attribution and recommended preprocessing.
//!
//! Each is a CSV with a header row and a stable `id` column, compiled into the binary
//! (see `crates/unlearn/data/README.md` for provenance and licences).
//!
//! The recommended preprocessing of each dataset uses constants that are *not* statistics
//! of the data but documented bounds of the measurements (pixel ranges, physiological
//! ranges, units), so that removing a row does not change how the others are scaled (see
//! [`super::preprocess`]). Adopting them is optional; they are a starting point.

use std::collections::BTreeMap;

use super::csv::{CsvOptions, parse_csv};
use super::{DataError, Dataset, Preprocessing, TargetSpec};

/// Fixed preprocessing constants suggested for a builtin dataset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecommendedScale {
    /// Scale of every feature not listed in `feature_scales`.
    pub default_scale: f64,
    /// Per-feature scales, by feature name.
    pub feature_scales: &'static [(&'static str, f64)],
    /// Suggested clip norm, if the scales alone do not bound the row norm by 1.
    pub clip_norm: Option<f64>,
}

/// An embedded dataset.
#[derive(Clone, Copy, PartialEq)]
pub struct Builtin {
    /// Short name, as in `builtin:NAME`.
    pub name: &'static str,
    /// The target column.
    pub target: &'static str,
    /// The id column.
    pub id: &'static str,
    /// `"classification"` or `"regression"`.
    pub task: &'static str,
    /// One-line description: rows, features, target.
    pub description: &'static str,
    /// Source and licence.
    pub attribution: &'static str,
    /// Data-independent preprocessing constants (see [`Self::recommended_preprocessing`]).
    pub recommended_scale: RecommendedScale,
    csv: &'static str,
}

/// Digits: pixels are 0..16 and there are 64 of them, so ‖x‖₂ ≤ 16·√64 = 128; dividing
/// every pixel by 128 bounds every row's norm by 1 without clipping. The clip norm 1 never
/// fires; it records the bound R = 1 so that certificates can state data-independent bounds.
const DIGITS_SCALE: RecommendedScale = RecommendedScale {
    default_scale: 1.0 / 128.0,
    feature_scales: &[],
    clip_norm: Some(1.0),
};

/// Diabetes: each feature divided by (about) the top of its physiological range, so each
/// scaled feature is at most about 1; ten such features can still have norm up to √10,
/// hence the clip norm 1.
const DIABETES_SCALE: RecommendedScale = RecommendedScale {
    default_scale: 1.0,
    feature_scales: &[
        ("age", 1.0 / 100.0), // years
        ("sex", 1.0 / 2.0),   // coded 1 or 2
        ("bmi", 1.0 / 60.0),  // body-mass index, kg/m²
        ("bp", 1.0 / 150.0),  // mean arterial blood pressure, mm Hg
        ("s1", 1.0 / 400.0),  // total serum cholesterol, mg/dL
        ("s2", 1.0 / 300.0),  // low-density lipoproteins, mg/dL
        ("s3", 1.0 / 120.0),  // high-density lipoproteins, mg/dL
        ("s4", 1.0 / 10.0),   // total cholesterol / HDL ratio
        ("s5", 1.0 / 7.0),    // log of serum triglycerides
        ("s6", 1.0 / 150.0),  // blood glucose, mg/dL
    ],
    clip_norm: Some(1.0),
};

/// Breast cancer: each feature is divided by 10^k, where 10^k is the decade above the
/// plausible range of that kind of measurement of a cell nucleus in the digitised image:
/// radius (tens of units) /100, texture (grey-level standard deviation, tens) /100,
/// perimeter (hundreds) /1000, area (thousands) /10⁴, and the dimensionless shape
/// ratios (smoothness, compactness, concavity, concave points, symmetry, fractal
/// dimension: of order 1) /10. The `_error` (standard error) and `worst_` features share
/// the units, hence the constant, of their `mean_` feature. Clip norm 1 bounds the rows
/// the rule does not.
const BREAST_CANCER_SCALE: RecommendedScale = RecommendedScale {
    default_scale: 0.1, // the shape ratios
    feature_scales: &[
        ("mean_radius", 1e-2),
        ("radius_error", 1e-2),
        ("worst_radius", 1e-2),
        ("mean_texture", 1e-2),
        ("texture_error", 1e-2),
        ("worst_texture", 1e-2),
        ("mean_perimeter", 1e-3),
        ("perimeter_error", 1e-3),
        ("worst_perimeter", 1e-3),
        ("mean_area", 1e-4),
        ("area_error", 1e-4),
        ("worst_area", 1e-4),
    ],
    clip_norm: Some(1.0),
};

/// The embedded datasets.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        name: "digits",
        target: "digit",
        id: "id",
        task: "classification",
        description: "1797 handwritten digits, 64 pixel features (8×8, values 0..16), \
                      10 classes",
        attribution: "UCI Optical Recognition of Handwritten Digits (E. Alpaydin, \
                      C. Kaynak, 1998), test-set copy as bundled with scikit-learn; CC BY 4.0",
        recommended_scale: DIGITS_SCALE,
        csv: include_str!("../../data/digits.csv"),
    },
    Builtin {
        name: "breast_cancer",
        target: "diagnosis",
        id: "id",
        task: "classification",
        description: "569 breast masses, 30 cell-nucleus measurements, \
                      malignant vs benign",
        attribution: "UCI Breast Cancer Wisconsin (Diagnostic) (W. Wolberg, W. Street, \
                      O. Mangasarian, 1995), as bundled with scikit-learn; CC BY 4.0",
        recommended_scale: BREAST_CANCER_SCALE,
        csv: include_str!("../../data/breast_cancer.csv"),
    },
    Builtin {
        name: "diabetes",
        target: "progression",
        id: "id",
        task: "regression",
        description: "442 diabetes patients, 10 baseline variables in raw units, \
                      disease progression after one year",
        attribution: "Efron, Hastie, Johnstone, Tibshirani (2004), \"Least Angle \
                      Regression\", Annals of Statistics 32(2); raw values as bundled \
                      with scikit-learn",
        recommended_scale: DIABETES_SCALE,
        csv: include_str!("../../data/diabetes.csv"),
    },
];

/// The embedded dataset called `name`.
pub fn builtin(name: &str) -> Result<&'static Builtin, DataError> {
    BUILTINS
        .iter()
        .find(|b| b.name == name)
        .ok_or_else(|| DataError::UnknownBuiltin {
            name: name.to_string(),
            available: BUILTINS.iter().map(|b| b.name.to_string()).collect(),
        })
}

impl std::fmt::Debug for Builtin {
    /// Everything but the embedded CSV text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builtin")
            .field("name", &self.name)
            .field("target", &self.target)
            .field("id", &self.id)
            .field("task", &self.task)
            .field("recommended_scale", &self.recommended_scale)
            .finish_non_exhaustive()
    }
}

impl Builtin {
    /// The name used in messages: `builtin:NAME`.
    pub fn display_name(&self) -> String {
        format!("builtin:{}", self.name)
    }

    /// The options that read this dataset for its task: its target and id columns, and
    /// classification with inferred labels or regression.
    pub fn default_options(&self) -> CsvOptions {
        let spec = match self.task {
            "regression" => TargetSpec::Regression,
            _ => TargetSpec::Classify { positive: None },
        };
        CsvOptions {
            target: Some(self.target.to_string()),
            id: Some(self.id.to_string()),
            subject: None,
            spec,
            features: None,
            ..CsvOptions::default()
        }
    }

    /// Parses the embedded CSV with `opts`, exactly as given.
    pub fn load(&self, opts: &CsvOptions) -> Result<Dataset, DataError> {
        parse_csv(&self.display_name(), self.csv, opts)
    }

    /// The recommended scales and clip norm as a [`Preprocessing`].
    pub fn recommended_preprocessing(&self) -> Preprocessing {
        let scale = &self.recommended_scale;
        Preprocessing {
            default_scale: scale.default_scale,
            feature_scales: scale
                .feature_scales
                .iter()
                .map(|&(name, s)| (name.to_string(), s))
                .collect::<BTreeMap<_, _>>(),
            clip_norm: scale.clip_norm,
        }
    }
}
