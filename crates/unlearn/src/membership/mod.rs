//! Membership-inference audit (`unlearn audit-membership`): can an attacker who sees only
//! the released weights tell that the removed rows were ever trained on?
//!
//! The experiment (all draws from one seed):
//! 1. the population (labelled, preprocessed rows) is split at random into never-seen rows
//!    N and a training set D; K rows S ⊂ D are picked at random for removal, the rest
//!    R = D∖S are retained ([`Split`]);
//! 2. three models are released ([`train_models`]): the **original**, trained on D; the
//!    **unlearned**, the original after an unlearner removed S; the **retrained**, trained
//!    from scratch on D∖S with the same hyperparameters and its own noise;
//! 3. two attacks ([`attack`]) score every row under each released model: a loss
//!    threshold, and the online likelihood-ratio attack with shadow models;
//! 4. each attack is measured on removed vs never-seen rows (the audit) and on retained vs
//!    never-seen rows (a sanity line: those are members for all three models), by AUC and
//!    TPR at FPR 1% and 0.1%, with paired bootstrap intervals ([`roc`]).
//!
//! **Canaries** (optional). A well-regularised linear model barely memorises typical rows,
//! so an attack on random rows may have no power. Privacy audits then plant canaries,
//! rows the model must memorise (Jagielski, Ullman, Oprea, "Auditing differentially private
//! machine learning: how private is private SGD?", NeurIPS 2020): here the removed rows and
//! the same share of the never-seen rows get a wrong label, drawn at random. The removed
//! canaries are compared with the never-seen canaries (the controls), so the labels do not
//! confound the comparison; the population's canary rate is the same inside and outside
//! the training set, so the shadow models see as many canaries as the attacked model.
//! A deletion request for mislabelled rows is also a realistic one.
//!
//! For the original model S are members; for the retrained one they are non-members like N,
//! so its AUC on S vs N is about ½. An unlearner that forgot S is indistinguishable from
//! retraining. The verdict of one attack, on the AUC of S vs N at [`roc::CONFIDENCE`]:
//! - **no power** unless the original model's interval lies entirely above the retrained
//!   model's: the attack cannot tell members from non-members better than retraining
//!   does, so no unlearner could fail it and the audit shows nothing;
//! - otherwise **forgot** when the unlearned model's AUC lies within the retrained model's
//!   interval (the two differ by less than the audit can resolve), else **not forgotten**.
//!
//! The overall verdict is "not forgotten" if any attack with power says so, "forgot" if an
//! attack has power and none says "not forgotten", and "no power" if no attack has power.

pub mod attack;
pub mod roc;
mod split;

pub use split::{Split, mislabel};

use crate::data::Dataset;
use crate::model::{self, Hyperparameters, PublishedModel, TrainError, TrainingData};
use crate::noise::NoiseKey;
use crate::unlearner::{RemovalError, Unlearner};
use attack::{Attack, ShadowFit, row_statistics, train_shadows};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use roc::{Estimate, FPRS, RocCurve, RocPoint};
use serde::Serialize;

/// A setting of the audit that an error is about. Each front end spells it its own way
/// (the CLI as a flag, `--never-seen`; the Python package as an argument, `never_seen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// The share of never-seen rows.
    NeverSeen,
    /// The number of removed rows.
    Removed,
    /// Whether canaries are planted.
    Canaries,
    /// The number of shadow models.
    Shadows,
    /// The number of bootstrap replicates.
    Bootstrap,
}

impl Setting {
    /// The neutral name: `never_seen`, `removed`, `canaries`, `shadows`, `bootstrap`.
    pub fn name(self) -> &'static str {
        match self {
            Self::NeverSeen => "never_seen",
            Self::Removed => "removed",
            Self::Canaries => "canaries",
            Self::Shadows => "shadows",
            Self::Bootstrap => "bootstrap",
        }
    }
}

/// Why the audit could not run.
#[derive(Debug, thiserror::Error)]
pub enum MembershipError {
    /// A setting does not fit the data; the message says what to change.
    #[error("{}: {message}", setting.name())]
    Setting {
        /// The setting.
        setting: Setting,
        /// What is wrong, without the setting's name.
        message: String,
    },
    /// The data do not fit the audit.
    #[error("{0}")]
    Invalid(String),
    /// Training the original, retrained or a shadow model failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The unlearner failed to remove the rows.
    #[error("removing the rows failed: {0}")]
    Removal(#[from] RemovalError),
}

/// The settings of one audit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MembershipSpec {
    /// Fraction of the population held out as never-seen rows, in (0, 1).
    pub never_seen: f64,
    /// K: training rows removed.
    pub removed: usize,
    /// Plant canaries: mislabel the removed rows and as many never-seen ones (module docs).
    pub canaries: bool,
    /// Whether the unlearner removes the rows one at a time (one step per row) or as one
    /// batch (one step).
    pub sequential: bool,
    /// Shadow models of the likelihood-ratio attack.
    pub shadows: usize,
    /// Bootstrap replicates of every interval.
    pub bootstrap: usize,
    /// Seed of the split, every model's noise, the shadows and the bootstrap.
    pub seed: u64,
}

