//! Certificates of training and removal, and the hash-chained ledger that records them.
//!
//! Every change of the published model appends one [`Certificate`] to the ledger: the
//! training run first, then each removal step. Each entry names the digest of the weights
//! before and after it and the digest of the previous entry, and carries its own digest
//! (SHA-256 of its JSON with the `digest` field empty), so the ledger can be replayed and
//! any edit, reordering or deletion of an entry is detected ([`Ledger::verify_chain`]).

use crate::mechanism::Mechanism;
use crate::noise::{NoiseFamily, Sampler};
use crate::objective::Regularization;
use crate::transcript::TranscriptSummary;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// Version of the certificate format.
pub const CERTIFICATE_FORMAT_VERSION: u32 = 2;

/// What a ledger entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// The training run that created the store.
    Training,
    /// A removal step (one Newton step on the remaining rows, or a retraining).
    Removal,
    /// A release of removals served since the previous one (`unlearn publish`).
    Release,
    /// Releases an observer has seen that this ledger does not hold (published from a branch
    /// that a restore from a backup, or a copy of the store, left behind), charged to the
    /// transcript when the store is opened for writing ([`Certificate::foreign_releases`];
    /// proofs/transcript_accounting.md, "Forked histories"). Publishes nothing.
    Reconciliation,
}

/// A release of another branch of the store's history, as its release log records it and a
/// reconciliation entry charges it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForeignRelease {
    /// Digest of the ledger entry (of the other branch) that made the release.
    pub entry: String,
    /// Its release count in its own branch (training is release 1).
    pub release: u64,
    /// Its charge c against the retrain world's release (its certificate's `distance`).
    pub charge: f64,
}

/// The residual quantities of one step, one value per class model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct StepBounds {
    /// An upper bound on ‖∇L_b(w; D′)‖ of the secret weights after the step: computed from
    /// the secret rows and rounded outward for exact steps; for pass-free steps the tracked
    /// bound of proofs/pass_free_step.md (no pass over the rows).
    pub exact_residual: Vec<f64>,
    /// The data-dependent bound (γ/2)‖X‖₂·R·‖v‖·‖Xv‖ of the Newton step (taken before any
    /// retraining).
    pub data_dependent: Vec<f64>,
    /// The worst-case (data-independent) bound of the step, where one is finite.
    pub worst_case: Vec<Option<f64>>,
    /// ‖∇L_b‖ left by the solver when the step (re)trained, else empty.
    pub training_residual: Vec<f64>,
    /// Whether each model's step was pass-free, from the cached Hessian and tracked gradient
    /// (then `data_dependent` is what the step added to the tracked bound, proofs/
    /// pass_free_step.md, and `exact_residual` is that tracked bound).
    #[serde(default)]
    pub cached_hessian: Vec<bool>,
    /// Whether each model's `exact_residual` was computed from the rows (exact steps, and
    /// pass-free steps whose tracked bound missed the budget) rather than tracked.
    #[serde(default)]
    pub residual_measured: Vec<bool>,
}

