//! The on-disk model store: a directory holding the published model and, apart from it,
//! the secret state.
//!
//! ```text
//! STORE/
//!   model.json            the published model (weights, hyperparameters, digest) — releasable
//!   secret/state.bin      training rows, secret weights, noise vectors, seed — never release
//!   secret/ledger.jsonl   one certificate per line, hash-chained (training, then removals);
//!                         operator-only: it names the removed ids (a request's id says the
//!                         person was in the training set) and data-dependent residuals
//! ```
//!
//! A save is a small commit protocol, so that a crash at any point leaves either the old or
//! the new store: every file is first staged as `NAME.staged` (written atomically and
//! synced), then the marker `COMMIT` is written (the commit point), then the staged files
//! are renamed into place and the marker removed. [`Store::recover`] — run by
//! [`Store::lock`] before anything else — completes a commit whose marker exists and
//! otherwise deletes staged and temporary files (which may hold rows being deleted).
//!
//! `secret/state.bin` is a binary container: the magic bytes `UNLEARN-SECRET\0\0`, a
//! little-endian u32 format version, a u64 length and a JSON header (ids, the rows'
//! sequence numbers, targets, noise, noise key, transcript, last release, solver reports),
//! the rows as little-endian f64, and a SHA-256 of everything before it. Every file is
//! written atomically (owner-only) to a temporary file in the same directory, fsync, rename
//! over the old file, fsync the directory. A reader rejects a file with a wrong checksum, a
//! newer format version, or format 1 (whose releases were not on a lattice and whose noise
//! came from a 64-bit seed) with a message saying so.

use crate::certificate::{CERTIFICATE_FORMAT_VERSION, Certificate, Ledger};
use crate::data::{Dataset, TargetEncoding, Targets};
use crate::model::{
    MODEL_FORMAT_VERSION, Model, PublishedModel, ReleaseRecord, SecretState, weights_digest,
};
use crate::noise::NoiseKey;
use crate::solver::SolveReport;
use crate::transcript::Transcript;
use crate::unlearner::Unlearner;
use nalgebra::DVector;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// File name of the published model inside a store.
pub const MODEL_FILE: &str = "model.json";
/// File name of the ledger (one certificate per line) inside a store.
pub const LEDGER_FILE: &str = "ledger.jsonl";
/// Directory of the secret state inside a store.
pub const SECRET_DIR: &str = "secret";
/// File name of the secret state inside [`SECRET_DIR`].
pub const SECRET_FILE: &str = "state.bin";

const SECRET_MAGIC: &[u8; 16] = b"UNLEARN-SECRET\0\0";
/// Version of the secret-state container format. 2: the rows' sequence numbers, the noise
/// key, the transcript and the last release record (format 1 is refused: see `decode_secret`).
pub const SECRET_FORMAT_VERSION: u32 = 2;

