//! Helpers shared by the library's tests: certified privacy targets, a trained store's model,
//! scratch directories removed on drop ([`scratch`]).

#![allow(dead_code)] // each test file uses its own subset

pub mod golden;
mod scratch;
#[allow(unused_imports)]
// re-exported for the test files that use it, like the rest of this module
pub use scratch::{Scratch, scratch};

use std::path::Path;
use std::time::Duration;
use unlearn::data::{Dataset, Preprocessing, Targets};
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::model::{self, Hyperparameters, TrainingData};
use unlearn::noise::{NoiseFamily, NoiseKey, NoiseSpec};
use unlearn::objective::Regularization;
use unlearn::privacy::{self, GaussianCalibration};
use unlearn::rows::GivenRows;
use unlearn::solver::NewtonOptions;
use unlearn::store::{Access, LogLine, Store, StoreError, read_release_log, release_log_path};
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::Unlearner;

/// Adds the (ε = 1, δ = 1e-5) target with lifetime budget ε′ and its lattice σ.
pub fn with_budget(mut h: Hyperparameters, budget: f64) -> Hyperparameters {
    let (noise, target) = privacy::calibrate(
        NoiseFamily::Gaussian,
        1.0,
        Some(1e-5),
        budget,
        GaussianCalibration::Lattice,
    )
    .unwrap();
    h.noise = noise;
    h.privacy = Some(target);
    h
}

/// Certified output-perturbation hyperparameters: per-sample λ, an intercept, the default
/// solver, and (ε, δ) = (1, 1e-5) for the lifetime budget ε′ ([`with_budget`]).
pub fn certified(loss: LossKind, lambda: f64, budget: f64) -> Hyperparameters {
    let uncalibrated = Hyperparameters {
        loss,
        lambda,
        regularization: Regularization::PerSample,
        intercept: true,
        noise: NoiseSpec {
            family: NoiseFamily::Gaussian,
            scale: 0.0,
        },
        privacy: None,
        mechanism: Mechanism::OutputPerturbation,
        newton: NewtonOptions::default(),
    };
    with_budget(uncalibrated, budget)
}

/// The 200 synthetic rows [`trained_synthetic`] trains on: ids s0…s199, features f0…f4,
/// binary target y.
pub fn synthetic_rows() -> Dataset {
    generate(&SyntheticSpec {
        rows: 200,
        features: 5,
        flip: 0.1,
        regression: false,
        seed: 41,
    })
}

/// The rows of `all` with these ids, in this order, with their targets (no subjects): the
/// removed rows an external-rows removal is given.
pub fn rows_of(all: &Dataset, ids: &[&str]) -> Dataset {
    let targets = all.targets().unwrap();
    let positions: Vec<usize> = ids.iter().map(|id| all.position(id).unwrap()).collect();
    Dataset::new(
        ids.iter().map(|s| s.to_string()).collect(),
        all.feature_names().to_vec(),
        positions
            .iter()
            .flat_map(|&i| all.row(i).to_vec())
            .collect(),
        Some(Targets {
            values: positions.iter().map(|&i| targets.values[i]).collect(),
            encoding: targets.encoding.clone(),
        }),
    )
    .unwrap()
}

/// [`synthetic_rows`] trained under the noise key
/// `[key; 32]`: the training entry (the lineage) differs between keys and repeats for one key.
pub fn trained_synthetic(key: u8) -> Unlearner {
    let input = TrainingData {
        data: synthetic_rows(),
        preprocessing: Preprocessing::default(),
        target_column: "y".into(),
    };
    let hyper = certified(LossKind::Logistic, 1e-2, 0.05);
    Unlearner::from_trained(
        model::train(input, &hyper, NoiseKey::from_secret_bytes([key; 32])).unwrap(),
    )
}

/// A fresh store of [`trained_synthetic`]`(9)` in a scratch directory named `name`, holding
/// its rows or (`external`) only their sums, the rows staying in the caller's table.
pub fn synthetic_store(name: &str, external: bool) -> Scratch {
    let dir = scratch(name);
    let mut trained = trained_synthetic(9);
    if external {
        trained.detach_rows().unwrap();
    }
    drop(Store::create(&dir, &mut trained, false, Duration::ZERO).unwrap());
    dir
}

/// The row `id` of [`synthetic_rows`] as a caller of an external-rows store fetches it from
/// its table to remove it (no subject erased).
pub fn given_row(id: &str) -> GivenRows {
    GivenRows {
        rows: rows_of(&synthetic_rows(), &[id]),
        ids: vec![id.to_string()],
        subjects: Vec::new(),
    }
}

/// Runs `write` with the process's soft file-size limit at `bytes` (`SIGXFSZ` ignored, so a
/// write past it fails with `EFBIG` instead of killing the process), then lifts the limit.
/// The limit is process-wide: a test file using it serialises its tests.
#[cfg(unix)]
pub fn with_file_limit<T>(bytes: libc::rlim_t, write: impl FnOnce() -> T) -> T {
    fn set_soft_limit(bytes: libc::rlim_t) {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain system calls on a valid, owned struct; ignoring a signal runs no
        // handler.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit), 0);
            limit.rlim_cur = bytes.min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
        }
    }
    set_soft_limit(bytes);
    let written = write();
    set_soft_limit(libc::RLIM_INFINITY);
    written
}

/// Asserts that the release log of the store at `root` passes its check.
pub fn assert_release_log_checks(root: &Path) {
    let store: Result<Store, StoreError> = Store::open(root, Access::Read);
    let check = store.unwrap().release_log_check().unwrap();
    assert!(check.passed, "{}", check.detail);
}

/// The release log's length in bytes at the store `root`: a file-size limit at this length
/// (plus room for what a test lets through) fails the next write past it.
pub fn release_log_len(root: &Path) -> u64 {
    std::fs::metadata(release_log_path(root)).unwrap().len()
}

/// The last line of the release log at `root` about ledger entry `digest` (its record, or a
/// mark of it).
pub fn last_line_about(root: &Path, digest: &str) -> Option<LogLine> {
    read_release_log(root)
        .unwrap()
        .into_iter()
        .rfind(|l| match l {
            LogLine::Record(r) => r.entry == digest,
            LogLine::Abandoned(entry) | LogLine::Failed(entry) => entry == digest,
        })
}

/// How many records of ledger entry `entry` the release log at `root` holds.
pub fn records_of(root: &Path, entry: &str) -> usize {
    read_release_log(root)
        .unwrap()
        .iter()
        .filter(|l| matches!(l, LogLine::Record(r) if r.entry == entry))
        .count()
}
