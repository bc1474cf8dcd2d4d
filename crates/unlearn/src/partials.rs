//! Partial sums: what one batch of training rows contributes to a Newton iteration, so that
//! training and refresh can run as map-reduce over partitions the library never holds
//! (issue 14: Spark's `mapInArrow` computes [`PartialSums`] per batch, a tree reduction
//! merges them, the driver finishes them into [`Totals`]).
//!
//! Everything a Newton iteration (and the certificate after it) needs from the rows is a sum
//! over rows, at given weights w_k (one per class model):
//!
//! | sum | formula | used for |
//! |---|---|---|
//! | rows | n | Λ = λ·n (per-sample), the γ_N of every bound |
//! | value | Σ ℓ(x_iᵀw_k, y_ik) | the line search |
//! | gradient | Σ ℓ'(x_iᵀw_k, y_ik)·x_i | the step and the stopping test |
//! | derivative mass | Σ \|ℓ'_i\| | the gradient's rounding bound |
//! | Hessian | Σ ℓ''_i·x_i x_iᵀ (lower triangle; below [`HESSIAN_FREE_DIMENSION`]) | the Newton step, the removal cache |
//! | Hessian diagonal | Σ ℓ''_i·x_ij² | the conjugate-gradient preconditioner |
//! | curvature mass | Σ ℓ''_i·‖x_i‖² | the Hessian's rounding bound |
//! | Hessian·v | Σ ℓ''_i·(x_iᵀv_k)·x_i (when the driver asks) | conjugate-gradient steps from d ≥ 2048 |
//! | Gram | Σ x_i x_iᵀ (lower triangle, once) | the certified ‖X‖₂ bound |
//! | squared norms | Σ ‖x_i‖², max ‖x_i‖² | ‖X‖_F, the row-norm bound R |
//! | class counts | rows per class of the encoding | the label set a retrain would see |
//! | row digest | Σ t(id_i, x_i, y_i) mod 2²⁵⁶, a keyed PRF per row (when asked: [`DigestRequest`]) | a refresh's check that these are the training rows less the removed ([`crate::row_digest`]) |
//!
//! The rows are those training sees: the batch read by the core's Arrow reader
//! ([`crate::data::arrow::BatchReader`], the one the Parquet reader and the Python tables
//! use), the model's *fixed* preprocessing applied ([`Preprocessing::apply`]: constant
//! scales, then clipping, row by row — never fitted on the data), then the intercept column
//! of value 1 appended ([`crate::model::INTERCEPT_FEATURE`]), exactly as
//! [`crate::model::train`] prepares its design.
//!
//! # Rounding bounds in any order
//! Each sum is a sum of N per-row terms, N the total row count. Floating-point summation of
//! N terms in *any* order and any bracketing (a tree reduction over partitions, in whatever
//! order Spark finishes them) makes each term pass through at most N − 1 additions, so
//! |fl(Σ t̂_i) − Σ t̂_i| ≤ γ_{N−1}·Σ|t̂_i| (Higham, *Accuracy and Stability*, §4.2). The
//! bounds [`PartialSums::finish`] attaches to the [`Totals`] are built from N and from the
//! absolute masses above, never from the order — the argument is in
//! proofs/distributed_sums.md.
//!
//! # The byte encoding
//! [`PartialSums::to_bytes`] / [`PartialSums::from_bytes`] (and the same for [`Query`]): a
//! magic tag, a format version, the payload (little-endian u64 lengths and f64 values), and
//! a SHA-256 of all of it. Decoding checks the tag, the version, every length against the
//! bytes left (before allocating) and the digest, so a truncated, corrupt or foreign blob is
//! an error naming what is wrong, never a panic. Each partial also carries the digest of
//! the query and spec it answers, so partials of different passes (or of another model)
//! are never merged.
//!
//! Partial sums are sums over secret rows: they travel from the executors to the driver
//! inside one job and are never logged or written to a file.

use crate::bounds::{self, GradientRoundingInputs, UNIT_ROUNDOFF, rounding_gamma};
use crate::data::{DataError, Preprocessing, TargetEncoding};
use crate::linalg;
use crate::loss::{Loss, LossKind};
use crate::model::{self, Hyperparameters};
pub use crate::removal::HESSIAN_FREE_DIMENSION;
use crate::row_digest::{RowDigest, RowDigestKey};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Version of the byte encodings of [`PartialSums`], [`Query`], [`PreparedRows`] and
/// [`DigestRequest`]. Version 2 added the row digest ([`crate::row_digest`]); blobs of
/// version 1 are refused (the decoder names both versions).
pub const PARTIALS_FORMAT_VERSION: u16 = 2;

/// Tag that opens an encoded [`PartialSums`].
const PARTIALS_MAGIC: &[u8; 8] = b"ULPSUMS\0";
/// Tag that opens an encoded [`Query`].
const QUERY_MAGIC: &[u8; 8] = b"ULQUERY\0";
/// Tag that opens an encoded [`PreparedRows`].
const PREPARED_MAGIC: &[u8; 8] = b"ULPREPR\0";
/// Tag that opens an encoded [`DigestRequest`].
const DIGEST_REQUEST_MAGIC: &[u8; 8] = b"ULRDREQ\0";

