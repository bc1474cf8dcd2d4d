//! Dense kernels over row-major row blocks: X·w, Xᵀ·r, XᵀDX, and checked Cholesky solves.
//!
//! The rows of a design matrix X (n×d) are stored row-major in one slice, so each kernel
//! splits the rows into blocks and runs them in parallel with rayon. The weighted Gram
//! matrix XᵀDX, the Hessian's O(n·d²) part, goes through `matrixmultiply`'s blocked GEMM
//! per row block (a dot-product loop, such as nalgebra's `tr_mul`, is about 25× slower at
//! n = 60,000, d = 784). `matrixmultiply`'s own `threading` feature stays off: the
//! parallelism is over row blocks.
//!
//! # Same bits for any thread count
//!
//! Every sum over rows is computed in one fixed order ([`ordered_sum`]): the rows are cut
//! into blocks whose size is a constant ([`BLOCK_ROWS`], [`GRAM_LEAF_ROWS`]), each block's
//! partial sum runs sequentially over its rows, the partials are computed in parallel and
//! then added strictly in block order. Neither the block boundaries nor the order of the
//! additions depend on rayon's work splitting, so the result is the same to the last bit
//! at any thread count and under any schedule — what `verify` (which regenerates published
//! weights bit for bit) and a re-solve that must equal a retrain rely on. (rayon's
//! `fold`/`reduce`/`sum` combine partials in an order set by its adaptive splitting, which
//! varies with the thread count and from run to run.)
//!
//! The rounding bounds of [`crate::bounds`] use γ_k-style bounds that hold for *any*
//! summation order (Higham, *Accuracy and Stability*, §3.1 and §4.2), so they cover this
//! order as they covered rayon's.

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use rayon::prelude::*;
use std::ops::Range;

/// Rows per block of the O(n·d) kernels: large enough that a block's work dwarfs the
/// cost of adding its partial (d values), small enough for the cache and for load balance
/// on a few cores. A constant: the summation order must not depend on the thread count.
pub const BLOCK_ROWS: usize = 256;

/// Rows per partial Gram matrix in [`weighted_gram`] (four blocks): each partial costs a
/// d×d zeroing and addition besides its GEMM of 1,024·d² multiply-adds, about 0.2 % more.
/// A constant, for the same reason as [`BLOCK_ROWS`].
pub const GRAM_LEAF_ROWS: usize = 4 * BLOCK_ROWS;

/// Number of blocks of `size` rows that cover `n` rows (the last may be shorter).
pub fn block_count(n: usize, size: usize) -> usize {
    n.div_ceil(size)
}

/// The rows of block `k` of `size` rows among `n`.
pub fn block_rows(k: usize, size: usize, n: usize) -> Range<usize> {
    k * size..((k + 1) * size).min(n)
}

/// zero + p₀ + p₁ + … + p_{count−1}, added strictly left to right, with p_k = `partial(k)`
/// computed in parallel, at most `at_once` at a time (to bound the memory of large
/// partials; the waves change only when partials are computed, never the order they are
/// added in). The result does not depend on the thread count or the schedule.
pub fn ordered_sum<T: Send>(
    count: usize,
    at_once: usize,
    zero: T,
    partial: impl Fn(usize) -> T + Sync + Send,
    mut add: impl FnMut(&mut T, T),
) -> T {
    let mut total = zero;
    let wave = at_once.max(1);
    let mut start = 0;
    while start < count {
        let end = count.min(start.saturating_add(wave));
        let partials: Vec<T> = (start..end).into_par_iter().map(&partial).collect();
        for p in partials {
            add(&mut total, p);
        }
        start = end;
    }
    total
}

/// a += b elementwise.
pub fn add_assign(a: &mut [f64], b: &[f64]) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
}

/// Errors of the factorizations.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum LinalgError {
    /// The matrix has a NaN or infinite entry.
    #[error("the {dim}×{dim} matrix has a non-finite entry")]
    NonFinite {
        /// Its dimension.
        dim: usize,
    },
    /// Cholesky failed: the matrix is not (numerically) positive definite.
    #[error("the {dim}×{dim} matrix is not positive definite (Cholesky failed)")]
    NotPositiveDefinite {
        /// Its dimension.
        dim: usize,
    },
}

