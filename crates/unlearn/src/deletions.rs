//! The deletion engine: what serves erasure requests, one at a time, in arrival order —
//! `unlearn serve-requests` over a file and the HTTP service (crate `unlearn-service`) over
//! the network both run it.
//!
//! [`Deletions`] owns the [`Unlearner`] and its [`Store`] (its caller holds the store's lock).
//! Each request goes through the same four steps:
//! 1. **check**: every id is a training row; an id removed before is told apart from an
//!    unknown one through the set of removed-id tags (HMAC of the id under the store's key,
//!    as the ledger records them), an O(1) look-up per id instead of a scan of the ledger;
//! 2. **remove**: one batch step of the unlearner (one certificate);
//! 3. **persist** durably (the only write path, the private `Deletions::persist`): one store
//!    transaction holds the request's rows deleted, its certificate and its reference
//!    ([`Store::commit_with_refs`]); a failure puts the engine back on what the store holds,
//!    so nothing unacknowledged is ever reported;
//! 4. **receipt**: what the requester may be told ([`Receipt`]).
//!
//! Releases follow the publish policy (proofs/transcript_accounting.md): every
//! `publish.every` requests (the store's policy, decided inside [`Unlearner::remove`]), after
//! a time interval ([`Deletions::publish_if_due`]), or on demand ([`Deletions::publish`]).
//! Releases at times fixed by a public policy add nothing to the transcript beyond their own
//! charge, and a request between releases only updates the secret state, so the rate of
//! deletions does not depend on how often the model is released.
//!
//! Readers (the published model, receipts, counters) go through a [`Reader`], a snapshot the
//! engine refreshes after each durable step under a short write lock: reads never wait for a
//! removal step or a store write.

use crate::certificate::{Certificate, EntryKind};
use crate::model::PublishedModel;
use crate::requests::Erasure;
use crate::store::{FollowUp, Store, StoreError};
use crate::unlearner::{RemovalError, Unlearner};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// The most requests [`Deletions::delete_group`] serves as one step: a bound on the latency a
/// group adds to its first request (a longer run of requests is served in several groups).
pub const MAX_GROUP: usize = 64;

/// Longest reference accepted (in bytes): a ticket number, not a document.
pub const MAX_REFERENCE_BYTES: usize = 256;

/// What checking one request of a group found ([`Deletions::delete_group`]).
enum Checked {
    /// Served in the group's step: its ids and their keyed tags.
    Accepted(Vec<String>, Vec<String>),
    /// It shares an id or a reference with a request accepted before it in the group, so
    /// its answer depends on whether that one is committed: served after the group.
    WaitsForTheGroup,
}

/// One deletion request: what to erase, and the requester's reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletionRequest {
    /// The rows to erase.
    pub erasure: Erasure,
    /// The requester's reference (a ticket number, say): unique among the store's requests,
    /// it finds the receipt again ([`Reader::receipt`]).
    pub reference: Option<String>,
}

/// What a requester is told about a served deletion: the request, whether it is certified
/// (ε, δ), which release carries it (or will), and which ledger entry records it. No
/// data-dependent number (distances, residuals, budget used, timings), which would describe
/// the remaining rows; no id, so that a receipt shown to a third party names no one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// The requester's reference, if the request had one.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// Whether everything published (with the deletion's release) carries the (ε, δ)
    /// guarantee against a model retrained without the rows.
    pub certified: bool,
    /// ε of the guarantee (none without a privacy target).
    pub epsilon: Option<f64>,
    /// δ of the guarantee (none without a privacy target).
    pub delta: Option<f64>,
    /// Whether the release that carries the deletion is out.
    pub published: bool,
    /// The release that carries the deletion (counted as in the ledger: training is release
    /// 1): the deletion's own when it published one, else the next one.
    pub release: u64,
    /// Digest of the ledger entry that records the deletion (a reference as good as `ref`).
    pub ledger_entry: String,
}

/// A served deletion: the receipt for the requester, the certificate for the operator.
#[derive(Debug, Clone, PartialEq)]
pub struct Deletion {
    /// For the requester.
    pub receipt: Receipt,
    /// The ledger entry (operator-only: it carries data-dependent residuals).
    pub certificate: Certificate,
}

