//! Verification of a store from its secret state: `unlearn verify`.
//!
//! Checks, each reported separately:
//! 1. the ledger's hash chain replays and ends at the published digest;
//! 2. the published weights are exactly the release the secret state implies (the secret
//!    weights, plus under output perturbation the release noise regenerated from the seed);
//! 3. the removed ids are gone from the secret rows, and the row counts agree;
//! 4. the noise scale affords the recorded privacy target (it is re-derived, not trusted);
//! 5. the exact gradient residual of the current secret weights, recomputed from the secret
//!    rows and noise, is within what the last certificate charged to the budget (and, for a
//!    certified release, within the budget).

use crate::accounting::distance_bound;
use crate::certificate::EntryKind;
use crate::mechanism::Mechanism;
use crate::model::weights_digest;
use crate::unlearner::Unlearner;
use serde::Serialize;
use std::collections::HashSet;

/// One verification check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What was checked.
    pub name: &'static str,
    /// Whether it held.
    pub passed: bool,
    /// The numbers or the failure.
    pub detail: String,
}

/// All checks of a store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// For each model, the upper bound on ‖∇L_b(w̃_k; D)‖ recomputed from the secret state.
    pub exact_residuals: Vec<f64>,
}

impl Verification {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// Relative slack for comparing a recomputed residual with the recorded one: the two
/// computations sum the same terms in possibly different orders (parallel reduction), so
/// they differ by at most the rounding bound of the sum, far below 1e-6 relative.
const RECOMPUTE_SLACK: f64 = 1e-6;

/// Runs every check on a loaded store.
pub fn verify(unlearner: &Unlearner) -> Verification {
    let model = &unlearner.model;
    let published = &model.published;
    let hyper = &published.hyperparameters;
    let secret = &model.secret;
    let mut checks = Vec::new();

    let chain = unlearner.ledger.verify_chain(&published.digest);
    checks.push(Check {
        name: "ledger chain",
        passed: chain.is_ok(),
        detail: match &chain {
            Ok(()) => format!("{} entries replayed", unlearner.ledger.entries.len()),
            Err(e) => e.to_string(),
        },
    });

    let release = secret
        .releases
        .checked_sub(1)
        .ok_or("no release recorded".to_string())
        .and_then(|r| secret.released_weights(hyper, r).map_err(|e| e.to_string()));
    checks.push(match release {
        Ok(weights) => {
            let same = weights == published.weights && weights_digest(&weights) == published.digest;
            Check {
                name: "published weights",
                passed: same,
                detail: if same {
                    format!("release {} regenerated bit for bit", secret.releases - 1)
                } else {
                    "the published weights are not the release the secret state implies".into()
                },
            }
        }
        Err(e) => Check {
            name: "published weights",
            passed: false,
            detail: e,
        },
    });

    let present: HashSet<&str> = secret.design.ids().iter().map(String::as_str).collect();
    let lingering: Vec<&str> = unlearner
        .ledger
        .entries
        .iter()
        .flat_map(|e| e.removed_ids.iter().map(String::as_str))
        .filter(|id| present.contains(id))
        .collect();
    let rows_ok = secret.design.n_rows() == published.n_rows
        && unlearner
            .ledger
            .last()
            .is_some_and(|e| e.rows_after == published.n_rows);
    checks.push(Check {
        name: "removed rows are gone",
        passed: lingering.is_empty() && rows_ok,
        detail: if !lingering.is_empty() {
            format!(
                "removed ids still in the secret rows: {}",
                lingering.join(", ")
            )
        } else if !rows_ok {
            "row counts of the secret rows, the model and the ledger disagree".into()
        } else {
            format!(
                "{} rows remain; no removed id among them",
                secret.design.n_rows()
            )
        },
    });

    let lambda = hyper
        .regularization
        .effective_lambda(hyper.lambda, secret.design.n_rows());
    checks.push(match hyper.privacy {
        Some(target) => Check {
            name: "noise affords the privacy target",
            passed: crate::privacy::scale_meets_target(hyper.noise, &target),
            detail: format!(
                "{} scale {} for (ε, δ) = ({}, {}) and budget {}",
                hyper.noise.family, hyper.noise.scale, target.epsilon, target.delta, target.budget
            ),
        },
        None => Check {
            name: "noise affords the privacy target",
            passed: true,
            detail: "no privacy target recorded: nothing is certified".into(),
        },
    });

    let exact_residuals = secret.residual_bounds(hyper);
    checks.push(residual_check(unlearner, &exact_residuals, lambda));
    Verification {
        checks,
        exact_residuals,
    }
}

fn residual_check(unlearner: &Unlearner, residuals: &[f64], lambda: f64) -> Check {
    let name = "exact residual within the recorded bound";
    let Some(last) = unlearner.ledger.last() else {
        return Check {
            name,
            passed: false,
            detail: "the ledger is empty".into(),
        };
    };
    let hyper = &unlearner.model.published.hyperparameters;
    let (measured, recorded) = match hyper.mechanism {
        Mechanism::OutputPerturbation => (
            distance_bound(
                residuals,
                hyper.newton.tolerance,
                lambda,
                hyper.noise.family,
            ),
            last.budget_used,
        ),
        Mechanism::Guo2020 => (
            residuals.iter().copied().fold(0.0, f64::max),
            last.budget_used,
        ),
    };
    let within = measured <= recorded * (1.0 + RECOMPUTE_SLACK) + f64::MIN_POSITIVE;
    let within_budget = !last.certified || last.budget.is_some_and(|b| measured <= b);
    let what = match last.kind {
        EntryKind::Training => "training",
        EntryKind::Removal => "last removal",
    };
    Check {
        name,
        passed: within && within_budget,
        detail: format!(
            "recomputed {measured:.3e} vs {recorded:.3e} recorded by the {what} certificate ({}){}",
            hyper.mechanism.budget_unit(),
            match last.budget {
                Some(b) => format!(", budget {b:.3e}"),
                None => String::new(),
            }
        ),
    }
}
