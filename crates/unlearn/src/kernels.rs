//! The O(d²) kernels of the pass-free removal step, on the lower triangle of a column-major
//! d×d matrix (a `DMatrix`'s storage: column j is `a[j·d .. (j+1)·d]`, its significant part
//! rows j..d), with runtime CPU dispatch.
//!
//! - [`Isa::symv`]: y = A·x from the lower triangle, one read pass;
//! - [`Isa::update_symv`]: A ← A + Σ_k c_k·x_k·x_kᵀ and y = A·x in the *same* pass, the
//!   update column by column while the column is in L1: a rank-m update and a product for
//!   the price of one read-write pass. The removal path queues Ĥ₀'s rows and calls it only
//!   to fold them, every [`crate::hessian_cache::HESSIAN_FOLD_ROWS`] rows (m ≥ 32); every
//!   other step reads Ĥ₀ with [`Isa::symv`];
//! - [`Isa::cholesky_update`]: L ← the factor of LLᵀ + Σ_k σ_k·x_k·x_kᵀ (σ_k < 0:
//!   downdates) in one pass over L — one row by Eigen's and nalgebra's
//!   `llt_rank_update_lower` recurrence, m ≥ 2 rows at once by the product form of Gill,
//!   Golub, Murray & Saunders (`generic::cholesky_block_update_solve`: 2m + 1
//!   multiply-adds per entry, independent across the m rows, where m successive rotations
//!   take 3m in one dependent chain), checked: a pivot that stops being finite and positive
//!   is reported, never left behind silently;
//! - [`Isa::cholesky_update_solve`]: the same pass also runs the forward solve Ly = b with
//!   the updated columns; [`Isa::backward_solve`] solves Lᵀx = y (a second read pass);
//! - [`Isa::sum`]: Σ x_i, to time the memory floor ([`crate::bench::floor_seconds`]).
//!
//! # Dispatch
//! Each kernel is written once, generic over whether it may fuse a multiply and an add
//! (`FMA`), with fixed-width blocks of independent accumulators that the compiler turns
//! into vector code. It is compiled three times: as is (the baseline target, SSE2 on
//! x86-64), and inside `#[target_feature(enable = "avx2,fma")]` and
//! `#[target_feature(enable = "avx512f,avx2,fma")]` functions, called only when
//! `is_x86_feature_detected!` reports those features. No `target-cpu=native`: one binary
//! runs on any x86-64. [`Isa::detect`] picks the one the removal path uses;
//! [`Isa::available`] lists every one this CPU runs (tests run them all on one machine).
//!
//! # Blocking
//! The product and the triangular solves walk the columns in blocks of `COLS` (4): the
//! vector a column-by-column loop would read-modify-write once per column (y in the
//! product, b in the forward solve) or read once per column (x in the product and the
//! backward solve) is touched once per block, in registers for 4 rows (the product) or
//! 8 rows (the solves) at a time, so each matrix entry costs one load and a fraction of
//! a vector load. The register blocks are four-lane vectors (`generic::V`) with one
//! accumulator per column and vector, summed across lanes behind a call
//! (`generic::lane_sums`): written as plain arrays with the horizontal sums inlined, the
//! compiler vectorised across the block's columns instead of along the rows (shuffles
//! and spills in the backward solve and the product, BENCHMARKS.md issue 13
//! "kernels4"). The row loop reads its operands as slices of register blocks all cut to
//! the first column's count of blocks, so the compiler proves every index in range and
//! the loop carries no bounds checks (with them, every 4 rows of the product paid a compare
//! and a branch per column and per vector operand: 12 branches beside 8 multiply-adds,
//! BENCHMARKS.md "The read kernels on Zen 4"). A block's sums over the rows below it are
//! taken in one fixed order: per column, vector accumulator h of VECS (1 in the product,
//! 2 in the backward solve) adds lane t's rows end + 4·(VECS·k + h) + t for k = 0, 1, …
//! in turn; the VECS accumulators are then added to zero in order, the four lanes in
//! `generic::reduce`'s pairwise tree, and the last (rows mod 4·VECS) rows one by one in a
//! separate sum added last. The first cache line of the next block's columns is
//! prefetched: a block starts with its pivots (or its diagonal entries), a dependent chain
//! that otherwise waits on L3 for each block's first line. The forward solve
//! gives each b_i the same operations in the same order as column-by-column substitution
//! (the fused downdate + solve and the plain solve still agree bit for bit); the product's
//! and the backward solve's sums change order, which no bound depends on (below).
//! A single row's factor update is column-blocked the same way, in blocks of 8 columns
//! (`ONE_COLS`): per block, the block's triangle first (pivots, rotations, solve steps),
//! then the rows below with the work row's and b's entries in registers across the block's
//! columns, 8 rows at a time (16 under AVX-512) — each entry still gets column j's rotation
//! after column j−1's, so the factor and b are bit for bit the column-by-column ones. The
//! next block's pivots (a dependent chain of divisions and a square root) are interleaved
//! with the current block's row blocks, so that the chain runs beside them. A batch (m ≥ 2) is blocked the same way, with
//! the m rows' entries of S = W − L·P (the product form's forward solve) in registers
//! across the block's columns, G of them at a time; each entry again gets its operations
//! in the column-by-column order. Its shape is 4 columns × 4 rows per register block (G ≤ 6)
//! under AVX2 and the baseline, 8 × 8 (G ≤ 10) under AVX-512's 32 registers: the same bits
//! either way. It prefetches the next block's column heads like the product: the pivot
//! chain of each column starts with the load of its diagonal, which no earlier pass touched
//! (17 % of the kernel's samples stalled there without it, BENCHMARKS.md "The batch,
//! round 3").
//!
//! # Rounding and determinism
//! Every bound the proofs use for these kernels is a γ_k bound that holds for any
//! summation order and with or without fused multiply-adds (an FMA rounds once where a
//! multiply and an add round twice; Higham, *Accuracy and Stability*, §2.6 and §3.1):
//! - an entry of A·x is a sum of d products: |fl − exact| ≤ γ_d·Σ_j |a_ij|·|x_j|;
//! - an entry of the rank-m update receives its m terms one after another, each
//!   s = fl(c_k·x_kj) then fl(a + s·x_ki): at most three roundings per row, the γ₃ per row
//!   that [`crate::hessian_cache`] charges, in the same order as m rank-one updates;
//! - the triangular solves and the factor update are not bounded at all: the pass-free step
//!   measures its residual against Ĥ₀, never against the factor (proofs/pass_free_step.md).
//!
//! The kernels are sequential: no thread schedule enters, so the bits are the same at any
//! thread count. They may differ between an AVX2/FMA machine and a portable one (fused
//! versus separate roundings, within the same bounds); nothing compares them across
//! machines: `verify` checks a ledger against the bounds it records and regenerates
//! releases from the recorded secret weights, never by re-running removal steps.

/// Width of the blocks of independent accumulators and lanes: 16 f64 are four 256-bit
/// registers, enough to hide the four-cycle latency of a dependent FMA chain.
const LANES: usize = 16;

/// Rows per block of a rank-m update's entries: eight 256-bit registers of independent
/// entries, each carrying a chain of m dependent multiply-adds (two per rotation), so that one block's chains fill the FMA
/// units' four-cycle latency twice over (LANES fills it once: the rank-10 factor downdate
/// ran slower at LANES in the kernel benchmark, BENCHMARKS.md "kernels3").
const BATCH_LANES: usize = 2 * LANES;

/// Rows per register block of the blocked rank-m factor update
/// ([`generic::cholesky_block_update_solve`]): one 256-bit register per column of the block
/// of [`COLS`] columns of L, per accumulator, and per row of S of a group of at most
/// [`GROUP_MAX`] — 4 + 4 + GROUP_MAX of AVX2's 16 registers, the rest for broadcasts.
const BLOCK_ROWS: usize = 4;

/// Most rows of S per register group of the blocked rank-m factor update (a batch of m
/// rows goes in ⌈m/GROUP_MAX⌉ groups as even as possible; m = 10: two of five).
const GROUP_MAX: usize = 6;

/// The blocked rank-m factor update's shape under AVX-512 (32 registers of 8 lanes):
/// register blocks of WIDE_ROWS rows, blocks of WIDE_COLS columns of L, groups of up to
/// GROUP_MAX_WIDE rows of S — 8 + 8 + 10 of the 32 registers (the scalars are broadcast
/// from memory inside the multiply-adds). A batch of 10 is one group: S is loaded and
/// stored once per block of 8 columns, not twice per block of 4.
const WIDE_ROWS: usize = 8;
/// See [`WIDE_ROWS`].
const WIDE_COLS: usize = 8;
/// See [`WIDE_ROWS`].
const GROUP_MAX_WIDE: usize = 10;

/// Columns per block in the column-blocked kernels (the product and the triangular solves):
/// the vector they read-modify-write, or read, is touched once per block, not per column.
const COLS: usize = 4;

/// Columns per block of a single row's factor update ([`generic::rank_one_update_solve`]):
/// the work row and b are loaded and stored once per block of 8 columns (4 columns ran
/// 5–10 % slower on Zen 4, 12 slower still: BENCHMARKS.md, "The rank-1 factor pass on
/// Zen 4").
const ONE_COLS: usize = 8;
/// Rows per register block of a single row's factor update: two 256-bit registers each of
/// the work row and of b, the rest of AVX2's 16 for the column's entries (16 rows spill).
const ONE_ROWS: usize = 8;
/// [`ONE_COLS`] under AVX-512.
const ONE_COLS_WIDE: usize = 8;
/// [`ONE_ROWS`] under AVX-512: two 512-bit registers each of the work row and of b.
const ONE_ROWS_WIDE: usize = 16;

/// Runs `generic::$kernel::<FMA>` compiled for the chosen instruction set (a kernel with a
/// further const parameter names its portable value: `kernel::<value>(args)`).
macro_rules! dispatch {
    ($isa:expr, $kernel:ident $(::<$portable:literal>)? ($($arg:expr),*)) => {
        match $isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => {
                // SAFETY: `Isa::Avx2Fma` is only produced by `Isa::detect` after
                // `is_x86_feature_detected!` reported both AVX2 and FMA.
                unsafe { avx2::$kernel($($arg),*) }
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                // SAFETY: `Isa::Avx512` is only produced by `Isa::detect` after
                // `is_x86_feature_detected!` reported AVX-512F, AVX2 and FMA.
                unsafe { avx512::$kernel($($arg),*) }
            }
            _ => generic::$kernel::<false $(, $portable)?>($($arg),*),
        }
    };
}