/// Why a request was not served. Nothing changed in every case.
#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    /// The request itself is malformed (what was expected is in the message).
    #[error("{0}")]
    Invalid(String),
    /// An id was removed by an earlier request.
    #[error("id '{0}' was already removed by an earlier request")]
    AlreadyRemoved(String),
    /// The reference names an earlier request.
    #[error(
        "ref '{0}' already names an earlier deletion (look it up by that ref); use a new ref for a new request"
    )]
    ReferenceInUse(String),
    /// The unlearner refused or failed the removal.
    #[error(transparent)]
    Removal(#[from] RemovalError),
    /// The store could not be written: the request was not served (the engine is back on
    /// what the store holds).
    #[error("the store could not be written ({0}); the request was not served: retry it")]
    Store(#[from] StoreError),
    /// The store could not be written for the group this request was served with (the cause
    /// is reported as [`DeletionError::Store`] for the group's first request): the request
    /// was not served.
    #[error("the store could not be written ({0}); the request was not served: retry it")]
    NotWritten(String),
    /// A write failed and the store could not be read back: the engine serves nothing more.
    #[error("the deletion engine stopped after a store failure ({0}); fix the store, then restart")]
    Stopped(String),
}

/// The class of a [`DeletionError`], which callers map to exit codes or HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed (HTTP 400).
    Invalid,
    /// An id is not among the training rows (HTTP 404).
    NotFound,
    /// The request conflicts with the store's history (HTTP 409).
    Conflict,
    /// The removal step failed on this request (HTTP 500).
    Failed,
    /// The store cannot be written now (HTTP 503).
    Unavailable,
}

impl DeletionError {
    /// The error's class.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_)
            | Self::Removal(
                RemovalError::DuplicateId(_)
                | RemovalError::Empty
                | RemovalError::NoSubjects(_)
                | RemovalError::RowsMode(_)
                | RemovalError::GivenRows(_)
                | RemovalError::Sums(_)
                | RemovalError::RemovedRowRemains { .. }
                | RemovalError::ErasedSubjectRemains { .. }
                | RemovalError::Resolve(_),
            ) => ErrorKind::Invalid,
            Self::Removal(RemovalError::UnknownId(_) | RemovalError::UnknownSubject(_)) => {
                ErrorKind::NotFound
            }
            Self::AlreadyRemoved(_)
            | Self::ReferenceInUse(_)
            | Self::Removal(
                RemovalError::WouldRemoveAll(_)
                | RemovalError::SubjectAlreadyRemoved(_)
                | RemovalError::NeedsFullPass(_),
            ) => ErrorKind::Conflict,
            Self::Removal(
                RemovalError::Linalg(_)
                | RemovalError::Retrain(_)
                | RemovalError::RefreshOverBudget { .. },
            ) => ErrorKind::Failed,
            Self::Store(_) | Self::NotWritten(_) | Self::Stopped(_) => ErrorKind::Unavailable,
        }
    }
}

/// What a [`Reader`] tells about the engine: public counters, plus the budget used, which is
/// data-dependent and for the operator only (`GET /metrics` is behind the service's token).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// Training rows left.
    pub rows: usize,
    /// Removal steps in the ledger.
    pub deletions: usize,
    /// Releases made (training is release 1).
    pub releases: u64,
    /// Requests served since the latest release.
    pub pending: u64,
    /// Budget used after the newest ledger entry, in `budget_unit` (operator-only).
    pub budget_used: f64,
    /// The lifetime budget, if a privacy target was set.
    pub budget: Option<f64>,
    /// Why the engine stopped serving, if a failed write could not be undone.
    pub stopped: Option<String>,
}

/// The facts of one removal entry a receipt is made of.
#[derive(Debug, Clone)]
struct EntryFacts {
    reference: Option<String>,
    certified: bool,
    epsilon: Option<f64>,
    delta: Option<f64>,
    published: bool,
    release: u64,
}

impl EntryFacts {
    fn of(certificate: &Certificate, reference: Option<String>) -> Self {
        Self {
            reference,
            certified: certificate.certified,
            epsilon: certificate.epsilon,
            delta: certificate.delta,
            published: certificate.published,
            release: certificate.release,
        }
    }

    /// The receipt, given how many releases have been made since: a deletion that published
    /// nothing is carried by the next release (`release + 1`), out once the count reaches it.
    fn receipt(&self, digest: &str, releases: u64) -> Receipt {
        let release = if self.published {
            self.release
        } else {
            self.release + 1
        };
        Receipt {
            reference: self.reference.clone(),
            certified: self.certified,
            epsilon: self.epsilon,
            delta: self.delta,
            published: releases >= release,
            release,
            ledger_entry: digest.to_string(),
        }
    }
}

