//! An order-free, mergeable, keyed digest of a multiset of training rows (issue 14, item 3):
//! what lets a refresh over external rows check that the rows it was given are the training
//! rows less the removed ones — not merely as many rows, with the same label counts and
//! norms within R.
//!
//! # The construction
//! A row is what training saw of it: its id, its design row x (the f64 features after the
//! published preprocessing, with the intercept column when enabled) and its encoded target
//! y. Its term is a keyed pseudo-random function of it,
//!
//! t(r) = HMAC-SHA256(k_D, |id| ‖ id ‖ d ‖ bits(x₁) ‖ … ‖ bits(x_d) ‖ bits(y)),
//!
//! read as a little-endian integer, with every length fixed or prefixed (so two different
//! rows never feed the MAC the same bytes) and −0.0 written as +0.0 (the model cannot tell
//! them apart; a reader that yields one where another yields the other must not make the
//! same row two rows). The digest of a multiset M of rows is
//!
//! D(M) = (Σ_{r∈M} t(r) mod 2²⁵⁶, |M|).
//!
//! Addition in Z/2²⁵⁶ is commutative and associative and exact, so D is the same for every
//! order, every split into partitions and every tree of merges, bit for bit and for any
//! number of threads; a removal subtracts its rows' terms ([`RowDigest::remove`]), a
//! Spark reduction adds partitions' digests ([`RowDigest::merge`]). The count is carried for
//! a plain message when only the count differs.
//!
//! # What it guarantees (proofs/distributed_sums.md, Lemma 6)
//! Let M be the training rows less every removed row, and M′ the rows a refresh sums. If
//! M′ ≠ M as multisets, D(M′) = D(M) requires Σ_r c_r·t(r) ≡ 0 (mod 2²⁵⁶) for the
//! non-zero integer multiplicity differences c_r = #_{M′}(r) − #_M(r), |c_r| < 2⁶⁴. While
//! k_D is secret, HMAC-SHA256 is a PRF, so the t(r) of distinct rows are indistinguishable
//! from independent uniform values in Z/2²⁵⁶; and the digest itself is never shown to
//! whoever writes the table (it stays in the 0600 secret state), so the rows cannot be
//! chosen adaptively against it. For uniform t and a coefficient c ≠ 0 with 2-adic
//! valuation v < 64, c·t is uniform on a subgroup of 2²⁵⁶⁻ᵛ elements, so the collision has
//! probability at most 2^−(256−64) = 2⁻¹⁹² per comparison (plus the PRF advantage). A
//! swapped row, a row copied under a new id in place of another, an altered value, or
//! given rows at a removal that were not the training rows' values (their terms subtracted
//! instead of the true rows') all make M′ ≠ M in this sense and are refused.
//!
//! # The key
//! k_D = HMAC-SHA256(noise key, "unlearn/row-digest-key/v1") ([`crate::noise::NoiseKey::row_digest_key`]):
//! a sub-key, one-way from the noise key, because the executors of a distributed pass must
//! hold it to compute the terms of their rows. Whoever learns k_D (an executor, a task's
//! closure) can compute terms and so forge a table with the same digest as the remaining
//! rows (a collision); it learns nothing about the noise key, the noise, or the other
//! derivations (release noise, id and subject tags), which are keyed by the noise key itself.
//! Anyone who also learns the digest could confirm a guessed table: the digest is secret
//! state, never in `model.json`, a certificate, a log, a receipt or a pickle.
//!
//! An unkeyed multiset hash (LtHash, MuHash) would spare the executors the key, but is secure
//! only with a large state (LtHash: 2 KiB, and a 2 KiB XOF output per row) or a costly group
//! (MuHash: a 3072-bit modular product per row), where the keyed sum costs one HMAC over
//! the row's 8(d + 1) bytes — ⌈(8d + 40)/64⌉ + 2 SHA-256 blocks (BENCHMARKS.md, "Row digest").
//!
//! What it does not cover: data subjects (a removal by id may be given rows without the
//! subject column, so a row's subject cannot enter its term); that a subject's given rows
//! are all of its rows stays an assumption ([`crate::rows::EXTERNAL_ROWS_ASSUMPTIONS`]),
//! though a subject row that stays in the table while the ledger records the subject erased
//! is refused by the remaining rows' subject tags where they are given as rows.

use crate::data::Dataset;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// An element of Z/2²⁵⁶ as four little-endian u64 limbs: the group the row digests (this
/// module's keyed one and the store's unkeyed one over held rows) sum hashes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sum256([u64; 4]);

impl Sum256 {
    /// Limbs of a hash, least significant first (the hash read as a little-endian number).
    fn limbs(hash: &[u8; 32]) -> [u64; 4] {
        std::array::from_fn(|i| u64::from_le_bytes(hash[8 * i..8 * i + 8].try_into().expect("8")))
    }

