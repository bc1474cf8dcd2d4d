//! The state of the fast removal path (issue 4): what lets a removal step run in O(d²)
//! without a pass over the remaining rows (proofs/pass_free_step.md).
//!
//! Per class model, taken at the point w₀ where the Hessian was last formed:
//! - Ĥ₀ ≈ H₀ = Xᵀdiag(ℓ''(Xw₀, y))X + Λ₀I on the *current* rows, an explicit d×d matrix
//!   (lower triangle) downdated by −ℓ''(xᵀw₀, y)·xxᵀ for each removed row x, with
//!   η ≥ ‖Ĥ₀ − H₀‖₂ tracked through every rounding (formation and downdates);
//! - a Cholesky factor of Ĥ₀, downdated alongside in O(d²) ([`crate::kernels`]: every
//!   downdate is checked — a pivot that stops being finite and positive is reported — and a
//!   broken factor is recomputed from Ĥ₀, O(d³), still no pass over the rows). The factor
//!   only has to be *good*: the step's residual is measured against Ĥ₀, not the factor;
//! - ĝ ≈ ∇L_b(w; D) at the current weights and rows, with e ≥ ‖ĝ − ∇L_b(w; D)‖: removing a
//!   row subtracts its gradient term (O(d)), a step replaces ĝ by its computed residual.
//!
//! Shared by the class models (logistic only — the squared loss has γ = 0 and never needs
//! it): Ĝ ≈ XᵀX on the current rows with η_G ≥ ‖Ĝ − XᵀX‖₂, for ‖Xv‖ = √(vᵀXᵀXv) in O(d²).
//!
//! # Pending rows: one pass per matrix per step
//! Removing a row updates ĝ and every error bound at once (O(d)), but only *queues* the
//! row for the d×d matrices. The next step gives the factor the rows it lacks where it reads
//! the factor anyway: its rank-m downdate runs fused with the forward solve
//! ([`HessianCache::solve`]). Ĥ₀ and the Gram matrix keep their queues across steps and
//! subtract them inside their products, in O(m·d) (Ĥ₀v − Σ_k ŝ_k·x_k(x_kᵀv),
//! [`HessianCache::hessian_times`]; the quadratic form, [`GramCache::product_norm_bound`]),
//! and fold them in one pass every [`HESSIAN_FOLD_ROWS`] (Ĥ₀, fused with that step's
//! product) or [`GRAM_FOLD_ROWS`] rows: a step reads Ĥ₀ without writing it, and every
//! entry of Ĥ₀ receives its rank-one updates 32 at a time, in the order of 32 rank-one
//! updates, so the per-row bounds are unchanged ([`crate::kernels`], rounding); the
//! queued product's own rounding is charged by the step (proofs/pass_free_step.md, "When
//! the update is applied"). [`HessianCache::apply_pending`] brings every matrix up to date
//! without a step.
//!
//! With held rows the caches are derived from the secret rows and are never persisted (a
//! downdated matrix could keep rounding traces of a removed row); a store loaded from disk
//! starts without them and the first removal forms them with an exact step. With external
//! rows ([`crate::rows`]) they cannot be rebuilt without a pass, so the store keeps them
//! ([`CachesRecord`]: secret state) until a refresh replaces them. Their removals queue rows
//! as the held ones do, across requests; every write of the caches folds the queue first
//! ([`crate::unlearner::Unlearner::fold_queued_rows`], called by the store's commit and
//! create), so no removed row's features are ever written apart and none waits in memory
//! past the commit.

use crate::bounds::{UNIT_ROUNDOFF, rounding_gamma};
use crate::kernels::{Isa, Update};
use crate::linalg::{self, LinalgError};
use crate::loss::Loss;
use nalgebra::{Cholesky, DMatrix, DVector, Dyn};
use serde::{Deserialize, Serialize};

/// The cached state of one class model.
#[derive(Debug, Clone)]
pub struct HessianCache {
    /// Ĥ₀ (lower triangle significant; the upper part is stale after downdates), without
    /// the pending rows.
    hessian: DMatrix<f64>,
    /// η ≥ ‖Ĥ₀ − H₀‖₂.
    hessian_error: f64,
    /// T ≥ trace(H₀) at formation (≥ ‖H₀‖_F ever after: removing rows lowers it).
    hessian_trace: f64,
    /// A Cholesky factor of (approximately) Ĥ₀ with the first `factor_applied` pending rows
    /// subtracted.
    factor: Cholesky<f64, Dyn>,
    /// Rows removed but not yet folded into Ĥ₀ (their error bounds are already in η);
    /// products subtract them ([`HessianCache::hessian_times`]).
    pending: PendingRows,
    /// How many of the pending rows (the first ones) the factor has already had; it gets the
    /// others with the next solve, always before Ĥ₀ folds them.
    factor_applied: usize,
    /// Σ_k ŝ_k·R² over the pending rows, each term inflated by (1 + γ₃), for the rounding
    /// of the queued product. Not rounded up in the strict sense: each term may round about
    /// u below c_kR² and the m additions round to nearest, so it can fall below
    /// Σ_k |c_k|·‖x_k‖² by a relative γ_{m+2} at most. The product it bounds rounds at most
    /// d + m + 4 times while γ_{d+m+5} is charged, and γ_{d+m+5}(1 − γ_{m+2}) ≥ γ_{d+m+4}
    /// whenever (d + m + 5)(m + 2)·u ≤ 1 (u = 2⁻⁵³: any size this code reaches), so the
    /// spare rounding covers the deficit (review 8, finding 4; proofs/pass_free_step.md,
    /// "When the update is applied").
    pending_weight: f64,
    /// w₀, where the curvatures were taken.
    point: DVector<f64>,
    /// Λ₀, the regularisation Ĥ₀ was formed with.
    lambda: f64,
    /// ĝ ≈ ∇L_b(w; D) at the current weights and rows.
    gradient: DVector<f64>,
    /// e ≥ ‖ĝ − ∇L_b(w; D)‖.
    gradient_error: f64,
    /// The Λ of the objective ĝ is a gradient of.
    gradient_lambda: f64,
    /// What this cache has done so far that costs more than a step's passes (transient:
    /// not in its [`CacheRecord`]).
    events: CacheEvents,
}

