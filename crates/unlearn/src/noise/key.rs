//! The secret noise key: 256 bits from the operating system, from which every noise draw and
//! every removed-id tag of a store is derived.
//!
//! # Why a key and not a seed
//!
//! A review found two ways to make release noise repeat when it was a pure function of
//! (64-bit seed, release counter): restore a backup and serve a different request (both
//! releases get the same counter, the noise cancels in their difference and the difference of
//! the secret weights is published), or train twice with one `--seed`. A user-chosen seed is
//! worse: whoever knows it regenerates the noise and subtracts it. So (proofs/noise_keys.md):
//!
//! - the key is 256 bits from the OS CSPRNG ([`NoiseKey::generate`]) and lives only in the
//!   secret state;
//! - the noise of a release is keyed by HMAC-SHA256(key, "release" ‖ ledger head ‖ release
//!   index ‖ the secret weights' bits) ([`NoiseKey::release_rng`]): two releases share noise
//!   only if they release the same secret weights after the same ledger head at the same
//!   index — and then they are the same release, which reveals nothing new. Restoring a backup
//!   and serving a different request changes the weights (or, for a request that leaves them
//!   unchanged, nothing is learnt either), so noise never repeats across different releases
//!   except with the HMAC's collision probability;
//! - a key made from a seed ([`NoiseKey::from_seed`]) is marked reproducible: its noise is
//!   public, and certificates of a store with such a key say `certified: false`.
//!
//! Removed ids are recorded in the ledger as HMAC-SHA256(key, "removed id" ‖ id)
//! ([`NoiseKey::id_tag`]), and data subjects none of whose rows remain as
//! HMAC-SHA256(key, "erased subject" ‖ subject) ([`NoiseKey::subject_tag`]): whoever holds the key (the operator, `verify`) can check an id
//! against the ledger, while the ledger file alone does not name the people who asked to
//! be forgotten.

use super::NoiseError;
use hmac::{Hmac, KeyInit, Mac};
use nalgebra::DVector;
use rand::{SeedableRng, TryRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

type HmacSha256 = Hmac<Sha256>;

/// Domain-separation labels of the derivations (each input ends with a fixed-length field or
/// is length-prefixed, so no two derivations can share an input).
const RELEASE_DOMAIN: &[u8] = b"unlearn/release-noise/v1";
const OBJECTIVE_DOMAIN: &[u8] = b"unlearn/objective-noise/v1";
const ID_DOMAIN: &[u8] = b"unlearn/removed-id/v1";
const SUBJECT_DOMAIN: &[u8] = b"unlearn/erased-subject/v1";
const SEED_DOMAIN: &[u8] = b"unlearn/reproducible-key-from-seed/v1";
const ROW_DIGEST_DOMAIN: &[u8] = b"unlearn/row-digest-key/v1";

/// The secret key behind every noise draw of a store. Its `Debug` output never shows the key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoiseKey {
    /// The 256-bit key, hex in the secret state.
    #[serde(with = "hex_bytes")]
    bytes: [u8; 32],
    /// True when the key was derived from a seed (reproducible, so its noise is public).
    reproducible: bool,
}

impl fmt::Debug for NoiseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoiseKey")
            .field("bytes", &"<secret>")
            .field("reproducible", &self.reproducible)
            .finish()
    }
}