/// The snapshot readers see.
#[derive(Debug)]
struct View {
    model: Arc<PublishedModel>,
    /// Removal entries by ledger digest.
    entries: HashMap<String, EntryFacts>,
    /// Requesters' references → ledger digest.
    refs: HashMap<String, String>,
    status: Status,
}

impl View {
    fn of(unlearner: &Unlearner, refs: HashMap<String, String>) -> Self {
        // The reference a receipt looked up by its entry's digest shows: the entry's only
        // one — a grouped entry's several references are each their own requester's, and
        // none is shown to whoever holds the shared digest.
        let mut by_digest: HashMap<&str, Option<&str>> = HashMap::new();
        for (r, d) in &refs {
            by_digest
                .entry(d.as_str())
                .and_modify(|only| *only = None)
                .or_insert(Some(r.as_str()));
        }
        let entries = unlearner
            .ledger
            .entries
            .iter()
            .filter(|c| c.kind == EntryKind::Removal)
            .map(|c| {
                let reference = by_digest
                    .get(c.digest.as_str())
                    .copied()
                    .flatten()
                    .map(str::to_string);
                (c.digest.clone(), EntryFacts::of(c, reference))
            })
            .collect();
        Self {
            model: Arc::new(unlearner.model.published.clone()),
            entries,
            refs,
            status: status_of(unlearner),
        }
    }
}

fn status_of(unlearner: &Unlearner) -> Status {
    let last = unlearner.ledger.last();
    Status {
        rows: unlearner.model.secret.n_rows(),
        deletions: unlearner.ledger.removals(),
        releases: last.map_or(0, |c| c.release),
        pending: unlearner.model.secret.pending_requests,
        budget_used: last.map_or(0.0, |c| c.budget_used),
        budget: last.and_then(|c| c.budget),
        stopped: None,
    }
}

/// A cheap, cloneable handle on the engine's latest durable state, for any number of
/// threads: the published model, receipts by reference or ledger digest, and the counters.
#[derive(Debug, Clone)]
pub struct Reader(Arc<RwLock<View>>);

impl Reader {
    fn view(&self) -> std::sync::RwLockReadGuard<'_, View> {
        // A writer that panicked mid-update left a view no less consistent than before it
        // (each update is a few assignments): keep serving it.
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The published model.
    pub fn model(&self) -> Arc<PublishedModel> {
        self.view().model.clone()
    }

    /// The receipt of the deletion named by `key`: a requester's reference, else a ledger
    /// entry's digest.
    pub fn receipt(&self, key: &str) -> Option<Receipt> {
        let view = self.view();
        let reference = view.refs.get_key_value(key);
        let digest = reference.map_or(key, |(_, digest)| digest.as_str());
        view.entries.get(digest).map(|facts| {
            let receipt = facts.receipt(digest, view.status.releases);
            match reference {
                // A grouped step's entry serves several references: each gets its own.
                Some((reference, _)) => Receipt {
                    reference: Some(reference.clone()),
                    ..receipt
                },
                None => receipt,
            }
        })
    }

    /// The counters.
    pub fn status(&self) -> Status {
        self.view().status.clone()
    }
}

/// When releases are made besides every `publish.every` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublishTimer {
    /// Publish the pending requests once this long has passed since the latest release.
    pub interval: Option<Duration>,
}

/// The deletion engine (see the module documentation).
#[derive(Debug)]
pub struct Deletions {
    store: Store,
    unlearner: Unlearner,
    /// Tags of every removed id ([`crate::noise::NoiseKey::id_tag`]).
    removed: HashSet<String>,
    timer: PublishTimer,
    last_release_at: Instant,
    shared: Arc<RwLock<View>>,
    /// Why the engine stopped, once a failed write could not be undone.
    stopped: Option<String>,
}

impl Deletions {
    /// Opens the engine on a store; the caller holds the store's exclusive lock for as long
    /// as the engine lives. The requesters' references come from the store, where each was
    /// committed with its ledger entry.
    ///
    /// The engine shows nothing of a request — certificate, receipt, published model —
    /// before its commit returns, so it declares so to the store
    /// ([`Store::withhold_until_commit`]): a failed commit's release is abandoned, not
    /// charged.
    pub fn open(mut store: Store) -> Result<Self, DeletionError> {
        store.withhold_until_commit();
        let unlearner = store.load()?;
        let refs = store.refs()?;
        let removed = removed_tags(&unlearner);
        let shared = Arc::new(RwLock::new(View::of(&unlearner, refs)));
        Ok(Self {
            store,
            unlearner,
            removed,
            timer: PublishTimer::default(),
            last_release_at: Instant::now(),
            shared,
            stopped: None,
        })
    }