/// Why partial sums could not be computed, decoded, merged or finished.
#[derive(Debug, thiserror::Error)]
pub enum PartialsError {
    /// The batch could not be read (a missing column, a null, a label outside the encoding…).
    #[error(transparent)]
    Data(#[from] DataError),
    /// The spec or the query is unusable.
    #[error("{0}")]
    Invalid(String),
    /// A blob is not a valid encoding.
    #[error("{what} is not a valid unlearn {kind} blob: {reason}")]
    Corrupt {
        /// What was being decoded ("a", "b", "the total", …).
        what: String,
        /// "partial sums", "query" or "prepared rows".
        kind: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Two partials (or a partial and a query) do not belong together.
    #[error("{0}")]
    Mismatch(String),
}

/// What every executor needs to turn a batch into rows as training sees them: public,
/// data-independent constants (the same for every batch of a fit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchSpec {
    /// The loss ℓ.
    pub loss: LossKind,
    /// How the target column's labels map to targets (fixed before the first pass).
    pub encoding: TargetEncoding,
    /// The feature columns, in order: numeric columns or elements `x[k]` of a FixedSizeList
    /// column `x` (the Arrow reader's names).
    pub feature_names: Vec<String>,
    /// The target column.
    pub target_column: String,
    /// Constant scales and clip norm, applied to each row on its own.
    #[serde(default)]
    pub preprocessing: Preprocessing,
    /// Whether a constant feature 1 is appended after preprocessing.
    pub intercept: bool,
}

impl BatchSpec {
    /// Checks the constants and the encoding against the loss.
    pub fn validate(&self) -> Result<(), PartialsError> {
        self.preprocessing.validate(&self.feature_names)?;
        if self.feature_names.is_empty() && !self.intercept {
            return Err(PartialsError::Invalid(
                "the spec names no feature and no intercept: give feature_names".into(),
            ));
        }
        let classification = !matches!(self.encoding, TargetEncoding::Regression);
        if classification != self.loss.is_classification() {
            return Err(PartialsError::Invalid(format!(
                "the {} loss does not fit the target encoding ({}): logistic needs class \
                 labels, squared a real-valued target",
                serde_json::to_string(&self.loss).unwrap_or_default(),
                self.encoding.describe()
            )));
        }
        Ok(())
    }

    /// d: the number of weights per model (the features plus the intercept).
    pub fn dim(&self) -> usize {
        self.feature_names.len() + usize::from(self.intercept)
    }

    /// k: the number of class models.
    pub fn model_count(&self) -> usize {
        model::model_count(&self.encoding)
    }

    /// The number of classes counted per batch (0 for a real-valued target).
    fn class_count(&self) -> usize {
        self.encoding.classes().map_or(0, |c| c.len())
    }

    /// SHA-256 of the spec's canonical JSON, bound into every query digest.
    fn digest(&self) -> [u8; 32] {
        let json = serde_json::to_vec(self).expect("a batch spec serialises");
        Sha256::digest(&json).into()
    }
}

/// What an executor needs to add the keyed row digest ([`crate::row_digest`]) to the sums
/// of its batches: the digest key k_D and the id column to read. A secret (k_D): it travels
/// to the executors inside the job, like the weights, and is never logged or written (its
/// `Debug` output shows the key as `<secret>`).
#[derive(Debug, Clone, PartialEq)]
pub struct DigestRequest {
    /// k_D ([`crate::noise::NoiseKey::row_digest_key`]).
    pub key: RowDigestKey,
    /// The column holding each row's id (read as text, as removals read it).
    pub id_column: String,
}

impl DigestRequest {
    /// The versioned, checksummed encoding (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Encoder::new(DIGEST_REQUEST_MAGIC);
        out.bytes(self.key.as_bytes());
        out.u64(self.id_column.len() as u64);
        out.bytes(self.id_column.as_bytes());
        out.finish()
    }

    /// Decodes [`DigestRequest::to_bytes`]; `what` names the blob in errors.
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Self, PartialsError> {
        let mut input = Decoder::new(bytes, DIGEST_REQUEST_MAGIC, what, "digest request")?;
        let key: [u8; 32] = input.take(32)?.try_into().expect("32 bytes");
        let length = input.len(1)?;
        let id_column = String::from_utf8(input.take(length)?.to_vec())
            .map_err(|_| input.corrupt("its id column is not UTF-8".into()))?;
        input.end()?;
        Ok(Self {
            key: RowDigestKey::from_bytes(key),
            id_column,
        })
    }
}

/// One model's part of a [`Query`].
#[derive(Debug, Clone, PartialEq)]
pub struct ModelQuery {
    /// The weights w_k at which the sums are taken (length d).
    pub weights: Vec<f64>,
    /// A direction v_k for the Hessian-vector product ∇²L(w_k)·v_k, if wanted.
    pub direction: Option<Vec<f64>>,
}

/// What one pass over the rows evaluates: the driver's request to every executor
/// ([`crate::distributed::DistributedFit::query`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// One entry per class model.
    pub models: Vec<ModelQuery>,
    /// Whether each model's Hessian is wanted (only below [`HESSIAN_FREE_DIMENSION`]).
    pub hessian: bool,
    /// Whether the Gram matrix is wanted (once per fit: it does not depend on w).
    pub gram: bool,
}

impl Query {
    /// Checks the query against the spec: one model per class model, vectors of length d,
    /// finite values, no Hessian or Gram matrix from [`HESSIAN_FREE_DIMENSION`] features on.
    pub fn validate(&self, spec: &BatchSpec) -> Result<(), PartialsError> {
        let (d, k) = (spec.dim(), spec.model_count());
        if self.models.len() != k {
            return Err(PartialsError::Mismatch(format!(
                "the query holds weights for {} models; the spec's encoding has {k}",
                self.models.len()
            )));
        }
        for (m, q) in self.models.iter().enumerate() {
            for (what, v) in std::iter::once(("weights", &q.weights))
                .chain(q.direction.iter().map(|v| ("direction", v)))
            {
                if v.len() != d {
                    return Err(PartialsError::Mismatch(format!(
                        "model {m}'s {what} have {} values; the spec's rows have {d} (features \
                         plus intercept)",
                        v.len()
                    )));
                }
                if let Some(j) = v.iter().position(|x| !x.is_finite()) {
                    return Err(PartialsError::Invalid(format!(
                        "model {m}'s {what} hold a non-finite value at {j}"
                    )));
                }
            }
        }
        if (self.hessian || self.gram) && d >= HESSIAN_FREE_DIMENSION {
            return Err(PartialsError::Invalid(format!(
                "d = {d}: from {HESSIAN_FREE_DIMENSION} features on the d×d matrices are not \
                 formed (ask for Hessian-vector products instead)"
            )));
        }
        Ok(())
    }