/// Errors reading or writing a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file exists but its content is not valid.
    #[error("{path}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file was written by a newer unlearn.
    #[error(
        "{path}: format version {found} is newer than this unlearn supports ({supported}); upgrade unlearn"
    )]
    NewerFormat {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// A save was interrupted and not yet recovered.
    #[error(
        "{path}: a previous write was interrupted; run any unlearn command on the store (it recovers under its lock) or call Store::recover"
    )]
    Interrupted {
        /// The store.
        path: PathBuf,
    },
    /// Another process holds the store's lock.
    #[error(
        "{path} is in use by another unlearn process (its lock is held); wait for that command to finish, then retry"
    )]
    Locked {
        /// The store.
        path: PathBuf,
    },
    /// The path is not a store.
    #[error(
        "{path} is not an unlearn store (no {MODEL_FILE}); create one with `unlearn train --out {path}`"
    )]
    NotAStore {
        /// The path given.
        path: PathBuf,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically: temporary file, fsync, rename, directory fsync. The
/// file is readable by its owner only (0600 on Unix): stores and reports are operator-only.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    // A bare file name has the empty parent "", which cannot be opened to fsync: use ".".
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = owner_only_file(&tmp)?;
        file.write_all(bytes).map_err(io_error(&tmp))?;
        file.sync_all().map_err(io_error(&tmp))?;
        drop(file);
        fs::rename(&tmp, path).map_err(io_error(path))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

/// The JSON header of the secret-state container.
#[derive(Serialize, Deserialize)]
struct SecretHeader {
    ids: Vec<String>,
    feature_names: Vec<String>,
    targets: Vec<f64>,
    encoding: TargetEncoding,
    weights: Vec<Vec<f64>>,
    noise: Vec<Vec<f64>>,
    key: NoiseKey,
    noise_draws: u64,
    transcript: Transcript,
    last_release: ReleaseRecord,
    pending_requests: u64,
    training: Vec<SolveReport>,
    spent: Vec<f64>,
    row_norm_bound: f64,
    spectral_bound: Option<f64>,
    /// Each row's position in the training input ([`Dataset::sequence`]).
    sequence: Vec<u64>,
}

/// Serialises the secret state into the checksummed container.
fn encode_secret(secret: &SecretState) -> Vec<u8> {
    let design = &secret.design;
    let targets = design.targets().expect("training rows have targets");
    let header = SecretHeader {
        ids: design.ids().to_vec(),
        feature_names: design.feature_names().to_vec(),
        targets: targets.values.clone(),
        encoding: targets.encoding.clone(),
        weights: secret
            .weights
            .iter()
            .map(|w| w.as_slice().to_vec())
            .collect(),
        noise: secret.noise.iter().map(|b| b.as_slice().to_vec()).collect(),
        key: secret.key.clone(),
        noise_draws: secret.noise_draws,
        transcript: secret.transcript,
        last_release: secret.last_release.clone(),
        pending_requests: secret.pending_requests,
        training: secret.training.clone(),
        spent: secret.spent.clone(),
        row_norm_bound: secret.row_norm_bound,
        spectral_bound: secret.spectral_bound,
        sequence: design.sequence().to_vec(),
    };
    let json = serde_json::to_vec(&header).expect("the header serialises");
    let mut out = Vec::with_capacity(64 + json.len() + 8 * design.features().len());
    out.extend_from_slice(SECRET_MAGIC);
    out.extend_from_slice(&SECRET_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for v in design.features() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let checksum = Sha256::digest(&out);
    out.extend_from_slice(&checksum);
    out
}

/// The ledger as JSON lines.
fn encode_ledger(ledger: &Ledger) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in &ledger.entries {
        serde_json::to_writer(&mut out, entry).expect("a certificate serialises");
        out.push(b'\n');
    }
    out
}

/// Parses and verifies the checksummed container.
fn decode_secret(path: &Path, bytes: &[u8]) -> Result<SecretState, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    if bytes.len() < SECRET_MAGIC.len() + 4 + 8 + 32 || &bytes[..16] != SECRET_MAGIC {
        return Err(corrupt(
            "not an unlearn secret-state file (bad magic bytes)",
        ));
    }
    let version = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
    if version < SECRET_FORMAT_VERSION {
        return Err(corrupt(&format!(
            "format version {version} was written by an earlier unlearn whose releases were \
             not on a lattice and whose noise came from a 64-bit seed (its certificates do not \
             hold against an adversary); retrain with `unlearn train` to get a store of format \
             version {SECRET_FORMAT_VERSION}"
        )));
    }
    if version > SECRET_FORMAT_VERSION {
        return Err(StoreError::NewerFormat {
            path: path.to_path_buf(),
            found: version,
            supported: SECRET_FORMAT_VERSION,
        });
    }
    let (body, checksum) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != checksum {
        return Err(corrupt(
            "checksum mismatch: the file is damaged or was modified",
        ));
    }
    let json_len = u64::from_le_bytes(body[20..28].try_into().expect("8 bytes"));
    let json_end = usize::try_from(json_len)
        .ok()
        .and_then(|l| l.checked_add(28))
        .filter(|&end| end <= body.len())
        .ok_or_else(|| corrupt("header length runs past the end of the file"))?;
    let header: SecretHeader = serde_json::from_slice(&body[28..json_end])
        .map_err(|e| corrupt(&format!("bad header: {e}")))?;
    let raw = &body[json_end..];
    let (n, d) = (header.ids.len(), header.feature_names.len());
    if raw.len() != 8 * n * d {
        return Err(corrupt(&format!(
            "expected {n}×{d} feature values, found {} bytes",
            raw.len()
        )));
    }
    let features = raw
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let targets = Targets {
        values: header.targets,
        encoding: header.encoding,
    };
    let design = Dataset::new(header.ids, header.feature_names, features, Some(targets))
        .map_err(|e| corrupt(&e.to_string()))?;
    let design = design
        .with_sequence(header.sequence)
        .map_err(|e| corrupt(&e.to_string()))?;
    if header
        .noise
        .iter()
        .chain(&header.weights)
        .any(|b| b.len() != d)
    {
        return Err(corrupt(
            "a weight or noise vector does not match the number of features",
        ));
    }
    if header.noise.len() != header.weights.len() {
        return Err(corrupt("the numbers of weight and noise vectors differ"));
    }
    Ok(SecretState {
        design,
        weights: header.weights.into_iter().map(DVector::from_vec).collect(),
        noise: header.noise.into_iter().map(DVector::from_vec).collect(),
        key: header.key,
        noise_draws: header.noise_draws,
        transcript: header.transcript,
        last_release: header.last_release,
        pending_requests: header.pending_requests,
        training: header.training,
        spent: header.spent,
        row_norm_bound: header.row_norm_bound,
        spectral_bound: header.spectral_bound,
    })
}

