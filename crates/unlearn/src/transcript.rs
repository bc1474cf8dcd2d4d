//! Transcript accounting: the privacy of everything an observer has seen, jointly.
//!
//! An observer of a deletion service sees every release since training. Release j publishes
//! g·(round(w̃_j/g) + Z_j) with fresh discrete Gaussian Z_j (proofs/lattice_release.md); the
//! retrain world, which retrains from scratch on the rows present at each release, would
//! publish g·(round(A*(D_j)/g) + Z_j). The two means differ by an integer vector μ_j with
//! ‖μ_j‖ ≤ c_j/g, where c_j is the release's *charge*: 0 when the secret weights are
//! bit-identical to the reference retrain (training, and re-solves from zero in canonical row
//! order), else the distance bound Δ_j plus the grid rounding g·√(K·d)
//! ([`crate::noise::LatticeNoise::grid_shift_bound`]).
//!
//! Each release is ρ_j-zCDP against the retrain world with ρ_j = c_j²/(2σ²) (σ = s·g, the
//! lattice noise's scale), and zCDP composes by adding ρ, also when each c_j is chosen after
//! seeing the earlier releases, as long as the running total is capped before it is spent (a
//! privacy filter: Feldman & Zrnic 2021; Whitehouse, Ramdas, Rogers & Wu 2023). So the whole
//! transcript is (E, δ)-indistinguishable from the retrain world's with
//! E = ε_zCDP(S²/(2σ²), δ) and S = √(Σ_j c_j²) — the quantities every certificate carries. The
//! unlearner never makes a release that would take S past the cap that meets the user's
//! target ([`sensitivity_cap`]); proofs/transcript_accounting.md has the argument.

use crate::mechanism::Mechanism;
use crate::model::Hyperparameters;
use crate::noise::{self, LatticeNoise, NoiseFamily};
use crate::privacy;
use serde::{Deserialize, Serialize};

/// The running account of the releases made since training.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Transcript {
    /// Releases made, the training release included.
    pub releases: u64,
    /// Σ_j c_j²: the squared charges of the releases so far (weight units, rounded up).
    pub shift_squared: f64,
}

/// What a certificate states about the transcript after its entry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TranscriptSummary {
    /// Releases made so far, this entry's included.
    pub releases: u64,
    /// S = √(Σ_j c_j²), the joint L2 shift of all releases against the retrain world's
    /// (weight units, rounded up).
    pub sensitivity: f64,
    /// ε of the whole transcript at `delta` (none without a lattice release and a target).
    pub epsilon: Option<f64>,
    /// δ of the target (none without a target).
    pub delta: Option<f64>,
}

impl Transcript {
    /// S = √(Σ_j c_j²), rounded up.
    pub fn sensitivity(&self) -> f64 {
        if self.shift_squared == 0.0 {
            0.0
        } else {
            self.shift_squared.sqrt().next_up()
        }
    }

    /// The transcript after one more release charged `charge` (rounded up).
    pub fn after(&self, charge: f64) -> Self {
        let shift_squared = if charge == 0.0 {
            self.shift_squared
        } else {
            (self.shift_squared + (charge * charge).next_up()).next_up()
        };
        Self {
            releases: self.releases + 1,
            shift_squared,
        }
    }

    /// The largest charge the next release may carry without taking S past `cap`: a charge
    /// c ≤ allowance gives `after(c).sensitivity() ≤ cap` (both round up monotonically).
    pub fn allowance(&self, cap: f64) -> f64 {
        let left = cap * cap - self.shift_squared;
        if left <= 0.0 {
            return 0.0;
        }
        // Rounded down twice. When Σc² is close to cap², the subtraction cancels and `left`
        // may exceed the true cap² − Σc² by an ulp of cap², which the rounding of the square
        // root cannot absorb; so the candidate is checked as `after` rounds, and halved until
        // it fits (at most about 2100 halvings reach 0, which always fits).
        let mut allowance = (left.sqrt().next_down() * (1.0 - 4.0 * f64::EPSILON)).max(0.0);
        while allowance > 0.0 && self.after(allowance).sensitivity() > cap {
            allowance /= 2.0;
        }
        allowance
    }

    /// The statement a certificate carries.
    pub fn summary(&self, hyper: &Hyperparameters) -> TranscriptSummary {
        let delta = hyper.privacy.map(|p| p.delta);
        TranscriptSummary {
            releases: self.releases,
            sensitivity: self.sensitivity(),
            epsilon: lattice_of(hyper)
                .zip(delta)
                .map(|(lattice, delta)| transcript_epsilon(&lattice, self.sensitivity(), delta)),
            delta,
        }
    }
}

/// The lattice release noise of a model, when it releases on a lattice: output perturbation
/// with Gaussian noise of scale σ > 0 (the discrete Gaussian of [`LatticeNoise::for_sigma`]).
pub fn lattice_of(hyper: &Hyperparameters) -> Option<LatticeNoise> {
    (hyper.mechanism == Mechanism::OutputPerturbation
        && hyper.noise.family == NoiseFamily::Gaussian
        && hyper.noise.scale > 0.0)
        .then(|| LatticeNoise::for_sigma(hyper.noise.scale).ok())
        .flatten()
}

/// ε of a transcript with joint shift S on `lattice` at δ: ε_zCDP(ρ, δ) with ρ = S²/(2σ²)
/// rounded up (proofs/lattice_release.md); +∞ where no ε can be given (an invalid δ).
pub fn transcript_epsilon(lattice: &LatticeNoise, sensitivity: f64, delta: f64) -> f64 {
    noise::zcdp_epsilon(lattice.rho(sensitivity), delta).unwrap_or(f64::INFINITY)
}

/// The cap on the transcript's sensitivity S: the largest S whose ε meets the target's, and
/// no more than the target's budget (none without a lattice release and a target).
pub fn sensitivity_cap(hyper: &Hyperparameters) -> Option<f64> {
    let target = hyper.privacy?;
    let lattice = lattice_of(hyper)?;
    let afforded =
        privacy::lattice_sensitivity(&lattice, target.epsilon, target.delta).unwrap_or(0.0);
    Some(target.budget.min(afforded))
}

/// The charge c of a release whose secret weights (`coords` values in all) are within
/// `distance` of the reference retrain's: 0 for bit-identical weights, else Δ + g·√coords
/// (the grid rounding), rounded up. Without a lattice, the distance itself.
pub fn charge(hyper: &Hyperparameters, distance: f64, coords: usize) -> f64 {
    match lattice_of(hyper) {
        Some(lattice) => lattice.grid_shift_bound(distance, coords),
        None => distance,
    }
}