    /// The versioned, checksummed encoding (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Encoder::new(QUERY_MAGIC);
        out.u64(self.models.len() as u64);
        out.u8(u8::from(self.hessian) | (u8::from(self.gram) << 1));
        for q in &self.models {
            out.f64s(&q.weights);
            match &q.direction {
                Some(v) => {
                    out.u8(1);
                    out.f64s(v);
                }
                None => out.u8(0),
            }
        }
        out.finish()
    }

    /// Decodes [`Query::to_bytes`]; `what` names the blob in errors.
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Self, PartialsError> {
        let mut input = Decoder::new(bytes, QUERY_MAGIC, what, "query")?;
        let count = input.len(1)?;
        let flags = input.u8()?;
        if flags > 3 {
            return Err(input.corrupt(format!("unknown flags {flags}")));
        }
        let mut models = Vec::with_capacity(count);
        for _ in 0..count {
            let weights = input.f64s()?;
            let direction = match input.u8()? {
                0 => None,
                1 => Some(input.f64s()?),
                t => return Err(input.corrupt(format!("unknown direction tag {t}"))),
            };
            models.push(ModelQuery { weights, direction });
        }
        input.end()?;
        Ok(Self {
            models,
            hessian: flags & 1 != 0,
            gram: flags & 2 != 0,
        })
    }

    /// The digest every partial answering this query under `spec` carries.
    pub fn digest(&self, spec: &BatchSpec) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(spec.digest());
        h.update(self.to_bytes());
        h.finalize().into()
    }
}

/// One class model's sums over the rows of a batch (or of merged batches).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSums {
    /// Σ ℓ(x_iᵀw, y_i).
    pub value: f64,
    /// Σ ℓ'(x_iᵀw, y_i)·x_i (length d).
    pub gradient: Vec<f64>,
    /// Σ |ℓ'(x_iᵀw, y_i)|.
    pub derivative_mass: f64,
    /// Σ ℓ''_i·x_i x_iᵀ, lower triangle packed by columns (d(d+1)/2 values), if asked.
    pub hessian: Option<Vec<f64>>,
    /// Σ ℓ''_i·x_ij² (length d).
    pub hessian_diagonal: Vec<f64>,
    /// Σ ℓ''_i·‖x_i‖².
    pub curvature_mass: f64,
    /// Σ ℓ''_i·(x_iᵀv)·x_i for the query's direction v, if asked.
    pub hessian_vector: Option<Vec<f64>>,
}

/// The sums of one batch, or of merged batches (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct PartialSums {
    /// [`Query::digest`] of the query and spec these sums answer.
    query: [u8; 32],
    /// d.
    dim: usize,
    /// n, the rows summed.
    pub rows: u64,
    /// One entry per class model.
    pub models: Vec<ModelSums>,
    /// Σ x_i x_iᵀ, lower triangle packed by columns, if asked.
    pub gram: Option<Vec<f64>>,
    /// Σ ‖x_i‖².
    pub squared_norm_sum: f64,
    /// max ‖x_i‖² (as computed; a maximum is exact in floating point).
    pub max_squared_norm: f64,
    /// Rows per class, in the encoding's class order (empty for a real-valued target).
    pub class_counts: Vec<u64>,
    /// The keyed digest of the rows summed, when their batches were read with a
    /// [`DigestRequest`] (merged by [`RowDigest::merge`]: exact in any order).
    pub row_digest: Option<RowDigest>,
}

/// One batch read and preprocessed once, to be summed at many queries: the row-major design
/// (intercept column included) and the encoded targets, bound to the digest of the spec
/// that made them.
///
/// Reading an Arrow batch (labels, nulls, preprocessing, the intercept) costs 4–10× the
/// sums themselves (BENCHMARKS.md, "Partial sums per batch"), and a fit sums the same rows
/// at every pass: a cache of prepared rows (Spark's block manager, for
/// `unlearn.spark`) pays the reading once. [`PreparedRows::sums`] is exactly
/// [`PartialSums::of_rows`] on the rows [`PartialSums::of_batch`] would read, so the sums
/// and their order-free rounding bounds are the same bit for bit; the spec digest refuses
/// rows prepared under another encoding, preprocessing or feature list. The encoding is
/// versioned and checksummed like the partials' (see the module docs). Prepared rows are
/// secret rows: they stay inside the job that caches them.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedRows {
    /// SHA-256 of the spec's canonical JSON ([`BatchSpec`]'s digest).
    spec: [u8; 32],
    /// d: values per row.
    dim: usize,
    /// The rows, row-major, d values each.
    design: Vec<f64>,
    /// The encoded targets, one per row.
    targets: Vec<f64>,
    /// The rows' keyed digest, when they were prepared with a [`DigestRequest`]: added to
    /// the sums of every pass ([`PreparedRows::sums`]), so the digest costs one reading.
    digest: Option<RowDigest>,
}

impl PreparedRows {
    /// The rows of one Arrow record batch as training sees them: read by the core's Arrow
    /// reader (features as numeric columns or a FixedSizeList column, the target column by
    /// name; other columns, such as the id, are not read), preprocessed and given the
    /// intercept column as training does (see the module docs). With `digest`, the id
    /// column it names is read too and the rows' keyed digest kept beside them.
    #[cfg(feature = "arrow")]
    pub fn of_batch(
        batch: &arrow_array::RecordBatch,
        spec: &BatchSpec,
        digest: Option<&DigestRequest>,
    ) -> Result<Self, PartialsError> {
        Self::of_batch_in(batch, spec, digest, Vec::new())
    }

    /// [`PreparedRows::of_batch`] with the design in `buffer`'s allocation (its values are
    /// discarded; [`PreparedRows::into_design`] hands it back for the next batch). The same
    /// rows, bit for bit: only where they are stored changes.
    ///
    /// Why: a batch's design (65,536 rows × 101 values: 53 MB) is above glibc's mmap
    /// threshold (32 MB), so a fresh one is fresh pages, faulted in and zeroed by the
    /// kernel on first write; before, each batch paid that twice (the reader's features,
    /// then a copy with the intercept column), which was most of a Spark task's kernel time
    /// (BENCHMARKS.md, "5,000,000 × 100, round 4"). Here the reader writes into the buffer
    /// and the intercept column is inserted in place (`append_constant`).
    #[cfg(feature = "arrow")]
    pub fn of_batch_in(
        batch: &arrow_array::RecordBatch,
        spec: &BatchSpec,
        digest: Option<&DigestRequest>,
        mut buffer: Vec<f64>,
    ) -> Result<Self, PartialsError> {
        use crate::data::arrow::{BatchReader, Origin};
        use crate::data::{CsvOptions, TargetSpec};
        spec.validate()?;
        let mut prepared = Self {
            spec: spec.digest(),
            dim: spec.dim(),
            design: Vec::new(),
            targets: Vec::new(),
            digest: digest.map(|_| RowDigest::default()),
        };
        let n = batch.num_rows();
        if n == 0 {
            return Ok(prepared);
        }
        let opts = CsvOptions {
            target: Some(spec.target_column.clone()),
            id: digest.map(|r| r.id_column.clone()),
            spec: TargetSpec::Encoded(spec.encoding.clone()),
            features: Some(spec.feature_names.clone()),
            ..CsvOptions::default()
        };
        let origin = Origin::Memory {
            name: "the batch".into(),
        };
        // Room for the intercept column too: inserting it then moves rows within the buffer.
        buffer.clear();
        buffer.reserve(n.saturating_mul(prepared.dim));
        let mut reader = BatchReader::new(origin, &batch.schema(), &opts)?.with_buffer(buffer);
        reader.reserve(n);
        reader.push(batch)?;
        let mut data = reader.finish(&opts)?;
        spec.preprocessing.apply(&mut data)?;
        let features = data.n_features();
        let (ids, mut design, targets) = data.into_rows();
        // The intercept column as `model::train` appends it (`Dataset::features_with_constant`).
        if spec.intercept {
            append_constant(&mut design, n, features, 1.0);
        }
        prepared.design = design;
        prepared.targets = targets.expect("the target column is read").values;
        if let Some(request) = digest {
            prepared.digest = Some(RowDigest::of_rows(
                &request.key,
                &ids,
                &prepared.design,
                prepared.dim,
                &prepared.targets,
            ));
        }
        Ok(prepared)
    }

