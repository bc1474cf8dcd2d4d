//! What the store's tables hold, and how values become bytes and back.
//!
//! - a row: its sequence number, id, subject, encoded target, and its features as one BLOB of
//!   little-endian f64 (8·d bytes, bit-exact);
//! - the small secret state ([`StateRecord`]): everything of [`SecretState`] but the rows, as
//!   JSON (serde_json with `float_roundtrip`, so every f64 comes back bit for bit), with the
//!   [`Bindings`] that tie the rows, the ledger and the published model to it;
//! - the published model: its canonical JSON ([`crate::model::model_digest`] hashes it).

use crate::data::{Dataset, TargetEncoding};
use crate::hessian_cache::CachesRecord;
use crate::model::{ReleaseRecord, SecretState};
use crate::noise::NoiseKey;
use crate::rows::TrainingRows;
use crate::solver::SolveReport;
use crate::transcript::Transcript;
use crate::unlearner::Unlearner;
use nalgebra::DVector;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A row's features as the BLOB the store keeps: little-endian f64, in column order.
pub(super) fn features_blob(row: &[f64]) -> Vec<u8> {
    row.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Appends the values of a features BLOB to `out`; `false` if it does not hold `dim` values.
pub(super) fn extend_from_blob(out: &mut Vec<f64>, blob: &[u8], dim: usize) -> bool {
    if blob.len() != 8 * dim {
        return false;
    }
    out.extend(
        blob.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))),
    );
    true
}

/// SHA-256 of one row as the store keeps it: a domain label, then each field length-prefixed
/// (sequence number, id, subject or its absence, target bits, features BLOB), so no two
/// different rows hash the same input.
pub(super) fn row_hash(
    sequence: u64,
    id: &str,
    subject: Option<&str>,
    target: f64,
    features: &[u8],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"unlearn/store-row/v1");
    h.update(sequence.to_le_bytes());
    h.update((id.len() as u64).to_le_bytes());
    h.update(id.as_bytes());
    match subject {
        Some(s) => {
            h.update([1u8]);
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
        None => h.update([0u8]),
    }
    h.update(target.to_bits().to_le_bytes());
    h.update((features.len() as u64).to_le_bytes());
    h.update(features);
    h.finalize().into()
}

/// The digest of a set of rows: Σ SHA-256(row) mod 2²⁵⁶ (an additive multiset hash, in the
/// group [`crate::row_digest::Sum256`]). It is independent of row order and updated in O(m)
/// when m rows are deleted (subtract their hashes), so a commit need not read the n rows that stay;
/// recomputed from every row at load, it detects a row that was changed, added or deleted
/// outside unlearn. (Unkeyed: it detects damage and edits, not a forger who also rewrites
/// the state — who holds the noise key anyway.)
pub(super) use crate::row_digest::Sum256 as RowsDigest;

impl RowsDigest {
    /// The digest of every row of `design` (as they would be stored).
    pub(super) fn of(design: &Dataset) -> Self {
        let mut digest = Self::default();
        let targets = &design.targets().expect("training rows have targets").values;
        for i in 0..design.n_rows() {
            let subject = design.subjects().map(|s| s[i].as_str());
            let blob = features_blob(design.row(i));
            let hash = row_hash(
                design.sequence()[i],
                &design.ids()[i],
                subject,
                targets[i],
                &blob,
            );
            digest.add(&hash);
        }
        digest
    }
}

/// What the secret state commits to besides itself: the rows (count and [`RowsDigest`]), the
/// ledger (length and newest digest: an emptied or truncated ledger no longer matches), and
/// the published model ([`crate::model::model_digest`]; the one before it too, which
/// `model.json` may still hold when a writer stopped between its commit and the file's
/// rewrite).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Bindings {
    pub ledger_len: u64,
    pub ledger_head: String,
    pub rows: u64,
    pub rows_digest: String,
    pub model_digest: String,
    pub previous_model_digest: Option<String>,
}

/// [`SecretState`] without its rows: what every store format keeps beside them (the previous
/// format's header has these fields too, under the same names).
#[derive(Serialize, Deserialize)]
pub(super) struct SmallState {
    pub feature_names: Vec<String>,
    pub encoding: TargetEncoding,
    pub weights: Vec<Vec<f64>>,
    pub noise: Vec<Vec<f64>>,
    pub key: NoiseKey,
    pub noise_draws: u64,
    pub transcript: Transcript,
    pub last_release: ReleaseRecord,
    pub pending_requests: u64,
    pub training: Vec<SolveReport>,
    pub spent: Vec<f64>,
    pub row_norm_bound: f64,
    pub spectral_bound: Option<f64>,
}

impl SmallState {
    /// The small state of `secret`.
    pub(super) fn of(secret: &SecretState) -> Self {
        let vectors = |v: &[DVector<f64>]| v.iter().map(|w| w.as_slice().to_vec()).collect();
        Self {
            feature_names: secret.rows.feature_names().to_vec(),
            encoding: secret.encoding().clone(),
            weights: vectors(&secret.weights),
            noise: vectors(&secret.noise),
            key: secret.key.clone(),
            noise_draws: secret.noise_draws,
            transcript: secret.transcript,
            last_release: secret.last_release.clone(),
            pending_requests: secret.pending_requests,
            training: secret.training.clone(),
            spent: secret.spent.clone(),
            row_norm_bound: secret.row_norm_bound,
            spectral_bound: secret.spectral_bound,
        }
    }