/// The instruction sets a kernel can run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// The baseline target (SSE2 on x86-64), separate multiplies and adds.
    Portable,
    /// AVX2 with fused multiply-add (x86-64, detected at run time).
    Avx2Fma,
    /// AVX-512F (512-bit vectors, 32 registers) with fused multiply-add (x86-64, detected at
    /// run time; offered by [`Isa::available`], not chosen by [`Isa::detect`]).
    Avx512,
}

impl Isa {
    /// The instruction set the removal path uses: AVX2/FMA where present, else portable.
    /// Not AVX-512 even where present: on this project's benchmark machine (Xeon, AVX-512F)
    /// its 512-bit code ran the compute-bound rank-10 factor downdate and the rank-1
    /// downdate no faster than the AVX2 code in two runs out of two (BENCHMARKS.md, issue 13
    /// "kernels2"), and on an AMD Zen 4 VM the batch's 8 × 8 shape was 18 % faster in some
    /// processes and 20–28 % slower in others, by the vCPU it ran on ("The batch on Zen 4");
    /// [`Isa::available`] still offers it, so tests check it and the kernel benchmark
    /// re-measures it on every CPU that has it.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return Isa::Avx2Fma;
        }
        Isa::Portable
    }

    /// Every instruction set this CPU can run, the portable one first (for tests and
    /// benchmarks that compare them on one machine).
    pub fn available() -> Vec<Isa> {
        let mut isas = vec![Isa::Portable];
        #[cfg(target_arch = "x86_64")]
        if Isa::detect() == Isa::Avx2Fma {
            isas.push(Isa::Avx2Fma);
            if std::is_x86_feature_detected!("avx512f") {
                isas.push(Isa::Avx512);
            }
        }
        isas
    }

    /// Σ x_i.
    pub fn sum(self, x: &[f64]) -> f64 {
        dispatch!(self, sum(x))
    }

    /// y = A·x for A symmetric with its lower triangle in the column-major `a` (d×d).
    pub fn symv(self, a: &[f64], x: &[f64], y: &mut [f64]) {
        check_square(a, x.len());
        assert_eq!(y.len(), x.len(), "symv: y has the wrong length");
        dispatch!(self, update_symv(AMut::Read(a), &Update::NONE, x, y))
    }

    /// A ← A + Σ_k c_k·x_k·x_kᵀ (lower triangle) and then y = A·x, in one pass over A.
    pub fn update_symv(self, a: &mut [f64], update: &Update<'_>, x: &[f64], y: &mut [f64]) {
        check_square(a, x.len());
        update.check(x.len());
        assert_eq!(y.len(), x.len(), "update_symv: y has the wrong length");
        dispatch!(self, update_symv(AMut::Write(a), update, x, y))
    }

    /// A ← A + Σ_k c_k·x_k·x_kᵀ (lower triangle), one pass over A.
    pub fn update(self, a: &mut [f64], update: &Update<'_>) {
        let Some(d) = update.rows.first().map(|r| r.len()) else {
            return;
        };
        check_square(a, d);
        update.check(d);
        dispatch!(self, update(a, update, d))
    }

    /// L ← the lower Cholesky factor of LLᵀ + Σ_k c_k·x_k·x_kᵀ, one pass over L. On
    /// `Err(j)` the pivot of column j stopped being finite and positive (the updated matrix
    /// is not numerically positive definite); L is then partly updated and must be
    /// recomputed.
    pub fn cholesky_update(self, l: &mut [f64], update: &Update<'_>) -> Result<(), usize> {
        let Some(d) = update.rows.first().map(|r| r.len()) else {
            return Ok(());
        };
        check_square(l, d);
        update.check(d);
        dispatch!(self, factor_update_solve::<false>(l, update, d, None))
    }

    /// [`Isa::cholesky_update`], and in the same pass the forward solve: b ← L′⁻¹b with the
    /// updated factor L′.
    pub fn cholesky_update_solve(
        self,
        l: &mut [f64],
        update: &Update<'_>,
        b: &mut [f64],
    ) -> Result<(), usize> {
        check_square(l, b.len());
        update.check(b.len());
        let d = b.len();
        dispatch!(self, factor_update_solve::<false>(l, update, d, Some(b)))
    }

    /// b ← L⁻¹b (forward substitution with the lower triangle of `l`).
    pub fn forward_solve(self, l: &[f64], b: &mut [f64]) {
        check_square(l, b.len());
        dispatch!(self, forward_solve(l, b))
    }

    /// b ← L⁻ᵀb (backward substitution with the transpose of the lower triangle of `l`).
    pub fn backward_solve(self, l: &[f64], b: &mut [f64]) {
        check_square(l, b.len());
        dispatch!(self, backward_solve(l, b))
    }
}

/// A symmetric update Σ_k c_k·x_k·x_kᵀ of rank m = `rows.len()`: one coefficient per row.
#[derive(Debug, Clone, Copy)]
pub struct Update<'a> {
    /// c_k.
    pub coefficients: &'a [f64],
    /// x_k, each of length d.
    pub rows: &'a [&'a [f64]],
}

impl Update<'_> {
    /// The empty update.
    pub const NONE: Update<'static> = Update {
        coefficients: &[],
        rows: &[],
    };

    fn check(&self, d: usize) {
        assert_eq!(
            self.coefficients.len(),
            self.rows.len(),
            "one coefficient per updating row"
        );
        assert!(
            self.rows.iter().all(|r| r.len() == d),
            "every updating row has length {d}"
        );
    }
}

/// y = A·x with the detected instruction set.
pub fn symv(a: &[f64], x: &[f64], y: &mut [f64]) {
    Isa::detect().symv(a, x, y)
}

/// Σ x_i with the detected instruction set.
pub fn sum(x: &[f64]) -> f64 {
    Isa::detect().sum(x)
}

fn check_square(a: &[f64], d: usize) {
    assert_eq!(a.len(), d * d, "a {d}×{d} column-major matrix");
}

/// The matrix of [`generic::update_symv`]: written when there is an update, only read
/// otherwise (so that [`Isa::symv`] can take a shared borrow).
enum AMut<'a> {
    Read(&'a [f64]),
    Write(&'a mut [f64]),
}

impl AMut<'_> {
    fn values(&self) -> &[f64] {
        match self {
            AMut::Read(a) => a,
            AMut::Write(a) => a,
        }
    }
}

/// A module of the generic kernels instantiated inside functions compiled with
/// `$features` (each `unsafe` to call: the caller checks the features are present); `$wide`
/// gives a batch's factor update the AVX-512 shape ([`WIDE_ROWS`]).
macro_rules! isa_module {
    ($name:ident, $features:literal, $wide:literal) => {
        #[cfg(target_arch = "x86_64")]
        mod $name {
            use super::{AMut, Update, generic};

            #[target_feature(enable = $features)]
            pub(super) fn sum(x: &[f64]) -> f64 {
                generic::sum::<true>(x)
            }

            #[target_feature(enable = $features)]
            pub(super) fn update_symv(a: AMut<'_>, update: &Update<'_>, x: &[f64], y: &mut [f64]) {
                generic::update_symv::<true>(a, update, x, y)
            }

            #[target_feature(enable = $features)]
            pub(super) fn update(a: &mut [f64], update: &Update<'_>, d: usize) {
                generic::update::<true>(a, update, d)
            }

            #[target_feature(enable = $features)]
            pub(super) fn factor_update_solve(
                l: &mut [f64],
                update: &Update<'_>,
                d: usize,
                b: Option<&mut [f64]>,
            ) -> Result<(), usize> {
                generic::factor_update_solve::<true, $wide>(l, update, d, b)
            }

            #[target_feature(enable = $features)]
            pub(super) fn forward_solve(l: &[f64], b: &mut [f64]) {
                generic::forward_solve::<true>(l, b)
            }

            #[target_feature(enable = $features)]
            pub(super) fn backward_solve(l: &[f64], b: &mut [f64]) {
                generic::backward_solve::<true>(l, b)
            }
        }
    };
}

isa_module!(avx2, "avx2,fma", false);
isa_module!(avx512, "avx512f,avx2,fma", true);

/// The kernels, written once. `#[inline(always)]` so that each is compiled into its caller's
/// target features.
mod generic {
    use super::{
        AMut, BATCH_LANES, BLOCK_ROWS, COLS, GROUP_MAX, GROUP_MAX_WIDE, LANES, ONE_COLS,
        ONE_COLS_WIDE, ONE_ROWS, ONE_ROWS_WIDE, Update, WIDE_COLS, WIDE_ROWS,
    };

