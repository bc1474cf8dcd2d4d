//! Datasets: rows with stable string ids, f64 features and encoded targets.
//!
//! Rows are stored row-major (`features[i*d..(i+1)*d]` is row `i`), so that a row is a
//! contiguous slice, per-row work parallelises over row blocks, and deleting a row
//! ([`Dataset::swap_remove`]) costs O(d) instead of shifting the whole matrix.
//!
//! Each row keeps its sequence number, its position in the training input, through every
//! reordering, so that [`Dataset::restore_canonical_order`] can put the remaining rows
//! back in input order: a model solved on them then sums its rows in the same order as one
//! trained on D′ read fresh from the file, and (with deterministic reductions) has the
//! same bits.
//! nalgebra stays the public matrix type: [`Dataset::matrix`] is an n×d view.
//!
//! Submodules: readers for CSV ([`csv`]), LIBSVM ([`libsvm`]), Parquet (`parquet`, with
//! the `parquet` feature) and in-memory Arrow tables (`arrow`, with the `arrow` feature;
//! the Parquet reader is built on it), the embedded datasets ([`builtin`]), target encoding
//! ([`targets`]) and data-independent preprocessing ([`preprocess`]). [`load_data_as`]
//! picks the reader from a source string and a declared or detected [`DataFormat`].

#[cfg(feature = "arrow")]
pub mod arrow;
pub mod builtin;
mod columns;
pub mod csv;
mod error;
pub mod libsvm;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod preprocess;
pub mod select;
mod source;
pub mod targets;
mod text;

pub use csv::CsvOptions;
pub use error::DataError;
pub use libsvm::LibsvmOptions;
pub use preprocess::{PreprocessReport, Preprocessing, ScaleWarning};
pub use source::{
    DataFormat, LIBSVM_EXTENSIONS, default_target, detect_format, load_data, load_data_as,
};
pub use targets::{TargetEncoding, TargetSpec, Targets, canonical_label, compare_labels};
pub use text::{MAX_COLUMNS, MAX_LINE_BYTES};

use nalgebra::{DMatrixView, Dyn};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// Which parts of a dataset's shape were fixed before any row was read, rather than
/// inferred from the rows present (issue 10: a removal must not change what a retrain on
/// the remaining rows would infer; see `shape::ShapeGuard`).
///
/// The `Default` (nothing declared) is the cautious reading of a model that does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declared {
    /// The classes (label set, spelling, order, number of class models) were declared
    /// ([`TargetSpec::Declared`]), not inferred from the labels present.
    pub classes: bool,
    /// The feature columns were fixed by a header, by the caller or by a declared count,
    /// not by the largest LIBSVM index present.
    pub features: bool,
}

/// id → position, refusing duplicate ids.
fn index_of(ids: &[String]) -> Result<HashMap<String, usize>, DataError> {
    let mut index = HashMap::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        if index.insert(id.clone(), i).is_some() {
            return Err(DataError::Shape(format!("duplicate id '{id}'")));
        }
    }
    Ok(index)
}

/// A row taken out by [`Dataset::swap_remove`], kept only to undo a failed operation.
#[derive(Debug, Clone, PartialEq)]
pub struct RemovedRow {
    /// Where the row was.
    pub position: usize,
    /// Its id.
    pub id: String,
    /// Its features.
    pub features: Vec<f64>,
    /// Its encoded target, if the dataset has targets.
    pub target: Option<f64>,
    /// Its sequence number ([`Dataset::sequence`]).
    pub sequence: u64,
    /// Its data subject, if the dataset records subjects.
    pub subject: Option<String>,
}

