//! The unlearner over external rows ([`crate::rows`]): seeded from sums over the rows,
//! removing rows it is given, and refreshed from fresh sums when a request needs a pass.
//!
//! Only output perturbation: its certificate rests on the residual bound alone, which the
//! pass-free step tracks without the rows. (guo2020 takes an exact step at every removal.)

use super::{RemovalError, Unlearner, downdate_caches};
use crate::bounds;
use crate::certificate::{Certificate, StepBounds};
use crate::data::{Dataset, Declared, Preprocessing, RemovedRow, TargetEncoding};
use crate::distributed::{DistributedFit, DistributedOutput};
use crate::hessian_cache::{
    CacheSeed, GramCache, HessianCache, HessianCaches, RowBounds, formation_error_bound,
};
use crate::linalg;
use crate::loss::Loss;
use crate::mechanism::Mechanism;
use crate::model::{
    Hyperparameters, INTERCEPT_FEATURE, MODEL_FORMAT_VERSION, Model, PublishPolicy, PublishedModel,
    ReleaseRecord, SecretState, TrainError, check_loss_matches_targets, model_count,
    weights_digest,
};
use crate::noise::NoiseKey;

use crate::partials::{BatchSpec, ModelQuery, PartialSums, Query, Totals};
use crate::removal::{gradient_norm_upper_bound, gradient_with_error_bound, row_norm_bound};
use crate::row_digest::RowDigest;
use crate::rows::{ExternalRows, GivenRows, ModelSums, RowSums, TrainingRows};
use crate::shape::ShapeGuard;
use crate::solver::SolveReport;
use crate::transcript::{self, Transcript};
use nalgebra::DVector;
use std::collections::HashSet;

/// What describes a training run whose rows stay in the user's table: everything
/// [`crate::model::train`] records besides the rows and the weights.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalTraining {
    /// The hyperparameters the weights were solved with (output perturbation only).
    pub hyperparameters: Hyperparameters,
    /// The feature columns, in order (without the intercept).
    pub feature_names: Vec<String>,
    /// The fixed preprocessing every batch was given (never fitted to the rows).
    pub preprocessing: Preprocessing,
    /// The target column's name.
    pub target_column: String,
    /// How labels map to targets.
    pub encoding: TargetEncoding,
    /// Which of the classes and feature columns were declared.
    pub declared: Declared,
    /// Whether the rows record data subjects.
    pub subjects: bool,
    /// The solver's report per class model (iterations, final gradient norm bound).
    pub training: Vec<SolveReport>,
}

/// Removed rows after the checks: their design rows (preprocessed, intercept column; row i
/// is the given rows' row i, `width` values each), their keyed id tags and the keyed tags of
/// the subjects they erase.
struct Prepared {
    design: Vec<f64>,
    width: usize,
    tags: (Vec<String>, Vec<String>),
}

/// A checked external-rows request, with what its transaction needs.
struct Serving {
    prepared: Prepared,
    hyper: Hyperparameters,
    digest_before: String,
    /// Whether it publishes (the publish policy).
    publish: bool,
    /// The requests it serves.
    requests: u64,
}

impl Unlearner {
    /// An external-rows unlearner from sums over the training rows at the solved weights
    /// (`sums.models[k].weights`): its first release (keyed as [`crate::model::train`]
    /// keys it), its training certificate with the exact residuals the sums bound, and its
    /// caches seeded from the sums' Hessians and Gram matrix. Errors name what does not fit.
    pub fn from_sums(
        training: ExternalTraining,
        sums: RowSums,
        key: NoiseKey,
    ) -> Result<Self, TrainError> {
        let hyper = &training.hyperparameters;
        hyper.validate()?;
        if hyper.mechanism != Mechanism::OutputPerturbation {
            return Err(TrainError::Invalid(format!(
                "external rows need the output-perturbation mechanism (got {}): guo2020 takes an exact step, a pass over the rows, at every removal",
                hyper.mechanism
            )));
        }
        check_loss_matches_targets(hyper.loss, &training.encoding)?;
        let mut feature_names = training.feature_names.clone();
        if hyper.intercept {
            feature_names.push(INTERCEPT_FEATURE.to_string());
        }
        check_sums(
            &sums,
            model_count(&training.encoding),
            feature_names.len(),
            None,
        )
        .map_err(TrainError::Invalid)?;
        if hyper.loss.second_derivative_lipschitz() > 0.0 && sums.gram.is_none() {
            return Err(TrainError::Invalid(
                "the sums hold no Gram matrix, which the logistic loss's pass-free steps bound ‖Xv‖ with: sum it in the fit's first pass".into(),
            ));
        }
        if let Some(digest) = &sums.digest
            && digest.rows() != sums.n_rows as u64
        {
            return Err(TrainError::Invalid(format!(
                "the sums' row digest covers {} rows, the sums count {}: digest every row the sums cover",
                digest.rows(),
                sums.n_rows
            )));
        }
        let weights: Vec<DVector<f64>> = sums.models.iter().map(|m| m.weights.clone()).collect();
        let dim = feature_names.len();
        let mut secret = SecretState {
            rows: TrainingRows::External(ExternalRows {
                n_rows: sums.n_rows,
                feature_names,
                encoding: training.encoding.clone(),
                subjects: training.subjects,
                digest: sums.digest,
                digest_adopted: false,
            }),
            noise: vec![DVector::zeros(dim); weights.len()],
            weights,
            key,
            noise_draws: 1,
            transcript: Transcript::default(),
            last_release: ReleaseRecord::default(),
            pending_requests: 0,
            training: training.training,
            spent: Vec::new(),
            row_norm_bound: sums.row_norm_bound,
            spectral_bound: Some(sums.spectral_bound),
        };
        let released = secret.release(hyper, "", 0.0)?;
        let published = PublishedModel {
            format_version: MODEL_FORMAT_VERSION,
            hyperparameters: hyper.clone(),
            feature_names: training.feature_names,
            preprocessing: training.preprocessing,
            target_column: training.target_column,
            target: training.encoding,
            declared: training.declared,
            n_rows: sums.n_rows,
            digest: weights_digest(&released),
            weights: released,
            release_grid: transcript::lattice_of(hyper).map(|l| l.grid()),
            publish: PublishPolicy::default(),
        };
        let shape = ShapeGuard::from_counts(&published, &sums.label_counts);
        let residuals = sum_residuals(&sums);
        let caches = seeded_caches(hyper, &sums).map_err(TrainError::Invalid)?;
        Ok(Self::opened(
            Model { published, secret },
            residuals,
            shape,
            caches,
        ))
    }

