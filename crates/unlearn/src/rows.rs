//! Where the training rows live: held in the secret state, or external (issue 14, item 3).
//!
//! - **Held** ([`TrainingRows::Held`]): the secret state owns the preprocessed rows (with the
//!   intercept column), as it always has. Every removal path is available: exact steps,
//!   measured residuals, re-solves from zero, audits, `verify`'s exact residual.
//! - **External** ([`TrainingRows::External`]): the rows live in the user's table (a lake, a
//!   Spark DataFrame of 10⁸ rows) and never reach the driver. The secret state keeps what a
//!   pass-free removal step needs instead of the rows ([`ExternalRows`]): the row count n,
//!   the width d, the label encoding, the row-norm bound R and the certified ‖X‖₂ bound
//!   (both valid for any subset of the rows, so they stay bounds after removals), and the
//!   Hessian and Gram caches seeded from sums over the rows ([`RowSums`]) — which the store
//!   persists, since they cannot be rebuilt without a pass. The ledger's keyed id tags
//!   refuse a second removal of the same id, as in held mode.
//!
//! A removal in external mode is given the removed rows ([`GivenRows`]: fetched from the
//! table by id or by subject). The unlearner takes the O(d²) pass-free step on them; when
//! the refresh policy or the schedule asks for what needs the rows — a measured residual,
//! an exact Newton step, a re-solve — it does not guess: it answers
//! [`crate::unlearner::RemovalError::NeedsFullPass`] and changes nothing (but drops the
//! caches, as any failed request does: the pass was due anyway), and the caller
//! runs a pass over the remaining rows and finishes the request with
//! [`crate::unlearner::Unlearner::refresh_external`] from fresh [`RowSums`].
//!
//! **The assumption external mode adds, and the row digest.** The engine cannot check at a
//! removal that the given rows are exactly the training rows with those ids (it holds no
//! row to compare): it checks what it can — ids never removed before, that the given rows
//! are exactly the request's (each requested id's row, otherwise only rows carrying a
//! subject it erases, which needs the subject column), the published width, targets of the
//! published encoding, row norms within R after the published preprocessing. At a refresh
//! it checks that the fresh sums count n − m rows with the label counts the removals
//! leave and a row-norm bound within R (up to rounding), for remaining rows given as rows
//! ([`crate::unlearner::Unlearner::sums_over_remaining`]) that none has a removed id or an
//! erased subject, and that the sums' keyed **row digest** ([`crate::row_digest`]: an
//! order-free sum of a keyed PRF of each row's id, values and target) equals the one the
//! model keeps ([`ExternalRows::digest`]: the training rows' digest less every given row's
//! term). So a remaining row swapped for another, a row copied under a new id in place of
//! another, an altered value, or given rows at an earlier removal that were not the
//! training rows' values are refused at the next refresh, unless whoever wrote the table
//! held the digest key (proofs/distributed_sums.md, Lemma 6). What stays an assumption
//! until then, and the subjects' completeness always, is stated in README.md and
//! ARCHITECTURE.md and in every external-rows certificate ([`EXTERNAL_ROWS_ASSUMPTIONS`];
//! [`UNDIGESTED_EXTERNAL_ROWS_ASSUMPTIONS`] for a store saved before the digest). Rows
//! that differ from the training rows make the tracked gradient describe another data set;
//! its bound then says nothing about the model.
//!
//! **What the persisted caches reveal.** Ĥ₀ = Σ ℓ''(x_iᵀw₀)·x_ix_iᵀ + ΛI per class model, the
//! Gram matrix Σ x_ix_iᵀ, the tracked gradient Σ ℓ'(x_iᵀw)·x_i + Λw: second moments and
//! weighted sums of the secret rows, and (after downdates) rounding traces of removed rows.
//! They are secret state, kept only in the 0600 store beside the noise key, never in
//! `model.json`, a log or a receipt; a refresh replaces them with sums over the remaining
//! rows only.

use crate::data::{Dataset, TargetEncoding};
use crate::row_digest::RowDigest;
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};

/// The training rows of a secret state: held, or in the user's table. (One per model, so the
/// size difference between the variants costs nothing worth a box.)
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum TrainingRows {
    /// The preprocessed rows (with the intercept column), ids and encoded targets.
    Held(Dataset),
    /// The rows live elsewhere; what the unlearner keeps about them.
    External(ExternalRows),
}