/// Counts of a cache's costly events: what makes one step slower than the others
/// (`unlearn bench` reports them per batch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CacheEvents {
    /// Factor recomputations from Ĥ₀ (O(d³)): a downdate that broke the factor, or a solve
    /// residual above [`crate::removal::REFACTOR_THRESHOLD`].
    pub refactorisations: usize,
    /// Folds of Ĥ₀'s queued rows (one read-write pass, rank up to [`HESSIAN_FOLD_ROWS`]).
    pub hessian_folds: usize,
    /// Folds of the Gram matrix's queued rows (one read-write pass, rank [`GRAM_FOLD_ROWS`]).
    pub gram_folds: usize,
}

impl CacheEvents {
    fn add(self, other: CacheEvents) -> CacheEvents {
        CacheEvents {
            refactorisations: self.refactorisations + other.refactorisations,
            hessian_folds: self.hessian_folds + other.hessian_folds,
            gram_folds: self.gram_folds + other.gram_folds,
        }
    }

    /// The events between `earlier` and `self` (counts never decrease; a count that seems
    /// to, after the caches were replaced wholesale, gives 0).
    pub fn since(self, earlier: CacheEvents) -> CacheEvents {
        CacheEvents {
            refactorisations: self
                .refactorisations
                .saturating_sub(earlier.refactorisations),
            hessian_folds: self.hessian_folds.saturating_sub(earlier.hessian_folds),
            gram_folds: self.gram_folds.saturating_sub(earlier.gram_folds),
        }
    }
}

/// What a new cache is made of: the Hessian formed at w₀ (and its factor) by an exact step,
/// and the gradient computed at the weights that step produced.
#[derive(Debug, Clone)]
pub struct CacheSeed {
    /// fl(Xᵀdiag(ℓ''(fl(Xw₀)))X + Λ₀I) as formed by [`crate::objective::Objective::hessian`].
    pub hessian: DMatrix<f64>,
    /// Its Cholesky factor.
    pub factor: Cholesky<f64, Dyn>,
    /// w₀.
    pub point: DVector<f64>,
    /// Λ₀ (also the Λ of `gradient`).
    pub lambda: f64,
    /// fl(∇L_b(w; D)) at the current weights.
    pub gradient: DVector<f64>,
    /// A bound on its rounding error ([`crate::bounds::gradient_rounding_bound`]).
    pub gradient_error: f64,
}

/// What the error bound of a formed Hessian needs about the rows (all upper bounds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowBounds {
    /// n, the rows summed.
    pub rows: usize,
    /// R ≥ max ‖x_i‖.
    pub row_norm: f64,
    /// γ, the Lipschitz constant of ℓ''.
    pub gamma: f64,
}

impl HessianCache {
    /// A cache from an exact step's Hessian. η₀ = γ_{n+d+16}·T + n·γ·γ_d·R³·‖w₀‖ with
    /// T = trace(Ĥ₀)/(1 − γ_{n+d+16}): the formation's rounding (as in
    /// [`crate::bounds::newton_solve_residual_bound`]) and the curvatures taken at rounded
    /// margins (|fl(xᵀw₀) − xᵀw₀| ≤ γ_d·R·‖w₀‖, times γ) — proofs/pass_free_step.md, Lemma 1.
    pub fn new(seed: CacheSeed, rows: RowBounds) -> Self {
        let (error, trace) = formation_error_bound(&seed.hessian, &seed.point, rows);
        Self::seeded(seed, error, trace)
    }

    /// A cache from a Hessian summed elsewhere (external rows: partitions of a table merged
    /// in any order) whose 2-norm error η the summation bounded: T = trace(Ĥ₀) + d·η
    /// (each diagonal entry is within ‖Ĥ₀ − H₀‖₂ ≤ η of H₀'s), enlarged for its own sum.
    pub fn from_sums(seed: CacheSeed, hessian_error: f64) -> Self {
        let d = seed.hessian.nrows() as f64;
        let trace: f64 = seed.hessian.diagonal().iter().map(|v| v.abs()).sum();
        let trace = (trace + d * hessian_error) * (1.0 + rounding_gamma(d + 2.0));
        Self::seeded(seed, hessian_error, trace)
    }

    fn seeded(seed: CacheSeed, hessian_error: f64, hessian_trace: f64) -> Self {
        Self {
            hessian_error,
            hessian_trace,
            hessian: seed.hessian,
            factor: seed.factor,
            pending: PendingRows::default(),
            factor_applied: 0,
            pending_weight: 0.0,
            point: seed.point,
            lambda: seed.lambda,
            gradient_lambda: seed.lambda,
            gradient: seed.gradient,
            gradient_error: seed.gradient_error,
            events: CacheEvents::default(),
        }
    }

    /// Removes row `x` (target `y`) while the weights are `w`, in O(d):
    /// ĝ ← ĝ − ℓ'(xᵀw, y)·x with its error bound, and Ĥ₀ ← Ĥ₀ − ℓ''(xᵀw₀, y)·xxᵀ (lower
    /// triangle) queued for the next step, its error bound added now. The factor follows
    /// when the queue is applied; if Ĥ₀ is then no longer positive definite, that step (or
    /// [`HessianCache::apply_pending`]) fails and the cache must be dropped.
    pub fn remove_row<L: Loss + ?Sized>(
        &mut self,
        loss: &L,
        x: &[f64],
        y: f64,
        w: &DVector<f64>,
        row_norm: f64,
    ) {
        let beta = loss.second_derivative_bound();
        let gamma = loss.second_derivative_lipschitz();
        let margin_error = margin_rounding(row_norm, w);
        // Gradient term: ℓ' is β-Lipschitz and evaluated with relative error γ₆
        // (bounds::gradient_rounding_bound); the update rounds each coordinate twice.
        let derivative = loss.derivative(linalg::dot(x, w.as_slice()), y);
        self.gradient_error += row_norm
            * (beta * margin_error + rounding_gamma(6.0) * derivative.abs())
            + rounding_gamma(2.0) * (self.gradient.norm() + derivative.abs() * row_norm);
        self.gradient
            .axpy(-derivative, &DVector::from_column_slice(x), 1.0);
        // Hessian term: the curvature at the rounded margin differs from ℓ''(xᵀw₀) by at
        // most γ·γ_d·R·‖w₀‖ plus its evaluation error (relative γ₁₀); each entry of the
        // update rounds three times (also when applied with the other pending rows).
        let curvature = loss.second_derivative(linalg::dot(x, self.point.as_slice()), y);
        let point_margin_error = margin_rounding(row_norm, &self.point);
        self.hessian_error += rounding_gamma(3.0)
            * (self.hessian_frobenius() + curvature * row_norm * row_norm)
            + (gamma * point_margin_error + rounding_gamma(10.0) * curvature) * row_norm * row_norm;
        if curvature > 0.0 {
            self.pending.push(-curvature, x);
            self.pending_weight += curvature * row_norm * row_norm * (1.0 + rounding_gamma(3.0));
        }
    }