    /// [`Unlearner::from_sums`] from the totals a distributed fit finished at its final
    /// weights ([`crate::partials::PartialSums::finish`]; each class model's at its own
    /// weights): the contract of issue 14 between the distributed fit and the external rows.
    pub fn from_totals(
        training: ExternalTraining,
        totals: &Totals,
        key: NoiseKey,
    ) -> Result<Self, TrainError> {
        let sums = RowSums::from_totals(totals).map_err(TrainError::Invalid)?;
        Self::from_sums(training, sums, key)
    }

    /// [`Unlearner::from_totals`] from a converged distributed fit: its spec (features,
    /// target column, encoding, fixed preprocessing, intercept), hyperparameters, reports
    /// and totals; `declared` says which of the classes and features were declared rather
    /// than inferred, `subjects` whether the rows record data subjects.
    pub fn from_distributed(
        output: DistributedOutput,
        declared: Declared,
        subjects: bool,
        key: NoiseKey,
    ) -> Result<Self, TrainError> {
        let training = ExternalTraining {
            hyperparameters: output.hyper,
            feature_names: output.spec.feature_names,
            preprocessing: output.spec.preprocessing,
            target_column: output.spec.target_column,
            encoding: output.spec.encoding,
            declared,
            subjects,
            training: output.reports,
        };
        let mut sums = RowSums::from_totals(&output.totals).map_err(TrainError::Invalid)?;
        sums.spectral_bound = output.spectral_bound;
        Self::from_sums(training, sums, key)
    }

    /// An external-rows unlearner from a stored one: its caches and the remaining rows per
    /// class (what [`Unlearner::class_counts`] returned when it was saved).
    pub fn from_external_parts(
        model: Model,
        ledger: crate::certificate::Ledger,
        caches: HessianCaches,
        class_counts: &[usize],
    ) -> Self {
        let shape = ShapeGuard::from_counts(&model.published, class_counts);
        let mut unlearner = Self::from_parts(model, ledger);
        unlearner.shape = shape;
        unlearner.caches = caches;
        unlearner
    }

    /// The remaining rows per published class, when the published classes were inferred from
    /// the rows (else empty): what an external-rows store keeps for the shape guard.
    pub fn class_counts(&self) -> Vec<usize> {
        self.shape
            .as_ref()
            .ok()
            .and_then(ShapeGuard::class_counts)
            .map(<[usize]>::to_vec)
            .unwrap_or_default()
    }

    /// Lets go of the rows: the same model, ledger and accounts over external rows. Caches
    /// an earlier exact step seeded are kept (their pending rows applied), so the next step is
    /// the one the held unlearner would take; without them the caches are formed from the
    /// rows at the current weights (O(n·d²)). A model trained in process can so be served
    /// like one trained on a cluster. Output perturbation only; on error nothing changed.
    pub fn detach_rows(&mut self) -> Result<(), TrainError> {
        let hyper = self.model.published.hyperparameters.clone();
        if hyper.mechanism != Mechanism::OutputPerturbation {
            return Err(TrainError::Invalid(format!(
                "external rows need the output-perturbation mechanism (got {})",
                hyper.mechanism
            )));
        }
        self.model.secret.spectral_bound();
        let Some(design) = self.model.secret.rows.held() else {
            return Ok(());
        };
        let count = self.model.secret.model_count();
        let gamma = hyper.loss.second_derivative_lipschitz();
        self.caches.apply_pending();
        if !self.caches.complete(count) || (gamma > 0.0 && self.caches.gram().is_none()) {
            let sums = RowSums::of_held(&hyper, &self.model.secret);
            self.caches = seeded_caches(&hyper, &sums).map_err(TrainError::Invalid)?;
        }
        let external = ExternalRows {
            n_rows: design.n_rows(),
            feature_names: design.feature_names().to_vec(),
            encoding: self.model.secret.encoding().clone(),
            subjects: design.subjects().is_some(),
            digest: Some(RowDigest::of_design(
                &self.model.secret.key.row_digest_key(),
                design,
            )),
            digest_adopted: false,
        };
        self.shape = ShapeGuard::from_counts(&self.model.published, &self.class_counts());
        self.model.secret.rows = TrainingRows::External(external);
        Ok(())
    }

    /// Removes the rows it is given, as one batch (external rows; the held rows' counterpart
    /// is [`Unlearner::remove_requests`]): one pass-free step from the caches (O(d²) per class
    /// model), then the refresh policy and the schedule as for held rows. When those ask for
    /// a pass over the remaining rows — a measured residual, an exact step, a re-solve — the
    /// answer is [`RemovalError::NeedsFullPass`] and nothing changed but the caches, which a
    /// failed request drops as with held rows (the weights, ledger, counts and published
    /// model are as they were; every later request needs the pass too, and the store keeps
    /// the last committed caches): delete the rows from the table, sum over the rest, and
    /// finish with [`Unlearner::refresh_external`].
    ///
    /// The rows must be exactly the request's: those of `given.ids` and of the erased
    /// subjects, each of those carrying its subject (else [`RemovalError::GivenRows`] or
    /// [`RemovalError::DuplicateId`], before anything changed, the caches included). They
    /// are taken to be the training rows with these ids (see [`crate::rows`] for what is
    /// checked and what is assumed). `requests` counts toward the publish policy.
    pub fn remove_external(
        &mut self,
        given: &GivenRows,
        requests: u64,
    ) -> Result<Certificate, RemovalError> {
        self.serve_given(given, requests, |unlearner, request, undo| {
            let n_before = unlearner.model.secret.n_rows();
            unlearner.count_out(&given.rows, &request.prepared, undo, true);
            // The removed rows stay queued in the caches' matrices, as with held rows
            // (folded 32 at a time, their products' rounding charged by the step); the
            // store folds them before it writes the caches (`fold_queued_rows`).
            unlearner.step_and_record(
                &request.hyper,
                request.prepared.tags.clone(),
                request.digest_before.clone(),
                n_before,
                request.publish,
                request.requests,
            )
        })
    }

