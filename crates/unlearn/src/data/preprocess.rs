//! Data-independent preprocessing: fixed per-feature scales, then clipping to a norm ball.
//!
//! The removal certificates of this crate assume every feature vector has norm at most a
//! known R, and cover *the model trained on a fixed set of feature vectors*. Preprocessing
//! must therefore transform each row on its own, with constants fixed before the data is
//! seen:
//!
//! * **Scaling** multiplies feature j by a constant (`feature_scales[name]`, else
//!   `default_scale`).
//! * **Clipping** maps a row x with ‖x‖₂ > R to x·R/‖x‖₂, so that every row lies in the
//!   ball of radius R. Clipping a row depends on that row only.
//!
//! # Why there is no fitted scaler
//!
//! Standardising by the training set's mean and standard deviation (or dividing by its
//! maximum) makes every row's preprocessed features depend on *every other row*. Removing
//! a row would then change the preprocessing of all the rows that remain, so the model
//! after removal is no longer "the model trained on the remaining rows' fixed features",
//! and the certificate — which is about exactly that — no longer covers the pipeline.
//! Worse, the released scaler (its means, standard deviations or maxima) is itself a
//! statistic of the removed row and would keep leaking it after the removal.
//!
//! So the scaling constants must come from domain knowledge — the documented range of
//! the measurement, an instrument's limits, units — and never from the data itself.
//! The embedded datasets suggest such constants (see
//! [`super::builtin::Builtin::recommended_preprocessing`]); when no bound is known,
//! clipping still guarantees the norm bound, at the cost of shrinking the rows it clips.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{DataError, Dataset};

/// Fixed per-feature scales and an optional clip norm (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// Scale of every feature not in `feature_scales`.
    pub default_scale: f64,
    /// Scales of individual features, by name.
    pub feature_scales: BTreeMap<String, f64>,
    /// Rows with a larger Euclidean norm (after scaling) are scaled down to this norm.
    pub clip_norm: Option<f64>,
}

impl Default for Preprocessing {
    /// The identity: scale 1, no per-feature scales, no clipping.
    fn default() -> Self {
        Self {
            default_scale: 1.0,
            feature_scales: BTreeMap::new(),
            clip_norm: None,
        }
    }
}

/// What [`Preprocessing::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreprocessReport {
    /// Number of rows preprocessed.
    pub rows: usize,
    /// Number of rows whose norm exceeded the clip norm and were scaled down.
    pub rows_clipped: usize,
    /// The largest row norm after scaling, before clipping.
    pub max_norm_before_clip: f64,
}

/// How far the largest row norm may exceed the clip norm (or, without a clip norm, the
/// unit ball that the recommended constants and `unlearn synth` aim for) before
/// [`PreprocessReport::scale_warning`] warns.
pub const WARN_NORM_FACTOR: f64 = 10.0;

/// A sign that the constants do not fit the data's scale (see
/// [`PreprocessReport::scale_warning`]). It only informs: preprocessing never depends on
/// the data (see the module docs), so nothing is changed because of it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ScaleWarning {
    /// Rows far beyond the clip norm R: clipping maps each onto the sphere of radius R.
    FarBeyondClipNorm {
        /// The largest row norm after scaling, before clipping.
        max_norm: f64,
        /// R.
        clip_norm: f64,
        /// Rows clipped.
        rows_clipped: usize,
        /// Rows in all.
        rows: usize,
    },
    /// No clip norm, and rows far outside the unit ball.
    Unclipped {
        /// The largest row norm after scaling: the row-norm bound R of every certificate.
        max_norm: f64,
    },
}

