//! The unlearner: removes rows by id, keeps the accounts, and issues certificates.
//!
//! A removal of a batch S (one step; a single row is a batch of one):
//! 1. the rows of S are deleted from the secret rows (the right to be forgotten covers the
//!    data, not only the model);
//! 2. each class model takes one Newton step on the remaining rows
//!    ([`crate::removal::newton_removal_step`]);
//! 3. the step's residual is computed exactly from the secret state and bounded
//!    (data-dependent and worst-case bounds, reported in the certificate);
//! 4. the mechanism charges the budget and, when the step cannot be certified within it,
//!    retrains (see [`Mechanism`]);
//! 5. the weights are released and a certificate appended to the ledger.
//!
//! The step works on a copy of the state and replaces it only when everything succeeded,
//! so a failed removal leaves the unlearner as it was.

use crate::accounting::{Standing, budget_of, certification, distance_bound, schedule};
use crate::bounds;
use crate::certificate::{
    CERTIFICATE_FORMAT_VERSION, Certificate, EntryKind, ForeignRelease, Ledger, StepBounds,
};
use crate::data::RemovedRow;
use crate::hessian_cache::{CacheSeed, HessianCache, HessianCaches, RowBounds};
use crate::linalg::{self, LinalgError};
use crate::loss::Loss;
use crate::mechanism::Mechanism;
use crate::model::{
    Hyperparameters, Model, ReleaseRecord, SecretState, TrainError, model_targets, weights_digest,
};
use crate::objective::Regularization;
use crate::objective::{Objective, Rows};
use crate::removal::{
    HESSIAN_FREE_DIMENSION, HESSIAN_FREE_FORCING, PassFreeConstants, cached_path_fits,
    factored_newton_removal_step, gradient_norm_upper_bound, gradient_with_error_bound,
    hessian_free_removal_step, pass_free_removal_step, refinement_target,
};
use crate::requests::Erasure;
use crate::rows::{ExternalRows, TrainingRows};
use crate::shape::ShapeGuard;
use crate::transcript::{self, Transcript};
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::HashSet;
use std::time::{Duration, Instant};

mod external;
mod removed_tags;
pub use external::{ExternalTraining, batch_spec, refresh_query};
use removed_tags::RemovedTags;

/// Why a removal was refused or failed. The unlearner is unchanged in every case.
#[derive(Debug, thiserror::Error)]
pub enum RemovalError {
    /// An id is not among the remaining rows.
    #[error(
        "id '{}' is not among the training rows (unknown, or already removed)",
        crate::echo::echo(.0)
    )]
    UnknownId(String),
    /// No remaining row belongs to this data subject, and none ever did.
    #[error("subject '{}' owns none of the training rows", crate::echo::echo(.0))]
    UnknownSubject(String),
    /// Every row of this data subject was removed by earlier requests.
    #[error(
        "subject '{}' was already removed: none of their rows remain",
        crate::echo::echo(.0)
    )]
    SubjectAlreadyRemoved(String),
    /// The request names a subject, but the training rows record no subjects.
    #[error(
        "the training rows record no data subjects, so a request cannot name subject '{}'; name the row ids",
        crate::echo::echo(.0)
    )]
    NoSubjects(String),
    /// An id appears twice in one request.
    #[error("id '{}' appears more than once in the request", crate::echo::echo(.0))]
    DuplicateId(String),
    /// The request is empty.
    #[error("no ids to remove")]
    Empty,
    /// The request would leave no rows.
    #[error("removing these {0} ids would leave no training rows; train a new model instead")]
    WouldRemoveAll(usize),
    /// The Newton step could not be taken.
    #[error("the Newton removal step failed: {0}")]
    Linalg(#[from] LinalgError),
    /// Retraining failed.
    #[error("retraining failed: {0}")]
    Retrain(#[from] TrainError),
    /// External rows: the step needs a pass over the remaining rows ([`crate::rows`]).
    #[error(
        "this request needs a full pass over the remaining rows ({0}), which live in the \
         user's table; nothing was changed: delete the rows from the table, compute fresh sums \
         over the remaining rows and finish the request with a refresh"
    )]
    NeedsFullPass(PassNeeded),
    /// The request does not fit where the rows live (ids only for held rows; the removed
    /// rows themselves for external rows).
    #[error("{0}")]
    RowsMode(String),
    /// Rows given for an external-rows removal are not usable.
    #[error("the removed rows given are not usable: {0}")]
    GivenRows(String),
    /// Sums given for a refresh do not describe the remaining rows.
    #[error("the sums given for the refresh do not describe the remaining rows: {0}")]
    Sums(String),
    /// The remaining rows given for a refresh hold a row the refresh takes out (its keyed
    /// id tag is this request's or a ledger entry's): weights fitted on them would still
    /// hold it.
    #[error(
        "the remaining rows hold row '{id}', which {removal}: delete that row from the table \
         and from the remaining rows, then run the refresh again"
    )]
    RemovedRowRemains {
        /// The row's id, as the remaining rows name it.
        id: String,
        /// Which removal took it out ("this request removes" or "an earlier removal took out").
        removal: &'static str,
    },
    /// The remaining rows given for a refresh hold a row of an erased subject (its keyed
    /// subject tag is this request's or a ledger entry's), under an id no removal named.
    #[error(
        "the remaining rows hold row '{id}' of subject '{subject}', which {removal}: delete \
         every row of that subject from the table and from the remaining rows, then run the \
         refresh again"
    )]
    ErasedSubjectRemains {
        /// The row's id, as the remaining rows name it.
        id: String,
        /// Its subject, as the remaining rows name it.
        subject: String,
        /// Which removal erased the subject ("this request erases" or "an earlier removal
        /// erased").
        removal: &'static str,
    },
    /// The weights could not be re-solved over the remaining rows given for a refresh.
    #[error("cannot re-solve over the remaining rows: {0}")]
    Resolve(String),
    /// External rows: even the refreshed weights' distance bound costs more than what is
    /// left of the budget (held rows re-solve to the reference retrain, charged 0; a
    /// distributed re-solve is not that retrain bit for bit).
    #[error(
        "the refreshed weights would be charged {charge:.3e}, more than the {allowance:.3e} \
         left of the budget; nothing was changed: train a new model"
    )]
    RefreshOverBudget {
        /// The charge of the refreshed weights' release.
        charge: f64,
        /// What was left.
        allowance: f64,
    },
}

/// Why an external-rows request needs a pass over the remaining rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassNeeded {
    /// No cached Hessian (or Gram matrix) to take a pass-free step from.
    NoCache,
    /// The pass-free step's tracked bound missed the budget: its residual must be measured.
    MeasuredResidual,
    /// An exact Newton step (fresh Hessians and gradients) is due.
    ExactStep,
    /// The schedule re-solves from zero.
    Resolve,
}

impl std::fmt::Display for PassNeeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NoCache => "no cached Hessian to step from",
            Self::MeasuredResidual => {
                "the pass-free step's tracked bound exceeds the budget: its residual must be measured"
            }
            Self::ExactStep => "an exact Newton step is due",
            Self::Resolve => "the schedule re-solves from zero",
        })
    }
}

/// A model with its ledger, ready to serve removals.
#[derive(Debug, Clone, PartialEq)]
pub struct Unlearner {
    /// The published and secret halves.
    pub model: Model,
    /// The certificates so far, training first.
    pub ledger: Ledger,
    /// Cached Hessian factors (output perturbation only; not persisted, not compared).
    pub caches: HessianCaches,
    /// What a retrain on the remaining rows would publish as its shape (label set, class
    /// models, LIBSVM width), tracked per removed row; or why it cannot be tracked.
    shape: Result<ShapeGuard, String>,
    /// Whether the running transaction re-solved and so put the rows in canonical order.
    rows_reordered: bool,
    /// What the running transaction replaced wholesale ([`Replaced`]).
    replaced: Replaced,
    /// Where the latest request's time went ([`Unlearner::arithmetic_time`],
    /// [`Unlearner::release_time`]).
    clock: RequestClock,
    /// The rollbacks [`Unlearner::confirmed`] keeps until its confirmation.
    held: HeldRollbacks,
    /// The ledger's removed id and subject tags as sets (external-rows requests check their
    /// rows against them), brought up to the ledger before each such request.
    removed_tags: RemovedTags,
}

