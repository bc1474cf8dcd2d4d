//! Removal benchmarks on seeded synthetic data with `unlearn bench`'s hyperparameters
//! (per-sample λ = 1e-3, σ = 10, ε = 1, δ = 1e-4, output perturbation, no intercept), at
//! the MNIST 3-vs-8 scale (n = 12,000, d = 784) and a small one (n = 2,000, d = 100):
//! - `single`: one `Unlearner::remove` of one row, logistic and ridge;
//! - `batch10`: one `Unlearner::remove` of 10 rows (one step);
//! - `hessian_refresh`: forming XᵀDX + ΛI at the secret weights and its checked Cholesky
//!   factor (what a removal that renews its cached factor pays);
//! - `external`: the same warm unlearner with its rows let go (`Unlearner::detach_rows`,
//!   caches kept), removing one row it is given (`Unlearner::remove_external`): what a
//!   removal on a Spark driver costs (issue 14), against `single/logistic`.
//!
//! Each removal runs on a fresh clone (made and dropped outside the timed region) of an
//! unlearner that has already served two removals, so every iteration does the same steady-state work (caches warm, ‖X‖₂
//! bound known) and never exhausts the rows or the budget. Whatever path
//! `Unlearner::remove` takes is what is measured. Run with `cargo bench --bench removal`
//! (about 2–4 minutes on 2 cores); BENCHMARKS.md records the figures.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use unlearn::bench::{BenchSpec, hyperparameters};
use unlearn::data::{Dataset, Targets};
use unlearn::loss::LossKind;
use unlearn::model::{self, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::objective::{Objective, Rows};
use unlearn::rows::GivenRows;
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::Unlearner;

/// (label, n, d) of the two sizes.
const SIZES: [(&str, usize, usize); 2] = [
    ("small_2000x100", 2_000, 100),
    ("mnist_12000x784", 12_000, 784),
];

/// Rows removed before timing, so that caches and bounds are in their steady state.
const WARM_UP_REMOVALS: usize = 2;

/// A trained unlearner that has served [`WARM_UP_REMOVALS`] removals, and the ids of the
/// remaining rows from the front (the rows the timed removals take).
fn warm_unlearner(n: usize, d: usize, loss: LossKind) -> (Unlearner, Vec<String>) {
    let data = generate(&SyntheticSpec {
        rows: n,
        features: d,
        flip: 0.1,
        regression: loss == LossKind::Squared,
        seed: 1,
    });
    let hyper = hyperparameters(&BenchSpec::defaults(n, d, 1), loss)
        .expect("valid benchmark hyperparameters");
    let input = TrainingData {
        data,
        preprocessing: Default::default(),
        target_column: "y".into(),
    };
    let mut unlearner = Unlearner::from_trained(
        model::train(input, &hyper, NoiseKey::from_seed(1)).expect("trains"),
    );
    let ids = unlearner.model.secret.design().ids().to_vec();
    let (warm, rest) = ids.split_at(WARM_UP_REMOVALS);
    unlearner.remove_sequential(warm).expect("warm-up removals");
    (unlearner, rest.to_vec())
}

/// Times `remove(ids[..count])` on fresh clones of the warm unlearner.
fn bench_remove(c: &mut Criterion, group: &str, count: usize, losses: &[LossKind]) {
    let mut group = c.benchmark_group(group);
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(6));
    for (label, n, d) in SIZES {
        for &loss in losses {
            let (unlearner, ids) = warm_unlearner(n, d, loss);
            let request = &ids[..count];
            group.bench_function(format!("{loss}/{label}"), |bench| {
                bench.iter_batched(
                    || unlearner.clone(),
                    // Returned, so that criterion drops the clone (freeing n·d values
                    // and n ids) outside the timed region.
                    |mut u| {
                        u.remove(black_box(request)).expect("removal succeeds");
                        u
                    },
                    BatchSize::LargeInput,
                )
            });
        }
    }
    group.finish();
}

fn bench_single(c: &mut Criterion) {
    bench_remove(c, "single", 1, &[LossKind::Logistic, LossKind::Squared]);
}

fn bench_batch(c: &mut Criterion) {
    bench_remove(c, "batch10", 10, &[LossKind::Logistic]);
}

fn bench_external(c: &mut Criterion) {
    let mut group = c.benchmark_group("external");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(6));
    for (label, n, d) in SIZES {
        let (mut unlearner, ids) = warm_unlearner(n, d, LossKind::Logistic);
        // The raw row (no intercept, no preprocessing here) as the caller's table holds it.
        let design = unlearner.model.secret.design();
        let i = design.position(&ids[0]).expect("a remaining row");
        let targets = design.targets().expect("targets");
        let rows = Dataset::new(
            vec![ids[0].clone()],
            unlearner.model.published.feature_names.clone(),
            design.row(i).to_vec(),
            Some(Targets {
                values: vec![targets.values[i]],
                encoding: targets.encoding.clone(),
            }),
        )
        .expect("one row");
        let given = GivenRows {
            rows,
            ids: vec![ids[0].clone()],
            subjects: Vec::new(),
        };
        unlearner.detach_rows().expect("output perturbation");
        group.bench_function(format!("logistic/{label}"), |bench| {
            bench.iter_batched(
                || unlearner.clone(),
                |mut u| {
                    u.remove_external(black_box(&given), 1)
                        .expect("a pass-free removal");
                    u
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn bench_hessian_refresh(c: &mut Criterion) {
    let mut group = c.benchmark_group("hessian_refresh");
    group.sample_size(10);
    for (label, n, d) in SIZES {
        let (unlearner, _) = warm_unlearner(n, d, LossKind::Logistic);
        let secret = &unlearner.model.secret;
        let hyper = &unlearner.model.published.hyperparameters;
        let y = secret.model_targets(0);
        let objective = Objective {
            loss: &hyper.loss,
            rows: Rows {
                features: secret.design().features(),
                targets: &y,
                dim: secret.n_features(),
            },
            lambda: hyper
                .regularization
                .effective_lambda(hyper.lambda, secret.n_rows()),
            noise: &secret.noise[0],
        };
        let w = &secret.weights[0];
        group.bench_function(format!("logistic/{label}"), |bench| {
            bench.iter(|| {
                unlearn::linalg::cholesky(objective.hessian(black_box(w)))
                    .expect("positive definite")
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    // No HTML plots: criterion's plotters backend needs system fonts the machine may lack.
    config = Criterion::default().without_plots();
    targets = bench_single, bench_batch, bench_hessian_refresh, bench_external
}
criterion_main!(benches);
