//! The previous store format (format 2: a directory of files), read once to convert it.
//!
//! ```text
//! STORE/model.json            the published model (its weights digest only)
//! STORE/secret/state.bin      magic `UNLEARN-SECRET\0\0`, u32 version, u64 header length, a
//!                             JSON header, the rows as little-endian f64, SHA-256 of it all
//! STORE/secret/ledger.jsonl   one certificate per line
//! STORE/.lock                 an advisory lock (flock), held by that format's commands
//! ```
//!
//! [`migrate`] reads such a store under its old lock, refuses it unless `verify` passes on
//! it (a migration must not launder a damaged or edited store), and writes the same unlearner
//! as a new store in place ([`Store::create`]), then removes the old files.

use super::codec::SmallState;
use super::{Store, StoreError, io_error};
use crate::certificate::{CERTIFICATE_FORMAT_VERSION, Certificate, Ledger};
use crate::data::{Dataset, Targets};
use crate::model::{Model, PublishedModel, SecretState, weights_digest};
use crate::rows::TrainingRows;
use crate::unlearner::Unlearner;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::Path;
use std::time::Duration;

const MAGIC: &[u8; 16] = b"UNLEARN-SECRET\0\0";
/// The secret-state version this reader understands (format 1 was refused already).
const VERSION: u32 = 2;
/// The files of the previous format, and its lock and commit marker.
const FILES: [&str; 5] = [
    "secret/state.bin",
    "secret/ledger.jsonl",
    "model.json",
    ".lock",
    "COMMIT",
];

/// The JSON header of `secret/state.bin`: the rows' ids, targets and sequence numbers, and
/// the small state.
#[derive(Deserialize)]
struct Header {
    ids: Vec<String>,
    targets: Vec<f64>,
    sequence: Vec<u64>,
    #[serde(flatten)]
    state: SmallState,
}

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    /// Rows moved into the database.
    pub rows: usize,
    /// Ledger entries moved.
    pub ledger_entries: usize,
}

/// Converts the store of the previous format at `dir` into the current format, in place:
/// reads it under its old lock (refusing an interrupted save, which that format's commands
/// recover), checks that `verify` passes on it, writes the new store, and removes the old
/// files. Waits up to `wait` for the new store's writer lock.
pub fn migrate(dir: &Path, wait: Duration) -> Result<Migration, StoreError> {
    if !dir.join(super::LEGACY_SECRET_FILE).exists() {
        return match Store::open(dir, super::Access::Read) {
            Ok(_) => Err(StoreError::Corrupt {
                path: dir.to_path_buf(),
                reason: "already a store of the current format: nothing to migrate".into(),
            }),
            Err(e) => Err(e),
        };
    }
    let lock_path = dir.join(".lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_error(&lock_path))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            return Err(StoreError::Locked {
                path: dir.to_path_buf(),
                waited: Duration::ZERO,
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(io_error(&lock_path)(e)),
    }
    let interrupted = dir.join("COMMIT").exists()
        || FILES[..3]
            .iter()
            .any(|f| dir.join(format!("{f}.staged")).exists());
    if interrupted {
        return Err(StoreError::Corrupt {
            path: dir.to_path_buf(),
            reason: "a save of the previous format was interrupted: run any command of the \
                     unlearn that wrote it on the store once (it recovers it), then migrate"
                .into(),
        });
    }
    let mut unlearner = read(dir)?;
    let verification = crate::verify::verify(&unlearner);
    if !verification.passed() {
        let failed: Vec<String> = verification
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        return Err(StoreError::Integrity {
            path: dir.to_path_buf(),
            problems: failed,
        });
    }
    drop(Store::create(dir, &mut unlearner, true, wait)?);
    drop(lock);
    Ok(Migration {
        rows: unlearner.model.secret.n_rows(),
        ledger_entries: unlearner.ledger.entries.len(),
    })
}

