//! `unlearn audit-epsilon`: a statistical lower bound on the ε a removal actually achieves,
//! next to the ε its certificate states (library: `unlearn::empirical_epsilon`).

use super::CliResult;
use clap::Args;
use unlearn::empirical_epsilon::scenario::{Scenario, ScenarioKind, audit_scenario};
use unlearn::empirical_epsilon::{AuditOptions, counterexample};

/// Arguments of `unlearn audit-epsilon`.
#[derive(Debug, Args)]
#[command(
    after_help = "Each trial trains on D and removes the rows with the unlearner (one release),
and trains on D minus those rows with an independent seed (another release). The first half
of the trials chooses a test on the projection of the published weights on the removed
rows' direction; the second half measures its error rates, whose Clopper-Pearson upper
bounds give eps_lower = max(ln((1 - delta - FPR)/FNR), ln((1 - delta - FNR)/FPR)), a lower
bound on the true epsilon with the given confidence. With m evaluation trials it cannot
exceed about ln(m/3.7) (printed as the maximum).

Examples:
  unlearn audit-epsilon                                  # digits 3 vs 8, default mechanism
  unlearn audit-epsilon --sigma 1e-6 --trials 400        # far too little noise: large eps_lower
  unlearn audit-epsilon --scenario guo2020-counterexample --json"
)]
pub struct EpsilonArgs {
    /// digits (3 vs 8, output perturbation, certified epsilon = 1) or guo2020-counterexample
    /// (the 1-D case where Guo et al.'s mechanism has a true divergence of 2.0147 at a
    /// claimed epsilon = 1).
    #[arg(long, default_value = "digits")]
    pub scenario: ScenarioKind,
    /// Number of trials (one unlearned and one retrained release each; at least 20).
    /// Default: 1000 for digits (about 3 s of CPU), 1000000 for the counterexample (about 40 s).
    #[arg(long)]
    pub trials: Option<usize>,
    /// Confidence of the lower bound (and of each rate's interval).
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
    /// Seed from which every trial's seeds are derived.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Publish the weights with this Gaussian sigma instead of the calibrated one (the
    /// mechanism still trains, unlearns and certifies as calibrated; digits only). A sigma
    /// far too small must give a large eps_lower: the audit's power check.
    #[arg(long)]
    pub sigma: Option<f64>,
    /// Number of rows removed (the first rows of the dataset; digits only).
    #[arg(long, default_value_t = 5)]
    pub removed: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `unlearn audit-epsilon`.
pub fn run(args: &EpsilonArgs) -> CliResult {
    let mut scenario = Scenario::of_kind(args.scenario, args.removed)?;
    if let Some(sigma) = args.sigma {
        scenario = scenario.with_release_sigma(sigma)?;
    }
    let trials = args.trials.unwrap_or(match args.scenario {
        ScenarioKind::Digits => 1000,
        ScenarioKind::Guo2020Counterexample => 1_000_000,
    });
    let options = AuditOptions {
        trials,
        confidence: args.confidence,
        delta: scenario.delta(),
        seed: args.seed,
    };
    let report = audit_scenario(&scenario, &options)?;
    if args.json {
        say!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let audit = &report.audit;
    say!(
        "empirical ε audit: {} ({} mechanism), {} rows, {} removed",
        report.scenario,
        report.mechanism,
        report.rows,
        report.removed.len()
    );
    say!(
        "  noise scale: published {:.4e} (calibrated {:.4e})",
        report.release_scale,
        report.calibrated_scale
    );
    say!(
        "  trials: {} ({} choose the test, {} evaluate it), confidence {}",
        audit.trials,
        audit.selection_trials,
        audit.evaluation_trials,
        audit.confidence
    );
    say!("  test: say \"retrained\" when {}", audit.region);
    for (name, rate) in [
        ("FPR", &audit.false_positive_rate),
        ("FNR", &audit.false_negative_rate),
    ] {
        say!(
            "  {name} = {}/{} = {:.4e}, interval [{:.4e}, {:.4e}]",
            rate.successes,
            rate.trials,
            rate.estimate,
            rate.lower,
            rate.upper
        );
    }
    say!(
        "  ε_lower = {:.4} (estimate {:.4}, at most {:.4} with these trials), δ = {:e}",
        audit.epsilon_lower,
        audit.epsilon_estimate,
        audit.max_reportable_epsilon,
        audit.delta
    );
    say!(
        "  certified ε = {}{}",
        report.certified_epsilon,
        if report.mechanism.unproven_assumptions().is_empty() {
            ""
        } else {
            " (claimed: the guo2020 guarantee is unproven)"
        }
    );
    if let Some(exact) = report.exact_divergence {
        say!(
            "  exact max-divergence {exact:.4} (proofs/guo2020_repairs.md, removed row {}): the audit reaches {:.0}% of it",
            counterexample::ROWS - 1,
            100.0 * audit.epsilon_lower / exact
        );
    }
    say!(
        "  {}",
        if audit.epsilon_lower > report.certified_epsilon {
            "VIOLATION: the measured ε exceeds the certified ε"
        } else {
            "consistent: the measured ε does not exceed the certified ε"
        }
    );
    say!("  time: {:.2} s", report.seconds);
    Ok(())
}