/// xᵀy for two slices of equal length, with four independent accumulators so the
/// compiler can vectorise it.
pub fn dot(x: &[f64], y: &[f64]) -> f64 {
    debug_assert_eq!(x.len(), y.len());
    let mut acc = [0.0; 4];
    let (xc, xr) = x.split_at(x.len() - x.len() % 4);
    let (yc, yr) = y.split_at(xc.len());
    for (a, b) in xc.chunks_exact(4).zip(yc.chunks_exact(4)) {
        for k in 0..4 {
            acc[k] += a[k] * b[k];
        }
    }
    let tail: f64 = xr.iter().zip(yr).map(|(a, b)| a * b).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// z = X·w: one margin per row. `rows` holds n rows of `w.len()` values.
pub fn margins(rows: &[f64], w: &DVector<f64>) -> Vec<f64> {
    let d = w.len();
    let w = w.as_slice();
    let mut z = Vec::new();
    rows.par_chunks(d.max(1))
        .map(|x| dot(x, w))
        .collect_into_vec(&mut z);
    z
}

/// Xᵀ·r = Σ_i r_i·x_i.
pub fn transpose_times(rows: &[f64], d: usize, r: &[f64]) -> DVector<f64> {
    combine_rows(rows, d, r, |_, ri| ri)
}

/// XᵀD(Xv) = Σ_i s_i·(x_iᵀv)·x_i: the product of the weighted Gram matrix with a vector,
/// fused into one pass over the rows (each row is read once, while it is in cache), O(n·d).
pub fn weighted_gram_times(rows: &[f64], d: usize, s: &[f64], v: &[f64]) -> DVector<f64> {
    combine_rows(rows, d, s, |x, si| si * dot(x, v))
}

/// Σ_i c(x_i, a_i)·x_i over row blocks in parallel, added in block order
/// ([`ordered_sum`]): the one pass behind Xᵀr and XᵀD(Xv).
fn combine_rows(
    rows: &[f64],
    d: usize,
    a: &[f64],
    coefficient: impl Fn(&[f64], f64) -> f64 + Sync + Send,
) -> DVector<f64> {
    let n = a.len();
    debug_assert_eq!(rows.len(), n * d);
    let sum = ordered_sum(
        block_count(n, BLOCK_ROWS),
        usize::MAX,
        vec![0.0; d],
        |k| {
            let range = block_rows(k, BLOCK_ROWS, n);
            let mut acc = vec![0.0; d];
            let block = &rows[range.start * d..range.end * d];
            for (x, &ai) in block.chunks_exact(d.max(1)).zip(&a[range]) {
                let c = coefficient(x, ai);
                for (s, &xj) in acc.iter_mut().zip(x) {
                    *s += c * xj;
                }
            }
            acc
        },
        |total, p| add_assign(total, &p),
    );
    DVector::from_vec(sum)
}

/// XᵀDX = Σ_i s_i·x_i·x_iᵀ for non-negative weights s (D = diag(s)).
///
/// Each leaf of [`GRAM_LEAF_ROWS`] rows is scaled to rows √s_i·x_i and multiplied out as
/// BᵀB with a blocked GEMM; the leaves' d×d partials are added in leaf order
/// ([`ordered_sum`]), two per thread in flight.
pub fn weighted_gram(rows: &[f64], d: usize, s: &[f64]) -> DMatrix<f64> {
    debug_assert!(s.iter().all(|&si| si >= 0.0));
    let n = s.len();
    debug_assert_eq!(rows.len(), n * d);
    let mut gram = ordered_sum(
        block_count(n, GRAM_LEAF_ROWS),
        2 * rayon::current_num_threads(),
        DMatrix::<f64>::zeros(d, d),
        |k| {
            let range = block_rows(k, GRAM_LEAF_ROWS, n);
            let mut scaled = Vec::with_capacity(range.len() * d);
            let block = &rows[range.start * d..range.end * d];
            for (x, &si) in block.chunks_exact(d.max(1)).zip(&s[range.clone()]) {
                let r = si.sqrt();
                scaled.extend(x.iter().map(|v| r * v));
            }
            let mut partial = DMatrix::zeros(d, d);
            gram_accumulate(&mut partial, &scaled, range.len(), d);
            partial
        },
        |total, p| *total += p,
    );
    mirror_lower(&mut gram);
    gram
}

/// Column tile of the symmetric Gram product: the lower-triangular tiles are computed and
/// the upper ones mirrored, which saves almost half the flops of a full GEMM.
const GRAM_TILE: usize = 128;

/// Lower triangle (tile-wise) of acc += BᵀB for B an m×d row-major block. Call
/// [`mirror_lower`] once all blocks are accumulated.
fn gram_accumulate(acc: &mut DMatrix<f64>, block: &[f64], m: usize, d: usize) {
    assert_eq!(block.len(), m * d);
    assert_eq!(acc.shape(), (d, d));
    let d_i = d as isize;
    for j0 in (0..d).step_by(GRAM_TILE) {
        let nj = GRAM_TILE.min(d - j0);
        for i0 in (j0..d).step_by(GRAM_TILE) {
            let ni = GRAM_TILE.min(d - i0);
            // SAFETY: A = (columns i0..i0+ni of B)ᵀ, an ni×m view with element (i, r) at
            // block[r·d + i0 + i] (rsa = 1, csa = d); B' = columns j0..j0+nj of B, an m×nj
            // view with element (r, j) at block[r·d + j0 + j] (rsb = d, csb = 1);
            // C = acc[i0.., j0..], an ni×nj view of the column-major d×d matrix (rsc = 1,
            // csc = d). All offsets stay inside the buffers checked above; C does not alias
            // A or B'.
            unsafe {
                matrixmultiply::dgemm(
                    ni,
                    m,
                    nj,
                    1.0,
                    block.as_ptr().add(i0),
                    1,
                    d_i,
                    block.as_ptr().add(j0),
                    d_i,
                    1,
                    1.0,
                    acc.as_mut_ptr().add(i0 + j0 * d),
                    1,
                    d_i,
                );
            }
        }
    }
}

/// Copies the lower tiles of a tile-wise lower-triangular Gram matrix to the upper part.
fn mirror_lower(acc: &mut DMatrix<f64>) {
    let d = acc.nrows();
    for j in 0..d {
        for i in 0..j {
            acc[(i, j)] = acc[(j, i)];
        }
    }
}

/// Cholesky factorisation of a symmetric matrix, refusing non-finite or indefinite input.
pub fn cholesky(h: DMatrix<f64>) -> Result<Cholesky<f64, Dyn>, LinalgError> {
    let dim = h.nrows();
    if h.iter().any(|v| !v.is_finite()) {
        return Err(LinalgError::NonFinite { dim });
    }
    let factor = Cholesky::new(h).ok_or(LinalgError::NotPositiveDefinite { dim })?;
    if factor.l_dirty().iter().any(|v| !v.is_finite()) {
        return Err(LinalgError::NotPositiveDefinite { dim });
    }
    Ok(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, d: usize) -> Vec<f64> {
        (0..n * d)
            .map(|k| ((k * 37 % 101) as f64 - 50.0) / 50.0)
            .collect()
    }

    #[test]
    fn kernels_match_nalgebra_products() {
        let (n, d) = (700, 13); // several blocks, one partial
        let data = rows(n, d);
        let x = DMatrix::from_row_slice(n, d, &data);
        let w = DVector::from_fn(d, |j, _| (j as f64).sin());
        let s: Vec<f64> = (0..n).map(|i| (i % 7) as f64 / 3.0).collect();
        // Entries are sums of at most n = 700 products of magnitude ≤ 2.4 (|x| ≤ 1, |s| ≤ 2,
        // |w| ≤ 1); any summation order is within n·u·Σ|terms| ≤ 700·1.2e-16·1700 ≈ 1.4e-10
        // of the exact value, so both implementations agree within 1e-9.
        let z = margins(&data, &w);
        assert!((DVector::from_vec(z) - &x * &w).amax() < 1e-12);
        let r = DVector::from_vec(s.clone());
        assert!((transpose_times(&data, d, &s) - x.transpose() * &r).amax() < 1e-10);
        let expected = x.transpose() * DMatrix::from_diagonal(&r) * &x;
        assert!((weighted_gram(&data, d, &s) - &expected).amax() < 1e-9);
        assert!((weighted_gram_times(&data, d, &s, w.as_slice()) - &expected * &w).amax() < 1e-9);
    }

    /// Every row-sum kernel gives the same bits in pools of 1, 2 and 3 threads, on a size
    /// with several blocks, several Gram leaves and partial last ones (rayon's fold/reduce
    /// did not: its combine order follows the work splitting).
    #[test]
    fn kernels_have_the_same_bits_at_any_thread_count() {
        let (n, d) = (2_900, 9);
        let data = rows(n, d);
        let s: Vec<f64> = (0..n).map(|i| ((i * 13 % 29) as f64).sqrt()).collect();
        let v: Vec<f64> = (0..d).map(|j| (j as f64 * 0.7).cos()).collect();
        let bits = |m: &[f64]| m.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                [
                    bits(transpose_times(&data, d, &s).as_slice()),
                    bits(weighted_gram_times(&data, d, &s, &v).as_slice()),
                    bits(weighted_gram(&data, d, &s).as_slice()),
                ]
            })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }

    #[test]
    fn cholesky_refuses_indefinite_and_nan() {
        let m = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 2.0, 1.0]);
        assert!(matches!(
            cholesky(m),
            Err(LinalgError::NotPositiveDefinite { dim: 2 })
        ));
        let m = DMatrix::from_row_slice(1, 1, &[f64::NAN]);
        assert!(matches!(
            cholesky(m),
            Err(LinalgError::NonFinite { dim: 1 })
        ));
    }
}