    /// Finishes a request that [`Unlearner::remove_external`] answered with
    /// [`RemovalError::NeedsFullPass`], from `sums` over the remaining rows (the given rows
    /// deleted from the table) at new weights — a distributed re-solve warm-started from the
    /// current weights, or any weights the caller chose: the certificate charges them by
    /// their exact residual, which the sums bound. The caches are reseeded from the sums.
    /// The sums must count n − m rows with the label counts the removal leaves, and their
    /// row-norm bound must not exceed the stored R but by rounding (a larger one shows a row
    /// that is not a training row, and R must bound every row the later pass-free steps
    /// stand for), and their row digest ([`RowSums::digest`], [`crate::row_digest`]) must
    /// equal the model's — the training rows' less every given row's term — else
    /// [`RemovalError::Sums`] and nothing changed. (A model from a store saved before the
    /// digest has none: its refreshes trust the rows as before, and the first refresh from
    /// sums with a digest adopts theirs; its certificate says so by its assumptions.) Unlike a held re-solve (the reference
    /// retrain, charged 0), the refreshed weights are charged their distance bound; if that
    /// exceeds what is left of the budget, [`RemovalError::RefreshOverBudget`] and nothing
    /// changed but the caches (R and the ‖X‖₂ bound, taken from the sums before the check,
    /// are restored: the removed rows are back, and R must bound them).
    pub fn refresh_external(
        &mut self,
        given: &GivenRows,
        requests: u64,
        sums: RowSums,
    ) -> Result<Certificate, RemovalError> {
        self.serve_given(given, requests, |unlearner, request, undo| {
            let Serving {
                prepared,
                hyper,
                digest_before,
                publish,
                requests,
            } = request;
            let (publish, requests) = (*publish, *requests);
            unlearner.count_out(&given.rows, prepared, undo, false);
            let secret = &unlearner.model.secret;
            let counts = unlearner
                .shape
                .as_ref()
                .ok()
                .and_then(ShapeGuard::class_counts);
            check_sums(
                &sums,
                secret.model_count(),
                secret.n_features(),
                Some(secret.n_rows()),
            )
            .map_err(RemovalError::Sums)?;
            check_row_norm(&sums, secret.row_norm_bound, secret.n_features())
                .map_err(RemovalError::Sums)?;
            if let Some(counts) = counts
                && counts != sums.label_counts.as_slice()
            {
                return Err(RemovalError::Sums(format!(
                    "their label counts {:?} are not the {counts:?} the removal leaves",
                    sums.label_counts
                )));
            }
            let kept = match &unlearner.model.secret.rows {
                TrainingRows::External(rows) => rows.digest,
                TrainingRows::Held(_) => None,
            };
            check_digest(kept.as_ref(), sums.digest.as_ref()).map_err(RemovalError::Sums)?;
            unlearner.caches = seeded_caches(hyper, &sums).map_err(RemovalError::Sums)?;
            let secret = &mut unlearner.model.secret;
            secret.weights = sums.models.iter().map(|m| m.weights.clone()).collect();
            // The sums' R bounds every remaining row as summed, and is the stored R's up to
            // rounding (checked above): after the refresh it need bound only these rows.
            secret.row_norm_bound = sums.row_norm_bound;
            secret.spectral_bound = Some(
                secret
                    .spectral_bound
                    .map_or(sums.spectral_bound, |s| s.min(sums.spectral_bound)),
            );
            let exact_residual = sum_residuals(&sums);
            let count = exact_residual.len();
            let bounds = StepBounds {
                residual_measured: vec![true; count],
                cached_hessian: vec![false; count],
                exact_residual,
                ..StepBounds::default()
            };
            let distance = unlearner.step_distance(hyper, &bounds);
            let allowance = unlearner.allowance(hyper, publish);
            if unlearner.over(hyper, &bounds, allowance) {
                let coords =
                    unlearner.model.secret.model_count() * unlearner.model.secret.n_features();
                return Err(RemovalError::RefreshOverBudget {
                    charge: transcript::charge(hyper, distance, coords),
                    allowance: allowance.unwrap_or(f64::INFINITY),
                });
            }
            unlearner.model.secret.spent = vec![distance];
            let certificate = unlearner.record_removal(
                hyper,
                prepared.tags.clone(),
                digest_before.clone(),
                (false, bounds, distance),
                publish,
                requests,
            )?;
            // A store from before the row digest adopts the sums' (this refresh's certificate,
            // recorded above, still carries the old assumptions): later refreshes are checked
            // against the table as it is now, and later certificates say that is all it pins.
            if let TrainingRows::External(rows) = &mut unlearner.model.secret.rows
                && rows.digest.is_none()
                && sums.digest.is_some()
            {
                rows.digest = sums.digest;
                rows.digest_adopted = true;
            }
            Ok(certificate)
        })
    }