    /// Whether the factor lacks some of the pending rows.
    fn factor_behind(&self) -> bool {
        self.factor_applied < self.pending.len()
    }

    /// Gives the factor the pending rows it lacks (one pass), recomputing it from Ĥ₀ if that
    /// downdate breaks it; an error means even Ĥ₀ is no longer positive definite.
    fn catch_up_factor(&mut self) -> Result<(), LinalgError> {
        if self.factor_behind() {
            let update = self.pending.update_from(self.factor_applied);
            let isa = Isa::detect();
            if with_factor(&mut self.factor, |l| isa.cholesky_update(l, &update.view())).is_err() {
                return self.refactor();
            }
            self.factor_applied = self.pending.len();
        }
        Ok(())
    }

    /// Folds the pending rows into Ĥ₀ (one pass; the factor must have them already).
    fn fold(&mut self) {
        debug_assert!(!self.factor_behind(), "the factor gets every row before Ĥ₀");
        Isa::detect().update(self.hessian.as_mut_slice(), &self.pending.update().view());
        self.clear_pending();
    }

    /// Empties the queue after its rows reached Ĥ₀ (counted as a fold if there were any).
    fn clear_pending(&mut self) {
        if self.pending.len() > 0 {
            self.events.hessian_folds += 1;
        }
        self.pending.clear();
        self.factor_applied = 0;
        self.pending_weight = 0.0;
    }

    /// The pending rows a product subtracts ([`HessianCache::hessian_times`]): their number
    /// m and Σ_k ŝ_k·R² ≥ Σ_k |c_k|·‖x_k‖². Its rounding is within
    /// γ_{d+m+5}·(‖g‖ + (‖Ĥ₀‖_F + |Λ₀ − Λ′| + Σ_k |c_k|‖x_k‖²)·‖v‖) for a residual
    /// g − Ĥ₀v + (Λ₀ − Λ′)v (proofs/pass_free_step.md, "When the update is applied"); (0, 0)
    /// after a fold.
    pub fn queued_rows(&self) -> (usize, f64) {
        (self.pending.len(), self.pending_weight)
    }

    /// Applies the pending rows to the factor and to Ĥ₀ (one pass over each). An error
    /// means Ĥ₀ is no longer positive definite: drop the cache.
    pub fn apply_pending(&mut self) -> Result<(), LinalgError> {
        self.catch_up_factor()?;
        self.fold();
        Ok(())
    }

    /// b ← Ĥ₀⁻¹b with the factor, applying the pending rows to it first in the same pass as
    /// the forward solve. If that downdate breaks the factor it is recomputed from Ĥ₀ (the
    /// pending rows applied); an error means even Ĥ₀ is no longer positive definite.
    pub fn solve(&mut self, b: &mut DVector<f64>) -> Result<(), LinalgError> {
        let isa = Isa::detect();
        let mut forward_done = false;
        if self.factor_behind() {
            let mut fresh = b.clone();
            let update = self.pending.update_from(self.factor_applied);
            let downdated = with_factor(&mut self.factor, |l| {
                isa.cholesky_update_solve(l, &update.view(), fresh.as_mut_slice())
            });
            if downdated.is_ok() {
                *b = fresh;
                self.factor_applied = self.pending.len();
                forward_done = true;
            } else {
                self.refactor()?;
            }
        }
        let l = self.factor.l_dirty().as_slice();
        if !forward_done {
            isa.forward_solve(l, b.as_mut_slice());
        }
        isa.backward_solve(l, b.as_mut_slice());
        if b.iter().any(|v| !v.is_finite()) {
            return Err(LinalgError::NonFinite { dim: b.len() });
        }
        Ok(())
    }

    /// Ĥ₀v from the lower triangle with the pending rows subtracted: below
    /// [`HESSIAN_FOLD_ROWS`] of them, fl(Ĥ₀v) + Σ_k fl(c_k·fl(x_kᵀv))·x_k in O(m·d), Ĥ₀ only
    /// read ([`HessianCache::queued_rows`] says what this rounding adds); from
    /// HESSIAN_FOLD_ROWS on, the rows are folded into Ĥ₀ in the product's pass (the factor
    /// gets them first, so that it never misses a row).
    pub fn hessian_times(&mut self, v: &DVector<f64>) -> Result<DVector<f64>, LinalgError> {
        let isa = Isa::detect();
        let mut product = DVector::zeros(v.len());
        if self.pending.len() >= HESSIAN_FOLD_ROWS {
            self.catch_up_factor()?;
            isa.update_symv(
                self.hessian.as_mut_slice(),
                &self.pending.update().view(),
                v.as_slice(),
                product.as_mut_slice(),
            );
            self.clear_pending();
            return Ok(product);
        }
        isa.symv(
            self.hessian.as_slice(),
            v.as_slice(),
            product.as_mut_slice(),
        );
        for (&c, x) in self.pending.coefficients.iter().zip(&self.pending.rows) {
            let scale = c * linalg::dot(x, v.as_slice());
            for (p, &xi) in product.iter_mut().zip(x) {
                *p += scale * xi;
            }
        }
        Ok(product)
    }

    /// Recomputes the factor from Ĥ₀ (O(d³)), the pending rows applied first.
    pub fn refactor(&mut self) -> Result<(), LinalgError> {
        self.events.refactorisations += 1;
        Isa::detect().update(self.hessian.as_mut_slice(), &self.pending.update().view());
        self.clear_pending();
        let mut h = self.hessian.clone();
        h.fill_upper_triangle_with_lower_triangle();
        self.factor = linalg::cholesky(h)?;
        Ok(())
    }

    /// Ĥ₀, lower triangle significant, without the pending rows
    /// ([`HessianCache::apply_pending`]).
    pub fn hessian(&self) -> &DMatrix<f64> {
        &self.hessian
    }

    /// η ≥ ‖Ĥ₀ − H₀‖₂.
    pub fn hessian_error(&self) -> f64 {
        self.hessian_error
    }

    /// ‖Ĥ₀‖_F ≤ ‖H₀‖_F + ‖Ĥ₀ − H₀‖_F ≤ T + √d·η (H₀ is positive semidefinite, so its
    /// Frobenius norm is at most its trace).
    pub fn hessian_frobenius(&self) -> f64 {
        self.hessian_trace + (self.hessian.nrows() as f64).sqrt() * self.hessian_error
    }

