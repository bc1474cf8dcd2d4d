//! The publish policy measured: on digits 3 vs 8 with the README's settings (logistic,
//! per-sample λ = 1e-3, recommended preprocessing, a lifetime target (ε, δ) = (1, 1e-5) for a
//! lifetime budget ε′ = 0.01 of joint release sensitivity), serve the same long sequence of
//! single-row deletion requests with `--publish-every` N = 1, 10 and 100 and report, for each
//! N, what the transcript spent, how often a release had to be replaced by a re-solve from
//! zero, the held-out accuracy of the published model along the way, and the time per request.
//!
//! ```sh
//! cargo run --release --example publish_policy          # one run, half the rows removed
//! cargo run --release --example publish_policy -- --runs 3 --requests 275
//! ```
//!
//! It prints a Markdown table, one row per run and N (BENCHMARKS.md, "Publish policy").
//!
//! Rows: [`Task::digits_3_vs_8`] (every fifth row held out, by position). Requests: the
//! training ids in a fixed pseudo-random order (ChaCha20 from [`ORDER_SEED`]; the order is
//! public and the same for every N and every run) until half the training rows are gone (or
//! `--requests K` of them), each request one id ([`Unlearner::remove`]). What is still pending after the last request is
//! released by [`Unlearner::publish`] (what `unlearn publish` does), so every N ends with a
//! published model that reflects every removal.
//!
//! Each N trains its own store with a fresh 256-bit key from the OS ([`NoiseKey::generate`]),
//! as a certified store must: the release noise, and hence the published accuracies, differ
//! from run to run. The accounting does not: charges are distance bounds of the secret
//! weights, which depend on the rows and the order only, so the releases, re-solves and the
//! transcript's S and ε repeat; the times depend on the machine's load.
//!
//! Reference points: a model retrained from scratch on the remaining rows with the same
//! certified noise (fresh key: what the retrain world would publish) and without noise.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha20Rng;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use unlearn::certificate::{Certificate, EntryKind};
use unlearn::data::Dataset;
use unlearn::loss::LossKind;
use unlearn::mechanism::Mechanism;
use unlearn::model::{self, Hyperparameters, Model, PublishPolicy, TrainingData};
use unlearn::noise::{NoiseFamily, NoiseKey, NoiseSpec};
use unlearn::objective::Regularization;
use unlearn::privacy::{self, GaussianCalibration};
use unlearn::solver::NewtonOptions;
use unlearn::transcript;
use unlearn::unlearner::Unlearner;
use unlearn::verify::verify;
use unlearn_cli::reproduce::Task;

/// The lifetime target: every release of a store's life, jointly, (ε, δ)-indistinguishable
/// from the retrain world's releases.
const EPSILON: f64 = 1.0;
/// δ of the lifetime target.
const DELTA: f64 = 1e-5;
/// ε′: the lifetime cap on the transcript's joint sensitivity S = √(Σ c_j²).
const BUDGET: f64 = 0.01;
/// Per-sample regularisation λ (Λ = λ·n, Guo et al.'s convention).
const LAMBDA: f64 = 1e-3;
/// The publish policies compared: a release after every N requests.
const POLICIES: [u64; 3] = [1, 10, 100];
/// Seeds the (public) order of the deletion requests; it draws no noise.
const ORDER_SEED: u64 = 2026;

/// What one store did with the request sequence under one publish policy.
struct Outcome {
    /// The publish policy: a release after every `every` requests.
    every: u64,
    /// Requests served (each a certificate).
    served: usize,
    /// Requests refused (none expected: each id is present once).
    refused: usize,
    /// Releases made, the training release and the final `publish` included.
    releases: u64,
    /// Ledger entries after training that re-solved from zero.
    resolves: usize,
    /// The first request that re-solved from zero.
    first_resolve: Option<usize>,
    /// The first request after which the transcript's S reached 99 % of its cap.
    spent_at: Option<usize>,
    /// Ledger entries with `certified: true`, and all entries.
    certified: usize,
    entries: usize,
    /// The transcript's final S and its ε at the target's δ.
    sensitivity: f64,
    epsilon: Option<f64>,
    /// Whether `verify` passed on the final state.
    verified: bool,
    /// Published accuracy after 25, 50, 75 and 100 % of the requests (before the final
    /// `publish`).
    checkpoints: [f64; 4],
    /// Published accuracy after the final `publish`.
    accuracy_end: f64,
    /// Accuracy of the retrain world's release: retrained from scratch on the remaining
    /// rows with the same noise and a fresh key.
    retrain_accuracy: f64,
    /// Time of each served request, and whether that request re-solved from zero.
    times: Vec<(Duration, bool)>,
    /// Time of the whole sequence and the final `publish`.
    total: Duration,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let task = Task::digits_3_vs_8()?;
    let (runs, count) = arguments(task.n_train())?;
    let (noise, target) = privacy::calibrate(
        NoiseFamily::Gaussian,
        EPSILON,
        Some(DELTA),
        BUDGET,
        GaussianCalibration::Lattice,
    )?;
    let certified = hyperparameters(noise, Some(target));
    let requests = request_order(&task.train, count);