    /// Checks the given rows, then runs `work` on them as one transaction (whether the
    /// request publishes, under the publish policy, and the request count passed along).
    fn serve_given(
        &mut self,
        given: &GivenRows,
        requests: u64,
        work: impl FnOnce(
            &mut Self,
            &Serving,
            &mut Vec<RemovedRow>,
        ) -> Result<Certificate, RemovalError>,
    ) -> Result<Certificate, RemovalError> {
        let requests = requests.max(1);
        self.removed_tags.sync(&self.ledger.entries);
        let request = Serving {
            prepared: self.prepare_given(given)?,
            hyper: self.model.published.hyperparameters.clone(),
            digest_before: self.model.published.digest.clone(),
            publish: self.release_due_after(requests),
            requests,
        };
        self.transaction(|unlearner, undo| work(unlearner, &request, undo))
    }

    /// Counts the given rows (`rows`, as `prepared`'s design rows) out of the remaining rows:
    /// n, the row digest, the shape guard, and (with `caches`) every cache; each row goes to
    /// `undo` so that a rollback restores the guard (the snapshot restores n and the digest).
    fn count_out(
        &mut self,
        rows: &Dataset,
        prepared: &Prepared,
        undo: &mut Vec<RemovedRow>,
        caches: bool,
    ) {
        let hyper = self.model.published.hyperparameters.clone();
        let values = &rows.targets().expect("prepared rows have targets").values;
        let design = prepared.design.chunks_exact(prepared.width);
        for (i, (&value, x)) in values.iter().zip(design).enumerate() {
            if caches {
                self.timed(|u| downdate_caches(&mut u.caches, &hyper, &u.model.secret, x, value));
            }
            if let Ok(guard) = &mut self.shape {
                guard.remove_row(Some(value), x);
            }
            undo.push(RemovedRow {
                position: 0,
                id: rows.ids()[i].clone(),
                features: x.to_vec(),
                target: Some(value),
                sequence: 0,
                subject: None,
            });
        }
        let key = self.model.secret.key.row_digest_key();
        if let TrainingRows::External(external) = &mut self.model.secret.rows {
            external.n_rows -= rows.n_rows();
            // The given rows' terms leave the digest: if they were not the training rows'
            // values, the next refresh's digest no longer matches (crate::row_digest).
            if let Some(digest) = &mut external.digest {
                let targets = &rows.targets().expect("prepared rows have targets").values;
                let given =
                    RowDigest::of_rows(&key, rows.ids(), &prepared.design, prepared.width, targets);
                digest.remove(&given);
            }
        }
    }

