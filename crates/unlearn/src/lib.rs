//! # unlearn — certified machine unlearning for convex models
//!
//! unlearn trains L2-regularised logistic (binary and one-vs-rest) and ridge models and
//! removes training rows from them without retraining, with a certificate that everything
//! published — every release since training, jointly — is (ε, δ)-indistinguishable from what a
//! model retrained without those rows would publish (after Guo, Goldstein, Hannun, van der
//! Maaten, "Certified Data Removal from Machine Learning Models", ICML 2020, repaired: the
//! default releases secret weights on a public lattice with exact discrete Gaussian noise).
//!
//! The training objective, for rows (x_i, y_i), a loss ℓ, total regularisation Λ and a
//! secret noise vector b:
//!
//! L_b(w; D) = Σ_i ℓ(wᵀx_i, y_i) + (Λ/2)‖w‖² + bᵀw
//!
//! Layers, bottom up:
//! - [`data`]: datasets with stable row ids, CSV/LIBSVM readers, the embedded datasets,
//!   and data-independent preprocessing (constant scaling, norm clipping);
//! - [`loss`]: ℓ and the constants the proofs use (γ, C);
//! - [`linalg`]: parallel row-block kernels (X·w, Xᵀr, XᵀDX) and checked Cholesky;
//! - [`objective`]: L_b, its gradient, Hessian and Hessian-vector product; the two
//!   regularisation conventions;
//! - [`solver`]: Newton's method with line search, the ridge closed form;
//! - [`partials`]: per-batch sufficient statistics of a Newton iteration (sums over rows with
//!   order-free rounding bounds), merged across partitions and finished on a driver;
//! - [`row_digest`]: a keyed, order-free multiset digest of the training rows, by which a
//!   refresh over external rows checks that it was given the training rows less the removed;
//! - [`noise`]: the secret noise key, the exact discrete Gaussian and the lattice release,
//!   zCDP accounting, continuous sampling of b and the calibration of its scale;
//! - [`privacy`]: a user's (ε, δ, budget) target turned into a noise scale;
//! - [`model`]: training, the published model and the secret state, kept apart;
//! - [`unlearner`], [`accounting`], [`transcript`], [`shape`], [`certificate`], [`verify`]:
//!   removal, what each release is charged, the transcript of all releases, the published
//!   shape a retrain would infer, the hash-chained ledger, and its verification;
//! - [`shape`]: whether a retrain on the remaining rows would infer the published shape
//!   (classes, feature columns);
//! - [`predict`]: predictions and metrics; [`store`]: the on-disk store;
//! - [`deletions`]: the deletion engine that serves erasure requests in arrival order
//!   (`serve-requests` and the HTTP service), with receipts and the publish policy;
//! - [`synthetic`]: seeded synthetic data for benchmarks and tests.
//!
//! The `unlearn` binary (src/cli) is a thin layer over these modules.

pub mod accounting;
pub mod audit;
pub mod bench;
pub mod bounds;
pub mod certificate;
pub mod data;
pub mod deletions;
pub mod distributed;
pub mod echo;
pub mod empirical_epsilon;
pub mod hessian_cache;
pub mod kernels;
pub mod linalg;
pub mod loss;
pub mod mechanism;
pub mod membership;
pub mod model;
pub mod noise;
pub mod objective;
pub mod partials;
pub mod predict;
pub mod privacy;
pub mod removal;
pub mod requests;
pub mod row_digest;
pub mod rows;
pub mod shape;
pub mod solver;
pub mod stats;
pub mod store;
pub mod synthetic;
pub mod transcript;
pub mod unlearner;
pub mod verify;