    /// The design's buffer (the rows' values still in it), for the next
    /// [`PreparedRows::of_batch_in`].
    pub fn into_design(self) -> Vec<f64> {
        self.design
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.targets.len()
    }

    /// The sums of these rows at the query's weights; refuses rows prepared under another
    /// spec (a cache entry of another fit).
    pub fn sums(&self, spec: &BatchSpec, query: &Query) -> Result<PartialSums, PartialsError> {
        query.validate(spec)?;
        if self.spec != spec.digest() || self.dim != spec.dim() {
            return Err(PartialsError::Mismatch(
                "the prepared rows were read under another spec (features, encoding, \
                 preprocessing or intercept): prepare them again for this fit"
                    .into(),
            ));
        }
        let mut sums = PartialSums::of_rows(spec, query, &self.design, &self.targets);
        sums.row_digest = self.digest;
        Ok(sums)
    }

    /// The versioned, checksummed encoding: spec digest, d, the rows, the design, the targets.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Encoder::new(PREPARED_MAGIC);
        out.bytes(&self.spec);
        out.u64(self.dim as u64);
        out.f64s(&self.targets);
        out.f64s(&self.design);
        out.row_digest(self.digest.as_ref());
        out.finish()
    }

    /// Decodes [`PreparedRows::to_bytes`], checking the design's length against the rows
    /// and d; `what` names the blob in errors.
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Self, PartialsError> {
        let mut input = Decoder::new(bytes, PREPARED_MAGIC, what, "prepared rows")?;
        let spec: [u8; 32] = input.take(32)?.try_into().expect("32 bytes");
        let dim = input.len(0)?;
        let targets = input.f64s()?;
        let design = input.f64s_of(targets.len().saturating_mul(dim), "design")?;
        let digest = input.row_digest()?;
        input.end()?;
        Ok(Self {
            spec,
            dim,
            design,
            targets,
            digest,
        })
    }
}

/// Appends `value` to each of the `n` rows of the row-major `rows` (`d` values a row), in
/// place: the result is [`crate::data::Dataset::features_with_constant`]'s, n·(d + 1)
/// values, without a second buffer. Row i moves from i·d to i·(d + 1), the last row first:
/// a destination never starts before its source, so no row is overwritten before it has
/// moved.
fn append_constant(rows: &mut Vec<f64>, n: usize, d: usize, value: f64) {
    debug_assert_eq!(rows.len(), n * d);
    rows.resize(n * (d + 1), value);
    for i in (0..n).rev() {
        rows.copy_within(i * d..(i + 1) * d, i * (d + 1));
        rows[i * (d + 1) + d] = value;
    }
}

/// Index of entry (i, j), i ≥ j, of a d×d lower triangle packed by columns.
fn packed_index(d: usize, i: usize, j: usize) -> usize {
    j * d - j * (j + 1) / 2 + i
}

/// The lower triangle of a square matrix, packed by columns.
fn pack_lower(m: &DMatrix<f64>) -> Vec<f64> {
    let d = m.nrows();
    let mut out = Vec::with_capacity(d * (d + 1) / 2);
    for j in 0..d {
        out.extend((j..d).map(|i| m[(i, j)]));
    }
    out
}

/// The symmetric matrix whose lower triangle is `packed`.
fn unpack_symmetric(packed: &[f64], d: usize) -> DMatrix<f64> {
    let mut m = DMatrix::zeros(d, d);
    let mut at = 0;
    for j in 0..d {
        for i in j..d {
            m[(i, j)] = packed[at];
            m[(j, i)] = packed[at];
            at += 1;
        }
    }
    m
}

impl PartialSums {
    /// The sums of no rows: the identity of [`PartialSums::merge`].
    pub fn empty(spec: &BatchSpec, query: &Query) -> Self {
        let d = spec.dim();
        let triangle = d * (d + 1) / 2;
        Self {
            query: query.digest(spec),
            dim: d,
            rows: 0,
            models: query
                .models
                .iter()
                .map(|q| ModelSums {
                    value: 0.0,
                    gradient: vec![0.0; d],
                    derivative_mass: 0.0,
                    hessian: query.hessian.then(|| vec![0.0; triangle]),
                    hessian_diagonal: vec![0.0; d],
                    curvature_mass: 0.0,
                    hessian_vector: q.direction.as_ref().map(|_| vec![0.0; d]),
                })
                .collect(),
            gram: query.gram.then(|| vec![0.0; triangle]),
            squared_norm_sum: 0.0,
            max_squared_norm: 0.0,
            class_counts: vec![0; spec.class_count()],
            row_digest: None,
        }
    }

