//! The published shape after removals: is it what a retrain on the remaining rows would give?
//!
//! A removal certificate compares the release with a retrain on the remaining rows D′
//! (issue 10, SOUNDNESS point 10). The weights are covered by the noise; the *shape* of the
//! published model is not: the label set, its spelling and order, the number of class
//! models, the binary +1 class and the feature columns are all published exactly, so a
//! removal after which a retrain would infer any of them differently is a certain
//! distinguisher, whatever the noise.
//!
//! What is left to check, given the data-independent choices of [`crate::data::targets`]
//! (numbers spelled [`crate::data::canonical_label`], classes in the fixed
//! [`crate::data::compare_labels`] order) and of the readers (a CSV header or a builtin
//! dataset names the features):
//!
//! - **classes inferred from the labels present** (no `--classes`): the encoding inferred
//!   from D′ equals the published one exactly when every published class keeps at least
//!   one row, because the inferred encoding is a function of the label set only (and the
//!   binary +1 class, the larger label or `--positive`, of that set and a public flag);
//! - **a LIBSVM width inferred from the largest index present** (no `--features`): a
//!   retrain keeps d features only while some remaining row has a nonzero value in feature
//!   d. The preprocessed rows do not show an explicit `d:0` token, so the guard counts
//!   nonzeros: it may call a removal uncertifiable that a retrain would in fact match, never
//!   the other way round.
//!
//! [`ShapeGuard`] keeps those counts: built in O(n) from the secret rows when a store is
//! loaded (never persisted), updated in O(1) per removed row, checked in O(K) for K classes.
//! The argument is in proofs/published_shape.md.

use crate::data::{Dataset, Declared, TargetEncoding};
use crate::model::PublishedModel;

/// Per-class and last-column row counts of the remaining rows, for the parts of the
/// published shape that were inferred from the rows rather than declared.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeGuard {
    /// Rows per published class, when the classes were inferred.
    classes: Option<ClassRows>,
    /// Rows with a nonzero in the last feature, when the LIBSVM width was inferred.
    last_feature: Option<LastFeature>,
}

/// Row counts of the published classes.
#[derive(Debug, Clone, PartialEq)]
struct ClassRows {
    /// Class names in encoding order (binary: negative, then positive).
    names: Vec<String>,
    /// Remaining rows of each class.
    rows: Vec<usize>,
    /// True for a binary encoding (targets ±1), false for one-vs-rest (class indices).
    binary: bool,
}

/// The last feature column of an inferred LIBSVM width.
#[derive(Debug, Clone, PartialEq)]
struct LastFeature {
    /// Its published name (`fd`).
    name: String,
    /// Its position d − 1 in a design row (the intercept, if any, comes after it).
    column: usize,
    /// Remaining rows with a nonzero value there.
    rows: usize,
}

impl ClassRows {
    /// The class of an encoded target: ±1 for binary, the class index for one-vs-rest.
    fn class_of(&self, target: f64) -> Option<usize> {
        if self.binary {
            if target == 1.0 {
                Some(1)
            } else if target == -1.0 {
                Some(0)
            } else {
                None
            }
        } else {
            let k = target as usize;
            (target >= 0.0 && target.fract() == 0.0 && k < self.names.len()).then_some(k)
        }
    }

    /// Why a retrain would infer other classes, if some class has no remaining row.
    fn problem(&self) -> Option<String> {
        let empty: Vec<String> = self
            .names
            .iter()
            .zip(&self.rows)
            .filter(|(_, rows)| **rows == 0)
            .map(|(name, _)| format!("'{name}'"))
            .collect();
        if empty.is_empty() {
            return None;
        }
        let published = self.names.len();
        let left: Vec<&String> = self
            .names
            .iter()
            .zip(&self.rows)
            .filter(|(_, rows)| **rows > 0)
            .map(|(name, _)| name)
            .collect();
        let retrain = match left.as_slice() {
            [] => "a retrain would have no labelled rows".to_string(),
            [only] => format!("a retrain would find the single class '{only}' and refuse to train"),
            _ => format!("a retrain would have {} classes", left.len()),
        };
        let (noun, verb) = if empty.len() == 1 {
            ("class", "has")
        } else {
            ("classes", "have")
        };
        Some(format!(
            "{noun} {} {verb} no remaining rows: {retrain}, the published model has \
             {published}; declare the classes with --classes at training to certify such \
             removals",
            empty.join(", ")
        ))
    }
}

