//! The membership-inference audit: it passes the real unlearner, has power against the
//! original model, flags an unlearner that skips the update, and its command line.

mod common;

use common::{run, run_ok, stderr, stdout};
use std::sync::OnceLock;
use unlearn::data::{self, TargetSpec, csv::CsvOptions};
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::membership::attack::{Attack, ShadowFit, train_shadows};
use unlearn::membership::{
    MembershipReport, Split, Verdict, assess, mislabel, train_models, unlearn,
};
use unlearn::model::{Hyperparameters, PublishedModel, TrainingData, weights_digest};
use unlearn::noise::{NoiseFamily, NoiseSpec};
use unlearn::objective::Regularization;
use unlearn::solver::NewtonOptions;

/// The CLI's default setting (see `unlearn audit-membership --help`): one-vs-rest logistic
/// regression on the ten digits, Λ = 0.01, release noise σ = 0.2 without a privacy target
/// (so every removal is a Newton step, never a re-solve).
fn hyper() -> Hyperparameters {
    Hyperparameters {
        loss: LossKind::Logistic,
        lambda: 0.01,
        regularization: Regularization::Total,
        intercept: true,
        noise: NoiseSpec {
            family: NoiseFamily::Gaussian,
            scale: 0.2,
        },
        privacy: None,
        mechanism: Mechanism::OutputPerturbation,
        newton: NewtonOptions::default(),
    }
}

/// Everything both audits share: the population with its canaries planted, the split, the
/// shadow fit. Fixed seeds; half the rows never seen, 100 removed canaries.
struct Setup {
    population: TrainingData,
    split: Split,
    shadows: ShadowFit,
}

const BOOTSTRAP: usize = 400;

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let options = CsvOptions {
            target: None,
            id: None,
            subject: None,
            spec: TargetSpec::Classify { positive: None },
            features: None,
            ..CsvOptions::default()
        };
        let mut rows = data::load_data("builtin:digits", &options).unwrap();
        let preprocessing = data::builtin::builtin("digits")
            .unwrap()
            .recommended_preprocessing();
        preprocessing.apply(&mut rows).unwrap();
        let split = Split::random(rows.n_rows(), 0.5, 100, true, 11).unwrap();
        let mut canaries: Vec<usize> = split
            .removed
            .iter()
            .chain(&split.controls)
            .copied()
            .collect();
        canaries.sort_unstable();
        mislabel(&mut rows, &canaries, 12).unwrap();
        let population = TrainingData {
            data: rows,
            preprocessing,
            target_column: "digit".into(),
        };
        let shadows = train_shadows(&population, &hyper(), 32, split.inclusion(), 13).unwrap();
        Setup {
            population,
            split,
            shadows,
        }
    })
}

fn audit(
    unlearner: impl FnOnce(
        &mut unlearn::unlearner::Unlearner,
        &[String],
    ) -> Result<PublishedModel, unlearn::unlearner::RemovalError>,
) -> MembershipReport {
    let s = setup();
    let models = train_models(&s.population, &s.split, &hyper(), [14, 15], unlearner).unwrap();
    assess(
        &s.population.data,
        &s.split,
        &models,
        &s.shadows,
        BOOTSTRAP,
        16,
    )
}

/// The split partitions the rows; with canaries the controls are the share K/|D| of the
/// never-seen rows (rounded up), so the canary rate is the same inside and outside the
/// training set.
#[test]
fn the_split_partitions_the_population() {
    let s = &setup().split;
    let mut all: Vec<usize> = [&s.never_seen, &s.controls, &s.removed, &s.retained]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..1797).collect::<Vec<_>>());
    let trained = s.removed.len() + s.retained.len();
    let held_out = s.never_seen.len() + s.controls.len();
    assert_eq!((trained, held_out), (898, 899));
    assert_eq!(s.controls.len(), (899 * 100_usize).div_ceil(898));
    assert_eq!(s.inclusion(), 898.0 / 1797.0);
    assert!(
        Split::random(10, 0.5, 5, false, 1).is_err(),
        "no row left to retain"
    );
    assert!(
        Split::random(10, 1.0, 1, false, 1).is_err(),
        "fraction must be < 1"
    );
}

