//! The removal path on the dispatched d×d kernels (`unlearn::kernels`, issue 13): the same
//! bits at any thread count, the Gram bound with queued rows, the lazy ‖Xv‖, and the batch's
//! factor update in its AVX-512 shape against its AVX2 shape.

use nalgebra::{DMatrix, DVector};
use unlearn::bench::{BenchSpec, hyperparameters};
use unlearn::bounds::frobenius_norm_upper_bound;
use unlearn::hessian_cache::{CacheSeed, GRAM_FOLD_ROWS, GramCache, HessianCache, RowBounds};
use unlearn::kernels::{Isa, Update};
use unlearn::linalg;
use unlearn::loss::LossKind;
use unlearn::model::{self, TrainingData};
use unlearn::noise::NoiseKey;
use unlearn::removal::{PassFreeConstants, pass_free_removal_step};
use unlearn::synthetic::{SyntheticSpec, generate};
use unlearn::unlearner::Unlearner;

/// A certified logistic model on 600 seeded rows of 40 features, under `unlearn bench`'s
/// settings (output perturbation with a budget: removals take the pass-free path).
fn trained() -> Unlearner {
    let data = generate(&SyntheticSpec {
        rows: 600,
        features: 40,
        flip: 0.1,
        regression: false,
        seed: 7,
    });
    let spec = BenchSpec::defaults(600, 40, 7);
    let hyper = hyperparameters(&spec, LossKind::Logistic).unwrap();
    let input = TrainingData {
        data,
        preprocessing: Default::default(),
        target_column: "y".into(),
    };
    Unlearner::from_trained(model::train(input, &hyper, NoiseKey::from_seed(7)).unwrap())
}

/// 40 single removals (the Gram queue is applied once, at 32) and a batch of 10, in pools
/// of 1, 2 and 4 threads: the secret weights and every recorded bound have the same bits.
/// The d×d kernels are sequential and the O(n·d) ones sum in a fixed block order
/// (`linalg::ordered_sum`), so no thread schedule may enter a result.
#[test]
fn removals_have_the_same_bits_at_any_thread_count() {
    let base = trained();
    let ids = base.model.secret.design().ids().to_vec();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut u = base.clone();
            let mut certificates = u.remove_sequential(&ids[..40]).unwrap();
            certificates.push(u.remove(&ids[40..50]).unwrap());
            assert!(
                certificates[1..]
                    .iter()
                    .all(|c| c.bounds.cached_hessian == [true]),
                "every removal after the first is pass-free"
            );
            let weights: Vec<u64> = u.model.secret.weights[0]
                .iter()
                .map(|v| v.to_bits())
                .collect();
            let bounds: Vec<u64> = certificates
                .iter()
                .flat_map(|c| c.bounds.exact_residual.iter().map(|v| v.to_bits()))
                .collect();
            (weights, bounds)
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(4));
}

/// ‖Xv‖ from the Gram matrix with queued rows (subtracted inside the quadratic form) is an
/// upper bound on the norm computed from the remaining rows, and a tight one: its slack is
/// a sum of γ_k-sized terms, O(10⁻¹²) relative here, so 10⁻⁸ fails only if the queued rows
/// were not subtracted (they make up 5 of 60 rows, ≈ 8 % of ‖Xv‖²). The bound equals the
/// one after the queue is applied up to the slack.
#[test]
fn the_gram_bound_with_queued_rows_covers_the_remaining_rows() {
    let (n, d, removed) = (60, 9, 5);
    assert!(removed < GRAM_FOLD_ROWS, "the rows stay queued");
    let rows: Vec<f64> = (0..n * d)
        .map(|k| ((k * 37 % 101) as f64 - 50.0) / 400.0)
        .collect();
    let row_norm = rows
        .chunks_exact(d)
        .map(|x| x.iter().map(|v| v * v).sum::<f64>().sqrt())
        .fold(0.0, f64::max);
    let mut gram = GramCache::new(&rows, d);
    for x in rows.chunks_exact(d).take(removed) {
        gram.remove_row(x, row_norm);
    }
    let v = DVector::from_fn(d, |j, _| (j as f64 * 0.7).cos());
    let exact: f64 = rows
        .chunks_exact(d)
        .skip(removed)
        .map(|x| {
            x.iter()
                .zip(v.iter())
                .map(|(a, b)| a * b)
                .sum::<f64>()
                .powi(2)
        })
        .sum::<f64>()
        .sqrt();
    let queued = gram.product_norm_bound(&v);
    assert!(queued >= exact, "{queued} < {exact}");
    assert!(queued <= exact * (1.0 + 1e-8), "{queued} ≫ {exact}");
    gram.apply_pending();
    let applied = gram.product_norm_bound(&v);
    assert!(
        (queued - applied).abs() <= exact * 1e-8,
        "{queued} vs {applied}"
    );
}

