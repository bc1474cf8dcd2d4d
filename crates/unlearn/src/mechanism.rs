//! The removal mechanisms: how noise makes a removal indistinguishable from retraining.
//!
//! - [`Mechanism::OutputPerturbation`] (the default; `proofs/output_perturbation_certificate.md`):
//!   the trained weights w̃ are secret; each release publishes w̃ + ξ with fresh
//!   ξ ~ N(0, σ²I) (or the Gamma-norm density). After a removal, strong convexity bounds the
//!   distance from the secret weights to the exact minimiser on the remaining rows by
//!   ‖u‖/Λ′, with u the gradient residual (computed, rounded outward); if that distance is within the
//!   budget ε′ the noise was calibrated for (its L2 sensitivity), the release is (ε, δ)-
//!   indistinguishable from releasing the exact retrained minimiser with the same noise;
//!   against an actual retraining (Newton to ‖∇L_b‖ ≤ τ) the distance is (‖u‖ + τ)/Λ′.
//!   Class models combine in L2 under Gaussian noise and by their sum under Gamma-norm noise.
//!   When it is not, the secret weights are re-solved on the remaining rows (same b) until
//!   they are. Residuals do not accumulate: each release is judged on its own distance.
//! - [`Mechanism::Guo2020`] (`--mechanism guo2020`, for reproducing the paper): objective
//!   perturbation; the published weights are the secret minimiser of L_b; the data-dependent
//!   bounds of the removal steps are summed and compared with ε′ = σε/c, and the model is
//!   retrained with fresh noise when the sum would exceed it. Its certificate rests on
//!   assumptions that are not proven (`proofs/guo2020_repairs.md`); certificates say so.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which removal mechanism a model is trained and unlearned with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// Secret minimiser, released with fresh output noise; sound (the default).
    OutputPerturbation,
    /// Guo et al. (2020) objective perturbation with summed residual bounds.
    Guo2020,
}

impl Mechanism {
    /// The unit of this mechanism's budget ε′.
    pub fn budget_unit(self) -> &'static str {
        match self {
            Mechanism::OutputPerturbation => "weight-distance",
            Mechanism::Guo2020 => "gradient-residual",
        }
    }

    /// The proofs a removal certificate of this mechanism rests on.
    pub fn results(self) -> &'static [&'static str] {
        match self {
            Mechanism::OutputPerturbation => &[
                "proofs/output_perturbation_certificate.md",
                "proofs/lattice_release.md",
                "proofs/transcript_accounting.md",
                "proofs/noise_keys.md",
                "proofs/published_shape.md",
                "proofs/sequential_steps.md",
                "proofs/training_residual.md",
                "proofs/one_vs_rest_composition.md",
            ],
            Mechanism::Guo2020 => &[
                "Guo et al. 2020 Theorem 3 (unproven as published: proofs/guo2020_repairs.md)",
                "proofs/data_dependent_bound.md",
                "proofs/sequential_steps.md",
            ],
        }
    }

    /// What a certificate of this mechanism assumes and the code does not enforce. For
    /// output perturbation these are the limits of a sound proof (proofs/
    /// transcript_accounting.md, "Not covered"); for guo2020, gaps in the proof itself.
    pub fn unproven_assumptions(self) -> &'static [&'static str] {
        match self {
            Mechanism::OutputPerturbation => &[
                "request timing not observed: which path a request takes (pass-free step, measured residual, exact step, re-solve) and the noise sampler's running time depend on the data; responses are not padded",
                "the secret state (the store's unlearn.db: rows, secret weights, noise key) is not observed, and the noise key serves this store only (one copy, one transcript)",
                "the store's release log (releases.jsonl) is never restored from a backup, deleted or edited, and no copy of the store is served with a log of its own: a restore of unlearn.db alone is charged what was published since the backup, but releases a rolled-back log never recorded cannot be",
                "HMAC-SHA256 and ChaCha20 are pseudorandom: release noise is computationally, not information-theoretically, independent across releases",
                "deletion requests that react to releases are compared with the retrain world under the same requests; that does not hide other people's records from such requests (Chourasia & Shah 2023)",
            ],
            Mechanism::Guo2020 => &[
                "Theorem 3 compares noise densities without the Jacobian of the removal map b ↦ b − u(b) (SOUNDNESS point 1)",
                "the retraining decision depends on the noise b, which the (ε, δ) argument ignores (point 2)",
                "the worst-case bound assumes ‖w‖ ≤ C/Λ, which noise breaks (point 6)",
                "the closed-form Gaussian calibration is only valid for ε ≤ 1 (point 7)",
            ],
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mechanism::OutputPerturbation => "output-perturbation",
            Mechanism::Guo2020 => "guo2020",
        })
    }
}

impl FromStr for Mechanism {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "output-perturbation" => Ok(Mechanism::OutputPerturbation),
            "guo2020" => Ok(Mechanism::Guo2020),
            other => Err(format!(
                "unknown mechanism '{other}': expected 'output-perturbation' or 'guo2020'"
            )),
        }
    }
}