    /// The sums over preprocessed rows `design` (row-major, d = `spec.dim()` values each,
    /// intercept column included) with encoded targets `targets` (±1, class indices or real
    /// values, as `spec.encoding` says), at the query's weights. The query must have passed
    /// [`Query::validate`] for `spec`.
    pub fn of_rows(spec: &BatchSpec, query: &Query, design: &[f64], targets: &[f64]) -> Self {
        let d = spec.dim();
        let n = targets.len();
        debug_assert_eq!(design.len(), n * d);
        let mut sums = Self::empty(spec, query);
        if n == 0 {
            return sums;
        }
        sums.rows = n as u64;
        let squared_norms: Vec<f64> = design
            .chunks_exact(d.max(1))
            .map(|x| linalg::dot(x, x))
            .collect();
        sums.squared_norm_sum = squared_norms.iter().sum();
        sums.max_squared_norm = squared_norms.iter().copied().fold(0.0, f64::max);
        for &y in targets {
            // Binary: −1 is class 0 (negative), +1 class 1; one-vs-rest: the class index.
            let class = match spec.encoding {
                TargetEncoding::Regression => continue,
                TargetEncoding::Binary { .. } => usize::from(y > 0.0),
                TargetEncoding::Multiclass { .. } => y as usize,
            };
            if let Some(count) = sums.class_counts.get_mut(class) {
                *count += 1;
            }
        }
        let ones = vec![1.0; n];
        let gram = query
            .gram
            .then(|| pack_lower(&linalg::weighted_gram(design, d, &ones)));
        let loss = spec.loss;
        for (k, (q, out)) in query.models.iter().zip(&mut sums.models).enumerate() {
            let y = model::model_targets(&spec.encoding, targets, k);
            let w = DVector::from_column_slice(&q.weights);
            let z = linalg::margins(design, &w);
            let mut derivatives = Vec::with_capacity(n);
            let mut curvatures = Vec::with_capacity(n);
            for (&zi, &yi) in z.iter().zip(&y) {
                out.value += loss.value(zi, yi);
                let r = loss.derivative(zi, yi);
                out.derivative_mass += r.abs();
                derivatives.push(r);
                curvatures.push(loss.second_derivative(zi, yi));
            }
            out.curvature_mass = curvatures
                .iter()
                .zip(&squared_norms)
                .map(|(s, q)| s * q)
                .sum();
            out.gradient = linalg::transpose_times(design, d, &derivatives)
                .as_slice()
                .to_vec();
            if query.hessian {
                // The squared loss has ℓ'' = 1: its Hessian's data part is the Gram matrix.
                let hessian = match (&gram, loss) {
                    (Some(g), LossKind::Squared) => g.clone(),
                    _ => pack_lower(&linalg::weighted_gram(design, d, &curvatures)),
                };
                out.hessian_diagonal = (0..d).map(|j| hessian[packed_index(d, j, j)]).collect();
                out.hessian = Some(hessian);
            } else {
                let mut diagonal = vec![0.0; d];
                for (x, &s) in design.chunks_exact(d.max(1)).zip(&curvatures) {
                    diagonal
                        .iter_mut()
                        .zip(x)
                        .for_each(|(h, &xj)| *h += s * xj * xj);
                }
                out.hessian_diagonal = diagonal;
            }
            out.hessian_vector = q.direction.as_ref().map(|v| {
                linalg::weighted_gram_times(design, d, &curvatures, v)
                    .as_slice()
                    .to_vec()
            });
        }
        sums.gram = gram;
        sums
    }

    /// The sums of one Arrow record batch: [`PreparedRows::of_batch`] (the rows as training
    /// sees them; with `digest`, their keyed row digest too), then [`PartialSums::of_rows`]
    /// at the query's weights.
    #[cfg(feature = "arrow")]
    pub fn of_batch(
        batch: &arrow_array::RecordBatch,
        spec: &BatchSpec,
        query: &Query,
        digest: Option<&DigestRequest>,
    ) -> Result<Self, PartialsError> {
        Self::of_batch_in(batch, spec, query, digest, &mut Vec::new())
    }

    /// [`PartialSums::of_batch`] with the rows read into `buffer`'s allocation
    /// ([`PreparedRows::of_batch_in`]: the same sums bit for bit), which holds the batch's
    /// rows afterwards and serves the next batch: a caller summing batch after batch keeps
    /// one buffer. The rows in it are secret: keep it inside the process.
    #[cfg(feature = "arrow")]
    pub fn of_batch_in(
        batch: &arrow_array::RecordBatch,
        spec: &BatchSpec,
        query: &Query,
        digest: Option<&DigestRequest>,
        buffer: &mut Vec<f64>,
    ) -> Result<Self, PartialsError> {
        query.validate(spec)?;
        let rows = PreparedRows::of_batch_in(batch, spec, digest, std::mem::take(buffer))?;
        let sums = rows.sums(spec, query);
        *buffer = rows.into_design();
        sums
    }