    /// What the engine's commits left to do although they are durable (a failed WAL
    /// checkpoint or `model.json` rewrite: [`Store::follow_ups`]), each handed over once,
    /// for the operator's log; the requests they served stand.
    pub fn take_follow_ups(&mut self) -> Vec<FollowUp> {
        self.store.take_follow_ups()
    }

    /// A handle for readers.
    pub fn reader(&self) -> Reader {
        Reader(self.shared.clone())
    }

    /// The unlearner (read-only: every change goes through the engine).
    pub fn unlearner(&self) -> &Unlearner {
        &self.unlearner
    }

    /// Sets the publish policy's `every` (requests per release, ≥ 1), recorded with the
    /// published model (it is public) and persisted now.
    pub fn set_publish_every(&mut self, every: u64) -> Result<(), DeletionError> {
        if every == 0 {
            return Err(DeletionError::Invalid(
                "publish every 0 requests: give at least 1".into(),
            ));
        }
        if self.unlearner.model.published.publish.every != every {
            self.live()?;
            self.unlearner.model.published.publish.every = every;
            self.persist(&[])?;
            let mut view = self.shared.write().unwrap_or_else(PoisonError::into_inner);
            view.model = Arc::new(self.unlearner.model.published.clone());
        }
        Ok(())
    }

    /// Sets the publish timer (counted from now).
    pub fn set_publish_timer(&mut self, timer: PublishTimer) {
        self.timer = timer;
        self.last_release_at = Instant::now();
    }

    /// When the timer next calls for a release, if requests are pending.
    pub fn next_release_due(&self) -> Option<Instant> {
        let interval = self.timer.interval?;
        (self.unlearner.model.secret.pending_requests > 0).then(|| self.last_release_at + interval)
    }

    /// Serves one request: check, remove, persist, receipt. On any error nothing changed.
    pub fn delete(&mut self, request: &DeletionRequest) -> Result<Deletion, DeletionError> {
        self.delete_group(std::slice::from_ref(request))
            .pop()
            .expect("one outcome per request")
    }