    /// The factor of Ĥ₀, without the pending rows ([`HessianCache::apply_pending`]).
    pub fn factor(&self) -> &Cholesky<f64, Dyn> {
        &self.factor
    }

    /// w₀.
    pub fn point(&self) -> &DVector<f64> {
        &self.point
    }

    /// Λ₀.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// ĝ and the Λ of the objective it is a gradient of.
    pub fn gradient(&self) -> (&DVector<f64>, f64) {
        (&self.gradient, self.gradient_lambda)
    }

    /// e ≥ ‖ĝ − ∇L_b(w; D)‖.
    pub fn gradient_error(&self) -> f64 {
        self.gradient_error
    }

    /// What this cache has done so far ([`CacheEvents`]).
    pub fn events(&self) -> CacheEvents {
        self.events
    }

    /// After a step: the new weights' tracked gradient and its error bound, for Λ.
    pub fn set_gradient(&mut self, gradient: DVector<f64>, error: f64, lambda: f64) {
        self.gradient = gradient;
        self.gradient_error = error;
        self.gradient_lambda = lambda;
    }

    /// Replaces e by another bound on the same ‖ĝ − ∇L_b(w; D)‖ (a step's bound sharpened
    /// after the fact, [`crate::removal::PassFreeStep::tighten`]).
    pub fn set_gradient_error(&mut self, error: f64) {
        self.gradient_error = error;
    }
}

/// The error bound η₀ and trace bound T of a Hessian formed from the rows at w₀
/// ([`HessianCache::new`]).
pub fn formation_error_bound(
    hessian: &DMatrix<f64>,
    point: &DVector<f64>,
    rows: RowBounds,
) -> (f64, f64) {
    let d = hessian.nrows() as f64;
    let formation = rounding_gamma(rows.rows as f64 + d + 16.0);
    let trace: f64 = hessian.diagonal().iter().map(|v| v.abs()).sum();
    let trace = trace / (1.0 - formation) * (1.0 + rounding_gamma(d));
    let margins = rows.rows as f64
        * rows.gamma
        * margin_rounding(rows.row_norm, point)
        * rows.row_norm.powi(2);
    (formation * trace + margins, trace)
}

/// |fl(xᵀw) − xᵀw| ≤ γ_d·‖x‖·‖w‖ ≤ γ_d·R·‖w‖ for any row, with ‖w‖ enlarged for its own
/// computation (γ_{d+2}).
fn margin_rounding(row_norm: f64, w: &DVector<f64>) -> f64 {
    let d = w.len() as f64;
    rounding_gamma(d) * row_norm * w.norm() * (1.0 + rounding_gamma(d + 2.0))
}

/// Runs `f` on the storage of the factor (column-major, lower triangle significant).
fn with_factor<R>(factor: &mut Cholesky<f64, Dyn>, f: impl FnOnce(&mut [f64]) -> R) -> R {
    let taken = std::mem::replace(factor, Cholesky::pack_dirty(DMatrix::zeros(0, 0)));
    let mut l = taken.unpack_dirty();
    let result = f(l.as_mut_slice());
    *factor = Cholesky::pack_dirty(l);
    result
}

/// Removed rows waiting to be applied to a d×d matrix, with their coefficients.
#[derive(Debug, Clone, Default)]
struct PendingRows {
    coefficients: Vec<f64>,
    rows: Vec<Vec<f64>>,
}

/// The slices of a [`PendingRows`], to make an [`Update`] from.
struct PendingView<'a> {
    coefficients: &'a [f64],
    rows: Vec<&'a [f64]>,
}

impl PendingView<'_> {
    fn view(&self) -> Update<'_> {
        Update {
            coefficients: self.coefficients,
            rows: &self.rows,
        }
    }
}

impl PendingRows {
    fn push(&mut self, coefficient: f64, x: &[f64]) {
        self.coefficients.push(coefficient);
        self.rows.push(x.to_vec());
    }

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn update(&self) -> PendingView<'_> {
        self.update_from(0)
    }

    /// The rows from the `first`-th on.
    fn update_from(&self, first: usize) -> PendingView<'_> {
        PendingView {
            coefficients: &self.coefficients[first..],
            rows: self.rows[first..].iter().map(Vec::as_slice).collect(),
        }
    }

    fn clear(&mut self) {
        self.coefficients.clear();
        self.rows.clear();
    }
}

/// Ĝ ≈ XᵀX on the current rows (lower triangle significant), for ‖Xv‖ without a pass.
#[derive(Debug, Clone)]
pub struct GramCache {
    /// Ĝ without the pending rows.
    gram: DMatrix<f64>,
    /// Rows removed but not yet subtracted from Ĝ (their error bounds are already in η_G).
    pending: PendingRows,
    /// R_p ≥ the norm of every pending row.
    pending_row_norm: f64,
    /// η_G ≥ ‖Ĝ − XᵀX‖₂.
    error: f64,
    /// T_G ≥ trace(XᵀX) at formation.
    trace: f64,
    /// Folds of the queue so far (transient).
    folds: usize,
}

impl GramCache {
    /// Forms Ĝ = fl(XᵀX) (O(n·d²)); η_G = γ_{n+2}·T with T ≥ trace(XᵀX) (each entry is a
    /// sum of n products, so |Ĝ − XᵀX| ≤ γ_{n+2}·|X|ᵀ|X| entrywise, whose 2-norm is at most
    /// its trace — proofs/pass_free_step.md, Lemma 1).
    pub fn new(features: &[f64], dim: usize) -> Self {
        let n = features.len() / dim.max(1);
        let gram = linalg::weighted_gram(features, dim, &vec![1.0; n]);
        let (error, trace) = gram_error_bound(&gram, n);
        Self::from_parts(gram, error, trace)
    }

    /// A Gram matrix summed elsewhere (external rows) with its 2-norm error bound η_G:
    /// T_G = trace(Ĝ) + d·η_G, as for [`HessianCache::from_sums`].
    pub fn from_sums(gram: DMatrix<f64>, error: f64) -> Self {
        let d = gram.nrows() as f64;
        let trace: f64 = gram.diagonal().iter().map(|v| v.abs()).sum();
        let trace = (trace + d * error) * (1.0 + rounding_gamma(d + 2.0));
        Self::from_parts(gram, error, trace)
    }

    fn from_parts(gram: DMatrix<f64>, error: f64, trace: f64) -> Self {
        Self {
            gram,
            pending: PendingRows::default(),
            pending_row_norm: 0.0,
            error,
            trace,
            folds: 0,
        }
    }

