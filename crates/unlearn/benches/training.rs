//! Training benchmarks on seeded synthetic data (rows of norm ≤ 1, labels from a random
//! hyperplane with 10% flips), per-sample λ = 1e-3 (Guo et al.'s MNIST setting):
//! - MNIST 3-vs-8 scale: n = 12,000, d = 784;
//! - digits scale: n = 1,797, d = 64;
//!
//! and the Hessian XᵀDX alone at the larger scale. Run with `cargo bench --bench training`;
//! BENCHMARKS.md records the figures and the scikit-learn comparison.

use criterion::{Criterion, criterion_group, criterion_main};
use nalgebra::DVector;
use std::hint::black_box;
use unlearn::loss::LossKind;
use unlearn::model::{self, Hyperparameters};
use unlearn::noise::{NoiseFamily, NoiseSpec};
use unlearn::objective::{Objective, Regularization, Rows};
use unlearn::solver::NewtonOptions;
use unlearn::synthetic::{SyntheticSpec, generate};

fn hyper(loss: LossKind) -> Hyperparameters {
    Hyperparameters {
        loss,
        lambda: 1e-3,
        regularization: Regularization::PerSample,
        intercept: false,
        noise: NoiseSpec {
            family: NoiseFamily::Gaussian,
            scale: 10.0,
        },
        privacy: None,
        mechanism: unlearn::mechanism::Mechanism::OutputPerturbation,
        newton: NewtonOptions::default(),
    }
}

fn bench_training(c: &mut Criterion) {
    let mut group = c.benchmark_group("train");
    group.sample_size(10);
    for (label, n, d) in [
        ("digits_1797x64", 1_797, 64),
        ("mnist_12000x784", 12_000, 784),
    ] {
        for (loss, regression) in [(LossKind::Logistic, false), (LossKind::Squared, true)] {
            let data = generate(&SyntheticSpec {
                rows: n,
                features: d,
                flip: 0.1,
                regression,
                seed: 1,
            });
            let y = data.targets().unwrap().values.clone();
            let h = hyper(loss);
            let b = DVector::from_fn(d, |j, _| 10.0 * ((j as f64) * 0.37).sin());
            group.bench_function(format!("{loss}/{label}"), |bench| {
                bench.iter(|| model::fit(black_box(&h), &data, &y, &b).unwrap())
            });
        }
    }
    group.finish();
}

fn bench_hessian(c: &mut Criterion) {
    let (n, d) = (12_000, 784);
    let data = generate(&SyntheticSpec {
        rows: n,
        features: d,
        flip: 0.1,
        regression: false,
        seed: 1,
    });
    let y = data.targets().unwrap().values.clone();
    let b = DVector::zeros(d);
    let objective = Objective {
        loss: &LossKind::Logistic,
        rows: Rows {
            features: data.features(),
            targets: &y,
            dim: d,
        },
        lambda: 12.0,
        noise: &b,
    };
    let w = DVector::from_fn(d, |j, _| ((j as f64) * 0.1).cos());
    let mut group = c.benchmark_group("hessian");
    group.sample_size(10);
    group.bench_function("logistic/mnist_12000x784", |bench| {
        bench.iter(|| objective.hessian(black_box(&w)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // No HTML plots: criterion's plotters backend needs system fonts the machine may lack.
    config = Criterion::default().without_plots();
    targets = bench_training, bench_hessian
}
criterion_main!(benches);