/// File name of the commit marker: while it exists, the staged files are the store.
pub const COMMIT_FILE: &str = "COMMIT";
const COMMIT_MARKER: &[u8] = b"unlearn commit 1\n";
/// Suffix of a staged file (the next version of a data file, not yet in place).
pub const STAGED_SUFFIX: &str = ".staged";

/// Where the next version of `path` is staged.
fn staged(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(STAGED_SUFFIX);
    path.with_file_name(name)
}

/// File name of the lock inside a store.
pub const LOCK_FILE: &str = ".lock";

/// How a process holds a store: readers share, a writer excludes everyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Any number of readers at once, no writer.
    Shared,
    /// One writer, no one else.
    Exclusive,
}

/// A held lock on a store (an advisory file lock on `STORE/.lock`), released on drop.
#[derive(Debug)]
pub struct StoreLock {
    _file: fs::File,
}

/// A model store on disk.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// A store at `root` (nothing is read or created yet).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Takes the store's lock without waiting: a second process that wants to write gets
    /// [`StoreError::Locked`] instead of interleaving its writes with the first one's.
    /// An exclusive lock creates the store directory if needed (a new store is locked before
    /// it is written); a shared lock requires an existing store.
    pub fn lock(&self, mode: LockMode) -> Result<StoreLock, StoreError> {
        match mode {
            LockMode::Exclusive => fs::create_dir_all(&self.root).map_err(io_error(&self.root))?,
            LockMode::Shared if !self.model_path().exists() => {
                return Err(StoreError::NotAStore {
                    path: self.root.clone(),
                });
            }
            LockMode::Shared => {}
        }
        let path = self.root.join(LOCK_FILE);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        // Any process that finds the store unlocked first completes or undoes an interrupted
        // save under an exclusive lock; a reader then converts its lock to a shared one.
        match file.try_lock() {
            Ok(()) => {
                self.recover()?;
                if mode == LockMode::Shared {
                    file.lock_shared().map_err(io_error(&path))?;
                }
                Ok(StoreLock { _file: file })
            }
            Err(fs::TryLockError::WouldBlock) if mode == LockMode::Shared => {
                match file.try_lock_shared() {
                    Ok(()) => Ok(StoreLock { _file: file }),
                    Err(fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
                        path: self.root.clone(),
                    }),
                    Err(fs::TryLockError::Error(source)) => Err(StoreError::Io { path, source }),
                }
            }
            Err(fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
                path: self.root.clone(),
            }),
            Err(fs::TryLockError::Error(source)) => Err(StoreError::Io { path, source }),
        }
    }

    /// Path of the published model.
    pub fn model_path(&self) -> PathBuf {
        self.root.join(MODEL_FILE)
    }

    /// Path of the secret state.
    pub fn secret_path(&self) -> PathBuf {
        self.root.join(SECRET_DIR).join(SECRET_FILE)
    }

    /// Path of the ledger (in the secret directory: it names the removed ids and records
    /// data-dependent residuals).
    pub fn ledger_path(&self) -> PathBuf {
        self.root.join(SECRET_DIR).join(LEDGER_FILE)
    }

    /// Writes the secret state, the ledger and the published model (creating the
    /// directories), each atomically, in that order; the secret directory is readable by
    /// the owner only.
    pub fn save(&self, unlearner: &Unlearner) -> Result<(), StoreError> {
        let model = &unlearner.model;
        let secret_dir = self.root.join(SECRET_DIR);
        fs::create_dir_all(&secret_dir).map_err(io_error(&secret_dir))?;
        restrict_permissions(&secret_dir)?;
        // Every store has its (empty) lock file, so that taking the lock never adds a file.
        let lock = self.root.join(LOCK_FILE);
        fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(io_error(&lock))?;
        let json = serde_json::to_vec_pretty(&model.published).expect("the model serialises");
        let contents = [
            encode_secret(&model.secret),
            encode_ledger(&unlearner.ledger),
            json,
        ];
        // 1. Stage every file beside its final name, synced.
        for (path, bytes) in self.files().iter().zip(&contents) {
            write_atomic(&staged(path), bytes)?;
        }
        // 2. The commit point: once the marker exists, the staged files are the store.
        write_atomic(&self.root.join(COMMIT_FILE), COMMIT_MARKER)?;
        // 3. Move them into place.
        self.roll_forward()
    }

    /// The store's data files, in the order they are committed.
    fn files(&self) -> [PathBuf; 3] {
        [self.secret_path(), self.ledger_path(), self.model_path()]
    }

    /// Completes a commit whose marker exists: renames every staged file that is still
    /// there over its final name (idempotent), syncs the directories, removes the marker.
    fn roll_forward(&self) -> Result<(), StoreError> {
        for path in self.files() {
            match fs::rename(staged(&path), &path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(StoreError::Io { path, source }),
            }
        }
        sync_dir(&self.root.join(SECRET_DIR))?;
        let marker = self.root.join(COMMIT_FILE);
        match fs::remove_file(&marker) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StoreError::Io {
                    path: marker,
                    source,
                });
            }
        }
        sync_dir(&self.root)
    }

    /// Brings a store left by an interrupted save back to a committed state: forward if the
    /// commit marker was written (the new state), back otherwise (the old state: staged and
    /// temporary files are deleted — they may hold rows a removal was deleting).
    pub fn recover(&self) -> Result<(), StoreError> {
        if self.root.join(COMMIT_FILE).exists() {
            self.roll_forward()?;
        }
        for dir in [self.root.clone(), self.root.join(SECRET_DIR)] {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let leftover = name.ends_with(STAGED_SUFFIX)
                    || (name.starts_with('.') && name.ends_with(".tmp"));
                if leftover {
                    let path = entry.path();
                    fs::remove_file(&path).map_err(io_error(&path))?;
                }
            }
            sync_dir(&dir)?;
        }
        Ok(())
    }

    /// Whether a save was interrupted (a marker or staged files are present).
    fn interrupted(&self) -> bool {
        self.root.join(COMMIT_FILE).exists() || self.files().iter().any(|p| staged(p).exists())
    }

    /// Reads the ledger.
    pub fn load_ledger(&self) -> Result<Ledger, StoreError> {
        let path = self.ledger_path();
        let text = fs::read_to_string(&path).map_err(io_error(&path))?;
        let mut entries = Vec::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let entry: Certificate =
                serde_json::from_str(line).map_err(|e| StoreError::Corrupt {
                    path: path.clone(),
                    reason: format!("line {}: not a certificate: {e}", i + 1),
                })?;
            if entry.format_version > CERTIFICATE_FORMAT_VERSION {
                return Err(StoreError::NewerFormat {
                    path,
                    found: entry.format_version,
                    supported: CERTIFICATE_FORMAT_VERSION,
                });
            }
            entries.push(entry);
        }
        Ok(Ledger { entries })
    }

    /// Reads and checks the published model.
    pub fn load_published(&self) -> Result<PublishedModel, StoreError> {
        let path = self.model_path();
        if !path.exists() {
            return Err(StoreError::NotAStore {
                path: self.root.clone(),
            });
        }
        let bytes = fs::read(&path).map_err(io_error(&path))?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                path: path.clone(),
                reason: format!("not valid JSON: {e}"),
            })?;
        let version = value
            .get("format_version")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if version > u64::from(MODEL_FORMAT_VERSION) {
            return Err(StoreError::NewerFormat {
                path,
                found: u32::try_from(version).unwrap_or(u32::MAX),
                supported: MODEL_FORMAT_VERSION,
            });
        }
        let model: PublishedModel =
            serde_json::from_value(value).map_err(|e| StoreError::Corrupt {
                path: path.clone(),
                reason: format!("not a published model: {e}"),
            })?;
        if weights_digest(&model.weights) != model.digest {
            return Err(StoreError::Corrupt {
                path,
                reason: "the weights do not match the recorded digest".into(),
            });
        }
        Ok(model)
    }

    /// Reads the model and its ledger.
    pub fn load(&self) -> Result<Unlearner, StoreError> {
        if self.interrupted() {
            return Err(StoreError::Interrupted {
                path: self.root.clone(),
            });
        }
        Ok(Unlearner::from_parts(
            self.load_model()?,
            self.load_ledger()?,
        ))
    }

    /// Reads and checks both halves of the model.
    pub fn load_model(&self) -> Result<Model, StoreError> {
        let published = self.load_published()?;
        let path = self.secret_path();
        let bytes = fs::read(&path).map_err(io_error(&path))?;
        let mut secret = decode_secret(&path, &bytes)?;
        // What was declared at training is recorded with the published model.
        secret.design = secret.design.with_declared(published.declared);
        if secret.noise.len() != published.weights.len() {
            return Err(StoreError::Corrupt {
                path,
                reason: "the number of noise vectors does not match the published model".into(),
            });
        }
        Ok(Model { published, secret })
    }
}

/// Creates (truncating) a file readable and writable by its owner only.
fn owner_only_file(path: &Path) -> Result<fs::File, StoreError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map_err(io_error(path))
}

/// Makes a directory accessible to its owner only (0700 on Unix).
#[cfg(unix)]
pub fn restrict_permissions(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_error(dir))
}

/// Makes a directory accessible to its owner only (a no-op off Unix).
#[cfg(not(unix))]
pub fn restrict_permissions(_dir: &Path) -> Result<(), StoreError> {
    Ok(())
}