    /// Adds `other`'s sums to these (rows, every sum, the largest row norm, class counts).
    /// Refuses partials of another query or shape. Any order of merges is covered by the
    /// same rounding bounds (see the module docs).
    pub fn merge(&mut self, other: &PartialSums) -> Result<(), PartialsError> {
        if self.query != other.query {
            return Err(PartialsError::Mismatch(
                "the two partial sums answer different queries (another pass, weights or \
                 spec): merge only partials of one pass"
                    .into(),
            ));
        }
        let same_shape = self.dim == other.dim
            && self.models.len() == other.models.len()
            && self.gram.is_some() == other.gram.is_some()
            && self.class_counts.len() == other.class_counts.len()
            && self.models.iter().zip(&other.models).all(|(a, b)| {
                a.hessian.is_some() == b.hessian.is_some()
                    && a.hessian_vector.is_some() == b.hessian_vector.is_some()
            });
        if !same_shape {
            return Err(PartialsError::Mismatch(
                "the two partial sums have different shapes for the same query".into(),
            ));
        }
        // The empty partial (no rows, no digest) is the identity for partials with one.
        let row_digest = match (self.row_digest, other.row_digest) {
            (Some(mut a), Some(b)) => {
                a.merge(&b);
                Some(a)
            }
            (None, None) => None,
            (None, b) if self.rows == 0 => b,
            (a, None) if other.rows == 0 => a,
            _ => {
                return Err(PartialsError::Mismatch(
                    "one partial carries a row digest and the other does not: read every \
                     batch of a pass with the same digest request (the id column and key)"
                        .into(),
                ));
            }
        };
        self.row_digest = row_digest;
        fn add(a: &mut [f64], b: &[f64]) {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        fn add_opt(a: &mut Option<Vec<f64>>, b: &Option<Vec<f64>>) {
            if let (Some(a), Some(b)) = (a, b) {
                add(a, b);
            }
        }
        self.rows += other.rows;
        for (a, b) in self.models.iter_mut().zip(&other.models) {
            a.value += b.value;
            add(&mut a.gradient, &b.gradient);
            a.derivative_mass += b.derivative_mass;
            add_opt(&mut a.hessian, &b.hessian);
            add(&mut a.hessian_diagonal, &b.hessian_diagonal);
            a.curvature_mass += b.curvature_mass;
            add_opt(&mut a.hessian_vector, &b.hessian_vector);
        }
        add_opt(&mut self.gram, &other.gram);
        self.squared_norm_sum += other.squared_norm_sum;
        self.max_squared_norm = self.max_squared_norm.max(other.max_squared_norm);
        self.class_counts
            .iter_mut()
            .zip(&other.class_counts)
            .for_each(|(a, b)| *a += b);
        Ok(())
    }

    /// Whether these sums answer `query` under `spec`.
    pub fn answers(&self, spec: &BatchSpec, query: &Query) -> bool {
        self.query == query.digest(spec)
    }

    /// The versioned, checksummed encoding (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Encoder::new(PARTIALS_MAGIC);
        out.bytes(&self.query);
        out.u64(self.dim as u64);
        out.u64(self.rows);
        out.u64(self.models.len() as u64);
        for m in &self.models {
            out.f64(m.value);
            out.f64s(&m.gradient);
            out.f64(m.derivative_mass);
            out.optional_f64s(m.hessian.as_deref());
            out.f64s(&m.hessian_diagonal);
            out.f64(m.curvature_mass);
            out.optional_f64s(m.hessian_vector.as_deref());
        }
        out.optional_f64s(self.gram.as_deref());
        out.f64(self.squared_norm_sum);
        out.f64(self.max_squared_norm);
        out.u64(self.class_counts.len() as u64);
        self.class_counts.iter().for_each(|&c| out.u64(c));
        out.row_digest(self.row_digest.as_ref());
        out.finish()
    }

    /// Decodes [`PartialSums::to_bytes`], checking every length against d and the model
    /// count; `what` names the blob in errors.
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Self, PartialsError> {
        let mut input = Decoder::new(bytes, PARTIALS_MAGIC, what, "partial sums")?;
        let query: [u8; 32] = input.take(32)?.try_into().expect("32 bytes");
        let dim = input.len(8)?;
        let triangle = dim * (dim + 1) / 2;
        let rows = input.u64()?;
        let count = input.len(8)?;
        let mut models = Vec::with_capacity(count);
        for _ in 0..count {
            let value = input.f64()?;
            let gradient = input.f64s_of(dim, "gradient")?;
            let derivative_mass = input.f64()?;
            let hessian = input.optional_f64s_of(triangle, "Hessian")?;
            let hessian_diagonal = input.f64s_of(dim, "Hessian diagonal")?;
            let curvature_mass = input.f64()?;
            let hessian_vector = input.optional_f64s_of(dim, "Hessian-vector product")?;
            models.push(ModelSums {
                value,
                gradient,
                derivative_mass,
                hessian,
                hessian_diagonal,
                curvature_mass,
                hessian_vector,
            });
        }
        let gram = input.optional_f64s_of(triangle, "Gram matrix")?;
        let squared_norm_sum = input.f64()?;
        let max_squared_norm = input.f64()?;
        let classes = input.len(8)?;
        let class_counts = (0..classes)
            .map(|_| input.u64())
            .collect::<Result<_, _>>()?;
        let row_digest = input.row_digest()?;
        input.end()?;
        Ok(Self {
            query,
            dim,
            rows,
            models,
            gram,
            squared_norm_sum,
            max_squared_norm,
            class_counts,
            row_digest,
        })
    }

    /// The merged sums finished on the driver at the query they answer: Λ = the total
    /// regularisation for the rows summed, L_b = Σℓ + (Λ/2)‖w‖² + bᵀw, ∇L_b = Σℓ'x + Λw + b,
    /// ∇²L_b = Σℓ''xxᵀ + ΛI, each with its rounding bound (proofs/distributed_sums.md).
    /// `noise` holds b per model (zero under output perturbation).
    pub fn finish(
        &self,
        spec: &BatchSpec,
        query: &Query,
        hyper: &Hyperparameters,
        noise: &[DVector<f64>],
    ) -> Result<Totals, PartialsError> {
        if !self.answers(spec, query) {
            return Err(PartialsError::Mismatch(
                "the total answers another query than the one being finished (a total from \
                 an earlier pass, other weights or another spec)"
                    .into(),
            ));
        }
        if self.dim != spec.dim()
            || self.models.len() != query.models.len()
            || noise.len() != query.models.len()
        {
            return Err(PartialsError::Mismatch(format!(
                "the total holds {} models of dimension {}; the spec has {} of dimension {} \
                 ({} noise vectors given)",
                self.models.len(),
                self.dim,
                query.models.len(),
                spec.dim(),
                noise.len()
            )));
        }
        if self.rows == 0 {
            return Err(PartialsError::Invalid(
                "the total sums no rows: the table is empty".into(),
            ));
        }
        let d = self.dim;
        let n = self.rows as f64;
        let lambda = hyper
            .regularization
            .effective_lambda(hyper.lambda, self.rows as usize);
        // Masses of non-negative terms: the exact sum of the computed terms is at most
        // fl·(1 + 2γ_{N}) (any order; see proofs/distributed_sums.md, Lemma 1).
        let up = |mass: f64, terms: f64| mass * (1.0 + 2.0 * rounding_gamma(terms));
        let squared_norm_sum = up(self.squared_norm_sum, n + d as f64);
        let frobenius_bound = squared_norm_sum.sqrt() * (1.0 + 2.0 * UNIT_ROUNDOFF);
        let row_norm_bound = self.max_squared_norm.sqrt() * (1.0 + rounding_gamma(d as f64 + 2.0));
        let gram_error = rounding_gamma(n + 2.0) * squared_norm_sum * (1.0 + 4.0 * f64::EPSILON);
        let loss = spec.loss;
        let models = self
            .models
            .iter()
            .zip(&query.models)
            .zip(noise)
            .map(|((sums, q), b)| {
                let w = DVector::from_column_slice(&q.weights);
                let weight_norm = w.norm() * (1.0 + rounding_gamma(d as f64 + 1.0));
                let noise_norm = b.norm() * (1.0 + rounding_gamma(d as f64 + 1.0));
                let gradient_error = bounds::gradient_rounding_bound(&GradientRoundingInputs {
                    rows: self.rows as usize,
                    dim: d,
                    row_norm_bound,
                    curvature_bound: loss.second_derivative_bound(),
                    derivative_abs_sum: up(sums.derivative_mass, n),
                    weight_norm,
                    lambda_total: lambda,
                    noise_norm,
                });
                let curvature_mass = up(sums.curvature_mass, n + d as f64 + 1.0);
                let hessian_error = hessian_rounding_bound(
                    n,
                    d,
                    curvature_mass,
                    lambda,
                    loss.second_derivative_lipschitz(),
                    row_norm_bound,
                    weight_norm,
                );
                let mut hessian = sums.hessian.as_ref().map(|h| unpack_symmetric(h, d));
                if let Some(h) = &mut hessian {
                    for j in 0..d {
                        h[(j, j)] += lambda;
                    }
                }
                ModelTotals {
                    value: sums.value + 0.5 * lambda * w.norm_squared() + b.dot(&w),
                    gradient: DVector::from_column_slice(&sums.gradient) + &w * lambda + b,
                    gradient_error,
                    hessian,
                    hessian_error,
                    hessian_diagonal: DVector::from_column_slice(&sums.hessian_diagonal)
                        .add_scalar(lambda),
                    hessian_vector: sums.hessian_vector.as_ref().zip(q.direction.as_ref()).map(
                        |(hv, v)| {
                            DVector::from_column_slice(hv) + DVector::from_column_slice(v) * lambda
                        },
                    ),
                    weights: w,
                }
            })
            .collect();
        Ok(Totals {
            rows: self.rows as usize,
            lambda_total: lambda,
            models,
            gram: self.gram.as_ref().map(|g| unpack_symmetric(g, d)),
            gram_error,
            frobenius_bound,
            row_norm_bound,
            class_counts: self.class_counts.clone(),
            row_digest: self.row_digest,
        })
    }
}