/// A table of rows: ids, features (row-major) and, optionally, encoded targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    ids: Vec<String>,
    /// id → position, kept in step with `ids` (a removal request is O(m), not O(n)).
    index: HashMap<String, usize>,
    feature_names: Vec<String>,
    features: Vec<f64>,
    targets: Option<Targets>,
    declared: Declared,
    /// Each row's position in the training input, in row order (all distinct).
    sequence: Vec<u64>,
    /// Each row's data subject (the person it is about), in row order, if recorded.
    subjects: Option<Vec<String>>,
    /// subject → the ids of its remaining rows, kept in step with `subjects` (an erasure
    /// request naming a subject is O(rows of the subject), not O(n)).
    by_subject: HashMap<String, BTreeSet<String>>,
}

/// subject → ids, from rows aligned with `ids`.
fn subject_index(ids: &[String], subjects: &[String]) -> HashMap<String, BTreeSet<String>> {
    let mut index: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (id, subject) in ids.iter().zip(subjects) {
        index.entry(subject.clone()).or_default().insert(id.clone());
    }
    index
}

impl Dataset {
    /// Builds a dataset, checking the shapes and that ids are unique.
    ///
    /// `features` is row-major with `ids.len()` rows of `feature_names.len()` values. Row
    /// i gets sequence number i (these rows are the training input, in input order). The
    /// caller names the features, so they count as declared; the classes count as inferred
    /// until [`Dataset::with_declared`] says otherwise.
    pub fn new(
        ids: Vec<String>,
        feature_names: Vec<String>,
        features: Vec<f64>,
        targets: Option<Targets>,
    ) -> Result<Self, DataError> {
        let (n, d) = (ids.len(), feature_names.len());
        if features.len() != n * d {
            return Err(DataError::Shape(format!(
                "{} feature values for {n} rows of {d} features",
                features.len()
            )));
        }
        if let Some(t) = &targets
            && t.values.len() != n
        {
            return Err(DataError::Shape(format!(
                "{} targets for {n} rows",
                t.values.len()
            )));
        }
        let index = index_of(&ids)?;
        Ok(Self {
            sequence: (0..n as u64).collect(),
            ids,
            index,
            feature_names,
            features,
            targets,
            declared: Declared {
                classes: false,
                features: true,
            },
            subjects: None,
            by_subject: HashMap::new(),
        })
    }

    /// The same rows, each belonging to the data subject at its position in `subjects`
    /// (one per row, none empty): a subject may own many rows, and an erasure request may
    /// name the subject instead of the rows.
    pub fn with_subjects(mut self, subjects: Vec<String>) -> Result<Self, DataError> {
        if subjects.len() != self.n_rows() {
            return Err(DataError::Shape(format!(
                "{} subjects for {} rows",
                subjects.len(),
                self.n_rows()
            )));
        }
        if let Some(i) = subjects.iter().position(String::is_empty) {
            return Err(DataError::Shape(format!(
                "row '{}' has an empty subject",
                self.ids[i]
            )));
        }
        self.by_subject = subject_index(&self.ids, &subjects);
        self.subjects = Some(subjects);
        Ok(self)
    }

    /// Each row's data subject, in row order, if the dataset records subjects.
    pub fn subjects(&self) -> Option<&[String]> {
        self.subjects.as_deref()
    }

    /// The ids of the remaining rows of `subject` (`None` if no remaining row is theirs).
    pub fn ids_of_subject(&self, subject: &str) -> Option<&BTreeSet<String>> {
        self.by_subject.get(subject)
    }

