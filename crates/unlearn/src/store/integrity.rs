//! Reading a store in one snapshot, and the integrity checks of what was read: the state
//! row against its checksum, and the ledger, the rows, the published model and `model.json`
//! against what the state binds ([`super::codec::Bindings`]).

use super::codec::{
    Bindings, RowsDigest, StateRecord, caches_digest, extend_from_blob, row_hash, state_checksum,
};
use super::{
    MODEL_FILE, Store, StoreError, check_certificate_version, db_error, read_model_file, short,
};
use crate::certificate::Certificate;
use crate::hessian_cache::CachesRecord;
use crate::model::{PublishedModel, model_digest};
use crate::verify::Check;
use rusqlite::OptionalExtension;

/// The rows as read, in input order.
pub(super) struct Rows {
    pub ids: Vec<String>,
    pub features: Vec<f64>,
    pub targets: Vec<f64>,
    pub sequence: Vec<u64>,
    pub subjects: Vec<Option<String>>,
}

/// Everything a store holds, decoded.
pub(super) struct Contents {
    pub record: StateRecord,
    pub published: PublishedModel,
    pub ledger: Vec<Certificate>,
    pub rows: Rows,
}

/// A store as read: its contents (if the state could be trusted enough to decode them) and
/// the integrity checks.
pub(super) struct Snapshot {
    pub contents: Option<Contents>,
    pub checks: Vec<Check>,
}

/// What `model.json` holds relative to the committed model.
pub(super) enum ModelFile {
    /// The committed model.
    Current,
    /// The model before the last commit: a writer stopped between its commit and the file's
    /// rewrite.
    Previous,
    /// No file (a writer stopped before writing it the first time).
    Missing,
    /// Anything else: an edited, damaged or foreign file.
    Foreign(String),
}

fn check(name: &'static str, passed: bool, detail: String) -> Check {
    Check {
        name,
        passed,
        detail,
    }
}