impl ShapeGuard {
    /// The guard of a published model over its remaining rows `design` (the secret state's
    /// design: encoded targets, preprocessed features, intercept column last when enabled).
    /// O(n). Errors if the rows do not fit the published model (a target that is no
    /// published class, rows narrower than the published features).
    pub fn new(published: &PublishedModel, design: &Dataset) -> Result<Self, String> {
        Self::from_parts(
            published.declared,
            &published.target,
            &published.feature_names,
            design,
        )
    }

    /// [`ShapeGuard::new`] from the parts of the published model it reads.
    fn from_parts(
        declared: Declared,
        encoding: &TargetEncoding,
        feature_names: &[String],
        design: &Dataset,
    ) -> Result<Self, String> {
        let classes = match encoding {
            _ if declared.classes => None,
            TargetEncoding::Regression => None,
            TargetEncoding::Binary { positive, negative } => Some(ClassRows {
                names: vec![negative.clone(), positive.clone()],
                rows: vec![0; 2],
                binary: true,
            }),
            TargetEncoding::Multiclass { classes } => Some(ClassRows {
                names: classes.clone(),
                rows: vec![0; classes.len()],
                binary: false,
            }),
        };
        let last_feature = match feature_names.last() {
            Some(name) if !declared.features => {
                let column = feature_names.len() - 1;
                if column >= design.n_features() {
                    return Err(format!(
                        "the rows have {} columns, fewer than the {} published features",
                        design.n_features(),
                        feature_names.len()
                    ));
                }
                Some(LastFeature {
                    name: name.clone(),
                    column,
                    rows: 0,
                })
            }
            _ => None,
        };
        let mut guard = Self {
            classes,
            last_feature,
        };
        let targets = design.targets().map(|t| t.values.as_slice());
        if let Some(classes) = &guard.classes {
            let values = targets.ok_or("the rows have no targets but the model has classes")?;
            if let Some((i, y)) = values
                .iter()
                .enumerate()
                .find(|(_, y)| classes.class_of(**y).is_none())
            {
                return Err(format!(
                    "row {i} has the encoded target {y}, which is no class of the published \
                     encoding"
                ));
            }
        }
        for i in 0..design.n_rows() {
            guard.restore_row(targets.map(|t| t[i]), design.row(i));
        }
        Ok(guard)
    }

    /// The guard of a model whose rows are external ([`crate::rows`]), from the remaining
    /// rows per class of the encoding (`label_counts`: binary negative then positive,
    /// one-vs-rest in class order). A LIBSVM width inferred from the rows cannot be tracked
    /// without them: that is an error, so every removal is uncertified (declare the width).
    pub fn from_counts(published: &PublishedModel, label_counts: &[usize]) -> Result<Self, String> {
        if !published.declared.features {
            return Err(
                "the LIBSVM width was inferred from the rows, which are external: a removal \
                 cannot be checked against it; declare the width with --features at training"
                    .into(),
            );
        }
        let targets = crate::data::Targets {
            values: Vec::new(),
            encoding: published.target.clone(),
        };
        let no_rows = Dataset::new(
            Vec::new(),
            published.feature_names.clone(),
            Vec::new(),
            Some(targets),
        )
        .map_err(|e| e.to_string())?;
        let mut guard = Self::new(published, &no_rows)?;
        if let Some(classes) = &mut guard.classes {
            if label_counts.len() != classes.rows.len() {
                return Err(format!(
                    "{} label counts for the {} published classes",
                    label_counts.len(),
                    classes.rows.len()
                ));
            }
            classes.rows = label_counts.to_vec();
        }
        Ok(guard)
    }