/// The three released models.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditModels {
    /// Trained on D = S ∪ R.
    pub original: PublishedModel,
    /// The original after the unlearner removed S.
    pub unlearned: PublishedModel,
    /// Trained from scratch on R with its own noise.
    pub retrained: PublishedModel,
    /// Removal steps of the unlearner that re-solved instead of stepping (then the
    /// unlearned secret weights are a retraining's, and the audit says little about the
    /// Newton step).
    pub retrainings: usize,
}

/// The real unlearner: [`Unlearner::remove_sequential`] (one Newton step per row) or
/// [`Unlearner::remove`] (one step for the batch); returns the released model.
pub fn unlearn(
    sequential: bool,
) -> impl FnOnce(&mut Unlearner, &[String]) -> Result<PublishedModel, RemovalError> {
    move |unlearner, ids| {
        if sequential {
            unlearner.remove_sequential(ids)?;
        } else {
            unlearner.remove(ids)?;
        }
        Ok(unlearner.model.published.clone())
    }
}

/// The population rows whose index is in `indices` (sorted), as training data.
fn rows_of(population: &TrainingData, indices: &[usize]) -> TrainingData {
    let mut keep = vec![false; population.data.n_rows()];
    for &i in indices {
        keep[i] = true;
    }
    let mut data = population.data.clone();
    data.retain_rows(|i| keep[i]);
    TrainingData {
        data,
        preprocessing: population.preprocessing.clone(),
        target_column: population.target_column.clone(),
    }
}

/// Trains the original model on S ∪ R (noise seed `seeds[0]`), hands it to `unlearn` with
/// the ids of S, and retrains from scratch on R (noise seed `seeds[1]`).
///
/// `unlearn` is the unlearner under audit: it gets the trained [`Unlearner`] and the ids to
/// remove and returns the model it releases ([`unlearn`] is the real one; a test can pass
/// a broken one).
pub fn train_models(
    population: &TrainingData,
    split: &Split,
    hyper: &Hyperparameters,
    seeds: [u64; 2],
    unlearn: impl FnOnce(&mut Unlearner, &[String]) -> Result<PublishedModel, RemovalError>,
) -> Result<AuditModels, MembershipError> {
    let mut trained: Vec<usize> = split
        .removed
        .iter()
        .chain(&split.retained)
        .copied()
        .collect();
    trained.sort_unstable();
    let mut unlearner = Unlearner::from_trained(model::train(
        rows_of(population, &trained),
        hyper,
        NoiseKey::from_seed(seeds[0]),
    )?);
    let original = unlearner.model.published.clone();
    let ids: Vec<String> = split
        .removed
        .iter()
        .map(|&i| population.data.ids()[i].clone())
        .collect();
    let unlearned = unlearn(&mut unlearner, &ids)?;
    let retrainings = unlearner
        .ledger
        .entries
        .iter()
        .skip(1)
        .filter(|c| c.retrained)
        .count();
    let retrained = model::train(
        rows_of(population, &split.retained),
        hyper,
        NoiseKey::from_seed(seeds[1]),
    )?
    .published;
    Ok(AuditModels {
        original,
        unlearned,
        retrained,
        retrainings,
    })
}

/// AUC and TPR at [`FPRS`] with their intervals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RocEstimate {
    /// Area under the ROC curve.
    pub auc: Estimate,
    /// True-positive rate at each false-positive rate of [`FPRS`], in that order.
    pub tpr_at_fpr: Vec<TprAtFpr>,
}

/// The TPR at one FPR.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TprAtFpr {
    /// The false-positive rate.
    pub fpr: f64,
    /// The true-positive rate there.
    #[serde(flatten)]
    pub tpr: Estimate,
}

/// One group of members against the never-seen rows, under the three models.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contrast {
    /// Under the original model.
    pub original: RocEstimate,
    /// Under the unlearned model.
    pub unlearned: RocEstimate,
    /// Under the retrained model.
    pub retrained: RocEstimate,
    /// AUC(unlearned) − AUC(retrained), paired interval.
    pub unlearned_minus_retrained_auc: Estimate,
    /// AUC(original) − AUC(retrained), paired interval.
    pub original_minus_retrained_auc: Estimate,
}