    /// η_G ≥ ‖Ĝ − XᵀX‖₂.
    pub fn error(&self) -> f64 {
        self.error
    }

    /// Ĝ (lower triangle significant), without the pending rows.
    pub fn gram(&self) -> &DMatrix<f64> {
        &self.gram
    }

    /// Ĝ ← Ĝ − xxᵀ (lower triangle) queued, its error bound added now (each entry rounds
    /// three times, also when applied with the other pending rows), O(d). Every
    /// [`GRAM_FOLD_ROWS`] rows the queue is applied, in one pass.
    pub fn remove_row(&mut self, x: &[f64], row_norm: f64) {
        self.error += rounding_gamma(3.0) * (self.frobenius() + row_norm * row_norm);
        self.pending.push(-1.0, x);
        self.pending_row_norm = self.pending_row_norm.max(row_norm);
        if self.pending.len() >= GRAM_FOLD_ROWS {
            self.apply_pending();
        }
    }

    /// Subtracts the pending rows from Ĝ, one pass for all of them.
    pub fn apply_pending(&mut self) {
        if self.pending.len() == 0 {
            return;
        }
        Isa::detect().update(self.gram.as_mut_slice(), &self.pending.update().view());
        self.folds += 1;
        self.pending.clear();
        self.pending_row_norm = 0.0;
    }

    /// ‖Ĝ‖_F ≤ T_G + √d·η_G.
    fn frobenius(&self) -> f64 {
        self.trace + (self.gram.nrows() as f64).sqrt() * self.error
    }

    /// An upper bound on ‖Xv‖ = √(vᵀXᵀXv), with Ĝ standing for the rows before the m
    /// pending ones x_k were removed: vᵀXᵀXv = vᵀ(Ĝ's exact matrix)v − Σ_k (x_kᵀv)², so
    ///
    /// fl(vᵀĜv − Σ_k (x_kᵀv)²) + (η_G + γ_{2d+2}·‖Ĝ‖_F + γ_{2d+m+3}·m·R_p²)·‖v‖²,
    ///
    /// rooted and rounded up, R_p ≥ ‖x_k‖. The quadratic form is a sum of d² products
    /// computed as Ĝv then vᵀ(Ĝv), in any order (γ_{2d+2}); each fl(x_kᵀv)² is within
    /// γ_{2d+1}·‖x_k‖²‖v‖² of (x_kᵀv)² (|fl(p) − p| ≤ γ_d‖x_k‖‖v‖, then one squaring), and
    /// their sum and the subtraction add γ_{m+2} relative (proofs/pass_free_step.md,
    /// Lemma 2). Read-only: the pending rows stay pending.
    pub fn product_norm_bound(&self, v: &DVector<f64>) -> f64 {
        let d = v.len() as f64;
        let m = self.pending.len() as f64;
        let mut gv = DVector::zeros(v.len());
        Isa::detect().symv(self.gram.as_slice(), v.as_slice(), gv.as_mut_slice());
        let removed: f64 = self
            .pending
            .rows
            .iter()
            .map(|x| linalg::dot(x, v.as_slice()).powi(2))
            .sum();
        let quadratic = v.dot(&gv) - removed;
        let v2 = v.norm_squared() * (1.0 + rounding_gamma(d + 1.0));
        let pending = rounding_gamma(2.0 * d + m + 3.0) * m * self.pending_row_norm.powi(2);
        let slack = (self.error + rounding_gamma(2.0 * d + 2.0) * self.frobenius() + pending) * v2;
        ((quadratic.max(0.0) + slack) * (1.0 + 4.0 * UNIT_ROUNDOFF)).sqrt()
            * (1.0 + 4.0 * UNIT_ROUNDOFF)
    }
}

/// The error bound η_G = γ_{n+2}·T and trace bound T of a Gram matrix formed from n rows
/// ([`GramCache::new`]).
pub fn gram_error_bound(gram: &DMatrix<f64>, n: usize) -> (f64, f64) {
    let dim = gram.nrows();
    let g = rounding_gamma(n as f64 + 2.0);
    let trace: f64 = gram.diagonal().iter().sum();
    let trace = trace / (1.0 - g) * (1.0 + rounding_gamma(dim as f64));
    (g * trace, trace)
}

/// Rows the Gram matrix queues before it applies them in one pass: each step pays m dot
/// products of length d for the queue (≤ 32·d multiply-adds, a few percent of one pass over
/// the d(d+1)/2 entries at d ≥ 784) instead of a read-write pass over Ĝ per step.
pub const GRAM_FOLD_ROWS: usize = 32;

/// Rows Ĥ₀ queues before a step folds them into it, fused with that step's product: each
/// step pays 2m·d multiply-adds for the queue (≤ 62·d, a tenth of the product's d² at
/// d = 784) and reads Ĥ₀ without writing it; every entry gets its rank-one updates 32 at a
/// time (a batch of m rows is not charged for its m updates of Ĥ₀ in its own step, but
/// every 32 removed rows pay one rank-32 pass, whatever the batches).
pub const HESSIAN_FOLD_ROWS: usize = 32;

/// The caches of all class models and the shared Gram matrix. They never take part in
/// comparisons of unlearner state (a cache changes how a step is computed, not what the
/// state is).
#[derive(Debug, Clone, Default)]
pub struct HessianCaches {
    models: Vec<Option<HessianCache>>,
    gram: Option<GramCache>,
    /// The events of the caches dropped so far, so that [`HessianCaches::events`] never
    /// decreases while this value lives.
    retired: CacheEvents,
}

impl PartialEq for HessianCaches {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl HessianCaches {
    /// Drops everything (the rows changed in a way the caches did not follow).
    pub fn clear(&mut self) {
        self.clear_models();
        if let Some(gram) = self.gram.take() {
            self.retired.gram_folds += gram.folds;
        }
    }

    /// Drops the class models' caches, keeping the Gram matrix (which depends on the rows
    /// only): after the weights moved without the caches (a retraining).
    pub fn clear_models(&mut self) {
        for k in 0..self.models.len() {
            self.drop_model(k);
        }
        self.models.clear();
    }

    /// Drops the cache of model `k` (its next step is exact).
    pub fn drop_model(&mut self, k: usize) {
        if let Some(cache) = self.models.get_mut(k).and_then(Option::take) {
            self.retired = self.retired.add(cache.events);
        }
    }

    /// Sets the cache of model `k`.
    pub fn set(&mut self, k: usize, cache: HessianCache) {
        if self.models.len() <= k {
            self.models.resize(k + 1, None);
        }
        self.drop_model(k);
        self.models[k] = Some(cache);
    }