/// Reads a store of the previous format.
fn read(dir: &Path) -> Result<Unlearner, StoreError> {
    let model_path = dir.join("model.json");
    let bytes = fs::read(&model_path).map_err(io_error(&model_path))?;
    let published: PublishedModel =
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path: model_path.clone(),
            reason: format!("not a published model: {e}"),
        })?;
    if weights_digest(&published.weights) != published.digest {
        return Err(StoreError::Corrupt {
            path: model_path,
            reason: "the weights do not match the recorded digest".into(),
        });
    }
    let secret_path = dir.join(super::LEGACY_SECRET_FILE);
    let bytes = fs::read(&secret_path).map_err(io_error(&secret_path))?;
    let mut secret = decode_secret(&bytes).map_err(|reason| StoreError::Corrupt {
        path: secret_path.clone(),
        reason,
    })?;
    secret.rows = match secret.rows {
        TrainingRows::Held(design) => TrainingRows::Held(design.with_declared(published.declared)),
        external => external,
    };
    let ledger_path = dir.join("secret/ledger.jsonl");
    let text = fs::read_to_string(&ledger_path).map_err(io_error(&ledger_path))?;
    let mut entries = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let entry: Certificate = serde_json::from_str(line).map_err(|e| StoreError::Corrupt {
            path: ledger_path.clone(),
            reason: format!("line {}: not a certificate: {e}", i + 1),
        })?;
        if entry.format_version > CERTIFICATE_FORMAT_VERSION {
            return Err(StoreError::NewerFormat {
                path: ledger_path,
                found: entry.format_version,
                supported: CERTIFICATE_FORMAT_VERSION,
            });
        }
        entries.push(entry);
    }
    if secret.noise.len() != published.weights.len() {
        return Err(StoreError::Corrupt {
            path: secret_path,
            reason: "the number of noise vectors does not match the published model".into(),
        });
    }
    Ok(Unlearner::from_parts(
        Model { published, secret },
        Ledger { entries },
    ))
}

/// Parses and checks the checksummed container of `secret/state.bin`.
fn decode_secret(bytes: &[u8]) -> Result<SecretState, String> {
    if bytes.len() < MAGIC.len() + 4 + 8 + 32 || &bytes[..16] != MAGIC {
        return Err("not an unlearn secret-state file (bad magic bytes)".into());
    }
    let version = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(format!(
            "format version {version}: only version {VERSION} stores can be migrated (format \
             1 releases were not on a lattice); retrain with `unlearn train`"
        ));
    }
    let (body, checksum) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != checksum {
        return Err("checksum mismatch: the file is damaged or was modified".into());
    }
    let json_len = u64::from_le_bytes(body[20..28].try_into().expect("8 bytes"));
    let json_end = usize::try_from(json_len)
        .ok()
        .and_then(|l| l.checked_add(28))
        .filter(|&end| end <= body.len())
        .ok_or("header length runs past the end of the file")?;
    let header: Header =
        serde_json::from_slice(&body[28..json_end]).map_err(|e| format!("bad header: {e}"))?;
    let raw = &body[json_end..];
    let (n, d) = (header.ids.len(), header.state.feature_names.len());
    let mut features = Vec::with_capacity(n * d);
    if !super::codec::extend_from_blob(&mut features, raw, n * d) {
        return Err(format!(
            "expected {n}×{d} feature values, found {} bytes",
            raw.len()
        ));
    }
    let targets = Targets {
        values: header.targets,
        encoding: header.state.encoding.clone(),
    };
    let design = Dataset::new(
        header.ids,
        header.state.feature_names.clone(),
        features,
        Some(targets),
    )
    .and_then(|d| d.with_sequence(header.sequence))
    .map_err(|e| e.to_string())?;
    header.state.into_secret(TrainingRows::Held(design))
}
/// Removes the previous format's files once a new store has replaced them (model.json is the
/// new store's by then, and stays).
pub(super) fn remove_files(dir: &Path) -> Result<(), StoreError> {
    for name in FILES.iter().filter(|f| **f != "model.json") {
        let path = dir.join(name);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&path)(e)),
        }
    }
    let _ = fs::remove_dir(dir.join("secret"));
    Ok(())
}