impl std::fmt::Display for ScaleWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::FarBeyondClipNorm {
                max_norm,
                clip_norm,
                rows_clipped,
                rows,
            } => write!(
                f,
                "rows reach norm {max_norm:.3e}, more than {WARN_NORM_FACTOR} times the clip \
                 norm {clip_norm}: {rows_clipped} of {rows} rows were clipped, each scaled \
                 down onto the sphere of radius {clip_norm}, so the model sees little more than \
                 their directions and accuracy suffers"
            ),
            Self::Unclipped { max_norm } => write!(
                f,
                "no clip norm, and rows reach norm R = {max_norm:.3e}: a removal step's \
                 residual and its bounds grow with R (the worst-case bound as R⁵), so each \
                 removal is charged more of the budget, the budget runs out sooner, and a step \
                 that exceeds what is left is re-solved from scratch instead of taken"
            ),
        }
    }
}

impl PreprocessReport {
    /// Warns when the largest row norm exceeds the clip norm R by more than
    /// [`WARN_NORM_FACTOR`], or, without a clip norm, exceeds [`WARN_NORM_FACTOR`] (rows
    /// far from the unit ball: features that were never scaled).
    ///
    /// The check reads the data only to decide whether to warn; the preprocessing itself
    /// stays data-independent.
    pub fn scale_warning(&self, clip_norm: Option<f64>) -> Option<ScaleWarning> {
        let max_norm = self.max_norm_before_clip;
        match clip_norm {
            Some(r) if max_norm > WARN_NORM_FACTOR * r => Some(ScaleWarning::FarBeyondClipNorm {
                max_norm,
                clip_norm: r,
                rows_clipped: self.rows_clipped,
                rows: self.rows,
            }),
            None if max_norm > WARN_NORM_FACTOR => Some(ScaleWarning::Unclipped { max_norm }),
            _ => None,
        }
    }
}

impl Preprocessing {
    /// Checks the constants: scales and clip norm finite and > 0, scales only for
    /// features in `feature_names`.
    pub fn validate(&self, feature_names: &[String]) -> Result<(), DataError> {
        check_scale("the default", self.default_scale)?;
        for (name, &scale) in &self.feature_scales {
            if !feature_names.contains(name) {
                return Err(DataError::UnknownScaleFeature {
                    feature: name.clone(),
                    available: feature_names.to_vec(),
                });
            }
            check_scale(&format!("\"{name}\""), scale)?;
        }
        match self.clip_norm {
            Some(r) if !(r.is_finite() && r > 0.0) => Err(DataError::BadClipNorm { value: r }),
            _ => Ok(()),
        }
    }

    /// The scale of each feature of `feature_names`, in order.
    pub fn scales(&self, feature_names: &[String]) -> Vec<f64> {
        feature_names
            .iter()
            .map(|name| {
                self.feature_scales
                    .get(name)
                    .copied()
                    .unwrap_or(self.default_scale)
            })
            .collect()
    }

    /// Scales and clips every row of `data` in place.
    ///
    /// Validates first; on error `data` is left unchanged.
    pub fn apply(&self, data: &mut Dataset) -> Result<PreprocessReport, DataError> {
        self.validate(data.feature_names())?;
        let scales = self.scales(data.feature_names());
        check_overflow(data, &scales)?;
        let mut report = PreprocessReport {
            rows: data.n_rows(),
            rows_clipped: 0,
            max_norm_before_clip: 0.0,
        };
        if scales.is_empty() {
            return Ok(report);
        }
        for row in data.features_mut().chunks_exact_mut(scales.len()) {
            row.iter_mut().zip(&scales).for_each(|(x, s)| *x *= s);
            let norm = norm(row);
            report.max_norm_before_clip = report.max_norm_before_clip.max(norm);
            if let Some(r) = self.clip_norm.filter(|&r| norm > r) {
                row.iter_mut().for_each(|x| *x *= r / norm);
                report.rows_clipped += 1;
            }
        }
        Ok(report)
    }
}

/// Fails if scaling any value of `data` by `scales` would overflow.
fn check_overflow(data: &Dataset, scales: &[f64]) -> Result<(), DataError> {
    for i in 0..data.n_rows() {
        let overflow = data
            .row(i)
            .iter()
            .zip(scales)
            .position(|(x, s)| !(x * s).is_finite());
        if let Some(j) = overflow {
            return Err(DataError::ScaledNotFinite {
                id: data.ids()[i].clone(),
                feature: data.feature_names()[j].clone(),
            });
        }
    }
    Ok(())
}