    /// a·b + c: one rounding with FMA, two without.
    #[inline(always)]
    fn madd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
        if FMA { a.mul_add(b, c) } else { a * b + c }
    }

    /// y ← y + s·x.
    #[inline(always)]
    fn axpy<const FMA: bool>(s: f64, x: &[f64], y: &mut [f64]) {
        for (yi, &xi) in y.iter_mut().zip(x) {
            *yi = madd::<FMA>(s, xi, *yi);
        }
    }

    /// xᵀy with LANES independent accumulators, added pairwise at the end.
    #[inline(always)]
    fn dot<const FMA: bool>(x: &[f64], y: &[f64]) -> f64 {
        let mut acc = [0.0; LANES];
        let split = x.len() - x.len() % LANES;
        for (a, b) in x[..split]
            .chunks_exact(LANES)
            .zip(y[..split].chunks_exact(LANES))
        {
            for k in 0..LANES {
                acc[k] = madd::<FMA>(a[k], b[k], acc[k]);
            }
        }
        let mut tail = 0.0;
        for (a, b) in x[split..].iter().zip(&y[split..]) {
            tail = madd::<FMA>(*a, *b, tail);
        }
        reduce(acc) + tail
    }

    /// Pairwise sum of the accumulators (a fixed tree; N a power of two).
    #[inline(always)]
    fn reduce<const N: usize>(mut acc: [f64; N]) -> f64 {
        let mut width = N;
        while width > 1 {
            width /= 2;
            for k in 0..width {
                acc[k] += acc[k + width];
            }
        }
        acc[0]
    }

    /// Asks for the first cache line of each of the next block's C columns (from column
    /// `next`): a block starts at its pivots, a dependent chain that would otherwise wait
    /// for each column's first line to come from L3 (the factor and Ĥ₀ do not fit in L2
    /// together); the hardware prefetchers follow each column once it is being read. A hint
    /// only: no effect on any value.
    #[inline(always)]
    fn prefetch_heads<const C: usize>(a: &[f64], d: usize, next: usize) {
        #[cfg(target_arch = "x86_64")]
        for c in next..(next + C).min(d) {
            let head: *const f64 = &a[c * d + c];
            // SAFETY: a prefetch never faults and changes no state the program can observe;
            // `head` points into `a` (the index is bounds-checked above).
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(head.cast())
            };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (a, d, next);
    }

    #[inline(always)]
    pub(super) fn sum<const FMA: bool>(x: &[f64]) -> f64 {
        let mut acc = [0.0; LANES];
        let split = x.len() - x.len() % LANES;
        for a in x[..split].chunks_exact(LANES) {
            for k in 0..LANES {
                acc[k] += a[k];
            }
        }
        reduce(acc) + x[split..].iter().sum::<f64>()
    }

    /// Column j's significant part gets the update: a_ij += Σ_k (c_k·x_kj)·x_ki for i ≥ j,
    /// the k-th term added after the (k−1)-th, each row block kept in registers across the
    /// m terms.
    #[inline(always)]
    fn update_column<const FMA: bool>(col: &mut [f64], j: usize, update: &Update<'_>) {
        let m = update.rows.len();
        if m == 0 {
            return;
        }
        const SCALES: usize = 16;
        // Scales s_k = c_k·x_kj, in groups of SCALES rows (a batch larger than that goes
        // over the column again per group; the column is in L1).
        for group in (0..m).step_by(SCALES) {
            let end = (group + SCALES).min(m);
            let mut scales = [0.0; SCALES];
            for k in group..end {
                scales[k - group] = update.coefficients[k] * update.rows[k][j];
            }
            let len = col.len();
            let split = len - len % BATCH_LANES;
            let mut i = 0;
            while i < split {
                let mut acc = [0.0; BATCH_LANES];
                acc.copy_from_slice(&col[i..i + BATCH_LANES]);
                for k in group..end {
                    let x = &update.rows[k][j + i..j + i + BATCH_LANES];
                    let s = scales[k - group];
                    for t in 0..BATCH_LANES {
                        acc[t] = madd::<FMA>(s, x[t], acc[t]);
                    }
                }
                col[i..i + BATCH_LANES].copy_from_slice(&acc);
                i += BATCH_LANES;
            }
            for (t, c) in col[split..].iter_mut().enumerate() {
                for k in group..end {
                    *c = madd::<FMA>(scales[k - group], update.rows[k][j + split + t], *c);
                }
            }
        }
    }

    #[inline(always)]
    pub(super) fn update<const FMA: bool>(a: &mut [f64], update: &Update<'_>, d: usize) {
        for j in 0..d {
            update_column::<FMA>(&mut a[j * d + j..(j + 1) * d], j, update);
        }
    }

    /// Columns in blocks of [`COLS`]: the diagonal block's entries one by one, then
    /// [`block_products`] for the rows below it: y_i += Σ_c a_ic·x_c and
    /// y_c += Σ_{i} a_ic·x_i, so y's read-modify-write and the loads of x are shared by the
    /// block's columns. Each column of the block gets the update first ([`update_column`]),
    /// while the block is in L1, before the product reads it.
    #[inline(always)]
    pub(super) fn update_symv<const FMA: bool>(
        mut a: AMut<'_>,
        update: &Update<'_>,
        x: &[f64],
        y: &mut [f64],
    ) {
        let d = x.len();
        y.fill(0.0);
        for j in (0..d).step_by(COLS) {
            let end = (j + COLS).min(d);
            prefetch_heads::<COLS>(a.values(), d, end);
            if let AMut::Write(a) = &mut a {
                for c in j..end {
                    update_column::<FMA>(&mut a[c * d + c..(c + 1) * d], c, update);
                }
            }
            {
                let a = a.values();
                for c in j..end {
                    y[c] = madd::<FMA>(a[c * d + c], x[c], y[c]);
                    for i in c + 1..end {
                        let aic = a[c * d + i];
                        y[i] = madd::<FMA>(aic, x[c], y[i]);
                        y[c] = madd::<FMA>(aic, x[i], y[c]);
                    }
                }
            }
            if end == d {
                // The last block (the only one that may be partial) has no rows below.
                break;
            }
            let (head, below) = y.split_at_mut(end);
            let xc = std::array::from_fn(|t| x[j + t]);
            let a = a.values();
            let cols = std::array::from_fn(|t| &a[(j + t) * d + end..(j + t + 1) * d]);
            let dots = block_products::<FMA, COLS, 1, true, true>(cols, xc, &x[end..], below);
            for c in j..end {
                head[c] += dots[c - j];
            }
        }
    }

    /// Four f64 lanes: one 256-bit register under AVX2 (two 128-bit ones on the baseline).
    /// The register blocks of [`block_products`] are written in these so that the compiler
    /// keeps each block in registers and vectorises along the rows.
    #[derive(Clone, Copy)]
    struct V([f64; 4]);

    impl V {
        const ZERO: V = V([0.0; 4]);
        const LANES: usize = 4;

        #[inline(always)]
        fn splat(x: f64) -> V {
            V([x; 4])
        }

        /// a·b + c lane by lane.
        #[inline(always)]
        fn madd<const FMA: bool>(a: V, b: V, c: V) -> V {
            V(std::array::from_fn(|k| madd::<FMA>(a.0[k], b.0[k], c.0[k])))
        }

        #[inline(always)]
        fn add(self, other: V) -> V {
            V(std::array::from_fn(|k| self.0[k] + other.0[k]))
        }
    }

    /// For B columns `cols` (each of the length of `x` or `y`) and their scalars `xc`: with
    /// SCATTER, y_i += Σ_c a_ic·xc_c for every i (the columns in order); with GATHER, returns
    /// Σ_i a_ic·x_i per column (else zeros). Blocks of 4·VECS rows kept in registers across
    /// the B columns ([`V`]): y and x are read (y written) once per block, each entry of A
    /// loaded once; the sums go into VECS·B independent vector accumulators, added at the
    /// end in a fixed order.
    #[inline(always)]
    fn block_products<
        const FMA: bool,
        const B: usize,
        const VECS: usize,
        const SCATTER: bool,
        const GATHER: bool,
    >(
        cols: [&[f64]; B],
        xc: [f64; B],
        x: &[f64],
        y: &mut [f64],
    ) -> [f64; B] {
        let len = cols[0].len();
        // Every operand cut into register blocks of VECS vectors, each cut to exactly the
        // first column's number of blocks, so that the compiler sees every index below in
        // range: no bounds check in the loop.
        fn cut<const VECS: usize>(s: &[f64]) -> &[[[f64; 4]; VECS]] {
            s.as_chunks::<4>().0.as_chunks::<VECS>().0
        }
        let blocks = cut::<VECS>(cols[0]).len();
        let split = blocks * V::LANES * VECS;
        let colv: [&[[[f64; 4]; VECS]]; B] = cols.map(|c| &cut(c)[..blocks]);
        let xv_all: &[[[f64; 4]; VECS]] = if GATHER { &cut(x)[..blocks] } else { &[] };
        let yv_all: &mut [[[f64; 4]; VECS]] = if SCATTER {
            &mut y.as_chunks_mut::<4>().0.as_chunks_mut::<VECS>().0[..blocks]
        } else {
            &mut []
        };
        let xcv = xc.map(V::splat);
        let mut acc = [[V::ZERO; VECS]; B];
        for k in 0..blocks {
            let mut yv = [V::ZERO; VECS];
            let mut xv = [V::ZERO; VECS];
            if SCATTER {
                yv = yv_all[k].map(V);
            }
            if GATHER {
                xv = xv_all[k].map(V);
            }
            for c in 0..B {
                let block = &colv[c][k];
                for h in 0..VECS {
                    let av = V(block[h]);
                    if SCATTER {
                        yv[h] = V::madd::<FMA>(av, xcv[c], yv[h]);
                    }
                    if GATHER {
                        acc[c][h] = V::madd::<FMA>(av, xv[h], acc[c][h]);
                    }
                }
            }
            if SCATTER {
                yv_all[k] = yv.map(|v| v.0);
            }
        }
        let mut tails = [0.0; B];
        for i in split..len {
            for c in 0..B {
                let a = cols[c][i];
                if SCATTER {
                    y[i] = madd::<FMA>(a, xc[c], y[i]);
                }
                if GATHER {
                    tails[c] = madd::<FMA>(a, x[i], tails[c]);
                }
            }
        }
        let lanes = acc.map(|a| a.iter().fold(V::ZERO, |s, v| s.add(*v)).0);
        let sums = lane_sums(&lanes);
        std::array::from_fn(|c| sums[c] + tails[c])
    }

    /// Each column's four accumulator lanes added in [`reduce`]'s fixed order. Not inlined
    /// on purpose: when these horizontal sums are visible inside [`block_products`], the
    /// compiler vectorises its loop across the columns instead of along the rows (one
    /// vector of four columns' entries, assembled by shuffles, per multiply-add — measured
    /// in the generated code); behind a call the accumulators are stored as four rows of
    /// one column each, and the loop keeps one column's rows per vector.
    #[inline(never)]
    fn lane_sums<const B: usize>(lanes: &[[f64; 4]; B]) -> [f64; B] {
        lanes.map(reduce)
    }

    /// The updated pivot `pivot` of column `column` if it is finite and positive, else
    /// `Err(column)`: the updated matrix is not numerically positive definite there (a NaN,
    /// zero or negative pivot), and the caller must not leave it in the factor.
    #[inline(always)]
    fn checked_pivot(pivot: f64, column: usize) -> Result<f64, usize> {
        if pivot.is_finite() && pivot > 0.0 {
            Ok(pivot)
        } else {
            Err(column)
        }
    }

    /// The scalars of one column's rotation (Eigen's and nalgebra's
    /// `llt_rank_update_lower` for one row): the work entry x ← x + a·l, then
    /// l ← t·x + s·l; `neg_b` is −b_j, the forward solve's multiplier.
    #[derive(Clone, Copy, Default)]
    struct Rotation {
        a: f64,
        s: f64,
        t: f64,
        neg_b: f64,
    }

    /// Column by column, the rank-one update of the factor by c·xxᵀ (Eigen's and nalgebra's
    /// `llt_rank_update_lower`: with β the running scale, β = 1 at the start, and p the work
    /// entry x_j, l′_jj = √(l_jj² + c·p²/β), x_i ← x_i − (p/l_jj)·l_ij,
    /// l_ij ← (l′_jj/l_jj)·l_ij + (l′_jj·c·p/(l_jj²β + c·p²))·x_i, β ← β + c·p²/l_jj²), then,
    /// with SOLVE, the forward-solve step of the finished column: b_j ← b_j/l′_jj,
    /// b_i ← b_i − b_j·l′_ij.
    ///
    /// Columns go in blocks of C: the block's pivots and its own triangle column by column
    /// ([`pivot_column`]), then the rows below it in register blocks of R rows
    /// ([`rotate_rows`]) with the work entries and b's in registers through the block's C
    /// columns — the work row and b are read and written once per block of columns instead
    /// of once per column. The next block's pivots are a dependent chain (divisions and a
    /// square root per column, 10 µs of the 80 at d = 784 when run alone): as soon as the
    /// next block's own C rows have this block's rotations, its pivots are computed one
    /// column at a time, each followed by one register block of this block's other rows,
    /// so that the out-of-order core runs the chain beside independent multiply-adds
    /// instead of after them (BENCHMARKS.md, "The rank-1 factor pass on Zen 4").
    ///
    /// Every l_ij, x_i and b_i still receives column j's operations after column j−1's, in
    /// the same order, so the result is bit for bit the column-by-column one whatever C and
    /// R are. A pivot that is not finite and positive is reported at its column, the first
    /// one in column order (the rows then left undone belong to earlier columns, whose
    /// pivots passed).
    #[inline(always)]
    fn rank_one_update_solve<const FMA: bool, const SOLVE: bool, const C: usize, const R: usize>(
        l: &mut [f64],
        coefficient: f64,
        row: &[f64],
        b: &mut [f64],
    ) -> Result<(), usize> {
        let d = row.len();
        let (mut work, mut beta) = (row.to_vec(), 1.0);
        let mut pivots = Pivots {
            coefficient,
            beta: &mut beta,
            work: &mut work,
            b,
        };
        let (mut current, mut next) = ([Rotation::default(); C], [Rotation::default(); C]);
        prefetch_heads::<C>(l, d, C);
        for (c, rotation) in current.iter_mut().enumerate().take(d) {
            pivot_column::<FMA, SOLVE>(l, d, 0, C.min(d), c, &mut pivots, rotation)?;
        }
        let mut j = 0;
        while j + C < d {
            let (start, ahead) = (j + C, (j + 2 * C).min(d));
            prefetch_heads::<C>(l, d, ahead);
            // Columns j..start (rows start..d) and, apart, the columns from `start` on.
            let (left, right) = l.split_at_mut(start * d);
            let mut columns = left[j * d..].chunks_exact_mut(d);
            let mut cols: [&mut [f64]; C] =
                std::array::from_fn(|_| &mut columns.next().expect("C columns")[start..]);
            let (len, mut i) = (d - start, ahead - start);
            let below = pivots.below::<SOLVE>(start);
            rotate_rows::<FMA, SOLVE, C, R>(&mut cols, 0..i, &current, below);
            for c in start..ahead {
                let rotation = &mut next[c - start];
                pivot_column::<FMA, SOLVE>(right, d, start, ahead, c, &mut pivots, rotation)?;
                if i + R <= len {
                    let (w, bb) = pivots.below::<SOLVE>(start);
                    i = rotate_block::<FMA, SOLVE, C, R>(&mut cols, i, i + R, &current, w, bb);
                }
            }
            let below = pivots.below::<SOLVE>(start);
            rotate_rows::<FMA, SOLVE, C, R>(&mut cols, i..len, &current, below);
            std::mem::swap(&mut current, &mut next);
            j = start;
        }
        Ok(())
    }

    /// The state [`pivot_column`] carries from column to column.
    struct Pivots<'a> {
        coefficient: f64,
        /// β, the running scale.
        beta: &'a mut f64,
        /// The work row x.
        work: &'a mut [f64],
        /// b (empty without SOLVE).
        b: &'a mut [f64],
    }

    impl Pivots<'_> {
        /// The work row and (with SOLVE) b from row `start` on.
        #[inline(always)]
        fn below<const SOLVE: bool>(&mut self, start: usize) -> (&mut [f64], &mut [f64]) {
            let b = if SOLVE {
                &mut self.b[start..]
            } else {
                &mut [][..]
            };
            (&mut self.work[start..], b)
        }
    }

    /// Column c's pivot and its rows c+1..end (of the block of columns j..end, which `l`
    /// holds from its column j on): `rotation` gets the column's scalars.
    #[inline(always)]
    fn pivot_column<const FMA: bool, const SOLVE: bool>(
        l: &mut [f64],
        d: usize,
        j: usize,
        end: usize,
        c: usize,
        pivots: &mut Pivots<'_>,
        rotation: &mut Rotation,
    ) -> Result<(), usize> {
        let Pivots {
            coefficient,
            beta,
            work,
            b,
        } = pivots;
        let coefficient = *coefficient;
        let col = &mut l[(c - j) * d + c..(c - j + 1) * d];
        let diag = col[0];
        let diag2 = diag * diag;
        let p = work[c];
        let cp2 = coefficient * p * p;
        let gamma = diag2 * **beta + cp2;
        // The column's five divisions as two lane-wise quotients, which the compiler packs
        // into two vector divisions (the divider is not pipelined; each lane is still the
        // correctly rounded quotient: the same bits as five scalar divisions).
        let [over_beta, over_diag2, a, _] =
            quotients([cp2, cp2, -p, 1.0], [**beta, diag2, diag, 1.0]);
        // Also catches γ = 0 (then the new pivot is 0).
        let new_diag = checked_pivot((diag2 + over_beta).sqrt(), c)?;
        col[0] = new_diag;
        **beta += over_diag2;
        let [s, t] = quotients([new_diag, new_diag * coefficient * p], [diag, gamma]);
        let r = rotation;
        (r.a, r.s, r.t) = (a, s, t);
        if SOLVE {
            b[c] /= new_diag;
            r.neg_b = -b[c];
        }
        let r = *r;
        for i in c + 1..end {
            let lic = &mut col[i - c];
            let x = madd::<FMA>(r.a, *lic, work[i]);
            work[i] = x;
            *lic = madd::<FMA>(r.t, x, r.s * *lic);
            if SOLVE {
                b[i] = madd::<FMA>(r.neg_b, *lic, b[i]);
            }
        }
        Ok(())
    }

    /// x_k/y_k lane by lane.
    #[inline(always)]
    fn quotients<const N: usize>(x: [f64; N], y: [f64; N]) -> [f64; N] {
        std::array::from_fn(|k| x[k] / y[k])
    }

    /// The rows `rows` of the C columns `cols` (each from the row under the block, as are
    /// the work row and b in `below`): register blocks of R rows, then of 4, then single rows (so that no
    /// row is left to a slower loop), each block's work entries and b's loaded once and kept
    /// in registers while every column gives them its rotation and (with SOLVE) its
    /// forward-solve step, column after column.
    #[inline(always)]
    fn rotate_rows<const FMA: bool, const SOLVE: bool, const C: usize, const R: usize>(
        cols: &mut [&mut [f64]; C],
        rows: std::ops::Range<usize>,
        rotations: &[Rotation; C],
        (work, b): (&mut [f64], &mut [f64]),
    ) {
        let to = rows.end;
        let i = rotate_block::<FMA, SOLVE, C, R>(cols, rows.start, to, rotations, work, b);
        let i = rotate_block::<FMA, SOLVE, C, 4>(cols, i, to, rotations, work, b);
        rotate_block::<FMA, SOLVE, C, 1>(cols, i, to, rotations, work, b);
    }

    /// Rows from..to of [`rotate_rows`]' columns, work row and b in register blocks of N rows, as many as fit.
    /// Returns the first row left.
    #[inline(always)]
    fn rotate_block<const FMA: bool, const SOLVE: bool, const C: usize, const N: usize>(
        cols: &mut [&mut [f64]; C],
        from: usize,
        to: usize,
        rotations: &[Rotation; C],
        work: &mut [f64],
        b: &mut [f64],
    ) -> usize {
        let blocks = (to - from) / N;
        let end = from + blocks * N;
        let wblocks = &mut work[from..end].as_chunks_mut::<N>().0[..blocks];
        let bblocks = if SOLVE {
            &mut b[from..end].as_chunks_mut::<N>().0[..blocks]
        } else {
            &mut []
        };
        let mut lblocks: [&mut [[f64; N]]; C] = std::array::from_fn(|_| &mut [][..]);
        for (lblock, col) in lblocks.iter_mut().zip(cols.iter_mut()) {
            *lblock = &mut col[from..end].as_chunks_mut::<N>().0[..blocks];
        }
        for blk in 0..blocks {
            let mut wv = wblocks[blk];
            let mut bv = if SOLVE { bblocks[blk] } else { [0.0; N] };
            for (lblock, r) in lblocks.iter_mut().zip(rotations) {
                let col = &mut lblock[blk];
                let mut lv = *col;
                for q in 0..N {
                    let x = madd::<FMA>(r.a, lv[q], wv[q]);
                    wv[q] = x;
                    lv[q] = madd::<FMA>(r.t, x, r.s * lv[q]);
                    if SOLVE {
                        bv[q] = madd::<FMA>(r.neg_b, lv[q], bv[q]);
                    }
                }
                *col = lv;
            }
            wblocks[blk] = wv;
            if SOLVE {
                bblocks[blk] = bv;
            }
        }
        end
    }

    /// The factor update (and forward solve) of [`super::Isa::cholesky_update_solve`]: one
    /// row by the rotations of [`rank_one_update_solve`] (blocks of ONE_COLS columns,
    /// register blocks of ONE_ROWS rows, or the AVX-512 shape with `WIDE`), m ≥ 2 rows by
    /// the product form of [`cholesky_block_update_solve`], in the AVX-512 shape with `WIDE`
    /// ([`WIDE_ROWS`]); either way the same operations on every entry in the same order, so
    /// the same bits. No row: b ← L⁻¹b alone ([`forward_solve`]).
    #[inline(always)]
    pub(super) fn factor_update_solve<const FMA: bool, const WIDE: bool>(
        l: &mut [f64],
        update: &Update<'_>,
        d: usize,
        b: Option<&mut [f64]>,
    ) -> Result<(), usize> {
        match (update.rows, b) {
            ([], Some(b)) => {
                forward_solve::<FMA>(l, b);
                Ok(())
            }
            ([], None) => Ok(()),
            ([row], Some(b)) => {
                let c = update.coefficients[0];
                if WIDE {
                    rank_one_update_solve::<FMA, true, ONE_COLS_WIDE, ONE_ROWS_WIDE>(l, c, row, b)
                } else {
                    rank_one_update_solve::<FMA, true, ONE_COLS, ONE_ROWS>(l, c, row, b)
                }
            }
            ([row], None) => {
                let c = update.coefficients[0];
                if WIDE {
                    rank_one_update_solve::<FMA, false, ONE_COLS_WIDE, ONE_ROWS_WIDE>(
                        l,
                        c,
                        row,
                        &mut [],
                    )
                } else {
                    rank_one_update_solve::<FMA, false, ONE_COLS, ONE_ROWS>(l, c, row, &mut [])
                }
            }
            (_, b) => cholesky_block_update_solve::<FMA, WIDE>(l, update, d, b),
        }
    }

    /// The blocked rank-m update of the factor (m ≥ 2), fused with the forward solve: the
    /// product form of Gill, Golub, Murray & Saunders (1974) with all m rows at once. With
    /// W the d×m matrix of rows, C = diag(c_k) and P = L⁻¹W,
    ///
    /// LLᵀ + WCWᵀ = L(I + PCPᵀ)Lᵀ, and I + PCPᵀ = L̃L̃ᵀ with l̃_jj = δ_j, l̃_ij = P_iᵀΓ_j (i > j),
    ///
    /// where, with M = C at the start, per column j: p = P_j (row j of P), δ_j = √(1 + pᵀMp),
    /// Γ_j = Mp/δ_j, then M ← M − Γ_jΓ_jᵀ (the Schur complement of the small system). So the
    /// new factor L′ = LL̃ is, with S_i = W_i − Σ_{k≤j} l_ik·P_k (the forward solve LP = W run
    /// column by column, whose row j before column j gives P_j = S_j/l_jj):
    ///
    /// l′_jj = δ_j·l_jj,  l′_ij = δ_j·l_ij + Γ_jᵀS_i (i > j, S_i after column j).
    ///
    /// Per entry 2m + 1 multiply-adds (m for S, m for Γ_jᵀS_i, one for δ_j·l_ij), against 3m
    /// for m successive rotations, and the m updates of S_i are independent instead of one
    /// chain. O(m²) per column for the pivot (M·p and M's update). The pivot check: a column
    /// whose δ_j·l_jj is not finite and positive (1 + pᵀMp ≤ 0: the updated matrix is not
    /// numerically positive definite) returns `Err(j)`.
    ///
    /// Columns go in blocks of C ([`COLS`], or [`WIDE_COLS`] with `WIDE`): the block's
    /// pivots and its own triangle column by column, then the rows below in register blocks
    /// of R rows ([`BLOCK_ROWS`], [`WIDE_ROWS`]) with the block's C columns of L and their
    /// accumulators in registers, the m columns of S in groups of `G` (registers) — the
    /// entries of S are read and written once per block of columns. Every
    /// entry receives its operations in the order of the column-by-column recurrence
    /// (S_i column after column, Γ_jᵀS_i summed over k = 0..m in order, b as in forward
    /// substitution), so the result does not depend on the blocking. The rounding of this
    /// order enters no bound: the step measures its residual against Ĥ₀, never against the
    /// factor (proofs/pass_free_step.md, "The factor").
    #[inline(always)]
    fn cholesky_block_update_solve<const FMA: bool, const WIDE: bool>(
        l: &mut [f64],
        update: &Update<'_>,
        d: usize,
        b: Option<&mut [f64]>,
    ) -> Result<(), usize> {
        // Groups of at most GROUP_MAX (GROUP_MAX_WIDE) rows of S, as even as possible
        // (m = 10: two of 5, or one of 10); wide groups of 7 or 9 rows get one padding row.
        let m = update.rows.len();
        if WIDE {
            const { assert!(GROUP_MAX_WIDE == 10, "the wide group sizes below") };
            match m.div_ceil(m.div_ceil(GROUP_MAX_WIDE)) {
                1 => block_update_solve::<FMA, 1, WIDE_COLS, WIDE_ROWS>(l, update, d, b),
                2 => block_update_solve::<FMA, 2, WIDE_COLS, WIDE_ROWS>(l, update, d, b),
                3 => block_update_solve::<FMA, 3, WIDE_COLS, WIDE_ROWS>(l, update, d, b),
                4 => block_update_solve::<FMA, 4, WIDE_COLS, WIDE_ROWS>(l, update, d, b),
                5 => block_update_solve::<FMA, 5, WIDE_COLS, WIDE_ROWS>(l, update, d, b),
                6 => block_update_solve::<FMA, 6, WIDE_COLS, WIDE_ROWS>(l, update, d, b),
                7 | 8 => block_update_solve::<FMA, 8, WIDE_COLS, WIDE_ROWS>(l, update, d, b),
                _ => {
                    block_update_solve::<FMA, GROUP_MAX_WIDE, WIDE_COLS, WIDE_ROWS>(l, update, d, b)
                }
            }
        } else {
            match m.div_ceil(m.div_ceil(GROUP_MAX)) {
                1 => block_update_solve::<FMA, 1, COLS, BLOCK_ROWS>(l, update, d, b),
                2 => block_update_solve::<FMA, 2, COLS, BLOCK_ROWS>(l, update, d, b),
                3 => block_update_solve::<FMA, 3, COLS, BLOCK_ROWS>(l, update, d, b),
                4 => block_update_solve::<FMA, 4, COLS, BLOCK_ROWS>(l, update, d, b),
                5 => block_update_solve::<FMA, 5, COLS, BLOCK_ROWS>(l, update, d, b),
                _ => block_update_solve::<FMA, GROUP_MAX, COLS, BLOCK_ROWS>(l, update, d, b),
            }
        }
    }

    /// The scalars of one column of the blocked update, for the m rows padded to a multiple
    /// of the group (padding: p = Γ = 0, which leaves every entry as it is).
    struct BlockColumn {
        /// −P_j (the forward solve's multipliers).
        neg_p: Vec<f64>,
        /// Γ_j.
        gamma: Vec<f64>,
        /// δ_j.
        delta: f64,
    }

    /// Where S_ik is stored, for `padded` columns: row blocks of R rows (the register
    /// block's), each block the padded columns one after another (R entries each), so that a
    /// register block of rows finds all of its S in one contiguous run.
    #[inline(always)]
    fn s_index<const R: usize>(i: usize, k: usize, padded: usize) -> usize {
        (i / R * padded + k) * R + i % R
    }

    /// One entry l_ij (i below the pivot) of column `col` of the blocked update, with row i of
    /// S ([`s_index`]): S_i ← S_i − l_ij·P_j, then δ_j·l_ij + Γ_jᵀS_i.
    #[inline(always)]
    fn block_entry<const FMA: bool, const R: usize>(
        col: &BlockColumn,
        lij: f64,
        s: &mut [f64],
        i: usize,
    ) -> f64 {
        let padded = col.neg_p.len();
        let first = s_index::<R>(i, 0, padded);
        let mut acc = 0.0;
        for (k, (&neg_p, &gamma)) in col.neg_p.iter().zip(&col.gamma).enumerate() {
            let at = first + k * R;
            let x = madd::<FMA>(neg_p, lij, s[at]);
            s[at] = x;
            acc = madd::<FMA>(gamma, x, acc);
        }
        madd::<FMA>(col.delta, lij, acc)
    }

    /// [`cholesky_block_update_solve`] with groups of `G` rows of S, blocks of C columns and
    /// register blocks of R rows.
    #[inline(always)]
    fn block_update_solve<const FMA: bool, const G: usize, const C: usize, const R: usize>(
        l: &mut [f64],
        update: &Update<'_>,
        d: usize,
        mut b: Option<&mut [f64]>,
    ) -> Result<(), usize> {
        let m = update.rows.len();
        let padded = m.div_ceil(G) * G;
        // S (W at the start, the padding zero), laid out by [`s_index`].
        let mut s = vec![0.0; d.div_ceil(R) * R * padded];
        for (k, row) in update.rows.iter().enumerate() {
            for (i, &x) in row.iter().enumerate() {
                s[s_index::<R>(i, k, padded)] = x;
            }
        }
        // M (m×m, full), C at the start.
        let mut small = vec![0.0; m * m];
        for (k, &c) in update.coefficients.iter().enumerate() {
            small[k * m + k] = c;
        }
        let mut p = vec![0.0; m];
        let mut mp = vec![0.0; m];
        let mut columns: [BlockColumn; C] = std::array::from_fn(|_| BlockColumn {
            neg_p: vec![0.0; padded],
            gamma: vec![0.0; padded],
            delta: 0.0,
        });
        let mut bs = [0.0; C];
        for j in (0..d).step_by(C) {
            let end = (j + C).min(d);
            prefetch_heads::<C>(l, d, end);
            for c in j..end {
                let column = &mut columns[c - j];
                let diag = l[c * d + c];
                for k in 0..m {
                    p[k] = s[s_index::<R>(c, k, padded)] / diag;
                    column.neg_p[k] = -p[k];
                }
                let mut quadratic = 0.0;
                for (k, row) in small.chunks_exact(m).enumerate() {
                    mp[k] = dot::<FMA>(row, &p);
                    quadratic = madd::<FMA>(p[k], mp[k], quadratic);
                }
                let delta = (1.0 + quadratic).sqrt();
                // Also catches 1 + pᵀMp ≤ 0 (a NaN or zero pivot).
                let new_diag = checked_pivot(delta * diag, c)?;
                for (gamma, &mp) in column.gamma[..m].iter_mut().zip(&mp[..m]) {
                    *gamma = mp / delta;
                }
                for (row, &gk) in small.chunks_exact_mut(m).zip(&column.gamma) {
                    axpy::<FMA>(-gk, &column.gamma[..m], row);
                }
                column.delta = delta;
                l[c * d + c] = new_diag;
                if let Some(b) = b.as_deref_mut() {
                    b[c] /= new_diag;
                    bs[c - j] = b[c];
                }
                for i in c + 1..end {
                    let new = block_entry::<FMA, R>(column, l[c * d + i], &mut s, i);
                    l[c * d + i] = new;
                    if let Some(b) = b.as_deref_mut() {
                        b[i] = madd::<FMA>(-bs[c - j], new, b[i]);
                    }
                }
            }
            let below = if end - j == C {
                block_rows::<FMA, G, C, R>(l, d, j, &columns, &mut s, &bs, b.as_deref_mut())
            } else {
                end
            };
            // The rows no register block took (all of them in a last, partial block).
            for i in below..d {
                for c in j..end {
                    let new = block_entry::<FMA, R>(&columns[c - j], l[c * d + i], &mut s, i);
                    l[c * d + i] = new;
                    if let Some(b) = b.as_deref_mut() {
                        b[i] = madd::<FMA>(-bs[c - j], new, b[i]);
                    }
                }
            }
        }
        Ok(())
    }

    /// The rows below the full block of columns j..j+C, R at a time: the block's entries of
    /// L and their accumulators Γ_cᵀS_i stay in registers while each group of G columns of S
    /// (contiguous, [`s_index`]) is loaded, taken through the C columns in order, and
    /// stored; then l′ = δ_c·l + acc and (with `b`) the forward-solve steps, column after
    /// column. Returns the first row left to the caller (the tail of fewer than R rows).
    #[inline(always)]
    fn block_rows<const FMA: bool, const G: usize, const C: usize, const R: usize>(
        l: &mut [f64],
        d: usize,
        j: usize,
        columns: &[BlockColumn; C],
        s: &mut [f64],
        bs: &[f64; C],
        b: Option<&mut [f64]>,
    ) -> usize {
        const { assert!(C.is_multiple_of(R), "row blocks start on a block of S") };
        let start = j + C;
        let split = d - (d - start) % R;
        let padded = columns[0].neg_p.len();
        // Per group of S: each column's −p and Γ for the group's G rows.
        let scalars: Vec<[([f64; G], [f64; G]); C]> = (0..padded / G)
            .map(|g| {
                std::array::from_fn(|c| {
                    let part = |v: &[f64]| std::array::from_fn(|q| v[g * G + q]);
                    (part(&columns[c].neg_p), part(&columns[c].gamma))
                })
            })
            .collect();
        let deltas: [f64; C] = std::array::from_fn(|c| columns[c].delta);
        let mut cols = l[j * d..(j + C) * d].chunks_exact_mut(d);
        let mut lcols: [&mut [[f64; R]]; C] = std::array::from_fn(|_| {
            let col = cols.next().expect("C columns");
            col[start..split].as_chunks_mut().0
        });
        let mut bblocks = b.map(|b| b[start..split].as_chunks_mut::<R>().0);
        let (sblocks, _) = s[start * padded..split * padded].as_chunks_mut::<R>();
        for (block, sblock) in sblocks.chunks_exact_mut(padded).enumerate() {
            let lv: [[f64; R]; C] = std::array::from_fn(|c| lcols[c][block]);
            let mut acc = [[0.0; R]; C];
            for (sgroup, group) in sblock.chunks_exact_mut(G).zip(&scalars) {
                let sgroup: &mut [[f64; R]; G] = sgroup.try_into().expect("a group of G columns");
                let mut sv = *sgroup;
                for (c, (neg_p, gamma)) in group.iter().enumerate() {
                    for q in 0..G {
                        for t in 0..R {
                            sv[q][t] = madd::<FMA>(neg_p[q], lv[c][t], sv[q][t]);
                            acc[c][t] = madd::<FMA>(gamma[q], sv[q][t], acc[c][t]);
                        }
                    }
                }
                *sgroup = sv;
            }
            let new: [[f64; R]; C] = std::array::from_fn(|c| {
                std::array::from_fn(|t| madd::<FMA>(deltas[c], lv[c][t], acc[c][t]))
            });
            for (lcol, new) in lcols.iter_mut().zip(&new) {
                lcol[block] = *new;
            }
            if let Some(bblocks) = bblocks.as_deref_mut() {
                let bv = &mut bblocks[block];
                for (c, new) in new.iter().enumerate() {
                    for t in 0..R {
                        bv[t] = madd::<FMA>(-bs[c], new[t], bv[t]);
                    }
                }
            }
        }
        split
    }

    /// Columns in blocks of [`COLS`]: the block's b_c ← b_c/l_cc with its own triangle, then
    /// b_i ← b_i − Σ_c l_ic·b_c for the rows below ([`block_products`]). Each b_i receives
    /// the same operations in the same order as column-by-column substitution.
    #[inline(always)]
    pub(super) fn forward_solve<const FMA: bool>(l: &[f64], b: &mut [f64]) {
        let d = b.len();
        for j in (0..d).step_by(COLS) {
            let end = (j + COLS).min(d);
            for c in j..end {
                b[c] /= l[c * d + c];
                for i in c + 1..end {
                    b[i] = madd::<FMA>(-b[c], l[c * d + i], b[i]);
                }
            }
            let (head, below) = b.split_at_mut(end);
            if end - j == COLS {
                let cols = std::array::from_fn(|t| &l[(j + t) * d + end..(j + t + 1) * d]);
                let bs = std::array::from_fn(|t| -head[j + t]);
                block_products::<FMA, COLS, 2, true, false>(cols, bs, &[], below);
            } else {
                for c in j..end {
                    axpy::<FMA>(-head[c], &l[c * d + end..(c + 1) * d], below);
                }
            }
        }
    }

    /// x_j = (y_j − Σ_{i>j} l_ij·x_i)/l_jj for j = d−1 down to 0 (column j of L is row j of
    /// Lᵀ, read contiguously), in blocks of [`COLS`] columns: the sums over the rows below
    /// the block share one read of x ([`block_products`]), then the block's own triangle.
    #[inline(always)]
    pub(super) fn backward_solve<const FMA: bool>(l: &[f64], b: &mut [f64]) {
        let d = b.len();
        let mut end = d;
        while end > 0 {
            let start = end.saturating_sub(COLS);
            let (head, below) = b.split_at_mut(end);
            let mut dots = [0.0; COLS];
            if end - start == COLS {
                let cols = std::array::from_fn(|t| &l[(start + t) * d + end..(start + t + 1) * d]);
                dots =
                    block_products::<FMA, COLS, 2, false, true>(cols, [0.0; COLS], below, &mut []);
            } else {
                for c in start..end {
                    dots[c - start] = dot::<FMA>(&l[c * d + end..(c + 1) * d], below);
                }
            }
            for c in (start..end).rev() {
                let mut s = dots[c - start];
                for i in c + 1..end {
                    s = madd::<FMA>(l[c * d + i], head[i], s);
                }
                head[c] = (head[c] - s) / l[c * d + c];
            }
            end = start;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The instruction sets this machine can run: the portable one always, AVX2/FMA and
    /// AVX-512 where detected (so every path this machine has is tested).
    fn isas() -> Vec<Isa> {
        Isa::available()
    }

    /// A d×d symmetric positive definite matrix (column-major, full) with a dominant
    /// diagonal, entries in [−1, 1] off the diagonal.
    fn spd(d: usize) -> Vec<f64> {
        let mut a = vec![0.0; d * d];
        for j in 0..d {
            for i in 0..d {
                let v = (((i * 7 + j * 7 + i * j) % 23) as f64 - 11.0) / 11.0;
                a[i + j * d] = if i == j { d as f64 + 1.0 } else { v };
            }
        }
        a
    }

    fn vector(d: usize, seed: usize) -> Vec<f64> {
        (0..d)
            .map(|i| (((i + seed) * 13 % 17) as f64 - 8.0) / 8.0)
            .collect()
    }

    fn u() -> f64 {
        f64::EPSILON / 2.0
    }

    fn gamma(k: usize) -> f64 {
        k as f64 * u() / (1.0 - k as f64 * u())
    }

    /// Naive full-matrix product in f64, with the Σ|a_ij||x_j| each entry's error is
    /// bounded by.
    fn naive_product(a: &[f64], x: &[f64]) -> (Vec<f64>, Vec<f64>) {
        let d = x.len();
        let at = |i: usize, j: usize| if i >= j { a[i + j * d] } else { a[j + i * d] };
        let y = (0..d)
            .map(|i| (0..d).map(|j| at(i, j) * x[j]).sum())
            .collect();
        let abs = (0..d)
            .map(|i| (0..d).map(|j| (at(i, j) * x[j]).abs()).sum())
            .collect();
        (y, abs)
    }

    /// symv against the naive product: both are sums of the same d products in different
    /// orders, each within γ_d·Σ_j|a_ij x_j| of the exact value, so they differ by at most
    /// 2γ_d·Σ_j|a_ij x_j| (Higham §3.1; FMA rounds less).
    #[test]
    fn symv_matches_the_naive_product_within_its_rounding_bound() {
        for d in [1, 5, 16, 17, 40, 133] {
            let a = spd(d);
            let x = vector(d, 3);
            let (expected, abs) = naive_product(&a, &x);
            for isa in isas() {
                let mut y = vec![f64::NAN; d];
                isa.symv(&a, &x, &mut y);
                for i in 0..d {
                    assert!(
                        (y[i] - expected[i]).abs() <= 2.0 * gamma(d) * abs[i],
                        "{isa:?} d = {d} entry {i}: {} vs {}",
                        y[i],
                        expected[i]
                    );
                }
            }
        }
    }

    /// A rank-m update, alone or fused with the product, against the entrywise reference
    /// a_ij + Σ_k c_k x_ki x_kj: each of the m terms rounds at most three times, so the two
    /// differ by at most 2γ_{3m}·(|a_ij| + Σ_k|c_k x_ki x_kj|) (any order of the m terms).
    /// The fused product is then checked against the naive product of the updated matrix
    /// as above.
    #[test]
    fn rank_m_updates_match_the_entrywise_reference() {
        for (d, m) in [(7, 1), (45, 1), (77, 1), (33, 3), (70, 17), (19, 40)] {
            let a = spd(d);
            let rows: Vec<Vec<f64>> = (0..m).map(|k| vector(d, k + 1)).collect();
            let row_refs: Vec<&[f64]> = rows.iter().map(Vec::as_slice).collect();
            let coefficients: Vec<f64> = (0..m).map(|k| -0.3 + 0.1 * k as f64).collect();
            let update = Update {
                coefficients: &coefficients,
                rows: &row_refs,
            };
            for isa in isas() {
                let mut alone = a.clone();
                isa.update(&mut alone, &update);
                let mut fused = a.clone();
                let x = vector(d, 5);
                let mut y = vec![0.0; d];
                isa.update_symv(&mut fused, &update, &x, &mut y);
                for j in 0..d {
                    for i in j..d {
                        let terms = (0..m).map(|k| coefficients[k] * rows[k][i] * rows[k][j]);
                        let exact = a[i + j * d] + terms.clone().sum::<f64>();
                        let scale = a[i + j * d].abs() + terms.map(f64::abs).sum::<f64>();
                        let tol = 2.0 * gamma(3 * m) * scale;
                        assert!((alone[i + j * d] - exact).abs() <= tol, "{isa:?} {i},{j}");
                        assert_eq!(alone[i + j * d], fused[i + j * d], "{isa:?} {i},{j}");
                    }
                }
                let (expected, abs) = naive_product(&fused, &x);
                for i in 0..d {
                    assert!((y[i] - expected[i]).abs() <= 2.0 * gamma(d) * abs[i]);
                }
            }
        }
    }

    /// The full lower factor of a column-major SPD matrix (nalgebra's Cholesky).
    fn factor(a: &[f64], d: usize) -> Vec<f64> {
        let m = nalgebra::DMatrix::from_column_slice(d, d, a);
        nalgebra::Cholesky::new(m).unwrap().l().as_slice().to_vec()
    }

    /// Runs `f` with [`spd`]'s A (d×d) and m rows of length d with alternating downdate and
    /// update coefficients, small enough that A + Σ c_k x_k x_kᵀ stays positive definite.
    fn with_alternating_update(d: usize, m: usize, f: impl FnOnce(&[f64], &Update<'_>)) {
        let rows: Vec<Vec<f64>> = (0..m).map(|k| vector(d, 2 * k + 1)).collect();
        let row_refs: Vec<&[f64]> = rows.iter().map(Vec::as_slice).collect();
        let coefficients: Vec<f64> = (0..m)
            .map(|k| if k % 2 == 0 { -0.5 } else { 0.7 })
            .collect();
        let update = Update {
            coefficients: &coefficients,
            rows: &row_refs,
        };
        f(&spd(d), &update)
    }

    /// ‖L′L′ᵀ − (A + Σ c_k x_k x_kᵀ)‖_max relative to ‖A‖_max: a backward-stable update
    /// (each rotation is a product of O(1) roundings per entry, Stewart's analysis of the
    /// LINPACK downdate) leaves O(m·d·u) relative error; 100·m·d·u is that with a margin
    /// for the growth of a downdate, far below the O(1) error of a wrong recurrence. The
    /// fused forward solve must equal the separate one bit for bit (same operations).
    #[test]
    fn cholesky_updates_and_downdates_reproduce_the_updated_matrix() {
        for (d, m) in [(1, 1), (9, 1), (40, 4), (77, 10)] {
            with_alternating_update(d, m, |a, update| {
                let mut target = a.to_vec();
                for (c, x) in update.coefficients.iter().zip(update.rows) {
                    for j in 0..d {
                        for i in 0..d {
                            target[i + j * d] += c * x[i] * x[j];
                        }
                    }
                }
                let scale = target.iter().fold(0.0f64, |s, v| s.max(v.abs()));
                for isa in isas() {
                    let mut l = factor(a, d);
                    isa.cholesky_update(&mut l, update).unwrap();
                    for j in 0..d {
                        for i in j..d {
                            let llt: f64 = (0..=j).map(|k| l[i + k * d] * l[j + k * d]).sum();
                            assert!(
                                (llt - target[i + j * d]).abs()
                                    <= 100.0 * (m * d) as f64 * u() * scale,
                                "{isa:?} d = {d} ({i}, {j}): {llt} vs {}",
                                target[i + j * d]
                            );
                        }
                    }
                    let mut fused = factor(a, d);
                    let mut b = vector(d, 4);
                    isa.cholesky_update_solve(&mut fused, update, &mut b)
                        .unwrap();
                    assert_eq!(fused, l);
                    let mut separate = vector(d, 4);
                    isa.forward_solve(&l, &mut separate);
                    assert_eq!(b, separate);
                }
            });
        }
    }

    /// The column-blocked update + forward solve against the column-by-column recurrence
    /// written out entry by entry (one multiply-add per step, fused where the instruction
    /// set fuses): equal bit for bit, since the blocking and the interleaving of the next
    /// block's pivots only regroup independent entries and keep each entry's operations in
    /// their order. d covers a single partial block (3), one full block (8), full blocks
    /// with a partial last one and row tails of 4 and single rows past the register blocks
    /// of 8 and 16 (45, 77, 130), and a last block whose only rows below are the next
    /// block's (17).
    #[test]
    fn the_blocked_factor_update_is_the_column_by_column_recurrence() {
        fn reference(l: &mut [f64], update: &Update<'_>, b: &mut [f64], fma: bool) {
            let madd = |a: f64, x: f64, c: f64| if fma { a.mul_add(x, c) } else { a * x + c };
            let d = b.len();
            let mut w: Vec<Vec<f64>> = update.rows.iter().map(|r| r.to_vec()).collect();
            let mut beta = vec![1.0; w.len()];
            for j in 0..d {
                let (mut a, mut s, mut t) = (vec![], vec![], vec![]);
                for (k, &c) in update.coefficients.iter().enumerate() {
                    let diag = l[j * d + j];
                    let (diag2, p) = (diag * diag, w[k][j]);
                    let cp2 = c * p * p;
                    let gamma = diag2 * beta[k] + cp2;
                    let new_diag = (diag2 + cp2 / beta[k]).sqrt();
                    l[j * d + j] = new_diag;
                    beta[k] += cp2 / diag2;
                    a.push(-p / diag);
                    s.push(new_diag / diag);
                    t.push(new_diag * c * p / gamma);
                }
                b[j] /= l[j * d + j];
                for i in j + 1..d {
                    for k in 0..w.len() {
                        let x = madd(a[k], l[j * d + i], w[k][i]);
                        w[k][i] = x;
                        l[j * d + i] = madd(t[k], x, s[k] * l[j * d + i]);
                    }
                    b[i] = madd(-b[j], l[j * d + i], b[i]);
                }
            }
        }
        matches_reference(
            &[(3, 1), (8, 1), (17, 1), (45, 1), (77, 1), (130, 1)],
            reference,
        );
    }

    /// The blocked rank-m update + forward solve against its column-by-column recurrence
    /// written out entry by entry (`cholesky_block_update_solve`'s formulas, one multiply-add
    /// per step, fused where the instruction set fuses): equal bit for bit, since the
    /// column and row blocks and the groups of S only regroup independent entries and keep
    /// each entry's operations in their order. d covers full column blocks, a partial last
    /// block and row tails; m covers one group (2, 5), two even groups (10) and padding (7,
    /// 13: groups of 4 and 5).
    #[test]
    fn the_blocked_rank_m_update_is_its_column_by_column_recurrence() {
        fn reference(l: &mut [f64], update: &Update<'_>, b: &mut [f64], fma: bool) {
            let madd = |a: f64, x: f64, c: f64| if fma { a.mul_add(x, c) } else { a * x + c };
            let (d, m) = (b.len(), update.rows.len());
            let mut s: Vec<Vec<f64>> = update.rows.iter().map(|r| r.to_vec()).collect();
            let mut small: Vec<Vec<f64>> = (0..m)
                .map(|k| {
                    (0..m)
                        .map(|q| if q == k { update.coefficients[k] } else { 0.0 })
                        .collect()
                })
                .collect();
            for j in 0..d {
                let diag = l[j * d + j];
                let p: Vec<f64> = (0..m).map(|k| s[k][j] / diag).collect();
                let mut quadratic = 0.0;
                let mut mp = vec![0.0; m];
                for k in 0..m {
                    mp[k] = (0..m).fold(0.0, |acc, q| madd(small[k][q], p[q], acc));
                    quadratic = madd(p[k], mp[k], quadratic);
                }
                let delta = (1.0 + quadratic).sqrt();
                let gamma: Vec<f64> = mp.iter().map(|v| v / delta).collect();
                for k in 0..m {
                    for q in 0..m {
                        small[k][q] = madd(-gamma[k], gamma[q], small[k][q]);
                    }
                }
                l[j * d + j] *= delta;
                b[j] /= l[j * d + j];
                for i in j + 1..d {
                    let lij = l[j * d + i];
                    let mut acc = 0.0;
                    for k in 0..m {
                        s[k][i] = madd(-p[k], lij, s[k][i]);
                        acc = madd(gamma[k], s[k][i], acc);
                    }
                    l[j * d + i] = madd(delta, lij, acc);
                    b[i] = madd(-b[j], l[j * d + i], b[i]);
                }
            }
        }
        matches_reference(&[(3, 2), (9, 5), (45, 10), (77, 7), (50, 13)], reference);
    }

    /// For each (d, m): the fused update + forward solve of every instruction set, and the
    /// update alone, equal `reference` (given whether the set fuses multiply-adds) bit for
    /// bit.
    fn matches_reference(
        cases: &[(usize, usize)],
        reference: fn(&mut [f64], &Update<'_>, &mut [f64], bool),
    ) {
        for &(d, m) in cases {
            with_alternating_update(d, m, |a, update| {
                for isa in isas() {
                    let (mut l, mut b) = (factor(a, d), vector(d, 5));
                    isa.cholesky_update_solve(&mut l, update, &mut b).unwrap();
                    let (mut expected_l, mut expected_b) = (factor(a, d), vector(d, 5));
                    reference(
                        &mut expected_l,
                        update,
                        &mut expected_b,
                        isa != Isa::Portable,
                    );
                    assert_eq!(l, expected_l, "{isa:?} d = {d}, m = {m}");
                    assert_eq!(b, expected_b, "{isa:?} d = {d}, m = {m}");
                    // The update without the solve (`catch_up_factor`'s) gives the same
                    // factor (review 14, finding K2).
                    let mut alone = factor(a, d);
                    isa.cholesky_update(&mut alone, update).unwrap();
                    assert_eq!(alone, expected_l, "{isa:?} d = {d}, m = {m}, no b");
                }
            });
        }
    }

    /// Lᵀ(L⁻ᵀ(L⁻¹b)) ... : the two solves give x with LLᵀx = b to a residual bounded by
    /// the triangular solves' backward error (Higham Thm 8.5, |ΔL| ≤ γ_d|L| in any order of
    /// the inner products): ‖b − LLᵀx‖∞ ≤ 2γ_d·‖|L||Lᵀ||x|‖∞·(1 + γ_d), tested with a
    /// factor 2 of margin for the product's own rounding.
    #[test]
    fn triangular_solves_invert_the_factor_within_their_backward_error() {
        for d in [1, 8, 31, 100] {
            let a = spd(d);
            let l = factor(&a, d);
            let b = vector(d, 6);
            for isa in isas() {
                let mut x = b.clone();
                isa.forward_solve(&l, &mut x);
                isa.backward_solve(&l, &mut x);
                for i in 0..d {
                    let (mut r, mut bound) = (b[i], 0.0);
                    for k in 0..=i {
                        let ltx: f64 = (k..d).map(|t| l[t + k * d] * x[t]).sum();
                        let abs: f64 = (k..d).map(|t| (l[t + k * d] * x[t]).abs()).sum();
                        r -= l[i + k * d] * ltx;
                        bound += (l[i + k * d] * abs).abs();
                    }
                    assert!(
                        r.abs() <= 4.0 * gamma(d + 2) * bound,
                        "{isa:?} d = {d} row {i}: residual {r}, bound {bound}"
                    );
                }
            }
        }
    }

    /// A downdate that makes the matrix indefinite (I − 2e_k e_kᵀ, plus small entries
    /// elsewhere) is reported at its column k, not left as a NaN in the factor, with and
    /// without the forward solve: k = 1 in the single-row update's first block, and k = 21,
    /// a pivot it computes interleaved with the rows of the block before it (reported at
    /// 21, the first failing pivot in column order, as the column-by-column recurrence
    /// would).
    /// Also (review 14, finding K3): k = 0, k = 16 (the first pivot computed interleaved,
    /// before any of that block's rows), k = 44 (in a partial last block).
    #[test]
    fn a_downdate_past_positive_definiteness_reports_its_pivot() {
        for (d, k, small) in [
            (3, 1, 0.0),
            (40, 21, 0.01),
            (40, 0, 0.01),
            (40, 16, 0.01),
            (45, 44, 0.01),
        ] {
            let mut identity = vec![0.0; d * d];
            for j in 0..d {
                identity[j * d + j] = 1.0;
            }
            let row: Vec<f64> = (0..d)
                .map(|i| if i == k { 2f64.sqrt() } else { small })
                .collect();
            let update = Update {
                coefficients: &[-1.0],
                rows: &[&row],
            };
            for isa in isas() {
                let mut l = identity.clone();
                assert_eq!(isa.cholesky_update(&mut l, &update), Err(k), "{isa:?}");
                let (mut l, mut b) = (identity.clone(), vec![1.0; d]);
                let outcome = isa.cholesky_update_solve(&mut l, &update, &mut b);
                assert_eq!(outcome, Err(k), "{isa:?} d = {d}");
            }
        }
    }

    /// A non-finite entry of the row (NaN, ±∞ at k = 21, a pivot computed interleaved) or a
    /// NaN coefficient is reported at the first column it reaches, never left in a factor
    /// returned as Ok, with and without the forward solve, on every instruction set (review
    /// 14, finding K3).
    #[test]
    fn a_non_finite_row_or_coefficient_is_reported_at_its_column() {
        let d = 40;
        let a = spd(d);
        let base = vector(d, 2);
        let cases = [
            (21, f64::NAN, -1e-3),
            (21, f64::INFINITY, -1e-3),
            (21, f64::NEG_INFINITY, 1e-3),
            (0, 0.5, f64::NAN),
        ];
        for (k, value, coefficient) in cases {
            let mut row = base.clone();
            if coefficient.is_finite() {
                row[k] = value;
            }
            let update = Update {
                coefficients: &[coefficient],
                rows: &[&row],
            };
            for isa in isas() {
                let mut l = factor(&a, d);
                let alone = isa.cholesky_update(&mut l, &update);
                assert_eq!(alone, Err(k), "{isa:?} {value} / {coefficient}");
                let (mut l, mut b) = (factor(&a, d), vector(d, 5));
                let fused = isa.cholesky_update_solve(&mut l, &update, &mut b);
                assert_eq!(fused, Err(k), "{isa:?} {value} / {coefficient}, with b");
            }
        }
    }

    /// A batch whose rows together make the matrix indefinite (I − 0.81·e₂e₂ᵀ − e₂e₂ᵀ:
    /// pivot 1 − 0.81 − 1 < 0 at column 2, columns 0 and 1 untouched) is reported at that
    /// column by the blocked rank-m update.
    #[test]
    fn a_batch_past_positive_definiteness_reports_its_pivot() {
        let d = 5;
        let mut identity = vec![0.0; d * d];
        for j in 0..d {
            identity[j * d + j] = 1.0;
        }
        let (first, second) = ([0.0, 0.0, 0.9, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0]);
        let update = Update {
            coefficients: &[-1.0, -1.0],
            rows: &[&first, &second],
        };
        for isa in isas() {
            let mut l = identity.clone();
            assert_eq!(isa.cholesky_update(&mut l, &update), Err(2), "{isa:?}");
        }
    }

    /// The batch factor update's AVX-512 shape (8 × 8 register blocks, groups of up to 10
    /// rows of S) against the AVX2 shape (4 × 4, groups of up to 6), and the single row's
    /// (m = 1: 16-row register blocks against 8; review 14, finding K1), as generic code, so
    /// that every CPU checks it (tests/kernels.rs checks the compiled AVX-512 code where the
    /// CPU has it): each entry gets the same operations in the same order in both, so the
    /// factors and the fused forward solves agree bit for bit, and a failed pivot is
    /// reported at the same column (the partly updated factor is then left unspecified:
    /// the caller recomputes it), with separate roundings and with fused multiply-adds
    /// (`mul_add`, exact in software too). d covers partial blocks and row tails of both
    /// shapes; m reaches every group size of both shapes from 2 (wide: 2, 3, 4, 5, 6, 8
    /// with padding, 10; narrow: 2 to 6; m = 3, 4, 5 for review 11, finding 4) in one group
    /// and several; the coefficients scaled by 1 (positive definite throughout) and
    /// by 40 (downdates past positive definiteness, reported at some column).
    #[test]
    fn the_wide_and_narrow_batch_shapes_give_the_same_bits() {
        fn run<const FMA: bool, const WIDE: bool>(
            l: &[f64],
            update: &Update<'_>,
        ) -> Result<(Vec<f64>, Vec<f64>), usize> {
            let d = update.rows[0].len();
            let (mut l, mut b) = (l.to_vec(), vector(d, 3));
            generic::factor_update_solve::<FMA, WIDE>(&mut l, update, d, Some(&mut b))?;
            Ok((l, b))
        }
        let mut failed = 0;
        for (d, m) in [
            (17, 1),
            (45, 1),
            (130, 1),
            (3, 2),
            (20, 3),
            (33, 4),
            (50, 5),
            (70, 21),
            (9, 7),
            (17, 10),
            (45, 11),
            (77, 9),
            (64, 23),
            (130, 13),
        ] {
            for scale in [1.0, 40.0] {
                with_alternating_update(d, m, |a, update| {
                    let l = factor(a, d);
                    let coefficients: Vec<f64> =
                        update.coefficients.iter().map(|c| c * scale).collect();
                    let update = Update {
                        coefficients: &coefficients,
                        rows: update.rows,
                    };
                    let separate = run::<false, false>(&l, &update);
                    assert_eq!(separate, run::<false, true>(&l, &update), "d {d}, m {m}");
                    let fused = run::<true, false>(&l, &update);
                    assert_eq!(fused, run::<true, true>(&l, &update), "d {d}, m {m}, FMA");
                    failed += usize::from(separate.is_err());
                });
            }
        }
        // Both outcomes were compared, not only successes.
        assert!(failed > 0, "no case went past positive definiteness");
    }

    /// The sum of a vector of small integers is exact in any order.
    #[test]
    fn sum_is_exact_on_integers() {
        let x: Vec<f64> = (0..1001).map(|k| (k % 9) as f64).collect();
        let expected: f64 = (0..1001).map(|k| (k % 9) as f64).sum();
        for isa in isas() {
            assert_eq!(isa.sum(&x), expected);
        }
    }
}