/// An upper bound on ‖fl(∇²L) − ∇²L‖₂ for a Hessian formed from partial sums in any order:
///
/// (γ_{N+6} + γ₆/(1 − γ₆))·C + u·(C + Λ) + N·γ_ℓ·γ_d·R³·‖w‖,
///
/// with C ≥ Σ ℓ̂''_i‖x_i‖² (the curvature mass rounded up), γ_ℓ the Lipschitz constant of
/// ℓ'' and R ≥ max‖x_i‖: the sum of N products ℓ''·x_j·x_l (the GEMM's √ℓ'' scaling
/// included) in any order, the evaluation of ℓ'' (relative γ₆), the curvatures taken at
/// rounded margins, and the Λ added to the diagonal. proofs/distributed_sums.md, Lemma 3.
pub fn hessian_rounding_bound(
    rows: f64,
    dim: usize,
    curvature_mass: f64,
    lambda_total: f64,
    curvature_lipschitz: f64,
    row_norm_bound: f64,
    weight_norm: f64,
) -> f64 {
    let g6 = rounding_gamma(6.0);
    let sums = (rounding_gamma(rows + 6.0) + g6 / (1.0 - g6)) * curvature_mass;
    let diagonal = UNIT_ROUNDOFF * (curvature_mass + lambda_total);
    let margins = rows
        * curvature_lipschitz
        * rounding_gamma(dim as f64)
        * row_norm_bound.powi(3)
        * weight_norm;
    (sums + diagonal + margins) * (1.0 + 32.0 * f64::EPSILON)
}

/// One class model's finished sums at the weights of the query.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelTotals {
    /// The weights w the sums were taken at.
    pub weights: DVector<f64>,
    /// fl(L_b(w)) = Σℓ + (Λ/2)‖w‖² + bᵀw (for the line search; no bound needed).
    pub value: f64,
    /// fl(∇L_b(w)).
    pub gradient: DVector<f64>,
    /// ≥ ‖fl(∇L_b(w)) − ∇L_b(w)‖₂ ([`bounds::gradient_rounding_bound`] with the total row
    /// count and derivative mass).
    pub gradient_error: f64,
    /// fl(∇²L_b(w)), symmetric, if the query asked for it.
    pub hessian: Option<DMatrix<f64>>,
    /// ≥ ‖fl(∇²L_b(w)) − ∇²L_b(w)‖₂ ([`hessian_rounding_bound`]).
    pub hessian_error: f64,
    /// diag ∇²L_b(w) (the conjugate-gradient preconditioner).
    pub hessian_diagonal: DVector<f64>,
    /// fl(∇²L_b(w)·v) for the query's direction v, if asked.
    pub hessian_vector: Option<DVector<f64>>,
}

impl ModelTotals {
    /// An upper bound on the exact ‖∇L_b(w)‖₂: fl(‖ĝ‖)·(1 + γ_{d+2}) + the gradient's
    /// rounding bound ([`crate::objective::gradient_norm_upper_bound`]).
    pub fn residual_bound(&self) -> f64 {
        crate::objective::gradient_norm_upper_bound(&self.gradient, self.gradient_error)
    }
}

/// Merged partial sums finished on the driver ([`PartialSums::finish`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    /// n, the rows summed.
    pub rows: usize,
    /// Λ for those rows.
    pub lambda_total: f64,
    /// One entry per class model.
    pub models: Vec<ModelTotals>,
    /// fl(XᵀX), symmetric, if the query asked for it.
    pub gram: Option<DMatrix<f64>>,
    /// ≥ ‖fl(XᵀX) − XᵀX‖₂: γ_{N+2}·‖X‖_F² (proofs/distributed_sums.md, Lemma 2).
    pub gram_error: f64,
    /// ≥ ‖X‖_F.
    pub frobenius_bound: f64,
    /// R ≥ max_i ‖x_i‖ (valid for any subset of the rows).
    pub row_norm_bound: f64,
    /// Rows per class, in the encoding's class order (empty for a real-valued target).
    pub class_counts: Vec<u64>,
    /// The keyed digest of the rows summed, if the partials carried one.
    pub row_digest: Option<RowDigest>,
}