    /// Adds a hash (mod 2²⁵⁶).
    pub fn add(&mut self, hash: &[u8; 32]) {
        self.add_limbs(Self::limbs(hash));
    }

    /// Subtracts a hash (mod 2²⁵⁶).
    pub fn subtract(&mut self, hash: &[u8; 32]) {
        let mut borrow = false;
        for (limb, x) in self.0.iter_mut().zip(Self::limbs(hash)) {
            let (diff, b1) = limb.overflowing_sub(x);
            let (diff, b2) = diff.overflowing_sub(u64::from(borrow));
            *limb = diff;
            borrow = b1 || b2;
        }
    }

    /// Adds another sum (mod 2²⁵⁶).
    pub fn add_sum(&mut self, other: &Sum256) {
        self.add_limbs(other.0);
    }

    fn add_limbs(&mut self, limbs: [u64; 4]) {
        let mut carry = false;
        for (limb, x) in self.0.iter_mut().zip(limbs) {
            let (sum, c1) = limb.overflowing_add(x);
            let (sum, c2) = sum.overflowing_add(u64::from(carry));
            *limb = sum;
            carry = c1 || c2;
        }
    }

    /// The 32 little-endian bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (chunk, limb) in out.chunks_exact_mut(8).zip(self.0) {
            chunk.copy_from_slice(&limb.to_le_bytes());
        }
        out
    }

    /// From [`Sum256::to_bytes`].
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self(Self::limbs(bytes))
    }

    /// 64 hex digits, most significant first.
    pub fn hex(&self) -> String {
        self.0.iter().rev().map(|l| format!("{l:016x}")).collect()
    }

    /// Parses [`Sum256::hex`].
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut limbs = [0u64; 4];
        for (i, limb) in limbs.iter_mut().rev().enumerate() {
            *limb = u64::from_str_radix(&text[16 * i..16 * i + 16], 16).ok()?;
        }
        Some(Self(limbs))
    }
}

/// k_D, the key of the row digest's PRF (see the module docs): derived from the noise key,
/// held by the executors of a distributed pass. Its `Debug` output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct RowDigestKey([u8; 32]);

impl fmt::Debug for RowDigestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RowDigestKey(<secret>)")
    }
}

impl RowDigestKey {
    /// The key from its 32 bytes (as [`crate::noise::NoiseKey::row_digest_key`] derives
    /// them, or as [`RowDigestKey::as_bytes`] gave them to an executor).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes, for the request an executor is sent (a secret).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The keyed MAC state every row's term starts from (cloned per row: the key schedule
    /// is paid once).
    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length")
    }
}

/// D(M): the keyed multiset digest of a set of rows and their count (see the module docs).
/// Secret state: its `Debug` output shows the count only.
#[derive(Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RowDigest {
    /// Σ t(r) mod 2²⁵⁶, as 64 hex digits.
    #[serde(with = "sum_hex")]
    sum: Sum256,
    /// |M|.
    rows: u64,
}

impl fmt::Debug for RowDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowDigest")
            .field("sum", &"<secret>")
            .field("rows", &self.rows)
            .finish()
    }
}

/// Hashes rows under one key: the MAC state keyed once, cloned per row.
struct RowHasher {
    keyed: HmacSha256,
}

impl RowHasher {
    /// A hasher for `key`.
    fn new(key: &RowDigestKey) -> Self {
        Self { keyed: key.mac() }
    }

    /// t(r) for the row (`id`, design row `x`, encoded target `y`).
    fn term(&self, id: &str, x: &[f64], y: f64) -> [u8; 32] {
        let canonical = |v: f64| if v == 0.0 { 0u64 } else { v.to_bits() };
        let mut mac = self.keyed.clone();
        mac.update(&(id.len() as u64).to_le_bytes());
        mac.update(id.as_bytes());
        mac.update(&(x.len() as u64).to_le_bytes());
        for &v in x.iter().chain(std::iter::once(&y)) {
            mac.update(&canonical(v).to_le_bytes());
        }
        mac.finalize().into_bytes().into()
    }
}

impl RowDigest {
    /// The digest of rows given row-major (`design`, `dim` values a row) with their ids
    /// and encoded targets. The terms are hashed on rayon's threads in blocks of rows and
    /// the blocks' sums added: exact integer addition, so the digest is the same bits for
    /// every thread count and split.
    ///
    /// # Panics
    /// If `design` does not hold `dim` values for each of the `ids` and `targets`.
    pub fn of_rows(
        key: &RowDigestKey,
        ids: &[String],
        design: &[f64],
        dim: usize,
        targets: &[f64],
    ) -> Self {
        use rayon::prelude::*;
        assert!(ids.len() == targets.len() && design.len() == ids.len() * dim);
        let hasher = RowHasher::new(key);
        let sum = (0..ids.len())
            .into_par_iter()
            .with_min_len(1024)
            .fold(Sum256::default, |mut sum, i| {
                let x = &design[i * dim..(i + 1) * dim];
                sum.add(&hasher.term(&ids[i], x, targets[i]));
                sum
            })
            .reduce(Sum256::default, |mut a, b| {
                a.add_sum(&b);
                a
            });
        Self {
            sum,
            rows: ids.len() as u64,
        }
    }