    let noiseless = hyperparameters(
        NoiseSpec {
            family: NoiseFamily::Gaussian,
            scale: 0.0,
        },
        None,
    );
    let exact = train(&task, remaining_rows(&task.train, &requests), &noiseless)?;

    println!(
        "digits 3 vs 8: {} training rows, {} held out; {} single-row requests; σ = {:.4}, \
         release grid {:e}, sensitivity cap {:.4}",
        task.n_train(),
        task.test.n_rows(),
        requests.len(),
        noise.scale,
        transcript::lattice_of(&certified).map_or(0.0, |l| l.grid()),
        transcript::sensitivity_cap(&certified).unwrap_or(f64::NAN),
    );
    println!(
        "retrained from scratch on the remaining rows without noise: accuracy {:.3}\n",
        task.accuracy(&exact),
    );
    println!(
        "| run | N | served | releases | re-solves | first re-solve at | S ≥ 99 % of cap at | certified | S (cap {BUDGET}) | ε | verify | acc. 25 / 50 / 75 / 100 % | acc. after publish | retrain acc. | median ms: all (no re-solve / re-solve) | total s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for run in 1..=runs {
        for every in POLICIES {
            let outcome = serve(&task, &certified, every, &requests)?;
            println!("{}", table_row(run, &outcome));
        }
    }
    Ok(())
}

/// `--runs R` (default 1) and `--requests K` (default half the training rows, at most all
/// but one).
fn arguments(n_train: usize) -> Result<(usize, usize), String> {
    const USAGE: &str = "usage: publish_policy [--runs R] [--requests K]";
    let (mut runs, mut count) = (1, n_train / 2);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
        let number: usize = value
            .parse()
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| format!("{flag} expects a positive whole number, got '{value}'"))?;
        match flag.as_str() {
            "--runs" => runs = number,
            "--requests" if number < n_train => count = number,
            "--requests" => {
                return Err(format!(
                    "--requests {number}: at most {} (all training rows but one)",
                    n_train - 1
                ));
            }
            _ => return Err(format!("unknown argument '{flag}'; {USAGE}")),
        }
    }
    Ok((runs, count))
}

/// Logistic, per-sample λ, an intercept, output perturbation with the given noise.
fn hyperparameters(noise: NoiseSpec, privacy: Option<privacy::PrivacyTarget>) -> Hyperparameters {
    Hyperparameters {
        loss: LossKind::Logistic,
        lambda: LAMBDA,
        regularization: Regularization::PerSample,
        intercept: true,
        noise,
        privacy,
        mechanism: Mechanism::OutputPerturbation,
        newton: NewtonOptions::default(),
    }
}

/// Trains on `rows` (the task's preprocessing) with a fresh key from the OS.
fn train(
    task: &Task,
    rows: Dataset,
    hyper: &Hyperparameters,
) -> Result<Model, Box<dyn std::error::Error>> {
    let input = TrainingData {
        data: rows,
        preprocessing: task.preprocessing.clone(),
        target_column: "digit".into(),
    };
    Ok(model::train(input, hyper, NoiseKey::generate()?)?)
}

/// The first `count` training ids in the fixed pseudo-random order.
fn request_order(rows: &Dataset, count: usize) -> Vec<String> {
    let mut ids = rows.ids().to_vec();
    ids.shuffle(&mut ChaCha20Rng::seed_from_u64(ORDER_SEED));
    ids.truncate(count);
    ids
}

/// The training rows without the requested ones.
fn remaining_rows(rows: &Dataset, removed: &[String]) -> Dataset {
    let removed: HashSet<&str> = removed.iter().map(String::as_str).collect();
    let keep: Vec<bool> = rows
        .ids()
        .iter()
        .map(|id| !removed.contains(id.as_str()))
        .collect();
    let mut remaining = rows.clone();
    remaining.retain_rows(|i| keep[i]);
    remaining
}