    /// The secret state of these values and `rows` (held: read back), an error names a
    /// vector whose length does not match.
    pub(super) fn into_secret(self, rows: TrainingRows) -> Result<SecretState, String> {
        let d = rows.n_features();
        if self.noise.len() != self.weights.len() {
            return Err("the numbers of weight and noise vectors differ".into());
        }
        if self.noise.iter().chain(&self.weights).any(|b| b.len() != d) {
            return Err(format!(
                "a weight or noise vector does not have the rows' {d} features"
            ));
        }
        Ok(SecretState {
            rows,
            weights: self.weights.into_iter().map(DVector::from_vec).collect(),
            noise: self.noise.into_iter().map(DVector::from_vec).collect(),
            key: self.key,
            noise_draws: self.noise_draws,
            transcript: self.transcript,
            last_release: self.last_release,
            pending_requests: self.pending_requests,
            training: self.training,
            spent: self.spent,
            row_norm_bound: self.row_norm_bound,
            spectral_bound: self.spectral_bound,
        })
    }
}

/// The state row's secret part: the small state, whether the rows record subjects, the
/// bindings, and for external rows what stands in for them.
#[derive(Serialize, Deserialize)]
pub(super) struct StateRecord {
    #[serde(flatten)]
    pub state: SmallState,
    /// Whether the rows record data subjects.
    pub subjects: bool,
    pub bindings: Bindings,
    /// External rows ([`crate::rows`]): absent for held rows, so their records keep their
    /// bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalRecord>,
}

/// What an external-rows store keeps instead of rows (`bindings.rows` is their count): the
/// remaining rows per class (the shape guard) and the caches, which cannot be rebuilt
/// without a pass. Secret: sums over the rows (see [`crate::rows`]).
///
/// The caches are d×d matrices: from format 6 on they are a blob of little-endian f64 in
/// the `caches` table ([`CachesRecord::to_bytes`]), which the state binds by its SHA-256
/// (`caches_digest`, under the state row's checksum like every other field); format 5 kept
/// them here, as JSON (`caches`), which a commit migrates. Read back, `caches` holds them
/// either way.
#[derive(Serialize, Deserialize)]
pub(super) struct ExternalRecord {
    pub class_counts: Vec<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caches: Option<CachesRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caches_digest: Option<String>,
    /// The remaining rows' keyed digest ([`crate::row_digest`]); absent in a store saved
    /// before it (then its refreshes trust the rows: [`crate::rows::UNDIGESTED_EXTERNAL_ROWS_ASSUMPTIONS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_digest: Option<crate::row_digest::RowDigest>,
    /// Whether `row_digest` was adopted at a refresh by a store saved before the digest
    /// ([`crate::rows::ExternalRows::digest_adopted`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub row_digest_adopted: bool,
}

/// SHA-256 (hex) of a caches blob, as [`ExternalRecord::caches_digest`] records it.
pub(super) fn caches_digest(blob: &[u8]) -> String {
    crate::certificate::hex(&Sha256::digest(blob))
}

impl StateRecord {
    /// The record of `unlearner`'s secret state with its bindings, and for external rows the
    /// caches blob it binds. `None` for external rows whose caches still queue removed rows
    /// (never the case in a commit, which folds them first:
    /// [`Unlearner::fold_queued_rows`]).
    pub(super) fn of(unlearner: &Unlearner, bindings: Bindings) -> Option<(Self, Option<Vec<u8>>)> {
        let secret = &unlearner.model.secret;
        let (external, blob) = match &secret.rows {
            TrainingRows::Held(_) => (None, None),
            TrainingRows::External(rows) => {
                let blob = unlearner.caches.record()?.to_bytes(secret.n_features());
                let record = ExternalRecord {
                    class_counts: unlearner.class_counts(),
                    caches: None,
                    caches_digest: Some(caches_digest(&blob)),
                    row_digest: rows.digest,
                    row_digest_adopted: rows.digest_adopted,
                };
                (Some(record), Some(blob))
            }
        };
        let record = Self {
            state: SmallState::of(secret),
            subjects: secret.rows.records_subjects(),
            bindings,
            external,
        };
        Some((record, blob))
    }
}

/// The checksum of the state row: SHA-256 over the state JSON and the published model's JSON,
/// each length-prefixed.
pub(super) fn state_checksum(state_json: &str, published_json: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"unlearn/store-state/v1");
    for part in [state_json, published_json] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    crate::certificate::hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adding then subtracting hashes returns to the start, whatever the carries; the digest
    /// does not depend on the order rows are added; hex round-trips.
    #[test]
    fn the_rows_digest_is_an_order_free_group_sum() {
        let hashes: Vec<[u8; 32]> = (0..50u64)
            .map(|i| row_hash(i, &format!("r{i}"), None, 1.0, &[0xff; 16]))
            .chain([[0xff; 32], [0x01; 32]])
            .collect();
        let mut forward = RowsDigest::default();
        hashes.iter().for_each(|h| forward.add(h));
        let mut backward = RowsDigest::default();
        hashes.iter().rev().for_each(|h| backward.add(h));
        assert_eq!(forward, backward);
        assert_ne!(forward, RowsDigest::default());
        assert_eq!(RowsDigest::parse(&forward.hex()), Some(forward));
        let mut removed = forward;
        hashes[..10].iter().for_each(|h| removed.subtract(h));
        let mut rest = RowsDigest::default();
        hashes[10..].iter().for_each(|h| rest.add(h));
        assert_eq!(removed, rest);
        hashes[10..].iter().for_each(|h| removed.subtract(h));
        assert_eq!(removed, RowsDigest::default());
        // The subject is part of the row: same values, another subject, another hash.
        assert_ne!(
            row_hash(1, "a", Some("x"), 1.0, &[]),
            row_hash(1, "a", Some("y"), 1.0, &[])
        );
        assert_ne!(
            row_hash(1, "a", None, 1.0, &[]),
            row_hash(1, "a", Some(""), 1.0, &[])
        );
    }
}