    /// Takes `id` out of its subject's list (the row is leaving).
    fn unindex_subject(&mut self, subject: &str, id: &str) {
        if let Some(ids) = self.by_subject.get_mut(subject) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_subject.remove(subject);
            }
        }
    }

    /// The same rows, with `declared` saying which parts of the shape were declared.
    pub fn with_declared(self, declared: Declared) -> Self {
        Self { declared, ..self }
    }

    /// Which parts of the shape were declared rather than inferred from the rows.
    pub fn declared(&self) -> Declared {
        self.declared
    }

    /// The same rows with the given sequence numbers (one per row, all distinct), for rows
    /// read back from a store in their stored order.
    pub fn with_sequence(mut self, sequence: Vec<u64>) -> Result<Self, DataError> {
        if sequence.len() != self.n_rows() {
            return Err(DataError::Shape(format!(
                "{} sequence numbers for {} rows",
                sequence.len(),
                self.n_rows()
            )));
        }
        let mut sorted = sequence.clone();
        sorted.sort_unstable();
        if let Some(pair) = sorted.windows(2).find(|p| p[0] == p[1]) {
            return Err(DataError::Shape(format!(
                "duplicate row sequence number {}",
                pair[0]
            )));
        }
        self.sequence = sequence;
        Ok(self)
    }

    /// Each row's sequence number (its position in the training input), in row order.
    pub fn sequence(&self) -> &[u64] {
        &self.sequence
    }

    /// Puts the rows back in increasing sequence order — the order of the training input,
    /// whatever removals ([`Dataset::swap_remove`]) did to it — so that the rows equal,
    /// order included, the input without the removed rows. O(n log n + n·d), one n·d buffer.
    pub fn restore_canonical_order(&mut self) {
        if self.sequence.is_sorted() {
            return;
        }
        let d = self.n_features();
        let mut order: Vec<usize> = (0..self.n_rows()).collect();
        order.sort_unstable_by_key(|&i| self.sequence[i]);
        let mut features = Vec::with_capacity(self.features.len());
        for &i in &order {
            features.extend_from_slice(&self.features[i * d..(i + 1) * d]);
        }
        self.features = features;
        self.ids = order
            .iter()
            .map(|&i| std::mem::take(&mut self.ids[i]))
            .collect();
        self.sequence = order.iter().map(|&i| self.sequence[i]).collect();
        if let Some(t) = &mut self.targets {
            t.values = order.iter().map(|&i| t.values[i]).collect();
        }
        if let Some(subjects) = &mut self.subjects {
            *subjects = order
                .iter()
                .map(|&i| std::mem::take(&mut subjects[i]))
                .collect();
        }
        for (i, id) in self.ids.iter().enumerate() {
            *self.index.get_mut(id).expect("every id is indexed") = i;
        }
    }

    /// Number of rows n.
    pub fn n_rows(&self) -> usize {
        self.ids.len()
    }

    /// Number of features d.
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Row ids, in row order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// Feature (column) names, in column order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// Row `i` as a contiguous slice of d values.
    pub fn row(&self, i: usize) -> &[f64] {
        let d = self.n_features();
        &self.features[i * d..(i + 1) * d]
    }

    /// Row-major feature buffer (n·d values).
    pub fn features(&self) -> &[f64] {
        &self.features
    }

    /// The row-major feature buffer, taken by value (no copy): for a caller that read rows
    /// with a reader and gives them its own ids, names and targets (the Python package).
    pub fn into_features(self) -> Vec<f64> {
        self.features
    }

    /// The ids, the row-major feature buffer and the targets, taken by value (no copy): for
    /// a caller that keeps the rows as buffers of its own (the partial sums' prepared rows).
    pub fn into_rows(self) -> (Vec<String>, Vec<f64>, Option<Targets>) {
        (self.ids, self.features, self.targets)
    }

    /// Mutable row-major feature buffer, for in-place preprocessing.
    pub(crate) fn features_mut(&mut self) -> &mut [f64] {
        &mut self.features
    }

    /// The n×d feature matrix as a nalgebra view (row-major strides).
    pub fn matrix(&self) -> DMatrixView<'_, f64, Dyn, Dyn> {
        let (n, d) = (self.n_rows(), self.n_features());
        DMatrixView::from_slice_with_strides_generic(&self.features, Dyn(n), Dyn(d), Dyn(d), Dyn(1))
    }

    /// The encoded targets, if the data has a target column.
    pub fn targets(&self) -> Option<&Targets> {
        self.targets.as_ref()
    }

    /// Position of the row with this id, if present (O(1)).
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Replaces the targets (one per row); whether their classes were declared is the
    /// caller's to say ([`Dataset::with_declared`]).
    pub fn set_targets(&mut self, targets: Targets) -> Result<(), DataError> {
        if targets.values.len() != self.n_rows() {
            return Err(DataError::Shape(format!(
                "{} targets for {} rows",
                targets.values.len(),
                self.n_rows()
            )));
        }
        self.targets = Some(targets);
        Ok(())
    }

    /// Deletes row `i` in O(d) by moving the last row into its place (row order changes),
    /// and returns what [`Dataset::undo_swap_remove`] needs to put it back.
    pub fn swap_remove(&mut self, i: usize) -> RemovedRow {
        let d = self.n_features();
        let last = self.n_rows() - 1;
        let features = self.row(i).to_vec();
        if i != last {
            let (head, tail) = self.features.split_at_mut(last * d);
            head[i * d..(i + 1) * d].copy_from_slice(&tail[..d]);
        }
        self.features.truncate(last * d);
        let id = self.ids.swap_remove(i);
        self.index.remove(&id);
        if i != last {
            // The moved row's id is indexed already: only its position changes (no copy of
            // the id, no insertion).
            *self
                .index
                .get_mut(self.ids[i].as_str())
                .expect("every id is indexed") = i;
        }
        let target = self.targets.as_mut().map(|t| t.values.swap_remove(i));
        let sequence = self.sequence.swap_remove(i);
        let subject = self.subjects.as_mut().map(|s| s.swap_remove(i));
        if let Some(subject) = &subject {
            self.unindex_subject(subject, &id);
        }
        RemovedRow {
            position: i,
            id,
            features,
            target,
            sequence,
            subject,
        }
    }

    /// Undoes the latest [`Dataset::swap_remove`] still in effect (undo in reverse order):
    /// the row that moved into the removed row's place goes back to the end, and the
    /// removed row back to its position, restoring the exact previous order.
    pub fn undo_swap_remove(&mut self, removed: RemovedRow) {
        let d = self.n_features();
        let i = removed.position;
        if let Some(subject) = &removed.subject {
            self.by_subject
                .entry(subject.clone())
                .or_default()
                .insert(removed.id.clone());
        }
        if i == self.n_rows() {
            self.features.extend_from_slice(&removed.features);
            self.index.insert(removed.id.clone(), i);
            self.ids.push(removed.id);
            if let (Some(t), Some(y)) = (&mut self.targets, removed.target) {
                t.values.push(y);
            }
            self.sequence.push(removed.sequence);
            if let (Some(s), Some(subject)) = (&mut self.subjects, removed.subject) {
                s.push(subject);
            }
            return;
        }
        self.features.extend_from_within(i * d..(i + 1) * d);
        self.features[i * d..(i + 1) * d].copy_from_slice(&removed.features);
        self.index.insert(removed.id.clone(), i);
        let moved = std::mem::replace(&mut self.ids[i], removed.id);
        self.index.insert(moved.clone(), self.ids.len());
        self.ids.push(moved);
        if let (Some(t), Some(y)) = (&mut self.targets, removed.target) {
            let moved = std::mem::replace(&mut t.values[i], y);
            t.values.push(moved);
        }
        let moved = std::mem::replace(&mut self.sequence[i], removed.sequence);
        self.sequence.push(moved);
        if let (Some(s), Some(subject)) = (&mut self.subjects, removed.subject) {
            let moved = std::mem::replace(&mut s[i], subject);
            s.push(moved);
        }
    }

    /// Keeps only the rows for which `keep(i)` is true, preserving order.
    pub fn retain_rows(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let d = self.n_features();
        let mut write = 0;
        for read in 0..self.n_rows() {
            if keep(read) {
                if write != read {
                    self.features
                        .copy_within(read * d..(read + 1) * d, write * d);
                    self.ids.swap(write, read);
                    self.sequence.swap(write, read);
                    if let Some(t) = &mut self.targets {
                        t.values.swap(write, read);
                    }
                    if let Some(s) = &mut self.subjects {
                        s.swap(write, read);
                    }
                }
                write += 1;
            }
        }
        self.features.truncate(write * d);
        self.ids.truncate(write);
        self.sequence.truncate(write);
        if let Some(t) = &mut self.targets {
            t.values.truncate(write);
        }
        if let Some(s) = &mut self.subjects {
            s.truncate(write);
            self.by_subject = subject_index(&self.ids, s);
        }
        self.index = index_of(&self.ids).expect("a subset of unique ids is unique");
    }

    /// The row-major features with `value` appended to every row (n·(d + 1) values): the
    /// design matrix of [`Dataset::with_constant_feature`] without a copy of the ids.
    pub fn features_with_constant(&self, value: f64) -> Vec<f64> {
        let (n, d) = (self.n_rows(), self.n_features());
        let mut features = Vec::with_capacity(n * (d + 1));
        for i in 0..n {
            features.extend_from_slice(self.row(i));
            features.push(value);
        }
        features
    }

    /// A copy with a constant feature `value` appended to every row, named `name`.
    ///
    /// Used for the intercept: the intercept is an ordinary, regularized weight on a
    /// constant feature (see the crate docs).
    pub fn with_constant_feature(&self, name: &str, value: f64) -> Self {
        let features = self.features_with_constant(value);
        let mut feature_names = self.feature_names.clone();
        feature_names.push(name.to_string());
        Self {
            ids: self.ids.clone(),
            index: self.index.clone(),
            feature_names,
            features,
            targets: self.targets.clone(),
            declared: self.declared,
            sequence: self.sequence.clone(),
            subjects: self.subjects.clone(),
            by_subject: self.by_subject.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Six rows r0..r5 of two features, subjects a, b, a, c, b, a.
    fn rows() -> Dataset {
        let ids = (0..6).map(|i| format!("r{i}")).collect();
        let features = (0..12).map(f64::from).collect();
        let names = vec!["x".to_string(), "y".to_string()];
        let subjects = ["a", "b", "a", "c", "b", "a"].map(String::from).to_vec();
        Dataset::new(ids, names, features, None)
            .unwrap()
            .with_subjects(subjects)
            .unwrap()
    }

    /// Each row's subject stays its own through swap_remove, its undo in reverse order and
    /// restore_canonical_order, and the index subject → ids follows.
    #[test]
    fn subjects_follow_their_rows_through_removal_undo_and_reordering() {
        let original = rows();
        let mut data = original.clone();
        let removed: Vec<RemovedRow> = [0, 3, 1].iter().map(|&i| data.swap_remove(i)).collect();
        assert_eq!(
            removed
                .iter()
                .map(|r| r.subject.as_deref())
                .collect::<Vec<_>>(),
            [Some("a"), Some("c"), Some("b")]
        );
        for i in 0..data.n_rows() {
            let id = &data.ids()[i];
            let k: usize = id[1..].parse().unwrap();
            assert_eq!(data.subjects().unwrap()[i], original.subjects().unwrap()[k]);
            assert_eq!(data.row(i), original.row(k));
        }
        assert!(data.ids_of_subject("c").is_none(), "c's only row is gone");
        assert_eq!(
            data.ids_of_subject("a").unwrap().iter().collect::<Vec<_>>(),
            ["r2", "r5"]
        );
        let mut reordered = data.clone();
        reordered.restore_canonical_order();
        assert_eq!(reordered.ids(), ["r2", "r4", "r5"]);
        assert_eq!(reordered.subjects().unwrap(), ["a", "b", "a"]);
        for row in removed.into_iter().rev() {
            data.undo_swap_remove(row);
        }
        assert_eq!(data, original);
    }
}