/// The outcome of an audit (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The unlearned model is as far from remembering S as the retrained one.
    Forgot,
    /// The attack tells S apart under the unlearned model more than under retraining.
    NotForgotten,
    /// The attack does not tell S apart even under the original model.
    NoPower,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Forgot => "forgot",
            Verdict::NotForgotten => "not forgotten",
            Verdict::NoPower => "no power",
        })
    }
}

/// The ROC curves of one attack on the removed rows against their controls (the audit's
/// contrast), under each released model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemovedCurves {
    /// Under the original model.
    pub original: RocCurve,
    /// Under the unlearned model.
    pub unlearned: RocCurve,
    /// Under the retrained model.
    pub retrained: RocCurve,
}

/// One attack's figures and verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackReport {
    /// The attack.
    pub attack: Attack,
    /// Removed rows S vs never-seen rows N: the audit.
    pub removed: Contrast,
    /// The ROC curves behind `removed` (at most |S| + |controls| + 1 points each; the
    /// retained contrast's, over every row, are not kept).
    pub removed_curves: RemovedCurves,
    /// Retained rows R vs never-seen rows N: members under every model (sanity line).
    pub retained: Contrast,
    /// The original model's AUC interval on S lies above the retrained model's.
    pub power: bool,
    /// The unlearned model's AUC on S lies within the retrained model's interval.
    pub forgot: bool,
    /// What the two say together.
    pub verdict: Verdict,
    /// The paired interval of AUC(unlearned) − AUC(retrained) excludes 0: on these very
    /// rows the attack separates the two models, even when the difference is below the
    /// audit's resolution (then "forgot" still holds: it asks whether the unlearned model
    /// leaks more than sampling can explain, and release noise alone makes two models'
    /// AUCs differ on a fixed sample). A hint that the removal is approximate, not a verdict.
    pub paired_difference: bool,
}

/// What the membership audit found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MembershipReport {
    /// Rows in the population.
    pub rows: usize,
    /// |S|.
    pub removed: usize,
    /// |R|.
    pub retained: usize,
    /// |N| (with canaries: the never-seen rows that are not canaries).
    pub never_seen: usize,
    /// Whether the removed rows are canaries.
    pub canaries: bool,
    /// The never-seen rows the removed rows are compared with (|N| without canaries).
    pub controls: usize,
    /// Removal steps that re-solved instead of stepping.
    pub retrainings: usize,
    /// Shadow models of the likelihood-ratio attack.
    pub shadows: usize,
    /// Bootstrap replicates.
    pub bootstrap: usize,
    /// Coverage of every interval.
    pub confidence: f64,
    /// 1/controls: the smallest non-zero FPR the comparison resolves; a TPR at a lower FPR
    /// is the TPR at zero false positives.
    pub min_fpr: f64,
    /// One entry per attack: loss threshold, then LiRA.
    pub attacks: Vec<AttackReport>,
    /// The overall verdict.
    pub verdict: Verdict,
}

/// Runs both attacks against the three models and judges them (steps 3–4 of the module
/// docs). `population` holds the preprocessed rows (without the intercept column) with
/// targets; the bootstrap draws from `seed`.
pub fn assess(
    population: &Dataset,
    split: &Split,
    models: &AuditModels,
    shadows: &ShadowFit,
    bootstrap: usize,
    seed: u64,
) -> MembershipReport {
    let released = [&models.original, &models.unlearned, &models.retrained];
    let statistics: Vec<_> = released
        .iter()
        .map(|m| row_statistics(m, population))
        .collect();
    let attacks: Vec<AttackReport> = [Attack::LossThreshold, Attack::Lira]
        .into_iter()
        .map(|attack| {
            let scores: Vec<Vec<f64>> = statistics
                .iter()
                .map(|s| match attack {
                    Attack::LossThreshold => s.loss.iter().map(|l| -l).collect(),
                    Attack::Lira => shadows.scores(&s.phi),
                })
                .collect();
            let removed = contrast(&scores, &split.removed, &split.controls, bootstrap, seed);
            let curve = |k: usize| {
                let pick = |rows: &[usize]| rows.iter().map(|&i| scores[k][i]).collect::<Vec<_>>();
                roc::roc_curve(&pick(&split.removed), &pick(&split.controls))
            };
            let removed_curves = RemovedCurves {
                original: curve(0),
                unlearned: curve(1),
                retrained: curve(2),
            };
            let retained = contrast(&scores, &split.retained, &split.never_seen, bootstrap, seed);
            let power = removed.original.auc.low > removed.retrained.auc.high;
            let forgot = removed.retrained.auc.covers(removed.unlearned.auc.value);
            let verdict = match (power, forgot) {
                (false, _) => Verdict::NoPower,
                (true, true) => Verdict::Forgot,
                (true, false) => Verdict::NotForgotten,
            };
            let paired_difference = !removed.unlearned_minus_retrained_auc.covers(0.0);
            AttackReport {
                attack,
                removed,
                removed_curves,
                retained,
                power,
                forgot,
                verdict,
                paired_difference,
            }
        })
        .collect();
    let any = |v: Verdict| attacks.iter().any(|a| a.verdict == v);
    let verdict = if any(Verdict::NotForgotten) {
        Verdict::NotForgotten
    } else if any(Verdict::Forgot) {
        Verdict::Forgot
    } else {
        Verdict::NoPower
    };
    MembershipReport {
        rows: population.n_rows(),
        removed: split.removed.len(),
        retained: split.retained.len(),
        never_seen: split.never_seen.len(),
        canaries: split.canaries,
        controls: split.controls.len(),
        retrainings: models.retrainings,
        shadows: shadows.shadows,
        bootstrap,
        confidence: roc::CONFIDENCE,
        min_fpr: 1.0 / split.controls.len() as f64,
        attacks,
        verdict,
    }
}