fn check_scale(feature: &str, value: f64) -> Result<(), DataError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(DataError::BadScale {
            feature: feature.to_string(),
            value,
        })
    }
}

/// Euclidean norm, computed without overflow for finite entries.
fn norm(x: &[f64]) -> f64 {
    let max = x.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    if max == 0.0 {
        return 0.0;
    }
    max * x.iter().map(|v| (v / max).powi(2)).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(rows: &[[f64; 2]]) -> Dataset {
        let ids = (0..rows.len()).map(|i| i.to_string()).collect();
        let names = vec!["a".to_string(), "b".to_string()];
        Dataset::new(ids, names, rows.concat(), None).expect("consistent")
    }

    #[test]
    fn scales_then_clips() {
        let mut d = data(&[[3.0, 4.0], [0.3, 0.4]]);
        let p = Preprocessing {
            default_scale: 1.0,
            feature_scales: BTreeMap::from([("b".to_string(), 2.0)]),
            clip_norm: Some(1.0),
        };
        let report = p.apply(&mut d).expect("valid preprocessing");
        assert_eq!(report.rows_clipped, 1);
        assert!((report.max_norm_before_clip - 73.0_f64.sqrt()).abs() < 1e-12);
        assert!((norm(d.row(0)) - 1.0).abs() < 1e-12);
        assert_eq!(d.row(1), &[0.3, 0.8]);
    }

    #[test]
    fn warns_only_far_beyond_the_clip_norm_or_the_unit_ball() {
        let report = |max_norm| PreprocessReport {
            rows: 4,
            rows_clipped: 2,
            max_norm_before_clip: max_norm,
        };
        assert_eq!(report(10.0).scale_warning(Some(1.0)), None);
        assert!(matches!(
            report(10.5).scale_warning(Some(1.0)),
            Some(ScaleWarning::FarBeyondClipNorm {
                rows_clipped: 2,
                ..
            })
        ));
        assert_eq!(report(10.5).scale_warning(Some(2.0)), None);
        assert_eq!(report(10.0).scale_warning(None), None);
        assert!(matches!(
            report(11.0).scale_warning(None),
            Some(ScaleWarning::Unclipped { .. })
        ));
    }

    #[test]
    fn rejects_bad_constants() {
        let names = vec!["a".to_string()];
        let bad_default = Preprocessing {
            default_scale: f64::NAN,
            ..Preprocessing::default()
        };
        assert!(matches!(
            bad_default.validate(&names),
            Err(DataError::BadScale { .. })
        ));
        let bad_clip = Preprocessing {
            clip_norm: Some(0.0),
            ..Preprocessing::default()
        };
        assert!(matches!(
            bad_clip.validate(&names),
            Err(DataError::BadClipNorm { .. })
        ));
        let unknown = Preprocessing {
            feature_scales: BTreeMap::from([("z".to_string(), 1.0)]),
            ..Preprocessing::default()
        };
        assert!(matches!(
            unknown.validate(&names),
            Err(DataError::UnknownScaleFeature { .. })
        ));
    }

    #[test]
    fn overflow_is_an_error() {
        let mut d = data(&[[1e300, 0.0]]);
        let p = Preprocessing {
            default_scale: 1e10,
            ..Preprocessing::default()
        };
        assert!(matches!(
            p.apply(&mut d),
            Err(DataError::ScaledNotFinite { .. })
        ));
        assert_eq!(d.row(0), &[1e300, 0.0], "data unchanged on error");
    }

    #[test]
    fn norm_does_not_overflow() {
        assert!((norm(&[3e200, 4e200]) - 5e200).abs() < 1e188);
        assert_eq!(norm(&[0.0, 0.0]), 0.0);
    }
}