    /// Checks the rows given for an external-rows removal and turns them into design rows
    /// (the published preprocessing, then the intercept column): what can be checked without
    /// the training rows is (see [`crate::rows`]). O(m·d) for m rows of d features, and one
    /// keyed tag and one set lookup per row and erased subject against the ledger's removed
    /// tags (`removed_tags`, brought up to the ledger by the caller): no scan of the ledger,
    /// one copy of the values.
    fn prepare_given(&self, given: &GivenRows) -> Result<Prepared, RemovalError> {
        let secret = &self.model.secret;
        let published = &self.model.published;
        let TrainingRows::External(external) = &secret.rows else {
            return Err(RemovalError::RowsMode(
                "the training rows are held: remove them by id".into(),
            ));
        };
        let erased = self.erased_given_subjects(given, external)?;
        check_request_rows(given)?;
        let rows = &given.rows;
        let m = rows.n_rows();
        if m == 0 {
            return Err(RemovalError::Empty);
        }
        if m >= external.n_rows {
            return Err(RemovalError::WouldRemoveAll(m));
        }
        let bad = RemovalError::GivenRows;
        if rows.feature_names() != published.feature_names.as_slice() {
            return Err(bad(format!(
                "they have the {} columns [{}], the model reads the {} columns [{}] in that order",
                rows.n_features(),
                crate::echo::echo(&rows.feature_names().join(", ")),
                published.feature_names.len(),
                crate::echo::echo(&published.feature_names.join(", "))
            )));
        }
        let targets = rows
            .targets()
            .ok_or_else(|| bad("they have no targets".into()))?;
        if targets.encoding != published.target {
            return Err(bad(
                "their targets are encoded with another label encoding than the model's".into(),
            ));
        }
        let classes = class_count(&published.target);
        if let Some(i) = targets
            .values
            .iter()
            .position(|&y| !valid_target(&published.target, classes, y))
        {
            return Err(bad(format!(
                "row '{}' has the encoded target {}, which the model's encoding does not have",
                crate::echo::echo(&rows.ids()[i]),
                targets.values[i]
            )));
        }
        if let Some(k) = rows.features().iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "row '{}' has a value that is not finite",
                crate::echo::echo(&rows.ids()[k / rows.n_features().max(1)])
            )));
        }
        // The identity (no scale, no clip) leaves every value as it is: no pass then, and
        // the design rows are the one copy of the given values (with the intercept column).
        let preprocessing = &published.preprocessing;
        let identity = preprocessing.default_scale == 1.0
            && preprocessing.feature_scales.is_empty()
            && preprocessing.clip_norm.is_none();
        let scaled;
        let source = if identity {
            rows
        } else {
            let mut copy = rows.clone();
            preprocessing
                .apply(&mut copy)
                .map_err(|e| bad(e.to_string()))?;
            scaled = copy;
            &scaled
        };
        let (design, width) = if published.hyperparameters.intercept {
            (source.features_with_constant(1.0), source.n_features() + 1)
        } else {
            (source.features().to_vec(), source.n_features())
        };
        let norm = row_norm_bound(&design, width);
        if norm > secret.row_norm_bound {
            return Err(bad(format!(
                "a row's norm after the model's preprocessing ({norm:.6e}) exceeds the bound {:.6e} of every training row: it is not one of them",
                secret.row_norm_bound
            )));
        }
        let tags: Vec<String> = rows.ids().iter().map(|id| secret.key.id_tag(id)).collect();
        let removed_before = tags.iter().position(|t| self.removed_tags.removed_id(t));
        if let Some(i) = removed_before {
            return Err(RemovalError::UnknownId(rows.ids()[i].clone()));
        }
        Ok(Prepared {
            design,
            width,
            tags: (tags, erased),
        })
    }

    /// What the executors of a pass over this model's rows need to add the keyed row digest
    /// to their sums ([`crate::row_digest`]): the digest key k_D and the table's id column.
    /// A secret: send it to the executors inside the job (like the weights), never log it.
    pub fn digest_request(&self, id_column: &str) -> crate::partials::DigestRequest {
        crate::partials::DigestRequest {
            key: self.model.secret.key.row_digest_key(),
            id_column: id_column.to_string(),
        }
    }

    /// The keyed id tags of every row removed so far (every ledger entry's).
    fn removed_id_tags(&self) -> impl Iterator<Item = &str> {
        self.ledger
            .entries
            .iter()
            .flat_map(|e| e.removed_id_tags.iter().map(String::as_str))
    }

    /// The sums for [`Unlearner::refresh_external`] from the remaining rows themselves (the
    /// weights re-solved over them in process, then their sums), after checking that `remaining` holds none of the rows
    /// the refresh takes out: no row's keyed id tag may be one of `given`'s rows' (this
    /// request) or one a ledger entry removed. Without this check a table that still holds a
    /// removed row (another row of its label deleted in its place, or a removed row put back)
    /// passes the count checks, and the refreshed weights would be fitted on it. O(n log n +
    /// (m + R) log n) tag comparisons for n remaining rows, m given, R removed before (one
    /// sort, one scan).
    pub fn sums_over_remaining(
        &self,
        given: &GivenRows,
        remaining: Dataset,
    ) -> Result<RowSums, RemovalError> {
        let key = &self.model.secret.key;
        let ids = remaining.ids();
        let tags: Vec<String> = ids.iter().map(|id| key.id_tag(id)).collect();
        let requested: Vec<String> = given.rows.ids().iter().map(|id| key.id_tag(id)).collect();
        let removed = requested
            .iter()
            .map(String::as_str)
            .chain(self.removed_id_tags());
        if let Some(i) = first_tagged(&tags, removed) {
            let removal = if requested.contains(&tags[i]) {
                "this request removes"
            } else {
                "an earlier removal took out"
            };
            return Err(RemovalError::RemovedRowRemains {
                id: ids[i].clone(),
                removal,
            });
        }
        self.check_no_erased_subject(given, &remaining)?;
        RowSums::resolved_over(&self.model, remaining).map_err(RemovalError::Resolve)
    }

    /// Refuses remaining rows that belong to an erased subject — one this request erases or
    /// one a ledger entry erased — by keyed subject tag: a subject's row kept in the table
    /// under an id no request named passes the id check, and the refreshed weights would be
    /// fitted on it while the ledger records the subject erased. When the rows record
    /// subjects, `remaining` must carry its subject column. One tag per distinct subject:
    /// O(n log n + (s + E) log s) for n rows of s subjects and E erased subjects.
    fn check_no_erased_subject(
        &self,
        given: &GivenRows,
        remaining: &Dataset,
    ) -> Result<(), RemovalError> {
        if !self.model.secret.rows.records_subjects() {
            return Ok(());
        }
        let owners = remaining.subjects().ok_or_else(|| {
            RemovalError::Resolve(
                "the model records data subjects, but the remaining rows have no subject column, so they cannot be checked to hold no erased subject's row: give them with it (unlearn refresh --rows-subject COL)".into(),
            )
        })?;
        let key = &self.model.secret.key;
        // Each distinct subject with its first row.
        let mut subjects = sorted_with_positions(owners);
        subjects.dedup_by_key(|(s, _)| *s);
        let tags: Vec<String> = subjects.iter().map(|(s, _)| key.subject_tag(s)).collect();
        let requested: Vec<String> = given.subjects.iter().map(|s| key.subject_tag(s)).collect();
        let earlier = self
            .ledger
            .entries
            .iter()
            .flat_map(|e| e.erased_subject_tags.iter().map(String::as_str));
        let erased = requested.iter().map(String::as_str).chain(earlier);
        let Some(i) = first_tagged(&tags, erased) else {
            return Ok(());
        };
        let (subject, row) = subjects[i];
        Err(RemovalError::ErasedSubjectRemains {
            id: remaining.ids()[row].clone(),
            subject: subject.to_string(),
            removal: if requested.contains(&tags[i]) {
                "this request erases"
            } else {
                "an earlier removal erased"
            },
        })
    }

    /// The sorted keyed tags of the subjects a request erases: each must be recorded by the
    /// rows and never erased before by a request (by the ledger's tags, `removed_tags`, up
    /// to date) ([`check_request_rows`] checks that it owns given rows). A subject only a
    /// reconciliation entry records as erased is not refused as "already removed": that
    /// erasure was lost with its branch and its rows are still in the model, so it is
    /// pending, and this request is the one that erases the subject again — what the store's
    /// writer demands before it commits anything else (review 10, finding 6;
    /// [`crate::store::Store::commit`]).
    fn erased_given_subjects(
        &self,
        given: &GivenRows,
        external: &ExternalRows,
    ) -> Result<Vec<String>, RemovalError> {
        let key = &self.model.secret.key;
        let mut tags = Vec::with_capacity(given.subjects.len());
        for subject in &given.subjects {
            if !external.subjects {
                return Err(RemovalError::NoSubjects(subject.clone()));
            }
            let tag = key.subject_tag(subject);
            if self.removed_tags.erased_subject(&tag) {
                return Err(RemovalError::SubjectAlreadyRemoved(subject.clone()));
            }
            tags.push(tag);
        }
        tags.sort_unstable();
        tags.dedup();
        Ok(tags)
    }
}