    /// The digest of the rows of a design (preprocessed, intercept column included; with
    /// targets): its ids, rows and targets.
    ///
    /// # Panics
    /// If the design has no targets (a trained model's and a request's always have).
    pub fn of_design(key: &RowDigestKey, design: &Dataset) -> Self {
        let targets = &design.targets().expect("design rows have targets").values;
        Self::of_rows(
            key,
            design.ids(),
            design.features(),
            design.n_features(),
            targets,
        )
    }

    /// Takes out the rows of `removed` (a digest of rows among these).
    pub fn remove(&mut self, removed: &RowDigest) {
        self.sum.subtract(&removed.sum.to_bytes());
        self.rows = self.rows.wrapping_sub(removed.rows);
    }

    /// Adds the rows of `other` (a disjoint part of the same table: another partition).
    pub fn merge(&mut self, other: &RowDigest) {
        self.sum.add_sum(&other.sum);
        self.rows += other.rows;
    }

    /// |M|, the rows digested.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The 40-byte encoding partial sums carry: the sum's 32 bytes, then the count.
    pub fn to_bytes(&self) -> [u8; 40] {
        let mut out = [0u8; 40];
        out[..32].copy_from_slice(&self.sum.to_bytes());
        out[32..].copy_from_slice(&self.rows.to_le_bytes());
        out
    }

    /// From [`RowDigest::to_bytes`].
    pub fn from_bytes(bytes: &[u8; 40]) -> Self {
        Self {
            sum: Sum256::from_bytes(bytes[..32].try_into().expect("32 bytes")),
            rows: u64::from_le_bytes(bytes[32..].try_into().expect("8 bytes")),
        }
    }
}

/// Serde of a [`Sum256`] as its 64 hex digits.
mod sum_hex {
    use super::Sum256;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(sum: &Sum256, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&sum.hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Sum256, D::Error> {
        let text = String::deserialize(d)?;
        Sum256::parse(&text)
            .ok_or_else(|| D::Error::custom("the row digest must be 64 hexadecimal digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> RowDigestKey {
        RowDigestKey::from_bytes([b; 32])
    }

    /// Every field of the row and the key enter the term; −0.0 and +0.0 are one value.
    #[test]
    fn the_term_covers_id_values_target_and_key() {
        let h = RowHasher::new(&key(1));
        let base = h.term("a", &[1.0, 2.0], 1.0);
        assert_eq!(base, h.term("a", &[1.0, 2.0], 1.0));
        assert_ne!(base, h.term("b", &[1.0, 2.0], 1.0));
        assert_ne!(base, h.term("a", &[1.0, 2.0 + f64::EPSILON * 2.0], 1.0));
        assert_ne!(base, h.term("a", &[1.0, 2.0], -1.0));
        assert_ne!(base, h.term("a", &[2.0, 1.0], 1.0));
        assert_ne!(base, RowHasher::new(&key(2)).term("a", &[1.0, 2.0], 1.0));
        assert_eq!(h.term("a", &[-0.0], 1.0), h.term("a", &[0.0], 1.0));
        // The id's length is prefixed: "a" + values never reads as "a\0…".
        assert_ne!(h.term("a", &[], 1.0), h.term("a\0", &[], 1.0));
    }

    #[test]
    fn removal_and_merge_are_inverse_and_the_debug_output_hides_the_sum() {
        let k = key(3);
        let ids: Vec<String> = (0..6).map(|i| format!("r{i}")).collect();
        let design: Vec<f64> = (0..12).map(f64::from).collect();
        let targets = [1.0, -1.0, 1.0, 1.0, -1.0, 1.0];
        let all = RowDigest::of_rows(&k, &ids, &design, 2, &targets);
        let mut head = RowDigest::of_rows(&k, &ids[..2], &design[..4], 2, &targets[..2]);
        let tail = RowDigest::of_rows(&k, &ids[2..], &design[4..], 2, &targets[2..]);
        let mut rest = all;
        rest.remove(&head);
        assert_eq!(rest, tail);
        head.merge(&tail);
        assert_eq!(head, all);
        assert_eq!(all.rows(), 6);
        assert_eq!(RowDigest::from_bytes(&all.to_bytes()), all);
        // (Sum256's group laws are store::codec's test: it is the store's rows digest too.)
        let json = serde_json::to_string(&all).unwrap();
        assert_eq!(serde_json::from_str::<RowDigest>(&json).unwrap(), all);
        assert!(!format!("{all:?}").contains(&all.sum.hex()));
        let shown = format!("{k:?}");
        assert!(
            shown.contains("<secret>") && !shown.contains("3, 3"),
            "{shown}"
        );
    }
}