/// Trains a certified store publishing every `every` requests, serves `requests` one id at a
/// time, then publishes what is pending.
fn serve(
    task: &Task,
    hyper: &Hyperparameters,
    every: u64,
    requests: &[String],
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let mut model = train(task, task.train.clone(), hyper)?;
    model.published.publish = PublishPolicy { every };
    let mut unlearner = Unlearner::from_trained(model);
    let mut times = Vec::with_capacity(requests.len());
    let mut refused = 0;
    let mut first_resolve = None;
    let mut spent_at = None;
    let nearly_spent = 0.99 * transcript::sensitivity_cap(hyper).unwrap_or(f64::INFINITY);
    let mut checkpoints = [0.0; 4];
    let started = Instant::now();
    for (i, id) in requests.iter().enumerate() {
        let request = Instant::now();
        match unlearner.remove(std::slice::from_ref(id)) {
            Ok(certificate) => {
                times.push((request.elapsed(), certificate.retrained));
                if certificate.retrained && first_resolve.is_none() {
                    first_resolve = Some(i + 1);
                }
                if certificate.transcript.sensitivity >= nearly_spent && spent_at.is_none() {
                    spent_at = Some(i + 1);
                }
            }
            Err(e) => {
                eprintln!("N = {every}: request {} ({id}) refused: {e}", i + 1);
                refused += 1;
            }
        }
        // After ⌈q·R/4⌉ requests, q = 1..4.
        for (q, slot) in checkpoints.iter_mut().enumerate() {
            if i + 1 == ((q + 1) * requests.len()).div_ceil(4) {
                *slot = task.accuracy(&unlearner.model);
            }
        }
    }
    unlearner.publish()?;
    let total = started.elapsed();
    let entries = &unlearner.ledger.entries;
    let last = entries.last().expect("the training certificate is first");
    for c in entries.iter().filter(|c| !c.certified) {
        eprintln!(
            "N = {every}: step {} not certified: {}",
            c.step,
            c.reason.as_deref().unwrap_or("(no reason given)")
        );
    }
    Ok(Outcome {
        every,
        served: times.len(),
        refused,
        releases: last.transcript.releases,
        resolves: entries.iter().filter(|c| resolved(c)).count(),
        first_resolve,
        spent_at,
        certified: entries.iter().filter(|c| c.certified).count(),
        entries: entries.len(),
        sensitivity: last.transcript.sensitivity,
        epsilon: last.transcript.epsilon,
        verified: verify(&unlearner).passed(),
        checkpoints,
        accuracy_end: task.accuracy(&unlearner.model),
        retrain_accuracy: task.accuracy(&train(
            task,
            remaining_rows(&task.train, requests),
            hyper,
        )?),
        times,
        total,
    })
}

/// Whether a ledger entry after training re-solved from zero.
fn resolved(c: &Certificate) -> bool {
    c.retrained && c.kind != EntryKind::Training
}

/// "request i", or "–" for never.
fn at_request(request: Option<usize>) -> String {
    request.map_or("–".into(), |i| format!("request {i}"))
}

/// Median of `values` in milliseconds ("–" when empty).
fn median_ms(mut values: Vec<Duration>) -> String {
    if values.is_empty() {
        return "–".into();
    }
    values.sort_unstable();
    format!("{:.2}", values[values.len() / 2].as_secs_f64() * 1e3)
}

/// One Markdown table row.
fn table_row(run: usize, o: &Outcome) -> String {
    let split = |resolve: bool| {
        median_ms(
            o.times
                .iter()
                .filter(|(_, r)| *r == resolve)
                .map(|(t, _)| *t)
                .collect(),
        )
    };
    let [a, b, c, d] = o.checkpoints;
    format!(
        "| {run} | {} | {}{} | {} | {} | {} | {} | {}/{} | {:.5} | {} | {} | {a:.3} / {b:.3} / {c:.3} / {d:.3} | {:.3} | {:.3} | {} ({} / {}) | {:.2} |",
        o.every,
        o.served,
        if o.refused > 0 {
            format!(" ({} refused)", o.refused)
        } else {
            String::new()
        },
        o.releases,
        o.resolves,
        at_request(o.first_resolve),
        at_request(o.spent_at),
        o.certified,
        o.entries,
        o.sensitivity,
        o.epsilon.map_or("–".into(), |e| format!("{e:.3}")),
        if o.verified { "passed" } else { "FAILED" },
        o.accuracy_end,
        o.retrain_accuracy,
        median_ms(o.times.iter().map(|(t, _)| *t).collect()),
        split(false),
        split(true),
        o.total.as_secs_f64(),
    )
}