    /// The remaining rows per published class, when the guard tracks the classes (they
    /// were inferred, not declared).
    pub fn class_counts(&self) -> Option<&[usize]> {
        self.classes.as_ref().map(|c| c.rows.as_slice())
    }

    /// Counts one row out of the remaining rows: its encoded target and its design row. O(1).
    pub fn remove_row(&mut self, target: Option<f64>, features: &[f64]) {
        self.count(target, features, |rows| *rows = rows.saturating_sub(1));
    }

    /// Undoes [`ShapeGuard::remove_row`] of the same row (a removal rolled back). O(1).
    pub fn restore_row(&mut self, target: Option<f64>, features: &[f64]) {
        self.count(target, features, |rows| *rows += 1);
    }

    /// Applies `change` to the counts the row belongs to.
    fn count(&mut self, target: Option<f64>, features: &[f64], change: impl Fn(&mut usize)) {
        if let (Some(classes), Some(y)) = (&mut self.classes, target)
            && let Some(k) = classes.class_of(y)
        {
            change(&mut classes.rows[k]);
        }
        if let Some(last) = &mut self.last_feature
            && features.get(last.column).is_some_and(|v| *v != 0.0)
        {
            change(&mut last.rows);
        }
    }

    /// Ok if a retrain on the remaining rows would infer the published shape; otherwise the
    /// reason, naming what it would infer differently (for a certificate's
    /// `certified: false`). O(K) for K classes.
    pub fn check(&self) -> Result<(), String> {
        let class_problem = self.classes.as_ref().and_then(ClassRows::problem);
        let width_problem = self
            .last_feature
            .as_ref()
            .filter(|last| last.rows == 0)
            .map(|last| {
                let width = last.column + 1;
                format!(
                    "no remaining row has a nonzero value in feature '{}', the largest LIBSVM \
                     index: a retrain would infer fewer than {width} features, the published \
                     model has {width}; declare the width with --features at training to \
                     certify such removals",
                    last.name
                )
            });
        let problems: Vec<String> = class_problem.into_iter().chain(width_problem).collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Targets;

    /// Rows `(target, features)` with ids r0, r1, …, under `encoding`.
    fn design(encoding: TargetEncoding, rows: &[(f64, &[f64])]) -> Dataset {
        let d = rows.first().map_or(0, |r| r.1.len());
        Dataset::new(
            (0..rows.len()).map(|i| format!("r{i}")).collect(),
            (1..=d).map(|j| format!("f{j}")).collect(),
            rows.iter().flat_map(|r| r.1.iter().copied()).collect(),
            Some(Targets {
                values: rows.iter().map(|r| r.0).collect(),
                encoding,
            }),
        )
        .expect("consistent rows")
    }

    fn abc() -> TargetEncoding {
        TargetEncoding::Multiclass {
            classes: vec!["a".into(), "b".into(), "c".into()],
        }
    }

    fn names(d: usize) -> Vec<String> {
        (1..=d).map(|j| format!("f{j}")).collect()
    }

    /// Classes inferred, features declared (as from a CSV header).
    const INFERRED_CLASSES: Declared = Declared {
        classes: false,
        features: true,
    };

    /// Removing the last row of class c is caught and named; restoring it clears the check.
    #[test]
    fn the_last_row_of_an_inferred_class_is_caught_and_undone() {
        let data = design(
            abc(),
            &[(0.0, &[1.0]), (1.0, &[2.0]), (2.0, &[3.0]), (0.0, &[4.0])],
        );
        let mut guard = ShapeGuard::from_parts(INFERRED_CLASSES, &abc(), &names(1), &data)
            .expect("rows fit the encoding");
        assert_eq!(guard.check(), Ok(()));
        guard.remove_row(Some(0.0), data.row(0));
        assert_eq!(guard.check(), Ok(()), "class a keeps row r3");
        guard.remove_row(Some(2.0), data.row(2));
        let reason = guard.check().expect_err("class c is gone");
        assert!(
            reason.starts_with("class 'c' has no remaining rows: a retrain would have 2 classes, the published model has 3; declare the classes with --classes"),
            "{reason}"
        );
        guard.restore_row(Some(2.0), data.row(2));
        assert_eq!(guard.check(), Ok(()));
    }

    /// With declared classes an empty class is part of the declaration, not a problem.
    #[test]
    fn declared_classes_may_lose_every_row() {
        let data = design(abc(), &[(0.0, &[1.0]), (1.0, &[2.0]), (2.0, &[3.0])]);
        let declared = Declared {
            classes: true,
            features: true,
        };
        let mut guard = ShapeGuard::from_parts(declared, &abc(), &names(1), &data).expect("fits");
        guard.remove_row(Some(2.0), data.row(2));
        guard.remove_row(Some(1.0), data.row(1));
        assert_eq!(guard.check(), Ok(()));
    }

    /// A binary model whose positive class empties: a retrain would refuse a single class.
    #[test]
    fn an_emptied_binary_class_leaves_a_single_class() {
        let encoding = TargetEncoding::Binary {
            positive: "8".into(),
            negative: "3".into(),
        };
        let data = design(encoding.clone(), &[(-1.0, &[1.0]), (1.0, &[2.0])]);
        let mut guard =
            ShapeGuard::from_parts(INFERRED_CLASSES, &encoding, &names(1), &data).expect("fits");
        guard.remove_row(Some(1.0), data.row(1));
        let reason = guard.check().expect_err("class 8 is gone");
        assert!(
            reason.contains("class '8' has no remaining rows: a retrain would find the single class '3' and refuse to train, the published model has 2"),
            "{reason}"
        );
    }

    /// An inferred LIBSVM width: the last feature (before the intercept column) is watched;
    /// removing the only row with a nonzero there is caught, and a declared width is not.
    #[test]
    fn an_inferred_width_loses_its_last_column() {
        let encoding = TargetEncoding::Regression;
        // Two features and the intercept column; only row r1 has a nonzero f2.
        let data = design(
            encoding.clone(),
            &[(0.5, &[1.0, 0.0, 1.0]), (1.5, &[0.0, 2.0, 1.0])],
        );
        let mut guard =
            ShapeGuard::from_parts(Declared::default(), &encoding, &names(2), &data).expect("fits");
        guard.remove_row(Some(0.5), data.row(0));
        assert_eq!(
            guard.check(),
            Ok(()),
            "r1 still has f2; the intercept is not f2"
        );
        guard.remove_row(Some(1.5), data.row(1));
        let reason = guard.check().expect_err("f2 is gone");
        assert!(
            reason.contains("feature 'f2'") && reason.contains("fewer than 2 features"),
            "{reason}"
        );
        let mut guard =
            ShapeGuard::from_parts(INFERRED_CLASSES, &encoding, &names(2), &data).expect("fits");
        guard.remove_row(Some(1.5), data.row(1));
        assert_eq!(guard.check(), Ok(()));
    }

    /// Both problems at once are both named.
    #[test]
    fn every_problem_is_named() {
        let data = design(abc(), &[(0.0, &[0.0]), (1.0, &[0.0]), (2.0, &[3.0])]);
        let nothing = Declared::default();
        let mut guard = ShapeGuard::from_parts(nothing, &abc(), &names(1), &data).expect("fits");
        guard.remove_row(Some(2.0), data.row(2));
        let reason = guard.check().expect_err("class c and f1 are gone");
        assert!(
            reason.contains("class 'c'") && reason.contains("feature 'f1'"),
            "{reason}"
        );
    }

    /// Rows that do not fit the published model are refused, not counted.
    #[test]
    fn rows_that_do_not_fit_the_model_are_refused() {
        let data = design(abc(), &[(0.0, &[1.0]), (3.0, &[2.0])]);
        let err = ShapeGuard::from_parts(INFERRED_CLASSES, &abc(), &names(1), &data)
            .expect_err("class index 3 of 3 classes");
        assert!(err.contains("row 1 has the encoded target 3"), "{err}");
        let err = ShapeGuard::from_parts(Declared::default(), &abc(), &names(2), &data)
            .expect_err("two published features, one column");
        assert!(err.contains("fewer than the 2 published features"), "{err}");
    }
}