impl Totals {
    /// A guaranteed upper bound on ‖X‖₂: from the merged Gram matrix and its rounding bound
    /// ([`bounds::spectral_norm_from_gram`]) when it was summed, else ‖X‖_F.
    pub fn spectral_norm_bound(&self) -> f64 {
        match &self.gram {
            Some(gram) => {
                bounds::spectral_norm_from_gram(gram, self.gram_error, self.frobenius_bound)
            }
            None => self.frobenius_bound,
        }
    }
}

/// Writes the encoding: tag, version, payload, then SHA-256 of everything before it.
struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    fn new(magic: &[u8; 8]) -> Self {
        let mut buf = magic.to_vec();
        buf.extend_from_slice(&PARTIALS_FORMAT_VERSION.to_le_bytes());
        Self { buf }
    }
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    fn f64s(&mut self, v: &[f64]) {
        self.u64(v.len() as u64);
        v.iter().for_each(|&x| self.f64(x));
    }
    fn optional_f64s(&mut self, v: Option<&[f64]>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.f64s(v);
            }
            None => self.u8(0),
        }
    }
    fn row_digest(&mut self, digest: Option<&RowDigest>) {
        match digest {
            Some(d) => {
                self.u8(1);
                self.bytes(&d.to_bytes());
            }
            None => self.u8(0),
        }
    }
    fn finish(mut self) -> Vec<u8> {
        let digest = Sha256::digest(&self.buf);
        self.buf.extend_from_slice(&digest);
        self.buf
    }
}

/// Reads the encoding, checking tag, version and checksum first and every length after.
struct Decoder<'a> {
    rest: &'a [u8],
    what: String,
    kind: &'static str,
}

impl<'a> Decoder<'a> {
    fn new(
        bytes: &'a [u8],
        magic: &[u8; 8],
        what: &str,
        kind: &'static str,
    ) -> Result<Self, PartialsError> {
        let corrupt = |reason: String| PartialsError::Corrupt {
            what: what.to_string(),
            kind,
            reason,
        };
        if bytes.len() < magic.len() + 2 + 32 {
            return Err(corrupt(format!("{} bytes is too short", bytes.len())));
        }
        if &bytes[..8] != magic {
            return Err(corrupt(
                "it does not start with the expected tag (another kind of data)".into(),
            ));
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != PARTIALS_FORMAT_VERSION {
            return Err(corrupt(format!(
                "format version {version}; this build reads version {PARTIALS_FORMAT_VERSION} \
                 (version 2 added the row digest): compute it again with this build, and \
                 run the same unlearn version on the driver and the executors"
            )));
        }
        let (body, digest) = bytes.split_at(bytes.len() - 32);
        if Sha256::digest(body).as_slice() != digest {
            return Err(corrupt(
                "its checksum does not match (truncated or altered in transit)".into(),
            ));
        }
        Ok(Self {
            rest: &body[10..],
            what: what.to_string(),
            kind,
        })
    }
    fn corrupt(&self, reason: String) -> PartialsError {
        PartialsError::Corrupt {
            what: self.what.clone(),
            kind: self.kind,
            reason,
        }
    }
    fn take(&mut self, k: usize) -> Result<&'a [u8], PartialsError> {
        if self.rest.len() < k {
            return Err(self.corrupt("it ends early".into()));
        }
        let (head, tail) = self.rest.split_at(k);
        self.rest = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, PartialsError> {
        Ok(self.take(1)?[0])
    }
    fn u64(&mut self) -> Result<u64, PartialsError> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
    fn f64(&mut self) -> Result<f64, PartialsError> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
    /// A count of items of at least `item_bytes` bytes each, checked against the bytes left.
    fn len(&mut self, item_bytes: usize) -> Result<usize, PartialsError> {
        let v = self.u64()?;
        match usize::try_from(v) {
            Ok(k) if k.saturating_mul(item_bytes) <= self.rest.len() => Ok(k),
            _ => Err(self.corrupt(format!("a length of {v} exceeds the bytes left"))),
        }
    }
    fn f64s(&mut self) -> Result<Vec<f64>, PartialsError> {
        let k = self.len(8)?;
        (0..k).map(|_| self.f64()).collect()
    }
    fn f64s_of(&mut self, expected: usize, name: &str) -> Result<Vec<f64>, PartialsError> {
        let v = self.f64s()?;
        if v.len() != expected {
            return Err(self.corrupt(format!(
                "its {name} has {} values, expected {expected}",
                v.len()
            )));
        }
        Ok(v)
    }
    fn optional_f64s_of(
        &mut self,
        expected: usize,
        name: &str,
    ) -> Result<Option<Vec<f64>>, PartialsError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.f64s_of(expected, name).map(Some),
            t => Err(self.corrupt(format!("unknown tag {t} before its {name}"))),
        }
    }
    fn row_digest(&mut self) -> Result<Option<RowDigest>, PartialsError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(RowDigest::from_bytes(
                self.take(40)?.try_into().expect("40 bytes"),
            ))),
            t => Err(self.corrupt(format!("unknown tag {t} before its row digest"))),
        }
    }
    fn end(&self) -> Result<(), PartialsError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(self.corrupt(format!("{} bytes follow its end", self.rest.len())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_index_walks_the_lower_triangle_by_columns() {
        let d = 4;
        let m = DMatrix::from_fn(d, d, |i, j| (10 * i.max(j) + i.min(j)) as f64);
        let packed = pack_lower(&m);
        for j in 0..d {
            for i in j..d {
                assert_eq!(packed[packed_index(d, i, j)], m[(i, j)]);
            }
        }
        assert_eq!(unpack_symmetric(&packed, d), m);
    }

    #[test]
    fn appending_a_constant_in_place_gives_the_datasets_design() {
        for (n, d) in [(0, 3), (1, 0), (4, 0), (1, 1), (5, 3), (7, 12)] {
            let values: Vec<f64> = (0..n * d).map(|v| v as f64 + 0.5).collect();
            let ids = (0..n).map(|i| i.to_string()).collect();
            let names = (0..d).map(|j| format!("x{j}")).collect();
            let data = crate::data::Dataset::new(ids, names, values.clone(), None).unwrap();
            let mut rows = values;
            append_constant(&mut rows, n, d, -2.0);
            assert_eq!(rows, data.features_with_constant(-2.0), "n = {n}, d = {d}");
        }
    }
}
