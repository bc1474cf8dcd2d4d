//! The perturbed training objective and its derivatives.
//!
//! L_b(w; D) = Σ_i ℓ(wᵀx_i, y_i) + (Λ/2)‖w‖² + bᵀw
//!
//! ∇L_b(w)  = Xᵀ ℓ'(Xw, y) + Λw + b
//! ∇²L_b(w) = Xᵀ diag(ℓ''(Xw, y)) X + ΛI          (b does not enter the Hessian)
//!
//! b is the secret objective-perturbation noise (Chaudhuri, Monteleoni, Sarwate 2011;
//! Guo et al. 2020 §3.2); b = 0 gives the plain regularised objective. Λ is the total
//! regularisation strength, fixed by the [`Regularization`] convention. Every sum over rows
//! runs in parallel over fixed row blocks whose partials are added in block order
//! ([`linalg::ordered_sum`]), so every value, gradient and Hessian has the same bits at any
//! thread count.

use crate::bounds;
use crate::linalg;
use crate::loss::Loss;
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How the user's regularisation parameter λ becomes the total strength Λ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Regularization {
    /// Λ = λ, fixed whatever the number of rows (scikit-learn's convention: C = 1/Λ).
    /// Removing rows leaves Λ unchanged, so the Hessian changes by one rank-one term per row.
    Total,
    /// Λ = λ·n for n training rows (Guo et al. 2020, who minimise the mean loss plus
    /// (λ/2)‖w‖²). Retraining on n − m rows uses λ·(n − m).
    PerSample,
}

impl Regularization {
    /// Λ for a training set of `n_rows` rows.
    pub fn effective_lambda(self, lambda: f64, n_rows: usize) -> f64 {
        match self {
            Regularization::Total => lambda,
            Regularization::PerSample => lambda * n_rows as f64,
        }
    }
}

impl fmt::Display for Regularization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Regularization::Total => "total",
            Regularization::PerSample => "per-sample",
        })
    }
}

impl FromStr for Regularization {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "total" => Ok(Regularization::Total),
            "per-sample" => Ok(Regularization::PerSample),
            other => Err(format!(
                "unknown regularization '{other}': expected 'total' or 'per-sample'"
            )),
        }
    }
}

/// Training rows as the objective sees them: n row-major rows of d values and n targets.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    /// Row-major features, n·d values.
    pub features: &'a [f64],
    /// One target per row (±1 for logistic).
    pub targets: &'a [f64],
    /// Number of features d (including an intercept column, if any).
    pub dim: usize,
}

impl Rows<'_> {
    /// Number of rows n.
    pub fn len(&self) -> usize {
        self.targets.len()
    }
    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

/// L_b(·; D) for a loss, rows D, total regularisation Λ and noise b.
#[derive(Debug, Clone, Copy)]
pub struct Objective<'a, L: Loss + ?Sized> {
    /// The loss ℓ.
    pub loss: &'a L,
    /// The rows D.
    pub rows: Rows<'a>,
    /// The total regularisation strength Λ > 0.
    pub lambda: f64,
    /// The noise vector b (length d).
    pub noise: &'a DVector<f64>,
}