/// The real unlearner (one Newton step per removed row) passes, and the audit has power.
/// Both verdicts are the audit's own statistics at 95%: power means the original model's
/// AUC interval on the removed canaries lies entirely above the retrained model's;
/// "forgot" means the unlearned model's AUC lies within the retrained model's interval.
/// With 100 removed and 101 control canaries an AUC interval is about ±0.08 wide, and the
/// original model's canaries reach AUC ≈ 0.7 (loss) and 0.8 (LiRA) against ≈ 0.5 after
/// retraining (BENCHMARKS.md), so both attacks have power at these seeds.
#[test]
fn the_real_unlearner_forgets_and_the_attacks_have_power() {
    let report = audit(unlearn(true));
    assert_eq!(
        report.retrainings, 0,
        "no privacy target: pure Newton steps"
    );
    for attack in &report.attacks {
        assert!(
            attack.power,
            "{:?} has no power: {:?}",
            attack.attack, attack.removed
        );
        assert!(attack.forgot, "{:?}: {:?}", attack.attack, attack.removed);
        // The unlearned and retrained secret weights differ by far less than the release
        // noise, so the paired difference of their AUCs is small; the original's is not.
        let c = &attack.removed;
        assert!(c.original_minus_retrained_auc.low > 0.0, "{c:?}");
        // Sanity line: retained rows are members of all three models.
        assert!(attack.retained.original.auc.value > 0.5);
    }
    assert_eq!(
        report.attacks.iter().map(|a| a.attack).collect::<Vec<_>>(),
        [Attack::LossThreshold, Attack::Lira]
    );
    assert_eq!(report.verdict, Verdict::Forgot);
}

/// An unlearner that deletes the rows but skips the weight update (the secret weights are
/// put back to the original ones and released with fresh noise) is flagged by both
/// attacks: its AUC on the removed rows lies outside the retrained model's interval, and
/// the paired interval of its difference from retraining excludes 0.
#[test]
fn an_unlearner_that_skips_the_update_is_flagged() {
    let report = audit(|u, ids| {
        let hyper = u.model.published.hyperparameters.clone();
        let original = u.model.secret.weights.clone();
        u.remove_sequential(ids)?;
        u.model.secret.weights = original;
        let weights = u.model.secret.release(&hyper, "", 0.0)?;
        Ok(PublishedModel {
            digest: weights_digest(&weights),
            weights,
            ..u.model.published.clone()
        })
    });
    for attack in &report.attacks {
        assert!(attack.power);
        assert!(!attack.forgot, "{:?}: {:?}", attack.attack, attack.removed);
        assert_eq!(attack.verdict, Verdict::NotForgotten);
        assert!(attack.removed.unlearned_minus_retrained_auc.low > 0.0);
    }
    assert_eq!(report.verdict, Verdict::NotForgotten);
}

/// `--json` prints one object with the documented fields, each interval around its value.
#[test]
fn cli_json_output() {
    let out = run_ok(
        "audit-membership --removed 40 --shadows 8 --bootstrap 100 --seed 2 --json",
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["removal"], "sequential");
    assert_eq!(v["sigma"], 0.2);
    assert_eq!(v["removed"], 40);
    assert_eq!(v["canaries"], true);
    assert_eq!(v["rows"], 1797);
    assert!(["forgot", "not-forgotten", "no-power"].contains(&v["verdict"].as_str().unwrap()));
    let attacks = v["attacks"].as_array().unwrap();
    assert_eq!(attacks[0]["attack"], "loss-threshold");
    assert_eq!(attacks[1]["attack"], "lira");
    for attack in attacks {
        for contrast in ["removed", "retained"] {
            for model in ["original", "unlearned", "retrained"] {
                let m = &attack[contrast][model];
                let auc = &m["auc"];
                let (low, value, high) = (
                    auc["low"].as_f64().unwrap(),
                    auc["value"].as_f64().unwrap(),
                    auc["high"].as_f64().unwrap(),
                );
                assert!((0.0..=1.0).contains(&value), "{m}");
                assert!(low <= high, "{m}");
                assert_eq!(m["tpr_at_fpr"][0]["fpr"], 0.01);
                assert_eq!(m["tpr_at_fpr"][1]["fpr"], 0.001);
            }
        }
        assert!(attack["power"].is_boolean());
    }
}

/// Bad settings are refused with a message naming the flag: a value clap cannot parse is a
/// usage error (exit 2), a value that does not fit the data a failure (exit 1).
#[test]
fn cli_rejects_bad_settings() {
    let out = run("audit-membership --removed many", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--removed"), "{}", stderr(&out));

    let out = run("audit-membership --never-seen 1.5", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--never-seen"), "{}", stderr(&out));

    let out = run("audit-membership --removed 40 --shadows 3", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--shadows"), "{}", stderr(&out));

    let out = run(
        "audit-membership --data builtin:diabetes --loss squared",
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--no-canaries"), "{}", stderr(&out));
}