/// Checks that the given rows are exactly the rows the request names: each requested id's
/// row (ids not repeated), and besides them only rows of a subject the request erases —
/// which needs the rows' subject column — with a row for every erased subject. An extra row
/// would be removed from the model unrequested (and make every later refresh's count n − m
/// wrong); rows of another subject would leave the erased subject's rows in the model while
/// the ledger records it erased. (That a subject's given rows are all of its rows cannot be
/// checked without the table: [`crate::rows::EXTERNAL_ROWS_ASSUMPTIONS`].)
fn check_request_rows(given: &GivenRows) -> Result<(), RemovalError> {
    use crate::echo::echo;
    let rows = &given.rows;
    let bad = RemovalError::GivenRows;
    let mut requested = HashSet::with_capacity(given.ids.len());
    for id in &given.ids {
        if !requested.insert(id.as_str()) {
            return Err(RemovalError::DuplicateId(id.clone()));
        }
        if rows.position(id).is_none() {
            return Err(bad(format!(
                "id '{}' is requested but not among the given rows: give the row of every id removed",
                echo(id)
            )));
        }
    }
    let owners = rows.subjects();
    if let (Some(subject), None) = (given.subjects.first(), owners) {
        return Err(bad(format!(
            "the request erases subject '{}' but the given rows have no subject column, so they cannot be checked to be the subject's: give the rows with their subject column (unlearn remove --rows-subject COL; Python subject_column=)",
            echo(subject)
        )));
    }
    let erased: HashSet<&str> = given.subjects.iter().map(String::as_str).collect();
    for (i, id) in rows.ids().iter().enumerate() {
        let owner = owners.map(|o| o[i].as_str());
        if requested.contains(id.as_str()) || owner.is_some_and(|o| erased.contains(o)) {
            continue;
        }
        return Err(bad(format!(
            "row '{}'{} is neither a requested id nor a row of a subject the request erases: give exactly the removed rows (those of the ids and of the subjects erased), or name it in the request",
            echo(id),
            owner.map_or(String::new(), |o| format!(" (subject '{}')", echo(o)))
        )));
    }
    if let Some(owners) = owners
        && let Some(subject) = given.subjects.iter().find(|s| !owners.contains(s))
    {
        return Err(bad(format!(
            "none of them belongs to subject '{}', which the request erases: give the subject's rows",
            echo(subject)
        )));
    }
    Ok(())
}

/// Whether `y` is an encoded target of `encoding` (`classes` of them for one-vs-rest).
fn valid_target(encoding: &TargetEncoding, classes: usize, y: f64) -> bool {
    match encoding {
        TargetEncoding::Regression => y.is_finite(),
        TargetEncoding::Binary { .. } => y == 1.0 || y == -1.0,
        TargetEncoding::Multiclass { .. } => y >= 0.0 && y.fract() == 0.0 && (y as usize) < classes,
    }
}

/// Upper bounds on ‖∇L_b‖ of each class model's weights, from the sums.
fn sum_residuals(sums: &RowSums) -> Vec<f64> {
    sums.models
        .iter()
        .map(|m| gradient_norm_upper_bound(&m.gradient, m.gradient_error))
        .collect()
}

/// Why `sums` do not fit `count` class models of width `dim` (and `rows` rows), if they
/// do not.
fn check_sums(sums: &RowSums, count: usize, dim: usize, rows: Option<usize>) -> Result<(), String> {
    if let Some(rows) = rows
        && sums.n_rows != rows
    {
        return Err(format!(
            "they count {} rows, the model has {rows} after this removal",
            sums.n_rows
        ));
    }
    if sums.n_rows == 0 {
        return Err("they count no rows".into());
    }
    if sums.models.len() != count {
        return Err(format!(
            "they hold {} class models, the model has {count}",
            sums.models.len()
        ));
    }
    let finite = |v: f64| v.is_finite() && v >= 0.0;
    if !finite(sums.row_norm_bound) || !finite(sums.spectral_bound) {
        return Err("their row-norm or spectral bound is not a finite number ≥ 0".into());
    }
    for (k, m) in sums.models.iter().enumerate() {
        let shapes =
            m.weights.len() == dim && m.gradient.len() == dim && m.hessian.shape() == (dim, dim);
        if !shapes {
            return Err(format!("class model {k}'s sums are not of width {dim}"));
        }
        if !finite(m.gradient_error) || !finite(m.hessian_error) {
            return Err(format!(
                "class model {k}'s error bounds are not finite numbers ≥ 0"
            ));
        }
    }
    if let Some((gram, error)) = &sums.gram
        && (gram.shape() != (dim, dim) || !finite(*error))
    {
        return Err(format!(
            "the Gram matrix is not {dim}×{dim} with a finite error bound"
        ));
    }
    Ok(())
}

/// Why the sums' row-norm bound R′ shows a remaining row that is not a training row, if it
/// does: R′ must not exceed the stored R (which bounds every training row, so every subset)
/// by more than the two norm computations' rounding can differ on one row. Both are
/// fl(√fl(‖x‖²))·(1 + γ_{d+2}) for the largest computed ‖x‖² (of d products). All terms
/// are ≥ 0, so any order of the dot product gives ‖x‖²·Π(1 + δ_j) with at most d factors,
/// |δ_j| ≤ u; two computations of one row's ‖x‖² differ by a ratio of at most 2d such
/// factors (each to the power ±1), the square root halves that to d, and the two sides'
/// rounded square roots and products add four more (the constant 1 + γ_{d+2} is the same
/// on both): R′/R ≤ 1 + γ_{d+4} (Higham, *Accuracy and Stability*, Lemma 3.1) when the rows are
/// training rows. Two more γ steps cover forming the threshold R·(1 + γ) itself.
fn check_row_norm(sums: &RowSums, stored: f64, dim: usize) -> Result<(), String> {
    let rounding = bounds::rounding_gamma(dim as f64 + 6.0);
    let allowed = stored * (1.0 + rounding);
    if sums.row_norm_bound > allowed {
        return Err(format!(
            "their row-norm bound R = {:.6e} (the largest remaining row's norm after the model's preprocessing, with the intercept column) exceeds the bound {stored:.6e} of every training row by more than the norm computation's rounding (relative {rounding:.1e}): a remaining row is not one of the training rows (a row of another table, or a row whose values changed), and later pass-free bounds would rest on too small an R",
            sums.row_norm_bound
        ));
    }
    Ok(())
}