/// Timings of the latest request: its linear algebra (cache downdates, steps, measured
/// residuals, re-solves) and its release's noise draw, which `unlearn bench` sets apart from
/// the rest of a removal's wall time, its bookkeeping; and the refinements its pass-free
/// solves took. A measurement, not state: never compared, never persisted, never in a
/// certificate (a time would describe the rows).
#[derive(Debug, Clone, Copy, Default)]
struct RequestClock {
    arithmetic: Duration,
    release: Duration,
    refinements: usize,
}

impl PartialEq for RequestClock {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

/// The rollbacks of the requests that [`Unlearner::confirmed`] runs, kept until its
/// confirmation succeeds (`None` outside it: a transaction that succeeds drops its undo log).
/// Transient, like [`RequestClock`]: a clone holds none, it never compares, and its `Debug`
/// shows nothing (it holds removed rows and secret weights).
#[derive(Default)]
struct HeldRollbacks(Option<Vec<Rollback>>);

/// `Clone` (a clone holds nothing: the default), `PartialEq` (always equal) and a `Debug`
/// that shows the type's name alone, for the unlearner's transient state of the running
/// request ([`HeldRollbacks`], [`Replaced`]): it holds removed rows and secret weights, and
/// describes a request in flight, not the unlearner.
macro_rules! transient {
    ($($name:ident),*) => {$(
        impl Clone for $name {
            fn clone(&self) -> Self {
                Self::default()
            }
        }

        impl PartialEq for $name {
            fn eq(&self, _other: &Self) -> bool {
                true
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    )*};
}

transient!(HeldRollbacks, Replaced);

/// What undoes one transaction: the small state before it, what it replaced wholesale, the
/// rows it deleted (in the order it deleted them), and whether it re-solved (which reorders
/// the rows).
struct Rollback {
    snapshot: Snapshot,
    replaced: Replaced,
    undo: Vec<RemovedRow>,
    reordered: bool,
}

impl Rollback {
    /// Puts the deleted rows back (in reverse order, or at the end followed by the canonical
    /// order when a re-solve reordered the rows) and restores the small state and what the
    /// transaction replaced.
    fn apply(self, unlearner: &mut Unlearner) {
        let Rollback {
            snapshot,
            replaced,
            mut undo,
            reordered,
        } = self;
        if let Ok(guard) = &mut unlearner.shape {
            for row in undo.iter().rev() {
                guard.restore_row(row.target, &row.features);
            }
        }
        if let Some(design) = unlearner.model.secret.rows.held_mut() {
            if reordered {
                // A re-solve put the rows in canonical order: the positions in the undo log
                // no longer hold. Put the removed rows back at the end and restore the
                // canonical order of the whole set.
                for row in undo {
                    let end = design.n_rows();
                    design.undo_swap_remove(RemovedRow {
                        position: end,
                        ..row
                    });
                }
                design.restore_canonical_order();
            } else {
                while let Some(row) = undo.pop() {
                    design.undo_swap_remove(row);
                }
            }
        }
        replaced.restore(unlearner);
        snapshot.restore(unlearner);
    }
}

/// Everything a removal step changes in place apart from the rows (small: weights, counters,
/// the ledger's length), copied when the transaction starts. What a step replaces wholesale —
/// the published release, the release record, and on a re-solve the objective noise and the
/// solver reports — is not copied here: the step moves the old value into [`Replaced`] when
/// it replaces it, so a request that publishes costs no copy of the published model, and one
/// that does not publish, none at all. The rest of the published model (hyperparameters,
/// feature names, preprocessing, label encoding, publish policy) no request changes.
struct Snapshot {
    weights: Vec<nalgebra::DVector<f64>>,
    noise_draws: u64,
    transcript: Transcript,
    pending_requests: u64,
    spent: Vec<f64>,
    /// R: a refresh lowers it to the sums' R, which a failed refresh must undo (the removed
    /// rows are back, and R must bound them too).
    row_norm_bound: f64,
    spectral_bound: Option<f64>,
    ledger_entries: usize,
    /// External rows: their count (the shape guard is restored from the undo log).
    external: Option<ExternalRows>,
}

/// The fields of the published model a release replaces ([`Unlearner::publish_release`]).
struct PublishedRelease {
    n_rows: usize,
    weights: Vec<Vec<f64>>,
    digest: String,
}

/// What the running transaction replaced wholesale, as it was before the first replacement
/// (each kept once: a later replacement in the same transaction keeps the first). Only
/// [`Unlearner::publish_release`] and [`Unlearner::resolve_from_scratch`] replace these
/// fields during a request; each moves the old value here as it replaces it (the release
/// record before the release that may fail after replacing it), so that a rollback from any
/// later point restores it. Transient (`transient!`): a clone holds none, it never compares,
/// and its `Debug` shows nothing (it holds secret weights).
#[derive(Default)]
struct Replaced {
    /// The published release before the transaction's release.
    release: Option<PublishedRelease>,
    /// [`SecretState::last_release`] before the transaction's release.
    record: Option<ReleaseRecord>,
    /// [`SecretState::noise`] and [`SecretState::training`] before a re-solve.
    solve: Option<(Vec<nalgebra::DVector<f64>>, Vec<crate::solver::SolveReport>)>,
}

impl Replaced {
    /// Puts back what the transaction replaced.
    fn restore(self, unlearner: &mut Unlearner) {
        if let Some(release) = self.release {
            let published = &mut unlearner.model.published;
            published.n_rows = release.n_rows;
            published.weights = release.weights;
            published.digest = release.digest;
        }
        let secret = &mut unlearner.model.secret;
        if let Some(record) = self.record {
            secret.last_release = record;
        }
        if let Some((noise, training)) = self.solve {
            secret.noise = noise;
            secret.training = training;
        }
    }
}

impl Snapshot {
    fn of(unlearner: &Unlearner) -> Self {
        // Destructured so that a new field of SecretState cannot be forgotten here: the
        // rows are restored from the undo log, the key never changes, and the fields a
        // request replaces wholesale are kept by [`Replaced`] when they are replaced.
        let SecretState {
            rows,
            weights,
            noise: _,
            key: _,
            noise_draws,
            transcript,
            last_release: _,
            pending_requests,
            training: _,
            spent,
            row_norm_bound,
            spectral_bound,
        } = &unlearner.model.secret;
        Self {
            weights: weights.clone(),
            noise_draws: *noise_draws,
            transcript: *transcript,
            pending_requests: *pending_requests,
            spent: spent.clone(),
            row_norm_bound: *row_norm_bound,
            spectral_bound: *spectral_bound,
            ledger_entries: unlearner.ledger.entries.len(),
            external: match rows {
                TrainingRows::Held(_) => None,
                TrainingRows::External(rows) => Some(rows.clone()),
            },
        }
    }

    fn restore(self, unlearner: &mut Unlearner) {
        let secret = &mut unlearner.model.secret;
        secret.weights = self.weights;
        secret.noise_draws = self.noise_draws;
        secret.transcript = self.transcript;
        secret.pending_requests = self.pending_requests;
        secret.spent = self.spent;
        secret.row_norm_bound = self.row_norm_bound;
        secret.spectral_bound = self.spectral_bound;
        unlearner.ledger.entries.truncate(self.ledger_entries);
        if let Some(rows) = self.external {
            unlearner.model.secret.rows = TrainingRows::External(rows);
        }
        // The caches were downdated for rows that are back: start afresh. With external rows
        // they cannot be rebuilt, so the next request needs a pass — which is what a failed
        // external request (NeedsFullPass) asked for anyway — unless the ledger is back at
        // the store's committed one, whose caches `Store::reseed_caches` reads back (only on
        // this failure path). Copying them instead would cost 8·(2k + 1)·d² bytes per request.
        unlearner.caches.clear();
    }
}

impl Unlearner {
    /// Wraps a freshly trained model, opening its accounts and recording its training
    /// certificate.
    pub fn from_trained(model: Model) -> Self {
        let residuals = model
            .secret
            .residual_bounds(&model.published.hyperparameters);
        let shape = match &model.secret.rows {
            TrainingRows::Held(design) => ShapeGuard::new(&model.published, design),
            TrainingRows::External(_) => Err("a trained model holds its rows".into()),
        };
        Self::opened(model, residuals, shape, HessianCaches::default())
    }

    /// Opens the accounts of a freshly trained model whose secret weights have the exact
    /// residual bounds `residuals`, and records its training certificate.
    fn opened(
        mut model: Model,
        residuals: Vec<f64>,
        shape: Result<ShapeGuard, String>,
        caches: HessianCaches,
    ) -> Self {
        let hyper = &model.published.hyperparameters;
        model.secret.spent = match hyper.mechanism {
            Mechanism::OutputPerturbation => {
                let lambda = hyper
                    .regularization
                    .effective_lambda(hyper.lambda, model.secret.n_rows());
                vec![distance_bound(
                    &residuals,
                    hyper.newton.tolerance,
                    lambda,
                    hyper.noise.family,
                )]
            }
            Mechanism::Guo2020 => residuals.clone(),
        };
        let mut unlearner = Self {
            model,
            ledger: Ledger::default(),
            caches,
            shape,
            rows_reordered: false,
            replaced: Replaced::default(),
            clock: RequestClock::default(),
            held: HeldRollbacks::default(),
            removed_tags: RemovedTags::default(),
        };
        let certificate = unlearner.training_certificate_with(residuals);
        unlearner.ledger.append(certificate);
        unlearner
    }

    /// An unlearner from a stored model and its ledger (caches empty, rebuilt on demand).
    /// For external rows the caches and the label counts come with the model:
    /// [`Unlearner::from_external_parts`].
    pub fn from_parts(model: Model, ledger: Ledger) -> Self {
        let shape = match &model.secret.rows {
            TrainingRows::Held(design) => ShapeGuard::new(&model.published, design),
            TrainingRows::External(_) => {
                Err("the label counts of the external rows are not known".into())
            }
        };
        Self {
            model,
            ledger,
            caches: HessianCaches::default(),
            shape,
            rows_reordered: false,
            replaced: Replaced::default(),
            clock: RequestClock::default(),
            held: HeldRollbacks::default(),
            removed_tags: RemovedTags::default(),
        }
    }

    /// Folds the rows that external-rows removals queued in the caches (for their matrices:
    /// Ĥ₀, its factor, the Gram matrix) into those matrices, one pass each, so that no
    /// removed row's features remain in the caches apart from them. The store calls it
    /// before every write of the caches ([`crate::store::Store::commit`],
    /// [`crate::store::Store::create`]): none is written with rows queued, and the unlearner
    /// continues with the caches the store holds. A fold that leaves a Hessian no longer
    /// positive definite drops that class model's cache (its next step needs a pass), as a
    /// step's own fold would. Held rows: nothing to do (their caches are never written; a
    /// step folds their queue when due).
    pub fn fold_queued_rows(&mut self) {
        if self.model.secret.rows.is_external() {
            self.caches.apply_pending();
        }
    }

    /// Why the published shape (label set, spelling, class order, model count, features)
    /// differs from what a retrain on the remaining rows would infer, if it does
    /// (proofs/published_shape.md).
    fn shape_problem(&self) -> Option<String> {
        match &self.shape {
            Ok(guard) => guard.check().err(),
            Err(reason) => Some(reason.clone()),
        }
    }

    /// The certificate of the training run (ledger entry 0) of the current model.
    pub fn training_certificate(&self) -> Certificate {
        let model = &self.model;
        self.training_certificate_with(
            model
                .secret
                .residual_bounds(&model.published.hyperparameters),
        )
    }

    /// The training certificate of weights whose exact residuals are `exact_residual`.
    fn training_certificate_with(&self, exact_residual: Vec<f64>) -> Certificate {
        let model = &self.model;
        let bounds = StepBounds {
            residual_measured: vec![true; exact_residual.len()],
            exact_residual,
            data_dependent: Vec::new(),
            worst_case: Vec::new(),
            cached_hessian: Vec::new(),
            training_residual: model
                .secret
                .training
                .iter()
                .map(|r| r.gradient_norm)
                .collect(),
        };
        self.certificate(
            EntryKind::Training,
            (Vec::new(), Vec::new()),
            None,
            bounds,
            true,
            Some(0.0),
        )
    }

    /// Removes `ids` as one batch: one Newton step (or a retraining), one certificate.
    /// If anything fails, the unlearner is left exactly as it was.
    ///
    /// The request publishes a release when the publish policy says so (every request by
    /// default); otherwise the published model is unchanged until the next release.
    pub fn remove(&mut self, ids: &[String]) -> Result<Certificate, RemovalError> {
        self.remove_requests(ids, 1)
    }

    /// Removes `ids`, the rows of `requests` requests served together (the deletion engine's
    /// group), as one batch: one step, one certificate. The publish policy counts each of the
    /// requests: the step publishes if `requests` more requests reach `publish.every`, and
    /// otherwise they are all pending. If anything fails, the unlearner is left as it was.
    pub fn remove_requests(
        &mut self,
        ids: &[String],
        requests: u64,
    ) -> Result<Certificate, RemovalError> {
        let positions = self.checked_positions(ids)?;
        let requests = requests.max(1);
        let publish = self.release_due_after(requests);
        self.transaction(|unlearner, undo| {
            unlearner.remove_batch(ids, positions, undo, publish, requests)
        })
    }

    /// Removes `ids` as one request taken one id at a time: one step and one certificate per
    /// id. Only the last step may publish (as the publish policy says): the intermediate
    /// steps release nothing, so they are charged nothing and certify nothing new. All ids
    /// are checked first; if any step fails, nothing is removed.
    pub fn remove_sequential(&mut self, ids: &[String]) -> Result<Vec<Certificate>, RemovalError> {
        self.remove_sequential_with_progress(ids, &mut || {})
    }

    /// [`Unlearner::remove_sequential`], calling `on_step` after each step.
    pub fn remove_sequential_with_progress(
        &mut self,
        ids: &[String],
        on_step: &mut dyn FnMut(),
    ) -> Result<Vec<Certificate>, RemovalError> {
        self.check_request(ids)?;
        let publish = self.release_due();
        self.transaction(|unlearner, undo| {
            let last = ids.len() - 1;
            ids.iter()
                .enumerate()
                .map(|(i, id)| {
                    let publish = publish && i == last;
                    // The earlier steps moved rows: the id's position is looked up now.
                    let position = unlearner
                        .model
                        .secret
                        .design()
                        .position(id)
                        .expect("checked by check_request");
                    let certificate = unlearner.remove_batch(
                        std::slice::from_ref(id),
                        vec![position],
                        undo,
                        publish,
                        1,
                    )?;
                    if i != last {
                        // One request: only its last step counts toward the publish policy.
                        unlearner.model.secret.pending_requests -= 1;
                    }
                    on_step();
                    Ok(certificate)
                })
                .collect()
        })
    }

    /// Whether the next request publishes a release under the publish policy.
    pub fn release_due(&self) -> bool {
        self.release_due_after(1)
    }

    /// Whether `requests` more requests reach the publish policy's count.
    fn release_due_after(&self, requests: u64) -> bool {
        let every = self.model.published.publish.every.max(1);
        self.model.secret.pending_requests + requests >= every
    }

    /// The time the latest request (removal or publish) spent in linear algebra: cache
    /// downdates, the Newton or pass-free steps, residuals measured from the rows, re-solves.
    /// The rest of its wall time is bookkeeping (the transaction's snapshot, id tags, the
    /// release's noise and digest, the certificate and its seal).
    pub fn arithmetic_time(&self) -> Duration {
        self.clock.arithmetic
    }

    /// The time the latest request's release (if it made one) spent drawing its noise and
    /// rounding the weights to the grid ([`SecretState::release`]): d exact discrete Gaussian
    /// draws per class model, part of the bookkeeping but bounded below by the sampler.
    pub fn release_time(&self) -> Duration {
        self.clock.release
    }

    /// The iterative refinements the latest request's pass-free solves took, over its class
    /// models (proofs/pass_free_step.md, "Refinement").
    pub fn refinements(&self) -> usize {
        self.clock.refinements
    }

    /// Runs `work`, adding its wall time to the request's arithmetic time.
    fn timed<T>(&mut self, work: impl FnOnce(&mut Self) -> T) -> T {
        let started = Instant::now();
        let result = work(self);
        self.clock.arithmetic += started.elapsed();
        result
    }

    /// Publishes a release of the current secret weights now (`unlearn publish`): the
    /// removals served since the previous release reach the published model. Charged like a
    /// removal's release; refreshes the secret weights first if their distance bound would
    /// take the transcript past its budget. `None` if nothing is pending.
    pub fn publish(&mut self) -> Result<Option<Certificate>, RemovalError> {
        if self.model.secret.pending_requests == 0 {
            return Ok(None);
        }
        self.transaction(|unlearner, _undo| {
            let hyper = unlearner.model.published.hyperparameters.clone();
            let digest_before = unlearner.model.published.digest.clone();
            let n = unlearner.model.secret.n_rows();
            let step = unlearner
                .ledger
                .last()
                .map(|c| c.bounds.clone())
                .unwrap_or_default();
            let (retrained, bounds, distance) = unlearner.settle(&hyper, step, true, None, n)?;
            let charge = unlearner.publish_release(&hyper, distance)?;
            let certificate = unlearner.certificate(
                EntryKind::Release,
                (Vec::new(), Vec::new()),
                Some(digest_before),
                bounds,
                retrained,
                Some(charge),
            );
            Ok(Some(unlearner.ledger.append(certificate)))
        })
    }

    /// Charges releases that an observer has seen but this ledger does not hold — published
    /// from a branch of the store's history that a restore from a backup (or a copy served
    /// elsewhere) left behind, as the store's release log records them
    /// ([`crate::store::read_release_log`]). Each adds its recorded charge c_j to the transcript
    /// (S² += c_j², one more release, [`Transcript::after`] in the order given), and one
    /// reconciliation entry records them, so that `verify` replays the same sum and every
    /// later certificate states the transcript the observer has actually seen
    /// (proofs/transcript_accounting.md, "Forked histories"). Publishes nothing.
    pub fn charge_foreign_releases(&mut self, foreign: Vec<ForeignRelease>) -> Certificate {
        let secret = &mut self.model.secret;
        for release in &foreign {
            secret.transcript = secret.transcript.after(release.charge);
        }
        self.reconciliation_entry(foreign, Vec::new())
    }

    /// Records the erasures of data subjects — their keyed tags `erased_subject_tags`
    /// (HMAC under the model's key, [`crate::noise::NoiseKey::subject_tag`]), sorted and
    /// distinct — that a branch of the store's history left behind by a restore had made and
    /// this ledger has not: one reconciliation entry carries them, so the subjects count as
    /// erased again (a later request naming one is "already removed"; remaining rows of one
    /// are refused by a refresh, [`RemovalError::ErasedSubjectRemains`]), as they would in
    /// the branch that acknowledged the erasures. Changes no weight, publishes nothing,
    /// charges nothing. The rows themselves are re-applied by their removals (a store that
    /// holds its rows) or by the removal its writer demands (external rows:
    /// [`crate::store::Store::commit`]).
    pub fn record_lost_erasures(&mut self, erased_subject_tags: Vec<String>) -> Certificate {
        self.reconciliation_entry(Vec::new(), erased_subject_tags)
    }

    /// Appends a reconciliation entry listing the charged releases `foreign` (already added
    /// to the transcript) and the erased subjects' tags, the published model unchanged.
    fn reconciliation_entry(
        &mut self,
        foreign: Vec<ForeignRelease>,
        erased_subject_tags: Vec<String>,
    ) -> Certificate {
        let digest = self.model.published.digest.clone();
        let bounds = self
            .ledger
            .last()
            .map(|c| c.bounds.clone())
            .unwrap_or_default();
        let mut certificate = self.certificate(
            EntryKind::Reconciliation,
            (Vec::new(), erased_subject_tags),
            Some(digest),
            bounds,
            false,
            None,
        );
        certificate.foreign_releases = foreign;
        self.ledger.append(certificate)
    }

    /// Runs `work`, which may delete rows (recording them in the undo log it is given);
    /// if it fails, puts the rows back in reverse order and restores everything else from
    /// a snapshot of the small state. Rows are never copied wholesale: a removal costs
    /// O(m·d) extra memory, not O(n·d). Inside [`Unlearner::confirmed`] a transaction that
    /// succeeds keeps its rollback for the confirmation.
    fn transaction<T>(
        &mut self,
        work: impl FnOnce(&mut Self, &mut Vec<RemovedRow>) -> Result<T, RemovalError>,
    ) -> Result<T, RemovalError> {
        let snapshot = Snapshot::of(self);
        let mut undo = Vec::new();
        self.rows_reordered = false;
        let outer = std::mem::take(&mut self.replaced);
        self.clock = RequestClock::default();
        let result = work(self, &mut undo);
        let rollback = Rollback {
            snapshot,
            replaced: std::mem::replace(&mut self.replaced, outer),
            undo,
            reordered: self.rows_reordered,
        };
        self.rows_reordered = false;
        if result.is_err() {
            rollback.apply(self);
        } else if let Some(held) = &mut self.held.0 {
            held.push(rollback);
        }
        result
    }

    /// Runs `request` — any request of this unlearner: a removal, a refresh, a publish —
    /// then `confirm` with the unlearner it changed. If `confirm` fails, the request is
    /// rolled back exactly as a failed request is (its rows put back, its ledger entries
    /// dropped, the small state restored, the caches cleared: with external rows the next
    /// request then needs a pass, as after any failed request, unless the caller reseeds them
    /// from its store, [`crate::store::Store::reseed_caches`]) and `confirm`'s error is
    /// returned; if `request` fails, it rolled itself back. Either way the unlearner is as
    /// it was. For a caller that must make something durable before it may show the
    /// request's result: Python's store-backed models record the release in the store's log
    /// first ([`crate::store::Store::record_before_showing`]), and a removal whose record
    /// cannot be written must not stand (proofs/transcript_accounting.md, premise (iii)).
    /// The rollback costs what a failed request's does: O(m·d) for the m removed rows, never
    /// a copy of the remaining rows.
    pub fn confirmed<T, E: From<RemovalError>>(
        &mut self,
        request: impl FnOnce(&mut Self) -> Result<T, RemovalError>,
        confirm: impl FnOnce(&Self) -> Result<(), E>,
    ) -> Result<T, E> {
        let outer = self.held.0.replace(Vec::new());
        let result = request(self);
        let held = std::mem::replace(&mut self.held.0, outer).unwrap_or_default();
        let value = result?;
        if let Err(e) = confirm(self) {
            for rollback in held.into_iter().rev() {
                rollback.apply(self);
            }
            return Err(e);
        }
        if let Some(outer) = &mut self.held.0 {
            // Confirmed inside another confirmation: that one may still roll it back.
            outer.extend(held);
        }
        Ok(value)
    }

    /// The row ids an erasure request names: its ids as given, or every remaining row of its
    /// data subject (in input order). A subject no row ever belonged to is
    /// [`RemovalError::UnknownSubject`]; one whose rows were all removed (the ledger records
    /// their keyed tag) is [`RemovalError::SubjectAlreadyRemoved`].
    pub fn resolve(&self, erasure: &Erasure) -> Result<Vec<String>, RemovalError> {
        let subject = match erasure {
            Erasure::Ids(ids) => return Ok(ids.clone()),
            Erasure::Subject(subject) => subject,
        };
        let Some(design) = self.model.secret.rows.held() else {
            return Err(RemovalError::RowsMode(format!(
                "the training rows are external: fetch the rows of subject '{}' from the table and give them to the removal",
                crate::echo::echo(subject)
            )));
        };
        if design.subjects().is_none() {
            return Err(RemovalError::NoSubjects(subject.clone()));
        }
        if let Some(ids) = design.ids_of_subject(subject) {
            let mut ids: Vec<&String> = ids.iter().collect();
            let position = |id: &String| design.position(id).expect("indexed ids remain");
            ids.sort_by_key(|id| design.sequence()[position(id)]);
            return Ok(ids.into_iter().cloned().collect());
        }
        let tag = self.model.secret.key.subject_tag(subject);
        let erased = self
            .ledger
            .entries
            .iter()
            .any(|e| e.erased_subject_tags.contains(&tag));
        Err(if erased {
            RemovalError::SubjectAlreadyRemoved(subject.clone())
        } else {
            RemovalError::UnknownSubject(subject.clone())
        })
    }

    /// Serves an erasure request as one batch ([`Unlearner::resolve`], then
    /// [`Unlearner::remove`]): a subject's rows go in one step with one certificate.
    pub fn erase(&mut self, erasure: &Erasure) -> Result<Certificate, RemovalError> {
        let ids = self.resolve(erasure)?;
        self.remove(&ids)
    }

    /// Checks a request without changing anything.
    pub fn check_request(&self, ids: &[String]) -> Result<(), RemovalError> {
        self.checked_positions(ids).map(drop)
    }

    /// Checks a request without changing anything and returns the positions of its ids, in
    /// the order given: the one look-up of each id in the index that the removal uses too.
    fn checked_positions(&self, ids: &[String]) -> Result<Vec<usize>, RemovalError> {
        if ids.is_empty() {
            return Err(RemovalError::Empty);
        }
        let Some(design) = self.model.secret.rows.held() else {
            return Err(RemovalError::RowsMode(
                "the training rows are external: a removal must be given the removed rows, not only their ids".into(),
            ));
        };
        // A request of one id cannot repeat it: only longer ones fill the set (which
        // allocates nothing until then).
        let mut seen = HashSet::new();
        let mut positions = Vec::with_capacity(ids.len());
        for id in ids {
            if ids.len() > 1 && !seen.insert(id.as_str()) {
                return Err(RemovalError::DuplicateId(id.clone()));
            }
            let Some(position) = design.position(id) else {
                return Err(RemovalError::UnknownId(id.clone()));
            };
            positions.push(position);
        }
        if ids.len() >= design.n_rows() {
            return Err(RemovalError::WouldRemoveAll(ids.len()));
        }
        Ok(positions)
    }

    /// One batch step for `requests` requests, recording the deleted rows in `undo`. The
    /// callers have checked the request ([`Unlearner::check_request`]; for a sequence, all its
    /// ids at once) and give the ids' current `positions`, in the order of `ids`.
    fn remove_batch(
        &mut self,
        ids: &[String],
        mut positions: Vec<usize>,
        undo: &mut Vec<RemovedRow>,
        publish: bool,
        requests: u64,
    ) -> Result<Certificate, RemovalError> {
        let hyper = self.model.published.hyperparameters.clone();
        let digest_before = self.model.published.digest.clone();
        let secret = &mut self.model.secret;
        let n_before = secret.n_rows();
        let tags: Vec<String> = ids.iter().map(|id| secret.key.id_tag(id)).collect();
        positions.sort_unstable();
        let first_removed = undo.len();
        // From the highest position down, so that the row swap_remove moves into a hole is
        // never one still to be removed.
        for &i in positions.iter().rev() {
            let value = self.model.secret.targets().values[i];
            self.timed(|u| {
                let secret = &u.model.secret;
                downdate_caches(&mut u.caches, &hyper, secret, secret.design().row(i), value);
            });
            let row = self.model.secret.design_mut().swap_remove(i);
            if let Ok(guard) = &mut self.shape {
                guard.remove_row(row.target, &row.features);
            }
            undo.push(row);
        }
        let erased = self.erased_subjects(&undo[first_removed..]);
        let tags = (tags, erased);
        self.step_and_record(&hyper, tags, digest_before, n_before, publish, requests)
    }

    /// The removal step after the rows left (held) or were counted out (external): the
    /// steps of every class model, the refresh policy and schedule ([`Unlearner::settle`]),
    /// then [`Unlearner::record_removal`].
    fn step_and_record(
        &mut self,
        hyper: &Hyperparameters,
        tags: (Vec<String>, Vec<String>),
        digest_before: String,
        n_before: usize,
        publish: bool,
        requests: u64,
    ) -> Result<Certificate, RemovalError> {
        let weights_before = self.model.secret.weights.clone();
        let allowance = self.allowance(hyper, publish);
        let step = self.timed(|u| u.newton_steps(hyper, n_before, Some(allowance)))?;
        let (retrained, mut bounds, distance) =
            self.settle(hyper, step, publish, Some(weights_before), n_before)?;
        if !retrained {
            bounds.training_residual.clear();
        }
        self.record_removal(
            hyper,
            tags,
            digest_before,
            (retrained, bounds, distance),
            publish,
            requests,
        )
    }

    /// Publishes the step's weights if `publish` (else counts the requests as pending) and
    /// appends the removal's certificate.
    fn record_removal(
        &mut self,
        hyper: &Hyperparameters,
        tags: (Vec<String>, Vec<String>),
        digest_before: String,
        (retrained, bounds, distance): (bool, StepBounds, f64),
        publish: bool,
        requests: u64,
    ) -> Result<Certificate, RemovalError> {
        let charge = if publish {
            Some(self.publish_release(hyper, distance)?)
        } else {
            self.model.secret.pending_requests += requests;
            None
        };
        let certificate = self.certificate(
            EntryKind::Removal,
            tags,
            Some(digest_before),
            bounds,
            retrained,
            charge,
        );
        Ok(self.ledger.append(certificate))
    }

    /// The refresh policy of proofs/pass_free_step.md, then the schedule: a pass-free step
    /// whose tracked bound misses what it may be charged has its residual measured from the
    /// rows (O(n·d)); if that still misses, it is redone as an exact step from `restart` (or
    /// from the current weights) with fresh Hessians and gradients, which renew the caches
    /// (O(n·d²)); if even that misses, [`Unlearner::account`] re-solves from zero. A release
    /// (`publish`) may be charged what is left of the transcript's budget; a step that
    /// publishes nothing only has to stay within the whole budget, which bounds its drift.
    /// Returns whether it re-solved, the bounds, and the distance to charge.
    fn settle(
        &mut self,
        hyper: &Hyperparameters,
        mut step: StepBounds,
        publish: bool,
        restart: Option<Vec<nalgebra::DVector<f64>>>,
        n_before: usize,
    ) -> Result<(bool, StepBounds, f64), RemovalError> {
        let allowance = self.allowance(hyper, publish);
        if step.cached_hessian.iter().any(|&c| c) && self.over(hyper, &step, allowance) {
            self.timed(|u| u.measure_pass_free_residuals(hyper, &mut step))?;
        }
        if step.cached_hessian.iter().any(|&c| c) && self.over(hyper, &step, allowance) {
            if let Some(weights) = restart {
                self.model.secret.weights = weights;
            }
            self.caches.clear_models();
            step = self.timed(|u| u.newton_steps(hyper, n_before, None))?;
        }
        self.account(hyper, step, allowance)
    }

    /// Publishes the current secret weights at `distance` from the reference retrain: charges
    /// the release ([`transcript::charge`]), keys its noise after the ledger head, and updates
    /// the published model (only the fields of [`PublishedRelease`], which a rollback
    /// restores). Returns the charge.
    fn publish_release(
        &mut self,
        hyper: &Hyperparameters,
        distance: f64,
    ) -> Result<f64, RemovalError> {
        let secret = &mut self.model.secret;
        let coords = secret.model_count() * secret.n_features();
        let charge = transcript::charge(hyper, distance, coords);
        let head = self
            .ledger
            .last()
            .map(|c| c.digest.clone())
            .unwrap_or_default();
        // The record the release replaces moves into the rollback (before the release, which
        // may fail after replacing it): no copy of it or of the published weights.
        let record = std::mem::take(&mut secret.last_release);
        self.replaced.record.get_or_insert(record);
        let started = Instant::now();
        let weights = secret.release(hyper, &head, charge)?;
        self.clock.release += started.elapsed();
        let published = &mut self.model.published;
        let release = PublishedRelease {
            n_rows: std::mem::replace(&mut published.n_rows, secret.n_rows()),
            digest: std::mem::replace(&mut published.digest, weights_digest(&weights)),
            weights: std::mem::replace(&mut published.weights, weights),
        };
        self.replaced.release.get_or_insert(release);
        Ok(charge)
    }

    /// Takes the removal step of every class model on the remaining rows and measures it.
    /// Under output perturbation, with `cache_allowance` (what the step may be charged, see
    /// [`Unlearner::allowance`]) and a cache for every class model (from an earlier exact
    /// step), the steps are pass-free (O(d²) each, in parallel over the class models;
    /// proofs/pass_free_step.md): their ‖Xv‖ is first bounded by ‖X‖₂‖v‖, and the Gram
    /// matrix's sharper bound ([`crate::removal::PassFreeStep::tighten`], one more pass over
    /// a d×d matrix) is evaluated only when that charge exceeds the allowance or a step's
    /// increment exceeds [`LAZY_SHARE`] of it. Otherwise each is an exact
    /// Newton step (forming the Hessian, which seeds the cache) or, from d ≥ 2048 unless the
    /// cache is kept and fits ([`cached_path_fits`]), Hessian-free.
    fn newton_steps(
        &mut self,
        hyper: &Hyperparameters,
        n_before: usize,
        cache_allowance: Option<Option<f64>>,
    ) -> Result<StepBounds, RemovalError> {
        let use_cache = cache_allowance.is_some();
        let clip_norm = self.model.published.preprocessing.clip_norm;
        let gamma = hyper.loss.second_derivative_lipschitz();
        // Cached state only where the certificate rests on the residual bound alone, and
        // where something keeps the tracked bound small: a budget, which decides when to
        // refresh, or the squared loss (γ = 0), whose pass-free steps are exact up to the
        // tracked rounding. Otherwise nothing would stop pass-free steps drifting from
        // retraining, so every removal is an exact step.
        let caching = hyper.mechanism == Mechanism::OutputPerturbation
            && (budget_of(hyper).is_some() || gamma == 0.0);
        let secret = &mut self.model.secret;
        let n_after = secret.n_rows();
        let lambda_after = hyper.regularization.effective_lambda(hyper.lambda, n_after);
        let spectral_bound = secret.spectral_bound();
        let constants = PassFreeConstants {
            gamma,
            curvature_bound: hyper.loss.second_derivative_bound(),
            row_norm_bound: secret.row_norm_bound,
            x_spectral_bound: spectral_bound,
            refine_until: refinement_target(
                hyper.newton.tolerance,
                lambda_after,
                transcript::lattice_of(hyper).map_or(0.0, |lattice| {
                    lattice.grid() * ((secret.model_count() * secret.n_features()) as f64).sqrt()
                }),
                secret.model_count(),
            ),
        };
        let dim = secret.n_features();
        let count = secret.model_count();
        let caching = caching && cached_path_fits(dim, count);
        if caching && gamma > 0.0 {
            match secret.rows.held() {
                Some(design) => self.caches.ensure_gram(design.features(), dim),
                None if self.caches.gram().is_none() => {
                    return Err(RemovalError::NeedsFullPass(PassNeeded::NoCache));
                }
                None => {}
            }
        }
        let mut bounds = StepBounds::default();
        if use_cache
            && caching
            && let Some((caches, gram)) = self.caches.all_step_parts(count)
        {
            // The class models' pass-free steps are independent: take them in parallel.
            let mut caches = caches;
            let steps: Result<Vec<_>, _> = caches
                .par_iter_mut()
                .zip(secret.weights.par_iter())
                .map(|(cache, w)| pass_free_removal_step(cache, None, w, lambda_after, constants))
                .collect();
            match steps {
                Ok(mut steps) => {
                    let residuals: Vec<f64> = steps.iter().map(|s| s.residual_bound).collect();
                    let coords = count * dim;
                    if let (Some(gram), Some(allowance)) = (gram, cache_allowance.flatten())
                        && (charge_exceeds(hyper, &residuals, lambda_after, coords, allowance)
                            || steps
                                .iter()
                                .any(|s| s.increment / lambda_after > LAZY_SHARE * allowance))
                    {
                        caches
                            .par_iter_mut()
                            .zip(steps.par_iter_mut())
                            .for_each(|(cache, step)| step.tighten(cache, gram));
                    }
                    for (k, step) in steps.into_iter().enumerate() {
                        self.clock.refinements += step.refinements;
                        secret.weights[k] = step.weights;
                        bounds.exact_residual.push(step.residual_bound);
                        bounds.data_dependent.push(step.increment);
                        bounds.worst_case.push(None);
                        bounds.cached_hessian.push(true);
                        bounds.residual_measured.push(false);
                    }
                    return Ok(bounds);
                }
                // A cache that cannot step (a non-finite solve, a factor that cannot be
                // recomputed) leaves the caches half-updated: drop them all and take exact
                // steps (the weights are untouched).
                Err(_) => self.caches.clear_models(),
            }
        }
        let Some(design) = secret.rows.held() else {
            return Err(RemovalError::NeedsFullPass(
                if use_cache && self.caches.complete(count) {
                    PassNeeded::ExactStep
                } else if use_cache {
                    PassNeeded::NoCache
                } else {
                    PassNeeded::ExactStep
                },
            ));
        };
        for k in 0..count {
            let y = secret.model_targets(k);
            let rows = Rows {
                features: design.features(),
                targets: &y,
                dim,
            };
            let objective = Objective {
                loss: &hyper.loss,
                rows,
                lambda: lambda_after,
                noise: &secret.noise[k],
            };
            let w = secret.weights[k].clone();
            let (step, seed) = if dim >= HESSIAN_FREE_DIMENSION && !caching {
                let step = hessian_free_removal_step(&objective, &w, HESSIAN_FREE_FORCING)?;
                (step, None)
            } else {
                let exact = factored_newton_removal_step(&objective, &w)?;
                (exact.step, Some((exact.hessian, exact.factor)))
            };
            // The bound is about the step actually applied, v̂ = w − w⁻, with its norms
            // enlarged by their rounding errors (|fl(x·v) − x·v| ≤ γ_d·R·‖v‖ per row).
            let applied = &w - &step.weights;
            let d = dim as f64;
            let n = n_after as f64;
            let step_norm = applied.norm() * (1.0 + bounds::rounding_gamma(d + 2.0));
            let x_step = linalg::margins(rows.features, &applied);
            let x_step_norm = x_step.iter().map(|v| v * v).sum::<f64>().sqrt()
                * (1.0 + bounds::rounding_gamma(n + 2.0))
                + bounds::rounding_gamma(d) * secret.row_norm_bound * step_norm * n.sqrt();
            let mut data_dependent = bounds::data_dependent(
                gamma,
                secret.row_norm_bound,
                spectral_bound,
                step_norm,
                x_step_norm,
            );
            if seed.is_none() {
                // The Hessian-free solve is inexact: its system residual (measured at w₀ = w).
                data_dependent += inexact_step_excess(&objective, &step.gradient, &applied, &w);
            }
            bounds.data_dependent.push(data_dependent);
            bounds.cached_hessian.push(false);
            bounds.residual_measured.push(true);
            let previous_residuals = self.ledger.last().map(|c| &c.bounds.exact_residual);
            let start = WorstCaseStart {
                previous_residual: previous_residuals
                    .and_then(|r| r.get(k).copied())
                    .unwrap_or(0.0),
                weight_norm: w.norm(),
                noise_norm: secret.noise[k].norm(),
            };
            // The worst-case theorems are about one exact Newton step from the weights before
            // the removal; they say nothing about inexact (Hessian-free) steps.
            bounds.worst_case.push(
                seed.as_ref().and_then(|_| {
                    worst_case_bound(hyper, clip_norm, dim, n_before, n_after, &start)
                }),
            );
            secret.weights[k] = step.weights;
            let (gradient, gradient_error) =
                gradient_with_error_bound(&objective, &secret.weights[k], secret.row_norm_bound);
            bounds
                .exact_residual
                .push(gradient_norm_upper_bound(&gradient, gradient_error));
            if caching && let Some((hessian, factor)) = seed {
                let seed = CacheSeed {
                    hessian,
                    factor,
                    point: w,
                    lambda: lambda_after,
                    gradient,
                    gradient_error,
                };
                let rows = RowBounds {
                    rows: n_after,
                    row_norm: secret.row_norm_bound,
                    gamma,
                };
                self.caches.set(k, HessianCache::new(seed, rows));
            }
        }
        Ok(bounds)
    }

    /// Replaces the tracked residual bound of every pass-free step in `bounds` by the
    /// residual computed from the rows (one pass, O(n·d), outward-rounded), and restarts the
    /// cache's tracked gradient from it (its error bound back at rounding level).
    fn measure_pass_free_residuals(
        &mut self,
        hyper: &Hyperparameters,
        bounds: &mut StepBounds,
    ) -> Result<(), RemovalError> {
        let secret = &self.model.secret;
        let Some(design) = secret.rows.held() else {
            return Err(RemovalError::NeedsFullPass(PassNeeded::MeasuredResidual));
        };
        let lambda = hyper
            .regularization
            .effective_lambda(hyper.lambda, design.n_rows());
        for k in 0..secret.model_count() {
            if !bounds.cached_hessian[k] {
                continue;
            }
            let y = secret.model_targets(k);
            let objective = secret.objective(hyper, k, &y, lambda);
            let (gradient, error) =
                gradient_with_error_bound(&objective, &secret.weights[k], secret.row_norm_bound);
            bounds.exact_residual[k] = gradient_norm_upper_bound(&gradient, error);
            bounds.residual_measured[k] = true;
            if let Some((cache, _)) = self.caches.step_parts(k) {
                cache.set_gradient(gradient, error, lambda);
            }
        }
        Ok(())
    }

    /// What the next step may be charged (output perturbation): for a release, what is left
    /// of the transcript's budget ([`Transcript::allowance`]); for a step that publishes
    /// nothing, the whole budget (it is not charged, but its drift stays bounded). `None`
    /// without a budget.
    fn allowance(&self, hyper: &Hyperparameters, publish: bool) -> Option<f64> {
        let cap = budget_of(hyper)?;
        Some(if publish {
            self.model.secret.transcript.allowance(cap)
        } else {
            cap
        })
    }

    /// The distance bound of a step: (‖u_k‖ + τ)/Λ′, L2 over class models.
    fn step_distance(&self, hyper: &Hyperparameters, step: &StepBounds) -> f64 {
        let lambda = hyper
            .regularization
            .effective_lambda(hyper.lambda, self.model.secret.n_rows());
        distance_bound(
            &step.exact_residual,
            hyper.newton.tolerance,
            lambda,
            hyper.noise.family,
        )
    }

    /// Whether a step's charge exceeds `allowance` (output perturbation).
    fn over(&self, hyper: &Hyperparameters, step: &StepBounds, allowance: Option<f64>) -> bool {
        let secret = &self.model.secret;
        let coords = secret.model_count() * secret.n_features();
        let lambda = hyper
            .regularization
            .effective_lambda(hyper.lambda, secret.n_rows());
        allowance.is_some_and(|a| charge_exceeds(hyper, &step.exact_residual, lambda, coords, a))
    }

    /// Re-solves from zero on the remaining rows in their original order: exactly what
    /// [`crate::model::train`] does on those rows, so with deterministic numerics the secret
    /// weights are the reference retrain bit for bit (charged 0;
    /// proofs/transcript_accounting.md). Returns the bounds of the new weights, keeping the
    /// data-dependent and worst-case bounds and the cache flags of the `step` it replaces.
    fn resolve_from_scratch(
        &mut self,
        hyper: &Hyperparameters,
        step: StepBounds,
    ) -> Result<StepBounds, RemovalError> {
        if self.model.secret.rows.is_external() {
            return Err(RemovalError::NeedsFullPass(PassNeeded::Resolve));
        }
        // Every cache goes: the class caches describe the old weights, and the Gram cache's
        // bits the old row order (it is rebuilt at the next exact step).
        self.caches.clear();
        let secret = &mut self.model.secret;
        secret.design_mut().restore_canonical_order();
        self.rows_reordered = true;
        // The re-solve replaces the noise (guo2020) and the solver reports: the rollback
        // keeps the old ones (copied: a re-solve costs O(n·d²) anyway).
        if self.replaced.solve.is_none() {
            self.replaced.solve = Some((secret.noise.clone(), secret.training.clone()));
        }
        if hyper.mechanism == Mechanism::Guo2020 {
            secret.draw_objective_noise(hyper)?;
        }
        secret.solve(hyper, false)?;
        let exact_residual = secret.residual_bounds(hyper);
        Ok(StepBounds {
            residual_measured: vec![true; exact_residual.len()],
            exact_residual,
            training_residual: secret.training.iter().map(|r| r.gradient_norm).collect(),
            data_dependent: step.data_dependent,
            worst_case: step.worst_case,
            cached_hessian: step.cached_hessian,
        })
    }

    /// Charges the step and re-solves when the mechanism requires it: under output
    /// perturbation when its charge exceeds `allowance` (then the distance is 0: the
    /// re-solve is the reference retrain); under guo2020 when the summed data-dependent bounds
    /// would exceed the budget (then with fresh objective noise). Returns whether it re-solved,
    /// the bounds, and the distance of the secret weights from the reference retrain.
    fn account(
        &mut self,
        hyper: &Hyperparameters,
        bounds: StepBounds,
        allowance: Option<f64>,
    ) -> Result<(bool, StepBounds, f64), RemovalError> {
        match hyper.mechanism {
            Mechanism::OutputPerturbation => {
                if self.over(hyper, &bounds, allowance) {
                    let fresh = self.timed(|u| u.resolve_from_scratch(hyper, bounds))?;
                    self.model.secret.spent = vec![self.step_distance(hyper, &fresh)];
                    return Ok((true, fresh, 0.0));
                }
                let distance = self.step_distance(hyper, &bounds);
                self.model.secret.spent = vec![distance];
                Ok((false, bounds, distance))
            }
            Mechanism::Guo2020 => {
                let budget = budget_of(hyper);
                let secret = &mut self.model.secret;
                let charged: Vec<f64> = secret
                    .spent
                    .iter()
                    .zip(&bounds.data_dependent)
                    .map(|(s, b)| s + b)
                    .collect();
                let over = budget.is_some_and(|b| charged.iter().any(|&c| c > b));
                if over {
                    let fresh = self.timed(|u| u.resolve_from_scratch(hyper, bounds))?;
                    self.model.secret.spent = fresh.exact_residual.clone();
                    return Ok((true, fresh, 0.0));
                }
                self.model.secret.spent = charged;
                Ok((false, bounds, 0.0))
            }
        }
    }

    /// The sorted, distinct tags of the data subjects of `removed` none of whose rows remain.
    fn erased_subjects(&self, removed: &[RemovedRow]) -> Vec<String> {
        let secret = &self.model.secret;
        let mut tags: Vec<String> = removed
            .iter()
            .filter_map(|row| row.subject.as_deref())
            .filter(|subject| secret.design().ids_of_subject(subject).is_none())
            .map(|subject| secret.key.subject_tag(subject))
            .collect();
        tags.sort_unstable();
        tags.dedup();
        tags
    }

    /// Builds the (unsealed) certificate of the current state; `tags` are the removed ids'
    /// and the erased subjects' keyed tags.
    fn certificate(
        &self,
        kind: EntryKind,
        (removed_id_tags, erased_subject_tags): (Vec<String>, Vec<String>),
        digest_before: Option<String>,
        bounds: StepBounds,
        retrained: bool,
        charge: Option<f64>,
    ) -> Certificate {
        let model = &self.model;
        let hyper = &model.published.hyperparameters;
        let secret = &model.secret;
        let n = secret.n_rows();
        let budget = budget_of(hyper);
        let spent = secret.spent.iter().copied().fold(0.0, f64::max);
        let (residual_bound, budget_used) = match hyper.mechanism {
            Mechanism::OutputPerturbation => (spent, secret.transcript.sensitivity()),
            Mechanism::Guo2020 => (
                bounds.data_dependent.iter().copied().fold(0.0, f64::max),
                spent,
            ),
        };
        let shape = self.shape_problem();
        let standing = Standing {
            transcript: &secret.transcript,
            reproducible_key: secret.key.is_reproducible(),
            shape: shape.as_deref(),
            guo_used: spent,
        };
        let (certified, reason) = certification(hyper, &standing);
        Certificate {
            format_version: CERTIFICATE_FORMAT_VERSION,
            step: 0,
            kind,
            removed_id_tags,
            erased_subject_tags,
            foreign_releases: Vec::new(),
            rows_after: n,
            digest_before,
            digest_after: model.published.digest.clone(),
            release: secret.transcript.releases,
            published: charge.is_some(),
            distance: charge,
            transcript: secret.transcript.summary(hyper),
            release_grid: model.published.release_grid,
            release_sampler: secret.last_release.sampler,
            mechanism: hyper.mechanism,
            schedule: Cow::Borrowed(schedule(hyper.mechanism)),
            results: hyper
                .mechanism
                .results()
                .iter()
                .map(|&s| Cow::Borrowed(s))
                .collect(),
            unproven_assumptions: hyper
                .mechanism
                .unproven_assumptions()
                .iter()
                .chain(secret.rows.assumptions())
                .map(|&s| Cow::Borrowed(s))
                .collect(),
            bounds,
            residual_bound,
            budget_used,
            budget,
            budget_unit: Cow::Borrowed(hyper.mechanism.budget_unit()),
            epsilon: hyper.privacy.map(|p| p.epsilon),
            delta: hyper.privacy.map(|p| p.delta),
            sigma: hyper.noise.scale,
            noise_family: hyper.noise.family,
            regularization: hyper.regularization,
            effective_lambda: hyper.regularization.effective_lambda(hyper.lambda, n),
            retrained,
            certified,
            reason,
            previous: None,
            digest: String::new(),
        }
    }
}

/// The share of the allowance a pass-free step's increment may take, as a distance
/// (increment/Λ′), while its ‖Xv‖ stays the cheap S·‖v‖: above it the Gram matrix's bound
/// is evaluated ([`crate::removal::PassFreeStep::tighten`]). The tracked error carries every
/// increment forward, so laziness costs at most this share of the allowance per step — at
/// most a tenth of it over 100 removals — while steps whose increment is far below it (the
/// common case at d = 784) skip a pass over the d×d Gram matrix.
const LAZY_SHARE: f64 = 1e-3;

/// Whether per-class residual bounds `residuals` at Λ = `lambda` are charged more than
/// `allowance`: the charge of their distance (‖u_k‖ + τ)/Λ′, combined over the class models
/// ([`distance_bound`]), on `coords` released coordinates ([`transcript::charge`]).
fn charge_exceeds(
    hyper: &Hyperparameters,
    residuals: &[f64],
    lambda: f64,
    coords: usize,
    allowance: f64,
) -> bool {
    let distance = distance_bound(
        residuals,
        hyper.newton.tolerance,
        lambda,
        hyper.noise.family,
    );
    transcript::charge(hyper, distance, coords) > allowance
}

/// Subtracts a removed design row `x` with encoded target `value` from every cache (its
/// gradient term at once, its curvature queued: [`HessianCaches::remove_row`]).
fn downdate_caches(
    caches: &mut HessianCaches,
    hyper: &Hyperparameters,
    secret: &SecretState,
    x: &[f64],
    value: f64,
) {
    let encoding = secret.encoding();
    let targets: Vec<f64> = (0..secret.model_count())
        .map(|k| model_targets(encoding, &[value], k)[0])
        .collect();
    caches.remove_row(
        &hyper.loss,
        x,
        &targets,
        &secret.weights,
        secret.row_norm_bound,
    );
}

/// What the inexactness of a Hessian-free step adds to the data-dependent bound of an exact
/// Newton step (proofs/inexact_step.md): u = (Δ − H(w)v) + (H(w) − H̄)v, the first term
/// computed (one Hessian-vector product, O(n·d)) and enlarged by its rounding error
/// γ_{n+d+4}·(‖Δ‖ + ‖H(w)v‖).
fn inexact_step_excess<L: Loss + ?Sized>(
    objective: &Objective<'_, L>,
    gradient: &nalgebra::DVector<f64>,
    step: &nalgebra::DVector<f64>,
    w: &nalgebra::DVector<f64>,
) -> f64 {
    let hv = objective.hessian_vector(w, step);
    let rounding = bounds::rounding_gamma((objective.rows.len() + objective.rows.dim) as f64 + 4.0);
    ((gradient - &hv).norm() + rounding * (gradient.norm() + hv.norm()))
        * (1.0 + 8.0 * f64::EPSILON)
}

/// What the worst-case bound needs to know about the point a step starts from.
struct WorstCaseStart {
    /// ‖∇L_b(w; D)‖ before the removal (0 at an exact minimiser).
    previous_residual: f64,
    /// ‖w‖ (used only to report; the per-sample bound uses the provable bound below).
    weight_norm: f64,
    /// ‖b‖ of the realised noise.
    noise_norm: f64,
}

/// The worst-case (data-independent) bound of a step removing n_before − n_after rows:
/// γ·n′·R³·‖Δ‖²/(2Λ′²) with ‖Δ‖ ≤ m·C·R + ‖g‖ (fixed Λ), plus λ·m·W under the per-sample
/// convention, W = (nCR + ‖b‖ + ‖g‖)/Λ (proofs/worst_case_bounds.md). R is the clip norm
/// (√(R² + 1) with the intercept); without a clip norm, or with an unbounded ℓ' and γ > 0,
/// there is no data-independent bound. W uses the realised ‖b‖: the bound holds for this
/// draw of the noise, not uniformly over it.
fn worst_case_bound(
    hyper: &Hyperparameters,
    clip_norm: Option<f64>,
    dim: usize,
    n_before: usize,
    n_after: usize,
    start: &WorstCaseStart,
) -> Option<f64> {
    let gamma = hyper.loss.second_derivative_lipschitz();
    let c = match hyper.loss.derivative_bound() {
        Some(c) => c,
        None if gamma == 0.0 => 0.0,
        None => return None,
    };
    // Clipping in f64 leaves rows of norm up to clip·(1 + γ_{d+3}).
    let clip = clip_norm? * (1.0 + bounds::rounding_gamma(dim as f64 + 3.0));
    let r = if hyper.intercept {
        (clip * clip + 1.0).sqrt() * (1.0 + 4.0 * f64::EPSILON)
    } else {
        clip
    };
    let m = (n_before - n_after) as f64;
    let lambda_before = hyper
        .regularization
        .effective_lambda(hyper.lambda, n_before);
    let lambda_after = hyper.regularization.effective_lambda(hyper.lambda, n_after);
    let mut delta = m * c * r + start.previous_residual;
    if hyper.regularization == Regularization::PerSample {
        let w = bounds::weight_norm_bound(
            n_before,
            c,
            r,
            start.noise_norm,
            start.previous_residual,
            lambda_before,
        );
        debug_assert!(start.weight_norm <= w * (1.0 + 1e-9) || gamma == 0.0);
        // The regularisation actually removed is fl(λn) − fl(λn′), rounded up.
        delta += (lambda_before - lambda_after) * (1.0 + 4.0 * f64::EPSILON) * w;
    }
    Some(bounds::newton_remainder_worst_case(
        gamma,
        r,
        lambda_after,
        n_after,
        delta * (1.0 + 4.0 * f64::EPSILON),
    ))
}
