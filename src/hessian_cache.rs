//! Cached Hessian factors: the first step of the fast removal path (issue 4).
//!
//! For each class model the unlearner may keep a Cholesky factor of
//! H₀ = ∇²L_b(w₀; D) = Xᵀdiag(ℓ''(Xw₀, y))X + Λ₀I at a past point w₀ on the current rows.
//! Removing a row x deletes its term: H₀ ← H₀ − ℓ''(xᵀw₀, y)·x·xᵀ, a rank-one downdate of
//! the factor in O(d²) (nalgebra's `rank_one_update` with a negative weight). A step
//! v = H₀⁻¹Δ with the cached factor then costs O(d²) instead of forming the Hessian
//! (O(n·d²)) and factorising it (O(d³)).
//!
//! The factor is an approximation of the Hessian at the current weights: it was taken at
//! w₀, and under the per-sample convention Λ₀ is the strength when it was formed. The step
//! it gives is not the exact Newton step, so its residual is larger (the unlearner takes
//! two cached steps per removal, the second correcting most of the first's error); it only
//! uses cached steps under output perturbation, where the certificate rests on the exact
//! residual computed afterwards, and bounds the stale step's residual by
//! ‖Δ − H′₀v‖ + γ·R·‖X‖₂·‖Xv‖·(‖v‖/2 + ‖w − w₀‖) with H′₀ = H(w₀; D′) at the current Λ′
//! (proofs/cached_hessian_step.md).
//!
//! A downdate that leaves the matrix numerically indefinite shows up as a non-finite or
//! non-positive diagonal of the factor (nalgebra does not report it): the cache is then
//! dropped and the next step forms the Hessian afresh. The cache is not persisted; a store
//! loaded from disk starts without one.

use crate::loss::Loss;
use nalgebra::{Cholesky, DVector, Dyn};

/// The cached factor of one class model.
#[derive(Debug, Clone)]
pub struct HessianCache {
    /// Cholesky factor of H₀ on the current rows.
    pub factor: Cholesky<f64, Dyn>,
    /// The point w₀ the curvatures were taken at.
    pub point: DVector<f64>,
}

impl HessianCache {
    /// Removes the term of row `x` with target `y`: H₀ ← H₀ − ℓ''(xᵀw₀, y)·x·xᵀ. Returns
    /// false (and the cache must be dropped) if the factor stopped being positive definite.
    pub fn downdate<L: Loss + ?Sized>(&mut self, loss: &L, x: &[f64], y: f64) -> bool {
        let x = DVector::from_column_slice(x);
        let curvature = loss.second_derivative(x.dot(&self.point), y);
        if curvature > 0.0 {
            self.factor.rank_one_update(&x, -curvature);
        }
        let l = self.factor.l_dirty();
        (0..l.nrows()).all(|j| {
            let v = l[(j, j)];
            v.is_finite() && v > 0.0
        })
    }
}

/// The caches of all class models; they never take part in comparisons of unlearner state
/// (a cache changes how a step is computed, not what the state is).
#[derive(Debug, Clone, Default)]
pub struct HessianCaches(pub Vec<Option<HessianCache>>);

impl PartialEq for HessianCaches {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl HessianCaches {
    /// Drops every cache.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The cache of model `k`, if any.
    pub fn get(&self, k: usize) -> Option<&HessianCache> {
        self.0.get(k).and_then(Option::as_ref)
    }

    /// Sets the cache of model `k`.
    pub fn set(&mut self, k: usize, cache: HessianCache) {
        if self.0.len() <= k {
            self.0.resize(k + 1, None);
        }
        self.0[k] = Some(cache);
    }

    /// Downdates every cache for row `x` (model k's target `targets[k]`), dropping those
    /// that fail.
    pub fn downdate<L: Loss + ?Sized>(&mut self, loss: &L, x: &[f64], targets: &[f64]) {
        for (k, slot) in self.0.iter_mut().enumerate() {
            if let Some(cache) = slot
                && !cache.downdate(loss, x, targets[k])
            {
                *slot = None;
            }
        }
    }
}