/// The record of one training run or removal step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// [`CERTIFICATE_FORMAT_VERSION`].
    pub format_version: u32,
    /// Position in the ledger (0 is the training run).
    pub step: u64,
    /// Training or removal.
    pub kind: EntryKind,
    /// The tags of the ids removed by this step, HMAC-SHA256(noise key, id) in hex
    /// ([`crate::noise::NoiseKey::id_tag`]): the ledger does not name who asked to be
    /// forgotten, while the key's holder can check any id against it (empty for training).
    pub removed_id_tags: Vec<String>,
    /// The tags of the data subjects this step erased — whose last remaining rows it
    /// removed — HMAC-SHA256(noise key, subject) in hex ([`crate::noise::NoiseKey::subject_tag`]):
    /// a later request naming them is "already removed", and the ledger does not name them.
    /// Empty (and absent from the JSON, so older entries keep their digests) otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erased_subject_tags: Vec<String>,
    /// Reconciliation entries only: the releases of other branches this entry charges, in the
    /// order their charges were added to the transcript. Empty (and absent from the JSON, so
    /// other entries keep their digests) otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_releases: Vec<ForeignRelease>,
    /// Rows left after the step.
    pub rows_after: usize,
    /// Digest of the published weights before the step (none for training).
    pub digest_before: Option<String>,
    /// Digest of the published weights after the step.
    pub digest_after: String,
    /// How many releases have been made, this one included when `published`: the published
    /// weights are release number `release − 1` (0-based).
    pub release: u64,
    /// Whether this entry published a release. Without one (the publish policy's requests in
    /// between, `--sequential`'s intermediate steps) the published model is unchanged and the
    /// removal reaches it at the next release.
    pub published: bool,
    /// The charge c of this entry's release against the retrain world's: its distance bound
    /// plus the grid rounding, 0 when the secret weights are the reference retrain bit for bit
    /// (none when nothing was published; proofs/transcript_accounting.md).
    pub distance: Option<f64>,
    /// The whole transcript of releases after this entry, and its joint guarantee.
    pub transcript: TranscriptSummary,
    /// The grid every published number is an integer multiple of (lattice releases only).
    pub release_grid: Option<f64>,
    /// How the published release's discrete Gaussian noise read its keyed stream (the
    /// release record's [`crate::noise::Sampler`]). Absent from the JSON for the word
    /// sampler, so that every certificate written before the field keeps its bytes and its
    /// digest; otherwise covered by the digest like every other field, so it cannot be
    /// flipped without breaking the chain.
    #[serde(default, skip_serializing_if = "Sampler::is_words")]
    pub release_sampler: Sampler,
    /// The removal mechanism.
    pub mechanism: Mechanism,
    /// When the model is retrained instead of updated, and what that reveals. This and the
    /// other fixed texts ([`Certificate::results`], [`Certificate::unproven_assumptions`],
    /// [`Certificate::budget_unit`]) borrow the library's static texts when the unlearner
    /// builds the certificate, so that neither building nor cloning it copies them (≈ 2 KB a
    /// removal); read from JSON they are owned. Either way they serialise as plain strings.
    #[serde(serialize_with = "fixed_text::one")]
    pub schedule: Cow<'static, str>,
    /// The results (proof files) the certificate applies.
    #[serde(serialize_with = "fixed_text::list")]
    pub results: Vec<Cow<'static, str>>,
    /// Assumptions the certificate rests on that are not proven (empty when sound): the
    /// mechanism's, then — only when the rows are external ([`crate::rows`]; held-rows
    /// certificates keep their bytes) — [`crate::rows::EXTERNAL_ROWS_ASSUMPTIONS`]: the
    /// given rows are the training rows with those ids (checked at the next refresh by the
    /// row digest), a subject's given rows are all of its rows, the sums cover exactly the
    /// remaining rows (checked by the keyed row digest while its key is secret); a store
    /// from before the digest: [`crate::rows::UNDIGESTED_EXTERNAL_ROWS_ASSUMPTIONS`].
    #[serde(serialize_with = "fixed_text::list")]
    pub unproven_assumptions: Vec<Cow<'static, str>>,
    /// The residual quantities of this step, per class model.
    pub bounds: StepBounds,
    /// This step's residual bound as charged to the budget (unit: `budget_unit`).
    pub residual_bound: f64,
    /// Budget used after this step (unit: `budget_unit`).
    pub budget_used: f64,
    /// The budget ε′ the noise was calibrated for, if a privacy target was set.
    pub budget: Option<f64>,
    /// "weight-distance" (output perturbation) or "gradient-residual" (guo2020).
    pub budget_unit: Cow<'static, str>,
    /// ε of the guarantee (none without a privacy target).
    pub epsilon: Option<f64>,
    /// δ of the guarantee (none without a privacy target).
    pub delta: Option<f64>,
    /// The noise scale: σ (Gaussian) or 1/α (Gamma-norm).
    pub sigma: f64,
    /// The noise family.
    pub noise_family: NoiseFamily,
    /// The regularisation convention.
    pub regularization: Regularization,
    /// The total Λ on the rows after the step.
    pub effective_lambda: f64,
    /// Whether this step retrained (re-solved) instead of taking only the Newton step.
    pub retrained: bool,
    /// Whether the published weights — with every release before them, jointly — carry the
    /// stated (ε, δ) guarantee against the retrain world's releases.
    pub certified: bool,
    /// Why not, when `certified` is false.
    pub reason: Option<String>,
    /// Digest of the previous ledger entry (none for the first).
    pub previous: Option<String>,
    /// SHA-256 of this entry's JSON with this field empty.
    pub digest: String,
}