impl NoiseKey {
    /// A fresh key from the operating system's CSPRNG (`getrandom`).
    ///
    /// # Errors
    /// [`NoiseError::Entropy`] if the operating system cannot provide randomness.
    pub fn generate() -> Result<Self, NoiseError> {
        let mut bytes = [0u8; 32];
        rand::rngs::SysRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| NoiseError::Entropy(e.to_string()))?;
        Ok(Self {
            bytes,
            reproducible: false,
        })
    }

    /// A key the caller keeps secret, for example one from a key-management service, or fixed
    /// bytes in a deterministic test. It counts as secret (certificates may be certified): the
    /// caller answers for its secrecy and for never using it for two stores.
    pub fn from_secret_bytes(bytes: [u8; 32]) -> Self {
        Self {
            bytes,
            reproducible: false,
        }
    }

    /// A reproducible key derived from `seed` (SHA-256 of a label and the seed), for tests,
    /// benchmarks and experiments. Anyone who knows the seed knows the noise: certificates of a
    /// store with such a key are not certified.
    pub fn from_seed(seed: u64) -> Self {
        let mut h = Sha256::new();
        h.update(SEED_DOMAIN);
        h.update(seed.to_le_bytes());
        Self {
            bytes: h.finalize().into(),
            reproducible: true,
        }
    }

    /// Whether the key was derived from a seed (its noise is then public).
    pub fn is_reproducible(&self) -> bool {
        self.reproducible
    }

    fn mac(&self, domain: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.bytes).expect("HMAC takes any key length");
        mac.update(&(domain.len() as u64).to_le_bytes());
        mac.update(domain);
        mac
    }

    fn rng_from(mac: HmacSha256) -> ChaCha20Rng {
        ChaCha20Rng::from_seed(mac.finalize().into_bytes().into())
    }

    /// The generator of release `release`'s noise: ChaCha20 keyed by
    /// HMAC-SHA256(key, "release" ‖ |head| ‖ head ‖ release ‖ the secret weights' bits), where
    /// `head` is the digest of the newest ledger entry before this release.
    pub fn release_rng(&self, head: &str, release: u64, weights: &[DVector<f64>]) -> ChaCha20Rng {
        let mut mac = self.mac(RELEASE_DOMAIN);
        mac.update(&(head.len() as u64).to_le_bytes());
        mac.update(head.as_bytes());
        mac.update(&release.to_le_bytes());
        mac.update(&(weights.len() as u64).to_le_bytes());
        for w in weights {
            mac.update(&(w.len() as u64).to_le_bytes());
            // f64::to_le_bytes is the little-endian bytes of the value's bits.
            crate::certificate::update_le_bytes(&mut mac, w.as_slice());
        }
        Self::rng_from(mac)
    }

    /// The generator of the `draw`-th objective-perturbation noise (guo2020 mechanism).
    pub fn objective_rng(&self, draw: u64) -> ChaCha20Rng {
        let mut mac = self.mac(OBJECTIVE_DOMAIN);
        mac.update(&draw.to_le_bytes());
        Self::rng_from(mac)
    }

    /// k_D, the key of the training rows' digest ([`crate::row_digest`]): HMAC-SHA256(key,
    /// "row digest key"). A sub-key, because the executors of a distributed pass hold it:
    /// one-way, so whoever learns it learns nothing of this key, the noise or the tags.
    pub fn row_digest_key(&self) -> crate::row_digest::RowDigestKey {
        crate::row_digest::RowDigestKey::from_bytes(
            self.mac(ROW_DIGEST_DOMAIN).finalize().into_bytes().into(),
        )
    }

    /// The tag the ledger records for a removed id: hex HMAC-SHA256(key, "removed id" ‖ id).
    pub fn id_tag(&self, id: &str) -> String {
        let mut mac = self.mac(ID_DOMAIN);
        mac.update(id.as_bytes());
        crate::certificate::hex(&mac.finalize().into_bytes())
    }

    /// The tag the ledger records for a data subject none of whose rows remain: hex
    /// HMAC-SHA256(key, "erased subject" ‖ subject), in its own domain so that a subject
    /// tag never equals an id tag of the same string.
    pub fn subject_tag(&self, subject: &str) -> String {
        let mut mac = self.mac(SUBJECT_DOMAIN);
        mac.update(subject.as_bytes());
        crate::certificate::hex(&mac.finalize().into_bytes())
    }
}

/// Serde of the key bytes as 64 hex digits.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::certificate::hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let digits = text.as_bytes();
        if digits.len() != 64 || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(D::Error::custom(
                "the noise key must be 64 hexadecimal digits",
            ));
        }
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks_exact(2).enumerate() {
            let pair = std::str::from_utf8(pair).expect("ASCII hex digits");
            out[i] = u8::from_str_radix(pair, 16).expect("checked hex digits");
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn generated_keys_differ_and_are_not_reproducible() {
        let (a, b) = (NoiseKey::generate().unwrap(), NoiseKey::generate().unwrap());
        assert_ne!(a, b, "two 256-bit OS keys collided");
        assert!(!a.is_reproducible());
        assert!(NoiseKey::from_seed(7).is_reproducible());
        assert_eq!(NoiseKey::from_seed(7), NoiseKey::from_seed(7));
    }

    #[test]
    fn debug_output_hides_the_key() {
        let key = NoiseKey::from_seed(1);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&crate::certificate::hex(&key.bytes)));
        assert!(shown.contains("<secret>"));
    }

    #[test]
    fn release_streams_differ_in_every_input() {
        let key = NoiseKey::from_seed(3);
        let w = vec![DVector::from_vec(vec![0.5, -1.0])];
        let w2 = vec![DVector::from_vec(vec![0.5, -1.0 + f64::EPSILON])];
        let first = |mut r: ChaCha20Rng| r.next_u64();
        let base = first(key.release_rng("head", 2, &w));
        assert_eq!(base, first(key.release_rng("head", 2, &w)));
        assert_ne!(base, first(key.release_rng("head2", 2, &w)));
        assert_ne!(base, first(key.release_rng("head", 3, &w)));
        assert_ne!(base, first(key.release_rng("head", 2, &w2)));
        assert_ne!(
            base,
            first(NoiseKey::from_seed(4).release_rng("head", 2, &w))
        );
        assert_ne!(base, first(key.objective_rng(2)));
    }

    #[test]
    fn key_round_trips_through_serde_and_rejects_bad_hex() {
        let key = NoiseKey::from_seed(9);
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(serde_json::from_str::<NoiseKey>(&json).unwrap(), key);
        let bad = json.replace(&crate::certificate::hex(&key.bytes)[..2], "zz");
        assert!(serde_json::from_str::<NoiseKey>(&bad).is_err());
    }

    #[test]
    fn id_tags_are_keyed() {
        let (a, b) = (NoiseKey::from_seed(1), NoiseKey::from_seed(2));
        assert_eq!(a.id_tag("d0003"), a.id_tag("d0003"));
        assert_ne!(a.id_tag("d0003"), a.id_tag("d0008"));
        assert_ne!(a.id_tag("d0003"), b.id_tag("d0003"));
        assert_eq!(a.id_tag("x").len(), 64);
    }
}