    /// Everything the caches have done so far, the dropped ones included ([`CacheEvents`]):
    /// the difference across a request is what that request did.
    pub fn events(&self) -> CacheEvents {
        let gram = CacheEvents {
            gram_folds: self.retired.gram_folds + self.gram.as_ref().map_or(0, |g| g.folds),
            ..CacheEvents::default()
        };
        self.models
            .iter()
            .flatten()
            .fold(self.retired.add(gram), |sum, cache| sum.add(cache.events))
    }

    /// What a pass-free step of model `k` needs: its cache (to update) and the Gram matrix.
    pub fn step_parts(&mut self, k: usize) -> Option<(&mut HessianCache, Option<&GramCache>)> {
        let cache = self.models.get_mut(k).and_then(Option::as_mut)?;
        Some((cache, self.gram.as_ref()))
    }

    /// Every class model's cache (all `count` of them, or none) and the Gram matrix, for
    /// steps of all class models at once.
    pub fn all_step_parts(
        &mut self,
        count: usize,
    ) -> Option<(Vec<&mut HessianCache>, Option<&GramCache>)> {
        if self.models.len() < count || self.models[..count].iter().any(Option::is_none) {
            return None;
        }
        let caches = self.models[..count].iter_mut().flatten().collect();
        Some((caches, self.gram.as_ref()))
    }

    /// The shared Gram matrix, if formed.
    pub fn gram(&self) -> Option<&GramCache> {
        self.gram.as_ref()
    }

    /// Forms the Gram matrix of `features` unless it is there already.
    pub fn ensure_gram(&mut self, features: &[f64], dim: usize) {
        if self.gram.is_none() {
            self.gram = Some(GramCache::new(features, dim));
        }
    }

    /// Removes row `x` from every cache: class model k has target `targets[k]` and weights
    /// `weights[k]`. O(d) per cache: the d×d matrices get the row with the next step.
    pub fn remove_row<L: Loss + ?Sized>(
        &mut self,
        loss: &L,
        x: &[f64],
        targets: &[f64],
        weights: &[DVector<f64>],
        row_norm: f64,
    ) {
        for (k, slot) in self.models.iter_mut().enumerate() {
            if let Some(cache) = slot {
                cache.remove_row(loss, x, targets[k], &weights[k], row_norm);
            }
        }
        if let Some(gram) = &mut self.gram {
            gram.remove_row(x, row_norm);
        }
    }
}

/// The caches as an external-rows store keeps them ([`crate::rows`]): every matrix with its
/// pending rows applied (a removed row's features are never written), column-major, bit for
/// bit (the factor too, so that a loaded unlearner continues with the same bits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachesRecord {
    /// Per class model.
    pub models: Vec<Option<CacheRecord>>,
    /// The shared Gram matrix.
    pub gram: Option<GramRecord>,
}

/// One class model's cache ([`HessianCache`]'s fields, d×d matrices column-major).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheRecord {
    hessian: Vec<f64>,
    hessian_error: f64,
    hessian_trace: f64,
    factor: Vec<f64>,
    point: Vec<f64>,
    lambda: f64,
    gradient: Vec<f64>,
    gradient_error: f64,
    gradient_lambda: f64,
}

/// The Gram matrix ([`GramCache`]'s fields, column-major).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GramRecord {
    gram: Vec<f64>,
    error: f64,
    trace: f64,
}

/// The label that opens a caches blob ([`CachesRecord::to_bytes`]).
const BLOB_LABEL: &[u8] = b"unlearn/caches/v1";

impl CachesRecord {
    /// The record as bytes, every number a little-endian f64 (bit for bit, 8 bytes, where
    /// JSON spends up to 24 characters and a parse): a label (`unlearn/caches/v1`), d and the number of
    /// class models as u64; per class model a presence byte and, if present, Ĥ₀ (d²,
    /// column-major), η, T, the factor (d²), w₀ (d), Λ₀, ĝ (d), e, Λ of ĝ; then a presence
    /// byte and the Gram matrix (d²), η_G, T_G. The store's format 6 keeps it in its
    /// `caches` table. O(d²) bytes written, no formatting.
    pub fn to_bytes(&self, dim: usize) -> Vec<u8> {
        let matrices = self.models.iter().flatten().count() * 2 + usize::from(self.gram.is_some());
        let mut out =
            Vec::with_capacity(BLOB_LABEL.len() + 18 + 8 * (matrices * dim * dim + 8 * dim));
        out.extend_from_slice(BLOB_LABEL);
        out.extend_from_slice(&(dim as u64).to_le_bytes());
        out.extend_from_slice(&(self.models.len() as u64).to_le_bytes());
        fn put(out: &mut Vec<u8>, values: &[f64]) {
            out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        }
        for slot in &self.models {
            out.push(u8::from(slot.is_some()));
            if let Some(r) = slot {
                put(&mut out, &r.hessian);
                put(&mut out, &[r.hessian_error, r.hessian_trace]);
                put(&mut out, &r.factor);
                put(&mut out, &r.point);
                put(&mut out, &[r.lambda]);
                put(&mut out, &r.gradient);
                put(&mut out, &[r.gradient_error, r.gradient_lambda]);
            }
        }
        out.push(u8::from(self.gram.is_some()));
        if let Some(g) = &self.gram {
            put(&mut out, &g.gram);
            put(&mut out, &[g.error, g.trace]);
        }
        out
    }

    /// The record of [`CachesRecord::to_bytes`] for rows of width `dim`; an error names what
    /// does not fit (another label, another width, a length that does not match).
    pub fn from_bytes(bytes: &[u8], dim: usize) -> Result<Self, String> {
        let mut blob = Blob(bytes);
        if blob.take(BLOB_LABEL.len())? != BLOB_LABEL {
            return Err("the caches blob does not start with its label".into());
        }
        let width = blob.count()?;
        if width != dim as u64 {
            return Err(format!(
                "the caches blob is of width {width}, the model's rows have {dim} columns"
            ));
        }
        let count = blob.count()?;
        // A class model's cache takes at least 2d² numbers: more than the bytes left is damage.
        if count > bytes.len() as u64 {
            return Err(format!("the caches blob counts {count} class models"));
        }
        let square = dim * dim;
        let mut models = Vec::with_capacity(count as usize);
        for _ in 0..count {
            models.push(if blob.present()? {
                Some(CacheRecord {
                    hessian: blob.values(square)?,
                    hessian_error: blob.value()?,
                    hessian_trace: blob.value()?,
                    factor: blob.values(square)?,
                    point: blob.values(dim)?,
                    lambda: blob.value()?,
                    gradient: blob.values(dim)?,
                    gradient_error: blob.value()?,
                    gradient_lambda: blob.value()?,
                })
            } else {
                None
            });
        }
        let gram = if blob.present()? {
            Some(GramRecord {
                gram: blob.values(square)?,
                error: blob.value()?,
                trace: blob.value()?,
            })
        } else {
            None
        };
        if !blob.0.is_empty() {
            return Err(format!(
                "the caches blob has {} bytes after its Gram matrix",
                blob.0.len()
            ));
        }
        Ok(Self { models, gram })
    }
}

