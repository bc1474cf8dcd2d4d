//! The d×d kernels of the pass-free removal step, old (nalgebra) against new
//! (`unlearn::kernels`, portable, AVX2/FMA and AVX-512 where the CPU has them) at d = 784
//! and d = 2048, in one run:
//! - `symv`: y = A·x from the lower triangle (nalgebra `sygemv`);
//! - `syr`: A ← A − c·xxᵀ, lower triangle (nalgebra `syger`; new: a rank-1 `update`);
//! - `chol_downdate`: the rank-one Cholesky downdate (nalgebra `rank_one_update`);
//! - `downdate_solve` (new only): the rank-one downdate fused with the forward solve, the
//!   first kernel of `step`;
//! - `solve`: forward and backward substitution with the factor (nalgebra `solve`);
//! - `backward` (new only): the backward substitution alone (the single removal's second
//!   read of the factor);
//! - `rank10`: ten rows at once — the rank-10 update of A and of the factor (new), against
//!   ten rank-1 calls (nalgebra);
//! - `factor10` (new only): the batch step's factor kernel alone, the rank-10 update of the
//!   factor fused with the forward solve;
//! - `step` (new only): one removal's kernels in order — the factor's rank-1 downdate with
//!   the forward solve, the backward solve, Ĥ₀v (Ĥ₀ read only: its rows are queued) — on
//!   two matrices;
//! - `fold32` (new only): the fold of 32 queued rows into Ĥ₀ fused with Ĥ₀v, which one
//!   step in [`unlearn::hessian_cache::HESSIAN_FOLD_ROWS`] runs in place of `symv`.
//!
//! Run with `cargo bench --bench kernels`; BENCHMARKS.md records the figures.

use criterion::{Criterion, criterion_group, criterion_main};
use nalgebra::{Cholesky, DMatrix, DVector};
use std::hint::black_box;
use std::time::Duration;
use unlearn::kernels::{Isa, Update};

const DIMS: [usize; 2] = [784, 2048];

/// A well-conditioned SPD matrix: I·d plus small symmetric entries.
fn spd(d: usize) -> DMatrix<f64> {
    DMatrix::from_fn(d, d, |i, j| {
        if i == j {
            d as f64
        } else {
            ((i + j) % 13) as f64 / 130.0
        }
    })
}

fn vector(d: usize, seed: usize) -> DVector<f64> {
    DVector::from_fn(d, |i, _| (((i + seed) * 7 % 11) as f64 - 5.0) / 50.0)
}

fn isas() -> Vec<(&'static str, Isa)> {
    Isa::available()
        .into_iter()
        .map(|isa| {
            let name = match isa {
                Isa::Portable => "portable",
                Isa::Avx2Fma => "avx2",
                Isa::Avx512 => "avx512",
            };
            (name, isa)
        })
        .collect()
}