    /// Serves requests that arrived together, in their order, as one removal step and one
    /// store transaction (group commit: one sync for the group), and returns one outcome per
    /// request. Each request is checked on its own, against the store; one that fails its
    /// check fails alone, changing nothing. One that shares an id or a reference with a
    /// request before it in the group is served after the group (so it is "already removed",
    /// or its reference "in use", only if that earlier request was committed). The
    /// others are removed together ([`Unlearner::remove_requests`]: one certificate, one
    /// release if the publish policy — which counts each request — says so) and committed
    /// with their references; each gets its own receipt, naming the shared ledger entry and
    /// the release that carries it. If the joint step cannot be taken, each request is served
    /// alone instead, so one that cannot be removed still fails alone. At most
    /// [`MAX_GROUP`] requests are taken together (a longer slice is served in groups).
    /// ARCHITECTURE.md ("Grouped requests") has why a group reveals no more than its
    /// requests served one by one.
    pub fn delete_group(
        &mut self,
        requests: &[DeletionRequest],
    ) -> Vec<Result<Deletion, DeletionError>> {
        if requests.len() > MAX_GROUP {
            return requests
                .chunks(MAX_GROUP)
                .flat_map(|chunk| self.delete_group(chunk))
                .collect();
        }
        let mut outcomes: Vec<Option<Result<Deletion, DeletionError>>> =
            requests.iter().map(|_| None).collect();
        let mut accepted: Vec<(usize, Vec<String>)> = Vec::new();
        let mut deferred: Vec<usize> = Vec::new();
        let (mut tags, mut refs) = (HashSet::new(), HashSet::new());
        for (i, request) in requests.iter().enumerate() {
            match self.check(request, &tags, &refs) {
                Ok(Checked::Accepted(ids, request_tags)) => {
                    tags.extend(request_tags);
                    refs.extend(request.reference.as_deref());
                    accepted.push((i, ids));
                }
                Ok(Checked::WaitsForTheGroup) => deferred.push(i),
                Err(e) => outcomes[i] = Some(Err(e)),
            }
        }
        if !accepted.is_empty() {
            let ids: Vec<String> = accepted.iter().flat_map(|(_, ids)| ids.clone()).collect();
            let count = accepted.len() as u64;
            match self.unlearner.remove_requests(&ids, count) {
                Ok(certificate) => {
                    let served: Vec<&DeletionRequest> =
                        accepted.iter().map(|&(i, _)| &requests[i]).collect();
                    let results = self.commit_served(&served, certificate);
                    for ((i, _), result) in accepted.iter().zip(results) {
                        outcomes[*i] = Some(result);
                    }
                }
                Err(e) if accepted.len() == 1 => outcomes[accepted[0].0] = Some(Err(e.into())),
                // The joint step failed (nothing changed): serve each request alone, so that
                // only the one that cannot be removed fails.
                Err(_) => {
                    for (i, _) in &accepted {
                        outcomes[*i] = Some(self.delete(&requests[*i]));
                    }
                }
            }
        }
        // A request that shares an id or a reference with one accepted before it in the group
        // is served after the group's outcome is known: "already removed" (or "reference in
        // use") only if that earlier request was committed, else served in its own right. Each
        // round accepts at least its first request, so the rounds end.
        if !deferred.is_empty() {
            let later: Vec<DeletionRequest> =
                deferred.iter().map(|&i| requests[i].clone()).collect();
            for (i, outcome) in deferred.iter().zip(self.delete_group(&later)) {
                outcomes[*i] = Some(outcome);
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.expect("every request has an outcome"))
            .collect()
    }

    /// Checks one request against the store and the requests accepted before it in its group
    /// (`tags`: their ids' keyed tags; `refs`: their references): its ids and their tags, or
    /// that it must wait for the group's outcome (it shares an id or a reference with an
    /// accepted request, which may still fail), or why the store refuses it.
    fn check(
        &self,
        request: &DeletionRequest,
        tags: &HashSet<String>,
        refs: &HashSet<&str>,
    ) -> Result<Checked, DeletionError> {
        self.live()?;
        if let Some(reference) = &request.reference {
            check_reference(reference)?;
        }
        let ids = self.unlearner.resolve(&request.erasure)?;
        let key = &self.unlearner.model.secret.key;
        let request_tags: Vec<String> = ids.iter().map(|id| key.id_tag(id)).collect();
        if let Some((id, _)) = ids
            .iter()
            .zip(&request_tags)
            .find(|(_, tag)| self.removed.contains(*tag))
        {
            return Err(DeletionError::AlreadyRemoved(id.clone()));
        }
        if let Some(reference) = &request.reference
            && self.reader().view().refs.contains_key(reference)
        {
            return Err(DeletionError::ReferenceInUse(reference.clone()));
        }
        let shares_an_id = request_tags.iter().any(|tag| tags.contains(tag));
        let shares_a_reference = (request.reference.as_deref()).is_some_and(|r| refs.contains(r));
        if shares_an_id || shares_a_reference {
            return Ok(Checked::WaitsForTheGroup);
        }
        self.unlearner.check_request(&ids)?;
        Ok(Checked::Accepted(ids, request_tags))
    }

    /// Persists the step that served `served` (one transaction with their references, all
    /// naming its ledger entry), then updates the readers' view and makes the receipts. A
    /// failed write fails every request of the step (nothing was committed).
    fn commit_served(
        &mut self,
        served: &[&DeletionRequest],
        certificate: Certificate,
    ) -> Vec<Result<Deletion, DeletionError>> {
        let digest = certificate.digest.as_str();
        let refs: Vec<(&str, &str)> = served
            .iter()
            .filter_map(|r| r.reference.as_deref())
            .map(|r| (r, digest))
            .collect();
        if let Err(e) = self.persist(&refs) {
            let message = e.to_string();
            return std::iter::once(Err(e))
                .chain((1..served.len()).map(|_| Err(DeletionError::NotWritten(message.clone()))))
                .collect();
        }
        self.removed
            .extend(certificate.removed_id_tags.iter().cloned());
        // Looked up by the entry's digest, a grouped entry shows no requester's reference.
        let only = match served {
            [one] => one.reference.clone(),
            _ => None,
        };
        let facts = EntryFacts::of(&certificate, only);
        let receipts: Vec<Receipt> = {
            let mut view = self.shared.write().unwrap_or_else(PoisonError::into_inner);
            for &(reference, entry) in &refs {
                view.refs.insert(reference.to_string(), entry.to_string());
            }
            view.status = status_of(&self.unlearner);
            if certificate.published {
                view.model = Arc::new(self.unlearner.model.published.clone());
            }
            let receipts = served
                .iter()
                .map(|r| Receipt {
                    reference: r.reference.clone(),
                    ..facts.receipt(digest, view.status.releases)
                })
                .collect();
            view.entries.insert(certificate.digest.clone(), facts);
            receipts
        };
        if certificate.published {
            self.last_release_at = Instant::now();
        }
        receipts
            .into_iter()
            .map(|receipt| {
                Ok(Deletion {
                    receipt,
                    certificate: certificate.clone(),
                })
            })
            .collect()
    }

    /// Publishes the pending requests now (one release); `None` if none is pending.
    pub fn publish(&mut self) -> Result<Option<Certificate>, DeletionError> {
        self.live()?;
        let Some(certificate) = self.unlearner.publish()? else {
            return Ok(None);
        };
        self.persist(&[])?;
        self.last_release_at = Instant::now();
        let mut view = self.shared.write().unwrap_or_else(PoisonError::into_inner);
        view.status = status_of(&self.unlearner);
        view.model = Arc::new(self.unlearner.model.published.clone());
        Ok(Some(certificate))
    }

    /// Publishes if the timer says a release is due at `now`.
    pub fn publish_if_due(&mut self, now: Instant) -> Result<Option<Certificate>, DeletionError> {
        match self.next_release_due() {
            Some(due) if now >= due => self.publish(),
            _ => Ok(None),
        }
    }

    fn live(&self) -> Result<(), DeletionError> {
        match &self.stopped {
            Some(reason) => Err(DeletionError::Stopped(reason.clone())),
            None => Ok(()),
        }
    }

    /// The one durable write: one store transaction with the requests' rows deleted, the
    /// ledger entry and their references (`(reference, entry)`), durable when it returns
    /// ([`Store::commit_with_refs`]): a reference exists exactly when its deletion does.
    ///
    /// On failure the engine goes back to what the store holds (recovering an interrupted
    /// save first); if even that fails it stops serving.
    fn persist(&mut self, refs: &[(&str, &str)]) -> Result<(), DeletionError> {
        let written = self.store.commit_with_refs(&mut self.unlearner, refs);
        let Err(error) = written else {
            return Ok(());
        };
        match self.store.load() {
            Ok(unlearner) => {
                self.removed = removed_tags(&unlearner);
                self.unlearner = unlearner;
            }
            Err(reload) => {
                let reason = reload.to_string();
                let mut view = self.shared.write().unwrap_or_else(PoisonError::into_inner);
                view.status.stopped = Some(reason.clone());
                self.stopped = Some(reason);
            }
        }
        Err(DeletionError::Store(error))
    }
}

/// Checks a requester's reference: non-empty, at most [`MAX_REFERENCE_BYTES`], no control
/// characters (it is echoed in output lines).
fn check_reference(reference: &str) -> Result<(), DeletionError> {
    if reference.trim().is_empty() {
        return Err(DeletionError::Invalid(
            "the ref is empty: give a non-empty ref or none".into(),
        ));
    }
    if reference.len() > MAX_REFERENCE_BYTES {
        return Err(DeletionError::Invalid(format!(
            "the ref is {} bytes long; at most {MAX_REFERENCE_BYTES} are accepted",
            reference.len()
        )));
    }
    if reference.chars().any(char::is_control) {
        return Err(DeletionError::Invalid(
            "the ref contains a control character".into(),
        ));
    }
    // Receipts are looked up by ref or by ledger-entry digest in one namespace: a ref shaped
    // like a digest could shadow the receipt of the requests served in that entry (requests
    // grouped in one entry all know its digest).
    if reference.len() == 64 && reference.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DeletionError::Invalid(
            "the ref looks like a ledger entry digest (64 hex digits), which receipts are \
             also looked up by: choose another ref"
                .into(),
        ));
    }
    Ok(())
}

fn removed_tags(unlearner: &Unlearner) -> HashSet<String> {
    unlearner
        .ledger
        .entries
        .iter()
        .flat_map(|c| c.removed_id_tags.iter().cloned())
        .collect()
}