impl Certificate {
    /// SHA-256 (hex) of the certificate's JSON with `digest` set to "" (serialised in place
    /// when it is already empty, as while sealing; otherwise from a blanked copy).
    pub fn compute_digest(&self) -> String {
        if !self.digest.is_empty() {
            let mut blank = self.clone();
            blank.digest = String::new();
            return blank.compute_digest();
        }
        hex(&json_sha256(self))
    }

    /// Links the certificate after `previous` and seals it with its digest.
    pub fn seal(mut self, previous: Option<&Certificate>) -> Self {
        self.previous = previous.map(|p| p.digest.clone());
        self.step = previous.map_or(0, |p| p.step + 1);
        self.digest = String::new();
        self.digest = self.compute_digest();
        self
    }
}

/// SHA-256 of `value`'s compact JSON (the bytes `serde_json::to_vec` gives), serialised into
/// a buffer each thread keeps between calls: a removal's certificate is ≈ 3 KB, which a fresh
/// `Vec` reaches through an allocation and five regrowths at every seal.
fn json_sha256<T: Serialize>(value: &T) -> [u8; 32] {
    thread_local! {
        static JSON: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let digest = |json: &mut Vec<u8>| {
        json.clear();
        fixed_text::stored(|| serde_json::to_writer(&mut *json, value))
            .expect("a certificate serialises");
        Sha256::digest(&json[..]).into()
    };
    JSON.with(|json| match json.try_borrow_mut() {
        Ok(mut json) => digest(&mut json),
        // Only a serialisation that seals another certificate could find it taken.
        Err(_) => digest(&mut Vec::new()),
    })
}

/// The certificate's fixed texts — the schedule, the results and the unproven assumptions,
/// ≈ 2 KB of the ≈ 3 KB of a removal's JSON, the same in every entry of a ledger — written
/// by the seal from their JSON escaped once per process instead of escaped again at every
/// seal (serde_json scans a string byte by byte for characters to escape). The bytes are the
/// same: each stored form is `serde_json::to_string` of its text, written verbatim by
/// [`RawValue`]; any other text (a ledger written by an older version) is serialised as a
/// plain string. Only inside [`stored`], which the seal's serde_json serialiser runs in: a
/// `RawValue` is JSON text to serde_json alone, and any other serialiser (the Python
/// bindings' `pythonize`) must see plain strings.
mod fixed_text {
    use crate::accounting::schedule;
    use crate::mechanism::Mechanism;
    use crate::rows::{
        ADOPTED_DIGEST_EXTERNAL_ROWS_ASSUMPTIONS, EXTERNAL_ROWS_ASSUMPTIONS,
        UNDIGESTED_EXTERNAL_ROWS_ASSUMPTIONS,
    };
    use serde::ser::{SerializeSeq, Serializer};
    use serde_json::value::RawValue;
    use std::borrow::Cow;
    use std::cell::Cell;
    use std::sync::OnceLock;

    thread_local! {
        /// Whether this thread is inside [`stored`].
        static STORED: Cell<bool> = const { Cell::new(false) };
    }

    /// Runs `serialise` (a serde_json serialisation) with the stored JSON of fixed texts.
    pub(super) fn stored<T>(serialise: impl FnOnce() -> T) -> T {
        /// Switches the stored JSON off again, also if `serialise` unwinds.
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                STORED.set(false);
            }
        }
        STORED.set(true);
        let _reset = Reset;
        serialise()
    }

    /// Every fixed text a certificate can carry, with its JSON.
    fn escaped() -> &'static [(&'static str, Box<RawValue>)] {
        static ESCAPED: OnceLock<Vec<(&'static str, Box<RawValue>)>> = OnceLock::new();
        ESCAPED.get_or_init(|| {
            [Mechanism::OutputPerturbation, Mechanism::Guo2020]
                .into_iter()
                .flat_map(|m| {
                    let texts = m.results().iter().chain(m.unproven_assumptions());
                    texts.copied().chain([schedule(m)])
                })
                .chain(EXTERNAL_ROWS_ASSUMPTIONS)
                .chain(UNDIGESTED_EXTERNAL_ROWS_ASSUMPTIONS)
                .chain(
                    ADOPTED_DIGEST_EXTERNAL_ROWS_ASSUMPTIONS[2..]
                        .iter()
                        .copied(),
                )
                .map(|text| {
                    let json = serde_json::to_string(text).expect("a string serialises");
                    (text, RawValue::from_string(json).expect("a JSON string"))
                })
                .collect()
        })
    }

    /// The stored JSON of `text`, if it is a fixed text and this thread is inside [`stored`].
    /// A text the certificate borrows is the static text itself: the same address and length
    /// match without comparing the bytes.
    pub(super) fn json_of(text: &str) -> Option<&'static RawValue> {
        if !STORED.get() {
            return None;
        }
        escaped()
            .iter()
            .find(|(fixed, _)| {
                fixed.len() == text.len() && (fixed.as_ptr() == text.as_ptr() || *fixed == text)
            })
            .map(|(_, json)| &**json)
    }

    /// Serialises one text (`serialize_with` of [`super::Certificate::schedule`]).
    pub(super) fn one<S: Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
        match json_of(text) {
            Some(json) => serde::Serialize::serialize(json, serializer),
            None => serializer.serialize_str(text),
        }
    }

    /// Serialises a list of texts (`serialize_with` of [`super::Certificate::results`] and
    /// [`super::Certificate::unproven_assumptions`]).
    pub(super) fn list<S: Serializer>(
        texts: &[Cow<'static, str>],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(texts.len()))?;
        for text in texts {
            match json_of(text) {
                Some(json) => seq.serialize_element(json)?,
                None => seq.serialize_element(text)?,
            }
        }
        seq.end()
    }
}