/// The unread rest of a caches blob.
struct Blob<'a>(&'a [u8]);

impl<'a> Blob<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("the caches blob ends early".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn count(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn present(&mut self) -> Result<bool, String> {
        match self.take(1)? {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err("the caches blob has a presence byte that is neither 0 nor 1".into()),
        }
    }

    fn value(&mut self) -> Result<f64, String> {
        Ok(f64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn values(&mut self, n: usize) -> Result<Vec<f64>, String> {
        let bytes = self.take(n.checked_mul(8).ok_or("the caches blob is too large")?)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }
}

/// A d×d matrix from its column-major values, or why not.
fn square(values: Vec<f64>, dim: usize, what: &str) -> Result<DMatrix<f64>, String> {
    if values.len() != dim * dim {
        return Err(format!(
            "the cached {what} has {} values, not {dim}×{dim}",
            values.len()
        ));
    }
    Ok(DMatrix::from_vec(dim, dim, values))
}

impl CacheRecord {
    fn of(cache: &HessianCache) -> Self {
        Self {
            hessian: cache.hessian.as_slice().to_vec(),
            hessian_error: cache.hessian_error,
            hessian_trace: cache.hessian_trace,
            factor: cache.factor.l_dirty().as_slice().to_vec(),
            point: cache.point.as_slice().to_vec(),
            lambda: cache.lambda,
            gradient: cache.gradient.as_slice().to_vec(),
            gradient_error: cache.gradient_error,
            gradient_lambda: cache.gradient_lambda,
        }
    }

    fn into_cache(self, dim: usize) -> Result<HessianCache, String> {
        if self.point.len() != dim || self.gradient.len() != dim {
            return Err(format!("a cached vector does not have {dim} values"));
        }
        Ok(HessianCache {
            hessian: square(self.hessian, dim, "Hessian")?,
            hessian_error: self.hessian_error,
            hessian_trace: self.hessian_trace,
            factor: Cholesky::pack_dirty(square(self.factor, dim, "factor")?),
            pending: PendingRows::default(),
            factor_applied: 0,
            pending_weight: 0.0,
            point: DVector::from_vec(self.point),
            lambda: self.lambda,
            gradient: DVector::from_vec(self.gradient),
            gradient_error: self.gradient_error,
            gradient_lambda: self.gradient_lambda,
            events: CacheEvents::default(),
        })
    }
}

impl HessianCaches {
    /// Applies every pending row to every matrix (one pass each), so that no removed row's
    /// features remain in the caches. An error means a Hessian is no longer positive
    /// definite: that model's cache is dropped.
    pub fn apply_pending(&mut self) {
        for k in 0..self.models.len() {
            if self.models[k]
                .as_mut()
                .is_some_and(|cache| cache.apply_pending().is_err())
            {
                self.drop_model(k);
            }
        }
        if let Some(gram) = &mut self.gram {
            gram.apply_pending();
        }
    }

    /// The record an external-rows store keeps; `None` if rows are pending
    /// ([`HessianCaches::apply_pending`] first).
    pub fn record(&self) -> Option<CachesRecord> {
        let pending = self.models.iter().flatten().any(|c| c.pending.len() > 0)
            || self.gram.as_ref().is_some_and(|g| g.pending.len() > 0);
        if pending {
            return None;
        }
        Some(CachesRecord {
            models: self
                .models
                .iter()
                .map(|slot| slot.as_ref().map(CacheRecord::of))
                .collect(),
            gram: self.gram.as_ref().map(|g| GramRecord {
                gram: g.gram.as_slice().to_vec(),
                error: g.error,
                trace: g.trace,
            }),
        })
    }

    /// The caches of a record, for rows of width `dim`; an error names what does not fit.
    pub fn from_record(record: CachesRecord, dim: usize) -> Result<Self, String> {
        let models = record
            .models
            .into_iter()
            .map(|slot| slot.map(|r| r.into_cache(dim)).transpose())
            .collect::<Result<_, _>>()?;
        let gram = record
            .gram
            .map(|g| -> Result<GramCache, String> {
                Ok(GramCache::from_parts(
                    square(g.gram, dim, "Gram matrix")?,
                    g.error,
                    g.trace,
                ))
            })
            .transpose()?;
        Ok(Self {
            models,
            gram,
            retired: CacheEvents::default(),
        })
    }

    /// Whether every one of `count` class models has a cache.
    pub fn complete(&self, count: usize) -> bool {
        self.models.len() >= count && self.models[..count].iter().all(Option::is_some)
    }

    /// Sets the shared Gram matrix.
    pub fn set_gram(&mut self, gram: GramCache) {
        if let Some(old) = self.gram.replace(gram) {
            self.retired.gram_folds += old.folds;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::Squared;

    /// A cache of H = diag(1, 1) at w₀ = 0 (squared loss: ℓ'' = 1 for every row).
    fn unit_cache() -> HessianCache {
        let hessian = DMatrix::identity(2, 2);
        let factor = linalg::cholesky(hessian.clone()).unwrap();
        let seed = CacheSeed {
            hessian,
            factor,
            point: DVector::zeros(2),
            lambda: 1.0,
            gradient: DVector::zeros(2),
            gradient_error: 0.0,
        };
        let rows = RowBounds {
            rows: 1,
            row_norm: 1.0,
            gamma: 0.0,
        };
        HessianCache::new(seed, rows)
    }

    /// Removing a row keeps the factor that of the downdated Ĥ₀ (to rounding); removing one
    /// that makes Ĥ₀ indefinite (here I − 2·e₁e₁ᵀ) is reported as an error — nalgebra's
    /// downdate alone would leave a NaN in the factor without saying so.
    #[test]
    fn a_downdate_that_breaks_positive_definiteness_is_caught() {
        let w = DVector::zeros(2);
        let mut cache = unit_cache();
        cache.remove_row(&Squared, &[0.6, 0.0], 0.0, &w, 1.0);
        cache.apply_pending().unwrap();
        let l = cache.factor().l();
        assert!((l[(0, 0)] - 0.64f64.sqrt()).abs() < 1e-15 && (l[(1, 1)] - 1.0).abs() < 1e-15);
        assert!((cache.hessian()[(0, 0)] - 0.64).abs() < 1e-15);
        assert!(cache.hessian_error() > 0.0, "rounding is tracked");

        let mut cache = unit_cache();
        let x = [2f64.sqrt(), 0.0];
        cache.remove_row(&Squared, &x, 0.0, &w, 1.5);
        assert!(cache.apply_pending().is_err());
        let mut raw = linalg::cholesky(DMatrix::identity(2, 2)).unwrap();
        raw.rank_one_update(&DVector::from_column_slice(&x), -1.0);
        assert!(
            raw.l_dirty()[(0, 0)].is_nan(),
            "the unguarded downdate is silently broken"
        );
    }

    /// Ĥ₀v with queued rows is the product of Ĥ₀ − Σ_k x_kx_kᵀ (squared loss: ŝ = 1): on
    /// small integers every operation is exact, so the queued product (Ĥ₀ read, the rows
    /// subtracted in O(m·d)) must equal the folded one and the exact integer product bit for
    /// bit — a wrong sign, a row left out or counted twice fails. Below
    /// [`HESSIAN_FOLD_ROWS`] rows Ĥ₀ is not written and `queued_rows` reports the queue;
    /// the product at HESSIAN_FOLD_ROWS folds it (queue empty, Ĥ₀ downdated, the factor
    /// with every row).
    #[test]
    fn queued_rows_are_subtracted_by_the_product_and_folded_at_the_threshold() {
        let d = 3;
        let hessian = DMatrix::from_diagonal_element(d, d, 1000.0);
        let seed = CacheSeed {
            factor: linalg::cholesky(hessian.clone()).unwrap(),
            hessian: hessian.clone(),
            point: DVector::zeros(d),
            lambda: 1.0,
            gradient: DVector::zeros(d),
            gradient_error: 0.0,
        };
        let bounds = RowBounds {
            rows: 64,
            row_norm: 4.0,
            gamma: 0.0,
        };
        let mut cache = HessianCache::new(seed, bounds);
        let w = DVector::zeros(d);
        let v = DVector::from_column_slice(&[1.0, -2.0, 3.0]);
        let mut exact = hessian.clone();
        for k in 0..HESSIAN_FOLD_ROWS {
            let x = [(k % 3) as f64, ((k + 1) % 2) as f64, 2.0 - (k % 3) as f64];
            cache.remove_row(&Squared, &x, 0.0, &w, 4.0);
            let x = DVector::from_column_slice(&x);
            exact -= &x * x.transpose();
            let expected = &exact * &v;
            if k + 1 < HESSIAN_FOLD_ROWS {
                assert_eq!(
                    cache.hessian_times(&v).unwrap(),
                    expected,
                    "{} rows queued",
                    k + 1
                );
                assert_eq!(cache.hessian(), &hessian, "Ĥ₀ is only read");
                assert_eq!(cache.events(), CacheEvents::default(), "no fold yet");
                assert_eq!(cache.queued_rows().0, k + 1);
                // Each row has ‖x‖² ≤ 9 and ŝ = 1.
                assert!(cache.queued_rows().1 >= (k + 1) as f64 * 9.0);
            } else {
                assert_eq!(cache.hessian_times(&v).unwrap(), expected, "the fold");
                assert_eq!(cache.queued_rows(), (0, 0.0));
                let one_fold = CacheEvents {
                    hessian_folds: 1,
                    ..CacheEvents::default()
                };
                assert_eq!(cache.events(), one_fold);
                let folded = cache.hessian().clone();
                assert_eq!(folded.lower_triangle(), exact.lower_triangle());
                // The factor's backward error, O(m·d·u)·‖Ĥ₀‖_max with the margin of
                // kernels::tests (100·m·d·u).
                let l = cache.factor().l();
                let tolerance = 100.0 * (HESSIAN_FOLD_ROWS * d) as f64 * f64::EPSILON / 2.0;
                assert!((&l * l.transpose() - &exact).abs().max() <= tolerance * 1000.0);
                // A refactorisation counts; with nothing queued it folds nothing.
                cache.refactor().unwrap();
                let refactored = CacheEvents {
                    refactorisations: 1,
                    ..one_fold
                };
                assert_eq!(cache.events(), refactored);
                // The collection keeps a dropped cache's counts: they never decrease.
                let mut caches = HessianCaches::default();
                caches.set(0, cache.clone());
                caches.clear_models();
                assert_eq!(caches.events(), refactored);
                caches.set(0, cache.clone());
                assert_eq!(caches.events().since(refactored), refactored);
            }
        }
    }

    /// `GramCache::product_norm_bound` rounds its result up twice by (1 + 4u): once under the
    /// square root (the sum fl(vᵀĜv) + slack) and once after it. With an exact Ĝ = [4]
    /// (η_G = 0, T_G = 0, so the slack is 0) and v = [1], vᵀĜv = 4 exactly and, by hand with
    /// u = 2⁻⁵³ and ulp 2⁻⁵¹ on [2, 4):
    /// fl(4·(1 + 2⁻⁵¹)) = 4 + 2⁻⁴⁹ (exact); √(4 + 2⁻⁴⁹) = 2 + 2⁻⁵¹ − 2⁻¹⁰³ − …, nearest
    /// 2 + 2⁻⁵¹; (2 + 2⁻⁵¹)(1 + 2⁻⁵¹) = 2 + 3·2⁻⁵¹ + 2⁻¹⁰², nearest 2 + 3·2⁻⁵¹.
    /// Without the inner factor the bound would be 2 + 2·2⁻⁵¹, without the outer 2 + 2⁻⁵¹,
    /// without both 2: each factor moves the pinned bits.
    #[test]
    fn product_norm_bound_rounds_up_under_and_after_the_root() {
        let cache = GramCache {
            gram: DMatrix::from_element(1, 1, 4.0),
            pending: PendingRows::default(),
            pending_row_norm: 0.0,
            error: 0.0,
            trace: 0.0,
            folds: 0,
        };
        let bound = cache.product_norm_bound(&DVector::from_element(1, 1.0));
        assert_eq!(bound, 2.0 + 3.0 * 2f64.powi(-51));
    }
}