/// The state row: the secret record's JSON, the published model's JSON, the checksum.
fn state_row(store: &Store) -> Result<(String, String, String), StoreError> {
    store
        .conn
        .query_row(
            "SELECT secret, published, checksum FROM state WHERE one = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .map_err(db_error(&store.db))?
        .ok_or_else(|| StoreError::NotAStore {
            path: store.root.clone(),
        })
}

/// Decodes the state row, checksum first.
fn decode_state(
    store: &Store,
    (secret, published, checksum): &(String, String, String),
) -> Result<Result<(StateRecord, PublishedModel), String>, StoreError> {
    if state_checksum(secret, published) != *checksum {
        return Ok(Err(
            "the state row does not match its checksum: it was changed outside unlearn or is damaged"
                .into(),
        ));
    }
    let corrupt = |what: &str, e: serde_json::Error| StoreError::Corrupt {
        path: store.db.clone(),
        reason: format!("the state row's {what} is not valid: {e}"),
    };
    let record: StateRecord =
        serde_json::from_str(secret).map_err(|e| corrupt("secret state", e))?;
    let model: PublishedModel =
        serde_json::from_str(published).map_err(|e| corrupt("published model", e))?;
    Ok(Ok((record, model)))
}

/// Reads an external-rows store's caches blob (format 6) into `record`, checked against the
/// SHA-256 the state row records; why it cannot be trusted, if it cannot. A record with its
/// caches in the JSON (format 5) or without external rows is left as it is.
fn read_caches(store: &Store, record: &mut StateRecord) -> Result<(), String> {
    let dim = record.state.feature_names.len();
    let Some(external) = &mut record.external else {
        return Ok(());
    };
    let Some(expected) = &external.caches_digest else {
        return Ok(());
    };
    let blob: Option<Vec<u8>> = store
        .conn
        .query_row("SELECT blob FROM caches WHERE one = 1", [], |r| r.get(0))
        .optional()
        .map_err(|e| format!("the caches table cannot be read: {e}"))?;
    let blob = blob.ok_or("the state records a caches blob, and the caches table holds none")?;
    if caches_digest(&blob) != *expected {
        return Err(
            "the caches blob does not match the digest the state row records: it was changed outside unlearn or is damaged"
                .into(),
        );
    }
    external.caches = Some(CachesRecord::from_bytes(&blob, dim)?);
    Ok(())
}

/// The committed caches of an external-rows store whose ledger is `ledger_len` entries long
/// with newest digest `ledger_head` (and their row width), read in one snapshot and checked
/// against the state row's checksum and the blob's digest; `None` when the store's ledger is
/// another (the caches describe another state) or it keeps no caches (its rows are held).
pub(super) fn caches_at(
    store: &Store,
    ledger_len: u64,
    ledger_head: &str,
) -> Result<Option<(CachesRecord, usize)>, StoreError> {
    let _snapshot = store
        .conn
        .unchecked_transaction()
        .map_err(db_error(&store.db))?;
    let row = state_row(store)?;
    let problem = match decode_state(store, &row)? {
        Ok((mut record, _)) => {
            let bindings = &record.bindings;
            if bindings.ledger_len != ledger_len || bindings.ledger_head != ledger_head {
                return Ok(None);
            }
            match read_caches(store, &mut record) {
                Ok(()) => {
                    let dim = record.state.feature_names.len();
                    return Ok(record
                        .external
                        .and_then(|e| e.caches)
                        .map(|caches| (caches, dim)));
                }
                Err(problem) => problem,
            }
        }
        Err(problem) => problem,
    };
    Err(StoreError::Integrity {
        path: store.root.clone(),
        problems: vec![format!("store state: {problem}")],
    })
}

/// The published model from the database, checked against the state's checksum and binding,
/// and `model.json` against it (an edited file means the store was tampered with).
pub(super) fn read_published(store: &Store) -> Result<PublishedModel, StoreError> {
    let row = state_row(store)?;
    let problem = match decode_state(store, &row)? {
        Ok((record, model)) if model_digest(&model) == record.bindings.model_digest => {
            match file_status(store, &record.bindings) {
                ModelFile::Foreign(problem) => format!("{MODEL_FILE}: {problem}"),
                _ => return Ok(model),
            }
        }
        Ok(_) => "published model: its digest is not the one the state binds".to_string(),
        Err(problem) => format!("store state: {problem}"),
    };
    Err(StoreError::Integrity {
        path: store.root.clone(),
        problems: vec![problem],
    })
}

/// The committed published model and what `model.json` holds relative to it.
pub(super) fn model_file_status(store: &Store) -> Result<(PublishedModel, ModelFile), StoreError> {
    let row = state_row(store)?;
    let (record, model) = match decode_state(store, &row)? {
        Ok(decoded) => decoded,
        Err(problem) => {
            return Err(StoreError::Integrity {
                path: store.root.clone(),
                problems: vec![format!("store state: {problem}")],
            });
        }
    };
    let status = file_status(store, &record.bindings);
    Ok((model, status))
}

fn file_status(store: &Store, bindings: &Bindings) -> ModelFile {
    let path = store.model_path();
    if !path.exists() {
        return ModelFile::Missing;
    }
    let replaced_legacy = store.root.join(super::LEGACY_SECRET_FILE).exists();
    match read_model_file(&path) {
        Ok((_, digest)) if digest == bindings.model_digest => ModelFile::Current,
        // The previous format's model.json, in a store being replaced or migrated that
        // stopped before rewriting it.
        _ if replaced_legacy => ModelFile::Missing,
        Ok((_, digest)) if Some(&digest) == bindings.previous_model_digest.as_ref() => {
            ModelFile::Previous
        }
        Ok((_, digest)) => ModelFile::Foreign(format!(
            "it holds a model (digest {}) that is neither the committed one ({}) nor the one before it",
            short(&digest),
            short(&bindings.model_digest)
        )),
        Err(e) => ModelFile::Foreign(e.to_string()),
    }
}

/// Reads the whole store in one read transaction and checks it.
pub(super) fn read(store: &Store) -> Result<Snapshot, StoreError> {
    let fail = db_error(&store.db);
    let tx = store.conn.unchecked_transaction().map_err(&fail)?;
    let row = state_row(store)?;
    let mut checks = Vec::new();
    let decoded = decode_state(store, &row)?.and_then(|(mut record, published)| {
        read_caches(store, &mut record)?;
        Ok((record, published))
    });
    let (record, published) = match decoded {
        Ok(decoded) => decoded,
        Err(problem) => {
            checks.push(check("store state", false, problem));
            return Ok(Snapshot {
                contents: None,
                checks,
            });
        }
    };
    checks.push(check(
        "store state",
        true,
        "the state row matches its checksum".into(),
    ));
    let bindings = record.bindings.clone();

    // The ledger.
    let mut ledger = Vec::new();
    let mut ledger_problem = None;
    {
        let mut select = tx
            .prepare("SELECT step, digest, entry FROM ledger ORDER BY step")
            .map_err(&fail)?;
        let mut entries = select.query([]).map_err(&fail)?;
        while let Some(r) = entries.next().map_err(&fail)? {
            let step: i64 = r.get(0).map_err(&fail)?;
            let digest: String = r.get(1).map_err(&fail)?;
            let json: String = r.get(2).map_err(&fail)?;
            match serde_json::from_str::<Certificate>(&json) {
                Ok(entry) => {
                    check_certificate_version(&store.db, &entry)?;
                    if entry.step as i64 != step || entry.digest != digest {
                        ledger_problem.get_or_insert(format!(
                            "ledger row {step} does not hold the entry its step and digest name"
                        ));
                    }
                    ledger.push(entry);
                }
                Err(e) => {
                    ledger_problem
                        .get_or_insert(format!("ledger row {step} is not a certificate: {e}"));
                }
            }
        }
    }
    let head = ledger.last().map(|c| c.digest.as_str()).unwrap_or("");
    let ledger_problem = ledger_problem.or_else(|| {
        (ledger.len() as u64 != bindings.ledger_len || head != bindings.ledger_head).then(|| {
            format!(
                "the ledger has {} entries ending at {}; the state records {} ending at {} \
                 (entries were deleted, added or changed)",
                ledger.len(),
                if head.is_empty() { "-" } else { short(head) },
                bindings.ledger_len,
                short(&bindings.ledger_head)
            )
        })
    });
    checks.push(match ledger_problem {
        Some(problem) => check("ledger bound by the state", false, problem),
        None => check(
            "ledger bound by the state",
            true,
            format!("{} entries, the newest as the state records", ledger.len()),
        ),
    });

    // The rows, in input order.
    let dim = record.state.feature_names.len();
    let mut rows = Rows {
        ids: Vec::new(),
        features: Vec::new(),
        targets: Vec::new(),
        sequence: Vec::new(),
        subjects: Vec::new(),
    };
    let mut digest = RowsDigest::default();
    let mut malformed = None;
    {
        let mut select = tx
            .prepare("SELECT seq, id, subject, target, features FROM rows ORDER BY seq")
            .map_err(&fail)?;
        let mut cursor = select.query([]).map_err(&fail)?;
        while let Some(r) = cursor.next().map_err(&fail)? {
            let seq: i64 = r.get(0).map_err(&fail)?;
            let id: String = r.get(1).map_err(&fail)?;
            let subject: Option<String> = r.get(2).map_err(&fail)?;
            let target: f64 = r.get(3).map_err(&fail)?;
            let blob = r.get_ref(4).map_err(&fail)?.as_blob().unwrap_or(&[]);
            digest.add(&row_hash(seq as u64, &id, subject.as_deref(), target, blob));
            if !extend_from_blob(&mut rows.features, blob, dim) {
                malformed.get_or_insert(format!(
                    "row '{id}' has {} bytes of features, not {} (8 per feature)",
                    blob.len(),
                    8 * dim
                ));
            }
            rows.ids.push(id);
            rows.targets.push(target);
            rows.sequence.push(seq as u64);
            rows.subjects.push(subject);
        }
    }
    // External rows: the table holds none; the state records their count.
    let held = if record.external.is_some() {
        0
    } else {
        bindings.rows
    };
    let rows_problem = malformed.or_else(|| {
        (rows.ids.len() as u64 != held || digest.hex() != bindings.rows_digest).then(|| {
            format!(
                "{} rows whose digest is {}; the state records {} rows with digest {} \
                 (rows were changed, added or deleted)",
                rows.ids.len(),
                short(&digest.hex()),
                held,
                short(&bindings.rows_digest)
            )
        })
    });
    checks.push(match rows_problem {
        Some(problem) => check("rows bound by the state", false, problem),
        None => check(
            "rows bound by the state",
            true,
            if record.external.is_some() {
                format!(
                    "external rows: {} remain in the user's table, none in the store",
                    bindings.rows
                )
            } else {
                format!("{} rows, their digest as the state records", rows.ids.len())
            },
        ),
    });
    tx.finish().map_err(&fail)?;

    // The published model and its file.
    let digest = model_digest(&published);
    checks.push(check(
        "published model bound by the state",
        digest == bindings.model_digest,
        if digest == bindings.model_digest {
            format!("digest {} over every published field", short(&digest))
        } else {
            format!(
                "the published model's digest {} is not the {} the state binds",
                short(&digest),
                short(&bindings.model_digest)
            )
        },
    ));
    checks.push(match file_status(store, &bindings) {
        ModelFile::Current => check(MODEL_FILE, true, "holds the committed model".into()),
        ModelFile::Previous => check(
            MODEL_FILE,
            true,
            "holds the model before the last commit (a writer stopped before rewriting it); \
             the next writing command rewrites it"
                .into(),
        ),
        ModelFile::Missing => check(
            MODEL_FILE,
            true,
            "missing (a writer stopped before writing it); the next writing command writes it"
                .into(),
        ),
        ModelFile::Foreign(problem) => check(MODEL_FILE, false, problem),
    });
    Ok(Snapshot {
        contents: Some(Contents {
            record,
            published,
            ledger,
            rows,
        }),
        checks,
    })
}