/// Lower-case hexadecimal of bytes (two digits a byte, one allocation).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    text
}

/// Feeds `hash` the little-endian bytes of `values`, 8 a value: what the digests of weights
/// hash ([`crate::model::weights_digest`], [`crate::noise::NoiseKey::release_rng`]). SHA-256
/// of a message does not depend on how it is split into updates, so the bytes go through a
/// buffer on the stack, 256 values an update: an update per value would pay the
/// hasher's buffering each time (≈ 1.7× the time of one update of the whole message), and
/// one buffer of the whole message would be an allocation and a copy at every release.
pub fn update_le_bytes(hash: &mut impl sha2::digest::Update, values: &[f64]) {
    let mut buffer = [0u8; 8 * LE_CHUNK];
    for chunk in values.chunks(LE_CHUNK) {
        for (bytes, v) in buffer.chunks_exact_mut(8).zip(chunk) {
            bytes.copy_from_slice(&v.to_le_bytes());
        }
        hash.update(&buffer[..8 * chunk.len()]);
    }
}

/// Values per update of [`update_le_bytes`]: 2 KB of the stack, a whole model's weights in
/// one update up to d = 256.
const LE_CHUNK: usize = 256;

/// The append-only sequence of certificates of a store.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ledger {
    /// The entries, oldest first.
    pub entries: Vec<Certificate>,
}

/// A break in the ledger's chain.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("ledger entry {step}: {problem}")]
pub struct ChainError {
    /// The entry's position.
    pub step: usize,
    /// What does not match.
    pub problem: String,
}

impl Ledger {
    /// The newest entry.
    pub fn last(&self) -> Option<&Certificate> {
        self.entries.last()
    }

    /// Seals `certificate` after the newest entry and appends it; returns the sealed copy.
    pub fn append(&mut self, certificate: Certificate) -> Certificate {
        let sealed = certificate.seal(self.last());
        self.entries.push(sealed.clone());
        sealed
    }