fn kernels(c: &mut Criterion) {
    let mut group = c.benchmark_group("kernels");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for d in DIMS {
        let mut a = spd(d);
        let x = vector(d, 1);
        let mut y = DVector::zeros(d);
        let chol = Cholesky::new(spd(d)).unwrap();
        let rows: Vec<DVector<f64>> = (0..10).map(|k| vector(d, k + 2)).collect();
        let row_refs: Vec<&[f64]> = rows.iter().map(|r| r.as_slice()).collect();
        // Downdates by ±1e-6 alternate, so repeated iterations keep the matrices PD.
        let one = Update {
            coefficients: &[-1e-6],
            rows: &row_refs[..1],
        };
        let one_back = Update {
            coefficients: &[1e-6],
            rows: &row_refs[..1],
        };
        let ten_coefficients = [
            -1e-6, 1e-6, -1e-6, 1e-6, -1e-6, 1e-6, -1e-6, 1e-6, -1e-6, 1e-6,
        ];
        let ten = Update {
            coefficients: &ten_coefficients,
            rows: &row_refs,
        };
        // A fold of 32 queued rows (the ten above, repeated), and its reverse.
        let fold_rows: Vec<&[f64]> = (0..32).map(|k| row_refs[k % 10]).collect();
        let (fold_down, fold_up) = ([-1e-6; 32], [1e-6; 32]);
        let fold = Update {
            coefficients: &fold_down,
            rows: &fold_rows,
        };
        let fold_back = Update {
            coefficients: &fold_up,
            rows: &fold_rows,
        };

        group.bench_function(format!("symv/nalgebra/{d}"), |b| {
            b.iter(|| y.sygemv(1.0, black_box(&a), &x, 0.0))
        });
        group.bench_function(format!("syr/nalgebra/{d}"), |b| {
            let mut sign = 1.0;
            b.iter(|| {
                sign = -sign;
                a.syger(sign * 1e-6, &x, &x, 1.0)
            })
        });
        let mut nalgebra_factor = chol.clone();
        group.bench_function(format!("chol_downdate/nalgebra/{d}"), |b| {
            let mut sign = 1.0;
            b.iter(|| {
                sign = -sign;
                nalgebra_factor.rank_one_update(&x, sign * 1e-6)
            })
        });
        group.bench_function(format!("solve/nalgebra/{d}"), |b| {
            b.iter(|| black_box(chol.solve(&x)))
        });
        group.bench_function(format!("rank10/nalgebra/{d}"), |b| {
            b.iter(|| {
                for (r, &c) in rows.iter().zip(&ten_coefficients) {
                    a.syger(c, r, r, 1.0);
                    nalgebra_factor.rank_one_update(r, c);
                }
            })
        });
        for (name, isa) in isas() {
            let mut a = spd(d);
            let mut l = chol.l_dirty().clone();
            let mut out = vec![0.0; d];
            group.bench_function(format!("symv/{name}/{d}"), |b| {
                b.iter(|| isa.symv(black_box(a.as_slice()), x.as_slice(), &mut out))
            });
            group.bench_function(format!("syr/{name}/{d}"), |b| {
                let mut flip = false;
                b.iter(|| {
                    flip = !flip;
                    isa.update(a.as_mut_slice(), if flip { &one } else { &one_back })
                })
            });
            group.bench_function(format!("fold32/{name}/{d}"), |b| {
                let mut flip = false;
                b.iter(|| {
                    flip = !flip;
                    let u = if flip { &fold } else { &fold_back };
                    isa.update_symv(a.as_mut_slice(), u, x.as_slice(), &mut out)
                })
            });
            group.bench_function(format!("chol_downdate/{name}/{d}"), |b| {
                let mut flip = false;
                b.iter(|| {
                    flip = !flip;
                    isa.cholesky_update(l.as_mut_slice(), if flip { &one } else { &one_back })
                        .unwrap()
                })
            });
            group.bench_function(format!("downdate_solve/{name}/{d}"), |b| {
                let mut flip = false;
                b.iter(|| {
                    flip = !flip;
                    out.copy_from_slice(x.as_slice());
                    let u = if flip { &one } else { &one_back };
                    isa.cholesky_update_solve(l.as_mut_slice(), u, &mut out)
                        .unwrap()
                })
            });
            group.bench_function(format!("solve/{name}/{d}"), |b| {
                b.iter(|| {
                    out.copy_from_slice(x.as_slice());
                    isa.forward_solve(l.as_slice(), &mut out);
                    isa.backward_solve(l.as_slice(), &mut out);
                })
            });
            group.bench_function(format!("backward/{name}/{d}"), |b| {
                b.iter(|| {
                    out.copy_from_slice(x.as_slice());
                    isa.backward_solve(l.as_slice(), &mut out);
                })
            });
            // One removal's kernels in the order the pass-free step runs them, on two
            // matrices (5 MB of lower triangles at d = 784, more than one core's L2): the
            // factor's downdate with the forward solve, the backward solve, then the product
            // Ĥ₀v (the row is queued for Ĥ₀; its O(d) correction is not a kernel).
            let h = spd(d);
            let mut v = vec![0.0; d];
            group.bench_function(format!("step/{name}/{d}"), |b| {
                let mut flip = false;
                b.iter(|| {
                    flip = !flip;
                    let u = if flip { &one } else { &one_back };
                    v.copy_from_slice(x.as_slice());
                    isa.cholesky_update_solve(l.as_mut_slice(), u, &mut v)
                        .unwrap();
                    isa.backward_solve(l.as_slice(), &mut v);
                    isa.symv(h.as_slice(), &v, &mut out)
                })
            });
            // The batch step's factor kernel alone: the rank-10 product-form update (five
            // downdates, five updates) fused with the forward solve.
            group.bench_function(format!("factor10/{name}/{d}"), |b| {
                b.iter(|| {
                    out.copy_from_slice(x.as_slice());
                    isa.cholesky_update_solve(l.as_mut_slice(), &ten, &mut out)
                        .unwrap()
                })
            });
            group.bench_function(format!("rank10/{name}/{d}"), |b| {
                b.iter(|| {
                    isa.update(a.as_mut_slice(), &ten);
                    isa.cholesky_update(l.as_mut_slice(), &ten).unwrap()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