/// The three models' scores of `members` against `non_members`, with paired intervals.
fn contrast(
    scores: &[Vec<f64>],
    members: &[usize],
    non_members: &[usize],
    bootstrap: usize,
    seed: u64,
) -> Contrast {
    let pick = |rows: &[usize]| -> Vec<Vec<f64>> {
        scores
            .iter()
            .map(|s| rows.iter().map(|&i| s[i]).collect())
            .collect()
    };
    let (pos, neg) = (pick(members), pick(non_members));
    let points: Vec<RocPoint> = pos
        .iter()
        .zip(&neg)
        .map(|(p, n)| roc::roc_point(p, n))
        .collect();
    let replicates = roc::bootstrap(&pos, &neg, bootstrap, seed);
    let of_model = |k: usize| RocEstimate {
        auc: roc::estimate(points[k].auc, replicates.iter().map(|r| r[k].auc)),
        tpr_at_fpr: FPRS
            .iter()
            .enumerate()
            .map(|(j, &fpr)| TprAtFpr {
                fpr,
                tpr: roc::estimate(points[k].tpr[j], replicates.iter().map(|r| r[k].tpr[j])),
            })
            .collect(),
    };
    let minus_retrained = |k: usize| {
        roc::estimate(
            points[k].auc - points[2].auc,
            replicates.iter().map(|r| r[k].auc - r[2].auc),
        )
    };
    Contrast {
        original: of_model(0),
        unlearned: of_model(1),
        retrained: of_model(2),
        unlearned_minus_retrained_auc: minus_retrained(1),
        original_minus_retrained_auc: minus_retrained(0),
    }
}

/// The whole audit: split, plant the canaries if asked, train the three models with the
/// real unlearner, train the shadows, assess. Seeds of the split, the wrong labels, the
/// original's noise, the retrained model's noise, the shadows and the bootstrap are drawn
/// in that order from a ChaCha20 generator seeded with `spec.seed`.
pub fn run(
    population: &TrainingData,
    hyper: &Hyperparameters,
    spec: &MembershipSpec,
) -> Result<MembershipReport, MembershipError> {
    if spec.bootstrap == 0 {
        return Err(MembershipError::Setting {
            setting: Setting::Bootstrap,
            message: "must be at least 1 (1000 gives stable 95% intervals)".into(),
        });
    }
    let mut seeds = ChaCha20Rng::seed_from_u64(spec.seed);
    let [
        split_seed,
        label_seed,
        original_seed,
        retrained_seed,
        shadow_seed,
        bootstrap_seed,
    ]: [u64; 6] = std::array::from_fn(|_| seeds.random());
    let split = Split::random(
        population.data.n_rows(),
        spec.never_seen,
        spec.removed,
        spec.canaries,
        split_seed,
    )?;
    let planted;
    let population = if spec.canaries {
        let mut copy = population.clone();
        let mut canaries: Vec<usize> = split
            .removed
            .iter()
            .chain(&split.controls)
            .copied()
            .collect();
        canaries.sort_unstable();
        mislabel(&mut copy.data, &canaries, label_seed)?;
        planted = copy;
        &planted
    } else {
        population
    };
    // The hyperparameters were validated by the caller: the one input error left to
    // training the shadows is their number.
    let shadows = train_shadows(
        population,
        hyper,
        spec.shadows,
        split.inclusion(),
        shadow_seed,
    )
    .map_err(|e| match e {
        TrainError::Invalid(message) => MembershipError::Setting {
            setting: Setting::Shadows,
            message,
        },
        e => e.into(),
    })?;
    let models = train_models(
        population,
        &split,
        hyper,
        [original_seed, retrained_seed],
        unlearn(spec.sequential),
    )?;
    Ok(assess(
        &population.data,
        &split,
        &models,
        &shadows,
        spec.bootstrap,
        bootstrap_seed,
    ))
}