impl<L: Loss + ?Sized> Objective<'_, L> {
    /// L_b(w) = Σ ℓ(wᵀx_i, y_i) + (Λ/2)‖w‖² + bᵀw.
    pub fn value(&self, w: &DVector<f64>) -> f64 {
        let z = linalg::margins(self.rows.features, w);
        let n = self.rows.len();
        let data = linalg::ordered_sum(
            linalg::block_count(n, linalg::BLOCK_ROWS),
            usize::MAX,
            0.0,
            |k| {
                let range = linalg::block_rows(k, linalg::BLOCK_ROWS, n);
                z[range.clone()]
                    .iter()
                    .zip(&self.rows.targets[range])
                    .map(|(&zi, &yi)| self.loss.value(zi, yi))
                    .sum::<f64>()
            },
            |total, p| *total += p,
        );
        data + 0.5 * self.lambda * w.norm_squared() + self.noise.dot(w)
    }

    /// L_b(w), ∇L_b(w), the curvatures ℓ''(Xw, y) and the Hessian's diagonal in one pass
    /// over the rows (each row is read once: its margin, loss, derivatives, gradient and
    /// diagonal contributions together).
    pub fn evaluate(&self, w: &DVector<f64>) -> Evaluation {
        let d = self.rows.dim;
        let n = self.rows.len();
        let block = linalg::BLOCK_ROWS;
        let sums = linalg::ordered_sum(
            linalg::block_count(n, block),
            usize::MAX,
            BlockSums::zero(d, n),
            |k| {
                let range = linalg::block_rows(k, block, n);
                let mut sums = BlockSums::zero(d, range.len());
                let rows = &self.rows.features[range.start * d..range.end * d];
                for (x, &y) in rows.chunks_exact(d.max(1)).zip(&self.rows.targets[range]) {
                    let z = linalg::dot(x, w.as_slice());
                    sums.value += self.loss.value(z, y);
                    let r = self.loss.derivative(z, y);
                    let s = self.loss.second_derivative(z, y);
                    sums.curvatures.push(s);
                    for ((g, h), &xj) in sums.gradient.iter_mut().zip(&mut sums.diagonal).zip(x) {
                        *g += r * xj;
                        *h += s * xj * xj;
                    }
                }
                sums
            },
            |total, p| {
                total.value += p.value;
                linalg::add_assign(&mut total.gradient, &p.gradient);
                linalg::add_assign(&mut total.diagonal, &p.diagonal);
                total.curvatures.extend_from_slice(&p.curvatures);
            },
        );
        let BlockSums {
            value: data,
            gradient,
            diagonal,
            curvatures,
        } = sums;
        Evaluation {
            value: data + 0.5 * self.lambda * w.norm_squared() + self.noise.dot(w),
            gradient: DVector::from_vec(gradient) + w * self.lambda + self.noise,
            curvatures,
            hessian_diagonal: DVector::from_vec(diagonal).add_scalar(self.lambda),
        }
    }

    /// The Hessian operator for curvatures already computed by [`Objective::evaluate`].
    pub fn hessian_operator_from(&self, curvatures: Vec<f64>) -> HessianOperator<'_> {
        HessianOperator {
            rows: self.rows,
            curvatures,
            lambda: self.lambda,
        }
    }

    /// ∇L_b(w) = Xᵀℓ'(Xw, y) + Λw + b.
    pub fn gradient(&self, w: &DVector<f64>) -> DVector<f64> {
        let z = linalg::margins(self.rows.features, w);
        self.gradient_at_margins(w, &z)
    }

    fn gradient_at_margins(&self, w: &DVector<f64>, z: &[f64]) -> DVector<f64> {
        let r: Vec<f64> = z
            .par_iter()
            .zip(self.rows.targets.par_iter())
            .map(|(&zi, &yi)| self.loss.derivative(zi, yi))
            .collect();
        linalg::transpose_times(self.rows.features, self.rows.dim, &r)
            + w * self.lambda
            + self.noise
    }

    /// ∇²L_b(w) = Xᵀdiag(ℓ''(Xw, y))X + ΛI.
    pub fn hessian(&self, w: &DVector<f64>) -> DMatrix<f64> {
        self.hessian_at_margins(&linalg::margins(self.rows.features, w))
    }

    fn hessian_at_margins(&self, z: &[f64]) -> DMatrix<f64> {
        self.hessian_from(&self.curvatures(z))
    }

    /// Xᵀdiag(s)X + ΛI for curvatures s already computed (by [`Objective::evaluate`]).
    pub fn hessian_from(&self, curvatures: &[f64]) -> DMatrix<f64> {
        let mut h = linalg::weighted_gram(self.rows.features, self.rows.dim, curvatures);
        for j in 0..self.rows.dim {
            h[(j, j)] += self.lambda;
        }
        h
    }

    /// The gradient and Hessian at w, sharing one pass for the margins.
    pub fn gradient_and_hessian(&self, w: &DVector<f64>) -> (DVector<f64>, DMatrix<f64>) {
        let z = linalg::margins(self.rows.features, w);
        (self.gradient_at_margins(w, &z), self.hessian_at_margins(&z))
    }

    /// ∇²L_b(w)·v = Xᵀ(ℓ''(Xw, y) ∘ Xv) + Λv, in O(n·d) without forming the Hessian.
    pub fn hessian_vector(&self, w: &DVector<f64>, v: &DVector<f64>) -> DVector<f64> {
        self.hessian_operator(w).apply(v)
    }

    /// The Hessian at w as an operator (its curvatures ℓ''(Xw, y) computed once), for
    /// Hessian-free methods: each product costs one pass over the rows.
    pub fn hessian_operator(&self, w: &DVector<f64>) -> HessianOperator<'_> {
        self.hessian_operator_from(self.curvatures(&linalg::margins(self.rows.features, w)))
    }

    fn curvatures(&self, z: &[f64]) -> Vec<f64> {
        z.par_iter()
            .zip(self.rows.targets.par_iter())
            .map(|(&zi, &yi)| self.loss.second_derivative(zi, yi))
            .collect()
    }
}

/// The row sums of [`Objective::evaluate`] over one block of rows (or all blocks so far):
/// Σ ℓ, Σ ℓ'·x, Σ ℓ''·x², and the curvatures ℓ'' of its rows in order.
struct BlockSums {
    value: f64,
    gradient: Vec<f64>,
    diagonal: Vec<f64>,
    curvatures: Vec<f64>,
}