/// What an external-rows secret state keeps about its rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalRows {
    /// n, the remaining rows.
    pub n_rows: usize,
    /// The design's feature names (with the intercept column, when enabled).
    pub feature_names: Vec<String>,
    /// How the rows' labels are encoded.
    pub encoding: TargetEncoding,
    /// Whether the rows record data subjects (a request may name one).
    pub subjects: bool,
    /// The keyed digest of the remaining rows ([`crate::row_digest`]): set at training,
    /// every removal's given rows taken out of it, compared with the sums' at every
    /// refresh. `None` only for a store saved before the digest existed (its certificates
    /// then carry [`UNDIGESTED_EXTERNAL_ROWS_ASSUMPTIONS`]).
    #[serde(default)]
    pub digest: Option<RowDigest>,
    /// Whether [`Self::digest`] was adopted from a refresh's sums by a model saved before
    /// the digest existed ([`crate::unlearner::Unlearner::refresh_external`]): it then pins
    /// the rows as they were at that refresh, not the training rows, and the certificates
    /// say so ([`ADOPTED_DIGEST_EXTERNAL_ROWS_ASSUMPTIONS`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub digest_adopted: bool,
}

impl TrainingRows {
    /// n, the remaining rows.
    pub fn n_rows(&self) -> usize {
        match self {
            Self::Held(design) => design.n_rows(),
            Self::External(rows) => rows.n_rows,
        }
    }

    /// d, the design's width (with the intercept column).
    pub fn n_features(&self) -> usize {
        self.feature_names().len()
    }

    /// The design's feature names (with the intercept column).
    pub fn feature_names(&self) -> &[String] {
        match self {
            Self::Held(design) => design.feature_names(),
            Self::External(rows) => &rows.feature_names,
        }
    }

    /// How the labels are encoded; `None` only for held rows without targets (never a
    /// trained model's).
    pub fn encoding(&self) -> Option<&TargetEncoding> {
        match self {
            Self::Held(design) => design.targets().map(|t| &t.encoding),
            Self::External(rows) => Some(&rows.encoding),
        }
    }

    /// Whether the rows record data subjects.
    pub fn records_subjects(&self) -> bool {
        match self {
            Self::Held(design) => design.subjects().is_some(),
            Self::External(rows) => rows.subjects,
        }
    }

    /// The held rows, if held.
    pub fn held(&self) -> Option<&Dataset> {
        match self {
            Self::Held(design) => Some(design),
            Self::External(_) => None,
        }
    }

    /// The held rows, if held, to change.
    pub fn held_mut(&mut self) -> Option<&mut Dataset> {
        match self {
            Self::Held(design) => Some(design),
            Self::External(_) => None,
        }
    }

    /// Whether the rows are external.
    pub fn is_external(&self) -> bool {
        matches!(self, Self::External(_))
    }

    /// What a certificate over these rows assumes of them: nothing for held rows,
    /// [`EXTERNAL_ROWS_ASSUMPTIONS`] for external rows with a row digest of the training
    /// rows, [`UNDIGESTED_EXTERNAL_ROWS_ASSUMPTIONS`] for those of a store from before it,
    /// and [`ADOPTED_DIGEST_EXTERNAL_ROWS_ASSUMPTIONS`] once such a store has adopted a
    /// refresh's digest.
    pub fn assumptions(&self) -> &'static [&'static str] {
        match self {
            Self::Held(_) => &[],
            Self::External(rows) if rows.digest.is_none() => &UNDIGESTED_EXTERNAL_ROWS_ASSUMPTIONS,
            Self::External(rows) if rows.digest_adopted => {
                &ADOPTED_DIGEST_EXTERNAL_ROWS_ASSUMPTIONS
            }
            Self::External(_) => &EXTERNAL_ROWS_ASSUMPTIONS,
        }
    }
}

/// Sums over the training rows at given weights, with their rounding bounds: what an
/// external-rows unlearner is seeded (and refreshed) from instead of the rows. The sums may
/// have been added in any order (partitions merged by a tree reduction): each error bound
/// must hold for every order (e.g. γ_N·Σ|terms| with N the total number of terms).
#[derive(Debug, Clone, PartialEq)]
pub struct RowSums {
    /// n, the rows summed.
    pub n_rows: usize,
    /// Rows per class of the encoding (binary: negative then positive; one-vs-rest: the
    /// classes in order; regression: empty).
    pub label_counts: Vec<usize>,
    /// R ≥ every row's norm (with the intercept column), after the fixed preprocessing.
    pub row_norm_bound: f64,
    /// S ≥ ‖X‖₂, certified (e.g. from the merged Gram matrix and its error bound).
    pub spectral_bound: f64,
    /// Per class model, at that model's weights.
    pub models: Vec<ModelSums>,
    /// Σ x_ix_iᵀ (full and symmetric) and η_G ≥ its 2-norm error; needed for the logistic
    /// loss (γ > 0), `None` for the squared loss.
    pub gram: Option<(DMatrix<f64>, f64)>,
    /// The keyed digest of the rows summed ([`crate::row_digest`], under the model's
    /// [`crate::noise::NoiseKey::row_digest_key`]), when they were read with their ids:
    /// what a refresh compares with the digest the model keeps.
    pub digest: Option<RowDigest>,
}

