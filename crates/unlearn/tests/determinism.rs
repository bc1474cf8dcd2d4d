//! Deterministic numerics (issue 10, item 5): training, removals and re-solves give the
//! same bits at any thread count, and `verify` — which regenerates the published weights
//! bit for bit — passes however busy the machine is.
//!
//! These tests fail on the code before fixed-order reductions: rayon's `fold`/`reduce`
//! combined the row blocks' partial sums in an order set by its work splitting, which
//! differs between 1, 2 and 4 threads (with one thread every block was folded into a
//! single accumulator; with more, partial accumulators were added pairwise), so the
//! gradients — and through Newton's iterations the weights — differed in their last bits.

mod common;

use unlearn::data::{self, Preprocessing};
use unlearn::loss::LossKind;
use unlearn::model::{self, Hyperparameters, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::Unlearner;
use unlearn::verify::verify;

/// Certified output-perturbation hyperparameters ((ε, δ) = (1, 1e-5), ε′ = 0.05): with a
/// budget, removals after the first exact step are pass-free (the cached Hessian).
fn hyper(loss: LossKind) -> Hyperparameters {
    common::certified(loss, 1e-2, 0.05)
}

/// Synthetic rows (3,000: twelve row blocks, so partial sums are combined).
fn synthetic(regression: bool) -> TrainingData {
    TrainingData {
        data: generate(&SyntheticSpec {
            rows: 3_000,
            features: 12,
            flip: 0.1,
            regression,
            seed: 5,
        }),
        preprocessing: Preprocessing::default(),
        target_column: "y".into(),
    }
}

/// The embedded digits, all ten classes (one-vs-rest), with the recommended scaling.
fn digits() -> TrainingData {
    let digits = data::builtin::builtin("digits").unwrap();
    let mut rows = digits.load(&digits.default_options()).unwrap();
    let preprocessing = digits.recommended_preprocessing();
    preprocessing.apply(&mut rows).unwrap();
    TrainingData {
        data: rows,
        preprocessing,
        target_column: digits.target.to_string(),
    }
}

/// Every number a run produces that a proof or `verify` relies on, as bits.
#[derive(Debug, PartialEq, Eq)]
struct Trace {
    secret_weights: Vec<Vec<u64>>,
    published_weights: Vec<Vec<u64>>,
    training_gradient_norms: Vec<u64>,
    /// The ledger as JSON: serde_json prints the shortest representation that round-trips,
    /// so equal text means equal bits for every residual bound and distance.
    ledger: String,
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn trace(u: &Unlearner) -> Trace {
    let secret = &u.model.secret;
    Trace {
        secret_weights: secret.weights.iter().map(|w| bits(w.as_slice())).collect(),
        published_weights: u.model.published.weights.iter().map(|w| bits(w)).collect(),
        training_gradient_norms: secret
            .training
            .iter()
            .map(|r| r.gradient_norm.to_bits())
            .collect(),
        ledger: serde_json::to_string(&u.ledger.entries).unwrap(),
    }
}

/// Trains on `input`, removes four rows one request at a time (the first an exact step,
/// the next pass-free from the cached Hessian), then re-solves warm on the remaining rows,
/// recording the state after each stage, all inside a pool of `threads` threads.
fn run(input: TrainingData, loss: LossKind, ids: &[&str], threads: usize) -> Vec<Trace> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let hyper = hyper(loss);
        let mut u = Unlearner::from_trained(
            model::train(input, &hyper, NoiseKey::from_secret_bytes([3; 32])).unwrap(),
        );
        let mut traces = vec![trace(&u)];
        let mut pass_free = false;
        for id in ids {
            let certificate = u.remove(&[id.to_string()]).unwrap();
            pass_free |= certificate.bounds.cached_hessian.iter().any(|&c| c);
            traces.push(trace(&u));
        }
        assert!(
            pass_free,
            "no pass-free step ran: the test would miss that path"
        );
        u.model.secret.solve(&hyper, true).unwrap();
        traces.push(trace(&u));
        traces
    })
}

fn assert_same_bits_at_1_2_4_threads(
    make: impl Fn() -> TrainingData,
    loss: LossKind,
    ids: &[&str],
) {
    let one = run(make(), loss, ids, 1);
    for threads in [2, 4] {
        let other = run(make(), loss, ids, threads);
        for (stage, (a, b)) in one.iter().zip(&other).enumerate() {
            assert_eq!(
                a, b,
                "stage {stage} differs between 1 and {threads} threads"
            );
        }
    }
}

#[test]
fn binary_logistic_has_the_same_bits_at_any_thread_count() {
    assert_same_bits_at_1_2_4_threads(
        || synthetic(false),
        LossKind::Logistic,
        &["s3", "s1500", "s2999", "s10"],
    );
}

#[test]
fn one_vs_rest_digits_has_the_same_bits_at_any_thread_count() {
    assert_same_bits_at_1_2_4_threads(
        digits,
        LossKind::Logistic,
        &["d0003", "d0008", "d1000", "d1796"],
    );
}

#[test]
fn ridge_has_the_same_bits_at_any_thread_count() {
    assert_same_bits_at_1_2_4_threads(
        || synthetic(true),
        LossKind::Squared,
        &["s0", "s7", "s2000", "s2500"],
    );
}

/// `verify` regenerates the published weights and recomputes every residual bound; with
/// fixed-order reductions it passes every time: 50 runs in a row, each in a pool of 1 to 4
/// threads (the store was built in the default pool), while another thread keeps rayon's
/// global pool busy with unrelated reductions. (A review saw a healthy 20k×100 store fail
/// in 4 of 600 runs under load; that rate is too low to reproduce cheaply, and this test
/// passes on the old code too: it guards the behaviour, while the bit-for-bit tests above
/// are the ones that fail on the old reductions.)
#[test]
fn verify_passes_50_times_at_any_thread_count_while_the_pool_is_busy() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let hyper = hyper(LossKind::Logistic);
    let mut u = Unlearner::from_trained(
        model::train(digits(), &hyper, NoiseKey::from_secret_bytes([3; 32])).unwrap(),
    );
    u.remove(&["d0003".to_string()]).unwrap();
    u.remove(&["d0008".to_string()]).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            use rayon::prelude::*;
            while !stop.load(Ordering::Relaxed) {
                let load: f64 = (0..200_000u32)
                    .into_par_iter()
                    .map(|i| f64::from(i).sqrt())
                    .sum();
                std::hint::black_box(load);
            }
        });
        let failures: Vec<String> = (0..50)
            .flat_map(|run| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(1 + run % 4)
                    .build()
                    .unwrap();
                pool.install(|| verify(&u))
                    .checks
                    .into_iter()
                    .filter(|c| !c.passed)
                    .map(move |c| format!("run {run}: {}: {}", c.name, c.detail))
            })
            .collect();
        stop.store(true, Ordering::Relaxed);
        assert!(failures.is_empty(), "verify failed: {failures:?}");
    });
}