    /// Removal steps recorded.
    pub fn removals(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.kind == EntryKind::Removal)
            .count()
    }

    /// Removal steps that retrained.
    pub fn retrainings(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.kind == EntryKind::Removal && e.retrained)
            .count()
    }

    /// Replays the chain: every entry's digest, its link to the previous entry, the
    /// continuity of weight digests, and that the last entry ends at `published_digest`.
    pub fn verify_chain(&self, published_digest: &str) -> Result<(), ChainError> {
        let fail = |step: usize, problem: String| ChainError { step, problem };
        if self.entries.is_empty() {
            return Err(fail(0, "the ledger is empty".into()));
        }
        for (i, entry) in self.entries.iter().enumerate() {
            if entry.compute_digest() != entry.digest {
                return Err(fail(i, "its digest does not match its content".into()));
            }
            if entry.step != i as u64 {
                return Err(fail(i, format!("it says it is step {}", entry.step)));
            }
            let previous = i.checked_sub(1).map(|j| &self.entries[j]);
            if entry.previous.as_deref() != previous.map(|p| p.digest.as_str()) {
                return Err(fail(i, "it does not link to the previous entry".into()));
            }
            if entry.digest_before.as_deref() != previous.map(|p| p.digest_after.as_str()) {
                return Err(fail(
                    i,
                    "its weights-before digest is not the previous entry's weights-after digest"
                        .into(),
                ));
            }
        }
        let last = self.last().expect("non-empty");
        if last.digest_after != published_digest {
            return Err(fail(
                self.entries.len() - 1,
                "the published model's digest is not the last entry's weights-after digest".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::Mechanism;

    /// A text and a list written through [`fixed_text`].
    #[derive(Serialize)]
    struct Fast<'a> {
        #[serde(serialize_with = "fixed_text::one")]
        one: &'a str,
        #[serde(serialize_with = "fixed_text::list")]
        list: &'a [Cow<'static, str>],
    }

    /// The same, written as plain strings (the definition).
    #[derive(Serialize)]
    struct Plain<'a> {
        one: &'a str,
        list: &'a [Cow<'static, str>],
    }

    /// Inside [`fixed_text::stored`] (the seal) every fixed text of both mechanisms is found
    /// and its stored JSON writes the bytes a plain string gives — compact, pretty and through
    /// `serde_json::Value` — as do texts that are not fixed (quotes, backslashes, control and
    /// non-ASCII characters, escaped by serde_json); outside it nothing is found, so other
    /// serialisers see plain strings.
    #[test]
    fn fixed_texts_serialise_as_plain_strings() {
        fixed_text::stored(check_fixed_texts);
        assert!(fixed_text::json_of(crate::accounting::schedule(Mechanism::Guo2020)).is_none());
    }

    fn check_fixed_texts() {
        // Each fixed text borrowed (as the unlearner builds certificates: found by address)
        // and owned (as read from a ledger: found by its bytes).
        let mut texts: Vec<Cow<'static, str>> = Vec::new();
        let mut push_fixed = |text: &'static str| {
            let owned = text.to_string();
            assert!(fixed_text::json_of(text).is_some(), "{text}");
            assert!(fixed_text::json_of(&owned).is_some(), "{text}");
            texts.push(Cow::Borrowed(text));
            texts.push(Cow::Owned(owned));
        };
        for m in [Mechanism::OutputPerturbation, Mechanism::Guo2020] {
            let fixed = m.results().iter().chain(m.unproven_assumptions());
            for text in fixed.copied().chain([crate::accounting::schedule(m)]) {
                push_fixed(text);
            }
        }
        let external = crate::rows::EXTERNAL_ROWS_ASSUMPTIONS.iter();
        let undigested = crate::rows::UNDIGESTED_EXTERNAL_ROWS_ASSUMPTIONS.iter();
        let adopted = crate::rows::ADOPTED_DIGEST_EXTERNAL_ROWS_ASSUMPTIONS.iter();
        for text in external.chain(undigested).chain(adopted) {
            push_fixed(text);
        }
        texts.push("a \"quoted\" \\ text\twith\u{1} ‖u‖ + τ".into());
        texts.push(Cow::Borrowed(""));
        assert!(fixed_text::json_of(&texts[texts.len() - 2]).is_none());
        for (i, one) in texts.iter().enumerate() {
            let one = one.as_ref();
            let list = &texts[i..];
            let fast = Fast { one, list };
            let plain = Plain { one, list };
            assert_eq!(
                serde_json::to_string(&fast).unwrap(),
                serde_json::to_string(&plain).unwrap()
            );
            assert_eq!(
                serde_json::to_string_pretty(&fast).unwrap(),
                serde_json::to_string_pretty(&plain).unwrap()
            );
            assert_eq!(
                serde_json::to_value(&fast).unwrap(),
                serde_json::to_value(&plain).unwrap()
            );
        }
    }

    /// Two lower-case digits a byte, high nibble first, as `format!("{b:02x}")` writes them
    /// (the digests already stored in ledgers were written that way).
    #[test]
    fn hex_writes_two_lower_case_digits_a_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&bytes), expected);
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }
}