/// The sums of one class model at its weights w (objective L_b with Λ for n rows).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSums {
    /// The weights w the sums were taken at.
    pub weights: DVector<f64>,
    /// ∇L_b(w) = Σ ℓ'(x_iᵀw, y_i)·x_i + Λw + b, computed.
    pub gradient: DVector<f64>,
    /// e ≥ the 2-norm error of `gradient`.
    pub gradient_error: f64,
    /// ∇²L_b(w) = Σ ℓ''(x_iᵀw, y_i)·x_ix_iᵀ + ΛI (full and symmetric), computed.
    pub hessian: DMatrix<f64>,
    /// η ≥ its 2-norm error, including the curvatures' error at rounded margins.
    pub hessian_error: f64,
}

/// The removed rows a caller hands an external-rows unlearner: the rows as the training
/// input described them (the published feature columns in order, before the published
/// preprocessing; encoded targets; ids; the subject column when the request erases a
/// subject), the ids the request names and the data subjects it erases. The rows must be
/// exactly the rows of `ids` and the rows of `subjects` (fetched from the table by subject,
/// so each carries its subject): the unlearner refuses any other row, a missing id, and a
/// subject erasure without a subject column ([`crate::unlearner::Unlearner::remove_external`]).
#[derive(Debug, Clone, PartialEq)]
pub struct GivenRows {
    /// The removed rows.
    pub rows: Dataset,
    /// The ids the request names (each one's row among `rows`).
    pub ids: Vec<String>,
    /// The subjects erased by the request (all of whose rows are among `rows`).
    pub subjects: Vec<String>,
}

/// What a certificate over external rows assumes besides its mechanism's assumptions: what
/// the engine is handed and cannot check without the rows, or checks only at the next
/// refresh (see the module docs). Listed in `unproven_assumptions` of every certificate of
/// an external-rows unlearner that keeps a row digest ([`ExternalRows::digest`]), its
/// training certificate from sums included; never in a held-rows certificate.
pub const EXTERNAL_ROWS_ASSUMPTIONS: [&str; 3] = [
    "external rows: the rows given for a removal are the training rows with those ids, preprocessed the same way (the engine holds no row to compare them with: the next refresh's row digest refuses the model if they were not)",
    "external rows: the rows given for an erased subject are all of that subject's rows (the subject is recorded as erased from the rows it was given)",
    "external rows: the sums the model was seeded or refreshed from cover exactly the remaining rows (a refresh checks the counts, the label counts, the row-norm bound, and a keyed digest of the rows' ids, values and targets, which rows other than the training rows less the removed ones match with probability at most 2^-192 while the digest key is secret from whoever writes the table; the rows' data subjects are not in the digest)",
];

/// [`EXTERNAL_ROWS_ASSUMPTIONS`] for a model whose row digest was adopted from a refresh's
/// sums ([`ExternalRows::digest_adopted`]: a store saved before the digest, refreshed since).
/// The digest was never compared with the training rows, so it pins the table as it was at
/// that refresh: a row swapped for another, or copied under a new id, before then is not
/// detected; one changed after it is (the third text says so). The first two are
/// [`EXTERNAL_ROWS_ASSUMPTIONS`]'s: a removal's given rows are checked against the adopted
/// digest by the next refresh as against a training one.
pub const ADOPTED_DIGEST_EXTERNAL_ROWS_ASSUMPTIONS: [&str; 3] = [
    EXTERNAL_ROWS_ASSUMPTIONS[0],
    EXTERNAL_ROWS_ASSUMPTIONS[1],
    "external rows: the sums the model was seeded or refreshed from cover exactly the remaining rows (a refresh checks the counts, the label counts, the row-norm bound, and a keyed digest of the rows' ids, values and targets; the model was saved before the digest existed and adopted it from the table at a later refresh, so it pins the rows as they were then, not the training rows: a row swapped for another or copied under a new id before that refresh is not detected, one after it matches with probability at most 2^-192 while the digest key is secret from whoever writes the table; the rows' data subjects are not in the digest)",
];

/// [`EXTERNAL_ROWS_ASSUMPTIONS`] as they were before the row digest: what the certificates
/// of a store saved without one assume (its refreshes trust the rows beyond the counts,
/// label counts and row-norm bound, until a retrain or a refresh from sums that carry a
/// digest gives it one: [`crate::unlearner::Unlearner::refresh_external`]).
pub const UNDIGESTED_EXTERNAL_ROWS_ASSUMPTIONS: [&str; 3] = [
    "external rows: the rows given for a removal are the training rows with those ids, preprocessed the same way (the engine holds no row to compare them with)",
    "external rows: the rows given for an erased subject are all of that subject's rows (the subject is recorded as erased from the rows it was given)",
    "external rows: the sums the model was seeded or refreshed from cover exactly the remaining rows (the training rows less every row removed; a refresh checks the counts, the label counts and the row-norm bound, and the ids and subjects of remaining rows given as rows, not that no row was swapped for another or copied under a new id)",
];