/// Why the sums' row digest shows remaining rows that are not the training rows less the
/// removed ones, if it does (proofs/distributed_sums.md, Lemma 6). `kept` is the model's
/// ([`ExternalRows::digest`]: `None` for a store saved before the digest, which trusts the
/// rows as it always did and adopts the sums' digest after the refresh).
fn check_digest(
    kept: Option<&crate::row_digest::RowDigest>,
    summed: Option<&crate::row_digest::RowDigest>,
) -> Result<(), String> {
    match (kept, summed) {
        (None, _) => Ok(()),
        (Some(_), None) => Err("they carry no row digest, which this model checks at every refresh: sum the remaining rows with their id column and the model's digest request (unlearn.spark.remove does; partial sums from a version before the digest are refused when decoded)".into()),
        (Some(kept), Some(summed)) if kept == summed => Ok(()),
        (Some(_), Some(_)) => Err("their row digest (a keyed hash of every remaining row's id, values and target) does not match the model's: the remaining rows are not the training rows less the removed ones — a row was swapped for another, copied under a new id in place of another, or altered in the table, or the rows given at an earlier removal were not the training rows' values. Restore the table's training rows (less the removed ones) and refresh again, or retrain on the table as it is".into()),
    }
}

/// The caches seeded from `sums` at their weights: per class model Ĥ₀ = the summed Hessian
/// with its bound η, its factor, w₀ = the weights, the summed gradient; the Gram matrix.
fn seeded_caches(hyper: &Hyperparameters, sums: &RowSums) -> Result<HessianCaches, String> {
    let lambda = hyper
        .regularization
        .effective_lambda(hyper.lambda, sums.n_rows);
    let mut caches = HessianCaches::default();
    for (k, m) in sums.models.iter().enumerate() {
        let factor = linalg::cholesky(m.hessian.clone())
            .map_err(|e| format!("class model {k}'s summed Hessian: {e}"))?;
        let seed = CacheSeed {
            hessian: m.hessian.clone(),
            factor,
            point: m.weights.clone(),
            lambda,
            gradient: m.gradient.clone(),
            gradient_error: m.gradient_error,
        };
        caches.set(k, HessianCache::from_sums(seed, m.hessian_error));
    }
    if let Some((gram, error)) = &sums.gram {
        caches.set_gram(GramCache::from_sums(gram.clone(), *error));
    }
    Ok(caches)
}