impl BlockSums {
    /// Empty sums in dimension `d`, with room for `rows` curvatures.
    fn zero(d: usize, rows: usize) -> Self {
        Self {
            value: 0.0,
            gradient: vec![0.0; d],
            diagonal: vec![0.0; d],
            curvatures: Vec::with_capacity(rows),
        }
    }
}

/// L_b, ∇L_b and the curvatures at one point ([`Objective::evaluate`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// L_b(w).
    pub value: f64,
    /// ∇L_b(w).
    pub gradient: DVector<f64>,
    /// ℓ''(x_iᵀw, y_i) for every row.
    pub curvatures: Vec<f64>,
    /// diag ∇²L_b(w) = Σ_i ℓ''_i·x_ij² + Λ (a Jacobi preconditioner).
    pub hessian_diagonal: DVector<f64>,
}

/// ∇²L_b(w) = Xᵀdiag(s)X + ΛI as an operator, with s = ℓ''(Xw, y) fixed.
#[derive(Debug, Clone)]
pub struct HessianOperator<'a> {
    rows: Rows<'a>,
    curvatures: Vec<f64>,
    lambda: f64,
}

impl HessianOperator<'_> {
    /// H·v = Xᵀ(s ∘ Xv) + Λv, fused into one pass over the rows.
    pub fn apply(&self, v: &DVector<f64>) -> DVector<f64> {
        linalg::weighted_gram_times(
            self.rows.features,
            self.rows.dim,
            &self.curvatures,
            v.as_slice(),
        ) + v * self.lambda
    }
}

// ---------------------------------------------------------------------------------------
// The computed gradient's rounding error. Here, below the solver and the removal step,
// because both stop or certify on the bounded residual (proofs/training_residual.md).
// ---------------------------------------------------------------------------------------

/// An upper bound on the exact gradient residual ‖∇L_b(w; D′)‖ from its floating-point
/// computation: ‖u‖ ≤ fl(‖û‖)·(1 + γ_{d+2}) + [`bounds::gradient_rounding_bound`]
/// (proofs/squared_loss_exactness.md, Lemma 1). `row_norm_bound` must bound every row's norm.
pub fn residual_upper_bound<L: Loss + ?Sized>(
    objective: &Objective<'_, L>,
    w: &DVector<f64>,
    row_norm_bound: f64,
) -> f64 {
    let (gradient, error) = gradient_with_error_bound(objective, w, row_norm_bound);
    gradient_norm_upper_bound(&gradient, error)
}

/// ‖u‖ ≤ fl(‖û‖)·(1 + γ_{d+2}) + `error` for a computed gradient û with ‖û − u‖ ≤ `error`.
pub fn gradient_norm_upper_bound(gradient: &DVector<f64>, error: f64) -> f64 {
    gradient.norm() * (1.0 + bounds::rounding_gamma(gradient.len() as f64 + 2.0)) + error
}

/// fl(∇L_b(w; D′)) and a bound on its distance to the exact gradient
/// ([`bounds::gradient_rounding_bound`]).
pub fn gradient_with_error_bound<L: Loss + ?Sized>(
    objective: &Objective<'_, L>,
    w: &DVector<f64>,
    row_norm_bound: f64,
) -> (DVector<f64>, f64) {
    let rows = objective.rows;
    let z = linalg::margins(rows.features, w);
    let derivative_abs_sum: f64 = z
        .iter()
        .zip(rows.targets)
        .map(|(&zi, &yi)| objective.loss.derivative(zi, yi).abs())
        .sum();
    let error = bounds::gradient_rounding_bound(&bounds::GradientRoundingInputs {
        rows: rows.len(),
        dim: rows.dim,
        row_norm_bound,
        curvature_bound: objective.loss.second_derivative_bound(),
        // The sum itself is rounded: enlarge it by its own γ_n.
        derivative_abs_sum: derivative_abs_sum * (1.0 + bounds::rounding_gamma(rows.len() as f64)),
        weight_norm: w.norm() * (1.0 + bounds::rounding_gamma(rows.dim as f64 + 1.0)),
        lambda_total: objective.lambda,
        noise_norm: objective.noise.norm() * (1.0 + bounds::rounding_gamma(rows.dim as f64 + 1.0)),
    });
    (objective.gradient_at_margins(w, &z), error)
}

/// max_i ‖x_i‖ over row-major rows, rounded up: a bound that stays valid after removals.
/// (A maximum is exact in floating point, so the parallel reduction has the same bits at
/// any thread count.)
pub fn row_norm_bound(features: &[f64], dim: usize) -> f64 {
    let largest = features
        .par_chunks(dim.max(1))
        .map(|x| linalg::dot(x, x))
        .reduce(|| 0.0, f64::max);
    largest.sqrt() * (1.0 + bounds::rounding_gamma(dim as f64 + 2.0))
}