/// The lazy ‖Xv‖ (proofs/pass_free_step.md, "Lazy ‖Xv‖"): a pass-free step taken with
/// ‖Xv‖ ≤ S‖v‖ and then tightened with the Gram matrix has the increment, residual bound and
/// tracked error of the step taken with the Gram matrix from the start, bit for bit (the
/// same inputs, the same formula), and the tightening lowers them (S = ‖X‖_F here, far above
/// ‖Xv‖/‖v‖ for a v that is not X's top singular vector: fails if `tighten` does nothing).
#[test]
fn a_lazy_step_tightened_equals_the_eager_step() {
    let (n, d) = (50, 8);
    let rows: Vec<f64> = (0..n * d)
        .map(|k| ((k * 29 % 97) as f64 - 48.0) / 200.0)
        .collect();
    let row_norm = rows
        .chunks_exact(d)
        .map(|x| x.iter().map(|v| v * v).sum::<f64>().sqrt())
        .fold(0.0, f64::max)
        * 1.01;
    let gram = GramCache::new(&rows, d);
    let lambda = 0.5;
    let mut hessian = gram.gram().clone() * 0.25 + DMatrix::identity(d, d) * lambda;
    hessian.fill_upper_triangle_with_lower_triangle();
    let w = DVector::from_fn(d, |j, _| (j as f64 * 0.3).sin());
    let mut point = w.clone();
    point[0] -= 0.1;
    let seed = CacheSeed {
        factor: linalg::cholesky(hessian.clone()).unwrap(),
        hessian,
        point,
        lambda,
        gradient: DVector::from_fn(d, |j, _| 0.2 - 0.05 * j as f64),
        gradient_error: 1e-9,
    };
    let cache = HessianCache::new(
        seed,
        RowBounds {
            rows: n,
            row_norm,
            gamma: 0.1,
        },
    );
    let constants = PassFreeConstants {
        gamma: 0.1,
        curvature_bound: 0.25,
        row_norm_bound: row_norm,
        x_spectral_bound: frobenius_norm_upper_bound(&rows),
        refine_until: 0.0,
    };
    let mut eager_cache = cache.clone();
    let eager =
        pass_free_removal_step(&mut eager_cache, Some(&gram), &w, lambda, constants).unwrap();
    let mut lazy_cache = cache;
    let mut lazy = pass_free_removal_step(&mut lazy_cache, None, &w, lambda, constants).unwrap();
    let loose = (lazy.increment, lazy.residual_bound);
    lazy.tighten(&mut lazy_cache, &gram);
    assert_eq!(lazy, eager);
    assert_eq!(
        lazy_cache.gradient_error().to_bits(),
        eager_cache.gradient_error().to_bits()
    );
    assert!(
        lazy.increment < loose.0 && lazy.residual_bound < loose.1,
        "{loose:?} vs {lazy:?}"
    );
}

/// The batch's factor update in the AVX-512 shape (register blocks of 8 rows × 8 columns,
/// groups of up to 10 rows of S) against the AVX2 shape (4 × 4, groups of up to 6): both
/// give every entry the same fused multiply-adds in the same order (the column-by-column
/// recurrence of the product form), so the factors and the fused forward solves agree bit
/// for bit, and a downdate past positive definiteness is reported at the same column. d
/// covers partial column blocks and row tails of both shapes; m one group, padded groups
/// (7, 9) and several groups (13, 23). Skipped on a CPU without AVX-512.
#[test]
fn the_wide_batch_factor_update_has_the_avx2_bits() {
    if !Isa::available().contains(&Isa::Avx512) {
        return;
    }
    for (d, m) in [
        (3, 2),
        (17, 5),
        (45, 10),
        (77, 7),
        (100, 9),
        (133, 13),
        (64, 23),
    ] {
        // Diagonal 2d + 2 against off-diagonal entries in [−1, 1]: every eigenvalue is at
        // least d + 3 (Gershgorin), above the m/2 downdates of 0.05·‖x‖² ≤ 0.05·d each.
        let a = DMatrix::from_fn(d, d, |i, j| {
            if i == j {
                2.0 * d as f64 + 2.0
            } else {
                (((i + j) * 7 + i * j) % 23) as f64 / 11.0 - 1.0
            }
        });
        let factor = linalg::cholesky(a).unwrap().l_dirty().clone();
        let rows: Vec<Vec<f64>> = (0..m)
            .map(|k| {
                (0..d)
                    .map(|i| (((i + 3 * k) * 13 % 17) as f64 - 8.0) / 8.0)
                    .collect()
            })
            .collect();
        let row_refs: Vec<&[f64]> = rows.iter().map(Vec::as_slice).collect();
        let coefficients: Vec<f64> = (0..m)
            .map(|k| if k % 2 == 0 { -0.05 } else { 0.3 })
            .collect();
        let update = Update {
            coefficients: &coefficients,
            rows: &row_refs,
        };
        let run = |isa: Isa| {
            let mut l = factor.as_slice().to_vec();
            let mut b: Vec<f64> = (0..d).map(|i| (i % 5) as f64 - 2.0).collect();
            let outcome = isa.cholesky_update_solve(&mut l, &update, &mut b);
            (outcome, l, b)
        };
        let (narrow, wide) = (run(Isa::Avx2Fma), run(Isa::Avx512));
        assert!(narrow.0.is_ok(), "d = {d}, m = {m}: {:?}", narrow.0);
        assert_eq!(narrow, wide, "d = {d}, m = {m}");
        // Downdates of 50·x_kx_kᵀ: along x₀ alone the form drops by 50·‖x₀‖⁴, more than
        // ‖x₀‖² times every eigenvalue (≤ 3d + 1 by Gershgorin; ‖x₀‖² ≥ 1.4 here), so the
        // matrix is indefinite: both shapes stop at the same column (the factor is then
        // partly updated, and differently: the blocks of columns differ).
        let downdates = vec![-50.0; m];
        let past = Update {
            coefficients: &downdates,
            rows: &row_refs,
        };
        let stop = |isa: Isa| {
            let mut l = factor.as_slice().to_vec();
            isa.cholesky_update(&mut l, &past)
        };
        assert!(stop(Isa::Avx2Fma).is_err(), "d = {d}, m = {m}");
        assert_eq!(stop(Isa::Avx2Fma), stop(Isa::Avx512), "d = {d}, m = {m}");
    }
}