impl RowSums {
    /// The sums a [`Totals`] holds: every class model's Hessian is needed (the cache's Ĥ₀),
    /// so totals summed without them (from [`crate::partials::HESSIAN_FREE_DIMENSION`]
    /// features, where the cache would not fit either) are refused; ‖X‖₂ is bounded from
    /// the Gram matrix when it was summed ([`Totals::spectral_norm_bound`]).
    pub fn from_totals(totals: &Totals) -> Result<Self, String> {
        let models = totals
            .models
            .iter()
            .enumerate()
            .map(|(k, m)| {
                let hessian = m.hessian.clone().ok_or_else(|| {
                    format!(
                        "class model {k}'s totals hold no Hessian (not asked for, or d ≥ {}): the pass-free cache needs it",
                        crate::partials::HESSIAN_FREE_DIMENSION
                    )
                })?;
                Ok(ModelSums {
                    weights: m.weights.clone(),
                    gradient: m.gradient.clone(),
                    gradient_error: m.gradient_error,
                    hessian,
                    hessian_error: m.hessian_error,
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Self {
            n_rows: totals.rows,
            label_counts: totals.class_counts.iter().map(|&c| c as usize).collect(),
            row_norm_bound: totals.row_norm_bound,
            spectral_bound: totals.spectral_norm_bound(),
            models,
            gram: totals.gram.clone().map(|g| (g, totals.gram_error)),
            digest: totals.row_digest,
        })
    }

    /// The sums of merged partial sums (`bytes`, [`PartialSums::to_bytes`]) taken over the
    /// model's rows at [`refresh_query`]`(published, weights)` under [`batch_spec`], finished
    /// with the model's hyperparameters and objective noise. A blob of another pass, model
    /// or spec is refused (the partials carry the digest of what they answer).
    pub fn from_partials(
        model: &Model,
        bytes: &[u8],
        weights: &[Vec<f64>],
    ) -> Result<Self, String> {
        let spec = batch_spec(&model.published);
        let query = refresh_query(&model.published, weights);
        query.validate(&spec).map_err(|e| e.to_string())?;
        let partials = PartialSums::from_bytes(bytes, "partials").map_err(|e| e.to_string())?;
        let totals = partials
            .finish(
                &spec,
                &query,
                &model.published.hyperparameters,
                &model.secret.noise,
            )
            .map_err(|e| e.to_string())?;
        Self::from_totals(&totals)
    }

    /// The sums for a refresh from the remaining rows themselves, `remaining` read with the
    /// model's columns (its features, its target column encoded as the model encodes it):
    /// the rows preprocessed and given the intercept column as training did, the weights
    /// re-solved over them by the driver of a distributed fit ([`DistributedFit`], each
    /// Newton iteration one pass over `remaining` in process, the same decisions and the
    /// same certified stopping test as `unlearn.spark.fit`), and the sums at the solved
    /// weights (gradients, Hessians, the Gram matrix, R, class counts). Reached through
    /// [`Unlearner::sums_over_remaining`], which first refuses rows that were removed (what
    /// the CLI's `unlearn refresh` gives [`Unlearner::refresh_external`]). O(passes·n·d²)
    /// time; the rows in memory twice (as read, and the design matrix with its intercept
    /// column).
    pub(crate) fn resolved_over(model: &Model, remaining: Dataset) -> Result<Self, String> {
        let published = &model.published;
        let spec = batch_spec(published);
        let mut data = remaining;
        spec.preprocessing
            .apply(&mut data)
            .map_err(|e| format!("the model's preprocessing: {e}"))?;
        let targets = &data
            .targets()
            .ok_or("the remaining rows have no target column")?
            .values;
        let design = if spec.intercept {
            data.features_with_constant(1.0)
        } else {
            data.features().to_vec()
        };
        let digest = RowDigest::of_rows(
            &model.secret.key.row_digest_key(),
            data.ids(),
            &design,
            spec.dim(),
            targets,
        );
        let mut fit = DistributedFit::new(spec.clone(), published.hyperparameters.clone())
            .map_err(|e| e.to_string())?;
        loop {
            let sums = PartialSums::of_rows(&spec, &fit.query(), &design, targets);
            if fit.absorb(&sums).map_err(|e| e.to_string())? {
                break;
            }
        }
        let output = fit.finish().map_err(|e| e.to_string())?;
        let mut sums = Self::from_totals(&output.totals)?;
        sums.digest = Some(digest);
        Ok(sums)
    }

    /// The sums over held rows at the secret weights, computed in process: gradients with
    /// [`gradient_with_error_bound`], Hessians with the formation bound of
    /// [`HessianCache::new`], the Gram matrix with that of [`GramCache::new`], the row-norm
    /// bound and the certified ‖X‖₂ bound the secret state keeps.
    ///
    /// # Panics
    /// On external rows (there are none to sum).
    pub fn of_held(hyper: &Hyperparameters, secret: &SecretState) -> Self {
        let design = secret.design();
        let (n, dim) = (design.n_rows(), design.n_features());
        let lambda = hyper.regularization.effective_lambda(hyper.lambda, n);
        let gamma = hyper.loss.second_derivative_lipschitz();
        let models = (0..secret.model_count())
            .map(|k| {
                let y = secret.model_targets(k);
                let objective = secret.objective(hyper, k, &y, lambda);
                let w = &secret.weights[k];
                let (gradient, gradient_error) =
                    gradient_with_error_bound(&objective, w, secret.row_norm_bound);
                let mut hessian = objective.hessian(w);
                hessian.fill_upper_triangle_with_lower_triangle();
                let rows = RowBounds {
                    rows: n,
                    row_norm: secret.row_norm_bound,
                    gamma,
                };
                let (hessian_error, _) = formation_error_bound(&hessian, w, rows);
                ModelSums {
                    weights: w.clone(),
                    gradient,
                    gradient_error,
                    hessian,
                    hessian_error,
                }
            })
            .collect();
        let gram = (gamma > 0.0).then(|| {
            let formed = GramCache::new(design.features(), dim);
            let mut gram = formed.gram().clone();
            gram.fill_upper_triangle_with_lower_triangle();
            (gram, formed.error())
        });
        let label_counts = class_counts_of(design);
        let spectral_bound = secret
            .spectral_bound
            .unwrap_or_else(|| bounds::spectral_norm_upper_bound(design.features(), dim));
        Self {
            n_rows: n,
            label_counts,
            row_norm_bound: secret.row_norm_bound,
            spectral_bound,
            models,
            gram,
            digest: Some(RowDigest::of_design(&secret.key.row_digest_key(), design)),
        }
    }
}

/// The index of the first of `tags` that is among `among`: `tags` sorted once, then one
/// scan of `among` with a binary search each (O((m + R) log m) comparisons of tags that
/// differ in their first bytes for m tags and R others, no set of the R built).
fn first_tagged<'a>(tags: &[String], among: impl IntoIterator<Item = &'a str>) -> Option<usize> {
    let sorted = sorted_with_positions(tags);
    among.into_iter().find_map(|t| {
        let at = sorted.partition_point(|(s, _)| *s < t);
        sorted.get(at).filter(|(s, _)| *s == t).map(|&(_, i)| i)
    })
}

/// `items` with their positions, sorted (equal items by position).
fn sorted_with_positions(items: &[String]) -> Vec<(&str, usize)> {
    let mut sorted: Vec<(&str, usize)> = items
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    sorted.sort_unstable();
    sorted
}

/// Rows per class of the encoding (binary: −1 then +1; one-vs-rest: by index).
fn class_counts_of(design: &Dataset) -> Vec<usize> {
    let Some(targets) = design.targets() else {
        return Vec::new();
    };
    let classes = class_count(&targets.encoding);
    let mut counts = vec![0; classes];
    for &y in &targets.values {
        let k = match targets.encoding {
            TargetEncoding::Binary { .. } => usize::from(y == 1.0),
            _ => y as usize,
        };
        if let Some(c) = counts.get_mut(k) {
            *c += 1;
        }
    }
    counts
}

/// The number of classes of an encoding (0 for regression).
fn class_count(encoding: &TargetEncoding) -> usize {
    match encoding {
        TargetEncoding::Regression => 0,
        TargetEncoding::Binary { .. } => 2,
        TargetEncoding::Multiclass { classes } => classes.len(),
    }
}

/// What every batch of the model's rows is read and preprocessed with (public constants):
/// the published feature columns, target column, encoding, preprocessing and intercept.
pub fn batch_spec(published: &PublishedModel) -> BatchSpec {
    let hyper = &published.hyperparameters;
    BatchSpec {
        loss: hyper.loss,
        encoding: published.target.clone(),
        feature_names: published.feature_names.clone(),
        target_column: published.target_column.clone(),
        preprocessing: published.preprocessing.clone(),
        intercept: hyper.intercept,
    }
}

/// The pass a refresh needs at `weights` (one vector per class model): gradients and
/// Hessians, and the Gram matrix when the loss has γ > 0.
pub fn refresh_query(published: &PublishedModel, weights: &[Vec<f64>]) -> Query {
    Query {
        models: weights
            .iter()
            .map(|w| ModelQuery {
                weights: w.clone(),
                direction: None,
            })
            .collect(),
        hessian: true,
        gram: published.hyperparameters.loss.second_derivative_lipschitz() > 0.0,
    }
}
